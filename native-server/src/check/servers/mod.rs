//! The server lessons: socket-lab plays the clients against the learner's server.
//!
//! One file per lesson, each with its `STAGES` (names, in order) and a
//! `stage(index, ctx)` that runs one of them. What they share is here.

pub(crate) mod auth;
pub(crate) mod framed;
pub(crate) mod tcp_echo;
pub(crate) mod udp_echo;
pub(crate) mod uppercase;

use rand::Rng;

use super::Ctx;
use super::conn::{Conn, Transcript};
use super::failure::Failure;

/// A short seeded word of lowercase letters and digits (never an `A`, which
/// the tcp-echo stages use to find where each `ACK: ` starts).
pub(crate) fn word(ctx: &mut Ctx, len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(CHARS[ctx.rng.random_range(0..CHARS.len())]))
        .collect()
}

/// A new client of the learner's server, labelled for the transcript (the
/// very first one is the connection that found the server listening).
pub(crate) async fn connect(ctx: &Ctx, label: &str, log: &Transcript) -> Result<Conn, Failure> {
    let first = ctx
        .first_client
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    match first {
        Some(stream) => {
            log.conn_note(label, format!("{label} connected"));
            Ok(Conn::new(stream, label, log, ctx.timeout))
        }
        None => Conn::connect(ctx.addr, label, log, ctx.timeout).await,
    }
}
