//! `uppercase`: the notes' `socketserver.ThreadingTCPServer`, as tokio tasks.
//!
//! Every connection gets its own task, so a slow client never delays another
//! (compare `tcp-echo`). Each reads one chunk of up to 1024 bytes, answers it
//! trimmed and upper-cased, and closes: one request, one response.

use std::io;

use protocol::demo::{READ_BUF, uppercase_reply};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::{
    DemoCtx, Ending, ReadOutcome, Style, ending_for, read_event, read_some, reply_event, serve_tcp,
};
use crate::events::ConnEvents;

/// Runs `uppercase` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        protocol::Demo::Uppercase,
        ctx,
        Style::Concurrent,
        converse,
    )
    .await;
}

async fn converse(mut stream: TcpStream, events: ConnEvents, ctx: DemoCtx) -> io::Result<Ending> {
    let idle = ctx.config.idle_timeout;
    let mut buf = [0u8; READ_BUF];
    let outcome = read_some(&mut stream, &mut buf, idle, &ctx.shutdown).await?;
    if let Some(ending) = ending_for(&outcome, &events, idle, "the one message") {
        return Ok(ending);
    }
    let ReadOutcome::Data(n) = outcome else {
        unreachable!("handled above")
    };
    events.emit_with(|| read_event(&buf[..n]));
    let reply = uppercase_reply(&buf[..n]);
    stream.write_all(&reply).await?;
    events.emit_with(|| reply_event(&reply));
    // Half-close first so the client reads the reply, then EOF.
    let _ = stream.shutdown().await;
    Ok(Ending::server("one request, one reply: the server closes"))
}
