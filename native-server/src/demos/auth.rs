//! `auth`: HMAC-SHA256 challenge-response, the notes' "socket verification".
//!
//! Sends 32 random bytes from the OS random source, then waits (at most
//! `--handshake-timeout`) for exactly 32 bytes of answer, however the client
//! splits them; `protocol::auth::AuthServer` decides, in constant time. The
//! reply is `Access Granted` or `Access Denied`, then the server closes.

use std::io;

use protocol::auth::{AuthServer, Verdict};
use protocol::events::EventKind;
use protocol::hex::HexBytes;
use rand::TryRngCore;
use rand::rngs::OsRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{DemoCtx, Ending, Style, read_event, reply_event, serve_tcp};
use crate::events::ConnEvents;

/// Runs `auth` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        protocol::Demo::Auth,
        ctx,
        Style::Concurrent,
        converse,
    )
    .await;
}

async fn converse(mut stream: TcpStream, events: ConnEvents, ctx: DemoCtx) -> io::Result<Ending> {
    let mut auth = AuthServer::new(&ctx.config.secret, &mut OsRng.unwrap_err());
    if let Some(challenge) = auth.poll_transmit() {
        stream.write_all(&challenge).await?;
        events.emit(EventKind::Challenge {
            data: HexBytes(challenge),
        });
    }

    let limit = ctx.config.handshake_timeout;
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 64];
    while auth.verdict().is_none() {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return Ok(Ending::server("the server is shutting down")),
            _ = tokio::time::sleep_until(deadline) => {
                events.emit(EventKind::Timeout {
                    waiting_for: "the 32-byte answer".into(),
                    after_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                });
                auth.handle_timeout();
            }
            res = stream.read(&mut buf) => match res? {
                0 => auth.handle_eof(),
                n => {
                    events.emit_with(|| read_event(&buf[..n]));
                    auth.handle_input(&buf[..n]);
                }
            },
        }
    }
    let verdict = auth.verdict().expect("loop ends with a verdict");
    events.emit(EventKind::Verdict {
        granted: verdict.is_granted(),
        reason: match verdict {
            Verdict::Granted => None,
            Verdict::Denied(reason) => Some(reason),
        },
    });
    if let Some(reply) = auth.poll_transmit() {
        // The client may already be gone (it closed early); that is not our error.
        if stream.write_all(&reply).await.is_ok() {
            events.emit_with(|| reply_event(&reply));
        }
    }
    let _ = stream.shutdown().await;
    Ok(Ending::server(match verdict {
        Verdict::Granted => "handshake done: access granted".to_owned(),
        Verdict::Denied(reason) => format!("access denied: {}", reason.explain()),
    }))
}
