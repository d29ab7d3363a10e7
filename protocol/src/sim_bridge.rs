//! The bridge, simulated: the same messages a page exchanges with the real
//! `/ws`, answered by the demos' own [`Conversation`]s over a modelled
//! network in virtual time.
//!
//! A page with no Socket Lab server behind it (a course site, a static copy)
//! talks to this instead of a WebSocket. Because it speaks
//! [`crate::bridge`]'s protocol — `opened`, one `R` read per delivery,
//! `closed` once, server events tagged with the page's socket — a lab has one
//! code path: it cannot tell the two apart except by the numbers, and by the
//! knobs only a model has (UDP loss and reordering, [`SimBridge::set_network`]).
//!
//! Like every driver of the conversations, this one owns the clock: the
//! caller passes `now` (µs, any origin, never going back), calls
//! [`handle_timeout`](SimBridge::handle_timeout) at
//! [`poll_timeout`](SimBridge::poll_timeout), and drains
//! [`poll`](SimBridge::poll).
//!
//! The model, kept small and said plainly: a constant one-way latency; Nagle
//! holds a small write while earlier data is un-ACKed (one round trip);
//! nothing is lost on TCP; the server reads as its conversation's
//! [`ReadHint`](crate::conversation::ReadHint) says (the sticky demo's read
//! size and delay); `tcp-echo` accepts one client at a time and the next waits
//! in the accept queue; UDP datagrams may be lost or delayed by the
//! configured chances.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::bridge::{ClientMsg, ClosedBy, DemoInfo, Limits, PROTOCOL_VERSION, ServerMsg, SocketId};
use crate::conversation::{self, Conversation, Output, Settings};
use crate::demo::{Demo, StickyOptions, Transport};
use crate::events::{Closer, EventKind, ServerEvent};
use crate::hex::HexBytes;
use crate::sim::{Segment, SimRng};

/// Why a simulated lab has no kernel view.
pub const SIMULATED_KERNEL: &str = "This lab is simulated: there is no kernel in the page to ask. \
     Start socket-lab on Linux and reload to see your own sockets as the kernel sees them.";

/// What the simulated bridge hands the page.
#[derive(Debug, Clone, PartialEq)]
pub enum ToPage {
    /// A control message, as the real bridge would send it.
    Msg(ServerMsg),
    /// One read on a socket (a binary `R` frame's content).
    Read {
        /// Which socket.
        sock: SocketId,
        /// Virtual µs since the simulation started.
        at_us: u64,
        /// What the read returned.
        data: Vec<u8>,
    },
    /// The model put some of the page's bytes on its wire: one TCP segment
    /// (only a model can say; the real bridge's kernel keeps its own).
    Segment {
        /// Which socket sent it.
        sock: SocketId,
        /// The segment.
        segment: Segment,
        /// Nagle held it back until the ACK of earlier data.
        held: bool,
    },
}

/// The simulated network's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network {
    /// One-way latency, µs.
    pub one_way_us: u64,
    /// Chance that a UDP datagram is lost (0.0–1.0).
    pub udp_loss: f64,
    /// Chance that a UDP datagram is held back long enough to arrive after
    /// the next one (0.0–1.0).
    pub udp_reorder: f64,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            one_way_us: 500,
            udp_loss: 0.0,
            udp_reorder: 0.0,
        }
    }
}

/// Sockets a session may hold, as the real bridge's default.
pub const SOCKETS_PER_SESSION: usize = 16;

/// The TCP connection between the page's socket and a demo.
#[derive(Debug)]
struct Tcp {
    /// Bytes on their way to (or waiting at) the server: (arrives at, bytes).
    to_server: VecDeque<(u64, Vec<u8>)>,
    /// When the page's FIN reaches the server.
    fin_at: Option<u64>,
    /// Nagle: a small write waiting for the ACK of earlier data (sent then).
    held: Option<(u64, Vec<u8>)>,
    /// Data in flight is ACKed by then (µs).
    unacked_until: u64,
    nagle: bool,
    /// The server's side, once it has accepted.
    conv: Option<Conversation>,
    /// The server may read again from this time (its read delay).
    ready_at: u64,
    /// When the handshake completes at the server (it may accept then).
    syn_done_at: u64,
    sticky: Option<StickyOptions>,
    /// The page sent `shutdown` or `close`: no more sends.
    page_done: bool,
}

#[derive(Debug)]
struct Sock {
    demo: Demo,
    conn: u64,
    /// The page's id for it, kept for tagging events after the page let go.
    page_id: SocketId,
    /// Whether the page still holds it (reads and `closed` reach the page).
    attached: bool,
    /// The page's end, which the demo sees as its peer.
    local: String,
    tcp: Option<Tcp>,
}

/// What falls due next for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Accept,
    Release,
    Read,
    Eof,
    Timeout,
}

/// A whole simulated bridge session: one page's sockets, the demos behind
/// them, and the network between.
#[derive(Debug)]
pub struct SimBridge {
    settings: Settings,
    net: Network,
    rng: SimRng,
    demos: Vec<DemoInfo>,
    /// Every connection still alive on either side, by a key of our own.
    socks: BTreeMap<u64, Sock>,
    /// The page's ids of the sockets it holds.
    page: HashMap<SocketId, u64>,
    next_key: u64,
    /// Ids whose peer closed them lately: closing them again is a no-op.
    peer_closed: VecDeque<SocketId>,
    watching: Option<Vec<Demo>>,
    next_conn: u64,
    /// `tcp-echo` is iterative: the connection it serves, who waits in its
    /// accept queue, and since when it has been free.
    echo_serving: Option<u64>,
    echo_waiting: VecDeque<u64>,
    echo_free_since: u64,
    /// Deliveries to the page by (time, order).
    pending: BTreeMap<(u64, u64), ToPage>,
    seq: u64,
}

impl SimBridge {
    /// A session whose demos use `settings`, with randomness from `seed`.
    pub fn new(settings: Settings, seed: u64) -> Self {
        let demos = Demo::ALL
            .iter()
            .map(|&demo| DemoInfo {
                demo,
                transport: demo.transport(),
                addr: format!("127.0.0.1:{}", demo.default_port()),
            })
            .collect();
        Self {
            settings,
            net: Network::default(),
            rng: SimRng::new(seed),
            demos,
            socks: BTreeMap::new(),
            page: HashMap::new(),
            next_key: 1,
            peer_closed: VecDeque::new(),
            watching: None,
            next_conn: 1,
            echo_serving: None,
            echo_waiting: VecDeque::new(),
            echo_free_since: 0,
            pending: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Changes the network model (the UDP lab's loss and reordering knobs).
    pub fn set_network(&mut self, net: Network) {
        self.net = net;
    }

    /// The first message of the session, as the real bridge sends it.
    pub fn welcome(&self) -> ServerMsg {
        ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            demos: self.demos.clone(),
            limits: Limits {
                sockets_per_session: SOCKETS_PER_SESSION,
                max_message: 1 << 20,
                idle_timeout_secs: 600,
                handshake_timeout_ms: self.settings.handshake_timeout_us / 1000,
            },
        }
    }

    /// How many sockets the page holds.
    pub fn socket_count(&self) -> usize {
        self.page.len()
    }

    /// The next delivery to the page that is due by `now`, in order.
    pub fn poll(&mut self, now: u64) -> Option<ToPage> {
        let (&key, _) = self.pending.first_key_value()?;
        if key.0 > now {
            return None;
        }
        self.pending.remove(&key)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) (or
    /// [`poll`](Self::poll)) next, if nothing else happens first.
    pub fn poll_timeout(&self) -> Option<u64> {
        let delivery = self.pending.first_key_value().map(|((t, _), _)| *t);
        let internal = self
            .socks
            .keys()
            .filter_map(|k| self.due(*k).map(|(t, _)| t))
            .min();
        match (delivery, internal) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs everything inside the model that falls due by `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        loop {
            let next = self
                .socks
                .keys()
                .filter_map(|k| self.due(*k).map(|(t, d)| (t, *k, d)))
                .min_by_key(|(t, k, _)| (*t, *k));
            match next {
                Some((t, key, due)) if t <= now => self.run(t, key, due),
                _ => return,
            }
        }
    }

    fn due(&self, key: u64) -> Option<(u64, Due)> {
        let sock = self.socks.get(&key)?;
        let tcp = sock.tcp.as_ref()?;
        let Some(conv) = &tcp.conv else {
            let can = sock.demo != Demo::TcpEcho
                || (self.echo_serving.is_none() && self.echo_waiting.front() == Some(&key));
            return can.then(|| {
                let at = if sock.demo == Demo::TcpEcho {
                    tcp.syn_done_at.max(self.echo_free_since)
                } else {
                    tcp.syn_done_at
                };
                (at, Due::Accept)
            });
        };
        let mut best: Option<(u64, Due)> = None;
        let mut offer = |t: u64, d: Due| {
            if best.is_none_or(|(b, _)| t < b) {
                best = Some((t, d));
            }
        };
        if let Some((t, _)) = &tcp.held {
            offer(*t, Due::Release);
        }
        if let Some((arrive, _)) = tcp.to_server.front() {
            offer((*arrive).max(tcp.ready_at), Due::Read);
        } else if let (Some(fin), None) = (tcp.fin_at, &tcp.held) {
            offer(fin.max(tcp.ready_at), Due::Eof);
        }
        if let Some(t) = conv.poll_timeout() {
            offer(t, Due::Timeout);
        }
        best
    }

    fn run(&mut self, t: u64, key: u64, due: Due) {
        let ow = self.net.one_way_us;
        match due {
            Due::Accept => {
                let challenge = self.challenge();
                let settings = self.settings.clone();
                let Some(sock) = self.socks.get_mut(&key) else {
                    return;
                };
                let demo = sock.demo;
                let Some(tcp) = sock.tcp.as_mut() else {
                    return;
                };
                let conv = Conversation::new(demo, &settings, t, challenge, tcp.sticky);
                tcp.ready_at = t + conv.read_hint().delay_us;
                tcp.conv = Some(conv);
                if demo == Demo::TcpEcho {
                    self.echo_waiting.retain(|w| *w != key);
                    self.echo_serving = Some(key);
                }
                let local = self.demo_addr(demo);
                self.event(t, key, EventKind::Accepted { local });
                if demo == Demo::Chat {
                    self.chat_join(t, key);
                }
            }
            Due::Release => {
                if let Some(tcp) = self.tcp(key)
                    && let Some((at, bytes)) = tcp.held.take()
                {
                    tcp.to_server.push_back((at + ow, bytes.clone()));
                    tcp.unacked_until = at + 2 * ow;
                    self.segment(key, at, bytes, true);
                }
            }
            Due::Read => {
                let Some(tcp) = self.tcp(key) else {
                    return;
                };
                let Some(conv) = tcp.conv.as_mut() else {
                    return;
                };
                let hint = conv.read_hint();
                let mut data = Vec::new();
                while data.len() < hint.size {
                    let Some((arrive, seg)) = tcp.to_server.front_mut() else {
                        break;
                    };
                    if *arrive > t {
                        break;
                    }
                    let take = seg.len().min(hint.size - data.len());
                    data.extend(seg.drain(..take));
                    if seg.is_empty() {
                        tcp.to_server.pop_front();
                    }
                }
                tcp.ready_at = t + hint.delay_us;
                // The FIN right behind the data, as the native driver's peek sees it.
                let fin_behind = tcp.to_server.is_empty()
                    && tcp.held.is_none()
                    && tcp.fin_at.is_some_and(|f| f <= t);
                if fin_behind {
                    conv.handle_data_then_eof(t, &data);
                } else {
                    conv.handle_data(t, &data);
                }
            }
            Due::Eof => {
                if let Some(conv) = self.tcp(key).and_then(|tcp| tcp.conv.as_mut()) {
                    conv.handle_eof(t);
                }
            }
            Due::Timeout => {
                if let Some(conv) = self.tcp(key).and_then(|tcp| tcp.conv.as_mut()) {
                    conv.handle_timeout(t);
                }
            }
        }
        self.drain(t, key);
    }

    fn tcp(&mut self, key: u64) -> Option<&mut Tcp> {
        self.socks.get_mut(&key)?.tcp.as_mut()
    }

    /// Does what the conversation of `key` says, at time `t`.
    fn drain(&mut self, t: u64, key: u64) {
        let ow = self.net.one_way_us;
        loop {
            let Some(out) = self
                .tcp(key)
                .and_then(|tcp| tcp.conv.as_mut())
                .and_then(Conversation::poll_output)
            else {
                return;
            };
            let (page_id, attached) = match self.socks.get(&key) {
                Some(s) => (s.page_id, s.attached),
                None => return,
            };
            match out {
                Output::Send(data) => {
                    if attached {
                        self.read_at(t + ow, page_id, data);
                    }
                }
                Output::Event(kind) => self.event(t, key, kind),
                Output::Broadcast(line) => {
                    let peer = self.socks.get(&key).map(|s| s.local.clone());
                    if let Some(peer) = peer {
                        self.chat_relay(t, key, crate::chat::relay(&peer, &line));
                    }
                }
                Output::Close => {
                    if attached {
                        self.deliver(
                            t + ow,
                            ToPage::Msg(ServerMsg::Closed {
                                sock: page_id,
                                by: ClosedBy::Peer,
                                reason: "the server closed the connection (read returned 0 bytes)"
                                    .into(),
                            }),
                        );
                        self.page.remove(&page_id);
                        self.remember_peer_closed(page_id);
                    }
                    self.forget(t, key);
                    return;
                }
            }
        }
    }

    fn remember_peer_closed(&mut self, id: SocketId) {
        if self.peer_closed.len() == 64 {
            self.peer_closed.pop_front();
        }
        self.peer_closed.push_back(id);
    }

    /// Members of the chat room: chat connections the demo has accepted.
    fn chat_members(&self) -> Vec<u64> {
        self.socks
            .iter()
            .filter(|(_, s)| {
                s.demo == Demo::Chat && s.tcp.as_ref().is_some_and(|t| t.conv.is_some())
            })
            .map(|(k, _)| *k)
            .collect()
    }

    /// The chat demo sends `bytes` to every member but `from`, and says so.
    fn chat_relay(&mut self, t: u64, from: u64, bytes: Vec<u8>) {
        let ow = self.net.one_way_us;
        let mut to = 0;
        for key in self.chat_members() {
            if key == from {
                continue;
            }
            to += 1;
            if let Some(s) = self.socks.get(&key).filter(|s| s.attached) {
                let sock = s.page_id;
                self.read_at(t + ow, sock, bytes.clone());
            }
        }
        let data = HexBytes::capped(&bytes[..bytes.len().min(crate::events::MAX_EVENT_BYTES)]);
        let size = bytes.len();
        self.event(t, from, EventKind::Broadcast { size, data, to });
    }

    /// A new chat member: its welcome, and the others told.
    fn chat_join(&mut self, t: u64, key: u64) {
        let ow = self.net.one_way_us;
        let Some(sock) = self.socks.get(&key) else {
            return;
        };
        let (peer, page_id, attached) = (sock.local.clone(), sock.page_id, sock.attached);
        let others = self.chat_members().len().saturating_sub(1);
        let welcome = crate::chat::welcome(&peer, others);
        let size = welcome.len();
        let data = HexBytes::capped(&welcome);
        if attached {
            self.read_at(t + ow, page_id, welcome);
        }
        self.event(t, key, EventKind::Reply { size, data });
        self.chat_relay(t, key, crate::chat::joined(&peer));
    }

    /// The connection is over on the demo's side too.
    fn forget(&mut self, t: u64, key: u64) {
        let left = self
            .socks
            .get(&key)
            .filter(|s| s.demo == Demo::Chat && s.tcp.as_ref().is_some_and(|t| t.conv.is_some()))
            .map(|s| s.local.clone());
        if let Some(peer) = left {
            self.chat_relay(t, key, crate::chat::left(&peer));
        }
        self.socks.remove(&key);
        self.echo_waiting.retain(|w| *w != key);
        if self.echo_serving == Some(key) {
            self.echo_serving = None;
            self.echo_free_since = t;
        }
    }

    fn challenge(&mut self) -> crate::auth::Challenge {
        let mut c = [0u8; 32];
        for chunk in c.chunks_mut(8) {
            let n = self.rng.up_to(u64::MAX).to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
        c
    }

    /// A read on the page's socket `sock` at time `at`.
    fn read_at(&mut self, at: u64, sock: SocketId, data: Vec<u8>) {
        self.deliver(
            at,
            ToPage::Read {
                sock,
                at_us: at,
                data,
            },
        );
    }

    fn deliver(&mut self, at: u64, what: ToPage) {
        // Two replies that reach the page's socket at the same moment come
        // out of one read, as they would from a real socket buffer.
        if let ToPage::Read { sock, data, .. } = &what {
            let last = self
                .pending
                .range_mut((at, 0)..=(at, u64::MAX))
                .next_back()
                .map(|(_, v)| v);
            if let Some(ToPage::Read {
                sock: s, data: d, ..
            }) = last
                && s == sock
            {
                d.extend_from_slice(data);
                return;
            }
        }
        self.seq += 1;
        self.pending.insert((at, self.seq), what);
    }

    fn error(&mut self, now: u64, sock: Option<SocketId>, code: &str, message: String) {
        self.deliver(
            now,
            ToPage::Msg(ServerMsg::Error {
                sock,
                code: code.to_owned(),
                message,
            }),
        );
    }

    fn event(&mut self, at: u64, key: u64, kind: EventKind) {
        let Some(sock) = self.socks.get(&key) else {
            return;
        };
        let wanted = self
            .watching
            .as_ref()
            .is_some_and(|d| d.is_empty() || d.contains(&sock.demo));
        if !wanted {
            return;
        }
        let event = ServerEvent {
            demo: sock.demo,
            conn: sock.conn,
            peer: sock.local.clone(),
            at_us: at,
            kind,
        };
        let sock = Some(sock.page_id);
        self.deliver(at, ToPage::Msg(ServerMsg::Event { event, sock }));
    }

    fn demo_addr(&self, demo: Demo) -> String {
        format!("127.0.0.1:{}", demo.default_port())
    }

    /// A text message from the page.
    pub fn handle_text(&mut self, now: u64, text: &str) {
        match serde_json::from_str::<ClientMsg>(text) {
            Ok(msg) => self.handle_msg(now, msg),
            Err(e) => self.error(
                now,
                None,
                "bad_message",
                format!("could not read that message ({e})"),
            ),
        }
    }

    /// A control message from the page.
    pub fn handle_msg(&mut self, now: u64, msg: ClientMsg) {
        self.handle_timeout(now);
        match msg {
            ClientMsg::Open {
                sock,
                demo,
                target,
                nodelay,
                sticky,
                ..
            } => self.open(now, sock, demo, target, nodelay, sticky),
            ClientMsg::Send { sock, text } => self.handle_send(now, sock, text.as_bytes()),
            ClientMsg::Shutdown { sock } => self.shutdown(now, sock),
            ClientMsg::Close { sock } => self.close(now, sock, false),
            ClientMsg::Reset { sock } => self.close(now, sock, true),
            ClientMsg::Status {} => {
                let sockets = self.page.len();
                self.deliver(now, ToPage::Msg(ServerMsg::Status { sockets }));
            }
            ClientMsg::Subscribe { demos } => self.watching = Some(demos),
            ClientMsg::Unsubscribe {} => self.watching = None,
            // No check runs on a page: there is nothing to send, ever.
            ClientMsg::WatchChecks {} => {}
            // No kernel in a page: say so, as a server on a non-Linux system does.
            ClientMsg::WatchKernel { .. } => {
                let msg = crate::kernel::KernelMsg::Unsupported {
                    reason: SIMULATED_KERNEL.to_owned(),
                };
                self.deliver(now, ToPage::Msg(ServerMsg::Kernel { msg }));
            }
            ClientMsg::UnwatchKernel {} => {}
            ClientMsg::TcpInfo { sock } => {
                let msg = ServerMsg::TcpInfo {
                    sock,
                    counters: None,
                    missing: Some(SIMULATED_KERNEL.to_owned()),
                };
                self.deliver(now, ToPage::Msg(msg));
            }
        }
    }

    fn unknown(&mut self, now: u64, sock: SocketId) {
        if !self.peer_closed.contains(&sock) {
            self.error(
                now,
                Some(sock),
                "unknown_socket",
                format!("there is no open socket {sock}; open it first"),
            );
        }
    }

    fn open(
        &mut self,
        now: u64,
        id: SocketId,
        demo: Option<Demo>,
        target: Option<String>,
        nodelay: bool,
        sticky: Option<StickyOptions>,
    ) {
        let Some(demo) = demo.filter(|_| target.is_none()) else {
            return self.error(
                now,
                Some(id),
                "target_not_allowed",
                "the simulated bridge connects to the demos by name only".into(),
            );
        };
        if self.page.contains_key(&id) {
            return self.error(
                now,
                Some(id),
                "socket_in_use",
                format!("socket id {id} is already open; pick another id"),
            );
        }
        if self.page.len() >= SOCKETS_PER_SESSION {
            return self.error(
                now,
                Some(id),
                "too_many_sockets",
                format!(
                    "this page already holds {SOCKETS_PER_SESSION} open sockets, the most a session may; \
                     close one of its open connections (each lab has a Close button) or reload the page"
                ),
            );
        }
        let sticky = match (demo, sticky.map(StickyOptions::validate)) {
            (_, None) => None,
            (Demo::Sticky, Some(Ok(o))) => Some(o),
            (Demo::Sticky, Some(Err(e))) => {
                return self.error(now, Some(id), "bad_sticky_options", e.to_string());
            }
            _ => {
                return self.error(
                    now,
                    Some(id),
                    "bad_open",
                    "read settings (\"sticky\") apply only to the sticky demo".into(),
                );
            }
        };
        self.peer_closed.retain(|s| *s != id);
        // Linux's default ephemeral port range.
        let port = 32768 + self.rng.up_to(60999 - 32768);
        let local = format!("127.0.0.1:{port}");
        let conn = self.next_conn;
        self.next_conn += 1;
        let ow = self.net.one_way_us;
        let transport = demo.transport();
        let tcp = (transport == Transport::Tcp).then(|| Tcp {
            to_server: VecDeque::new(),
            fin_at: None,
            held: None,
            unacked_until: 0,
            nagle: !nodelay,
            conv: None,
            ready_at: 0,
            // SYN there, SYN-ACK back, ACK there.
            syn_done_at: now + 3 * ow,
            sticky,
            page_done: false,
        });
        let key = self.next_key;
        self.next_key += 1;
        self.socks.insert(
            key,
            Sock {
                demo,
                conn,
                page_id: id,
                attached: true,
                local: local.clone(),
                tcp,
            },
        );
        self.page.insert(id, key);
        if demo == Demo::TcpEcho {
            self.echo_waiting.push_back(key);
        }
        let connected_at = if transport == Transport::Tcp {
            now + 2 * ow
        } else {
            now
        };
        self.deliver(
            connected_at,
            ToPage::Msg(ServerMsg::Opened {
                sock: id,
                transport,
                local,
                peer: self.demo_addr(demo),
            }),
        );
    }

    /// Bytes the page sends on a socket (a binary `D` frame's payload).
    pub fn handle_send(&mut self, now: u64, id: SocketId, bytes: &[u8]) {
        self.handle_timeout(now);
        let ow = self.net.one_way_us;
        let Some(&key) = self.page.get(&id) else {
            return self.unknown(now, id);
        };
        let Some(tcp) = self.tcp(key) else {
            return self.datagram(now, key, bytes);
        };
        if tcp.page_done {
            return self.error(
                now,
                Some(id),
                "shut_down",
                format!(
                    "socket {id} was shut down for sending (half-closed); it still reads what the \
                     server sends; open a new socket to send more"
                ),
            );
        }
        if bytes.is_empty() {
            return;
        }
        // Bytes leave once the handshake is done.
        let start = now.max(tcp.syn_done_at - ow);
        if let Some((_, held)) = &mut tcp.held {
            held.extend_from_slice(bytes);
        } else if tcp.nagle && tcp.unacked_until > start {
            tcp.held = Some((tcp.unacked_until, bytes.to_vec()));
        } else {
            tcp.to_server.push_back((start + ow, bytes.to_vec()));
            tcp.unacked_until = start + 2 * ow;
            self.segment(key, start, bytes.to_vec(), false);
        }
    }

    /// Tells the page that `data` of connection `key` left at `at` as one
    /// segment (arriving one latency later).
    fn segment(&mut self, key: u64, at: u64, data: Vec<u8>, held: bool) {
        let Some(sock) = self
            .socks
            .get(&key)
            .filter(|s| s.attached)
            .map(|s| s.page_id)
        else {
            return;
        };
        let arrive_at_us = at + self.net.one_way_us;
        self.deliver(
            at,
            ToPage::Segment {
                sock,
                segment: Segment {
                    sent_at_us: at,
                    arrive_at_us,
                    data,
                },
                held,
            },
        );
    }

    fn datagram(&mut self, now: u64, key: u64, bytes: &[u8]) {
        let Some(page_id) = self.socks.get(&key).map(|s| s.page_id) else {
            return;
        };
        if self.rng.chance(self.net.udp_loss) {
            return; // lost on the way: nobody hears of it, as with real UDP
        }
        let ow = self.net.one_way_us;
        let mut arrive = now + ow;
        if self.rng.chance(self.net.udp_reorder) {
            arrive += 20_000 + self.rng.up_to(30_000);
        }
        let (kind, reply) = conversation::datagram(bytes);
        self.event(arrive, key, kind);
        self.event(
            arrive,
            key,
            EventKind::Reply {
                size: reply.len(),
                data: HexBytes::capped(&reply),
            },
        );
        // Datagrams keep their boundaries: never merged with another read.
        self.seq += 1;
        self.pending.insert(
            (arrive + ow, self.seq),
            ToPage::Read {
                sock: page_id,
                at_us: arrive + ow,
                data: reply,
            },
        );
    }

    fn shutdown(&mut self, now: u64, id: SocketId) {
        let ow = self.net.one_way_us;
        let Some(&key) = self.page.get(&id) else {
            return self.unknown(now, id);
        };
        let Some(tcp) = self.tcp(key) else {
            return self.error(
                now,
                Some(id),
                "not_tcp",
                "UDP has no connection to half-close; close the socket instead".into(),
            );
        };
        fin(tcp, now, ow);
    }

    fn close(&mut self, now: u64, id: SocketId, reset: bool) {
        let ow = self.net.one_way_us;
        let Some(key) = self.page.remove(&id) else {
            return self.unknown(now, id);
        };
        let reason = if reset {
            "reset by the page: SO_LINGER 0 made close send RST, not FIN"
        } else {
            "closed by the page"
        };
        self.deliver(
            now,
            ToPage::Msg(ServerMsg::Closed {
                sock: id,
                by: ClosedBy::Page,
                reason: reason.into(),
            }),
        );
        let Some(sock) = self.socks.get_mut(&key) else {
            return;
        };
        sock.attached = false;
        let Some(tcp) = sock.tcp.as_mut() else {
            self.socks.remove(&key); // UDP: nothing left to finish
            return;
        };
        if reset {
            // The demo's next read fails at once: the client vanished.
            let accepted = tcp.conv.is_some();
            if accepted {
                self.event(
                    now + ow,
                    key,
                    EventKind::Closed {
                        by: Closer::Client,
                        reason: "the client vanished (Connection reset by peer (os error 104))"
                            .into(),
                    },
                );
            }
            self.forget(now + ow, key);
        } else {
            // A FIN after what is in flight: the demo finishes on its own,
            // but nothing it sends reaches the page any more.
            fin(tcp, now, ow);
        }
    }
}

/// The page's side sends FIN after everything it has written.
fn fin(tcp: &mut Tcp, now: u64, ow: u64) {
    tcp.page_done = true;
    if tcp.fin_at.is_none() {
        let last = tcp
            .to_server
            .back()
            .map(|(t, _)| *t)
            .into_iter()
            .chain(tcp.held.as_ref().map(|(t, _)| t + ow))
            .max()
            .unwrap_or(0);
        tcp.fin_at = Some(last.max(now + ow).max(tcp.syn_done_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::ClientMsg;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn open(sock: SocketId, demo: Demo) -> ClientMsg {
        ClientMsg::open(sock, demo)
    }

    /// Runs the bridge until `until` µs and returns everything delivered.
    fn run(b: &mut SimBridge, until: u64) -> Vec<ToPage> {
        let mut got = Vec::new();
        loop {
            let now = match b.poll_timeout() {
                Some(t) if t <= until => t,
                _ => break,
            };
            b.handle_timeout(now);
            while let Some(x) = b.poll(now) {
                got.push(x);
            }
        }
        got
    }

    fn reads(got: &[ToPage], sock: SocketId) -> Vec<Vec<u8>> {
        got.iter()
            .filter_map(|x| match x {
                ToPage::Read { sock: s, data, .. } if *s == sock => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn events(got: &[ToPage]) -> Vec<(&EventKind, Option<SocketId>)> {
        got.iter()
            .filter_map(|x| match x {
                ToPage::Msg(ServerMsg::Event { event, sock }) => Some((&event.kind, *sock)),
                _ => None,
            })
            .collect()
    }

    fn closed(got: &[ToPage], sock: SocketId) -> Option<ClosedBy> {
        got.iter().find_map(|x| match x {
            ToPage::Msg(ServerMsg::Closed { sock: s, by, .. }) if *s == sock => Some(*by),
            _ => None,
        })
    }

    /// A simulated bridge (seeded) whose page hears every demo's events.
    fn subscribed(seed: u64) -> SimBridge {
        let mut b = SimBridge::new(Settings::default(), seed);
        b.handle_msg(0, ClientMsg::Subscribe { demos: vec![] });
        b
    }

    #[test]
    fn tcp_echo_answers_and_a_second_client_waits_for_the_first() {
        let mut b = subscribed(1);
        b.handle_msg(0, open(1, Demo::TcpEcho));
        b.handle_send(0, 1, b"Hello");
        let got = run(&mut b, 10_000);
        assert_eq!(reads(&got, 1), [b"ACK: Hello".to_vec()]);

        b.handle_msg(10_000, open(2, Demo::TcpEcho));
        b.handle_send(10_000, 2, b"second");
        let got = run(&mut b, 50_000);
        assert!(reads(&got, 2).is_empty(), "the iterative server is busy");
        assert!(
            matches!(
                got.as_slice(),
                [
                    ToPage::Msg(ServerMsg::Opened { sock: 2, .. }),
                    ToPage::Segment { sock: 2, .. }
                ]
            ),
            "the kernel completed the handshake and sent the bytes: {got:?}"
        );

        b.handle_msg(50_000, ClientMsg::Close { sock: 1 });
        let got = run(&mut b, 100_000);
        assert_eq!(reads(&got, 2), [b"ACK: second".to_vec()]);
        let kinds: Vec<_> = events(&got)
            .into_iter()
            .map(|(k, s)| (std::mem::discriminant(k), s))
            .collect();
        assert_eq!(
            kinds.first().map(|k| k.1),
            Some(Some(1)),
            "first the first client's close: {got:?}"
        );
        b.handle_msg(100_000, ClientMsg::Status {});
        assert_eq!(
            run(&mut b, 100_000).last(),
            Some(&ToPage::Msg(ServerMsg::Status { sockets: 1 }))
        );
    }

    #[test]
    fn watching_checks_is_accepted_and_never_answered() {
        let mut b = SimBridge::new(Settings::default(), 2);
        b.handle_text(0, r#"{"type":"watch_checks"}"#);
        b.handle_msg(0, open(1, Demo::TcpEcho));
        b.handle_send(0, 1, b"hi");
        let got = run(&mut b, 100_000);
        assert!(
            got.iter().all(|x| !matches!(
                x,
                ToPage::Msg(ServerMsg::Check { .. } | ServerMsg::Error { .. })
            )),
            "no check and no error in the page: {got:?}"
        );
        assert_eq!(reads(&got, 1), [b"ACK: hi".to_vec()]);
    }

    #[test]
    fn a_socket_the_demo_closes_is_freed_and_its_id_reusable_500_times() {
        let mut b = SimBridge::new(Settings::default(), 2);
        let mut now = 0;
        for i in 0..500 {
            b.handle_msg(now, open(1, Demo::Uppercase));
            b.handle_send(now, 1, format!("x{i}").as_bytes());
            let got = run(&mut b, now + 20_000);
            assert_eq!(reads(&got, 1), [format!("X{i}").into_bytes()]);
            assert_eq!(closed(&got, 1), Some(ClosedBy::Peer));
            now += 20_000;
            // A late close from the page is quiet.
            b.handle_msg(now, ClientMsg::Close { sock: 1 });
            assert_eq!(b.socket_count(), 0);
            assert!(run(&mut b, now).is_empty());
        }
    }

    #[test]
    fn sticky_merges_with_a_read_delay_and_splits_with_a_small_read_size() {
        let mut b = SimBridge::new(Settings::default(), 3);
        b.handle_msg(
            0,
            ClientMsg::Subscribe {
                demos: vec![Demo::Sticky],
            },
        );
        let sticky = |sock, read_size, read_delay_ms| ClientMsg::Open {
            sock,
            demo: Some(Demo::Sticky),
            target: None,
            nodelay: true,
            sticky: Some(StickyOptions {
                read_size,
                read_delay_ms,
            }),
            ack: false,
        };
        b.handle_msg(0, sticky(1, 1024, 300));
        b.handle_send(0, 1, b"Hello");
        b.handle_send(0, 1, b"World");
        b.handle_msg(0, ClientMsg::Shutdown { sock: 1 });
        b.handle_msg(0, sticky(2, 3, 0));
        b.handle_send(0, 2, b"HelloWorld");
        b.handle_msg(0, ClientMsg::Shutdown { sock: 2 });
        let got = run(&mut b, 2_000_000);
        let server_reads = |sock| -> Vec<Vec<u8>> {
            events(&got)
                .into_iter()
                .filter_map(|(k, s)| match k {
                    EventKind::Read { data, .. } if s == Some(sock) => Some(data.0.clone()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(server_reads(1), [b"HelloWorld".to_vec()]);
        assert_eq!(
            server_reads(2),
            [
                b"Hel".to_vec(),
                b"loW".to_vec(),
                b"orl".to_vec(),
                b"d".to_vec()
            ]
        );
        assert_eq!(closed(&got, 1), Some(ClosedBy::Peer));
    }

    #[test]
    fn nagle_holds_the_second_write_and_the_page_is_told_each_segment() {
        let mut b = SimBridge::new(Settings::default(), 3);
        let mut open = ClientMsg::open(1, Demo::Sticky);
        if let ClientMsg::Open { nodelay, .. } = &mut open {
            *nodelay = false;
        }
        b.handle_msg(0, open);
        b.handle_send(0, 1, b"Hello");
        b.handle_send(10, 1, b"World");
        b.handle_send(20, 1, b"!");
        let got = run(&mut b, 2_000_000);
        let segments: Vec<(u64, u64, &[u8], bool)> = got
            .iter()
            .filter_map(|x| match x {
                ToPage::Segment {
                    sock: 1,
                    segment,
                    held,
                } => Some((
                    segment.sent_at_us,
                    segment.arrive_at_us,
                    segment.data.as_slice(),
                    *held,
                )),
                _ => None,
            })
            .collect();
        let ow = Network::default().one_way_us;
        assert_eq!(segments.len(), 2, "{segments:?}");
        // The first write goes as the handshake completes; the next two
        // wait together for its ACK, one round trip later.
        let (sent, arrive, data, held) = segments[0];
        assert_eq!((data, held, arrive - sent), (&b"Hello"[..], false, ow));
        let (sent2, _, data2, held2) = segments[1];
        assert_eq!((data2, held2), (&b"World!"[..], true));
        assert_eq!(sent2, sent + 2 * ow);
    }

    #[test]
    fn auth_times_out_a_silent_page_and_says_why() {
        let settings = Settings {
            handshake_timeout_us: 1_000_000,
            ..Settings::default()
        };
        let mut b = SimBridge::new(settings, 4);
        b.handle_msg(0, ClientMsg::Subscribe { demos: vec![] });
        b.handle_msg(0, open(1, Demo::Auth));
        let got = run(&mut b, 5_000_000);
        assert_eq!(reads(&got, 1)[0].len(), 32, "the challenge");
        assert!(events(&got).iter().any(|(k, _)| matches!(
            k,
            EventKind::Verdict {
                granted: false,
                reason: Some(crate::auth::DenyReason::TimedOut)
            }
        )));
        assert_eq!(closed(&got, 1), Some(ClosedBy::Peer));
    }

    #[test]
    fn udp_loss_is_seeded_and_truncation_reported() {
        let mut b = subscribed(5);
        b.handle_msg(0, open(1, Demo::UdpEcho));
        b.handle_send(0, 1, &[b'x'; 1500]);
        let got = run(&mut b, 10_000);
        assert!(matches!(
            events(&got)[0].0,
            EventKind::Datagram {
                size: 1500,
                truncated: true,
                ..
            }
        ));
        b.set_network(Network {
            udp_loss: 0.5,
            ..Network::default()
        });
        for _ in 0..40 {
            b.handle_send(10_000, 1, b"hi");
        }
        let got = run(&mut b, 100_000);
        let n = reads(&got, 1).len();
        assert!(n > 5 && n < 35, "about half arrive: {n}");
    }

    #[test]
    fn a_reset_reaches_the_demo_as_a_vanished_client() {
        let mut b = subscribed(6);
        b.handle_msg(0, open(1, Demo::TcpEcho));
        b.handle_send(0, 1, b"hi");
        run(&mut b, 10_000);
        b.handle_msg(10_000, ClientMsg::Reset { sock: 1 });
        let got = run(&mut b, 20_000);
        assert_eq!(closed(&got, 1), Some(ClosedBy::Page));
        assert!(events(&got).iter().any(|(k, s)| matches!(
            k,
            EventKind::Closed { by: Closer::Client, reason } if reason.contains("reset")
        ) && *s == Some(1)));
    }

    #[test]
    fn chat_relays_each_line_to_the_other_members_and_says_who_left() {
        let mut b = subscribed(7);
        b.handle_msg(0, open(1, Demo::Chat));
        run(&mut b, 10_000);
        b.handle_msg(10_000, open(2, Demo::Chat));
        let got = run(&mut b, 20_000);
        let text = |r: Vec<Vec<u8>>| String::from_utf8(r.concat()).unwrap();
        let b_welcome = text(reads(&got, 2));
        assert!(b_welcome.starts_with("* you are 127.0.0.1:"), "{b_welcome}");
        assert!(b_welcome.ends_with("; 1 other here\n"), "{b_welcome}");
        let b_addr = b_welcome["* you are ".len()..b_welcome.find(';').unwrap()].to_owned();
        assert_eq!(text(reads(&got, 1)), format!("* {b_addr} joined\n"));
        // A line in two writes is one line; the sender hears nothing back.
        b.handle_send(20_000, 2, b"hel");
        b.handle_send(21_000, 2, b"lo\r\nsecond\n");
        let got = run(&mut b, 40_000);
        assert_eq!(
            text(reads(&got, 1)),
            format!("{b_addr}: hello\n{b_addr}: second\n")
        );
        assert!(reads(&got, 2).is_empty());
        assert!(
            events(&got)
                .iter()
                .any(|(k, s)| matches!(k, EventKind::Broadcast { to: 1, .. }) && *s == Some(2))
        );
        b.handle_msg(40_000, ClientMsg::Close { sock: 2 });
        let got = run(&mut b, 60_000);
        assert_eq!(text(reads(&got, 1)), format!("* {b_addr} left\n"));
    }

    #[test]
    fn plain_text_to_tls_echo_gets_an_alert_and_a_close() {
        let mut b = subscribed(8);
        b.handle_msg(0, open(1, Demo::TlsEcho));
        b.handle_send(0, 1, b"Hello, Server");
        let got = run(&mut b, 20_000);
        assert_eq!(reads(&got, 1).concat(), crate::tls::DECODE_ERROR_ALERT);
        assert!(events(&got).iter().any(|(k, _)| matches!(
            k,
            EventKind::TlsRefused { reason } if reason.contains("0x48")
        )));
        assert_eq!(closed(&got, 1), Some(ClosedBy::Peer));
    }
}
