//! The framing lab: type JSON, see the exact frame bytes (header highlighted),
//! send them whole or byte by byte, watch the server decode them; send the
//! same text unframed to see why framing exists; send an oversize header to
//! see the limit.
//!
//! The bytes come from `protocol::frame`, the same code the `framed` demo
//! server uses, so what the page shows is what goes on the wire.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::ClientMsg;
use protocol::demo::{FramedServer, FramedStep};
use protocol::events::EventKind;
use protocol::frame::{self, DEFAULT_MAX_FRAME, FrameDecoder, HEADER_LEN};
use protocol::hex::to_spaced_hex;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlTextAreaElement};

use super::{Frame, Mounted, button};
use crate::dom::{Listener, add, attr, el};
use crate::net::{Bridge, SockEvent};
use crate::timeline::Side;

/// Most payload bytes drawn as hex.
const MAX_HEX_BYTES: usize = 2048;

/// Most bytes sent one write at a time (each is its own WebSocket message).
const MAX_BYTE_BY_BYTE: usize = 4096;

/// The example the lab opens with.
const EXAMPLE: &str = r#"{"msg": "Hello"}"#;

/// Frames JSON text as typed (after checking it is JSON).
pub fn frame_json_text(text: &str) -> Result<Vec<u8>, String> {
    serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("not JSON yet: {e}"))?;
    frame::encode(text.as_bytes()).map_err(|e| e.to_string())
}

struct View {
    hex: Element,
    explain: Element,
    decoded: Element,
    error: Element,
}

impl View {
    fn render(&self, text: &str) {
        match frame_json_text(text) {
            Ok(bytes) => {
                self.error.set_text_content(None);
                let header = to_spaced_hex(&bytes[..HEADER_LEN]);
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
                add(&self.hex, el("span", "sl-hdr", &header));
                if !payload.is_empty() {
                    add(&self.hex, el("span", "", " "));
                    add(&self.hex, el("span", "sl-payload", &payload));
                }
                self.explain.set_text_content(Some(&format!(
                    "{} bytes in all: a 4-byte header ({header} = {} in big-endian) and {} bytes of UTF-8 payload.",
                    bytes.len(),
                    bytes.len() - HEADER_LEN,
                    bytes.len() - HEADER_LEN
                )));
                let mut decoder = FrameDecoder::default();
                decoder.feed(&bytes);
                let back = match decoder.decode() {
                    Ok(Some(p)) => {
                        let cut = &p[..p.len().min(MAX_HEX_BYTES)];
                        format!("decoded back: {}", String::from_utf8_lossy(cut))
                    }
                    Ok(None) => "incomplete frame".to_owned(),
                    Err(e) => e.to_string(),
                };
                self.decoded.set_text_content(Some(&back));
            }
            Err(message) => {
                self.error.set_text_content(Some(&message));
            }
        }
    }
}

/// How to send.
#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Whole,
    ByteByByte,
    Unframed,
    Oversize,
}

fn bytes_for(how: How, text: &str) -> Result<Vec<Vec<u8>>, String> {
    Ok(match how {
        How::Whole => vec![frame_json_text(text)?],
        How::ByteByByte => {
            let frame = frame_json_text(text)?;
            if frame.len() > MAX_BYTE_BY_BYTE {
                return Err(format!(
                    "byte by byte is for small frames (at most {MAX_BYTE_BY_BYTE} bytes); this one is {}: send it whole",
                    frame.len()
                ));
            }
            frame.into_iter().map(|b| vec![b]).collect()
        }
        How::Unframed => vec![text.as_bytes().to_vec()],
        How::Oversize => {
            let mut b = 0xffff_ffffu32.to_be_bytes().to_vec();
            b.extend_from_slice(text.as_bytes());
            vec![b]
        }
    })
}

/// Runs the framed demo's own state machine (`protocol::demo::FramedServer`)
/// in the page: the same code the real server runs.
fn simulate(frame: &Frame, how: How, chunks: &[Vec<u8>]) {
    let mut server = FramedServer::new(DEFAULT_MAX_FRAME);
    for c in chunks {
        server.feed(c);
        while let Some(step) = server.next_step() {
            match step {
                FramedStep::Decoded { len, json, reply } => {
                    let row = frame.timeline.row(
                        Side::Server,
                        &format!("server: frame of {len} bytes decoded: {json}"),
                        None,
                    );
                    attr(&row, "data-event", "frame-decoded");
                    frame
                        .timeline
                        .row(Side::Read, "reply frame (simulated)", Some(&reply));
                }
                FramedStep::Rejected { error, reply } => {
                    let row = frame.timeline.row(
                        Side::Server,
                        &format!("server: frame refused: {error}"),
                        None,
                    );
                    attr(&row, "data-event", "frame-rejected");
                    frame
                        .timeline
                        .row(Side::Read, "error frame (simulated)", Some(&reply));
                }
                FramedStep::Fatal { error, reply } => {
                    let row = frame.timeline.row(
                        Side::Server,
                        &format!("server: frame refused: {error}; it answers with an error frame and closes"),
                        None,
                    );
                    attr(&row, "data-event", "frame-rejected");
                    frame
                        .timeline
                        .row(Side::Read, "error frame (simulated)", Some(&reply));
                    return;
                }
            }
        }
    }
    if how == How::Unframed {
        frame.timeline.row(
            Side::Note,
            "The server read the first 4 bytes of your text as a length and is still waiting for that many bytes.",
            None,
        );
    }
}

fn send_live(frame: &Frame, how: How, chunks: Vec<Vec<u8>>) {
    let port = Rc::new(RefCell::new(None::<String>));
    let (tl, p) = (frame.timeline.clone(), port.clone());
    let bridge = frame.bridge.clone();
    let sub = Rc::new(RefCell::new(None::<u32>));
    let sub2 = sub.clone();
    let id = frame.bridge.subscribe(move |ev| {
        let Some(port) = p.borrow().clone() else {
            return;
        };
        if ev.demo != Demo::Framed || !ev.peer.ends_with(&format!(":{port}")) {
            return;
        }
        match &ev.kind {
            EventKind::Read { data, .. } => {
                tl.row(Side::Server, "server read", Some(&data.0));
            }
            EventKind::FrameDecoded { len, json } => {
                let row = tl.row(
                    Side::Server,
                    &format!("server: frame of {len} bytes decoded: {json}"),
                    None,
                );
                attr(&row, "data-event", "frame-decoded");
            }
            EventKind::FrameRejected { message, .. } => {
                let row = tl.row(
                    Side::Server,
                    &format!("server: frame refused: {message}"),
                    None,
                );
                attr(&row, "data-event", "frame-rejected");
            }
            EventKind::Closed { .. } => {
                if let Some(id) = sub2.borrow_mut().take() {
                    bridge.unsubscribe(id);
                }
            }
            _ => {}
        }
    });
    *sub.borrow_mut() = Some(id);
    let (tl, p) = (frame.timeline.clone(), port.clone());
    let sock = frame.bridge.open(
        |sock| ClientMsg::Open {
            sock,
            demo: Some(Demo::Framed),
            target: None,
            nodelay: true,
            sticky: None,
            ack: false,
        },
        move |ev| match ev {
            SockEvent::Opened { local, .. } => {
                *p.borrow_mut() = local.rsplit(':').next().map(str::to_owned);
            }
            SockEvent::Read { data, .. } => {
                tl.row(Side::Read, "reply bytes", Some(&data));
            }
            SockEvent::Closed { reason, .. } => {
                tl.row(Side::Note, &format!("closed: {reason}"), None);
            }
            SockEvent::Error { message } => {
                tl.row(Side::Error, &message, None);
            }
            SockEvent::Sent { .. } => {}
        },
    );
    for c in &chunks {
        frame.bridge.send(sock, c);
    }
    if how == How::Unframed {
        frame.timeline.row(
            Side::Note,
            "The server reads the first 4 bytes of your text as a length and waits for that many bytes; closing now shows it never got a whole frame.",
            None,
        );
        frame.bridge.shutdown(sock);
    }
}

/// Builds the lab inside `root`.
pub fn mount(root: &HtmlElement, bridge: Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Framing",
        "Type JSON. The frame is what a length-prefixed sender puts on the wire: a 4-byte big-endian length, then the UTF-8 bytes. \
         Send it to the framed demo whole or one byte at a time; the server decodes the same frame either way.",
        bridge,
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
    let decoded = add(&frame.controls, el("p", "sl-decoded", ""));
    attr(&decoded, "data-role", "decoded");
    let error = add(&frame.controls, el("p", "sl-error", ""));
    attr(&error, "role", "status");

    let view = View {
        hex,
        explain,
        decoded,
        error,
    };
    view.render(EXAMPLE);
    let source = input.clone();
    let mut listeners = vec![Listener::new(&input, "input", move |_| {
        view.render(&source.value())
    })];

    let buttons = add(&frame.controls, el("div", "sl-buttons", ""));
    for (text, role, how) in [
        ("Send framed", "send-whole", How::Whole),
        ("Send byte by byte", "send-bytes", How::ByteByByte),
        ("Send unframed", "send-unframed", How::Unframed),
        ("Send an oversize header", "send-oversize", How::Oversize),
    ] {
        let (f, src) = (frame.clone(), input.clone());
        listeners.push(
            button(&buttons, text, role, move |_| {
                let chunks = match bytes_for(how, &src.value()) {
                    Ok(c) => c,
                    Err(e) => {
                        f.timeline.row(Side::Error, &e, None);
                        return;
                    }
                };
                f.timeline.clear();
                let total: Vec<u8> = chunks.concat();
                let label = if how == How::ByteByByte {
                    format!("{} writes of 1 byte", chunks.len())
                } else {
                    "one write".to_owned()
                };
                f.timeline.row(Side::Send, &label, Some(&total));
                if f.live() {
                    send_live(&f, how, chunks);
                } else {
                    simulate(&f, how, &chunks);
                }
            })
            .1,
        );
    }
    Mounted::new(listeners)
}
