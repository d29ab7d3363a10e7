//! The `socket-lab` binary: parse flags, install signal handling, run.
//!
//! All the work is in the library (`lib.rs`); this file only turns the command
//! line and Ctrl-C/SIGTERM into calls to it, raises the open-file limit, and
//! bounds how long the process takes to exit.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use native_server::Server;
use native_server::cli::{Cli, Command};

/// How long the runtime may take to stop once `run` is done. `run` already
/// spent [`native_server::server::SHUTDOWN_GRACE`] (1.5 s) on shutdown; what is
/// left of the 2 s promised for a SIGTERM goes here, where a file read still
/// in flight on a blocking thread could otherwise keep the process alive.
const RUNTIME_STOP: Duration = Duration::from_millis(250);

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("socket-lab: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run());
    runtime.shutdown_timeout(RUNTIME_STOP);
    match result {
        Ok(code) => code,
        Err(e) => {
            // One readable sentence (with its causes), not a backtrace.
            eprintln!("socket-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOCKET_LAB_LOG")
                .unwrap_or_else(|_| "socket_lab=info,native_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse_args();
    match cli.command {
        Some(Command::Client(args)) => {
            native_server::client::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        // 0 every stage passed, 1 one failed, 2 a usage error. On Ctrl-C
        // the check is dropped, which stops the learner's program.
        Some(Command::Check(args)) => {
            let mut stdout = std::io::stdout();
            tokio::select! {
                outcome = native_server::check::run(args, &mut stdout) => return Ok(outcome.into()),
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("socket-lab check: interrupted; your program was stopped");
                    return Ok(ExitCode::from(130));
                }
            }
        }
        None => {}
    }
    // Many systems start programs with a soft limit of 1,024 descriptors, far
    // below what they allow: ask for all of it before any socket is opened.
    if let Some(limit) = native_server::fd_limit::raise() {
        tracing::debug!(limit, "open-file limit");
    }
    for line in &cli.serve.class_applied {
        eprintln!("socket-lab: class preset: {line}");
    }
    let server = Server::bind(cli.serve.into_config()).await?;
    // One line per service with its real address: tests (and people) read these.
    for service in server.services() {
        println!("{service}");
    }
    server.run(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
