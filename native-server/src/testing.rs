//! A whole server in this process on port 0, for tests — the integration
//! tests of this crate and the browser tests alike (mini-redis's
//! `start_server`, once, instead of one helper per test crate).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use protocol::Demo;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::demos::{ByteBudget, DemoCtx, StickyRegistry};
use crate::{Config, EventBus, Server, Service};

/// What the demos, the bridge and the HTTP layer share, for `config`, with
/// nothing running: for tests that drive one layer directly (a session
/// through channels, the router with `oneshot`).
pub fn ctx(config: Config) -> DemoCtx {
    DemoCtx {
        frame_budget: ByteBudget::new(config.frame_budget),
        config: std::sync::Arc::new(config),
        bus: EventBus::default(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        tasks: tokio_util::task::TaskTracker::new(),
        sticky: StickyRegistry::default(),
        checks: crate::check_runs::CheckRuns::default(),
        kernel: crate::kernel::KernelWatcher::new(Vec::new()),
        chat: crate::demos::chat::ChatRoom::default(),
        tls: crate::demos::tls::TlsIdentity::generate().expect("a TLS identity"),
    }
}

/// The whole HTTP application for `config`, with no socket: call it with
/// `tower::ServiceExt::oneshot` (axum's `testing` example). `services` are
/// what the bridge offers.
pub fn app(config: Config, services: Vec<Service>) -> axum::Router {
    let http = SocketAddr::from(([127, 0, 0, 1], crate::config::DEFAULT_HTTP_PORT));
    crate::http::router(crate::http::AppState::new(ctx(config), services, http))
}

/// A running server and the means to stop it.
#[derive(Debug)]
pub struct TestServer {
    /// The HTTP address (the site, the embed pages, `/ws`).
    pub http: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The event bus, to watch what the demos see.
    pub bus: EventBus,
    /// Where the bridge registers sticky read settings.
    pub sticky: StickyRegistry,
    /// The check runs published to the server (and who watches them).
    pub checks: crate::check_runs::CheckRuns,
    /// Every service and its real address.
    pub services: Vec<Service>,
    /// `tls-echo`'s certificate (PEM).
    pub tls_cert_pem: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    /// Every demo on port 0 with `tweak` applied, serving no site. Panics if
    /// it cannot bind (a test cannot go on without it).
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::serving(std::env::temp_dir().join("socket-lab-no-site"), tweak)
            .await
            .expect("the server binds on port 0")
    }

    /// Every demo on port 0 with `tweak` applied, serving the site in `assets`.
    pub async fn serving(
        assets: impl Into<PathBuf>,
        tweak: impl FnOnce(&mut Config),
    ) -> io::Result<TestServer> {
        let mut config = Config::for_tests(assets);
        tweak(&mut config);
        let server = Server::bind(config).await.map_err(io::Error::other)?;
        let http = server.http_addr()?;
        let (bus, sticky, services) = (server.bus(), server.sticky(), server.services());
        let checks = server.checks();
        let tls_cert_pem = server.tls_cert_pem().to_owned();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Ok(TestServer {
            http,
            base: format!("http://{http}"),
            bus,
            sticky,
            checks,
            services,
            tls_cert_pem,
            stop: Some(tx),
            task: Some(task),
        })
    }

    /// The real address of `demo`. Panics if it is not running.
    pub fn addr(&self, demo: Demo) -> SocketAddr {
        self.services
            .iter()
            .find(|s| s.demo() == Some(demo))
            .map(|s| s.addr)
            .unwrap_or_else(|| panic!("{demo} is not running"))
    }

    /// The real address of the service called `name` (`http`, `tcp-echo`, …).
    pub fn demo(&self, name: &str) -> io::Result<SocketAddr> {
        self.services
            .iter()
            .find(|s| s.name() == name)
            .map(|s| s.addr)
            .ok_or_else(|| io::Error::other(format!("{name} is not running")))
    }

    /// Stops the server and waits for it, at most 5 s.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .map_err(|_| io::Error::other("the server did not stop within 5 s"))?
                .map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}
