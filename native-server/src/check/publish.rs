//! Publishing a check run to a running `socket-lab` server, so the
//! chapter's check view shows it as it happens.
//!
//! The check connects to `ws://HOST:PORT/check/publish` (as a program, so
//! with no `Origin` header: the server refuses any upgrade that has one)
//! and sends one `protocol::check::CheckMsg` per text frame. Publishing must
//! never slow the check down or make it fail: the stages hand their
//! messages to a bounded channel without waiting ([`Feed`]); a task writes
//! them to the WebSocket; when the channel is full a message is dropped and
//! counted, and the count is said at the end. If no server answers, the
//! check says so in one line and runs as if it had never tried.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::SinkExt;
use protocol::check::{CheckMsg, Direction};
use protocol::hex::HexBytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::CheckArgs;

/// Messages a check may have waiting for the server; past this, drop.
const QUEUE: usize = 1024;

/// How long the check waits for a server to answer before it starts. A
/// server that is not running refuses at once; this bounds a port that
/// takes the connection and says nothing.
const CONNECT_WAIT: Duration = Duration::from_millis(500);

/// How long the end of the run waits for its last messages to be written.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Where the stages hand their messages; does nothing when not publishing.
/// Cheap to clone (every transcript holds one).
#[derive(Debug, Clone, Default)]
pub(crate) struct Feed(Option<Arc<Shared>>);

#[derive(Debug)]
struct Shared {
    tx: mpsc::Sender<CheckMsg>,
    /// The stage running now (from 1), which every message is tagged with.
    stage: AtomicU32,
    dropped: AtomicU64,
}

impl Feed {
    /// Hands `msg` over without waiting; a full queue drops it (counted).
    fn emit(&self, msg: CheckMsg) {
        let Some(shared) = &self.0 else { return };
        if shared.tx.try_send(msg).is_err() {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn stage(&self) -> u32 {
        self.0
            .as_ref()
            .map_or(0, |s| s.stage.load(Ordering::Relaxed))
    }

    /// Stage `stage` (from 1) begins.
    pub(crate) fn stage_started(&self, stage: usize, name: &str) {
        let stage = u32::try_from(stage).unwrap_or(u32::MAX);
        if let Some(shared) = &self.0 {
            shared.stage.store(stage, Ordering::Relaxed);
        }
        self.emit(CheckMsg::StageStarted {
            stage,
            name: name.to_owned(),
        });
    }

    /// The stage running now ended.
    pub(crate) fn stage_finished(&self, passed: bool, ms: u128) {
        self.emit(CheckMsg::StageFinished {
            stage: self.stage(),
            passed,
            ms: u64::try_from(ms).unwrap_or(u64::MAX),
        });
    }

    /// One write or read on the connection `conn`.
    pub(crate) fn io(&self, conn: &str, dir: Direction, data: &[u8], datagram: bool) {
        if self.0.is_none() {
            return;
        }
        self.emit(CheckMsg::Io {
            stage: self.stage(),
            conn: conn.to_owned(),
            dir,
            size: data.len(),
            data: HexBytes::capped(data),
            datagram,
        });
    }

    /// A transcript line that is not bytes (about `conn`, when given).
    pub(crate) fn note(&self, conn: Option<&str>, text: &str) {
        if self.0.is_none() {
            return;
        }
        self.emit(CheckMsg::Note {
            stage: self.stage(),
            conn: conn.map(str::to_owned),
            text: text.to_owned(),
        });
    }
}

/// The connection to the server, while the run lasts.
#[derive(Debug, Default)]
pub(crate) struct Publisher {
    feed: Feed,
    writer: Option<JoinHandle<()>>,
}

/// `http://127.0.0.1:8000`: `--server`, else `SOCKET_LAB_HTTP_PORT`'s port
/// on loopback, else 8000.
fn server_url(args: &CheckArgs) -> String {
    args.server.clone().unwrap_or_else(|| {
        let port = std::env::var("SOCKET_LAB_HTTP_PORT")
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .unwrap_or(crate::config::DEFAULT_HTTP_PORT);
        format!("http://127.0.0.1:{port}")
    })
}

/// `http://HOST:PORT[/…]` (or `HOST:PORT`) → `HOST:PORT`.
fn server_host(server: &str) -> Option<&str> {
    let rest = match server.split_once("://") {
        Some(("http", rest)) => rest,
        Some(_) => return None,
        None => server,
    };
    rest.split('/').next().filter(|h| !h.is_empty())
}

/// `http://HOST:PORT[/…]` (or `HOST:PORT`) → `ws://HOST:PORT/check/publish`.
fn publish_url(server: &str) -> Option<String> {
    Some(format!("ws://{}/check/publish", server_host(server)?))
}

impl Publisher {
    /// Connects to the server and announces the run with `started`, then
    /// says in `out` where the run shows (`chapter`: its page under
    /// `/book/`); a publisher that does nothing if `--no-publish` was given
    /// or no server answered (then one line in `out` says so).
    pub(crate) async fn start(
        args: &CheckArgs,
        started: CheckMsg,
        chapter: &str,
        out: &mut (dyn Write + Send),
    ) -> Publisher {
        if args.no_publish {
            return Publisher::default();
        }
        let server = server_url(args);
        let Some(url) = publish_url(&server) else {
            let _ = writeln!(
                out,
                "socket-lab check: --server {server} is not an http://HOST:PORT address, so the chapter's check view won't show this run"
            );
            return Publisher::default();
        };
        let connected = tokio::time::timeout(CONNECT_WAIT, async {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
            let text = serde_json::to_string(&started).expect("check messages serialize");
            ws.send(Message::text(text)).await?;
            Ok::<_, tokio_tungstenite::tungstenite::Error>(ws)
        })
        .await;
        let mut ws = match connected {
            Ok(Ok(ws)) => ws,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {} ms", CONNECT_WAIT.as_millis()),
                };
                let _ = writeln!(
                    out,
                    "socket-lab check: no Socket Lab server answered at {server} ({why}), so the chapter's check view won't show this run (start socket-lab to watch runs there; --no-publish hides this line)"
                );
                return Publisher::default();
            }
        };
        let _ = writeln!(
            out,
            "live in the chapter: http://{}/book/{chapter}.html#check-yourself",
            server_host(&server).unwrap_or_default()
        );
        let (tx, mut rx) = mpsc::channel::<CheckMsg>(QUEUE);
        let writer = tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let last = matches!(msg, CheckMsg::Finished { .. });
                let text = serde_json::to_string(&msg).expect("check messages serialize");
                if ws.send(Message::text(text)).await.is_err() {
                    // The server went away: what is left is dropped, and counted
                    // as the queue fills.
                    return;
                }
                if last {
                    // The verdict is the run's last word, even while a stage's
                    // transcript still holds a sender: close properly, so the
                    // server sees a finished run, not a reset.
                    break;
                }
            }
            let _ = ws.close(None).await;
        });
        Publisher {
            feed: Feed(Some(Arc::new(Shared {
                tx,
                stage: AtomicU32::new(0),
                dropped: AtomicU64::new(0),
            }))),
            writer: Some(writer),
        }
    }

    /// The feed the stages write to.
    pub(crate) fn feed(&self) -> Feed {
        self.feed.clone()
    }

    /// Sends the verdict and the report, waits (bounded) for everything to be
    /// written, and says how many messages were dropped, if any.
    pub(crate) async fn finish(
        mut self,
        passed: bool,
        verdict: String,
        report: String,
        out: &mut (dyn Write + Send),
    ) {
        let (Some(shared), Some(writer)) = (self.feed.0.take(), self.writer.take()) else {
            return;
        };
        let dropped = shared.dropped.load(Ordering::Relaxed);
        let last = CheckMsg::Finished {
            passed,
            verdict,
            report,
            dropped,
        };
        // The verdict is worth a short wait: it is what the view is for.
        let sent = tokio::time::timeout(FLUSH_WAIT, shared.tx.send(last)).await;
        let lost = dropped + u64::from(!matches!(sent, Ok(Ok(()))));
        drop(shared);
        let _ = tokio::time::timeout(FLUSH_WAIT, writer).await;
        if lost > 0 {
            let _ = writeln!(
                out,
                "socket-lab check: the chapter's check view missed {lost} message{} of this run (the server did not keep up)",
                if lost == 1 { "" } else { "s" }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_become_the_publish_route() {
        assert_eq!(
            publish_url("http://127.0.0.1:8000").as_deref(),
            Some("ws://127.0.0.1:8000/check/publish")
        );
        assert_eq!(
            publish_url("http://localhost:9000/book/").as_deref(),
            Some("ws://localhost:9000/check/publish")
        );
        assert_eq!(
            publish_url("127.0.0.1:8000").as_deref(),
            Some("ws://127.0.0.1:8000/check/publish")
        );
        assert_eq!(publish_url("https://example.com"), None);
        assert_eq!(publish_url("http://"), None);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (tx, _rx) = mpsc::channel(2);
        let feed = Feed(Some(Arc::new(Shared {
            tx,
            stage: AtomicU32::new(0),
            dropped: AtomicU64::new(0),
        })));
        feed.stage_started(1, "one");
        for _ in 0..5 {
            feed.io("A", Direction::Sent, b"x", false);
        }
        let shared = feed.0.as_ref().unwrap();
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 4);
        assert_eq!(shared.stage.load(Ordering::Relaxed), 1);
    }
}
