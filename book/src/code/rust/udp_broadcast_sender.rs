//! Sends one UDP datagram to a broadcast address, so every receiver bound to
//! that port gets it (run udp_broadcast_receiver.py first, twice if you like).
//!
//! Sending to a broadcast address needs SO_BROADCAST (`set_broadcast(true)`).
//! Without it Linux refuses the send with EACCES, which Rust reports as an
//! error of kind `PermissionDenied`. Pass `no-broadcast` to see it.
//!
//! There is no Rust receiver beside this sender: two receivers on one port
//! need SO_REUSEADDR before `bind`, and std's `UdpSocket::bind` binds at once,
//! with no way to set it first (the socket2 crate can).
//!
//! Run:  rustc udp_broadcast_sender.rs && ./udp_broadcast_sender PORT [ADDRESS] [no-broadcast]

use std::net::UdpSocket;
use std::process::ExitCode;

fn main() -> std::io::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(9998);
    // Loopback's broadcast address (127.0.0.0/8): nothing leaves this machine.
    let address = args.get(1).map_or("127.255.255.255", String::as_str);
    let broadcast = !args.iter().skip(2).any(|a| a == "no-broadcast");

    // ANCHOR: sender
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sock.set_broadcast(broadcast)?;
    match sock.send_to(b"hello, everyone", (address, port)) {
        Ok(sent) => println!("sent {sent} bytes to {address}:{port}"),
        Err(e) => {
            eprintln!(
                "send_to {address}:{port} failed: {e} ({:?}; set SO_BROADCAST first)",
                e.kind()
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    // ANCHOR_END: sender
    Ok(ExitCode::SUCCESS)
}
