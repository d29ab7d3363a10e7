//! Nagle's algorithm meets delayed ACKs: a client that writes a request in
//! two small writes and then waits for the answer (write, write, read)
//! stalls on almost every request, until a timer on the server's side fires.
//! With TCP_NODELAY, or with the request in one write, it does not.
//!
//! Needs no server: it starts its own on a free loopback port.
//! Run:  rustc nagle_stall.rs && ./nagle_stall

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Instant;

const REQUESTS: usize = 20;
const HEADER: [u8; 100] = [b'h'; 100];
const BODY: [u8; 100] = [b'b'; 100];

/// Answers every 200 bytes it reads with "ok", for one connection.
fn server(listener: TcpListener) {
    let (mut conn, _) = listener.accept().unwrap();
    let mut request = [0u8; 200];
    while conn.read_exact(&mut request).is_ok() {
        conn.write_all(b"ok").unwrap();
    }
}

/// The median time of one request in milliseconds.
fn median_ms(nodelay: bool, one_write: bool) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || server(listener));
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(nodelay).unwrap();
    let mut times = Vec::new();
    let mut answer = [0u8; 2];
    for _ in 0..REQUESTS {
        let start = Instant::now();
        // ANCHOR: write_write_read
        if one_write {
            stream.write_all(&[HEADER, BODY].concat()).unwrap();
        } else {
            stream.write_all(&HEADER).unwrap(); // sent at once
            stream.write_all(&BODY).unwrap(); // Nagle: held until HEADER is ACKed
        }
        // Wait for "ok".
        stream.read_exact(&mut answer).unwrap();
        // ANCHOR_END: write_write_read
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    drop(stream);
    server.join().unwrap();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

fn main() {
    let nagle = median_ms(false, false);
    let nodelay = median_ms(true, false);
    let one_write = median_ms(false, true);
    println!("{REQUESTS} requests of 100 + 100 bytes on loopback, median time per request:");
    println!("  write, write, read, Nagle on:     {nagle:6.1} ms");
    println!("  write, write, read, TCP_NODELAY:  {nodelay:6.1} ms");
    println!("  one write, then read, Nagle on:   {one_write:6.1} ms");
    if nagle >= 30.0 && nodelay < 10.0 && one_write < 10.0 {
        println!("Nagle on: the second write waited for the delayed ACK");
    } else {
        println!("no stall of 30 ms or more seen this time");
    }
}
