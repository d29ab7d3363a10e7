//! The kernel lab: the demo ports' TCP sockets as the kernel sees them — each
//! end of each connection a token in the TCP state diagram, both ends side by
//! side, listeners' accept queues as slots, the same in a table — with guided
//! experiments that make TIME_WAIT, CLOSE_WAIT and a full accept queue happen
//! on purpose.
//!
//! Everything drawn comes from the server's kernel watcher
//! ([`protocol::kernel`]): the lab keeps a [`Model`] of the last messages and
//! judges each experiment from the states the watcher reported for *its*
//! sockets ([`judge`]), never from what the lab expects. The watcher samples
//! (at most 20 times a second), so a state that lasts less than a sample
//! (FIN_WAIT_1, LAST_ACK on loopback) may not be seen; the lab says so
//! rather than pretending. The model and the judging are pure and tested
//! natively.
//!
//! In the simulation, and on a server that is not Linux, there is no kernel
//! to ask: the lab shows the reason the server (or the page) gave.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, SocketId};
use protocol::kernel::{End, KernelMsg, KernelSocket, TcpState, TimerKind};
use web_sys::{Element, HtmlElement};

use super::{Frame, HasFrame, Later, Mounted, number_input, read_number, set_enabled};
use crate::dom::{Listener, add, attr, el};
use crate::net::{Bridge, KernelWatch, Mode, SockEvent};
use crate::timeline::Side;

/// Samples per second the lab asks for at first.
const DEFAULT_HZ: u32 = 10;
/// Most state changes kept for the judging.
const HISTORY: usize = 4096;
/// Queues with fewer places than this are drawn as slots.
const SLOTS: u32 = 32;
/// Most connections drawn in the diagram and rows in the table.
const SHOWN: usize = 60;

/// One socket's identity: its two addresses.
type Key = (String, String);

/// One state a socket was seen in (`None`: it left the table, CLOSED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The socket.
    pub key: Key,
    /// Its state, or `None` when it was gone.
    pub state: Option<TcpState>,
}

/// What the lab knows of the kernel's table.
#[derive(Debug, Default)]
pub struct Model {
    /// The sockets now, in the order they were first seen (a short list:
    /// a `Vec` costs the page far less code than a map).
    pub sockets: Vec<KernelSocket>,
    /// Every state seen, in order.
    pub history: Vec<Seen>,
    /// A number per connection (by its demo and client addresses), in the
    /// order they were first seen: `c3` and `s3` are the two ends of one.
    conns: Vec<Key>,
    /// The watcher's rate.
    pub hz: u32,
    /// Why there is no kernel view, when there is none.
    pub unsupported: Option<String>,
}

/// A connection's identity from either end: (demo's address, client's address).
pub fn conn_key(s: &KernelSocket) -> Key {
    match s.end {
        End::Client => (s.remote.clone(), s.local.clone()),
        End::Server | End::Listener => (s.local.clone(), s.remote.clone()),
    }
}

impl Model {
    /// Takes in one message of the watcher; returns the state changes it
    /// carried, as (socket, before, after) with `None` for "not in the table".
    pub fn apply(
        &mut self,
        msg: &KernelMsg,
    ) -> Vec<(KernelSocket, Option<TcpState>, Option<TcpState>)> {
        let mut changes = Vec::new();
        match msg {
            KernelMsg::Snapshot { hz, sockets, .. } => {
                self.unsupported = None;
                self.hz = *hz;
                let vanished: Vec<KernelSocket> = self
                    .sockets
                    .iter()
                    .filter(|old| {
                        !sockets
                            .iter()
                            .any(|s| s.local == old.local && s.remote == old.remote)
                    })
                    .cloned()
                    .collect();
                for old in vanished {
                    self.remember(old.key(), None);
                    changes.push((old.clone(), Some(old.state), None));
                }
                for s in sockets {
                    let before = self.find(&s.key()).map(|o| o.state);
                    if before != Some(s.state) {
                        changes.push((s.clone(), before, Some(s.state)));
                    }
                    self.remember(s.key(), Some(s.state));
                    self.number(s);
                }
                self.sockets = sockets.clone();
            }
            KernelMsg::Update { socket, from, .. } => {
                let before = self.find(&socket.key()).map(|o| o.state).or(*from);
                if before != Some(socket.state) {
                    changes.push((socket.clone(), before, Some(socket.state)));
                }
                self.remember(socket.key(), Some(socket.state));
                self.number(socket);
                match self.sockets.iter_mut().find(|s| s.key() == socket.key()) {
                    Some(s) => *s = socket.clone(),
                    None => self.sockets.push(socket.clone()),
                }
            }
            KernelMsg::Gone { socket, .. } => {
                self.sockets.retain(|s| s.key() != socket.key());
                self.remember(socket.key(), None);
                changes.push((socket.clone(), Some(socket.state), None));
            }
            KernelMsg::Unsupported { reason } => {
                self.unsupported = Some(reason.clone());
                self.sockets.clear();
            }
        }
        changes
    }

    fn remember(&mut self, key: Key, state: Option<TcpState>) {
        if self.history.len() >= HISTORY {
            self.history.drain(..HISTORY / 2);
        }
        self.history.push(Seen { key, state });
    }

    fn number(&mut self, s: &KernelSocket) {
        let key = conn_key(s);
        if s.end != End::Listener && !self.conns.contains(&key) {
            self.conns.push(key);
        }
    }

    /// The socket with these addresses, now.
    pub fn find(&self, key: &Key) -> Option<&KernelSocket> {
        self.sockets
            .iter()
            .find(|s| s.local == key.0 && s.remote == key.1)
    }

    fn conn_number(&self, s: &KernelSocket) -> usize {
        let key = conn_key(s);
        self.conns
            .iter()
            .position(|k| *k == key)
            .map_or(0, |i| i + 1)
    }

    /// `c3` / `s3` (client or server end of connection 3), or the demo's
    /// name for a listener.
    pub fn label(&self, s: &KernelSocket) -> String {
        match s.end {
            End::Listener => s.demo.name().to_owned(),
            End::Client => format!("c{}", self.conn_number(s)),
            End::Server => format!("s{}", self.conn_number(s)),
        }
    }

    /// Every state `key` was seen in, in order, repeats folded (`None` =
    /// CLOSED, gone from the table).
    pub fn path(&self, key: &Key) -> Vec<Option<TcpState>> {
        let mut out: Vec<Option<TcpState>> = Vec::new();
        for s in self.history.iter().filter(|s| s.key == *key) {
            if out.last() != Some(&s.state) {
                out.push(s.state);
            }
        }
        out
    }

    /// The listener of `demo`, if the watcher reported one.
    pub fn listener(&self, demo: Demo) -> Option<&KernelSocket> {
        self.sockets
            .iter()
            .find(|s| s.end == End::Listener && s.demo == demo)
    }
}

/// A path as the learner reads it: `ESTABLISHED → TIME_WAIT`.
pub fn path_text(path: &[Option<TcpState>]) -> String {
    if path.is_empty() {
        return "not seen".to_owned();
    }
    path.iter()
        .map(|s| s.map_or("CLOSED", TcpState::name))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// A path that ended out of the table, in words; a socket no sample caught
/// alive (its whole life shorter than one) is said to be so.
fn ended(path: &[Option<TcpState>]) -> String {
    if path.is_empty() {
        "went to CLOSED between two samples (never caught alive)".to_owned()
    } else {
        path_text(path)
    }
}

/// The guided experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Experiment {
    /// Connect to tcp-echo, exchange a line, the page closes first.
    ClientCloses,
    /// Connect to uppercase, which answers and closes first.
    ServerCloses,
    /// Hold tcp-echo with one connection and queue more than its backlog.
    FillQueue,
    /// Hold tcp-echo, then half-close a second connection that waits.
    HalfClose,
}

impl Experiment {
    /// Its id (the button's `data-role` and `data-experiment`).
    pub fn id(self) -> &'static str {
        match self {
            Experiment::ClientCloses => "client-closes",
            Experiment::ServerCloses => "server-closes",
            Experiment::FillQueue => "fill-queue",
            Experiment::HalfClose => "half-close",
        }
    }

    /// What the lab will do and what the chapter says will happen.
    pub fn promise(self) -> &'static str {
        match self {
            Experiment::ClientCloses => {
                "The page connects to tcp-echo, sends a line, reads the ACK and closes first. \
                 Expect: the page's end (the client) waits in TIME_WAIT for 60 s; the server's end goes to CLOSED."
            }
            Experiment::ServerCloses => {
                "The page connects to uppercase, which answers and closes first. \
                 Expect: the server's end waits in TIME_WAIT; the page's end goes to CLOSED. \
                 That TIME_WAIT holds the server's port: why a restarted server needs SO_REUSEADDR."
            }
            Experiment::FillQueue => {
                "The page connects once to the iterative tcp-echo (which then serves only it), \
                 then queues backlog + 1 more connections, then one more. Expect: the accept queue full, \
                 and the last client stuck in SYN_SENT: the kernel drops its SYN."
            }
            Experiment::HalfClose => {
                "The page holds tcp-echo with one connection, opens a second and half-closes it (shutdown: FIN). \
                 Expect: the second's server end in CLOSE_WAIT (the server has the FIN but has not closed; \
                 it has not even accepted yet), the page's end in FIN_WAIT_2. Then close the first connection."
            }
        }
    }
}

/// One end pair of a page's connection: (client end, server end).
pub fn ends(local: &str, peer: &str) -> (Key, Key) {
    (
        (local.to_owned(), peer.to_owned()),
        (peer.to_owned(), local.to_owned()),
    )
}

/// Whether an experiment's promise was kept, from what the watcher saw of
/// its sockets: `Some(text)` once decided (the text says what was seen),
/// `None` while nothing decides it yet. `conns` are the page's connections
/// of the run as (local, peer), in order; `full` whether a listener was seen
/// with a full queue and `syn_sent` whether a client of it was seen in
/// SYN_SENT (for [`Experiment::FillQueue`]).
pub fn judge(
    exp: Experiment,
    model: &Model,
    conns: &[(String, String)],
    full: bool,
    syn_sent: bool,
) -> Option<(bool, String)> {
    let paths = |i: usize| {
        conns.get(i).map(|(l, p)| {
            let (c, s) = ends(l, p);
            (model.path(&c), model.path(&s))
        })
    };
    let has = |path: &[Option<TcpState>], st: Option<TcpState>| path.contains(&st);
    match exp {
        Experiment::ClientCloses | Experiment::ServerCloses => {
            let (l, p) = conns.first()?;
            let (client_key, server_key) = ends(l, p);
            let (client, server) = (model.path(&client_key), model.path(&server_key));
            let client_first = exp == Experiment::ClientCloses;
            let (closer, other, other_key) = if client_first {
                (&client, &server, &server_key)
            } else {
                (&server, &client, &client_key)
            };
            // The other end is closed when it is out of the table, whether or
            // not a sample ever caught it alive.
            if !has(closer, Some(TcpState::TimeWait)) || model.find(other_key).is_some() {
                return None;
            }
            let other_waited = has(other, Some(TcpState::TimeWait));
            let (client_words, server_words) = (ended(&client), ended(&server));
            Some((
                !other_waited,
                format!(
                    "Seen: the page's end (client) {client_words}; the server's end {server_words}. {}",
                    if other_waited {
                        "Both ends waited: they closed at the same moment (simultaneous close)."
                    } else {
                        "Only the side that closed first waits in TIME_WAIT."
                    }
                ),
            ))
        }
        Experiment::FillQueue => (full && syn_sent).then(|| {
            (
                true,
                "Seen: tcp-echo's accept queue full (Recv-Q one above the backlog, since Linux admits backlog + 1) \
                 and a client in SYN_SENT: its SYN got no answer because there was no room for it."
                    .to_owned(),
            )
        }),
        Experiment::HalfClose => {
            let (client, server) = paths(1)?;
            let waiting = has(&server, Some(TcpState::CloseWait))
                && has(&client, Some(TcpState::FinWait2));
            waiting.then(|| {
                (
                    true,
                    format!(
                        "Seen: the second connection's server end {}; the page's end {}. \
                         CLOSE_WAIT lasts until the server's program calls close().",
                        path_text(&server),
                        path_text(&client)
                    ),
                )
            })
        }
    }
}

/// Whether `s` is an end of one of this page's bridge connections: a client
/// end on one of the page's ports, or a demo's end whose peer is one.
pub(crate) fn is_page_socket(bridge: &Bridge, s: &KernelSocket) -> bool {
    let port = |a: &str| a.rsplit(':').next().unwrap_or_default().to_owned();
    match s.end {
        End::Client => bridge.is_own_port(&port(&s.local)),
        End::Server => bridge.is_own_port(&port(&s.remote)),
        End::Listener => false,
    }
}

/// Whose end a client socket is. The page learns its sockets' ports when
/// their connect returns, so a socket still in SYN_SENT may be the page's.
fn origin(s: &KernelSocket, own: bool) -> &'static str {
    match (own, s.state) {
        (true, _) => "this page",
        (false, TcpState::SynSent) => "still connecting: this page or another program",
        (false, _) => "another program",
    }
}

/// Escapes text for SVG/HTML markup.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Where each state sits in the diagram (centre x, centre y).
fn place(state: TcpState) -> (i32, i32) {
    use TcpState::*;
    match state {
        Closed => (300, 34),
        SynSent => (112, 112),
        Listen => (488, 112),
        SynRecv => (488, 192),
        Established => (300, 192),
        FinWait1 => (112, 272),
        CloseWait => (488, 272),
        FinWait2 => (112, 352),
        Closing => (300, 352),
        LastAck => (488, 352),
        TimeWait => (300, 432),
    }
}

/// The diagram's edges: (from, to, label).
const EDGES: [(TcpState, TcpState, &str); 12] = [
    (TcpState::Closed, TcpState::SynSent, "connect() · SYN"),
    (TcpState::Closed, TcpState::Listen, "listen()"),
    (TcpState::Listen, TcpState::SynRecv, "SYN · SYN+ACK"),
    (TcpState::SynSent, TcpState::Established, "SYN+ACK · ACK"),
    (TcpState::SynRecv, TcpState::Established, "ACK"),
    (TcpState::Established, TcpState::FinWait1, "close() · FIN"),
    (TcpState::Established, TcpState::CloseWait, "FIN · ACK"),
    (TcpState::FinWait1, TcpState::FinWait2, "ACK"),
    (TcpState::FinWait1, TcpState::Closing, "FIN · ACK"),
    (TcpState::FinWait2, TcpState::TimeWait, "FIN · ACK"),
    (TcpState::Closing, TcpState::TimeWait, "ACK"),
    (TcpState::CloseWait, TcpState::LastAck, "close() · FIN"),
];

const NODE_W: i32 = 150;
const NODE_H: i32 = 54;

/// The state diagram with a token per socket, as SVG markup. Client ends sit
/// on the left of their state's box, server ends on the right.
pub fn diagram(model: &Model, own: &dyn Fn(&KernelSocket) -> bool) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 600 470\" class=\"sl-kernel-svg\" role=\"img\" aria-labelledby=\"sl-kernel-svg-title\">\
         <title id=\"sl-kernel-svg-title\">TCP state diagram: {}</title>\
         <defs><marker id=\"sl-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" class=\"sl-k-arrowhead\"/></marker></defs>",
        esc(&summary(model))
    );
    for (from, to, label) in EDGES {
        let (x1, y1) = place(from);
        let (x2, y2) = place(to);
        let (sx, sy, ex, ey) = clip(x1, y1, x2, y2);
        let _ = write!(
            svg,
            "<line x1=\"{sx}\" y1=\"{sy}\" x2=\"{ex}\" y2=\"{ey}\" class=\"sl-k-edge\" marker-end=\"url(#sl-arrow)\"/>\
             <text x=\"{}\" y=\"{}\" class=\"sl-k-edge-label\" text-anchor=\"middle\">{}</text>",
            (sx + ex) / 2,
            (sy + ey) / 2 - 4,
            esc(label)
        );
    }
    // The two ways back to CLOSED, around the outside.
    let _ = write!(
        svg,
        "<path d=\"M563,352 L590,352 L590,34 L375,34\" class=\"sl-k-edge\" fill=\"none\" marker-end=\"url(#sl-arrow)\"/>\
         <text x=\"586\" y=\"200\" class=\"sl-k-edge-label\" text-anchor=\"end\">ACK</text>\
         <path d=\"M225,432 L10,432 L10,34 L225,34\" class=\"sl-k-edge\" fill=\"none\" marker-end=\"url(#sl-arrow)\"/>\
         <text x=\"16\" y=\"420\" class=\"sl-k-edge-label\">2·MSL (60 s)</text>"
    );
    let mut shown = 0;
    for state in TcpState::ALL {
        let (cx, cy) = place(state);
        let here: Vec<&KernelSocket> = model
            .sockets
            .iter()
            .filter(|s| s.state == state && s.end != End::Listener)
            .collect();
        let listeners = model
            .sockets
            .iter()
            .filter(|s| s.state == state && s.end == End::Listener)
            .count();
        let busy = !here.is_empty() || listeners > 0;
        let _ = write!(
            svg,
            "<g class=\"sl-k-node\" data-state=\"{name}\" data-count=\"{n}\"{busy}>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"8\"/>\
             <text x=\"{cx}\" y=\"{ty}\" text-anchor=\"middle\" class=\"sl-k-name\">{name}</text>",
            name = state.name(),
            n = here.len() + listeners,
            busy = if busy { " data-busy=\"true\"" } else { "" },
            x = cx - NODE_W / 2,
            y = cy - NODE_H / 2,
            ty = cy - NODE_H / 2 + 16,
        );
        if listeners > 0 {
            let _ = write!(
                svg,
                "<text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" class=\"sl-k-note\">{listeners} listening</text>",
                cy + 14
            );
        }
        for (side, end) in [(-1, End::Client), (1, End::Server)] {
            let tokens: Vec<&&KernelSocket> = here.iter().filter(|s| s.end == end).collect();
            for (i, s) in tokens.iter().enumerate() {
                if i == 3 && tokens.len() > 4 {
                    let _ = write!(
                        svg,
                        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"sl-k-note\">+{}</text>",
                        cx + side * (14 + 3 * 22),
                        cy + 16,
                        tokens.len() - 3
                    );
                    break;
                }
                if shown >= SHOWN {
                    break;
                }
                shown += 1;
                let x = cx + side * (14 + i as i32 * 22);
                let mine = if own(s) { "page" } else { "other" };
                let _ = write!(
                    svg,
                    "<g class=\"sl-k-token\" data-end=\"{end}\" data-origin=\"{mine}\">\
                     <circle cx=\"{x}\" cy=\"{cy2}\" r=\"10\"/>\
                     <text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\">{label}</text></g>",
                    end = if end == End::Client {
                        "client"
                    } else {
                        "server"
                    },
                    cy2 = cy + 11,
                    ty = cy + 15,
                    label = esc(&model.label(s)),
                );
            }
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// The end points of an edge between two boxes, clipped to their borders.
fn clip(x1: i32, y1: i32, x2: i32, y2: i32) -> (i32, i32, i32, i32) {
    let (dx, dy) = ((x2 - x1) as f64, (y2 - y1) as f64);
    let (hw, hh) = (NODE_W as f64 / 2.0, NODE_H as f64 / 2.0);
    // How far along the line the border of a box centred at the origin is.
    let t = |dx: f64, dy: f64| {
        let tx = if dx == 0.0 {
            f64::INFINITY
        } else {
            hw / dx.abs()
        };
        let ty = if dy == 0.0 {
            f64::INFINITY
        } else {
            hh / dy.abs()
        };
        tx.min(ty)
    };
    let t0 = t(dx, dy);
    (
        x1 + (dx * t0) as i32,
        y1 + (dy * t0) as i32,
        x2 - (dx * t0) as i32,
        y2 - (dy * t0) as i32,
    )
}

/// One line on what the diagram shows, for its title and for screen readers.
pub fn summary(model: &Model) -> String {
    if let Some(why) = &model.unsupported {
        return why.clone();
    }
    let counts: Vec<String> = TcpState::ALL
        .iter()
        .filter_map(|st| {
            let n = model.sockets.iter().filter(|s| s.state == *st).count();
            (n > 0).then(|| format!("{n} in {}", st.name()))
        })
        .collect();
    if counts.is_empty() {
        return "no sockets on the demo ports".to_owned();
    }
    counts.join(", ")
}

/// A listener's queue in words: `3 waiting of 11 (backlog 10)`.
pub fn queue_text(l: &KernelSocket) -> String {
    format!(
        "{} waiting for accept() of {} places (backlog {}; Linux admits one more){}",
        l.recv_q,
        l.send_q + 1,
        l.send_q,
        if l.recv_q > l.send_q {
            ": full, new SYNs are dropped"
        } else {
            ""
        }
    )
}

/// A run of an experiment.
struct Run {
    exp: Experiment,
    /// The page's sockets of this run, in order.
    socks: Vec<SocketId>,
    /// Their (local, peer) addresses, once opened.
    conns: Vec<Option<(String, String)>>,
    /// A listener of tcp-echo was seen full during the run.
    full: bool,
    /// A client of tcp-echo was seen in SYN_SENT during the run.
    syn_sent: bool,
    /// The verdict is out.
    decided: bool,
}

struct Lab {
    frame: Frame,
    model: RefCell<Model>,
    run: RefCell<Option<Run>>,
    diagram: Element,
    queues: Element,
    table: Element,
    status: Element,
    promise: Element,
    buttons: Vec<(Experiment, Element)>,
    next_step: Element,
    close_all: Element,
    rate: web_sys::HtmlInputElement,
    watch: RefCell<Option<KernelWatch>>,
    /// When each TIME_WAIT socket will be gone (`Date.now()` ms).
    expires: RefCell<Vec<(Key, f64)>>,
}

super::has_frame!(Lab);

impl Lab {
    fn own(&self) -> impl Fn(&KernelSocket) -> bool + '_ {
        move |s: &KernelSocket| is_page_socket(self.bridge(), s)
    }

    fn start_watching(self: &Rc<Self>) {
        let hz = read_number(&self.rate, 1, protocol::kernel::MAX_HZ);
        // Drop the old watch first: its drop would otherwise unwatch the new one.
        self.watch.borrow_mut().take();
        let lab = Rc::downgrade(self);
        let watch = self.bridge().watch_kernel(hz, move |msg| {
            if let Some(lab) = lab.upgrade() {
                lab.on_kernel(msg);
            }
        });
        *self.watch.borrow_mut() = Some(watch);
    }

    /// When a TIME_WAIT socket will be gone, on this page's clock: its
    /// countdown as the kernel reported it when the message came, so the
    /// table stays true without being redrawn every second.
    fn expiry(&self, key: &Key) -> Option<String> {
        let at = self.expires.borrow().iter().find(|(k, _)| k == key)?.1;
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at));
        Some(String::from(date.to_locale_time_string("en-GB")))
    }

    fn on_kernel(&self, msg: &KernelMsg) {
        {
            let now = js_sys::Date::now();
            let mut expires = self.expires.borrow_mut();
            let fresh: Vec<&KernelSocket> = match msg {
                KernelMsg::Snapshot { sockets, .. } => sockets.iter().collect(),
                KernelMsg::Update { socket, .. } => vec![socket],
                _ => Vec::new(),
            };
            for s in fresh {
                if let Some(t) = s.timer.filter(|t| t.kind == TimerKind::TimeWait)
                    && !expires.iter().any(|(k, _)| *k == s.key())
                {
                    expires.push((s.key(), now + f64::from(t.ms)));
                }
            }
            let model = self.model.borrow();
            expires.retain(|(k, at)| *at > now - 5_000.0 || model.find(k).is_some());
        }
        let changes = self.model.borrow_mut().apply(msg);
        {
            let model = self.model.borrow();
            for (s, before, after) in &changes {
                if s.end == End::Listener {
                    continue;
                }
                let who = origin(s, (self.own())(s));
                let end = if s.end == End::Client {
                    "client end"
                } else {
                    "server end"
                };
                let row = self.frame.timeline.row(
                    Side::Note,
                    &format!(
                        "{} ({end}, {who}, {} ↔ {}): {} → {}",
                        model.label(s),
                        s.local,
                        s.remote,
                        before.map_or("new", TcpState::name),
                        after.map_or("CLOSED", TcpState::name)
                    ),
                    None,
                );
                attr(&row, "data-event", "state");
                attr(&row, "data-to", after.map_or("CLOSED", TcpState::name));
            }
        }
        if let Some(run) = self.run.borrow_mut().as_mut() {
            let model = self.model.borrow();
            if let Some(l) = model.listener(Demo::TcpEcho)
                && l.recv_q > l.send_q
            {
                run.full = true;
            }
            let echo = model.listener(Demo::TcpEcho).map(|l| l.local.clone());
            if model.sockets.iter().any(|s| {
                s.end == End::Client
                    && s.state == TcpState::SynSent
                    && Some(&s.remote) == echo.as_ref()
            }) {
                run.syn_sent = true;
            }
        }
        self.render();
        self.judge();
    }

    fn render(&self) {
        let model = self.model.borrow();
        let own = self.own();
        self.diagram.set_inner_html(&diagram(&model, &own));
        let sockets = model.sockets.len();
        attr(
            &self.frame.root,
            "data-kernel-sockets",
            &sockets.to_string(),
        );
        match &model.unsupported {
            Some(why) => {
                self.status.set_text_content(Some(why));
                attr(&self.status, "data-supported", "false");
            }
            None => {
                self.status.set_text_content(Some(&format!(
                    "{sockets} socket{} on the demo ports, sampled {} times a second: {}. \
                     States shorter than a sample may not be seen.",
                    if sockets == 1 { "" } else { "s" },
                    model.hz,
                    summary(&model)
                )));
                attr(&self.status, "data-supported", "true");
            }
        }
        // Listeners' accept queues as slots.
        self.queues.set_inner_html("");
        for l in model.sockets.iter().filter(|s| s.end == End::Listener) {
            let row = add(&self.queues, el("div", "sl-k-queue", ""));
            attr(&row, "data-demo", l.demo.name());
            attr(&row, "data-waiting", &l.recv_q.to_string());
            attr(&row, "data-backlog", &l.send_q.to_string());
            add(
                &row,
                el(
                    "span",
                    "sl-k-queue-name",
                    &format!("{} {}", l.demo.name(), l.local),
                ),
            );
            // Slots only for a queue short enough to count by eye; a deep one
            // (1024 places) is a number.
            if l.send_q < SLOTS {
                let slots = add(&row, el("span", "sl-k-slots", ""));
                attr(&slots, "aria-hidden", "true");
                for i in 0..=l.send_q {
                    let slot = add(&slots, el("span", "sl-k-slot", ""));
                    if i < l.recv_q {
                        attr(&slot, "data-filled", "true");
                    }
                }
            }
            add(&row, el("span", "sl-k-queue-text", &queue_text(l)));
        }
        // The table: the same, for reading and for screen readers.
        let mut html = String::from(
            "<table class=\"sl-layers sl-k-table\"><caption>The same sockets as a table</caption><thead><tr>\
             <th scope=\"col\">End</th><th scope=\"col\">Local</th><th scope=\"col\">Remote</th>\
             <th scope=\"col\">State</th><th scope=\"col\">Recv-Q</th><th scope=\"col\">Send-Q</th>\
             <th scope=\"col\">Timer</th><th scope=\"col\">Segments out / in</th><th scope=\"col\">RTT, MSS</th></tr></thead><tbody>",
        );
        for s in model.sockets.iter().take(SHOWN) {
            let end = match s.end {
                End::Listener => format!("{} listener", s.demo.name()),
                End::Client => format!(
                    "{} client of {} ({})",
                    model.label(s),
                    s.demo.name(),
                    origin(s, own(s))
                ),
                End::Server => format!("{} {}'s end", model.label(s), s.demo.name()),
            };
            let timer = s.timer.map_or(String::new(), |t| match t.kind {
                TimerKind::TimeWait => match self.expiry(&s.key()) {
                    Some(at) => format!("TIME_WAIT, gone by {at}"),
                    None => format!(
                        "TIME_WAIT, {:.0} s left when sampled",
                        f64::from(t.ms) / 1000.0
                    ),
                },
                TimerKind::Retransmit => format!("retransmit in {} ms", t.ms),
                TimerKind::KeepAlive => format!("keep-alive in {} s", t.ms / 1000),
                TimerKind::ZeroWindowProbe => format!("zero-window probe in {} ms", t.ms),
            });
            let (segs, rtt) = s.tcp.map_or((String::new(), String::new()), |t| {
                (
                    format!(
                        "{} / {} ({} / {} with data)",
                        t.segs_out, t.segs_in, t.data_segs_out, t.data_segs_in
                    ),
                    format!("{} µs, {} B", t.rtt_us, t.mss),
                )
            });
            let _ = write!(
                html,
                "<tr data-end=\"{e}\" data-state=\"{st}\" data-local=\"{l}\" data-remote=\"{r}\"><td>{end}</td><td>{l}</td><td>{r}</td><td>{st}</td>\
                 <td>{rq}</td><td>{sq}</td><td>{timer}</td><td>{segs}</td><td>{rtt}</td></tr>",
                e = match s.end {
                    End::Listener => "listener",
                    End::Client => "client",
                    End::Server => "server",
                },
                st = s.state.name(),
                l = s.local,
                r = s.remote,
                end = esc(&end),
                rq = s.recv_q,
                sq = s.send_q,
            );
        }
        if model.sockets.len() > SHOWN {
            let _ = write!(
                html,
                "<tr><td colspan=\"9\">… and {} more</td></tr>",
                model.sockets.len() - SHOWN
            );
        }
        html.push_str("</tbody></table>");
        self.table.set_inner_html(&html);
        let live = model.unsupported.is_none() && self.bridge().mode() == Mode::Live;
        drop(model);
        for (_, b) in &self.buttons {
            set_enabled(b, live);
        }
        set_enabled(
            &self.close_all,
            self.bridge().open_count() > 0 || self.run.borrow().is_some(),
        );
        self.frame.refresh_sockets();
    }

    fn judge(&self) {
        let mut run = self.run.borrow_mut();
        let Some(r) = run.as_mut() else {
            return;
        };
        if r.decided {
            return;
        }
        let conns: Vec<(String, String)> = r.conns.iter().flatten().cloned().collect();
        let verdict = judge(r.exp, &self.model.borrow(), &conns, r.full, r.syn_sent);
        if let Some((kept, text)) = verdict {
            r.decided = true;
            self.frame.conclude(&text);
            attr(
                &self.frame.verdict,
                "data-verdict",
                if kept { "pass" } else { "other" },
            );
        }
    }

    fn close_everything(&self) {
        if let Some(run) = self.run.borrow_mut().take() {
            for sock in run.socks {
                self.bridge().close(sock);
            }
        }
        set_enabled(&self.next_step, false);
        self.frame.refresh_sockets();
    }

    fn start(self: &Rc<Self>, exp: Experiment) {
        self.close_everything();
        self.frame.timeline.clear();
        self.promise.set_text_content(Some(exp.promise()));
        self.frame.conclude("Watching for the states it promises…");
        attr(&self.frame.verdict, "data-verdict", "pending");
        attr(&self.frame.verdict, "data-experiment", exp.id());
        let (demo, count) = match exp {
            Experiment::ClientCloses => (Demo::TcpEcho, 1),
            Experiment::ServerCloses => (Demo::Uppercase, 1),
            Experiment::HalfClose => (Demo::TcpEcho, 2),
            Experiment::FillQueue => {
                let backlog = self
                    .model
                    .borrow()
                    .listener(Demo::TcpEcho)
                    .map(|l| l.send_q);
                let Some(backlog) = backlog else {
                    self.frame.conclude(
                        "The watcher reports no tcp-echo listener: is the tcp-echo demo running?",
                    );
                    attr(&self.frame.verdict, "data-verdict", "none");
                    return;
                };
                // One served, backlog + 1 queued, one more that finds no room.
                let need = backlog as usize + 3;
                let limit = self.bridge().limits().map_or(16, |l| l.sockets_per_session);
                let free = limit.saturating_sub(self.bridge().open_count());
                if need > free {
                    self.frame.conclude(&format!(
                        "tcp-echo's backlog here is {backlog}: filling it takes {need} connections, more than this page \
                         may open ({free}). A server started with --tcp-echo-backlog 10 (the default) can be filled \
                         from here; or try it from a terminal with book/src/code/python/backlog_full.py."
                    ));
                    attr(&self.frame.verdict, "data-verdict", "none");
                    return;
                }
                (Demo::TcpEcho, need)
            }
        };
        *self.run.borrow_mut() = Some(Run {
            exp,
            socks: Vec::new(),
            conns: Vec::new(),
            full: false,
            syn_sent: false,
            decided: false,
        });
        for i in 0..count {
            let lab = Rc::downgrade(self);
            let sock = self.bridge().open(
                |sock| ClientMsg::open(sock, demo),
                move |sock, ev| {
                    if let Some(lab) = lab.upgrade() {
                        lab.on_sock(i, sock, ev);
                    }
                },
            );
            if let Some(run) = self.run.borrow_mut().as_mut() {
                run.socks.push(sock);
                run.conns.push(None);
            }
        }
        self.render();
    }

    fn on_sock(&self, i: usize, sock: SocketId, ev: SockEvent) {
        let Some(exp) = self
            .run
            .borrow()
            .as_ref()
            .filter(|r| r.socks.get(i) == Some(&sock))
            .map(|r| r.exp)
        else {
            return;
        };
        match ev {
            // The kernel lab is live only: the simulation answers it with no sockets.
            SockEvent::Segment { .. } => {}
            SockEvent::Opened { local, peer } => {
                if let Some(run) = self.run.borrow_mut().as_mut() {
                    run.conns[i] = Some((local, peer));
                }
                match (exp, i) {
                    (Experiment::ClientCloses, 0) => self.bridge().send(sock, b"hello"),
                    (Experiment::ServerCloses, 0) => self.bridge().send(sock, b"hello\n"),
                    (Experiment::HalfClose, 1) => {
                        self.bridge().shutdown(sock);
                        set_enabled(&self.next_step, true);
                    }
                    _ => {}
                }
            }
            SockEvent::Read { .. } => {
                if exp == Experiment::ClientCloses {
                    // The ACK came back: the page closes first.
                    self.bridge().close(sock);
                    self.frame.timeline.row(
                        Side::Note,
                        "the page read the ACK and closed first",
                        None,
                    );
                }
            }
            SockEvent::Closed { reason, .. } => {
                self.frame.timeline.row(
                    Side::Note,
                    &format!("the page's socket {} closed: {reason}", i + 1),
                    None,
                );
            }
            SockEvent::Error { message } => {
                let row = self.frame.timeline.row(
                    Side::Note,
                    &format!("connection {}: {message}", i + 1),
                    None,
                );
                attr(&row, "data-event", "open-failed");
            }
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        self.judge();
        self.render();
    }

    /// The half-close experiment's second step: let the server go on.
    fn close_first(&self) {
        let first = self
            .run
            .borrow()
            .as_ref()
            .filter(|r| r.exp == Experiment::HalfClose)
            .and_then(|r| r.socks.first().copied());
        if let Some(sock) = first {
            self.bridge().close(sock);
            self.frame.timeline.row(
                Side::Note,
                "the page closed the first connection: tcp-echo accepts the second, reads its end of stream and closes it",
                None,
            );
        }
        set_enabled(&self.next_step, false);
        self.render();
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "The kernel's view",
        "Every TCP socket on the demo ports as the kernel reports it (what ss -tan shows): each end of each \
         connection is a token in the state diagram — c for the client's end, s for the server's, same number \
         for the two ends of one connection — and each listener's accept queue is a row of slots. Connections \
         from your own terminal programs appear too. Run an experiment, or run the book's clients and watch.",
        bridge.clone(),
    );
    let rate = number_input(
        &frame.controls,
        "Samples per second",
        "rate",
        DEFAULT_HZ,
        1,
        protocol::kernel::MAX_HZ,
    );
    let buttons_box = add(&frame.controls, el("div", "sl-buttons", ""));
    let l = Later::<Lab>::default();
    let mut listeners = Vec::new();
    let mut buttons = Vec::new();
    for (exp, text) in [
        (Experiment::ClientCloses, "Client closes first"),
        (Experiment::ServerCloses, "Server closes first"),
        (Experiment::FillQueue, "Fill tcp-echo's accept queue"),
        (Experiment::HalfClose, "Half-close while the server is busy"),
    ] {
        let (b, listener) = l.button(&buttons_box, text, exp.id(), move |lab| lab.start(exp));
        buttons.push((exp, b));
        listeners.push(listener);
    }
    let (next_step, next_listener) = l.button(
        &buttons_box,
        "Close the first connection",
        "next-step",
        |lab| lab.close_first(),
    );
    listeners.push(next_listener);
    let (close_all, close_listener) = l.button(&buttons_box, "Close all", "close", |lab| {
        lab.close_everything();
        lab.frame.conclude("");
        lab.render();
    });
    listeners.push(close_listener);
    let card = frame.card.clone();
    let promise = add(&card, el("p", "sl-help sl-k-promise", ""));
    attr(&promise, "data-role", "promise");
    let status = add(
        &card,
        el(
            "p",
            "sl-k-status",
            "Asking the server for the kernel's view…",
        ),
    );
    attr(&status, "data-role", "kernel-status");
    attr(&status, "aria-live", "polite");
    let diagram = add(&card, el("div", "sl-k-diagram", ""));
    let queues = add(&card, el("div", "sl-k-queues", ""));
    let table = add(&card, el("div", "sl-k-table-box", ""));
    // It scrolls sideways on a phone: focusable, so the keyboard can scroll it.
    attr(&table, "tabindex", "0");
    attr(&table, "aria-label", "The sockets, as a table");
    // The verdict reads best right after the promise and the pictures; the
    // list of state changes goes last, below the table.
    let _ = card.append_child(&frame.verdict);
    let _ = card.append_child(&table);
    let _ = card.append_child(frame.timeline.element());
    let lab = Rc::new(Lab {
        frame,
        model: RefCell::new(Model::default()),
        run: RefCell::new(None),
        diagram,
        queues,
        table,
        status,
        promise,
        buttons,
        next_step,
        close_all,
        rate: rate.clone(),
        watch: RefCell::new(None),
        expires: RefCell::new(Vec::new()),
    });
    set_enabled(&lab.next_step, false);
    let weak = Rc::downgrade(&lab);
    listeners.push(Listener::new(&rate, "change", move |_| {
        if let Some(lab) = weak.upgrade() {
            lab.start_watching();
        }
    }));
    lab.start_watching();
    lab.render();
    let weak = Rc::downgrade(&lab);
    let mode = bridge.on_mode(move |_| {
        if let Some(lab) = weak.upgrade() {
            lab.render();
        }
    });
    let view = lab.frame.server_view(&[Demo::TcpEcho, Demo::Uppercase]);
    let mounted = l.mount(&lab, listeners, view, |_, _, _| {});
    Mounted::with_state(Vec::new(), Rc::new((mounted, mode)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> String {
        s.to_owned()
    }

    fn sock(local: &str, remote: &str, end: End, state: TcpState) -> KernelSocket {
        KernelSocket {
            local: addr(local),
            remote: addr(remote),
            state,
            end,
            demo: Demo::TcpEcho,
            recv_q: 0,
            send_q: 0,
            timer: None,
            tcp: None,
        }
    }

    fn update(s: KernelSocket) -> KernelMsg {
        KernelMsg::Update {
            at_ms: 0,
            from: None,
            socket: s,
        }
    }

    const C: &str = "127.0.0.1:40000";
    const D: &str = "127.0.0.1:65432";

    #[test]
    fn both_ends_of_a_connection_share_a_number() {
        let mut m = Model::default();
        m.apply(&update(sock(C, D, End::Client, TcpState::Established)));
        m.apply(&update(sock(D, C, End::Server, TcpState::Established)));
        m.apply(&update(sock(
            "127.0.0.1:40001",
            D,
            End::Client,
            TcpState::SynSent,
        )));
        let labels: Vec<String> = m.sockets.iter().map(|s| m.label(s)).collect();
        assert_eq!(labels, ["c1", "s1", "c2"]);
    }

    #[test]
    fn the_client_closing_first_is_judged_from_the_paths_seen() {
        let mut m = Model::default();
        let conns = [(addr(C), addr(D))];
        m.apply(&update(sock(C, D, End::Client, TcpState::Established)));
        m.apply(&update(sock(D, C, End::Server, TcpState::Established)));
        assert_eq!(
            judge(Experiment::ClientCloses, &m, &conns, false, false),
            None
        );
        m.apply(&update(sock(C, D, End::Client, TcpState::TimeWait)));
        assert_eq!(
            judge(Experiment::ClientCloses, &m, &conns, false, false),
            None,
            "the server's end is not closed yet"
        );
        m.apply(&KernelMsg::Gone {
            at_ms: 0,
            socket: sock(D, C, End::Server, TcpState::LastAck),
        });
        let (kept, text) = judge(Experiment::ClientCloses, &m, &conns, false, false).unwrap();
        assert!(kept);
        assert!(text.contains("ESTABLISHED → TIME_WAIT"), "{text}");
        assert!(
            text.contains("the server's end ESTABLISHED → CLOSED"),
            "{text}"
        );
        // A server end that lived less than a sample still counts as closed.
        let quick = [(addr("127.0.0.1:40005"), addr(D))];
        m.apply(&update(sock(
            D,
            "127.0.0.1:40005",
            End::Server,
            TcpState::TimeWait,
        )));
        let (kept, text) = judge(Experiment::ServerCloses, &m, &quick, false, false).unwrap();
        assert!(kept);
        assert!(
            text.contains("the page's end (client) went to CLOSED between two samples"),
            "{text}"
        );
        // The same states do not make the server-closes experiment pass.
        assert_eq!(
            judge(Experiment::ServerCloses, &m, &conns, false, false),
            None
        );
    }

    #[test]
    fn a_half_close_needs_close_wait_on_the_server_and_fin_wait_2_on_the_page() {
        let mut m = Model::default();
        let first = (addr("127.0.0.1:40009"), addr(D));
        let conns = [first, (addr(C), addr(D))];
        m.apply(&update(sock(D, C, End::Server, TcpState::CloseWait)));
        assert_eq!(judge(Experiment::HalfClose, &m, &conns, false, false), None);
        m.apply(&update(sock(C, D, End::Client, TcpState::FinWait2)));
        assert!(
            judge(Experiment::HalfClose, &m, &conns, false, false)
                .unwrap()
                .0
        );
        assert_eq!(
            judge(Experiment::FillQueue, &m, &conns, true, false),
            None,
            "a full queue alone is not the promise"
        );
        assert!(
            judge(Experiment::FillQueue, &m, &conns, true, true)
                .unwrap()
                .0
        );
    }

    #[test]
    fn a_snapshot_replaces_the_table_and_reports_what_vanished() {
        let mut m = Model::default();
        m.apply(&update(sock(C, D, End::Client, TcpState::Established)));
        let changes = m.apply(&KernelMsg::Snapshot {
            hz: 5,
            at_ms: 0,
            sockets: vec![sock(D, "0.0.0.0:0", End::Listener, TcpState::Listen)],
        });
        assert_eq!(m.sockets.len(), 1);
        assert_eq!(m.hz, 5);
        assert!(
            changes
                .iter()
                .any(|(s, _, after)| s.local == addr(C) && after.is_none())
        );
        assert_eq!(
            m.path(&(addr(C), addr(D))),
            vec![Some(TcpState::Established), None]
        );
    }

    #[test]
    fn the_diagram_has_every_state_and_a_token_per_end() {
        let mut m = Model::default();
        m.apply(&update(sock(C, D, End::Client, TcpState::TimeWait)));
        m.apply(&update(sock(
            D,
            "0.0.0.0:0",
            End::Listener,
            TcpState::Listen,
        )));
        let svg = diagram(&m, &|_| true);
        for st in TcpState::ALL {
            assert!(
                svg.contains(&format!("data-state=\"{}\"", st.name())),
                "{}",
                st.name()
            );
        }
        assert_eq!(svg.matches("class=\"sl-k-token\"").count(), 1);
        assert!(svg.contains("1 listening"));
        assert!(svg.contains("1 in LISTEN, 1 in TIME_WAIT"), "{svg}");
    }

    #[test]
    fn a_full_queue_is_said_so() {
        let mut l = sock(D, "0.0.0.0:0", End::Listener, TcpState::Listen);
        l.send_q = 10;
        l.recv_q = 11;
        assert!(queue_text(&l).contains("11 waiting for accept() of 11 places (backlog 10"));
        assert!(queue_text(&l).ends_with("full, new SYNs are dropped"));
    }
}
