//! The fix for hanging_client.rs: shut down the write half (FIN), then read
//! until end of stream. The same client with one more line.
//!
//! Run:  rustc unhang_client.rs && ./unhang_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)

use std::env;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_TCP_ECHO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(65432);

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    // ANCHOR: unhang
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"Hello, Server")?;
    stream.shutdown(Shutdown::Write)?; // the fix: "I will send no more" (FIN)
    let mut reply = Vec::new();
    let started = Instant::now();
    // Ends at the server's FIN, which comes after ours.
    stream.read_to_end(&mut reply)?;
    // ANCHOR_END: unhang

    println!("Server replied: {}", String::from_utf8_lossy(&reply));
    println!(
        "end of stream after {:.3} s: the server closed once we had",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
