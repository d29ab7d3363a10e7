//! `udp-echo`: the notes' UDP server.
//!
//! No connections, no accept: each datagram arrives whole (or not at all) with
//! its sender's address, and gets `Message received` sent back to that
//! address. The server reads into a 1024-byte buffer as the notes do; a larger
//! datagram is cut to 1024 bytes, and the event says so (we receive into a
//! larger buffer to learn the real size, then keep what `recvfrom(1024)` would).

use std::sync::Arc;

use protocol::Demo;
use protocol::demo::{UDP_REPLY, udp_receive};
use protocol::events::EventKind;
use protocol::hex::HexBytes;
use tokio::net::UdpSocket;

use super::{DemoCtx, reply_event};

/// Largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_536;

/// Runs `udp-echo` on `socket` until shutdown.
pub async fn serve(socket: UdpSocket, ctx: DemoCtx) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            res = socket.recv_from(&mut buf) => res,
        };
        let (n, peer) = match received {
            Ok(pair) => pair,
            Err(e) => {
                // On Linux an ICMP "port unreachable" from an earlier reply can
                // surface here as ConnectionRefused; it concerns that client only.
                tracing::debug!(error = %e, "udp recv_from failed");
                continue;
            }
        };
        let events = ctx.bus.conn(Demo::UdpEcho, peer);
        let seen = udp_receive(&buf[..n]);
        events.emit(EventKind::Datagram {
            size: seen.size,
            truncated: seen.truncated,
            data: HexBytes::capped(&seen.kept),
        });
        match socket.send_to(UDP_REPLY, peer).await {
            Ok(_) => events.emit_with(|| reply_event(UDP_REPLY)),
            Err(e) => events.emit(EventKind::Error {
                message: format!("could not reply to {peer}: {e}"),
            }),
        }
    }
}
