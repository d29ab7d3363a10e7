//! The WebSocket bridge at `/ws`: a page's only way to real sockets.
//!
//! This file is the HTTP edge: it checks Origin and Host (see `policy.rs`),
//! enforces the session limit, upgrades, and adapts axum's WebSocket to the
//! library-independent session in `session.rs`. The sockets themselves live in
//! `socket.rs`.

pub mod page;
pub mod policy;
pub mod session;
pub mod socket;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Semaphore;

use self::policy::OriginPolicy;
use self::session::{Inbound, Outbound, SessionEnv, run_session};
use crate::per_client::PerClient;

/// Bridge-wide state: the policy and the session limit.
#[derive(Debug, Clone)]
pub struct Bridge {
    /// Who may connect.
    pub policy: Arc<OriginPolicy>,
    /// One permit per open session.
    pub sessions: Arc<Semaphore>,
    /// Sessions per client address.
    pub per_client: PerClient,
}

/// What the upgrade handler needs: the gate and what a session needs. The
/// HTTP layer hands it over from its own state (axum's `FromRef`), so the
/// bridge does not depend on the HTTP layer.
#[derive(Debug, Clone)]
pub struct BridgeState {
    /// Policy and limits.
    pub bridge: Bridge,
    /// What each session gets.
    pub env: SessionEnv,
}

/// `GET /ws`: check, then upgrade.
pub async fn upgrade(
    State(state): State<BridgeState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    // (Refusals are logged, a line a second, by the middleware on `/ws`.)
    if let Err(refusal) = state.bridge.policy.check(host, origin) {
        return (StatusCode::FORBIDDEN, refusal.to_string()).into_response();
    }
    // One address (a machine, or a classroom behind one NAT) never takes
    // every session: the cap is per address, the limit below is for all.
    let slot = match peer {
        Some(Extension(ConnectInfo(peer))) => {
            match state.bridge.per_client.try_acquire(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "{} already holds {} bridge sessions (--max-sessions-per-client); \
                         close some lab tabs, or ask the operator to raise the cap",
                            peer.ip(),
                            state.bridge.per_client.cap()
                        ),
                    )
                        .into_response();
                }
            }
        }
        None => None,
    };
    let Ok(permit) = state.bridge.sessions.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the bridge is at its session limit (--max-sessions); close another lab tab or try again shortly",
        )
            .into_response();
    };
    let limits = state.env.ctx.config.bridge.clone();
    let env = state.env;
    // tungstenite zero-fills its read buffer before every read: 128 KiB by
    // default, most of the relay's CPU for small messages. Lab traffic is small.
    ws.read_buffer_size(8 * 1024)
        .max_message_size(limits.max_message)
        .max_frame_size(limits.max_message)
        .max_write_buffer_size(4 * 1024 * 1024)
        .on_upgrade(move |socket| async move {
            serve_socket(socket, env).await;
            drop(permit);
            drop(slot);
        })
}

/// Adapts axum's WebSocket to the session's message types.
async fn serve_socket(socket: WebSocket, env: SessionEnv) {
    let (sink, stream) = socket.split();
    let incoming = stream
        .take_while(|m| {
            std::future::ready(matches!(m, Ok(msg) if !matches!(msg, Message::Close(_))))
        })
        .filter_map(|m| {
            std::future::ready(match m {
                Ok(Message::Text(t)) => Some(Inbound::Text(t.as_str().to_owned())),
                Ok(Message::Binary(b)) => Some(Inbound::Binary(b.to_vec())),
                Ok(Message::Pong(_)) => Some(Inbound::Pong),
                _ => None, // pings from the page are answered by the library
            })
        });
    let outgoing = sink.with(|m: Outbound| {
        std::future::ready(Ok::<_, axum::Error>(match m {
            Outbound::Text(t) => Message::Text(t.into()),
            Outbound::Binary(b) => Message::Binary(b.into()),
            Outbound::Ping => Message::Ping(Default::default()),
        }))
    });
    run_session(Box::pin(incoming), Box::pin(outgoing), env).await;
}
