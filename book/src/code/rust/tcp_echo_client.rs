//! A TCP client for the tcp-echo demo: sends one message, prints the reply.
//!
//! Run:  rustc tcp_echo_client.rs && ./tcp_echo_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TCP_ECHO_PORT (65432)

use std::env;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_TCP_ECHO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(65432);

    // connect() performs the three-way handshake; the OS picks our port.
    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;

    let message = b"Hello, Server";
    stream.write_all(message)?; // write_all = Python's sendall
    // The reply is "ACK: " + our message. TCP may hand it over in pieces, so
    // one read is not enough: read until all of it is here, or the server
    // closes (see "The sticky-packet problem").
    let expected = b"ACK: ".len() + message.len();
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while reply.len() < expected {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break; // the server closed first
        }
        reply.extend_from_slice(&buf[..n]);
    }
    println!("Server replied: {}", String::from_utf8_lossy(&reply));
    Ok(())
} // dropping `stream` closes the socket (FIN)
