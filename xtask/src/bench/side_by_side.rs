//! The side-by-side runs: `uppercase` connections/s against the notes'
//! Python server and a minimal tokio loop, `framed` round trips against a
//! Python server, and the bridge relay against websockify and a copy-only
//! floor, every pair alternating round by round on the same machine.

use std::path::PathBuf;

use anyhow::Result;

use super::relay::{Isolation, isolated_relay, peer_relays, relay_rounds, start_relay_floor};
use super::websockify::start_websockify;
use super::{Runner, arg};

/// Uppercase, framed and relay measurements, alternating the servers compared.
pub(super) fn run(run: &mut Runner, websockify: Option<&PathBuf>) -> Result<()> {
    let logs = run.logs.clone();
    let (echo, echo_addr) = run.loadgen_server("echo", "echo-server", &[], None)?;
    let (floor, floor_addr) = run.loadgen_server("floor", "floor-server", &[], None)?;
    let (py_upper, py_upper_addr) = run.python_peer("python-uppercase", "uppercase_server.py")?;
    let (py_framed, py_framed_addr) = run.python_peer("python-framed", "framed_server.py")?;
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

    for _ in 0..run.plan.rounds {
        for (target, addr, pid) in [
            ("socket-lab", &lab.uppercase, lab.proc.pid()),
            ("tokio-floor", &floor_addr, floor.pid()),
            ("python", &py_upper_addr, py_upper.pid()),
        ] {
            load(run, "conn-rate", ("--clients", "32"), (target, addr, pid));
        }
    }
    for _ in 0..run.plan.rounds {
        for conns in ["1", "32"] {
            for (target, addr, pid) in [
                ("socket-lab", &lab.framed, lab.proc.pid()),
                ("python", &py_framed_addr, py_framed.pid()),
            ] {
                load(run, "framed-rtt", ("--conns", conns), (target, addr, pid));
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

/// One `loadgen <mode>` measurement of `target` (listening on `addr`, process
/// `pid`) with `width` (`--clients N` or `--conns N`) for the planned seconds.
fn load(run: &mut Runner, mode: &str, width: (&str, &str), (target, addr, pid): (&str, &str, u32)) {
    let args = vec![
        arg(mode),
        arg("--addr"),
        arg(addr),
        arg(width.0),
        arg(width.1),
        arg("--secs"),
        run.secs(),
        arg("--label"),
        arg(target),
    ];
    run.measure(target, Some(pid), &args);
}
