//! The chat lab: the page joins the `chat` demo's room as two clients, A and
//! B, and sends a line from either; programs in the learner's terminal join
//! the same room.
//!
//! One code path, live or simulated: two bridge sockets to the demo, and the
//! server's own events. Each client's reads are cut into lines here (a read
//! can hold two lines, or half of one: the room's framing is the newline),
//! and the conclusion is read off them: "B read A's line with A's address in
//! front" is said only when B's socket delivered exactly that line, and how
//! many members the server wrote it to comes from its `broadcast` event.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, ClosedBy, SocketId};
use protocol::events::{EventKind, ServerEvent};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlInputElement, KeyboardEvent};

use super::{Frame, Mounted, button, text_input};
use crate::dom::{Listener, add, attr, el};
use crate::net::SockEvent;
use crate::timeline::Side;

/// The page's two clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    A,
    B,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::A => "A",
            Who::B => "B",
        }
    }

    fn other(self) -> Who {
        match self {
            Who::A => Who::B,
            Who::B => Who::A,
        }
    }
}

/// One of the page's clients in the room.
#[derive(Debug, Default)]
struct Member {
    sock: SocketId,
    /// The address the server called it by (from its welcome).
    addr: Option<String>,
    /// Bytes of a line not yet complete.
    partial: Vec<u8>,
    /// Lines it sent that nobody has been seen to read yet.
    said: Vec<String>,
}

/// What a complete line the room sent means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// `* you are ADDR; N others here`.
    Welcome { addr: String, others: usize },
    /// `* ADDR joined` / `* ADDR left`.
    Notice(String),
    /// `ADDR: text`.
    Line { from: String, text: String },
    /// Anything else the server said.
    Other(String),
}

/// Reads one line of the room (without its newline).
pub fn parse(line: &str) -> Heard {
    if let Some(rest) = line.strip_prefix("* you are ")
        && let Some((addr, tail)) = rest.split_once("; ")
        && let Some(n) = tail.split(' ').next().and_then(|n| n.parse().ok())
    {
        return Heard::Welcome {
            addr: addr.to_owned(),
            others: n,
        };
    }
    if line.starts_with("* ") {
        return Heard::Notice(line.to_owned());
    }
    match line.split_once(": ") {
        Some((from, text)) if from.contains(':') => Heard::Line {
            from: from.to_owned(),
            text: text.to_owned(),
        },
        _ => Heard::Other(line.to_owned()),
    }
}

/// Cuts `partial` + `data` into complete lines, keeping the rest.
pub fn lines(partial: &mut Vec<u8>, data: &[u8]) -> Vec<String> {
    partial.extend_from_slice(data);
    let mut out = Vec::new();
    while let Some(i) = partial.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = partial.drain(..=i).collect();
        out.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
    }
    out
}

#[derive(Default)]
struct State {
    a: Option<Member>,
    b: Option<Member>,
    /// The last `broadcast` count of each page client's line: (sock, to).
    last_to: Vec<(SocketId, usize)>,
}

impl State {
    fn member(&mut self, who: Who) -> &mut Option<Member> {
        match who {
            Who::A => &mut self.a,
            Who::B => &mut self.b,
        }
    }
}

struct Lab {
    frame: Frame,
    message: HtmlInputElement,
    status: [Element; 2],
    state: RefCell<State>,
}

fn status_text(m: Option<&Member>) -> String {
    match m {
        None => "not in the room".into(),
        Some(Member { addr: None, .. }) => "joining…".into(),
        Some(Member { addr: Some(a), .. }) => format!("in the room; the server calls it {a}"),
    }
}

impl Lab {
    fn refresh(&self) {
        let st = self.state.borrow();
        for (i, m) in [st.a.as_ref(), st.b.as_ref()].into_iter().enumerate() {
            self.status[i].set_text_content(Some(&status_text(m)));
            attr(
                &self.status[i],
                "data-state",
                if m.is_some() { "open" } else { "closed" },
            );
        }
        drop(st);
        self.frame.refresh_sockets();
    }

    fn join(self: &Rc<Self>, who: Who) -> SocketId {
        if let Some(m) = self.state.borrow_mut().member(who).as_ref() {
            return m.sock;
        }
        let sock = self.frame.bridge.open(
            |sock| ClientMsg::open(sock, Demo::Chat),
            super::weakly(self, move |lab, id, ev| lab.on_sock(who, id, ev)),
        );
        *self.state.borrow_mut().member(who) = Some(Member {
            sock,
            ..Member::default()
        });
        self.frame.timeline.row(
            Side::Note,
            &format!("{}: joining the room…", who.name()),
            None,
        );
        self.refresh();
        sock
    }

    fn send(self: &Rc<Self>, who: Who) {
        let text = self.message.value();
        if text.trim().is_empty() {
            self.frame.error("The message is empty: type a line in Message first (the room ignores empty lines).");
            return;
        }
        let sock = self.join(who);
        let line = format!("{text}\n");
        self.frame.bridge.send(sock, line.as_bytes());
        if let Some(m) = self.state.borrow_mut().member(who).as_mut() {
            m.said.push(text.trim_end_matches('\r').to_owned());
        }
        self.frame.timeline.row_in(
            who.name(),
            Side::Send,
            &format!("{} sent a line", who.name()),
            Some(line.as_bytes()),
        );
        self.refresh();
    }

    fn leave(&self, who: Who) {
        let m = self.state.borrow_mut().member(who).take();
        let Some(m) = m else {
            self.frame.error(&format!(
                "{} is not in the room: click Join as {} first.",
                who.name(),
                who.name()
            ));
            return;
        };
        self.frame.bridge.close(m.sock);
        self.frame.timeline.row(
            Side::Note,
            &format!(
                "{}: closed by the page (the others should hear it left)",
                who.name()
            ),
            None,
        );
        self.refresh();
    }

    fn on_sock(&self, who: Who, sock: SocketId, ev: SockEvent) {
        let mine = self
            .state
            .borrow_mut()
            .member(who)
            .as_ref()
            .is_some_and(|m| m.sock == sock);
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                self.frame.timeline.segment(Some(who.name()), &seg, held);
            }
            SockEvent::Opened { local, peer } => {
                self.frame.timeline.row(
                    Side::Note,
                    &format!("{}: connected {local} → {peer}", who.name()),
                    None,
                );
            }
            SockEvent::Read { data, .. } => {
                self.frame.timeline.row_in(
                    who.name(),
                    Side::Read,
                    &format!("{} read", who.name()),
                    Some(&data),
                );
                if mine {
                    self.heard(who, &data);
                }
            }
            SockEvent::Closed { by, reason } => {
                if mine {
                    *self.state.borrow_mut().member(who) = None;
                }
                let by = match by {
                    ClosedBy::Peer => "closed by the server",
                    ClosedBy::Page => "closed by the page",
                    ClosedBy::Bridge => "closed by the bridge",
                };
                self.frame.timeline.row(
                    Side::Note,
                    &format!("{}: {by} ({reason})", who.name()),
                    None,
                );
            }
            SockEvent::Error { message } => self.frame.error(&format!("{}: {message}", who.name())),
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        self.refresh();
    }

    /// A read on `who`'s socket: the lines it completed, and what they show.
    fn heard(&self, who: Who, data: &[u8]) {
        let mut st = self.state.borrow_mut();
        let last_to = st.last_to.clone();
        let other_addr = st.member(who.other()).as_ref().and_then(|m| m.addr.clone());
        let other_sock = st.member(who.other()).as_ref().map(|m| m.sock);
        let Some(m) = st.member(who).as_mut() else {
            return;
        };
        let complete = lines(&mut m.partial, data);
        let held = m.partial.len();
        let mut said = Vec::new();
        for line in &complete {
            match parse(line) {
                Heard::Welcome { addr, others } => {
                    m.addr = Some(addr.clone());
                    said.push(format!(
                        "{} is in the room: the server's first line told it its own address, {addr}, and that {others} {} already there.",
                        who.name(),
                        if others == 1 { "other client was" } else { "other clients were" }
                    ));
                }
                Heard::Line { from, text } => {
                    let sender = if other_addr.as_deref() == Some(from.as_str()) {
                        Some(who.other())
                    } else {
                        None
                    };
                    let to = sender
                        .and(other_sock)
                        .and_then(|s| last_to.iter().find(|(k, _)| *k == s).map(|(_, n)| *n));
                    let text_said = match sender {
                        Some(s) => format!(
                            "{} read \"{line}\": the server read {}'s line, put {}'s address in front and wrote it to every other member of the room{}. {} itself got nothing back.",
                            who.name(),
                            s.name(),
                            s.name(),
                            to.map(|n| format!(" ({n} in all, by its broadcast event)"))
                                .unwrap_or_default(),
                            s.name()
                        ),
                        None => format!(
                            "{} read \"{text}\" from {from}: that is not one of this page's clients, so another program (your terminal?) is in the room.",
                            who.name()
                        ),
                    };
                    said.push(text_said);
                }
                // Comings and goings are in the timeline; they do not
                // replace what the last line showed.
                Heard::Notice(_) => {}
                Heard::Other(o) => said.push(format!(
                    "{} read a line the lab does not know: {o}",
                    who.name()
                )),
            }
        }
        if complete.len() > 1 {
            said.push(format!(
                "That one read held {} lines: TCP delivers bytes, and the room's framing is the newline.",
                complete.len()
            ));
        }
        if held > 0 {
            said.push(format!(
                "{held} bytes of an unfinished line wait for the rest of it."
            ));
        }
        drop(st);
        if !said.is_empty() {
            self.frame.conclude(&said.join(" "));
        }
    }

    fn on_server(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        if ev.demo != Demo::Chat {
            return;
        }
        if let (EventKind::Broadcast { to, data, .. }, Some(s)) = (&ev.kind, sock)
            && !data.0.starts_with(b"* ")
        {
            let who = {
                let mut st = self.state.borrow_mut();
                st.last_to.retain(|(k, _)| *k != s);
                st.last_to.push((s, *to));
                [Who::A, Who::B]
                    .into_iter()
                    .find(|w| st.member(*w).as_ref().is_some_and(|m| m.sock == s))
            };
            if let Some(who) = who {
                // The server's decision, in the list and the diagram.
                self.frame.timeline.row(
                    Side::Server,
                    &format!(
                        "server: relayed {}'s line to {to} other {}",
                        who.name(),
                        if *to == 1 { "member" } else { "members" }
                    ),
                    None,
                );
            }
        }
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Chat room (one server, many clients)",
        "Join the chat demo as A and as B, then send a line from either: the server writes it to every \
         other member, with the sender's address in front. Clients you run in a terminal \
         (chat_client.py) join the same room. The server view below shows what the server read and whom it relayed each line to.",
        bridge,
    );
    let message = text_input(&frame.controls, "Message", "message", "Hello, room");
    attr(&message, "enterkeyhint", "send");
    let rows = [Who::A, Who::B].map(|who| {
        let row = add(&frame.controls, el("div", "sl-buttons sl-conn-row", ""));
        attr(&row, "data-slot", &who.name().to_ascii_lowercase());
        row
    });
    let status = [Who::A, Who::B].map(|who| {
        let s = add(
            &frame.controls,
            el("p", "sl-conn-status", "not in the room"),
        );
        attr(
            &s,
            "data-role",
            &format!("{}-status", who.name().to_ascii_lowercase()),
        );
        attr(&s, "aria-live", "polite");
        s
    });
    let _ = rows[0].after_with_node_1(&status[0]);
    let _ = rows[1].after_with_node_1(&status[1]);
    let view = frame.server_view(&[Demo::Chat]);
    let lab = Rc::new(Lab {
        frame: frame.clone(),
        message: message.clone(),
        status,
        state: RefCell::default(),
    });
    view.on_event_for(&lab, |lab, ev, sock| lab.on_server(ev, sock));

    let mut listeners = Vec::new();
    for (i, who) in [Who::A, Who::B].into_iter().enumerate() {
        let row = &rows[i];
        let n = who.name();
        let key = n.to_ascii_lowercase();
        add(row, el("span", "sl-conn-name", &format!("Client {n}:")));
        let l = lab.clone();
        listeners.push(
            button(
                row,
                &format!("Join as {n}"),
                &format!("{key}-join"),
                move |_| {
                    if l.state.borrow_mut().member(who).is_some() {
                        l.frame
                            .error(&format!("{} is already in the room.", who.name()));
                    } else {
                        l.join(who);
                    }
                },
            )
            .1,
        );
        let l = lab.clone();
        listeners.push(
            button(
                row,
                &format!("Send from {n}"),
                &format!("{key}-send"),
                move |_| l.send(who),
            )
            .1,
        );
        let l = lab.clone();
        listeners.push(
            button(
                row,
                &format!("Leave ({n})"),
                &format!("{key}-leave"),
                move |_| l.leave(who),
            )
            .1,
        );
    }
    {
        let l = lab.clone();
        listeners.push(Listener::new(&message, "keydown", move |e| {
            if let Some(k) = e.dyn_ref::<KeyboardEvent>()
                && k.key() == "Enter"
            {
                e.prevent_default();
                l.send(Who::A);
            }
        }));
    }
    Mounted::with_state(listeners, Rc::new((lab, view)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_lines_are_read_back() {
        assert_eq!(
            parse("* you are 127.0.0.1:5000; 2 others here"),
            Heard::Welcome {
                addr: "127.0.0.1:5000".into(),
                others: 2
            }
        );
        assert_eq!(
            parse("127.0.0.1:5000: hi: there"),
            Heard::Line {
                from: "127.0.0.1:5000".into(),
                text: "hi: there".into()
            }
        );
        assert!(matches!(parse("* 127.0.0.1:5 left"), Heard::Notice(_)));
    }

    #[test]
    fn reads_are_cut_into_lines_whatever_their_boundaries() {
        let mut partial = Vec::new();
        assert!(lines(&mut partial, b"a: h").is_empty());
        assert_eq!(lines(&mut partial, b"i\nb: x\nc"), ["a: hi", "b: x"]);
        assert_eq!(partial, b"c");
    }
}
