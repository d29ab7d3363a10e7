//! The scale runs: 10,000 idle connections held on each TCP demo, then 500
//! bridge sessions relaying at once, each on a fresh socket-lab so its memory
//! starts clean.

use anyhow::Result;
use measurement::Demo;

use super::relay::{Bridge, relay_args};
use super::{Runner, arg};

/// 10,000 idle connections on each TCP demo, then 500 bridge sessions relaying.
pub(super) fn run(run: &mut Runner) -> Result<()> {
    let (echo, echo_addr) = run.loadgen_server("echo-scale", "echo-server", &[], None)?;
    // uppercase first: its server closes each answered connection, so the
    // client's ports are free again at once. framed last: there the client
    // closes, and its ports wait in TIME_WAIT for a minute.
    hold(run, Demo::Uppercase, &echo_addr)?;
    {
        let lab = run.socket_lab("socket-lab-sessions", &echo_addr)?;
        let pid = lab.proc.pid();
        let bridge = Bridge::SocketLab {
            http: &lab.http,
            echo: &echo_addr,
        };
        let sessions = run.plan.sessions.to_string();
        let args = relay_args(bridge, &sessions, &run.secs(), pid, "socket-lab-scale");
        run.measure("socket-lab-scale", Some(pid), &args);
    }
    hold(run, Demo::Framed, &echo_addr)?;
    drop(echo);
    Ok(())
}

/// `run.plan.hold` idle connections on a fresh socket-lab's `demo`, then each
/// one answered (`loadgen hold`).
fn hold(run: &mut Runner, demo: Demo, echo_addr: &str) -> Result<()> {
    let kind = match demo {
        Demo::Uppercase => "uppercase",
        Demo::Framed => "framed",
    };
    let lab = run.socket_lab(&format!("socket-lab-hold-{kind}"), echo_addr)?;
    let pid = lab.proc.pid();
    let addr = match demo {
        Demo::Uppercase => &lab.uppercase,
        Demo::Framed => &lab.framed,
    };
    let args = vec![
        arg("hold"),
        arg("--addr"),
        addr.clone(),
        arg("--kind"),
        arg(kind),
        arg("--conns"),
        run.plan.hold.to_string(),
        arg("--server-pid"),
        pid.to_string(),
        arg("--label"),
        arg("socket-lab"),
    ];
    run.measure("socket-lab", Some(pid), &args);
    Ok(())
}
