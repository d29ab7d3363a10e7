//! A browser's first move, by hand: an HTTP request over a plain TCP socket.
//!
//! Run:  rustc http_get_client.rs && ./http_get_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_HTTP_PORT (8000)

use std::env;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_HTTP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    // An HTTP/1.1 request is just text; an empty line ends the headers.
    let request = format!("GET / HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;

    let mut response = Vec::new();
    stream.read_to_end(&mut response)?; // until the server closes
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    println!("{}", String::from_utf8_lossy(&response[..split]));
    println!(
        "(and {} bytes of body)",
        response.len().saturating_sub(split + 4)
    );
    Ok(())
}
