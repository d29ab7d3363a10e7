//! The udp-echo lab: datagrams keep their boundaries; one larger than the
//! server's 1024-byte buffer is cut short; the simulated network can also
//! lose and reorder them.
//!
//! One code path: each run opens a UDP socket through the bridge, sends the
//! datagrams, reads the replies, and closes the socket when every reply is
//! in (or when nothing more has come for a while). The conclusion is read
//! off what came back: the replies on the page's socket and the datagram
//! events (size, truncation) the server reported for that socket.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, SocketId};
use protocol::events::{EventKind, ServerEvent};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, HtmlElement, HtmlInputElement, KeyboardEvent};

use super::server_view::ServerView;
use super::{Frame, Mounted, button, number_input, read_number, text_input};
use crate::dom::{Listener, add, attr, el};
use crate::net::{Mode, SockEvent};
use crate::timeline::Side;

/// How long a run waits after the last thing it heard before it closes the
/// socket and counts what is missing as lost (UDP never says).
const QUIET_MS: i32 = 1500;
/// Largest datagram the lab sends.
const MAX_PAD: u32 = 8000;

/// One run: a socket and what came back on it.
#[derive(Debug, Default)]
struct Run {
    sock: SocketId,
    sent: usize,
    /// Replies read on the page's socket.
    replies: usize,
    /// What the server saw, in arrival order: (datagram number, size, truncated).
    seen: Vec<(Option<usize>, usize, bool)>,
}

#[derive(Default)]
struct State {
    run: Option<Run>,
    timer: Option<(i32, Closure<dyn FnMut()>)>,
}

struct Lab {
    frame: Frame,
    view: ServerView,
    message: HtmlInputElement,
    count: HtmlInputElement,
    pad: HtmlInputElement,
    loss: HtmlInputElement,
    reorder: HtmlInputElement,
    status: Element,
    state: RefCell<State>,
}

/// The bytes of datagram `i` of `n`: numbered (`#2 `) when there are
/// several, then padded with dots to `pad_to` bytes (never cut).
pub fn datagram(text: &[u8], i: usize, n: usize, pad_to: usize) -> Vec<u8> {
    let mut d = if n == 1 {
        Vec::new()
    } else {
        format!("#{} ", i + 1).into_bytes()
    };
    d.extend_from_slice(text);
    if pad_to > d.len() {
        d.resize(pad_to, b'.');
    }
    d
}

/// The number a datagram carries (`#2 …` → 1, zero-based), if any.
fn number_of(data: &[u8]) -> Option<usize> {
    let rest = data.strip_prefix(b"#")?;
    let end = rest.iter().position(|&b| b == b' ')?;
    std::str::from_utf8(&rest[..end])
        .ok()?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

/// What a finished (or closed) run shows, from what came back.
fn conclusion(run: &Run, finished: bool) -> String {
    let mut out = Vec::new();
    let seen = run.seen.len();
    out.push(format!(
        "{} {} sent; the server received {seen}, each by one recvfrom",
        run.sent,
        plural(run.sent, "datagram", "datagrams")
    ));
    let sizes: Vec<String> = run
        .seen
        .iter()
        .map(|(_, size, t)| {
            if *t {
                format!("{size} (truncated)")
            } else {
                size.to_string()
            }
        })
        .collect();
    if !sizes.is_empty() {
        out[0].push_str(&format!(" ({} bytes)", sizes.join(", ")));
    }
    out[0].push_str(&format!(
        "; {} {} read, one read per datagram.",
        run.replies,
        plural(run.replies, "reply", "replies")
    ));
    let truncated: Vec<&(Option<usize>, usize, bool)> =
        run.seen.iter().filter(|(_, _, t)| *t).collect();
    if !truncated.is_empty() {
        out.push(format!(
            "The server's 1024-byte buffer cut {} short: the rest of {} was thrown away, not delivered later.",
            plural(truncated.len(), "a datagram", "datagrams"),
            plural(truncated.len(), "it", "each")
        ));
    }
    let order: Vec<usize> = run.seen.iter().filter_map(|(n, ..)| *n).collect();
    if order.windows(2).any(|w| w[0] > w[1]) {
        let shown: Vec<String> = order.iter().map(|n| (n + 1).to_string()).collect();
        out.push(format!(
            "They arrived out of order ({}): UDP does not keep order.",
            shown.join(", ")
        ));
    }
    if finished && seen < run.sent {
        out.push(format!(
            "{} never reached the server, and nothing told the sender: UDP does not retransmit.",
            plural(run.sent - seen, "One", &format!("{}", run.sent - seen))
        ));
    } else if finished && run.replies < seen {
        out.push(format!(
            "{} of the server's replies never arrived: a reply is a datagram too.",
            seen - run.replies
        ));
    }
    out.join(" ")
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

impl Lab {
    fn refresh(&self) {
        let st = self.state.borrow();
        let text = match &st.run {
            None => "no socket open".to_owned(),
            Some(r) => format!(
                "socket open: {} sent, {} seen by the server, {} {} read; it closes when every reply is in, or after {} s of quiet",
                r.sent,
                r.seen.len(),
                r.replies,
                plural(r.replies, "reply", "replies"),
                f64::from(QUIET_MS) / 1000.0
            ),
        };
        self.status.set_text_content(Some(&text));
        attr(
            &self.status,
            "data-state",
            if st.run.is_some() { "open" } else { "closed" },
        );
        drop(st);
        self.frame.refresh_sockets();
    }

    fn send(self: &Rc<Self>) {
        if self.state.borrow().run.is_some() {
            self.frame.error("A run is still waiting for replies: wait for it to finish, or click Close the socket.");
            return;
        }
        let text = self.message.value().into_bytes();
        let n = read_number(&self.count, 1, 20) as usize;
        let pad_to = read_number(&self.pad, 0, MAX_PAD) as usize;
        if text.is_empty() && pad_to == 0 {
            self.frame.error("The message is empty: type something in Message, or set Pad each to a size (an empty datagram is allowed in UDP, but shows nothing here).");
            return;
        }
        // Acts only on the simulated network; live, the network is real.
        self.frame.bridge.set_sim_network(
            f64::from(read_number(&self.loss, 0, 100)) / 100.0,
            f64::from(read_number(&self.reorder, 0, 100)) / 100.0,
        );
        self.frame.timeline.clear();
        self.frame.conclude("");
        let sock = self.frame.bridge.open(
            |sock| ClientMsg::Open {
                sock,
                demo: Some(Demo::UdpEcho),
                target: None,
                nodelay: false,
                sticky: None,
                ack: false,
            },
            super::weakly(self, move |lab, id, ev| lab.on_sock(id, ev)),
        );
        self.state.borrow_mut().run = Some(Run {
            sock,
            sent: n,
            ..Run::default()
        });
        for i in 0..n {
            let d = datagram(&text, i, n, pad_to);
            self.frame.bridge.send(sock, &d);
            self.frame
                .timeline
                .row(Side::Send, &format!("datagram {} of {n}", i + 1), Some(&d));
        }
        self.arm_timer();
        self.refresh();
    }

    /// (Re)starts the quiet timer that ends a run with missing replies.
    fn arm_timer(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Some((old, _)) = self.state.borrow_mut().timer.take() {
            window.clear_timeout_with_handle(old);
        }
        let lab = Rc::downgrade(self);
        let cb = Closure::<dyn FnMut()>::new(move || {
            if let Some(lab) = lab.upgrade() {
                lab.finish("the run went quiet");
            }
        });
        if let Ok(id) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            cb.as_ref().unchecked_ref(),
            QUIET_MS,
        ) {
            self.state.borrow_mut().timer = Some((id, cb));
        }
    }

    /// Ends the run: closes its socket and says what happened.
    fn finish(&self, why: &str) {
        let (run, timer) = {
            let mut st = self.state.borrow_mut();
            (st.run.take(), st.timer.take())
        };
        if let (Some((id, _)), Some(window)) = (timer, web_sys::window()) {
            window.clear_timeout_with_handle(id);
        }
        let Some(run) = run else { return };
        self.frame.bridge.close(run.sock);
        self.frame.timeline.row(
            Side::Note,
            &format!("socket closed by the page ({why})"),
            None,
        );
        self.frame.conclude(&conclusion(&run, true));
        self.refresh();
    }

    fn maybe_done(self: &Rc<Self>) {
        let done = self
            .state
            .borrow()
            .run
            .as_ref()
            .is_some_and(|r| r.replies >= r.sent && r.seen.len() >= r.sent);
        if done {
            self.finish("every reply is in");
        } else {
            let partial = self
                .state
                .borrow()
                .run
                .as_ref()
                .map(|r| conclusion(r, false));
            if let Some(text) = partial {
                self.frame.conclude(&text);
            }
            self.arm_timer();
        }
    }

    fn on_sock(self: &Rc<Self>, sock: SocketId, ev: SockEvent) {
        let mine = self.state.borrow().run.as_ref().map(|r| r.sock) == Some(sock);
        match ev {
            // UDP has no segments.
            SockEvent::Segment { .. } => {}
            SockEvent::Opened { local, peer } => {
                self.frame.timeline.row(
                    Side::Note,
                    &format!(
                        "UDP socket {local} → {peer} (no handshake: connect() on UDP only fixes the destination)"
                    ),
                    None,
                );
            }
            SockEvent::Read { data, .. } => {
                self.frame.timeline.row(Side::Read, "reply", Some(&data));
                if mine {
                    if let Some(r) = self.state.borrow_mut().run.as_mut() {
                        r.replies += 1;
                    }
                    self.maybe_done();
                }
            }
            SockEvent::Closed { reason, .. } => {
                self.frame
                    .timeline
                    .row(Side::Note, &format!("socket closed: {reason}"), None);
                if mine {
                    let run = self.state.borrow_mut().run.take();
                    if let Some(run) = run {
                        self.frame.conclude(&conclusion(&run, true));
                    }
                }
            }
            SockEvent::Error { message } => {
                self.frame.error(&message);
            }
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        self.refresh();
    }

    fn on_server(self: &Rc<Self>, ev: &ServerEvent, sock: Option<SocketId>) {
        let EventKind::Datagram {
            size,
            truncated,
            data,
        } = &ev.kind
        else {
            return;
        };
        let current = self.state.borrow().run.as_ref().map(|r| r.sock);
        if sock.is_none() || current != sock {
            return;
        }
        if let Some(r) = self.state.borrow_mut().run.as_mut() {
            r.seen.push((number_of(&data.0), *size, *truncated));
        }
        self.maybe_done();
        self.refresh();
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "UDP echo",
        "Each datagram arrives whole or not at all, and the server answers each one with Message received. \
         Make one bigger than 1024 bytes to see the server's buffer cut it short. The server view below shows \
         every datagram the server received, with its size and sender, including those from your terminal.",
        bridge,
    );
    let message = text_input(&frame.controls, "Message", "message", "Hello via UDP");
    attr(&message, "enterkeyhint", "send");
    let count = number_input(&frame.controls, "Datagrams", "count", 3, 1, 20);
    let pad = number_input(
        &frame.controls,
        "Pad each to (bytes, 0 = as typed)",
        "pad",
        0,
        0,
        MAX_PAD,
    );
    // Loss and reordering act only on the simulated network.
    let sim = add(&frame.controls, el("fieldset", "sl-sim-only", ""));
    attr(&sim, "data-role", "sim-network");
    add(
        &sim,
        el(
            "legend",
            "",
            "Simulated network (only in the simulation; live, the network is real)",
        ),
    );
    let loss = number_input(&sim, "Simulated loss %", "loss", 0, 0, 100);
    let reorder = number_input(&sim, "Simulated reordering %", "reorder", 0, 0, 100);
    let buttons = add(&frame.controls, el("div", "sl-buttons", ""));
    let status = add(&frame.controls, el("p", "sl-conn-status", "no socket open"));
    attr(&status, "data-role", "socket-status");
    let view = frame.server_view(&[Demo::UdpEcho]);
    let lab = Rc::new(Lab {
        frame: frame.clone(),
        view,
        message: message.clone(),
        count,
        pad,
        loss,
        reorder,
        status,
        state: RefCell::default(),
    });
    lab.view
        .on_event_for(&lab, |lab, ev, sock| lab.on_server(ev, sock));
    let mode_watch = {
        let s = sim.clone();
        frame.bridge.on_mode(move |mode| {
            if mode == Mode::Simulated {
                let _ = s.remove_attribute("hidden");
            } else {
                attr(&s, "hidden", "");
            }
        })
    };
    let mut listeners = Vec::new();
    let l = lab.clone();
    listeners.push(button(&buttons, "Send datagrams", "send", move |_| l.send()).1);
    let l = lab.clone();
    listeners.push(
        button(&buttons, "Close the socket", "close", move |_| {
            if l.state.borrow().run.is_none() {
                l.frame.error("No socket is open: each run opens one when you click Send datagrams, and closes it when the replies are in.");
            } else {
                l.finish("you clicked Close the socket");
            }
        })
        .1,
    );
    let l = lab.clone();
    listeners.push(Listener::new(&message, "keydown", move |e| {
        if let Some(k) = e.dyn_ref::<KeyboardEvent>()
            && k.key() == "Enter"
        {
            e.prevent_default();
            l.send();
        }
    }));
    Mounted::with_state(listeners, Rc::new((lab, mode_watch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_are_numbered_then_padded_exactly() {
        assert_eq!(datagram(b"hi", 0, 1, 0), b"hi");
        assert_eq!(datagram(b"hi", 1, 3, 0), b"#2 hi");
        assert_eq!(datagram(b"hi", 0, 1, 1500).len(), 1500);
        assert_eq!(datagram(b"hi", 0, 2, 6), b"#1 hi.");
        assert_eq!(number_of(b"#12 x"), Some(11));
        assert_eq!(number_of(b"x"), None);
    }

    #[test]
    fn the_conclusion_follows_what_came_back() {
        let run = Run {
            sock: 1,
            sent: 3,
            replies: 2,
            seen: vec![(Some(1), 5, false), (Some(0), 1500, true)],
        };
        let c = conclusion(&run, true);
        assert!(
            c.starts_with("3 datagrams sent; the server received 2"),
            "{c}"
        );
        assert!(c.contains("1500 (truncated)"), "{c}");
        assert!(c.contains("out of order (2, 1)"), "{c}");
        assert!(c.contains("One never reached the server"), "{c}");
        let whole = Run {
            sock: 1,
            sent: 1,
            replies: 1,
            seen: vec![(None, 13, false)],
        };
        let c = conclusion(&whole, true);
        assert!(!c.contains("truncated") && !c.contains("order"), "{c}");
        assert!(c.contains("1 reply read"), "{c}");
    }
}
