//! What a demo server saw, as events: the server's side of a connection.
//!
//! Every demo publishes these on an event bus; `--log-events` prints them and
//! the bridge streams them to the browser, so a learner can watch the server
//! accept their connection (and their ephemeral port), read their bytes in
//! whatever chunks the socket returned, and answer.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::DenyReason;
use crate::demo::Demo;
use crate::hex::HexBytes;

/// Most payload bytes copied into one event; `size` always tells the real size.
pub const MAX_EVENT_BYTES: usize = 1024;

/// One thing a demo server saw or did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerEvent {
    /// Which demo.
    pub demo: Demo,
    /// The connection's number within this server run (0 for a listener event,
    /// and for UDP, where there are no connections, each datagram gets its own).
    pub conn: u64,
    /// The client's address and port, e.g. `127.0.0.1:54321`.
    pub peer: String,
    /// Microseconds since the server started.
    pub at_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Closer {
    /// The client closed (a read returned 0) or vanished.
    Client,
    /// The server closed it.
    Server,
}

/// The kinds of server events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A connection was accepted; `local` is the server's own address.
    Accepted {
        /// The server side of the connection.
        local: String,
    },
    /// One `recv` returned these bytes.
    Read {
        /// How many bytes the read returned.
        size: usize,
        /// The bytes (at most [`MAX_EVENT_BYTES`]).
        data: HexBytes,
    },
    /// The server sent these bytes.
    Reply {
        /// How many bytes were sent.
        size: usize,
        /// The bytes (at most [`MAX_EVENT_BYTES`]).
        data: HexBytes,
    },
    /// A UDP datagram arrived.
    Datagram {
        /// The datagram's real size.
        size: usize,
        /// Whether the 1024-byte buffer cut it short.
        truncated: bool,
        /// The bytes the buffer kept (at most [`MAX_EVENT_BYTES`]).
        data: HexBytes,
    },
    /// A complete frame was decoded.
    FrameDecoded {
        /// Payload length from the header.
        len: usize,
        /// The payload as JSON.
        json: Value,
    },
    /// A frame was refused.
    FrameRejected {
        /// Machine-readable reason (`too_large`, `invalid_json`, …).
        code: String,
        /// The sentence sent back to the client.
        message: String,
    },
    /// The auth demo sent its challenge.
    Challenge {
        /// The 32 challenge bytes.
        data: HexBytes,
    },
    /// The auth demo decided.
    Verdict {
        /// Whether access was granted.
        granted: bool,
        /// Why not, when it was not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<DenyReason>,
    },
    /// A client was too slow and was dropped.
    Timeout {
        /// What the server was waiting for.
        waiting_for: String,
        /// How long it waited, in milliseconds.
        after_ms: u64,
    },
    /// The server refused a connection because it was at its limit.
    Refused {
        /// Why.
        reason: String,
    },
    /// The client's FIN: a read returned 0 bytes, the client will send no
    /// more. `before_reply` says it was already there when the server still
    /// had a reply to send (the client half-closed, then kept reading).
    Fin {
        /// Whether a reply was still to be sent when the FIN was seen.
        before_reply: bool,
    },
    /// The connection ended.
    Closed {
        /// Who closed it.
        by: Closer,
        /// Why, in words.
        reason: String,
    },
    /// Something went wrong on this connection (the server keeps serving).
    Error {
        /// What went wrong.
        message: String,
    },
    /// `chat` sent a line to the other members of the room.
    Broadcast {
        /// How many bytes each member was sent.
        size: usize,
        /// The bytes (at most [`MAX_EVENT_BYTES`]).
        data: HexBytes,
        /// How many members they were sent to.
        to: usize,
    },
    /// `tls-echo` finished a TLS handshake with this client.
    TlsHandshake {
        /// The protocol version agreed (`TLSv1.3`, `TLSv1.2`).
        version: String,
        /// The cipher suite agreed.
        cipher: String,
        /// The server name the client asked for (SNI), if it sent one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sni: Option<String>,
    },
    /// `tls-echo` would not speak TLS with this client: the handshake failed,
    /// or the client's first bytes were not TLS at all.
    TlsRefused {
        /// Why, in words.
        reason: String,
    },
    /// The TLS records one socket read (or write) of `tls-echo` carried:
    /// what the encrypted stream looked like on the wire.
    TlsRecords {
        /// Whether the bytes came from the client (a read) or went to it.
        incoming: bool,
        /// Bytes on the wire in this read or write.
        size: usize,
        /// The record headers that began in them.
        records: Vec<crate::tls::Record>,
    },
    /// This subscriber fell behind and missed events.
    Lagged {
        /// How many events were skipped.
        missed: u64,
    },
}

impl ServerEvent {
    /// A readable one-line form, for `--log-events` and the page's log.
    pub fn describe(&self) -> String {
        let who = format!("{} #{} {}", self.demo, self.conn, self.peer);
        match &self.kind {
            EventKind::Accepted { local } => format!("{who}: accepted (server side {local})"),
            EventKind::Read { size, data } => {
                format!("{who}: read {size} bytes {}", data.preview())
            }
            EventKind::Reply { size, data } => {
                format!("{who}: sent {size} bytes {}", data.preview())
            }
            EventKind::Datagram {
                size,
                truncated,
                data,
            } => {
                let cut = if *truncated {
                    " (truncated to 1024)"
                } else {
                    ""
                };
                format!("{who}: datagram of {size} bytes{cut} {}", data.preview())
            }
            EventKind::FrameDecoded { len, json } => format!("{who}: frame of {len} bytes: {json}"),
            EventKind::FrameRejected { code, message } => {
                format!("{who}: frame rejected ({code}): {message}")
            }
            EventKind::Challenge { data } => format!("{who}: challenge sent {}", data.to_hex()),
            EventKind::Verdict { granted: true, .. } => format!("{who}: access granted"),
            EventKind::Verdict { reason, .. } => format!(
                "{who}: access denied: {}",
                reason.map_or("no reason", |r| r.explain())
            ),
            EventKind::Timeout {
                waiting_for,
                after_ms,
            } => format!("{who}: timed out after {after_ms} ms waiting for {waiting_for}"),
            EventKind::Refused { reason } => format!("{who}: refused: {reason}"),
            EventKind::Fin { before_reply: true } => format!(
                "{who}: the client's FIN (a read returned 0 bytes) arrived before the reply was sent"
            ),
            EventKind::Fin { .. } => format!("{who}: the client's FIN (a read returned 0 bytes)"),
            EventKind::Closed { by, reason } => format!("{who}: closed by {by:?}: {reason}"),
            EventKind::Error { message } => format!("{who}: error: {message}"),
            EventKind::Broadcast { size, data, to } => {
                format!(
                    "{who}: relayed {size} bytes to {to} others {}",
                    data.preview()
                )
            }
            EventKind::TlsHandshake {
                version,
                cipher,
                sni,
            } => format!(
                "{who}: TLS handshake done: {version}, {cipher}, server name {}",
                sni.as_deref().unwrap_or("(none sent)")
            ),
            EventKind::TlsRefused { reason } => format!("{who}: TLS refused: {reason}"),
            EventKind::TlsRecords {
                incoming,
                size,
                records,
            } => {
                let dir = if *incoming { "read" } else { "sent" };
                let recs: Vec<String> = records
                    .iter()
                    .map(|r| format!("{} {}", r.kind_name(), r.len))
                    .collect();
                format!("{who}: {dir} {size} bytes of TLS [{}]", recs.join(", "))
            }
            EventKind::Lagged { missed } => {
                format!("(missed {missed} events: this viewer fell behind)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn events_round_trip_as_flat_json() {
        let ev = ServerEvent {
            demo: Demo::Sticky,
            conn: 3,
            peer: "127.0.0.1:50000".into(),
            at_us: 12,
            kind: EventKind::Read {
                size: 5,
                data: HexBytes::capped(b"Hello"),
            },
        };
        let text = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            text,
            r#"{"demo":"sticky","conn":3,"peer":"127.0.0.1:50000","at_us":12,"event":"read","size":5,"data":"48656c6c6f"}"#
        );
        assert_eq!(serde_json::from_str::<ServerEvent>(&text).unwrap(), ev);
        assert!(ev.describe().contains("read 5 bytes"));
    }
}
