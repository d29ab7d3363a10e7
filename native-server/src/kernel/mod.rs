//! The kernel watcher: the demo ports' TCP sockets as the kernel sees them —
//! states, queues, timers, segment counts — for the kernel lab.
//!
//! One sampling thread per server, running only while someone watches, at
//! the fastest rate any viewer asked for (at most [`MAX_HZ`]). Each sample is
//! kept in a compact form ([`Sock`]: addresses and numbers, no strings) and
//! compared with the one before ([`diff`]); only the changes become messages,
//! so a thousand idle connections cost one dump per tick and send nothing.
//!
//! With more than a few hundred sockets, the samples between full ones (one
//! every two seconds) leave the ESTABLISHED sockets out of the dump
//! ([`apply_fast`]): they are most of a busy table and change least, every
//! way out of ESTABLISHED lands in a state the fast samples see, and a socket
//! leaving a handshake state forces a full sample. Each dump still walks the
//! kernel's whole connection hash, which is most of what a sample costs.
//!
//! A new viewer (or one that fell behind) makes the next sample a full
//! snapshot for everyone.
//!
//! Sampling is Linux's `sock_diag` (`linux.rs`); on other systems
//! [`KernelWatcher::watch`] says plainly that this view is Linux-only.

#[cfg(target_os = "linux")]
mod linux;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use protocol::Demo;
use protocol::kernel::{End, KernelMsg, KernelSocket, MAX_HZ, TcpCounters, TcpState, Timer};
use tokio::sync::broadcast;

/// Below this many sockets every sample is a full one (cheap at that size);
/// above it, full samples come every two seconds.
#[cfg(target_os = "linux")]
const SMALL_TABLE: usize = 256;
/// How many messages a viewer may fall behind before it needs a snapshot.
const CAPACITY: usize = 1024;

/// Why this server shows no kernel view, on systems without `sock_diag`.
pub const NOT_LINUX: &str = "The kernel's view needs Linux: it reads the socket table \
     through sock_diag (what `ss` uses), which other systems do not have. \
     On macOS or Windows, `netstat -an` (or `Get-NetTCPConnection`) lists the same states.";

/// The shared watcher. Cheap to clone.
#[derive(Clone, Debug)]
pub struct KernelWatcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Inner {
    tx: broadcast::Sender<Arc<KernelMsg>>,
    ports: Vec<(Demo, u16)>,
    /// Whether a demo listens on IPv6 (else only the IPv4 table is dumped:
    /// each dump walks the kernel's whole connection hash, so one walk is
    /// half the cost of two).
    ipv6: bool,
    started: Instant,
    state: Mutex<Viewers>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct Viewers {
    /// Each viewer's asked rate, by its id.
    hz: HashMap<u64, u32>,
    next_id: u64,
    /// Whether the sampling thread is alive.
    running: bool,
    /// The next sample goes out whole.
    snapshot: bool,
}

impl KernelWatcher {
    /// A watcher of the TCP sockets on the ports of `listeners` (the demos'
    /// real addresses).
    pub fn new(listeners: Vec<(Demo, SocketAddr)>) -> Self {
        let ipv6 = listeners.iter().any(|(_, a)| a.is_ipv6());
        let ports = listeners.iter().map(|(d, a)| (*d, a.port())).collect();
        Self {
            inner: Arc::new(Inner {
                tx: broadcast::channel(CAPACITY).0,
                ports,
                ipv6,
                started: Instant::now(),
                state: Mutex::default(),
                wake: Condvar::new(),
            }),
        }
    }

    /// Starts watching at `hz` samples a second (clamped to 1..=[`MAX_HZ`]).
    /// The first message is a snapshot.
    pub fn watch(&self, hz: u32) -> Result<Viewer, &'static str> {
        if !cfg!(target_os = "linux") {
            return Err(NOT_LINUX);
        }
        let rx = self.inner.tx.subscribe();
        let mut st = self.inner.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.hz.insert(id, hz.clamp(1, MAX_HZ));
        st.snapshot = true;
        if !st.running {
            st.running = true;
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new()
                .name("kernel-watcher".into())
                .spawn(move || inner.run());
            if let Err(e) = spawned {
                st.running = false;
                st.hz.remove(&id);
                tracing::warn!("could not start the kernel watcher: {e}");
                return Err(
                    "The server could not start its kernel watcher (no thread); see its log.",
                );
            }
        }
        self.inner.wake.notify_all();
        drop(st);
        Ok(Viewer {
            id,
            inner: self.inner.clone(),
            rx,
        })
    }

    /// `TCP_INFO` of the connection from `local` to `remote`, once the data
    /// written so far is out and acknowledged (its send queue empty), or
    /// after [`SETTLE`] at the latest: counts taken while Nagle still holds a
    /// write back would miss its segment. Blocking: call it off the runtime.
    pub fn tcp_info(&self, local: SocketAddr, remote: SocketAddr) -> Result<TcpCounters, String> {
        #[cfg(target_os = "linux")]
        {
            let mut ports = self.inner.ports.clone();
            // The bridge's end: its remote port is the demo's.
            ports.retain(|(_, p)| *p == remote.port());
            let mut sampler = linux::Sampler::new()
                .map_err(|e| format!("the kernel's socket table could not be opened: {e}"))?;
            let until = Instant::now() + SETTLE;
            loop {
                let table = sampler
                    .sample(&ports, remote.is_ipv6(), true)
                    .map_err(|e| format!("the kernel's socket table could not be read: {e}"))?;
                let Some(s) = table.get(&(local, remote)) else {
                    return Err("the socket is no longer in the kernel's table".to_owned());
                };
                if s.send_q > 0 && Instant::now() < until {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                }
                return s.tcp.ok_or_else(|| {
                    format!(
                        "the kernel keeps no TCP_INFO for a socket in {}",
                        s.state.name()
                    )
                });
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (local, remote);
            Err(NOT_LINUX.to_owned())
        }
    }
}

/// One socket of a sample, kept compact: what the watcher compares 2,000
/// times per tick needs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sock {
    /// This end's address.
    pub local: SocketAddr,
    /// The other end's address.
    pub remote: SocketAddr,
    /// Its state.
    pub state: TcpState,
    /// Which end it is.
    pub end: End,
    /// The demo whose port it is on.
    pub demo: Demo,
    /// Receive queue (a listener: connections waiting for `accept`).
    pub recv_q: u32,
    /// Send queue (a listener: its backlog).
    pub send_q: u32,
    /// A running timer.
    pub timer: Option<Timer>,
    /// `TCP_INFO`, where the kernel keeps it.
    pub tcp: Option<TcpCounters>,
}

impl Sock {
    /// The message form.
    pub fn to_wire(&self) -> KernelSocket {
        KernelSocket {
            local: self.local.to_string(),
            remote: self.remote.to_string(),
            state: self.state,
            end: self.end,
            demo: self.demo,
            recv_q: self.recv_q,
            send_q: self.send_q,
            timer: self.timer,
            tcp: self.tcp,
        }
    }

    /// What a viewer needs to hear about again when it changes: not the
    /// round-trip time or a timer's countdown, which move on every sample.
    fn news(&self) -> impl PartialEq {
        (
            self.state,
            self.recv_q,
            self.send_q,
            self.timer.map(|t| t.kind),
            self.tcp
                .map(|t| (t.segs_out, t.segs_in, t.retrans, t.data_segs_out)),
        )
    }
}

/// One sample: the sockets by their two addresses.
pub type Sample = HashMap<(SocketAddr, SocketAddr), Sock>;

/// The snapshot message of a full sample, in address order. (Only the Linux
/// sampler sends snapshots; elsewhere there is nothing to sample.)
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn snapshot(hz: u32, at_ms: u64, now: &Sample) -> KernelMsg {
    let mut sockets: Vec<KernelSocket> = now.values().map(Sock::to_wire).collect();
    sockets.sort_by(|a, b| (&a.local, &a.remote).cmp(&(&b.local, &b.remote)));
    KernelMsg::Snapshot { hz, at_ms, sockets }
}

/// Applies a sample without the ESTABLISHED sockets to `prev`, in place, and
/// returns what changed. ESTABLISHED sockets the fast sample cannot see stay
/// as they were (only `prev`'s few other sockets are looked up, so a big
/// table of idle connections costs no hashing). `None`, with `prev`
/// untouched, when a socket left a handshake state: it may now be
/// ESTABLISHED or gone, and only a full sample can tell.
pub fn apply_fast(prev: &mut Sample, fast: Sample, at_ms: u64) -> Option<Vec<KernelMsg>> {
    let mut gone = Vec::new();
    for (key, old) in prev.iter() {
        if old.state == TcpState::Established || fast.contains_key(key) {
            continue;
        }
        match old.state {
            TcpState::SynSent | TcpState::SynRecv => return None,
            _ => gone.push(*old),
        }
    }
    let changed: Vec<(Sock, Option<TcpState>)> = fast
        .iter()
        .filter_map(|(key, now)| match prev.get(key) {
            Some(before) if before.news() == now.news() => None,
            before => Some((*now, before.map(|b| b.state))),
        })
        .collect();
    for g in &gone {
        prev.remove(&(g.local, g.remote));
    }
    prev.extend(fast);
    Some(messages(changed, gone, at_ms))
}

/// What changed from `old` to `new`: an update for each new or changed
/// socket, then the sockets that are gone, each group in address order.
pub fn diff(old: &Sample, new: &Sample, at_ms: u64) -> Vec<KernelMsg> {
    let changed = new
        .iter()
        .filter_map(|(key, now)| match old.get(key) {
            Some(before) if before.news() == now.news() => None,
            before => Some((*now, before.map(|b| b.state))),
        })
        .collect();
    let gone = old
        .iter()
        .filter(|(k, _)| !new.contains_key(k))
        .map(|(_, s)| *s)
        .collect();
    messages(changed, gone, at_ms)
}

/// The messages for these changed and gone sockets, each group in address order.
fn messages(
    mut changed: Vec<(Sock, Option<TcpState>)>,
    mut gone: Vec<Sock>,
    at_ms: u64,
) -> Vec<KernelMsg> {
    changed.sort_by_key(|(s, _)| (s.local, s.remote));
    gone.sort_by_key(|s| (s.local, s.remote));
    changed
        .into_iter()
        .map(|(s, from)| KernelMsg::Update {
            at_ms,
            from,
            socket: s.to_wire(),
        })
        .chain(gone.into_iter().map(|s| KernelMsg::Gone {
            at_ms,
            socket: s.to_wire(),
        }))
        .collect()
}

/// The longest [`KernelWatcher::tcp_info`] waits for unsent data to leave.
pub const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Viewers> {
        // A panic elsewhere cannot leave the map half-written; go on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next sample a snapshot, now.
    fn want_snapshot(&self) {
        self.lock().snapshot = true;
        self.wake.notify_all();
    }

    #[cfg(target_os = "linux")]
    fn at_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The sampling thread: sample, publish what changed, wait a period (or
    /// until a viewer comes or goes); stop when nobody watches.
    #[cfg(target_os = "linux")]
    fn run(self: Arc<Self>) {
        let mut sampler = match linux::Sampler::new() {
            Ok(s) => Some(s),
            Err(e) => {
                let reason = format!("The kernel's socket table could not be opened: {e}.");
                let _ = self.tx.send(Arc::new(KernelMsg::Unsupported { reason }));
                None
            }
        };
        let mut prev = Sample::default();
        // Samples since the last full one (ESTABLISHED sockets included).
        let mut since_full = u32::MAX;
        let mut st = self.lock();
        loop {
            let Some(hz) = st.hz.values().copied().max() else {
                st.running = false;
                return;
            };
            let whole = std::mem::take(&mut st.snapshot);
            drop(st);
            if let Some(s) = sampler.as_mut() {
                // A full sample every two seconds (and for a snapshot); in
                // between, the kernel leaves the ESTABLISHED ones out.
                let full = whole || since_full >= 2 * hz || prev.len() < SMALL_TABLE;
                let at_ms = self.at_ms();
                let fast = if full {
                    Ok(None)
                } else {
                    s.sample(&self.ports, self.ipv6, false)
                        .map(|fast| apply_fast(&mut prev, fast, at_ms))
                };
                let sent = match fast {
                    Ok(Some(msgs)) => {
                        since_full += 1;
                        Ok(msgs)
                    }
                    // Time for a full sample, or a handshake ended (SYN_SENT
                    // or SYN_RECV left the fast sample) and only a full one
                    // tells whether it is now ESTABLISHED or gone.
                    Ok(None) => {
                        since_full = 1;
                        s.sample(&self.ports, self.ipv6, true).map(|now| {
                            let msgs = if whole {
                                vec![snapshot(hz, at_ms, &now)]
                            } else {
                                diff(&prev, &now, at_ms)
                            };
                            prev = now;
                            msgs
                        })
                    }
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(msgs) => {
                        for msg in msgs {
                            let _ = self.tx.send(Arc::new(msg));
                        }
                    }
                    Err(e) => tracing::warn!("kernel watcher: a sample failed: {e}"),
                }
            }
            st = self.lock();
            let period = std::time::Duration::from_secs(1) / hz;
            st = self
                .wake
                .wait_timeout(st, period)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn run(self: Arc<Self>) {
        self.lock().running = false;
    }
}

/// One viewer: its messages, and its place in the rate. Dropping it stops
/// its share of the sampling.
#[derive(Debug)]
pub struct Viewer {
    id: u64,
    inner: Arc<Inner>,
    rx: broadcast::Receiver<Arc<KernelMsg>>,
}

impl Viewer {
    /// The next message; after falling behind, the next snapshot. `None`
    /// once the watcher is gone.
    pub async fn recv(&mut self) -> Option<Arc<KernelMsg>> {
        let mut resyncing = false;
        loop {
            match self.rx.recv().await {
                // After a gap, the changes already queued build on what was
                // missed: skip them until the snapshot asked for arrives.
                Ok(m) if resyncing && !matches!(*m, KernelMsg::Snapshot { .. }) => {}
                Ok(m) => return Some(m),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    resyncing = true;
                    self.inner.want_snapshot();
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        st.hz.remove(&self.id);
        self.inner.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use protocol::kernel::{Timer, TimerKind};

    use super::*;

    fn sock(local: &str, remote: &str, state: TcpState) -> Sock {
        Sock {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            end: End::Client,
            demo: Demo::TcpEcho,
            recv_q: 0,
            send_q: 0,
            timer: None,
            tcp: None,
        }
    }

    fn sample(socks: &[Sock]) -> Sample {
        socks.iter().map(|s| ((s.local, s.remote), *s)).collect()
    }

    #[test]
    fn a_state_change_is_an_update_with_the_old_state() {
        let a = sock("127.0.0.1:40000", "127.0.0.1:65432", TcpState::Established);
        let b = Sock {
            state: TcpState::TimeWait,
            ..a
        };
        let out = diff(&sample(&[a]), &sample(&[b]), 7);
        assert_eq!(
            out,
            vec![KernelMsg::Update {
                at_ms: 7,
                from: Some(TcpState::Established),
                socket: b.to_wire()
            }]
        );
        assert_eq!(b.to_wire().local, "127.0.0.1:40000");
    }

    #[test]
    fn new_sockets_are_updates_without_a_from_and_missing_ones_are_gone() {
        let a = sock("127.0.0.1:40000", "127.0.0.1:65432", TcpState::Established);
        let b = sock("127.0.0.1:40001", "127.0.0.1:65432", TcpState::SynSent);
        let c = sock("127.0.0.1:40002", "127.0.0.1:65432", TcpState::SynSent);
        let out = diff(&sample(&[a]), &sample(&[c, b]), 1);
        let update = |s: Sock| KernelMsg::Update {
            at_ms: 1,
            from: None,
            socket: s.to_wire(),
        };
        let gone = KernelMsg::Gone {
            at_ms: 1,
            socket: a.to_wire(),
        };
        assert_eq!(out, vec![update(b), update(c), gone], "in address order");
    }

    #[test]
    fn a_moving_rtt_or_countdown_alone_is_not_news_but_queues_and_segments_are() {
        let mut a = sock("127.0.0.1:40000", "127.0.0.1:65432", TcpState::TimeWait);
        a.timer = Some(Timer {
            kind: TimerKind::TimeWait,
            ms: 59_000,
        });
        a.tcp = Some(TcpCounters {
            rtt_us: 30,
            ..TcpCounters::default()
        });
        let mut b = a;
        b.timer = Some(Timer {
            kind: TimerKind::TimeWait,
            ms: 58_900,
        });
        b.tcp.as_mut().unwrap().rtt_us = 45;
        assert!(diff(&sample(&[a]), &sample(&[b]), 2).is_empty());
        b.recv_q = 5;
        assert_eq!(diff(&sample(&[a]), &sample(&[b]), 3).len(), 1);
        b.recv_q = 0;
        b.tcp.as_mut().unwrap().data_segs_out = 2;
        assert_eq!(diff(&sample(&[a]), &sample(&[b]), 4).len(), 1);
    }

    #[test]
    fn a_fast_sample_keeps_established_sockets_and_a_finished_handshake_asks_for_a_full_one() {
        let est = sock("127.0.0.1:40000", "127.0.0.1:65432", TcpState::Established);
        let tw = sock("127.0.0.1:40001", "127.0.0.1:65432", TcpState::TimeWait);
        let closing = Sock {
            state: TcpState::FinWait2,
            ..est
        };
        // An idle established socket is kept; a TIME_WAIT one that left is gone.
        let mut prev = sample(&[est, tw]);
        let msgs = apply_fast(&mut prev, Sample::default(), 1).unwrap();
        assert_eq!(prev, sample(&[est]));
        assert_eq!(
            msgs,
            vec![KernelMsg::Gone {
                at_ms: 1,
                socket: tw.to_wire()
            }]
        );
        // The fast sample's news about an established socket wins.
        let msgs = apply_fast(&mut prev, sample(&[closing]), 2).unwrap();
        assert_eq!(prev, sample(&[closing]));
        assert!(matches!(
            &msgs[..],
            [KernelMsg::Update {
                from: Some(TcpState::Established),
                ..
            }]
        ));
        // SYN_SENT gone from a fast sample: established or closed? Ask, and
        // leave the table as it was.
        let syn = sock("127.0.0.1:40002", "127.0.0.1:65432", TcpState::SynSent);
        let mut prev = sample(&[syn, est]);
        assert_eq!(apply_fast(&mut prev, Sample::default(), 3), None);
        assert_eq!(prev, sample(&[syn, est]));
    }
}
