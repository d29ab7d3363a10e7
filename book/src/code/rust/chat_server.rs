//! The chat room of `chat_server.py`, on tokio: a task per client, a shared
//! room, and a channel into each client's task.
//!
//! Every line a client sends goes to every other client, prefixed with the
//! sender's address; joins and leaves are announced; a line over 1024 bytes,
//! or 64 KiB of output a client leaves unread, gets it dropped. The same
//! protocol as the socket-lab `chat` demo.
//!
//! Why a channel per client and not `tokio::sync::broadcast`: a broadcast
//! channel hands every message to every receiver, the sender included, and
//! keeps a fixed number of *messages*; a receiver that falls behind gets
//! `Lagged` and has silently lost some. We want the sender left out, a limit
//! in *bytes*, and a slow client dropped rather than skipped. So the room
//! holds one unbounded sender per client, and each client's task moves what
//! arrives into its own output buffer at once and checks its size there:
//! the channel never holds more than a moment's worth, and the limit is
//! enforced where the bytes are.
//!
//! Needs tokio (features "rt-multi-thread", "net", "io-util", "macros", "sync").
//! Run:  cargo run -p book-samples --bin chat_server -- [PORT]
//!       (default 9034; 0 = any free port)

use std::collections::HashMap;
use std::env;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Bytes per line, not counting its `\n`.
const MAX_LINE: usize = 1024;
/// Output a client may leave unread before it is dropped.
const MAX_PENDING: usize = 64 * 1024;

/// What a client is told before it is closed for a line that never ends.
const TOO_LONG: &[u8] = b"* line too long: at most 1024 bytes per line; closing\n";

type Message = Arc<[u8]>;

// ANCHOR: room
/// Everyone connected: each client's address and the way into its task.
/// A std Mutex is enough: it is never held across an `.await`.
#[derive(Default)]
struct Room {
    members: HashMap<SocketAddr, mpsc::UnboundedSender<Message>>,
}

impl Room {
    /// Adds a client; it hears the welcome, the others hear it arrive.
    fn join(&mut self, addr: SocketAddr, tx: mpsc::UnboundedSender<Message>) {
        let others = self.members.len();
        let who = if others == 1 { "other" } else { "others" };
        let welcome = format!("* you are {addr}; {others} {who} here\n");
        let _ = tx.send(welcome.as_bytes().into());
        self.members.insert(addr, tx);
        self.broadcast(addr, format!("* {addr} joined\n").as_bytes());
    }

    /// Queues a message for everyone but `from`. Sending on an unbounded
    /// channel never waits, so one slow client cannot stall this loop.
    fn broadcast(&self, from: SocketAddr, msg: &[u8]) {
        let msg: Message = msg.into();
        for (addr, tx) in &self.members {
            if *addr != from {
                let _ = tx.send(msg.clone()); // a task that has ended: no matter
            }
        }
    }

    /// Takes a client out, and tells the others.
    fn leave(&mut self, addr: SocketAddr) {
        if self.members.remove(&addr).is_some() {
            self.broadcast(addr, format!("* {addr} left\n").as_bytes());
        }
    }
}
// ANCHOR_END: room

/// Why a client's task ended.
enum Exit {
    Closed,
    TooLong,
    Slow,
    Error(std::io::Error),
}

/// More than `MAX_LINE` bytes without a newline.
struct TooLong;

// ANCHOR: lines
/// Takes every complete line out of `inbox` and sends the non-empty ones to
/// the room. Leaves a partial line where it is.
fn take_lines(inbox: &mut Vec<u8>, room: &Mutex<Room>, addr: SocketAddr) -> Result<(), TooLong> {
    while let Some(end) = inbox.iter().position(|&b| b == b'\n') {
        if end > MAX_LINE {
            return Err(TooLong);
        }
        let line: Vec<u8> = inbox.drain(..=end).collect();
        say(&line[..end], room, addr);
    }
    // More than MAX_LINE bytes and no newline: this line can never be valid.
    if inbox.len() > MAX_LINE {
        return Err(TooLong);
    }
    Ok(())
}

/// One line (without its `\n`) from `addr` to the others.
fn say(line: &[u8], room: &Mutex<Room>, addr: SocketAddr) {
    let line = line.strip_suffix(b"\r").unwrap_or(line); // "\r\n" line ends
    if !line.is_empty() {
        let mut msg = format!("{addr}: ").into_bytes();
        msg.extend_from_slice(line);
        msg.push(b'\n');
        room.lock().unwrap().broadcast(addr, &msg);
    }
}
// ANCHOR_END: lines

// ANCHOR: serve
async fn serve(mut stream: TcpStream, addr: SocketAddr, room: Arc<Mutex<Room>>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    room.lock().unwrap().join(addr, tx);
    let mut inbox = Vec::new(); // received, not yet a complete line
    let mut outbox = Vec::new(); // for this client, not yet taken by the kernel
    let mut buf = [0u8; 4096];
    let (mut reader, mut writer) = stream.split();
    let exit = loop {
        // Wait for whichever comes first: bytes from the client, a message
        // for it, or room in its socket for what we owe it. All three are
        // cancel-safe: the branches that lose the race lose nothing.
        tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) => {
                    say(&inbox, &room, addr); // a last line without its "\n"
                    break Exit::Closed;
                }
                Ok(n) => {
                    inbox.extend_from_slice(&buf[..n]);
                    if take_lines(&mut inbox, &room, addr).is_err() {
                        break Exit::TooLong;
                    }
                }
                Err(e) => break Exit::Error(e),
            },
            Some(msg) = rx.recv() => {
                outbox.extend_from_slice(&msg);
                if outbox.len() > MAX_PENDING {
                    break Exit::Slow; // it is not reading: drop it
                }
            }
            // Only while there is something to write (like registering
            // EVENT_WRITE only then): `write` may take part of it.
            written = writer.write(&outbox), if !outbox.is_empty() => match written {
                Ok(n) => {
                    outbox.drain(..n);
                }
                Err(e) => break Exit::Error(e),
            },
        }
    };
    room.lock().unwrap().leave(addr);
    // One last try, without waiting, at what is still owed (for a line too
    // long, the reason): a client we are throwing out gets no more time.
    // `select!` picks at random among ready branches, so some of it may
    // still be in the channel (a client that connects and closes at once
    // has its welcome there): collect it first.
    if !matches!(exit, Exit::Slow) {
        while let Ok(msg) = rx.try_recv() {
            outbox.extend_from_slice(&msg);
        }
        if let Exit::TooLong = exit {
            outbox.extend_from_slice(TOO_LONG);
        }
        let _ = stream.try_write(&outbox);
    }
    let why = match exit {
        Exit::Closed => "closed".to_owned(),
        Exit::TooLong => "line too long".to_owned(),
        Exit::Slow => "not reading".to_owned(),
        Exit::Error(e) => e.to_string(),
    };
    println!("{addr} left ({why})");
    // `stream` is dropped here, which closes the socket.
}
// ANCHOR_END: serve

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9034);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);

    // ANCHOR: accept
    let room = Arc::new(Mutex::new(Room::default()));
    loop {
        let (stream, addr) = listener.accept().await?;
        println!("{addr} joined");
        tokio::spawn(serve(stream, addr, room.clone()));
    }
    // ANCHOR_END: accept
}
