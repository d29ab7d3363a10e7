//! The real binary at a 1,024-descriptor limit with 1,000 HTTP clients that
//! send requests and never read the answers: an honest page must still load,
//! open a bridge session and round-trip every demo, within 2 s; and SIGTERM
//! under that load (plus a stuck demo client) must end the process, with
//! exit code 0, within 2 s.
//!
//! Without a write deadline, a connection cap and descriptors kept in
//! reserve, such clients held the server at 1,023–1,024 of 1,024
//! descriptors: HTTP and the bridge failed and the demos answered only now
//! and then. A file of its own because it opens a thousand sockets.

#![cfg(target_os = "linux")]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::binary::{Binary, open_fds, rss_mib};
use common::page::Page;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const ATTACKERS: usize = 1000;
const LIMIT: u64 = 1024;

/// Asks for the big file 16 times in one go and never reads.
async fn non_reader(http: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(http).await.unwrap();
    let req = format!("GET /big.bin HTTP/1.1\r\nHost: {http}\r\n\r\n").repeat(16);
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

/// What an honest learner does: load the page, open a bridge session, and
/// round-trip every demo through it.
async fn honest_learner(http: SocketAddr) {
    let mut s = TcpStream::connect(http).await.unwrap();
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut page_bytes = Vec::new();
    s.read_to_end(&mut page_bytes).await.unwrap();
    let text = String::from_utf8_lossy(&page_bytes);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("<h1>lab</h1>"), "{text}");

    Page::connect(http).await.round_trip_every_demo().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_non_readers_at_1024_descriptors_then_sigterm() {
    // This process holds the thousand client ends: let it.
    native_server::fd_limit::raise();
    let assets = std::env::temp_dir().join(format!("socket-lab-class-fd-{}", std::process::id()));
    std::fs::create_dir_all(&assets).unwrap();
    std::fs::write(assets.join("index.html"), "<h1>lab</h1>").unwrap();
    let big: Vec<u8> = (0..256 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(assets.join("big.bin"), big).unwrap();
    let Binary {
        mut child,
        services,
    } = {
        let assets = assets.clone();
        tokio::task::spawn_blocking(move || Binary::spawn(&assets, Some(LIMIT), &[]))
            .await
            .unwrap()
    };
    let pid = child.id();
    let rss_before = rss_mib(pid);
    let http = services.iter().find(|(n, _)| n == "http").unwrap().1;

    let mut held = Vec::with_capacity(ATTACKERS);
    for _ in 0..ATTACKERS {
        held.push(non_reader(http).await);
    }
    let fds_under_attack = open_fds(pid);
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(2), honest_learner(http)).await;
    let took = started.elapsed();
    let fds_after = open_fds(pid);
    let rss_after = rss_mib(pid);
    println!(
        "{ATTACKERS} non-readers at a {LIMIT}-descriptor limit: the server held {fds_under_attack} \
         descriptors ({fds_after} after the learner), RSS {rss_before} -> {rss_after} MiB; \
         page + bridge + every demo took {took:?}"
    );
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the honest learner did not finish within 2 s ({took:?})");
    }

    // Now add a tcp-echo client that sends and never reads (the demo's write
    // stalls, and its task waits on it), and stop the server with SIGTERM:
    // one grace for everything, not one per kind of stuck client.
    let echo = services.iter().find(|(n, _)| n == "tcp-echo").unwrap().1;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stuck = socket.connect(echo).await.unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    while let Ok(Ok(())) = tokio::time::timeout(Duration::from_millis(200), stuck.writable()).await
    {
        let _ = stuck.try_write(&chunk);
    }
    let started = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exit = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })
    .await
    .unwrap();
    let stopped_after = started.elapsed();
    println!(
        "SIGTERM under that load and a stuck tcp-echo client: exited {exit:?} after {stopped_after:?}"
    );
    drop((held, stuck));
    let exit = exit.expect("the server exits after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{exit}");
    assert!(stopped_after < Duration::from_secs(2), "{stopped_after:?}");
    for fds in [fds_under_attack, fds_after] {
        assert!(
            (fds as u64) < LIMIT * 3 / 4,
            "{fds} of {LIMIT} descriptors in use"
        );
    }
    assert!(
        rss_after < rss_before + 128,
        "RSS {rss_before} -> {rss_after} MiB"
    );
}
