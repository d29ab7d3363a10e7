//! Prerequisites: find them, install what can be installed, and otherwise say
//! exactly what to run.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use crate::{Ctx, run_cmd};

/// The wasm-bindgen version the workspace pins (Cargo.toml); the test runner must match.
pub(crate) const WASM_BINDGEN_VERSION: &str = "0.2.130";

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Makes sure the wasm target is installed (rustup does not auto-install here).
pub(crate) fn ensure_wasm_target() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match out {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET) =>
        {
            Ok(())
        }
        Ok(_) => {
            println!("xtask: the {WASM_TARGET} target is missing; installing it with rustup");
            run_cmd(Command::new("rustup").args(["target", "add", WASM_TARGET]))
        }
        Err(_) => bail!(
            "rustup was not found. Install Rust with rustup (https://rustup.rs), then run \
             `rustup target add {WASM_TARGET}`"
        ),
    }
}

/// The directory holding `wasm-bindgen-test-runner`, installed into
/// `target/tools` (same version as the `wasm-bindgen` crate) if missing.
pub(crate) fn wasm_test_runner(ctx: &Ctx) -> Result<PathBuf> {
    let root = ctx.target().join("tools");
    let bin = root.join("bin");
    let runner = bin.join("wasm-bindgen-test-runner");
    let version_ok = Command::new(&runner)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(WASM_BINDGEN_VERSION))
        .unwrap_or(false);
    if !version_ok {
        println!(
            "xtask: installing wasm-bindgen-test-runner {WASM_BINDGEN_VERSION} into {} (once; a few minutes)",
            root.display()
        );
        run_cmd(
            ctx.cargo()
                .args([
                    "install",
                    "wasm-bindgen-cli",
                    "--version",
                    WASM_BINDGEN_VERSION,
                    "--root",
                ])
                .arg(&root)
                .env("CARGO_TARGET_DIR", ctx.target().join("tools-build")),
        )?;
    }
    Ok(bin)
}

/// Chromium and chromedriver for the browser tests.
pub(crate) struct Browser {
    /// The browser binary.
    pub(crate) chromium: PathBuf,
    /// The WebDriver server.
    pub(crate) chromedriver: PathBuf,
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// Finds Chromium and chromedriver, or says how to install them.
pub(crate) fn browser() -> Result<Browser> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| which(&["chromium", "chromium-browser", "google-chrome"]));
    let chromedriver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| which(&["chromedriver"]));
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Ok(Browser {
            chromium,
            chromedriver,
        }),
        _ => bail!(
            "the browser tests need Chromium and chromedriver. On Debian/Ubuntu run:\n    \
             sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium chromium-driver\n\
             (or point CHROMIUM and CHROMEDRIVER at them)"
        ),
    }
}
