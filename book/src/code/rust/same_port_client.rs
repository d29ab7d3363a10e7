//! TCP port 9999 and UDP port 9999 are two different doors: talks to the
//! uppercase demo (TCP) and the udp-echo demo (UDP).
//!
//! Run:  rustc same_port_client.rs && ./same_port_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UPPERCASE_PORT (9999),
//!       SOCKET_LAB_UDP_ECHO_PORT (9999)

use std::env;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

fn port_from(var: &str, default: u16) -> u16 {
    env::var(var)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let tcp_port = port_from("SOCKET_LAB_UPPERCASE_PORT", 9999);
    let udp_port = port_from("SOCKET_LAB_UDP_ECHO_PORT", 9999);

    // TCP: handshake, a byte stream, the server closes after replying.
    let mut tcp = TcpStream::connect((host.as_str(), tcp_port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.write_all(b"hello")?;
    let mut reply = String::new();
    tcp.read_to_string(&mut reply)?;
    println!("TCP port {tcp_port} replied: {reply}");

    // UDP: no connection; one datagram out, one back.
    let udp = UdpSocket::bind("0.0.0.0:0")?;
    udp.set_read_timeout(Some(Duration::from_secs(5)))?;
    udp.send_to(b"hello", (host.as_str(), udp_port))?;
    let mut buf = [0u8; 1024];
    let (n, _) = udp.recv_from(&mut buf)?;
    println!(
        "UDP port {udp_port} replied: {}",
        String::from_utf8_lossy(&buf[..n])
    );
    Ok(())
}
