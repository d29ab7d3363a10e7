//! `loadgen`: one load generator for Socket Lab and every peer it is compared with.
//!
//! Ratios only mean something if each server is driven the same way, so the
//! same client code measures socket-lab, the notes' Python servers, a minimal
//! tokio server and websockify. `cargo xtask bench` starts the servers and runs
//! these modes; each prints one JSON line per measurement on stdout:
//!
//! - `conn-rate`: connections per second against an uppercase-style server
//!   (connect, send, read to EOF) with N concurrent clients;
//! - `framed-rtt`: length-prefixed JSON round trips per second over N connections;
//! - `hold`: open N idle connections, measure the server's memory, then check
//!   that every one is still answered;
//! - `relay`: WebSocket relay throughput and round-trip latency through a
//!   bridge (socket-lab's `/ws` or websockify) to an echo server, N sessions;
//! - `watch`: one socket-lab bridge session watching the kernel's socket table
//!   (or, at 0 Hz, only open), for the bench to read the server's CPU around;
//! - `floor-server`, `echo-server` and `relay-floor`: the servers the bench
//!   needs that are not under test (the minimal tokio baseline, the relay
//!   target, and a copy-only relay that shows what any relay costs here).
//!
//! Every load loop is bounded by a duration *and* a count and stops by itself;
//! the servers stop after `--max-secs` (or when stdin closes, with
//! `--exit-on-stdin-eof`). Use it on loopback only.

mod conn_rate;
mod framed;
mod hold;
mod open;
mod peers;
mod relay;
mod report;
mod watch;

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

/// Drives socket-lab and its peers the same way; prints one JSON line per measurement.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Connections per second: connect, send one line, read the reply to EOF.
    ConnRate(conn_rate::ConnRateArgs),
    /// Framed JSON round trips per second over persistent connections.
    FramedRtt(framed::FramedArgs),
    /// Hold N idle connections, read the server's memory, then check each is answered.
    Hold(hold::HoldArgs),
    /// Round trips through a WebSocket-to-TCP bridge to an echo server.
    Relay(relay::RelayArgs),
    /// One bridge session watching the kernel's socket table (0 Hz: only open).
    Watch(watch::WatchArgs),
    /// The floor: a minimal tokio accept-read-write-close uppercase server.
    FloorServer(peers::ServerArgs),
    /// The relay target: a concurrent TCP echo server.
    EchoServer(peers::ServerArgs),
    /// The relay floor: a WebSocket-to-TCP relay that only copies (websockify's wire format).
    RelayFloor(peers::RelayFloorArgs),
}

/// Limits every load loop obeys: whichever comes first ends it.
#[derive(Debug, Clone, Args)]
pub(crate) struct Bounds {
    /// How long to apply load, in seconds.
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
    /// Most operations in all (connections, round trips) before stopping early.
    #[arg(long, default_value_t = 2_000_000)]
    max_ops: u64,
    /// A name for this measurement, copied into the JSON line (e.g. "socket-lab").
    #[arg(long, default_value = "")]
    label: String,
}

impl Bounds {
    /// The load duration.
    pub(crate) fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.secs.clamp(0.1, 600.0))
    }

    /// A hard stop for the whole mode: the load time plus generous room for
    /// setup and draining, so nothing can run away.
    pub(crate) fn deadline(&self) -> Duration {
        self.duration() + Duration::from_secs(120)
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // 10,000 held connections need 10,000 descriptors; the soft limit is
    // often 1024. Raise it as far as the hard limit allows.
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    report::set_nofile(nofile);
    // The relay's client and its echo target run on one thread each: on a
    // machine shared with the bridge being measured, every cross-thread wake-up
    // in the load generator is CPU taken from the bridge. One thread drives
    // hundreds of sessions (a few µs of client CPU per message). The other
    // modes measure servers against a multi-threaded floor and keep the
    // multi-threaded runtime they were measured with.
    let mut rt = if matches!(cli.mode, Mode::Relay(_) | Mode::EchoServer(_)) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let rt = rt.enable_all().build()?;
    rt.block_on(async {
        match cli.mode {
            Mode::ConnRate(args) => conn_rate::run(args).await,
            Mode::FramedRtt(args) => framed::run(args).await,
            Mode::Hold(args) => hold::run(args).await,
            Mode::Relay(args) => relay::run(args).await,
            Mode::Watch(args) => watch::run(args).await,
            Mode::FloorServer(args) => peers::floor_server(args).await,
            Mode::EchoServer(args) => peers::echo_server(args).await,
            Mode::RelayFloor(args) => peers::relay_floor(args).await,
        }
    })
}
