//! Hostile clients over real sockets: every case ends in a clear error or a
//! clean close, the server keeps serving, and memory stays bounded.
//!
//! The attacks are the ones small servers and WebSocket relays (websockify,
//! wstunnel) have met in the wild: slowloris, lying length headers, garbage
//! bytes, connection churn, half-open connections, UDP floods, a bridge asked
//! to become an open proxy, cross-site and DNS-rebinding upgrades, path
//! traversal, replayed or mistimed authentication. `SECURITY.md` lists each
//! with the counts used here.
//!
//! The tests run one at a time (a shared lock) so that the memory and file
//! descriptor counts they read are their own. Counts and timeouts are scaled
//! so the whole file takes well under a minute on two cores, and every loop is
//! bounded in count and in time.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::page::{Got, Page, open};
use common::{TestServer, open_sockets, rss_bytes, sockets_settle_to, wait_for};
use protocol::Demo;
use protocol::auth::respond;
use protocol::bridge::ServerMsg;
use protocol::events::{EventKind, ServerEvent};
use protocol::frame::{self, FrameDecoder};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Barrier, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

const SECRET: &[u8] = b"my_super_secret_key";

/// Memory growth any single attack here may cause before we call it a leak.
const MEMORY_BOUND: u64 = 64 << 20;

/// One test at a time: memory and descriptor counts are process-wide.
async fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

/// Runs `fut`, failing the test with `what` if it takes longer than `limit`.
async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {limit:?}"))
}

/// Reads one reply frame (limit 4 MiB, so a 1 MiB echo fits). Only for one
/// reply at a time: bytes after the frame would be lost with the decoder.
async fn read_frame(stream: &mut TcpStream) -> Value {
    read_frames(stream, 1).await.remove(0)
}

/// Reads `n` reply frames with one decoder.
async fn read_frames(stream: &mut TcpStream, n: usize) -> Vec<Value> {
    let mut decoder = FrameDecoder::new(4 << 20);
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        while let Some(payload) = decoder.decode().unwrap() {
            out.push(frame::decode_json(&payload).unwrap());
        }
        if out.len() >= n {
            assert_eq!(out.len(), n, "more reply frames than requests");
            return out;
        }
        let n = within(
            Duration::from_secs(10),
            "a reply frame",
            stream.read(&mut buf),
        )
        .await
        .unwrap();
        assert!(n > 0, "server closed before a whole reply frame");
        decoder.feed(&buf[..n]);
    }
}

/// Reads until the server closes; a reset counts as a close.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    within(limit, "the server closing the connection", async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    all
}

/// A well-behaved client of `demo` gets its normal answer within `limit`.
async fn served(server: &TestServer, demo: Demo, limit: Duration) {
    let addr = server.addr(demo);
    let what = format!("a normal {demo} client");
    within(limit, &what, async {
        if demo == Demo::UdpEcho {
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            sock.connect(addr).await.unwrap();
            let mut buf = [0u8; 64];
            // UDP may drop a datagram (that is the lesson); a few bounded tries.
            for _ in 0..10 {
                sock.send(b"normal client").await.unwrap();
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_millis(500), sock.recv(&mut buf)).await
                {
                    assert_eq!(&buf[..n], b"Message received");
                    return;
                }
            }
            panic!("udp-echo never answered");
        }
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        match demo {
            Demo::TcpEcho | Demo::Sticky => {
                s.write_all(b"ping").await.unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                let want: &[u8] = if demo == Demo::TcpEcho {
                    b"ACK: ping"
                } else {
                    b"ping"
                };
                while got.len() < want.len() {
                    let n = s.read(&mut buf).await.unwrap();
                    assert!(n > 0, "{demo} closed on a normal client");
                    got.extend_from_slice(&buf[..n]);
                }
                assert_eq!(got, want);
            }
            Demo::Uppercase => {
                s.write_all(b"ping").await.unwrap();
                let mut got = Vec::new();
                s.read_to_end(&mut got).await.unwrap();
                assert_eq!(got, b"PING");
            }
            Demo::Framed => {
                s.write_all(&frame::encode_json(&json!({"normal": true})).unwrap())
                    .await
                    .unwrap();
                assert_eq!(read_frame(&mut s).await["echo"], json!({"normal": true}));
            }
            Demo::Auth => {
                let mut challenge = [0u8; 32];
                s.read_exact(&mut challenge).await.unwrap();
                s.write_all(&respond(SECRET, &challenge)).await.unwrap();
                let mut verdict = Vec::new();
                s.read_to_end(&mut verdict).await.unwrap();
                assert_eq!(verdict, b"Access Granted");
            }
            Demo::UdpEcho => unreachable!(),
        }
    })
    .await;
}

/// Every TCP demo, from the registry.
fn tcp_demos() -> Vec<Demo> {
    Demo::ALL
        .into_iter()
        .filter(|d| d.transport() == protocol::Transport::Tcp)
        .collect()
}

/// A raw HTTP/1.1 exchange: (status, whole response as text).
async fn raw_http(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let bytes = read_to_close(&mut s, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn get(addr: SocketAddr, target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
}

// ---------------------------------------------------------------------------
// Slowloris
// ---------------------------------------------------------------------------

/// One slowloris client: connects, sends `prefix`, waits at `ready`, then
/// sends one byte every `tick`, reading (and ignoring) whatever comes back.
/// Returns how long the server let it live, or `None` if still open at `stop`.
async fn slowloris(
    addr: SocketAddr,
    prefix: Vec<u8>,
    tick: Duration,
    ready: Arc<Barrier>,
    stop: CancellationToken,
) -> Option<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("attacker connects");
    s.set_nodelay(true).unwrap();
    let _ = s.write_all(&prefix).await;
    ready.wait().await;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            // A close that already happened wins over `stop`.
            biased;
            res = s.read(&mut buf) => match res {
                Ok(0) | Err(_) => return Some(start.elapsed()),
                Ok(_) => {}
            },
            _ = stop.cancelled() => return None,
            _ = ticks.tick() => {
                if s.write_all(b"x").await.is_err() {
                    return Some(start.elapsed());
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_on_every_tcp_demo_and_http_does_not_starve_others() {
    let _serial = serial().await;
    let header_timeout = Duration::from_millis(1000);
    let hold = Duration::from_millis(300);
    let server = TestServer::start(|c| {
        c.http_header_timeout = header_timeout;
        c.hold_limit = hold;
        c.handshake_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(10);
    })
    .await;
    let before = rss_bytes();
    let tick = Duration::from_millis(250);
    let header = format!("GET / HTTP/1.1\r\nHost: {}\r\nX-Slow: ", server.http).into_bytes();
    // (label, address, attackers, first bytes). tcp-echo serves one client at a
    // time by design, so ten attackers already queue a newcomer for ten turns.
    let plan: Vec<(&str, SocketAddr, usize, Vec<u8>)> = vec![
        ("http", server.http, 150, header),
        ("tcp-echo", server.addr(Demo::TcpEcho), 10, Vec::new()),
        ("uppercase", server.addr(Demo::Uppercase), 50, Vec::new()),
        ("framed", server.addr(Demo::Framed), 50, vec![0, 0, 0, 100]),
        ("auth", server.addr(Demo::Auth), 50, Vec::new()),
        ("sticky", server.addr(Demo::Sticky), 50, Vec::new()),
    ];
    let total: usize = plan.iter().map(|p| p.2).sum();
    let ready = Arc::new(Barrier::new(total + 1));
    let stop = CancellationToken::new();
    let mut attackers = Vec::new();
    for (label, addr, n, prefix) in &plan {
        for _ in 0..*n {
            let task = tokio::spawn(slowloris(
                *addr,
                prefix.clone(),
                tick,
                ready.clone(),
                stop.clone(),
            ));
            attackers.push((*label, task));
        }
    }
    within(
        Duration::from_secs(20),
        "every attacker connected",
        ready.wait(),
    )
    .await;
    println!("{total} slowloris connections open");

    // Everyone else is still served, within a stated time.
    let started = Instant::now();
    let (status, _) = within(
        Duration::from_secs(2),
        "a normal HTTP request during slowloris",
        raw_http(server.http, &get(server.http, "/")),
    )
    .await;
    assert!(status == 200 || status == 503, "status {status}");
    for demo in [Demo::Uppercase, Demo::Framed, Demo::Auth, Demo::Sticky] {
        served(&server, demo, Duration::from_secs(2)).await;
    }
    // tcp-echo: at most ten turns of --hold-limit ahead of us, plus slack.
    served(&server, Demo::TcpEcho, hold * 10 + Duration::from_secs(3)).await;
    println!("normal clients served in {:?}", started.elapsed());

    // The HTTP attackers were cut off by the header deadline, the tcp-echo
    // ones by the hold limit; the others each hold one connection slot.
    let mut cut = Vec::new();
    let mut still_open = 0;
    stop.cancel();
    for (label, task) in attackers {
        let lived = within(Duration::from_secs(10), "an attacker to stop", task)
            .await
            .unwrap();
        match (label, lived) {
            ("http", Some(d)) => cut.push(d),
            ("http", None) => panic!("an HTTP slowloris connection was never closed"),
            ("tcp-echo", None) => panic!("a tcp-echo slowloris client was never dropped"),
            (_, _) => still_open += 1,
        }
    }
    let longest = cut.iter().max().copied().unwrap_or_default();
    println!(
        "HTTP attackers closed after at most {longest:?}; {still_open} other attackers held a slot"
    );
    assert!(
        longest < header_timeout + Duration::from_secs(3),
        "HTTP slowloris lived {longest:?} with a {header_timeout:?} header deadline"
    );
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_http_client_that_sends_nothing_is_closed_after_the_header_deadline() {
    let _serial = serial().await;
    let server = TestServer::start(|c| c.http_header_timeout = Duration::from_millis(300)).await;
    let mut silent = TcpStream::connect(server.http).await.unwrap();
    let mut partial = TcpStream::connect(server.http).await.unwrap();
    partial
        .write_all(b"GET / HTTP/1.1\r\nHost: ")
        .await
        .unwrap();
    // Before this fix, both stayed open forever (axum::serve sets no timer).
    read_to_close(&mut silent, Duration::from_secs(5)).await;
    read_to_close(&mut partial, Duration::from_secs(5)).await;
    let (status, _) = raw_http(server.http, &get(server.http, "/")).await;
    assert!(status == 200 || status == 503, "status {status}");
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn tcp_echo_drops_a_busy_client_after_the_hold_limit() {
    let _serial = serial().await;
    let server = TestServer::start(|c| c.hold_limit = Duration::from_millis(300)).await;
    let mut sub = server.bus.subscribe();
    let addr = server.addr(Demo::TcpEcho);
    let mut hog = TcpStream::connect(addr).await.unwrap();
    hog.set_nodelay(true).unwrap();
    let mut next = TcpStream::connect(addr).await.unwrap();
    // The hog never goes idle: a byte every 50 ms until it is dropped.
    let mut buf = [0u8; 64];
    let dropped = within(Duration::from_secs(5), "the hog to be dropped", async {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                _ = tick.tick() => { let _ = hog.write_all(b"x").await; }
                res = hog.read(&mut buf) => if matches!(res, Ok(0) | Err(_)) { return; },
            }
        }
    });
    dropped.await;
    let ev = wait_for(&mut sub, |e| matches!(e.kind, EventKind::Closed { .. })).await;
    let EventKind::Closed { reason, .. } = ev.kind else {
        unreachable!()
    };
    assert!(reason.contains("hold limit"), "{reason}");
    next.write_all(b"my turn").await.unwrap();
    let n = within(
        Duration::from_secs(5),
        "the next client",
        next.read(&mut buf),
    )
    .await
    .unwrap();
    assert_eq!(&buf[..n], b"ACK: my turn");
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------------------
// Length headers, garbage
// ---------------------------------------------------------------------------

#[tokio::test]
async fn framed_length_headers_of_0_1mib_plus_1_and_4gib() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let addr = server.addr(Demo::Framed);
    let before = rss_bytes();

    // 0: an empty payload is a frame; it is not JSON, so an error frame, and
    // the stream goes on (the length said where the next frame starts).
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0, 0, 0, 0]).await.unwrap();
    assert_eq!(read_frame(&mut s).await["error"], json!("invalid_json"));
    s.write_all(&frame::encode_json(&json!({"after": "empty"})).unwrap())
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await["echo"], json!({"after": "empty"}));

    // Exactly the limit (1 MiB) is accepted.
    let text = "a".repeat((1 << 20) - 2);
    let payload = serde_json::to_vec(&text).unwrap();
    assert_eq!(payload.len(), 1 << 20);
    s.write_all(&frame::encode(&payload).unwrap())
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await["echo"], json!(text));
    drop(s);

    // 1 MiB + 1, 2 GiB, 4 GiB - 1 (the largest a 32-bit header can claim):
    // an error frame, then close, never an allocation of the claimed size.
    for claim in [(1u32 << 20) + 1, 1 << 31, u32::MAX] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&claim.to_be_bytes()).await.unwrap();
        s.write_all(b"{\"x\":").await.unwrap();
        let reply = read_frame(&mut s).await;
        assert_eq!(reply["error"], json!("too_large"), "claim {claim}");
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .contains(&claim.to_string())
        );
        let rest = read_to_close(&mut s, Duration::from_secs(5)).await;
        assert!(rest.is_empty(), "the server closes after a bad header");
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    served(&server, Demo::Framed, Duration::from_secs(2)).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn many_connections_claiming_the_largest_allowed_frame_stay_bounded() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let addr = server.addr(Demo::Framed);
    let before = rss_bytes();
    // 200 clients each promise a 1 MiB frame and send 10 bytes of it.
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&(1u32 << 20).to_be_bytes()).await.unwrap();
        s.write_all(b"\"aaaaaaaaa").await.unwrap();
        held.push(s);
    }
    served(&server, Demo::Framed, Duration::from_secs(2)).await;
    let grown = rss_bytes().saturating_sub(before);
    println!("200 pending 1 MiB frames: memory grew by {grown} bytes");
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    drop(held);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_utf8_and_invalid_json_get_errors_and_the_streams_go_on() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;

    // framed: 60 bad frames in one write, then a good one, on one stream.
    let mut s = TcpStream::connect(server.addr(Demo::Framed)).await.unwrap();
    let bad: [&[u8]; 6] = [
        &[0xff, 0xfe, 0xfd],
        b"{nope",
        b"\"\xc3\"",
        b"[1,2",
        b"\xed\xa0\x80", // an encoded surrogate: not UTF-8
        b"{\"a\":1}}",
    ];
    let mut burst = Vec::new();
    for i in 0..60 {
        burst.extend_from_slice(&frame::encode(bad[i % bad.len()]).unwrap());
    }
    burst.extend_from_slice(&frame::encode_json(&json!({"still": "here"})).unwrap());
    s.write_all(&burst).await.unwrap();
    let mut replies = read_frames(&mut s, 61).await;
    assert_eq!(replies.pop().unwrap()["echo"], json!({"still": "here"}));
    for (i, reply) in replies.iter().enumerate() {
        let code = reply["error"].as_str().unwrap_or_default();
        assert!(
            code == "invalid_utf8" || code == "invalid_json",
            "frame {i}: {reply}"
        );
    }

    // The byte-stream demos treat bytes as bytes.
    let garbage = [0xff, b'a', 0xc3, 0x00, 0xfe];
    let mut s = TcpStream::connect(server.addr(Demo::TcpEcho))
        .await
        .unwrap();
    s.write_all(&garbage).await.unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], [&b"ACK: "[..], &garbage].concat());
    drop(s);
    let mut s = TcpStream::connect(server.addr(Demo::Uppercase))
        .await
        .unwrap();
    s.write_all(&garbage).await.unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, [0xff, b'A', 0xc3, 0x00, 0xfe]);
    let mut s = TcpStream::connect(server.addr(Demo::Sticky)).await.unwrap();
    s.write_all(&garbage).await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, garbage);

    // The bridge: JSON that is too deep, numbers too big, text that is not
    // UTF-8 (a raw WebSocket frame, since client libraries refuse to send it).
    let mut page = Page::connect(server.http).await;
    for text in [
        "[".repeat(100_000),
        r#"{"type":"open","sock":99999999999999999999,"demo":"tcp-echo"}"#.to_owned(),
        r#"{"type":"open","sock":-1,"demo":"tcp-echo"}"#.to_owned(),
        r#"{"type":"send","sock":1,"text":"\ud800"}"#.to_owned(),
    ] {
        page.send_raw_text(&text).await;
        let code = page
            .until(|g| match g {
                Got::Msg(ServerMsg::Error { code, .. }) => Some(code.clone()),
                Got::Msg(ServerMsg::Opened { .. }) => panic!("opened a socket"),
                _ => None,
            })
            .await;
        assert_eq!(code, "bad_message", "{}", &text[..text.len().min(60)]);
    }
    let (status, mut ws, _) = ws_handshake(
        server.http,
        Some(&server.http.to_string()),
        Some(&format!("http://{}", server.http)),
    )
    .await;
    assert_eq!(status, 101);
    ws.write_all(&masked_frame(0x1, &[0xff, 0xfe, 0xfd]))
        .await
        .unwrap();
    // The server fails that WebSocket (close 1007 or a plain close) ...
    read_to_close(&mut ws, Duration::from_secs(5)).await;
    // ... and only that one.
    page.open(open(1, Demo::TcpEcho)).await;
    page.send_bytes(1, b"ok").await;
    assert_eq!(page.read_until(1, |b| b.len() >= 7).await, b"ACK: ok");
    served(&server, Demo::UdpEcho, Duration::from_secs(5)).await;
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------------------
// Churn, half-open connections, UDP floods
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connect_close_cycles() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let targets: Vec<SocketAddr> = std::iter::once(server.http)
        .chain(tcp_demos().into_iter().map(|d| server.addr(d)))
        .collect();
    let baseline = open_sockets();
    let before = rss_bytes();
    const CYCLES: usize = 10_000;
    const WORKERS: usize = 50;
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let targets = targets.clone();
            tokio::spawn(async move {
                for i in (w..CYCLES).step_by(WORKERS) {
                    let s = TcpStream::connect(targets[i % targets.len()])
                        .await
                        .expect("connect during churn");
                    if i % 2 == 1 {
                        // Half of them leave with a reset instead of a FIN.
                        s.set_zero_linger().unwrap();
                    }
                    drop(s);
                }
            })
        })
        .collect();
    for w in workers {
        within(Duration::from_secs(60), "the churn", w)
            .await
            .unwrap();
    }
    println!("{CYCLES} connect-close cycles in {:?}", started.elapsed());
    // Every server-side socket is closed again: back to the baseline.
    let now = sockets_settle_to(baseline, Duration::from_secs(10)).await;
    assert!(
        now <= baseline,
        "{now} sockets open, {baseline} before:\n{}",
        common::describe_sockets()
    );
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    for demo in tcp_demos() {
        served(&server, demo, Duration::from_secs(2)).await;
    }
    let (status, _) = raw_http(server.http, &get(server.http, "/")).await;
    assert!(status == 200 || status == 503, "status {status}");
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn half_open_and_vanishing_clients_are_closed() {
    let _serial = serial().await;
    let idle = Duration::from_millis(300);
    let server = TestServer::start(|c| {
        c.idle_timeout = idle;
        c.handshake_timeout = idle;
    })
    .await;
    let mut sub = server.bus.subscribe();
    let limit = Duration::from_secs(5);

    // A client that connects and then neither sends nor reads (its host may
    // be gone): dropped after the idle (or handshake) timeout.
    for demo in tcp_demos() {
        let mut s = TcpStream::connect(server.addr(demo)).await.unwrap();
        let got = read_to_close(&mut s, limit).await;
        if demo == Demo::Auth {
            assert_eq!(&got[32..], b"Access Denied");
        } else {
            assert!(got.is_empty(), "{demo}: {got:?}");
        }
    }

    // A client that sends part of a message and half-closes (FIN): the server
    // answers what it got, then closes too.
    let expect: [(Demo, &[u8], &[u8]); 5] = [
        (Demo::TcpEcho, b"half", b"ACK: half"),
        (Demo::Uppercase, b"half", b"HALF"),
        (Demo::Framed, &[0, 0, 0, 10, b'{'], b""),
        (Demo::Auth, b"0123456789", b"Access Denied"),
        (Demo::Sticky, b"half", b"half"),
    ];
    for (demo, send, want) in expect {
        let mut s = TcpStream::connect(server.addr(demo)).await.unwrap();
        if demo == Demo::Auth {
            let mut challenge = [0u8; 32];
            s.read_exact(&mut challenge).await.unwrap();
        }
        s.write_all(send).await.unwrap();
        s.shutdown().await.unwrap();
        assert_eq!(read_to_close(&mut s, limit).await, want, "{demo}");
    }

    // A client that vanishes with a reset mid-conversation.
    let mut vanished = Vec::new();
    for demo in tcp_demos() {
        let mut s = TcpStream::connect(server.addr(demo)).await.unwrap();
        s.write_all(&[0, 0, 0]).await.unwrap();
        vanished.push(s.local_addr().unwrap().to_string());
        s.set_zero_linger().unwrap();
        drop(s);
    }
    for peer in vanished {
        wait_for(&mut sub, |e: &ServerEvent| {
            e.peer == peer && matches!(e.kind, EventKind::Closed { .. })
        })
        .await;
    }
    for demo in tcp_demos() {
        served(&server, demo, Duration::from_secs(2)).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_oversized_datagrams() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let addr = server.addr(Demo::UdpEcho);
    let before = rss_bytes();
    const PER_SOCKET: usize = 500;
    let floods: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(async move {
                let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                sock.connect(addr).await.unwrap();
                let big = vec![0xa5u8; 65_507]; // the largest IPv4 UDP payload
                for i in 0..PER_SOCKET {
                    let datagram: &[u8] = if i % 50 == 0 { &[] } else { &big };
                    // The kernel may refuse when buffers are full: that is a drop, not our bug.
                    let _ = sock.send(datagram).await;
                }
            })
        })
        .collect();
    for f in floods {
        within(Duration::from_secs(30), "the flood", f)
            .await
            .unwrap();
    }
    let ev = wait_for(&mut sub, |e| {
        matches!(e.kind, EventKind::Datagram { size: 65_507, .. })
    })
    .await;
    let EventKind::Datagram {
        truncated, data, ..
    } = ev.kind
    else {
        unreachable!()
    };
    assert!(truncated, "a 65507-byte datagram is reported as truncated");
    assert_eq!(data.0.len(), 1024);
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{} datagrams sent; memory grew by {grown} bytes",
        4 * PER_SOCKET
    );
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    served(&server, Demo::UdpEcho, Duration::from_secs(10)).await;
    served(&server, Demo::TcpEcho, Duration::from_secs(2)).await;
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------------------
// The bridge: not an open proxy, not for foreign pages
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_bridge_opens_nothing_but_demos_and_allowed_targets() {
    let _serial = serial().await;
    let allowed_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let allowed = allowed_listener.local_addr().unwrap();
    let server = TestServer::start(|c| c.bridge_allow.push(allowed)).await;
    let mut sub = server.bus.subscribe();
    let echo = server.addr(Demo::TcpEcho);
    let p = allowed.port();
    let targets = [
        // private and public addresses
        "10.0.0.1:22".to_owned(),
        "192.168.1.1:80".into(),
        "172.16.0.1:443".into(),
        "169.254.169.254:80".into(), // cloud metadata
        "1.1.1.1:53".into(),
        "93.184.216.34:80".into(),
        "[2606:4700:4700::1111]:53".into(),
        // a demo by address instead of by name, and loopback spelled otherwise
        echo.to_string(),
        format!("localhost:{}", echo.port()),
        format!("localhost:{p}"),
        format!("localhost.:{p}"),
        format!("127.0.0.2:{p}"),
        format!("127.1:{p}"),
        format!("0.0.0.0:{p}"),
        format!("[::1]:{p}"),
        format!("[::ffff:127.0.0.1]:{p}"),
        format!("2130706433:{p}"),
        format!("0x7f000001:{p}"),
        format!(" {allowed}"),
        format!("{allowed}/"),
        format!("tcp://{allowed}"),
        // the allowed host on a different port, and the server's own HTTP port
        format!("127.0.0.1:{}", p.wrapping_add(1)),
        format!("127.0.0.1:{}", server.http.port()),
        // UNIX sockets and named pipes
        "unix:/var/run/docker.sock".into(),
        "unix:///tmp/socket-lab.sock".into(),
        "/run/systemd/private".into(),
        "@abstract-socket".into(),
        r"\\.\pipe\docker_engine".into(),
    ];
    let mut attempts: Vec<String> = targets
        .iter()
        .map(|t| json!({"type": "open", "sock": 1, "target": t}).to_string())
        .collect();
    attempts.extend(
        [
            json!({"type": "open", "sock": 1, "demo": "tcp-echo", "target": allowed.to_string()}),
            json!({"type": "open", "sock": 1, "demo": "TCP-ECHO"}),
            json!({"type": "open", "sock": 1, "demo": "tcp-echo\u{0}"}),
            json!({"type": "open", "sock": 1, "demo": "../tcp-echo"}),
            json!({"type": "open", "sock": 1, "demo": format!("tcp-echo:{}", echo.port())}),
            json!({"type": "open", "sock": 1, "demo": {"host": "10.0.0.1"}}),
            json!({"type": "open", "sock": 1, "target": ["127.0.0.1", p]}),
            json!({"type": "open", "sock": 1, "target": allowed.to_string(), "sticky": {"read_size": 1, "read_delay_ms": 0}}),
            json!({"type": "open", "sock": 1, "demo": "sticky", "sticky": {"read_size": 1u64 << 40, "read_delay_ms": 0}}),
            json!({"type": "open", "sock": 1, "demo": "sticky", "sticky": {"read_size": 8, "read_delay_ms": u32::MAX}}),
            json!({"type": "open", "sock": 1}),
        ]
        .map(|v| v.to_string()),
    );
    let mut page = Page::connect(server.http).await;
    for attempt in &attempts {
        page.send_raw_text(attempt).await;
        let code = page
            .until(|g| match g {
                Got::Msg(ServerMsg::Error { code, .. }) => Some(code.clone()),
                Got::Msg(ServerMsg::Opened { .. }) => panic!("{attempt} opened a socket"),
                _ => None,
            })
            .await;
        assert!(
            matches!(
                code.as_str(),
                "bad_message" | "target_not_allowed" | "bad_open" | "bad_sticky_options"
            ),
            "{attempt}: {code}"
        );
    }
    println!("{} open requests refused", attempts.len());
    // Nothing was opened: the first demo connection is the legitimate one, and
    // the first connection the allowed target sees is the legitimate one.
    let local = page.open(open(1, Demo::TcpEcho)).await;
    assert_eq!(wait_for(&mut sub, |_| true).await.peer, local);
    page.send_raw_text(
        &json!({"type": "open", "sock": 2, "target": allowed.to_string()}).to_string(),
    )
    .await;
    let (_conn, peer) = within(
        Duration::from_secs(5),
        "the allowed target's accept",
        allowed_listener.accept(),
    )
    .await
    .unwrap();
    let opened = page
        .until(|g| match g {
            Got::Msg(ServerMsg::Opened { sock: 2, local, .. }) => Some(local.clone()),
            _ => None,
        })
        .await;
    assert_eq!(peer.to_string(), opened);
    server.stop().await.unwrap();
}

/// A masked client WebSocket frame with `opcode` and `payload` (< 126 bytes).
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A raw WebSocket upgrade with exactly these Host and Origin headers (None =
/// header left out). Returns the status, the response head and body, and the
/// stream (for a 101, positioned after the head).
async fn ws_handshake(
    http: SocketAddr,
    host: Option<&str>,
    origin: Option<&str>,
) -> (u16, TcpStream, String) {
    let mut req = String::from("GET /ws HTTP/1.1\r\n");
    if let Some(host) = host {
        req += &format!("Host: {host}\r\n");
    }
    if let Some(origin) = origin {
        req += &format!("Origin: {origin}\r\n");
    }
    req += "Upgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut s = TcpStream::connect(http).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    // Read the head byte by byte, so nothing after it is consumed.
    let mut head = Vec::new();
    within(Duration::from_secs(5), "the upgrade response", async {
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            let n = s.read(&mut b).await.unwrap();
            assert!(n > 0, "closed before the response head");
            head.push(b[0]);
        }
    })
    .await;
    let head = String::from_utf8_lossy(&head).into_owned();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    let text = head + &String::from_utf8_lossy(&body);
    (status, s, text)
}

#[tokio::test]
async fn upgrades_from_foreign_or_missing_origins_and_rebinding_hosts_get_403() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let own = server.http.to_string();
    let port = server.http.port();
    let own_origin = format!("http://{own}");
    let cases: Vec<(Option<String>, Option<String>, &str)> = vec![
        // (Host, Origin, what the refusal must mention)
        (
            Some(own.clone()),
            Some("http://evil.example".into()),
            "--allow-origin",
        ),
        (
            Some(own.clone()),
            Some("https://evil.example".into()),
            "--allow-origin",
        ),
        (Some(own.clone()), Some("null".into()), "--allow-origin"),
        (
            Some(own.clone()),
            Some(format!("http://{own}.evil.example")),
            "--allow-origin",
        ),
        (
            Some(own.clone()),
            Some(format!("http://evil.example#{own}")),
            "--allow-origin",
        ),
        (
            Some(own.clone()),
            Some(format!("http://127.0.0.1:{}", port.wrapping_add(1))),
            "--allow-origin",
        ),
        (Some(own.clone()), Some("file://".into()), "--allow-origin"),
        (Some(own.clone()), None, "no Origin"),
        // DNS rebinding: the attacker's name resolves to 127.0.0.1, so the
        // page's Origin and the Host match each other but not us.
        (
            Some(format!("evil.example:{port}")),
            Some(format!("http://evil.example:{port}")),
            "--allow-host",
        ),
        (
            Some(format!("127.0.0.1.nip.io:{port}")),
            Some(format!("http://127.0.0.1.nip.io:{port}")),
            "--allow-host",
        ),
        (
            Some("localhost".into()),
            Some("http://localhost".into()),
            "--allow-host",
        ),
        (
            Some(format!("127.0.0.1:{}", port.wrapping_add(1))),
            Some(own_origin.clone()),
            "--allow-host",
        ),
        (None, Some(own_origin.clone()), "--allow-host"),
    ];
    for (host, origin, mention) in &cases {
        let (status, _, text) = ws_handshake(server.http, host.as_deref(), origin.as_deref()).await;
        assert_eq!(status, 403, "Host {host:?} Origin {origin:?}: {text}");
        assert!(
            text.contains(mention),
            "Host {host:?} Origin {origin:?}: {text}"
        );
    }
    println!("{} upgrades refused", cases.len());
    // The refused upgrades opened nothing, and our own page still works.
    let (status, _, _) = ws_handshake(server.http, Some(&own), Some(&own_origin)).await;
    assert_eq!(status, 101);
    let mut page = Page::connect(server.http).await;
    let local = page.open(open(1, Demo::TcpEcho)).await;
    assert_eq!(wait_for(&mut sub, |_| true).await.peer, local);
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------------------
// Static files: nothing outside --assets
// ---------------------------------------------------------------------------

/// `base/assets` (the site) next to `base/secret.txt` and
/// `base/assets-private/secret.txt`, which must never be served.
fn site_with_secrets() -> (PathBuf, String) {
    let base = std::env::temp_dir().join(format!("socket-lab-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let assets = base.join("assets");
    std::fs::create_dir_all(assets.join("sub")).unwrap();
    std::fs::create_dir_all(base.join("assets-private")).unwrap();
    std::fs::write(assets.join("index.html"), "<h1>lab index</h1>").unwrap();
    std::fs::write(assets.join("sub/page.html"), "<p>sub page</p>").unwrap();
    let marker = format!("TOP-SECRET-{}", std::process::id());
    std::fs::write(base.join("secret.txt"), &marker).unwrap();
    std::fs::write(base.join("assets-private/secret.txt"), &marker).unwrap();
    (assets, marker)
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn static_paths_never_leave_the_assets_directory() {
    let _serial = serial().await;
    let (assets, marker) = site_with_secrets();
    let server = TestServer::start(|c| c.assets = assets.clone()).await;
    let secret_abs = path_str(&assets.parent().unwrap().join("secret.txt"));
    let http = server.http;
    let mut targets: Vec<String> = [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/..%5csecret.txt",
        "/..%255csecret.txt",
        "/....//secret.txt",
        "/sub/.../secret.txt",
        "/../assets-private/secret.txt",
        "/%2e%2e/assets-private/secret.txt",
        "/%00/../secret.txt",
        "/sub/..%00/secret.txt",
        "/embed/..%2f..%2fsecret.txt",
        "/book/../../secret.txt",
        "/etc/passwd",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/../../../../../../../../etc/passwd",
        "../secret.txt",
        "secret.txt",
    ]
    .map(str::to_owned)
    .to_vec();
    targets.push(format!("/{secret_abs}"));
    targets.push(format!("/{}", secret_abs.replace('/', "%2f")));
    targets.push(format!("http://{http}/../secret.txt"));
    targets.push(format!("http://{http}/%2e%2e/secret.txt"));
    targets.push(format!("http://{http}{secret_abs}"));
    let mut statuses = Vec::new();
    for target in &targets {
        let (status, text) = raw_http(http, &get(http, target)).await;
        assert!(
            !text.contains(&marker) && !text.contains("root:x:0"),
            "{target} served a file outside --assets:\n{text}"
        );
        assert!(
            status != 200 || text.contains("lab index") || text.contains("sub page"),
            "{target}: unexpected 200:\n{text}"
        );
        statuses.push((target.clone(), status));
    }
    println!("{} traversal attempts: {statuses:?}", targets.len());
    for odd in ["secret.txt", "../secret.txt"] {
        let status = statuses.iter().find(|(t, _)| t == odd).map(|(_, s)| *s);
        assert_eq!(
            status,
            Some(400),
            "{odd}: a relative request target gets a plain 400"
        );
    }
    // The site itself is still served.
    let (status, text) = raw_http(http, &get(http, "/sub/page.html")).await;
    assert_eq!(status, 200);
    assert!(text.contains("sub page"));
    let (status, text) = raw_http(http, &get(http, "/")).await;
    assert_eq!(status, 200);
    assert!(text.contains("lab index"));
    server.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(assets.parent().unwrap());
}

// ---------------------------------------------------------------------------
// auth: replays, late answers, wrong lengths
// ---------------------------------------------------------------------------

async fn auth_challenge(server: &TestServer) -> (TcpStream, [u8; 32]) {
    let mut s = TcpStream::connect(server.addr(Demo::Auth)).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut challenge = [0u8; 32];
    s.read_exact(&mut challenge).await.unwrap();
    (s, challenge)
}

/// The verdict the server published for the connection from `s`.
async fn verdict_for(
    sub: &mut native_server::events::Subscription,
    s: &TcpStream,
) -> (bool, Option<String>) {
    let peer = s.local_addr().unwrap().to_string();
    let ev = wait_for(sub, |e| {
        e.peer == peer && matches!(e.kind, EventKind::Verdict { .. })
    })
    .await;
    let EventKind::Verdict { granted, reason } = ev.kind else {
        unreachable!()
    };
    (
        granted,
        reason.map(|r| {
            serde_json::to_value(r)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        }),
    )
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn auth_refuses_replayed_late_and_wrong_length_answers() {
    let _serial = serial().await;
    let timeout = Duration::from_millis(400);
    let server = TestServer::start(|c| c.handshake_timeout = timeout).await;
    let mut sub = server.bus.subscribe();
    let limit = Duration::from_secs(5);

    // A correct answer, then the same answer replayed on a new connection.
    let (mut s, challenge) = auth_challenge(&server).await;
    let old = respond(SECRET, &challenge);
    s.write_all(&old).await.unwrap();
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Granted");
    let (mut s, _) = auth_challenge(&server).await;
    s.write_all(&old).await.unwrap();
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Denied");
    assert_eq!(
        verdict_for(&mut sub, &s).await,
        (false, Some("wrong_answer".into()))
    );

    // The right answer, too late: the verdict came first.
    let (mut s, challenge) = auth_challenge(&server).await;
    let verdict = verdict_for(&mut sub, &s).await;
    assert_eq!(verdict, (false, Some("timed_out".into())));
    let _ = s.write_all(&respond(SECRET, &challenge)).await;
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Denied");

    // 31 bytes, then FIN.
    let (mut s, challenge) = auth_challenge(&server).await;
    s.write_all(&respond(SECRET, &challenge)[..31])
        .await
        .unwrap();
    s.shutdown().await.unwrap();
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Denied");
    assert_eq!(
        verdict_for(&mut sub, &s).await,
        (false, Some("too_short".into()))
    );

    // 31 bytes, then silence.
    let (mut s, challenge) = auth_challenge(&server).await;
    s.write_all(&respond(SECRET, &challenge)[..31])
        .await
        .unwrap();
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Denied");
    assert_eq!(
        verdict_for(&mut sub, &s).await,
        (false, Some("timed_out".into()))
    );

    // 33 bytes: the server reads exactly 32 (like the notes' recv(32)); the
    // 33rd is not part of the answer. Right 32 + 1: granted; wrong: denied.
    let (mut s, challenge) = auth_challenge(&server).await;
    let mut long = respond(SECRET, &challenge).to_vec();
    long.push(b'!');
    s.write_all(&long).await.unwrap();
    assert_eq!(verdict_for(&mut sub, &s).await, (true, None));
    let (mut s, challenge) = auth_challenge(&server).await;
    let mut long = respond(b"not the secret", &challenge).to_vec();
    long.push(b'!');
    s.write_all(&long).await.unwrap();
    assert_eq!(
        verdict_for(&mut sub, &s).await,
        (false, Some("wrong_answer".into()))
    );
    drop(s);

    served(&server, Demo::Auth, Duration::from_secs(2)).await;
    server.stop().await.unwrap();
}
