//! `tcp-echo`: the notes' first TCP server, iterative on purpose.
//!
//! One client at a time: while a client is connected, the next one completes
//! its TCP handshake (the kernel does that, into the listen backlog) but waits
//! for `accept`. The concurrency lesson starts from watching that wait. Every
//! read is answered with `ACK: ` + exactly the bytes that read returned, so the
//! learner sees read boundaries in the replies. An idle client is dropped after
//! `--idle-timeout`, and any client after `--hold-limit` (a client trickling a
//! byte at a time is never idle), so nobody can hold the demo forever.

use std::io;

use protocol::demo::{READ_BUF, echo_reply};
use protocol::events::EventKind;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::{
    DemoCtx, Ending, ReadOutcome, Style, ending_for, read_event, read_some, reply_event, serve_tcp,
};
use crate::events::ConnEvents;

/// Runs `tcp-echo` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        protocol::Demo::TcpEcho,
        ctx,
        Style::Iterative,
        converse,
    )
    .await;
}

async fn converse(mut stream: TcpStream, events: ConnEvents, ctx: DemoCtx) -> io::Result<Ending> {
    let idle = ctx.config.idle_timeout;
    // While this client is served, everyone else waits: bound its turn.
    let hold = ctx.config.hold_limit;
    let turn_ends = tokio::time::Instant::now() + hold;
    let mut buf = [0u8; READ_BUF];
    loop {
        let Ok(outcome) = tokio::time::timeout_at(
            turn_ends,
            read_some(&mut stream, &mut buf, idle, &ctx.shutdown),
        )
        .await
        else {
            events.emit(EventKind::Timeout {
                waiting_for: "the client to finish its turn (--hold-limit)".into(),
                after_ms: u64::try_from(hold.as_millis()).unwrap_or(u64::MAX),
            });
            return Ok(Ending::server(format!(
                "the client held this one-at-a-time demo for {} s (--hold-limit) and was \
                 dropped so the next client can be served",
                hold.as_secs_f32()
            )));
        };
        let outcome = outcome?;
        if let Some(ending) = ending_for(&outcome, &events, idle, "the next message") {
            return Ok(ending);
        }
        let ReadOutcome::Data(n) = outcome else {
            unreachable!("handled above")
        };
        events.emit_with(|| read_event(&buf[..n]));
        let reply = echo_reply(&buf[..n]);
        stream.write_all(&reply).await?;
        events.emit_with(|| reply_event(&reply));
    }
}
