//! The bridge protocol: how a page asks the server to open real sockets for it.
//!
//! A browser cannot open TCP or UDP sockets, so the page talks to `/ws` and the
//! server opens them on its behalf. Control messages are JSON text frames
//! (tagged by `"type"`); payload bytes travel in binary WebSocket frames with a
//! small fixed header, so a 1 KiB read costs 1 KiB + 13 bytes, not a JSON array
//! of numbers.
//!
//! The page names a **demo**, never a host or port: the server resolves the
//! name. An operator may admit extra targets with `--bridge-allow HOST:PORT`;
//! the page then names that exact `HOST:PORT` in `target`.
//!
//! Binary frames:
//!
//! | direction | layout |
//! |---|---|
//! | page → server, send bytes | `b'D'`, socket id (u32 BE), payload |
//! | server → page, one read | `b'R'`, socket id (u32 BE), timestamp µs (u64 BE), payload |
//!
//! Every read on a bridged socket is its own `R` frame: the boundaries the page
//! draws are the boundaries the socket returned.

use serde::{Deserialize, Serialize};

use crate::check::CheckMsg;
use crate::demo::{Demo, StickyOptions, Transport};
use crate::events::ServerEvent;
use crate::kernel::{KernelMsg, TcpCounters};

/// The version of this protocol, announced in [`ServerMsg::Welcome`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Tag of a binary page → server data frame.
pub const TAG_SEND: u8 = b'D';
/// Tag of a binary server → page read frame.
pub const TAG_READ: u8 = b'R';

/// A socket's id, chosen by the page, unique within its session.
pub type SocketId = u32;

/// Control messages from the page (JSON text frames).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// Open a socket to a demo (or an operator-allowed `target`).
    Open {
        /// The id the page will use for this socket.
        sock: SocketId,
        /// The demo to connect to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        demo: Option<Demo>,
        /// An operator-allowed `HOST:PORT`, instead of a demo.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        /// Set TCP_NODELAY (turn Nagle's algorithm off) on the bridge's socket.
        #[serde(default)]
        nodelay: bool,
        /// For `sticky`: how the receiver reads this connection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sticky: Option<StickyOptions>,
        /// Acknowledge every completed send with a [`ServerMsg::Sent`]
        /// (off by default: a plain relay does not need the extra message).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ack: bool,
    },
    /// Send UTF-8 text (a convenience; binary `D` frames send any bytes).
    Send {
        /// Which socket.
        sock: SocketId,
        /// The text to send.
        text: String,
    },
    /// Shut down the sending half (TCP FIN); reads go on.
    Shutdown {
        /// Which socket.
        sock: SocketId,
    },
    /// Close the socket.
    Close {
        /// Which socket.
        sock: SocketId,
    },
    /// Abort the connection: close with `SO_LINGER` 0, so the peer gets a TCP
    /// RST instead of a FIN (its next read fails with "connection reset").
    Reset {
        /// Which socket.
        sock: SocketId,
    },
    /// Ask how many sockets this session holds; answered by [`ServerMsg::Status`].
    /// (A struct variant, so that unknown fields are refused like anywhere else.)
    Status {},
    /// Receive these demos' server events (an empty list means all demos).
    Subscribe {
        /// The demos to watch.
        #[serde(default)]
        demos: Vec<Demo>,
    },
    /// Stop receiving server events.
    Unsubscribe {},
    /// Receive every `socket-lab check` run published to this server, as
    /// [`ServerMsg::Check`] (the simulated bridge accepts it and has none).
    WatchChecks {},
    /// Receive the kernel's view of the demo ports' TCP sockets, sampled `hz`
    /// times a second (1 to [`kernel::MAX_HZ`](crate::kernel::MAX_HZ); the
    /// server clamps), as [`ServerMsg::Kernel`]. Sent again, it changes the
    /// rate.
    WatchKernel {
        /// Samples per second.
        hz: u32,
    },
    /// Stop receiving the kernel's view.
    UnwatchKernel {},
    /// Ask what `TCP_INFO` says of one of this session's TCP sockets (the
    /// bridge's end): answered by [`ServerMsg::TcpInfo`].
    TcpInfo {
        /// Which socket.
        sock: SocketId,
    },
}

impl ClientMsg {
    /// `open` for `demo` with Nagle off, no read settings and no
    /// acknowledgements: what most labs and tests send.
    pub fn open(sock: SocketId, demo: Demo) -> ClientMsg {
        ClientMsg::Open {
            sock,
            demo: Some(demo),
            target: None,
            nodelay: true,
            sticky: None,
            ack: false,
        }
    }
}

/// Who closed a bridged socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClosedBy {
    /// The demo server (the peer) closed, or reset the connection.
    Peer,
    /// The page asked for it.
    Page,
    /// The bridge closed it (a limit, an idle timeout, an error).
    Bridge,
}

/// One demo as the bridge offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoInfo {
    /// The demo.
    pub demo: Demo,
    /// TCP or UDP.
    pub transport: Transport,
    /// Where it listens, e.g. `127.0.0.1:65432`.
    pub addr: String,
}

/// The limits a session works within, announced up front.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Open sockets per session.
    pub sockets_per_session: usize,
    /// Largest WebSocket message accepted, in bytes.
    pub max_message: usize,
    /// A session with no traffic for this long is closed, in seconds.
    pub idle_timeout_secs: u64,
    /// How long the `auth` demo waits for the 32-byte answer, in
    /// milliseconds (so a lab can count down the real deadline).
    #[serde(default)]
    pub handshake_timeout_ms: u64,
}

/// Control messages from the server (JSON text frames).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First message of a session.
    Welcome {
        /// [`PROTOCOL_VERSION`].
        version: u32,
        /// The demos that are running.
        demos: Vec<DemoInfo>,
        /// The session's limits.
        limits: Limits,
    },
    /// A socket is open.
    Opened {
        /// Which socket.
        sock: SocketId,
        /// TCP or UDP.
        transport: Transport,
        /// The bridge's end: the ephemeral port the OS chose is a lesson.
        local: String,
        /// The demo's end.
        peer: String,
    },
    /// Bytes were handed to the socket (the send completed); only for sockets
    /// opened with `ack: true`.
    Sent {
        /// Which socket.
        sock: SocketId,
        /// How many bytes.
        size: usize,
        /// Microseconds since the session started.
        at_us: u64,
    },
    /// The socket is closed.
    Closed {
        /// Which socket.
        sock: SocketId,
        /// Who closed it.
        by: ClosedBy,
        /// Why, in words.
        reason: String,
    },
    /// Something the page asked for could not be done; the session goes on.
    Error {
        /// The socket concerned, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sock: Option<SocketId>,
        /// Machine-readable code (`unknown_demo`, `bad_message`, …).
        code: String,
        /// What happened and what to do.
        message: String,
    },
    /// A demo server's own event.
    Event {
        /// The event.
        event: ServerEvent,
        /// The page's socket this event belongs to, when the connection (or
        /// datagram) came from one of this session's sockets; absent for
        /// every other client ("another program").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sock: Option<SocketId>,
    },
    /// The answer to [`ClientMsg::Status`].
    Status {
        /// Sockets this session holds open right now.
        sockets: usize,
    },
    /// One message of a `socket-lab check` run on this machine (only after
    /// [`ClientMsg::WatchChecks`]).
    Check {
        /// The run it belongs to: a new number for every run this server saw.
        run: u64,
        /// What happened.
        msg: CheckMsg,
    },
    /// The kernel's view of the demo ports (only after
    /// [`ClientMsg::WatchKernel`]).
    Kernel {
        /// What changed, or a full snapshot.
        msg: KernelMsg,
    },
    /// The answer to [`ClientMsg::TcpInfo`].
    TcpInfo {
        /// Which socket.
        sock: SocketId,
        /// The counters, when the kernel could give them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counters: Option<TcpCounters>,
        /// Why there are none, in words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        missing: Option<String>,
    },
}

/// A binary frame that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// Shorter than its header.
    #[error("binary message of {0} bytes is shorter than its header")]
    Short(usize),
    /// Unknown first byte.
    #[error(
        "binary message starts with {0:#04x}; expected 'D' (0x44) followed by a 4-byte socket id"
    )]
    UnknownTag(u8),
}

/// Builds a page → server `D` frame.
pub fn encode_send(sock: SocketId, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(TAG_SEND);
    out.extend_from_slice(&sock.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Parses a page → server `D` frame into (socket, payload).
pub fn decode_send(frame: &[u8]) -> Result<(SocketId, &[u8]), BinaryError> {
    match frame.first() {
        None => Err(BinaryError::Short(0)),
        Some(&TAG_SEND) if frame.len() >= 5 => {
            let sock = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]);
            Ok((sock, &frame[5..]))
        }
        Some(&TAG_SEND) => Err(BinaryError::Short(frame.len())),
        Some(&tag) => Err(BinaryError::UnknownTag(tag)),
    }
}

/// Writes the header of a server → page `R` frame; append the payload after it.
pub fn read_header(sock: SocketId, at_us: u64) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[0] = TAG_READ;
    h[1..5].copy_from_slice(&sock.to_be_bytes());
    h[5..13].copy_from_slice(&at_us.to_be_bytes());
    h
}

/// One read, as parsed from an `R` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFrame<'a> {
    /// Which socket.
    pub sock: SocketId,
    /// Microseconds since the session started.
    pub at_us: u64,
    /// What the read returned.
    pub data: &'a [u8],
}

/// Parses a server → page `R` frame.
pub fn decode_read(frame: &[u8]) -> Result<ReadFrame<'_>, BinaryError> {
    match frame.first() {
        None => Err(BinaryError::Short(0)),
        Some(&TAG_READ) if frame.len() >= 13 => Ok(ReadFrame {
            sock: u32::from_be_bytes(frame[1..5].try_into().expect("4 bytes")),
            at_us: u64::from_be_bytes(frame[5..13].try_into().expect("8 bytes")),
            data: &frame[13..],
        }),
        Some(&TAG_READ) => Err(BinaryError::Short(frame.len())),
        Some(&tag) => Err(BinaryError::UnknownTag(tag)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// `msg` serialized and parsed back is `msg`.
    fn round_trip<T>(msg: T)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(serde_json::from_str::<T>(&text).unwrap(), msg, "{text}");
    }

    #[test]
    fn client_messages_round_trip() {
        round_trip(ClientMsg::Open {
            sock: 1,
            demo: Some(Demo::Sticky),
            target: None,
            nodelay: true,
            sticky: Some(StickyOptions {
                read_size: 3,
                read_delay_ms: 0,
            }),
            ack: true,
        });
        round_trip(ClientMsg::Send {
            sock: 1,
            text: "Hello".into(),
        });
        round_trip(ClientMsg::Shutdown { sock: 1 });
        round_trip(ClientMsg::Close { sock: 1 });
        round_trip(ClientMsg::Reset { sock: 1 });
        round_trip(ClientMsg::Status {});
        round_trip(ClientMsg::Subscribe {
            demos: vec![Demo::TcpEcho],
        });
        round_trip(ClientMsg::Unsubscribe {});
        round_trip(ClientMsg::WatchChecks {});
        round_trip(ClientMsg::WatchKernel { hz: 10 });
        round_trip(ClientMsg::UnwatchKernel {});
        round_trip(ClientMsg::TcpInfo { sock: 3 });
    }

    #[test]
    fn unknown_fields_and_other_shapes_are_refused_everywhere() {
        for bad in [
            r#"{"type":"unsubscribe","x":1}"#,
            r#"{"type":"status","x":1}"#,
            r#"{"type":"watch_checks","lesson":"framed"}"#,
            r#"{"type":"close","sock":1,"x":1}"#,
            r#"{"type":"open","sock":1,"demo":"sticky","sticky":[3,0]}"#,
            r#"{"type":"open","sock":1,"demo":"sticky","sticky":{"read_size":3,"read_delay_ms":0,"x":1}}"#,
            r#"{"type":"open","sock":1,"demo":"sticky","sticky":{"read_size":3}}"#,
        ] {
            assert!(
                serde_json::from_str::<ClientMsg>(bad).is_err(),
                "{bad} must be refused"
            );
        }
        let ok: ClientMsg = serde_json::from_str(
            r#"{"type":"open","sock":1,"demo":"sticky","sticky":{"read_size":3,"read_delay_ms":0}}"#,
        )
        .unwrap();
        assert!(matches!(
            ok,
            ClientMsg::Open {
                sticky: Some(_),
                ..
            }
        ));
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"unsubscribe"}"#).is_ok());
    }

    #[test]
    fn the_wire_form_is_readable() {
        let msg: ClientMsg =
            serde_json::from_str(r#"{"type":"open","sock":7,"demo":"tcp-echo"}"#).unwrap();
        assert_eq!(
            msg,
            ClientMsg::Open {
                sock: 7,
                demo: Some(Demo::TcpEcho),
                target: None,
                nodelay: false,
                sticky: None,
                ack: false,
            }
        );
        // A host and port in place of a demo name is not a message we accept.
        assert!(
            serde_json::from_str::<ClientMsg>(
                r#"{"type":"open","sock":7,"host":"10.0.0.1","port":22}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<ClientMsg>(r#"{"type":"open","sock":7,"demo":"127.0.0.1:22"}"#)
                .is_err()
        );
    }

    #[test]
    fn server_messages_round_trip() {
        round_trip(ServerMsg::Welcome {
            version: PROTOCOL_VERSION,
            demos: vec![DemoInfo {
                demo: Demo::UdpEcho,
                transport: Transport::Udp,
                addr: "127.0.0.1:9999".into(),
            }],
            limits: Limits {
                sockets_per_session: 8,
                max_message: 65536,
                idle_timeout_secs: 300,
                handshake_timeout_ms: 10_000,
            },
        });
        round_trip(ServerMsg::Opened {
            sock: 1,
            transport: Transport::Tcp,
            local: "127.0.0.1:50000".into(),
            peer: "127.0.0.1:65432".into(),
        });
        round_trip(ServerMsg::Sent {
            sock: 1,
            size: 5,
            at_us: 10,
        });
        round_trip(ServerMsg::Closed {
            sock: 1,
            by: ClosedBy::Peer,
            reason: "the server closed the connection".into(),
        });
        round_trip(ServerMsg::Error {
            sock: None,
            code: "bad_message".into(),
            message: "not JSON".into(),
        });
        round_trip(ServerMsg::Event {
            event: ServerEvent {
                demo: Demo::Auth,
                conn: 2,
                peer: "127.0.0.1:1".into(),
                at_us: 3,
                kind: EventKind::Verdict {
                    granted: true,
                    reason: None,
                },
            },
            sock: Some(4),
        });
        round_trip(ServerMsg::Status { sockets: 0 });
        round_trip(ServerMsg::Check {
            run: 3,
            msg: CheckMsg::StageFinished {
                stage: 2,
                passed: false,
                ms: 12,
            },
        });
    }

    #[test]
    fn binary_frames_round_trip() {
        let frame = encode_send(0x01020304, b"Hello");
        assert_eq!(&frame[..5], &[b'D', 1, 2, 3, 4]);
        assert_eq!(decode_send(&frame).unwrap(), (0x01020304, &b"Hello"[..]));
        assert_eq!(decode_send(b"D12"), Err(BinaryError::Short(3)));
        assert_eq!(decode_send(b"X1234"), Err(BinaryError::UnknownTag(b'X')));
        assert_eq!(decode_send(b""), Err(BinaryError::Short(0)));

        let mut frame = read_header(9, 1_000_001).to_vec();
        frame.extend_from_slice(b"World");
        let read = decode_read(&frame).unwrap();
        assert_eq!(
            (read.sock, read.at_us, read.data),
            (9, 1_000_001, &b"World"[..])
        );
        assert!(decode_read(&frame[..12]).is_err());
    }
}
