//! The HTTP accept loop, with a deadline for every request head.
//!
//! Why not `axum::serve`? It builds hyper's connection without a timer, and
//! without a timer hyper's `header_read_timeout` silently does nothing. A
//! client that connects and then sends nothing, or dribbles a request one
//! byte at a time ("slowloris"), would then hold its connection, a task and a
//! file descriptor forever; a few hundred such clients use up the process's
//! descriptors and with them every demo. (axum's own answer is "use hyper
//! directly": tokio-rs/axum#2741.)
//!
//! So this file does what `axum::serve` does (accept, one task per
//! connection, graceful shutdown), with one difference: each request head must
//! arrive whole within `--header-timeout` of the moment the server starts
//! waiting for it, or the connection is closed. That covers a silent client,
//! a trickling one and an idle keep-alive connection alike. A WebSocket, once
//! upgraded, is no longer HTTP and is governed by the bridge's own limits.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which this server does
//! not do.

use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets open
/// requests finish (the caller bounds how long it waits).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            res = listener.accept() => res,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                // WebSocket messages are small and latency matters: without this,
                // Nagle's algorithm meets the peer's delayed ACK and a relayed
                // message can wait ~40 ms (the lesson of the sticky lab, here).
                let _ = stream.set_nodelay(true);
                stream
            }
            Err(e) => {
                // Usually EMFILE (out of descriptors): keep serving, but do not spin.
                tracing::warn!(error = %e, "http accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let conn = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()))
            .with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut conn = pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    // A timed-out head, a reset, a malformed request: that client's problem.
                    if let Err(e) = res {
                        tracing::debug!(error = %e, "http connection ended with an error");
                    }
                }
                _ = shutdown.cancelled() => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}
