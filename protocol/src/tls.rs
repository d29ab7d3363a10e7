//! What the `tls-echo` demo can say about TLS without doing any cryptography:
//! whether a client's first bytes start a TLS handshake, the alert it answers
//! a client that speaks plain TCP to it, and the record headers that frame
//! everything TLS puts on the wire.
//!
//! The handshake itself is done by rustls in the native server. These parts
//! are here because the page needs them too: the simulated bridge refuses a
//! plaintext client exactly as the server does, and the TLS lab names the
//! records it is shown. (TLS is itself length-prefixed framing: a 5-byte
//! header — content type, version, a 16-bit length — then that many bytes.)

use serde::{Deserialize, Serialize};

/// A TLS record's header: content type, legacy version (2 bytes), length (2).
pub const RECORD_HEADER: usize = 5;

/// The content type of a handshake record, the first byte a TLS client sends.
pub const HANDSHAKE: u8 = 0x16;

/// The alert `tls-echo` answers a client whose first bytes are not TLS: a
/// record of type alert (0x15), version 3.3, length 2, level fatal (2),
/// description `decode_error` (50).
pub const DECODE_ERROR_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 50];

/// The name of a record's content type, as RFC 8446 gives it.
pub fn content_type_name(t: u8) -> &'static str {
    match t {
        20 => "change_cipher_spec",
        21 => "alert",
        22 => "handshake",
        23 => "application_data",
        _ => "not a TLS content type",
    }
}

/// Why a client's first bytes are not a TLS handshake, in words a learner
/// can act on; `None` when they could be one.
///
/// Judges only what has arrived: a first read shorter than a header is
/// judged on the bytes it has.
pub fn not_tls(first: &[u8]) -> Option<String> {
    let b0 = *first.first()?;
    if b0 != HANDSHAKE {
        let shown = if b0.is_ascii_graphic() || b0 == b' ' {
            format!("0x{b0:02x} ({:?})", b0 as char)
        } else {
            format!("0x{b0:02x}")
        };
        return Some(format!(
            "not a TLS handshake: the first byte was {shown}, and a TLS client's first byte is \
             0x16 (a handshake record holding its ClientHello). This client is speaking plain \
             TCP to a TLS server; wrap the socket with TLS first (Python: \
             ssl.create_default_context().wrap_socket)"
        ));
    }
    if let Some(&major) = first.get(1)
        && major != 0x03
    {
        return Some(format!(
            "not a TLS handshake: the record's version byte was 0x{major:02x}, and TLS records \
             carry 0x03 there"
        ));
    }
    None
}

/// One record header seen on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The content type byte (22 handshake, 23 application data, 21 alert, …).
    pub kind: u8,
    /// The length the header announced (bytes after the header).
    pub len: u16,
}

impl Record {
    /// The content type's name.
    pub fn kind_name(self) -> &'static str {
        content_type_name(self.kind)
    }

    /// Bytes the record takes on the wire, header included.
    pub fn wire_len(self) -> usize {
        RECORD_HEADER + usize::from(self.len)
    }
}

/// Finds record headers in one direction of a TLS stream, however the
/// stream's reads or writes cut it.
#[derive(Debug, Default, Clone)]
pub struct RecordScanner {
    /// Bytes of the current header seen so far.
    header: Vec<u8>,
    /// Body bytes of the current record still to skip.
    skip: usize,
}

impl RecordScanner {
    /// Feeds the next bytes of the stream; returns the records whose headers
    /// they completed.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Record> {
        let mut found = Vec::new();
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let need = RECORD_HEADER - self.header.len();
            let n = need.min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == RECORD_HEADER {
                let rec = Record {
                    kind: self.header[0],
                    len: u16::from_be_bytes([self.header[3], self.header[4]]),
                };
                self.header.clear();
                self.skip = usize::from(rec.len);
                found.push(rec);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn plain_text_is_not_tls_and_a_client_hello_could_be() {
        let why = not_tls(b"Hello, Server").unwrap();
        assert!(why.contains("0x48 ('H')"), "{why}");
        assert_eq!(not_tls(&[0x16, 0x03, 0x01, 0x02, 0x00]), None);
        assert_eq!(not_tls(&[0x16]), None);
        assert!(not_tls(&[0x16, 0x04]).unwrap().contains("0x04"));
        assert_eq!(not_tls(b""), None);
    }

    #[test]
    fn records_are_found_however_the_stream_is_cut() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&[22, 3, 1, 0, 3, 1, 2, 3]);
        wire.extend_from_slice(&[23, 3, 3, 0, 2, 9, 9]);
        wire.extend_from_slice(&DECODE_ERROR_ALERT);
        let whole = RecordScanner::default().feed(&wire);
        let mut s = RecordScanner::default();
        let cut: Vec<Record> = wire.chunks(1).flat_map(|c| s.feed(c)).collect();
        assert_eq!(whole, cut);
        let names: Vec<_> = whole.iter().map(|r| (r.kind_name(), r.len)).collect();
        assert_eq!(
            names,
            [("handshake", 3), ("application_data", 2), ("alert", 2)]
        );
        assert_eq!(whole[0].wire_len(), 8);
    }
}
