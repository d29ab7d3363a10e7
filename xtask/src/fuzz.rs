//! `cargo xtask fuzz [--smoke] [--seconds N] [TARGET…]`: run the cargo-fuzz
//! targets in `fuzz/`, one at a time, each for a fixed time.
//!
//! Every decoder that reads bytes a stranger controls has a target: the frame
//! decoder, the auth server's state machine, the bridge's message parsers and
//! the sticky read settings. A run needs nightly Rust (libFuzzer's
//! instrumentation) and cargo-fuzz; cargo-fuzz is installed into
//! `target/tools` when missing, as the wasm test runner is. Targets run one
//! after the other so a two-core machine stays usable. A crash stops the run
//! and names the input that caused it (under `fuzz/artifacts/`); turn that
//! input into a regression test in `protocol`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{Ctx, flags, run_cmd, tools};

/// Every target in `fuzz/Cargo.toml`.
pub(crate) const TARGETS: [&str; 4] = [
    "frame_decoder",
    "auth_server",
    "bridge_message",
    "sticky_options",
];

/// Seconds per target for `--smoke`.
const SMOKE_SECS: u64 = 30;
/// Seconds per target by default: five minutes, long enough to get past the
/// inputs a short run already finds.
const FULL_SECS: u64 = 300;

/// Runs the fuzz targets (all, or those named).
pub(crate) fn fuzz(ctx: &Ctx, args: &flags::Fuzz) -> Result<()> {
    let secs = match (args.seconds, args.smoke) {
        (Some(secs), _) => secs,
        (None, true) => SMOKE_SECS,
        (None, false) => FULL_SECS,
    };
    let targets: Vec<String> = if args.targets.is_empty() {
        TARGETS.iter().map(|t| (*t).to_owned()).collect()
    } else {
        args.targets.clone()
    };

    ensure_nightly()?;
    let bin = cargo_fuzz(ctx)?;
    let path = tools::path_with(&bin)?;
    let fuzz_dir = ctx.root.join("fuzz");
    for target in &targets {
        let started = Instant::now();
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&ctx.root)
            .env("PATH", &path)
            // The workspace pins stable (rust-toolchain.toml); `+nightly` wins.
            .env_remove("RUSTUP_TOOLCHAIN")
            .args(["+nightly", "fuzz", "run", target.as_str(), "--fuzz-dir"])
            .arg(&fuzz_dir)
            .arg("--target-dir")
            .arg(ctx.target().join("fuzz-nightly"))
            .arg("--")
            .arg(format!("-max_total_time={secs}"))
            // A hang is an input that takes over 10 s; memory is capped at 2 GiB.
            .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"]);
        let dict = fuzz_dir.join("dict").join(format!("{target}.dict"));
        if dict.is_file() {
            cmd.arg(format!("-dict={}", dict.display()));
        }
        run_cmd(&mut cmd).with_context(|| {
            format!(
                "fuzz target {target} failed: the input is under fuzz/artifacts/{target}/; \
                 reproduce with `cargo +nightly fuzz run {target} <that file>` and add it to \
                 protocol's tests"
            )
        })?;
        println!(
            "xtask: fuzz target {target}: {:.0} s, no crash, hang or out-of-memory",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Fails with instructions when there is no nightly toolchain.
fn ensure_nightly() -> Result<()> {
    let out = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .context("rustup was not found; fuzzing needs rustup and a nightly toolchain")?;
    if !String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("nightly"))
    {
        bail!(
            "fuzzing needs a nightly toolchain (libFuzzer instrumentation): \
             run `rustup toolchain install nightly`"
        );
    }
    Ok(())
}

/// The directory holding `cargo-fuzz`: on PATH already, or installed into
/// `target/tools` (once).
fn cargo_fuzz(ctx: &Ctx) -> Result<PathBuf> {
    let root = ctx.target().join("tools");
    let bin = root.join("bin");
    let works = |dir: Option<&PathBuf>| {
        let exe = dir.map_or_else(|| PathBuf::from("cargo-fuzz"), |d| d.join("cargo-fuzz"));
        Command::new(exe)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works(Some(&bin)) || works(None) {
        return Ok(bin);
    }
    println!(
        "xtask: installing cargo-fuzz into {} (once; a few minutes)",
        root.display()
    );
    run_cmd(
        ctx.cargo()
            .args(["install", "cargo-fuzz", "--root"])
            .arg(&root)
            .env("CARGO_TARGET_DIR", ctx.target().join("tools-build")),
    )?;
    Ok(bin)
}
