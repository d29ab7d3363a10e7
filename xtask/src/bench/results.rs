//! The bench's measurements, typed, and how several rounds of one comparison
//! are combined.
//!
//! loadgen prints one [`Measurement`] per run; the bench tags each with the
//! server it measured and that server's CPU time ([`Run`]), and the report
//! reads only these types: a figure a line lacks is a parse error when it is
//! read, never a silent 0.

use measurement::{Bench, Hold, Measurement, Relay, Watch};
use serde::{Deserialize, Serialize};

/// One loadgen measurement as the bench recorded it (a line of
/// `target/bench/results.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Run {
    /// The server measured: `socket-lab`, `python`, `websockify-isolated`, …
    pub(crate) target: String,
    /// CPU time the server used during the run (user + system, with reaped
    /// children), milliseconds; `None` where `/proc` could not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) server_cpu_ms: Option<f64>,
    /// What loadgen printed.
    #[serde(flatten)]
    pub(crate) measurement: Measurement,
}

impl Run {
    /// Whether this is a `bench` run against `target`.
    pub(crate) fn is(&self, bench: &str, target: &str) -> bool {
        self.measurement.bench.name() == bench && self.target == target
    }

    /// The `hold` figures, if this is a hold run.
    pub(crate) fn hold(&self) -> Option<&Hold> {
        match &self.measurement.bench {
            Bench::Hold(h) => Some(h),
            _ => None,
        }
    }

    /// The `relay` figures, if this is a relay run.
    pub(crate) fn relay(&self) -> Option<&Relay> {
        match &self.measurement.bench {
            Bench::Relay(r) => Some(r),
            _ => None,
        }
    }

    /// The `watch` figures, if this is a kernel watcher run.
    pub(crate) fn watch(&self) -> Option<&Watch> {
        match &self.measurement.bench {
            Bench::Watch(w) => Some(w),
            _ => None,
        }
    }
}

/// Several rounds of one comparison, combined.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Agg {
    /// Operations per second over all rounds (total operations / total time).
    pub(crate) rate: f64,
    /// Failed operations over all rounds.
    pub(crate) errors: u64,
    /// Mean of the rounds' medians, µs (`None`: no round completed an operation).
    pub(crate) p50: Option<f64>,
    /// Worst of the rounds' 99th percentiles, µs.
    pub(crate) p99: Option<f64>,
    /// Server CPU time per operation, µs (every core counted); `None` unless
    /// every round has its CPU time and some operation completed.
    pub(crate) cpu_us: Option<f64>,
}

/// The rounds of `bench` against `target` at `concurrency`, combined
/// (`None` if there are none).
pub(crate) fn agg(results: &[Run], bench: &str, target: &str, concurrency: u64) -> Option<Agg> {
    let runs: Vec<&Run> = results
        .iter()
        .filter(|r| r.is(bench, target) && r.measurement.bench.concurrency() == Some(concurrency))
        .collect();
    if runs.is_empty() {
        return None;
    }
    let ops: u64 = runs.iter().map(|r| r.measurement.ops).sum();
    let secs: f64 = runs.iter().map(|r| r.measurement.secs).sum();
    let cpu_ms: Option<f64> = runs.iter().map(|r| r.server_cpu_ms).sum();
    let latencies: Vec<_> = runs.iter().filter_map(|r| r.measurement.latency).collect();
    let p50 = (!latencies.is_empty()).then(|| {
        latencies.iter().map(|l| f64::from(l.p50_us)).sum::<f64>() / latencies.len() as f64
    });
    let p99 = latencies
        .iter()
        .map(|l| f64::from(l.p99_us))
        .reduce(f64::max);
    Some(Agg {
        rate: if secs > 0.0 { ops as f64 / secs } else { 0.0 },
        errors: runs.iter().map(|r| r.measurement.errors).sum(),
        p50,
        p99,
        cpu_us: cpu_ms
            .filter(|_| ops > 0)
            .map(|ms| ms * 1000.0 / ops as f64),
    })
}

/// Test data: runs built the way loadgen and the bench build them.
#[cfg(test)]
pub(crate) mod fixtures {
    use measurement::{Bench, Bridge, Demo, Hold, Latency, Load, Measurement, Memory, Relay};

    use super::Run;

    /// A measurement of `ops` operations in `secs` with the given median and p99.
    pub(crate) fn measurement(
        bench: Bench,
        ops: u64,
        secs: f64,
        p50: u32,
        p99: u32,
    ) -> Measurement {
        Measurement {
            label: String::new(),
            secs,
            ops,
            errors: 0,
            rate: (ops as f64 / secs).round(),
            first_error: None,
            latency: Some(Latency {
                p50_us: p50,
                p90_us: p50.max(p99 / 2),
                p99_us: p99,
                max_us: p99 * 2,
            }),
            nofile: 20_000,
            bench,
        }
    }

    /// A run against `target` with a given CPU time.
    pub(crate) fn run(target: &str, cpu_ms: Option<f64>, measurement: Measurement) -> Run {
        Run {
            target: target.into(),
            server_cpu_ms: cpu_ms,
            measurement,
        }
    }

    /// `conn-rate` or `framed-rtt` load at `concurrency`.
    pub(crate) fn load(concurrency: u64) -> Load {
        Load {
            addr: "127.0.0.1:9".into(),
            concurrency,
        }
    }

    /// A relay through `bridge` at `sessions`, all opened, RSS in KiB.
    pub(crate) fn relay(bridge: Bridge, sessions: u64, rss_kb: [u64; 3]) -> Relay {
        let mem = |rss_kb| Memory {
            rss_kb,
            tree_pss_kb: rss_kb,
            procs: 1,
        };
        Relay {
            bridge,
            url: "ws://127.0.0.1:9/ws".into(),
            concurrency: sessions,
            opened: sessions,
            size: 128,
            before: mem(rss_kb[0]),
            open: mem(rss_kb[1]),
            peak: mem(rss_kb[2]),
        }
    }

    /// A hold of `conns` connections of which `answered` answered, holding at `held_kb`.
    pub(crate) fn hold(kind: Demo, conns: u64, answered: u64, held_kb: u64) -> Hold {
        let mem = |rss_kb| Memory {
            rss_kb,
            tree_pss_kb: rss_kb,
            procs: 1,
        };
        Hold {
            addr: "127.0.0.1:9".into(),
            kind,
            conns,
            opened: conns,
            answered,
            open_secs: 1.0,
            hold_secs: 2.0,
            answer_secs: 0.5,
            bytes_per_conn: ((held_kb - 4000) * 1024 / conns.max(1)) as f64,
            before: mem(4000),
            open: mem(held_kb),
            held: mem(held_kb),
            peak: mem(held_kb),
        }
    }
}

#[cfg(test)]
mod tests {
    use measurement::Bench;

    use super::fixtures::{load, measurement, run};
    use super::*;

    fn conn_rate(target: &str, ops: u64, secs: f64, p50: u32, p99: u32, cpu: Option<f64>) -> Run {
        run(
            target,
            cpu,
            measurement(Bench::ConnRate(load(32)), ops, secs, p50, p99),
        )
    }

    #[test]
    fn rounds_combine_as_total_rate_mean_median_and_worst_tail() {
        let results = [
            conn_rate("socket-lab", 1000, 1.0, 100, 400, Some(50.0)),
            conn_rate("socket-lab", 3000, 1.0, 200, 300, Some(150.0)),
            // Other targets, benches and concurrencies are not mixed in.
            conn_rate("python", 10, 1.0, 9000, 9000, Some(1.0)),
            run(
                "socket-lab",
                None,
                measurement(Bench::FramedRtt(load(32)), 1, 1.0, 1, 1),
            ),
            run(
                "socket-lab",
                None,
                measurement(Bench::ConnRate(load(1)), 1, 1.0, 1, 1),
            ),
        ];
        let a = agg(&results, "conn_rate", "socket-lab", 32).expect("two rounds");
        assert_eq!(a.rate, 2000.0, "4000 operations in 2 s");
        assert_eq!(a.p50, Some(150.0));
        assert_eq!(a.p99, Some(400.0));
        assert_eq!(a.errors, 0);
        assert_eq!(a.cpu_us, Some(50.0), "200 ms of CPU over 4000 operations");
        assert_eq!(agg(&results, "conn_rate", "socket-lab", 64), None);
        assert_eq!(agg(&results, "relay", "socket-lab", 32), None);
    }

    #[test]
    fn cpu_per_operation_needs_every_round_and_some_operation() {
        let results = [
            conn_rate("socket-lab", 1000, 1.0, 100, 400, Some(50.0)),
            conn_rate("socket-lab", 1000, 1.0, 100, 400, None),
        ];
        assert_eq!(
            agg(&results, "conn_rate", "socket-lab", 32).unwrap().cpu_us,
            None
        );
        let idle = [conn_rate("socket-lab", 0, 1.0, 1, 1, Some(5.0))];
        assert_eq!(
            agg(&idle, "conn_rate", "socket-lab", 32).unwrap().cpu_us,
            None
        );
    }

    #[test]
    fn a_round_without_latencies_leaves_the_percentiles_to_the_others() {
        let mut failed = conn_rate("socket-lab", 0, 1.0, 0, 0, None);
        failed.measurement.latency = None;
        failed.measurement.errors = 7;
        let only_failed =
            agg(std::slice::from_ref(&failed), "conn_rate", "socket-lab", 32).unwrap();
        assert_eq!(
            (only_failed.p50, only_failed.p99, only_failed.rate),
            (None, None, 0.0)
        );
        let results = [failed, conn_rate("socket-lab", 10, 1.0, 100, 200, None)];
        let a = agg(&results, "conn_rate", "socket-lab", 32).unwrap();
        assert_eq!((a.p50, a.p99, a.errors), (Some(100.0), Some(200.0), 7));
        assert_eq!(a.rate, 5.0);
    }

    #[test]
    fn a_run_line_keeps_the_tags_beside_what_loadgen_printed() {
        let r = conn_rate("tokio-floor", 10, 1.0, 1, 2, Some(12.5));
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains(r#""target":"tokio-floor""#), "{line}");
        assert!(line.contains(r#""bench":"conn_rate""#), "{line}");
        assert_eq!(serde_json::from_str::<Run>(&line).unwrap(), r);
    }
}
