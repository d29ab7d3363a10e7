//! The HTTP accept loop: a deadline on every phase of a connection, a cap on
//! how many there are, and room made for newcomers when the cap is full.
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
//! connection, graceful shutdown) and bounds every phase of a connection:
//!
//! - **the request head** must arrive whole within `--header-timeout` of the
//!   moment the server starts waiting for it (hyper's timer): a silent
//!   client, a trickling one and an idle keep-alive connection alike;
//! - **the answer**, body included, must be ready within `--header-timeout`
//!   of the head (a body nobody reads is not waited for: hyper closes the
//!   connection after the response instead of reading it);
//! - **every write** of the response must make progress within
//!   `--write-timeout`: a client that sends requests but never reads its
//!   answers (e.g. pipelined `GET`s) fills the socket buffers, the write
//!   stalls, and the connection is closed. hyper has no such option, so the
//!   socket is wrapped in [`Deadline`], whose `poll_write` fails once a write
//!   has been pending for that long.
//!
//! At most `--max-http-connections` are open at once, and never more than a
//! quarter of the process's descriptor limit (a connection sending a file
//! holds two), so the demos and the bridge always have half the descriptors. When the cap is full, the next client is accepted
//! anyway and room is made for it: the connection that has been stuck longest
//! (no answer written for at least [`EVICT_AFTER`]: a stalled reader, an idle
//! keep-alive, a trickling head) is closed. A busy honest download is never
//! chosen. Only when every connection is busy does the newcomer wait.
//!
//! A WebSocket, once upgraded, is no longer HTTP: it leaves the count, its
//! deadlines are switched off, and the bridge's own limits govern it.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which this server does
//! not do.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::log_limit::LogLimit;

/// When the connection cap is full, a connection that has written nothing for
/// this long may be closed to make room for a newcomer. Short, because it
/// only matters when the cap is full, and a newcomer queued behind N stuck
/// clients waits about N / cap times this long. An honest download writes
/// every few milliseconds; an idle keep-alive that is closed costs a browser
/// a reconnect; a stuck client costs nobody anything.
pub const EVICT_AFTER: Duration = Duration::from_millis(100);

/// hyper's per-connection buffer cap (its default is about 400 KiB, which a
/// client pipelining requests and never reading fills, on every connection).
/// Request heads larger than this are refused with 431.
const MAX_BUF: usize = 32 * 1024;

/// The kernel send buffer of each HTTP connection (Linux doubles it). Left to
/// itself, loopback and LAN autotuning grows it to megabytes, all of which a
/// client that never reads makes the server fill before its writes stall:
/// work and memory per attacker. 64 KiB still moves tens of MB/s on a LAN.
const SEND_BUF: usize = 64 * 1024;

/// The limits of the HTTP side.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// The request head must arrive whole within this; the answer must then
    /// be ready within it too.
    pub header_timeout: Duration,
    /// Each response write must make progress within this.
    pub write_timeout: Duration,
    /// Most simultaneous HTTP connections (upgraded WebSockets not counted).
    pub max_connections: usize,
    /// How long open connections may take to finish once shutdown starts;
    /// after that they are closed.
    pub drain: Duration,
}

impl HttpLimits {
    /// The limits `config` asks for, within the process's descriptor limit
    /// (see [`cap_for_descriptors`]).
    pub fn from_config(config: &Config) -> Self {
        let max_connections =
            cap_for_descriptors(config.http_max_connections, crate::fd_limit::current());
        if max_connections < config.http_max_connections {
            tracing::warn!(
                asked = config.http_max_connections,
                using = max_connections,
                "--max-http-connections is more than a quarter of the open-file limit \
                 (ulimit -n), and each connection may hold two; keeping the rest for the \
                 demos and the bridge"
            );
        }
        Self {
            header_timeout: config.http_header_timeout,
            write_timeout: config.http_write_timeout,
            max_connections,
            drain: crate::config::SHUTDOWN_GRACE,
        }
    }
}

/// The HTTP connection cap for a descriptor limit of `nofile`: a connection
/// in the middle of sending a file holds two descriptors (the socket and the
/// file), so at most a quarter of the limit, and however many HTTP clients
/// come, the demos and the bridge keep half of the descriptors.
pub fn cap_for_descriptors(asked: usize, nofile: Option<u64>) -> usize {
    match nofile {
        Some(n) => asked
            .min(usize::try_from(n / 4).unwrap_or(usize::MAX))
            .max(1),
        None => asked.max(1),
    }
}

/// What the accept loop knows about one open connection.
#[derive(Debug)]
struct ConnState {
    /// When the connection last did something useful (accepted, a request
    /// head arrived, a write made progress), in ms since the registry began.
    last_useful_ms: AtomicU64,
    /// Upgraded to a WebSocket: deadlines off, never evicted.
    upgraded: AtomicBool,
    /// Cancelled to close the connection (eviction).
    evict: CancellationToken,
    epoch: Instant,
}

impl ConnState {
    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_useful_ms.store(ms, Ordering::Relaxed);
    }

    fn upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Relaxed)
    }
}

/// Every open HTTP connection, so the accept loop can pick one to close.
#[derive(Debug)]
struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
        }
    }

    fn register(self: &Arc<Self>) -> Registered {
        let state = Arc::new(ConnState {
            last_useful_ms: AtomicU64::new(0),
            upgraded: AtomicBool::new(false),
            evict: CancellationToken::new(),
            epoch: self.epoch,
        });
        state.touch();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, state.clone());
        Registered {
            registry: self.clone(),
            id,
            state,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the connection that has been stuck longest, if one has been
    /// stuck for at least [`EVICT_AFTER`]; says whether it found one.
    fn evict_one(&self) -> bool {
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let threshold = EVICT_AFTER.as_millis() as u64;
        let victim = self
            .lock()
            .values()
            .filter(|c| !c.upgraded() && !c.evict.is_cancelled())
            .map(|c| (c.last_useful_ms.load(Ordering::Relaxed), c.clone()))
            .filter(|(last, _)| now_ms.saturating_sub(*last) >= threshold)
            .min_by_key(|(last, _)| *last);
        match victim {
            Some((_, c)) => {
                c.evict.cancel();
                true
            }
            None => false,
        }
    }
}

/// A connection's entry in the [`Registry`]; leaving it when dropped.
struct Registered {
    registry: Arc<Registry>,
    id: u64,
    state: Arc<ConnState>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets open
/// requests finish for at most `limits.drain` and closes what is left.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    static ACCEPT_FAILED: LogLimit = LogLimit::per_second();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Arc::new(Registry::new());
    let connections = TaskTracker::new();
    // Cancelled when the drain time is up: whatever is still open is dropped.
    let hard_stop = CancellationToken::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            res = listener.accept() => res,
        };
        let (stream, peer) = match accepted {
            Ok((stream, peer)) => {
                // WebSocket messages are small and latency matters: without this,
                // Nagle's algorithm meets the peer's delayed ACK and a relayed
                // message can wait ~40 ms (the lesson of the sticky lab, here).
                let _ = stream.set_nodelay(true);
                // A small fixed send buffer (see `SEND_BUF`).
                let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUF);
                (stream, peer)
            }
            Err(e) => {
                // Usually EMFILE (out of descriptors): keep serving, but do not
                // spin, and do not write a line every 50 ms.
                if let Some(suppressed) = ACCEPT_FAILED.allow() {
                    tracing::warn!(error = %e, suppressed, "http accept failed");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match make_room(&slots, &registry, &shutdown).await {
                Some(permit) => permit,
                None => break,
            },
        };
        let registered = registry.register();
        let io = TokioIo::new(Deadline::new(
            stream,
            limits.write_timeout,
            registered.state.clone(),
        ));
        let service = service(
            app.clone(),
            registered.state.clone(),
            limits.header_timeout,
            peer,
        );
        let conn = http.serve_connection(io, service).with_upgrades();
        let shutdown = shutdown.clone();
        let hard_stop = hard_stop.clone();
        connections.spawn(async move {
            // Both live as long as the connection: the slot and the entry.
            let _permit: OwnedSemaphorePermit = permit;
            let registered = registered;
            let mut conn = pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    // A timed-out head or write, a reset, a malformed request:
                    // that client's problem.
                    if let Err(e) = res {
                        tracing::debug!(error = %e, "http connection ended with an error");
                    }
                }
                _ = registered.state.evict.cancelled() => {
                    tracing::debug!("http connection closed to make room for a newcomer");
                }
                _ = shutdown.cancelled() => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = conn => {}
                        _ = hard_stop.cancelled() => {}
                    }
                }
            }
        });
    }
    connections.close();
    if tokio::time::timeout(limits.drain, connections.wait())
        .await
        .is_err()
    {
        hard_stop.cancel();
        connections.wait().await;
    }
    Ok(())
}

/// Waits for a free slot at the connection cap, closing the connection stuck
/// longest as soon as one has been stuck for [`EVICT_AFTER`]. `None`: the
/// server is shutting down.
async fn make_room(
    slots: &Arc<Semaphore>,
    registry: &Registry,
    shutdown: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    loop {
        registry.evict_one();
        tokio::select! {
            permit = slots.clone().acquire_owned() => return permit.ok(),
            // Nobody stuck long enough yet: look again shortly.
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = shutdown.cancelled() => return None,
        }
    }
}

/// The router as a hyper service, plus what the connection needs to know:
/// a request head has arrived (useful work), the answer must be ready within
/// `answer_within` (408 otherwise), and a `101 Switching Protocols` answer
/// switches the connection's deadlines off.
fn service(
    app: Router,
    state: Arc<ConnState>,
    answer_within: Duration,
    peer: std::net::SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    let app = TowerToHyperService::new(app);
    hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        state.touch();
        // Handlers that care who asks (the bridge's per-address cap) read it
        // with axum's `ConnectInfo`.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let answer = hyper::service::Service::call(&app, req);
        let state = state.clone();
        async move {
            let Ok(res) = tokio::time::timeout(answer_within, answer).await else {
                return Ok((
                    StatusCode::REQUEST_TIMEOUT,
                    [(axum::http::header::CONNECTION, "close")],
                    "the request took too long to arrive (--header-timeout)",
                )
                    .into_response());
            };
            let res = res?;
            if res.status() == StatusCode::SWITCHING_PROTOCOLS {
                state.upgraded.store(true, Ordering::Relaxed);
            }
            Ok(res)
        }
    })
}

/// A socket whose writes fail once one has made no progress for a while.
///
/// tokio's `TcpStream::poll_write` returns `Pending` while the kernel's send
/// buffer is full, which it stays while the client does not read. Here the
/// first `Pending` starts a timer; any byte written stops it; if it fires
/// first, the write fails with `TimedOut` and hyper closes the connection.
/// Reads are untouched (hyper's head timer and the answer deadline bound
/// them). After an upgrade the wrapper passes everything straight through.
#[derive(Debug)]
pub struct Deadline<T> {
    io: T,
    timeout: Duration,
    /// Allocated on the first stall, then reset and reused.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    state: Arc<ConnState>,
}

impl<T> Deadline<T> {
    fn new(io: T, timeout: Duration, state: Arc<ConnState>) -> Self {
        Self {
            io,
            timeout,
            timer: None,
            armed: false,
            state,
        }
    }

    /// A write made progress: stop the timer.
    fn progressed(&mut self) {
        self.armed = false;
        self.state.touch();
    }

    /// A write is pending: start the timer if it is not running, and fail
    /// if it has run out.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.state.upgraded() {
            self.armed = false;
            return Poll::Pending;
        }
        let deadline = Instant::now() + self.timeout;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of its answer for --write-timeout",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> Deadline<T> {
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        res: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match res {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.progressed();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.stalled(cx).map(Err),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Deadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.io).poll_write(cx, buf);
        this.after_write(cx, res)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.after_write(cx, res)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.stalled(cx).map(Err),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_shutdown(cx) {
            Poll::Pending => this.stalled(cx).map(Err),
            done => done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_keeps_at_least_half_the_descriptors_for_the_rest() {
        assert_eq!(cap_for_descriptors(512, Some(1024)), 256);
        assert_eq!(cap_for_descriptors(4096, Some(4096)), 1024);
        assert_eq!(cap_for_descriptors(512, Some(4096)), 512);
        assert_eq!(cap_for_descriptors(512, Some(1_048_576)), 512);
        assert_eq!(cap_for_descriptors(512, None), 512);
        assert_eq!(cap_for_descriptors(512, Some(1)), 1, "never zero");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_makes_no_progress_fails_after_the_timeout() {
        // A duplex pipe of 16 bytes that nobody reads: the second write stalls.
        let (client, server) = tokio::io::duplex(16);
        let registry = Arc::new(Registry::new());
        let registered = registry.register();
        let mut io = Deadline::new(server, Duration::from_secs(5), registered.state.clone());
        use tokio::io::AsyncWriteExt;
        io.write_all(&[0; 16]).await.unwrap();
        let started = Instant::now();
        let err = io.write_all(&[0; 16]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_steady_reader_is_never_timed_out() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(16);
        let registry = Arc::new(Registry::new());
        let registered = registry.register();
        let mut io = Deadline::new(server, Duration::from_secs(5), registered.state.clone());
        let reader = tokio::spawn(async move {
            let mut buf = [0; 16];
            let mut total = 0;
            while total < 16 * 20 {
                // 16 bytes every 4 s: slower than the writer, faster than the deadline.
                tokio::time::sleep(Duration::from_secs(4)).await;
                total += client.read(&mut buf).await.unwrap();
            }
        });
        io.write_all(&[0; 16 * 20]).await.unwrap();
        reader.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn after_an_upgrade_writes_may_wait_for_ever() {
        use tokio::io::AsyncWriteExt;
        let (_client, server) = tokio::io::duplex(16);
        let registry = Arc::new(Registry::new());
        let registered = registry.register();
        registered.state.upgraded.store(true, Ordering::Relaxed);
        let mut io = Deadline::new(server, Duration::from_secs(5), registered.state.clone());
        io.write_all(&[0; 16]).await.unwrap();
        let stalled = tokio::time::timeout(Duration::from_secs(3600), io.write_all(&[0; 16])).await;
        assert!(stalled.is_err(), "still waiting after an hour");
    }

    #[tokio::test(start_paused = true)]
    async fn eviction_picks_the_connection_stuck_longest_and_only_after_the_threshold() {
        let registry = Arc::new(Registry::new());
        let old = registry.register();
        tokio::time::advance(EVICT_AFTER / 2).await;
        let newer = registry.register();
        let ws = registry.register();
        ws.state.upgraded.store(true, Ordering::Relaxed);
        assert!(!registry.evict_one(), "nobody stuck long enough yet");
        tokio::time::advance(EVICT_AFTER / 2).await;
        assert!(registry.evict_one());
        assert!(old.state.evict.is_cancelled());
        assert!(!newer.state.evict.is_cancelled());
        newer.state.touch();
        assert!(!registry.evict_one(), "the newer one just did something");
        tokio::time::advance(EVICT_AFTER * 10).await;
        assert!(registry.evict_one());
        assert!(newer.state.evict.is_cancelled());
        assert!(!registry.evict_one(), "a WebSocket is never evicted");
        assert!(!ws.state.evict.is_cancelled());
        drop(old);
        assert_eq!(registry.lock().len(), 2);
    }
}
