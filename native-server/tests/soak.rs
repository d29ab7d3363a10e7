//! The soak: a minute of random traffic through the bridge, every byte checked.
//!
//! Two pages (tokio-tungstenite clients, as a browser would be) each keep four
//! sockets busy: two to `sticky` (which echoes every read back unchanged, with
//! a random read size per connection) and two to an echo server this test
//! runs and the operator admits with `--bridge-allow`. Message sizes and the
//! way each message is cut into WebSocket frames are random but seeded, so a
//! failure replays exactly. The receiving side checks every byte against the
//! same seeded stream as it arrives (zero loss, zero reordering) and both
//! sides keep a checksum of the whole stream.
//!
//! Long on purpose, so `#[ignore]`d: `cargo xtask test --long` runs it
//! (`cargo test -p native-server --test soak -- --ignored`). Set
//! `SOCKET_LAB_SOAK_SECS` for a shorter local run.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::TestServer;
use common::page::Page;
use futures_util::{SinkExt, StreamExt};
use protocol::Demo;
use protocol::bridge::{ClientMsg, ServerMsg, SocketId, decode_read, encode_send};
use protocol::demo::StickyOptions;
use protocol::sim::SimRng;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// The seed of the whole run; change it to explore, keep it to replay.
const SEED: u64 = 0x0005_0c4e_71ab;
/// Bytes a socket may have in flight (sent, not yet echoed) before its
/// sender waits for the echo: keeps every queue bounded and nothing stuck.
const WINDOW: u64 = 512 * 1024;

/// FNV-1a, 64 bits: a checksum of a whole stream, in order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A seeded byte stream that is the same however it is read in pieces
/// (`fill_bytes` of an RNG drops the rest of a word at the end of each call).
#[derive(Clone)]
struct Bytes {
    rng: SimRng,
    word: [u8; 8],
    used: usize,
}

impl Bytes {
    fn new(seed: u64) -> Self {
        Self {
            rng: SimRng::new(seed),
            word: [0; 8],
            used: 8,
        }
    }
    fn fill(&mut self, dst: &mut [u8]) {
        for b in dst {
            if self.used == 8 {
                self.word = self.rng.next_u64().to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
    }
}

/// One socket's two ends of the check.
struct Stream {
    /// Makes the bytes to send.
    content: Bytes,
    /// Makes the same bytes again, to compare with what comes back.
    expect: Bytes,
    /// Message sizes and chunk cuts.
    shape: SimRng,
    sent: u64,
    received: u64,
    sent_sum: Fnv,
    received_sum: Fnv,
    /// The rest of the message being sent, already cut into frames.
    pending: Vec<Vec<u8>>,
}

impl Stream {
    fn new(seed: u64) -> Self {
        let content = Bytes::new(seed);
        Self {
            expect: content.clone(),
            content,
            shape: SimRng::new(seed ^ 0x5eed),
            sent: 0,
            received: 0,
            sent_sum: Fnv::new(),
            received_sum: Fnv::new(),
            pending: Vec::new(),
        }
    }

    /// The next frame to send: a random message (mostly small, sometimes
    /// 100 KiB and more) cut at random places.
    fn next_chunk(&mut self) -> Vec<u8> {
        if self.pending.is_empty() {
            let size = if self.shape.chance(0.05) {
                1 + self.shape.up_to(200 * 1024) as usize
            } else {
                1 + self.shape.up_to(8 * 1024) as usize
            };
            let mut message = vec![0u8; size];
            self.content.fill(&mut message);
            let mut rest = &message[..];
            while !rest.is_empty() {
                let cut = 1 + self.shape.up_to(rest.len() as u64 - 1) as usize;
                self.pending.push(rest[..cut].to_vec());
                rest = &rest[cut..];
            }
            self.pending.reverse();
        }
        let chunk = self.pending.pop().expect("a message has at least one byte");
        self.sent += chunk.len() as u64;
        self.sent_sum.update(&chunk);
        chunk
    }

    /// Checks one read against the expected stream.
    fn check(&mut self, sock: SocketId, data: &[u8]) {
        let mut want = vec![0u8; data.len()];
        self.expect.fill(&mut want);
        if let Some(i) = data.iter().zip(&want).position(|(a, b)| a != b) {
            panic!(
                "socket {sock}: byte {} of the stream differs (lost, reordered or corrupted)",
                self.received + i as u64
            );
        }
        self.received += data.len() as u64;
        self.received_sum.update(data);
        assert!(
            self.received <= self.sent,
            "socket {sock}: more bytes came back than were sent"
        );
    }
}

/// A plain TCP echo server, as an operator's extra `--bridge-allow` target.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// One page: opens its sockets, then sends and checks until `until`, then
/// waits for every echo. Returns (bytes, checksum) per socket.
async fn run_page(
    http: std::net::SocketAddr,
    echo: std::net::SocketAddr,
    page_no: u64,
    until: Instant,
) -> Vec<(SocketId, u64, Fnv)> {
    let mut page = Page::connect(http).await;
    let mut streams: HashMap<SocketId, Stream> = HashMap::new();
    let mut knobs = SimRng::new(SEED ^ page_no);
    for sock in 1..=4u32 {
        let msg = if sock <= 2 {
            ClientMsg::Open {
                sock,
                demo: Some(Demo::Sticky),
                target: None,
                nodelay: knobs.chance(0.5),
                sticky: Some(StickyOptions {
                    read_size: 1 + knobs.up_to(16 * 1024) as usize,
                    read_delay_ms: 0,
                }),
                ack: false,
            }
        } else {
            ClientMsg::Open {
                sock,
                demo: None,
                target: Some(echo.to_string()),
                nodelay: knobs.chance(0.5),
                sticky: None,
                ack: false,
            }
        };
        page.open(msg).await;
        streams.insert(sock, Stream::new(SEED ^ (page_no << 8) ^ u64::from(sock)));
    }

    let ids: Vec<SocketId> = (1..=4).collect();
    let mut turn = 0usize;
    loop {
        let sending = Instant::now() < until;
        // The next socket with room in its window, round robin.
        let ready = sending
            .then(|| {
                (0..ids.len())
                    .map(|k| ids[(turn + k) % ids.len()])
                    .find(|id| {
                        let s = &streams[id];
                        s.sent - s.received < WINDOW
                    })
            })
            .flatten();
        if !sending && streams.values().all(|s| s.received == s.sent) {
            break;
        }
        tokio::select! {
            biased;
            msg = tokio::time::timeout(Duration::from_secs(20), page.ws.next()) => {
                let msg = msg
                    .expect("traffic keeps flowing (20 s without a message)")
                    .expect("the bridge kept the WebSocket open")
                    .expect("a WebSocket message");
                match msg {
                    Message::Binary(b) => {
                        let read = decode_read(&b).expect("an R frame");
                        streams
                            .get_mut(&read.sock)
                            .expect("a read for one of our sockets")
                            .check(read.sock, read.data);
                    }
                    Message::Text(t) => match serde_json::from_str::<ServerMsg>(t.as_str()).unwrap() {
                        ServerMsg::Sent { .. } => {}
                        other => panic!("page {page_no}: unexpected {other:?}"),
                    },
                    _ => {}
                }
            }
            _ = std::future::ready(()), if ready.is_some() => {
                let id = ready.expect("guarded");
                turn += 1;
                let chunk = streams.get_mut(&id).unwrap().next_chunk();
                page.ws
                    .send(Message::Binary(encode_send(id, &chunk).into()))
                    .await
                    .expect("the bridge takes the frame");
            }
        }
    }
    streams
        .into_iter()
        .map(|(id, s)| {
            assert_eq!(s.sent_sum, s.received_sum, "socket {id}: checksums differ");
            (id, s.received, s.received_sum)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by cargo xtask test --long"]
async fn a_minute_of_random_traffic_arrives_whole_and_in_order() {
    let secs: u64 = std::env::var("SOCKET_LAB_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let echo = echo_server().await;
    let server = TestServer::start(|c| c.bridge_allow.push(echo)).await;
    let before = common::rss_bytes();
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let pages: Vec<_> = (1..=2)
        .map(|n| tokio::spawn(run_page(server.http, echo, n, until)))
        .collect();
    let mut total = 0u64;
    for (n, p) in pages.into_iter().enumerate() {
        let results = tokio::time::timeout(Duration::from_secs(secs + 60), p)
            .await
            .expect("the soak finishes")
            .expect("the page's checks pass");
        for (sock, bytes, sum) in results {
            println!(
                "page {} socket {sock}: {bytes} bytes echoed, checksum {:016x}",
                n + 1,
                sum.0
            );
            assert!(bytes > 0, "socket {sock} carried nothing");
            total += bytes;
        }
    }
    let took = started.elapsed();
    println!(
        "soak: {total} bytes through the bridge and back in {took:?} ({:.1} MB/s), \
         zero lost, zero reordered; memory grew by {} bytes",
        total as f64 / took.as_secs_f64() / 1e6,
        common::rss_bytes().saturating_sub(before)
    );
    server.stop().await.unwrap();
}
