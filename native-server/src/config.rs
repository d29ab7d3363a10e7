//! What the server is told to do: addresses, limits, secret, which demos.
//!
//! The binary fills this from flags (see `cli.rs`); tests build it directly,
//! usually with [`Config::for_tests`], which puts every port on 0 so the OS
//! picks free ones.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use protocol::Demo;
use protocol::auth::DEFAULT_SECRET;
use protocol::frame::DEFAULT_MAX_FRAME;

/// How long shutdown waits for connections to finish before giving up on
/// them: one grace for the demos, the bridge and HTTP together, so that the
/// whole process is gone within 2 s of a SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// Default HTTP port.
pub const DEFAULT_HTTP_PORT: u16 = 8000;
/// `tcp-echo`'s listen backlog: its queue holds 11 (Linux admits backlog + 1),
/// room for the concurrency lab's ten clients behind one other program.
pub const DEFAULT_TCP_ECHO_BACKLOG: u32 = 10;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address every listener binds to.
    pub bind: IpAddr,
    /// HTTP (site + WebSocket bridge) port; 0 = any free port.
    pub http_port: u16,
    /// Port per demo; 0 = any free port.
    pub ports: BTreeMap<Demo, u16>,
    /// Which demos to start.
    pub demos: Vec<Demo>,
    /// Shared secret of the `auth` demo.
    pub secret: Vec<u8>,
    /// Largest frame payload `framed` accepts.
    pub max_frame: usize,
    /// Bytes all `framed` connections together may hold for frames in progress.
    pub frame_budget: usize,
    /// How long a client may stay silent before it is dropped.
    pub idle_timeout: Duration,
    /// How long the `auth` demo waits for the 32-byte answer.
    pub handshake_timeout: Duration,
    /// How long one client may hold the iterative `tcp-echo` demo, however
    /// busy it keeps it (a client trickling a byte at a time is never idle).
    pub hold_limit: Duration,
    /// The listen backlog of the iterative `tcp-echo` demo: small, so the
    /// kernel lab can fill its accept queue (Linux queues backlog + 1) and a
    /// learner sees the next SYN go unanswered; `--class` makes it deep.
    pub tcp_echo_backlog: u32,
    /// How long the HTTP server waits for a whole request head (slowloris defence).
    pub http_header_timeout: Duration,
    /// How long one HTTP response write may make no progress (a client that
    /// does not read its answers is dropped after this).
    pub http_write_timeout: Duration,
    /// Most simultaneous HTTP connections (WebSockets not counted); never more
    /// than a quarter of the open-file limit.
    pub http_max_connections: usize,
    /// Most simultaneous connections per TCP demo.
    pub max_connections: usize,
    /// Most simultaneous connections per TCP demo from one client address
    /// other than this machine's own (loopback: the bridge and a local learner).
    pub max_connections_per_client: usize,
    /// Directory served over HTTP (the built site, `dist/`), unless
    /// `embedded_site`.
    pub assets: PathBuf,
    /// Serve the site built into the binary (the `embed` feature) instead of
    /// `assets`: what `socket-lab` does when it carries one and no
    /// `--assets` is given.
    pub embedded_site: bool,
    /// Print every demo event to stdout.
    pub log_events: bool,
    /// Extra origins allowed to open the bridge (besides the server's own).
    pub allow_origins: Vec<String>,
    /// Extra names this server answers to (`Host` header), e.g. `course.example:8000`.
    pub allow_hosts: Vec<String>,
    /// Extra `HOST:PORT` targets the bridge may connect to.
    pub bridge_allow: Vec<SocketAddr>,
    /// Limits of the WebSocket bridge.
    pub bridge: BridgeLimits,
}

/// Limits of the WebSocket bridge.
#[derive(Debug, Clone)]
pub struct BridgeLimits {
    /// Simultaneous bridge sessions.
    pub max_sessions: usize,
    /// Open sockets per session.
    pub sockets_per_session: usize,
    /// Largest WebSocket message accepted from a page.
    pub max_message: usize,
    /// A session that holds no socket, watches no events and hears nothing
    /// from its page for this long is closed.
    pub idle_timeout: Duration,
    /// The server pings every page this often; a page that has not answered
    /// for three pings is gone, whatever its sockets are doing.
    pub keepalive: Duration,
    /// Most simultaneous bridge sessions from one client address.
    pub max_sessions_per_client: usize,
}

impl Default for BridgeLimits {
    fn default() -> Self {
        Self {
            max_sessions: 256,
            sockets_per_session: 16,
            max_message: 256 * 1024,
            idle_timeout: Duration::from_secs(300),
            keepalive: Duration::from_secs(5),
            // A class of 50 behind one NAT with two tabs each fits; one
            // address can never take every session.
            max_sessions_per_client: 128,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            http_port: DEFAULT_HTTP_PORT,
            ports: Demo::ALL.iter().map(|d| (*d, d.default_port())).collect(),
            demos: Demo::ALL.to_vec(),
            secret: DEFAULT_SECRET.as_bytes().to_vec(),
            max_frame: DEFAULT_MAX_FRAME,
            frame_budget: 64 * 1024 * 1024,
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            hold_limit: Duration::from_secs(300),
            tcp_echo_backlog: DEFAULT_TCP_ECHO_BACKLOG,
            http_header_timeout: Duration::from_secs(10),
            http_write_timeout: Duration::from_secs(10),
            http_max_connections: 512,
            max_connections: 1024,
            max_connections_per_client: 256,
            assets: PathBuf::from("dist"),
            embedded_site: false,
            log_events: false,
            allow_origins: Vec::new(),
            allow_hosts: Vec::new(),
            bridge_allow: Vec::new(),
            bridge: BridgeLimits::default(),
        }
    }
}

/// A configuration that would be unsafe or cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A shared bind with the notes' well-known secret.
    #[error(
        "--bind {0} listens beyond this machine, but the auth secret is still the default from the notes; \
         set a secret of your own with --secret or SOCKET_LAB_SECRET (or bind to 127.0.0.1)"
    )]
    DefaultSecretOnSharedBind(IpAddr),
    /// A shared bind with no page origin allowed.
    #[error(
        "--bind {0} listens beyond this machine; name the course pages that may use the bridge with \
         --allow-origin https://your.course.example (or bind to 127.0.0.1)"
    )]
    NoOriginOnSharedBind(IpAddr),
    /// Nothing to run.
    #[error("--only named no demo; give at least one of {}", Demo::names())]
    NoDemos,
    /// A limit of zero.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
}

impl Config {
    /// Every port 0, assets from `assets`: what integration tests want.
    pub fn for_tests(assets: impl Into<PathBuf>) -> Self {
        Self {
            http_port: 0,
            ports: Demo::ALL.iter().map(|d| (*d, 0)).collect(),
            assets: assets.into(),
            ..Self::default()
        }
    }

    /// The port configured for `demo`.
    pub fn port(&self, demo: Demo) -> u16 {
        self.ports
            .get(&demo)
            .copied()
            .unwrap_or(demo.default_port())
    }

    /// Refuses configurations that are unsafe or cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.demos.is_empty() {
            return Err(ConfigError::NoDemos);
        }
        if self.max_connections == 0 {
            return Err(ConfigError::ZeroLimit("--max-connections"));
        }
        if self.http_max_connections == 0 {
            return Err(ConfigError::ZeroLimit("--max-http-connections"));
        }
        if self.tcp_echo_backlog == 0 {
            return Err(ConfigError::ZeroLimit("--tcp-echo-backlog"));
        }
        if self.max_frame == 0 {
            return Err(ConfigError::ZeroLimit("--max-frame"));
        }
        for (value, flag) in [
            (self.frame_budget, "--frame-budget"),
            (
                self.max_connections_per_client,
                "--max-connections-per-client",
            ),
            (self.bridge.max_sessions, "--max-sessions"),
            (
                self.bridge.max_sessions_per_client,
                "--max-sessions-per-client",
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(flag));
            }
        }
        if self.bridge.keepalive.is_zero() {
            return Err(ConfigError::ZeroLimit("--bridge-keepalive"));
        }
        if !self.bind.is_loopback() {
            if self.secret == DEFAULT_SECRET.as_bytes() {
                return Err(ConfigError::DefaultSecretOnSharedBind(self.bind));
            }
            if self.allow_origins.is_empty() {
                return Err(ConfigError::NoOriginOnSharedBind(self.bind));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_bind_needs_secret_and_origin() {
        let mut c = Config {
            bind: "0.0.0.0".parse().unwrap(),
            ..Config::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::DefaultSecretOnSharedBind(_))
        ));
        c.secret = b"class-2026".to_vec();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NoOriginOnSharedBind(_))
        ));
        c.allow_origins.push("https://course.example".into());
        assert!(c.validate().is_ok());
        assert!(Config::default().validate().is_ok());
    }
}
