//! A client for the framed demo: one JSON frame out, one frame back.
//! A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
//!
//! Run:  rustc framed_client.rs && ./framed_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_FRAMED_PORT (5000)

use std::env;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const MAX_FRAME: u32 = 1024 * 1024;

// ANCHOR: frames
/// Writes one frame: the payload's length as u32 big-endian, then the payload.
fn send_frame(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "payload over 4 GiB"))?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes()); // struct.pack('!I', len)
    frame.extend_from_slice(payload);
    stream.write_all(&frame) // one write: header and payload together
}

/// Reads one frame. `read_exact` loops over short reads for us and fails
/// with UnexpectedEof if the peer closes early.
fn recv_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header)?;
    let len = u32::from_be_bytes(header);
    if len > MAX_FRAME {
        // Check BEFORE allocating: a hostile header could claim 4 GiB.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the limit"),
        ));
    }
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload)?;
    Ok(payload)
}
// ANCHOR_END: frames

fn main() -> io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_FRAMED_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;

    // std has no JSON library; this literal is what json.dumps({"msg": "Hello"}) writes.
    send_frame(&mut stream, br#"{"msg": "Hello"}"#)?;
    let reply = recv_frame(&mut stream)?;
    let text =
        String::from_utf8(reply).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    // A real program would parse this with serde_json.
    println!("Decoded reply: {text}");
    Ok(())
}
