//! The one tokio driver of every TCP demo's conversation.
//!
//! `protocol::conversation` holds what each demo does with a connection —
//! what it replies, what it saw, when it gives up, when it closes. This file
//! only moves bytes and time: it reads the socket as the conversation's read
//! hint says (the sticky demo's read size and delay), waits no longer than
//! its next deadline, publishes the events it gives out and writes what it
//! says to send. The in-page simulation and the tests run the very same
//! conversations, so the server's account of a connection is the same
//! everywhere. It runs over plain TCP or over TLS ([`DemoStream`]), and for a
//! chat member it also writes what the room sends it.

use std::future::Future;
use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::Demo;
use protocol::chat;
use protocol::conversation::{Conversation, Output, Settings};
use protocol::events::{EventKind, MAX_EVENT_BYTES};
use protocol::hex::HexBytes;
use rand::TryRngCore;
use rand::rngs::OsRng;
#[cfg(feature = "tls")]
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::chat as chat_room;
use super::{DemoCtx, Ending};
use crate::config::Config;
use crate::events::ConnEvents;

/// Most bytes one read takes (the sticky demo's largest read size).
const MAX_READ: usize = 64 * 1024;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The conversations' limits, from the server's flags.
pub fn settings(config: &Config) -> Settings {
    Settings {
        idle_timeout_us: micros(config.idle_timeout),
        hold_limit_us: micros(config.hold_limit),
        handshake_timeout_us: micros(config.handshake_timeout),
        max_frame: config.max_frame,
        secret: config.secret.clone(),
    }
}

/// What one wait on the socket gave.
enum Woke {
    Data,
    Eof,
    Deadline,
    Shutdown,
    /// A chat member was sent this by the room (`None`: it was dropped).
    Heard(Option<std::sync::Arc<[u8]>>),
}

/// Serves one connection of `demo` until its conversation closes it.
pub async fn converse(
    demo: Demo,
    stream: TcpStream,
    events: ConnEvents,
    ctx: DemoCtx,
) -> io::Result<Ending> {
    let mut challenge = [0u8; 32];
    if demo == Demo::Auth {
        // The OS random source: a challenge nobody can predict.
        OsRng
            .try_fill_bytes(&mut challenge)
            .map_err(io::Error::other)?;
    }
    let sticky = (demo == Demo::Sticky).then(|| ctx.sticky.take(events.peer()));
    let conv = Conversation::new(demo, &settings(&ctx.config), 0, challenge, sticky);
    if demo != Demo::Chat {
        return drive(stream, conv, events, ctx, None).await;
    }
    // On the heap: the room's part would otherwise make every connection's
    // task bigger, chat or not.
    Box::pin(chat_member(stream, conv, events, ctx)).await
}

/// A chat connection: the room is the driver's, so join it, be welcomed,
/// tell the others, run the conversation, and say goodbye however it ends.
async fn chat_member(
    mut stream: TcpStream,
    conv: Conversation,
    events: ConnEvents,
    ctx: DemoCtx,
) -> io::Result<Ending> {
    let peer = events.peer().to_string();
    let (mut seat, others) = ctx.chat.join();
    let welcome = chat::welcome(&peer, others);
    let ending = match stream.write_all(&welcome).await {
        Ok(()) => {
            events.emit(super::reply_event(&welcome));
            let joined = chat::joined(&peer);
            let to = seat.relay(&joined);
            events.emit(broadcast_event(&joined, to));
            drive(stream, conv, events.clone(), ctx, Some(&mut seat)).await
        }
        Err(e) => Err(e),
    };
    let left = chat::left(&peer);
    let to = seat.leave(&left);
    events.emit(broadcast_event(&left, to));
    ending
}

fn broadcast_event(bytes: &[u8], to: usize) -> EventKind {
    EventKind::Broadcast {
        size: bytes.len(),
        data: HexBytes::capped(&bytes[..bytes.len().min(MAX_EVENT_BYTES)]),
        to,
    }
}

/// A connection a conversation can run over: plain TCP, or TLS on top of it.
pub trait DemoStream: AsyncWrite + Unpin + Send {
    /// One read of at most `size` bytes after `delay_us`, handed to `sink`
    /// with whether the client's FIN is already right behind them (when the
    /// stream can tell); returns how many (0 at end of stream).
    fn read_some(
        &mut self,
        size: usize,
        delay_us: u64,
        sink: impl FnOnce(&[u8], bool) + Send,
    ) -> impl Future<Output = io::Result<usize>> + Send;
}

impl DemoStream for TcpStream {
    fn read_some(
        &mut self,
        size: usize,
        delay_us: u64,
        sink: impl FnOnce(&[u8], bool) + Send,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        read(self, size, delay_us, sink)
    }
}

#[cfg(feature = "tls")]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> DemoStream for tokio_rustls::server::TlsStream<S> {
    async fn read_some(
        &mut self,
        size: usize,
        delay_us: u64,
        sink: impl FnOnce(&[u8], bool) + Send,
    ) -> io::Result<usize> {
        if delay_us > 0 {
            tokio::time::sleep(Duration::from_micros(delay_us)).await;
        }
        // TLS decrypts whole records, so there is no cheap peek for the FIN:
        // the conversation sees it as the next read's 0.
        let mut buf = vec![0u8; size.clamp(1, MAX_READ)];
        let n = self.read(&mut buf).await?;
        if n > 0 {
            sink(&buf[..n], false);
        }
        Ok(n)
    }
}

/// Runs `conv` over `stream` until it closes; a chat member's `seat` also
/// brings in what the others said.
pub async fn drive<S: DemoStream>(
    mut stream: S,
    mut conv: Conversation,
    events: ConnEvents,
    ctx: DemoCtx,
    mut seat: Option<&mut chat_room::Seat>,
) -> io::Result<Ending> {
    let start = Instant::now();
    let now_us = || micros(start.elapsed());
    let mut ending = None;
    // What this connection holds of the shared frame budget; given back
    // however the connection ends.
    let mut held = Held {
        budget: &ctx.frame_budget,
        bytes: 0,
    };
    loop {
        held.update(&mut conv);
        conv.set_detail(events.is_watched());
        while let Some(out) = conv.poll_output() {
            match out {
                Output::Send(bytes) => {
                    if let Err(e) = stream.write_all(&bytes).await {
                        // A client that left before its last answer (auth's
                        // early close) is no error of ours.
                        if conv.is_closed() {
                            continue;
                        }
                        return Err(e);
                    }
                }
                // The accept loop publishes `closed` with the ending.
                Output::Event(EventKind::Closed { by, reason }) => {
                    ending = Some(Ending { by, reason });
                }
                Output::Event(kind) => events.emit(kind),
                Output::Broadcast(line) => {
                    if let Some(seat) = seat.as_deref() {
                        let bytes = chat::relay(&events.peer().to_string(), &line);
                        let to = seat.relay(&bytes);
                        events.emit(broadcast_event(&bytes, to));
                    }
                }
                Output::Close => {
                    let _ = stream.shutdown().await;
                    return Ok(ending.unwrap_or_else(|| Ending::server("the server closed")));
                }
            }
        }
        let hint = conv.read_hint();
        let deadline = conv
            .poll_timeout()
            .map(|t| start + Duration::from_micros(t));
        let woke = tokio::select! {
            _ = ctx.shutdown.cancelled() => Woke::Shutdown,
            _ = sleep_until(deadline) => Woke::Deadline,
            said = heard(seat.as_deref_mut()) => Woke::Heard(said),
            res = stream.read_some(hint.size, hint.delay_us, |bytes, fin| {
                if fin {
                    conv.handle_data_then_eof(now_us(), bytes);
                } else {
                    conv.handle_data(now_us(), bytes);
                }
            }) => match res? {
                0 => Woke::Eof,
                _ => Woke::Data,
            },
        };
        match woke {
            Woke::Data => {}
            Woke::Eof => conv.handle_eof(now_us()),
            Woke::Deadline => conv.handle_timeout(now_us()),
            Woke::Shutdown => conv.handle_shutdown(),
            Woke::Heard(Some(bytes)) => {
                // A client that stops reading blocks this write; the room
                // drops it once too much waits, and that ends the write too.
                let dropped = seat
                    .as_deref()
                    .map(|s| s.dropped.clone())
                    .unwrap_or_default();
                tokio::select! {
                    res = stream.write_all(&bytes) => res?,
                    _ = dropped.cancelled() => {
                        conv.refuse("too_slow", &too_slow());
                        continue;
                    }
                }
                if let Some(seat) = seat.as_deref() {
                    seat.pending.fetch_sub(bytes.len(), Ordering::AcqRel);
                }
            }
            Woke::Heard(None) => conv.refuse("too_slow", &too_slow()),
        }
    }
}

fn too_slow() -> String {
    format!(
        "this client did not read what the room sent it: more than {} KiB waited for it, so \
         the chat demo dropped it",
        chat::MAX_PENDING / 1024
    )
}

/// What the others said to a chat member next; `None` when the room dropped
/// it for not reading. Never ready for a connection that is not in a room.
async fn heard(seat: Option<&mut chat_room::Seat>) -> Option<std::sync::Arc<[u8]>> {
    let Some(seat) = seat else {
        return std::future::pending().await;
    };
    tokio::select! {
        biased;
        _ = seat.dropped.cancelled() => None,
        said = seat.inbox.recv() => match said {
            Some(bytes) => Some(bytes),
            None => std::future::pending().await,
        },
    }
}

/// This connection's share of the frame budget.
struct Held<'a> {
    budget: &'a super::ByteBudget,
    bytes: usize,
}

impl Held<'_> {
    /// Follows what the conversation holds now; refuses it when the budget
    /// has no room for more.
    fn update(&mut self, conv: &mut Conversation) {
        let now = conv.held_bytes();
        if now > self.bytes {
            if !self.budget.try_take(now - self.bytes) {
                conv.refuse(
                    "server_busy",
                    &format!(
                        "the server is holding {} bytes of unfinished frames from all its clients, \
                         its limit (--frame-budget); send smaller frames or try again shortly",
                        self.budget.cap()
                    ),
                );
                return;
            }
        } else {
            self.budget.give(self.bytes - now);
        }
        self.bytes = now;
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// One read of at most `size` bytes after `delay_us`, handed to `sink`
/// with whether the client's FIN is already right behind them; returns how
/// many (0 at end of stream).
///
/// No buffer is held while waiting: the task waits until the socket is
/// readable, then reads into a stack buffer and hands the bytes on. An idle
/// connection costs only its socket and its task, which is what lets one
/// process hold thousands of them.
async fn read(
    stream: &TcpStream,
    size: usize,
    delay_us: u64,
    sink: impl FnOnce(&[u8], bool),
) -> io::Result<usize> {
    if delay_us > 0 {
        tokio::time::sleep(Duration::from_micros(delay_us)).await;
    }
    loop {
        stream.readable().await?;
        let mut chunk = [0u8; MAX_READ];
        let want = size.clamp(1, MAX_READ);
        match stream.try_read(&mut chunk[..want]) {
            Ok(0) => return Ok(0),
            Ok(n) => {
                // Is the FIN already here (a half-close: the client sent, shut
                // down its side, and reads on)? A peek of 0 says so, and takes
                // nothing from the stream.
                let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
                let fin =
                    n < want && matches!(socket2::SockRef::from(stream).peek(&mut probe), Ok(0));
                sink(&chunk[..n], fin);
                return Ok(n);
            }
            // Readiness can be spurious; wait again.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}
