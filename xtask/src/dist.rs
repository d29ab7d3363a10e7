//! `cargo xtask dist` and `cargo xtask wheel`: Socket Lab for people without
//! Rust.
//!
//! - `dist` builds the site (`cargo xtask build`), then `socket-lab` with the
//!   `embed` feature, so the site, labs and book are inside the binary and it
//!   runs from any directory with nothing next to it. On Linux x86_64 it is a
//!   static musl binary, which runs on any distribution. The result is
//!   `target/dist/socket-lab`.
//! - `wheel` puts that same binary into a Python wheel with maturin
//!   (`python/pyproject.toml`, `bindings = "bin"`), so that
//!   `pipx install socket-lab` or `pip install socket-lab` puts it on the
//!   PATH and `python -m socket_lab` runs it. The result is in
//!   `target/wheels/`; the build fails if it weighs more than
//!   [`WHEEL_BUDGET`]. maturin comes from PyPI (pinned) into `target/tools`.
//!
//! Both build the release binary with the same target and features, so the
//! second one only relinks.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{Ctx, build, run_cmd, tools};

/// The static Linux target: no glibc, so one binary runs on every distribution.
pub(crate) const STATIC_TARGET: &str = "x86_64-unknown-linux-musl";

/// Systems `native-server` must compile for, checked by `cargo xtask test`
/// (their learners build it there, or run a binary built there).
pub(crate) const OTHER_SYSTEMS: [&str; 2] = ["x86_64-pc-windows-gnu", "x86_64-apple-darwin"];

/// The maturin release the wheel is built with.
const MATURIN_VERSION: &str = "1.16.0";

/// Most the wheel may weigh.
pub(crate) const WHEEL_BUDGET: u64 = 12 * 1024 * 1024;

/// The target `dist` builds for: the static one where this machine can run
/// it, else the host's own.
fn target() -> Option<&'static str> {
    cfg!(all(target_os = "linux", target_arch = "x86_64")).then_some(STATIC_TARGET)
}

/// Where cargo leaves the release binary for `target`.
fn release_dir(ctx: &Ctx) -> PathBuf {
    match target() {
        Some(t) => ctx.target().join(t).join("release"),
        None => ctx.target().join("release"),
    }
}

/// Sets what the `embed` build needs on a cargo or maturin command.
fn embed_env(ctx: &Ctx, cmd: &mut Command) -> Result<()> {
    if let Some(t) = target() {
        tools::ensure_target(t)?;
        cmd.args(["--target", t]);
        // ring (tls-echo's TLS) compiles C for the static target.
        if std::env::var_os("CC_x86_64_unknown_linux_musl").is_none() {
            tools::ensure_command(
                "musl-gcc",
                "the static binary's C parts (ring, for TLS) need musl-gcc: install it with \
                 `apt-get install musl-tools` (Debian/Ubuntu)",
            )?;
            cmd.env("CC_x86_64_unknown_linux_musl", "musl-gcc");
        }
    }
    cmd.env("SOCKET_LAB_DIST", ctx.dist())
        .env("MEMORY_SERVE_QUIET", "1")
        .env("CARGO_TARGET_DIR", ctx.target());
    Ok(())
}

/// `cargo xtask dist`: the site, then the self-contained binary.
pub(crate) fn dist(ctx: &Ctx) -> Result<PathBuf> {
    build::build(ctx)?;
    static_binary(ctx)
}

/// `cargo xtask wheel`: the site, then the wheel.
pub(crate) fn wheel(ctx: &Ctx) -> Result<PathBuf> {
    build::build(ctx)?;
    package(ctx)
}

/// The self-contained binary of the site in `dist/`, at
/// `target/dist/socket-lab`.
pub(crate) fn static_binary(ctx: &Ctx) -> Result<PathBuf> {
    let mut cmd = ctx.cargo();
    cmd.args([
        "build",
        "--release",
        "--package",
        "native-server",
        "--features",
        "embed",
        "--bin",
        "socket-lab",
    ]);
    embed_env(ctx, &mut cmd)?;
    run_cmd(&mut cmd)?;
    let exe = format!("socket-lab{}", std::env::consts::EXE_SUFFIX);
    let out = ctx.target().join("dist");
    std::fs::create_dir_all(&out)?;
    let bin = out.join(&exe);
    std::fs::copy(release_dir(ctx).join(&exe), &bin)
        .with_context(|| format!("copying the built {exe} to {}", out.display()))?;
    println!(
        "xtask: self-contained {} ({})",
        bin.display(),
        mib(std::fs::metadata(&bin)?.len())
    );
    Ok(bin)
}

/// The wheel of the site in `dist/`, in `target/wheels/`.
pub(crate) fn package(ctx: &Ctx) -> Result<PathBuf> {
    let maturin = tools::python_tool(ctx, "maturin", MATURIN_VERSION)?.join("maturin");
    let out = ctx.target().join("wheels");
    // Only this build's wheel is left to be found.
    if out.is_dir() {
        for old in wheels_in(&out)? {
            std::fs::remove_file(old)?;
        }
    }
    let mut cmd = Command::new(maturin);
    cmd.current_dir(ctx.root.join("python"))
        .args(["build", "--release", "--out"])
        .arg(&out);
    if target().is_some() {
        // A static binary needs no glibc: the wheel installs on any Linux,
        // manylinux or musllinux.
        cmd.args(["--compatibility", "manylinux2014", "musllinux_1_2"]);
    }
    embed_env(ctx, &mut cmd)?;
    run_cmd(&mut cmd)?;
    let wheel = match wheels_in(&out)?.as_slice() {
        [one] => one.clone(),
        other => bail!("maturin left {} wheels in {}", other.len(), out.display()),
    };
    let size = std::fs::metadata(&wheel)?.len();
    println!("xtask: wheel {} ({})", wheel.display(), mib(size));
    if size > WHEEL_BUDGET {
        bail!(
            "the wheel weighs {}, over its budget of {}",
            mib(size),
            mib(WHEEL_BUDGET)
        );
    }
    Ok(wheel)
}

fn wheels_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("socket_lab-") && name.ends_with(".whl") {
            found.push(path);
        }
    }
    Ok(found)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
