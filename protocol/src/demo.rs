//! The demo servers' catalogue and reply logic, without any socket.
//!
//! Each demo of the course answers in a fixed way (the notes' Python servers
//! define it). Keeping the answers here means the tokio servers and the
//! in-browser simulation cannot drift apart: both call these functions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::frame::{self, FrameError};

/// How much a demo reads at a time, as in the notes' `recv(1024)`.
pub const READ_BUF: usize = 1024;

/// What `tcp-echo` puts before each read it sends back.
pub const ACK_PREFIX: &[u8] = b"ACK: ";

/// What `udp-echo` answers to every datagram.
pub const UDP_REPLY: &[u8] = b"Message received";

/// The labs a page can mount with `<socket-lab lab="…">` (and `/embed/<lab>`).
pub const LABS: [&str; 13] = [
    "tcp-echo",
    "udp-echo",
    "sticky",
    "framing",
    "auth",
    "concurrency",
    "ports",
    "layers",
    "events",
    "check",
    "kernel",
    "chat",
    "tls",
];

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// A connected byte stream.
    Tcp,
    /// Independent datagrams.
    Udp,
}

impl Transport {
    /// `tcp` or `udp`, as used in URLs like `tcp://127.0.0.1:65432`.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// Declares [`Demo`] and counts its variants, so that the registry must have
/// exactly one line per demo: `REGISTRY` is a `[DemoSpec; Demo::COUNT]`, and
/// a demo without its line does not compile.
macro_rules! demo_enum {
    ($(#[$meta:meta])* pub enum Demo { $($(#[$vmeta:meta])* $variant:ident,)* }) => {
        $(#[$meta])*
        pub enum Demo {
            $($(#[$vmeta])* $variant,)*
        }

        impl Demo {
            /// How many demos there are.
            pub const COUNT: usize = [$(Demo::$variant),*].len();
        }
    };
}

demo_enum! {
    /// The demo servers.
    ///
    /// What each one is — its name, transport, default port, how it serves, one
    /// line on what it does — is its line in [`REGISTRY`]; everything else (the
    /// flags, the error messages that list names, the spawn step, the bridge's
    /// list) is derived from that table.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Demo {
        /// Iterative TCP echo: `ACK: ` + each read.
        TcpEcho,
        /// UDP: `Message received` for each datagram.
        UdpEcho,
        /// Concurrent TCP: one read, trimmed, upper-cased, close.
        Uppercase,
        /// Length-prefixed JSON frames.
        Framed,
        /// HMAC-SHA256 challenge-response.
        Auth,
        /// A receiver with a settable read size and read delay.
        Sticky,
        /// A chat room: each line a client sends goes to all the others.
        Chat,
        /// TCP echo behind TLS: `ACK: ` + each read, encrypted.
        TlsEcho,
    }
}

/// How a demo serves its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// One connection at a time, like the notes' `while True: accept()`;
    /// the next client waits in the listen backlog.
    OneAtATime,
    /// Every connection in a task of its own, up to `--max-connections`.
    TaskPerConnection,
    /// UDP: datagrams, no connections.
    Datagrams,
}

/// One demo, as the registry describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSpec {
    /// Which demo.
    pub demo: Demo,
    /// Its name in flags, URLs and bridge messages.
    pub name: &'static str,
    /// TCP or UDP.
    pub transport: Transport,
    /// The port the notes use (and our default).
    pub default_port: u16,
    /// How it serves.
    pub serving: Serving,
    /// One line on what it does.
    pub summary: &'static str,
}

/// Every demo, in the order the course meets them (and of [`Demo`]'s variants).
/// Adding a demo is a variant, a line here, its conversation in
/// [`crate::conversation`], its lab and its chapter.
pub const REGISTRY: [DemoSpec; Demo::COUNT] = [
    DemoSpec {
        demo: Demo::TcpEcho,
        name: "tcp-echo",
        transport: Transport::Tcp,
        default_port: 65432,
        serving: Serving::OneAtATime,
        summary: "iterative TCP echo: replies ACK: + each read, one client at a time",
    },
    DemoSpec {
        demo: Demo::UdpEcho,
        name: "udp-echo",
        transport: Transport::Udp,
        default_port: 9999,
        serving: Serving::Datagrams,
        summary: "UDP: replies Message received to every datagram",
    },
    DemoSpec {
        demo: Demo::Uppercase,
        name: "uppercase",
        transport: Transport::Tcp,
        default_port: 9999,
        serving: Serving::TaskPerConnection,
        summary: "concurrent TCP: reads once, replies upper-cased, closes",
    },
    DemoSpec {
        demo: Demo::Framed,
        name: "framed",
        transport: Transport::Tcp,
        default_port: 5000,
        serving: Serving::TaskPerConnection,
        summary: "length-prefixed JSON: a reply frame for every frame",
    },
    DemoSpec {
        demo: Demo::Auth,
        name: "auth",
        transport: Transport::Tcp,
        default_port: 8080,
        serving: Serving::TaskPerConnection,
        summary: "HMAC-SHA256 challenge-response: Access Granted or Access Denied",
    },
    DemoSpec {
        demo: Demo::Sticky,
        name: "sticky",
        transport: Transport::Tcp,
        default_port: 5001,
        serving: Serving::TaskPerConnection,
        summary: "a receiver whose read size and delay the lab sets, to show merged and split reads",
    },
    DemoSpec {
        demo: Demo::Chat,
        name: "chat",
        transport: Transport::Tcp,
        default_port: 9034,
        serving: Serving::TaskPerConnection,
        summary: "a chat room: every line a client sends goes to every other client",
    },
    DemoSpec {
        demo: Demo::TlsEcho,
        name: "tls-echo",
        transport: Transport::Tcp,
        default_port: 8443,
        serving: Serving::TaskPerConnection,
        summary: "TCP echo behind TLS: a certificate made at start, then ACK: + each read",
    },
];

impl Demo {
    /// Every demo, in the order the course meets them.
    pub const ALL: [Demo; REGISTRY.len()] = {
        let mut all = [Demo::TcpEcho; REGISTRY.len()];
        let mut i = 0;
        while i < REGISTRY.len() {
            all[i] = REGISTRY[i].demo;
            i += 1;
        }
        all
    };

    /// The demo's line in the registry.
    pub fn spec(self) -> &'static DemoSpec {
        // The registry lists the variants in order (a test checks it).
        &REGISTRY[self as usize]
    }

    /// The demo's name, as used in flags, URLs and bridge messages.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Whether the demo speaks TCP or UDP.
    pub fn transport(self) -> Transport {
        self.spec().transport
    }

    /// The port the notes use (and our default).
    pub fn default_port(self) -> u16 {
        self.spec().default_port
    }

    /// How the demo serves its clients.
    pub fn serving(self) -> Serving {
        self.spec().serving
    }

    /// One line on what the demo does.
    pub fn summary(self) -> &'static str {
        self.spec().summary
    }

    /// The names of every demo, for messages: `tcp-echo, udp-echo, … and sticky`.
    pub fn names() -> String {
        let names: Vec<&str> = REGISTRY.iter().map(|s| s.name).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

impl fmt::Display for Demo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A demo name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDemo(pub String);

impl fmt::Display for UnknownDemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "there is no demo called {:?}; the demos are {}",
            self.0,
            Demo::names()
        )
    }
}

impl std::error::Error for UnknownDemo {}

impl FromStr for Demo {
    type Err = UnknownDemo;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Demo::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDemo(s.to_owned()))
    }
}

/// `tcp-echo`: the reply to one read.
pub fn echo_reply(read: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ACK_PREFIX.len() + read.len());
    out.extend_from_slice(ACK_PREFIX);
    out.extend_from_slice(read);
    out
}

/// `uppercase`: the reply to the one read, like Python's `data.strip().upper()`
/// on bytes (ASCII whitespace trimmed, ASCII letters upper-cased).
pub fn uppercase_reply(read: &[u8]) -> Vec<u8> {
    read.trim_ascii().to_ascii_uppercase()
}

/// What `udp-echo` made of one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatagramSeen {
    /// The bytes the server's 1024-byte buffer kept.
    pub kept: Vec<u8>,
    /// The datagram's real size.
    pub size: usize,
    /// Whether the buffer cut it short.
    pub truncated: bool,
}

/// `udp-echo`: what a `recvfrom(1024)` keeps of a datagram of any size.
pub fn udp_receive(datagram: &[u8]) -> DatagramSeen {
    let kept = &datagram[..datagram.len().min(READ_BUF)];
    DatagramSeen {
        kept: kept.to_vec(),
        size: datagram.len(),
        truncated: datagram.len() > READ_BUF,
    }
}

/// `framed`: what the server answers to one frame's payload, and what it
/// made of it (the decoded JSON, or why it was rejected).
///
/// `index` counts frames on the connection from 1.
pub fn framed_reply(payload: &[u8], index: u64) -> (Value, Result<Value, FrameError>) {
    match frame::decode_json::<Value>(payload) {
        Ok(request) => (
            json!({
                "echo": request.clone(),
                "seen": {"frame": index, "header": format!("{:08x}", payload.len()), "payload_bytes": payload.len()},
            }),
            Ok(request),
        ),
        Err(err) => (error_reply(&err), Err(err)),
    }
}

/// `framed`: the error frame for a frame it could not use.
pub fn error_reply(err: &FrameError) -> Value {
    json!({"error": err.code(), "message": err.to_string()})
}

/// What the `framed` server did with the bytes it was fed, one step at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum FramedStep {
    /// A whole frame of JSON arrived; `reply` is the frame to send back.
    Decoded {
        /// Payload length from the header.
        len: usize,
        /// The request, parsed.
        json: Value,
        /// The reply frame (header included).
        reply: Vec<u8>,
    },
    /// A whole frame arrived but was not UTF-8 JSON; the stream goes on.
    Rejected {
        /// Why.
        error: FrameError,
        /// The error frame to send back.
        reply: Vec<u8>,
    },
    /// The header was unacceptable: send `reply`, then close.
    Fatal {
        /// Why.
        error: FrameError,
        /// The error frame to send back.
        reply: Vec<u8>,
    },
}

/// The `framed` demo as a sans-IO state machine: feed it the bytes each read
/// returned, take [`FramedStep`]s until `None`, send their replies. The tokio
/// server and the in-page simulation both drive this one implementation.
#[derive(Debug, Clone)]
pub struct FramedServer {
    decoder: frame::FrameDecoder,
    index: u64,
    failed: bool,
}

impl FramedServer {
    /// A server that accepts payloads up to `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self {
            decoder: frame::FrameDecoder::new(max_frame),
            index: 0,
            failed: false,
        }
    }

    /// Adds bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.decoder.feed(bytes);
        }
    }

    /// The next thing to do, or `None` when more bytes are needed (or after a
    /// [`FramedStep::Fatal`], when the connection should be closed).
    pub fn next_step(&mut self) -> Option<FramedStep> {
        if self.failed {
            return None;
        }
        let encode = |v: &Value| frame::encode_json(v).unwrap_or_default();
        match self.decoder.decode() {
            Ok(None) => None,
            Ok(Some(payload)) => {
                self.index += 1;
                let (reply, seen) = framed_reply(&payload, self.index);
                Some(match seen {
                    Ok(json) => FramedStep::Decoded {
                        len: payload.len(),
                        json,
                        reply: encode(&reply),
                    },
                    Err(error) => FramedStep::Rejected {
                        error,
                        reply: encode(&reply),
                    },
                })
            }
            Err(error) => {
                self.failed = true;
                let reply = encode(&error_reply(&error));
                Some(FramedStep::Fatal { error, reply })
            }
        }
    }

    /// Memory this connection holds for frames in progress, in bytes.
    pub fn held(&self) -> usize {
        self.decoder.reserved()
    }

    /// Call when the client closed: an error if it stopped mid-frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.failed {
            Ok(())
        } else {
            self.decoder.finish()
        }
    }
}

/// Per-connection settings of the `sticky` receiver.
///
/// On the wire it is an object with exactly these two fields: an array or an
/// extra field is refused, like everywhere else in the bridge protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Map<String, Value>")]
pub struct StickyOptions {
    /// How many bytes each `recv` asks for (1 to 65536).
    pub read_size: usize,
    /// How long to wait before each `recv`, in milliseconds (0 to 10000).
    pub read_delay_ms: u32,
}

impl Default for StickyOptions {
    fn default() -> Self {
        Self {
            read_size: READ_BUF,
            read_delay_ms: 0,
        }
    }
}

impl TryFrom<serde_json::Map<String, Value>> for StickyOptions {
    type Error = String;

    fn try_from(map: serde_json::Map<String, Value>) -> Result<Self, Self::Error> {
        /// A JSON number that fits `T`, or `err`.
        fn whole<T: TryFrom<u64>>(value: &Value, err: &str) -> Result<Option<T>, String> {
            value
                .as_u64()
                .and_then(|n| T::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| err.to_owned())
        }
        let mut read_size: Option<usize> = None;
        let mut read_delay_ms: Option<u32> = None;
        for (key, value) in map {
            match key.as_str() {
                "read_size" => {
                    read_size = whole(&value, "read_size must be a whole number of bytes")?;
                }
                "read_delay_ms" => {
                    read_delay_ms = whole(
                        &value,
                        "read_delay_ms must be a whole number of milliseconds",
                    )?;
                }
                other => {
                    return Err(format!(
                        "unknown field {other:?} in sticky; it has read_size and read_delay_ms"
                    ));
                }
            }
        }
        Ok(Self {
            read_size: read_size.ok_or("sticky needs read_size")?,
            read_delay_ms: read_delay_ms.ok_or("sticky needs read_delay_ms")?,
        })
    }
}

/// Sticky options out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StickyOptionsError {
    /// `read_size` not in 1..=65536.
    #[error("read_size must be between 1 and 65536 bytes, not {0}")]
    ReadSize(usize),
    /// `read_delay_ms` over 10 s.
    #[error("read_delay_ms must be at most 10000 (10 s), not {0}")]
    ReadDelay(u32),
}

impl StickyOptions {
    /// Largest read size accepted.
    pub const MAX_READ_SIZE: usize = 65536;
    /// Longest read delay accepted, in milliseconds.
    pub const MAX_DELAY_MS: u32 = 10_000;

    /// Checks the ranges.
    pub fn validate(self) -> Result<Self, StickyOptionsError> {
        if self.read_size == 0 || self.read_size > Self::MAX_READ_SIZE {
            return Err(StickyOptionsError::ReadSize(self.read_size));
        }
        if self.read_delay_ms > Self::MAX_DELAY_MS {
            return Err(StickyOptionsError::ReadDelay(self.read_delay_ms));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_registry_lists_every_variant_in_order() {
        // Exhaustive: a new variant does not compile until it is placed here,
        // and this test fails until it has its line in the registry.
        fn index(d: Demo) -> usize {
            match d {
                Demo::TcpEcho => 0,
                Demo::UdpEcho => 1,
                Demo::Uppercase => 2,
                Demo::Framed => 3,
                Demo::Auth => 4,
                Demo::Sticky => 5,
                Demo::Chat => 6,
                Demo::TlsEcho => 7,
            }
        }
        for (i, spec) in REGISTRY.iter().enumerate() {
            assert_eq!(index(spec.demo), i, "{} is out of order", spec.name);
            assert_eq!(spec.demo as usize, i);
            assert_eq!(
                spec.transport == Transport::Udp,
                spec.serving == Serving::Datagrams,
                "{}: UDP demos serve datagrams, TCP demos connections",
                spec.name
            );
        }
        assert_eq!(
            Demo::names(),
            "tcp-echo, udp-echo, uppercase, framed, auth, sticky, chat and tls-echo"
        );
    }

    #[test]
    fn names_round_trip() {
        for d in Demo::ALL {
            assert_eq!(d.name().parse::<Demo>().unwrap(), d);
            assert_eq!(serde_json::to_value(d).unwrap(), json!(d.name()));
        }
        let err = "ftp".parse::<Demo>().unwrap_err();
        assert!(err.to_string().contains("tcp-echo"));
    }

    #[test]
    fn replies_match_the_notes() {
        assert_eq!(echo_reply(b"Hello, Server"), b"ACK: Hello, Server");
        assert_eq!(uppercase_reply(b"  hello\r\n"), b"HELLO");
        assert_eq!(uppercase_reply("héllo".as_bytes()), "HéLLO".as_bytes());
        let seen = udp_receive(&[b'x'; 1500]);
        assert_eq!(
            (seen.kept.len(), seen.size, seen.truncated),
            (1024, 1500, true)
        );
        assert!(!udp_receive(b"Hello via UDP").truncated);
    }

    #[test]
    fn framed_echoes_or_explains() {
        let (reply, seen) = framed_reply(br#"{"msg": "Hello"}"#, 1);
        assert_eq!(seen.unwrap(), json!({"msg": "Hello"}));
        assert_eq!(reply["echo"], json!({"msg": "Hello"}));
        assert_eq!(reply["seen"]["payload_bytes"], json!(16));
        let (reply, seen) = framed_reply(b"{nope", 2);
        assert!(seen.is_err());
        assert_eq!(reply["error"], json!("invalid_json"));
    }

    #[test]
    fn framed_server_steps_through_good_bad_and_fatal_frames() {
        let mut server = FramedServer::new(64);
        let mut bytes = frame::encode(br#"{"msg": "Hello"}"#).unwrap();
        bytes.extend(frame::encode(b"{nope").unwrap());
        bytes.extend([0, 0, 1, 0]); // claims 256 bytes, over the limit of 64
        for b in &bytes {
            server.feed(&[*b]); // one byte at a time, as a socket may deliver them
        }
        let Some(FramedStep::Decoded {
            len: 16,
            json,
            reply,
        }) = server.next_step()
        else {
            panic!("first frame decodes")
        };
        assert_eq!(json, json!({"msg": "Hello"}));
        assert_eq!(frame::peek_len(&reply), Some(reply.len() as u32 - 4));
        assert!(matches!(
            server.next_step(),
            Some(FramedStep::Rejected {
                error: FrameError::InvalidJson { .. },
                ..
            })
        ));
        assert!(matches!(
            server.next_step(),
            Some(FramedStep::Fatal {
                error: FrameError::TooLarge {
                    claimed: 256,
                    limit: 64
                },
                ..
            })
        ));
        assert_eq!(server.next_step(), None);
        assert_eq!(server.finish(), Ok(()));

        let mut server = FramedServer::new(64);
        server.feed(&[0, 0, 0, 9, b'{']);
        assert_eq!(server.next_step(), None);
        assert!(server.finish().is_err(), "closing mid-frame is reported");
    }

    #[test]
    fn sticky_options_are_checked() {
        assert!(StickyOptions::default().validate().is_ok());
        let bad = StickyOptions {
            read_size: 0,
            read_delay_ms: 0,
        };
        assert_eq!(bad.validate(), Err(StickyOptionsError::ReadSize(0)));
        let slow = StickyOptions {
            read_size: 3,
            read_delay_ms: 60_000,
        };
        assert_eq!(slow.validate(), Err(StickyOptionsError::ReadDelay(60_000)));
    }
}
