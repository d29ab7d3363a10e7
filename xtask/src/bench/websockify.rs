//! websockify, the bridge socket-lab's `/ws` is compared with: installed from
//! PyPI into a venv under `target/tools/websockify` (once), then started per
//! placement in a process group of its own, since it forks a child per session.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::procs::{self, Proc};
use crate::{Ctx, tools};

/// The websockify release compared with, pinned so that runs stay comparable.
pub(super) const WEBSOCKIFY_VERSION: &str = "0.13.0";

/// websockify 0.13 in its own venv under `target/tools`, installed from PyPI
/// if missing.
pub(super) fn ensure_websockify(ctx: &Ctx) -> Result<PathBuf> {
    Ok(tools::python_tool(ctx, "websockify", WEBSOCKIFY_VERSION)?.join("websockify"))
}

/// Starts websockify (as server `name`, on the CPUs `cpus` if given) relaying
/// a free port to `echo`; returns it and its port.
pub(super) fn start_websockify(
    logs: &Path,
    name: &str,
    bin: &Path,
    echo: &str,
    cpus: Option<&str>,
) -> Result<(Proc, u16)> {
    let port = procs::free_port()?;
    let mut cmd = procs::pinned(cpus, bin);
    cmd.arg(format!("127.0.0.1:{port}")).arg(echo);
    // Own process group: websockify forks a child per session; stopping the group stops them all.
    let (proc, _) = procs::start(logs, name, cmd, 0, true)?;
    procs::wait_for_port(&format!("127.0.0.1:{port}"), Duration::from_secs(20))?;
    Ok((proc, port))
}
