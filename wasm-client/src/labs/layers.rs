//! The layers lab: what each layer wraps around your bytes, filled in with
//! a real connection's ports and addresses.
//!
//! A socket hides everything below the transport layer, but the numbers in
//! those headers are real: the lab opens a connection to the `uppercase`
//! demo, takes the two ends the bridge reports (the page's ephemeral port and
//! address, the demo's port and address) and shows where each lands in the
//! TCP and IPv4 headers, byte for byte. The server's own `read` event then
//! shows that its `recv` returned only the bytes the page sent.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, SocketId};
use protocol::events::{EventKind, ServerEvent};
use protocol::hex::to_spaced_hex;
use web_sys::{Element, HtmlElement, HtmlInputElement};

use super::ports::split_addr;
use super::server_view::ServerView;
use super::{Frame, Mounted, button, text_input};
use crate::dom::{add, attr, el};
use crate::net::SockEvent;
use crate::timeline::Side;

/// One layer's contribution.
pub struct Layer {
    /// Layer name.
    pub name: &'static str,
    /// What it adds, in general.
    pub what: &'static str,
    /// Bytes added in front.
    pub header: usize,
    /// Bytes added behind.
    pub trailer: usize,
}

/// The layers below the application, for TCP over IPv4 on an Ethernet link.
pub const LAYERS: [Layer; 3] = [
    Layer {
        name: "Transport: TCP (layer 4)",
        what: "ports, sequence and ACK numbers, flags, window (no options)",
        header: 20,
        trailer: 0,
    },
    Layer {
        name: "Network: IPv4 (layer 3)",
        what: "source and destination addresses, TTL, protocol 6 (TCP)",
        header: 20,
        trailer: 0,
    },
    Layer {
        name: "Link: Ethernet (layer 2)",
        what: "MAC addresses, EtherType 0x0800 (IPv4), and a 4-byte check sequence at the end; on loopback nothing reaches a wire",
        header: 14,
        trailer: 4,
    },
];

/// The two ends of a connection, as the page's socket reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ends {
    /// The page's end (`127.0.0.1:54321`).
    pub local: String,
    /// The demo's end.
    pub peer: String,
}

/// The bytes of a header that name this connection: the TCP ports (2 bytes
/// each, big-endian) and the IPv4 addresses (4 bytes each), as spaced hex.
/// `None` where an end is not an IPv4 `address:port`.
pub fn naming_bytes(ends: &Ends) -> (Option<String>, Option<String>) {
    let (la, lp) = split_addr(&ends.local);
    let (pa, pp) = split_addr(&ends.peer);
    let ports = match (lp.parse::<u16>(), pp.parse::<u16>()) {
        (Ok(l), Ok(p)) => Some(to_spaced_hex(&[l.to_be_bytes(), p.to_be_bytes()].concat())),
        _ => None,
    };
    let addrs = match (la.parse::<Ipv4Addr>(), pa.parse::<Ipv4Addr>()) {
        (Ok(l), Ok(p)) => Some(to_spaced_hex(&[l.octets(), p.octets()].concat())),
        _ => None,
    };
    (ports, addrs)
}

#[derive(Default)]
struct State {
    sock: Option<SocketId>,
    ends: Option<Ends>,
    sent: usize,
}

struct Lab {
    frame: Frame,
    view: ServerView,
    message: HtmlInputElement,
    table: Element,
    state: RefCell<State>,
}

impl Lab {
    fn render(&self) {
        let t = &self.table;
        t.set_inner_html("");
        let payload = self.message.value().into_bytes();
        let ends = self.state.borrow().ends.clone();
        let head = add(t, el("tr", "", ""));
        for h in ["layer", "adds", "this connection's numbers", "bytes so far"] {
            add(&head, el("th", "", h));
        }
        let mut total = payload.len();
        let app = add(t, el("tr", "", ""));
        add(&app, el("td", "", "Application: your bytes (layer 7)"));
        add(&app, el("td", "", "only what your program wrote"));
        add(&app, el("td", "", ""));
        add(&app, el("td", "", &total.to_string()));
        let (ports, addrs) = ends.as_ref().map_or((None, None), naming_bytes);
        for (i, layer) in LAYERS.iter().enumerate() {
            total += layer.header + layer.trailer;
            let row = add(t, el("tr", "", ""));
            attr(&row, "data-layer", &i.to_string());
            add(&row, el("td", "", layer.name));
            add(
                &row,
                el(
                    "td",
                    "",
                    &format!("{} (+{} B)", layer.what, layer.header + layer.trailer),
                ),
            );
            let cell = add(&row, el("td", "", ""));
            match (i, &ends) {
                (_, None) if i < 2 => {
                    cell.set_text_content(Some("press Send it to fill in"));
                }
                (0, Some(e)) => {
                    let (_, lp) = split_addr(&e.local);
                    let (_, pp) = split_addr(&e.peer);
                    add(
                        &cell,
                        el(
                            "span",
                            "",
                            &format!(
                                "source port {lp} (yours, ephemeral), destination port {pp} (the demo's): "
                            ),
                        ),
                    );
                    if let Some(h) = &ports {
                        add(&cell, el("code", "", h));
                    }
                }
                (1, Some(e)) => {
                    let (la, _) = split_addr(&e.local);
                    let (pa, _) = split_addr(&e.peer);
                    add(&cell, el("span", "", &format!("from {la} to {pa}: ")));
                    if let Some(h) = &addrs {
                        add(&cell, el("code", "", h));
                    }
                }
                _ => {}
            }
            add(&row, el("td", "", &total.to_string()));
        }
        let share = if total == 0 {
            0.0
        } else {
            payload.len() as f64 / total as f64 * 100.0
        };
        let row = add(t, el("tr", "", ""));
        let cell = add(
            &row,
            el(
                "td",
                "",
                &format!(
                    "On an Ethernet link, {} of these {total} bytes are yours ({share:.0}%).",
                    payload.len()
                ),
            ),
        );
        attr(&cell, "colspan", "4");
    }

    fn send(self: &Rc<Self>) {
        let text = self.message.value();
        if text.is_empty() {
            self.frame
                .error("The message is empty: type some bytes in Message first.");
            return;
        }
        if self.state.borrow().sock.is_some() {
            self.frame.error(
                "The last connection is still open: wait for the demo's reply, or click Close.",
            );
            return;
        }
        self.frame.timeline.clear();
        self.frame.conclude("");
        let sock = self.frame.bridge.open(
            |sock| ClientMsg::open(sock, Demo::Uppercase),
            super::weakly(self, move |lab, id, ev| lab.on_sock(id, ev)),
        );
        {
            let mut st = self.state.borrow_mut();
            st.sock = Some(sock);
            st.sent = text.len();
        }
        self.frame.bridge.send(sock, text.as_bytes());
        self.frame
            .timeline
            .row(Side::Send, "your bytes", Some(text.as_bytes()));
        self.frame.refresh_sockets();
    }

    fn close(&self) {
        let sock = self.state.borrow_mut().sock.take();
        self.frame.close_or_explain(
            sock,
            "No connection is open: the demo closes each one after its reply. Click Send it for a new one.",
        );
    }

    fn on_sock(&self, sock: SocketId, ev: SockEvent) {
        let mine = self.state.borrow().sock == Some(sock);
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                self.frame.timeline.segment(None, &seg, held);
            }
            SockEvent::Opened { local, peer } => {
                self.frame.timeline.row(
                    Side::Note,
                    &format!("connected: your end {local}, the demo's end {peer}"),
                    None,
                );
                if mine {
                    self.state.borrow_mut().ends = Some(Ends { local, peer });
                    self.render();
                }
            }
            SockEvent::Read { data, .. } => {
                self.frame.timeline.row(Side::Read, "reply", Some(&data));
            }
            SockEvent::Closed { reason, .. } => {
                if mine {
                    self.state.borrow_mut().sock = None;
                }
                self.frame.closed(&reason);
            }
            SockEvent::Error { message } => {
                self.frame.error(&message);
            }
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        self.frame.refresh_sockets();
    }

    fn on_server(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        let EventKind::Read { size, .. } = &ev.kind else {
            return;
        };
        let (mine, sent) = {
            let st = self.state.borrow();
            (sock.is_some() && st.sock == sock, st.sent)
        };
        if !mine {
            return;
        }
        if *size == sent {
            self.frame.conclude(&format!(
                "The server's recv returned exactly the {size} bytes you sent: every header in the table was added on the way down and taken off on the way up, so neither program ever sees them."
            ));
        } else {
            self.frame.conclude(&format!(
                "The server's recv returned {size} of your {sent} bytes: TCP delivers a stream, and one read may hold less than one send."
            ));
        }
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Layers: what wraps your bytes",
        "Your program hands the socket a few bytes; each layer below wraps them in a header of its own. \
         Send them to the uppercase demo to fill the headers in with your connection's real ports and addresses.",
        bridge,
    );
    let message = text_input(&frame.controls, "Message", "message", "Hello, Server");
    let buttons = add(&frame.controls, el("div", "sl-buttons", ""));
    let table = add(&frame.controls, el("table", "sl-layers", ""));
    attr(&table, "data-role", "layers");
    let view = frame.server_view(&[Demo::Uppercase]);
    let lab = Rc::new(Lab {
        frame,
        view,
        message: message.clone(),
        table,
        state: RefCell::default(),
    });
    lab.view
        .on_event_for(&lab, |lab, ev, sock| lab.on_server(ev, sock));
    lab.render();
    let l = lab.clone();
    let (_, send) = button(&buttons, "Send it", "send", move |_| l.send());
    let l = lab.clone();
    let (_, close) = button(&buttons, "Close", "close", move |_| l.close());
    let l = lab.clone();
    let typing = crate::dom::Listener::new(&message, "input", move |_| l.render());
    Mounted::with_state(vec![send, close, typing], lab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_addresses_land_in_their_headers() {
        let ends = Ends {
            local: "127.0.0.1:50123".into(),
            peer: "127.0.0.1:9999".into(),
        };
        let (ports, addrs) = naming_bytes(&ends);
        assert_eq!(ports.as_deref(), Some("c3 cb 27 0f"));
        assert_eq!(addrs.as_deref(), Some("7f 00 00 01 7f 00 00 01"));
        let v6 = Ends {
            local: "[::1]:1".into(),
            peer: "[::1]:2".into(),
        };
        assert_eq!(naming_bytes(&v6).1, None);
        // The chapter's figure: 13 bytes become about 70 on an Ethernet link.
        let total: usize = 13 + LAYERS.iter().map(|l| l.header + l.trailer).sum::<usize>();
        assert_eq!(total, 71);
    }
}
