//! The in-page network: a deterministic model of a TCP byte stream, of UDP
//! datagrams and of an iterative versus a concurrent server.
//!
//! When no real server is running, the labs fall back to this file. It works in
//! virtual microseconds and draws randomness only from a seeded [`SimRng`], so
//! the same inputs always give the same trace, in the browser and in tests.
//!
//! The TCP model exists to be honest about "sticky packets" (two `send`s
//! arriving as one `recv`, or one `send` arriving in pieces). Three things
//! decide where a reader's `recv` boundaries fall, and the model has a knob for
//! each:
//!
//! 1. **The sender** ([`TcpSimConfig::nagle`], [`TcpSimConfig::mss`]). With
//!    Nagle's algorithm on, small writes made while earlier data is still
//!    un-ACKed wait and leave together in one segment; a write larger than the
//!    maximum segment size leaves as several segments.
//! 2. **The reader's timing** ([`TcpSimConfig::read_delay_us`]). Segments that
//!    arrive while the application is busy pile up in the kernel's receive
//!    buffer, and the next `recv` returns all of them at once, however they
//!    travelled. This merges writes even with Nagle off.
//! 3. **The reader's size** ([`TcpSimConfig::read_size`]). A `recv(n)` never
//!    returns more than `n` bytes, so a large message is split across reads.
//!
//! Whatever the knobs, the bytes read, concatenated, are the bytes written,
//! concatenated: TCP keeps order and content, never boundaries. UDP is the
//! opposite: each datagram arrives whole or not at all (and may be cut to the
//! reader's buffer), but datagrams can be lost or overtake each other.
//!
//! Simplifications, so a newcomer is not misled: the receiver ACKs every
//! segment at once (real stacks delay ACKs by up to tens of milliseconds,
//! which makes Nagle hold data longer), nothing is lost or retransmitted on the
//! TCP side, latency is constant, and the receive buffer and congestion window
//! are unbounded.

use std::collections::VecDeque;

use rand_core::{RngCore, SeedableRng, impls};
use serde::{Deserialize, Serialize};

/// A small deterministic random number generator (SplitMix64).
///
/// The simulation needs randomness (which datagram is lost?) but the protocol
/// crate takes none from the operating system: the seed decides everything, so
/// a lab can replay a run exactly. SplitMix64 is tiny, fast and good enough for
/// a simulation; it is not for cryptography.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    /// A generator whose whole future is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A uniform float in `[0, 1)`, from the top 53 bits of the next draw.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p`. Values of `p` at or below 0 (or NaN) are
    /// never true, at or above 1 always true.
    ///
    /// Always consumes exactly one draw, whatever `p` is, so changing one
    /// probability does not shift the decisions that come after it.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A uniform integer in `0..=max`.
    ///
    /// Uses the multiply-high method: the bias is below 2^-64 per value, far
    /// too small to matter for a simulation. Always consumes one draw.
    pub fn up_to(&mut self, max: u64) -> u64 {
        let span = u128::from(max) + 1;
        ((u128::from(self.next_u64()) * span) >> 64) as u64
    }
}

impl RngCore for SimRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        // SplitMix64 (Steele, Lea and Flood; constants from Vigna's reference code).
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        impls::fill_bytes_via_next(self, dst)
    }
}

impl SeedableRng for SimRng {
    type Seed = [u8; 8];

    fn from_seed(seed: Self::Seed) -> Self {
        Self::new(u64::from_le_bytes(seed))
    }

    /// Same as [`SimRng::new`], so a `u64` seed means one thing everywhere.
    fn seed_from_u64(state: u64) -> Self {
        Self::new(state)
    }
}

/// The knobs of the TCP model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TcpSimConfig {
    /// Nagle's algorithm on (the socket default; `TCP_NODELAY` turns it off).
    pub nagle: bool,
    /// Maximum segment size in bytes, e.g. 1460 on Ethernet. 0 counts as 1.
    pub mss: usize,
    /// One-way latency. A segment arrives this long after it is sent, and its
    /// ACK comes back this long after it arrives (so RTT = 2 × `one_way_us`).
    pub one_way_us: u64,
    /// Bytes the receiver asks for in each `recv`. 0 counts as 1.
    pub read_size: usize,
    /// How long the receiver sleeps before each `recv`, like the sticky demo.
    pub read_delay_us: u64,
}

impl Default for TcpSimConfig {
    fn default() -> Self {
        Self {
            nagle: true,
            mss: 1460,
            one_way_us: 500,
            read_size: 1024,
            read_delay_us: 0,
        }
    }
}

/// One TCP segment on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// When the sender put it on the wire.
    pub sent_at_us: u64,
    /// When it reached the receiver's kernel buffer.
    pub arrive_at_us: u64,
    /// Its payload (never empty, at most one MSS).
    pub data: Vec<u8>,
}

/// What one `recv` returned, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRead {
    /// When the `recv` returned.
    pub at_us: u64,
    /// The bytes it returned (never empty, at most `read_size`).
    pub data: Vec<u8>,
}

/// Everything that happened in one TCP run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpTrace {
    /// The segments, in the order they were sent (which is also arrival order).
    pub segments: Vec<Segment>,
    /// The receiver's reads, in order.
    pub reads: Vec<SimRead>,
}

/// The sending side: a send buffer, the un-ACKed segments, and the segments sent.
struct Sender {
    mss: usize,
    one_way_us: u64,
    /// Bytes written but held back by Nagle's algorithm.
    pending: Vec<u8>,
    /// When the ACK of each un-ACKed segment comes back, oldest first.
    unacked: VecDeque<u64>,
    segments: Vec<Segment>,
}

impl Sender {
    /// Puts `bytes` on the wire at `now`, cut into MSS-sized segments.
    fn transmit(&mut self, now: u64, bytes: &[u8]) {
        for chunk in bytes.chunks(self.mss) {
            let arrive_at_us = now.saturating_add(self.one_way_us);
            self.unacked
                .push_back(arrive_at_us.saturating_add(self.one_way_us));
            self.segments.push(Segment {
                sent_at_us: now,
                arrive_at_us,
                data: chunk.to_vec(),
            });
        }
    }

    /// Takes in every ACK that has come back by `now`. When the last un-ACKed
    /// segment is ACKed, Nagle lets the held-back bytes go, coalesced.
    fn take_acks(&mut self, now: u64) {
        while let Some(&ack_at) = self.unacked.front() {
            if ack_at > now {
                break;
            }
            self.unacked.pop_front();
            if self.unacked.is_empty() && !self.pending.is_empty() {
                let held = std::mem::take(&mut self.pending);
                self.transmit(ack_at, &held);
            }
        }
    }

    /// The application calls `send(bytes)` at `now` (ACKs due by `now` already taken).
    fn write(&mut self, now: u64, bytes: &[u8], nagle: bool) {
        if !nagle || self.unacked.is_empty() {
            // Nothing in flight (or no Nagle): out at once. With Nagle on and
            // nothing in flight the send buffer is empty too, so order is kept.
            self.transmit(now, bytes);
            return;
        }
        // Nagle: small data waits while earlier data is un-ACKed, but a full
        // segment's worth never waits.
        self.pending.extend_from_slice(bytes);
        let full = self.pending.len() / self.mss * self.mss;
        if full > 0 {
            let ready: Vec<u8> = self.pending.drain(..full).collect();
            self.transmit(now, &ready);
        }
    }
}

/// Simulates one TCP connection: the sender's writes, the segments on the
/// wire, and what each of the receiver's `recv` calls returned.
///
/// `writes` are `(time_us, bytes)` in time order; a time earlier than the one
/// before it is treated as equal to it, because a stream's bytes go out in the
/// order they were written. An ACK due at the same instant as a write is taken
/// in before the write.
///
/// The receiver runs `loop { sleep(read_delay); wait until ≥ 1 byte is
/// buffered; recv(read_size) }` from time 0 until every byte has been read. A
/// `recv` returns `min(buffered, read_size)` bytes; reading takes no time.
pub fn simulate_tcp(cfg: &TcpSimConfig, writes: &[(u64, Vec<u8>)]) -> TcpTrace {
    let mut sender = Sender {
        mss: cfg.mss.max(1),
        one_way_us: cfg.one_way_us,
        pending: Vec::new(),
        unacked: VecDeque::new(),
        segments: Vec::new(),
    };
    let mut now = 0;
    for (at, bytes) in writes {
        now = now.max(*at);
        sender.take_acks(now);
        sender.write(now, bytes, cfg.nagle);
    }
    // After the last write, whatever Nagle still holds leaves with the final ACK.
    sender.take_acks(u64::MAX);
    debug_assert!(sender.pending.is_empty());

    let reads = receive(&sender.segments, cfg.read_size.max(1), cfg.read_delay_us);
    TcpTrace {
        segments: sender.segments,
        reads,
    }
}

/// The receiving application's read loop over the segments' arrivals.
fn receive(segments: &[Segment], read_size: usize, read_delay_us: u64) -> Vec<SimRead> {
    debug_assert!(
        segments
            .windows(2)
            .all(|w| w[0].arrive_at_us <= w[1].arrive_at_us)
    );
    let stream: Vec<u8> = segments
        .iter()
        .flat_map(|s| s.data.iter().copied())
        .collect();
    let mut reads = Vec::new();
    let mut now: u64 = 0;
    let mut next = 0; // first segment not yet in the kernel buffer
    let mut arrived = 0; // bytes that reached the kernel buffer
    let mut consumed = 0; // bytes the application has read
    // Moves every segment that has landed by `now` into the kernel buffer.
    let absorb = |now: u64, next: &mut usize, arrived: &mut usize| {
        while let Some(seg) = segments.get(*next).filter(|s| s.arrive_at_us <= now) {
            *arrived += seg.data.len();
            *next += 1;
        }
    };
    while consumed < stream.len() {
        now = now.saturating_add(read_delay_us);
        absorb(now, &mut next, &mut arrived);
        if arrived == consumed {
            // recv blocks until the next segment lands. Bytes remain, so one does.
            now = segments[next].arrive_at_us;
            absorb(now, &mut next, &mut arrived);
        }
        let n = (arrived - consumed).min(read_size);
        reads.push(SimRead {
            at_us: now,
            data: stream[consumed..consumed + n].to_vec(),
        });
        consumed += n;
    }
    reads
}

/// The knobs of the UDP model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UdpSimConfig {
    /// Probability that a datagram is lost, 0 to 1.
    pub loss: f64,
    /// Probability that a datagram is held back by 3 × `one_way_us`, so later
    /// ones overtake it, 0 to 1.
    pub reorder: f64,
    /// One-way latency.
    pub one_way_us: u64,
    /// Extra latency per datagram, uniform in `0..=jitter_us`. Jitter larger
    /// than the gap between sends also reorders.
    pub jitter_us: u64,
    /// The receiver's buffer, as in `recvfrom(buffer)`: longer datagrams are cut.
    pub buffer: usize,
    /// Seed of the [`SimRng`] that decides loss, reordering and jitter.
    pub seed: u64,
}

impl Default for UdpSimConfig {
    fn default() -> Self {
        Self {
            loss: 0.0,
            reorder: 0.0,
            one_way_us: 500,
            jitter_us: 0,
            buffer: 1024,
            seed: 1,
        }
    }
}

/// What became of one datagram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpDelivery {
    /// Its position among the datagrams sent, from 0.
    pub index: usize,
    /// When it was sent.
    pub sent_at_us: u64,
    /// When it arrived; `None` if it was lost.
    pub arrive_at_us: Option<u64>,
    /// Its real size in bytes.
    pub size: usize,
    /// The bytes the receiver's buffer kept (at most `buffer`; empty if lost).
    pub kept: Vec<u8>,
    /// Whether the buffer cut it short (never for a lost datagram).
    pub truncated: bool,
}

/// Simulates independent datagrams `(time_us, bytes)` through a lossy network.
///
/// Returns one delivery per datagram: those that arrived sorted by arrival
/// time (ties in send order), then the lost ones in send order. Each
/// datagram's fate takes exactly three draws from the seeded [`SimRng`] (loss,
/// reorder, jitter), so the same seed gives the same run, and raising `loss`
/// with the same seed loses the same datagrams and then some.
///
/// Unlike TCP, a delivered datagram is always one whole read: never merged
/// with another, never split across reads; only cut to the buffer.
pub fn simulate_udp(cfg: &UdpSimConfig, datagrams: &[(u64, Vec<u8>)]) -> Vec<UdpDelivery> {
    let mut rng = SimRng::new(cfg.seed);
    let mut delivered = Vec::new();
    let mut lost = Vec::new();
    for (index, (sent_at_us, bytes)) in datagrams.iter().enumerate() {
        let is_lost = rng.chance(cfg.loss);
        let held_back = rng.chance(cfg.reorder);
        let jitter = rng.up_to(cfg.jitter_us);
        let mut delivery = UdpDelivery {
            index,
            sent_at_us: *sent_at_us,
            arrive_at_us: None,
            size: bytes.len(),
            kept: Vec::new(),
            truncated: false,
        };
        if is_lost {
            lost.push(delivery);
            continue;
        }
        let extra = if held_back {
            cfg.one_way_us.saturating_mul(3)
        } else {
            0
        };
        delivery.arrive_at_us = Some(
            sent_at_us
                .saturating_add(cfg.one_way_us)
                .saturating_add(jitter)
                .saturating_add(extra),
        );
        delivery.kept = bytes[..bytes.len().min(cfg.buffer)].to_vec();
        delivery.truncated = bytes.len() > cfg.buffer;
        delivered.push(delivery);
    }
    // A stable sort keeps send order among datagrams arriving at the same instant.
    delivered.sort_by_key(|d| d.arrive_at_us);
    delivered.extend(lost);
    delivered
}

/// One client's visit to the server in the concurrency lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRun {
    /// Which client, from 0.
    pub client: usize,
    /// When its `connect()` returned. The kernel completes the handshake from
    /// the listen backlog, so this does not wait for the server's `accept()`.
    pub connect_at_us: u64,
    /// When the server's `accept()` returned this client.
    pub accepted_at_us: u64,
    /// When the server finished with it and replied.
    pub replied_at_us: u64,
}

/// `n` clients connect `start_gap_us` apart; each needs `service_us` of server
/// time once accepted.
///
/// `iterative`: one client at a time, as in the notes' `tcp-echo` (the next is
/// accepted when the previous one is done, and waits in the backlog until
/// then). Otherwise concurrent: each client is accepted on arrival and served
/// in parallel (a thread or task per connection, with no shared bottleneck).
/// Returned in client order.
pub fn simulate_clients(
    n: usize,
    start_gap_us: u64,
    service_us: u64,
    iterative: bool,
) -> Vec<ClientRun> {
    let mut runs = Vec::with_capacity(n);
    let mut server_free_at: u64 = 0;
    for client in 0..n {
        let connect_at_us = start_gap_us.saturating_mul(client as u64);
        let accepted_at_us = if iterative {
            connect_at_us.max(server_free_at)
        } else {
            connect_at_us
        };
        let replied_at_us = accepted_at_us.saturating_add(service_us);
        server_free_at = replied_at_us;
        runs.push(ClientRun {
            client,
            connect_at_us,
            accepted_at_us,
            replied_at_us,
        });
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{ProptestConfig, any, prop, prop_assert, prop_assert_eq, proptest};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn writes(list: &[(u64, &str)]) -> Vec<(u64, Vec<u8>)> {
        list.iter()
            .map(|(t, s)| (*t, s.as_bytes().to_vec()))
            .collect()
    }

    fn texts<'a>(chunks: impl IntoIterator<Item = &'a Vec<u8>>) -> Vec<String> {
        chunks
            .into_iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    #[test]
    fn splitmix64_matches_the_reference() {
        // First outputs of Vigna's splitmix64.c seeded with 0.
        let mut rng = SimRng::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut a = SimRng::new(42);
        let mut b = SimRng::seed_from_u64(42);
        let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y);
        assert_eq!(x, y);
    }

    #[test]
    fn chance_and_up_to_stay_in_range() {
        let mut rng = SimRng::new(7);
        assert!((0..1000).all(|_| !rng.chance(0.0) && rng.chance(1.0)));
        assert!(!rng.chance(f64::NAN));
        assert!((0..1000).all(|_| rng.up_to(5) <= 5));
        assert_eq!(rng.up_to(0), 0);
        let hits = (0..10_000).filter(|_| rng.chance(0.25)).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
    }

    #[test]
    fn nagle_holds_world_until_hello_is_acked() {
        let cfg = TcpSimConfig::default();
        let trace = simulate_tcp(&cfg, &writes(&[(0, "Hello"), (10, "World")]));
        assert_eq!(
            trace.segments,
            vec![
                Segment {
                    sent_at_us: 0,
                    arrive_at_us: 500,
                    data: b"Hello".to_vec()
                },
                // Sent when Hello's ACK returns, one RTT after Hello left.
                Segment {
                    sent_at_us: 1000,
                    arrive_at_us: 1500,
                    data: b"World".to_vec()
                },
            ]
        );
        assert_eq!(
            trace.reads,
            vec![
                SimRead {
                    at_us: 500,
                    data: b"Hello".to_vec()
                },
                SimRead {
                    at_us: 1500,
                    data: b"World".to_vec()
                },
            ]
        );
    }

    #[test]
    fn a_slow_reader_merges_separate_segments() {
        let cfg = TcpSimConfig {
            read_delay_us: 5000,
            ..TcpSimConfig::default()
        };
        let trace = simulate_tcp(&cfg, &writes(&[(0, "Hello"), (10, "World")]));
        assert_eq!(trace.segments.len(), 2, "two segments on the wire");
        assert_eq!(
            trace.reads,
            vec![SimRead {
                at_us: 5000,
                data: b"HelloWorld".to_vec()
            }]
        );
        // Nagle is not the cause: without it the reads merge all the same.
        let trace = simulate_tcp(
            &TcpSimConfig {
                nagle: false,
                ..cfg
            },
            &writes(&[(0, "Hello"), (10, "World")]),
        );
        assert_eq!(
            texts(trace.segments.iter().map(|s| &s.data)),
            ["Hello", "World"]
        );
        assert_eq!(texts(trace.reads.iter().map(|r| &r.data)), ["HelloWorld"]);
    }

    #[test]
    fn a_small_read_size_splits_and_straddles_writes() {
        let cfg = TcpSimConfig {
            read_size: 3,
            read_delay_us: 5000,
            ..TcpSimConfig::default()
        };
        let trace = simulate_tcp(&cfg, &writes(&[(0, "Hello"), (10, "World")]));
        assert_eq!(
            texts(trace.reads.iter().map(|r| &r.data)),
            ["Hel", "loW", "orl", "d"]
        );
        let times: Vec<u64> = trace.reads.iter().map(|r| r.at_us).collect();
        assert_eq!(times, [5000, 10_000, 15_000, 20_000]);
    }

    #[test]
    fn nagle_coalesces_tiny_writes() {
        let tiny: Vec<(u64, Vec<u8>)> = (0..10).map(|i| (i, vec![b'0' + i as u8])).collect();
        let trace = simulate_tcp(&TcpSimConfig::default(), &tiny);
        let wire: Vec<(u64, &[u8])> = trace
            .segments
            .iter()
            .map(|s| (s.sent_at_us, &s.data[..]))
            .collect();
        assert_eq!(wire, [(0, &b"0"[..]), (1000, &b"123456789"[..])]);

        let no_delay = TcpSimConfig {
            nagle: false,
            ..TcpSimConfig::default()
        };
        let trace = simulate_tcp(&no_delay, &tiny);
        assert_eq!(trace.segments.len(), 10);
        assert!(
            trace
                .segments
                .iter()
                .enumerate()
                .all(|(i, s)| s.sent_at_us == i as u64 && s.data.len() == 1)
        );
        // A fast reader sees each byte alone, but only because it was fast.
        assert_eq!(trace.reads.len(), 10);
    }

    #[test]
    fn nagle_never_holds_a_full_segment() {
        let cfg = TcpSimConfig {
            mss: 4,
            ..TcpSimConfig::default()
        };
        let trace = simulate_tcp(&cfg, &writes(&[(0, "a"), (10, "bcdefghij")]));
        let wire: Vec<(u64, String)> = trace
            .segments
            .iter()
            .map(|s| (s.sent_at_us, String::from_utf8_lossy(&s.data).into_owned()))
            .collect();
        let expected = [(0, "a"), (10, "bcde"), (10, "fghi"), (1010, "j")];
        assert_eq!(wire, expected.map(|(t, s)| (t, s.to_owned())));
    }

    #[test]
    fn a_write_bigger_than_the_mss_is_split() {
        let big = vec![(0, vec![7u8; 3000])];
        for nagle in [true, false] {
            let cfg = TcpSimConfig {
                nagle,
                read_size: 65536,
                ..TcpSimConfig::default()
            };
            let trace = simulate_tcp(&cfg, &big);
            let sizes: Vec<usize> = trace.segments.iter().map(|s| s.data.len()).collect();
            assert_eq!(sizes, [1460, 1460, 80]);
            assert!(trace.segments.iter().all(|s| s.sent_at_us == 0));
            // All three land at once, so one large read takes them together.
            assert_eq!(trace.reads.len(), 1);
        }
    }

    #[test]
    fn acks_due_at_a_write_are_taken_first() {
        let trace = simulate_tcp(&TcpSimConfig::default(), &writes(&[(0, "a"), (1000, "b")]));
        let sent: Vec<u64> = trace.segments.iter().map(|s| s.sent_at_us).collect();
        assert_eq!(sent, [0, 1000]);
        // Out-of-order times are clamped: bytes still go in write order.
        let trace = simulate_tcp(
            &TcpSimConfig::default(),
            &writes(&[(50, "a"), (0, "b"), (0, "")]),
        );
        assert_eq!(texts(trace.segments.iter().map(|s| &s.data)), ["a", "b"]);
        assert!(trace.segments.iter().all(|s| s.sent_at_us >= 50));
        assert_eq!(
            simulate_tcp(&TcpSimConfig::default(), &[]),
            TcpTrace::default()
        );
    }

    #[test]
    fn udp_truncates_to_the_buffer() {
        let out = simulate_udp(&UdpSimConfig::default(), &[(0, vec![b'x'; 1500])]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].size, out[0].kept.len(), out[0].truncated),
            (1500, 1024, true)
        );
        assert_eq!(out[0].arrive_at_us, Some(500));
        let out = simulate_udp(&UdpSimConfig::default(), &[(0, b"Hello via UDP".to_vec())]);
        assert_eq!(out[0].kept, b"Hello via UDP");
        assert!(!out[0].truncated);
    }

    fn lossy() -> UdpSimConfig {
        UdpSimConfig {
            loss: 0.3,
            reorder: 0.3,
            jitter_us: 200,
            seed: 2024,
            ..UdpSimConfig::default()
        }
    }

    fn numbered(n: usize) -> Vec<(u64, Vec<u8>)> {
        (0..n)
            .map(|i| (i as u64 * 100, format!("msg {i}").into_bytes()))
            .collect()
    }

    #[test]
    fn udp_same_seed_same_run() {
        let datagrams = numbered(50);
        let a = simulate_udp(&lossy(), &datagrams);
        assert_eq!(a, simulate_udp(&lossy(), &datagrams));
        let other = UdpSimConfig {
            seed: 2025,
            ..lossy()
        };
        assert_ne!(a, simulate_udp(&other, &datagrams));
        // This seed does lose some and reorder some, so the test means something.
        assert!(a.iter().any(|d| d.arrive_at_us.is_none()));
        assert!(
            a.windows(2)
                .any(|w| w[0].index > w[1].index && w[1].arrive_at_us.is_some())
        );
    }

    #[test]
    fn udp_more_loss_loses_a_superset() {
        let datagrams = numbered(100);
        let lost = |loss: f64| -> Vec<usize> {
            let cfg = UdpSimConfig { loss, ..lossy() };
            let mut lost: Vec<usize> = simulate_udp(&cfg, &datagrams)
                .into_iter()
                .filter(|d| d.arrive_at_us.is_none())
                .map(|d| d.index)
                .collect();
            lost.sort_unstable();
            lost
        };
        let (some, more) = (lost(0.2), lost(0.5));
        assert!(some.iter().all(|i| more.contains(i)));
        assert!(more.len() > some.len());
        assert!(lost(0.0).is_empty());
        assert_eq!(lost(1.0).len(), 100);
    }

    #[test]
    fn reordered_datagrams_are_overtaken() {
        let cfg = UdpSimConfig {
            reorder: 1.0,
            ..UdpSimConfig::default()
        };
        let out = simulate_udp(&cfg, &numbered(1));
        assert_eq!(out[0].arrive_at_us, Some(2000));
    }

    #[test]
    fn udp_keeps_boundaries() {
        let datagrams = numbered(40);
        let out = simulate_udp(&lossy(), &datagrams);
        assert_eq!(out.len(), datagrams.len());
        for d in &out {
            if d.arrive_at_us.is_some() {
                // Exactly one datagram, whole: never merged, never split.
                assert_eq!(d.kept, datagrams[d.index].1);
            }
        }
        let mut indices: Vec<usize> = out.iter().map(|d| d.index).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..40).collect::<Vec<_>>());
        // Arrived ones first, by time; then the lost ones, in send order.
        let split = out.iter().position(|d| d.arrive_at_us.is_none()).unwrap();
        assert!(
            out[..split]
                .windows(2)
                .all(|w| w[0].arrive_at_us <= w[1].arrive_at_us)
        );
        assert!(out[split..].iter().all(|d| d.arrive_at_us.is_none()));
        assert!(out[split..].windows(2).all(|w| w[0].index < w[1].index));
    }

    #[test]
    fn iterative_serves_one_at_a_time() {
        let runs = simulate_clients(3, 0, 100, true);
        let replies: Vec<u64> = runs.iter().map(|r| r.replied_at_us).collect();
        assert_eq!(replies, [100, 200, 300]);
        let accepts: Vec<u64> = runs.iter().map(|r| r.accepted_at_us).collect();
        assert_eq!(accepts, [0, 100, 200]);
        assert!(runs.iter().all(|r| r.connect_at_us == 0));
    }

    #[test]
    fn concurrent_serves_all_at_once() {
        let runs = simulate_clients(3, 0, 100, false);
        assert!(
            runs.iter()
                .all(|r| r.accepted_at_us == 0 && r.replied_at_us == 100)
        );
        // Spaced-out clients never wait, even on an iterative server.
        let runs = simulate_clients(3, 150, 100, true);
        let replies: Vec<u64> = runs.iter().map(|r| r.replied_at_us).collect();
        assert_eq!(replies, [100, 250, 400]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn tcp_reads_are_the_writes_whatever_the_knobs(
            nagle in any::<bool>(),
            mss in 0usize..2000,
            one_way_us in 0u64..3000,
            read_size in 0usize..2000,
            read_delay_us in 0u64..3000,
            raw in prop::collection::vec(
                (0u64..2000, prop::collection::vec(any::<u8>(), 0..600)),
                0..20,
            ),
        ) {
            let cfg = TcpSimConfig { nagle, mss, one_way_us, read_size, read_delay_us };
            // Gaps between writes, turned into increasing times.
            let mut at = 0;
            let writes: Vec<(u64, Vec<u8>)> = raw
                .into_iter()
                .map(|(gap, bytes)| {
                    at += gap;
                    (at, bytes)
                })
                .collect();
            let trace = simulate_tcp(&cfg, &writes);
            let written: Vec<u8> = writes.iter().flat_map(|(_, b)| b.clone()).collect();
            let on_wire: Vec<u8> = trace.segments.iter().flat_map(|s| s.data.clone()).collect();
            let read: Vec<u8> = trace.reads.iter().flat_map(|r| r.data.clone()).collect();
            prop_assert_eq!(&on_wire, &written);
            prop_assert_eq!(&read, &written);
            for s in &trace.segments {
                prop_assert!(!s.data.is_empty() && s.data.len() <= mss.max(1));
                prop_assert_eq!(s.arrive_at_us, s.sent_at_us + one_way_us);
            }
            for pair in trace.reads.windows(2) {
                prop_assert!(pair[0].at_us <= pair[1].at_us);
            }
            for r in &trace.reads {
                prop_assert!(!r.data.is_empty() && r.data.len() <= read_size.max(1));
            }
        }

        #[test]
        fn tcp_extreme_times_do_not_overflow(
            nagle in any::<bool>(),
            one_way_us in any::<u64>(),
            read_delay_us in any::<u64>(),
            at in any::<u64>(),
        ) {
            let cfg = TcpSimConfig { nagle, one_way_us, read_delay_us, ..TcpSimConfig::default() };
            let trace = simulate_tcp(&cfg, &[(at, b"ab".to_vec()), (at, b"cd".to_vec())]);
            let read: Vec<u8> = trace.reads.iter().flat_map(|r| r.data.clone()).collect();
            prop_assert_eq!(read, b"abcd".to_vec());
        }

        #[test]
        fn udp_delivers_each_datagram_whole_or_not_at_all(
            loss in 0.0f64..=1.0,
            reorder in 0.0f64..=1.0,
            jitter_us in 0u64..5000,
            buffer in 0usize..100,
            seed in any::<u64>(),
            datagrams in prop::collection::vec(
                (any::<u64>(), prop::collection::vec(any::<u8>(), 0..200)),
                0..30,
            ),
        ) {
            let cfg = UdpSimConfig { loss, reorder, jitter_us, buffer, seed, ..UdpSimConfig::default() };
            let out = simulate_udp(&cfg, &datagrams);
            prop_assert_eq!(out.len(), datagrams.len());
            let mut seen = vec![false; datagrams.len()];
            for d in &out {
                prop_assert!(!seen[d.index]);
                seen[d.index] = true;
                let sent = &datagrams[d.index].1;
                prop_assert_eq!(d.size, sent.len());
                if d.arrive_at_us.is_some() {
                    prop_assert_eq!(&d.kept[..], &sent[..sent.len().min(buffer)]);
                    prop_assert_eq!(d.truncated, sent.len() > buffer);
                } else {
                    prop_assert!(d.kept.is_empty() && !d.truncated);
                }
            }
        }
    }
}
