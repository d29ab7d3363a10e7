//! A shared class server against clients that take more than their share:
//! one address holding every bridge session, a page that vanishes while its
//! session is blocked, frames that pin memory, sticky settings left behind.
//!
//! Each test reproduces a finding of an attack run against the server and
//! checks the defence: a cap per address, keepalive pings, a byte budget for
//! unfinished frames, settings that never outlive their connection.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::TestServer;
use common::binary::{Binary, rss_mib};
use common::page::{Got, Page, open_target};
use protocol::Demo;
use protocol::bridge::{ClientMsg, ServerMsg};
use protocol::demo::StickyOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Opens `/ws` from a chosen local address (any of 127.0.0.0/8).
async fn upgrade_from(
    from: &str,
    http: SocketAddr,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, tokio_tungstenite::tungstenite::Error> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(http).await.unwrap();
    let mut req = format!("ws://{http}/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("Origin", format!("http://{http}").parse().unwrap());
    tokio_tungstenite::client_async(req, stream)
        .await
        .map(|(ws, _)| ws)
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_cap_of_sessions() {
    let server = TestServer::start(|c| c.bridge.max_sessions_per_client = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(upgrade_from("127.0.0.1", server.http).await.unwrap());
    }
    // The fifth from the same address is refused, and says why…
    match upgrade_from("127.0.0.1", server.http).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 503);
            let body = String::from_utf8(res.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("--max-sessions-per-client"), "{body}");
        }
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
    // …while another address still gets one.
    upgrade_from("127.0.0.2", server.http)
        .await
        .expect("another address gets a session");
    // A session given back is a place free again.
    drop(held.pop());
    let mut again = None;
    for _ in 0..100 {
        if let Ok(ws) = upgrade_from("127.0.0.1", server.http).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the freed place is taken again");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_refused_sticky_connection_leaves_no_settings_behind() {
    let server = TestServer::start(|c| c.max_connections = 1).await;
    // The one place is taken.
    let _hog = TcpStream::connect(server.addr(Demo::Sticky)).await.unwrap();
    let mut page = Page::connect(server.http).await;
    for sock in 1..=3 {
        page.open(ClientMsg::Open {
            sock,
            demo: Some(Demo::Sticky),
            target: None,
            nodelay: true,
            sticky: Some(StickyOptions {
                read_size: 1,
                read_delay_ms: 10_000,
            }),
            ack: false,
        })
        .await;
        // The demo refuses it at its limit and closes it.
        page.until(|g| {
            matches!(g, Got::Msg(ServerMsg::Closed { sock: s, .. }) if *s == sock).then_some(())
        })
        .await;
    }
    assert_eq!(
        server.sticky.len(),
        0,
        "settings of refused connections are forgotten, so no later client inherits them"
    );
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn a_vanished_page_blocked_on_a_frozen_peer_frees_its_session() {
    // A bridge-allowed target that accepts and never reads: the page's
    // sends fill the socket and the session blocks in a send.
    let frozen = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = frozen.local_addr().unwrap();
    let keepalive = Duration::from_millis(100);
    let server = TestServer::start(|c| {
        c.bridge_allow.push(target);
        c.bridge.keepalive = keepalive;
    })
    .await;
    let mut page = Page::connect(server.http).await;
    page.send(open_target(1, target, true)).await;
    let (mut peer, _) = frozen.accept().await.unwrap();
    page.opened(1).await;
    // Enough to fill every buffer between the session and the frozen peer.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..256 {
        use futures_util::SinkExt;
        let frame = protocol::bridge::encode_send(1, &chunk);
        let sent = tokio::time::timeout(
            Duration::from_millis(200),
            page.ws
                .send(tokio_tungstenite::tungstenite::Message::Binary(
                    frame.into(),
                )),
        )
        .await;
        if sent.is_err() {
            break; // the session stopped reading: it is blocked in a send
        }
    }
    // The page now vanishes without a word: it keeps its TCP connection
    // open but never reads again, so it answers no ping.
    let started = tokio::time::Instant::now();
    let freed = tokio::time::timeout(Duration::from_secs(10), async {
        // The frozen peer sees the bridge's socket close once the session ends.
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match peer.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    let took = started.elapsed();
    println!("a vanished page blocked on a frozen peer was dropped after {took:?}");
    assert!(
        freed.is_ok(),
        "the session is still holding the socket after 10 s"
    );
    assert!(
        took < keepalive * 3 + Duration::from_secs(2),
        "freed within the keepalive bound (3 × {keepalive:?}), took {took:?}"
    );
    drop(page);
    server.stop().await.unwrap();
}

/// The bytes of a 1 MiB frame but its last one.
fn near_complete_frame() -> Vec<u8> {
    let len: u32 = 1024 * 1024;
    let mut bytes = len.to_be_bytes().to_vec();
    bytes.resize(4 + len as usize - 1, b' ');
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_near_complete_frames_stay_within_the_frame_budget() {
    const CONNECTIONS: usize = 1024;
    const BUDGET_MIB: u64 = 32;
    native_server::fd_limit::raise();
    let assets = std::env::temp_dir().join("socket-lab-no-site");
    let bin = tokio::task::spawn_blocking(move || {
        Binary::spawn(
            &assets,
            None,
            &["--frame-budget", &(BUDGET_MIB * 1024 * 1024).to_string()],
        )
    })
    .await
    .unwrap();
    let framed = bin.addr("framed");
    let pid = bin.pid();
    let before = rss_mib(pid);
    let frame = std::sync::Arc::new(near_complete_frame());
    let mut conns = Vec::new();
    let mut refused = 0;
    for _ in 0..CONNECTIONS {
        let mut s = TcpStream::connect(framed).await.unwrap();
        // A refused client is closed before it has written everything.
        if s.write_all(&frame).await.is_err() {
            refused += 1;
        }
        conns.push(s);
    }
    // Give the server time to read what was written (it is all in its
    // socket buffers or its decoders by now, or refused).
    let mut after = rss_mib(pid);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = after.max(rss_mib(pid));
    }
    // Every refused client got an error frame naming the budget.
    let mut told = 0;
    for s in conns.iter_mut() {
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(5), s.read(&mut buf)).await
            && String::from_utf8_lossy(&buf[..n]).contains("--frame-budget")
        {
            told += 1;
        }
    }
    println!(
        "{CONNECTIONS} near-complete 1 MiB frames with a {BUDGET_MIB} MiB budget: RSS {before} -> \
         {after} MiB, {refused} writes refused, {told} clients told why"
    );
    bin.kill();
    // The stated bound (SECURITY.md): the budget, plus per connection a read
    // buffer and a task (well under 32 KiB each), plus the allocator's slack.
    let bound = BUDGET_MIB + (CONNECTIONS as u64 * 32) / 1024 + 16;
    assert!(
        after - before <= bound,
        "RSS grew {} MiB, over the stated {bound} MiB",
        after - before
    );
    assert!(told > 0, "clients over the budget are told why");
}
