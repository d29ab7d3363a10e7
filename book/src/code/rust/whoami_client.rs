//! Shows both ends of a TCP connection: our ephemeral port and the server's.
//!
//! Run:  rustc whoami_client.rs && ./whoami_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)

use std::env;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_TCP_ECHO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(65432);

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;

    let local = stream.local_addr()?; // getsockname(): chosen by our kernel
    let peer = stream.peer_addr()?; // getpeername(): the server's listening port
    println!("local address: {local}  (ephemeral, picked by the OS)");
    println!("peer address:  {peer}  (the port the server bound)");

    let message = format!("Hello from port {}", local.port());
    stream.write_all(message.as_bytes())?;
    // Read the whole "ACK: " + message, however TCP cuts it.
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while reply.len() < "ACK: ".len() + message.len() {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    println!("Server replied: {}", String::from_utf8_lossy(&reply));
    Ok(())
}
