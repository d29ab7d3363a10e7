//! A receiver that makes message boundaries visible, like the sticky demo:
//! fixed read size, fixed delay before each read, every read printed and
//! echoed back.
//!
//! Run:  rustc sticky_server.rs && ./sticky_server [PORT] [READ_SIZE] [DELAY_MS]
//!       (defaults 5001, 1024, 0; PORT 0 = any free port)

use std::env;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let arg = |i: usize, default: u64| {
        env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let port = arg(1, 5001) as u16;
    let read_size = arg(2, 1024).max(1) as usize;
    let delay = Duration::from_millis(arg(3, 0));

    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!(
        "listening on {} (read size {read_size}, delay {} ms)",
        listener.local_addr()?,
        delay.as_millis()
    );

    for conn in listener.incoming() {
        let mut conn = conn?;
        let peer = conn.peer_addr()?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        println!("accepted {peer}");
        let mut buf = vec![0u8; read_size];
        let mut reads = 0;
        loop {
            thread::sleep(delay); // a busy receiver lets bytes pile up
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    reads += 1;
                    println!(
                        "  read {reads}: {n} bytes {:?}",
                        String::from_utf8_lossy(&buf[..n])
                    );
                    if conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    println!("  connection ended: {e}");
                    break;
                }
            }
        }
        println!("  {peer} done after {reads} read(s)");
    }
    Ok(())
}
