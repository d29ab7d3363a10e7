//! The auth lab: the server's 32-byte challenge, the HMAC-SHA256 answer
//! computed here in wasm with the secret the learner types, and the server's
//! side of it: what it expects (computed in the page with the demo's secret
//! as the learner types it), what it received, and its verdict with the
//! reason from its own event. Try a wrong secret, a replayed answer, silence.
//!
//! One code path: the lab opens a bridge socket and renders only what comes
//! back, the challenge and verdict its socket reads and the server's events
//! for that socket (`sock == Some(id)`).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use protocol::Demo;
use protocol::auth::{CHALLENGE_LEN, DEFAULT_SECRET, DenyReason, respond};
use protocol::bridge::{ClientMsg, SocketId};
use protocol::conversation::Settings;
use protocol::events::{EventKind, ServerEvent};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, HtmlElement, HtmlInputElement};

use super::{Frame, HasFrame, Later, Mounted, text_input};
use crate::dom::{add, attr, el};
use crate::net::{Bridge, SockEvent};
use crate::timeline::Side;

/// What the client does with the challenge.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Play {
    /// Answer with HMAC(secret, challenge).
    Honest,
    /// Send the previous connection's answer again.
    Replay,
    /// Do not answer; let the server time out.
    Silent,
}

/// One connection's handshake, as far as it has gone.
struct Attempt {
    sock: SocketId,
    play: Play,
    secret: Vec<u8>,
    server_secret: Vec<u8>,
    /// Bytes the page's socket has read (challenge, then verdict).
    got: Vec<u8>,
    /// Bytes the server says it received.
    received: usize,
    /// The server's wait, when it timed out.
    timed_out_ms: Option<u64>,
    /// The answer the page sent on this connection.
    answer: Option<[u8; 32]>,
    /// HMAC-SHA256(demo secret as typed, challenge).
    expected: Option<[u8; 32]>,
    open: bool,
}

/// A repeating browser timer, stopped when dropped.
struct Timer {
    handle: i32,
    _tick: Closure<dyn FnMut()>,
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            w.clear_interval_with_handle(self.handle);
        }
    }
}

struct Lab {
    frame: Frame,
    secret: HtmlInputElement,
    server_secret: HtmlInputElement,
    close: Element,
    countdown: Element,
    attempt: RefCell<Option<Attempt>>,
    last_answer: Cell<Option<[u8; 32]>>,
    timer: RefCell<Option<Timer>>,
}

/// The server's handshake timeout when it runs with its defaults.
fn default_timeout_ms() -> u64 {
    Settings::default().handshake_timeout_us / 1000
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

super::has_frame!(Lab);

impl Lab {
    fn open_sock(&self) -> Option<SocketId> {
        let attempt = self.attempt.borrow();
        attempt.as_ref().filter(|a| a.open).map(|a| a.sock)
    }

    fn refresh(&self) {
        self.frame.refresh_sockets();
        super::set_enabled(&self.close, self.open_sock().is_some());
    }

    fn with_attempt<T>(&self, f: impl FnOnce(&mut Attempt) -> T) -> Option<T> {
        self.attempt.borrow_mut().as_mut().map(f)
    }

    fn is_current(&self, sock: SocketId) -> bool {
        self.attempt
            .borrow()
            .as_ref()
            .is_some_and(|a| a.sock == sock)
    }

    fn set_verdict(&self, key: &str, text: &str) {
        self.frame.conclude(text);
        attr(&self.frame.verdict, "data-verdict", key);
    }

    fn start(self: &Rc<Self>, play: Play) {
        if let Some(sock) = self.open_sock() {
            self.bridge().close(sock);
        }
        self.stop_countdown();
        let tl = &self.frame.timeline;
        tl.clear();
        self.set_verdict("pending", "Waiting for the server…");
        if play == Play::Replay && self.last_answer.get().is_none() {
            tl.row(
                Side::Note,
                "No answer has been granted yet, so this replays 32 zero bytes. Click Connect and answer once first: its answer, if granted, is the one replayed.",
                None,
            );
        }
        let (secret, server_secret) = (
            self.secret.value().into_bytes(),
            self.server_secret.value().into_bytes(),
        );
        let lab = self.clone();
        self.bridge().open(
            |sock| {
                *self.attempt.borrow_mut() = Some(Attempt {
                    sock,
                    play,
                    secret,
                    server_secret,
                    got: Vec::new(),
                    received: 0,
                    timed_out_ms: None,
                    answer: None,
                    expected: None,
                    open: true,
                });
                ClientMsg::open(sock, Demo::Auth)
            },
            move |id, ev| lab.on_sock(id, ev),
        );
        if play == Play::Silent {
            self.start_countdown();
        }
        self.refresh();
    }

    /// What the page's own socket reported.
    fn on_sock(&self, sock: SocketId, ev: SockEvent) {
        if !self.is_current(sock) {
            return;
        }
        let tl = &self.frame.timeline;
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                tl.segment(None, &seg, held);
            }
            SockEvent::Opened { local, .. } => {
                tl.row(Side::Note, &format!("connected from {local}"), None);
            }
            SockEvent::Read { data, .. } => {
                let (before, got, play, secret) = self
                    .with_attempt(|a| {
                        let before = a.got.len();
                        a.got.extend_from_slice(&data);
                        (before, a.got.clone(), a.play, a.secret.clone())
                    })
                    .expect("checked above");
                if before < CHALLENGE_LEN && got.len() >= CHALLENGE_LEN {
                    let challenge = &got[..CHALLENGE_LEN];
                    let row = tl.hex_row(
                        Side::Read,
                        "the page read the challenge (32 random bytes)",
                        challenge,
                    );
                    attr(&row, "data-event", "challenge");
                    self.answer(sock, play, &secret, challenge);
                }
                if got.len() > CHALLENGE_LEN {
                    let verdict = &got[CHALLENGE_LEN.max(before)..];
                    if !verdict.is_empty() {
                        let row = tl.row(Side::Read, "the page read the verdict", Some(verdict));
                        attr(&row, "data-event", "verdict");
                    }
                }
            }
            SockEvent::Closed { reason, .. } => {
                self.with_attempt(|a| a.open = false);
                tl.row(
                    Side::Note,
                    &format!("the page's socket closed: {reason}"),
                    None,
                );
                self.stop_countdown();
            }
            SockEvent::Error { message } => {
                tl.row(
                    Side::Error,
                    &format!("{message}. Click Connect and answer to try again."),
                    None,
                );
                self.bridge().close(sock);
                self.with_attempt(|a| a.open = false);
                self.stop_countdown();
                self.set_verdict("error", "The attempt failed (above); nothing to conclude.");
            }
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        self.refresh();
    }

    /// Answers the challenge as the button said.
    fn answer(&self, sock: SocketId, play: Play, secret: &[u8], challenge: &[u8]) {
        let tl = &self.frame.timeline;
        let answer = match play {
            Play::Honest => Some((
                respond(secret, challenge),
                "the page's answer: HMAC-SHA256(your secret, this challenge)",
            )),
            Play::Replay => Some((
                self.last_answer.get().unwrap_or([0; 32]),
                "the page's answer: the answer granted on an earlier connection, replayed",
            )),
            Play::Silent => None,
        };
        match answer {
            Some((a, label)) => {
                self.with_attempt(|at| at.answer = Some(a));
                self.bridge().send(sock, &a);
                let row = tl.hex_row(Side::Send, label, &a);
                attr(&row, "data-event", "answer");
            }
            None => {
                let row = tl.row(
                    Side::Note,
                    "the page sends nothing: 0 bytes of the 32-byte answer",
                    None,
                );
                attr(&row, "data-event", "silent");
            }
        }
    }

    /// The server's account of this connection.
    fn on_event(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        if ev.demo != Demo::Auth || !sock.is_some_and(|s| self.is_current(s)) {
            return;
        }
        let tl = &self.frame.timeline;
        match &ev.kind {
            EventKind::Accepted { .. } => {
                tl.row(Side::Server, "server accepted the connection", None);
            }
            EventKind::Challenge { data } => {
                let row = tl.hex_row(Side::Server, "server sent its challenge", &data.0);
                attr(&row, "data-event", "server-challenge");
                let server_secret = self
                    .with_attempt(|a| a.server_secret.clone())
                    .unwrap_or_default();
                let expected = respond(&server_secret, &data.0);
                self.with_attempt(|a| a.expected = Some(expected));
                let row = tl.hex_row(
                    Side::Server,
                    "the server expects HMAC-SHA256(demo secret, challenge), computed here with the demo secret you typed",
                    &expected,
                );
                attr(&row, "data-event", "expected");
            }
            EventKind::Read { size, data } => {
                self.with_attempt(|a| a.received += size);
                let row = tl.hex_row(
                    Side::Server,
                    &format!("server received {size} bytes"),
                    &data.0,
                );
                attr(&row, "data-event", "server-received");
            }
            EventKind::Timeout {
                waiting_for,
                after_ms,
            } => {
                self.with_attempt(|a| a.timed_out_ms = Some(*after_ms));
                self.stop_countdown();
                let row = tl.row(
                    Side::Server,
                    &format!("server timed out after {after_ms} ms waiting for {waiting_for}"),
                    None,
                );
                attr(&row, "data-event", "server-timeout");
            }
            EventKind::Verdict { granted, reason } => {
                self.stop_countdown();
                let row = tl.row(
                    Side::Server,
                    &match reason {
                        None if *granted => "server's verdict: access granted".to_owned(),
                        None => "server's verdict: access denied".to_owned(),
                        Some(r) => format!("server's verdict: access denied, {}", r.explain()),
                    },
                    None,
                );
                attr(&row, "data-event", "server-verdict");
                self.conclude(*granted, *reason);
            }
            EventKind::Closed { reason, .. } => {
                tl.row(Side::Server, &format!("server closed: {reason}"), None);
            }
            _ => {}
        }
        self.refresh();
    }

    /// The verdict line, from the server's verdict and what it received.
    fn conclude(&self, granted: bool, reason: Option<DenyReason>) {
        let (received, waited, play) = self
            .with_attempt(|a| (a.received, a.timed_out_ms, a.play))
            .unwrap_or((0, None, Play::Honest));
        let (answer, expected) = self
            .with_attempt(|a| (a.answer, a.expected))
            .unwrap_or((None, None));
        // The expected HMAC shown is computed from the demo secret as typed
        // here; say so when the server's verdict shows it is not the server's.
        let typed_wrong = match (answer, expected) {
            (Some(a), Some(e)) if (a == e) != granted => {
                " The expected HMAC shown above disagrees with the server's verdict: the demo secret typed \
                 here is not the one the server uses."
            }
            _ => "",
        };
        if granted {
            // The answer a listener could have recorded: the one to replay.
            if let Some(a) = answer {
                self.last_answer.set(Some(a));
            }
            self.set_verdict(
                "granted",
                &format!(
                    "Access Granted: the 32 bytes the server received were HMAC-SHA256(its secret, this \
                     challenge), so the client knows the secret, and the secret itself never crossed the \
                     network.{typed_wrong}"
                ),
            );
            return;
        }
        match reason {
            Some(DenyReason::WrongAnswer) | None => self.set_verdict(
                "wrong_answer",
                &format!(
                    "Access Denied: the server received 32 bytes, and they were not HMAC-SHA256(its secret, this \
                     challenge). {}{}",
                    if play == Play::Replay {
                        "A replayed answer belongs to an earlier challenge; this connection's challenge was new, \
                         so the old answer is worthless."
                    } else {
                        "Compare the answer with what the server expects, above: a different secret gives a \
                         different HMAC."
                    },
                    typed_wrong
                ),
            ),
            Some(DenyReason::TooShort) => self.set_verdict(
                "too_short",
                &format!(
                    "Access Denied: the connection closed after {received} of the 32 answer bytes, so there was \
                     nothing whole to check."
                ),
            ),
            Some(DenyReason::TimedOut) => self.set_verdict(
                "timed_out",
                &format!(
                    "Access Denied: the server waited {} and received {received} of the 32 answer bytes, so it \
                     checked nothing and gave up. A slow client gets the same answer as a wrong one.",
                    waited.map_or("its handshake timeout".to_owned(), |ms| format!("{ms} ms"))
                ),
            ),
        }
    }

    fn start_countdown(self: &Rc<Self>) {
        // The server says its deadline in its welcome; an older one does not.
        let announced = self
            .bridge()
            .limits()
            .map(|l| l.handshake_timeout_ms)
            .filter(|ms| *ms > 0);
        let timeout_ms = announced.unwrap_or_else(default_timeout_ms);
        let started = now_ms();
        let weak: Weak<Lab> = Rc::downgrade(self);
        let show = move || {
            let Some(lab) = weak.upgrade() else {
                return;
            };
            let left = timeout_ms as f64 - (now_ms() - started);
            let text = if left > 0.0 {
                format!(
                    "Staying silent: the server gives up in {:.0} s (its handshake timeout is {} s). \
                     Close the connection ends it now.",
                    (left / 1000.0).ceil(),
                    timeout_ms as f64 / 1000.0
                )
            } else {
                "Staying silent: the handshake timeout has passed; the server's verdict is on its way."
                    .to_owned()
            };
            lab.countdown.set_text_content(Some(&text));
        };
        show();
        let tick = Closure::<dyn FnMut()>::new(show);
        let handle = web_sys::window()
            .and_then(|w| {
                w.set_interval_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    250,
                )
                .ok()
            })
            .unwrap_or(0);
        let _ = self.countdown.remove_attribute("hidden");
        *self.timer.borrow_mut() = Some(Timer {
            handle,
            _tick: tick,
        });
    }

    fn stop_countdown(&self) {
        let timer = self.timer.borrow_mut().take();
        drop(timer);
        attr(&self.countdown, "hidden", "");
    }

    fn close_now(&self) {
        if let Some(sock) = self.open_sock() {
            self.bridge().close(sock);
            self.with_attempt(|a| a.open = false);
            self.frame
                .timeline
                .row(Side::Note, "you closed the connection", None);
            self.stop_countdown();
        }
        self.refresh();
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "HMAC challenge-response",
        "The server sends 32 random bytes. Prove you know the shared secret by answering HMAC-SHA256(secret, challenge), \
         computed here in your browser. The secret itself never crosses the network.",
        bridge.clone(),
    );
    let secret = text_input(
        &frame.controls,
        "Your client's secret",
        "secret",
        DEFAULT_SECRET,
    );
    let server_secret = text_input(
        &frame.controls,
        "The demo's secret (used here only to show what the server expects)",
        "server-secret",
        DEFAULT_SECRET,
    );
    let buttons = add(&frame.controls, el("div", "sl-buttons", ""));
    let countdown = add(&frame.controls, el("p", "sl-explain", ""));
    attr(&countdown, "data-role", "countdown");
    attr(&countdown, "aria-live", "polite");
    attr(&countdown, "hidden", "");
    let cell = Later::<Lab>::default();
    let mut listeners = Vec::new();
    for (text, role, play) in [
        ("Connect and answer", "run", Play::Honest),
        ("Replay the last answer", "replay", Play::Replay),
        ("Connect and stay silent", "silent", Play::Silent),
    ] {
        listeners.push(
            cell.button(&buttons, text, role, move |lab| lab.start(play))
                .1,
        );
    }
    let (close, close_listener) = cell.button(&buttons, "Close the connection", "close", |lab| {
        lab.close_now()
    });
    listeners.push(close_listener);
    let lab = Rc::new(Lab {
        frame,
        secret,
        server_secret,
        close,
        countdown,
        attempt: RefCell::new(None),
        last_answer: Cell::new(None),
        timer: RefCell::new(None),
    });
    lab.refresh();
    // Every connection to the demo, this page's and other programs'.
    let view = lab.frame.server_view(&[Demo::Auth]);
    cell.mount(&lab, listeners, view, Lab::on_event)
}
