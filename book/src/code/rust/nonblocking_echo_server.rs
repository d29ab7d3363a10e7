//! The tcp-echo server on one thread with non-blocking sockets (std only).
//!
//! Every call returns at once: WouldBlock means "not ready, ask later". With
//! no readiness API in std we poll and nap 5 ms when nothing happened; real
//! programs ask the OS which sockets are ready (epoll/kqueue, via mio or
//! tokio) and sleep until then.
//!
//! Run:  rustc nonblocking_echo_server.rs && ./nonblocking_echo_server [PORT]
//!       (default 65432; 0 = any free port)

use std::env;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    outbox: Vec<u8>, // bytes accepted for sending but not yet taken by the kernel
    eof: bool,       // the client sent FIN
}

fn main() -> std::io::Result<()> {
    let port: u16 = env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(65432);
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    println!("listening on {}", listener.local_addr()?);

    let mut clients: Vec<Client> = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let mut busy = false;
        // ANCHOR: poll
        match listener.accept() {
            Ok((stream, peer)) => {
                stream.set_nonblocking(true)?;
                println!("accepted {peer}");
                clients.push(Client {
                    stream,
                    peer,
                    outbox: Vec::new(),
                    eof: false,
                });
                busy = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {} // nobody waiting
            Err(e) => return Err(e),
        }
        for c in clients.iter_mut() {
            if !c.eof {
                match c.stream.read(&mut buf) {
                    Ok(0) => c.eof = true,
                    Ok(n) => {
                        c.outbox.extend_from_slice(b"ACK: ");
                        c.outbox.extend_from_slice(&buf[..n]);
                        busy = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {} // no bytes yet
                    Err(_) => c.eof = true,
                }
            }
            if !c.outbox.is_empty() {
                match c.stream.write(&c.outbox) {
                    Ok(sent) => {
                        c.outbox.drain(..sent); // a partial write keeps the rest
                        busy = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {} // kernel buffer full
                    Err(_) => {
                        c.outbox.clear();
                        c.eof = true;
                    }
                }
            }
        }
        // Forget clients that are finished and fully answered.
        clients.retain(|c| {
            let done = c.eof && c.outbox.is_empty();
            if done {
                println!("{} closed", c.peer);
            }
            !done
        });
        // ANCHOR_END: poll
        if !busy {
            thread::sleep(Duration::from_millis(5));
        }
    }
}
