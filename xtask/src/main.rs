//! `cargo xtask …`: Socket Lab's build, serve and test automation.
//!
//! One Rust binary instead of shell scripts, so it runs the same on any machine
//! with rustup (matklad's cargo-xtask pattern). Commands:
//!
//! - `cargo xtask build` — wasm (release) → JS glue → `dist/pkg`, the book →
//!   `dist/book`, `web/` → `dist/`; prints the gzipped size of the labs.
//! - `cargo xtask serve [-- server flags]` — build, then run `socket-lab` on `dist/`.
//! - `cargo xtask test [--long]` — every test layer, inside out.

mod bench;
mod build;
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

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  build            build the site into dist/ (wasm, JS glue, book, pages)
  serve [-- ARGS]  build, then run socket-lab serving dist/ (ARGS go to socket-lab)
  test [--long]    run every test layer (unit, property, wasm, integration, Python, book, browser)
  fuzz [--smoke] [--seconds N] [TARGET...]  run each cargo-fuzz target in turn (default 300 s, --smoke 30 s)
  bench [--quick]  measure codec, servers and bridge against their peers; write BENCHMARKS.md
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = args
        .split_first()
        .map(|(c, r)| (c.as_str(), r))
        .unwrap_or(("", &[]));
    match cmd {
        "build" => build::build(&Ctx::new()?),
        "serve" => serve::serve(&Ctx::new()?, rest),
        "test" => test::test(&Ctx::new()?, rest),
        "fuzz" => fuzz::fuzz(&Ctx::new()?, rest),
        "bench" => bench::bench(&Ctx::new()?, rest),
        "" | "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
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
