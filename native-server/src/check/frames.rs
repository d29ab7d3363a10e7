//! Reading length-prefixed frames off a [`Conn`] and explaining bad ones.
//!
//! Both framed lessons read frames the learner's program sent: the server
//! lesson reads its replies, the client lesson its request. When the bytes
//! do not make a good frame, [`diagnose`] looks for the two classic
//! mistakes: a little-endian length, and a length counted in characters.

use protocol::frame::{self, HEADER_LEN};
use serde_json::Value;

use super::conn::{Conn, End};
use super::failure::{Bug, Failure};
use super::report;

/// The largest frame the lessons read back (the demo's limit is 1 MiB; the
/// 64 KiB stage's echo is a little over 64 KiB).
pub(crate) const READ_LIMIT: usize = 4 * 1024 * 1024;

/// Whether `got` starts with a whole frame of a believable length, or
/// with a length that is only believable byte-swapped, and all of it (no
/// use waiting for the rest of a 300 MB frame that is really 16 bytes).
fn whole_frame(got: &[u8]) -> bool {
    frame::peek_len(got).is_some_and(|len| {
        let available = got.len() - HEADER_LEN;
        let len = len as usize;
        if len <= READ_LIMIT {
            available >= len
        } else {
            available >= (len as u32).swap_bytes() as usize
        }
    })
}

/// Reads one frame and returns its payload, consuming it from `conn`;
/// on failure, explains what arrived instead.
pub(crate) async fn read_frame(conn: &mut Conn, what: &str) -> Result<Vec<u8>, Failure> {
    let end = conn.read_until(whole_frame).await;
    let got = conn.received();
    let len = frame::peek_len(got).unwrap_or_default() as usize;
    if end == End::Done && len <= READ_LIMIT {
        let payload = got[HEADER_LEN..HEADER_LEN + len].to_vec();
        if let Some(failure) = diagnose(got)
            && frame::decode_json::<Value>(&payload).is_err()
        {
            return Err(failure.transcript(conn.log().lines()));
        }
        conn.consume(HEADER_LEN + len);
        return Ok(payload);
    }
    let mut failure = match diagnose(got) {
        Some(failure) => failure,
        None if len > READ_LIMIT => Failure::new(format!(
            "expected {what}, but its length field claims {len} bytes, more than any reply here"
        ))
        .note(report::length_field(got)),
        None if got.is_empty() => Failure::new(format!(
            "expected {what}, but {}",
            end.explain(conn.timeout())
        )),
        None => Failure::new(format!(
            "expected {what}, but only part of a frame arrived before {}",
            end.explain(conn.timeout())
        ))
        .note(report::length_field(got)),
    };
    failure.transcript = conn.log().lines();
    Err(failure)
}

/// Parses a payload as JSON, or explains why it is not.
pub(crate) fn json(payload: &[u8], whose: &str) -> Result<Value, Failure> {
    frame::decode_json::<Value>(payload).map_err(|e| {
        Failure::new(format!("{whose} payload is not JSON: {e}"))
            .note(format!("payload: {}", report::bytes(payload)))
    })
}

/// Looks for a named mistake in bytes that should start with a frame.
pub(crate) fn diagnose(got: &[u8]) -> Option<Failure> {
    let header = frame::peek_len(got)? as usize;
    let available = got.len() - HEADER_LEN;
    let swapped = u32::from_be_bytes(got[..HEADER_LEN].try_into().ok()?).swap_bytes() as usize;
    if header > READ_LIMIT && swapped <= available {
        return Some(
            Failure::new(format!(
                "the length field reads {header} in network byte order (big-endian), but {swapped} byte-swapped, and {swapped} is what followed it"
            ))
            .note(report::length_field(got))
            .note("use struct.pack('!I', n) / u32::to_be_bytes: `!` is network order, `<` little-endian")
            .bug(Bug::LittleEndian),
        );
    }
    // A length counted in characters is short by the extra bytes of every
    // non-ASCII character (at most 3 per character): take the text that
    // follows the header, cut it after `header` characters, and see whether
    // that is longer than `header` bytes and whole JSON.
    let rest = &got[HEADER_LEN..];
    let window = &rest[..available.min(header.saturating_mul(4))];
    let text = match std::str::from_utf8(window) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&window[..e.valid_up_to()]).unwrap_or_default(),
    };
    let n = text
        .char_indices()
        .nth(header)
        .map_or(text.len(), |(i, _)| i);
    if n > header
        && text[..n].chars().count() == header
        && serde_json::from_str::<Value>(&text[..n]).is_ok()
    {
        return Some(
            Failure::new(format!(
                "the length field says {header}, but the JSON that followed is {n} bytes long: {header} is its length in characters"
            ))
            .note(format!(
                "length field: {header} (bytes {}) / payload received: {n} bytes",
                protocol::hex::to_spaced_hex(&got[..HEADER_LEN])
            ))
            .note("count bytes, not characters: len(text.encode('utf-8')), not len(text)")
            .bug(Bug::CharacterCount),
        );
    }
    None
}

/// A frame holding `value` as Python's `json.dumps` writes it.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    frame::encode_json(value).unwrap_or_default()
}

/// A frame holding `payload` as it is.
pub(crate) fn encode_raw(payload: &[u8]) -> Vec<u8> {
    frame::encode(payload).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_and_character_counts_are_recognised() {
        let payload = br#"{"a": 1}"#;
        let mut le = (payload.len() as u32).to_le_bytes().to_vec();
        le.extend_from_slice(payload);
        assert_eq!(diagnose(&le).unwrap().bug, Some(Bug::LittleEndian));
        let text = r#"{"msg": "héllo ✓"}"#;
        let mut chars = (text.chars().count() as u32).to_be_bytes().to_vec();
        chars.extend_from_slice(text.as_bytes());
        let failure = diagnose(&chars).unwrap();
        assert_eq!(failure.bug, Some(Bug::CharacterCount));
        assert!(
            failure.notes[0].contains("payload received: 21 bytes"),
            "{:?}",
            failure.notes
        );
        assert!(diagnose(&encode_raw(payload)).is_none());
    }
}
