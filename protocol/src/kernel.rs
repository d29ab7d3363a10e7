//! The kernel's view of the demo ports' TCP sockets, as the server's watcher
//! publishes it to the kernel lab.
//!
//! On Linux the server samples the socket table (`sock_diag`, what `ss` uses)
//! and keeps the sockets whose local or remote port is a demo's TCP port: the
//! listeners with their accept queue, the demos' ends of connections, and the
//! client ends of any program on the same machine (the page's bridge sockets
//! and the learner's terminal clients alike). Between two samples it sends only
//! what changed: a socket that appeared, changed state or queues or segment
//! counts, or left the table (it is then CLOSED).
//!
//! Everything here is data; the sampling is in the server, the drawing in the
//! kernel lab.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::demo::Demo;

/// The fastest sampling a viewer may ask for, in samples per second.
pub const MAX_HZ: u32 = 20;
/// How long Linux keeps a socket in TIME_WAIT (`TCP_TIMEWAIT_LEN`), in ms.
pub const TIME_WAIT_MS: u32 = 60_000;

/// A TCP state, with the kernel's names (`ss` prints the same ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    /// Our SYN is sent; waiting for the SYN+ACK.
    SynSent,
    /// A SYN arrived and a SYN+ACK went back; waiting for the final ACK.
    SynRecv,
    /// The handshake is done: data may flow both ways.
    Established,
    /// We closed (sent our FIN); waiting for its ACK.
    #[serde(rename = "FIN_WAIT_1")]
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    #[serde(rename = "FIN_WAIT_2")]
    FinWait2,
    /// Both sides sent FIN at once; waiting for the ACK of ours.
    Closing,
    /// We closed first and both FINs are acknowledged: the socket waits
    /// twice the maximum segment lifetime before it is gone.
    TimeWait,
    /// The peer sent FIN (our reads return 0); waiting for *our program* to
    /// close.
    CloseWait,
    /// We closed after the peer; waiting for the ACK of our FIN.
    LastAck,
    /// A listening socket.
    Listen,
    /// Closed (the kernel's TCP_CLOSE: a socket not connected, or gone).
    Closed,
}

impl TcpState {
    /// The state of the kernel's number (`include/net/tcp_states.h`); `None`
    /// for a number this list does not know.
    pub fn from_kernel(n: u8) -> Option<TcpState> {
        use TcpState::*;
        Some(match n {
            1 => Established,
            2 => SynSent,
            3 | 12 => SynRecv, // 12: TCP_NEW_SYN_RECV, a request socket
            4 => FinWait1,
            5 => FinWait2,
            6 => TimeWait,
            7 => Closed,
            8 => CloseWait,
            9 => LastAck,
            10 => Listen,
            11 => Closing,
            _ => return None,
        })
    }

    /// The name `ss` and the book use, e.g. `TIME_WAIT`.
    pub fn name(self) -> &'static str {
        use TcpState::*;
        match self {
            SynSent => "SYN_SENT",
            SynRecv => "SYN_RECV",
            Established => "ESTABLISHED",
            FinWait1 => "FIN_WAIT_1",
            FinWait2 => "FIN_WAIT_2",
            Closing => "CLOSING",
            TimeWait => "TIME_WAIT",
            CloseWait => "CLOSE_WAIT",
            LastAck => "LAST_ACK",
            Listen => "LISTEN",
            Closed => "CLOSED",
        }
    }

    /// Every state, in the order the lab lists them.
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::Closing,
        TcpState::TimeWait,
        TcpState::CloseWait,
        TcpState::LastAck,
    ];
}

/// Which end a socket is, seen from the demo ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// A demo's listening socket.
    Listener,
    /// A demo's end of a connection (its local port is the demo's).
    Server,
    /// A client's end (its remote port is the demo's): the page's bridge or
    /// any other program on this machine.
    Client,
}

/// A kernel timer running on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Data or a SYN/FIN is unacknowledged and will be sent again.
    Retransmit,
    /// Keep-alive probing of an idle connection.
    KeepAlive,
    /// The TIME_WAIT countdown.
    TimeWait,
    /// Probing a peer that advertised a zero window.
    ZeroWindowProbe,
}

/// A timer and when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Which timer.
    pub kind: TimerKind,
    /// Milliseconds until it fires, as the kernel reported at the sample.
    pub ms: u32,
}

/// What `TCP_INFO` says of a connected socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TcpCounters {
    /// Segments sent, all kinds (SYN, pure ACKs, data, FIN).
    pub segs_out: u32,
    /// Segments received.
    pub segs_in: u32,
    /// Segments sent that carried data.
    pub data_segs_out: u32,
    /// Segments received that carried data.
    pub data_segs_in: u32,
    /// Segments sent again, over the connection's life.
    pub retrans: u32,
    /// Smoothed round-trip time, in microseconds.
    pub rtt_us: u32,
    /// The largest segment this end sends (negotiated, less options).
    pub mss: u32,
}

/// One socket as the kernel reported it at a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelSocket {
    /// This end's address, as `SocketAddr` prints it (`127.0.0.1:40000`,
    /// `[::1]:40000`): the page compares addresses, it never parses them.
    pub local: String,
    /// The other end's address (`0.0.0.0:0` for a listener).
    pub remote: String,
    /// Its state.
    pub state: TcpState,
    /// Which end it is.
    pub end: End,
    /// The demo whose port it is on.
    pub demo: Demo,
    /// Receive queue: bytes the program has not read yet; for a listener,
    /// connections waiting for `accept()`.
    pub recv_q: u32,
    /// Send queue: bytes not yet acknowledged by the peer; for a listener,
    /// the accept queue's limit (the backlog).
    pub send_q: u32,
    /// A running timer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<Timer>,
    /// `TCP_INFO`, for sockets that have it (not TIME_WAIT, not request socks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCounters>,
}

impl KernelSocket {
    /// The socket's identity within one sample: its two addresses.
    pub fn key(&self) -> (String, String) {
        (self.local.clone(), self.remote.clone())
    }
}

/// What the watcher tells a viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KernelMsg {
    /// Every watched socket now; sent first, and again whenever the viewer
    /// may have missed changes.
    Snapshot {
        /// Samples per second the watcher is taking.
        hz: u32,
        /// Milliseconds since the server started, at the sample.
        at_ms: u64,
        /// The sockets.
        sockets: Vec<KernelSocket>,
    },
    /// A socket appeared or changed.
    Update {
        /// Milliseconds since the server started, at the sample.
        at_ms: u64,
        /// Its state in the previous sample; absent for a new socket.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<TcpState>,
        /// The socket now.
        socket: KernelSocket,
    },
    /// A socket left the table: it is CLOSED.
    Gone {
        /// Milliseconds since the server started, at the sample.
        at_ms: u64,
        /// The socket as last seen.
        socket: KernelSocket,
    },
    /// This server cannot show the kernel's view, and why.
    Unsupported {
        /// In words, for the learner.
        reason: String,
    },
}

/// Which watched end a socket is, from its ports and the demos' ports; `None`
/// for a socket on no demo port (the watcher skips it).
pub fn classify(
    local: SocketAddr,
    remote: SocketAddr,
    listening: bool,
    demo_ports: &[(Demo, u16)],
) -> Option<(End, Demo)> {
    let on = |port: u16| demo_ports.iter().find(|(_, p)| *p == port).map(|(d, _)| *d);
    if let Some(demo) = on(local.port()) {
        return Some((
            if listening {
                End::Listener
            } else {
                End::Server
            },
            demo,
        ));
    }
    on(remote.port()).map(|demo| (End::Client, demo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_numbers_map_to_the_names_ss_prints() {
        assert_eq!(TcpState::from_kernel(1), Some(TcpState::Established));
        assert_eq!(TcpState::from_kernel(6).unwrap().name(), "TIME_WAIT");
        assert_eq!(TcpState::from_kernel(8).unwrap().name(), "CLOSE_WAIT");
        assert_eq!(TcpState::from_kernel(12), Some(TcpState::SynRecv));
        assert_eq!(TcpState::from_kernel(0), None);
        assert_eq!(TcpState::from_kernel(13), None);
        let json = serde_json::to_string(&TcpState::FinWait2).unwrap();
        assert_eq!(json, "\"FIN_WAIT_2\"");
    }

    #[test]
    fn ends_are_told_apart_by_which_port_is_the_demos() {
        let ports = [(Demo::TcpEcho, 65432), (Demo::Uppercase, 9999)];
        let demo: SocketAddr = "127.0.0.1:65432".parse().unwrap();
        let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert_eq!(
            classify(demo, any, true, &ports),
            Some((End::Listener, Demo::TcpEcho))
        );
        assert_eq!(
            classify(demo, client, false, &ports),
            Some((End::Server, Demo::TcpEcho))
        );
        assert_eq!(
            classify(client, demo, false, &ports),
            Some((End::Client, Demo::TcpEcho))
        );
        let other: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(classify(other, client, false, &ports), None);
    }
}
