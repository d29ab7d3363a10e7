//! The side-by-side runs: `uppercase` connections/s against the notes'
//! Python server and a minimal tokio loop, `framed` round trips against a
//! Python server, and the bridge relay against websockify and a copy-only
//! floor, every pair alternating round by round on the same machine.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use super::procs::{self, listening};
use super::relay::{Isolation, isolated_relay, peer_relays, relay_rounds, start_relay_floor};
use super::websockify::start_websockify;
use super::{Runner, arg};

/// Uppercase, framed and relay measurements, alternating the servers compared.
pub(super) fn run(run: &mut Runner, websockify: Option<&PathBuf>) -> Result<()> {
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
