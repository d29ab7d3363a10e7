//! A page that stops reading must not make the server buffer without bound.
//!
//! Alone in its own test binary so the memory it measures is its own.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::TestServer;
use common::page::{Page, open_target};
use tokio::io::AsyncWriteExt;

/// What the bridge may hold for one stalled page: its 64-message queue of
/// 64 KiB reads (4 MiB), the 4 MiB WebSocket write buffer, and the kernel's
/// socket buffers on loopback. Everything beyond that would be a leak.
const BOUND: u64 = 48 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_page_does_not_grow_server_memory() {
    // A peer that sends as fast as it is allowed to.
    let flood = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let flood_addr = flood.local_addr().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        let (mut conn, _) = flood.accept().await.unwrap();
        let chunk = vec![0x5a; 64 * 1024];
        while conn.write_all(&chunk).await.is_ok() {
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });

    let server = TestServer::start(|c| c.bridge_allow.push(flood_addr)).await;
    let before = common::rss_bytes();
    let mut page = Page::connect(server.http).await;
    page.send(open_target(1, flood_addr, false)).await;
    // The page now reads nothing more. Wait until the flood stalls: no
    // progress for 500 ms means every buffer between here and there is full.
    let mut last = 0;
    let mut still = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = written.load(Ordering::Relaxed);
        if now == last && now > 0 {
            still += 1;
            if still >= 10 {
                break;
            }
        } else {
            still = 0;
            last = now;
        }
    }
    let in_flight = written.load(Ordering::Relaxed);
    let grown = common::rss_bytes().saturating_sub(before);
    println!(
        "flood wrote {in_flight} bytes before stalling; server memory grew by {grown} bytes (bound {BOUND})"
    );
    assert!(
        still >= 10,
        "the flood never stalled: the bridge kept reading for a page that does not read"
    );
    assert!(
        in_flight < BOUND,
        "{in_flight} bytes were taken from the socket for a stalled page"
    );
    assert!(
        grown < BOUND,
        "memory grew by {grown} bytes for a stalled page"
    );
    drop(page);
    server.stop().await.unwrap();
}
