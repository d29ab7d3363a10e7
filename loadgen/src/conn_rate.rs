//! Connections per second against an uppercase-style server.
//!
//! Each client repeats the notes' uppercase client: connect, send one line,
//! read the reply until the server closes, check it. With N clients doing this
//! at once, the rate measures how fast a server accepts, answers and closes —
//! the whole life of a short connection, which is what a classroom of learners
//! running the same client does to the `uppercase` demo.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use measurement::Bench;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::Bounds;
use crate::report::{self, Tally};

/// Flags of `conn-rate`.
#[derive(Debug, Args)]
pub(crate) struct ConnRateArgs {
    /// The server's address.
    #[arg(long)]
    addr: SocketAddr,
    /// Clients connecting at the same time.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// The line each client sends.
    #[arg(long, default_value = "hello from loadgen")]
    message: String,
    #[command(flatten)]
    bounds: Bounds,
}

/// How long one connection may take before it counts as failed.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection: connect, send, read to EOF into `reply`.
async fn once(addr: SocketAddr, message: &[u8], reply: &mut Vec<u8>) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(message).await?;
    reply.clear();
    stream.read_to_end(reply).await?;
    Ok(())
}

/// Runs the measurement and prints its line.
pub(crate) async fn run(args: ConnRateArgs) -> Result<()> {
    let message: Arc<[u8]> = args.message.as_bytes().into();
    // What every uppercase server answers: the line trimmed and upper-cased.
    let expected: Arc<[u8]> = message.trim_ascii().to_ascii_uppercase().into();
    let started = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();
    let stop = begin + args.bounds.duration();
    let mut workers = Vec::new();
    for _ in 0..args.clients.max(1) {
        let (message, expected, started) = (message.clone(), expected.clone(), started.clone());
        let max_ops = args.bounds.max_ops;
        let addr = args.addr;
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut reply = Vec::with_capacity(64);
            while Instant::now() < stop && started.fetch_add(1, Ordering::Relaxed) < max_ops {
                let t0 = Instant::now();
                match timeout(OP_TIMEOUT, once(addr, &message, &mut reply)).await {
                    Ok(Ok(())) if reply[..] == expected[..] => {
                        tally.ops += 1;
                        tally.latencies.record(t0.elapsed());
                    }
                    Ok(Ok(())) => {
                        tally.error(format!("wrong reply {:?}", String::from_utf8_lossy(&reply)))
                    }
                    Ok(Err(e)) => {
                        tally.error(e);
                        // A refused or exhausted connect fails fast; do not spin on it.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(_) => tally.error("no reply within 5 s"),
                }
            }
            tally
        }));
    }
    report::finish_load(
        workers,
        &args.bounds,
        Bench::ConnRate,
        args.addr,
        args.clients,
        begin,
    )
    .await;
    Ok(())
}
