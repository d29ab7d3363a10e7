//! Binding every listener, then running them all until shutdown.
//!
//! Binding is separate from running so that a port already in use fails before
//! anything starts (nothing is left half-started: the listeners bound so far
//! are simply dropped), and so that tests can bind port 0 and read the real
//! addresses before they connect.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::{Demo, Transport};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, ConfigError};
use crate::demos::{self, DemoCtx, StickyRegistry};
use crate::events::EventBus;
use crate::http;

pub use crate::config::SHUTDOWN_GRACE;
pub use crate::service::{Service, ServiceKind};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A port could not be bound.
    #[error("{service} could not listen on {addr}: {os_error}. {hint}")]
    Bind {
        /// The service (`http`, `tcp-echo`, …).
        service: String,
        /// The address tried.
        addr: SocketAddr,
        /// What the OS said.
        os_error: io::Error,
        /// What to do about it.
        hint: String,
    },
    /// tls-echo's certificate could not be made.
    #[error("{0}")]
    Tls(String),
}

fn bind_error(service: &str, flag: &str, addr: SocketAddr, source: io::Error) -> StartError {
    let hint = match source.kind() {
        io::ErrorKind::AddrInUse => format!(
            "Another program (or another socket-lab) is using that port: stop it, or pick another port with {flag} (0 = any free port)."
        ),
        io::ErrorKind::PermissionDenied => {
            format!("Ports below 1024 need extra privileges: pick a higher port with {flag}.")
        }
        io::ErrorKind::AddrNotAvailable => {
            "That address does not belong to this machine: check --bind.".to_owned()
        }
        _ => format!("Check --bind and {flag}."),
    };
    StartError::Bind {
        service: service.to_owned(),
        addr,
        os_error: source,
        hint,
    }
}

/// How many finished handshakes may wait for `accept`: tokio's default of 128
/// makes a burst of clients (a class starting a lab at once) retry their SYNs
/// for a second or more. The kernel caps it at `net.core.somaxconn`.
const BACKLOG: u32 = 1024;

/// A TCP listener with `SO_REUSEADDR` (a restarted server can rebind while old
/// connections linger in TIME_WAIT) and the given backlog.
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// A listener of either kind.
#[derive(Debug)]
enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// A server whose sockets are all bound, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    config: Arc<Config>,
    http: TcpListener,
    demos: Vec<(Demo, Listener)>,
    bus: EventBus,
    sticky: StickyRegistry,
    checks: crate::check_runs::CheckRuns,
    tls: demos::tls::TlsIdentity,
}

impl Server {
    /// Validates `config` and binds every listener it names.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        config.validate()?;
        let http_addr = SocketAddr::new(config.bind, config.http_port);
        let http = listen(http_addr, BACKLOG)
            .map_err(|e| bind_error("http", "--http-port", http_addr, e))?;
        let mut demos = Vec::new();
        for &demo in &config.demos {
            let addr = SocketAddr::new(config.bind, config.port(demo));
            let flag = format!("--{}-port", demo.name());
            let listener = match demo.transport() {
                Transport::Tcp => {
                    let backlog = if demo == Demo::TcpEcho {
                        config.tcp_echo_backlog
                    } else {
                        BACKLOG
                    };
                    listen(addr, backlog).map(Listener::Tcp)
                }
                Transport::Udp => UdpSocket::bind(addr).await.map(Listener::Udp),
            }
            .map_err(|e| bind_error(demo.name(), &flag, addr, e))?;
            demos.push((demo, listener));
        }
        Ok(Self {
            config: Arc::new(config),
            http,
            demos,
            bus: EventBus::default(),
            sticky: StickyRegistry::default(),
            checks: crate::check_runs::CheckRuns::default(),
            tls: demos::tls::TlsIdentity::generate().map_err(StartError::Tls)?,
        })
    }

    /// `tls-echo`'s certificate (PEM), made when the server was bound; also
    /// served at `/tls-cert.pem`. A client trusts it with `cafile=`.
    pub fn tls_cert_pem(&self) -> &str {
        &self.tls.cert_pem
    }

    /// Every listening service with its real address, HTTP first.
    pub fn services(&self) -> Vec<Service> {
        let mut out = Vec::with_capacity(1 + self.demos.len());
        if let Ok(addr) = self.http.local_addr() {
            out.push(Service {
                kind: ServiceKind::Http,
                addr,
            });
        }
        for (demo, listener) in &self.demos {
            let addr = match listener {
                Listener::Tcp(l) => l.local_addr(),
                Listener::Udp(s) => s.local_addr(),
            };
            if let Ok(addr) = addr {
                out.push(Service {
                    kind: ServiceKind::Demo(*demo),
                    addr,
                });
            }
        }
        out
    }

    /// The real address of `demo`, if it is running.
    pub fn demo_addr(&self, demo: Demo) -> Option<SocketAddr> {
        self.services()
            .into_iter()
            .find(|s| s.demo() == Some(demo))
            .map(|s| s.addr)
    }

    /// The HTTP address.
    pub fn http_addr(&self) -> io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// Where the bridge registers `sticky` read settings before it connects.
    pub fn sticky(&self) -> StickyRegistry {
        self.sticky.clone()
    }

    /// The event bus, to watch what the demos see.
    pub fn bus(&self) -> EventBus {
        self.bus.clone()
    }

    /// The `socket-lab check` runs published to this server.
    pub fn checks(&self) -> crate::check_runs::CheckRuns {
        self.checks.clone()
    }

    /// Runs every service until `shutdown` completes, then stops them: new
    /// connections are refused, open ones are told to finish, and after
    /// [`SHUTDOWN_GRACE`] whatever is left is dropped.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let token = CancellationToken::new();
        let tasks = TaskTracker::new();
        let ctx = DemoCtx {
            config: self.config.clone(),
            bus: self.bus.clone(),
            shutdown: token.clone(),
            tasks: tasks.clone(),
            sticky: self.sticky.clone(),
            frame_budget: demos::ByteBudget::new(self.config.frame_budget),
            checks: self.checks.clone(),
            kernel: crate::kernel::KernelWatcher::new(tcp_ports(&self.services())),
            chat: demos::chat::ChatRoom::default(),
            tls: self.tls.clone(),
        };
        if self.config.log_events {
            tasks.spawn(log_events(self.bus.clone(), token.clone()));
        }
        let services = self.services();
        for (demo, listener) in self.demos {
            let ctx = ctx.clone();
            match (demo, listener) {
                // Each listener was bound for its demo's transport (see `bind`).
                (demo, Listener::Tcp(l)) => tasks.spawn(demos::serve(l, demo, ctx)),
                (_, Listener::Udp(s)) => tasks.spawn(demos::udp_echo::serve(s, ctx)),
            };
        }
        let http_addr = self.http.local_addr()?;
        let app = http::router(http::AppState::new(ctx.clone(), services, http_addr));
        // Not `axum::serve`: it sets no deadline for request heads (see http_serve.rs).
        let http_task = tokio::spawn(crate::http_serve::serve(
            self.http,
            app,
            crate::http_serve::HttpLimits::from_config(&self.config),
            token.clone(),
        ));

        shutdown.await;
        tracing::info!("shutting down");
        token.cancel();
        tasks.close();
        // One grace for everything, not one after the other: the demos and
        // HTTP drain at the same time (HTTP closes what is left at the end of
        // its own, equal, drain time; the margin lets it finish closing).
        let demos = tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait());
        let http = tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_millis(200), http_task);
        let (demos, http) = tokio::join!(demos, http);
        if demos.is_err() {
            tracing::warn!("some connections did not finish in time; closing them");
        }
        match http {
            Ok(Ok(res)) => res,
            Ok(Err(join)) => Err(io::Error::other(join)),
            Err(_) => Ok(()),
        }
    }
}

/// The real address of every TCP demo, for the kernel watcher.
pub fn tcp_ports(services: &[Service]) -> Vec<(Demo, SocketAddr)> {
    services
        .iter()
        .filter_map(|s| s.demo().map(|d| (d, s.addr)))
        .filter(|(d, _)| d.transport() == Transport::Tcp)
        .collect()
}

async fn log_events(bus: EventBus, token: CancellationToken) {
    let mut sub = bus.subscribe();
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            ev = sub.recv() => match ev {
                Some(ev) => println!("[{:>10.3} ms] {}", ev.at_us as f64 / 1000.0, ev.describe()),
                None => return,
            },
        }
    }
}
