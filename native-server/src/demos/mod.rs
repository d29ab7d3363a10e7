//! The demo servers and the accept loop they share.
//!
//! What a demo does with one connection is a sans-IO conversation in
//! `protocol::conversation`, run by the one driver in [`driver`]; the browser
//! simulation runs the same conversations, so it answers exactly as these do.
//! How each demo is served (one at a time, a task per connection, datagrams)
//! is its line in `protocol::demo::REGISTRY`. This file owns what every TCP
//! demo needs around that: accepting, the connection limits, cancellation on
//! shutdown, and the accepted/closed events. UDP is [`udp_echo`]; the sticky
//! demo's per-connection settings live in [`sticky`], the chat room in
//! [`chat`], and the TLS layer of `tls-echo` in [`tls`].

pub mod chat;
pub mod driver;
pub mod sticky;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(not(feature = "tls"))]
#[path = "tls_off.rs"]
pub mod tls;
pub mod udp_echo;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use protocol::Demo;
use protocol::events::{Closer, EventKind, MAX_EVENT_BYTES};
use protocol::hex::HexBytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::events::{ConnEvents, EventBus};
use crate::per_client::PerClient;

pub use sticky::StickyRegistry;

/// What every demo task shares.
#[derive(Debug, Clone)]
pub struct DemoCtx {
    /// The server's configuration.
    pub config: Arc<Config>,
    /// Where events go.
    pub bus: EventBus,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Tracks every connection task, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Per-connection read settings for `sticky`, set by the bridge.
    pub sticky: StickyRegistry,
    /// Bytes all connections together may hold for frames in progress.
    pub frame_budget: ByteBudget,
    /// The `socket-lab check` runs published to this server.
    pub checks: crate::check_runs::CheckRuns,
    /// The kernel's view of the demo ports, for pages that watch it.
    pub kernel: crate::kernel::KernelWatcher,
    /// The `chat` demo's room.
    pub chat: chat::ChatRoom,
    /// `tls-echo`'s certificate and TLS settings.
    pub tls: tls::TlsIdentity,
}

/// A shared allowance of bytes: what all connections together may hold for
/// messages in progress (`--frame-budget`), so memory is bounded by
/// configuration, not by how many connections arrive.
#[derive(Debug, Clone)]
pub struct ByteBudget {
    cap: usize,
    used: Arc<std::sync::atomic::AtomicUsize>,
}

impl ByteBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            used: Arc::default(),
        }
    }

    /// Takes `n` bytes if they fit; false (and nothing taken) if not.
    pub fn try_take(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|t| *t <= self.cap)
            })
            .is_ok()
    }

    /// Gives `n` bytes back.
    pub fn give(&self, n: usize) {
        self.used.fetch_sub(n, std::sync::atomic::Ordering::AcqRel);
    }

    /// Bytes taken now.
    pub fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }
}

/// How a connection ended, as the handler saw it.
#[derive(Debug)]
pub struct Ending {
    /// Who ended it.
    pub by: Closer,
    /// Why, in words.
    pub reason: String,
}

impl Ending {
    /// The client closed its side (a read returned 0).
    pub fn client_closed() -> Self {
        Self {
            by: Closer::Client,
            reason: "the client closed the connection (read returned 0 bytes)".into(),
        }
    }

    /// The server finished the exchange and closes.
    pub fn server(reason: impl Into<String>) -> Self {
        Self {
            by: Closer::Server,
            reason: reason.into(),
        }
    }
}

/// An event for bytes sent.
pub fn reply_event(bytes: &[u8]) -> EventKind {
    EventKind::Reply {
        size: bytes.len(),
        data: HexBytes::capped(&bytes[..bytes.len().min(MAX_EVENT_BYTES)]),
    }
}

/// Whether connections are handled one at a time or each in its own task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// One client at a time; the next waits in the listen backlog.
    Iterative,
    /// Every client in its own task, up to `--max-connections`.
    Concurrent,
}

/// Runs the TCP demo `demo` on `listener` until shutdown, served as its
/// registry line says.
pub async fn serve(listener: TcpListener, demo: Demo, ctx: DemoCtx) {
    let style = match demo.serving() {
        protocol::demo::Serving::OneAtATime => Style::Iterative,
        _ => Style::Concurrent,
    };
    if demo == Demo::TlsEcho {
        return serve_tcp(listener, demo, ctx, style, tls::serve_one).await;
    }
    serve_tcp(listener, demo, ctx, style, move |stream, events, ctx| {
        driver::converse(demo, stream, events, ctx)
    })
    .await;
}

/// Accepts connections for `demo` until shutdown, running `handle` for each.
///
/// Publishes `accepted` before and `closed` (or `error`) after every handler,
/// so handlers only deal with their conversation.
pub async fn serve_tcp<H, F>(
    listener: TcpListener,
    demo: Demo,
    ctx: DemoCtx,
    style: Style,
    handle: H,
) where
    H: Fn(TcpStream, ConnEvents, DemoCtx) -> F + Send + Sync + Clone + 'static,
    F: Future<Output = io::Result<Ending>> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(ctx.config.max_connections));
    // At descriptor exhaustion every listener fails every 50 ms: one line a
    // second per listener, with how many were left out.
    let accept_failed = crate::log_limit::LogLimit::per_second();
    // One address other than this machine's own cannot take every slot.
    let per_client = PerClient::new(ctx.config.max_connections_per_client);
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    loop {
        let accepted = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            res = listener.accept() => res,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Usually EMFILE (out of file descriptors) or a connection reset
                // before accept: keep serving, but do not spin.
                if let Some(suppressed) = accept_failed.allow() {
                    tracing::warn!(%demo, error = %e, suppressed, "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let events = ctx.bus.conn(demo, peer);
        let slot = if peer.ip().is_loopback() {
            Ok(None)
        } else {
            per_client.try_acquire(peer.ip()).map(Some).ok_or_else(|| {
                format!(
                    "{} already holds {} connections to this demo (--max-connections-per-client); \
                     close some and try again",
                    peer.ip(),
                    per_client.cap()
                )
            })
        };
        let permit = limit.clone().try_acquire_owned().map_err(|_| {
            format!(
                "{} connections are already open (--max-connections); try again shortly",
                ctx.config.max_connections
            )
        });
        let (permit, slot) = match (permit, slot) {
            (Ok(permit), Ok(slot)) => (permit, slot),
            (Err(reason), _) | (_, Err(reason)) => {
                // Settings the bridge registered for this client must not
                // wait for a later client that happens to get the same port.
                ctx.sticky.forget(peer);
                events.emit(EventKind::Refused { reason });
                drop(stream);
                continue;
            }
        };
        events.emit(EventKind::Accepted {
            local: local.clone(),
        });
        let conversation = run_one(stream, events, ctx.clone(), handle.clone());
        match style {
            Style::Iterative => {
                // Like the notes' `while True: accept(); serve until closed`.
                conversation.await;
                drop((permit, slot));
            }
            Style::Concurrent => {
                ctx.tasks.spawn(async move {
                    conversation.await;
                    drop((permit, slot));
                });
            }
        }
    }
}

async fn run_one<H, F>(stream: TcpStream, events: ConnEvents, ctx: DemoCtx, handle: H)
where
    H: Fn(TcpStream, ConnEvents, DemoCtx) -> F,
    F: Future<Output = io::Result<Ending>>,
{
    match handle(stream, events.clone(), ctx).await {
        Ok(ending) => events.emit(EventKind::Closed {
            by: ending.by,
            reason: ending.reason,
        }),
        Err(e) => {
            let (by, reason) = match e.kind() {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionAborted => {
                    (Closer::Client, format!("the client vanished ({e})"))
                }
                _ => {
                    events.emit(EventKind::Error {
                        message: e.to_string(),
                    });
                    (Closer::Server, format!("closed after an error: {e}"))
                }
            };
            events.emit(EventKind::Closed { by, reason });
        }
    }
}
