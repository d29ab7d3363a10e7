//! Command-line flags, turned into a [`Config`] or a client run.
//!
//! Every flag has a sensible default (the notes' ports, loopback only), so
//! `socket-lab` alone starts the whole lab.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use protocol::Demo;

use crate::config::{BridgeLimits, Config, DEFAULT_HTTP_PORT};

/// Socket Lab: real TCP/UDP demo servers, a WebSocket bridge and the course site.
#[derive(Debug, Parser)]
#[command(name = "socket-lab", version, about, long_about = None)]
pub struct Cli {
    /// Run a client instead of the servers.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server flags.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// Parses these arguments; with `--class`, the class preset fills every
    /// flag not given explicitly (on the command line or in the environment).
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if cli.serve.class {
            let explicit = |id: &str| {
                matches!(
                    matches.value_source(id),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            };
            cli.serve.apply_class_preset(explicit);
        }
        Ok(cli)
    }

    /// [`Cli::try_parse_args`] on the process's arguments; prints the usage
    /// error and exits on bad flags, as clap does.
    pub fn parse_args() -> Cli {
        Self::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }
}

/// What `--class` sets, as (flag, value, why): tighter turns and timeouts for
/// a server a whole class shares. Caps per address keep their defaults,
/// which already fit a class of 50 behind one NAT.
pub const CLASS_PRESET: [(&str, &str, &str); 8] = [
    (
        "idle-timeout",
        "30",
        "silent clients give their place back sooner",
    ),
    (
        "hold-limit",
        "60",
        "a turn at the one-at-a-time tcp-echo is a minute",
    ),
    (
        "tcp-echo-backlog",
        "1024",
        "a class connecting at once queues at tcp-echo instead of retrying SYNs",
    ),
    (
        "header-timeout",
        "5",
        "slow request heads are dropped sooner",
    ),
    (
        "write-timeout",
        "5",
        "clients that do not read their answers are dropped sooner",
    ),
    (
        "bridge-idle-timeout",
        "120",
        "tabs with nothing open give their session back sooner",
    ),
    (
        "max-connections-per-client",
        "128",
        "one address holds at most an eighth of a demo",
    ),
    (
        "frame-budget",
        "33554432",
        "32 MiB for every unfinished frame together",
    ),
];

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Talk to one demo as a client and print what was sent and received.
    Client(ClientArgs),
    /// Test your own server or client, stage by stage, against real sockets.
    Check(crate::check::CheckArgs),
}

/// Flags of `socket-lab client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The demo to talk to, by name (e.g. tcp-echo).
    pub demo: Demo,
    /// What to send (for `framed`, JSON text). Each demo has a default from the notes.
    pub message: Option<String>,
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The demo's port (default: the demo's usual port).
    #[arg(long)]
    pub port: Option<u16>,
    /// The shared secret for `auth`.
    #[arg(long, env = "SOCKET_LAB_SECRET", default_value = protocol::auth::DEFAULT_SECRET, hide_env_values = true)]
    pub secret: String,
    /// For `tls-echo`: the certificate to trust (PEM). Without it the client
    /// fetches the server's own from `http://HOST:HTTP_PORT/tls-cert.pem`.
    #[arg(long)]
    pub cafile: Option<std::path::PathBuf>,
    /// For `tls-echo` without `--cafile`: the server's HTTP port.
    #[arg(long, default_value_t = 8000)]
    pub http_port: u16,
}

/// `tcp-echo=31432` → (tcp-echo, 31432).
fn parse_demo_port(text: &str) -> Result<(Demo, u16), String> {
    let (name, port) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not DEMO=PORT; write e.g. --port tcp-echo=31432"))?;
    let demo = name.trim().parse::<Demo>().map_err(|e| e.to_string())?;
    let port = port
        .trim()
        .parse::<u16>()
        .map_err(|_| format!("{port:?} is not a port number (0 to 65535)"))?;
    Ok((demo, port))
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds (e.g. 30 or 2.5)"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "{text:?} must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Flags of the server (the default command).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address every service binds to. Anything but loopback needs --secret and --allow-origin.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// HTTP port (site and WebSocket bridge); 0 = any free port.
    #[arg(long, default_value_t = DEFAULT_HTTP_PORT)]
    pub http_port: u16,
    /// tcp-echo port (TCP).
    #[arg(long, default_value_t = Demo::TcpEcho.default_port())]
    pub tcp_echo_port: u16,
    /// udp-echo port (UDP).
    #[arg(long, default_value_t = Demo::UdpEcho.default_port())]
    pub udp_echo_port: u16,
    /// uppercase port (TCP; the same number as udp-echo is fine: separate spaces).
    #[arg(long, default_value_t = Demo::Uppercase.default_port())]
    pub uppercase_port: u16,
    /// framed port (TCP).
    #[arg(long, default_value_t = Demo::Framed.default_port())]
    pub framed_port: u16,
    /// auth port (TCP).
    #[arg(long, default_value_t = Demo::Auth.default_port())]
    pub auth_port: u16,
    /// sticky port (TCP).
    #[arg(long, default_value_t = Demo::Sticky.default_port())]
    pub sticky_port: u16,
    /// chat port (TCP).
    #[arg(long, default_value_t = Demo::Chat.default_port())]
    pub chat_port: u16,
    /// tls-echo port (TCP, TLS; its certificate is at /tls-cert.pem).
    #[arg(long, default_value_t = Demo::TlsEcho.default_port())]
    pub tls_echo_port: u16,
    /// A demo's port as DEMO=PORT, e.g. --port tcp-echo=31432 (repeatable; 0 = any free port).
    #[arg(long = "port", value_name = "DEMO=PORT", value_parser = parse_demo_port)]
    pub port: Vec<(Demo, u16)>,
    /// Start only these demos (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Option<Vec<Demo>>,
    /// Shared secret of the auth demo.
    #[arg(long, env = "SOCKET_LAB_SECRET", default_value = protocol::auth::DEFAULT_SECRET, hide_env_values = true)]
    pub secret: String,
    /// Largest frame payload the framed demo accepts, in bytes.
    #[arg(long, default_value_t = protocol::frame::DEFAULT_MAX_FRAME)]
    pub max_frame: usize,
    /// Bytes all framed connections together may hold for unfinished frames.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub frame_budget: usize,
    /// Seconds a client may stay silent before it is dropped.
    #[arg(long, default_value = "60", value_parser = parse_secs)]
    pub idle_timeout: Duration,
    /// Seconds the auth demo waits for the answer.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    pub handshake_timeout: Duration,
    /// Seconds one client may hold the iterative tcp-echo demo, busy or not.
    #[arg(long, default_value = "300", value_parser = parse_secs)]
    pub hold_limit: Duration,
    /// The iterative tcp-echo demo's listen backlog (its accept queue holds one more).
    #[arg(long, default_value_t = crate::config::DEFAULT_TCP_ECHO_BACKLOG, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub tcp_echo_backlog: u32,
    /// Seconds the HTTP server waits for a whole request head.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    pub header_timeout: Duration,
    /// Seconds an HTTP response may wait for the client to read any of it.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    pub write_timeout: Duration,
    /// Most simultaneous HTTP connections (WebSockets not counted; at most a quarter of `ulimit -n`).
    #[arg(long, default_value_t = 512)]
    pub max_http_connections: usize,
    /// Most simultaneous connections per TCP demo.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Most simultaneous connections per TCP demo from one address (loopback is not capped).
    #[arg(long, default_value_t = 256)]
    pub max_connections_per_client: usize,
    /// Serve the site from this folder (default: the site built into this
    /// binary if it has one, else `dist`).
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Print what the demo servers see (connections, reads, replies).
    #[arg(long)]
    pub log_events: bool,
    /// A page origin allowed to use the bridge, e.g. https://course.example (repeatable).
    #[arg(long = "allow-origin")]
    pub allow_origins: Vec<String>,
    /// A name this server is reached by, e.g. course.example:8000 (repeatable; loopback names are built in).
    #[arg(long = "allow-host")]
    pub allow_hosts: Vec<String>,
    /// An extra HOST:PORT the bridge may connect to (repeatable).
    #[arg(long)]
    pub bridge_allow: Vec<SocketAddr>,
    /// Most simultaneous bridge sessions.
    #[arg(long, default_value_t = BridgeLimits::default().max_sessions)]
    pub max_sessions: usize,
    /// Most simultaneous bridge sessions from one client address.
    #[arg(long, default_value_t = BridgeLimits::default().max_sessions_per_client)]
    pub max_sessions_per_client: usize,
    /// Seconds a bridge session with no socket and no event watch may go without a message from its page.
    #[arg(long, default_value = "300", value_parser = parse_secs)]
    pub bridge_idle_timeout: Duration,
    /// Seconds between keepalive pings to each page (a page silent for three is gone).
    #[arg(long, default_value = "5", value_parser = parse_secs)]
    pub bridge_keepalive: Duration,
    /// Settings for a server a whole class shares (see SECURITY.md): shorter
    /// timeouts and turns; flags given explicitly win. Printed at start.
    #[arg(long)]
    pub class: bool,
    /// What `--class` set (for the start-up log).
    #[arg(skip)]
    pub class_applied: Vec<String>,
}

impl ServeArgs {
    /// Applies [`CLASS_PRESET`] to every flag for which `explicit(id)` is
    /// false; returns one line per setting applied, for the start-up log.
    pub fn apply_class_preset(&mut self, explicit: impl Fn(&str) -> bool) -> Vec<String> {
        let mut applied = Vec::new();
        for (flag, value, why) in CLASS_PRESET {
            let id = flag.replace('-', "_");
            if explicit(&id) {
                continue;
            }
            let secs = || parse_secs(value).expect("preset values parse");
            let n = || value.parse::<usize>().expect("preset values parse");
            match flag {
                "idle-timeout" => self.idle_timeout = secs(),
                "hold-limit" => self.hold_limit = secs(),
                "tcp-echo-backlog" => {
                    self.tcp_echo_backlog = value.parse().expect("preset values parse")
                }
                "header-timeout" => self.header_timeout = secs(),
                "write-timeout" => self.write_timeout = secs(),
                "bridge-idle-timeout" => self.bridge_idle_timeout = secs(),
                "max-connections-per-client" => self.max_connections_per_client = n(),
                "frame-budget" => self.frame_budget = n(),
                other => unreachable!("CLASS_PRESET names {other}, which has no field"),
            }
            applied.push(format!("--{flag} {value}: {why}"));
        }
        self.class_applied = applied.clone();
        applied
    }

    /// The configuration these flags describe.
    pub fn into_config(self) -> Config {
        let ports = [
            (Demo::TcpEcho, self.tcp_echo_port),
            (Demo::UdpEcho, self.udp_echo_port),
            (Demo::Uppercase, self.uppercase_port),
            (Demo::Framed, self.framed_port),
            (Demo::Auth, self.auth_port),
            (Demo::Sticky, self.sticky_port),
            (Demo::Chat, self.chat_port),
            (Demo::TlsEcho, self.tls_echo_port),
        ];
        let mut ports: std::collections::BTreeMap<Demo, u16> = ports.into_iter().collect();
        // `--port DEMO=PORT` comes last, so it wins over the per-demo flag.
        ports.extend(self.port.iter().copied());
        let mut demos = self.only.unwrap_or_else(|| Demo::ALL.to_vec());
        demos.sort();
        demos.dedup();
        Config {
            bind: self.bind,
            http_port: self.http_port,
            ports,
            demos,
            secret: self.secret.into_bytes(),
            max_frame: self.max_frame,
            frame_budget: self.frame_budget,
            idle_timeout: self.idle_timeout,
            handshake_timeout: self.handshake_timeout,
            hold_limit: self.hold_limit,
            tcp_echo_backlog: self.tcp_echo_backlog,
            http_header_timeout: self.header_timeout,
            http_write_timeout: self.write_timeout,
            http_max_connections: self.max_http_connections,
            max_connections: self.max_connections,
            max_connections_per_client: self.max_connections_per_client,
            embedded_site: self.assets.is_none() && crate::http::HAS_EMBEDDED_SITE,
            assets: self.assets.unwrap_or_else(|| PathBuf::from("dist")),
            log_events: self.log_events,
            allow_origins: self.allow_origins,
            allow_hosts: self.allow_hosts,
            bridge_allow: self.bridge_allow,
            bridge: BridgeLimits {
                max_sessions: self.max_sessions,
                max_sessions_per_client: self.max_sessions_per_client,
                idle_timeout: self.bridge_idle_timeout,
                keepalive: self.bridge_keepalive,
                ..BridgeLimits::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_into_config() {
        let cli = Cli::try_parse_from([
            "socket-lab",
            "--only",
            "sticky,tcp-echo",
            "--tcp-echo-port",
            "0",
            "--idle-timeout",
            "2.5",
        ])
        .unwrap();
        let config = cli.serve.into_config();
        assert_eq!(config.demos, vec![Demo::TcpEcho, Demo::Sticky]);
        assert_eq!(config.port(Demo::TcpEcho), 0);
        assert_eq!(config.idle_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn ports_can_be_named_by_demo() {
        let cli = Cli::try_parse_args([
            "socket-lab",
            "--tcp-echo-port",
            "1",
            "--port",
            "tcp-echo=31432",
            "--port",
            "udp-echo=0",
        ])
        .unwrap();
        let config = cli.serve.into_config();
        assert_eq!(config.port(Demo::TcpEcho), 31432);
        assert_eq!(config.port(Demo::UdpEcho), 0);
        assert_eq!(config.port(Demo::Auth), 8080);
        let err = Cli::try_parse_args(["socket-lab", "--port", "ftp=21"]).unwrap_err();
        assert!(err.to_string().contains("the demos are tcp-echo"), "{err}");
        let err = Cli::try_parse_args(["socket-lab", "--port", "tcp-echo"]).unwrap_err();
        assert!(err.to_string().contains("DEMO=PORT"), "{err}");
    }

    #[test]
    fn the_class_preset_fills_what_was_not_given() {
        let cli = Cli::try_parse_args(["socket-lab", "--class", "--idle-timeout", "45"]).unwrap();
        assert_eq!(
            cli.serve.idle_timeout,
            Duration::from_secs(45),
            "explicit wins"
        );
        assert_eq!(cli.serve.hold_limit, Duration::from_secs(60));
        assert_eq!(cli.serve.class_applied.len(), CLASS_PRESET.len() - 1);
        let config = cli.serve.into_config();
        assert_eq!(config.frame_budget, 32 * 1024 * 1024);
        assert_eq!(config.tcp_echo_backlog, 1024);
        assert_eq!(config.bridge.idle_timeout, Duration::from_secs(120));
        let plain = Cli::try_parse_args(["socket-lab"]).unwrap();
        assert_eq!(plain.serve.hold_limit, Duration::from_secs(300));
        assert_eq!(plain.serve.tcp_echo_backlog, 10);
        assert!(plain.serve.class_applied.is_empty());
    }

    #[test]
    fn bad_flags_say_what_to_do() {
        let err = Cli::try_parse_from(["socket-lab", "--only", "ftp"]).unwrap_err();
        assert!(err.to_string().contains("tcp-echo, udp-echo"), "{err}");
        let err = Cli::try_parse_from(["socket-lab", "--idle-timeout", "soon"]).unwrap_err();
        assert!(err.to_string().contains("number of seconds"), "{err}");
    }
}
