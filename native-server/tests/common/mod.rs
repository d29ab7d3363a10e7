//! Starting a whole server in-process on port 0, for the integration tests.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use native_server::events::Subscription;
use protocol::events::{EventKind, ServerEvent};

pub use native_server::testing::TestServer;

/// Waits (bounded) for the first event matching `pred`.
pub async fn wait_for(sub: &mut Subscription, pred: impl Fn(&ServerEvent) -> bool) -> ServerEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let ev = sub.recv().await.expect("bus open");
            if pred(&ev) {
                return (*ev).clone();
            }
        }
    })
    .await
    .expect("expected event within 10 s")
}

/// Waits for the udp-echo event of a `size`-byte datagram and returns
/// whether it was reported truncated and how many bytes it kept.
pub async fn datagram_event(sub: &mut Subscription, size: usize) -> (bool, usize) {
    let ev = wait_for(
        sub,
        |e| matches!(e.kind, EventKind::Datagram { size: s, .. } if s == size),
    )
    .await;
    match ev.kind {
        EventKind::Datagram {
            truncated, data, ..
        } => (truncated, data.0.len()),
        _ => unreachable!("matched a datagram"),
    }
}

/// Collects the read sizes/bytes of connection `conn` until it closes.
pub async fn reads_until_closed(sub: &mut Subscription, conn: u64) -> Vec<Vec<u8>> {
    let mut reads = Vec::new();
    loop {
        let ev = wait_for(sub, |e| e.conn == conn).await;
        match ev.kind {
            EventKind::Read { data, .. } => reads.push(data.0),
            EventKind::Closed { .. } => return reads,
            _ => {}
        }
    }
}

/// Resident memory of this process in bytes (Linux).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
pub mod binary;
pub mod page;

/// Open file descriptors of this process (Linux): sockets, files, epoll.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Distinct open sockets of this process (Linux). Unlike [`open_fds`], this
/// does not move when another test thread builds or drops its tokio runtime
/// (each runtime holds a duplicate of tokio's one signal socket: one socket,
/// several descriptors).
pub fn open_sockets() -> usize {
    let mut inodes: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|t| t.to_string_lossy().into_owned())
                .filter(|t| t.starts_with("socket:"))
                .collect()
        })
        .unwrap_or_default();
    inodes.sort();
    inodes.dedup();
    inodes.len()
}

/// Waits (bounded, polling) until `open_sockets() <= limit`; returns the last count.
pub async fn sockets_settle_to(limit: usize, within: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = open_sockets();
        if now <= limit || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// This process's TCP sockets with their state, from `/proc/net/tcp{,6}`
/// (for failure messages: which socket was left open?).
pub fn describe_sockets() -> String {
    let inodes: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| {
                    let t = std::fs::read_link(e.path()).ok()?;
                    let t = t.to_string_lossy();
                    Some(t.strip_prefix("socket:[")?.trim_end_matches(']').to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = String::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && inodes.iter().any(|i| i == f[9]) {
                // local, remote, state (0A = LISTEN, 01 = ESTABLISHED, 08 = CLOSE_WAIT)
                out += &format!("{table} {} -> {} state {}\n", f[1], f[2], f[3]);
            }
        }
    }
    out
}
