//! One sample of the socket table on Linux: a `sock_diag` dump over netlink,
//! what `ss -tani` asks for, kept to the sockets on the demos' TCP ports.
//!
//! Any process may ask; no privilege is needed for TCP sockets. Each answer
//! carries the state, both queues, the running timer and (with the INFO
//! extension) the socket's `TCP_INFO`. A kernel whose `tcp_info` is shorter
//! than the parser expects fails to parse; the sampler then asks again
//! without INFO and reports no segment counts rather than nothing.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags, Timer as NlTimer,
};
use netlink_packet_sock_diag::{AF_INET, AF_INET6, IPPROTO_TCP, SockDiagMessage};
use netlink_sys::{Socket, SocketAddr as NlAddr, protocols::NETLINK_SOCK_DIAG};
use protocol::Demo;
use protocol::kernel::{TcpCounters, TcpState, Timer, TimerKind, classify};

use super::{Sample, Sock};

/// Where the 32-bit `idiag_expires` sits in a message: after the 16-byte
/// netlink header, `inet_diag_msg`'s four bytes and its 48-byte socket id.
/// The parser drops it for TIME_WAIT, the one timer the lab counts down.
const EXPIRES_AT: usize = 16 + 4 + 48;
/// Bytes asked of each receive; a dump arrives in several.
const RECV_BUF: usize = 64 * 1024;
/// A dump that stalls this long has failed.
const RECV_TIMEOUT: Duration = Duration::from_secs(2);

/// A netlink socket for `sock_diag`, reused across samples.
#[derive(Debug)]
pub(super) struct Sampler {
    socket: Socket,
    buf: Vec<u8>,
    /// Whether to ask for `TCP_INFO` (turned off if this kernel's cannot be parsed).
    info: bool,
    seq: u32,
}

impl Sampler {
    /// Opens the netlink socket.
    pub(super) fn new() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NlAddr::new(0, 0))?;
        // A timeout, so a kernel that never finishes a dump cannot hang the watcher.
        socket2::SockRef::from(&socket).set_read_timeout(Some(RECV_TIMEOUT))?;
        Ok(Self {
            socket,
            buf: vec![0; RECV_BUF],
            info: true,
            seq: 0,
        })
    }

    /// Every TCP socket (IPv4, and IPv6 if `ipv6`) on one of `ports`, by its addresses;
    /// without the ESTABLISHED ones unless `established`. (Idle established
    /// connections are most of a busy table and change least: the kernel
    /// skips them for us, cheaply, on the samples in between.)
    pub(super) fn sample(
        &mut self,
        ports: &[(Demo, u16)],
        ipv6: bool,
        established: bool,
    ) -> io::Result<Sample> {
        let mut table = Sample::default();
        // Every state, with request sockets (TCP_NEW_SYN_RECV) too.
        let mut states = StateFlags::from_bits_retain(!0);
        if !established {
            states.remove(StateFlags::ESTABLISHED);
        }
        let families: &[u8] = if ipv6 {
            &[AF_INET, AF_INET6]
        } else {
            &[AF_INET]
        };
        for &family in families {
            match self.dump(family, ports, states.clone(), &mut table) {
                Err(e) if self.info && e.kind() == io::ErrorKind::InvalidData => {
                    tracing::warn!(
                        "this kernel's TCP_INFO could not be read ({e}); segment counts are off"
                    );
                    self.info = false;
                    self.dump(family, ports, states.clone(), &mut table)?;
                }
                other => other?,
            }
        }
        Ok(table)
    }

    fn dump(
        &mut self,
        family: u8,
        ports: &[(Demo, u16)],
        states: StateFlags,
        table: &mut Sample,
    ) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(
            header,
            SockDiagMessage::InetRequest(InetRequest {
                family,
                protocol: IPPROTO_TCP,
                extensions: if self.info {
                    ExtensionFlags::INFO
                } else {
                    ExtensionFlags::empty()
                },
                states,
                socket_id: if family == AF_INET {
                    SocketId::new_v4()
                } else {
                    SocketId::new_v6()
                },
            })
            .into(),
        );
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;

        loop {
            let size = self.socket.recv(&mut &mut self.buf[..], 0)?;
            let mut offset = 0;
            while offset < size {
                let bytes = &self.buf[offset..size];
                let msg = NetlinkMessage::<SockDiagMessage>::deserialize(bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = msg.header.length as usize;
                match msg.payload {
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(resp)) => {
                        let expires = bytes
                            .get(EXPIRES_AT..EXPIRES_AT + 4)
                            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(0);
                        if let Some(sock) = watched(&resp, expires, ports) {
                            table.insert((sock.local, sock.remote), sock);
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) => return Err(e.to_io()),
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }
}

/// The socket of one answer, if it is on a demo port.
fn watched(resp: &InetResponse, expires_ms: u32, ports: &[(Demo, u16)]) -> Option<Sock> {
    let h = &resp.header;
    let id = &h.socket_id;
    let local = SocketAddr::new(id.source_address, id.source_port);
    let remote = SocketAddr::new(id.destination_address, id.destination_port);
    let state = TcpState::from_kernel(h.state)?;
    let (end, demo) = classify(local, remote, state == TcpState::Listen, ports)?;
    let timer = h.timer.as_ref().map(|t| match t {
        NlTimer::Retransmit(d, _) => Timer {
            kind: TimerKind::Retransmit,
            ms: millis(*d),
        },
        NlTimer::KeepAlive(d) => Timer {
            kind: TimerKind::KeepAlive,
            ms: millis(*d),
        },
        NlTimer::TimeWait => Timer {
            kind: TimerKind::TimeWait,
            ms: expires_ms,
        },
        NlTimer::Probe(d) => Timer {
            kind: TimerKind::ZeroWindowProbe,
            ms: millis(*d),
        },
    });
    let tcp = resp.nlas.iter().find_map(|nla| match nla {
        Nla::TcpInfo(i) => Some(TcpCounters {
            segs_out: i.segs_out,
            segs_in: i.segs_in,
            data_segs_out: i.data_segs_out,
            data_segs_in: i.data_segs_in,
            retrans: i.total_retrans,
            rtt_us: i.rtt,
            mss: i.snd_mss,
        }),
        _ => None,
    });
    Some(Sock {
        local,
        remote,
        state,
        end,
        demo,
        recv_q: h.recv_queue,
        send_q: h.send_queue,
        timer,
        tcp,
    })
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}
