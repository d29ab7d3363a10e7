//! The command line of `cargo xtask`: every command and flag in one place.
//!
//! In the spirit of rust-analyzer's `xtask/src/flags.rs`: the flags are
//! declared, not parsed by hand, so `--help`, the errors for an unknown flag or
//! a bad value, and the documentation cannot drift apart. Each command's module
//! takes its own struct from here.

use clap::{Args, Parser, Subcommand};

use crate::fuzz::TARGETS;

/// Socket Lab's build, serve, test and bench automation.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
pub(crate) struct Xtask {
    /// What to do; without one, this help is printed.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// `cargo xtask <command>`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build the site into dist/ (wasm, JS glue, book, pages).
    Build,
    /// Build the self-contained socket-lab (the site inside it) into target/dist/.
    Dist,
    /// Build the socket-lab wheel (pipx/pip install) into target/wheels/.
    Wheel,
    /// Build, then run socket-lab serving dist/.
    Serve(Serve),
    /// Run every test layer (unit, property, wasm, integration, Python, book, browser).
    Test(Test),
    /// Run each cargo-fuzz target in turn (300 s each by default, --smoke 30 s).
    Fuzz(Fuzz),
    /// Measure codec, servers and bridge against their peers; write BENCHMARKS.md.
    Bench(Bench),
}

/// `cargo xtask serve [-- ARGS]`.
#[derive(Debug, Args)]
pub(crate) struct Serve {
    /// Flags for socket-lab, after `--` (e.g. `-- --log-events`).
    #[arg(last = true, value_name = "ARGS")]
    pub(crate) server_args: Vec<String>,
}

/// `cargo xtask test [--long]`.
#[derive(Debug, Args)]
pub(crate) struct Test {
    /// Also run the slow layers: the 60 s bridge soak and 30 s of every fuzz target.
    #[arg(long)]
    pub(crate) long: bool,
}

/// `cargo xtask fuzz [--smoke] [--seconds N] [TARGET...]`.
#[derive(Debug, Args, Default)]
pub(crate) struct Fuzz {
    /// 30 s per target instead of 300 s.
    #[arg(long, conflicts_with = "seconds")]
    pub(crate) smoke: bool,
    /// Seconds per target (a whole number above 0).
    #[arg(long, value_name = "N", value_parser = whole_seconds)]
    pub(crate) seconds: Option<u64>,
    /// The targets to run (default: all of them).
    #[arg(value_name = "TARGET", value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    pub(crate) targets: Vec<String>,
}

/// `--seconds N`: a whole number of seconds above 0.
fn whole_seconds(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("give a whole number of seconds above 0, e.g. --seconds 60".into()),
    }
}

/// `cargo xtask bench [--quick]`.
#[derive(Debug, Args)]
pub(crate) struct Bench {
    /// A shortened smoke run, written to target/bench/BENCHMARKS-quick.md.
    #[arg(long)]
    pub(crate) quick: bool,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    fn parse(args: &[&str]) -> Result<Xtask, clap::Error> {
        Xtask::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Xtask::command().debug_assert();
    }

    #[test]
    fn every_documented_form_parses() {
        assert!(parse(&[]).unwrap().command.is_none());
        assert!(matches!(
            parse(&["build"]).unwrap().command,
            Some(Command::Build)
        ));
        let Some(Command::Serve(s)) = parse(&["serve", "--", "--log-events", "x"])
            .unwrap()
            .command
        else {
            panic!("serve")
        };
        assert_eq!(s.server_args, ["--log-events", "x"]);
        let Some(Command::Test(t)) = parse(&["test", "--long"]).unwrap().command else {
            panic!("test")
        };
        assert!(t.long);
        let Some(Command::Fuzz(f)) = parse(&["fuzz", "--seconds", "5", "frame_decoder"])
            .unwrap()
            .command
        else {
            panic!("fuzz")
        };
        assert_eq!((f.smoke, f.seconds), (false, Some(5)));
        assert_eq!(f.targets, ["frame_decoder"]);
        let Some(Command::Bench(b)) = parse(&["bench", "--quick"]).unwrap().command else {
            panic!("bench")
        };
        assert!(b.quick);
    }

    #[test]
    fn mistakes_are_refused_with_what_is_allowed() {
        let unknown = parse(&["fuzz", "no_such_target"]).unwrap_err().to_string();
        assert!(unknown.contains("frame_decoder"), "{unknown}");
        assert!(parse(&["fuzz", "--seconds", "0"]).is_err());
        assert!(parse(&["fuzz", "--smoke", "--seconds", "5"]).is_err());
        assert!(parse(&["test", "--lng"]).is_err());
        assert!(parse(&["bench", "--slow"]).is_err());
        assert!(parse(&["serve", "--log-events"]).is_err());
    }
}
