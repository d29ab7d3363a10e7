//! One measurement, as `loadgen` prints it and `cargo xtask bench` reads it.
//!
//! The producer and the consumer share these types, so a field renamed on one
//! side is a compile error on the other, and a line that lacks a figure fails
//! to parse instead of reading as 0. Each measurement is one JSON object on one
//! line; the bench it came from is the `"bench"` field:
//!
//! ```json
//! {"label":"socket-lab","secs":2.5,"ops":43063,"errors":0,"rate":17225.0,
//!  "latency":{"p50_us":53,"p90_us":67,"p99_us":86,"max_us":1651},
//!  "nofile":20000,"bench":"conn_rate","addr":"127.0.0.1:4000","concurrency":32}
//! ```
//!
//! Only `serde` is needed, so the bench's task runner can depend on this crate
//! without building the load generator's runtime.

use serde::{Deserialize, Serialize};

/// What one run of one loadgen mode measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The name given with `--label` (e.g. `socket-lab`); may be empty.
    pub label: String,
    /// How long the load ran, in seconds (to the millisecond).
    pub secs: f64,
    /// Operations that completed and checked out (connections, round trips, answers).
    pub ops: u64,
    /// Operations that failed: refused, reset, a wrong answer, a timeout.
    pub errors: u64,
    /// `ops / secs`, rounded to a whole number.
    pub rate: f64,
    /// The first failure in words, so a nonzero `errors` can be explained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Percentiles of the per-operation times; absent when nothing completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// The open-file limit loadgen ran with.
    pub nofile: u64,
    /// Which bench this was, and its own figures.
    #[serde(flatten)]
    pub bench: Bench,
}

/// Per-operation time percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// The median.
    pub p50_us: u32,
    /// The 90th percentile.
    pub p90_us: u32,
    /// The 99th percentile.
    pub p99_us: u32,
    /// The slowest operation.
    pub max_us: u32,
}

/// The bench a measurement belongs to, with the figures only it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "bench", rename_all = "snake_case")]
pub enum Bench {
    /// `loadgen conn-rate`: short connections per second.
    ConnRate(Load),
    /// `loadgen framed-rtt`: framed round trips per second.
    FramedRtt(Load),
    /// `loadgen hold`: idle connections held, then each asked once.
    Hold(Hold),
    /// `loadgen relay`: round trips through a WebSocket-to-TCP bridge.
    Relay(Relay),
    /// `loadgen watch`: one bridge session watching the kernel's socket table.
    Watch(Watch),
}

impl Bench {
    /// The name in the `"bench"` field (`conn_rate`, `framed_rtt`, `hold`, `relay`, `watch`).
    pub fn name(&self) -> &'static str {
        match self {
            Bench::ConnRate(_) => "conn_rate",
            Bench::FramedRtt(_) => "framed_rtt",
            Bench::Hold(_) => "hold",
            Bench::Relay(_) => "relay",
            Bench::Watch(_) => "watch",
        }
    }

    /// How many clients, connections or sessions ran at once (`None` for `hold`,
    /// which opens a bounded number at a time and then holds them all, and for
    /// `watch`, always one session).
    pub fn concurrency(&self) -> Option<u64> {
        match self {
            Bench::ConnRate(l) | Bench::FramedRtt(l) => Some(l.concurrency),
            Bench::Hold(_) | Bench::Watch(_) => None,
            Bench::Relay(r) => Some(r.concurrency),
        }
    }
}

/// The figures of a load against one TCP server address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    /// The server driven, `HOST:PORT`.
    pub addr: String,
    /// Clients (conn-rate) or connections (framed-rtt) at once.
    pub concurrency: u64,
}

/// The demo protocol a held connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Demo {
    /// One line in, the same line upper-cased back, then close.
    Uppercase,
    /// Length-prefixed JSON frames, echoed.
    Framed,
}

/// What `loadgen hold` saw: connections opened, held and answered, and the
/// server's memory along the way.
///
/// A run that overstays its deadline reports its error and zero figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// The server, `HOST:PORT`.
    pub addr: String,
    /// The protocol spoken.
    pub kind: Demo,
    /// Connections asked for.
    pub conns: u64,
    /// Connections that opened.
    pub opened: u64,
    /// Connections that answered their question after the hold.
    pub answered: u64,
    /// Seconds opening took.
    pub open_secs: f64,
    /// Seconds the connections were held idle.
    pub hold_secs: f64,
    /// Seconds asking every connection took.
    pub answer_secs: f64,
    /// Server RSS growth per opened connection while held, bytes.
    pub bytes_per_conn: f64,
    /// The server's memory before anything was opened.
    pub before: Memory,
    /// Just after every connection opened.
    pub open: Memory,
    /// At the end of the hold.
    pub held: Memory,
    /// The largest seen while answering.
    pub peak: Memory,
}

/// The bridge a relay measurement went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bridge {
    /// socket-lab's `/ws` (JSON control messages, then binary data).
    SocketLab,
    /// websockify's wire format: binary frames of raw bytes (also the copy-only floor's).
    Websockify,
}

/// What `loadgen relay` saw through one bridge.
///
/// A run that overstays its deadline reports its error and zero figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relay {
    /// The client side's wire format.
    pub bridge: Bridge,
    /// The WebSocket URL.
    pub url: String,
    /// Sessions asked for, relaying at once.
    pub concurrency: u64,
    /// Sessions that opened.
    pub opened: u64,
    /// Bytes per message.
    pub size: u64,
    /// The bridge's memory before any session opened.
    pub before: Memory,
    /// With every session open, before relaying.
    pub open: Memory,
    /// The largest seen while relaying.
    pub peak: Memory,
}

/// What `loadgen watch` saw: one bridge session, as a kernel lab page opens
/// it, asking for the kernel's view of the demo ports (or, at 0 Hz, only
/// holding the session open, the baseline beside it). Its `ops` are the
/// kernel messages received, its latency the wait for the first snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// The WebSocket URL.
    pub url: String,
    /// Samples per second asked for; 0: the session only stayed open.
    pub hz: u32,
    /// Sockets in the first snapshot (0 when none arrived or none was asked for).
    pub snapshot_sockets: u64,
    /// Kernel messages after the snapshot (changes, or a new snapshot).
    pub changes: u64,
}

/// A server's memory as the kernel counts it (`/proc`), in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// `VmRSS` of the process itself.
    pub rss_kb: u64,
    /// Proportional set size summed over the process and its descendants:
    /// pages shared between forked children count once, not once per child.
    pub tree_pss_kb: u64,
    /// Processes in that tree.
    pub procs: u64,
}

impl Memory {
    /// The larger of each figure.
    pub fn max(self, other: Memory) -> Memory {
        Memory {
            rss_kb: self.rss_kb.max(other.rss_kb),
            tree_pss_kb: self.tree_pss_kb.max(other.tree_pss_kb),
            procs: self.procs.max(other.procs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn_rate() -> Measurement {
        Measurement {
            label: "socket-lab".into(),
            secs: 2.5,
            ops: 1000,
            errors: 0,
            rate: 400.0,
            first_error: None,
            latency: Some(Latency {
                p50_us: 53,
                p90_us: 67,
                p99_us: 86,
                max_us: 1651,
            }),
            nofile: 20_000,
            bench: Bench::ConnRate(Load {
                addr: "127.0.0.1:4000".into(),
                concurrency: 32,
            }),
        }
    }

    #[test]
    fn a_line_round_trips_with_its_bench_named() {
        let m = conn_rate();
        let line = serde_json::to_string(&m).unwrap();
        assert!(line.contains(r#""bench":"conn_rate""#), "{line}");
        assert!(!line.contains("first_error"), "{line}");
        assert_eq!(serde_json::from_str::<Measurement>(&line).unwrap(), m);
        assert_eq!(
            (m.bench.name(), m.bench.concurrency()),
            ("conn_rate", Some(32))
        );
    }

    #[test]
    fn the_documented_line_parses() {
        let line = r#"{"label":"socket-lab","secs":2.5,"ops":43063,"errors":0,"rate":17225.0,
            "latency":{"p50_us":53,"p90_us":67,"p99_us":86,"max_us":1651},
            "nofile":20000,"bench":"conn_rate","addr":"127.0.0.1:4000","concurrency":32}"#;
        let m: Measurement = serde_json::from_str(line).unwrap();
        assert_eq!(m.ops, 43063);
    }

    #[test]
    fn a_missing_figure_is_an_error_not_a_zero() {
        let mut v = serde_json::to_value(conn_rate()).unwrap();
        v.as_object_mut().unwrap().remove("concurrency");
        assert!(serde_json::from_value::<Measurement>(v).is_err());
        let mut v = serde_json::to_value(conn_rate()).unwrap();
        v.as_object_mut().unwrap().remove("ops");
        assert!(serde_json::from_value::<Measurement>(v).is_err());
        let mut v = serde_json::to_value(conn_rate()).unwrap();
        v["bench"] = "no_such_bench".into();
        assert!(serde_json::from_value::<Measurement>(v).is_err());
    }

    #[test]
    fn hold_relay_and_watch_round_trip() {
        let mem = Memory {
            rss_kb: 6468,
            tree_pss_kb: 4579,
            procs: 1,
        };
        for bench in [
            Bench::Hold(Hold {
                addr: "127.0.0.1:1".into(),
                kind: Demo::Framed,
                conns: 10,
                opened: 10,
                answered: 9,
                open_secs: 0.5,
                hold_secs: 2.0,
                answer_secs: 0.1,
                bytes_per_conn: 3000.0,
                before: mem,
                open: mem,
                held: mem,
                peak: mem,
            }),
            Bench::Relay(Relay {
                bridge: Bridge::SocketLab,
                url: "ws://127.0.0.1:2/ws".into(),
                concurrency: 32,
                opened: 32,
                size: 128,
                before: mem,
                open: mem,
                peak: mem.max(Memory {
                    procs: 3,
                    ..Memory::default()
                }),
            }),
            Bench::Watch(Watch {
                url: "ws://127.0.0.1:2/ws".into(),
                hz: 10,
                snapshot_sockets: 2002,
                changes: 3,
            }),
        ] {
            let m = Measurement {
                latency: None,
                bench,
                ..conn_rate()
            };
            let line = serde_json::to_string(&m).unwrap();
            assert_eq!(
                serde_json::from_str::<Measurement>(&line).unwrap(),
                m,
                "{line}"
            );
        }
    }
}
