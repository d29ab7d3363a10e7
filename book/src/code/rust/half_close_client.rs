//! Half-close: send everything, shut down the write half (FIN), read until
//! the server's FIN (read returns 0).
//!
//! Run:  rustc half_close_client.rs && ./half_close_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)

use std::env;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_TCP_ECHO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(65432);

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;

    // ANCHOR: half_close
    stream.write_all(b"Hello, Server")?;
    stream.shutdown(Shutdown::Write)?; // FIN: we will send no more; reads go on
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?; // loops until read returns 0 (their FIN)
    // ANCHOR_END: half_close

    println!("Server replied: {}", String::from_utf8_lossy(&reply));
    println!("read returned 0: the server closed its side after ours");
    Ok(())
}
