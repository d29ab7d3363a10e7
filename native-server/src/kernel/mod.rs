//! The kernel watcher: the demo ports' TCP sockets as the kernel sees them —
//! states, queues, timers, segment counts — for the kernel lab.
//!
//! One sampling thread per server, running only while someone watches, at
//! the fastest rate any viewer asked for (at most [`MAX_HZ`]). Each sample is
//! compared with the one before ([`protocol::kernel::diff`]) and only the
//! changes are broadcast, so a thousand idle connections cost one dump per
//! tick and send nothing. A new viewer (or one that fell behind) makes the
//! next sample a full snapshot for everyone.
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
use protocol::kernel::{KernelMsg, MAX_HZ, TcpCounters};
use tokio::sync::broadcast;

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
    /// A watcher of the TCP sockets on `ports` (the demos' real ports).
    pub fn new(ports: Vec<(Demo, u16)>) -> Self {
        Self {
            inner: Arc::new(Inner {
                tx: broadcast::channel(CAPACITY).0,
                ports,
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
                    .sample(&ports)
                    .map_err(|e| format!("the kernel's socket table could not be read: {e}"))?;
                let Some(s) = table.get(&(local.to_string(), remote.to_string())) else {
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
        let mut prev = protocol::kernel::Table::new();
        let mut st = self.lock();
        loop {
            let Some(hz) = st.hz.values().copied().max() else {
                st.running = false;
                return;
            };
            let whole = std::mem::take(&mut st.snapshot);
            drop(st);
            if let Some(s) = sampler.as_mut() {
                match s.sample(&self.ports) {
                    Ok(now) => {
                        let at_ms = self.at_ms();
                        if whole {
                            let sockets = now.values().cloned().collect();
                            let _ =
                                self.tx
                                    .send(Arc::new(KernelMsg::Snapshot { hz, at_ms, sockets }));
                        } else {
                            for msg in protocol::kernel::diff(&prev, &now, at_ms) {
                                let _ = self.tx.send(Arc::new(msg));
                            }
                        }
                        prev = now;
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
