//! The WebSocket bridge, driven by a tokio-tungstenite client as a page would.

mod common;

use common::TestServer;
use common::page::{Got, Page, connect_with_origin, open, open_target};
use futures_util::SinkExt;
use protocol::Demo;
use protocol::bridge::{ClientMsg, ClosedBy, ServerMsg};
use protocol::demo::StickyOptions;
use protocol::events::EventKind;
use tokio_tungstenite::tungstenite;

#[tokio::test]
async fn echo_through_every_demo() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.round_trip_every_demo().await;
    // uppercase and auth answer once and close: their sockets are freed,
    // the other four stay open.
    page.send(ClientMsg::Status {}).await;
    let open = page
        .until(|g| match g {
            Got::Msg(ServerMsg::Status { sockets }) => Some(*sockets),
            _ => None,
        })
        .await;
    assert_eq!(open, 4, "uppercase and auth closed by the demo are freed");
    server.stop().await.unwrap();
}

/// Sends Hello then World to sticky with the given read settings and returns
/// the server's reads of that connection, as the page sees them in events.
async fn sticky_server_reads(read_size: usize, read_delay_ms: u32) -> Vec<Vec<u8>> {
    let options = StickyOptions {
        read_size,
        read_delay_ms,
    };
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.subscribe(vec![Demo::Sticky]).await;
    let local = page
        .open(ClientMsg::Open {
            sock: 1,
            demo: Some(Demo::Sticky),
            target: None,
            nodelay: true,
            sticky: Some(options),
            ack: false,
        })
        .await;
    page.send_bytes(1, b"Hello").await;
    page.send_bytes(1, b"World").await;
    page.send(ClientMsg::Shutdown { sock: 1 }).await;
    let mut reads = Vec::new();
    page.until(|g| match g {
        Got::Msg(ServerMsg::Event { event, .. })
            if event.peer.ends_with(local.rsplit(':').next().unwrap()) =>
        {
            match &event.kind {
                EventKind::Read { data, .. } => {
                    reads.push(data.0.clone());
                    None
                }
                EventKind::Closed { .. } => Some(()),
                _ => None,
            }
        }
        _ => None,
    })
    .await;
    server.stop().await.unwrap();
    reads
}

#[tokio::test]
async fn sticky_read_boundaries_are_visible_through_the_bridge() {
    let merged = sticky_server_reads(1024, 300).await;
    assert_eq!(
        merged,
        vec![b"HelloWorld".to_vec()],
        "one read event of 10 bytes"
    );
    let split = sticky_server_reads(3, 100).await;
    assert_eq!(split.len(), 4, "four read events: {split:?}");
    assert_eq!(split.concat(), b"HelloWorld");
}

#[tokio::test]
async fn udp_datagram_boundaries_are_preserved() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.subscribe(vec![Demo::UdpEcho]).await;
    page.open(open(1, Demo::UdpEcho)).await;
    for msg in ["a", "bb", "ccc"] {
        page.send_bytes(1, msg.as_bytes()).await;
    }
    let mut reads = Vec::new();
    let mut sizes = Vec::new();
    while reads.len() < 3 || sizes.len() < 3 {
        match page.next().await {
            Got::Read { data, .. } => reads.push(data),
            Got::Msg(ServerMsg::Event { event, .. }) => {
                if let EventKind::Datagram { size, .. } = event.kind {
                    sizes.push(size);
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        reads,
        vec![b"Message received".to_vec(); 3],
        "one read per datagram, never merged"
    );
    assert_eq!(sizes, vec![1, 2, 3], "the server saw each datagram whole");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403_and_nothing_opened() {
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    for origin in [Some("http://evil.example"), None] {
        match connect_with_origin(server.http, origin).await {
            Err(tungstenite::Error::Http(res)) => {
                assert_eq!(res.status(), 403);
                let body = String::from_utf8(res.body().clone().unwrap_or_default()).unwrap();
                assert!(
                    body.contains("Origin") || body.contains("--allow-origin"),
                    "{body}"
                );
            }
            other => panic!(
                "expected a 403 for origin {origin:?}, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    // A legitimate page then opens a socket; its accept is the first event.
    let mut page = Page::connect(server.http).await;
    let local = page.open(open(1, Demo::TcpEcho)).await;
    let first = common::wait_for(&mut sub, |_| true).await;
    assert_eq!(first.peer, local, "the refused upgrades opened no socket");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_host_and_port_instead_of_a_demo_is_refused() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    let attempts = [
        r#"{"type":"open","sock":1,"host":"10.0.0.1","port":22}"#.to_owned(),
        r#"{"type":"open","sock":1,"demo":"127.0.0.1:22"}"#.to_owned(),
        r#"{"type":"open","sock":1,"target":"1.1.1.1:53"}"#.to_owned(),
        format!(r#"{{"type":"open","sock":1,"target":"{}"}}"#, server.http),
        r#"{"type":"open","sock":1,"target":"/var/run/docker.sock"}"#.to_owned(),
    ];
    for attempt in &attempts {
        let code = page.refused(attempt).await;
        assert!(
            code == "bad_message" || code == "target_not_allowed",
            "{attempt}: {code}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_allowed_extra_target_works() {
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = target.local_addr().unwrap();
    let server = TestServer::start(|c| c.bridge_allow.push(addr)).await;
    let mut page = Page::connect(server.http).await;
    page.send(open_target(9, addr, false)).await;
    let (_conn, _) = target.accept().await.unwrap();
    page.opened(9).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_thousand_malformed_messages_leave_the_session_usable() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    let bad = [
        "not json",
        "{}",
        r#"{"type":"launch"}"#,
        r#"{"type":"open"}"#,
        r#"{"type":"send","sock":77,"text":"x"}"#,
        r#"{"type":"open","sock":1,"demo":"sticky","sticky":{"read_size":0,"read_delay_ms":0}}"#,
        "[1,2,3]",
        "\u{0}\u{1}",
    ];
    for i in 0..1000 {
        if i % 10 == 9 {
            page.ws
                .send(tungstenite::Message::Binary(vec![b'X', 1, 2].into()))
                .await
                .unwrap();
        } else {
            page.send_raw_text(bad[i % bad.len()]).await;
        }
    }
    let mut errors = 0;
    while errors < 1000 {
        if let Got::Msg(ServerMsg::Error { .. }) = page.next().await {
            errors += 1;
        }
    }
    page.open(open(1, Demo::TcpEcho)).await;
    page.send_bytes(1, b"still here").await;
    assert_eq!(
        page.read_until(1, |b| b.len() >= 15).await,
        b"ACK: still here"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn closing_the_page_closes_its_sockets() {
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let mut page = Page::connect(server.http).await;
    page.open(open(1, Demo::Sticky)).await;
    common::wait_for(&mut sub, |e| matches!(e.kind, EventKind::Accepted { .. })).await;
    drop(page);
    let closed = common::wait_for(&mut sub, |e| matches!(e.kind, EventKind::Closed { .. })).await;
    assert!(matches!(
        closed.kind,
        EventKind::Closed {
            by: protocol::events::Closer::Client,
            ..
        }
    ));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_socket_limit_is_enforced_with_a_clear_error() {
    let server = TestServer::start(|c| c.bridge.sockets_per_session = 2).await;
    let mut page = Page::connect(server.http).await;
    page.open(open(1, Demo::Sticky)).await;
    page.open(open(2, Demo::Sticky)).await;
    page.send(open(3, Demo::Sticky)).await;
    let code = page
        .until(|g| match g {
            Got::Msg(ServerMsg::Error { code, .. }) => Some(code.clone()),
            _ => None,
        })
        .await;
    assert_eq!(code, "too_many_sockets");
    page.send(ClientMsg::Close { sock: 1 }).await;
    assert_eq!(page.closed(1).await, ClosedBy::Page);
    page.open(open(3, Demo::Sticky)).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn sends_are_acknowledged_only_when_asked() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.open(ClientMsg::Open {
        sock: 1,
        demo: Some(Demo::TcpEcho),
        target: None,
        nodelay: true,
        sticky: None,
        ack: true,
    })
    .await;
    page.send_bytes(1, b"one").await;
    let first = page.next().await;
    assert!(
        matches!(
            first,
            Got::Msg(ServerMsg::Sent {
                sock: 1,
                size: 3,
                ..
            })
        ),
        "{first:?}"
    );
    assert_eq!(page.read_until(1, |b| b.len() >= 8).await, b"ACK: one");
    page.send(ClientMsg::Close { sock: 1 }).await;
    page.until(|g| matches!(g, Got::Msg(ServerMsg::Closed { sock: 1, .. })).then_some(()))
        .await;

    page.open(open(2, Demo::Sticky)).await; // ack: false
    page.send_bytes(2, b"two").await;
    let next = page.next().await;
    assert!(
        matches!(next, Got::Read { sock: 2, .. }),
        "no `sent` without ack: {next:?}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_half_closed_socket_refuses_sends_and_still_reads() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.open(open(1, Demo::Sticky)).await;
    page.send_bytes(1, b"before").await;
    page.send(ClientMsg::Shutdown { sock: 1 }).await;
    page.send_bytes(1, b"after").await;
    // The send after the shutdown is refused with a reason; the echo of the
    // send before it still arrives, then the server's own close.
    let (mut refused, mut echoed) = (None, Vec::new());
    page.until(|g| match g {
        Got::Msg(ServerMsg::Error { sock, code, .. }) => {
            refused = Some((*sock, code.clone()));
            None
        }
        Got::Read { sock: 1, data } => {
            echoed.extend_from_slice(data);
            None
        }
        Got::Msg(ServerMsg::Closed {
            sock: 1,
            by: ClosedBy::Peer,
            ..
        }) => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(refused, Some((Some(1), "shut_down".to_owned())));
    assert_eq!(echoed, b"before");
    server.stop().await.unwrap();
}

/// Opens `/check/publish` on `http`, as `socket-lab check` does (no Origin),
/// or with the Origin a page would send.
async fn publisher(
    http: std::net::SocketAddr,
    origin: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tungstenite::Error,
> {
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{http}/check/publish")
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        req.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

fn check_text(msg: &protocol::check::CheckMsg) -> tungstenite::Message {
    tungstenite::Message::text(serde_json::to_string(msg).unwrap())
}

/// The next `check` message the page gets.
async fn next_check(page: &mut Page) -> (u64, protocol::check::CheckMsg) {
    page.until(|g| match g {
        Got::Msg(ServerMsg::Check { run, msg }) => Some((*run, msg.clone())),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_published_check_run_reaches_the_pages_that_watch_checks() {
    use protocol::check::{CheckMsg, Direction};
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.send(ClientMsg::WatchChecks {}).await;
    // Asking twice changes nothing: each message still arrives once.
    page.send(ClientMsg::WatchChecks {}).await;
    page.send(ClientMsg::Status {}).await;
    page.until(|g| matches!(g, Got::Msg(ServerMsg::Status { .. })).then_some(()))
        .await;
    let mut check = publisher(server.http, None).await.unwrap();
    let sent = [
        CheckMsg::Started {
            lesson: "framed".into(),
            command: "python3 s.py {port}".into(),
            seed: 5,
            stages: vec!["one frame".into()],
        },
        CheckMsg::StageStarted {
            stage: 1,
            name: "one frame".into(),
        },
        CheckMsg::Io {
            stage: 1,
            conn: "A".into(),
            dir: Direction::Sent,
            size: 2,
            data: protocol::hex::HexBytes(vec![0, 1]),
            datagram: false,
        },
        CheckMsg::StageFinished {
            stage: 1,
            passed: true,
            ms: 1,
        },
        CheckMsg::Finished {
            passed: true,
            verdict: "PASS: 1 stages passed in 0.0 s.".into(),
            report: String::new(),
            dropped: 0,
        },
    ];
    for msg in &sent {
        check.send(check_text(msg)).await.unwrap();
    }
    let mut run = None;
    for msg in &sent {
        let (id, got) = next_check(&mut page).await;
        assert_eq!(*run.get_or_insert(id), id, "one run, one number");
        assert_eq!(&got, msg);
    }
    // The next run gets the next number.
    let mut again = publisher(server.http, None).await.unwrap();
    again.send(check_text(&sent[0])).await.unwrap();
    let (id, _) = next_check(&mut page).await;
    assert_eq!(Some(id), run.map(|r| r + 1));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_page_cannot_publish_a_check_run_and_bad_publishers_are_closed() {
    use protocol::check::{CheckMsg, MAX_PUBLISH_MESSAGE};
    let server = TestServer::start(|_| {}).await;
    // Browsers always send an Origin: even the server's own page is refused.
    for origin in [
        format!("http://{}", server.http),
        "http://evil.example".into(),
    ] {
        match publisher(server.http, Some(&origin)).await {
            Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403, "{origin}"),
            other => panic!("{origin} must get a 403, got {:?}", other.map(|_| ())),
        }
    }
    let mut page = Page::connect(server.http).await;
    page.send(ClientMsg::WatchChecks {}).await;
    page.send(ClientMsg::Status {}).await;
    page.until(|g| matches!(g, Got::Msg(ServerMsg::Status { .. })).then_some(()))
        .await;
    let started = CheckMsg::Started {
        lesson: "tcp-echo".into(),
        command: String::new(),
        seed: 1,
        stages: vec![],
    };
    let huge = "x".repeat(MAX_PUBLISH_MESSAGE + 1);
    let bad: Vec<Vec<tungstenite::Message>> = vec![
        vec![tungstenite::Message::text("not json at all")],
        vec![tungstenite::Message::binary(vec![1, 2, 3])],
        vec![check_text(&CheckMsg::StageStarted {
            stage: 1,
            name: "before any start".into(),
        })],
        vec![check_text(&started), tungstenite::Message::text(huge)],
        vec![
            check_text(&started),
            tungstenite::Message::text(r#"{"type":"note","stage":1,"text":"x","extra":true}"#),
        ],
    ];
    for messages in bad {
        let mut check = publisher(server.http, None).await.unwrap();
        for m in messages {
            // The server may close before the last one is written.
            let _ = check.send(m).await;
        }
        // The server closes the publisher: the stream ends (or errors).
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while let Some(Ok(_)) = futures_util::StreamExt::next(&mut check).await {}
        })
        .await;
        assert!(ended.is_ok(), "a bad publisher is closed");
    }
    // Nothing bad reached the page: only the two runs that started, each
    // followed by the note that it ended without a verdict.
    let mut texts = Vec::new();
    for _ in 0..4 {
        texts.push(next_check(&mut page).await.1);
    }
    assert!(matches!(texts[0], CheckMsg::Started { .. }), "{texts:?}");
    assert!(
        matches!(&texts[1], CheckMsg::Note { text, .. } if text.contains("before its verdict")),
        "{texts:?}"
    );
    assert!(matches!(texts[2], CheckMsg::Started { .. }), "{texts:?}");
    // The server is unharmed: the page still relays a demo.
    let local = page.open(open(1, Demo::TcpEcho)).await;
    assert!(!local.is_empty());
    page.send_bytes(1, b"still here").await;
    assert_eq!(
        page.read_until(1, |d| d.ends_with(b"here")).await,
        b"ACK: still here"
    );
    server.stop().await.unwrap();
}
