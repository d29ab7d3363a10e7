//! A TCP connection that writes down every read and write as it happens.
//!
//! The stages talk to the learner's program through [`Conn`]: each write
//! and each read is one transcript line (`A → 13 bytes "Hello"`), so a
//! failure report shows the boundaries the sockets really had. Waiting is
//! always bounded: a read that gets nothing within the timeout says so.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use protocol::check::Direction;

use super::failure::Failure;
use super::publish::Feed;
use super::report;

/// Most transcript lines kept; a program that floods gets the rest counted.
const TRANSCRIPT_LINES: usize = 200;

/// Most bytes one connection may deliver before socket-lab stops reading:
/// a program that answers forever must not fill memory.
const MAX_RECEIVED: usize = 8 * 1024 * 1024;

/// The transcript lines of one stage, shared by its connections; each line
/// is also published, typed, to the chapter's check view (see `publish.rs`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Transcript {
    log: Arc<Mutex<(Vec<String>, usize)>>,
    feed: Feed,
}

impl Transcript {
    /// An empty transcript that also publishes to `feed`.
    pub(crate) fn new(feed: Feed) -> Transcript {
        Transcript {
            log: Arc::default(),
            feed,
        }
    }

    /// Adds a line (or counts it, past [`TRANSCRIPT_LINES`]).
    pub(crate) fn push(&self, line: String) {
        self.feed.note(None, &line);
        self.keep(line);
    }

    /// Adds a line about the connection `conn` that is not bytes.
    pub(crate) fn conn_note(&self, conn: &str, line: String) {
        self.feed.note(Some(conn), &line);
        self.keep(line);
    }

    /// Adds a write (`A → 5 bytes "Hello"`) or a read (`A ← …`) of `conn`.
    pub(crate) fn io(&self, conn: &str, dir: Direction, data: &[u8], datagram: bool) {
        self.feed.io(conn, dir, data, datagram);
        let arrow = match dir {
            Direction::Sent => "→",
            Direction::Read => "←",
        };
        let what = if datagram { "datagram of " } else { "" };
        self.keep(format!("{conn} {arrow} {what}{}", report::bytes(data)));
    }

    /// The feed this transcript publishes to (for a stage's other clients).
    pub(crate) fn feed(&self) -> Feed {
        self.feed.clone()
    }

    fn keep(&self, line: String) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.0.len() < TRANSCRIPT_LINES {
            log.0.push(line);
        } else {
            log.1 += 1;
        }
    }

    /// The lines so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = log.0.clone();
        if log.1 > 0 {
            lines.push(format!("… and {} more reads and writes", log.1));
        }
        lines
    }
}

/// How a wait for bytes ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// What was waited for arrived; the connection is still open.
    Done,
    /// The peer closed its side (a read returned 0 bytes).
    Eof,
    /// The connection failed (usually a reset).
    Broken(String),
    /// Nothing more arrived within the timeout.
    TimedOut,
}

impl End {
    /// A sentence for a report: what the peer did instead of answering.
    pub(crate) fn explain(&self, timeout: Duration) -> String {
        match self {
            End::Done => "the reply arrived".into(),
            End::Eof => "the program closed the connection".into(),
            End::Broken(e) if e.contains("reset") => {
                "the program reset the connection (it closed with bytes still unread, or ended)"
                    .into()
            }
            End::Broken(e) => format!("the connection failed: {e}"),
            End::TimedOut => format!("nothing more arrived within {}", secs(timeout)),
        }
    }
}

/// The gap between the writes of a message cut into `pieces`. There is no
/// signal that the other side has read a piece, so this is a pause: long
/// for a message in two (that split is the stage's whole point, and must
/// survive a busy machine), short for several pieces, shortest for a
/// message written a byte at a time.
pub(crate) fn pause_between(pieces: usize) -> Duration {
    match pieces {
        0..=2 => Duration::from_millis(150),
        3..=8 => Duration::from_millis(20),
        _ => Duration::from_millis(2),
    }
}

/// `2 s` or `300 ms`: a configured duration as a report prints it.
pub(crate) fn secs(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// One side of a TCP connection, with its transcript.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    label: String,
    log: Transcript,
    timeout: Duration,
    received: Vec<u8>,
    eof: bool,
}

impl Conn {
    /// Connects to the learner's server.
    pub(crate) async fn connect(
        addr: SocketAddr,
        label: &str,
        log: &Transcript,
        timeout: Duration,
    ) -> Result<Conn, Failure> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return Err(Failure::new(format!(
                    "client {label} could not connect: {e}. Is the program still running and listening on the port it was given?"
                ))
                .transcript(log.lines()));
            }
            Err(_) => {
                return Err(Failure::new(format!(
                    "client {label} could not connect within {}: the server's listen queue is full or it stopped accepting",
                    secs(timeout)
                ))
                .transcript(log.lines()));
            }
        };
        log.conn_note(label, format!("{label} connected"));
        Ok(Conn::new(stream, label, log, timeout))
    }

    /// Wraps a connection (e.g. one accepted from the learner's client).
    pub(crate) fn new(stream: TcpStream, label: &str, log: &Transcript, timeout: Duration) -> Conn {
        // Each write should leave as its own segment: the stages decide the boundaries.
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            label: label.to_owned(),
            log: log.clone(),
            timeout,
            received: Vec::new(),
            eof: false,
        }
    }

    /// Everything read so far.
    pub(crate) fn received(&self) -> &[u8] {
        &self.received
    }

    /// Forgets what was read so far (the next exchange starts afresh).
    pub(crate) fn clear(&mut self) {
        self.received.clear();
    }

    /// Drops the first `n` bytes read (a frame that was handled).
    pub(crate) fn consume(&mut self, n: usize) {
        self.received.drain(..n.min(self.received.len()));
    }

    /// How long a read waits for bytes.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The stage's transcript.
    pub(crate) fn log(&self) -> &Transcript {
        &self.log
    }

    /// Writes all of `bytes` (one write as far as the program can tell).
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.log.io(&self.label, Direction::Sent, bytes, false);
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.fail(format!(
                "client {} could not send: {e} (the program had closed the connection)",
                self.label
            ))),
            Err(_) => Err(self.fail(format!(
                "client {} could not send within {}: the program is not reading",
                self.label,
                secs(self.timeout)
            ))),
        }
    }

    /// Writes `pieces` one after another, far enough apart that the reader
    /// is likely to get them in separate reads (see [`pause_between`]).
    pub(crate) async fn send_pieces(&mut self, pieces: &[&[u8]]) -> Result<(), Failure> {
        let pause = pause_between(pieces.len());
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(pause).await;
            }
            self.send(piece).await?;
        }
        Ok(())
    }

    /// Sends FIN: no more bytes from this side, reading goes on.
    pub(crate) async fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown().await;
        self.log.conn_note(
            &self.label,
            format!("{} → end of stream (shutdown: no more bytes)", self.label),
        );
    }

    /// Reads until `done(received)` holds, the peer closes, the connection
    /// fails, or the timeout passes.
    pub(crate) async fn read_until(&mut self, mut done: impl FnMut(&[u8]) -> bool + Send) -> End {
        self.read_until_for(self.timeout, &mut done).await
    }

    /// [`Conn::read_until`] with its own deadline.
    pub(crate) async fn read_until_for(
        &mut self,
        wait: Duration,
        done: &mut (dyn FnMut(&[u8]) -> bool + Send),
    ) -> End {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if done(&self.received) {
                return End::Done;
            }
            if self.eof {
                return End::Eof;
            }
            match timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) => {
                    self.eof = true;
                    self.log.conn_note(
                        &self.label,
                        format!(
                            "{} ← end of stream (the program closed the connection)",
                            self.label
                        ),
                    );
                    return End::Eof;
                }
                Ok(Ok(n)) => {
                    self.log.io(&self.label, Direction::Read, &buf[..n], false);
                    self.received.extend_from_slice(&buf[..n]);
                    if self.received.len() > MAX_RECEIVED {
                        self.eof = true;
                        return End::Broken(format!(
                            "the program sent more than {} MiB without stopping, so socket-lab stopped reading",
                            MAX_RECEIVED >> 20
                        ));
                    }
                }
                Ok(Err(e)) => {
                    self.log
                        .conn_note(&self.label, format!("{} ← error: {e}", self.label));
                    self.eof = true;
                    return End::Broken(e.to_string());
                }
                Err(_) => {
                    self.log.conn_note(
                        &self.label,
                        format!("{} · nothing more within {}", self.label, secs(wait)),
                    );
                    return End::TimedOut;
                }
            }
        }
    }

    /// Reads exactly `n` more bytes than are already held.
    pub(crate) async fn read_exactly(&mut self, n: usize) -> End {
        let want = self.received.len() + n;
        self.read_until(|got| got.len() >= want).await
    }

    /// Reads until the peer closes (or the timeout passes).
    pub(crate) async fn read_to_end(&mut self) -> End {
        match self.read_until(|_| false).await {
            End::Done => End::Eof,
            end => end,
        }
    }

    /// A failure carrying this stage's transcript so far.
    pub(crate) fn fail(&self, what: impl Into<String>) -> Failure {
        Failure::new(what).transcript(self.log.lines())
    }
}
