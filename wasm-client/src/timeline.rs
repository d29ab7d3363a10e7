//! The timeline every lab draws: sends, reads and the server's side, one row
//! each, with a box as wide as the bytes, so read boundaries are visible.
//!
//! Bytes are shown honestly: text that is printable UTF-8 stays text, and
//! anything else (a challenge, a frame header, a reply header) is shown as
//! hex with its printable ASCII beside it, never as mojibake. The choice is
//! made by [`BytesView::of`], a pure function with native tests.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use protocol::hex::{FrameHeader, Shown, shown};
use protocol::sim::Segment;
use web_sys::Element;

use crate::dom::{add, attr, el};
use crate::sequence::{CLIENT, Diagram, NETWORK, Shape, Step};

/// Most bytes a box shows as text.
const TEXT_SHOWN: usize = 120;
/// Most bytes a box shows as hex (three characters each, plus the ASCII).
const HEX_SHOWN: usize = 48;

/// Who a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The page (the client) sent bytes.
    Send,
    /// A read on the client's socket returned bytes.
    Read,
    /// The server's own account (from its event stream).
    Server,
    /// A segment on the simulation's wire.
    Segment,
    /// An explanation or a state change.
    Note,
    /// Something went wrong.
    Error,
}

impl Side {
    /// The row's kind (`send`, `read`, …), its `data-kind`.
    pub fn kind(self) -> &'static str {
        match self {
            Side::Send => "send",
            Side::Read => "read",
            Side::Server => "server",
            Side::Segment => "segment",
            Side::Note => "note",
            Side::Error => "error",
        }
    }

    fn arrow(self) -> &'static str {
        match self {
            Side::Send => "→ sent",
            Side::Read => "← read",
            Side::Server => "server",
            Side::Segment => "⇢ wire",
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

/// What a box shows for some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BytesView {
    /// Printable text, shown as itself (at most [`TEXT_SHOWN`] bytes of it).
    Text {
        /// The text shown.
        text: String,
        /// Bytes left out at the end.
        more: usize,
    },
    /// Binary, as hex with ASCII beside it (at most [`HEX_SHOWN`] bytes).
    Hex {
        /// Spaced hex: `00 00 00 10`.
        hex: String,
        /// The printable-ASCII column: `····`.
        ascii: String,
        /// Bytes left out at the end.
        more: usize,
    },
}

impl BytesView {
    /// Text when the bytes are printable UTF-8 text, hex and ASCII otherwise.
    ///
    /// The text test looks at all the bytes, so a long text cut for display
    /// stays text (a cut that falls inside a UTF-8 character is moved back).
    pub fn of(bytes: &[u8]) -> Self {
        match shown(bytes) {
            Shown::Text(text) => {
                let mut end = text.len().min(TEXT_SHOWN);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                BytesView::Text {
                    text: text[..end].to_owned(),
                    more: bytes.len() - end,
                }
            }
            Shown::Binary { .. } => Self::hex(bytes),
        }
    }

    /// Always hex and ASCII: for bytes that are binary by nature (a
    /// challenge, an HMAC), even when they happen to look like text.
    pub fn hex(bytes: &[u8]) -> Self {
        let cut = &bytes[..bytes.len().min(HEX_SHOWN)];
        BytesView::Hex {
            hex: protocol::hex::to_spaced_hex(cut),
            ascii: protocol::hex::to_ascii_column(cut),
            more: bytes.len() - cut.len(),
        }
    }

    /// The whole display as one line: `00 00 00 10 7b  ····{`, with `…` when
    /// bytes were left out.
    pub fn line(&self) -> String {
        let (mut out, more) = match self {
            BytesView::Text { text, more } => (text.clone(), *more),
            BytesView::Hex { hex, ascii, more } => (format!("{hex}  {ascii}"), *more),
        };
        if more > 0 {
            out.push_str(" …");
        }
        out
    }
}

/// A frame's header decoded, for a label: `header 00 00 00 10 = 16`; a note
/// when fewer than 4 bytes are there.
pub fn frame_header_label(bytes: &[u8]) -> String {
    match FrameHeader::parse(bytes) {
        Some(h) => format!("header {h}"),
        None => format!("incomplete header: {} of 4 bytes", bytes.len().min(4)),
    }
}

/// A list of rows, and the sequence diagram drawn from the same rows.
#[derive(Clone)]
pub struct Timeline {
    el: Element,
    figure: Element,
    draw: Element,
    caption: Element,
    save: Element,
    diagram: Rc<RefCell<Diagram>>,
    /// The words a send row and a read row start with.
    words: Rc<Cell<[&'static str; 2]>>,
}

impl Timeline {
    /// Adds an empty timeline to `parent`, with its diagram above it.
    pub fn new(parent: &Element) -> Self {
        let figure = add(parent, el("figure", "sl-seq", ""));
        attr(&figure, "hidden", "");
        let draw = add(&figure, el("div", "sl-seq-draw", ""));
        attr(&draw, "data-role", "sequence");
        let figcaption = add(&figure, el("figcaption", "sl-seq-caption", ""));
        let caption = add(
            &figcaption,
            el(
                "span",
                "",
                "The same steps as the list below, time going down: the page's side on the left, the server's on the right. Focus or hover a step for its details. ",
            ),
        );
        let save = add(
            &figcaption,
            el("a", "sl-seq-save", "Save the diagram (SVG)"),
        );
        attr(&save, "data-role", "save-svg");
        attr(&save, "download", "socket-lab-sequence.svg");
        let el = add(parent, el("ol", "sl-timeline", ""));
        attr(&el, "data-role", "timeline");
        attr(&el, "aria-live", "polite");
        // It scrolls once long: focusable, so the keyboard can scroll it too.
        attr(&el, "tabindex", "0");
        attr(&el, "aria-label", "What happened, in order");
        Self {
            el,
            figure,
            draw,
            caption,
            save,
            diagram: Rc::default(),
            words: Rc::new(Cell::new([Side::Send.arrow(), Side::Read.arrow()])),
        }
    }

    /// Starts send rows with `send` and read rows with `read` instead of
    /// "→ sent" and "← read" (for a list told from the server's side).
    pub fn arrow_words(&self, send: &'static str, read: &'static str) {
        self.words.set([send, read]);
    }

    /// Names the diagram's lifeline on the right `far` (not the server) and
    /// says so in the caption, which becomes `caption`.
    pub fn name_far_end(&self, far: &str, caption: &str) {
        self.diagram.borrow_mut().set_far(far);
        self.caption.set_text_content(Some(caption));
        self.redraw();
    }

    /// Adds `side`'s step to the diagram and redraws it: a send is an arrow
    /// from the client's lifeline to the server's, a read one back, the
    /// server's account a box on its lifeline, notes and errors across.
    fn record(
        &self,
        lane: &str,
        side: Side,
        label: &str,
        size: Option<usize>,
        bytes: Option<String>,
    ) {
        let far = self.diagram.borrow().far().to_owned();
        let shape = match side {
            Side::Send => Shape::Arrow {
                from: lane.to_owned(),
                to: far,
                heavy: false,
            },
            Side::Read => Shape::Arrow {
                from: far,
                to: lane.to_owned(),
                heavy: false,
            },
            Side::Server => Shape::Box { lane: far },
            Side::Segment => Shape::Box {
                lane: NETWORK.to_owned(),
            },
            Side::Note => Shape::Note,
            Side::Error => Shape::Error,
        };
        self.diagram.borrow_mut().push(Step {
            at_ms: Some(js_sys::Date::now()),
            kind: side.kind(),
            shape,
            label: label.to_owned(),
            size,
            bytes,
        });
        self.redraw();
    }

    fn redraw(&self) {
        let diagram = self.diagram.borrow();
        if diagram.steps().is_empty() {
            self.draw.set_inner_html("");
            attr(&self.figure, "hidden", "");
            return;
        }
        let _ = self.figure.remove_attribute("hidden");
        let width = match self.draw.client_width() {
            w if w > 0 => f64::from(w),
            _ => 640.0,
        };
        let svg = diagram.svg(width);
        self.draw.set_inner_html(&svg);
        let href = format!(
            "data:image/svg+xml;charset=utf-8,{}",
            String::from(js_sys::encode_uri_component(&svg))
        );
        attr(&self.save, "href", &href);
    }

    /// The list element itself (to place things around it).
    pub fn element(&self) -> &Element {
        &self.el
    }

    /// The diagram's figure, which comes just before the list.
    pub fn figure(&self) -> &Element {
        &self.figure
    }

    /// Removes every row (and the diagram's steps).
    pub fn clear(&self) {
        self.el.set_inner_html("");
        self.diagram.borrow_mut().clear();
        self.redraw();
    }

    /// Adds a row; `bytes` draws a box sized by its length, as text when it
    /// is printable text, as hex and ASCII otherwise.
    pub fn row(&self, side: Side, label: &str, bytes: Option<&[u8]>) -> Element {
        self.row_in(CLIENT, side, label, bytes)
    }

    /// [`row`](Self::row) for one of several clients: its sends and reads
    /// go on the lifeline called `lane`.
    pub fn row_in(&self, lane: &str, side: Side, label: &str, bytes: Option<&[u8]>) -> Element {
        self.row_shown(lane, side, label, bytes.map(|b| (b, BytesView::of(b))))
    }

    /// Adds a row for a segment the simulation put on its wire (its own
    /// lifeline in the diagram); `conn` names the page's connection when a
    /// lab has several.
    pub fn segment(&self, conn: Option<&str>, seg: &Segment, held: bool) -> Element {
        let of = conn.map(|c| format!(" of {c}")).unwrap_or_default();
        let held = if held {
            "; Nagle held it until the earlier data was ACKed"
        } else {
            ""
        };
        let label = format!(
            "segment{of}, in the server's buffer {} ms later{held}",
            (seg.arrive_at_us - seg.sent_at_us) as f64 / 1000.0
        );
        self.row_shown(
            NETWORK,
            Side::Segment,
            &label,
            Some((&seg.data, BytesView::of(&seg.data))),
        )
    }

    /// Adds a row whose bytes always show as hex and ASCII (a challenge, an
    /// HMAC answer: binary even when it happens to look like text).
    pub fn hex_row(&self, side: Side, label: &str, bytes: &[u8]) -> Element {
        self.row_shown(CLIENT, side, label, Some((bytes, BytesView::hex(bytes))))
    }

    /// Adds a row for a length-prefixed frame: the header decoded
    /// (`00 00 00 10 = 16`) in its own box, then the payload.
    pub fn frame_row(&self, side: Side, label: &str, frame: &[u8]) -> Element {
        let row = self.row_element(side, label, None);
        self.record(
            CLIENT,
            side,
            label,
            Some(frame.len()),
            Some(BytesView::hex(frame).line()),
        );
        let header = &frame[..frame.len().min(4)];
        let h = add(
            &row,
            el("span", "sl-box sl-header", &frame_header_label(header)),
        );
        attr(&h, "data-role", "frame-header");
        attr(&h, "data-size", &header.len().to_string());
        if frame.len() > 4 {
            let payload = &frame[4..];
            self.add_box(&row, payload, &BytesView::of(payload));
        }
        add(&row, el("span", "sl-size", &format!("{} B", frame.len())));
        row
    }

    fn row_shown(
        &self,
        lane: &str,
        side: Side,
        label: &str,
        bytes: Option<(&[u8], BytesView)>,
    ) -> Element {
        let size = bytes.as_ref().map(|(b, _)| b.len());
        let line = bytes.as_ref().map(|(_, v)| v.line());
        let row = self.row_element(side, label, bytes);
        self.record(lane, side, label, size, line);
        row
    }

    fn row_element(&self, side: Side, label: &str, bytes: Option<(&[u8], BytesView)>) -> Element {
        let row = add(
            &self.el,
            el("li", &format!("sl-row sl-{}", side.kind()), ""),
        );
        attr(&row, "data-kind", side.kind());
        let [send, read] = self.words.get();
        let what = match side {
            Side::Send => send,
            Side::Read => read,
            _ => side.arrow(),
        };
        add(&row, el("span", "sl-what", what));
        if let Some((bytes, display)) = bytes {
            self.add_box(&row, bytes, &display);
            add(&row, el("span", "sl-size", &format!("{} B", bytes.len())));
        }
        if !label.is_empty() {
            add(&row, el("span", "sl-label-text", label));
        }
        row
    }

    /// One box: text in it, or a hex column and an ASCII column.
    fn add_box(&self, row: &Element, bytes: &[u8], display: &BytesView) {
        let b = match display {
            BytesView::Text { .. } => {
                let b = add(row, el("span", "sl-box", &display.line()));
                attr(&b, "data-format", "text");
                b
            }
            BytesView::Hex { hex, ascii, more } => {
                let b = add(row, el("span", "sl-box sl-binary", ""));
                attr(&b, "data-format", "hex");
                add(&b, el("span", "sl-hex", hex));
                // Two spaces between the columns, so the text reads right
                // even without the stylesheet (the box keeps white space).
                let _ = b.append_with_str_1("  ");
                add(&b, el("span", "sl-ascii", ascii));
                if *more > 0 {
                    add(&b, el("span", "sl-more", &format!(" … {more} more")));
                }
                b
            }
        };
        let width = bytes.len().clamp(1, 48);
        attr(&b, "style", &format!("min-width: {width}ch"));
        attr(&b, "data-size", &bytes.len().to_string());
        attr(&b, "title", &display.line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_stays_text() {
        assert_eq!(
            BytesView::of(b"ACK: Hello, Server"),
            BytesView::Text {
                text: "ACK: Hello, Server".into(),
                more: 0
            }
        );
        let long = "é".repeat(100); // 200 bytes
        let BytesView::Text { text, more } = BytesView::of(long.as_bytes()) else {
            panic!("long text is still text");
        };
        assert_eq!(text.len() + more, 200);
        assert!(text.len() <= TEXT_SHOWN);
    }

    #[test]
    fn binary_is_hex_with_ascii() {
        let frame = [0, 0, 0, 0x10, b'{', b'"'];
        assert_eq!(
            BytesView::of(&frame),
            BytesView::Hex {
                hex: "00 00 00 10 7b 22".into(),
                ascii: "····{\"".into(),
                more: 0
            }
        );
        assert_eq!(BytesView::of(&frame).line(), "00 00 00 10 7b 22  ····{\"");
        // A reply header's 0x5b shows as 5b, not as a leading bracket.
        assert!(
            BytesView::of(&[0, 0, 0, 0x5b, b'{'])
                .line()
                .starts_with("00 00 00 5b")
        );
        let challenge = [0xab; 32];
        assert!(matches!(
            BytesView::of(&challenge),
            BytesView::Hex { more: 0, .. }
        ));
        assert!(matches!(BytesView::hex(b"text"), BytesView::Hex { .. }));
        let BytesView::Hex { more, .. } = BytesView::of(&[0u8; 100]) else {
            panic!("zeros are binary");
        };
        assert_eq!(more, 100 - HEX_SHOWN);
        assert!(BytesView::of(&[0u8; 100]).line().ends_with('…'));
    }

    #[test]
    fn frame_headers_are_labelled() {
        assert_eq!(
            frame_header_label(&[0, 0, 0, 0x10]),
            "header 00 00 00 10 = 16"
        );
        assert_eq!(
            frame_header_label(&[0, 0]),
            "incomplete header: 2 of 4 bytes"
        );
    }
}
