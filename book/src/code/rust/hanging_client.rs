//! A client that hangs: it reads until end of stream, but never ends its own.
//! A 2-second read timeout turns the hang into an error that says what the
//! client was waiting for. The fix is unhang_client.rs.
//!
//! Run:  rustc hanging_client.rs && ./hanging_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)

use std::env;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_TCP_ECHO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(65432);

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    // ANCHOR: hang
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"Hello, Server")?;
    let mut reply = Vec::new();
    let started = Instant::now();
    match stream.read_to_end(&mut reply) {
        Ok(_) => println!(
            "Server replied: {} (and closed)",
            String::from_utf8_lossy(&reply)
        ),
        // A read timeout is WouldBlock on Unix, TimedOut on Windows.
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            println!("got so far: {:?}", String::from_utf8_lossy(&reply));
            println!(
                "timed out ({:?}) after {:.1} s: waited for an end of stream \
                 the server never sent (it closes only after we do)",
                e.kind(),
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => return Err(e),
    }
    // ANCHOR_END: hang
    Ok(())
}
