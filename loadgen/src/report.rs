//! What a measurement prints, and the numbers it is made of.
//!
//! Each measurement is one [`Measurement`] as a JSON object on one line of
//! stdout, so the bench (or a person with `jq`) can read it back with the same
//! type. Latencies are kept as microseconds per operation and summarised as
//! percentiles; memory comes from `/proc`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use measurement::{Bench, Latency, Load, Measurement, Memory};
use tokio::time::{Instant, timeout};

use crate::Bounds;

static NOFILE: AtomicU64 = AtomicU64::new(0);

/// Remembers the open-file limit loadgen runs with (reported with every line).
pub(crate) fn set_nofile(limit: u64) {
    NOFILE.store(limit, Ordering::Relaxed);
}

/// Round-trip or per-connection times, in microseconds.
#[derive(Debug, Default)]
pub(crate) struct Latencies(Vec<u32>);

impl Latencies {
    /// Records one operation's duration.
    pub(crate) fn record(&mut self, took: Duration) {
        self.0
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    /// Adds another worker's samples.
    pub(crate) fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// p50, p90, p99 and max (`None` if there are no samples).
    pub(crate) fn summary(mut self) -> Option<Latency> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let at = |q: f64| {
            let i = ((self.0.len() as f64 - 1.0) * q).round() as usize;
            self.0[i.min(self.0.len() - 1)]
        };
        Some(Latency {
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: at(1.0),
        })
    }
}

/// What a set of workers counted.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Operations that completed and checked out.
    pub(crate) ops: u64,
    /// Operations that failed (refused, reset, wrong answer, timeout).
    pub(crate) errors: u64,
    /// The first failure, in words, to make a nonzero count explainable.
    pub(crate) first_error: Option<String>,
    /// Per-operation times.
    pub(crate) latencies: Latencies,
}

impl Tally {
    /// Counts a failure, keeping the first message.
    pub(crate) fn error(&mut self, what: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what.to_string());
        }
    }

    /// Runs one operation within `limit`, timing it: a success is counted with
    /// its time, a failure is recorded (as `late` if it ran out of time).
    /// Returns whether it succeeded.
    pub(crate) async fn time<E: std::fmt::Display>(
        &mut self,
        limit: Duration,
        late: &str,
        op: impl Future<Output = Result<(), E>>,
    ) -> bool {
        let t0 = Instant::now();
        match timeout(limit, op).await {
            Ok(Ok(())) => {
                self.ops += 1;
                self.latencies.record(t0.elapsed());
                true
            }
            Ok(Err(e)) => {
                self.error(e);
                false
            }
            Err(_) => {
                self.error(late);
                false
            }
        }
    }

    /// Adds another worker's tally.
    pub(crate) fn merge(&mut self, other: Tally) {
        self.ops += other.ops;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies.merge(other.latencies);
    }
}

/// Waits for every worker (at most until `deadline`) and adds up their tallies;
/// a run that overstays its deadline counts as an error, never as a hang.
pub(crate) async fn join_workers(
    workers: Vec<tokio::task::JoinHandle<Tally>>,
    deadline: Duration,
) -> Tally {
    let mut tally = Tally::default();
    let joined = tokio::time::timeout(deadline, async {
        for w in workers {
            if let Ok(t) = w.await {
                tally.merge(t);
            }
        }
    })
    .await;
    if joined.is_err() {
        tally.error("the run did not finish within its deadline");
    }
    tally
}

/// Ends a load run: waits for its workers (see [`join_workers`]) and prints
/// its line, `bench` against `addr` by `concurrency` workers at once, over the
/// time since `begin`.
pub(crate) async fn finish_load(
    workers: Vec<tokio::task::JoinHandle<Tally>>,
    bounds: &Bounds,
    bench: fn(Load) -> Bench,
    addr: SocketAddr,
    concurrency: usize,
    begin: Instant,
) {
    let tally = join_workers(workers, bounds.deadline()).await;
    let bench = bench(Load {
        addr: addr.to_string(),
        concurrency: concurrency as u64,
    });
    emit(bench, &bounds.label, tally, begin.elapsed());
}

/// The measurement a tally over `elapsed` makes, with `bench`'s own figures.
pub(crate) fn measurement(
    bench: Bench,
    label: &str,
    tally: Tally,
    elapsed: Duration,
) -> Measurement {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        tally.ops as f64 / secs
    } else {
        0.0
    };
    Measurement {
        label: label.to_owned(),
        secs: (secs * 1000.0).round() / 1000.0,
        ops: tally.ops,
        errors: tally.errors,
        rate: rate.round(),
        first_error: tally.first_error,
        latency: tally.latencies.summary(),
        nofile: NOFILE.load(Ordering::Relaxed),
        bench,
    }
}

/// Prints one measurement as its JSON line.
pub(crate) fn emit(bench: Bench, label: &str, tally: Tally, elapsed: Duration) {
    let line = measurement(bench, label, tally, elapsed);
    println!(
        "{}",
        serde_json::to_string(&line).expect("a measurement is plain data")
    );
}

/// One `kB` field of `/proc/<pid>/<file>` (e.g. `VmRSS` in `status`, `Pss` in `smaps_rollup`).
fn proc_kb(pid: u32, file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// `pid` and every process descended from it (websockify forks one per session).
fn tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            // `stat` is "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                children.entry(ppid).or_default().push(p);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// The memory of `pid` (and its descendants) now, if `/proc` shows it.
pub(crate) fn memory_of(pid: u32) -> Option<Memory> {
    let rss_kb = proc_kb(pid, "status", "VmRSS")?;
    let procs = tree(pid);
    let tree_pss_kb = procs
        .iter()
        .filter_map(|p| proc_kb(*p, "smaps_rollup", "Pss"))
        .sum();
    Some(Memory {
        rss_kb,
        tree_pss_kb,
        procs: procs.len() as u64,
    })
}

/// The memory of `pid` now; zero without a pid or when `/proc` cannot say.
pub(crate) fn memory(pid: Option<u32>) -> Memory {
    pid.and_then(memory_of).unwrap_or_default()
}

/// Samples a server's memory every 100 ms until dropped; `peak` gives the largest seen.
pub(crate) struct MemorySampler {
    task: tokio::task::JoinHandle<()>,
    peak: std::sync::Arc<std::sync::Mutex<Memory>>,
}

impl MemorySampler {
    /// Starts sampling `pid` (nothing is sampled without one).
    pub(crate) fn start(pid: Option<u32>) -> MemorySampler {
        let peak = std::sync::Arc::new(std::sync::Mutex::new(Memory::default()));
        let shared = peak.clone();
        let task = tokio::spawn(async move {
            let Some(pid) = pid else { return };
            // Bounded: at most 10 minutes of samples, whatever happens.
            for _ in 0..6000 {
                let pid_now = pid;
                if let Ok(Some(m)) = tokio::task::spawn_blocking(move || memory_of(pid_now)).await {
                    let mut p = shared.lock().expect("sampler lock");
                    *p = p.max(m);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        MemorySampler { task, peak }
    }

    /// The largest figures seen so far.
    pub(crate) fn peak(&self) -> Memory {
        *self.peak.lock().expect("sampler lock")
    }
}

impl Drop for MemorySampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use measurement::Load;

    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_samples() {
        let mut l = Latencies::default();
        for us in (1..=100).rev() {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary().expect("samples");
        assert_eq!((s.p50_us, s.p90_us, s.p99_us, s.max_us), (51, 90, 99, 100));
        assert_eq!(Latencies::default().summary(), None);
    }

    #[test]
    fn a_measurement_counts_rounds_and_keeps_the_first_error() {
        let mut a = Tally {
            ops: 10,
            ..Tally::default()
        };
        a.error("refused");
        let mut b = Tally {
            ops: 5,
            ..Tally::default()
        };
        b.error("reset");
        a.merge(b);
        let bench = Bench::ConnRate(Load {
            addr: "127.0.0.1:1".into(),
            concurrency: 2,
        });
        let m = measurement(bench, "x", a, Duration::from_millis(1500));
        assert_eq!((m.ops, m.errors, m.rate, m.secs), (15, 2, 10.0, 1.5));
        assert_eq!(m.first_error.as_deref(), Some("refused"));
        assert_eq!(m.latency, None);
    }
}
