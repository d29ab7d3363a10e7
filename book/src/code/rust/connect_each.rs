//! Connect by name the way `TcpStream::connect((host, port))` does: try each
//! address in turn. Then talk to the tcp-echo demo: send `Hello, Server` and
//! print the reply.
//!
//! Run:  rustc connect_each.rs && ./connect_each [HOST [PORT]]
//!       HOST defaults to localhost; PORT to $SOCKET_LAB_TCP_ECHO_PORT, or 65432.

use std::env;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

// ANCHOR: connect_each
/// A stream connected to the first address that answers.
fn connect_each(host: &str, port: u16) -> io::Result<TcpStream> {
    // (host, port) goes to getaddrinfo unless host is already an IP address.
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    println!("{host:?} port {port}: {} address(es)", addrs.len());
    let mut last_error = None;
    for addr in &addrs {
        let family = if addr.is_ipv6() { "IPv6" } else { "IPv4" };
        // connect_timeout makes the socket of the address's own family.
        match TcpStream::connect_timeout(addr, Duration::from_secs(3)) {
            Ok(stream) => {
                println!("  {family} {addr}: connected");
                return Ok(stream);
            }
            Err(e) => {
                println!("  {family} {addr}: {e}");
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no address")))
}
// ANCHOR_END: connect_each

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "localhost".into());
    let port: u16 = args
        .next()
        .or_else(|| env::var("SOCKET_LAB_TCP_ECHO_PORT").ok())
        .and_then(|p| p.parse().ok())
        .unwrap_or(65432);

    let mut stream = match connect_each(&host, port) {
        Ok(stream) => stream,
        Err(e) => {
            println!("no address of {host:?} answered; the last error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match talk(&mut stream) {
        Ok(reply) => {
            println!("Server replied: {reply}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("talking to {}: {e}", host);
            ExitCode::FAILURE
        }
    }
}

/// From here on, nothing depends on the address family.
fn talk(stream: &mut TcpStream) -> io::Result<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let message = b"Hello, Server";
    stream.write_all(message)?;
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
    Ok(String::from_utf8_lossy(&reply).into_owned())
}
