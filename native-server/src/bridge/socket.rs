//! One bridged socket: a reader task and a writer task around a real TCP or
//! UDP socket.
//!
//! Reading and writing are separate tasks on purpose. If one task did both, a
//! large send to a peer that is itself busy sending to us could deadlock: we
//! would wait to write while it waits for us to read.
//!
//! Every read becomes exactly one binary `R` frame to the page, so the page
//! sees the boundaries the socket really returned. The frame goes through the
//! session's bounded outgoing queue: if the page stops reading, the queue
//! fills, the reader waits, we stop reading the socket, and TCP flow control
//! slows the peer. Memory stays bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use protocol::bridge::{ClosedBy, ServerMsg, SocketId, read_header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::session::Outbound;

/// Bytes asked of each read.
pub const READ_CHUNK: usize = 64 * 1024;

/// Commands queued for one socket's writer before the session waits for it.
const CMD_QUEUE: usize = 32;

/// Commands from the session to a socket's writer.
#[derive(Debug)]
pub enum SockCmd {
    /// Send these bytes.
    Data(Vec<u8>),
    /// Shut down the sending half.
    Shutdown,
}

/// The session's handle on one bridged socket.
#[derive(Debug)]
pub struct SockHandle {
    /// Where to send commands.
    pub cmd: mpsc::Sender<SockCmd>,
    reader: AbortHandle,
    writer: AbortHandle,
    closed: Arc<AtomicBool>,
    out: mpsc::Sender<Outbound>,
    id: SocketId,
}

impl SockHandle {
    /// Whether both tasks have ended.
    pub fn is_finished(&self) -> bool {
        self.reader.is_finished() && self.writer.is_finished()
    }

    /// Closes the socket at the page's request (or at session end).
    pub async fn close(self, by: ClosedBy, reason: &str) {
        self.reader.abort();
        self.writer.abort();
        announce_closed(&self.closed, &self.out, self.id, by, reason).await;
    }
}

/// Sends `closed` once per socket, whoever gets there first.
async fn announce_closed(
    closed: &AtomicBool,
    out: &mpsc::Sender<Outbound>,
    sock: SocketId,
    by: ClosedBy,
    reason: &str,
) {
    if !closed.swap(true, Ordering::AcqRel) {
        let msg = ServerMsg::Closed {
            sock,
            by,
            reason: reason.to_owned(),
        };
        let _ = out.send(Outbound::msg(&msg)).await;
    }
}

/// What both halves of a bridged socket share.
#[derive(Clone)]
struct Shared {
    id: SocketId,
    /// Whether the page asked for a `sent` message per completed send.
    ack: bool,
    out: mpsc::Sender<Outbound>,
    closed: Arc<AtomicBool>,
    epoch: Instant,
}

impl Shared {
    fn new(id: SocketId, out: mpsc::Sender<Outbound>, epoch: Instant, ack: bool) -> Self {
        Self {
            id,
            ack,
            out,
            closed: Arc::new(AtomicBool::new(false)),
            epoch,
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn read_frame(&self, data: &[u8]) -> Outbound {
        let mut frame = Vec::with_capacity(13 + data.len());
        frame.extend_from_slice(&read_header(self.id, self.now_us()));
        frame.extend_from_slice(data);
        Outbound::Binary(frame)
    }

    async fn sent(&self, size: usize) {
        if !self.ack {
            return;
        }
        let msg = ServerMsg::Sent {
            sock: self.id,
            size,
            at_us: self.now_us(),
        };
        let _ = self.out.send(Outbound::msg(&msg)).await;
    }

    async fn closed(&self, by: ClosedBy, reason: &str) {
        announce_closed(&self.closed, &self.out, self.id, by, reason).await;
    }
}

fn handle(
    shared: &Shared,
    cmd: mpsc::Sender<SockCmd>,
    reader: AbortHandle,
    writer: AbortHandle,
) -> SockHandle {
    SockHandle {
        cmd,
        reader,
        writer,
        closed: shared.closed.clone(),
        out: shared.out.clone(),
        id: shared.id,
    }
}

/// Starts the tasks of a connected TCP socket.
pub fn spawn_tcp(
    id: SocketId,
    stream: TcpStream,
    out: mpsc::Sender<Outbound>,
    epoch: Instant,
    ack: bool,
) -> SockHandle {
    let shared = Shared::new(id, out, epoch, ack);
    let (read, write) = stream.into_split();
    let (cmd_tx, cmd_rx) = mpsc::channel(CMD_QUEUE);
    let reader = tokio::spawn(tcp_reader(read, shared.clone())).abort_handle();
    let writer = tokio::spawn(tcp_writer(write, cmd_rx, shared.clone())).abort_handle();
    handle(&shared, cmd_tx, reader, writer)
}

async fn tcp_reader(mut read: OwnedReadHalf, shared: Shared) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match read.read(&mut buf).await {
            Ok(0) => {
                shared
                    .closed(
                        ClosedBy::Peer,
                        "the server closed the connection (read returned 0 bytes)",
                    )
                    .await;
                return;
            }
            Ok(n) => {
                if shared.out.send(shared.read_frame(&buf[..n])).await.is_err() {
                    return; // the session is gone
                }
            }
            Err(e) => {
                shared
                    .closed(ClosedBy::Peer, &format!("the connection failed: {e}"))
                    .await;
                return;
            }
        }
    }
}

async fn tcp_writer(mut write: OwnedWriteHalf, mut cmds: mpsc::Receiver<SockCmd>, shared: Shared) {
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            SockCmd::Data(bytes) => {
                if let Err(e) = write.write_all(&bytes).await {
                    shared
                        .closed(ClosedBy::Peer, &format!("sending failed: {e}"))
                        .await;
                    return;
                }
                shared.sent(bytes.len()).await;
            }
            SockCmd::Shutdown => {
                // FIN: "I will send no more". The peer's reads return 0; ours go on.
                let _ = write.shutdown().await;
            }
        }
    }
}

/// Starts the tasks of a connected UDP socket.
pub fn spawn_udp(
    id: SocketId,
    socket: UdpSocket,
    out: mpsc::Sender<Outbound>,
    epoch: Instant,
    ack: bool,
) -> SockHandle {
    let shared = Shared::new(id, out, epoch, ack);
    let socket = Arc::new(socket);
    let (cmd_tx, cmd_rx) = mpsc::channel(CMD_QUEUE);
    let reader = tokio::spawn(udp_reader(socket.clone(), shared.clone())).abort_handle();
    let writer = tokio::spawn(udp_writer(socket, cmd_rx, shared.clone())).abort_handle();
    handle(&shared, cmd_tx, reader, writer)
}

async fn udp_reader(socket: Arc<UdpSocket>, shared: Shared) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match socket.recv(&mut buf).await {
            Ok(n) => {
                if shared.out.send(shared.read_frame(&buf[..n])).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // E.g. ICMP port unreachable: the demo is not listening. UDP has no
                // connection to lose, so report and keep the socket.
                let msg = ServerMsg::Error {
                    sock: Some(shared.id),
                    code: "udp_error".into(),
                    message: format!("the datagram could not be delivered: {e}"),
                };
                if shared.out.send(Outbound::msg(&msg)).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn udp_writer(socket: Arc<UdpSocket>, mut cmds: mpsc::Receiver<SockCmd>, shared: Shared) {
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            SockCmd::Data(bytes) => match socket.send(&bytes).await {
                Ok(n) => shared.sent(n).await,
                Err(e) => {
                    let msg = ServerMsg::Error {
                        sock: Some(shared.id),
                        code: "udp_error".into(),
                        message: format!("the datagram was not sent: {e}"),
                    };
                    let _ = shared.out.send(Outbound::msg(&msg)).await;
                }
            },
            SockCmd::Shutdown => {
                let msg = ServerMsg::Error {
                    sock: Some(shared.id),
                    code: "not_tcp".into(),
                    message: "UDP has no connection to half-close; close the socket instead".into(),
                };
                let _ = shared.out.send(Outbound::msg(&msg)).await;
            }
        }
    }
}

/// Where to connect for a demo bound on `addr` (an unspecified bind means loopback).
pub fn dial_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}
