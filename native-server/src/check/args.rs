//! The flags of `socket-lab check`, parsed by clap like every other subcommand.
//!
//! The lesson is taken as plain text and checked by the runner, so that an
//! unknown name gets the same "here are the lessons" message whether the
//! check was started from the command line or from a test.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Flags of `socket-lab check`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  socket-lab check tcp-echo -- python3 my_server.py {port}
  socket-lab check framed --stage 3 -- cargo run --quiet --bin my_server -- {port}
  socket-lab check auth-client -- python3 my_client.py
  socket-lab check uppercase --port 9999          (a server that is already running)

Your program gets the port as $PORT and wherever {port} appears in its arguments;
clients also get it in the variable the book's clients read (e.g. SOCKET_LAB_FRAMED_PORT).
Exit status: 0 every stage passed, 1 a stage failed, 2 the command line was wrong.")]
pub struct CheckArgs {
    /// The lesson to check: tcp-echo, udp-echo, uppercase, framed, auth (your server),
    /// or tcp-echo-client, framed-client, auth-client (your client).
    pub lesson: String,
    /// Check a server that is already running on 127.0.0.1:PORT instead of starting one.
    #[arg(long)]
    pub port: Option<u16>,
    /// Run stages 1 to K only.
    #[arg(long, value_name = "K")]
    pub stage: Option<usize>,
    /// Seed of every random choice (messages, split points, challenges); a run repeats with the same seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also write the results as JSON (the shape of Exercism's results.json, version 2).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// How long to wait for each expected reply (e.g. 2, 0.5 or 300ms).
    #[arg(long, default_value = "2", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How long your server may take to start listening (or your client to connect).
    #[arg(long, default_value = "10", value_parser = parse_duration)]
    pub start_timeout: Duration,
    /// How long a server may wait for a silent client before dropping it (auth's silent-client stage).
    #[arg(long, default_value = "10", value_parser = parse_duration)]
    pub silence_timeout: Duration,
    /// The shared secret of the auth lessons (also passed to your program as SOCKET_LAB_SECRET).
    #[arg(long, env = "SOCKET_LAB_SECRET", default_value = protocol::auth::DEFAULT_SECRET, hide_env_values = true)]
    pub secret: String,
    /// The running socket-lab server whose chapters show this run live, in their check view
    /// (default http://127.0.0.1:8000, or the port in SOCKET_LAB_HTTP_PORT).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Do not publish this run to a socket-lab server's check view.
    #[arg(long)]
    pub no_publish: bool,
    /// The command that starts your program, after `--`; `{port}` is replaced by the port to use.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `2`, `2.5`, `2s` or `300ms`: a duration from a tenth of a millisecond to an hour.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 0.001),
        None => (text.trim_end_matches('s'), 1.0),
    };
    let secs = number
        .trim()
        .parse::<f64>()
        .map(|n| n * scale)
        .map_err(|_| {
            format!("{text:?} is not a duration; write seconds (2, 0.5) or milliseconds (300ms)")
        })?;
    if !(0.0001..=3600.0).contains(&secs) {
        return Err(format!("{text:?} must be between 0.1ms and 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}
