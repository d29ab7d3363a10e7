//! `cargo xtask …`: Socket Lab's build, serve and test automation.
//!
//! One Rust binary instead of shell scripts, so it runs the same on any machine
//! with rustup (matklad's cargo-xtask pattern). Commands:
//!
//! - `cargo xtask build` — wasm (release) → JS glue → `dist/pkg`, the book →
//!   `dist/book`, `web/` → `dist/`; prints the gzipped size of the labs.
//! - `cargo xtask serve [-- server flags]` — build, then run `socket-lab` on `dist/`.
//! - `cargo xtask test [--long]` — every test layer, inside out.
//! - `cargo xtask fuzz [--smoke] [--seconds N] [TARGET…]` — the fuzz targets, one at a time.
//! - `cargo xtask bench [--quick]` — the benchmarks side by side with their peers.
//!
//! The flags are declared in `flags.rs`; `cargo xtask --help` lists them.

mod bench;
mod build;
mod dist;
mod flags;
mod fuzz;
mod links;
mod quiz_check;
mod serve;
mod test;
mod tidy;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};

use crate::flags::{Command as Cmd, Xtask};

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    // clap prints its own message (what was wrong, what is allowed, `--help`)
    // and exits with status 2 on a mistake.
    let flags = Xtask::parse();
    match flags.command {
        Some(Cmd::Build) => build::build(&Ctx::new()?),
        Some(Cmd::Dist) => dist::dist(&Ctx::new()?).map(drop),
        Some(Cmd::Wheel) => dist::wheel(&Ctx::new()?).map(drop),
        Some(Cmd::Serve(args)) => serve::serve(&Ctx::new()?, &args),
        Some(Cmd::Test(args)) => test::test(&Ctx::new()?, &args),
        Some(Cmd::Fuzz(args)) => fuzz::fuzz(&Ctx::new()?, &args),
        Some(Cmd::Bench(args)) => bench::bench(&Ctx::new()?, &args),
        None => {
            Xtask::command().print_help()?;
            Ok(())
        }
    }
}

/// Paths and the cargo to call.
pub(crate) struct Ctx {
    /// The workspace root.
    pub(crate) root: PathBuf,
    /// The cargo that runs us (respects `+toolchain` and rustup).
    pub(crate) cargo: String,
}

impl Ctx {
    fn new() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask lives inside the workspace")?
            .to_path_buf();
        Ok(Self {
            root,
            cargo: std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
        })
    }

    /// `dist/`, where the built site goes.
    pub(crate) fn dist(&self) -> PathBuf {
        self.root.join("dist")
    }

    /// `target/`, shared by every build.
    pub(crate) fn target(&self) -> PathBuf {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("target"))
    }

    /// A cargo command run from the workspace root.
    pub(crate) fn cargo(&self) -> Command {
        let mut c = Command::new(&self.cargo);
        c.current_dir(&self.root);
        c
    }
}

/// Runs a command, failing with its name if it fails.
pub(crate) fn run_cmd(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    println!("xtask: $ {}", shown.replace('"', ""));
    let status = cmd
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}
