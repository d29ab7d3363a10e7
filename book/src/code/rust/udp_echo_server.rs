//! A UDP server in the style of the udp-echo demo: `Message received` to
//! every datagram. One socket, no accept, no connections.
//!
//! Run:  rustc udp_echo_server.rs && ./udp_echo_server [PORT]   (default 9999; 0 = any)

use std::env;
use std::net::UdpSocket;

fn main() -> std::io::Result<()> {
    let port: u16 = env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9999);
    let sock = UdpSocket::bind(("127.0.0.1", port))?;
    println!("listening on {}", sock.local_addr()?);

    let mut buf = [0u8; 1024];
    loop {
        // A datagram bigger than `buf` is cut to fit; the rest is discarded.
        let (n, from) = sock.recv_from(&mut buf)?;
        let note = if n == buf.len() {
            " (buffer full: it may have been truncated)"
        } else {
            ""
        };
        println!("datagram of {n} bytes from {from}{note}");
        sock.send_to(b"Message received", from)?;
    }
}
