//! Faults: peers that vanish mid-frame, a page dropped mid-relay, and the
//! server stopped under load (in-process, and the real binary on SIGTERM).
//!
//! What must hold: every socket the server opened for a vanished party is
//! closed (the count of this process's sockets returns to its baseline),
//! every session is told the server is going, shutdown finishes within 2 s,
//! and the binary exits with code 0. Tests run one at a time (a shared lock)
//! so the socket counts are their own; waits are for signals (server events,
//! EOFs), never fixed sleeps.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::binary::Binary;
use common::page::{Page, open, open_target};
use common::{TestServer, open_sockets, sockets_settle_to, wait_for};
use futures_util::StreamExt;
use protocol::Demo;
use protocol::bridge::{ClosedBy, ServerMsg};
use protocol::events::{EventKind, ServerEvent};
use protocol::frame;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, Mutex, MutexGuard};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;

async fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

fn closed_for(peer: &str) -> impl Fn(&ServerEvent) -> bool + '_ {
    move |e| e.peer == peer && matches!(e.kind, EventKind::Closed { .. })
}

/// Drops the page's TCP connection with a reset: no WebSocket close, no FIN,
/// as when a browser tab crashes or the laptop lid closes.
fn crash(page: Page) {
    if let MaybeTlsStream::Plain(tcp) = page.ws.get_ref() {
        tcp.set_zero_linger().unwrap();
    }
    drop(page);
}

#[tokio::test]
async fn a_client_vanishing_mid_frame_is_closed_and_the_demo_serves_on() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let baseline = open_sockets();
    // framed: half a header, half a payload; auth: half an answer; sticky and
    // tcp-echo: a partial line. Each client then vanishes with a reset.
    let cases: [(Demo, &[u8]); 5] = [
        (Demo::Framed, &[0, 0]),
        (Demo::Framed, &[0, 0, 0, 50, b'{', b'"']),
        (Demo::Auth, &[7; 16]),
        (Demo::Sticky, b"half a li"),
        (Demo::TcpEcho, b"half a li"),
    ];
    for (demo, bytes) in cases {
        let mut s = TcpStream::connect(server.addr(demo)).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let peer = s.local_addr().unwrap().to_string();
        // Wait until the server has read the partial bytes, so the reset
        // lands mid-frame rather than before the first read.
        wait_for(&mut sub, |e| {
            e.peer == peer && matches!(e.kind, EventKind::Read { .. })
        })
        .await;
        s.set_zero_linger().unwrap();
        drop(s);
        let ev = wait_for(&mut sub, closed_for(&peer)).await;
        println!("{demo}: {:?}", ev.kind);
    }
    let now = sockets_settle_to(baseline, Duration::from_secs(5)).await;
    assert!(now <= baseline, "{now} sockets open, {baseline} before");
    // The framed demo still decodes frames.
    let mut s = TcpStream::connect(server.addr(Demo::Framed)).await.unwrap();
    s.write_all(&frame::encode_json(&json!({"after": "reset"})).unwrap())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("reset"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_bridged_peer_vanishing_mid_frame_closes_that_socket_only() {
    let _serial = serial().await;
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = target.local_addr().unwrap();
    let server = TestServer::start(|c| c.bridge_allow.push(addr)).await;
    let mut page = Page::connect(server.http).await;
    page.send(open_target(1, addr, true)).await;
    let (mut conn, _) = target.accept().await.unwrap();
    page.opened(1).await;
    // Half a frame, then the peer is gone.
    conn.write_all(&[0, 0, 0, 100, b'{']).await.unwrap();
    assert_eq!(
        page.read_until(1, |b| b.len() >= 5).await,
        [0, 0, 0, 100, b'{']
    );
    conn.set_zero_linger().unwrap();
    drop(conn);
    assert_eq!(page.closed(1).await, ClosedBy::Peer);
    // The session goes on.
    page.open(open(2, Demo::Sticky)).await;
    page.send_bytes(2, b"still relaying").await;
    assert_eq!(
        page.read_until(2, |b| b.len() >= 14).await,
        b"still relaying"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_dropped_mid_relay_leaves_no_socket_behind() {
    let _serial = serial().await;
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = target.local_addr().unwrap();
    let server = TestServer::start(|c| c.bridge_allow.push(addr)).await;
    let mut sub = server.bus.subscribe();
    let baseline = open_sockets();

    let mut page = Page::connect(server.http).await;
    let mut locals = Vec::new();
    for (sock, demo) in [(1, Demo::Sticky), (2, Demo::Sticky), (3, Demo::Framed)] {
        locals.push(page.open(open(sock, demo)).await);
    }
    page.open(open(4, Demo::UdpEcho)).await;
    page.send(open_target(5, addr, true)).await;
    let (mut far_end, _) = target.accept().await.unwrap();
    page.opened(5).await;
    // Relaying in both directions: the page sends, sticky echoes, the far
    // end streams towards the page.
    let streamer = tokio::spawn(async move {
        let chunk = vec![0x5a; 16 * 1024];
        while far_end.write_all(&chunk).await.is_ok() {}
        // The bridge closed its end: the relay is gone.
    });
    for i in 0..50u8 {
        page.send_bytes(1 + u32::from(i % 2), &[i; 4096]).await;
        page.send_bytes(4, b"datagram").await;
    }
    page.read_until(1, |b| !b.is_empty()).await;

    crash(page);

    // Every demo connection the page had is closed by the server ...
    // (In any order: waiting for one at a time would skip the others' events.)
    let mut open_ones = locals.clone();
    while !open_ones.is_empty() {
        let ev = wait_for(&mut sub, |e| matches!(e.kind, EventKind::Closed { .. })).await;
        open_ones.retain(|l| *l != ev.peer);
    }
    // ... and so is the allowed target's.
    tokio::time::timeout(Duration::from_secs(10), streamer)
        .await
        .expect("the bridge closed the far end's connection")
        .unwrap();
    let now = sockets_settle_to(baseline, Duration::from_secs(5)).await;
    assert!(
        now <= baseline,
        "{now} sockets open, {baseline} before the page:\n{}",
        common::describe_sockets()
    );
    // The server still relays for the next page.
    let mut page = Page::connect(server.http).await;
    page.open(open(1, Demo::Sticky)).await;
    page.send_bytes(1, b"next page").await;
    assert_eq!(page.read_until(1, |b| b.len() >= 9).await, b"next page");
    server.stop().await.unwrap();
}

/// A page that keeps sending to sticky until the server says it is going
/// (it waits at `ready` once its first echo came back).
/// Returns how it learned: `"server_shutdown"` or `"close"`.
async fn busy_page(http: SocketAddr, id: u32, ready: Arc<Barrier>) -> &'static str {
    let mut page = Page::connect(http).await;
    page.open(open(id, Demo::Sticky)).await;
    page.send_bytes(id, b"first").await;
    page.read_until(id, |b| b.len() >= 5).await;
    ready.wait().await;
    let mut ticks = tokio::time::interval(Duration::from_millis(5));
    let mut sending = true;
    loop {
        tokio::select! {
            msg = page.ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(ServerMsg::Error { code, .. }) = serde_json::from_str(t.as_str())
                        && code == "server_shutdown"
                    {
                        return "server_shutdown";
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return "close",
                Some(Ok(_)) => {}
            },
            _ = ticks.tick(), if sending => {
                let frame = protocol::bridge::encode_send(id, &[b'x'; 1024]);
                // A failed send may race the server's last messages: keep reading.
                sending = futures_util::SinkExt::send(&mut page.ws, Message::Binary(frame.into()))
                    .await
                    .is_ok();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_under_load_tells_every_session_and_ends_within_2_s() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let http = server.http;
    let ready = Arc::new(Barrier::new(20 + 3 + 1));
    let pages: Vec<_> = (1..=20)
        .map(|i| tokio::spawn(busy_page(http, i, ready.clone())))
        .collect();
    // Raw clients streaming into sticky and framed as well.
    let mut raws = Vec::new();
    for demo in [Demo::Sticky, Demo::Framed, Demo::Sticky] {
        let addr = server.addr(demo);
        let ready = ready.clone();
        raws.push(tokio::spawn(async move {
            let (mut rx, mut tx) = TcpStream::connect(addr).await.unwrap().into_split();
            ready.wait().await;
            let chunk = frame::encode_json(&json!({"load": "x".repeat(1000)})).unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                tokio::select! {
                    res = rx.read(&mut buf) => if matches!(res, Ok(0) | Err(_)) { return },
                    res = tx.write_all(&chunk) => if res.is_err() { return },
                }
            }
        }));
    }
    // Load is flowing: every page has had an echo, every raw client is connected.
    tokio::time::timeout(Duration::from_secs(20), ready.wait())
        .await
        .expect("every client ready");

    let started = Instant::now();
    server.stop().await.unwrap();
    let took = started.elapsed();
    println!("shutdown under load took {took:?}");
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");

    let mut told = 0;
    for p in pages {
        let how = tokio::time::timeout(Duration::from_secs(5), p)
            .await
            .expect("every page learns the server is gone")
            .unwrap();
        told += usize::from(how == "server_shutdown");
    }
    println!("{told} of 20 pages got the server_shutdown message, the rest a close");
    assert!(told > 0, "no page was told why its session ended");
    for r in raws {
        tokio::time::timeout(Duration::from_secs(5), r)
            .await
            .expect("raw clients are closed")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_0_within_2_s_of_sigterm_under_load() {
    let _serial = serial().await;
    let assets = std::env::temp_dir().join(format!("socket-lab-faults-{}", std::process::id()));
    std::fs::create_dir_all(&assets).unwrap();
    std::fs::write(assets.join("index.html"), "<h1>lab</h1>").unwrap();
    let Binary { child, services } =
        tokio::task::spawn_blocking(move || Binary::spawn(&assets, None, &[]))
            .await
            .unwrap();
    let addr = |name: &str| services.iter().find(|(n, _)| n == name).unwrap().1;

    // Load: bridge pages streaming into sticky, raw clients on three demos.
    let ready = Arc::new(Barrier::new(5 + 1));
    let pages: Vec<_> = (1..=5)
        .map(|i| tokio::spawn(busy_page(addr("http"), i, ready.clone())))
        .collect();
    tokio::time::timeout(Duration::from_secs(20), ready.wait())
        .await
        .expect("every page relaying");
    let mut held = Vec::new();
    for name in ["sticky", "framed", "tcp-echo"] {
        let mut s = TcpStream::connect(addr(name)).await.unwrap();
        s.write_all(b"\0\0\0\x05hello").await.unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "{name} answered");
        held.push(s);
    }

    let pid = child.id();
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {pid}");
    let mut child = child;
    let exit = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await;
    let exit = match exit {
        Ok(res) => res.unwrap().unwrap(),
        Err(_) => {
            // Do not leave it running.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("socket-lab did not exit within 2 s of SIGTERM");
        }
    };
    println!("exited with {exit} after {:?}", started.elapsed());
    assert_eq!(exit.code(), Some(0), "exit status {exit}");
    for p in pages {
        tokio::time::timeout(Duration::from_secs(5), p)
            .await
            .expect("every page learns the server is gone")
            .unwrap();
    }
    for mut s in held {
        let mut buf = [0u8; 64];
        // Closed: EOF or a reset.
        loop {
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                .await
                .expect("the server's end is closed")
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}
