//! What happens when a datagram is bigger than the receive buffer.
//! Self-contained: two UDP sockets on loopback, no server needed.
//!
//! Run:  rustc udp_truncation.rs && ./udp_truncation

use std::net::UdpSocket;

fn main() -> std::io::Result<()> {
    let receiver = UdpSocket::bind("127.0.0.1:0")?;
    let sender = UdpSocket::bind("127.0.0.1:0")?;
    let addr = receiver.local_addr()?;

    sender.send_to(b"0123456789ABCDEFGHIJ", addr)?; // one datagram of 20 bytes
    sender.send_to(b"second", addr)?;

    let mut small = [0u8; 8];
    let (n, _) = receiver.recv_from(&mut small)?; // the first 8 bytes...
    println!(
        "first recv_from into 8 bytes:  {:?}",
        String::from_utf8_lossy(&small[..n])
    );
    let (n, _) = receiver.recv_from(&mut small)?; // ...then the NEXT datagram
    println!(
        "second recv_from into 8 bytes: {:?}  (the next datagram, not the rest)",
        String::from_utf8_lossy(&small[..n])
    );
    println!("Truncated: 12 bytes of the first datagram were discarded");
    Ok(())
}
