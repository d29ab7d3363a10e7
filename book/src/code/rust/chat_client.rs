//! A client for the chat demo, with two threads instead of a selector.
//!
//! A chat client waits for two things at once: a line from the keyboard and
//! a line from the server. std has no way to wait on stdin and a socket
//! together, so each wait gets a thread: one reads the socket and prints,
//! the main thread reads stdin and sends. `try_clone` gives both threads a
//! handle on the one socket.
//!
//! End the input (Ctrl-D) and the client shuts down its sending side, then
//! prints what still arrives until the server closes.
//!
//! Run:  rustc chat_client.rs && ./chat_client          (interactive)
//!       ./chat_client --say "hello"   (one line, then print what arrives
//!                                      until 1 s of silence)
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_CHAT_PORT (9034)

use std::env;
use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

/// `--say`: how long the room must be quiet before we leave.
const SILENCE: Duration = Duration::from_secs(1);

/// Copies what the server sends to stdout, as it arrives, until it closes
/// (or, with a read timeout set, until it has been quiet that long).
fn print_incoming(mut sock: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    let mut out = io::stdout();
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return Ok(()), // the server closed
            Ok(n) => {
                out.write_all(&buf[..n])?; // bytes as received: UTF-8 from the server
                out.flush()?;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(()); // quiet for the read timeout (--say)
            }
            Err(e) => return Err(e),
        }
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let say = match args.as_slice() {
        [] => None,
        [flag, line] if flag == "--say" => Some(line.clone()),
        _ => {
            eprintln!("usage: chat_client [--say LINE]");
            std::process::exit(2);
        }
    };
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_CHAT_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9034);
    let mut sock = TcpStream::connect((host.as_str(), port))?;

    if let Some(line) = say {
        sock.write_all(format!("{line}\n").as_bytes())?;
        sock.set_read_timeout(Some(SILENCE))?;
        return print_incoming(sock); // dropping the socket closes it: we leave
    }

    let incoming = sock.try_clone()?; // a second handle on the same socket
    let reader = thread::spawn(move || print_incoming(incoming));
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    // Bytes, not String: what is typed goes out as it is, "\n" included.
    while stdin.read_until(b'\n', &mut line)? > 0 {
        sock.write_all(&line)?;
        line.clear();
    }
    // EOF on stdin: FIN to the server ("I have finished sending"), then
    // keep printing until the server closes its side.
    sock.shutdown(Shutdown::Write)?;
    reader.join().expect("the reader thread panicked")
}
