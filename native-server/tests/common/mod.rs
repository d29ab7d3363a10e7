//! Starting a whole server in-process on port 0, for the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use native_server::demos::StickyRegistry;
use native_server::events::Subscription;
use native_server::{Config, EventBus, Server};
use protocol::Demo;
use protocol::events::{EventKind, ServerEvent};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and the means to stop it.
pub struct TestServer {
    pub http: SocketAddr,
    pub bus: EventBus,
    pub sticky: StickyRegistry,
    addrs: Vec<(Demo, SocketAddr)>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts every demo on port 0 with `tweak` applied to the test config.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_tests(std::env::temp_dir().join("socket-lab-no-site"));
        tweak(&mut config);
        let server = Server::bind(config).await.expect("server binds on port 0");
        let addrs = Demo::ALL
            .iter()
            .filter_map(|d| server.demo_addr(*d).map(|a| (*d, a)))
            .collect();
        let http = server.http_addr().unwrap();
        let bus = server.bus();
        let sticky = server.sticky();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Self {
            http,
            bus,
            sticky,
            addrs,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// The real address of a demo.
    pub fn addr(&self, demo: Demo) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(d, _)| *d == demo)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("{demo} is not running"))
    }

    /// Stops the server and waits for it (bounded).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("server stops within 5 s")
                .unwrap()
                .unwrap();
        }
    }
}

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
pub mod page;
