//! The errors a socket learner meets first, produced on purpose on loopback.
//! Self-contained: run it with no server.
//!
//! Run:  rustc errors_tour.rs && ./errors_tour

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    // 1. Connection refused: nobody listens there; the kernel answers with RST.
    let free_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // dropped at once
    match TcpStream::connect(("127.0.0.1", free_port)) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => println!("refused:   {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // 2. Address in use: two listeners cannot bind the same address and port.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    match TcpListener::bind(addr) {
        Err(e) if e.kind() == ErrorKind::AddrInUse => println!("in use:    {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // 3. Reset: the peer closes while unread bytes sit in its receive buffer,
    //    so its kernel answers with RST instead of FIN.
    let mut client = TcpStream::connect(addr)?;
    let (server_side, _) = listener.accept()?;
    std::io::Write::write_all(&mut client, b"never read")?;
    std::thread::sleep(Duration::from_millis(100)); // let the bytes arrive
    drop(server_side); // close with unread data -> RST
    client.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 16];
    match client.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::ConnectionReset => println!("reset:     {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // 4. Timeout: connected, but the peer says nothing.
    let mut client = TcpStream::connect(addr)?;
    let (_server_side, _) = listener.accept()?;
    client.set_read_timeout(Some(Duration::from_millis(500)))?;
    match client.read(&mut buf) {
        // Unix reports WouldBlock for SO_RCVTIMEO expiry, Windows TimedOut.
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            println!("timeout:   {e}")
        }
        other => println!("unexpected: {other:?}"),
    }
    println!("All four errors seen");
    Ok(())
}
