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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::bridge::{
    BinaryError, ClientMsg, ClosedBy, DemoInfo, Limits, PROTOCOL_VERSION, ServerMsg, SocketId,
    decode_send,
};
use protocol::demo::StickyOptions;
use protocol::{Demo, Transport};
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::socket::{SockCmd, SockHandle, dial_addr, spawn_tcp, spawn_udp};
use crate::demos::DemoCtx;
use crate::server::Service;

/// Messages queued towards the page before the session stops reading sockets.
pub const OUT_QUEUE: usize = 64;

/// A message from the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A JSON control message.
    Text(String),
    /// A binary data frame.
    Binary(Vec<u8>),
}

/// A message to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A JSON control message.
    Text(String),
    /// A binary read frame.
    Binary(Vec<u8>),
}

impl Outbound {
    /// Serializes a control message.
    pub fn msg(msg: &ServerMsg) -> Self {
        Outbound::Text(serde_json::to_string(msg).expect("bridge messages always serialize"))
    }
}

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

struct Session {
    env: SessionEnv,
    out: mpsc::Sender<Outbound>,
    sockets: HashMap<SocketId, SockHandle>,
    epoch: Instant,
    events: Option<tokio::task::AbortHandle>,
}

/// Runs one session until the page leaves, goes idle, or the server stops.
pub async fn run_session<I, O>(mut incoming: I, outgoing: O, env: SessionEnv)
where
    I: Stream<Item = Inbound> + Unpin + Send,
    O: Sink<Outbound> + Unpin + Send + 'static,
{
    let (out_tx, mut out_rx) = mpsc::channel::<Outbound>(OUT_QUEUE);
    // The writer: the only place that touches the sink. When the page stops
    // reading, `send` waits, the queue fills, and producers wait in turn.
    let writer = tokio::spawn(async move {
        let mut outgoing = outgoing;
        while let Some(msg) = out_rx.recv().await {
            if outgoing.send(msg).await.is_err() {
                break;
            }
        }
        let _ = outgoing.close().await;
    });

    let idle = env.ctx.config.bridge.idle_timeout;
    let shutdown = env.ctx.shutdown.clone();
    let mut session = Session {
        env,
        out: out_tx,
        sockets: HashMap::new(),
        epoch: Instant::now(),
        events: None,
    };
    session.send(session.welcome()).await;

    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => {
                session.send(error(None, "server_shutdown", "the server is shutting down")).await;
                break;
            }
            next = tokio::time::timeout(idle, incoming.next()) => next,
        };
        match next {
            Err(_) => {
                session
                    .send(error(
                        None,
                        "idle_timeout",
                        format!(
                            "no message from the page for {} s; reload to reconnect",
                            idle.as_secs()
                        ),
                    ))
                    .await;
                break;
            }
            Ok(None) => break, // the page closed the WebSocket
            Ok(Some(msg)) => {
                // Handling one message can wait a long time: a send waits for
                // the socket's writer, which waits for the peer, which (an echo
                // server) waits for us to take its replies, which wait for the
                // page to read. If the page vanishes meanwhile, only the
                // WebSocket writer notices (its send fails and it drops the
                // queue's receiver): watch for that, and for shutdown, or the
                // session and its sockets would wait forever.
                let page_gone = session.out.clone();
                let handled = async {
                    match msg {
                        Inbound::Text(text) => session.on_text(&text).await,
                        Inbound::Binary(bytes) => session.on_binary(bytes).await,
                    }
                };
                tokio::select! {
                    _ = handled => {}
                    _ = page_gone.closed() => break,
                    _ = shutdown.cancelled() => {
                        // Bounded: the queue may be full of replies the page never reads.
                        let bye = error(None, "server_shutdown", "the server is shutting down");
                        let _ = tokio::time::timeout(Duration::from_millis(200), page_gone.send(bye)).await;
                        break;
                    }
                }
            }
        }
    }

    // Closing the page closes its sockets.
    for (_, sock) in session.sockets.drain() {
        sock.close(ClosedBy::Bridge, "the page's session ended")
            .await;
    }
    if let Some(events) = session.events.take() {
        events.abort();
    }
    drop(session);
    let _ = writer.await;
}

impl Session {
    async fn send(&self, msg: Outbound) {
        let _ = self.out.send(msg).await;
    }

    fn welcome(&self) -> Outbound {
        let demos = self
            .env
            .services
            .iter()
            .filter_map(|s| {
                let demo = s.name.parse::<Demo>().ok()?;
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
            ClientMsg::Send { sock, text } => {
                self.command(sock, SockCmd::Data(text.into_bytes())).await
            }
            ClientMsg::Shutdown { sock } => self.command(sock, SockCmd::Shutdown).await,
            ClientMsg::Close { sock } => match self.sockets.remove(&sock) {
                Some(handle) => handle.close(ClosedBy::Page, "closed by the page").await,
                None => self.send(unknown_socket(sock)).await,
            },
            ClientMsg::Subscribe { demos } => self.subscribe(demos),
            ClientMsg::Unsubscribe => {
                if let Some(events) = self.events.take() {
                    events.abort();
                }
            }
        }
    }

    async fn on_binary(&mut self, bytes: Vec<u8>) {
        match decode_send(&bytes) {
            Ok((sock, payload)) => self.command(sock, SockCmd::Data(payload.to_vec())).await,
            Err(e @ (BinaryError::Short(_) | BinaryError::UnknownTag(_))) => {
                self.send(error(None, "bad_binary", e.to_string())).await;
            }
        }
    }

    async fn command(&mut self, sock: SocketId, cmd: SockCmd) {
        let Some(handle) = self.sockets.get(&sock) else {
            self.send(unknown_socket(sock)).await;
            return;
        };
        // Waits when the socket's writer is behind: the page is paced by the peer.
        if handle.cmd.send(cmd).await.is_err() {
            self.sockets.remove(&sock);
            self.send(error(
                Some(sock),
                "socket_closed",
                format!("socket {sock} is closed; open a new one"),
            ))
            .await;
        }
    }

    fn subscribe(&mut self, demos: Vec<Demo>) {
        if let Some(old) = self.events.take() {
            old.abort();
        }
        let mut sub = self.env.ctx.bus.subscribe();
        let out = self.out.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = sub.recv().await {
                let wanted = demos.is_empty()
                    || demos.contains(&event.demo)
                    || matches!(event.kind, protocol::events::EventKind::Lagged { .. });
                if wanted {
                    let msg = ServerMsg::Event {
                        event: (*event).clone(),
                    };
                    // Waiting here is fine: the bus drops what we miss and says so.
                    if out.send(Outbound::msg(&msg)).await.is_err() {
                        return;
                    }
                }
            }
        });
        self.events = Some(task.abort_handle());
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
                .find(|s| s.name == demo.name())
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
        self.sockets.retain(|_, h| !h.is_finished());
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
                format!("a session may hold {limit} sockets at once; close one first"),
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
        let opened = match transport {
            Transport::Tcp => self.open_tcp(sock, addr, nodelay, sticky, ack).await,
            Transport::Udp => self.open_udp(sock, addr, ack).await,
        };
        match opened {
            Ok((handle, local, peer)) => {
                self.sockets.insert(sock, handle);
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
        sock: SocketId,
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
        let key = SocketAddr::new(addr.ip(), local.port());
        if let Some(options) = sticky {
            self.env.ctx.sticky.set(key, options);
        }
        let stream = match socket.connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                self.env.ctx.sticky.forget(key);
                return Err(e);
            }
        };
        stream.set_nodelay(nodelay)?;
        let (local, peer) = (stream.local_addr()?, stream.peer_addr()?);
        Ok((
            spawn_tcp(sock, stream, self.out.clone(), self.epoch, ack),
            local,
            peer,
        ))
    }

    async fn open_udp(
        &self,
        sock: SocketId,
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
            spawn_udp(sock, socket, self.out.clone(), self.epoch, ack),
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
