//! Socket Lab for people without Rust, installed the way they install it:
//!
//! - the wheel (`cargo xtask wheel`) installed with pip into a fresh virtual
//!   environment, with no index (it needs nothing else), then `socket-lab`
//!   and `python -m socket_lab` started from an empty directory;
//! - the static musl binary (`cargo xtask dist`) copied alone into an empty
//!   directory and started there.
//!
//! Each must serve every lab, live: a headless Chromium opens every
//! `/embed/<lab>` page on it and waits for "live on your machine", and one
//! round trip through the tcp-echo lab shows the demo's answer. `cargo xtask
//! test` builds both and passes their paths in `SOCKET_LAB_WHEEL` and
//! `SOCKET_LAB_STATIC_BIN`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::Step::{Click, Shows};
use e2e::{BrowserOptions, steps, wait_contains, wait_lab, with_browser};
use native_server::Config;
use protocol::demo::LABS;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A path `cargo xtask test` hands over, or what to run to get it.
fn built(var: &str, what: &str) -> Result<PathBuf> {
    let path = std::env::var_os(var).map(PathBuf::from).with_context(|| {
        format!(
            "{var} is not set: run these tests with `cargo xtask test`, which builds {what} first"
        )
    })?;
    ensure!(path.is_file(), "{var}={} is not a file", path.display());
    Ok(path)
}

/// A fresh, empty directory for this test.
fn empty_dir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("socket-lab-{name}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A socket-lab started as a learner starts it, on free ports.
struct Started {
    child: Child,
    base: String,
}

/// Starts `program args…` in `cwd` with every port 0 and waits for the line
/// that names its HTTP address.
async fn start(program: &Path, args: &[&str], cwd: &Path) -> Result<Started> {
    let mut cmd = Command::new(program);
    cmd.args(args).arg("--http-port").arg("0");
    for demo in Config::for_tests("").ports.keys() {
        cmd.arg("--port").arg(format!("{demo}=0"));
    }
    let mut child = cmd
        .current_dir(cwd)
        .env_remove("SOCKET_LAB_DIST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.strip_prefix("http ") {
                return Ok(url.trim().to_owned());
            }
        }
        bail!("{} exited before it listened", program.display())
    })
    .await
    .context("socket-lab did not print its address within 30 s")??;
    // Keep reading, so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Started { child, base })
}

impl Started {
    async fn stop(mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// Every lab's page goes live, and the tcp-echo lab gets its answer.
async fn every_lab_live(base: &str) -> Result<()> {
    let base = base.to_owned();
    with_browser(BrowserOptions::default(), |c| async move {
        let page = |lab: &str| format!("{base}/embed/{lab}");
        for lab in LABS {
            c.goto(&page(lab)).await?;
            wait_lab(&c, "socket-lab").await?;
            wait_contains(&c, "[data-role=mode]", "live on your machine")
                .await
                .with_context(|| format!("the {lab} lab did not go live"))?;
        }
        c.goto(&page("tcp-echo")).await?;
        wait_lab(&c, "socket-lab").await?;
        wait_contains(&c, "[data-role=mode]", "live on your machine").await?;
        steps(
            &c,
            &[
                Click("[data-role=send]"),
                Shows("[data-kind=read]", "ACK: Hello, Server"),
            ],
        )
        .await?;
        // The book is inside the binary too.
        c.goto(&format!("{base}/book/")).await?;
        let title = c.title().await?;
        ensure!(title.contains("Socket"), "the book's title: {title:?}");
        Ok(())
    })
    .await
}

/// Runs `body` against `started`, then stops it, whatever `body` did.
async fn against(started: Started) -> Result<()> {
    let result = every_lab_live(&started.base).await;
    started.stop().await?;
    result
}

#[tokio::test]
async fn the_wheel_installs_with_pip_and_serves_every_lab_live_from_an_empty_directory()
-> Result<()> {
    let wheel = built("SOCKET_LAB_WHEEL", "the wheel")?;
    let size = std::fs::metadata(&wheel)?.len();
    ensure!(size <= 12 * 1024 * 1024, "the wheel weighs {size} bytes");
    let home = empty_dir("wheel")?;
    let venv = home.join("venv");
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .await?;
    ensure!(status.success(), "python3 -m venv failed");
    let status = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--no-index",
            "--disable-pip-version-check",
        ])
        .arg(&wheel)
        .status()
        .await?;
    ensure!(status.success(), "pip install {} failed", wheel.display());
    let cwd = empty_dir("wheel-cwd")?;

    // The script pip put on the PATH…
    let result = against(start(&venv.join("bin/socket-lab"), &[], &cwd).await?).await;
    // …and `python -m socket_lab`, for when the scripts folder is not on it.
    let result = match result {
        Ok(()) => {
            against(start(&venv.join("bin/python"), &["-m", "socket_lab"], &cwd).await?).await
        }
        err => err,
    };
    ensure!(
        std::fs::read_dir(&cwd)?.next().is_none(),
        "socket-lab wrote into the directory it was started in"
    );
    std::fs::remove_dir_all(&home)?;
    std::fs::remove_dir_all(&cwd)?;
    result
}

#[tokio::test]
async fn the_static_binary_alone_in_an_empty_directory_serves_every_lab_live() -> Result<()> {
    let built = built("SOCKET_LAB_STATIC_BIN", "the static binary")?;
    let dir = empty_dir("static")?;
    let bin = dir.join("socket-lab");
    std::fs::copy(&built, &bin)?;
    let result = against(start(&bin, &[], &dir).await?).await;
    std::fs::remove_dir_all(&dir)?;
    result
}
