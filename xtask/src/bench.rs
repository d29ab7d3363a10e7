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
//! 5. browser: the labs' gzipped size and time to interactive, as the build
//!    and the e2e run last recorded them.
//!
//! Everything runs on loopback; every load loop is bounded in time and count.
//! The result is `BENCHMARKS.md` at the repo root (raw JSON lines in
//! `target/bench/results.jsonl`, logs in `target/bench/logs`).
//! `--quick` runs a shortened version into `target/bench/BENCHMARKS-quick.md`.

mod codec;
mod procs;
mod report;
mod results;
mod websockify;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use self::procs::{Proc, listening};
use self::results::Run;
use self::websockify::{WEBSOCKIFY_VERSION, ensure_websockify, start_websockify};
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
        peers: ctx.root.join("bench/peers"),
        logs: logs.clone(),
        plan: plan.clone(),
        nofile,
        load_cpus: None,
        results: Vec::new(),
        problems: Vec::new(),
    };
    let websockify = ensure_websockify(ctx, &logs);
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

    // 2 and 3. Servers and bridges, side by side.
    if let Err(e) = side_by_side(&mut run, websockify.as_ref().ok()) {
        run.problems.push(format!("side-by-side runs: {e:#}"));
    }
    // 4. Scale, each on a fresh server so its memory starts clean.
    if let Err(e) = scale(&mut run) {
        run.problems.push(format!("scale runs: {e:#}"));
    }

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
        problems: run.problems,
        nofile,
        nofile_hard: hard,
        websockify: websockify.ok().map(|_| WEBSOCKIFY_VERSION.to_owned()),
        isolation: Isolation::detect().map(|i| (i.bridge, i.load)),
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

/// Uppercase, framed and relay measurements, alternating the servers compared.
fn side_by_side(run: &mut Runner, websockify: Option<&PathBuf>) -> Result<()> {
    let logs = run.logs.clone();
    let loadgen = run.loadgen.clone();
    let stop_with_us = ["--exit-on-stdin-eof", "--max-secs", "1800"];
    let (echo, lines) = procs::start(
        &logs,
        "echo",
        {
            let mut c = Command::new(&loadgen);
            c.arg("echo-server").args(stop_with_us);
            c
        },
        1,
        false,
    )?;
    let echo_addr = listening(&lines)?;
    let (floor, lines) = procs::start(
        &logs,
        "floor",
        {
            let mut c = Command::new(&loadgen);
            c.arg("floor-server").args(stop_with_us);
            c
        },
        1,
        false,
    )?;
    let floor_addr = listening(&lines)?;
    let peers = run.peers.clone();
    let (py_upper, lines) = procs::start(
        &logs,
        "python-uppercase",
        {
            let mut c = Command::new("python3");
            c.arg(peers.join("uppercase_server.py"));
            c
        },
        1,
        false,
    )?;
    let py_upper_addr = listening(&lines)?;
    let (py_framed, lines) = procs::start(
        &logs,
        "python-framed",
        {
            let mut c = Command::new("python3");
            c.arg(peers.join("framed_server.py"));
            c
        },
        1,
        false,
    )?;
    let py_framed_addr = listening(&lines)?;
    let lab = run.socket_lab("socket-lab", &echo_addr)?;
    let ws = match websockify {
        Some(bin) => match start_websockify(&logs, "websockify", bin, &echo_addr, None) {
            Ok(pair) => Some(pair),
            Err(e) => {
                run.problems.push(format!("websockify: {e:#}"));
                None
            }
        },
        None => None,
    };

    let secs = run.secs();
    for _ in 0..run.plan.rounds {
        for (target, addr, pid) in [
            ("socket-lab", &lab.uppercase, lab.proc.pid()),
            ("tokio-floor", &floor_addr, floor.pid()),
            ("python", &py_upper_addr, py_upper.pid()),
        ] {
            let args = vec![
                arg("conn-rate"),
                arg("--addr"),
                addr.clone(),
                arg("--clients"),
                arg("32"),
                arg("--secs"),
                secs.clone(),
                arg("--label"),
                arg(target),
            ];
            run.measure(target, Some(pid), &args);
        }
    }
    for _ in 0..run.plan.rounds {
        for conns in ["1", "32"] {
            for (target, addr, pid) in [
                ("socket-lab", &lab.framed, lab.proc.pid()),
                ("python", &py_framed_addr, py_framed.pid()),
            ] {
                let args = vec![
                    arg("framed-rtt"),
                    arg("--addr"),
                    addr.clone(),
                    arg("--conns"),
                    arg(conns),
                    arg("--secs"),
                    secs.clone(),
                    arg("--label"),
                    arg(target),
                ];
                run.measure(target, Some(pid), &args);
            }
        }
    }
    let relay_floor = match start_relay_floor(run, "relay-floor", &echo_addr, None) {
        Ok(pair) => Some(pair),
        Err(e) => {
            run.problems.push(format!("relay floor: {e:#}"));
            None
        }
    };
    relay_rounds(
        run,
        &lab,
        &peer_relays(ws.as_ref(), relay_floor.as_ref()),
        &echo_addr,
        "",
    );
    drop((lab, ws, relay_floor, py_upper, py_framed, floor, echo));

    // The same relay again with the bridge on its own CPUs and the load
    // generator and echo target on the others: on a small machine they
    // otherwise share cores, and the client's CPU is taken from the bridge.
    match Isolation::detect() {
        Some(iso) => {
            if let Err(e) = isolated_relay(run, &iso, websockify) {
                run.problems.push(format!("isolated relay runs: {e:#}"));
            }
        }
        None => run
            .problems
            .push("isolated relay runs skipped: they need `taskset` and at least 2 CPUs".into()),
    }
    Ok(())
}

/// How the isolated relay runs split the CPUs this process may use.
struct Isolation {
    /// The bridges' CPUs (`taskset -c` list): the first half.
    bridge: String,
    /// loadgen's and the echo target's: the rest.
    load: String,
}

impl Isolation {
    fn detect() -> Option<Isolation> {
        let cpus = procs::allowed_cpus();
        if cpus.len() < 2 || procs::which("taskset").is_none() {
            return None;
        }
        let list = |c: &[u32]| c.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let (bridge, load) = cpus.split_at(cpus.len() / 2);
        Some(Isolation {
            bridge: list(bridge),
            load: list(load),
        })
    }
}

/// Fresh echo target, socket-lab and websockify, pinned as `iso` says, then
/// the relay rounds with loadgen pinned too.
fn isolated_relay(run: &mut Runner, iso: &Isolation, websockify: Option<&PathBuf>) -> Result<()> {
    let logs = run.logs.clone();
    let (echo, lines) = procs::start(
        &logs,
        "echo-isolated",
        {
            let mut c = procs::pinned(Some(&iso.load), &run.loadgen);
            c.args(["echo-server", "--exit-on-stdin-eof", "--max-secs", "1800"]);
            c
        },
        1,
        false,
    )?;
    let echo_addr = listening(&lines)?;
    let lab = run.socket_lab_on("socket-lab-isolated", &echo_addr, Some(&iso.bridge))?;
    let ws = match websockify {
        Some(bin) => Some(start_websockify(
            &logs,
            "websockify-isolated",
            bin,
            &echo_addr,
            Some(&iso.bridge),
        )?),
        None => None,
    };
    let floor = start_relay_floor(run, "relay-floor-isolated", &echo_addr, Some(&iso.bridge))?;
    run.load_cpus = Some(iso.load.clone());
    relay_rounds(
        run,
        &lab,
        &peer_relays(ws.as_ref(), Some(&floor)),
        &echo_addr,
        "-isolated",
    );
    run.load_cpus = None;
    drop((lab, ws, floor, echo));
    Ok(())
}

/// A relay measured beside socket-lab's bridge with loadgen's websockify
/// client (binary frames of raw bytes): websockify itself, or the copy-only floor.
struct PeerRelay<'a> {
    /// `websockify` or `relay-floor`; results are tagged `{name}{suffix}`.
    name: &'static str,
    proc: &'a Proc,
    port: u16,
}

/// The bridge relay at 1 and 32 sessions, socket-lab and each peer relay
/// alternating, all relaying to `echo`; results are tagged
/// `socket-lab{suffix}` and `{peer}{suffix}`.
fn relay_rounds(
    run: &mut Runner,
    lab: &SocketLab,
    peers: &[PeerRelay<'_>],
    echo: &str,
    suffix: &str,
) {
    let secs = run.secs();
    let ours_name = format!("socket-lab{suffix}");
    for _ in 0..run.plan.rounds {
        for sessions in ["1", "32"] {
            let ours = vec![
                arg("relay"),
                arg("--bridge"),
                arg("socket-lab"),
                arg("--url"),
                format!("ws://{}/ws", lab.http),
                arg("--origin"),
                format!("http://{}", lab.http),
                arg("--target"),
                echo.to_owned(),
                arg("--sessions"),
                arg(sessions),
                arg("--secs"),
                secs.clone(),
                arg("--server-pid"),
                lab.proc.pid().to_string(),
                arg("--label"),
                ours_name.clone(),
            ];
            run.measure(&ours_name, Some(lab.proc.pid()), &ours);
            for peer in peers {
                let name = format!("{}{suffix}", peer.name);
                let theirs = vec![
                    arg("relay"),
                    arg("--bridge"),
                    arg("websockify"),
                    arg("--url"),
                    format!("ws://127.0.0.1:{}/", peer.port),
                    arg("--sessions"),
                    arg(sessions),
                    arg("--secs"),
                    secs.clone(),
                    arg("--server-pid"),
                    peer.proc.pid().to_string(),
                    arg("--label"),
                    name.clone(),
                ];
                run.measure(&name, Some(peer.proc.pid()), &theirs);
            }
        }
    }
}

/// The copy-only relay floor (`loadgen relay-floor`) to `echo`, on `cpus` if given.
fn start_relay_floor(
    run: &Runner,
    name: &str,
    echo: &str,
    cpus: Option<&str>,
) -> Result<(Proc, u16)> {
    let mut c = procs::pinned(cpus, &run.loadgen);
    c.args([
        "relay-floor",
        "--target",
        echo,
        "--exit-on-stdin-eof",
        "--max-secs",
        "1800",
    ]);
    let (proc, lines) = procs::start(&run.logs, name, c, 1, false)?;
    let addr = listening(&lines)?;
    let port = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .with_context(|| format!("relay-floor printed {addr:?}, not HOST:PORT"))?;
    Ok((proc, port))
}

/// The peer relays that started, in the order they are measured.
fn peer_relays<'a>(
    ws: Option<&'a (Proc, u16)>,
    floor: Option<&'a (Proc, u16)>,
) -> Vec<PeerRelay<'a>> {
    [("websockify", ws), ("relay-floor", floor)]
        .into_iter()
        .filter_map(|(name, p)| {
            p.map(|(proc, port)| PeerRelay {
                name,
                proc,
                port: *port,
            })
        })
        .collect()
}

/// 10,000 idle connections on each TCP demo, then 500 bridge sessions relaying.
fn scale(run: &mut Runner) -> Result<()> {
    let logs = run.logs.clone();
    let (echo, lines) = procs::start(
        &logs,
        "echo-scale",
        {
            let mut c = Command::new(&run.loadgen);
            c.args(["echo-server", "--exit-on-stdin-eof", "--max-secs", "1800"]);
            c
        },
        1,
        false,
    )?;
    let echo_addr = listening(&lines)?;
    let hold = run.plan.hold.to_string();
    // uppercase first: its server closes each answered connection, so the
    // client's ports are free again at once. framed last: there the client
    // closes, and its ports wait in TIME_WAIT for a minute.
    {
        let lab = run.socket_lab("socket-lab-hold-uppercase", &echo_addr)?;
        let pid = lab.proc.pid();
        let args = vec![
            arg("hold"),
            arg("--addr"),
            lab.uppercase.clone(),
            arg("--kind"),
            arg("uppercase"),
            arg("--conns"),
            hold.clone(),
            arg("--server-pid"),
            pid.to_string(),
            arg("--label"),
            arg("socket-lab"),
        ];
        run.measure("socket-lab", Some(pid), &args);
    }
    {
        let lab = run.socket_lab("socket-lab-sessions", &echo_addr)?;
        let pid = lab.proc.pid();
        let args = vec![
            arg("relay"),
            arg("--bridge"),
            arg("socket-lab"),
            arg("--url"),
            format!("ws://{}/ws", lab.http),
            arg("--origin"),
            format!("http://{}", lab.http),
            arg("--target"),
            echo_addr.clone(),
            arg("--sessions"),
            run.plan.sessions.to_string(),
            arg("--secs"),
            run.secs(),
            arg("--server-pid"),
            pid.to_string(),
            arg("--label"),
            arg("socket-lab-scale"),
        ];
        run.measure("socket-lab-scale", Some(pid), &args);
    }
    {
        let lab = run.socket_lab("socket-lab-hold-framed", &echo_addr)?;
        let pid = lab.proc.pid();
        let args = vec![
            arg("hold"),
            arg("--addr"),
            lab.framed.clone(),
            arg("--kind"),
            arg("framed"),
            arg("--conns"),
            hold,
            arg("--server-pid"),
            pid.to_string(),
            arg("--label"),
            arg("socket-lab"),
        ];
        run.measure("socket-lab", Some(pid), &args);
    }
    drop(echo);
    Ok(())
}
