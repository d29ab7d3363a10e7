//! The tcp-echo lab: send messages, see `ACK: ` per read; open a second
//! connection and watch it wait while the first holds the iterative server.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, SocketId};
use protocol::demo::echo_reply;
use protocol::sim::{TcpSimConfig, simulate_tcp};
use web_sys::HtmlElement;

use super::{Frame, Mounted, button, text_input};
use crate::net::SockEvent;
use crate::timeline::Side;

#[derive(Default)]
struct State {
    first: Option<SocketId>,
    second: Option<SocketId>,
    /// Simulation: is the first client still holding the server?
    sim_first_open: bool,
    sim_second_waiting: Option<String>,
}

fn open_echo(frame: &Frame, state: &Rc<RefCell<State>>, name: &'static str) -> SocketId {
    let tl = frame.timeline.clone();
    let f = frame.clone();
    let st = state.clone();
    frame.bridge.open(
        |sock| ClientMsg::Open {
            sock,
            demo: Some(Demo::TcpEcho),
            target: None,
            nodelay: true,
            sticky: None,
            ack: false,
        },
        move |ev| match ev {
            SockEvent::Opened { local, peer } => {
                tl.row(Side::Note, &format!("{name}: connected {local} → {peer}"), None);
            }
            SockEvent::Read { data, .. } => {
                tl.row(Side::Read, name, Some(&data));
                if name == "second client" {
                    f.conclude("The second client was answered only once the first let go: tcp-echo is iterative, one client at a time.");
                }
            }
            SockEvent::Sent { .. } => {}
            SockEvent::Closed { reason, .. } => {
                tl.row(Side::Note, &format!("{name}: closed ({reason})"), None);
                let mut s = st.borrow_mut();
                if name == "first client" {
                    s.first = None;
                } else {
                    s.second = None;
                }
            }
            SockEvent::Error { message } => {
                tl.row(Side::Error, &message, None);
            }
        },
    )
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "TCP echo (iterative)",
        "Each read the server makes comes back prefixed with `ACK: `. The server serves one client at a time: \
         open a second connection while the first is open and watch it wait.",
        bridge,
    );
    let message = text_input(&frame.controls, "Message", "message", "Hello, Server");
    let state: Rc<RefCell<State>> = Rc::default();
    let mut listeners = Vec::new();

    let (f, st, msg) = (frame.clone(), state.clone(), message.clone());
    listeners.push(
        button(&frame.controls, "Send", "send", move |_| {
            let text = msg.value();
            if f.live() {
                let sock = {
                    let existing = st.borrow().first;
                    existing.unwrap_or_else(|| {
                        let id = open_echo(&f, &st, "first client");
                        st.borrow_mut().first = Some(id);
                        id
                    })
                };
                f.bridge.send(sock, text.as_bytes());
                f.timeline
                    .row(Side::Send, "first client", Some(text.as_bytes()));
            } else {
                st.borrow_mut().sim_first_open = true;
                f.timeline.row(
                    Side::Send,
                    "first client (simulated)",
                    Some(text.as_bytes()),
                );
                // The server reads whatever arrived (one write here) and answers it.
                let trace =
                    simulate_tcp(&TcpSimConfig::default(), &[(0, text.clone().into_bytes())]);
                for read in trace.reads {
                    f.timeline.row(
                        Side::Read,
                        "first client (simulated)",
                        Some(&echo_reply(&read.data)),
                    );
                }
            }
        })
        .1,
    );

    let (f, st) = (frame.clone(), state.clone());
    listeners.push(
        button(&frame.controls, "Open a second connection", "second", move |_| {
            let text = "I am the second client";
            if f.live() {
                if st.borrow().second.is_some() {
                    return;
                }
                let id = open_echo(&f, &st, "second client");
                st.borrow_mut().second = Some(id);
                f.bridge.send(id, text.as_bytes());
                f.timeline.row(Side::Send, "second client", Some(text.as_bytes()));
                if st.borrow().first.is_some() {
                    f.timeline.row(
                        Side::Note,
                        "second client: connected (the kernel completed the handshake), but the server has not accepted it: it is still serving the first client",
                        None,
                    );
                }
            } else {
                f.timeline.row(Side::Send, "second client (simulated)", Some(text.as_bytes()));
                if st.borrow().sim_first_open {
                    f.timeline.row(Side::Note, "second client waits: the iterative server is busy with the first", None);
                    st.borrow_mut().sim_second_waiting = Some(text.to_owned());
                } else {
                    f.timeline.row(Side::Read, "second client (simulated)", Some(&echo_reply(text.as_bytes())));
                }
            }
        })
        .1,
    );

    let (f, st) = (frame.clone(), state.clone());
    listeners.push(
        button(&frame.controls, "Close the first connection", "close-first", move |_| {
            if f.live() {
                let first = st.borrow_mut().first.take();
                if let Some(id) = first {
                    f.bridge.close(id);
                    f.timeline.row(Side::Note, "first client: closed by the page", None);
                }
            } else {
                let waiting = {
                    let mut s = st.borrow_mut();
                    s.sim_first_open = false;
                    s.sim_second_waiting.take()
                };
                f.timeline.row(Side::Note, "first client: closed", None);
                if let Some(text) = waiting {
                    f.timeline.row(Side::Read, "second client (simulated)", Some(&echo_reply(text.as_bytes())));
                    f.conclude("The second client was answered only once the first let go: tcp-echo is iterative, one client at a time.");
                }
            }
        })
        .1,
    );
    Mounted::with_state(listeners, state)
}
