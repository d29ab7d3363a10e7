//! The check runs this server hears about: `socket-lab check` publishes its
//! conversation on `/check/publish`, and every page that sent
//! `watch_checks` gets it as `check` messages.
//!
//! The route is not for pages. Browsers always send an `Origin` header on a
//! WebSocket upgrade and a page cannot remove it, so an upgrade *with* an
//! Origin is refused: no web page, not even one of this server's own, can
//! inject a fake check run into a learner's chapter. The peer must also be
//! on loopback, since the check runs on the learner's machine. Everything
//! the publisher sends is checked like any untrusted input (one typed JSON
//! message per text frame, every field bounded); anything else closes the
//! publisher with one log line, and never touches a page or the server.
//!
//! The runs travel on a bounded broadcast channel, like the demos' events:
//! publishing never waits for a page, and a page that falls behind loses
//! the oldest messages rather than slowing anything down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::check::{CheckMsg, MAX_PUBLISH_MESSAGE};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::log_limit::LogLimit;

/// How many check messages a watching page may fall behind before it
/// starts losing them.
pub const RUNS_CAPACITY: usize = 1024;

/// How many checks may publish at once (a class's grading loop runs one
/// after another; a few side by side are fine).
pub const MAX_PUBLISHERS: usize = 8;

/// A publisher that sends nothing for this long is closed. The longest
/// silence in a check is a stage waiting for a server to drop a silent
/// client (`--silence-timeout`, 10 s by default).
const PUBLISHER_IDLE: Duration = Duration::from_secs(120);

/// One message of one run, as the watchers get it.
pub type RunMsg = Arc<(u64, CheckMsg)>;

/// The runs' channel. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CheckRuns {
    tx: broadcast::Sender<RunMsg>,
    next_run: Arc<AtomicU64>,
    publishers: Arc<Semaphore>,
}

impl Default for CheckRuns {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(RUNS_CAPACITY);
        Self {
            tx,
            next_run: Arc::new(AtomicU64::new(1)),
            publishers: Arc::new(Semaphore::new(MAX_PUBLISHERS)),
        }
    }
}

impl CheckRuns {
    /// Starts watching every run's messages.
    pub fn subscribe(&self) -> broadcast::Receiver<RunMsg> {
        self.tx.subscribe()
    }

    /// How many pages watch the runs right now.
    pub fn watchers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Hands a run's message to every watcher; never waits.
    fn publish(&self, run: u64, msg: CheckMsg) {
        // An error only means nobody is watching.
        let _ = self.tx.send(Arc::new((run, msg)));
    }
}

/// What the publish route needs (handed over by the HTTP layer's state).
#[derive(Debug, Clone)]
pub struct PublishState {
    /// Where runs go.
    pub runs: CheckRuns,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
}

/// Why a publish upgrade was refused (the 403 or 503 body), logged at most
/// once a second with a count of the rest, so a flood cannot fill the log.
fn refused(status: StatusCode, why: &str) -> Response {
    static REFUSED: LogLimit = LogLimit::per_second();
    if let Some(suppressed) = REFUSED.allow() {
        tracing::warn!(suppressed, "check publish refused: {why}");
    }
    (status, why.to_owned()).into_response()
}

/// `GET /check/publish`: only a program on this machine, never a page.
pub async fn publish(
    State(state): State<PublishState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if headers.contains_key(header::ORIGIN) {
        return refused(
            StatusCode::FORBIDDEN,
            "the upgrade has an Origin header, so a web page sent it; only the socket-lab check \
             program publishes check runs here (pages watch them on /ws with watch_checks)",
        );
    }
    let peer = match peer {
        Some(Extension(ConnectInfo(peer))) if peer.ip().is_loopback() => peer,
        _ => {
            return refused(
                StatusCode::FORBIDDEN,
                "check runs are published from this machine only (a loopback address)",
            );
        }
    };
    let Ok(permit) = state.runs.publishers.clone().try_acquire_owned() else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many checks are publishing at once; this run is not shown",
        );
    };
    ws.max_message_size(MAX_PUBLISH_MESSAGE)
        .max_frame_size(MAX_PUBLISH_MESSAGE)
        .on_upgrade(move |socket| async move {
            serve_publisher(socket, peer, state).await;
            drop(permit);
        })
}

/// Relays one publisher's run until it closes, misbehaves, or the server stops.
async fn serve_publisher(mut socket: WebSocket, peer: SocketAddr, state: PublishState) {
    let run = state.runs.next_run.fetch_add(1, Ordering::Relaxed);
    let mut started = false;
    let mut finished = false;
    let ended = loop {
        let next = tokio::select! {
            () = state.shutdown.cancelled() => break Ok(()),
            next = tokio::time::timeout(PUBLISHER_IDLE, socket.recv()) => next,
        };
        let text = match next {
            Err(_) => break Err(format!("silent for {} s", PUBLISHER_IDLE.as_secs())),
            Ok(None | Some(Ok(Message::Close(_)))) => break Ok(()),
            Ok(Some(Err(e))) => break Err(format!("the WebSocket failed: {e}")),
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Binary(b)))) => {
                break Err(format!(
                    "a binary message of {} bytes; check runs are JSON text",
                    b.len()
                ));
            }
        };
        let msg = match serde_json::from_str::<CheckMsg>(text.as_str()) {
            Ok(msg) => msg,
            Err(e) => break Err(format!("an unreadable message ({e})")),
        };
        if let Err(e) = msg.validate() {
            break Err(format!("a message out of bounds: {e}"));
        }
        match (&msg, started) {
            (CheckMsg::Started { .. }, false) => started = true,
            (CheckMsg::Started { .. }, true) => {
                break Err("a second start; one run per connection".into());
            }
            (_, false) => break Err("a message before the run's start".into()),
            (CheckMsg::Finished { .. }, true) => finished = true,
            _ => {}
        }
        state.runs.publish(run, msg);
    };
    static CLOSED: LogLimit = LogLimit::per_second();
    if let Err(why) = &ended
        && let Some(suppressed) = CLOSED.allow()
    {
        tracing::warn!(%peer, run, suppressed, "check publisher closed: {why}");
    }
    if started && !finished {
        // The page would wait for a verdict forever: say there is none.
        state.runs.publish(
            run,
            CheckMsg::Note {
                stage: 0,
                conn: None,
                text: "the check ended before its verdict (it was stopped, or lost its connection to this server)".into(),
            },
        );
    }
    let _ = socket.send(Message::Close(None)).await;
}
