//! One bridged socket: a reader task, and the sending half the session writes
//! to directly.
//!
//! Reading runs in its own task so that it never waits for our writing. If one
//! task did both, a large send to a peer that is itself busy sending to us
//! could deadlock: we would wait to write while it waits for us to read.
//! Writing needs no task of its own: the session writes each send as it takes
//! it from the page, which paces the page by the peer, and saves a hand-off
//! between tasks on every relayed message.
//!
//! Every read becomes exactly one binary `R` frame to the page, so the page
//! sees the boundaries the socket really returned. The reader sends the frame
//! itself ([`Page::send`]): if the page stops reading, that send waits, we stop
//! reading the socket, and TCP flow control slows the peer. Memory stays
//! bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use protocol::bridge::{ClosedBy, ServerMsg, SocketId, read_header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::page::{Outbound, Page};

/// Bytes asked of each read.
pub const READ_CHUNK: usize = 64 * 1024;

/// Which socket of a session, and which opening of that id: the page may
/// reuse an id as soon as it hears `closed`, so a late notice about the old
/// socket must not free the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockKey {
    /// The page's id for the socket.
    pub id: SocketId,
    /// A number unique to this opening within the session.
    pub serial: u64,
}

/// Where a socket tells its session that the peer ended it, so the session
/// frees it at once (the page may not send `close` for a socket it was told
/// is closed).
pub type FreedTx = UnboundedSender<SockKey>;

/// The session's handle on one bridged socket.
#[derive(Debug)]
pub struct SockHandle {
    shared: Shared,
    writer: Writer,
    reader: AbortHandle,
    /// The page shut down our sending half.
    shut_down: bool,
}

impl SockHandle {
    /// Which opening of the id this handle is.
    pub fn key(&self) -> SockKey {
        self.shared.key
    }
}

/// The sending half of a bridged socket.
#[derive(Debug)]
enum Writer {
    Tcp(OwnedWriteHalf),
    Udp(Arc<UdpSocket>),
}

/// Why a send did not go through.
#[derive(Debug)]
pub enum SendFailure {
    /// The connection is broken: the socket has announced `closed` and must be
    /// dropped.
    Closed,
    /// The socket is fine but could not take this send; tell the page.
    Refused(Outbound),
}

impl SockHandle {
    /// Sends one message's bytes (a TCP write of all of them, or one datagram).
    ///
    /// Waits while the peer is not reading: the page is paced by the peer.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), SendFailure> {
        let id = self.shared.id;
        match &mut self.writer {
            Writer::Tcp(_) if self.shut_down => Err(SendFailure::Refused(sock_error(
                id,
                "shut_down",
                format!(
                    "socket {id} was shut down for sending (half-closed); it still reads \
                     what the server sends; open a new socket to send more"
                ),
            ))),
            Writer::Tcp(write) => match write.write_all(bytes).await {
                Ok(()) => {
                    self.shared.sent(bytes.len()).await;
                    Ok(())
                }
                Err(e) => {
                    self.reader.abort();
                    self.shared
                        .ended_by_peer(&format!("sending failed: {e}"))
                        .await;
                    Err(SendFailure::Closed)
                }
            },
            Writer::Udp(socket) => match socket.send(bytes).await {
                Ok(n) => {
                    self.shared.sent(n).await;
                    Ok(())
                }
                Err(e) => Err(SendFailure::Refused(sock_error(
                    id,
                    "udp_error",
                    format!("the datagram was not sent: {e}"),
                ))),
            },
        }
    }

    /// Shuts down the sending half (TCP's FIN: "I will send no more"). The
    /// peer's reads return 0; ours go on.
    pub async fn shutdown(&mut self) -> Result<(), Outbound> {
        match &mut self.writer {
            Writer::Tcp(write) => {
                self.shut_down = true;
                let _ = write.shutdown().await;
                Ok(())
            }
            Writer::Udp(_) => Err(sock_error(
                self.shared.id,
                "not_tcp",
                "UDP has no connection to half-close; close the socket instead",
            )),
        }
    }

    /// Stops reading at once; the socket closes when the handle is dropped.
    pub fn stop_reading(&self) {
        self.reader.abort();
    }

    /// Closes the socket at the page's request (or at session end).
    pub async fn close(self, by: ClosedBy, reason: &str) {
        self.reader.abort();
        self.shared.closed(by, reason).await;
    }

    /// Aborts the connection at the page's request: `SO_LINGER` 0, then close,
    /// so the kernel sends RST instead of FIN and the peer's next read fails
    /// with "connection reset". UDP has no connection to reset.
    pub async fn reset(self) -> Result<(), (Self, Outbound)> {
        if let Writer::Udp(_) = &self.writer {
            let msg = sock_error(
                self.shared.id,
                "not_tcp",
                "UDP has no connection to reset; close the socket instead",
            );
            return Err((self, msg));
        }
        let SockHandle {
            shared,
            writer,
            reader,
            ..
        } = self;
        if let Writer::Tcp(write) = writer {
            // Both halves share one socket: the option holds when the last
            // goes. `forget` keeps the write half from sending FIN on drop.
            let _ = write.as_ref().set_zero_linger();
            write.forget();
        }
        reader.abort();
        shared
            .closed(
                ClosedBy::Page,
                "reset by the page: SO_LINGER 0 made close send RST, not FIN",
            )
            .await;
        Ok(())
    }
}

fn sock_error(sock: SocketId, code: &str, message: impl Into<String>) -> Outbound {
    Outbound::msg(&ServerMsg::Error {
        sock: Some(sock),
        code: code.to_owned(),
        message: message.into(),
    })
}

/// What the reader and the handle of one socket share.
#[derive(Debug, Clone)]
struct Shared {
    id: SocketId,
    key: SockKey,
    freed: FreedTx,
    /// Whether the page asked for a `sent` message per completed send.
    ack: bool,
    page: Page,
    /// Whether `closed` has been announced (exactly once per socket).
    closed: Arc<AtomicBool>,
    epoch: Instant,
}

impl Shared {
    fn new(key: SockKey, freed: FreedTx, page: Page, epoch: Instant, ack: bool) -> Self {
        Self {
            id: key.id,
            key,
            freed,
            ack,
            page,
            closed: Arc::new(AtomicBool::new(false)),
            epoch,
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Relays one read as an `R` frame; false when the page is gone.
    async fn read(&self, data: &[u8]) -> bool {
        let mut frame = Vec::with_capacity(13 + data.len());
        frame.extend_from_slice(&read_header(self.id, self.now_us()));
        frame.extend_from_slice(data);
        self.page.send(Outbound::Binary(frame)).await
    }

    async fn sent(&self, size: usize) {
        if self.ack {
            let msg = ServerMsg::Sent {
                sock: self.id,
                size,
                at_us: self.now_us(),
            };
            self.page.send(Outbound::msg(&msg)).await;
        }
    }

    /// The peer ended the connection: tell the session to free the socket
    /// (before the page hears of it, so an `open` that reuses the id always
    /// finds it free), then tell the page.
    async fn ended_by_peer(&self, reason: &str) {
        if !self.closed.load(Ordering::Acquire) {
            let _ = self.freed.send(self.key);
        }
        self.closed(ClosedBy::Peer, reason).await;
    }

    /// Sends `closed` once per socket, whoever gets there first.
    async fn closed(&self, by: ClosedBy, reason: &str) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let msg = ServerMsg::Closed {
                sock: self.id,
                by,
                reason: reason.to_owned(),
            };
            self.page.send(Outbound::msg(&msg)).await;
        }
    }
}

/// Starts reading a connected TCP socket.
pub fn spawn_tcp(
    key: SockKey,
    freed: FreedTx,
    stream: TcpStream,
    page: Page,
    epoch: Instant,
    ack: bool,
) -> SockHandle {
    let shared = Shared::new(key, freed, page, epoch, ack);
    let (read, write) = stream.into_split();
    let reader = tokio::spawn(tcp_reader(read, shared.clone())).abort_handle();
    SockHandle {
        shared,
        writer: Writer::Tcp(write),
        reader,
        shut_down: false,
    }
}

async fn tcp_reader(mut read: OwnedReadHalf, shared: Shared) {
    // Borrowed only once there is something to read, and never zero-filled:
    // an idle bridged socket costs no buffer.
    let mut buf = Vec::new();
    loop {
        if buf.capacity() == 0 && read.readable().await.is_ok() {
            buf.reserve_exact(READ_CHUNK);
        }
        buf.clear();
        match read.read_buf(&mut buf).await {
            Ok(0) => {
                shared
                    .ended_by_peer("the server closed the connection (read returned 0 bytes)")
                    .await;
                return;
            }
            Ok(_) => {
                if !shared.read(&buf).await {
                    return; // the page is gone
                }
            }
            Err(e) => {
                shared
                    .ended_by_peer(&format!("the connection failed: {e}"))
                    .await;
                return;
            }
        }
    }
}

/// Starts reading a connected UDP socket.
pub fn spawn_udp(
    key: SockKey,
    freed: FreedTx,
    socket: UdpSocket,
    page: Page,
    epoch: Instant,
    ack: bool,
) -> SockHandle {
    let shared = Shared::new(key, freed, page, epoch, ack);
    let socket = Arc::new(socket);
    let reader = tokio::spawn(udp_reader(socket.clone(), shared.clone())).abort_handle();
    SockHandle {
        shared,
        writer: Writer::Udp(socket),
        reader,
        shut_down: false,
    }
}

async fn udp_reader(socket: Arc<UdpSocket>, shared: Shared) {
    let mut buf = Vec::new();
    loop {
        if buf.capacity() == 0 && socket.readable().await.is_ok() {
            buf.reserve_exact(READ_CHUNK);
        }
        buf.clear();
        match socket.recv_buf(&mut buf).await {
            Ok(_) => {
                if !shared.read(&buf).await {
                    return;
                }
            }
            Err(e) => {
                // E.g. ICMP port unreachable: the demo is not listening. UDP has no
                // connection to lose, so report and keep the socket.
                let msg = sock_error(
                    shared.id,
                    "udp_error",
                    format!("the datagram could not be delivered: {e}"),
                );
                if !shared.page.send(msg).await {
                    return;
                }
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
