//! Exercises with feedback: a task the learner does with their own program;
//! the page follows the server's account of that program's connection and
//! says whether the task itself was done, or what went wrong.
//!
//! The judging is pure and tested natively: a [`Tracker`] collects every
//! server event of one demo per connection (same `demo` and `conn`, in
//! order) and [`judge`] reads one connection's account as the exercise's
//! [`Check`] asks. Events of the page's own sockets (the bridge tags them
//! with the page's socket id) never count: the point is the learner's
//! program. Commands are shown with the ports the server reported in its
//! welcome ([`fill`]), never with hard-coded defaults.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use protocol::Demo;
use protocol::auth::{CHALLENGE_LEN, DenyReason, RESPONSE_LEN};
use protocol::bridge::DemoInfo;
use protocol::demo::{ACK_PREFIX, READ_BUF};
use protocol::events::{Closer, EventKind, ServerEvent};
use protocol::hex::{Shown, shown};
use serde::Deserialize;
use web_sys::{Element, HtmlElement};

use super::Mounted;
use crate::dom::{Listener, add, attr, el, fetch_text};
use crate::net::{Bridge, Mode};
use protocol::kernel::{KernelMsg, KernelSocket, TcpState};

/// What an exercise checks in the server's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The demo accepted a connection from the learner's program.
    Connected,
    /// The program sent its own local port as text, and that number is the
    /// port the demo saw the connection come from.
    EphemeralPort,
    /// The demo read application bytes and answered them.
    AppBytes,
    /// A UDP datagram arrived.
    Datagram,
    /// A datagram larger than the demo's 1024-byte buffer arrived, truncated.
    Truncated,
    /// `Hello, Server` read, the `ACK: ` reply sent, then closed by the client.
    Roundtrip,
    /// The sticky demo read the program's bytes, and the connection ended:
    /// the account says in how many reads.
    StickyReads,
    /// A length-prefixed JSON frame was decoded.
    Frame,
    /// The auth demo granted access.
    Granted,
    /// Several connections (`at_once`) from distinct peers were accepted and
    /// open at the same moment.
    ManyAtOnce,
    /// A half-close: the client's end of stream arrived while the server
    /// still had its reply to send, the reply went out, and the client closed.
    /// See [`judge`] for what the server's account can and cannot show.
    HalfClose,
    /// From the kernel watcher: the learner's client end of a connection to
    /// the demo went to TIME_WAIT (it closed first).
    KernelTimeWait,
    /// From the kernel watcher: tcp-echo's accept queue was full while the
    /// learner's program held the connections in it.
    KernelQueueFull,
    /// From the kernel watcher: the demo's end of the learner's connection
    /// sat in CLOSE_WAIT (the learner half-closed; the server had not closed).
    KernelServerCloseWait,
    /// From the kernel watcher: the learner's client end sat in CLOSE_WAIT for
    /// two seconds or more (it never closed after the server did), and then a
    /// fixed run closed: the demo's end reached TIME_WAIT.
    KernelCloseWaitFixed,
    /// `chat`: a line from the learner's client was relayed to at least one
    /// other member of the room.
    ChatBroadcast,
    /// `tls-echo`: a TLS handshake, then the decrypted `Hello, TLS` (or any
    /// bytes) read and answered.
    TlsRoundtrip,
}

impl Check {
    /// Whether this check reads the kernel watcher's messages rather than
    /// the demo's events.
    pub fn is_kernel(self) -> bool {
        matches!(
            self,
            Check::KernelTimeWait
                | Check::KernelQueueFull
                | Check::KernelServerCloseWait
                | Check::KernelCloseWaitFixed
        )
    }
}

fn default_at_once() -> usize {
    5
}

/// One exercise from `book/src/exercises.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Exercise {
    /// Its id, as in `exercise="…"`.
    pub id: String,
    /// The chapter it belongs to.
    pub chapter: String,
    /// What to do, in plain text; may hold `{addr:demo}`-style placeholders.
    pub task: String,
    /// Which demo to talk to.
    pub demo: Demo,
    /// What completes it.
    pub check: Check,
    /// Commands that do it, each shown as code (placeholders filled in).
    #[serde(default)]
    pub commands: Vec<String>,
    /// For [`Check::ManyAtOnce`]: how many connections at once.
    #[serde(default = "default_at_once")]
    pub at_once: usize,
}

/// Where the exercise stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Something was seen, but not yet enough (the text says what is missing).
    Progress(String),
    /// An attempt ended without doing the task; the text says why.
    Failed(String),
    /// The task was done; the text says what the server saw.
    Done(String),
}

impl Status {
    fn rank(&self) -> u8 {
        match self {
            Status::Progress(_) => 0,
            Status::Failed(_) => 1,
            Status::Done(_) => 2,
        }
    }

    /// The sentence to show.
    pub fn text(&self) -> &str {
        match self {
            Status::Progress(t) | Status::Failed(t) | Status::Done(t) => t,
        }
    }
}

/// Replaces `{addr:demo}`, `{host:demo}` and `{port:demo}` with the address
/// the server reported for that demo (or the demo's default address when the
/// server has not said, e.g. in simulated mode).
pub fn fill(template: &str, demos: &[DemoInfo]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..close];
        match inner.split_once(':').and_then(|(what, name)| {
            let demo: Demo = name.parse().ok()?;
            let addr = demos
                .iter()
                .find(|d| d.demo == demo)
                .map(|d| d.addr.clone())
                .unwrap_or_else(|| format!("127.0.0.1:{}", demo.default_port()));
            let (host, port) = split_addr(&addr);
            match what {
                "addr" => Some(addr.clone()),
                "host" => Some(host.to_owned()),
                "port" => Some(port.to_owned()),
                _ => None,
            }
        }) {
            Some(value) => out.push_str(&value),
            None => {
                out.push('{');
                out.push_str(inner);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `127.0.0.1:65432` → (`127.0.0.1`, `65432`); `[::1]:80` → (`::1`, `80`).
fn split_addr(addr: &str) -> (&str, &str) {
    match addr.rsplit_once(':') {
        Some((host, port)) => (host.trim_start_matches('[').trim_end_matches(']'), port),
        None => (addr, ""),
    }
}

/// Bytes in a sentence: `"Hello, Server"` as text, or hex when binary.
fn quote(bytes: &[u8]) -> String {
    const MOST: usize = 60;
    let cut = &bytes[..bytes.len().min(MOST)];
    let more = if bytes.len() > MOST { "…" } else { "" };
    match shown(cut) {
        Shown::Text(t) => format!("\"{}{more}\"", t.escape_debug()),
        Shown::Binary { hex, .. } => format!("bytes {hex}{more}"),
    }
}

fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

/// What one connection's account holds, gathered once for the checks.
struct Account<'a> {
    events: &'a [ServerEvent],
    /// All bytes the demo read, in order (as far as the events carried them).
    read: Vec<u8>,
    /// Bytes read according to the sizes (the events may carry fewer).
    read_size: usize,
    /// Whether every read's bytes were carried in its event.
    read_complete: bool,
    closed: Option<(Closer, &'a str)>,
}

impl<'a> Account<'a> {
    fn new(events: &'a [ServerEvent]) -> Self {
        let mut read = Vec::new();
        let mut read_size = 0;
        let mut read_complete = true;
        let mut closed = None;
        for ev in events {
            match &ev.kind {
                EventKind::Read { size, data } => {
                    read.extend_from_slice(&data.0);
                    read_size += size;
                    read_complete &= data.0.len() == *size;
                }
                EventKind::Closed { by, reason } => closed = Some((*by, reason.as_str())),
                _ => {}
            }
        }
        Self {
            events,
            read,
            read_size,
            read_complete,
            closed,
        }
    }

    fn peer(&self) -> &str {
        self.events.first().map_or("", |e| e.peer.as_str())
    }

    fn position(&self, f: impl Fn(&EventKind) -> bool) -> Option<usize> {
        self.events.iter().position(|e| f(&e.kind))
    }

    fn server_closed(&self) -> Option<Status> {
        match self.closed {
            Some((Closer::Server, reason)) => Some(Status::Failed(format!(
                "The server closed the connection from {}: {reason}.",
                self.peer()
            ))),
            _ => None,
        }
    }

    /// The client ended the connection with a reset (or vanished), not an
    /// orderly FIN: the tcp-echo driver reports a read of 0 bytes as EOF.
    fn client_reset(&self) -> bool {
        matches!(self.closed, Some((Closer::Client, reason)) if !reason.contains("read returned 0"))
    }
}

/// Reads one connection's account (its events in order) as `check` asks.
///
/// `None` means nothing relevant was seen yet. Criteria, per check:
///
/// - [`Check::Roundtrip`]: the bytes read contain `Hello, Server`, a reply
///   starting with `ACK: ` follows, and the connection is then closed by the
///   client. (That the client printed the reply shows in its own terminal,
///   not in the server's account.)
/// - [`Check::Granted`]: a granted verdict. A denied one is a failed attempt
///   whose reason says how many bytes the client sent and what was expected.
/// - [`Check::HalfClose`]: what the server's account can really show. A FIN
///   from `shutdown(SHUT_WR)` and one from `close()` are the same segment on
///   the wire; they differ only in that a half-closed client can still
///   receive. The server therefore sees a half-close only if it learnt of
///   the client's end of stream *before* it sent its reply and the reply then
///   still went out without error: the demo looks for the FIN right after
///   each read and reports `Fin { before_reply: true }` when it was already
///   there, so this check needs that event (or another end-of-stream marker
///   before a `Reply`), no error, and the close by the client. A client that
///   reads the reply and only then closes gives "read, reply, FIN, closed":
///   reported as progress, with what to change.
pub fn judge(check: Check, events: &[ServerEvent]) -> Option<Status> {
    let a = Account::new(events);
    let peer = a.peer().to_owned();
    match check {
        Check::Connected => a
            .position(|k| matches!(k, EventKind::Accepted { .. }))
            .map(|_| {
                Status::Done(format!(
                    "the demo accepted a connection from your program at {peer}."
                ))
            }),
        Check::EphemeralPort => judge_port(&a, &peer),
        Check::AppBytes => {
            let read = a.position(|k| matches!(k, EventKind::Read { size, .. } if *size > 0))?;
            let reply = events[read..].iter().find_map(|e| match &e.kind {
                EventKind::Reply { data, .. } => Some(data.0.clone()),
                _ => None,
            });
            Some(match reply {
                Some(reply) => Status::Done(format!(
                    "the demo read {} of application data from {peer} ({}) and answered {}.",
                    bytes(a.read_size),
                    quote(&a.read),
                    quote(&reply)
                )),
                None => Status::Progress(format!(
                    "the demo read {} from {peer}; waiting for its answer.",
                    bytes(a.read_size)
                )),
            })
        }
        Check::Datagram | Check::Truncated => {
            let (size, truncated, data) = events.iter().find_map(|e| match &e.kind {
                EventKind::Datagram {
                    size,
                    truncated,
                    data,
                } => Some((*size, *truncated, &data.0)),
                _ => None,
            })?;
            Some(match (check, truncated) {
                (Check::Datagram, _) => Status::Done(format!(
                    "the udp-echo demo received a datagram of {} from {peer}: {}.",
                    bytes(size),
                    quote(data)
                )),
                (_, true) => Status::Done(format!(
                    "a datagram of {} arrived from {peer}; the demo's {READ_BUF}-byte buffer kept only the first {READ_BUF} and the rest was discarded (truncated).",
                    bytes(size)
                )),
                (_, false) => Status::Failed(format!(
                    "a datagram of {} arrived from {peer} whole: it must be larger than {READ_BUF} bytes to be cut.",
                    bytes(size)
                )),
            })
        }
        Check::Roundtrip => judge_roundtrip(&a, &peer),
        Check::StickyReads => {
            let reads: Vec<(usize, &[u8])> = events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::Read { size, data } => Some((*size, &data.0[..])),
                    _ => None,
                })
                .collect();
            if reads.is_empty() {
                return a.closed.map(|_| {
                    Status::Failed(format!(
                        "the connection from {peer} ended before the demo read anything."
                    ))
                });
            }
            let listed: Vec<String> = reads.iter().map(|(_, d)| quote(d)).collect();
            let how = if reads.len() == 1 {
                format!("in one read: {}", listed[0])
            } else {
                format!("in {} reads: {}", reads.len(), listed.join(", "))
            };
            Some(match a.closed {
                Some(_) => Status::Done(format!(
                    "the sticky demo read the {} from {peer} {how}.",
                    bytes(a.read_size)
                )),
                None => Status::Progress(format!(
                    "so far the sticky demo read {} from {peer} {how}; waiting for the connection to end.",
                    bytes(a.read_size)
                )),
            })
        }
        Check::Frame => events.iter().find_map(|e| match &e.kind {
            EventKind::FrameDecoded { len, json } => Some(Status::Done(format!(
                "the framed demo decoded a frame of {} from {peer}: {json}.",
                bytes(*len)
            ))),
            EventKind::FrameRejected { code, message } => Some(Status::Failed(format!(
                "the framed demo refused what {peer} sent ({code}): {message}"
            ))),
            _ => None,
        }),
        Check::Granted => judge_auth(&a, &peer),
        Check::ManyAtOnce => None, // judged over all connections: see most_at_once
        Check::HalfClose => judge_half_close(&a, &peer),
        // Judged from the kernel's view: see KernelTracker.
        Check::ChatBroadcast => judge_chat(&a, &peer),
        Check::TlsRoundtrip => judge_tls(&a, &peer),
        Check::KernelTimeWait
        | Check::KernelQueueFull
        | Check::KernelServerCloseWait
        | Check::KernelCloseWaitFixed => None,
    }
}

/// How long the learner's end must sit in CLOSE_WAIT to count as "never closed".
const HELD_MS: u64 = 2_000;

/// Follows the kernel watcher's messages for one kernel exercise: only
/// changes seen while the page watches count (never what a snapshot finds
/// already there), and only sockets that are not this page's.
#[derive(Debug)]
pub struct KernelTracker {
    check: Check,
    demo: Demo,
    model: super::kernel::Model,
    /// The learner's client ends in CLOSE_WAIT, and since when (ms).
    close_wait_since: Vec<((String, String), u64)>,
    /// The CLOSE_WAIT already shown (its client address), for the fix.
    held: Option<String>,
    best: Option<Status>,
}

impl KernelTracker {
    /// A tracker for `exercise`.
    pub fn new(exercise: &Exercise) -> Self {
        Self {
            check: exercise.check,
            demo: exercise.demo,
            model: super::kernel::Model::default(),
            close_wait_since: Vec::new(),
            held: None,
            best: None,
        }
    }

    /// Takes in one message; `own` says a socket is one of this page's.
    /// Returns the status when it changed.
    pub fn observe(
        &mut self,
        msg: &KernelMsg,
        own: &dyn Fn(&KernelSocket) -> bool,
    ) -> Option<Status> {
        let at_ms = match msg {
            KernelMsg::Update { at_ms, .. } | KernelMsg::Gone { at_ms, .. } => *at_ms,
            KernelMsg::Snapshot { at_ms, .. } => {
                self.model.apply(msg);
                // What was already there is not the learner's doing now; but a
                // CLOSE_WAIT that outlives this moment still counts from here.
                let _ = at_ms;
                return None;
            }
            KernelMsg::Unsupported { reason } => {
                self.model.apply(msg);
                return Some(Status::Progress(format!(
                    "This exercise reads the kernel's view, which is not available here: {reason}"
                )));
            }
        };
        let changes = self.model.apply(msg);
        let mut status = None;
        if self.check == Check::KernelQueueFull {
            // Queue lengths change without any state changing.
            status = self.judge_queue(own);
        }
        for (s, _, after) in changes {
            if s.demo != self.demo || own(&s) {
                continue;
            }
            if let Some(st) = self.judge_change(&s, after, at_ms) {
                status = Some(st);
            }
        }
        let status = status?;
        if self.best.as_ref().is_some_and(|b| b.rank() == 2) || self.best.as_ref() == Some(&status)
        {
            return None;
        }
        self.best = Some(status.clone());
        Some(status)
    }

    fn judge_change(
        &mut self,
        s: &KernelSocket,
        after: Option<TcpState>,
        at_ms: u64,
    ) -> Option<Status> {
        use protocol::kernel::End;
        match self.check {
            Check::KernelTimeWait => match (s.end, after) {
                (End::Client, Some(TcpState::TimeWait)) => Some(Status::Done(format!(
                    "your program's end {} went to TIME_WAIT: it closed first, so it is the side that waits (60 s).",
                    s.local
                ))),
                (End::Server, Some(TcpState::TimeWait)) => Some(Status::Progress(format!(
                    "the {} demo's end of your connection from {} is the one in TIME_WAIT: the server closed first this time. Close from your program before the server does.",
                    s.demo, s.remote
                ))),
                _ => None,
            },
            Check::KernelQueueFull => None,
            Check::KernelServerCloseWait => (s.end == End::Server && after == Some(TcpState::CloseWait)).then(|| {
                Status::Done(format!(
                    "the {} demo's end of your connection from {} is in CLOSE_WAIT: it has your FIN (your half-close) and has not closed yet.",
                    s.demo, s.remote
                ))
            }),
            Check::KernelCloseWaitFixed => self.judge_close_wait(s, after, at_ms),
            _ => None,
        }
    }

    fn judge_queue(&self, own: &dyn Fn(&KernelSocket) -> bool) -> Option<Status> {
        use protocol::kernel::End;
        let l = self.model.listener(self.demo)?;
        if l.recv_q <= l.send_q {
            return (l.recv_q > 0).then(|| {
                    Status::Progress(format!(
                        "{} connection(s) waiting in {}'s accept queue of {} places; keep them open and add more.",
                        l.recv_q,
                        self.demo,
                        l.send_q + 1
                    ))
                });
        }
        let listener = l.local.clone();
        let (waiting, places) = (l.recv_q, l.send_q + 1);
        let yours = self
            .model
            .sockets
            .iter()
            .filter(|c| {
                c.end == End::Client
                    && c.state == TcpState::Established
                    && c.remote == listener
                    && !own(c)
            })
            .count();
        (yours as u32 >= waiting).then(|| {
                Status::Done(format!(
                    "{}'s accept queue was full ({waiting} waiting of {places} places) with {yours} of your program's connections open: the next SYN gets no answer.",
                    self.demo
                ))
            })
    }

    fn judge_close_wait(
        &mut self,
        s: &KernelSocket,
        after: Option<TcpState>,
        at_ms: u64,
    ) -> Option<Status> {
        use protocol::kernel::End;
        // The learner's client address of this socket, and how long that
        // client's end has been in CLOSE_WAIT (if it is).
        let client = match s.end {
            End::Client => s.local.clone(),
            _ => s.remote.clone(),
        };
        let client_key = match s.end {
            End::Client => s.key(),
            _ => (s.remote.clone(), s.local.clone()),
        };
        let waited = self
            .close_wait_since
            .iter()
            .find(|(k, _)| *k == client_key)
            .map(|(_, since)| at_ms.saturating_sub(*since));
        let fixed = |how: String| {
            Status::Done(format!(
                "fixed: {how}, so it no longer waits in CLOSE_WAIT for its own close."
            ))
        };
        // Another run than the one that showed the bug.
        let later_run = self.held.as_ref().is_some_and(|h| *h != client);
        match (s.end, after) {
            (End::Client, Some(TcpState::CloseWait)) => {
                self.close_wait_since.push((s.key(), at_ms));
                Some(Status::Progress(format!(
                    "your program's end {} is in CLOSE_WAIT: the server closed and your program has not. Leave it a moment…",
                    s.local
                )))
            }
            (End::Client, Some(TcpState::TimeWait)) if later_run => Some(fixed(format!(
                "your program (from {client}) closed its end itself, even before the server's FIN arrived"
            ))),
            (End::Client, _) => {
                let held = waited?;
                self.close_wait_since.retain(|(k, _)| *k != client_key);
                if held < HELD_MS {
                    return later_run.then(|| {
                        fixed(format!(
                            "your program's end (from {client}) closed {held} ms after the server did"
                        ))
                    });
                }
                self.held = Some(client);
                Some(Status::Progress(format!(
                    "seen: your program's end {} stayed in CLOSE_WAIT for {:.1} s, until the program ended. That is the bug. \
                     Now fix it (close the socket once the reply is read, or use with) and run it again.",
                    s.local,
                    held as f64 / 1000.0
                )))
            }
            // The demo's end reached TIME_WAIT: the client's FIN came, and
            // not after a long CLOSE_WAIT.
            (End::Server, Some(TcpState::TimeWait))
                if later_run && waited.is_none_or(|w| w < HELD_MS) =>
            {
                Some(fixed(format!(
                    "your program (from {client}) closed right after the server did, and the {} demo's end went on to TIME_WAIT",
                    s.demo
                )))
            }
            _ => None,
        }
    }

    /// The status so far.
    pub fn status(&self) -> Option<&Status> {
        self.best.as_ref()
    }
}

fn judge_port(a: &Account<'_>, peer: &str) -> Option<Status> {
    if a.read_size == 0 {
        return None;
    }
    let port = split_addr(peer).1;
    if a.read.is_empty() {
        return Some(Status::Progress(format!(
            "the demo read {} from {peer} but did not report their content.",
            bytes(a.read_size)
        )));
    }
    let text = String::from_utf8_lossy(&a.read);
    let numbers: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .collect();
    if numbers.contains(&port) {
        return Some(Status::Done(format!(
            "your program said {}, and the demo saw its connection come from {peer}: port {port} is the ephemeral port your OS chose.",
            quote(&a.read)
        )));
    }
    let finished = a.closed.is_some();
    Some(match numbers.first() {
        Some(n) if finished => Status::Failed(format!(
            "your program sent the number {n}, but its connection came from port {port} ({peer}). Send this socket's own local port (getsockname)."
        )),
        None if finished => Status::Failed(format!(
            "the demo read {} from {peer} with no port number in it.",
            quote(&a.read)
        )),
        _ => Status::Progress(format!(
            "the demo read {} from {peer}; no port {port} in it yet.",
            quote(&a.read)
        )),
    })
}

fn judge_roundtrip(a: &Account<'_>, peer: &str) -> Option<Status> {
    const HELLO: &[u8] = b"Hello, Server";
    if a.read_size == 0 && a.closed.is_none() {
        return None;
    }
    let has_hello = a.read.windows(HELLO.len()).any(|w| w == HELLO);
    // The first reply after the read that completed the message.
    let reply = a.events.iter().find_map(|e| match &e.kind {
        EventKind::Reply { data, .. } if data.0.starts_with(ACK_PREFIX) => Some(data.0.clone()),
        _ => None,
    });
    if let Some(s) = a.server_closed() {
        return Some(s);
    }
    let content_unknown = !a.read_complete && !has_hello;
    Some(match (a.closed, has_hello, reply) {
        (Some((Closer::Client, _)), true, Some(reply)) => Status::Done(format!(
            "the demo read \"Hello, Server\" from {peer}, sent {}, and then your client closed the connection.",
            quote(&reply)
        )),
        (Some(_), true, _) => Status::Failed(format!(
            "the demo read \"Hello, Server\" from {peer}, but the connection ended before its reply went out."
        )),
        (Some(_), false, _) if content_unknown => Status::Failed(format!(
            "the demo read {} from {peer} but did not report their content, so the message cannot be checked.",
            bytes(a.read_size)
        )),
        (Some(_), false, _) if a.read_size == 0 => Status::Failed(format!(
            "the connection from {peer} closed without sending anything: send \"Hello, Server\" first."
        )),
        (Some(_), false, _) => Status::Failed(format!(
            "the demo read {} from {peer}, not \"Hello, Server\".",
            quote(&a.read)
        )),
        (None, true, Some(_)) => Status::Progress(format!(
            "the demo read \"Hello, Server\" from {peer} and replied; now close the connection from your client."
        )),
        (None, _, _) => Status::Progress(format!(
            "the demo has read {} from {peer} so far.",
            quote(&a.read)
        )),
    })
}

fn judge_chat(a: &Account<'_>, peer: &str) -> Option<Status> {
    // The room's own notices start with "* "; a relayed line starts with the
    // sender's address.
    let relayed = a.events.iter().find_map(|e| match &e.kind {
        EventKind::Broadcast { data, to, .. } if !data.0.starts_with(b"* ") => {
            Some((data.0.clone(), *to))
        }
        _ => None,
    });
    match relayed {
        Some((line, to)) if to > 0 => Some(Status::Done(format!(
            "the chat demo relayed {} from {peer} to {to} other {}.",
            quote(said(&line, peer)),
            if to == 1 { "member" } else { "members" }
        ))),
        Some(_) => Some(Status::Progress(format!(
            "the chat demo read a line from {peer}, but nobody else was in the room to hear it: \
             join as A in the chat lab (or run a second client), then send again."
        ))),
        None => {
            if let Some(s) = a.server_closed() {
                return Some(s);
            }
            match a.closed {
                Some(_) if a.read_size > 0 => Some(Status::Failed(format!(
                    "the chat demo read {} from {peer} but no complete line: end each line with \\n.",
                    quote(&a.read)
                ))),
                Some(_) => Some(Status::Failed(format!(
                    "the connection from {peer} closed without sending a line."
                ))),
                None => (a
                    .position(|k| matches!(k, EventKind::Accepted { .. }))
                    .is_some())
                .then(|| Status::Progress(format!("{peer} joined the room; now send a line."))),
            }
        }
    }
}

/// The text of a relayed line: without the sender's address and the newline.
fn said<'a>(line: &'a [u8], peer: &str) -> &'a [u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_prefix(format!("{peer}: ").as_bytes())
        .unwrap_or(line)
}

fn judge_tls(a: &Account<'_>, peer: &str) -> Option<Status> {
    let refused = a.events.iter().find_map(|e| match &e.kind {
        EventKind::TlsRefused { reason } => Some(reason.clone()),
        _ => None,
    });
    if let Some(reason) = refused {
        return Some(Status::Failed(format!(
            "tls-echo refused {peer}: {reason}."
        )));
    }
    let handshake = a.events.iter().find_map(|e| match &e.kind {
        EventKind::TlsHandshake {
            version,
            cipher,
            sni,
        } => Some((version.clone(), cipher.clone(), sni.clone())),
        _ => None,
    });
    let replied = a
        .position(|k| matches!(k, EventKind::Reply { data, .. } if data.0.starts_with(ACK_PREFIX)))
        .is_some();
    match handshake {
        Some((version, cipher, sni)) if replied && a.read_size > 0 => {
            let name = sni.map_or("no server name (SNI)".to_owned(), |s| {
                format!("server name {s}")
            });
            Some(Status::Done(format!(
                "{peer} completed a {version} handshake ({cipher}, {name}); the demo decrypted {} and sent its ACK back, encrypted.",
                quote(&a.read)
            )))
        }
        Some((version, ..)) => Some(Status::Progress(format!(
            "{peer} completed a {version} handshake; now send a message over it."
        ))),
        None => {
            if let Some(s) = a.server_closed() {
                return Some(s);
            }
            a.closed.map(|_| {
                Status::Failed(format!(
                    "the connection from {peer} ended before its TLS handshake finished."
                ))
            })
        }
    }
}

fn judge_auth(a: &Account<'_>, peer: &str) -> Option<Status> {
    let verdict = a.events.iter().find_map(|e| match &e.kind {
        EventKind::Verdict { granted, reason } => Some((*granted, *reason)),
        _ => None,
    });
    let timeout = a.events.iter().find_map(|e| match &e.kind {
        EventKind::Timeout {
            waiting_for,
            after_ms,
        } => Some((waiting_for.as_str(), *after_ms)),
        _ => None,
    });
    let sent = format!("your client sent {}", bytes(a.read_size));
    match verdict {
        Some((true, _)) => Some(Status::Done(format!(
            "the auth demo granted access to {peer}: its 32-byte answer was HMAC-SHA256(secret, challenge)."
        ))),
        Some((false, reason)) => {
            let why = match reason {
                Some(DenyReason::WrongAnswer) => format!(
                    "wrong answer: {sent}, but they were not the expected HMAC-SHA256(secret, challenge). Check the secret, and hash the {CHALLENGE_LEN} challenge bytes this connection received."
                ),
                Some(DenyReason::TooShort) => format!(
                    "{sent} and then closed; the answer is {RESPONSE_LEN} bytes, the whole HMAC-SHA256 digest (use sendall)."
                ),
                Some(DenyReason::TimedOut) => match timeout {
                    Some((what, ms)) => format!(
                        "{sent}; the server waited {ms} ms for {what} and gave up. Answer with all {RESPONSE_LEN} bytes straight away."
                    ),
                    None => {
                        format!("{sent}; no complete {RESPONSE_LEN}-byte answer arrived in time.")
                    }
                },
                None => format!("{sent}; access was denied."),
            };
            Some(Status::Failed(format!("Access denied for {peer}: {why}")))
        }
        None => {
            if let Some((what, ms)) = timeout {
                return Some(Status::Failed(format!(
                    "{sent}; the server waited {ms} ms for {what} and gave up."
                )));
            }
            if let Some(s) = a.server_closed() {
                return Some(s);
            }
            if a.closed.is_some() {
                return Some(Status::Failed(format!(
                    "{sent} and closed before the server decided."
                )));
            }
            a.position(|k| matches!(k, EventKind::Challenge { .. }))
                .map(|_| {
                    Status::Progress(format!(
                        "the demo sent its challenge to {peer}; {sent} so far."
                    ))
                })
        }
    }
}

fn judge_half_close(a: &Account<'_>, peer: &str) -> Option<Status> {
    // The server reports the client's FIN; it says whether the reply was
    // still to be sent then (the client half-closed and read on).
    let eof = a.position(|k| {
        matches!(
            k,
            EventKind::Fin { .. }
                | EventKind::Closed {
                    by: Closer::Client,
                    ..
                }
        )
    });
    let fin_first = a.position(|k| matches!(k, EventKind::Fin { before_reply: true }));
    let last_reply = a
        .events
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::Reply { .. }));
    let error = a.events.iter().find_map(|e| match &e.kind {
        EventKind::Error { message } => Some(message.clone()),
        _ => None,
    });
    if let Some(message) = error {
        return Some(Status::Failed(format!(
            "the connection from {peer} hit an error: {message}"
        )));
    }
    if let Some(s) = a.server_closed() {
        return Some(s);
    }
    if a.client_reset() {
        return Some(Status::Failed(format!(
            "the connection from {peer} was reset, not closed in order: call shutdown(SHUT_WR) and keep reading."
        )));
    }
    match (eof, last_reply, a.closed) {
        (_, Some(_), Some((Closer::Client, _))) if fin_first.is_some() => {
            Some(Status::Done(format!(
                "the demo saw your FIN from {peer} before it sent its reply, and the reply still went out without error: your client half-closed and kept reading."
            )))
        }
        (Some(e), Some(r), Some((Closer::Client, _))) if e < r => Some(Status::Done(format!(
            "the demo saw the end of your stream from {peer} before it replied, and its reply still went out without error: your client half-closed and kept reading."
        ))),
        (_, Some(_), Some((Closer::Client, _))) => Some(Status::Progress(format!(
            "the demo read {} from {peer}, sent its reply, and only then saw your FIN (a read of 0 bytes): your client read the reply and then closed, which does not show a half-close. Call shutdown(SHUT_WR) right after sending, then read until recv returns b'' (as half_close_client.py does).",
            bytes(a.read_size)
        ))),
        (_, None, Some((Closer::Client, _))) => Some(Status::Failed(format!(
            "the connection from {peer} ended before the demo sent any reply: send a message before shutting down."
        ))),
        _ if a.read_size > 0 => Some(Status::Progress(format!(
            "the demo read {} from {peer}; waiting for the end of your stream.",
            bytes(a.read_size)
        ))),
        _ => None,
    }
}

/// For [`Check::ManyAtOnce`]: the most connections from distinct peers that
/// were accepted and not yet closed at one moment, from each connection's
/// `Accepted` and `Closed` times (a connection not yet closed is still open).
pub fn most_at_once<'a>(conns: impl IntoIterator<Item = &'a [ServerEvent]>) -> usize {
    // (peer, accepted_at, closed_at)
    let mut spans: Vec<(&str, u64, u64)> = Vec::new();
    for events in conns {
        let accepted = events.iter().find_map(|e| match e.kind {
            EventKind::Accepted { .. } => Some(e.at_us),
            _ => None,
        });
        let Some(accepted) = accepted else { continue };
        let closed = events
            .iter()
            .find_map(|e| match e.kind {
                EventKind::Closed { .. } => Some(e.at_us),
                _ => None,
            })
            .unwrap_or(u64::MAX);
        spans.push((events[0].peer.as_str(), accepted, closed));
    }
    // The count can only rise at an accept: check each accept instant.
    spans
        .iter()
        .map(|&(_, t, _)| {
            let mut peers: Vec<&str> = spans
                .iter()
                .filter(|&&(_, a, c)| a <= t && t < c)
                .map(|&(p, _, _)| p)
                .collect();
            peers.sort_unstable();
            peers.dedup();
            peers.len()
        })
        .max()
        .unwrap_or(0)
}

/// Most connections a [`Tracker`] remembers; older ones are forgotten.
const MAX_CONNS: usize = 64;
/// Most events kept per connection.
const MAX_EVENTS: usize = 256;

/// Follows one exercise's demo, connection by connection.
#[derive(Debug, Clone)]
pub struct Tracker {
    demo: Demo,
    check: Check,
    at_once: usize,
    conns: VecDeque<(u64, Vec<ServerEvent>)>,
    best: Option<Status>,
}

impl Tracker {
    /// A tracker for `exercise`.
    pub fn new(exercise: &Exercise) -> Self {
        Self {
            demo: exercise.demo,
            check: exercise.check,
            at_once: exercise.at_once.max(1),
            conns: VecDeque::new(),
            best: None,
        }
    }

    /// Takes in one server event; `own` says it belongs to one of the
    /// page's sockets (the bridge message carried `sock`), and then it never
    /// counts. Returns the status when this event changed it.
    pub fn observe(&mut self, event: &ServerEvent, own: bool) -> Option<Status> {
        if own || event.demo != self.demo || matches!(event.kind, EventKind::Lagged { .. }) {
            return None;
        }
        let fresh = matches!(event.kind, EventKind::Accepted { .. });
        let index = match self.conns.iter().position(|(c, _)| *c == event.conn) {
            // The server restarted and reuses numbers: a new accept starts afresh.
            Some(i) if fresh => {
                self.conns[i].1.clear();
                i
            }
            Some(i) => i,
            None => {
                if self.conns.len() == MAX_CONNS {
                    self.conns.pop_front();
                }
                self.conns.push_back((event.conn, Vec::new()));
                self.conns.len() - 1
            }
        };
        let events = &mut self.conns[index].1;
        if events.len() < MAX_EVENTS {
            events.push(event.clone());
        }
        let status = if self.check == Check::ManyAtOnce {
            self.judge_many()
        } else {
            judge(self.check, &self.conns[index].1)
        }?;
        // Done stays done; otherwise the latest attempt speaks.
        if self.best.as_ref().is_some_and(|b| b.rank() == 2) || self.best.as_ref() == Some(&status)
        {
            return None;
        }
        self.best = Some(status.clone());
        Some(status)
    }

    fn judge_many(&self) -> Option<Status> {
        let most = most_at_once(self.conns.iter().map(|(_, e)| &e[..]));
        let open_now = self
            .conns
            .iter()
            .filter(|(_, e)| {
                e.iter()
                    .any(|e| matches!(e.kind, EventKind::Accepted { .. }))
                    && !e.iter().any(|e| matches!(e.kind, EventKind::Closed { .. }))
            })
            .count();
        let n = self.at_once;
        if most == 0 {
            return None;
        }
        Some(if most >= n {
            Status::Done(format!(
                "the {} demo held {most} connections from different ports open at the same moment.",
                self.demo
            ))
        } else if open_now == 0 {
            Status::Failed(format!(
                "at most {most} of your connections were open at the same moment; open all {n} before sending on any of them."
            ))
        } else {
            Status::Progress(format!(
                "{most} of your connections open at the same moment so far; {n} are needed."
            ))
        })
    }

    /// The status so far.
    pub fn status(&self) -> Option<&Status> {
        self.best.as_ref()
    }
}

// ---- The page: storage, progress overview, the exercise card. ----

const KEY_PREFIX: &str = "socket-lab.exercise.";
/// Quizzes may record a score under this prefix (`socket-lab.quiz.<chapter>`);
/// the overview lists what it finds.
const QUIZ_PREFIX: &str = "socket-lab.quiz.";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

fn remembered(id: &str) -> Option<String> {
    storage().and_then(|s| s.get_item(&format!("{KEY_PREFIX}{id}")).ok().flatten())
}

fn remember(id: &str, how: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(&format!("{KEY_PREFIX}{id}"), how);
    }
}

/// Forgets every exercise (and quiz) result stored by this browser.
fn forget_all() {
    let Some(s) = storage() else { return };
    let keys: Vec<String> = (0..s.length().unwrap_or(0))
        .filter_map(|i| s.key(i).ok().flatten())
        .filter(|k| k.starts_with(KEY_PREFIX) || k.starts_with(QUIZ_PREFIX))
        .collect();
    for k in keys {
        let _ = s.remove_item(&k);
    }
}

fn quiz_scores() -> Vec<(String, String)> {
    let Some(s) = storage() else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = (0..s.length().unwrap_or(0))
        .filter_map(|i| s.key(i).ok().flatten())
        .filter_map(|k| {
            let chapter = k.strip_prefix(QUIZ_PREFIX)?.to_owned();
            let v = s.get_item(&k).ok().flatten()?;
            Some((chapter, v))
        })
        .collect();
    out.sort();
    out
}

/// One line of the progress overview, pure so it can be tested.
pub fn progress_line(done: usize, total: usize) -> String {
    format!("{done} of {total} exercises done")
}

/// Draws the overview of every exercise (done or not) with a reset button
/// into `parent`; returns the button's listener.
fn overview(parent: &Element, all: &[Exercise], on_reset: impl Fn() + 'static) -> Listener {
    let details = add(parent, el("details", "sl-progress", ""));
    attr(&details, "data-role", "progress");
    let done = all.iter().filter(|e| remembered(&e.id).is_some()).count();
    add(&details, el("summary", "", &progress_line(done, all.len())));
    let list = add(&details, el("ul", "sl-progress-list", ""));
    for ex in all {
        let is_done = remembered(&ex.id).is_some();
        let li = add(
            &list,
            el(
                "li",
                "",
                &format!(
                    "{} {}: {}",
                    if is_done { "✓" } else { "○" },
                    ex.chapter,
                    ex.id
                ),
            ),
        );
        attr(&li, "data-exercise", &ex.id);
        attr(&li, "data-done", if is_done { "true" } else { "false" });
    }
    let quizzes = quiz_scores();
    if !quizzes.is_empty() {
        let q = add(&details, el("ul", "sl-progress-list", ""));
        for (chapter, score) in quizzes {
            add(&q, el("li", "", &format!("quiz {chapter}: {score}")));
        }
    }
    let b = add(&details, el("button", "sl-button", "Reset progress"));
    attr(&b, "type", "button");
    attr(&b, "data-role", "reset-progress");
    Listener::new(&b, "click", move |_| {
        forget_all();
        on_reset();
    })
}

/// Fills the card's commands from the ports the server reported, and
/// `{http}` with the server's site.
fn show_commands(list: &Element, ex: &Exercise, demos: &[DemoInfo], http: &str) {
    list.set_inner_html("");
    for cmd in &ex.commands {
        let li = add(list, el("li", "", ""));
        add(
            &li,
            el("code", "", &fill(&cmd.replace("{http}", http), demos)),
        );
    }
}

struct Card {
    status: Element,
    task: Element,
    commands: Element,
}

fn set_status(card: &Card, status: &Status) {
    let (prefix, state) = match status {
        Status::Done(_) => ("✓ Done: ", "done"),
        Status::Failed(_) => ("Not yet: ", "failed"),
        Status::Progress(_) => ("Seen so far: ", "progress"),
    };
    card.status
        .set_text_content(Some(&format!("{prefix}{}", status.text())));
    attr(&card.status, "data-state", state);
    if state == "done" {
        attr(&card.status, "data-done", "true");
    }
}

fn render(
    root: &Element,
    ex: Exercise,
    all: Vec<Exercise>,
    bridge: Bridge,
) -> Rc<dyn std::any::Any> {
    let box_ = add(root, el("div", "sl-card sl-exercise", ""));
    attr(&box_, "data-exercise", &ex.id);
    add(&box_, el("h3", "sl-title", "Exercise"));
    let card = Rc::new(Card {
        task: add(&box_, el("p", "", "")),
        commands: add(&box_, el("ul", "sl-commands", "")),
        status: add(&box_, el("p", "sl-status", "")),
    });
    attr(&card.status, "data-role", "exercise-status");
    attr(&card.status, "aria-live", "polite");
    let progress_box = add(&box_, el("div", "", ""));

    let refresh_text = {
        let (card, ex, bridge) = (card.clone(), ex.clone(), bridge.clone());
        move || {
            let demos = bridge.demos();
            let http = bridge.http_base();
            card.task
                .set_text_content(Some(&fill(&ex.task.replace("{http}", &http), &demos)));
            show_commands(&card.commands, &ex, &demos, &http);
        }
    };
    refresh_text();

    let tracker = Rc::new(RefCell::new(Tracker::new(&ex)));
    let waiting = {
        let (card, tracker) = (card.clone(), tracker.clone());
        move |mode: Mode| {
            if tracker.borrow().status().is_some() {
                return;
            }
            let text = match mode {
                Mode::Live => "Waiting for your client… (the server's events are being watched)",
                Mode::Connecting => "Connecting to the Socket Lab server…",
                Mode::Simulated => {
                    "This page is not connected to a Socket Lab server, so your program cannot be checked here. Start it with socket-lab (or cargo xtask serve) and open this page from it."
                }
            };
            card.status.set_text_content(Some(text));
            attr(&card.status, "data-state", "waiting");
        }
    };
    let reset_view = {
        let (card, tracker, ex) = (card.clone(), tracker.clone(), ex.clone());
        move || {
            *tracker.borrow_mut() = Tracker::new(&ex);
            let _ = card.status.remove_attribute("data-done");
        }
    };

    let listeners: Rc<RefCell<Vec<Listener>>> = Rc::default();
    // The overview redraws itself after a reset.
    type Redraw = Rc<RefCell<Option<Rc<dyn Fn()>>>>;
    let redraw: Redraw = Rc::default();
    {
        let (pb, all, ls, rd, reset_view, b) = (
            progress_box.clone(),
            all.clone(),
            listeners.clone(),
            // Weak: the drawing closure must not keep itself alive.
            Rc::downgrade(&redraw),
            reset_view.clone(),
            bridge.clone(),
        );
        let waiting = waiting.clone();
        let draw: Rc<dyn Fn()> = Rc::new(move || {
            pb.set_inner_html("");
            let rd2 = rd.clone();
            let (reset_view, waiting, b) = (reset_view.clone(), waiting.clone(), b.clone());
            let l = overview(&pb, &all, move || {
                reset_view();
                waiting(b.mode());
                if let Some(f) = rd2.upgrade().and_then(|r| r.borrow().clone()) {
                    f();
                }
            });
            *ls.borrow_mut() = vec![l];
        });
        *redraw.borrow_mut() = Some(draw.clone());
        draw();
    }

    if let Some(how) = remembered(&ex.id) {
        let how = if how == "done" {
            "completed earlier on this browser.".to_owned()
        } else {
            format!("{how} (earlier, on this browser)")
        };
        set_status(&card, &Status::Done(how));
        tracker.borrow_mut().best = Some(Status::Done(String::new()));
    } else {
        waiting(bridge.mode());
    }
    let mode_watch = {
        let refresh_text = refresh_text.clone();
        let waiting = waiting.clone();
        bridge.on_mode(move |mode| {
            refresh_text();
            waiting(mode);
        })
    };

    let (c, t, rd, id) = (card.clone(), tracker.clone(), redraw.clone(), ex.id.clone());
    let watch = bridge.watch(move |ev, sock| {
        // Events of this page's own sockets carry their socket id: never counted.
        let Some(status) = t.borrow_mut().observe(ev, sock.is_some()) else {
            return;
        };
        set_status(&c, &status);
        if let Status::Done(how) = &status {
            remember(&id, how);
            if let Some(f) = rd.borrow().clone() {
                f();
            }
        }
    });
    // A kernel exercise follows the kernel watcher instead.
    let kernel_watch = ex.check.is_kernel().then(|| {
        let kt = RefCell::new(KernelTracker::new(&ex));
        let (c, rd, id, b) = (card.clone(), redraw.clone(), ex.id.clone(), bridge.clone());
        let done_before = remembered(&ex.id).is_some();
        bridge.watch_kernel(10, move |msg| {
            if done_before {
                return;
            }
            let own = |s: &KernelSocket| super::kernel::is_page_socket(&b, s);
            let Some(status) = kt.borrow_mut().observe(msg, &own) else {
                return;
            };
            set_status(&c, &status);
            if let Status::Done(how) = &status {
                remember(&id, how);
                if let Some(f) = rd.borrow().clone() {
                    f();
                }
            }
        })
    });
    Rc::new((
        card,
        tracker,
        listeners,
        redraw,
        watch,
        mode_watch,
        kernel_watch,
    ))
}

/// Builds the exercise named by the element's `exercise` attribute.
pub fn mount(root: &HtmlElement, bridge: Bridge) -> Result<Mounted, String> {
    let id = root
        .get_attribute("exercise")
        .ok_or("<socket-lab lab=\"exercise\"> needs exercise=\"<id>\"")?;
    let src = root
        .get_attribute("src")
        .unwrap_or_else(|| "exercises.json".to_owned());
    let r: Element = root.clone().into();
    let state: Rc<RefCell<Option<Rc<dyn std::any::Any>>>> = Rc::default();
    let keep = state.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let found = fetch_text(&src).await.and_then(|t| {
            let all =
                serde_json::from_str::<Vec<Exercise>>(&t).map_err(|e| format!("{src}: {e}"))?;
            let ex = all
                .iter()
                .find(|e| e.id == id)
                .cloned()
                .ok_or(format!("no exercise {id:?} in {src}"))?;
            Ok((ex, all))
        });
        match found {
            Ok((ex, all)) => *keep.borrow_mut() = Some(render(&r, ex, all, bridge)),
            Err(e) => super::load_failed(&r, "exercise", &e),
        }
    });
    Ok(Mounted::with_state(Vec::new(), state))
}

/// Builds a stand-alone progress overview (`<socket-lab lab="progress">`):
/// which exercises this browser has completed, with a reset button. Reads
/// the exercise list from the element's `src` (default `exercises.json`).
pub fn mount_progress(root: &HtmlElement) -> Result<Mounted, String> {
    let src = root
        .get_attribute("src")
        .unwrap_or_else(|| "exercises.json".to_owned());
    let r: Element = root.clone().into();
    let state: Rc<RefCell<Option<Rc<dyn std::any::Any>>>> = Rc::default();
    let keep = state.clone();
    wasm_bindgen_futures::spawn_local(async move {
        match fetch_text(&src).await.and_then(|t| {
            serde_json::from_str::<Vec<Exercise>>(&t).map_err(|e| format!("{src}: {e}"))
        }) {
            Ok(all) => {
                let card = add(&r, el("div", "sl-card sl-exercise", ""));
                add(&card, el("h3", "sl-title", "Your progress"));
                let body = add(&card, el("div", "", ""));
                let listener: Rc<RefCell<Option<Listener>>> = Rc::default();
                // Redraws itself after a reset; holds its own listener.
                type Draw = Rc<RefCell<Option<Rc<dyn Fn()>>>>;
                let draw: Draw = Rc::default();
                let (d, l) = (Rc::downgrade(&draw), listener.clone());
                let f: Rc<dyn Fn()> = Rc::new(move || {
                    body.set_inner_html("");
                    let d2 = d.clone();
                    let l2 = overview(&body, &all, move || {
                        if let Some(f) = d2.upgrade().and_then(|d| d.borrow().clone()) {
                            f();
                        }
                    });
                    *l.borrow_mut() = Some(l2);
                });
                *draw.borrow_mut() = Some(f.clone());
                f();
                *keep.borrow_mut() = Some(Rc::new((draw, listener)));
            }
            Err(e) => {
                add(
                    &r,
                    el(
                        "p",
                        "sl-error",
                        &format!("The progress could not be loaded: {e}"),
                    ),
                );
            }
        }
    });
    Ok(Mounted::with_state(Vec::new(), state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Transport;
    use protocol::hex::HexBytes;

    fn ev(demo: Demo, conn: u64, peer: &str, at_us: u64, kind: EventKind) -> ServerEvent {
        ServerEvent {
            demo,
            conn,
            peer: peer.into(),
            at_us,
            kind,
        }
    }

    fn read(b: &[u8]) -> EventKind {
        EventKind::Read {
            size: b.len(),
            data: HexBytes(b.to_vec()),
        }
    }

    fn reply(b: &[u8]) -> EventKind {
        EventKind::Reply {
            size: b.len(),
            data: HexBytes(b.to_vec()),
        }
    }

    fn accepted() -> EventKind {
        EventKind::Accepted {
            local: "127.0.0.1:65432".into(),
        }
    }

    fn closed(by: Closer) -> EventKind {
        EventKind::Closed {
            by,
            reason: match by {
                Closer::Client => "the client closed the connection (read returned 0 bytes)".into(),
                Closer::Server => "the client sent nothing for 30 s and was dropped".into(),
            },
        }
    }

    /// One connection's account on `demo`.
    fn account(demo: Demo, kinds: Vec<EventKind>) -> Vec<ServerEvent> {
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, k)| ev(demo, 1, "127.0.0.1:50123", i as u64 * 10, k))
            .collect()
    }

    /// One connection to `demo`: accepted, `middle`, then closed by `end`.
    fn connection(demo: Demo, middle: Vec<EventKind>, end: Closer) -> Vec<ServerEvent> {
        let mut kinds = vec![accepted()];
        kinds.extend(middle);
        kinds.push(closed(end));
        account(demo, kinds)
    }

    /// A tcp-echo connection: each piece read and echoed after `ACK: `,
    /// then closed by `end` (or still open).
    fn echoed(pieces: &[&str], end: Option<Closer>) -> Vec<ServerEvent> {
        let mut kinds = vec![accepted()];
        for p in pieces {
            kinds.push(read(p.as_bytes()));
            kinds.push(reply(format!("ACK: {p}").as_bytes()));
        }
        kinds.extend(end.map(closed));
        account(Demo::TcpEcho, kinds)
    }

    fn exercises() -> Vec<Exercise> {
        let text = include_str!("../../../book/src/exercises.json");
        serde_json::from_str(text).expect("exercises.json parses")
    }

    fn exercise(id: &str) -> Exercise {
        exercises().into_iter().find(|e| e.id == id).unwrap()
    }

    fn is_done(s: &Option<Status>) -> bool {
        matches!(s, Some(Status::Done(_)))
    }

    fn is_failed(s: &Option<Status>) -> bool {
        matches!(s, Some(Status::Failed(_)))
    }

    #[test]
    fn the_exercise_file_is_well_formed() {
        let all = exercises();
        assert!(all.len() >= 11);
        for ex in &all {
            assert!(!ex.task.contains('`'), "{}: no Markdown in UI text", ex.id);
            assert!(ex.commands.iter().all(|c| !c.contains('`')), "{}", ex.id);
            assert!(
                !ex.task.contains("65432"),
                "{}: ports come from the server",
                ex.id
            );
            let filled = fill(&ex.task, &[]);
            assert!(
                !filled.contains("{addr:") && !filled.contains("{port:"),
                "{filled}"
            );
        }
        let mut ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len(), "ids are unique");
    }

    #[test]
    fn commands_use_the_reported_ports() {
        let demos = [DemoInfo {
            demo: Demo::TcpEcho,
            transport: Transport::Tcp,
            addr: "127.0.0.1:31432".into(),
        }];
        assert_eq!(
            fill("nc {host:tcp-echo} {port:tcp-echo}", &demos),
            "nc 127.0.0.1 31432"
        );
        assert_eq!(fill("{addr:tcp-echo}", &demos), "127.0.0.1:31432");
        // Not reported: the default; unknown placeholders stay as they are.
        assert_eq!(fill("{port:auth}", &demos), "8080");
        assert_eq!(fill("{x} {port:nope} {", &demos), "{x} {port:nope} {");
        assert_eq!(split_addr("[::1]:5000"), ("::1", "5000"));
        let cmds = exercise("cs-own-client").commands;
        assert!(cmds.iter().any(|c| fill(c, &demos).contains("31432")));
    }

    #[test]
    fn a_chat_line_counts_only_when_someone_else_heard_it() {
        let line = |to| EventKind::Broadcast {
            size: 30,
            data: HexBytes(b"127.0.0.1:50123: Hello, room\n".to_vec()),
            to,
        };
        let joined = EventKind::Broadcast {
            size: 26,
            data: HexBytes(b"* 127.0.0.1:50123 joined\n".to_vec()),
            to: 3,
        };
        let alone = account(Demo::Chat, vec![accepted(), joined.clone(), line(0)]);
        let s = judge(Check::ChatBroadcast, &alone);
        assert!(
            matches!(&s, Some(Status::Progress(t)) if t.contains("nobody else")),
            "{s:?}"
        );
        let heard = account(Demo::Chat, vec![accepted(), joined.clone(), line(2)]);
        let s = judge(Check::ChatBroadcast, &heard);
        assert!(is_done(&s), "{s:?}");
        assert!(
            s.unwrap()
                .text()
                .contains("\"Hello, room\" from 127.0.0.1:50123 to 2 other members")
        );
        // The room's own notice is no line of the learner's.
        let only_joined = account(Demo::Chat, vec![accepted(), joined]);
        assert!(!is_done(&judge(Check::ChatBroadcast, &only_joined)));
    }

    #[test]
    fn tls_needs_a_handshake_then_a_reply_and_a_plain_client_fails() {
        let refused = account(
            Demo::TlsEcho,
            vec![
                accepted(),
                EventKind::TlsRefused {
                    reason: "not a TLS handshake".into(),
                },
                closed(Closer::Server),
            ],
        );
        assert!(is_failed(&judge(Check::TlsRoundtrip, &refused)));
        let hs = EventKind::TlsHandshake {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
            sni: Some("localhost".into()),
        };
        let half = account(Demo::TlsEcho, vec![accepted(), hs.clone()]);
        assert!(matches!(
            judge(Check::TlsRoundtrip, &half),
            Some(Status::Progress(_))
        ));
        let whole = account(
            Demo::TlsEcho,
            vec![
                accepted(),
                hs,
                read(b"Hello, TLS"),
                EventKind::Reply {
                    size: 15,
                    data: HexBytes(b"ACK: Hello, TLS".to_vec()),
                },
            ],
        );
        let s = judge(Check::TlsRoundtrip, &whole);
        assert!(is_done(&s), "{s:?}");
        assert!(s.unwrap().text().contains("TLSv1.3 handshake"));
    }

    #[test]
    fn a_small_datagram_does_not_pass_the_truncation_exercise() {
        let small = account(
            Demo::UdpEcho,
            vec![EventKind::Datagram {
                size: 13,
                truncated: false,
                data: HexBytes(b"Hello via UDP".to_vec()),
            }],
        );
        assert!(is_failed(&judge(Check::Truncated, &small)));
        assert!(is_done(&judge(Check::Datagram, &small)));
        let big = account(
            Demo::UdpEcho,
            vec![EventKind::Datagram {
                size: 1500,
                truncated: true,
                data: HexBytes(vec![b'x'; 1024]),
            }],
        );
        let s = judge(Check::Truncated, &big);
        assert!(is_done(&s), "{s:?}");
        assert!(s.unwrap().text().contains("1500 bytes"));
    }

    #[test]
    fn the_roundtrip_needs_the_message_the_ack_and_the_clients_close() {
        let good = echoed(&["Hello, Server"], Some(Closer::Client));
        assert!(is_done(&judge(Check::Roundtrip, &good)));
        // A message in two reads still counts.
        let pieces = echoed(&["Hello, ", "Server"], Some(Closer::Client));
        assert!(is_done(&judge(Check::Roundtrip, &pieces)));
        let other = echoed(&["hi"], Some(Closer::Client));
        let s = judge(Check::Roundtrip, &other);
        assert!(is_failed(&s));
        assert!(s.unwrap().text().contains("\"hi\""));
        let dropped = echoed(&["Hello, Server"], Some(Closer::Server));
        assert!(is_failed(&judge(Check::Roundtrip, &dropped)));
        let open = account(
            Demo::TcpEcho,
            vec![
                accepted(),
                read(b"Hello, Server"),
                reply(b"ACK: Hello, Server"),
            ],
        );
        assert!(matches!(
            judge(Check::Roundtrip, &open),
            Some(Status::Progress(_))
        ));
        // Just connecting is not the round trip, but is the first exercise.
        let only = account(Demo::TcpEcho, vec![accepted()]);
        assert_eq!(judge(Check::Roundtrip, &only), None);
        assert!(is_done(&judge(Check::Connected, &only)));
    }

    #[test]
    fn a_plain_close_is_not_shown_as_a_half_close() {
        let plain = echoed(&["Hello, Server"], Some(Closer::Client));
        let s = judge(Check::HalfClose, &plain);
        assert!(matches!(s, Some(Status::Progress(_))), "{s:?}");
        assert!(s.unwrap().text().contains("does not show a half-close"));
        // End of stream seen before the reply, the reply still sent: shown.
        let half = connection(
            Demo::TcpEcho,
            vec![
                read(b"Hello, Server"),
                EventKind::Fin { before_reply: true },
                reply(b"ACK: Hello, Server"),
            ],
            Closer::Client,
        );
        assert!(is_done(&judge(Check::HalfClose, &half)));
        let reset = account(
            Demo::TcpEcho,
            vec![
                accepted(),
                read(b"Hello, Server"),
                reply(b"ACK: Hello, Server"),
                EventKind::Closed {
                    by: Closer::Client,
                    reason: "the client vanished (connection reset by peer)".into(),
                },
            ],
        );
        assert!(is_failed(&judge(Check::HalfClose, &reset)));
        let silent = account(Demo::TcpEcho, vec![accepted(), closed(Closer::Client)]);
        assert!(is_failed(&judge(Check::HalfClose, &silent)));
    }

    #[test]
    fn auth_failures_say_why() {
        let challenge = EventKind::Challenge {
            data: HexBytes(vec![7; 32]),
        };
        let granted = connection(
            Demo::Auth,
            vec![
                challenge.clone(),
                read(&[1; 32]),
                EventKind::Verdict {
                    granted: true,
                    reason: None,
                },
            ],
            Closer::Server,
        );
        assert!(is_done(&judge(Check::Granted, &granted)));
        let short = connection(
            Demo::Auth,
            vec![
                challenge.clone(),
                read(&[1; 31]),
                EventKind::Verdict {
                    granted: false,
                    reason: Some(DenyReason::TooShort),
                },
            ],
            Closer::Client,
        );
        let s = judge(Check::Granted, &short).unwrap();
        assert!(matches!(s, Status::Failed(_)));
        assert!(
            s.text().contains("your client sent 31 bytes"),
            "{}",
            s.text()
        );
        let wrong = account(
            Demo::Auth,
            vec![
                accepted(),
                challenge.clone(),
                read(&[1; 32]),
                EventKind::Verdict {
                    granted: false,
                    reason: Some(DenyReason::WrongAnswer),
                },
            ],
        );
        let s = judge(Check::Granted, &wrong).unwrap();
        assert!(s.text().contains("wrong answer"), "{}", s.text());
        assert!(s.text().contains("expected HMAC-SHA256(secret, challenge)"));
        let slow = account(
            Demo::Auth,
            vec![
                accepted(),
                challenge.clone(),
                EventKind::Timeout {
                    waiting_for: "the 32-byte answer".into(),
                    after_ms: 10_000,
                },
                EventKind::Verdict {
                    granted: false,
                    reason: Some(DenyReason::TimedOut),
                },
            ],
        );
        let s = judge(Check::Granted, &slow).unwrap();
        assert!(s.text().contains("sent 0 bytes"), "{}", s.text());
        assert!(
            s.text().contains("10000 ms for the 32-byte answer"),
            "{}",
            s.text()
        );
        let waiting = account(Demo::Auth, vec![accepted(), challenge]);
        assert!(matches!(
            judge(Check::Granted, &waiting),
            Some(Status::Progress(_))
        ));
    }

    #[test]
    fn the_ephemeral_port_must_match_the_peer() {
        let right = connection(
            Demo::TcpEcho,
            vec![read(b"Hello from port 50123")],
            Closer::Client,
        );
        assert!(is_done(&judge(Check::EphemeralPort, &right)));
        let wrong = connection(
            Demo::TcpEcho,
            vec![read(b"Hello from port 65432")],
            Closer::Client,
        );
        assert!(is_failed(&judge(Check::EphemeralPort, &wrong)));
    }

    #[test]
    fn sticky_and_frames_report_what_was_read() {
        let merged = account(
            Demo::Sticky,
            vec![accepted(), read(b"HelloWorld"), closed(Closer::Client)],
        );
        let s = judge(Check::StickyReads, &merged).unwrap();
        assert!(
            s.text().contains("in one read: \"HelloWorld\""),
            "{}",
            s.text()
        );
        let bad = account(
            Demo::Framed,
            vec![
                accepted(),
                EventKind::FrameRejected {
                    code: "invalid_json".into(),
                    message: "the payload is not JSON".into(),
                },
            ],
        );
        assert!(is_failed(&judge(Check::Frame, &bad)));
        let app = account(Demo::Uppercase, vec![accepted(), read(b"hi"), reply(b"HI")]);
        assert!(is_done(&judge(Check::AppBytes, &app)));
    }

    #[test]
    fn five_at_once_means_overlapping_connections_from_distinct_peers() {
        let ex = exercise("concurrency-many");
        assert_eq!((ex.check, ex.at_once), (Check::ManyAtOnce, 5));
        // One connection after another never overlaps.
        let mut t = Tracker::new(&ex);
        let mut last = None;
        for i in 0..5u64 {
            let peer = format!("127.0.0.1:{}", 50000 + i);
            t.observe(&ev(Demo::Uppercase, i, &peer, i * 100, accepted()), false);
            last = t.observe(
                &ev(
                    Demo::Uppercase,
                    i,
                    &peer,
                    i * 100 + 50,
                    closed(Closer::Server),
                ),
                false,
            );
        }
        assert!(is_failed(&last), "{last:?}");
        // Five held at once, as many_clients.py does.
        let mut t = Tracker::new(&ex);
        for i in 0..5u64 {
            let peer = format!("127.0.0.1:{}", 51000 + i);
            t.observe(&ev(Demo::Uppercase, 10 + i, &peer, i, accepted()), false);
        }
        assert!(
            matches!(t.status(), Some(Status::Done(_))),
            "{:?}",
            t.status()
        );
        // The page's own connections never count.
        let mut t = Tracker::new(&ex);
        for i in 0..5u64 {
            let peer = format!("127.0.0.1:{}", 52000 + i);
            assert_eq!(
                t.observe(&ev(Demo::Uppercase, 20 + i, &peer, i, accepted()), true),
                None
            );
        }
        assert_eq!(t.status(), None);
    }

    #[test]
    fn the_tracker_follows_each_connection_and_ignores_others() {
        let ex = exercise("tcp-echo-roundtrip");
        let mut t = Tracker::new(&ex);
        let peer = "127.0.0.1:40000";
        // Another demo's events and the page's own are ignored.
        assert_eq!(
            t.observe(&ev(Demo::Sticky, 1, peer, 0, accepted()), false),
            None
        );
        assert_eq!(
            t.observe(&ev(Demo::TcpEcho, 2, peer, 0, read(b"Hello, Server")), true),
            None
        );
        // Two connections interleaved: each judged on its own account.
        t.observe(&ev(Demo::TcpEcho, 3, peer, 0, accepted()), false);
        t.observe(
            &ev(Demo::TcpEcho, 4, "127.0.0.1:40001", 1, accepted()),
            false,
        );
        t.observe(
            &ev(
                Demo::TcpEcho,
                4,
                "127.0.0.1:40001",
                2,
                read(b"Hello, Server"),
            ),
            false,
        );
        t.observe(&ev(Demo::TcpEcho, 3, peer, 3, read(b"x")), false);
        t.observe(
            &ev(
                Demo::TcpEcho,
                4,
                "127.0.0.1:40001",
                4,
                reply(b"ACK: Hello, Server"),
            ),
            false,
        );
        let s = t.observe(
            &ev(
                Demo::TcpEcho,
                4,
                "127.0.0.1:40001",
                5,
                closed(Closer::Client),
            ),
            false,
        );
        assert!(is_done(&s), "{s:?}");
        // Done stays done.
        let later = t.observe(
            &ev(Demo::TcpEcho, 3, peer, 6, closed(Closer::Client)),
            false,
        );
        assert_eq!(later, None);
        assert!(matches!(t.status(), Some(Status::Done(_))));
    }

    #[test]
    fn the_progress_line_counts() {
        assert_eq!(progress_line(3, 11), "3 of 11 exercises done");
    }

    fn ksock(
        local: &str,
        remote: &str,
        end: protocol::kernel::End,
        state: TcpState,
    ) -> KernelSocket {
        KernelSocket {
            local: local.into(),
            remote: remote.into(),
            state,
            end,
            demo: Demo::Uppercase,
            recv_q: 0,
            send_q: 0,
            timer: None,
            tcp: None,
        }
    }

    fn upd(at_ms: u64, socket: KernelSocket) -> KernelMsg {
        KernelMsg::Update {
            at_ms,
            from: None,
            socket,
        }
    }

    #[test]
    fn close_wait_then_the_fix_is_judged_from_the_kernels_states() {
        use protocol::kernel::End::{Client, Server};
        let mut t = KernelTracker::new(&exercise("kernel-close-wait-fixed"));
        let nobody = |_: &KernelSocket| false;
        let (d, c1, c2) = ("127.0.0.1:9999", "127.0.0.1:40001", "127.0.0.1:40002");
        let s = t.observe(
            &upd(100, ksock(c1, d, Client, TcpState::CloseWait)),
            &nobody,
        );
        assert!(
            matches!(s, Some(Status::Progress(ref x)) if x.contains("CLOSE_WAIT")),
            "{s:?}"
        );
        // The buggy program's own server end reaching TIME_WAIT is not the fix.
        assert_eq!(
            t.observe(
                &upd(4_000, ksock(d, c1, Server, TcpState::TimeWait)),
                &nobody
            ),
            None
        );
        let s = t.observe(
            &KernelMsg::Gone {
                at_ms: 5_100,
                socket: ksock(c1, d, Client, TcpState::LastAck),
            },
            &nobody,
        );
        assert!(
            matches!(s, Some(Status::Progress(ref x)) if x.contains("5.0 s")),
            "{s:?}"
        );
        let s = t.observe(
            &upd(9_000, ksock(d, c2, Server, TcpState::TimeWait)),
            &nobody,
        );
        assert!(is_done(&s), "{s:?}");

        // A fixed client may also close first: then its own end waits.
        let gone = |at_ms, c: &str| KernelMsg::Gone {
            at_ms,
            socket: ksock(c, d, Client, TcpState::CloseWait),
        };
        let mut t = KernelTracker::new(&exercise("kernel-close-wait-fixed"));
        t.observe(
            &upd(100, ksock(c1, d, Client, TcpState::CloseWait)),
            &nobody,
        );
        t.observe(&gone(5_100, c1), &nobody);
        let s = t.observe(
            &upd(6_000, ksock(c2, d, Client, TcpState::TimeWait)),
            &nobody,
        );
        assert!(is_done(&s), "{s:?}");

        // But the buggy program run again is no fix, though its server end
        // reaches TIME_WAIT when it finally exits.
        let mut t = KernelTracker::new(&exercise("kernel-close-wait-fixed"));
        t.observe(
            &upd(100, ksock(c1, d, Client, TcpState::CloseWait)),
            &nobody,
        );
        t.observe(&gone(5_100, c1), &nobody);
        t.observe(
            &upd(6_000, ksock(c2, d, Client, TcpState::CloseWait)),
            &nobody,
        );
        let s = t.observe(
            &upd(11_000, ksock(d, c2, Server, TcpState::TimeWait)),
            &nobody,
        );
        assert!(!is_done(&s), "{s:?}");
        let s = t.observe(&gone(11_000, c2), &nobody);
        assert!(
            matches!(s, Some(Status::Progress(ref x)) if x.contains("stayed in CLOSE_WAIT")),
            "{s:?}"
        );
    }

    #[test]
    fn a_short_close_wait_or_the_pages_own_socket_does_not_count() {
        use protocol::kernel::End::Client;
        let mut t = KernelTracker::new(&exercise("kernel-close-wait-fixed"));
        let (d, c1) = ("127.0.0.1:9999", "127.0.0.1:40001");
        let everyone = |_: &KernelSocket| true;
        assert_eq!(
            t.observe(
                &upd(100, ksock(c1, d, Client, TcpState::CloseWait)),
                &everyone
            ),
            None
        );
        let nobody = |_: &KernelSocket| false;
        t.observe(
            &upd(100, ksock(c1, d, Client, TcpState::CloseWait)),
            &nobody,
        );
        let gone = KernelMsg::Gone {
            at_ms: 300,
            socket: ksock(c1, d, Client, TcpState::CloseWait),
        };
        assert_eq!(
            t.observe(&gone, &nobody),
            None,
            "0.2 s is a correct client's blink"
        );
    }

    #[test]
    fn time_wait_on_the_learners_end_and_a_full_queue_complete_their_exercises() {
        use protocol::kernel::End::{Client, Listener, Server};
        let nobody = |_: &KernelSocket| false;
        let d = "127.0.0.1:65432";
        let echo = |mut s: KernelSocket| {
            s.demo = Demo::TcpEcho;
            s
        };
        let mut t = KernelTracker::new(&exercise("kernel-time-wait"));
        let s = t.observe(
            &upd(
                1,
                echo(ksock(d, "127.0.0.1:40001", Server, TcpState::TimeWait)),
            ),
            &nobody,
        );
        assert!(
            matches!(s, Some(Status::Progress(_))),
            "the server closed first: {s:?}"
        );
        let s = t.observe(
            &upd(
                2,
                echo(ksock("127.0.0.1:40002", d, Client, TcpState::TimeWait)),
            ),
            &nobody,
        );
        assert!(is_done(&s), "{s:?}");

        let mut t = KernelTracker::new(&exercise("kernel-queue-full"));
        let mut listener = echo(ksock(d, "0.0.0.0:0", Listener, TcpState::Listen));
        listener.send_q = 2;
        for i in 0..4 {
            let c = format!("127.0.0.1:4100{i}");
            t.observe(
                &upd(i, echo(ksock(&c, d, Client, TcpState::Established))),
                &nobody,
            );
        }
        listener.recv_q = 2;
        let s = t.observe(&upd(5, listener.clone()), &nobody);
        assert!(matches!(s, Some(Status::Progress(_))), "{s:?}");
        listener.recv_q = 3;
        let s = t.observe(&upd(6, listener), &nobody);
        assert!(is_done(&s), "{s:?}");
    }
}
