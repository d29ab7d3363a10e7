//! `check udp-echo`: the learner's UDP server, which answers every
//! datagram with `Message received`, sent back to whoever sent it.
//!
//! There is no connection to wait for, so the first stage resends its
//! datagram until the server answers or the start-up time is over.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use protocol::demo::UDP_REPLY;
use rand::Rng;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::super::Ctx;
use super::super::conn::{Transcript, secs};
use super::super::failure::{Bug, Failure, StageResult};
use super::word;
use protocol::check::Direction;

/// The stages, in order.
pub(crate) const STAGES: &[&str] = &[
    "one datagram",
    "each sender gets its own reply",
    "an empty datagram",
    "ten datagrams in a burst, ten replies",
    "bytes that are not UTF-8",
    "a 2000-byte datagram (more than the 1024-byte buffer)",
];

/// How often stage 1 resends while the server starts.
const RESEND: Duration = Duration::from_millis(100);

/// Runs stage `index`.
pub(crate) async fn stage(index: usize, ctx: &mut Ctx) -> StageResult {
    let log = ctx.transcript();
    match index {
        0 => {
            let a = Client::bind("A", &log, ctx).await?;
            let datagram = b"Hello via UDP";
            let deadline = Instant::now() + ctx.start_timeout;
            loop {
                a.send(datagram).await?;
                match a.recv_within(RESEND).await {
                    Some(reply) => return a.judge(datagram, &reply, None),
                    None if Instant::now() >= deadline => {
                        return Err(a.fail(format!(
                            "no reply to a datagram resent every {} for {}: is the program bound to the UDP port it was given (on 127.0.0.1)?",
                            secs(RESEND),
                            secs(ctx.start_timeout)
                        )));
                    }
                    None => {}
                }
            }
        }
        1 => {
            let a = Client::bind("A", &log, ctx).await?;
            let b = Client::bind("B", &log, ctx).await?;
            let (da, db) = (
                format!("from A {}", word(ctx, 5)),
                format!("from B {}", word(ctx, 5)),
            );
            a.send(da.as_bytes()).await?;
            b.send(db.as_bytes()).await?;
            for (client, sent) in [(&a, &da), (&b, &db)] {
                let reply = client.recv().await.ok_or_else(|| {
                    client
                        .fail(format!(
                            "client {} got no reply: send the reply to the address recvfrom returned, not to the first client's",
                            client.label
                        ))
                })?;
                client.judge(sent.as_bytes(), &reply, None)?;
            }
            Ok(())
        }
        2 => one(ctx, &log, b"").await,
        3 => {
            let a = Client::bind("A", &log, ctx).await?;
            for i in 0..10 {
                a.send(format!("burst {i}").as_bytes()).await?;
            }
            for i in 0..10 {
                let reply = a
                    .recv()
                    .await
                    .ok_or_else(|| a.fail(format!("only {i} of 10 replies arrived")))?;
                a.judge(format!("burst {i}").as_bytes(), &reply, None)?;
            }
            Ok(())
        }
        4 => {
            let mut datagram = vec![0xff, 0xfe, 0x00];
            datagram.extend((0..10).map(|_| ctx.rng.random::<u8>() | 0x80));
            one(ctx, &log, &datagram).await
        }
        5 => {
            let datagram: Vec<u8> = (0..2000).map(|i| b'a' + (i % 26) as u8).collect();
            one(ctx, &log, &datagram).await?;
            // Still serving after the oversized one?
            one(ctx, &log, b"still there?").await
        }
        _ => unreachable!("udp-echo has {} stages", STAGES.len()),
    }
}

/// One datagram out, `Message received` back.
async fn one(ctx: &Ctx, log: &Transcript, datagram: &[u8]) -> StageResult {
    let a = Client::bind("A", log, ctx).await?;
    a.send(datagram).await?;
    let reply = a.recv().await.ok_or_else(|| {
        a.fail(format!("no reply within {}", secs(ctx.timeout)))
            .sent(datagram)
            .bug(
                (!datagram.is_empty() && std::str::from_utf8(datagram).is_err())
                    .then_some(Bug::BytesAsText),
            )
    })?;
    a.judge(datagram, &reply, None)
}

/// A UDP client socket with its transcript.
struct Client {
    socket: UdpSocket,
    server: SocketAddr,
    label: &'static str,
    log: Transcript,
    timeout: Duration,
}

impl Client {
    async fn bind(label: &'static str, log: &Transcript, ctx: &Ctx) -> Result<Client, Failure> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| Failure::new(format!("could not open a UDP socket: {e}")))?;
        Ok(Client {
            socket,
            server: ctx.addr,
            label,
            log: log.clone(),
            timeout: ctx.timeout,
        })
    }

    async fn send(&self, datagram: &[u8]) -> StageResult {
        self.log.io(self.label, Direction::Sent, datagram, true);
        self.socket
            .send_to(datagram, self.server)
            .await
            .map(drop)
            .map_err(|e| self.fail(format!("could not send: {e}")))
    }

    async fn recv(&self) -> Option<Vec<u8>> {
        self.recv_within(self.timeout).await
    }

    /// The next datagram from the server, if one arrives within `wait`.
    async fn recv_within(&self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 65536];
        loop {
            match tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) if from == self.server => {
                    self.log.io(self.label, Direction::Read, &buf[..n], true);
                    return Some(buf[..n].to_vec());
                }
                Ok(Ok((n, _))) => self.log.conn_note(
                    self.label,
                    format!(
                        "{} ← datagram of {} bytes from another address (ignored)",
                        self.label, n
                    ),
                ),
                // An ICMP "port unreachable" from an earlier send shows up
                // here on Linux: nobody is listening yet.
                Ok(Err(_)) => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(_) => {
                    self.log.conn_note(
                        self.label,
                        format!("{} · no datagram within {}", self.label, secs(wait)),
                    );
                    return None;
                }
            }
        }
    }

    fn judge(&self, sent: &[u8], reply: &[u8], bug: Option<Bug>) -> StageResult {
        if reply == UDP_REPLY {
            return Ok(());
        }
        Err(self
            .fail("every datagram must be answered with one datagram `Message received`")
            .sent(sent)
            .compare(UDP_REPLY, reply)
            .bug(bug))
    }

    fn fail(&self, what: impl Into<String>) -> Failure {
        Failure::new(what).transcript(self.log.lines())
    }
}
