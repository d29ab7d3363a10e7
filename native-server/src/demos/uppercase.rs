//! `uppercase`: the notes' `socketserver.ThreadingTCPServer`, as tokio tasks.
//!
//! Every connection gets its own task, so a slow client never delays another
//! (compare `tcp-echo`). Each reads one chunk of up to 1024 bytes, answers it
//! trimmed and upper-cased, and closes: one request, one response.
//!
//! What it does with each connection is `protocol::conversation`'s; this file
//! only starts it (concurrent serving) with the one driver every demo shares.

use protocol::Demo;
use tokio::net::TcpListener;

use super::{DemoCtx, Style, driver, serve_tcp};

/// Runs `uppercase` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        Demo::Uppercase,
        ctx,
        Style::Concurrent,
        |stream, events, ctx| driver::converse(Demo::Uppercase, stream, events, ctx),
    )
    .await;
}
