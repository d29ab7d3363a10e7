//! Opens several connections at once, then talks on them last-first. A
//! concurrent server answers all; an iterative one leaves most to time out.
//!
//! Run:  rustc many_clients.rs && ./many_clients [N]   (default 5)
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_UPPERCASE_PORT (9999)

use std::env;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_UPPERCASE_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9999);
    let n: usize = env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);

    // The handshakes complete in the kernel, before the server accept()s.
    let mut conns = Vec::new();
    for i in 0..n {
        let c = TcpStream::connect((host.as_str(), port))?;
        c.set_read_timeout(Some(Duration::from_secs(2)))?;
        println!("connection {i}: local port {}", c.local_addr()?.port());
        conns.push(c);
    }

    let mut answered = 0;
    for (i, c) in conns.iter_mut().enumerate().rev() {
        c.write_all(format!("client {i}").as_bytes())?;
        let mut buf = [0u8; 1024];
        match c.read(&mut buf) {
            Ok(len) => {
                println!(
                    "connection {i} got {:?}",
                    String::from_utf8_lossy(&buf[..len])
                );
                answered += 1;
            }
            Err(_) => println!("connection {i}: no answer within 2 s (is the server iterative?)"),
        }
    }
    drop(conns);
    println!("{answered} of {n} connections answered");
    Ok(())
}
