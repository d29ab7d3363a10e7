//! A client for the uppercase demo: sends "hello", prints what comes back.
//!
//! Run:  rustc uppercase_client.rs && ./uppercase_client
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

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"hello")?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?; // the server closes after one reply
    println!("Server replied: {reply}");
    Ok(())
}
