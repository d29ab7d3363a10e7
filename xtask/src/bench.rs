//! `cargo xtask bench`: Socket Lab measured side by side with its peers, in one run.
//!
//! These machines are noisy, so absolute figures alone mean little: every
//! measurement here runs next to the peer a user would otherwise pick, on the
//! same machine, in the same minute, driven by the same load generator
//! (`loadgen/`), and the report gives ratios against goals (its Goals table,
//! `bench/report.rs`):
//!
//! 1. codec: `protocol`'s framing vs tokio-util's `LengthDelimitedCodec`
//!    (criterion, `protocol/benches/codec.rs`) and the allocation count;
//! 2. servers: `uppercase` connections/s vs the notes' Python
//!    `ThreadingTCPServer` and a minimal tokio floor; `framed` round trips/s
//!    vs a Python server in the notes' style;
//! 3. bridge: relay messages/s and round-trip latency through `/ws` vs
//!    websockify 0.13, both to the same echo server;
//! 4. scale: 10,000 idle connections held on `uppercase` and `framed` (server
//!    memory, every one answered afterwards), 500 bridge sessions relaying;
//! 5. kernel watcher: the server's CPU with 1,000 connections open, with no
//!    viewer and with one bridge session sampling the kernel's socket table
//!    at 10 and 20 Hz (`loadgen watch`);
//! 6. browser: the labs' gzipped size and time to interactive, as the build
//!    and the e2e run last recorded them;
//! 7. `socket-lab check`: every lesson timed with the book's own programs.
//!
//! Everything runs on loopback; every load loop is bounded in time and count.
//! The result is `BENCHMARKS.md` at the repo root (raw JSON lines in
//! `target/bench/results.jsonl`, logs in `target/bench/logs`).
//! `--quick` runs a shortened version into `target/bench/BENCHMARKS-quick.md`.
//!
//! This file plans the run and starts socket-lab; the parts live in `bench/`:
//! `codec.rs` (1), `side_by_side.rs` (2, 3), `relay.rs` (the bridge runs of 3),
//! `scale.rs` (4), `kernel.rs` (5), `lessons.rs` (7), the peers in
//! `websockify.rs` and `procs.rs`, the typed results in `results.rs`, and the
//! report in `report.rs` (goals in `report/goals.rs`, prose in `report.md`).

mod codec;
mod kernel;
mod lessons;
mod procs;
mod relay;
mod report;
mod results;
mod scale;
mod side_by_side;
mod websockify;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use self::procs::Proc;
use self::results::Run;
use self::websockify::{WEBSOCKIFY_VERSION, ensure_websockify};
use crate::{Ctx, flags, run_cmd};

/// The open-file limit asked for; the hard limit may allow less.
const WANTED_NOFILE: u64 = 65_536;

/// How much of everything to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// A shortened smoke run (`--quick`).
    pub(crate) quick: bool,
    /// Seconds of load per measurement.
    pub(crate) secs: f64,
    /// Times each side-by-side comparison is repeated, alternating the servers.
    pub(crate) rounds: usize,
    /// Idle connections held per demo.
    pub(crate) hold: usize,
    /// Bridge sessions relaying at once in the scale test.
    pub(crate) sessions: usize,
    /// Seconds of each kernel watcher run (one per rate and round).
    pub(crate) kernel_secs: f64,
    /// Criterion warm-up and measurement seconds per benchmark.
    pub(crate) criterion: (f64, f64),
    /// Criterion runs; each figure is the best of them.
    pub(crate) codec_passes: usize,
    /// Where the report goes.
    pub(crate) out: PathBuf,
}

impl Plan {
    fn new(ctx: &Ctx, args: &flags::Bench) -> Plan {
        let quick = args.quick;
        if quick {
            Plan {
                quick,
                secs: 1.0,
                rounds: 1,
                hold: 1000,
                sessions: 50,
                kernel_secs: 2.0,
                criterion: (0.2, 0.3),
                codec_passes: 1,
                out: procs::bench_dir(&ctx.target()).join("BENCHMARKS-quick.md"),
            }
        } else {
            Plan {
                quick,
                secs: 2.5,
                rounds: 3,
                hold: 10_000,
                sessions: 500,
                kernel_secs: 6.0,
                criterion: (0.5, 1.5),
                codec_passes: 3,
                out: ctx.root.join("BENCHMARKS.md"),
            }
        }
    }
}

/// The servers' addresses for one socket-lab instance.
struct SocketLab {
    proc: Proc,
    http: String,
    uppercase: String,
    framed: String,
}

/// Runs loadgen and keeps its results, tagged with the server measured.
struct Runner {
    loadgen: PathBuf,
    socket_lab: PathBuf,
    /// The workspace root.
    root: PathBuf,
    /// `bench/peers/`: the Python servers.
    peers: PathBuf,
    logs: PathBuf,
    plan: Plan,
    /// The open-file limit servers are started with.
    nofile: u64,
    /// The CPUs loadgen runs on (`None`: wherever the kernel puts it).
    load_cpus: Option<String>,
    results: Vec<Run>,
    problems: Vec<String>,
}

impl Runner {
    /// Runs one loadgen measurement against `target` (whose CPU time is read
    /// before and after), tagging each JSON line with both.
    fn measure(&mut self, target: &str, pid: Option<u32>, args: &[String]) {
        let cpu_before = pid.and_then(procs::cpu_ms);
        let limit = Duration::from_secs_f64(self.plan.secs) + Duration::from_secs(300);
        let cpus = self.load_cpus.as_deref();
        match procs::loadgen(&self.loadgen, cpus, &self.logs, args, limit) {
            Ok(measurements) => {
                let cpu = match (cpu_before, pid.and_then(procs::cpu_ms)) {
                    (Some(a), Some(b)) => Some(((b - a) * 10.0).round() / 10.0),
                    _ => None,
                };
                for measurement in measurements {
                    self.results.push(Run {
                        target: target.to_owned(),
                        server_cpu_ms: cpu,
                        measurement,
                    });
                }
            }
            Err(e) => self.problems.push(format!("{target}: {e:#}")),
        }
    }

    fn secs(&self) -> String {
        self.plan.secs.to_string()
    }

    /// Starts `cmd` as server `name`; returns it and the address it announced
    /// (its `listening ADDR` line).
    fn server(&self, name: &str, cmd: Command) -> Result<(Proc, String)> {
        let (proc, lines) = procs::start(&self.logs, name, cmd, 1, false)?;
        Ok((proc, procs::listening(&lines)?))
    }

    /// One of loadgen's own servers, `loadgen <mode> <args>`, as server `name`
    /// on the CPUs `cpus` if given; it stops with the bench (stdin closed) or
    /// after half an hour at most.
    fn loadgen_server(
        &self,
        name: &str,
        mode: &str,
        args: &[&str],
        cpus: Option<&str>,
    ) -> Result<(Proc, String)> {
        let mut cmd = procs::pinned(cpus, &self.loadgen);
        cmd.arg(mode)
            .args(args)
            .args(["--exit-on-stdin-eof", "--max-secs", "1800"]);
        self.server(name, cmd)
    }

    /// One of the Python peers in `bench/peers/`, as server `name`.
    fn python_peer(&self, name: &str, script: &str) -> Result<(Proc, String)> {
        let mut cmd = Command::new("python3");
        cmd.arg(self.peers.join(script));
        self.server(name, cmd)
    }

    /// Starts a fresh socket-lab with `uppercase`, `framed` and the bridge,
    /// admitting `echo` as a bridge target, with the raised fd limit.
    fn socket_lab(&self, name: &str, echo: &str) -> Result<SocketLab> {
        self.socket_lab_on(name, echo, None)
    }

    /// [`Runner::socket_lab`] on the CPUs `cpus` (a `taskset -c` list).
    fn socket_lab_on(&self, name: &str, echo: &str, cpus: Option<&str>) -> Result<SocketLab> {
        let mut cmd = if procs::which("prlimit").is_some() {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}", n = self.nofile))
                .arg("--");
            if let Some(list) = cpus {
                c.args(["taskset", "-c", list]);
            }
            c.arg(&self.socket_lab);
            c
        } else {
            procs::pinned(cpus, &self.socket_lab)
        };
        cmd.args([
            "--http-port",
            "0",
            "--only",
            "uppercase,framed",
            "--uppercase-port",
            "0",
            "--framed-port",
            "0",
            // The defaults (1024 connections per demo, 256 bridge sessions) are
            // for one learner's laptop; the scale test needs more.
            "--max-connections",
            "20000",
            "--max-sessions",
            "600",
            // Every session of the scale test comes from this one loopback
            // address, which the per-address cap (128) would stop.
            "--max-sessions-per-client",
            "600",
            "--idle-timeout",
            "300",
            "--bridge-allow",
            echo,
        ]);
        let (proc, lines) = procs::start(&self.logs, name, cmd, 3, false)?;
        let find = |service: &str, scheme: &str| -> Result<String> {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{service} {scheme}://")))
                .map(str::to_owned)
                .with_context(|| format!("socket-lab did not print its {service} address"))
        };
        Ok(SocketLab {
            http: find("http", "http")?,
            uppercase: find("uppercase", "tcp")?,
            framed: find("framed", "tcp")?,
            proc,
        })
    }
}

/// One loadgen argument, owned.
fn arg(v: &str) -> String {
    v.to_owned()
}

/// Runs the whole bench and writes the report.
pub(crate) fn bench(ctx: &Ctx, args: &flags::Bench) -> Result<()> {
    let plan = Plan::new(ctx, args);
    let started = Instant::now();
    let date = report::now();
    let dir = procs::bench_dir(&ctx.target());
    let logs = dir.join("logs");
    if logs.exists() {
        std::fs::remove_dir_all(&logs)?;
    }
    std::fs::create_dir_all(&logs)?;

    // Release binaries for everything measured (the wasm and the book are not needed).
    let building = Instant::now();
    run_cmd(
        ctx.cargo()
            .args(["build", "--release", "-p", "native-server", "-p", "loadgen"]),
    )?;
    run_cmd(
        ctx.cargo()
            .args(["bench", "-p", "protocol", "--bench", "codec", "--no-run"]),
    )?;
    let build_secs = building.elapsed().as_secs_f64();
    let release = ctx.target().join("release");

    let (_, hard) = procs::nofile_limits();
    let nofile = hard
        .parse::<u64>()
        .map_or(WANTED_NOFILE, |h| h.min(WANTED_NOFILE));
    let mut run = Runner {
        loadgen: release.join("loadgen"),
        socket_lab: release.join("socket-lab"),
        root: ctx.root.clone(),
        peers: ctx.root.join("bench/peers"),
        logs: logs.clone(),
        plan: plan.clone(),
        nofile,
        load_cpus: None,
        results: Vec::new(),
        problems: Vec::new(),
    };
    let websockify = ensure_websockify(ctx);
    if let Err(e) = &websockify {
        run.problems.push(format!("websockify: {e:#}"));
    }

    // 1. The codec, while nothing else runs.
    let codec_started = Instant::now();
    // Several passes, each side keeping its best: memcpy-bound cases move by
    // ±15 % from one run to the next on this kind of machine. The passes swap
    // which side runs first, since the second one tends to come out ahead.
    let mut codec = Vec::new();
    for pass in 0..plan.codec_passes {
        codec::run(ctx, plan.criterion.0, plan.criterion.1, pass % 2 == 1)?;
        codec::merge(&mut codec, codec::read(&ctx.target())?);
    }
    let allocs = codec::allocations(ctx).unwrap_or_else(|e| {
        run.problems.push(format!("allocation test: {e:#}"));
        Vec::new()
    });
    let codec_secs = codec_started.elapsed().as_secs_f64();

    // 5. The kernel watcher, before the load runs below leave thousands of
    // sockets in TIME_WAIT: every sample reads the kernel's whole TCP table.
    let kernel = kernel::run(&mut run).unwrap_or_else(|e| {
        run.problems.push(format!("kernel watcher: {e:#}"));
        kernel::KernelCost::default()
    });
    // 2 and 3. Servers and bridges, side by side.
    if let Err(e) = side_by_side::run(&mut run, websockify.as_ref().ok()) {
        run.problems.push(format!("side-by-side runs: {e:#}"));
    }
    // 4. Scale, each on a fresh server so its memory starts clean.
    if let Err(e) = scale::run(&mut run) {
        run.problems.push(format!("scale runs: {e:#}"));
    }
    // 7. The learner's check, lesson by lesson.
    let lessons = lessons::run(&mut run);

    let results_path = dir.join("results.jsonl");
    let mut raw = String::new();
    for r in &run.results {
        raw.push_str(&serde_json::to_string(r)?);
        raw.push('\n');
    }
    std::fs::write(&results_path, &raw)?;

    let report = report::Report {
        date,
        command: if plan.quick {
            "cargo xtask bench --quick".into()
        } else {
            "cargo xtask bench".into()
        },
        build_secs,
        codec_secs,
        total_secs: started.elapsed().as_secs_f64(),
        plan: plan.clone(),
        codec,
        allocs,
        results: run.results,
        lessons,
        kernel,
        problems: run.problems,
        nofile,
        nofile_hard: hard,
        websockify: websockify.ok().map(|_| WEBSOCKIFY_VERSION.to_owned()),
        isolation: relay::Isolation::detect().map(|i| (i.bridge, i.load)),
        root: ctx.root.clone(),
        target: ctx.target(),
    };
    let previous = std::fs::read_to_string(&plan.out).unwrap_or_default();
    let text = report.render(&previous);
    std::fs::write(&plan.out, text)?;
    println!(
        "xtask: bench finished in {:.0} s; wrote {} (raw results: {})",
        started.elapsed().as_secs_f64(),
        plan.out.display(),
        results_path.display()
    );
    Ok(())
}
