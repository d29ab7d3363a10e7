//! The timeline every lab draws: sends, reads and the server's side, one row
//! each, with a box as wide as the bytes, so read boundaries are visible.

use web_sys::Element;

use crate::dom::{add, attr, el};

/// Who a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The page (the client) sent bytes.
    Send,
    /// A read on the client's socket returned bytes.
    Read,
    /// The server's own account (from its event stream).
    Server,
    /// An explanation or a state change.
    Note,
    /// Something went wrong.
    Error,
}

impl Side {
    fn kind(self) -> &'static str {
        match self {
            Side::Send => "send",
            Side::Read => "read",
            Side::Server => "server",
            Side::Note => "note",
            Side::Error => "error",
        }
    }

    fn arrow(self) -> &'static str {
        match self {
            Side::Send => "→ sent",
            Side::Read => "← read",
            Side::Server => "server",
            Side::Note => "·",
            Side::Error => "!",
        }
    }
}

/// Shows bytes as text, with unprintable bytes as `·`.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '·' } else { c })
        .collect()
}

/// A list of rows.
#[derive(Clone)]
pub struct Timeline {
    el: Element,
}

impl Timeline {
    /// Adds an empty timeline to `parent`.
    pub fn new(parent: &Element) -> Self {
        let el = add(parent, el("ol", "sl-timeline", ""));
        attr(&el, "data-role", "timeline");
        attr(&el, "aria-live", "polite");
        Self { el }
    }

    /// Removes every row.
    pub fn clear(&self) {
        self.el.set_inner_html("");
    }

    /// Adds a row; `bytes` draws a box sized by its length.
    pub fn row(&self, side: Side, label: &str, bytes: Option<&[u8]>) -> Element {
        let row = add(
            &self.el,
            el("li", &format!("sl-row sl-{}", side.kind()), ""),
        );
        attr(&row, "data-kind", side.kind());
        add(&row, el("span", "sl-what", side.arrow()));
        if let Some(bytes) = bytes {
            let shown = printable(&bytes[..bytes.len().min(120)]);
            let b = add(&row, el("span", "sl-box", &shown));
            let width = bytes.len().clamp(1, 48);
            attr(&b, "style", &format!("min-width: {width}ch"));
            attr(&b, "data-size", &bytes.len().to_string());
            add(&row, el("span", "sl-size", &format!("{} B", bytes.len())));
        }
        if !label.is_empty() {
            add(&row, el("span", "sl-label-text", label));
        }
        row
    }
}
