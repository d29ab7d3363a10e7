//! The `chat` and `tls-echo` demos over real sockets on port 0: the room's
//! rules as three raw clients see them, and a real TLS client (rustls,
//! trusting the certificate the server made) beside a plain-TCP one that is
//! told it is not speaking TLS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestServer, wait_for};
use protocol::Demo;
use protocol::events::EventKind;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Lines = tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>;

struct Member {
    lines: Lines,
    tx: tokio::net::tcp::OwnedWriteHalf,
    addr: String,
}

async fn line(lines: &mut Lines) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a line within 10 s")
        .unwrap()
}

async fn join(server: &TestServer, others: usize) -> Member {
    let s = TcpStream::connect(server.addr(Demo::Chat)).await.unwrap();
    let addr = s.local_addr().unwrap().to_string();
    let (rx, tx) = s.into_split();
    let mut lines = BufReader::new(rx).lines();
    let who = if others == 1 { "other" } else { "others" };
    assert_eq!(
        line(&mut lines).await.unwrap(),
        format!("* you are {addr}; {others} {who} here")
    );
    Member { lines, tx, addr }
}

#[tokio::test]
async fn chat_relays_lines_to_the_others_only_and_announces_comings_and_goings() {
    let server = TestServer::start(|_| {}).await;
    let mut a = join(&server, 0).await;
    let mut b = join(&server, 1).await;
    assert_eq!(
        line(&mut a.lines).await.unwrap(),
        format!("* {} joined", b.addr)
    );
    let mut c = join(&server, 2).await;
    for m in [&mut a, &mut b] {
        assert_eq!(
            line(&mut m.lines).await.unwrap(),
            format!("* {} joined", c.addr)
        );
    }
    // A line split over two writes, a CRLF line and two lines in one write.
    a.tx.write_all(b"hel").await.unwrap();
    a.tx.write_all(b"lo\r\nsecond\nthird\n").await.unwrap();
    for m in [&mut b, &mut c] {
        for text in ["hello", "second", "third"] {
            assert_eq!(
                line(&mut m.lines).await.unwrap(),
                format!("{}: {text}", a.addr)
            );
        }
    }
    // The sender hears nothing of its own: the next thing A reads is B's line.
    b.tx.write_all(b"from b\n").await.unwrap();
    assert_eq!(
        line(&mut a.lines).await.unwrap(),
        format!("{}: from b", b.addr)
    );
    assert_eq!(
        line(&mut c.lines).await.unwrap(),
        format!("{}: from b", b.addr)
    );
    // A last line without a newline is still delivered when C closes.
    c.tx.write_all(b"bye").await.unwrap();
    drop(c.tx);
    assert_eq!(line(&mut c.lines).await, None, "the server closes C too");
    for m in [&mut a, &mut b] {
        assert_eq!(
            line(&mut m.lines).await.unwrap(),
            format!("{}: bye", c.addr)
        );
        assert_eq!(
            line(&mut m.lines).await.unwrap(),
            format!("* {} left", c.addr)
        );
    }
    // A line that never ends is refused and its sender closed.
    b.tx.write_all(&[b'x'; protocol::chat::MAX_LINE + 1])
        .await
        .unwrap();
    assert_eq!(
        line(&mut b.lines).await.unwrap(),
        "* line too long: at most 1024 bytes per line; closing"
    );
    assert_eq!(line(&mut b.lines).await, None);
    assert_eq!(
        line(&mut a.lines).await.unwrap(),
        format!("* {} left", b.addr)
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_chat_member_that_never_reads_is_dropped_and_the_others_go_on() {
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let mut talker = join(&server, 0).await;
    // The mute member's receive buffer is made small, so the server's writes
    // to it stall soon and the room's queue for it fills.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mute = socket.connect(server.addr(Demo::Chat)).await.unwrap();
    let mute_addr = mute.local_addr().unwrap().to_string();
    assert_eq!(
        line(&mut talker.lines).await.unwrap(),
        format!("* {mute_addr} joined")
    );
    let long = format!("{}\n", "y".repeat(1000));
    let dropped = async {
        loop {
            talker.tx.write_all(long.as_bytes()).await.unwrap();
            tokio::task::yield_now().await;
        }
    };
    tokio::select! {
        _ = dropped => unreachable!(),
        ev = wait_for(&mut sub, |e| matches!(&e.kind, EventKind::Closed { reason, .. } if reason.contains("did not read"))) => {
            assert_eq!(ev.peer, mute_addr);
        }
    }
    // The talker is still served.
    let mut other = join(&server, 1).await;
    other.tx.write_all(b"still here\n").await.unwrap();
    loop {
        let got = line(&mut talker.lines).await.unwrap();
        if got == format!("{}: still here", other.addr) {
            break;
        }
    }
    drop(mute);
    server.stop().await.unwrap();
}

fn client_config(pem: &str) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[tokio::test]
async fn tls_echo_speaks_tls_with_its_own_certificate_and_reports_the_records() {
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(&server.tls_cert_pem)));
    let tcp = TcpStream::connect(server.addr(Demo::TlsEcho))
        .await
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"Hello, TLS").await.unwrap();
    let mut buf = [0u8; 64];
    let n = tls.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ACK: Hello, TLS");

    let hs = wait_for(&mut sub, |e| {
        matches!(e.kind, EventKind::TlsHandshake { .. })
    })
    .await;
    let EventKind::TlsHandshake { version, sni, .. } = hs.kind else {
        unreachable!()
    };
    assert_eq!(version, "TLSv1.3");
    assert_eq!(sni.as_deref(), Some("localhost"));
    // The plaintext read, and the application-data record that carried it:
    // TLS 1.3 adds one byte of content type and a 16-byte tag.
    let mut records = Vec::new();
    let read = loop {
        let ev = wait_for(&mut sub, |e| {
            matches!(
                e.kind,
                EventKind::Read { .. } | EventKind::TlsRecords { incoming: true, .. }
            )
        })
        .await;
        match ev.kind {
            EventKind::Read { size, .. } => break size,
            EventKind::TlsRecords { records: r, .. } => records.extend(r),
            _ => unreachable!(),
        }
    };
    assert_eq!(read, 10);
    let last = records.last().expect("the record that carried the read");
    assert_eq!(last.kind_name(), "application_data");
    assert_eq!(usize::from(last.len), 10 + 1 + 16);
    tls.shutdown().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn plain_text_to_tls_echo_is_told_why_and_answered_with_an_alert() {
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let mut s = TcpStream::connect(server.addr(Demo::TlsEcho))
        .await
        .unwrap();
    s.write_all(b"Hello, Server").await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, protocol::tls::DECODE_ERROR_ALERT);
    let ev = wait_for(&mut sub, |e| matches!(e.kind, EventKind::TlsRefused { .. })).await;
    let EventKind::TlsRefused { reason } = ev.kind else {
        unreachable!()
    };
    assert!(reason.contains("0x48 ('H')"), "{reason}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_certificate_is_served_over_http() {
    let server = TestServer::start(|_| {}).await;
    let mut http = TcpStream::connect(server.http).await.unwrap();
    http.write_all(b"GET /tls-cert.pem HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut res = Vec::new();
    http.read_to_end(&mut res).await.unwrap();
    let text = String::from_utf8(res).unwrap();
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(text.ends_with(&server.tls_cert_pem), "{text}");
    assert!(
        server
            .tls_cert_pem
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    server.stop().await.unwrap();
}
