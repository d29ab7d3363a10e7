//! Length-prefixed framing: a 4-byte big-endian length, then that many bytes.
//!
//! TCP delivers a stream of bytes, not messages, so a reader must be told where
//! one message ends. This file is the whole answer the course gives: put the
//! payload's length in front of it. The layout is exactly what Python's
//! `struct.pack('!I', len(b)) + b` writes (`!` = network byte order, `I` =
//! unsigned 32-bit), so frames from a learner's Python client decode here and
//! ours decode there.
//!
//! The decoder is sans-IO: the caller feeds it whatever bytes a `recv` returned
//! (one byte, half a header, three frames and a bit) and asks for frames. Not
//! having a whole frame yet is `Ok(None)` — "need more bytes" — never an error.
//! The claimed length is checked against a limit *before* any memory is
//! reserved for it, so a header claiming 4 GiB costs nothing.

use std::collections::VecDeque;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Size of the length header in bytes.
pub const HEADER_LEN: usize = 4;

/// Default largest payload a decoder accepts: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024;

/// Everything that can go wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header claims more bytes than the limit allows.
    #[error(
        "frame header claims {claimed} bytes but the limit is {limit} bytes; \
         send a smaller message (or start the server with a larger --max-frame)"
    )]
    TooLarge {
        /// The length the header claimed.
        claimed: u64,
        /// The largest payload accepted.
        limit: usize,
    },
    /// The payload is not UTF-8 text.
    #[error(
        "frame payload is not valid UTF-8 (the bytes stop being valid at offset {valid_up_to}); \
         encode text with .encode('utf-8') before framing it"
    )]
    InvalidUtf8 {
        /// How many leading bytes were valid UTF-8.
        valid_up_to: usize,
    },
    /// The payload is UTF-8 but not JSON.
    #[error("frame payload is not valid JSON (line {line}, column {column}): {message}")]
    InvalidJson {
        /// 1-based line of the error, as serde_json reports it.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// The stream closed with part of a frame still buffered.
    #[error(
        "the stream ended in the middle of a frame: {have} of {need} bytes arrived; \
         send the whole frame (header and payload) before closing"
    )]
    EndedMidFrame {
        /// Bytes of the unfinished frame that did arrive (header included).
        have: usize,
        /// Bytes the frame needed (header included; 4 while the header itself is short).
        need: usize,
    },
}

impl FrameError {
    /// A short machine-readable code for this error, used in error frames and events.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::TooLarge { .. } => "too_large",
            FrameError::InvalidUtf8 { .. } => "invalid_utf8",
            FrameError::InvalidJson { .. } => "invalid_json",
            FrameError::EndedMidFrame { .. } => "ended_mid_frame",
        }
    }

    /// Whether the stream can go on after this error. A bad payload can be
    /// skipped (its length was known); a bad length cannot, because the reader
    /// no longer knows where the next frame starts.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            FrameError::InvalidUtf8 { .. } | FrameError::InvalidJson { .. }
        )
    }
}

/// Reads the header at the start of `buf`, if all four bytes are there.
pub fn peek_len(buf: &[u8]) -> Option<u32> {
    let header: [u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
    Some(u32::from_be_bytes(header))
}

/// Appends one frame (header + payload) to `dst`.
///
/// Fails only when the payload is longer than a 4-byte header can describe.
#[inline]
pub fn encode_into(payload: &[u8], dst: &mut Vec<u8>) -> Result<(), FrameError> {
    let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
        claimed: payload.len() as u64,
        limit: u32::MAX as usize,
    })?;
    dst.reserve(HEADER_LEN + payload.len());
    dst.extend_from_slice(&len.to_be_bytes());
    dst.extend_from_slice(payload);
    Ok(())
}

/// Returns one frame (header + payload) as a new buffer.
pub fn encode(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    encode_into(payload, &mut out)?;
    Ok(out)
}

/// Serializes `value` the way Python's `json.dumps(value)` does by default
/// (`", "` and `": "` separators, non-ASCII escaped as `\uXXXX`).
///
/// Floats are the one place the two may still differ (Python writes `1e+16`,
/// Rust `1e16`); integers, strings, lists and objects match byte for byte.
pub fn to_python_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Serializing into a Vec cannot fail for the types we frame (no non-string map keys).
    if value.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

/// Frames `value` as Python's `struct.pack('!I', len(b)) + b` with
/// `b = json.dumps(value).encode('utf-8')` would.
pub fn encode_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, FrameError> {
    encode(&to_python_json(value))
}

/// Parses a frame payload as JSON, separating "not text" from "not JSON".
pub fn decode_json<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let text = std::str::from_utf8(payload).map_err(|e| FrameError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    serde_json::from_str(text).map_err(|e| FrameError::InvalidJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// An incremental frame decoder.
///
/// It reads the stream the way the notes' `recv_msg` does — first exactly four
/// header bytes, then exactly as many payload bytes as the header announced —
/// but without ever waiting: [`FrameDecoder::feed`] takes whatever one `recv`
/// returned and moves the decoder along, and [`FrameDecoder::decode`] hands out
/// the payloads completed so far, oldest first, until it answers `Ok(None)`.
///
/// Each payload byte is copied once, from the fed slice straight into the
/// `Vec` that `decode` returns; that `Vec` is reserved at the announced length
/// as soon as the header has passed the limit check. So a frame costs exactly
/// one allocation, its payload, however the stream is cut.
#[derive(Clone)]
pub struct FrameDecoder {
    max_frame: usize,
    /// What the decoder is in the middle of reading.
    state: State,
    /// Payloads completed by `feed` and not yet returned by `decode`, oldest
    /// first. Callers drain it after every `feed`, so it holds at most the
    /// frames of one read.
    ready: VecDeque<Vec<u8>>,
    /// Bytes fed but not yet returned as a frame (headers included).
    buffered: usize,
}

/// Where the decoder is within the current frame.
#[derive(Clone)]
enum State {
    /// Reading the 4-byte length; `have` of them have arrived.
    Header {
        bytes: [u8; HEADER_LEN],
        have: usize,
    },
    /// Reading a payload of `need` bytes into `payload`, whose capacity is
    /// exactly `need`, so appending never reallocates.
    Payload { payload: Vec<u8>, need: usize },
    /// A header claimed more than the limit. The reader no longer knows where
    /// frames start, so every later byte is ignored and `decode` reports this.
    TooLarge { claimed: u32 },
}

impl State {
    /// Waiting for the first byte of a header.
    const NEXT_HEADER: State = State::Header {
        bytes: [0; HEADER_LEN],
        have: 0,
    };
}

impl fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("max_frame", &self.max_frame)
            .field("buffered", &self.buffered())
            .finish()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder that accepts payloads up to `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            state: State::NEXT_HEADER,
            ready: VecDeque::new(),
            buffered: 0,
        }
    }

    /// The largest payload this decoder accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Adds bytes received from the stream.
    #[inline] // called once per `recv`, often with a few bytes: let callers inline it
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffered += bytes.len();
        // The common case, and the only one for a stream fed a byte at a time
        // inside a large frame: the bytes just continue the payload being read.
        if let State::Payload { payload, need } = &mut self.state
            && bytes.len() < *need - payload.len()
        {
            payload.extend_from_slice(bytes);
            return;
        }
        self.advance(bytes);
    }

    /// Moves through `bytes`, header by payload by header, completing frames.
    fn advance(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Header {
                    bytes: header,
                    have,
                } => {
                    // Like `recvall(sock, 4)`: collect the header, however it is split.
                    let take = (HEADER_LEN - *have).min(bytes.len());
                    header[*have..*have + take].copy_from_slice(&bytes[..take]);
                    *have += take;
                    bytes = &bytes[take..];
                    if *have == HEADER_LEN {
                        let len = u32::from_be_bytes(*header);
                        self.state = self.start_payload(len);
                    }
                }
                State::Payload { payload, need } => {
                    // Like `recvall(sock, n)`: take no more than this frame still needs;
                    // the rest of the slice belongs to the next frame.
                    let take = (*need - payload.len()).min(bytes.len());
                    payload.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if payload.len() == *need {
                        self.ready.push_back(std::mem::take(payload));
                        self.state = State::NEXT_HEADER;
                    }
                }
                State::TooLarge { .. } => return,
            }
        }
    }

    /// The state after a complete header announcing `len` payload bytes.
    fn start_payload(&mut self, len: u32) -> State {
        let need = len as usize;
        if need > self.max_frame {
            // Checked before anything is reserved: a header claiming 4 GiB costs nothing.
            State::TooLarge { claimed: len }
        } else if need == 0 {
            // An empty frame is complete as soon as its header is.
            self.ready.push_back(Vec::new());
            State::NEXT_HEADER
        } else {
            // The length is within the limit, so reserving room for it is safe.
            State::Payload {
                payload: Vec::with_capacity(need),
                need,
            }
        }
    }

    /// Returns the next complete payload, `Ok(None)` if more bytes are needed.
    ///
    /// After [`FrameError::TooLarge`] the stream is out of step and should be
    /// closed; the decoder keeps answering the same error.
    #[inline]
    pub fn decode(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(payload) = self.ready.pop_front() {
            self.buffered -= HEADER_LEN + payload.len();
            return Ok(Some(payload));
        }
        match self.state {
            State::TooLarge { claimed } => Err(FrameError::TooLarge {
                claimed: u64::from(claimed),
                limit: self.max_frame,
            }),
            State::Header { .. } | State::Payload { .. } => Ok(None),
        }
    }

    /// Call when the stream has ended: an error if part of a frame is left.
    pub fn finish(&self) -> Result<(), FrameError> {
        let have = self.buffered();
        if have == 0 {
            return Ok(());
        }
        // What the first frame not yet returned needed, header included.
        let need = match (self.ready.front(), &self.state) {
            (Some(payload), _) => HEADER_LEN + payload.len(),
            (None, State::Header { .. }) => HEADER_LEN,
            (None, State::Payload { need, .. }) => HEADER_LEN + need,
            (None, State::TooLarge { claimed }) => HEADER_LEN + *claimed as usize,
        };
        Err(FrameError::EndedMidFrame { have, need })
    }

    /// Bytes reserved for payloads: the frame being read (at its announced
    /// length) and those not yet decoded. Nothing for a refused header.
    pub fn reserved(&self) -> usize {
        let current = match &self.state {
            State::Payload { payload, .. } => payload.capacity(),
            State::Header { .. } | State::TooLarge { .. } => 0,
        };
        current + self.ready.iter().map(Vec::capacity).sum::<usize>()
    }
}

/// A serde_json formatter that writes what Python's `json.dumps` writes by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        // The same ", " between members as between array items.
        self.begin_array_value(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // Python's ensure_ascii=True: everything outside printable ASCII becomes \uXXXX,
        // characters beyond the BMP as a surrogate pair.
        let mut plain_from = 0;
        for (i, ch) in fragment.char_indices() {
            if (' '..='~').contains(&ch) {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[plain_from..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            plain_from = i + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[plain_from..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn python_layout_for_the_playground_example() {
        let frame = encode(br#"{"msg": "Hello"}"#).unwrap();
        assert_eq!(&frame[..4], &[0, 0, 0, 0x10]);
        assert_eq!(&frame[4..], br#"{"msg": "Hello"}"#);
    }

    #[test]
    fn json_matches_python_dumps() {
        let v = json!({"msg": "Hello", "n": [1, 2, {"k": null}], "é": "日本\u{1F600}\u{7f}"});
        let text = String::from_utf8(to_python_json(&v)).unwrap();
        assert_eq!(
            text,
            r#"{"msg": "Hello", "n": [1, 2, {"k": null}], "\u00e9": "\u65e5\u672c\ud83d\ude00\u007f"}"#
        );
    }

    #[test]
    fn incomplete_is_not_an_error() {
        let mut d = FrameDecoder::default();
        d.feed(&[0, 0]);
        assert_eq!(d.decode(), Ok(None));
        d.feed(&[0, 2, b'h']);
        assert_eq!(d.decode(), Ok(None));
        d.feed(b"i");
        assert_eq!(d.decode(), Ok(Some(b"hi".to_vec())));
        assert_eq!(d.decode(), Ok(None));
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn too_large_is_refused_before_reserving() {
        let mut d = FrameDecoder::new(16);
        d.feed(&[0xff, 0xff, 0xff, 0xff]);
        let err = d.decode().unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                claimed: u32::MAX as u64,
                limit: 16
            }
        );
        assert!(!err.is_recoverable());
        assert_eq!(d.reserved(), 0, "no room reserved for the claimed length");
        assert!(err.to_string().contains("--max-frame"));
    }

    #[test]
    fn zero_length_frame() {
        let mut d = FrameDecoder::default();
        d.feed(&[0, 0, 0, 0]);
        assert_eq!(d.decode(), Ok(Some(Vec::new())));
    }

    #[test]
    fn ended_mid_frame_reports_progress() {
        let mut d = FrameDecoder::default();
        d.feed(&[0, 0, 0, 5, b'a']);
        assert_eq!(d.decode(), Ok(None));
        assert_eq!(
            d.finish(),
            Err(FrameError::EndedMidFrame { have: 5, need: 9 })
        );
        let mut d = FrameDecoder::default();
        d.feed(&[0, 0]);
        assert_eq!(
            d.finish(),
            Err(FrameError::EndedMidFrame { have: 2, need: 4 })
        );
    }

    #[test]
    fn json_errors_are_typed() {
        let err = decode_json::<serde_json::Value>(b"{\"a\": ").unwrap_err();
        assert!(
            matches!(err, FrameError::InvalidJson { line: 1, .. }),
            "{err:?}"
        );
        assert!(err.is_recoverable());
        let err = decode_json::<serde_json::Value>(&[b'"', 0xff, b'"']).unwrap_err();
        assert_eq!(err, FrameError::InvalidUtf8 { valid_up_to: 1 });
        let v: serde_json::Value = decode_json(br#"{"msg": "Hello"}"#).unwrap();
        assert_eq!(v, json!({"msg": "Hello"}));
    }

    #[test]
    fn many_frames_in_one_feed() {
        let mut stream = Vec::new();
        for p in [&b"one"[..], b"", b"three"] {
            encode_into(p, &mut stream).unwrap();
        }
        let mut d = FrameDecoder::default();
        d.feed(&stream);
        assert_eq!(d.decode().unwrap().unwrap(), b"one");
        assert_eq!(d.decode().unwrap().unwrap(), b"");
        assert_eq!(d.decode().unwrap().unwrap(), b"three");
        assert_eq!(d.decode().unwrap(), None);
    }

    #[test]
    fn frames_before_a_bad_header_still_come_out() {
        let mut stream = encode(b"ok").unwrap();
        stream.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, b'x', b'y']);
        let mut d = FrameDecoder::new(16);
        d.feed(&stream);
        assert_eq!(d.decode(), Ok(Some(b"ok".to_vec())));
        let too_large = FrameError::TooLarge {
            claimed: u32::MAX as u64,
            limit: 16,
        };
        assert_eq!(d.decode(), Err(too_large.clone()));
        // Out of step for good: later bytes change nothing.
        d.feed(&encode(b"later").unwrap());
        assert_eq!(d.decode(), Err(too_large));
        assert_eq!(d.reserved(), 0);
    }

    #[test]
    fn finish_counts_frames_not_yet_decoded() {
        let mut d = FrameDecoder::default();
        d.feed(&encode(b"abc").unwrap());
        assert_eq!(d.buffered(), 7);
        assert_eq!(
            d.finish(),
            Err(FrameError::EndedMidFrame { have: 7, need: 7 })
        );
        assert_eq!(d.decode(), Ok(Some(b"abc".to_vec())));
        assert_eq!(d.buffered(), 0);
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn payload_is_reserved_once_at_its_length() {
        let frame = encode(&[9u8; 1000]).unwrap();
        let mut d = FrameDecoder::default();
        for byte in &frame {
            d.feed(std::slice::from_ref(byte));
        }
        let payload = d.decode().unwrap().unwrap();
        assert_eq!(payload.len(), 1000);
        assert_eq!(
            payload.capacity(),
            1000,
            "handed over as filled, not copied"
        );
    }
}
