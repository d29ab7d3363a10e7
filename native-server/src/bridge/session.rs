//! One page's bridge session, independent of any WebSocket library.
//!
//! The session reads [`Inbound`] messages from a stream and writes
//! [`Outbound`] messages to a sink, so tests can drive it with channels and
//! the HTTP layer with a real WebSocket (axum's `testing-websockets` example
//! shows the pattern).
//!
//! The page names a demo; the session resolves it to the demo's real address.
//! Anything else must be one of the operator's `--bridge-allow` targets,
//! compared exactly. Bad messages get an `error` message and the session goes
//! on. When the page goes away, every socket it opened is closed.
//!
//! A relayed message wakes as few tasks as possible: the session task reads it
//! from the page and writes it to the socket itself; the socket's reader task
//! writes the answer to the page itself ([`Page`]). Two wake-ups per round
//! trip, one for each readable socket, as in a single-threaded select loop.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, Stream, StreamExt};
use protocol::bridge::{
    BinaryError, ClientMsg, ClosedBy, DemoInfo, Limits, PROTOCOL_VERSION, ServerMsg, SocketId,
    decode_send,
};
use protocol::demo::StickyOptions;
use protocol::kernel::KernelMsg;
use protocol::{Demo, Transport};
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

pub use super::page::{Inbound, Outbound, Page};
use super::socket::{FreedTx, SendFailure, SockHandle, SockKey, dial_addr, spawn_tcp, spawn_udp};
use crate::demos::DemoCtx;
use crate::service::Service;

/// How long a session that is ending waits to tell the page so.
const FAREWELL: Duration = Duration::from_secs(1);

/// What a session needs from the server.
#[derive(Debug, Clone)]
pub struct SessionEnv {
    /// The demos' shared context.
    pub ctx: DemoCtx,
    /// The running services and their addresses.
    pub services: Arc<Vec<Service>>,
}

fn error(sock: Option<SocketId>, code: &str, message: impl Into<String>) -> Outbound {
    Outbound::msg(&ServerMsg::Error {
        sock,
        code: code.to_owned(),
        message: message.into(),
    })
}

/// Which of the page's sockets a demo's client address belongs to, so the
/// session can tag server events with the page's socket id (the page never
/// has to match peers by port text).
///
/// Sockets stay findable for a while after they close: the demo's own
/// `closed` event may be published after the bridge has already seen the
/// connection end and freed the socket.
#[derive(Debug, Default)]
struct Owners {
    open: HashMap<SocketAddr, SocketId>,
    recent: VecDeque<(SocketAddr, SocketId)>,
}

/// How many closed sockets' addresses [`Owners`] keeps.
const RECENT_OWNERS: usize = 64;

impl Owners {
    fn insert(&mut self, local: SocketAddr, sock: SocketId) {
        self.recent.retain(|(a, _)| *a != local);
        self.open.insert(local, sock);
    }

    fn retire(&mut self, local: SocketAddr) {
        if let Some(sock) = self.open.remove(&local) {
            if self.recent.len() == RECENT_OWNERS {
                self.recent.pop_front();
            }
            self.recent.push_back((local, sock));
        }
    }

    fn find(&self, peer: &str) -> Option<SocketId> {
        let addr: SocketAddr = peer.parse().ok()?;
        self.open.get(&addr).copied().or_else(|| {
            self.recent
                .iter()
                .rev()
                .find(|(a, _)| *a == addr)
                .map(|(_, s)| *s)
        })
    }
}

type SharedOwners = Arc<std::sync::Mutex<Owners>>;

fn lock(owners: &SharedOwners) -> std::sync::MutexGuard<'_, Owners> {
    // Nothing can panic while holding this lock, but do not let it poison.
    owners.lock().unwrap_or_else(|p| p.into_inner())
}

/// One bridged socket as the session keeps it.
struct Entry {
    handle: SockHandle,
    /// The bridge's end, as the demo sees it as its peer.
    local: SocketAddr,
    /// The demo's end.
    peer: SocketAddr,
}

/// How long a TCP connect may take. A full accept queue drops SYNs and the
/// kernel retries them for two minutes; the session must not wait that long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

struct Session {
    env: SessionEnv,
    page: Page,
    sockets: HashMap<SocketId, Entry>,
    owners: SharedOwners,
    /// Sockets whose peer ended them report here; see [`Session::free_ended`].
    freed_tx: FreedTx,
    freed_rx: UnboundedReceiver<SockKey>,
    /// Ids the peer closed lately: a `close` the page sent before it heard
    /// `closed` is then a no-op, not an error.
    peer_closed: VecDeque<SocketId>,
    next_serial: u64,
    epoch: Instant,
    events: Option<tokio::task::AbortHandle>,
    /// Forwards `socket-lab check` runs, once the page asked (`watch_checks`).
    checks: Option<tokio::task::AbortHandle>,
    /// Forwards the kernel watcher's messages, once the page asked.
    kernel: Option<tokio::task::AbortHandle>,
}

/// Runs one session until the page leaves, goes idle, or the server stops.
pub async fn run_session<I, O>(mut incoming: I, outgoing: O, env: SessionEnv)
where
    I: Stream<Item = Inbound> + Unpin + Send,
    O: Sink<Outbound> + Send + 'static,
{
    let idle = env.ctx.config.bridge.idle_timeout;
    let shutdown = env.ctx.shutdown.clone();
    let page = Page::new(outgoing);
    let (freed_tx, freed_rx) = unbounded_channel();
    let mut session = Session {
        env,
        page: page.clone(),
        sockets: HashMap::new(),
        owners: SharedOwners::default(),
        freed_tx,
        freed_rx,
        peer_closed: VecDeque::new(),
        next_serial: 0,
        epoch: Instant::now(),
        events: None,
        checks: None,
        kernel: None,
    };
    session.send(session.welcome()).await;

    // One timer for the whole session, moved on only when it fires: arming a
    // fresh one per message would cost two timer-wheel updates per message.
    let mut last_heard = Instant::now();
    let idle_check = tokio::time::sleep_until(last_heard + idle);
    // Likewise one wait each for shutdown and for the page going away, polled
    // by both selects below; each loop ends once either completes.
    let stopping = shutdown.cancelled();
    let page_gone = page.gone();
    tokio::pin!(idle_check, stopping, page_gone);
    // Keepalive: a page that vanished without closing (a laptop lid shut, a
    // network gone) answers no ping; after three unanswered ones it is gone,
    // whatever its sockets are doing.
    let keepalive = session.env.ctx.config.bridge.keepalive;
    let mut ping = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut alive_at = Instant::now();
    let gone_after = keepalive * 3;
    // One message read while another was being handled (see below).
    let mut stashed: Option<Inbound> = None;

    'session: loop {
        let msg = match stashed.take() {
            Some(msg) => msg,
            None => tokio::select! {
                biased;
                () = &mut stopping => {
                    say_bye(&page).await;
                    break;
                }
                () = &mut page_gone => break,
                // A socket the peer ended is freed at once, not when the page
                // next speaks: its descriptor and its slot come back now.
                Some(key) = session.freed_rx.recv() => {
                    session.free(key);
                    continue;
                }
                next = incoming.next() => match next {
                    Some(Inbound::Pong) => {
                        alive_at = Instant::now();
                        continue;
                    }
                    Some(msg) => msg,
                    None => break, // the page closed the WebSocket
                },
                _ = ping.tick() => {
                    if alive_at.elapsed() >= gone_after {
                        break;
                    }
                    ping_page(&page).await;
                    continue;
                }
                () = &mut idle_check => {
                    // A page that watches the server's events or holds a
                    // socket is in use, however quiet: a lab's server view
                    // waits for the learner's terminal client. (A page that
                    // vanished is caught by the keepalive instead.)
                    let in_use = session.events.is_some()
                        || session.checks.is_some()
                        || session.kernel.is_some()
                        || !session.sockets.is_empty();
                    if in_use || last_heard + idle > Instant::now() {
                        if in_use {
                            last_heard = Instant::now();
                        }
                        idle_check.as_mut().reset(last_heard + idle);
                        continue;
                    }
                    session
                        .send(error(
                            None,
                            "idle_timeout",
                            format!(
                                "no message from the page for {} s; the page reconnects when it is next used",
                                idle.as_secs()
                            ),
                        ))
                        .await;
                    break;
                }
            },
        };
        last_heard = Instant::now();
        alive_at = last_heard;
        // A notice sent before the page heard `closed` is in the channel
        // already; take it first, so an `open` that reuses the id succeeds.
        session.free_ended();
        // Handling one message can wait a long time: a send waits for the
        // socket, which waits for the peer, which (an echo server) waits for
        // us to take its replies, which wait for the page to read. Meanwhile
        // keep listening to the page: a closed WebSocket or unanswered pings
        // mean it is gone, and so are shutdown and a failed write to it. One
        // message that arrives meanwhile is kept for afterwards (and reading
        // stops until then, so nothing queues up).
        let handled = async {
            match msg {
                Inbound::Text(text) => session.on_text(&text).await,
                Inbound::Binary(bytes) => session.on_binary(&bytes).await,
                Inbound::Pong => {}
            }
        };
        tokio::pin!(handled);
        loop {
            tokio::select! {
                _ = &mut handled => break,
                () = &mut page_gone => break 'session,
                () = &mut stopping => {
                    say_bye(&page).await;
                    break 'session;
                }
                next = incoming.next(), if stashed.is_none() => match next {
                    None => break 'session,
                    Some(Inbound::Pong) => alive_at = Instant::now(),
                    Some(msg) => {
                        alive_at = Instant::now();
                        stashed = Some(msg);
                    }
                },
                _ = ping.tick() => {
                    if stashed.is_none() && alive_at.elapsed() >= gone_after {
                        break 'session;
                    }
                    ping_page(&page).await;
                }
            }
        }
    }

    // Closing the page closes its sockets. Stop every reader first, so none
    // holds the page while the farewells go out; then say goodbye, bounded:
    // the page may have stopped reading.
    let sockets: Vec<SockHandle> = session.sockets.drain().map(|(_, s)| s.handle).collect();
    for sock in &sockets {
        sock.stop_reading();
    }
    for task in [
        session.events.take(),
        session.checks.take(),
        session.kernel.take(),
    ]
    .into_iter()
    .flatten()
    {
        task.abort();
    }
    let farewell = async {
        for sock in sockets {
            sock.close(ClosedBy::Bridge, "the page's session ended")
                .await;
        }
        page.close().await;
    };
    let _ = tokio::time::timeout(FAREWELL, farewell).await;
}

/// Sends a keepalive ping, bounded: a page that is not reading gets none.
async fn ping_page(page: &Page) {
    let _ = tokio::time::timeout(Duration::from_millis(100), page.send(Outbound::Ping)).await;
}

/// Tells the page the server is going, bounded: it may not be reading.
async fn say_bye(page: &Page) {
    let bye = error(None, "server_shutdown", "the server is shutting down");
    let _ = tokio::time::timeout(Duration::from_millis(200), page.send(bye)).await;
}

impl Session {
    async fn send(&self, msg: Outbound) {
        self.page.send(msg).await;
    }

    /// Frees a socket whose peer ended it, if the id still means that socket.
    fn free(&mut self, key: SockKey) {
        if self
            .sockets
            .get(&key.id)
            .is_some_and(|e| e.handle.key() == key)
        {
            self.remove(key.id);
            if self.peer_closed.len() == RECENT_OWNERS {
                self.peer_closed.pop_front();
            }
            self.peer_closed.push_back(key.id);
        }
    }

    /// The answer to a request about a socket the session does not hold:
    /// nothing if the peer closed it lately (closing twice is harmless),
    /// else an `unknown_socket` error.
    fn not_open(&self, sock: SocketId) -> Option<Outbound> {
        (!self.peer_closed.contains(&sock)).then(|| unknown_socket(sock))
    }

    /// Frees every socket whose end has been reported so far.
    fn free_ended(&mut self) {
        while let Ok(key) = self.freed_rx.try_recv() {
            self.free(key);
        }
    }

    /// Takes a socket out of the session (dropping it closes it).
    fn remove(&mut self, sock: SocketId) -> Option<SockHandle> {
        let entry = self.sockets.remove(&sock)?;
        lock(&self.owners).retire(entry.local);
        Some(entry.handle)
    }

    fn welcome(&self) -> Outbound {
        let demos = self
            .env
            .services
            .iter()
            .filter_map(|s| {
                let demo = s.demo()?;
                Some(DemoInfo {
                    demo,
                    transport: demo.transport(),
                    addr: s.addr.to_string(),
                })
            })
            .collect();
        let limits = &self.env.ctx.config.bridge;
        Outbound::msg(&ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            demos,
            limits: Limits {
                sockets_per_session: limits.sockets_per_session,
                max_message: limits.max_message,
                idle_timeout_secs: limits.idle_timeout.as_secs(),
                handshake_timeout_ms: u64::try_from(
                    self.env.ctx.config.handshake_timeout.as_millis(),
                )
                .unwrap_or(u64::MAX),
            },
        })
    }

    async fn on_text(&mut self, text: &str) {
        let msg = match serde_json::from_str::<ClientMsg>(text) {
            Ok(msg) => msg,
            Err(e) => {
                self.send(error(
                    None,
                    "bad_message",
                    format!(
                        "could not read that message ({e}); messages are JSON like \
                         {{\"type\":\"open\",\"sock\":1,\"demo\":\"tcp-echo\"}}"
                    ),
                ))
                .await;
                return;
            }
        };
        match msg {
            ClientMsg::Open {
                sock,
                demo,
                target,
                nodelay,
                sticky,
                ack,
            } => self.open(sock, demo, target, nodelay, sticky, ack).await,
            ClientMsg::Send { sock, text } => self.send_bytes(sock, text.as_bytes()).await,
            ClientMsg::Shutdown { sock } => {
                let refused = match self.sockets.get_mut(&sock) {
                    Some(entry) => entry.handle.shutdown().await.err(),
                    None => self.not_open(sock),
                };
                if let Some(msg) = refused {
                    self.send(msg).await;
                }
            }
            ClientMsg::Close { sock } => match self.remove(sock) {
                Some(handle) => handle.close(ClosedBy::Page, "closed by the page").await,
                None => {
                    if let Some(e) = self.not_open(sock) {
                        self.send(e).await;
                    }
                }
            },
            ClientMsg::Reset { sock } => match self.sockets.remove(&sock) {
                Some(entry) => match entry.handle.reset().await {
                    Ok(()) => lock(&self.owners).retire(entry.local),
                    Err((handle, refused)) => {
                        self.sockets.insert(
                            sock,
                            Entry {
                                handle,
                                local: entry.local,
                                peer: entry.peer,
                            },
                        );
                        self.send(refused).await;
                    }
                },
                None => {
                    if let Some(e) = self.not_open(sock) {
                        self.send(e).await;
                    }
                }
            },
            ClientMsg::Status {} => {
                let sockets = self.sockets.len();
                self.send(Outbound::msg(&ServerMsg::Status { sockets }))
                    .await;
            }
            ClientMsg::Subscribe { demos } => self.subscribe(demos),
            ClientMsg::WatchChecks {} => self.watch_checks(),
            ClientMsg::WatchKernel { hz } => self.watch_kernel(hz).await,
            ClientMsg::UnwatchKernel {} => {
                if let Some(kernel) = self.kernel.take() {
                    kernel.abort();
                }
            }
            ClientMsg::TcpInfo { sock } => self.tcp_info(sock).await,
            ClientMsg::Unsubscribe {} => {
                if let Some(events) = self.events.take() {
                    events.abort();
                }
            }
        }
    }

    async fn on_binary(&mut self, bytes: &[u8]) {
        match decode_send(bytes) {
            Ok((sock, payload)) => self.send_bytes(sock, payload).await,
            Err(e @ (BinaryError::Short(_) | BinaryError::UnknownTag(_))) => {
                self.send(error(None, "bad_binary", e.to_string())).await;
            }
        }
    }

    /// Writes the page's bytes to one of its sockets.
    async fn send_bytes(&mut self, sock: SocketId, bytes: &[u8]) {
        let Some(entry) = self.sockets.get_mut(&sock) else {
            self.send(unknown_socket(sock)).await;
            return;
        };
        // Waits while the peer is not reading: the page is paced by the peer.
        match entry.handle.send(bytes).await {
            Ok(()) => {}
            Err(SendFailure::Closed) => {
                self.remove(sock);
            }
            Err(SendFailure::Refused(msg)) => self.send(msg).await,
        }
    }

    fn subscribe(&mut self, demos: Vec<Demo>) {
        if let Some(old) = self.events.take() {
            old.abort();
        }
        let mut sub = self.env.ctx.bus.subscribe();
        let page = self.page.clone();
        let owners = self.owners.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = sub.recv().await {
                let wanted = demos.is_empty()
                    || demos.contains(&event.demo)
                    || matches!(event.kind, protocol::events::EventKind::Lagged { .. });
                if wanted {
                    let sock = lock(&owners).find(&event.peer);
                    let msg = ServerMsg::Event {
                        event: (*event).clone(),
                        sock,
                    };
                    // Waiting here is fine: the bus drops what we miss and says so.
                    if !page.send(Outbound::msg(&msg)).await {
                        return;
                    }
                }
            }
        });
        self.events = Some(task.abort_handle());
    }

    /// Forwards every check run to the page (once: asking again changes nothing).
    fn watch_checks(&mut self) {
        if self.checks.is_some() {
            return;
        }
        let mut runs = self.env.ctx.checks.subscribe();
        let page = self.page.clone();
        let task = tokio::spawn(async move {
            loop {
                let (run, msg) = match runs.recv().await {
                    Ok(m) => (*m).clone(),
                    // Missed messages are gone; the next run starts afresh.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                if !page
                    .send(Outbound::msg(&ServerMsg::Check { run, msg }))
                    .await
                {
                    return;
                }
            }
        });
        self.checks = Some(task.abort_handle());
    }

    /// Starts (or restarts, at a new rate) forwarding the kernel's view.
    async fn watch_kernel(&mut self, hz: u32) {
        if let Some(old) = self.kernel.take() {
            old.abort();
        }
        let mut viewer = match self.env.ctx.kernel.watch(hz) {
            Ok(v) => v,
            Err(reason) => {
                let msg = KernelMsg::Unsupported {
                    reason: reason.to_owned(),
                };
                return self.send(Outbound::msg(&ServerMsg::Kernel { msg })).await;
            }
        };
        let page = self.page.clone();
        let task = tokio::spawn(async move {
            while let Some(msg) = viewer.recv().await {
                let msg = (*msg).clone();
                if !page.send(Outbound::msg(&ServerMsg::Kernel { msg })).await {
                    return;
                }
            }
        });
        self.kernel = Some(task.abort_handle());
    }

    /// Answers `tcp_info`: the kernel's counters for the bridge's end.
    async fn tcp_info(&mut self, sock: SocketId) {
        let Some(entry) = self.sockets.get(&sock) else {
            if let Some(e) = self.not_open(sock) {
                self.send(e).await;
            }
            return;
        };
        let (local, peer) = (entry.local, entry.peer);
        let kernel = self.env.ctx.kernel.clone();
        let found = tokio::task::spawn_blocking(move || kernel.tcp_info(local, peer))
            .await
            .unwrap_or_else(|e| Err(format!("the lookup failed: {e}")));
        let (counters, missing) = match found {
            Ok(c) => (Some(c), None),
            Err(why) => (None, Some(why)),
        };
        self.send(Outbound::msg(&ServerMsg::TcpInfo {
            sock,
            counters,
            missing,
        }))
        .await;
    }

    fn resolve(
        &self,
        demo: Option<Demo>,
        target: Option<String>,
    ) -> Result<(SocketAddr, Transport, Option<Demo>), Outbound> {
        match (demo, target) {
            (Some(demo), None) => self
                .env
                .services
                .iter()
                .find(|s| s.demo() == Some(demo))
                .map(|s| (dial_addr(s.addr), demo.transport(), Some(demo)))
                .ok_or_else(|| {
                    error(
                        None,
                        "demo_not_running",
                        format!("the {demo} demo is not running on this server (see --only)"),
                    )
                }),
            (None, Some(target)) => {
                let allowed = target
                    .parse::<SocketAddr>()
                    .ok()
                    .filter(|addr| self.env.ctx.config.bridge_allow.contains(addr));
                match allowed {
                    Some(addr) => Ok((addr, Transport::Tcp, None)),
                    None => Err(error(
                        None,
                        "target_not_allowed",
                        format!(
                            "the bridge connects to demos by name, not to {target:?}; \
                             an operator can admit an extra target with --bridge-allow HOST:PORT"
                        ),
                    )),
                }
            }
            _ => Err(error(
                None,
                "bad_open",
                "an open message names exactly one of \"demo\" (e.g. \"tcp-echo\") or an operator-allowed \"target\"",
            )),
        }
    }

    async fn open(
        &mut self,
        sock: SocketId,
        demo: Option<Demo>,
        target: Option<String>,
        nodelay: bool,
        sticky: Option<StickyOptions>,
        ack: bool,
    ) {
        let limit = self.env.ctx.config.bridge.sockets_per_session;
        if self.sockets.contains_key(&sock) {
            self.send(error(
                Some(sock),
                "socket_in_use",
                format!("socket id {sock} is already open; pick another id"),
            ))
            .await;
            return;
        }
        if self.sockets.len() >= limit {
            self.send(error(
                Some(sock),
                "too_many_sockets",
                format!(
                    "this page already holds {limit} open sockets, the most a session may; \
                     close one of its open connections (each lab has a Close button) or reload the page"
                ),
            ))
            .await;
            return;
        }
        let (addr, transport, demo) = match self.resolve(demo, target) {
            Ok(found) => found,
            Err(e) => return self.send(e).await,
        };
        let sticky = match (demo, sticky.map(StickyOptions::validate)) {
            (_, None) => None,
            (Some(Demo::Sticky), Some(Ok(options))) => Some(options),
            (Some(Demo::Sticky), Some(Err(e))) => {
                return self
                    .send(error(Some(sock), "bad_sticky_options", e.to_string()))
                    .await;
            }
            (_, Some(_)) => {
                return self
                    .send(error(
                        Some(sock),
                        "bad_open",
                        "read settings (\"sticky\") apply only to the sticky demo",
                    ))
                    .await;
            }
        };
        self.next_serial += 1;
        let key = SockKey {
            id: sock,
            serial: self.next_serial,
        };
        let opened = match transport {
            Transport::Tcp => self.open_tcp(key, addr, nodelay, sticky, ack).await,
            Transport::Udp => self.open_udp(key, addr, ack).await,
        };
        match opened {
            Ok((handle, local, peer)) => {
                self.peer_closed.retain(|s| *s != sock);
                lock(&self.owners).insert(local, sock);
                self.sockets.insert(
                    sock,
                    Entry {
                        handle,
                        local,
                        peer,
                    },
                );
                self.send(Outbound::msg(&ServerMsg::Opened {
                    sock,
                    transport,
                    local: local.to_string(),
                    peer: peer.to_string(),
                }))
                .await;
            }
            Err(e) => {
                self.send(error(
                    Some(sock),
                    "connect_failed",
                    format!("could not connect to {addr}: {e}"),
                ))
                .await;
            }
        }
    }

    async fn open_tcp(
        &self,
        key: SockKey,
        addr: SocketAddr,
        nodelay: bool,
        sticky: Option<StickyOptions>,
        ack: bool,
    ) -> std::io::Result<(SockHandle, SocketAddr, SocketAddr)> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // Bind first so the ephemeral port is known before connecting: the sticky
        // demo looks its read settings up by that address when it accepts.
        let any = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        socket.bind(any.parse().expect("literal address"))?;
        let local = socket.local_addr()?;
        let client = SocketAddr::new(addr.ip(), local.port());
        if let Some(options) = sticky {
            self.env.ctx.sticky.set(client, options);
        }
        // Known as this page's before the demo can accept it: a concurrent
        // demo publishes its accept at once, and the event must be tagged
        // with the page's socket even if it is relayed before `connect`
        // returns here.
        lock(&self.owners).insert(client, key.id);
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr))
            .await
            .unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer to the SYN within {} s (is the server's accept queue full?)",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ))
            });
        let stream = match connected {
            Ok(s) => s,
            Err(e) => {
                self.env.ctx.sticky.forget(client);
                lock(&self.owners).retire(client);
                return Err(e);
            }
        };
        stream.set_nodelay(nodelay)?;
        let (local, peer) = (stream.local_addr()?, stream.peer_addr()?);
        Ok((
            spawn_tcp(
                key,
                self.freed_tx.clone(),
                stream,
                self.page.clone(),
                self.epoch,
                ack,
            ),
            local,
            peer,
        ))
    }

    async fn open_udp(
        &self,
        key: SockKey,
        addr: SocketAddr,
        ack: bool,
    ) -> std::io::Result<(SockHandle, SocketAddr, SocketAddr)> {
        let any = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(any).await?;
        socket.connect(addr).await?;
        let (local, peer) = (socket.local_addr()?, socket.peer_addr()?);
        Ok((
            spawn_udp(
                key,
                self.freed_tx.clone(),
                socket,
                self.page.clone(),
                self.epoch,
                ack,
            ),
            local,
            peer,
        ))
    }
}

fn unknown_socket(sock: SocketId) -> Outbound {
    error(
        Some(sock),
        "unknown_socket",
        format!("there is no open socket {sock}; open it first"),
    )
}
