//! Bytes shown as hex: how events carry payloads in JSON and how labs print them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::events::MAX_EVENT_BYTES;

/// Bytes that serialize as a lowercase hex string (`"48656c6c6f"`), not a
/// JSON array of numbers.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl HexBytes {
    /// The first [`MAX_EVENT_BYTES`] of `bytes`.
    pub fn capped(bytes: &[u8]) -> Self {
        HexBytes(bytes[..bytes.len().min(MAX_EVENT_BYTES)].to_vec())
    }

    /// Lowercase hex, no separators.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// The bytes for logs: quoted text where they are printable text
    /// (`"Hello\n"`), otherwise hex with ASCII beside it
    /// (`[00 00 00 02 7b 7d  ····{}]`).
    pub fn preview(&self) -> String {
        match shown(&self.0) {
            Shown::Text(text) => format!("{text:?}"),
            Shown::Binary { hex, ascii } => format!("[{hex}  {ascii}]"),
        }
    }
}

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexBytes({})", self.to_hex())
    }
}

/// Lowercase hex of `bytes`, no separators.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Hex with a space between bytes: `00 00 00 10 7b`.
pub fn to_spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&to_hex(&[*b]));
    }
    out
}

/// The byte as it appears in an ASCII column: printable ASCII (space to `~`)
/// as itself, anything else as `·`.
pub fn ascii_char(b: u8) -> char {
    if (0x20..=0x7e).contains(&b) {
        char::from(b)
    } else {
        '·'
    }
}

/// The printable-ASCII column of a hex dump: `····{"a"`.
pub fn to_ascii_column(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| ascii_char(b)).collect()
}

/// Hex with the printable ASCII beside it, two spaces apart, for showing
/// binary to a learner: `00 00 00 10 7b 22  ····{"`.
///
/// Every byte shows in both columns, so a header byte `0x5b` reads as `5b`
/// on the left even though it prints as `[` on the right.
pub fn to_hex_ascii(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    format!("{}  {}", to_spaced_hex(bytes), to_ascii_column(bytes))
}

/// One line of a hex dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexLine {
    /// Offset of the line's first byte.
    pub offset: usize,
    /// The line's bytes as spaced hex (`00 00 00 10`).
    pub hex: String,
    /// The same bytes as printable ASCII (`····`).
    pub ascii: String,
}

/// A hex dump cut into lines of `per_line` bytes (0 counts as 16).
pub fn hex_lines(bytes: &[u8], per_line: usize) -> Vec<HexLine> {
    let per_line = if per_line == 0 { 16 } else { per_line };
    bytes
        .chunks(per_line)
        .enumerate()
        .map(|(i, chunk)| HexLine {
            offset: i * per_line,
            hex: to_spaced_hex(chunk),
            ascii: to_ascii_column(chunk),
        })
        .collect()
}

/// Whether `bytes` read as text a learner can see: valid UTF-8 with no
/// control characters other than tab, newline and carriage return. Empty
/// input counts as text.
pub fn is_printable_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        text.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
    })
}

/// How bytes should be shown: as the text they are, or as hex and ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Printable UTF-8 text, shown as itself.
    Text(String),
    /// Anything else, shown as a hex dump.
    Binary {
        /// Spaced hex of every byte.
        hex: String,
        /// The printable-ASCII column.
        ascii: String,
    },
}

/// Chooses how to show `bytes`: text when [`is_printable_text`], otherwise
/// hex with ASCII beside it (never a lossy decoding with `�` or `·` in the
/// place of the bytes).
pub fn shown(bytes: &[u8]) -> Shown {
    match std::str::from_utf8(bytes) {
        Ok(text) if is_printable_text(bytes) => Shown::Text(text.to_owned()),
        _ => Shown::Binary {
            hex: to_spaced_hex(bytes),
            ascii: to_ascii_column(bytes),
        },
    }
}

/// A 4-byte big-endian length header, decoded for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The four header bytes.
    pub bytes: [u8; 4],
    /// The length they encode.
    pub len: u32,
}

impl FrameHeader {
    /// The header at the start of `bytes`, or `None` with fewer than 4 bytes
    /// (an incomplete header, not an error).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        Some(Self {
            bytes,
            len: u32::from_be_bytes(bytes),
        })
    }
}

impl fmt::Display for FrameHeader {
    /// `00 00 00 10 = 16`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", to_spaced_hex(&self.bytes), self.len)
    }
}

/// Decodes the 4-byte big-endian length header at the start of `bytes` for
/// display: `00 00 00 10 = 16`; `None` with fewer than 4 bytes.
pub fn describe_frame_header(bytes: &[u8]) -> Option<String> {
    FrameHeader::parse(bytes).map(|h| h.to_string())
}

/// Parses hex (upper or lower case; spaces ignored).
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "hex needs two digits per byte, but {} digits were given",
            digits.len()
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| "hex must be ASCII".to_owned())?;
            u8::from_str_radix(s, 16).map_err(|_| format!("{s:?} is not a hex byte"))
        })
        .collect()
}

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        from_hex(&text)
            .map(HexBytes)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn hex_round_trips() {
        assert_eq!(to_hex(&[0, 0x10, 0xff]), "0010ff");
        assert_eq!(to_spaced_hex(&[0, 0x10, 0xff]), "00 10 ff");
        assert_eq!(from_hex("00 10 FF").unwrap(), vec![0, 0x10, 0xff]);
        assert!(from_hex("abc").is_err());
        assert!(from_hex("zz").is_err());
    }

    #[test]
    fn binary_shows_as_hex_with_ascii_beside_it() {
        let frame = b"\0\0\0\x10{\"a\"";
        assert_eq!(
            to_hex_ascii(frame),
            "00 00 00 10 7b 22 61 22  \u{b7}\u{b7}\u{b7}\u{b7}{\"a\""
        );
        assert_eq!(to_ascii_column(&[0x5b, 0x7f, 0x20, 0xff]), "[\u{b7} \u{b7}");
        assert_eq!(to_hex_ascii(&[]), "");
        let lines = hex_lines(&[0x41; 20], 16);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].offset, 16);
        assert_eq!(lines[1].hex, "41 41 41 41");
        assert_eq!(lines[1].ascii, "AAAA");
        assert_eq!(hex_lines(&[1, 2], 0)[0].hex, "01 02");
    }

    #[test]
    fn text_stays_text_and_binary_does_not() {
        assert_eq!(shown(b"Hello, Server"), Shown::Text("Hello, Server".into()));
        assert_eq!(shown("héllo\n".as_bytes()), Shown::Text("héllo\n".into()));
        assert!(is_printable_text(b""));
        assert!(!is_printable_text(b"\0\0\0\x10{}"));
        assert!(!is_printable_text(&[0xc3, 0x28]), "invalid UTF-8");
        assert!(!is_printable_text(b"a\x1b[0m"), "escape codes are not text");
        assert_eq!(
            shown(&[0, 0, 0, 2, b'{', b'}']),
            Shown::Binary {
                hex: "00 00 00 02 7b 7d".into(),
                ascii: "\u{b7}\u{b7}\u{b7}\u{b7}{}".into()
            }
        );
    }

    #[test]
    fn previews_quote_text_and_dump_binary() {
        assert_eq!(HexBytes(b"Hi\n".to_vec()).preview(), "\"Hi\\n\"");
        assert_eq!(HexBytes(vec![0, 0x5b]).preview(), "[00 5b  \u{b7}[]");
    }

    #[test]
    fn frame_headers_are_decoded() {
        assert_eq!(
            describe_frame_header(&[0, 0, 0, 0x10, b'{']).as_deref(),
            Some("00 00 00 10 = 16")
        );
        assert_eq!(
            FrameHeader::parse(&[0, 0x10, 0, 0]).map(|h| h.len),
            Some(1_048_576)
        );
        assert_eq!(
            describe_frame_header(&[0xff; 4]).as_deref(),
            Some("ff ff ff ff = 4294967295")
        );
        assert_eq!(describe_frame_header(&[0, 0, 1]), None);
    }
}
