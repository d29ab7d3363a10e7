//! A server for length-prefixed frames, like the framed demo: a reply frame
//! for every frame, and a too-large header answered with an error and a close.
//!
//! std has no JSON parser, so this server checks only that the payload is
//! UTF-8 and echoes it inside a JSON object; a real one would use serde_json
//! (the Socket Lab server does) and reject invalid JSON with an error frame.
//!
//! Run:  rustc framed_server.rs && ./framed_server [PORT]   (default 5000; 0 = any)

use std::env;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const MAX_FRAME: u32 = 1024 * 1024;

fn send_frame(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

// ANCHOR: serve
fn serve(stream: &mut TcpStream) -> io::Result<()> {
    let mut frame_no = 0u64;
    loop {
        let mut header = [0u8; 4];
        match stream.read_exact(&mut header) {
            Ok(()) => {}
            // EOF before a new header: a clean close between frames.
            // (read_exact cannot tell "0 bytes" from "2 of 4"; the demo server can.)
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes(header);
        if len > MAX_FRAME {
            let msg = format!(
                r#"{{"error": "too_large", "message": "frame claims {len} bytes; the limit is {MAX_FRAME}"}}"#
            );
            send_frame(stream, msg.as_bytes())?;
            return Ok(()); // we no longer know where the next frame starts
        }
        let mut payload = vec![0u8; len as usize];
        stream.read_exact(&mut payload)?;
        frame_no += 1;
        let reply = match std::str::from_utf8(&payload) {
            Ok(text) => format!(
                r#"{{"echo": {text}, "seen": {{"frame": {frame_no}, "header": "{len:08x}", "payload_bytes": {len}}}}}"#
            ),
            Err(_) => r#"{"error": "invalid_utf8", "message": "payload is not UTF-8"}"#.to_string(),
        };
        println!("frame {frame_no}: {len} bytes");
        send_frame(stream, reply.as_bytes())?;
    }
}
// ANCHOR_END: serve

fn main() -> io::Result<()> {
    let port: u16 = env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        let mut conn = conn?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        let peer = conn.peer_addr()?;
        match serve(&mut conn) {
            Ok(()) => println!("{peer} done"),
            Err(e) => println!("{peer}: {e}"),
        }
    }
    Ok(())
}
