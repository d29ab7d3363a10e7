//! The one tokio driver of every TCP demo's conversation.
//!
//! `protocol::conversation` holds what each demo does with a connection —
//! what it replies, what it saw, when it gives up, when it closes. This file
//! only moves bytes and time: it reads the socket as the conversation's read
//! hint says (the sticky demo's read size and delay), waits no longer than
//! its next deadline, publishes the events it gives out and writes what it
//! says to send. The in-page simulation and the tests run the very same
//! conversations, so the server's account of a connection is the same
//! everywhere.

use std::io;
use std::time::Duration;

use protocol::Demo;
use protocol::conversation::{Conversation, Output, Settings};
use protocol::events::EventKind;
use rand::TryRngCore;
use rand::rngs::OsRng;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

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
}

/// Serves one connection of `demo` until its conversation closes it.
pub async fn converse(
    demo: Demo,
    mut stream: TcpStream,
    events: ConnEvents,
    ctx: DemoCtx,
) -> io::Result<Ending> {
    let start = Instant::now();
    let now_us = || micros(start.elapsed());
    let mut challenge = [0u8; 32];
    if demo == Demo::Auth {
        // The OS random source: a challenge nobody can predict.
        OsRng
            .try_fill_bytes(&mut challenge)
            .map_err(io::Error::other)?;
    }
    let sticky = (demo == Demo::Sticky).then(|| ctx.sticky.take(events.peer()));
    let mut conv = Conversation::new(demo, &settings(&ctx.config), 0, challenge, sticky);
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
            res = read(&stream, hint.size, hint.delay_us, |bytes, fin| {
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
        }
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
