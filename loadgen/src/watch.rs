//! A kernel lab page, for the bench: one bridge session watching the kernel's
//! socket table, so the server's cost of sampling it can be measured.
//!
//! The session opens `/ws` as a page does (with its Origin), waits for the
//! welcome, asks for the kernel's view at `--hz` (`watch_kernel`), checks that
//! the first answer is a snapshot and counts its sockets, then reads whatever
//! the watcher sends until `--secs` have passed since the start, and closes.
//! With `--hz 0` it asks for nothing and only holds the session open for the
//! same time: the baseline the watcher's cost is the difference from. The
//! bench reads the server's CPU time around the whole run.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use measurement::{Bench, Watch};
use protocol::bridge::{ClientMsg, ServerMsg};
use protocol::kernel::KernelMsg;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::Bounds;
use crate::relay::{Ws, err, expect_text};
use crate::report::{self, Tally};

/// Flags of `watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// socket-lab's WebSocket URL, e.g. ws://127.0.0.1:8000/ws.
    #[arg(long)]
    url: String,
    /// The Origin header to send (socket-lab admits its own origin).
    #[arg(long)]
    origin: Option<String>,
    /// Samples per second to ask for; 0 only holds the session open.
    #[arg(long, default_value_t = 10)]
    hz: u32,
    #[command(flatten)]
    bounds: Bounds,
}

/// How long the welcome or the first snapshot may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the session received.
#[derive(Debug, Default)]
struct Seen {
    snapshot_sockets: u64,
    changes: u64,
}

/// Runs the session and prints its line.
pub(crate) async fn run(args: WatchArgs) -> Result<()> {
    let begin = Instant::now();
    let mut tally = Tally::default();
    let mut seen = Seen::default();
    match timeout(
        args.bounds.deadline(),
        watch(&args, begin, &mut tally, &mut seen),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tally.error(e),
        Err(_) => tally.error("the watch did not finish within its deadline"),
    }
    let bench = Bench::Watch(Watch {
        url: args.url.clone(),
        hz: args.hz,
        snapshot_sockets: seen.snapshot_sockets,
        changes: seen.changes,
    });
    report::emit(bench, &args.bounds.label, tally, begin.elapsed());
    Ok(())
}

async fn connect(args: &WatchArgs) -> Result<Ws, String> {
    let mut req = args.url.as_str().into_client_request().map_err(err)?;
    if let Some(origin) = &args.origin {
        req.headers_mut()
            .insert("Origin", HeaderValue::from_str(origin).map_err(err)?);
    }
    let (mut ws, _) = connect_async(req)
        .await
        .map_err(|e| format!("WebSocket connect: {e}"))?;
    timeout(STEP_TIMEOUT, expect_text(&mut ws, "welcome"))
        .await
        .map_err(|_| "no welcome within 10 s".to_owned())??;
    Ok(ws)
}

/// The kernel message in a server frame, if it is one; a bridge error fails.
fn kernel(frame: Message) -> Result<Option<KernelMsg>, String> {
    match frame {
        Message::Text(t) => match serde_json::from_str::<ServerMsg>(t.as_str()).map_err(err)? {
            ServerMsg::Kernel { msg } => Ok(Some(msg)),
            ServerMsg::Error { .. } => Err(format!("bridge error: {t}")),
            _ => Ok(None),
        },
        Message::Close(c) => Err(format!("bridge closed: {c:?}")),
        _ => Ok(None),
    }
}

/// The next frame before `until`; `None` once the time is up.
async fn next(ws: &mut Ws, until: Instant) -> Result<Option<Message>, String> {
    match timeout_at(until, ws.next()).await {
        Err(_) => Ok(None),
        Ok(Some(frame)) => frame.map(Some).map_err(err),
        Ok(None) => Err("bridge closed the WebSocket".into()),
    }
}

async fn watch(
    args: &WatchArgs,
    begin: Instant,
    tally: &mut Tally,
    seen: &mut Seen,
) -> Result<(), String> {
    let mut ws = connect(args).await?;
    let stop = begin + args.bounds.duration();
    if args.hz > 0 {
        let asked = Instant::now();
        let watch = serde_json::to_string(&ClientMsg::WatchKernel { hz: args.hz }).map_err(err)?;
        ws.send(Message::text(watch)).await.map_err(err)?;
        // The first kernel message must be the whole table.
        let first = loop {
            let frame = next(&mut ws, asked + STEP_TIMEOUT)
                .await?
                .ok_or("no kernel snapshot within 10 s")?;
            if let Some(msg) = kernel(frame)? {
                break msg;
            }
        };
        match first {
            KernelMsg::Snapshot { sockets, .. } => {
                seen.snapshot_sockets = sockets.len() as u64;
                tally.ops += 1;
                tally.latencies.record(asked.elapsed());
            }
            KernelMsg::Unsupported { reason } => return Err(format!("no kernel view: {reason}")),
            other => {
                return Err(format!(
                    "the first kernel message was not a snapshot: {other:?}"
                ));
            }
        }
    }
    // Then whatever comes, until the time is up.
    while let Some(frame) = next(&mut ws, stop).await? {
        if kernel(frame)?.is_some() {
            if args.hz == 0 {
                return Err("a kernel message arrived without watch_kernel".into());
            }
            seen.changes += 1;
            tally.ops += 1;
            if tally.ops >= args.bounds.max_ops {
                break;
            }
        }
    }
    let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(msg: &ServerMsg) -> Message {
        Message::text(serde_json::to_string(msg).unwrap())
    }

    #[test]
    fn kernel_messages_are_told_from_the_rest_and_errors_fail() {
        let snapshot = KernelMsg::Snapshot {
            hz: 10,
            at_ms: 5,
            sockets: Vec::new(),
        };
        let frame = text(&ServerMsg::Kernel {
            msg: snapshot.clone(),
        });
        assert_eq!(kernel(frame), Ok(Some(snapshot)));
        let error = r#"{"type":"error","code":"x","message":"no"}"#;
        assert!(kernel(Message::text(error)).is_err());
        assert_eq!(kernel(Message::binary(vec![1, 2])), Ok(None));
        assert!(kernel(Message::Close(None)).is_err());
    }
}
