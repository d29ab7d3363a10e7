//! `socket-lab client <demo>`: the C/S side of the lesson, a native client.
//!
//! It speaks each demo's protocol, printing every step, so a learner can
//! compare it with their own Python client byte for byte.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use protocol::auth::{CHALLENGE_LEN, respond};
use protocol::frame::{self, FrameDecoder};
use protocol::hex::to_spaced_hex;
use protocol::{Demo, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::cli::ClientArgs;

const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

fn default_message(demo: Demo) -> &'static str {
    match demo {
        Demo::TcpEcho => "Hello, Server",
        Demo::UdpEcho => "Hello via UDP",
        Demo::Uppercase => "hello",
        Demo::Framed => r#"{"msg": "Hello"}"#,
        Demo::Auth => "",
        Demo::Sticky => "Hello|World",
    }
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

async fn timed<T>(
    what: &str,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T> {
    tokio::time::timeout(REPLY_TIMEOUT, fut)
        .await
        .with_context(|| {
            format!(
                "no answer within {} s while {what}",
                REPLY_TIMEOUT.as_secs()
            )
        })?
        .with_context(|| format!("failed while {what}"))
}

/// Runs the client and prints the exchange to stdout.
pub async fn run(args: ClientArgs) -> Result<()> {
    let demo = args.demo;
    let port = args.port.unwrap_or(demo.default_port());
    let addr = format!("{}:{port}", args.host);
    let message = args
        .message
        .unwrap_or_else(|| default_message(demo).to_owned());

    if demo.transport() == Transport::Udp {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        socket
            .connect(&addr)
            .await
            .with_context(|| format!("bad address {addr}"))?;
        socket.send(message.as_bytes()).await?;
        println!(
            "sent datagram of {} bytes from {} to {addr}: {}",
            message.len(),
            socket.local_addr()?,
            show(message.as_bytes())
        );
        let mut buf = vec![0u8; 65_536];
        let n = timed(
            "waiting for the reply datagram (is udp-echo running?)",
            socket.recv(&mut buf),
        )
        .await?;
        println!("received datagram of {n} bytes: {}", show(&buf[..n]));
        return Ok(());
    }

    let mut stream = TcpStream::connect(&addr).await.with_context(|| {
        format!("could not connect to {demo} at {addr}: is `socket-lab` running (and was {demo} started)?")
    })?;
    println!(
        "connected {} -> {}",
        stream.local_addr()?,
        stream.peer_addr()?
    );

    match demo {
        Demo::Framed => {
            serde_json::from_str::<serde_json::Value>(&message)
                .with_context(|| format!("the framed demo takes JSON; {message:?} is not JSON"))?;
            let bytes = frame::encode(message.as_bytes())?;
            stream.write_all(&bytes).await?;
            println!(
                "sent frame: header {} + {} payload bytes",
                to_spaced_hex(&bytes[..4]),
                message.len()
            );
            let mut decoder = FrameDecoder::default();
            let mut buf = [0u8; 4096];
            let payload = loop {
                if let Some(p) = decoder.decode()? {
                    break p;
                }
                let n = timed("waiting for the reply frame", stream.read(&mut buf)).await?;
                if n == 0 {
                    decoder.finish()?;
                    bail!("the server closed without replying");
                }
                decoder.feed(&buf[..n]);
            };
            println!(
                "received frame of {} bytes: {}",
                payload.len(),
                String::from_utf8_lossy(&payload)
            );
        }
        Demo::Auth => {
            let mut challenge = [0u8; CHALLENGE_LEN];
            timed(
                "reading the 32-byte challenge",
                stream.read_exact(&mut challenge),
            )
            .await?;
            println!("challenge: {}", to_spaced_hex(&challenge));
            let answer = respond(args.secret.as_bytes(), &challenge);
            stream.write_all(&answer).await?;
            println!("answer (HMAC-SHA256): {}", to_spaced_hex(&answer));
            let mut verdict = Vec::new();
            timed("reading the verdict", stream.read_to_end(&mut verdict)).await?;
            println!("verdict: {}", String::from_utf8_lossy(&verdict));
        }
        Demo::Uppercase => {
            stream.write_all(message.as_bytes()).await?;
            println!("sent {} bytes: {}", message.len(), show(message.as_bytes()));
            let mut reply = Vec::new();
            timed("reading the reply", stream.read_to_end(&mut reply)).await?;
            println!("received {} bytes: {}", reply.len(), show(&reply));
        }
        Demo::Sticky => {
            // One write per `|`-separated part, back to back: whether the
            // demo reads them merged or apart is what the lesson is about.
            let parts: Vec<&str> = message.split('|').filter(|p| !p.is_empty()).collect();
            stream.set_nodelay(true)?;
            for part in &parts {
                stream.write_all(part.as_bytes()).await?;
                println!("sent {} bytes: {}", part.len(), show(part.as_bytes()));
            }
            let total: usize = parts.iter().map(|p| p.len()).sum();
            let mut got = 0;
            let mut buf = vec![0u8; 4096];
            while got < total {
                let n = timed("reading the echo", stream.read(&mut buf)).await?;
                if n == 0 {
                    bail!("the server closed after {got} of {total} bytes");
                }
                got += n;
                println!("read {n} bytes: {}", show(&buf[..n]));
            }
            println!(
                "{} writes came back in the reads above: TCP keeps the bytes, not the boundaries",
                parts.len()
            );
        }
        Demo::TcpEcho => {
            stream.write_all(message.as_bytes()).await?;
            println!("sent {} bytes: {}", message.len(), show(message.as_bytes()));
            let mut buf = vec![0u8; 4096];
            let n = timed("reading the reply", stream.read(&mut buf)).await?;
            println!("received {n} bytes: {}", show(&buf[..n]));
        }
        Demo::UdpEcho => unreachable!("handled above"),
    }
    Ok(())
}
