//! `tcp-echo`: the notes' first TCP server, iterative on purpose.
//!
//! One client at a time: while a client is connected, the next one completes
//! its TCP handshake (the kernel does that, into the listen backlog) but waits
//! for `accept`. The concurrency lesson starts from watching that wait. Every
//! read is answered with `ACK: ` + exactly the bytes that read returned, so the
//! learner sees read boundaries in the replies. An idle client is dropped after
//! `--idle-timeout`, and any client after `--hold-limit` (a client trickling a
//! byte at a time is never idle), so nobody can hold the demo forever.
//!
//! What it does with each connection is `protocol::conversation`'s; this file
//! only starts it (iterative serving) with the one driver every demo shares.

use protocol::Demo;
use tokio::net::TcpListener;

use super::{DemoCtx, Style, driver, serve_tcp};

/// Runs `tcp-echo` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        Demo::TcpEcho,
        ctx,
        Style::Iterative,
        |stream, events, ctx| driver::converse(Demo::TcpEcho, stream, events, ctx),
    )
    .await;
}
