//! The TLS lab: what a TLS server makes of a client that speaks plain TCP to
//! it, and what TLS puts on the wire for the clients in the learner's
//! terminal that do speak it.
//!
//! The page has no TLS of its own (the bridge relays plain bytes), so its
//! part is the mistake every learner makes first: send text to the TLS port.
//! The demo answers, live or simulated, the same way: its reason in an event
//! and a TLS alert record on the wire. The lab names the alert's fields from
//! the bytes the page read, not from a constant. For terminal clients
//! (tls_echo_client.py, `socket-lab client tls-echo`) the server view shows
//! the handshake, the records each socket read carried and the plaintext
//! they decrypted to; the summary beside it puts the plaintext size next to
//! the record that carried it, and explains the difference only when it is
//! exactly what TLS 1.3 adds.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, ClosedBy, SocketId};
use protocol::events::{EventKind, ServerEvent};
use protocol::tls::Record;
use web_sys::{Element, HtmlElement, HtmlInputElement};

use super::{Frame, Mounted, button, text_input};
use crate::dom::{add, attr, el};
use crate::net::{Mode, SockEvent};
use crate::timeline::Side;

/// A TLS alert record read back: `(level, description)` with their names.
pub fn read_alert(data: &[u8]) -> Option<String> {
    if data.len() < 7 || data[0] != 0x15 || data[1] != 0x03 {
        return None;
    }
    let level = match data[5] {
        1 => "1 (warning)",
        2 => "2 (fatal)",
        _ => "unknown",
    };
    let desc = match data[6] {
        0 => "0 (close_notify)",
        10 => "10 (unexpected_message)",
        20 => "20 (bad_record_mac)",
        40 => "40 (handshake_failure)",
        42 => "42 (bad_certificate)",
        48 => "48 (unknown_ca)",
        50 => "50 (decode_error)",
        70 => "70 (protocol_version)",
        80 => "80 (internal_error)",
        _ => "(a description this lab does not name)",
    };
    Some(format!(
        "a TLS alert record: content type 0x15 (alert), version {}.{}, length {}, level {level}, description {desc}",
        data[1],
        data[2],
        u16::from_be_bytes([data[3], data[4]])
    ))
}

/// What one terminal client's TLS connection showed.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    peer: String,
    handshake: Option<(String, String, Option<String>)>,
    /// Application-data records read since the last plaintext read.
    records: Vec<Record>,
    /// (plaintext bytes, the records that carried them).
    reads: Vec<(Vec<u8>, usize, Vec<Record>)>,
    refused: Option<String>,
}

impl Seen {
    /// The summary sentence for this connection.
    pub fn summary(&self, conn: u64) -> String {
        let mut s = format!("Connection {conn} from {}: ", self.peer);
        if let Some(r) = &self.refused {
            s.push_str(&format!("refused ({r})."));
            return s;
        }
        let Some((version, cipher, sni)) = &self.handshake else {
            s.push_str("no handshake finished yet.");
            return s;
        };
        s.push_str(&format!(
            "{version} with {cipher}, server name {}.",
            sni.as_deref().unwrap_or("(none sent)")
        ));
        if let Some((text, size, recs)) = self.reads.first() {
            let shown = String::from_utf8_lossy(text);
            s.push_str(&format!(" The demo decrypted {size} bytes, \"{shown}\""));
            match recs.as_slice() {
                [one] => {
                    let extra = usize::from(one.len).saturating_sub(*size);
                    s.push_str(&format!(
                        ", from one {} record of {} bytes on the wire (a 5-byte header and {} encrypted): {} bytes more than the text.",
                        one.kind_name(),
                        one.wire_len(),
                        one.len,
                        extra + 5
                    ));
                    if version == "TLSv1.3" && extra == 17 {
                        s.push_str(" In TLS 1.3 the 17 inside the record are one byte of the real content type and a 16-byte authentication tag; the header outside says application_data whatever the record holds.");
                    }
                }
                [] => s.push_str(", but no record of its own was counted: it came in the same read as the end of the handshake."),
                many => s.push_str(&format!(", carried in {} records.", many.len())),
            }
        }
        s
    }
}

#[derive(Default)]
struct State {
    sock: Option<SocketId>,
    sent: Vec<u8>,
    read: Vec<u8>,
    refused: Option<String>,
    others: BTreeMap<u64, Seen>,
}

struct Lab {
    frame: Frame,
    message: HtmlInputElement,
    terminal: Element,
    state: RefCell<State>,
}

impl Lab {
    fn send_plain(self: &Rc<Self>) {
        let text = self.message.value();
        if text.is_empty() {
            self.frame
                .error("The message is empty: type something in Message first.");
            return;
        }
        if self.state.borrow().sock.is_some() {
            self.frame.error(
                "The last try is still open: wait for the server to close it, or click Close.",
            );
            return;
        }
        self.frame.timeline.clear();
        self.frame.conclude("");
        let sock = self.frame.bridge.open(
            |sock| ClientMsg::open(sock, Demo::TlsEcho),
            super::weakly(self, |lab, id, ev| lab.on_sock(id, ev)),
        );
        {
            let mut st = self.state.borrow_mut();
            st.sock = Some(sock);
            st.sent = text.clone().into_bytes();
            st.read.clear();
            st.refused = None;
        }
        self.frame.bridge.send(sock, text.as_bytes());
        self.frame
            .timeline
            .row(Side::Send, "the page sent, in clear", Some(text.as_bytes()));
        self.frame.refresh_sockets();
    }

    fn close(&self) {
        let sock = self.state.borrow_mut().sock.take();
        self.frame
            .close_or_explain(sock, "Nothing is open: click Send in clear first.");
    }

    fn on_sock(&self, sock: SocketId, ev: SockEvent) {
        if self.state.borrow().sock != Some(sock) {
            return;
        }
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                self.frame.timeline.segment(None, &seg, held);
            }
            SockEvent::Opened { local, peer } => {
                self.frame
                    .timeline
                    .row(Side::Note, &format!("connected {local} → {peer}"), None);
            }
            SockEvent::Read { data, .. } => {
                self.frame
                    .timeline
                    .hex_row(Side::Read, "the page read", &data);
                self.state.borrow_mut().read.extend_from_slice(&data);
            }
            SockEvent::Closed { by, reason } => {
                self.state.borrow_mut().sock = None;
                let who = match by {
                    ClosedBy::Peer => "closed by the server",
                    ClosedBy::Page => "closed by the page",
                    ClosedBy::Bridge => "closed by the bridge",
                };
                self.frame
                    .timeline
                    .row(Side::Note, &format!("{who} ({reason})"), None);
                if by == ClosedBy::Peer {
                    self.conclude();
                }
            }
            SockEvent::Error { message } => self.frame.error(&message),
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        self.frame.refresh_sockets();
    }

    /// The verdict on the page's try, from what it read and what the server said.
    fn conclude(&self) {
        let st = self.state.borrow();
        let first = st.sent.first().copied().unwrap_or(0);
        let mut text = format!(
            "The page sent {} bytes of plain text; the first was 0x{first:02x}, and a TLS client's first byte is 0x16, a handshake record.",
            st.sent.len()
        );
        match (&st.refused, read_alert(&st.read)) {
            (Some(_), Some(alert)) => text.push_str(&format!(
                " The server said why in its event, answered with {} bytes, {alert}, and closed. Nothing the page sent reached the echo: TLS must wrap the socket before the first byte.",
                st.read.len()
            )),
            (_, None) if st.read.is_empty() => {
                text.push_str(" The server closed without answering.")
            }
            (_, None) => text.push_str(&format!(
                " The server answered {} bytes that are not a TLS alert.",
                st.read.len()
            )),
            (None, Some(alert)) => text.push_str(&format!(" The page read {alert}.")),
        }
        drop(st);
        self.frame.conclude(&text);
    }

    fn on_server(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        if ev.demo != Demo::TlsEcho {
            return;
        }
        let mut st = self.state.borrow_mut();
        if sock.is_some() {
            if sock == st.sock
                && let EventKind::TlsRefused { reason } = &ev.kind
            {
                st.refused = Some(reason.clone());
                drop(st);
                // The server's decision, in the list and the diagram.
                self.frame.timeline.row(
                    Side::Server,
                    "server: not a TLS handshake; it sends an alert and closes",
                    None,
                );
            }
            return;
        }
        let seen = st.others.entry(ev.conn).or_insert_with(|| Seen {
            peer: ev.peer.clone(),
            ..Seen::default()
        });
        match &ev.kind {
            EventKind::TlsHandshake {
                version,
                cipher,
                sni,
            } => {
                // In TLS 1.3 the end of the handshake travels in records whose
                // header says application data too: only what follows counts.
                seen.records.clear();
                seen.handshake = Some((version.clone(), cipher.clone(), sni.clone()));
            }
            EventKind::TlsRecords {
                incoming: true,
                records,
                ..
            } => seen
                .records
                .extend(records.iter().filter(|r| r.kind == 23).copied()),
            EventKind::Read { size, data } => {
                let recs = std::mem::take(&mut seen.records);
                seen.reads.push((data.0.clone(), *size, recs));
            }
            EventKind::TlsRefused { reason } => seen.refused = Some(reason.clone()),
            _ => {}
        }
        // The latest few connections, newest first.
        if st.others.len() > 8 {
            let oldest = *st.others.keys().next().unwrap_or(&0);
            st.others.remove(&oldest);
        }
        self.terminal.set_inner_html("");
        for (conn, seen) in st.others.iter().rev() {
            let li = add(&self.terminal, el("li", "", &seen.summary(*conn)));
            attr(&li, "data-conn", &conn.to_string());
        }
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "TLS echo: plain TCP meets a TLS server",
        "The tls-echo demo speaks TLS: its replies are tcp-echo's, encrypted. This page can only send plain bytes, so \
         click Send in clear to see what a TLS server does with a client that forgot to wrap its socket. Then run \
         tls_echo_client.py (or socket-lab client tls-echo) in a terminal: its handshake, the records on the wire and \
         the plaintext they carried appear below.",
        bridge.clone(),
    );
    let message = text_input(&frame.controls, "Message", "message", "Hello, Server");
    let row = add(&frame.controls, el("div", "sl-buttons", ""));
    let view = frame.server_view(&[Demo::TlsEcho]);
    add(
        &frame.card,
        el("h4", "sl-subtitle", "TLS clients in your terminal"),
    );
    let terminal = add(&frame.card, el("ul", "sl-list", ""));
    attr(&terminal, "data-role", "tls-terminal");
    attr(&terminal, "aria-live", "polite");
    let lab = Rc::new(Lab {
        frame: frame.clone(),
        message,
        terminal: terminal.clone(),
        state: RefCell::default(),
    });
    view.on_event_for(&lab, |lab, ev, sock| lab.on_server(ev, sock));
    let empty = {
        let terminal = terminal.clone();
        bridge.on_mode(move |mode| {
            if terminal.child_element_count() == 0 || mode == Mode::Simulated {
                terminal.set_inner_html("");
                let text = if mode == Mode::Simulated {
                    "The simulation has no other programs and no TLS: start socket-lab to see real handshakes."
                } else {
                    "None yet: run tls_echo_client.py in a terminal."
                };
                add(&terminal, el("li", "sl-empty", text));
            }
        })
    };
    let mut listeners = Vec::new();
    let l = lab.clone();
    listeners.push(button(&row, "Send in clear", "send-plain", move |_| l.send_plain()).1);
    let l = lab.clone();
    listeners.push(button(&row, "Close", "close", move |_| l.close()).1);
    Mounted::with_state(listeners, Rc::new((lab, view, empty)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_is_named_from_its_bytes() {
        let a = read_alert(&protocol::tls::DECODE_ERROR_ALERT).unwrap();
        assert!(a.contains("level 2 (fatal)"), "{a}");
        assert!(a.contains("50 (decode_error)"), "{a}");
        assert_eq!(read_alert(b"ACK: hi"), None);
    }

    #[test]
    fn the_overhead_is_explained_only_when_it_is_tls_1_3s() {
        let mut seen = Seen {
            peer: "127.0.0.1:5".into(),
            handshake: Some((
                "TLSv1.3".into(),
                "TLS13_AES_256_GCM_SHA384".into(),
                Some("localhost".into()),
            )),
            ..Seen::default()
        };
        seen.reads.push((
            b"Hello, TLS".to_vec(),
            10,
            vec![Record { kind: 23, len: 27 }],
        ));
        let s = seen.summary(1);
        assert!(s.contains("32 bytes on the wire"), "{s}");
        assert!(s.contains("16-byte authentication tag"), "{s}");
        seen.reads[0].2[0].len = 40;
        assert!(!seen.summary(1).contains("authentication tag"));
    }
}
