//! Socket Lab in the browser: the labs, written in Rust, compiled to wasm.
//!
//! The page's JavaScript is only a loader (`web/socket-lab.js`): it defines the
//! `<socket-lab>` element and calls [`mount`] with it. Everything a lab does —
//! framing bytes, computing HMAC answers, drawing — happens here, with the very
//! `protocol` code the native server runs.
//!
//! The pure helpers ([`encode_frame`], [`decode_frames`], [`hmac_response`]) are
//! exported too, for pages that want the protocol without a lab.

use wasm_bindgen::prelude::*;

mod access;
mod dom;
pub mod labs;
pub mod net;
pub mod sequence;
pub mod timeline;

/// Installs the panic hook, so a Rust panic shows up in the console with its message.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A mounted lab. Dropping it (JS: `.free()`) removes its event listeners.
#[wasm_bindgen]
pub struct LabHandle {
    _lab: labs::Mounted,
}

/// Mounts the lab named by the element's `lab` attribute inside `element`.
///
/// `base` is the URL of the Socket Lab server that served the loader; the
/// element's `server` attribute overrides it.
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, base: &str) -> Result<LabHandle, JsError> {
    let lab = element.get_attribute("lab").unwrap_or_default();
    let server = element
        .get_attribute("server")
        .unwrap_or_else(|| base.to_owned());
    let mounted = labs::mount(&element, &lab, &server).map_err(|e| JsError::new(&e))?;
    Ok(LabHandle { _lab: mounted })
}

/// Frames JSON text exactly as typed: 4-byte big-endian length + UTF-8 bytes.
/// Errors if the text is not JSON.
#[wasm_bindgen]
pub fn encode_frame(json_text: &str) -> Result<Vec<u8>, JsError> {
    labs::framing::frame_json_text(json_text).map_err(|e| JsError::new(&e))
}

/// Decodes a byte stream of frames into their payloads as strings.
#[wasm_bindgen]
pub fn decode_frames(bytes: &[u8]) -> Result<Vec<String>, JsError> {
    let mut decoder = protocol::FrameDecoder::default();
    decoder.feed(bytes);
    let mut out = Vec::new();
    while let Some(payload) = decoder.decode().map_err(|e| JsError::new(&e.to_string()))? {
        out.push(String::from_utf8_lossy(&payload).into_owned());
    }
    decoder.finish().map_err(|e| JsError::new(&e.to_string()))?;
    Ok(out)
}

/// HMAC-SHA256(secret, challenge): the answer the `auth` demo expects.
#[wasm_bindgen]
pub fn hmac_response(secret: &[u8], challenge: &[u8]) -> Vec<u8> {
    protocol::auth::respond(secret, challenge).to_vec()
}
