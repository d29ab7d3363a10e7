//! A UDP client for the udp-echo demo, with the retry UDP leaves to you.
//!
//! Run:  rustc udp_echo_client.rs && ./udp_echo_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UDP_ECHO_PORT (9999)

use std::env;
use std::io::ErrorKind;
use std::net::UdpSocket;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_UDP_ECHO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9999);

    // Port 0: let the OS choose our (ephemeral) port.
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sock.set_read_timeout(Some(Duration::from_secs(1)))?;

    let mut buf = [0u8; 1024];
    for attempt in 1..=3 {
        sock.send_to(b"Hello via UDP", (host.as_str(), port))?;
        match sock.recv_from(&mut buf) {
            Ok((n, _from)) => {
                println!("Response: {}", String::from_utf8_lossy(&buf[..n]));
                return Ok(());
            }
            // Lost request, lost reply, or nobody there: an unconnected UDP
            // socket cannot tell which.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                println!("attempt {attempt}: no reply within 1 s, retrying");
            }
            Err(e) => return Err(e),
        }
    }
    eprintln!("no reply after 3 attempts");
    std::process::exit(1);
}
