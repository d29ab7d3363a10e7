//! `framed`: length-prefixed JSON, the notes' cure for sticky packets.
//!
//! The stream is fed, chunk by chunk, to `protocol`'s [`FramedServer`] (the
//! same state machine the in-page simulation runs); every
//! complete frame gets a reply frame (the request echoed with what the server
//! saw). A frame that is not UTF-8 or not JSON gets an error frame and the
//! stream goes on, because its length told us where the next frame starts. A
//! header claiming more than `--max-frame` gets an error frame and the
//! connection is closed: nothing is ever allocated for the claimed length.
//!
//! What it does with each connection is `protocol::conversation`'s; this file
//! only starts it (concurrent serving) with the one driver every demo shares.

use protocol::Demo;
use tokio::net::TcpListener;

use super::{DemoCtx, Style, driver, serve_tcp};

/// Runs `framed` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        Demo::Framed,
        ctx,
        Style::Concurrent,
        |stream, events, ctx| driver::converse(Demo::Framed, stream, events, ctx),
    )
    .await;
}
