//! Round trips through a WebSocket-to-TCP bridge, to an echo server.
//!
//! Each session is what a lab page does: open a WebSocket to the bridge, have
//! it open a TCP connection to a target, then send bytes and wait for the
//! target's answer to come back through the bridge. The target echoes, so a
//! round trip crosses the bridge twice. Sessions run side by side, each with
//! one message in flight (closed loop), so the rate is messages per second and
//! each message's round-trip time is a latency sample.
//!
//! Two bridges speak two dialects:
//! - socket-lab's `/ws`: a JSON `open` naming the operator-allowed target, then
//!   binary `D` frames out and `R` frames back (see `protocol::bridge`). The
//!   `open` does not ask for `sent` acknowledgements (a lab page that wants
//!   them does); any that arrived would be read and skipped.
//! - websockify: the target is fixed on its command line; binary frames carry
//!   raw bytes both ways (subprotocol `binary`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use measurement::Memory;
use protocol::bridge::{ClientMsg, SocketId, decode_read, encode_send};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use crate::Bounds;
use crate::open::{Failures, open_all};
use crate::report::{self, MemorySampler, Tally, memory};

impl From<Bridge> for measurement::Bridge {
    fn from(bridge: Bridge) -> measurement::Bridge {
        match bridge {
            Bridge::SocketLab => measurement::Bridge::SocketLab,
            Bridge::Websockify => measurement::Bridge::Websockify,
        }
    }
}

/// Which bridge is on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Bridge {
    /// socket-lab's `/ws`, with its binary protocol.
    SocketLab,
    /// websockify's plain binary relay.
    Websockify,
}

/// Flags of `relay`.
#[derive(Debug, Args)]
pub(crate) struct RelayArgs {
    /// The bridge's WebSocket URL, e.g. ws://127.0.0.1:8000/ws.
    #[arg(long)]
    url: String,
    /// Which bridge (and so which dialect).
    #[arg(long, value_enum)]
    bridge: Bridge,
    /// socket-lab: the operator-allowed HOST:PORT to open (--bridge-allow).
    #[arg(long)]
    target: Option<String>,
    /// The Origin header to send (socket-lab admits its own origin).
    #[arg(long)]
    origin: Option<String>,
    /// Sessions relaying at the same time.
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// Bytes per message.
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Sessions being opened at once.
    #[arg(long, default_value_t = 50)]
    parallel_open: usize,
    /// The bridge's process id, to read its memory (and its children's).
    #[arg(long)]
    server_pid: Option<u32>,
    #[command(flatten)]
    bounds: Bounds,
}

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long opening a session or one round trip may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The client's WebSocket read buffer, bytes (messages here are 128 B to 1 KiB).
const CLIENT_READ_BUFFER: usize = 8 * 1024;

/// The socket id socket-lab sessions use.
const SOCK: SocketId = 1;

/// One bridge session with its TCP connection to the target open.
struct Session {
    ws: Ws,
    bridge: Bridge,
    got: Vec<u8>,
}

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Reads until a socket-lab JSON message of type `want`; an `error` message fails.
pub(crate) async fn expect_text(ws: &mut Ws, want: &str) -> Result<(), String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).map_err(err)?;
                match v["type"].as_str() {
                    Some(t) if t == want => return Ok(()),
                    Some("error") => return Err(format!("bridge error: {v}")),
                    _ => continue,
                }
            }
            Some(Ok(Message::Close(c))) => return Err(format!("bridge closed: {c:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(err(e)),
            None => return Err("bridge closed the WebSocket".into()),
        }
    }
}

impl Session {
    async fn open(args: &RelayArgs) -> Result<Session, String> {
        let mut req = args.url.as_str().into_client_request().map_err(err)?;
        if let Some(origin) = &args.origin {
            req.headers_mut()
                .insert("Origin", HeaderValue::from_str(origin).map_err(err)?);
        }
        if args.bridge == Bridge::Websockify {
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
        }
        // Nagle off on our side too: every message is small and awaited. And a
        // small read buffer: tungstenite zero-fills its whole read buffer (128 KiB
        // by default) before every read, a cost no browser pays, and on two cores
        // the client's CPU is taken from the bridge being measured.
        let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
        let (mut ws, _) = connect_async_with_config(req, Some(config), true)
            .await
            .map_err(|e| format!("WebSocket connect: {e}"))?;
        if args.bridge == Bridge::SocketLab {
            expect_text(&mut ws, "welcome").await?;
            let target = args
                .target
                .as_deref()
                .ok_or("--target is needed for socket-lab")?;
            let open = ClientMsg::Open {
                sock: SOCK,
                demo: None,
                target: Some(target.to_owned()),
                nodelay: true,
                sticky: None,
                ack: false,
            };
            let open = serde_json::to_string(&open).map_err(err)?;
            ws.send(Message::text(open)).await.map_err(err)?;
            expect_text(&mut ws, "opened").await?;
        }
        Ok(Session {
            ws,
            bridge: args.bridge,
            got: Vec::new(),
        })
    }

    /// Sends `payload` through the bridge and waits until all of it is echoed back.
    async fn round_trip(&mut self, payload: &[u8]) -> Result<(), String> {
        let frame = match self.bridge {
            Bridge::SocketLab => encode_send(SOCK, payload),
            Bridge::Websockify => payload.to_vec(),
        };
        self.ws.send(Message::binary(frame)).await.map_err(err)?;
        self.got.clear();
        // The echo may come back in several reads, so in several frames.
        while self.got.len() < payload.len() {
            match self.ws.next().await {
                Some(Ok(Message::Binary(b))) => match self.bridge {
                    Bridge::SocketLab => {
                        let read = decode_read(&b).map_err(err)?;
                        if read.sock != SOCK {
                            return Err(format!("read for unknown socket {}", read.sock));
                        }
                        self.got.extend_from_slice(read.data);
                    }
                    Bridge::Websockify => self.got.extend_from_slice(&b),
                },
                Some(Ok(Message::Text(t))) => {
                    // A `sent` acknowledgement is harmless; anything else is trouble.
                    let v: Value = serde_json::from_str(t.as_str()).map_err(err)?;
                    if self.bridge == Bridge::Websockify || v["type"] != "sent" {
                        return Err(format!("unexpected message {v}"));
                    }
                }
                Some(Ok(Message::Close(c))) => return Err(format!("bridge closed: {c:?}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(err(e)),
                None => return Err("bridge closed the WebSocket".into()),
            }
        }
        if self.got != payload {
            return Err("the echo differs from what was sent".into());
        }
        Ok(())
    }

    async fn close(mut self) {
        let _ = timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}

/// A recognisable payload for message `n` of session `sid`.
fn payload(sid: usize, n: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend((0..size).map(|i| (sid as u64 * 7 + n * 31 + i as u64) as u8));
}

/// Runs the measurement and prints its line.
pub(crate) async fn run(args: RelayArgs) -> Result<()> {
    let limit = args.bounds.deadline() + Duration::from_secs(60);
    let args = Arc::new(args);
    match timeout(limit, relay(args.clone())).await {
        Ok(result) => result,
        Err(_) => {
            let mut tally = Tally::default();
            tally.error("the relay run did not finish within its deadline");
            let bench = measurement::Bench::Relay(measurement::Relay {
                bridge: args.bridge.into(),
                url: args.url.clone(),
                concurrency: args.sessions as u64,
                opened: 0,
                size: args.size as u64,
                before: Memory::default(),
                open: Memory::default(),
                peak: Memory::default(),
            });
            report::emit(bench, &args.bounds.label, tally, limit);
            Ok(())
        }
    }
}

async fn relay(args: Arc<RelayArgs>) -> Result<()> {
    let mut tally = Tally::default();
    let before = memory(args.server_pid);

    // Open every session first, a bounded number at a time.
    let gate = Arc::new(Semaphore::new(args.parallel_open.max(1)));
    let sessions = open_all(
        args.sessions,
        &gate,
        STEP_TIMEOUT,
        || {
            let args = args.clone();
            async move { Session::open(&args).await }
        },
        &mut tally,
        Failures {
            what: "open",
            late: "open timed out",
        },
    )
    .await;
    let opened = sessions.len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open_mem = memory(args.server_pid);

    // Then all relay at once, each with one message in flight.
    let sampler = MemorySampler::start(args.server_pid);
    let barrier = Arc::new(Barrier::new(opened + 1));
    let started = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    for (sid, mut session) in sessions.into_iter().enumerate() {
        let (barrier, started, args) = (barrier.clone(), started.clone(), args.clone());
        set.spawn(async move {
            let mut tally = Tally::default();
            let mut buf = Vec::with_capacity(args.size);
            barrier.wait().await;
            let stop = Instant::now() + args.bounds.duration();
            let mut n = 0;
            while Instant::now() < stop
                && started.fetch_add(1, Ordering::Relaxed) < args.bounds.max_ops
            {
                n += 1;
                payload(sid, n, args.size, &mut buf);
                if !tally
                    .time(
                        STEP_TIMEOUT,
                        "no echo within 10 s",
                        session.round_trip(&buf),
                    )
                    .await
                {
                    break;
                }
            }
            let finished = Instant::now();
            session.close().await;
            (tally, finished)
        });
    }
    barrier.wait().await;
    let begin = Instant::now();
    let mut end = begin;
    while let Some(res) = set.join_next().await {
        match res {
            Ok((t, finished)) => {
                // The relay ends when the last session's loop does (closing is not timed).
                end = end.max(finished);
                tally.merge(t);
            }
            Err(e) => tally.error(format!("session task: {e}")),
        }
    }
    let elapsed = end - begin;
    let peak = sampler.peak().max(memory(args.server_pid));

    let bench = measurement::Bench::Relay(measurement::Relay {
        bridge: args.bridge.into(),
        url: args.url.clone(),
        concurrency: args.sessions as u64,
        opened: opened as u64,
        size: args.size as u64,
        before,
        open: open_mem,
        peak,
    });
    report::emit(bench, &args.bounds.label, tally, elapsed);
    Ok(())
}
