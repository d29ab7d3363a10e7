//! The uppercase server on tokio: many connections, a few threads, no
//! thread per client. Each connection is a task; `.await` parks it until its
//! socket is ready, and the runtime's event loop (epoll/kqueue) wakes it.
//!
//! Needs tokio (features "rt-multi-thread", "net", "io-util", "macros", "time").
//! Run:  cargo run --bin async_uppercase_server -- [PORT]   (default 9999; 0 = any)

use std::env;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

// ANCHOR: handle
async fn handle(mut conn: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 1024];
    // Waiting here costs no thread: the task is parked until bytes arrive.
    let n = match timeout(Duration::from_secs(30), conn.read(&mut buf)).await {
        Ok(read) => read?,
        Err(_elapsed) => return Ok(()), // too slow: drop the connection
    };
    let reply = buf[..n].trim_ascii().to_ascii_uppercase();
    conn.write_all(&reply).await?;
    Ok(())
}
// ANCHOR_END: handle

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9999);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);

    // ANCHOR: accept
    loop {
        let (conn, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = handle(conn).await {
                println!("{peer}: {e}");
            }
        });
    }
    // ANCHOR_END: accept
}
