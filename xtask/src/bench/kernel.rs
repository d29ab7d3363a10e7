//! What the kernel watcher costs the server: its CPU with 1,000 connections
//! open, with no viewer and with one sampling at 10 and 20 Hz.
//!
//! The watcher (`native-server/src/kernel/`) runs only while a kernel lab page
//! watches; each sample is one `sock_diag` dump of the kernel's TCP table, kept
//! to the demo ports and compared with the last. Its goal is a budget: with
//! 1,000 connections open, 10 Hz costs under 2 % of one core. So a fresh
//! socket-lab holds 1,000 idle `uppercase` connections (`loadgen hold`, which
//! asks every one a question at the end), and while they are open one bridge
//! session (`loadgen watch`) runs for a fixed time at each rate, the rates
//! alternating over the rounds; 0 Hz holds the same session open without
//! watching, the baseline. The server's CPU time is read around each run. A
//! watching run only counts as a working watcher if its first message was a
//! snapshot holding both ends of every held connection.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use measurement::{Bench, Hold};

use super::procs;
use super::results::Run;
use super::{Runner, arg};

/// Connections held open while the watcher samples.
pub(crate) const CONNS: usize = 1000;
/// The rate the goal is set at, samples per second.
pub(crate) const GOAL_HZ: u32 = 10;
/// The goal: the watcher's cost at [`GOAL_HZ`], percent of one core.
pub(crate) const GOAL_PCT: f64 = 2.0;
/// The rates measured: 0 (a session open, no watcher), the goal's, the most
/// a viewer may ask for (`protocol::kernel::MAX_HZ`).
pub(crate) const RATES: [u32; 3] = [0, GOAL_HZ, 20];

/// socket-lab needs a `--bridge-allow` target; this part opens no bridge
/// connection, so nothing ever dials it.
const UNUSED_TARGET: &str = "127.0.0.1:9";
/// What the runs are tagged with in the raw results.
const TARGET: &str = "socket-lab-kernel";

/// One `loadgen watch` run and the server CPU time around it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Window {
    /// Samples per second asked for; 0 for the baseline.
    pub(crate) hz: u32,
    /// Wall-clock seconds of the run (loadgen started to loadgen exited).
    pub(crate) wall_secs: f64,
    /// Server CPU time (user + system) over the run, milliseconds.
    pub(crate) cpu_ms: f64,
    /// The part of it in the kernel (system time): mostly the kernel's own
    /// work answering the dumps.
    pub(crate) sys_ms: f64,
    /// Sockets in the snapshot the run received (0 at 0 Hz).
    pub(crate) snapshot_sockets: u64,
    /// Kernel messages after the snapshot.
    pub(crate) changes: u64,
    /// Failures loadgen counted (no snapshot, a bridge error, …).
    pub(crate) errors: u64,
}

/// Every run at one rate, combined.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rate {
    /// Runs at this rate.
    pub(crate) windows: usize,
    /// Their wall time in all, seconds.
    pub(crate) wall_secs: f64,
    /// Server CPU over them in all, milliseconds.
    pub(crate) cpu_ms: f64,
    /// The system time in it, milliseconds.
    pub(crate) sys_ms: f64,
    /// The smallest snapshot any of them received.
    pub(crate) snapshot_min: u64,
    /// Kernel messages after the snapshots, in all.
    pub(crate) changes: u64,
    /// Failures, in all.
    pub(crate) errors: u64,
}

impl Rate {
    /// Server CPU as a percentage of one core.
    pub(crate) fn pct(&self) -> f64 {
        if self.wall_secs > 0.0 {
            self.cpu_ms / 10.0 / self.wall_secs
        } else {
            0.0
        }
    }
}

/// What this part measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct KernelCost {
    /// Seconds asked of each run.
    pub(crate) secs: f64,
    /// Every run, in the order measured.
    pub(crate) windows: Vec<Window>,
    /// The held connections: opened, then each asked once afterwards.
    pub(crate) hold: Option<Hold>,
    /// TCP sockets in the kernel's whole table (`/proc/net/tcp` and `tcp6`)
    /// once the connections were open: what every sample reads through.
    pub(crate) table: Option<usize>,
    /// Whether the connections were still held when the last run ended.
    pub(crate) held_throughout: bool,
}

impl KernelCost {
    /// The runs at `hz`, combined (`None` if there are none).
    pub(crate) fn at(&self, hz: u32) -> Option<Rate> {
        let runs: Vec<&Window> = self.windows.iter().filter(|w| w.hz == hz).collect();
        if runs.is_empty() {
            return None;
        }
        Some(Rate {
            windows: runs.len(),
            wall_secs: runs.iter().map(|w| w.wall_secs).sum(),
            cpu_ms: runs.iter().map(|w| w.cpu_ms).sum(),
            sys_ms: runs.iter().map(|w| w.sys_ms).sum(),
            snapshot_min: runs.iter().map(|w| w.snapshot_sockets).min().unwrap_or(0),
            changes: runs.iter().map(|w| w.changes).sum(),
            errors: runs.iter().map(|w| w.errors).sum(),
        })
    }

    /// What watching at `hz` cost over the baseline, percent of one core.
    pub(crate) fn cost(&self, hz: u32) -> Option<f64> {
        Some(self.at(hz)?.pct() - self.at(0)?.pct())
    }

    /// That cost per sample, milliseconds of CPU (`hz` samples a second).
    pub(crate) fn per_sample_ms(&self, hz: u32) -> Option<f64> {
        // % of one core is 10 ms of CPU per second.
        Some(self.cost(hz)? * 10.0 / f64::from(hz).max(1.0))
    }

    /// Connections that were open while the watcher sampled.
    pub(crate) fn opened(&self) -> u64 {
        self.hold.as_ref().map_or(0, |h| h.opened)
    }

    /// Whether every run at `hz` saw a working watcher: no failure, and a
    /// snapshot with both ends of every held connection in it.
    pub(crate) fn watched(&self, hz: u32) -> bool {
        self.at(hz).is_some_and(|r| {
            r.errors == 0 && self.opened() > 0 && r.snapshot_min >= 2 * self.opened()
        })
    }

    /// Whether the measurement stands: every connection held throughout and
    /// answered afterwards.
    pub(crate) fn held_all(&self) -> bool {
        self.held_throughout
            && self
                .hold
                .as_ref()
                .is_some_and(|h| h.opened == CONNS as u64 && h.answered == CONNS as u64)
    }
}

/// The rates in the order round `round` measures them: back and forth, so a
/// drift in the machine's load falls on every rate alike.
fn order(round: usize) -> Vec<u32> {
    let mut rates = RATES.to_vec();
    if round % 2 == 1 {
        rates.reverse();
    }
    rates
}

/// Holds the connections, measures every run, and collects the figures.
pub(super) fn run(run: &mut Runner) -> Result<KernelCost> {
    let secs = run.plan.kernel_secs;
    let windows = run.plan.rounds * RATES.len();
    let lab = run.socket_lab("socket-lab-kernel", UNUSED_TARGET)?;
    let pid = lab.proc.pid();
    let fds_before = procs::open_fds(pid).unwrap_or(0);
    // Long enough for every run, with room for each one's start and close;
    // `held_throughout` checks that it was.
    let hold_secs = 2.0 + windows as f64 * (secs + 1.5);
    let hold = vec![
        arg("hold"),
        arg("--addr"),
        lab.uppercase.clone(),
        arg("--kind"),
        arg("uppercase"),
        arg("--conns"),
        CONNS.to_string(),
        arg("--hold-secs"),
        format!("{hold_secs:.1}"),
        arg("--server-pid"),
        pid.to_string(),
        arg("--label"),
        arg(TARGET),
    ];
    let (loadgen, logs) = (run.loadgen.clone(), run.logs.clone());
    let limit = Duration::from_secs_f64(hold_secs) + Duration::from_secs(300);
    let mut cost = KernelCost {
        secs,
        ..KernelCost::default()
    };
    let held = std::thread::scope(|s| -> Result<_> {
        let holding = s.spawn(|| procs::loadgen(&loadgen, None, &logs, &hold, limit));
        // Until the server has a descriptor for every connection.
        let deadline = Instant::now() + Duration::from_secs(60);
        while procs::open_fds(pid).unwrap_or(0) < fds_before + CONNS {
            if holding.is_finished() || Instant::now() > deadline {
                let why = match holding.join() {
                    Ok(Err(e)) => format!("{e:#}"),
                    _ => "they did not open within 60 s".into(),
                };
                bail!("the {CONNS} connections were not held: {why}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
        cost.table = procs::tcp_sockets();
        for round in 0..run.plan.rounds {
            for hz in order(round) {
                if let Some(w) = window(run, &lab.http, pid, hz, secs) {
                    cost.windows.push(w);
                }
            }
        }
        cost.held_throughout = !holding.is_finished();
        Ok(holding.join())
    })?;
    match held {
        Ok(Ok(measurements)) => {
            for measurement in measurements {
                if let Bench::Hold(h) = &measurement.bench {
                    cost.hold = Some(h.clone());
                }
                run.results.push(Run {
                    target: TARGET.to_owned(),
                    server_cpu_ms: None,
                    measurement,
                });
            }
        }
        Ok(Err(e)) => run.problems.push(format!("kernel watcher, hold: {e:#}")),
        Err(_) => run
            .problems
            .push("kernel watcher: the hold thread panicked".into()),
    }
    if !cost.held_throughout {
        run.problems.push(format!(
            "kernel watcher: the held connections were let go before the last run ended \
             (held {hold_secs:.0} s); the runs after that measured fewer connections"
        ));
    }
    drop(lab);
    Ok(cost)
}

/// One `loadgen watch` run at `hz` for `secs`, with the server's CPU time
/// around it (`None` if it failed; `run.measure` records why).
fn window(run: &mut Runner, http: &str, pid: u32, hz: u32, secs: f64) -> Option<Window> {
    let args = vec![
        arg("watch"),
        arg("--url"),
        format!("ws://{http}/ws"),
        arg("--origin"),
        format!("http://{http}"),
        arg("--hz"),
        hz.to_string(),
        arg("--secs"),
        secs.to_string(),
        arg("--label"),
        format!("{TARGET}-{hz}hz"),
    ];
    let first = run.results.len();
    let sys_before = procs::system_ms(pid);
    let started = Instant::now();
    run.measure(TARGET, Some(pid), &args);
    let wall_secs = started.elapsed().as_secs_f64();
    let sys_ms = procs::system_ms(pid)? - sys_before?;
    let r = run.results.get(first)?;
    let watch = r.watch()?;
    Some(Window {
        hz,
        wall_secs,
        cpu_ms: r.server_cpu_ms?,
        sys_ms,
        snapshot_sockets: watch.snapshot_sockets,
        changes: watch.changes,
        errors: r.measurement.errors,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::results::fixtures;
    use super::*;

    /// A run at `hz` of 10 s using `cpu_ms`, with a snapshot of `sockets`.
    pub(crate) fn window(hz: u32, cpu_ms: f64, sockets: u64) -> Window {
        Window {
            hz,
            wall_secs: 10.0,
            cpu_ms,
            sys_ms: cpu_ms / 2.0,
            snapshot_sockets: sockets,
            changes: 0,
            errors: 0,
        }
    }

    /// A measurement with the given baseline and 10 and 20 Hz CPU per 10 s run.
    pub(crate) fn cost(base: f64, at10: f64, at20: f64) -> KernelCost {
        KernelCost {
            secs: 10.0,
            windows: vec![
                window(0, base, 0),
                window(10, at10, 2002),
                window(20, at20, 2002),
            ],
            hold: Some(fixtures::hold(
                measurement::Demo::Uppercase,
                CONNS as u64,
                CONNS as u64,
                9000,
            )),
            table: Some(2010),
            held_throughout: true,
        }
    }

    #[test]
    fn the_cost_is_cpu_over_wall_time_above_the_baseline() {
        let mut c = cost(10.0, 110.0, 210.0);
        c.windows.push(window(10, 130.0, 2002));
        let at10 = c.at(10).unwrap();
        assert_eq!(
            (at10.windows, at10.wall_secs, at10.cpu_ms),
            (2, 20.0, 240.0)
        );
        assert!((at10.pct() - 1.2).abs() < 1e-9, "{}", at10.pct());
        assert!((c.cost(10).unwrap() - 1.1).abs() < 1e-9);
        assert!((c.cost(20).unwrap() - 2.0).abs() < 1e-9);
        assert!(
            (c.per_sample_ms(20).unwrap() - 1.0).abs() < 1e-9,
            "20 ms/s over 20 samples"
        );
        assert!(c.watched(10) && c.held_all());
        assert_eq!(c.at(5), None);
        assert_eq!(c.cost(5), None);
    }

    #[test]
    fn a_snapshot_without_every_held_connection_is_no_working_watcher() {
        let mut c = cost(10.0, 110.0, 210.0);
        c.windows.push(window(10, 110.0, 1999));
        assert!(!c.watched(10), "one snapshot missed sockets");
        assert!(c.watched(20));
        let mut failed = cost(10.0, 110.0, 210.0);
        failed.windows[1].errors = 1;
        assert!(!failed.watched(10));
        let mut early = cost(10.0, 110.0, 210.0);
        early.held_throughout = false;
        assert!(!early.held_all());
    }

    #[test]
    fn rounds_alternate_the_order_of_the_rates() {
        assert_eq!(order(0), vec![0, 10, 20]);
        assert_eq!(order(1), vec![20, 10, 0]);
    }
}
