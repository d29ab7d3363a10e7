//! Hostile clients over real sockets: every case ends in a clear error or a
//! clean close, the server keeps serving, and memory stays bounded.
//!
//! The attacks are the ones small servers and WebSocket relays (websockify,
//! wstunnel) have met in the wild: slowloris, lying length headers, garbage
//! bytes, connection churn, half-open connections, UDP floods, a bridge asked
//! to become an open proxy, cross-site and DNS-rebinding upgrades, path
//! traversal, replayed or mistimed authentication. `SECURITY.md` lists each
//! with the counts used here. One file per attack surface: slowloris
//! (`slow.rs`), length headers and garbage (`framed.rs`), churn and floods
//! (`churn.rs`), the bridge (`bridge.rs`), static files (`static_files.rs`),
//! authentication (`auth.rs`); this file holds what they share.
//!
//! The tests run one at a time (a shared lock) so that the memory and file
//! descriptor counts they read are their own. Counts and timeouts are scaled
//! so the whole file takes well under a minute on two cores, and every loop is
//! bounded in count and in time.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod bridge;
mod churn;
mod framed;
mod slow;
mod static_files;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use common::page::{Got, Page, open};
use common::{TestServer, datagram_event, open_sockets, rss_bytes, sockets_settle_to, wait_for};
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
            Demo::Chat => {
                let mut got = Vec::new();
                let mut buf = [0u8; 256];
                while !got.ends_with(b"\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    assert!(n > 0, "chat closed on a normal client");
                    got.extend_from_slice(&buf[..n]);
                }
                assert!(got.starts_with(b"* you are "), "{got:?}");
            }
            Demo::TlsEcho => {
                use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(server.tls_cert_pem.as_bytes()) {
                    roots.add(cert.unwrap()).unwrap();
                }
                let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
                let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
                let name = ServerName::try_from("localhost").unwrap();
                let mut tls = connector.connect(name, s).await.unwrap();
                tls.write_all(b"ping").await.unwrap();
                let mut buf = [0u8; 64];
                let n = tls.read(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], b"ACK: ping");
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
