//! Two writes, and what comes back from the sticky demo, read by read.
//!
//! Run:  rustc sticky_client.rs && ./sticky_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_STICKY_PORT (5001)

use std::env;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_STICKY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5001);
    let messages: [&[u8]; 2] = [b"Hello", b"World"];

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    for m in messages {
        stream.write_all(m)?; // two calls; the stream keeps no trace of the gap
    }
    stream.shutdown(Shutdown::Write)?; // FIN: nothing more from us

    let expected: usize = messages.iter().map(|m| m.len()).sum();
    let mut received = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 1024];
    while received.len() < expected {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break; // the server closed before echoing everything
        }
        reads += 1;
        println!("read {reads}: {:?}", String::from_utf8_lossy(&buf[..n]));
        received.extend_from_slice(&buf[..n]);
    }
    println!("{} sends arrived as {reads} read(s)", messages.len());
    println!("Received in total: {}", String::from_utf8_lossy(&received));
    Ok(())
}
