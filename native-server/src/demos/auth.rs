//! `auth`: HMAC-SHA256 challenge-response, the notes' "socket verification".
//!
//! Sends 32 random bytes from the OS random source, then waits (at most
//! `--handshake-timeout`) for exactly 32 bytes of answer, however the client
//! splits them; `protocol::auth::AuthServer` decides, in constant time. The
//! reply is `Access Granted` or `Access Denied`, then the server closes.
//!
//! What it does with each connection is `protocol::conversation`'s; this file
//! only starts it (concurrent serving) with the one driver every demo shares.

use protocol::Demo;
use tokio::net::TcpListener;

use super::{DemoCtx, Style, driver, serve_tcp};

/// Runs `auth` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        Demo::Auth,
        ctx,
        Style::Concurrent,
        |stream, events, ctx| driver::converse(Demo::Auth, stream, events, ctx),
    )
    .await;
}
