//! websockify, the bridge socket-lab's `/ws` is compared with: installed from
//! PyPI into a venv under `target/bench/venv` (once), then started per
//! placement in a process group of its own, since it forks a child per session.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::procs::{self, Proc};
use crate::Ctx;

/// The websockify release compared with, pinned so that runs stay comparable.
pub(super) const WEBSOCKIFY_VERSION: &str = "0.13.0";

/// websockify 0.13 in a venv under `target/bench/venv`, installed from PyPI if missing.
pub(super) fn ensure_websockify(ctx: &Ctx, logs: &Path) -> Result<PathBuf> {
    let venv = procs::bench_dir(&ctx.target()).join("venv");
    let python = venv.join("bin/python");
    let bin = venv.join("bin/websockify");
    let installed = || {
        Command::new(&python)
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('websockify'))",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == WEBSOCKIFY_VERSION)
            .unwrap_or(false)
    };
    if bin.is_file() && installed() {
        return Ok(bin);
    }
    println!(
        "xtask: installing websockify {WEBSOCKIFY_VERSION} from PyPI into {} (once)",
        venv.display()
    );
    let log = std::fs::File::create(logs.join("pip.log"))?;
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .status()
        .context("python3 -m venv (is python3 with venv installed?)")?;
    if !status.success() {
        bail!("python3 -m venv failed; on Debian: apt-get install python3-venv");
    }
    let status = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            &format!("websockify=={WEBSOCKIFY_VERSION}"),
        ])
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("pip install websockify")?;
    if !status.success() || !installed() {
        bail!(
            "pip could not install websockify {WEBSOCKIFY_VERSION}; see {}",
            logs.join("pip.log").display()
        );
    }
    Ok(bin)
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
