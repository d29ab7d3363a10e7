//! The uppercase server with one OS thread per connection (std only).
//!
//! Run:  rustc threaded_uppercase_server.rs && ./threaded_uppercase_server [PORT]
//!       (default 9999; 0 = any free port)

use std::env;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

// ANCHOR: handle
fn handle(mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf)?;
    let reply = buf[..n].trim_ascii().to_ascii_uppercase();
    conn.write_all(&reply)?;
    Ok(()) // `conn` is dropped here: the connection closes
}
// ANCHOR_END: handle

fn main() -> std::io::Result<()> {
    let port: u16 = env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9999);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on {}", listener.local_addr()?);

    // ANCHOR: accept
    for conn in listener.incoming() {
        let conn = conn?;
        let peer = conn.peer_addr()?;
        // The accept loop only accepts; each client gets its own thread, so a
        // slow one blocks nobody. Cost: one stack (MBs of address space) each.
        thread::spawn(move || {
            if let Err(e) = handle(conn) {
                println!("{peer}: {e}");
            }
        });
    }
    // ANCHOR_END: accept
    Ok(())
}
