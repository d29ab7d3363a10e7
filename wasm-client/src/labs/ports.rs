//! The ports lab: the four numbers that name one connection, from both ends.
//!
//! The page's end is what the bridge reports when the socket opens (its
//! `getsockname` and `getpeername`); the server's end is the demo's own
//! `accepted` event for that very socket (matched by the socket id the
//! bridge tags it with, never by port text). The lab compares the two and
//! says they agree only when they do.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, SocketId};
use protocol::events::{EventKind, ServerEvent};
use web_sys::{Element, HtmlElement};

use super::server_view::ServerView;
use super::{Frame, Mounted, button};
use crate::dom::{add, attr, el};
use crate::net::SockEvent;
use crate::timeline::Side;

/// Splits `127.0.0.1:54321` into address and port (the last colon, so an
/// IPv6 `[::1]:54321` works too).
pub fn split_addr(addr: &str) -> (&str, &str) {
    addr.rsplit_once(':').unwrap_or((addr, "?"))
}

/// One connection's two views.
#[derive(Debug, Default, Clone)]
struct Tuple {
    sock: SocketId,
    /// The page's end: (local, peer), from the bridge.
    mine: Option<(String, String)>,
    /// The server's end: (peer it saw, its own address), from `accepted`.
    theirs: Option<(String, String)>,
    done: bool,
    /// The page's socket is still open.
    open: bool,
}

#[derive(Default)]
struct State {
    current: Option<Tuple>,
    /// Client ports seen so far, oldest first.
    history: Vec<String>,
}

struct Lab {
    frame: Frame,
    view: ServerView,
    table: Element,
    state: RefCell<State>,
}

/// Whether both ends name the same four numbers.
fn agree(t: &Tuple) -> Option<bool> {
    let (local, peer) = t.mine.as_ref()?;
    let (their_peer, their_local) = t.theirs.as_ref()?;
    Some(local == their_peer && peer == their_local)
}

impl Lab {
    fn render_table(&self) {
        let st = self.state.borrow();
        self.table.set_inner_html("");
        let head = add(&self.table, el("tr", "", ""));
        for h in [
            "seen from",
            "client address",
            "client port",
            "server address",
            "server port",
        ] {
            add(&head, el("th", "", h));
        }
        let Some(t) = &st.current else {
            return;
        };
        let row = |label: &str, client: Option<&str>, server: Option<&str>, role: &str| {
            let tr = add(&self.table, el("tr", "", ""));
            attr(&tr, "data-role", role);
            add(&tr, el("td", "", label));
            for side in [client, server] {
                let (a, p) = side.map_or(("…", "…"), split_addr);
                add(&tr, el("td", "", a));
                add(&tr, el("td", "sl-port", p));
            }
        };
        let mine = t.mine.as_ref();
        row(
            "your end (getsockname, getpeername)",
            mine.map(|m| m.0.as_str()),
            mine.map(|m| m.1.as_str()),
            "mine",
        );
        let theirs = t.theirs.as_ref();
        row(
            "the server's end (accept)",
            theirs.map(|m| m.0.as_str()),
            theirs.map(|m| m.1.as_str()),
            "theirs",
        );
    }

    fn conclude(&self) {
        let (verdict, history) = {
            let mut st = self.state.borrow_mut();
            let Some(t) = st.current.as_mut() else {
                return;
            };
            if t.done {
                return;
            }
            let Some(same) = agree(t) else {
                return;
            };
            t.done = true;
            let port = t
                .mine
                .as_ref()
                .map(|m| split_addr(&m.0).1.to_owned())
                .unwrap_or_default();
            st.history.push(port);
            (same, st.history.clone())
        };
        let tail = if history.len() > 1 {
            let last = history.last().expect("more than one");
            let repeated = history[..history.len() - 1].contains(last);
            format!(
                " Client ports so far: {}: {}",
                history.join(", "),
                if repeated {
                    "this port again. Once nothing holds a port any more (the old connection closed and \
                     no TIME_WAIT keeps it), the system may hand it out again."
                } else {
                    "a new one for each connection."
                }
            )
        } else {
            " Connect again and the system picks a client port again, usually another one."
                .to_owned()
        };
        if verdict {
            self.frame.conclude(&format!(
                "Same four numbers from both ends: the port your system picked for you ({}) is the peer port the server accepted.{tail}",
                history.last().map_or("?", String::as_str)
            ));
        } else {
            self.frame.conclude(
                "The two ends disagree: something between them (a proxy or NAT) rewrote an address.",
            );
        }
    }

    fn connect(self: &Rc<Self>) {
        if self
            .state
            .borrow()
            .current
            .as_ref()
            .is_some_and(|t| t.open && !t.done)
        {
            self.frame
                .error("A connection is still opening: wait for it, or click Close.");
            return;
        }
        self.frame.timeline.clear();
        let sock = self.frame.bridge.open(
            |sock| ClientMsg::open(sock, Demo::Uppercase),
            super::weakly(self, move |lab, id, ev| lab.on_sock(id, ev)),
        );
        // uppercase reads one message, answers it and closes.
        self.frame.bridge.send(sock, b"which port am I?");
        self.state.borrow_mut().current = Some(Tuple {
            sock,
            open: true,
            ..Tuple::default()
        });
        self.frame
            .timeline
            .row(Side::Note, "connecting to uppercase…", None);
        self.render_table();
        self.frame.refresh_sockets();
    }

    fn close(&self) {
        let sock = self
            .state
            .borrow_mut()
            .current
            .as_mut()
            .filter(|t| t.open)
            .map(|t| {
                t.open = false;
                t.sock
            });
        self.frame.close_or_explain(
            sock,
            "No connection is open: the server closes each one after its reply. Click Connect to uppercase for a new one.",
        );
    }

    fn on_sock(&self, sock: SocketId, ev: SockEvent) {
        let mine = self.state.borrow().current.as_ref().map(|t| t.sock) == Some(sock);
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                self.frame.timeline.segment(None, &seg, held);
            }
            SockEvent::Opened { local, peer } => {
                let row = self.frame.timeline.row(
                    Side::Note,
                    &format!("your end: {local} → server: {peer}"),
                    None,
                );
                attr(&row, "data-event", "local");
                if mine && let Some(t) = self.state.borrow_mut().current.as_mut() {
                    t.mine = Some((local, peer));
                }
            }
            SockEvent::Read { data, .. } => {
                self.frame.timeline.row(Side::Read, "reply", Some(&data));
            }
            SockEvent::Closed { reason, .. } => {
                if mine && let Some(t) = self.state.borrow_mut().current.as_mut() {
                    t.open = false;
                }
                self.frame.closed(&reason);
            }
            SockEvent::Error { message } => {
                self.frame.error(&message);
            }
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        self.render_table();
        self.conclude();
        self.frame.refresh_sockets();
    }

    fn on_server(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        let EventKind::Accepted { local } = &ev.kind else {
            return;
        };
        let current = self.state.borrow().current.as_ref().map(|t| t.sock);
        if sock.is_none() || current != sock {
            return;
        }
        let row = self.frame.timeline.row(
            Side::Server,
            &format!("server: accepted a connection from {} on {local}", ev.peer),
            None,
        );
        attr(&row, "data-event", "accepted");
        if let Some(t) = self.state.borrow_mut().current.as_mut() {
            t.theirs = Some((ev.peer.clone(), local.clone()));
        }
        self.render_table();
        self.conclude();
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "IP addresses and ports",
        "A connection is named by four numbers: your IP and port, the server's IP and port. \
         Connect, and see the ephemeral port your operating system picked for you, from both ends. \
         The server view below also shows connections from your own programs.",
        bridge,
    );
    let buttons = add(&frame.controls, el("div", "sl-buttons", ""));
    let table = add(&frame.controls, el("table", "sl-layers sl-tuple", ""));
    attr(&table, "data-role", "tuple");
    let view = frame.server_view(&[Demo::Uppercase, Demo::TcpEcho]);
    let lab = Rc::new(Lab {
        frame,
        view,
        table,
        state: RefCell::default(),
    });
    lab.view
        .on_event_for(&lab, |lab, ev, sock| lab.on_server(ev, sock));
    lab.render_table();
    let l = lab.clone();
    let (_, connect) = button(&buttons, "Connect to uppercase", "connect", move |_| {
        l.connect()
    });
    let l = lab.clone();
    let (_, close) = button(&buttons, "Close", "close", move |_| l.close());
    Mounted::with_state(vec![connect, close], lab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_are_compared_number_by_number() {
        assert_eq!(split_addr("127.0.0.1:54321"), ("127.0.0.1", "54321"));
        assert_eq!(split_addr("[::1]:80"), ("[::1]", "80"));
        let mut t = Tuple {
            mine: Some(("127.0.0.1:50000".into(), "127.0.0.1:9999".into())),
            ..Tuple::default()
        };
        assert_eq!(agree(&t), None);
        t.theirs = Some(("127.0.0.1:50000".into(), "127.0.0.1:9999".into()));
        assert_eq!(agree(&t), Some(true));
        t.theirs = Some(("10.0.0.1:50000".into(), "127.0.0.1:9999".into()));
        assert_eq!(agree(&t), Some(false));
    }
}
