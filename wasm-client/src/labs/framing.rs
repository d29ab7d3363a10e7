//! The framing lab: type JSON, see the exact frame bytes, decode them back.
//!
//! The bytes come from `protocol::frame`, the same code the `framed` demo
//! server uses, so what the page shows is what goes on the wire.

use protocol::frame::{self, FrameDecoder, HEADER_LEN};
use protocol::hex::to_spaced_hex;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlTextAreaElement};

use super::Mounted;
use crate::dom::{Listener, add, attr, el};

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
                let payload = to_spaced_hex(&bytes[HEADER_LEN..]);
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
                    Ok(Some(p)) => format!("decoded back: {}", String::from_utf8_lossy(&p)),
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

/// Builds the lab inside `root`.
pub fn mount(root: &HtmlElement) -> Mounted {
    let box_ = add(root, el("div", "sl-card", ""));
    add(&box_, el("h3", "sl-title", "Framing playground"));
    add(
        &box_,
        el(
            "p",
            "sl-help",
            "Type JSON. The frame is what a length-prefixed sender puts on the wire: a 4-byte big-endian length, then the UTF-8 bytes.",
        ),
    );
    let label = add(&box_, el("label", "sl-label", "JSON to send"));
    let input = add(&label, el("textarea", "sl-input", ""));
    attr(&input, "data-role", "json-input");
    attr(&input, "rows", "3");
    attr(&input, "spellcheck", "false");
    let input: HtmlTextAreaElement = input.unchecked_into();
    input.set_value(EXAMPLE);

    add(
        &box_,
        el("div", "sl-label", "Frame bytes (header highlighted)"),
    );
    let hex = add(&box_, el("code", "sl-hex", ""));
    attr(&hex, "data-role", "frame-hex");
    let explain = add(&box_, el("p", "sl-explain", ""));
    let decoded = add(&box_, el("p", "sl-decoded", ""));
    attr(&decoded, "data-role", "decoded");
    let error = add(&box_, el("p", "sl-error", ""));
    attr(&error, "role", "status");

    let view = View {
        hex,
        explain,
        decoded,
        error,
    };
    view.render(EXAMPLE);
    let source = input.clone();
    let on_input = Listener::new(&input, "input", move |_| view.render(&source.value()));
    Mounted::new(vec![on_input])
}
