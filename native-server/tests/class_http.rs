//! The HTTP side on a shared class server: clients that send requests but
//! never read the answers, more of them than the connection cap, request
//! bodies that never arrive, symlinks out of `--assets`, scheme-relative
//! redirects, and shutdown with all of that going on.
//!
//! Raw bytes over real loopback sockets, against a server on port 0. The
//! numbers are scaled down (a cap of 8 instead of 512) so the tests stay fast;
//! the mechanism is the same.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::TestServer;
use common::page::{Page, open};
use protocol::Demo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// A file large enough that a handful of unread answers fill every buffer
/// between the server and a client that does not read.
const BIG: usize = 256 * 1024;

/// A site like `dist/`, one per test (tests run in parallel).
fn site() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("socket-lab-class-http-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("book")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Socket Lab</title>",
    )
    .unwrap();
    std::fs::write(dir.join("book/index.html"), "<h1>the book</h1>").unwrap();
    // Not compressible by accident (no Accept-Encoding is sent anyway).
    let big: Vec<u8> = (0..BIG as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(dir.join("big.bin"), big).unwrap();
    dir
}

/// One GET with `Connection: close`; returns the head (lowercased) and body.
async fn get(http: SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(http).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    (head, raw[split + 4..].to_vec())
}

/// A client that asks for `requests` copies of the big file in one go
/// (pipelined) and never reads a byte of the answers. Its receive buffer is
/// made small so the server's writes stall after a few KiB, not megabytes.
async fn non_reader(http: SocketAddr, requests: usize) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(http).await.unwrap();
    let req = format!("GET /big.bin HTTP/1.1\r\nHost: {http}\r\n\r\n").repeat(requests);
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

/// Whether the server has closed `s`, without reading what it sent: once the
/// server's end is gone, a write fails (at once after a reset; after a FIN,
/// the first write draws the reset and the second fails). The bytes are
/// blank lines, which HTTP allows between requests.
fn closed_by_server(s: &TcpStream) -> bool {
    (0..2).any(|_| match s.try_write(b"\r\n") {
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    })
}

/// Waits (bounded) until the server has closed `s`; returns when it noticed.
async fn wait_closed(s: &TcpStream, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if closed_by_server(s) {
            return Some(Instant::now());
        }
        // A write error has no readiness event to wait for: poll, bounded.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// A normal tcp-echo and uppercase conversation, each within `limit`.
async fn demos_answer(server: &TestServer, limit: Duration) {
    tokio::time::timeout(limit, async {
        let mut s = TcpStream::connect(server.addr(Demo::TcpEcho))
            .await
            .unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 9];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ACK: ping");
        let mut s = TcpStream::connect(server.addr(Demo::Uppercase))
            .await
            .unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"PING");
    })
    .await
    .expect("the demos answer while HTTP is saturated");
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn a_client_that_never_reads_its_answers_is_dropped_at_the_write_deadline() {
    let dir = site();
    let write_timeout = Duration::from_millis(500);
    let server = TestServer::start(|c| {
        c.assets = dir.clone();
        c.http_write_timeout = write_timeout;
    })
    .await;
    let started = Instant::now();
    let attacker = non_reader(server.http, 64).await;
    let closed = wait_closed(&attacker, Duration::from_secs(5))
        .await
        .expect("the non-reading client is closed");
    let lived = closed - started;
    println!("a non-reading client lived {lived:?} with a {write_timeout:?} write deadline");
    assert!(
        lived >= write_timeout,
        "closed before its deadline: {lived:?}"
    );
    assert!(lived < write_timeout + Duration::from_secs(2), "{lived:?}");

    // A client that reads gets the whole file, however long that takes.
    let (head, body) = get(server.http, "/big.bin").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body.len(), BIG);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn four_times_the_cap_of_non_readers_leave_pages_the_bridge_and_the_demos_usable() {
    let dir = site();
    let cap = 8;
    let attackers = cap * 4;
    let server = TestServer::start(|c| {
        c.assets = dir.clone();
        c.http_max_connections = cap;
        // Far longer than the test: what saves the others is making room at
        // the cap, not the deadline.
        c.http_write_timeout = Duration::from_secs(60);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..attackers {
        held.push(non_reader(server.http, 16).await);
    }
    // Whatever the accept loop has reached by now, the next client is behind
    // all of them in the listen queue.
    let started = Instant::now();
    let (head, body) = tokio::time::timeout(Duration::from_secs(3), get(server.http, "/"))
        .await
        .expect("an honest page loads within 3 s");
    let page_after = started.elapsed();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("Socket Lab"));

    // (Before the bridge session: tcp-echo serves one client at a time.)
    demos_answer(&server, Duration::from_secs(2)).await;

    let started = Instant::now();
    let mut page = tokio::time::timeout(Duration::from_secs(3), Page::connect(server.http))
        .await
        .expect("a bridge session opens within 3 s");
    page.open(open(1, Demo::TcpEcho)).await;
    page.send_bytes(1, b"hello").await;
    let echoed = page.read_until(1, |b| b.len() >= 10).await;
    assert_eq!(echoed, b"ACK: hello");
    let bridge_after = started.elapsed();

    // Every attacker beyond the cap was accepted and some stuck one closed
    // to make room: at most `cap` of them (minus the two honest clients that
    // came after) can still be open.
    let still_open = held.iter().filter(|s| !closed_by_server(s)).count();
    println!(
        "{attackers} non-readers at a cap of {cap}: page after {page_after:?}, \
         bridge round trip after {bridge_after:?}, {still_open} attackers still open"
    );
    assert!(
        still_open <= cap,
        "{still_open} attackers open at a cap of {cap}"
    );

    // The bridge session is a WebSocket now: more stuck clients do not evict it.
    for _ in 0..cap * 2 {
        held.push(non_reader(server.http, 16).await);
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), get(server.http, "/"))
        .await
        .expect("pages still load");
    page.send_bytes(1, b"again").await;
    let echoed = page.read_until(1, |b| b.len() >= 10).await;
    assert_eq!(echoed, b"ACK: again");
    drop(held);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_request_body_that_never_arrives_does_not_hold_the_connection() {
    let dir = site();
    let server = TestServer::start(|c| {
        c.assets = dir.clone();
        c.http_header_timeout = Duration::from_secs(30);
    })
    .await;
    let mut s = TcpStream::connect(server.http).await.unwrap();
    let started = Instant::now();
    let req = format!(
        "POST /index.html HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000000\r\n\r\nfirst bytes",
        server.http
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // Answered and closed without waiting for the rest (nobody reads it).
    tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut raw))
        .await
        .expect("closed long before the 30 s deadline")
        .ok();
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 405"), "{head}");
    println!(
        "an unfinished body: answered and closed after {:?}",
        started.elapsed()
    );
    server.stop().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_out_of_the_assets_are_refused_and_those_inside_are_served() {
    let dir = site();
    let outside = dir.with_extension("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "TOP SECRET").unwrap();
    std::fs::write(outside.join("index.html"), "TOP SECRET INDEX").unwrap();
    let link = |target: &std::path::Path, name: &str| {
        std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
    };
    link(&outside.join("secret.txt"), "secret.txt");
    link(&outside, "notes");
    link(std::path::Path::new("/etc/passwd"), "passwd");
    link(&dir.join("index.html"), "home.html");
    // A directory inside whose index.html leads out.
    std::fs::create_dir_all(dir.join("tricky")).unwrap();
    std::os::unix::fs::symlink(outside.join("index.html"), dir.join("tricky/index.html")).unwrap();
    let server = TestServer::start(|c| c.assets = dir.clone()).await;
    let mut refused = 0;
    for path in [
        "/secret.txt",
        "/%73ecret.txt",
        "/notes/secret.txt",
        "/notes/",
        "/notes",
        "/./notes/./secret.txt",
        "/passwd",
        "/tricky/",
        "/tricky/index.html",
    ] {
        let (head, body) = get(server.http, path).await;
        let body = String::from_utf8_lossy(&body);
        assert!(head.starts_with("http/1.1 404"), "{path}: {head}");
        assert!(
            !body.contains("SECRET") && !body.contains("root:"),
            "{path}"
        );
        refused += 1;
    }
    let (head, body) = get(server.http, "/home.html").await;
    assert!(
        head.starts_with("http/1.1 200"),
        "a link inside is fine: {head}"
    );
    assert!(String::from_utf8_lossy(&body).contains("Socket Lab"));
    println!("{refused} paths through symlinks out of --assets: 404");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_double_slash_never_redirects_to_another_host() {
    let server = TestServer::start(|c| c.assets = site()).await;
    let (head, _) = get(server.http, "/book").await;
    assert!(head.starts_with("http/1.1 307"), "{head}");
    assert!(head.contains("location: /book/\r\n") || head.ends_with("location: /book/"));
    for path in [
        "//book",
        "///book",
        "//book/",
        "//127.0.0.1/book",
        "//embed/tcp-echo",
    ] {
        let (head, _) = get(server.http, path).await;
        assert!(head.starts_with("http/1.1 404"), "{path}: {head}");
        assert!(!head.contains("location:"), "{path}: {head}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_stuck_http_and_demo_clients_takes_one_grace_not_two() {
    let dir = site();
    let server = TestServer::start(|c| {
        c.assets = dir.clone();
        c.http_write_timeout = Duration::from_secs(60);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(non_reader(server.http, 16).await);
    }
    // A tcp-echo client that sends and never reads: the demo echoes until
    // its write stalls, and then waits on it (and so does shutdown).
    {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let s = socket.connect(server.addr(Demo::TcpEcho)).await.unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), s.writable()).await {
            match s.try_write(&chunk) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        held.push(s);
    }
    let started = Instant::now();
    server.stop().await.unwrap();
    let took = started.elapsed();
    println!("shutdown with 8 stuck HTTP clients and a stuck tcp-echo client took {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(held);
}
