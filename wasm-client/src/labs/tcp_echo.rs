//! The tcp-echo lab: connect, send, half-close, close or reset a connection
//! to the iterative echo demo, and open a second connection to watch it wait
//! while the first holds the server.
//!
//! One code path: the lab calls the bridge (open, send, shutdown, close,
//! reset) and draws only what comes back, on the page's socket and in the
//! server's own events. Every conclusion it prints is read off those events:
//! "the second connection waited for the first" is said only when the server
//! accepted it after the first connection's close was seen.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, ClosedBy, SocketId};
use protocol::demo::echo_reply;
use protocol::events::{EventKind, ServerEvent};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlInputElement, KeyboardEvent};

use super::server_view::ServerView;
use super::{Frame, Mounted, button, text_input};
use crate::dom::{Listener, add, attr, el};
use crate::net::SockEvent;
use crate::timeline::Side;

/// The two connections the lab can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    First,
    Second,
}

impl Slot {
    fn name(self) -> &'static str {
        match self {
            Slot::First => "first connection",
            Slot::Second => "second connection",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Slot::First => "first",
            Slot::Second => "second",
        }
    }
}

/// One open (or opening) connection of the lab.
#[derive(Debug, Default)]
struct Conn {
    sock: SocketId,
    /// The page's end, once the bridge reports it.
    local: Option<String>,
    /// The server's connection number, once it accepted.
    server_conn: Option<u64>,
    /// The server connection this one was seen waiting behind, if any.
    waited_behind: Option<(u64, String)>,
    /// The sentence saying it was accepted only after another connection
    /// closed, once the events showed that order.
    waited_verdict: Option<String>,
    /// The page half-closed it (no more sends).
    half_closed: bool,
    /// Sends not yet answered, oldest first.
    unanswered: VecDeque<Vec<u8>>,
}

#[derive(Default)]
struct State {
    first: Option<Conn>,
    second: Option<Conn>,
    /// tcp-echo connections the server has accepted and not yet closed:
    /// connection number → (this page's socket, peer).
    serving: BTreeMap<u64, (Option<SocketId>, String)>,
}

impl State {
    fn slot(&mut self, slot: Slot) -> &mut Option<Conn> {
        match slot {
            Slot::First => &mut self.first,
            Slot::Second => &mut self.second,
        }
    }

    fn slot_of(&self, sock: SocketId) -> Option<Slot> {
        if self.first.as_ref().is_some_and(|c| c.sock == sock) {
            Some(Slot::First)
        } else if self.second.as_ref().is_some_and(|c| c.sock == sock) {
            Some(Slot::Second)
        } else {
            None
        }
    }

    /// Who the server is busy with, in words, other than `sock`.
    fn busy_with(&self, sock: SocketId) -> Option<(u64, String)> {
        self.serving
            .iter()
            .find(|(_, (s, _))| *s != Some(sock))
            .map(|(conn, (s, peer))| {
                let who = match s.and_then(|s| self.slot_of(s)) {
                    Some(slot) => format!("the {}", slot.name()),
                    None if s.is_some() => format!("another lab on this page ({peer})"),
                    None => format!("another program ({peer})"),
                };
                (*conn, who)
            })
    }
}

struct Lab {
    frame: Frame,
    view: ServerView,
    message: HtmlInputElement,
    status: [Element; 2],
    state: RefCell<State>,
}

/// Words for the state of a slot, from what the page and the server reported.
fn status_text(conn: Option<&Conn>, busy: Option<&(u64, String)>) -> String {
    let Some(c) = conn else {
        return "not connected".into();
    };
    let mut s = match (&c.local, c.server_conn) {
        (None, _) => "connecting…".to_owned(),
        (Some(local), None) => match busy {
            Some((_, who)) => format!(
                "connected from {local} (the kernel finished the handshake), but the server has not accepted it: it is still serving {who}"
            ),
            None => format!("connected from {local}, waiting for the server to accept it"),
        },
        (Some(local), Some(n)) => {
            format!("connected from {local}; the server accepted it as connection {n}")
        }
    };
    if c.half_closed {
        s.push_str("; half-closed by the page (it can still read)");
    }
    if !c.unanswered.is_empty() {
        s.push_str(&format!(
            "; {} {} not answered yet",
            c.unanswered.len(),
            if c.unanswered.len() == 1 {
                "send"
            } else {
                "sends"
            }
        ));
    }
    s
}

impl Lab {
    fn refresh(&self) {
        let st = self.state.borrow();
        for slot in [Slot::First, Slot::Second] {
            let conn = match slot {
                Slot::First => st.first.as_ref(),
                Slot::Second => st.second.as_ref(),
            };
            let busy = conn.and_then(|c| st.busy_with(c.sock));
            let el = &self.status[slot as usize];
            el.set_text_content(Some(&status_text(conn, busy.as_ref())));
            attr(
                el,
                "data-state",
                if conn.is_some() { "open" } else { "closed" },
            );
        }
        drop(st);
        self.frame.refresh_sockets();
    }

    fn error(&self, text: &str) {
        self.frame.timeline.row(Side::Error, text, None);
    }

    fn connect(self: &Rc<Self>, slot: Slot) -> SocketId {
        if let Some(c) = self.state.borrow_mut().slot(slot).as_ref() {
            return c.sock;
        }
        let nothing_open = {
            let st = self.state.borrow();
            st.first.is_none() && st.second.is_none()
        };
        if nothing_open {
            // A new run: start a fresh timeline (the server view keeps history).
            self.frame.timeline.clear();
            self.frame.conclude("");
        }
        let sock = self.frame.bridge.open(
            |sock| ClientMsg::open(sock, Demo::TcpEcho),
            super::weakly(self, move |lab, id, ev| lab.on_sock(slot, id, ev)),
        );
        *self.state.borrow_mut().slot(slot) = Some(Conn {
            sock,
            ..Conn::default()
        });
        self.frame
            .timeline
            .row(Side::Note, &format!("{}: connecting…", slot.name()), None);
        self.refresh();
        sock
    }

    fn send(self: &Rc<Self>, slot: Slot) {
        let text = self.message.value();
        if text.is_empty() {
            self.error("The message is empty: type something in Message first (TCP sends bytes, and zero bytes send nothing).");
            return;
        }
        let half_closed = self
            .state
            .borrow_mut()
            .slot(slot)
            .as_ref()
            .is_some_and(|c| c.half_closed);
        if half_closed {
            self.error(&format!(
                "The {} is half-closed: it can no longer send. Click {} to end it, then connect again.",
                slot.name(),
                close_label(slot)
            ));
            return;
        }
        let sock = self.connect(slot);
        self.frame.bridge.send(sock, text.as_bytes());
        if let Some(c) = self.state.borrow_mut().slot(slot).as_mut() {
            c.unanswered.push_back(text.clone().into_bytes());
        }
        self.frame
            .timeline
            .row_in(slot.name(), Side::Send, slot.name(), Some(text.as_bytes()));
        self.refresh();
    }

    fn shutdown(&self, slot: Slot) {
        let sock = {
            let mut st = self.state.borrow_mut();
            match st.slot(slot).as_mut() {
                Some(c) if !c.half_closed => {
                    c.half_closed = true;
                    Some(c.sock)
                }
                Some(_) => {
                    drop(st);
                    self.error(&format!("The {} is already half-closed.", slot.name()));
                    return;
                }
                None => None,
            }
        };
        let Some(sock) = sock else {
            self.error(&format!(
                "The {} is not open: click Connect first.",
                slot.name()
            ));
            return;
        };
        self.frame.bridge.shutdown(sock);
        self.frame.timeline.row(
            Side::Note,
            &format!(
                "{}: half-closed by the page (shutdown: a FIN; the page still reads)",
                slot.name()
            ),
            None,
        );
        self.refresh();
    }

    fn close(&self, slot: Slot, reset: bool) {
        let conn = self.state.borrow_mut().slot(slot).take();
        let Some(conn) = conn else {
            let first = match slot {
                Slot::First => "Connect",
                Slot::Second => "Open a second connection",
            };
            self.error(&format!(
                "The {} is not open, so there is nothing to close: click {first} first.",
                slot.name()
            ));
            return;
        };
        if reset {
            // The bridge answers with `closed`, which frees the socket; the
            // slot is free for a new connection already.
            self.frame.bridge.reset(conn.sock);
            self.frame.timeline.row(
                Side::Note,
                &format!(
                    "{}: reset by the page (SO_LINGER 0: an RST, not a FIN)",
                    slot.name()
                ),
                None,
            );
        } else {
            self.frame.bridge.close(conn.sock);
            self.frame.timeline.row(
                Side::Note,
                &format!("{}: closed by the page (a FIN)", slot.name()),
                None,
            );
        }
        self.refresh();
    }

    fn on_sock(&self, slot: Slot, sock: SocketId, ev: SockEvent) {
        // The slot may hold a newer connection by now (after a reset).
        let mine = self
            .state
            .borrow_mut()
            .slot(slot)
            .as_ref()
            .is_some_and(|c| c.sock == sock);
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                self.frame.timeline.segment(Some(slot.name()), &seg, held);
            }
            SockEvent::Opened { local, peer } => {
                if mine {
                    let mut st = self.state.borrow_mut();
                    let busy = st.busy_with(sock);
                    if let Some(c) = st.slot(slot).as_mut() {
                        c.local = Some(local.clone());
                        if c.server_conn.is_none() {
                            c.waited_behind = busy;
                        }
                    }
                }
                self.frame.timeline.row(
                    Side::Note,
                    &format!("{}: connected {local} → {peer}", slot.name()),
                    None,
                );
            }
            SockEvent::Read { data, .. } => {
                self.frame
                    .timeline
                    .row_in(slot.name(), Side::Read, slot.name(), Some(&data));
                let (expected, waited) = if mine {
                    let mut st = self.state.borrow_mut();
                    st.slot(slot)
                        .as_mut()
                        .map(|c| (c.unanswered.pop_front(), c.waited_verdict.clone()))
                        .unwrap_or_default()
                } else {
                    (None, None)
                };
                let said = match expected {
                    Some(sent) if data == echo_reply(&sent) => format!(
                        "The {} read {} bytes, ACK: and a space followed by the {} bytes it sent: the server read them in one recv and answered that read.",
                        slot.name(),
                        data.len(),
                        sent.len()
                    ),
                    Some(_) => format!(
                        "The {} read {} bytes that are not one ACK: per send: TCP is a byte stream, so replies can arrive merged or split.",
                        slot.name(),
                        data.len()
                    ),
                    None => String::new(),
                };
                if !said.is_empty() {
                    match waited {
                        Some(w) => self.frame.conclude(&format!("{w} {said}")),
                        None => self.frame.conclude(&said),
                    }
                }
            }
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
            SockEvent::Closed { by, reason } => {
                if mine {
                    *self.state.borrow_mut().slot(slot) = None;
                }
                let who = match by {
                    ClosedBy::Peer => "closed by the server",
                    ClosedBy::Page => "closed by the page",
                    ClosedBy::Bridge => "closed by the bridge",
                };
                self.frame.timeline.row(
                    Side::Note,
                    &format!("{}: {who} ({reason})", slot.name()),
                    None,
                );
            }
            SockEvent::Error { message } => {
                self.error(&format!("{}: {message}", slot.name()));
            }
        }
        self.refresh();
    }

    fn on_server(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        if ev.demo != Demo::TcpEcho {
            return;
        }
        let mut conclusion = None;
        {
            let mut st = self.state.borrow_mut();
            match &ev.kind {
                EventKind::Accepted { .. } => {
                    st.serving.insert(ev.conn, (sock, ev.peer.clone()));
                    if let Some(slot) = sock.and_then(|s| st.slot_of(s))
                        && let Some(c) = st.slot(slot).as_mut()
                    {
                        c.server_conn = Some(ev.conn);
                        if let Some((behind, who)) = c.waited_behind.take() {
                            // Said only when the close of the connection it
                            // waited behind was seen before this accept.
                            if !st.serving.contains_key(&behind) {
                                let text = format!(
                                    "The server accepted the {} only after {who} closed: tcp-echo is iterative, it serves one client at a time, and meanwhile the kernel held the new connection (and any bytes sent on it) in the listen backlog.",
                                    slot.name()
                                );
                                if let Some(c) = st.slot(slot).as_mut() {
                                    c.waited_verdict = Some(text.clone());
                                }
                                conclusion = Some(text);
                            }
                        }
                    }
                }
                EventKind::Closed { .. } | EventKind::Refused { .. } => {
                    st.serving.remove(&ev.conn);
                    // Whoever waits behind a connection that is still being
                    // served keeps waiting; a waiter the server now reaches
                    // is told so by its own `accepted`.
                }
                EventKind::Timeout { waiting_for, .. } => {
                    if let Some(slot) = sock.and_then(|s| st.slot_of(s)) {
                        conclusion = Some(format!(
                            "The server gave up on the {} while waiting for {waiting_for}: see its timeout and close in the server view.",
                            slot.name()
                        ));
                    }
                }
                _ => {}
            }
            // A connection waiting now (opened, not accepted) remembers who holds the server.
            for slot in [Slot::First, Slot::Second] {
                let waiting = st
                    .slot(slot)
                    .as_ref()
                    .filter(|c| c.local.is_some() && c.server_conn.is_none())
                    .map(|c| c.sock);
                let busy = waiting.and_then(|s| st.busy_with(s));
                if let Some(busy) = busy
                    && let Some(c) = st.slot(slot).as_mut()
                    && c.waited_behind.is_none()
                {
                    c.waited_behind = Some(busy);
                }
            }
        }
        if let Some(text) = conclusion {
            self.frame.conclude(&text);
        }
        self.refresh();
    }
}

fn close_label(slot: Slot) -> &'static str {
    match slot {
        Slot::First => "Close",
        Slot::Second => "Close the second",
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "TCP echo (iterative)",
        "Connect, then send: each read the server makes comes back prefixed with ACK: and a space. \
         The server serves one client at a time: open a second connection while the first is open \
         and watch it wait. The server view below shows the server's side, including clients you run in a terminal.",
        bridge,
    );
    let message = text_input(&frame.controls, "Message", "message", "Hello, Server");
    attr(&message, "enterkeyhint", "send");
    let first_row = add(&frame.controls, el("div", "sl-buttons sl-conn-row", ""));
    attr(&first_row, "data-slot", Slot::First.key());
    let second_row = add(&frame.controls, el("div", "sl-buttons sl-conn-row", ""));
    attr(&second_row, "data-slot", Slot::Second.key());
    let status = [Slot::First, Slot::Second].map(|slot| {
        let s = add(&frame.controls, el("p", "sl-conn-status", "not connected"));
        attr(&s, "data-role", &format!("{}-status", slot.key()));
        attr(&s, "aria-live", "polite");
        s
    });
    // Status lines sit under their buttons.
    let _ = first_row.after_with_node_1(&status[0]);
    let _ = second_row.after_with_node_1(&status[1]);
    let view = frame.server_view(&[Demo::TcpEcho]);
    let lab = Rc::new(Lab {
        frame: frame.clone(),
        view: view.clone(),
        message: message.clone(),
        status,
        state: RefCell::default(),
    });
    lab.view
        .on_event_for(&lab, |lab, ev, sock| lab.on_server(ev, sock));

    let mut listeners = Vec::new();
    let mut act = |row: &Element, text: &str, role: &str, f: fn(&Rc<Lab>)| {
        let l = lab.clone();
        listeners.push(button(row, text, role, move |_| f(&l)).1);
    };
    add(&first_row, el("span", "sl-conn-name", "First connection:"));
    act(&first_row, "Connect", "connect", |l| {
        if l.state.borrow().first.is_some() {
            l.error("The first connection is already open. Click Close or Reset (RST) to end it, or Open a second connection.");
        } else {
            l.connect(Slot::First);
        }
    });
    act(&first_row, "Send", "send", |l| l.send(Slot::First));
    act(&first_row, "Half-close (shutdown)", "shutdown", |l| {
        l.shutdown(Slot::First)
    });
    act(&first_row, "Close", "close", |l| {
        l.close(Slot::First, false)
    });
    act(&first_row, "Reset (RST)", "reset", |l| {
        l.close(Slot::First, true)
    });
    add(
        &second_row,
        el("span", "sl-conn-name", "Second connection:"),
    );
    act(
        &second_row,
        "Open a second connection",
        "second-connect",
        |l| {
            if l.state.borrow().second.is_some() {
                l.error("The second connection is already open. Click Close the second to end it.");
            } else {
                l.connect(Slot::Second);
            }
        },
    );
    act(&second_row, "Send on the second", "second-send", |l| {
        l.send(Slot::Second)
    });
    act(&second_row, "Close the second", "second-close", |l| {
        l.close(Slot::Second, false)
    });
    {
        let l = lab.clone();
        listeners.push(Listener::new(&message, "keydown", move |e| {
            if let Some(k) = e.dyn_ref::<KeyboardEvent>()
                && k.key() == "Enter"
            {
                e.prevent_default();
                l.send(Slot::First);
            }
        }));
    }
    Mounted::with_state(listeners, lab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_connection_says_who_holds_the_server() {
        let c = Conn {
            sock: 2,
            local: Some("127.0.0.1:50000".into()),
            ..Conn::default()
        };
        let busy = (1, "the first connection".to_owned());
        let s = status_text(Some(&c), Some(&busy));
        assert!(s.contains("not accepted it"), "{s}");
        assert!(s.contains("the first connection"), "{s}");
        assert_eq!(status_text(None, None), "not connected");
    }

    #[test]
    fn status_counts_unanswered_sends() {
        let mut c = Conn {
            sock: 1,
            local: Some("127.0.0.1:50000".into()),
            server_conn: Some(4),
            ..Conn::default()
        };
        c.unanswered.push_back(b"x".to_vec());
        let s = status_text(Some(&c), None);
        assert!(s.contains("connection 4"), "{s}");
        assert!(s.contains("1 send not answered yet"), "{s}");
    }
}
