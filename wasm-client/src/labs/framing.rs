//! The framing lab: type JSON, see the exact frame bytes (header decoded),
//! send them on one connection to the `framed` demo — whole, byte by byte,
//! two frames in one write, as invalid JSON or invalid UTF-8, unframed, or
//! with a header the learner types in hex — and watch what the server made
//! of each frame and what it answered.
//!
//! One code path: the lab keeps one bridge socket open between sends (so an
//! error frame that leaves the connection open can be seen to do so), and
//! draws only what comes back: the reply frames its own socket reads, decoded
//! with `protocol::frame`, and the server's events for that socket.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, SocketId};
use protocol::events::{Closer, EventKind, ServerEvent};
use protocol::frame::{self, DEFAULT_MAX_FRAME, FrameDecoder, HEADER_LEN};
use protocol::hex::{from_hex, to_ascii_column, to_spaced_hex};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlInputElement, HtmlTextAreaElement};

use super::{Frame, HasFrame, Later, Mounted, text_input};
use crate::dom::{Listener, add, attr, el};
use crate::net::{Bridge, SockEvent};
use crate::timeline::Side;

/// Most payload bytes drawn as hex in the preview.
const MAX_HEX_BYTES: usize = 2048;

/// Most bytes sent one write at a time (each is its own WebSocket message).
const MAX_BYTE_BY_BYTE: usize = 4096;

/// The example the lab opens with.
const EXAMPLE: &str = r#"{"msg": "Hello"}"#;

/// A payload that is UTF-8 but not JSON (the closing brace is missing).
const INVALID_JSON: &[u8] = br#"{"msg": "Hello""#;

/// A payload that is not UTF-8 at all (0xff never starts a UTF-8 character).
const INVALID_UTF8: &[u8] = b"{\"msg\": \"\xff\xfe\"}";

/// Frames JSON text as typed (after checking it is JSON).
pub fn frame_json_text(text: &str) -> Result<Vec<u8>, String> {
    serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("not JSON yet: {e}"))?;
    frame::encode(text.as_bytes()).map_err(|e| e.to_string())
}

/// `2,065,853,811`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the framed server will make of `header` followed by `payload_len`
/// bytes, arriving at a frame boundary: the decoding rules applied by hand,
/// so the learner can predict what the server's events then confirm.
pub fn header_note(header: [u8; 4], payload_len: usize, limit: usize) -> String {
    let claimed = u32::from_be_bytes(header) as usize;
    let bytes = format!(
        "{} (\"{}\")",
        to_spaced_hex(&header),
        to_ascii_column(&header)
    );
    if claimed > limit {
        format!(
            "The server reads the first 4 bytes, {bytes}, as a length: {} bytes, more than its limit \
             ({} bytes by default), so it answers with an error frame and closes the connection at \
             once, without reading or allocating the claimed bytes.",
            grouped(claimed as u64),
            grouped(limit as u64)
        )
    } else if claimed == payload_len {
        format!(
            "The header {bytes} claims {} bytes and exactly that many follow: one whole frame.",
            grouped(claimed as u64)
        )
    } else if claimed < payload_len {
        format!(
            "The header {bytes} claims {} bytes but {} follow: the server takes the first {} as \
             this frame's payload and reads the other {} as the start of the next frame.",
            grouped(claimed as u64),
            grouped(payload_len as u64),
            grouped(claimed as u64),
            grouped((payload_len - claimed) as u64)
        )
    } else {
        format!(
            "The header {bytes} claims {} bytes but only {} follow: the server waits for {} more. \
             Click Close the connection to end the wait; the server then reports the frame \
             incomplete.",
            grouped(claimed as u64),
            grouped(payload_len as u64),
            grouped((claimed - payload_len) as u64)
        )
    }
}

/// The note for bytes sent without a frame: their first 4 bytes are read as
/// a header all the same.
pub fn unframed_note(bytes: &[u8], limit: usize) -> String {
    match bytes.get(..HEADER_LEN) {
        Some(h) => header_note(
            h.try_into().expect("4 bytes"),
            bytes.len() - HEADER_LEN,
            limit,
        ),
        None => format!(
            "Only {} bytes: the server waits for the rest of the 4-byte header. Click Close the \
             connection to end the wait.",
            bytes.len()
        ),
    }
}

/// The preview of what a send puts on the wire.
struct Preview {
    hex: Element,
    explain: Element,
    json: Element,
    header: HtmlInputElement,
}

impl Preview {
    fn render(&self, text: &str) {
        let Ok(bytes) = frame::encode(text.as_bytes()) else {
            self.explain
                .set_text_content(Some("Too long to frame: a frame carries at most 4 GiB."));
            return;
        };
        let header = &bytes[..HEADER_LEN];
        // Drawing megabytes of hex would freeze the page: show the start.
        let shown = &bytes[HEADER_LEN..bytes.len().min(HEADER_LEN + MAX_HEX_BYTES)];
        let mut payload = to_spaced_hex(shown);
        if bytes.len() - HEADER_LEN > shown.len() {
            payload.push_str(&format!(
                " … ({} more bytes)",
                bytes.len() - HEADER_LEN - shown.len()
            ));
        }
        self.hex.set_inner_html("");
        let h = add(&self.hex, el("span", "sl-hdr", &to_spaced_hex(header)));
        attr(&h, "data-role", "preview-header");
        if !payload.is_empty() {
            add(&self.hex, el("span", "", " "));
            add(&self.hex, el("span", "sl-payload", &payload));
        }
        self.explain.set_text_content(Some(&format!(
            "{} bytes in all: a 4-byte header ({}, in big-endian) and {} bytes of UTF-8 payload.",
            bytes.len(),
            crate::timeline::frame_header_label(header).trim_start_matches("header "),
            bytes.len() - HEADER_LEN
        )));
        self.json.set_text_content(Some(
            &match serde_json::from_str::<serde_json::Value>(text) {
                Ok(_) => "The payload is JSON.".to_owned(),
                Err(e) => format!(
                    "The payload is not JSON ({e}). Send framed sends it anyway: the server answers \
                     with an error frame and keeps the connection open."
                ),
            },
        ));
        self.header.set_value(&to_spaced_hex(header));
    }
}

/// The lab's one connection to the demo.
struct Conn {
    sock: SocketId,
    /// Decodes the reply frames the page reads.
    replies: FrameDecoder,
    open: bool,
    decoded: usize,
    refused: usize,
}

struct Lab {
    frame: Frame,
    status: Element,
    close: Element,
    conn: RefCell<Option<Conn>>,
}

super::has_frame!(Lab);

impl Lab {
    fn open_sock(&self) -> Option<SocketId> {
        let conn = self.conn.borrow();
        conn.as_ref().filter(|c| c.open).map(|c| c.sock)
    }

    fn refresh(&self) {
        self.frame.refresh_sockets();
        super::set_enabled(&self.close, self.open_sock().is_some());
    }

    fn set_status(&self, state: &str, text: &str) {
        self.status.set_text_content(Some(text));
        attr(&self.status, "data-state", state);
    }

    fn set_verdict(&self, key: &str, text: &str) {
        let (decoded, refused) = self
            .conn
            .borrow()
            .as_ref()
            .map_or((0, 0), |c| (c.decoded, c.refused));
        self.frame.conclude(text);
        attr(&self.frame.verdict, "data-verdict", key);
        attr(&self.frame.verdict, "data-decoded", &decoded.to_string());
        attr(&self.frame.verdict, "data-refused", &refused.to_string());
    }

    /// The open connection, or a new one.
    fn connection(self: &Rc<Self>) -> SocketId {
        if let Some(sock) = self.open_sock() {
            return sock;
        }
        self.frame.timeline.clear();
        self.frame.conclude("");
        let _ = self.frame.verdict.remove_attribute("data-verdict");
        let lab = self.clone();
        let sock = self.bridge().open(
            |sock| {
                *self.conn.borrow_mut() = Some(Conn {
                    sock,
                    replies: FrameDecoder::default(),
                    open: true,
                    decoded: 0,
                    refused: 0,
                });
                ClientMsg::open(sock, Demo::Framed)
            },
            move |id, ev| lab.on_sock(id, ev),
        );
        self.set_status("opening", "Connecting to the framed demo…");
        sock
    }

    /// Sends `writes` (each one write) on the connection.
    fn send(self: &Rc<Self>, label: &str, writes: Vec<Vec<u8>>, note: Option<String>) {
        let sock = self.connection();
        let all: Vec<u8> = writes.concat();
        let row = self.frame.timeline.row(Side::Send, label, Some(&all));
        attr(&row, "data-event", "send");
        for w in &writes {
            self.bridge().send(sock, w);
        }
        if let Some(note) = note {
            let row = self.frame.timeline.row(Side::Note, &note, None);
            attr(&row, "data-event", "note");
        }
        self.set_verdict("pending", "Waiting for the server…");
        self.refresh();
    }

    fn is_current(&self, sock: SocketId) -> bool {
        self.conn.borrow().as_ref().is_some_and(|c| c.sock == sock)
    }

    fn on_sock(&self, sock: SocketId, ev: SockEvent) {
        if !self.is_current(sock) {
            return;
        }
        let tl = &self.frame.timeline;
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                tl.segment(None, &seg, held);
            }
            SockEvent::Opened { local, .. } => self.set_status(
                "open",
                &format!(
                    "Connected from {local}. The connection stays open between sends; \
                     Close the connection ends it."
                ),
            ),
            SockEvent::Read { data, .. } => {
                let frames = {
                    let mut conn = self.conn.borrow_mut();
                    let conn = conn.as_mut().expect("checked above");
                    conn.replies.feed(&data);
                    let mut out = Vec::new();
                    while let Ok(Some(payload)) = conn.replies.decode() {
                        out.push(payload);
                    }
                    out
                };
                for payload in frames {
                    let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
                    bytes.extend_from_slice(&payload);
                    let json = serde_json::from_slice::<serde_json::Value>(&payload).ok();
                    let is_error = json.as_ref().is_some_and(|j| j.get("error").is_some());
                    let label = if is_error {
                        "the page read an error frame"
                    } else {
                        "the page read a reply frame"
                    };
                    let row = tl.frame_row(Side::Read, label, &bytes);
                    attr(
                        &row,
                        "data-event",
                        if is_error {
                            "error-frame"
                        } else {
                            "reply-frame"
                        },
                    );
                }
            }
            SockEvent::Closed { reason, .. } => {
                if let Some(c) = self.conn.borrow_mut().as_mut() {
                    c.open = false;
                }
                self.set_status(
                    "closed",
                    &format!("Closed: {reason}. The next send opens a new connection."),
                );
            }
            SockEvent::Error { message } => {
                tl.row(
                    Side::Error,
                    &format!("{message}. Click a send button to try again."),
                    None,
                );
                self.bridge().close(sock);
                if let Some(c) = self.conn.borrow_mut().as_mut() {
                    c.open = false;
                }
                self.set_status("closed", "No connection: the next send opens one.");
                self.set_verdict("error", "The send failed (above).");
            }
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        self.refresh();
    }

    fn on_event(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        if ev.demo != Demo::Framed || !sock.is_some_and(|s| self.is_current(s)) {
            return;
        }
        let tl = &self.frame.timeline;
        match &ev.kind {
            EventKind::Read { size, data } => {
                let row = tl.row(
                    Side::Server,
                    &format!("server read {size} B"),
                    Some(&data.0),
                );
                attr(&row, "data-event", "server-read");
            }
            EventKind::FrameDecoded { len, json } => {
                let n = self.bump(true);
                let row = tl.row(
                    Side::Server,
                    &format!("server decoded frame {n}: {len} bytes of JSON, {json}"),
                    None,
                );
                attr(&row, "data-event", "frame-decoded");
                let refused = self.conn.borrow().as_ref().map_or(0, |c| c.refused);
                let survived = match refused {
                    0 => String::new(),
                    1 => {
                        " It is the same connection that carried the refused frame above: an error \
                          frame did not end it."
                            .to_owned()
                    }
                    r => format!(
                        " It is the same connection that carried the {r} refused frames above: error \
                         frames did not end it."
                    ),
                };
                self.set_verdict(
                    "decoded",
                    &format!(
                        "Decoded: the header said {len} bytes, the server read exactly that many, parsed \
                         the JSON and answered with a reply frame ({n} on this connection so far). \
                         The connection stays open for the next frame.{survived}"
                    ),
                );
            }
            EventKind::FrameRejected { code, message } => {
                self.bump(false);
                let row = tl.row(
                    Side::Server,
                    &format!("server refused a frame ({code}): {message}"),
                    None,
                );
                attr(&row, "data-event", "frame-rejected");
                attr(&row, "data-code", code);
                match code.as_str() {
                    "invalid_json" | "invalid_utf8" => self.set_verdict(
                        "refused-open",
                        &format!(
                            "Refused ({code}), and the connection stays open: the header was fine, so \
                             the server knew where this frame ended and where the next one starts. It \
                             answered with an error frame; send another frame on the same connection."
                        ),
                    ),
                    "too_large" => self.set_verdict(
                        "refused-closed",
                        &format!(
                            "Refused ({code}): a length it cannot accept means the server no longer knows \
                             where any frame starts, so it answered with an error frame and closed the \
                             connection at once. {message}"
                        ),
                    ),
                    _ => self.set_verdict(
                        "incomplete",
                        &format!("The connection ended in the middle of a frame ({code}): {message}"),
                    ),
                }
            }
            EventKind::Timeout {
                waiting_for,
                after_ms,
            } => {
                tl.row(
                    Side::Server,
                    &format!("server timed out after {after_ms} ms waiting for {waiting_for}"),
                    None,
                );
            }
            EventKind::Closed { by, reason } => {
                let row = tl.row(Side::Server, &format!("server: closed, {reason}"), None);
                attr(&row, "data-event", "server-closed");
                let who = match by {
                    Closer::Client => "client",
                    Closer::Server => "server",
                };
                attr(&row, "data-by", who);
            }
            _ => {}
        }
        self.refresh();
    }

    fn bump(&self, decoded: bool) -> usize {
        let mut conn = self.conn.borrow_mut();
        let Some(c) = conn.as_mut() else {
            return 0;
        };
        if decoded {
            c.decoded += 1;
            c.decoded
        } else {
            c.refused += 1;
            c.refused
        }
    }

    fn close_now(&self) {
        if let Some(sock) = self.open_sock() {
            self.bridge().close(sock);
            if let Some(c) = self.conn.borrow_mut().as_mut() {
                c.open = false;
            }
            self.frame
                .timeline
                .row(Side::Note, "you closed the connection", None);
            self.set_status(
                "closed",
                "Closed by you. The next send opens a new connection.",
            );
        }
        self.refresh();
    }
}

/// How to send.
#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Whole,
    ByteByByte,
    TwoInOne,
    InvalidJson,
    InvalidUtf8,
    Unframed,
    Header,
}

/// One send: its timeline label, its writes, and a note on what the server
/// will make of it.
type Plan = (String, Vec<Vec<u8>>, Option<String>);

/// The writes, the timeline label and the note for one send.
fn plan(how: How, text: &str, header: &str) -> Result<Plan, String> {
    let framed = |payload: &[u8]| frame::encode(payload).map_err(|e| e.to_string());
    Ok(match how {
        How::Whole => (
            "one frame, one write".into(),
            vec![framed(text.as_bytes())?],
            None,
        ),
        How::ByteByByte => {
            let frame = framed(text.as_bytes())?;
            if frame.len() > MAX_BYTE_BY_BYTE {
                return Err(format!(
                    "Byte by byte is for small frames (at most {MAX_BYTE_BY_BYTE} bytes); this one is {}: \
                     click Send framed instead.",
                    frame.len()
                ));
            }
            (
                format!("one frame in {} writes of 1 byte", frame.len()),
                frame.into_iter().map(|b| vec![b]).collect(),
                None,
            )
        }
        How::TwoInOne => {
            let one = framed(text.as_bytes())?;
            (
                "two frames in one write".into(),
                vec![[one.clone(), one].concat()],
                Some(
                    "Both frames go in one write, so they may arrive in one read: the first header \
                     tells the server where the first frame ends and the second begins."
                        .into(),
                ),
            )
        }
        How::InvalidJson => (
            "a frame whose payload is not JSON".into(),
            vec![framed(INVALID_JSON)?],
            None,
        ),
        How::InvalidUtf8 => (
            "a frame whose payload is not UTF-8".into(),
            vec![framed(INVALID_UTF8)?],
            None,
        ),
        How::Unframed => (
            "the text with no header".into(),
            vec![text.as_bytes().to_vec()],
            Some(unframed_note(text.as_bytes(), DEFAULT_MAX_FRAME)),
        ),
        How::Header => {
            let bytes = from_hex(header).map_err(|e| {
                format!("The header must be 4 bytes in hex, like 00 00 00 10 or ff ff ff ff: {e}.")
            })?;
            let header: [u8; 4] = bytes.as_slice().try_into().map_err(|_| {
                format!(
                    "The header must be exactly 4 bytes in hex, like 00 00 00 10 or ff ff ff ff; {} were typed.",
                    bytes.len()
                )
            })?;
            let mut write = header.to_vec();
            write.extend_from_slice(text.as_bytes());
            (
                format!("your header {}, then the text", to_spaced_hex(&header)),
                vec![write],
                Some(header_note(header, text.len(), DEFAULT_MAX_FRAME)),
            )
        }
    })
}

/// Builds the lab inside `root`.
pub fn mount(root: &HtmlElement, bridge: Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Framing",
        "Type JSON. The frame is what a length-prefixed sender puts on the wire: a 4-byte big-endian length, \
         then the UTF-8 bytes. Send it to the framed demo, whole or one byte at a time, two in one write, \
         broken, or with a header you type yourself; the connection stays open between sends.",
        bridge.clone(),
    );
    let label = add(&frame.controls, el("label", "sl-label", "JSON to send"));
    let input = add(&label, el("textarea", "sl-input", ""));
    attr(&input, "data-role", "json-input");
    attr(&input, "rows", "3");
    attr(&input, "spellcheck", "false");
    let input: HtmlTextAreaElement = input.unchecked_into();
    input.set_value(EXAMPLE);

    add(
        &frame.controls,
        el("div", "sl-label", "Frame bytes (header highlighted)"),
    );
    let hex = add(&frame.controls, el("code", "sl-hex", ""));
    attr(&hex, "data-role", "frame-hex");
    let explain = add(&frame.controls, el("p", "sl-explain", ""));
    attr(&explain, "data-role", "frame-explain");
    let json = add(&frame.controls, el("p", "sl-explain", ""));
    attr(&json, "data-role", "json-check");
    let header = text_input(
        &frame.controls,
        "Header (4 bytes in hex; edit it, then click Send with this header)",
        "header-hex",
        "",
    );
    let preview = Preview {
        hex,
        explain,
        json,
        header: header.clone(),
    };
    preview.render(EXAMPLE);
    let source = input.clone();
    let mut listeners = vec![Listener::new(&input, "input", move |_| {
        preview.render(&source.value())
    })];

    let buttons = add(&frame.controls, el("div", "sl-buttons", ""));
    let status = add(
        &frame.controls,
        el(
            "p",
            "sl-explain",
            "No connection yet: the first send opens one.",
        ),
    );
    attr(&status, "data-role", "conn-status");
    attr(&status, "data-state", "none");
    let cell = Later::<Lab>::default();
    for (text, role, how) in [
        ("Send framed", "send-whole", How::Whole),
        ("Send byte by byte", "send-bytes", How::ByteByByte),
        ("Send two frames in one write", "send-two", How::TwoInOne),
        ("Send invalid JSON", "send-invalid-json", How::InvalidJson),
        ("Send invalid UTF-8", "send-invalid-utf8", How::InvalidUtf8),
        ("Send unframed", "send-unframed", How::Unframed),
        ("Send with this header", "send-header", How::Header),
    ] {
        let (src, hdr) = (input.clone(), header.clone());
        listeners.push(
            cell.button(&buttons, text, role, move |lab| {
                match plan(how, &src.value(), &hdr.value()) {
                    Ok((label, writes, note)) => lab.send(&label, writes, note),
                    Err(e) => {
                        lab.frame.timeline.row(Side::Error, &e, None);
                    }
                }
            })
            .1,
        );
    }
    let (close, close_listener) = cell.button(&buttons, "Close the connection", "close", |lab| {
        lab.close_now()
    });
    listeners.push(close_listener);
    let lab = Rc::new(Lab {
        frame,
        status,
        close,
        conn: RefCell::new(None),
    });
    lab.refresh();
    // Every connection to the demo, this page's and other programs'.
    let view = lab.frame.server_view(&[Demo::Framed]);
    cell.mount(&lab, listeners, view, Lab::on_event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(2_065_853_811), "2,065,853,811");
        assert_eq!(grouped(16), "16");
        assert_eq!(grouped(1_048_576), "1,048,576");
    }

    #[test]
    fn unframed_json_is_refused_at_once() {
        // {"ms = 7b 22 6d 73 = 2,065,853,811 > 1 MiB.
        let note = unframed_note(br#"{"msg": "Hello"}"#, DEFAULT_MAX_FRAME);
        assert!(note.contains("7b 22 6d 73"), "{note}");
        assert!(note.contains("2,065,853,811"), "{note}");
        assert!(note.contains("closes the connection at once"), "{note}");
        assert!(unframed_note(b"ab", DEFAULT_MAX_FRAME).contains("waits"));
    }

    #[test]
    fn header_notes_follow_the_decoding_rules() {
        assert!(header_note([0, 0, 0, 16], 16, DEFAULT_MAX_FRAME).contains("one whole frame"));
        assert!(header_note([0, 0, 0, 20], 16, DEFAULT_MAX_FRAME).contains("waits for 4 more"));
        assert!(header_note([0, 0, 0, 10], 16, DEFAULT_MAX_FRAME).contains("next frame"));
        assert!(header_note([0xff; 4], 16, DEFAULT_MAX_FRAME).contains("4,294,967,295"));
    }

    #[test]
    fn plans_put_the_right_bytes_on_the_wire() {
        let (_, w, _) = plan(How::TwoInOne, EXAMPLE, "").unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].len(), 2 * (4 + EXAMPLE.len()));
        let (_, w, _) = plan(How::Header, "{}", "ff ff ff ff").unwrap();
        assert_eq!(w[0], [0xff, 0xff, 0xff, 0xff, b'{', b'}']);
        assert!(plan(How::Header, "{}", "00 00 10").is_err());
        assert!(String::from_utf8(INVALID_UTF8.to_vec()).is_err());
        assert!(serde_json::from_slice::<serde_json::Value>(INVALID_JSON).is_err());
    }
}
