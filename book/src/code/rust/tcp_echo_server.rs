//! An iterative TCP echo server: one client at a time, `ACK: ` + every read.
//!
//! Run:  rustc tcp_echo_server.rs && ./tcp_echo_server [PORT]   (default 65432; 0 = any)

use std::env;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

fn serve_one(mut conn: TcpStream, peer: SocketAddr) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf)?; // up to 1024 bytes, maybe fewer
        if n == 0 {
            println!("{peer} closed the connection"); // the peer sent FIN
            return Ok(());
        }
        println!(
            "read {n} bytes from {peer}: {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        let mut reply = b"ACK: ".to_vec();
        reply.extend_from_slice(&buf[..n]);
        conn.write_all(&reply)?;
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(65432);
    // bind + listen in one call. On Unix, std also sets SO_REUSEADDR and
    // picks the backlog for you.
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on {}", listener.local_addr()?);

    for conn in listener.incoming() {
        let conn = conn?;
        let peer = conn.peer_addr()?;
        println!("accepted {peer}");
        // Serve this client to the end before accepting the next one.
        if let Err(e) = serve_one(conn, peer) {
            match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                    println!("{peer} was idle; dropping it")
                }
                _ => println!("{peer}: {e}"),
            }
        }
    }
    Ok(())
}
