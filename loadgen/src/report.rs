//! What a measurement prints, and the numbers it is made of.
//!
//! Each measurement is one JSON object on one line of stdout, so the bench (or
//! a person with `jq`) can read it back. Latencies are kept as microseconds per
//! operation and summarised as percentiles; memory comes from `/proc`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};

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

    /// p50, p90, p99 and max as JSON fields (nothing if there are no samples).
    pub(crate) fn summary(mut self) -> Map<String, Value> {
        let mut out = Map::new();
        if self.0.is_empty() {
            return out;
        }
        self.0.sort_unstable();
        let at = |q: f64| {
            let i = ((self.0.len() as f64 - 1.0) * q).round() as usize;
            self.0[i.min(self.0.len() - 1)]
        };
        out.insert("p50_us".into(), at(0.50).into());
        out.insert("p90_us".into(), at(0.90).into());
        out.insert("p99_us".into(), at(0.99).into());
        out.insert("max_us".into(), at(1.0).into());
        out
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

/// Prints one measurement: the common fields, then `extra`.
pub(crate) fn emit(bench: &str, label: &str, tally: Tally, elapsed: Duration, extra: Value) {
    let secs = elapsed.as_secs_f64();
    let mut line = Map::new();
    line.insert("bench".into(), bench.into());
    line.insert("label".into(), label.into());
    line.insert("secs".into(), json!((secs * 1000.0).round() / 1000.0));
    line.insert("ops".into(), tally.ops.into());
    line.insert("errors".into(), tally.errors.into());
    let rate = if secs > 0.0 {
        tally.ops as f64 / secs
    } else {
        0.0
    };
    line.insert("rate".into(), json!(rate.round()));
    if let Some(e) = tally.first_error {
        line.insert("first_error".into(), e.into());
    }
    line.extend(tally.latencies.summary());
    if let Value::Object(extra) = extra {
        line.extend(extra);
    }
    line.insert("nofile".into(), NOFILE.load(Ordering::Relaxed).into());
    println!("{}", Value::Object(line));
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

/// Memory of a server process, as the kernel counts it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    /// `VmRSS` of the process itself, in KiB.
    pub(crate) rss_kb: u64,
    /// Proportional set size summed over the process and its descendants, in
    /// KiB: pages shared between forked children are counted once, not per child.
    pub(crate) tree_pss_kb: u64,
    /// Processes in the tree.
    pub(crate) procs: usize,
}

impl Memory {
    /// Reads the memory of `pid` (and its descendants) now.
    pub(crate) fn of(pid: u32) -> Option<Memory> {
        let rss_kb = proc_kb(pid, "status", "VmRSS")?;
        let procs = tree(pid);
        let tree_pss_kb = procs
            .iter()
            .filter_map(|p| proc_kb(*p, "smaps_rollup", "Pss"))
            .sum();
        Some(Memory {
            rss_kb,
            tree_pss_kb,
            procs: procs.len(),
        })
    }

    /// The larger of each figure.
    pub(crate) fn max(self, other: Memory) -> Memory {
        Memory {
            rss_kb: self.rss_kb.max(other.rss_kb),
            tree_pss_kb: self.tree_pss_kb.max(other.tree_pss_kb),
            procs: self.procs.max(other.procs),
        }
    }

    /// As JSON fields with `prefix` (e.g. `rss_idle_kb`).
    pub(crate) fn fields(self, prefix: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(format!("{prefix}_rss_kb"), self.rss_kb.into());
        m.insert(format!("{prefix}_tree_pss_kb"), self.tree_pss_kb.into());
        m.insert(format!("{prefix}_procs"), self.procs.into());
        m
    }
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
                if let Ok(Some(m)) = tokio::task::spawn_blocking(move || Memory::of(pid_now)).await
                {
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
