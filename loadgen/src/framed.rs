//! Framed JSON round trips per second, and the framed client the other modes share.
//!
//! A round trip is the notes' `send_msg` / `recv_msg` pair: one length-prefixed
//! JSON request (`{"msg": "Hello", "n": N}`), then one length-prefixed reply
//! that must echo it back (`{"echo": {...}, ...}`, as both socket-lab's
//! `framed` demo and the Python peer answer). With one connection the rate is
//! bound by latency; with 32 it shows how a server spreads work over cores.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use measurement::Bench;
use protocol::frame::{FrameDecoder, decode_json, encode_json};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::Bounds;
use crate::report::{self, Tally};

/// Flags of `framed-rtt`.
#[derive(Debug, Args)]
pub(crate) struct FramedArgs {
    /// The server's address.
    #[arg(long)]
    addr: SocketAddr,
    /// Connections, each doing one round trip at a time.
    #[arg(long, default_value_t = 1)]
    conns: usize,
    #[command(flatten)]
    bounds: Bounds,
}

/// How long one round trip may take before it counts as failed.
pub(crate) const RTT_TIMEOUT: Duration = Duration::from_secs(5);

/// One framed connection, as the notes' client keeps it.
pub(crate) struct FramedConn {
    stream: TcpStream,
    decoder: FrameDecoder,
    buf: Vec<u8>,
}

impl FramedConn {
    /// Connects (with Nagle off: a request is one small write, answered at once).
    pub(crate) async fn connect(addr: SocketAddr) -> std::io::Result<FramedConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(FramedConn {
            stream,
            decoder: FrameDecoder::default(),
            buf: Vec::new(),
        })
    }

    /// Sends request `n` and checks that the reply echoes it.
    pub(crate) async fn round_trip(&mut self, n: u64) -> Result<(), String> {
        let request = encode_json(&json!({"msg": "Hello", "n": n})).map_err(|e| e.to_string())?;
        self.stream
            .write_all(&request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        if self.buf.is_empty() {
            self.buf = vec![0; 4096];
        }
        loop {
            if let Some(payload) = self.decoder.decode().map_err(|e| e.to_string())? {
                let reply: Value = decode_json(&payload).map_err(|e| e.to_string())?;
                return if reply["echo"]["n"] == json!(n) {
                    Ok(())
                } else {
                    Err(format!("reply does not echo request {n}: {reply}"))
                };
            }
            let got = self
                .stream
                .read(&mut self.buf)
                .await
                .map_err(|e| format!("receive: {e}"))?;
            if got == 0 {
                return Err("the server closed the connection".into());
            }
            self.decoder.feed(&self.buf[..got]);
        }
    }
}

/// Runs the measurement and prints its line.
pub(crate) async fn run(args: FramedArgs) -> Result<()> {
    let started = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();
    let stop = begin + args.bounds.duration();
    let mut workers = Vec::new();
    for _ in 0..args.conns.max(1) {
        let started = started.clone();
        let (addr, max_ops) = (args.addr, args.bounds.max_ops);
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut conn = match timeout(RTT_TIMEOUT, FramedConn::connect(addr)).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tally.error(format!("connect: {e}"));
                    return tally;
                }
                Err(_) => {
                    tally.error("connect timed out");
                    return tally;
                }
            };
            let mut n = 0;
            while Instant::now() < stop && started.fetch_add(1, Ordering::Relaxed) < max_ops {
                n += 1;
                // After a failure the stream is out of step or gone: this
                // connection is done.
                if !tally
                    .time(RTT_TIMEOUT, "no reply within 5 s", conn.round_trip(n))
                    .await
                {
                    break;
                }
            }
            tally
        }));
    }
    report::finish_load(
        workers,
        &args.bounds,
        Bench::FramedRtt,
        args.addr,
        args.conns,
        begin,
    )
    .await;
    Ok(())
}
