//! Many idle connections: what they cost the server, and whether it still answers.
//!
//! Opens N connections (a bounded number at a time, so the listen backlog is
//! never the limit), leaves them idle, reads the server's resident memory from
//! `/proc/<pid>/status` (before, once open, after holding), then asks every
//! one of them a question and checks the answer. "Held" only counts if the
//! server can still serve each connection it held.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use measurement::{Bench, Demo, Hold, Memory};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use crate::framed::{FramedConn, RTT_TIMEOUT};
use crate::open::{Failures, open_all};
use crate::report::{self, MemorySampler, Tally, memory};

/// What the held connections speak.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// One line, answered upper-cased, then the server closes.
    Uppercase,
    /// Length-prefixed JSON frames.
    Framed,
}

impl From<Kind> for Demo {
    fn from(kind: Kind) -> Demo {
        match kind {
            Kind::Uppercase => Demo::Uppercase,
            Kind::Framed => Demo::Framed,
        }
    }
}

/// Flags of `hold`.
#[derive(Debug, Args)]
pub(crate) struct HoldArgs {
    /// The server's address.
    #[arg(long)]
    addr: SocketAddr,
    /// The protocol of the held connections.
    #[arg(long, value_enum)]
    kind: Kind,
    /// How many connections to hold.
    #[arg(long, default_value_t = 10_000)]
    conns: usize,
    /// Connects (and later questions) in flight at once. Kept well under the
    /// server's listen backlog (tokio's default is 128): a connect completes
    /// before the server accepts it, so more in flight can overflow the accept
    /// queue and cost a 1 s SYN retransmission.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
    /// How long to hold them idle before asking, in seconds.
    #[arg(long, default_value_t = 2.0)]
    hold_secs: f64,
    /// The server's process id, to read its memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A name for this measurement, copied into the JSON line.
    #[arg(long, default_value = "")]
    label: String,
}

/// The longest hold: long enough for the bench to measure the kernel
/// watcher's cost in rounds while the connections are open.
const MAX_HOLD_SECS: f64 = 300.0;

/// One held connection.
enum Held {
    Uppercase(TcpStream),
    Framed(FramedConn),
}

async fn open(addr: SocketAddr, kind: Kind) -> std::io::Result<Held> {
    Ok(match kind {
        Kind::Uppercase => Held::Uppercase(TcpStream::connect(addr).await?),
        Kind::Framed => Held::Framed(FramedConn::connect(addr).await?),
    })
}

/// Asks connection `i` a question and checks the answer.
async fn ask(held: Held, i: u64) -> Result<(), String> {
    match held {
        Held::Uppercase(mut stream) => {
            let question = format!("hello {i}");
            stream
                .write_all(question.as_bytes())
                .await
                .map_err(|e| format!("send: {e}"))?;
            let mut reply = Vec::new();
            stream
                .read_to_end(&mut reply)
                .await
                .map_err(|e| format!("receive: {e}"))?;
            if reply == question.to_ascii_uppercase().as_bytes() {
                Ok(())
            } else if reply.is_empty() {
                Err("the server had closed the held connection".into())
            } else {
                Err(format!("wrong reply {:?}", String::from_utf8_lossy(&reply)))
            }
        }
        Held::Framed(mut conn) => conn.round_trip(i).await,
    }
}

/// Runs the measurement and prints its line.
pub(crate) async fn run(args: HoldArgs) -> Result<()> {
    // Bounded as a whole, whatever the server does.
    let limit = Duration::from_secs_f64(args.hold_secs.clamp(0.0, MAX_HOLD_SECS))
        + Duration::from_secs(240);
    match timeout(limit, hold(&args)).await {
        Ok(result) => result,
        Err(_) => {
            let mut tally = Tally::default();
            tally.error("the hold run did not finish within its deadline");
            let bench = Bench::Hold(Hold {
                addr: args.addr.to_string(),
                kind: args.kind.into(),
                conns: args.conns as u64,
                opened: 0,
                answered: 0,
                open_secs: 0.0,
                hold_secs: 0.0,
                answer_secs: 0.0,
                bytes_per_conn: 0.0,
                before: Memory::default(),
                open: Memory::default(),
                held: Memory::default(),
                peak: Memory::default(),
            });
            report::emit(bench, &args.label, tally, limit);
            Ok(())
        }
    }
}

async fn hold(args: &HoldArgs) -> Result<()> {
    let mut tally = Tally::default();
    let before = memory(args.server_pid);
    let gate = Arc::new(Semaphore::new(args.parallel.max(1)));

    // Open every connection, a bounded number at a time.
    let opening = Instant::now();
    let (addr, kind) = (args.addr, args.kind);
    let held = open_all(
        args.conns,
        &gate,
        Duration::from_secs(10),
        || open(addr, kind),
        &mut tally,
        Failures {
            what: "connect",
            late: "connect timed out after 10 s",
        },
    )
    .await;
    let open_secs = opening.elapsed().as_secs_f64();
    let opened = held.len();

    // Let the server finish accepting, then read its memory, then hold.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open_mem = memory(args.server_pid);
    tokio::time::sleep(Duration::from_secs_f64(
        args.hold_secs.clamp(0.0, MAX_HOLD_SECS),
    ))
    .await;
    let held_mem = memory(args.server_pid);

    // Ask every held connection a question, a bounded number at a time.
    let sampler = MemorySampler::start(args.server_pid);
    let asking = Instant::now();
    let mut set = JoinSet::new();
    for (i, conn) in held.into_iter().enumerate() {
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("never closed");
            let t0 = Instant::now();
            let res = timeout(RTT_TIMEOUT, ask(conn, i as u64 + 1)).await;
            (res, t0.elapsed())
        });
    }
    while let Some(res) = set.join_next().await {
        match res {
            Ok((Ok(Ok(())), took)) => {
                tally.ops += 1;
                tally.latencies.record(took);
            }
            Ok((Ok(Err(e)), _)) => tally.error(e),
            Ok((Err(_), _)) => tally.error("no answer within 5 s"),
            Err(e) => tally.error(format!("question task: {e}")),
        }
    }
    let answer_secs = asking.elapsed().as_secs_f64();
    let peak = sampler.peak().max(memory(args.server_pid));

    let per_conn = if opened > 0 {
        (held_mem.rss_kb.saturating_sub(before.rss_kb) * 1024) as f64 / opened as f64
    } else {
        0.0
    };
    let ms = |secs: f64| (secs * 1000.0).round() / 1000.0;
    let bench = Bench::Hold(Hold {
        addr: args.addr.to_string(),
        kind: args.kind.into(),
        conns: args.conns as u64,
        opened: opened as u64,
        answered: tally.ops,
        open_secs: ms(open_secs),
        hold_secs: args.hold_secs,
        answer_secs: ms(answer_secs),
        bytes_per_conn: per_conn.round(),
        before,
        open: open_mem,
        held: held_mem,
        peak,
    });
    report::emit(
        bench,
        &args.label,
        tally,
        Duration::from_secs_f64(answer_secs),
    );
    Ok(())
}
