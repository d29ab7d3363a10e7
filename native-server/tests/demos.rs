//! Every demo over real sockets on port 0, raw bytes in, raw bytes out.
//!
//! These are the server's promises to a learner's own client, checked the way
//! such a client would see them, plus the server's side from the event bus.

mod common;

use std::time::Duration;

use common::{TestServer, datagram_event, reads_until_closed, rss_bytes, wait_for};
use protocol::Demo;
use protocol::auth::respond;
use protocol::demo::StickyOptions;
use protocol::events::{Closer, EventKind};
use protocol::frame::{self, FrameDecoder};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

async fn read_frame(stream: &mut TcpStream) -> Value {
    let mut decoder = FrameDecoder::default();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(payload) = decoder.decode().unwrap() {
            return frame::decode_json(&payload).unwrap();
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "server closed before a whole reply frame");
        decoder.feed(&buf[..n]);
    }
}

#[tokio::test]
async fn tcp_echo_acks_each_read() {
    let server = TestServer::start(|_| {}).await;
    let mut s = TcpStream::connect(server.addr(Demo::TcpEcho))
        .await
        .unwrap();
    s.write_all(b"Hello, Server").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ACK: Hello, Server");
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn tcp_echo_second_client_waits_for_the_first() {
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let addr = server.addr(Demo::TcpEcho);

    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(b"one").await.unwrap();
    let mut buf = [0u8; 64];
    let n = first.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ACK: one");

    // The kernel completes the second handshake (backlog), but the iterative
    // server does not accept it while the first client is connected.
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(b"two").await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buf)).await;
    assert!(
        waited.is_err(),
        "the second client must wait while the first is served"
    );

    drop(first);
    let n = second.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ACK: two");

    // And the server's own account agrees: first closed, then second accepted.
    let closed = wait_for(&mut sub, |e| {
        matches!(
            e.kind,
            EventKind::Closed {
                by: Closer::Client,
                ..
            }
        )
    })
    .await;
    let accepted = wait_for(&mut sub, |e| matches!(e.kind, EventKind::Accepted { .. })).await;
    assert!(accepted.conn > closed.conn);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn udp_echo_replies_and_reports_truncation() {
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(server.addr(Demo::UdpEcho)).await.unwrap();
    sock.send(b"Hello via UDP").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = sock.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"Message received");

    sock.send(&[b'x'; 1500]).await.unwrap();
    let n = sock.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"Message received");
    assert_eq!(datagram_event(&mut sub, 1500).await, (true, 1024));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn two_hundred_uppercase_clients_at_once() {
    let server = TestServer::start(|_| {}).await;
    let addr = server.addr(Demo::Uppercase);
    let clients: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.write_all(format!("  hello {i}\n").as_bytes())
                    .await
                    .unwrap();
                let mut reply = String::new();
                s.read_to_string(&mut reply).await.unwrap();
                assert_eq!(reply, format!("HELLO {i}"));
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    server.stop().await.unwrap();
}

/// Connects to sticky with read settings registered first, as the bridge does.
async fn sticky_client(server: &TestServer, options: StickyOptions) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    server.sticky.set(socket.local_addr().unwrap(), options);
    let stream = socket.connect(server.addr(Demo::Sticky)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

async fn sticky_reads(read_size: usize, read_delay_ms: u32) -> Vec<Vec<u8>> {
    let options = StickyOptions {
        read_size,
        read_delay_ms,
    };
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let mut s = sticky_client(&server, options).await;
    let local = s.local_addr().unwrap().to_string();
    s.write_all(b"Hello").await.unwrap();
    s.write_all(b"World").await.unwrap();
    s.shutdown().await.unwrap();
    let mut echoed = Vec::new();
    s.read_to_end(&mut echoed).await.unwrap();
    assert_eq!(echoed, b"HelloWorld", "sticky echoes every byte back");
    let accepted = wait_for(&mut sub, |e| e.peer == local).await;
    let reads = reads_until_closed(&mut sub, accepted.conn).await;
    server.stop().await.unwrap();
    reads
}

#[tokio::test]
async fn sticky_merges_two_sends_when_the_reader_is_slow() {
    let reads = sticky_reads(1024, 300).await;
    assert_eq!(reads, vec![b"HelloWorld".to_vec()]);
}

#[tokio::test]
async fn sticky_splits_with_a_small_read_size() {
    let reads = sticky_reads(3, 100).await;
    let reads: Vec<&[u8]> = reads.iter().map(Vec::as_slice).collect();
    assert_eq!(reads, vec![&b"Hel"[..], b"loW", b"orl", b"d"]);
}

#[tokio::test]
async fn framed_decodes_a_frame_sent_byte_by_byte() {
    let server = TestServer::start(|_| {}).await;
    let mut s = TcpStream::connect(server.addr(Demo::Framed)).await.unwrap();
    s.set_nodelay(true).unwrap();
    let bytes = frame::encode_json(&json!({"msg": "Hello"})).unwrap();
    for b in &bytes {
        s.write_all(&[*b]).await.unwrap();
        s.flush().await.unwrap();
    }
    let reply = read_frame(&mut s).await;
    assert_eq!(reply["echo"], json!({"msg": "Hello"}));

    // Invalid JSON: an error frame, and the stream stays usable.
    s.write_all(&frame::encode(b"{not json").unwrap())
        .await
        .unwrap();
    let reply = read_frame(&mut s).await;
    assert_eq!(reply["error"], json!("invalid_json"));
    s.write_all(&frame::encode(&[0xff, 0xfe]).unwrap())
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await["error"], json!("invalid_utf8"));
    s.write_all(&frame::encode_json(&json!([1, 2])).unwrap())
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await["echo"], json!([1, 2]));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn framed_refuses_a_4_gib_header_and_keeps_serving() {
    let server = TestServer::start(|_| {}).await;
    let before = rss_bytes();
    let mut s = TcpStream::connect(server.addr(Demo::Framed)).await.unwrap();
    s.write_all(&[0xff, 0xff, 0xff, 0xff, b'{']).await.unwrap();
    let reply = read_frame(&mut s).await;
    assert_eq!(reply["error"], json!("too_large"));
    assert!(reply["message"].as_str().unwrap().contains("4294967295"));
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "the server closes after a bad header");
    let grown = rss_bytes().saturating_sub(before);
    assert!(
        grown < 64 << 20,
        "memory grew by {grown} bytes: the claimed length was allocated"
    );

    // Others are still served.
    let mut other = TcpStream::connect(server.addr(Demo::Framed)).await.unwrap();
    other
        .write_all(&frame::encode_json(&json!({"after": true})).unwrap())
        .await
        .unwrap();
    assert_eq!(read_frame(&mut other).await["echo"], json!({"after": true}));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn framed_reports_a_client_that_closes_mid_frame() {
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let mut s = TcpStream::connect(server.addr(Demo::Framed)).await.unwrap();
    s.write_all(&[0, 0, 0, 10, b'{']).await.unwrap();
    drop(s);
    let ev = wait_for(&mut sub, |e| {
        matches!(e.kind, EventKind::FrameRejected { .. })
    })
    .await;
    let EventKind::FrameRejected { code, .. } = ev.kind else {
        unreachable!()
    };
    assert_eq!(code, "ended_mid_frame");
    server.stop().await.unwrap();
}

async fn auth_exchange(server: &TestServer, secret: &[u8], pieces: usize) -> String {
    let mut s = TcpStream::connect(server.addr(Demo::Auth)).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut challenge = [0u8; 32];
    s.read_exact(&mut challenge).await.unwrap();
    let answer = respond(secret, &challenge);
    for piece in answer.chunks(answer.len().div_ceil(pieces)) {
        s.write_all(piece).await.unwrap();
        s.flush().await.unwrap();
    }
    let mut verdict = String::new();
    s.read_to_string(&mut verdict).await.unwrap();
    verdict
}

#[tokio::test]
async fn auth_accepts_an_answer_in_three_writes_and_denies_a_wrong_key() {
    let server = TestServer::start(|_| {}).await;
    assert_eq!(
        auth_exchange(&server, b"my_super_secret_key", 3).await,
        "Access Granted"
    );
    assert_eq!(
        auth_exchange(&server, b"wrong key", 1).await,
        "Access Denied"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn auth_uses_the_configured_secret_and_fresh_challenges() {
    let server = TestServer::start(|c| c.secret = b"class-secret".to_vec()).await;
    assert_eq!(
        auth_exchange(&server, b"class-secret", 1).await,
        "Access Granted"
    );
    assert_eq!(
        auth_exchange(&server, b"my_super_secret_key", 1).await,
        "Access Denied"
    );
    let mut a = TcpStream::connect(server.addr(Demo::Auth)).await.unwrap();
    let mut b = TcpStream::connect(server.addr(Demo::Auth)).await.unwrap();
    let (mut ca, mut cb) = ([0u8; 32], [0u8; 32]);
    a.read_exact(&mut ca).await.unwrap();
    b.read_exact(&mut cb).await.unwrap();
    assert_ne!(ca, cb, "every connection gets its own challenge");
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn auth_times_out_a_silent_client() {
    let server = TestServer::start(|c| c.handshake_timeout = Duration::from_millis(200)).await;
    let mut sub = server.bus.subscribe();
    let mut s = TcpStream::connect(server.addr(Demo::Auth)).await.unwrap();
    let mut challenge = [0u8; 32];
    s.read_exact(&mut challenge).await.unwrap();
    let mut verdict = String::new();
    s.read_to_string(&mut verdict).await.unwrap();
    assert_eq!(verdict, "Access Denied");
    wait_for(&mut sub, |e| matches!(e.kind, EventKind::Timeout { .. })).await;
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn idle_clients_are_dropped() {
    let server = TestServer::start(|c| c.idle_timeout = Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(server.addr(Demo::TcpEcho))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "the server closes a silent client");
    // The demo is free again for the next client.
    let mut next = TcpStream::connect(server.addr(Demo::TcpEcho))
        .await
        .unwrap();
    next.write_all(b"hi").await.unwrap();
    let n = next.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ACK: hi");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn connection_limit_refuses_politely() {
    let server = TestServer::start(|c| c.max_connections = 1).await;
    let mut sub = server.bus.subscribe();
    let held = TcpStream::connect(server.addr(Demo::Sticky)).await.unwrap();
    wait_for(&mut sub, |e| matches!(e.kind, EventKind::Accepted { .. })).await;
    let mut extra = TcpStream::connect(server.addr(Demo::Sticky)).await.unwrap();
    wait_for(&mut sub, |e| matches!(e.kind, EventKind::Refused { .. })).await;
    let mut buf = [0u8; 4];
    assert_eq!(extra.read(&mut buf).await.unwrap_or(0), 0);
    drop(held);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_port_in_use_names_the_demo_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut config = native_server::Config::for_tests("dist");
    config.ports.insert(Demo::Framed, port);
    let err = native_server::Server::bind(config)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("framed") && err.contains("--framed-port"),
        "{err}"
    );
}
