//! What the layers below a socket look like from a program: name resolution,
//! the address family, and the few IP/TCP knobs std exposes.
//!
//! Run:  rustc layers_client.rs && ./layers_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UPPERCASE_PORT (9999)

use std::env;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_UPPERCASE_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9999);

    // getaddrinfo(): a name becomes one or more (IP, port) candidates.
    let candidates: Vec<SocketAddr> = (host.as_str(), port).to_socket_addrs()?.collect();
    for addr in &candidates {
        let family = if addr.is_ipv4() {
            "AF_INET"
        } else {
            "AF_INET6"
        };
        println!("candidate: {family} SOCK_STREAM -> {addr}");
    }

    let mut stream = TcpStream::connect(&candidates[..])?; // tries each in turn
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    println!("TCP_NODELAY (Nagle off?): {}", stream.nodelay()?);
    println!("IP_TTL (hops before discard): {}", stream.ttl()?);

    stream.write_all(b"hello layers")?; // application bytes: the only layer we write
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf)?;
    println!("Server replied: {}", String::from_utf8_lossy(&buf[..n]));
    Ok(())
}
