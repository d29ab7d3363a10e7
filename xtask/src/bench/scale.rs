//! The scale runs: 10,000 idle connections held on each TCP demo, then 500
//! bridge sessions relaying at once, each on a fresh socket-lab so its memory
//! starts clean.

use std::process::Command;

use anyhow::Result;

use super::procs::{self, listening};
use super::{Runner, arg};

/// 10,000 idle connections on each TCP demo, then 500 bridge sessions relaying.
pub(super) fn run(run: &mut Runner) -> Result<()> {
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
