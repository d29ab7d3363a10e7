//! The `socket-lab` binary: parse flags, install signal handling, run.
//!
//! All the work is in the library (`lib.rs`); this file only turns the command
//! line and Ctrl-C/SIGTERM into calls to it.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use native_server::Server;
use native_server::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One readable sentence (with its causes), not a backtrace.
            eprintln!("socket-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOCKET_LAB_LOG")
                .unwrap_or_else(|_| "socket_lab=info,native_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(Command::Client(args)) = cli.command {
        return native_server::client::run(args).await;
    }
    let server = Server::bind(cli.serve.into_config()).await?;
    // One line per service with its real address: tests (and people) read these.
    for service in server.services() {
        println!("{service}");
    }
    server.run(shutdown_signal()).await?;
    Ok(())
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
