//! One demo connection as a sans-IO conversation: bytes, end-of-stream and
//! time in; bytes to send, the server's events, a close decision, a read hint
//! and the next deadline out.
//!
//! This is the shape of quinn-proto's `Connection` and of str0m's `Rtc`: the
//! caller owns the socket and the clock, feeds what happened
//! ([`Conversation::handle_data`], [`handle_eof`](Conversation::handle_eof),
//! [`handle_timeout`](Conversation::handle_timeout)) and then drains
//! [`poll_output`](Conversation::poll_output) until it returns `None`, doing
//! what each [`Output`] says in order. [`poll_timeout`](Conversation::poll_timeout)
//! says when to call `handle_timeout` if nothing else happens first.
//!
//! Every driver runs these same conversations: the tokio server over real
//! sockets, the in-page simulation over [`crate::sim`]'s TCP model, and the
//! tests in virtual time ([`Pair`]). So the server's account of a connection —
//! each read, each reply, a frame refused, a verdict and its reason, a timeout
//! and what it waited for, who closed and why — is the same in all three by
//! construction.
//!
//! Times are microseconds on the driver's clock (any origin); the conversation
//! never reads a clock of its own.

use std::collections::VecDeque;

use crate::auth::{AuthServer, Challenge, Verdict};
use crate::demo::{
    ACK_PREFIX, Demo, FramedServer, FramedStep, READ_BUF, StickyOptions, echo_reply,
    uppercase_reply,
};
use crate::events::{Closer, EventKind, MAX_EVENT_BYTES};
use crate::hex::HexBytes;

/// The limits a demo works within (the server's flags, in microseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A client that sends nothing for this long is dropped.
    pub idle_timeout_us: u64,
    /// `tcp-echo` serves one client at a time; a turn lasts at most this long.
    pub hold_limit_us: u64,
    /// `auth` waits this long for the 32-byte answer.
    pub handshake_timeout_us: u64,
    /// `framed` refuses a header claiming more than this many bytes.
    pub max_frame: usize,
    /// `auth`'s shared secret.
    pub secret: Vec<u8>,
}

impl Default for Settings {
    /// The server's defaults.
    fn default() -> Self {
        Self {
            idle_timeout_us: 60_000_000,
            hold_limit_us: 300_000_000,
            handshake_timeout_us: 10_000_000,
            max_frame: crate::frame::DEFAULT_MAX_FRAME,
            secret: crate::auth::DEFAULT_SECRET.as_bytes().to_vec(),
        }
    }
}

/// What the driver must do next, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write these bytes to the client (all of them).
    Send(Vec<u8>),
    /// Publish this event: it is what the server saw or did.
    Event(EventKind),
    /// Close the connection: the server's side sends FIN after what was sent.
    /// The [`EventKind::Closed`] event has already been given out. Nothing
    /// follows a `Close`.
    Close,
    /// `chat`: a complete line from this client (without its newline) for
    /// the driver to relay to every other member of the room
    /// ([`crate::chat::relay`]), publishing an [`EventKind::Broadcast`].
    Broadcast(Vec<u8>),
}

/// How the server reads this connection: the sticky demo's knobs, and the
/// notes' `recv(1024)` for everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadHint {
    /// Bytes asked of each read.
    pub size: usize,
    /// How long the server waits before each read, in microseconds.
    pub delay_us: u64,
}

/// What each TCP demo does with a connection.
#[derive(Debug)]
enum Role {
    /// The notes' first TCP server, served one client at a time on purpose:
    /// while a client is connected, the next completes its handshake (the
    /// kernel does that, into the listen backlog) but waits for `accept`.
    /// Every read is answered with `ACK: ` + exactly the bytes that read
    /// returned, so the learner sees read boundaries in the replies. An idle
    /// client is dropped after the idle timeout, and any client after the hold
    /// limit (a client trickling a byte at a time is never idle).
    TcpEcho,
    /// The notes' `socketserver.ThreadingTCPServer`, a task per connection:
    /// reads one chunk of up to 1024 bytes, answers it trimmed and
    /// upper-cased, and closes: one request, one response.
    Uppercase,
    /// Length-prefixed JSON, the notes' cure for sticky packets: every
    /// complete frame gets a reply frame (the request echoed with what the
    /// server saw). A frame that is not UTF-8 JSON gets an error frame and the
    /// stream goes on, because its length told us where the next frame
    /// starts; a header claiming more than the limit gets an error frame and
    /// a close, and nothing is allocated for the claimed length.
    Framed(Box<FramedServer>),
    /// HMAC-SHA256 challenge-response, the notes' "socket verification":
    /// 32 random bytes out, then (within the handshake timeout) exactly 32
    /// bytes of answer, however the client splits them, checked in constant
    /// time; `Access Granted` or `Access Denied`, then close.
    Auth(Box<AuthServer>),
    /// A receiver built to show sticky packets on demand: it waits
    /// `read_delay_ms` before each read (sends pile up and come out merged)
    /// and asks for `read_size` bytes (one send comes out split), and echoes
    /// every read back unchanged.
    Sticky(StickyOptions),
    /// A chat room member: its bytes are cut into lines, and each complete
    /// line goes to the driver to relay to the others. Nobody is dropped for
    /// listening quietly (a chat client may only read), but a line that
    /// never ends is refused.
    Chat(Box<crate::chat::Lines>),
    /// `tls-echo` before any TLS: a client whose first bytes are not a TLS
    /// handshake is told so with a TLS alert and closed. (The native server
    /// hands a real ClientHello to rustls instead; the simulation has no TLS
    /// and refuses it in words.)
    TlsGate,
    /// `tls-echo` after the handshake: the tcp-echo reply to every read, but
    /// served concurrently, so there is no turn to limit.
    TlsEcho,
}

/// One TCP demo's side of one connection.
#[derive(Debug)]
pub struct Conversation {
    demo: Demo,
    role: Role,
    settings: Settings,
    out: VecDeque<Output>,
    /// Give a `Timeout` at this time unless data arrives (µs).
    idle_at: Option<u64>,
    /// A hard limit that data does not move (tcp-echo's turn, auth's answer).
    limit_at: Option<u64>,
    closed: bool,
    /// Whether read and reply events carry their bytes (they cost a copy).
    detail: bool,
}

impl Conversation {
    /// A conversation for a TCP `demo`, starting at `now_us`.
    ///
    /// `challenge` is used by `auth` only (the driver draws it from its random
    /// source); `sticky` by `sticky` only (defaults otherwise).
    ///
    /// # Panics
    /// For `udp-echo`, which has no connections: see [`datagram`].
    pub fn new(
        demo: Demo,
        settings: &Settings,
        now_us: u64,
        challenge: Challenge,
        sticky: Option<StickyOptions>,
    ) -> Self {
        let role = match demo {
            Demo::TcpEcho => Role::TcpEcho,
            Demo::Uppercase => Role::Uppercase,
            Demo::Framed => Role::Framed(Box::new(FramedServer::new(settings.max_frame))),
            Demo::Auth => Role::Auth(Box::new(AuthServer::with_challenge(
                &settings.secret,
                challenge,
            ))),
            Demo::Sticky => Role::Sticky(sticky.unwrap_or_default()),
            Demo::Chat => Role::Chat(Box::default()),
            Demo::TlsEcho => Role::TlsGate,
            Demo::UdpEcho => panic!("udp-echo has no connections; use conversation::datagram"),
        };
        let mut conv = Self {
            demo,
            role,
            settings: settings.clone(),
            out: VecDeque::new(),
            idle_at: None,
            limit_at: None,
            closed: false,
            detail: true,
        };
        conv.start(now_us);
        conv
    }

    /// `tls-echo`'s conversation once the TLS handshake is done: the bytes
    /// fed in are the decrypted ones.
    pub fn after_tls_handshake(settings: &Settings, now_us: u64) -> Self {
        let mut conv = Self::new(Demo::TlsEcho, settings, now_us, [0; 32], None);
        conv.role = Role::TlsEcho;
        conv
    }

    /// The demo this conversation is.
    pub fn demo(&self) -> Demo {
        self.demo
    }

    /// Whether read and reply events carry their bytes. A driver with nobody
    /// watching turns this off to save the copies; the events still come.
    pub fn set_detail(&mut self, detail: bool) {
        self.detail = detail;
    }

    fn start(&mut self, now: u64) {
        match &mut self.role {
            Role::Auth(auth) => {
                if let Some(challenge) = auth.poll_transmit() {
                    let data = HexBytes(challenge.clone());
                    self.out.push_back(Output::Send(challenge));
                    self.out
                        .push_back(Output::Event(EventKind::Challenge { data }));
                }
                self.limit_at = Some(now + self.settings.handshake_timeout_us);
            }
            Role::TcpEcho => {
                self.limit_at = Some(now + self.settings.hold_limit_us);
                self.idle_at = Some(now + self.settings.idle_timeout_us);
            }
            Role::Chat(_) => self.idle_at = Some(now + self.idle_us()),
            _ => self.idle_at = Some(now + self.settings.idle_timeout_us),
        }
    }

    /// How the server reads: the read size and the delay before each read.
    pub fn read_hint(&self) -> ReadHint {
        match &self.role {
            Role::Sticky(o) => ReadHint {
                size: o.read_size,
                delay_us: u64::from(o.read_delay_ms) * 1000,
            },
            // Frames can be large: read them in bigger pieces.
            Role::Framed(_) => ReadHint {
                size: 16 * 1024,
                delay_us: 0,
            },
            // Auth needs 32 bytes; a larger buffer is fine (extra bytes are
            // not part of the answer).
            _ => ReadHint {
                size: READ_BUF,
                delay_us: 0,
            },
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due, if nothing else
    /// happens first.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.closed {
            return None;
        }
        match (self.idle_at, self.limit_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing to do, in order; `None` when there is nothing until the
    /// next input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Whether the conversation has decided to close (its last outputs may
    /// still be waiting in [`poll_output`](Self::poll_output)).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn event(&mut self, kind: EventKind) {
        self.out.push_back(Output::Event(kind));
    }

    fn bytes_event(&self, bytes: &[u8], reply: bool) -> EventKind {
        let data = if self.detail {
            HexBytes::capped(&bytes[..bytes.len().min(MAX_EVENT_BYTES)])
        } else {
            HexBytes(Vec::new())
        };
        let size = bytes.len();
        if reply {
            EventKind::Reply { size, data }
        } else {
            EventKind::Read { size, data }
        }
    }

    fn send(&mut self, bytes: Vec<u8>) {
        let ev = self.bytes_event(&bytes, true);
        self.out.push_back(Output::Send(bytes));
        self.event(ev);
    }

    fn close(&mut self, by: Closer, reason: impl Into<String>) {
        self.event(EventKind::Closed {
            by,
            reason: reason.into(),
        });
        self.out.push_back(Output::Close);
        self.closed = true;
    }

    /// One read returned these bytes (never empty: an empty read is
    /// [`handle_eof`](Self::handle_eof)).
    pub fn handle_data(&mut self, now_us: u64, bytes: &[u8]) {
        self.data(now_us, bytes, false);
    }

    /// One read returned these bytes, and the client's FIN was already
    /// right behind them: the next read would return 0. (A driver that can
    /// look, looks, so that a client that half-closes and keeps reading is
    /// seen to have done so before the reply went out.)
    pub fn handle_data_then_eof(&mut self, now_us: u64, bytes: &[u8]) {
        self.data(now_us, bytes, true);
    }

    fn data(&mut self, now_us: u64, bytes: &[u8], fin: bool) {
        if self.closed || bytes.is_empty() {
            return;
        }
        let read = self.bytes_event(bytes, false);
        self.event(read);
        if fin {
            // The reply to these bytes is not sent yet: the FIN came first.
            self.event(EventKind::Fin { before_reply: true });
        }
        self.reply_to(now_us, bytes);
        if fin && !self.closed {
            self.eof();
        }
    }

    fn reply_to(&mut self, now_us: u64, bytes: &[u8]) {
        if self.idle_at.is_some() {
            self.idle_at = Some(now_us + self.idle_us());
        }
        match &mut self.role {
            Role::TcpEcho | Role::TlsEcho => self.send(echo_reply(bytes)),
            Role::Chat(lines) => {
                for step in lines.feed(bytes) {
                    match step {
                        crate::chat::LineStep::Line(line) => {
                            self.out.push_back(Output::Broadcast(line));
                        }
                        crate::chat::LineStep::TooLong => {
                            self.send(crate::chat::too_long());
                            self.close(
                                Closer::Server,
                                format!(
                                    "a line longer than {} bytes: the chat demo reads lines, and \
                                     this one never ended",
                                    crate::chat::MAX_LINE
                                ),
                            );
                            return;
                        }
                    }
                }
            }
            Role::TlsGate => {
                let reason = crate::tls::not_tls(bytes).unwrap_or_else(|| {
                    "this is the simulation, which has no TLS: a real TLS client needs the real \
                     tls-echo (start socket-lab)"
                        .to_owned()
                });
                self.event(EventKind::TlsRefused {
                    reason: reason.clone(),
                });
                if crate::tls::not_tls(bytes).is_some() {
                    self.send(crate::tls::DECODE_ERROR_ALERT.to_vec());
                }
                self.close(Closer::Server, reason);
            }
            Role::Sticky(_) => self.send(bytes.to_vec()),
            Role::Uppercase => {
                self.send(uppercase_reply(bytes));
                self.close(Closer::Server, "one request, one reply: the server closes");
            }
            Role::Framed(server) => {
                server.feed(bytes);
                let mut steps = Vec::new();
                while let Some(step) = server.next_step() {
                    steps.push(step);
                }
                for step in steps {
                    match step {
                        FramedStep::Decoded { len, json, reply } => {
                            self.event(EventKind::FrameDecoded { len, json });
                            self.send(reply);
                        }
                        FramedStep::Rejected { error, reply } => {
                            self.event(EventKind::FrameRejected {
                                code: error.code().to_owned(),
                                message: error.to_string(),
                            });
                            self.send(reply);
                        }
                        FramedStep::Fatal { error, reply } => {
                            // The length is wrong, so nobody knows where the
                            // next frame starts: explain, then close.
                            self.event(EventKind::FrameRejected {
                                code: error.code().to_owned(),
                                message: error.to_string(),
                            });
                            self.send(reply);
                            self.close(
                                Closer::Server,
                                format!("closed after a bad header: {error}"),
                            );
                            return;
                        }
                    }
                }
            }
            Role::Auth(auth) => {
                auth.handle_input(bytes);
                self.finish_auth();
            }
        }
    }

    fn finish_auth(&mut self) {
        let Role::Auth(auth) = &mut self.role else {
            return;
        };
        let Some(verdict) = auth.verdict() else {
            return;
        };
        let reply = auth.poll_transmit();
        self.event(EventKind::Verdict {
            granted: verdict.is_granted(),
            reason: match verdict {
                Verdict::Granted => None,
                Verdict::Denied(reason) => Some(reason),
            },
        });
        if let Some(reply) = reply {
            self.send(reply);
        }
        self.close(
            Closer::Server,
            match verdict {
                Verdict::Granted => "handshake done: access granted".to_owned(),
                Verdict::Denied(reason) => format!("access denied: {}", reason.explain()),
            },
        );
    }

    /// A read returned 0: the client will send no more (FIN).
    pub fn handle_eof(&mut self, _now_us: u64) {
        if self.closed {
            return;
        }
        let pending = self.out.iter().any(|o| matches!(o, Output::Send(_)));
        self.event(EventKind::Fin {
            before_reply: pending,
        });
        self.eof();
    }

    /// What the demo does at the end of the client's stream.
    fn eof(&mut self) {
        const CLIENT_CLOSED: &str = "the client closed the connection (read returned 0 bytes)";
        match &mut self.role {
            Role::Framed(server) => match server.finish() {
                Ok(()) => self.close(Closer::Client, CLIENT_CLOSED),
                Err(err) => {
                    self.event(EventKind::FrameRejected {
                        code: err.code().to_owned(),
                        message: err.to_string(),
                    });
                    self.close(
                        Closer::Client,
                        format!("the client closed mid-frame: {err}"),
                    );
                }
            },
            Role::Auth(auth) => {
                auth.handle_eof();
                self.finish_auth();
            }
            Role::Chat(lines) => {
                if let Some(line) = lines.finish() {
                    self.out.push_back(Output::Broadcast(line));
                }
                self.close(Closer::Client, CLIENT_CLOSED);
            }
            _ => self.close(Closer::Client, CLIENT_CLOSED),
        }
    }

    /// The time from [`poll_timeout`](Self::poll_timeout) has come (calling it
    /// early does nothing).
    pub fn handle_timeout(&mut self, now_us: u64) {
        let Some(due) = self.poll_timeout() else {
            return;
        };
        if now_us < due {
            return;
        }
        let limit_hit = self.limit_at.is_some_and(|t| t <= now_us);
        let waiting_for = match &self.role {
            Role::Auth(_) => {
                self.event(EventKind::Timeout {
                    waiting_for: "the 32-byte answer".into(),
                    after_ms: self.settings.handshake_timeout_us / 1000,
                });
                if let Role::Auth(auth) = &mut self.role {
                    auth.handle_timeout();
                }
                self.finish_auth();
                return;
            }
            Role::TcpEcho if limit_hit => {
                let secs = self.settings.hold_limit_us as f64 / 1e6;
                self.event(EventKind::Timeout {
                    waiting_for: "the client to finish its turn (the hold limit)".into(),
                    after_ms: self.settings.hold_limit_us / 1000,
                });
                self.close(
                    Closer::Server,
                    format!(
                        "the client held this one-at-a-time demo for {secs} s (the hold limit) \
                         and was dropped so the next client can be served"
                    ),
                );
                return;
            }
            Role::TcpEcho | Role::TlsEcho => "the next message",
            Role::TlsGate => "the TLS ClientHello",
            Role::Chat(_) => "the next line",
            Role::Uppercase => "the one message",
            Role::Framed(_) => "the next frame",
            Role::Sticky(_) => "more bytes",
        };
        let idle = self.idle_us();
        self.event(EventKind::Timeout {
            waiting_for: waiting_for.into(),
            after_ms: idle / 1000,
        });
        if let Role::Chat(_) = self.role {
            self.send(crate::chat::idle(idle / 1_000_000));
        }
        self.close(
            Closer::Server,
            format!(
                "the client sent nothing for {} s and was dropped so others can use the demo",
                idle as f64 / 1e6
            ),
        );
    }

    /// How long the client may send nothing. A chat member may listen
    /// quietly for a while, so it gets ten times the others' limit; a member
    /// whose host vanished still goes in the end.
    fn idle_us(&self) -> u64 {
        match self.role {
            Role::Chat(_) => self
                .settings
                .idle_timeout_us
                .saturating_mul(crate::chat::IDLE_FACTOR),
            _ => self.settings.idle_timeout_us,
        }
    }

    /// Bytes this connection holds for a message in progress (a frame being
    /// read, reserved at its announced length); 0 for the demos that keep
    /// nothing between reads. A driver keeps the sum under a budget.
    pub fn held_bytes(&self) -> usize {
        match &self.role {
            Role::Framed(server) => server.held(),
            Role::Chat(lines) => lines.held(),
            _ => 0,
        }
    }

    /// The server cannot go on with this connection (its memory budget is
    /// used up): refuse with an error frame where the demo speaks frames,
    /// then close.
    pub fn refuse(&mut self, code: &str, message: &str) {
        if self.closed {
            return;
        }
        if let Role::Framed(_) = self.role {
            self.event(EventKind::FrameRejected {
                code: code.to_owned(),
                message: message.to_owned(),
            });
            let reply = serde_json::json!({"error": code, "message": message});
            self.send(crate::frame::encode_json(&reply).unwrap_or_default());
        }
        self.close(Closer::Server, format!("refused: {message}"));
    }

    /// The server is stopping: end the conversation politely.
    pub fn handle_shutdown(&mut self) {
        if !self.closed {
            self.close(Closer::Server, "the server is shutting down");
        }
    }
}

/// `udp-echo`'s answer to one datagram: the event for what the 1024-byte
/// buffer kept, and the reply. (UDP has no connection, so no conversation.)
pub fn datagram(bytes: &[u8]) -> (EventKind, Vec<u8>) {
    let seen = crate::demo::udp_receive(bytes);
    (
        EventKind::Datagram {
            size: seen.size,
            truncated: seen.truncated,
            data: HexBytes::capped(&seen.kept),
        },
        crate::demo::UDP_REPLY.to_vec(),
    )
}

/// What `tcp-echo` replies starts with this; labs use it to find the echoed part.
pub const ECHO_PREFIX: &[u8] = ACK_PREFIX;

/// A server conversation and a scripted client, stepped together over the
/// TCP model in virtual time (quinn-proto's `Pair`, for one connection).
///
/// The client's writes reach the server as the model's reads would (the
/// conversation's [`ReadHint`] sets read size and delay); the server's
/// outputs are collected with their times. Deterministic: same script, same
/// trace.
#[derive(Debug)]
pub struct Pair {
    /// The server side.
    pub server: Conversation,
    /// Everything the server did, with its virtual time in µs.
    pub trace: Vec<(u64, Output)>,
    /// The bytes the server sent, as the client received them.
    pub to_client: Vec<u8>,
    now: u64,
}

impl Pair {
    /// A pair whose server side is `server`, started at time 0.
    pub fn new(server: Conversation) -> Self {
        let mut pair = Self {
            server,
            trace: Vec::new(),
            to_client: Vec::new(),
            now: 0,
        };
        pair.drain();
        pair
    }

    /// The virtual time now, in µs.
    pub fn now(&self) -> u64 {
        self.now
    }

    fn drain(&mut self) {
        while let Some(out) = self.server.poll_output() {
            if let Output::Send(bytes) = &out {
                self.to_client.extend_from_slice(bytes);
            }
            self.trace.push((self.now, out));
        }
    }

    /// Runs timeouts that fall due up to `t`, then moves the clock to `t`.
    pub fn advance_to(&mut self, t: u64) {
        while let Some(due) = self.server.poll_timeout() {
            if due > t {
                break;
            }
            self.now = self.now.max(due);
            self.server.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(t);
    }

    /// The client writes each chunk at the given times (µs); the server reads
    /// them as the TCP model delivers them with its read hint.
    pub fn client_writes(&mut self, writes: &[(u64, Vec<u8>)]) {
        let hint = self.server.read_hint();
        let start = self.now;
        let cfg = crate::sim::TcpSimConfig {
            read_size: hint.size,
            read_delay_us: hint.delay_us,
            ..crate::sim::TcpSimConfig::default()
        };
        let shifted: Vec<(u64, Vec<u8>)> =
            writes.iter().map(|(t, b)| (start + t, b.clone())).collect();
        for read in crate::sim::simulate_tcp(&cfg, &shifted).reads {
            self.advance_to(read.at_us);
            if self.server.is_closed() {
                return;
            }
            self.server.handle_data(self.now, &read.data);
            self.drain();
        }
    }

    /// The client half-closes (its FIN reaches the server now).
    pub fn client_eof(&mut self) {
        self.server.handle_eof(self.now);
        self.drain();
    }

    /// Lets time pass until the server has nothing more to do (it closed, or
    /// has no deadline).
    pub fn run_out(&mut self) {
        while let Some(due) = self.server.poll_timeout() {
            self.advance_to(due);
        }
    }

    /// The events the server gave out, in order.
    pub fn events(&self) -> Vec<&EventKind> {
        self.trace
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{DenyReason, respond};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const CHALLENGE: Challenge = [7; 32];

    fn conv(demo: Demo) -> Conversation {
        Conversation::new(demo, &Settings::default(), 0, CHALLENGE, None)
    }

    fn kinds(pair: &Pair) -> Vec<&'static str> {
        pair.events()
            .iter()
            .map(|e| match e {
                EventKind::Read { .. } => "read",
                EventKind::Reply { .. } => "reply",
                EventKind::Challenge { .. } => "challenge",
                EventKind::Verdict { .. } => "verdict",
                EventKind::FrameDecoded { .. } => "frame",
                EventKind::FrameRejected { .. } => "rejected",
                EventKind::Timeout { .. } => "timeout",
                EventKind::Closed { .. } => "closed",
                EventKind::Fin { before_reply: true } => "fin-first",
                EventKind::Fin { .. } => "fin",
                _ => "other",
            })
            .collect()
    }

    #[test]
    fn tcp_echo_acks_each_read_and_sees_the_client_close() {
        let mut pair = Pair::new(conv(Demo::TcpEcho));
        pair.client_writes(&[(0, b"Hello, Server".to_vec())]);
        pair.client_eof();
        assert_eq!(pair.to_client, b"ACK: Hello, Server");
        assert_eq!(kinds(&pair), ["read", "reply", "fin", "closed"]);
        assert!(matches!(
            pair.events()[3],
            EventKind::Closed {
                by: Closer::Client,
                ..
            }
        ));
        assert_eq!(pair.server.poll_timeout(), None);
    }

    #[test]
    fn tcp_echo_drops_an_idle_client_and_a_client_that_holds_its_turn() {
        let settings = Settings {
            idle_timeout_us: 50_000,
            hold_limit_us: 200_000,
            ..Settings::default()
        };
        let mut idle = Pair::new(Conversation::new(
            Demo::TcpEcho,
            &settings,
            0,
            CHALLENGE,
            None,
        ));
        idle.run_out();
        assert_eq!(kinds(&idle), ["timeout", "closed"]);
        assert_eq!(idle.now(), 50_000);

        // A byte every 30 ms is never idle, but the turn still ends.
        let mut trickle = Pair::new(Conversation::new(
            Demo::TcpEcho,
            &settings,
            0,
            CHALLENGE,
            None,
        ));
        let writes: Vec<(u64, Vec<u8>)> = (0..10).map(|i| (i * 30_000, b"x".to_vec())).collect();
        trickle.client_writes(&writes);
        trickle.run_out();
        let EventKind::Timeout { waiting_for, .. } = trickle.events()[trickle.events().len() - 2]
        else {
            panic!("a timeout ends the turn: {:?}", trickle.events())
        };
        assert!(waiting_for.contains("turn"));
        let at = trickle
            .trace
            .iter()
            .find(|(_, o)| matches!(o, Output::Event(EventKind::Timeout { .. })))
            .map(|(t, _)| *t);
        assert_eq!(at, Some(200_000));
    }

    #[test]
    fn a_fin_right_behind_the_data_is_seen_before_the_reply() {
        let mut conv = conv(Demo::TcpEcho);
        conv.handle_data_then_eof(10, b"Hello, Server");
        let mut events = Vec::new();
        let mut sent = Vec::new();
        while let Some(out) = conv.poll_output() {
            match out {
                Output::Event(e) => events.push(e),
                Output::Send(b) => sent.extend(b),
                Output::Close | Output::Broadcast(_) => {}
            }
        }
        assert!(
            matches!(events[1], EventKind::Fin { before_reply: true }),
            "{events:?}"
        );
        assert!(
            matches!(events[2], EventKind::Reply { .. }),
            "the reply still goes out"
        );
        assert_eq!(sent, b"ACK: Hello, Server");
        assert!(conv.is_closed());
    }

    #[test]
    fn uppercase_answers_once_and_closes() {
        let mut pair = Pair::new(conv(Demo::Uppercase));
        pair.client_writes(&[(0, b"  hello\n".to_vec())]);
        assert_eq!(pair.to_client, b"HELLO");
        assert_eq!(kinds(&pair), ["read", "reply", "closed"]);
        assert!(pair.server.is_closed());
    }

    #[test]
    fn framed_answers_two_frames_in_one_write_and_goes_on_after_bad_json() {
        let mut bytes = crate::frame::encode(br#"{"a": 1}"#).unwrap();
        bytes.extend(crate::frame::encode(b"{nope").unwrap());
        bytes.extend(crate::frame::encode(br#"{"b": 2}"#).unwrap());
        let mut pair = Pair::new(conv(Demo::Framed));
        pair.client_writes(&[(0, bytes)]);
        pair.client_eof();
        assert_eq!(
            kinds(&pair),
            [
                "read", "frame", "reply", "rejected", "reply", "frame", "reply", "fin", "closed"
            ]
        );
    }

    #[test]
    fn framed_refuses_a_huge_header_at_once_and_closes() {
        let mut pair = Pair::new(conv(Demo::Framed));
        pair.client_writes(&[(0, b"{\"msg\": 1}".to_vec())]); // unframed JSON
        assert_eq!(kinds(&pair), ["read", "rejected", "reply", "closed"]);
        let EventKind::FrameRejected { code, .. } = pair.events()[1] else {
            unreachable!()
        };
        assert_eq!(code, "too_large");
    }

    #[test]
    fn framed_reports_a_client_that_stops_mid_frame() {
        let mut pair = Pair::new(conv(Demo::Framed));
        pair.client_writes(&[(0, vec![0, 0, 0, 9, b'{'])]);
        pair.client_eof();
        assert_eq!(kinds(&pair), ["read", "fin", "rejected", "closed"]);
    }

    #[test]
    fn auth_grants_the_right_answer_split_in_two_writes() {
        let secret = Settings::default().secret;
        let answer = respond(&secret, &CHALLENGE);
        let mut pair = Pair::new(conv(Demo::Auth));
        assert_eq!(pair.to_client, CHALLENGE);
        pair.client_writes(&[(0, answer[..10].to_vec()), (5_000, answer[10..].to_vec())]);
        assert_eq!(
            kinds(&pair),
            ["challenge", "read", "read", "verdict", "reply", "closed"]
        );
        assert!(pair.to_client.ends_with(b"Access Granted"));
    }

    #[test]
    fn auth_says_why_it_denied() {
        let mut short = Pair::new(conv(Demo::Auth));
        short.client_writes(&[(0, vec![1; 31])]);
        short.client_eof();
        assert!(matches!(
            short.events()[3],
            EventKind::Verdict {
                granted: false,
                reason: Some(DenyReason::TooShort)
            }
        ));

        let mut silent = Pair::new(Conversation::new(
            Demo::Auth,
            &Settings {
                handshake_timeout_us: 2_000,
                ..Settings::default()
            },
            0,
            CHALLENGE,
            None,
        ));
        silent.run_out();
        assert_eq!(
            kinds(&silent),
            ["challenge", "timeout", "verdict", "reply", "closed"]
        );
        assert_eq!(silent.now(), 2_000);
        assert!(silent.to_client.ends_with(b"Access Denied"));
    }

    #[test]
    fn sticky_reads_with_the_lab_settings() {
        let options = StickyOptions {
            read_size: 3,
            read_delay_ms: 0,
        };
        let mut pair = Pair::new(Conversation::new(
            Demo::Sticky,
            &Settings::default(),
            0,
            CHALLENGE,
            Some(options),
        ));
        pair.client_writes(&[(0, b"Hello".to_vec())]);
        let reads: Vec<usize> = pair
            .events()
            .iter()
            .filter_map(|e| match e {
                EventKind::Read { size, .. } => Some(*size),
                _ => None,
            })
            .collect();
        assert_eq!(reads, [3, 2]);
        assert_eq!(pair.to_client, b"Hello");
    }

    #[test]
    fn a_datagram_over_the_buffer_is_reported_truncated() {
        let (event, reply) = datagram(&[b'x'; 1500]);
        assert!(matches!(
            event,
            EventKind::Datagram {
                size: 1500,
                truncated: true,
                ..
            }
        ));
        assert_eq!(reply, b"Message received");
    }

    #[test]
    fn chat_hands_complete_lines_to_the_driver_and_gives_a_listener_ten_idle_limits() {
        let mut pair = Pair::new(conv(Demo::Chat));
        let quiet = Settings::default().idle_timeout_us * crate::chat::IDLE_FACTOR;
        assert_eq!(
            pair.server.poll_timeout(),
            Some(quiet),
            "a quiet member stays a while"
        );
        pair.client_writes(&[(10, b"one\ntw".to_vec()), (20, b"o\n".to_vec())]);
        pair.client_writes(&[(30, b"last".to_vec())]);
        pair.client_eof();
        let lines: Vec<&[u8]> = pair
            .trace
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Broadcast(l) => Some(l.as_slice()),
                _ => None,
            })
            .collect();
        assert_eq!(lines, [&b"one"[..], b"two", b"last"]);
        assert!(pair.server.is_closed());
    }

    #[test]
    fn chat_refuses_a_line_that_never_ends() {
        let mut pair = Pair::new(conv(Demo::Chat));
        pair.client_writes(&[(10, vec![b'x'; crate::chat::MAX_LINE + 1])]);
        assert_eq!(pair.to_client, crate::chat::too_long());
        assert!(pair.server.is_closed());
    }

    #[test]
    fn tls_echo_answers_plain_text_with_an_alert_and_echoes_after_the_handshake() {
        let mut pair = Pair::new(conv(Demo::TlsEcho));
        pair.client_writes(&[(10, b"GET / HTTP/1.1\r\n".to_vec())]);
        assert_eq!(pair.to_client, crate::tls::DECODE_ERROR_ALERT);
        assert!(pair.server.is_closed());
        let mut pair = Pair::new(Conversation::after_tls_handshake(&Settings::default(), 0));
        pair.client_writes(&[(10, b"Hello, TLS".to_vec())]);
        assert_eq!(pair.to_client, b"ACK: Hello, TLS");
    }
}
