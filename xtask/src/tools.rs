//! Prerequisites: find them, install what can be installed, and otherwise say
//! exactly what to run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{Ctx, run_cmd};

/// The version of `package` that `Cargo.lock` (the text of the lock file)
/// resolved, if it holds exactly one.
///
/// Each package is a `[[package]]` table whose first two keys are `name` and
/// `version`; a crate locked at two versions is ambiguous and gives `None`.
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let wanted = format!("name = \"{package}\"");
    let mut found = None;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() != wanted {
            continue;
        }
        let version = lines
            .next()?
            .trim()
            .strip_prefix("version = \"")?
            .strip_suffix('"')?;
        if found.replace(version.to_owned()).is_some() {
            return None;
        }
    }
    found
}

/// The `wasm-bindgen` version in the workspace's `Cargo.lock`: the test
/// runner (part of wasm-bindgen-cli) must be exactly that version.
fn wasm_bindgen_version(ctx: &Ctx) -> Result<String> {
    let path = ctx.root.join("Cargo.lock");
    let lock = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run `cargo generate-lockfile`)", path.display()))?;
    locked_version(&lock, "wasm-bindgen").with_context(|| {
        format!(
            "{} does not lock exactly one wasm-bindgen version; the workspace pins one with `=`",
            path.display()
        )
    })
}

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Makes sure the wasm target is installed (rustup does not auto-install here).
pub(crate) fn ensure_wasm_target() -> Result<()> {
    ensure_target(WASM_TARGET)
}

/// Adds the rustup target `target` if it is missing (the wasm target, the
/// static Linux one).
pub(crate) fn ensure_target(target: &str) -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match out {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == target) =>
        {
            Ok(())
        }
        Ok(_) => {
            println!("xtask: the {target} target is missing; installing it with rustup");
            run_cmd(Command::new("rustup").args(["target", "add", target]))
        }
        Err(_) => bail!(
            "rustup was not found. Install Rust with rustup (https://rustup.rs), then run \
             `rustup target add {target}`"
        ),
    }
}

/// Fails with `hint` unless `name` runs (`name --version`).
pub(crate) fn ensure_command(name: &str, hint: &str) -> Result<()> {
    match Command::new(name).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => bail!("{name} was not found: {hint}"),
    }
}

/// A Python tool from PyPI (`package==version`) in its own virtual
/// environment under `target/tools/<package>`, installed once; returns the
/// environment's `bin/` directory.
pub(crate) fn python_tool(ctx: &Ctx, package: &str, version: &str) -> Result<PathBuf> {
    let venv = ctx.target().join("tools").join(package);
    let bin = venv.join("bin");
    let installed = || {
        Command::new(bin.join("python"))
            .args([
                "-c",
                "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))",
            ])
            .arg(package)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == version)
            .unwrap_or(false)
    };
    if installed() {
        return Ok(bin);
    }
    println!(
        "xtask: installing {package} {version} from PyPI into {} (once)",
        venv.display()
    );
    run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        .context("python3 -m venv failed; on Debian: apt-get install python3-venv")?;
    run_cmd(
        Command::new(bin.join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("{package}=={version}")),
    )?;
    if !installed() {
        bail!(
            "pip installed something other than {package} {version} into {}",
            venv.display()
        );
    }
    Ok(bin)
}

/// `file` from the npm package `package` at exactly `version`, fetched once
/// with `npm pack` (which checks the registry's integrity hash) into
/// `target/tools/npm/<package>-<version>/` and unpacked there.
pub(crate) fn npm_file(ctx: &Ctx, package: &str, version: &str, file: &str) -> Result<PathBuf> {
    let dir = ctx
        .target()
        .join("tools/npm")
        .join(format!("{package}-{version}"));
    let path = dir.join("package").join(file);
    if path.is_file() {
        return Ok(path);
    }
    println!(
        "xtask: fetching {package}@{version} from npm into {} (once)",
        dir.display()
    );
    std::fs::create_dir_all(&dir)?;
    run_cmd(
        Command::new("npm")
            .args(["pack", "--silent"])
            .arg(format!("{package}@{version}"))
            .current_dir(&dir),
    )
    .context("npm pack failed: install Node.js (npm), and check the registry is reachable")?;
    let tgz = format!("{package}-{version}.tgz");
    run_cmd(Command::new("tar").args(["xzf", &tgz]).current_dir(&dir))?;
    if !path.is_file() {
        bail!("{package}@{version} has no {file}");
    }
    Ok(path)
}

/// The directory holding `wasm-bindgen-test-runner`, installed into
/// `target/tools` (same version as the `wasm-bindgen` crate) if missing.
pub(crate) fn wasm_test_runner(ctx: &Ctx) -> Result<PathBuf> {
    let root = ctx.target().join("tools");
    let bin = root.join("bin");
    let runner = bin.join("wasm-bindgen-test-runner");
    let version = wasm_bindgen_version(ctx)?;
    let version_ok = Command::new(&runner)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&version))
        .unwrap_or(false);
    if !version_ok {
        println!(
            "xtask: installing wasm-bindgen-test-runner {version} into {} (once; a few minutes)",
            root.display()
        );
        run_cmd(
            ctx.cargo()
                .args([
                    "install",
                    "wasm-bindgen-cli",
                    "--version",
                    &version,
                    "--root",
                ])
                .arg(&root)
                .env("CARGO_TARGET_DIR", ctx.target().join("tools-build")),
        )?;
    }
    Ok(bin)
}

/// `PATH` with `dir` in front, for a child that must find the tools
/// installed under `target/tools` before any others.
pub(crate) fn path_with(dir: &Path) -> Result<OsString> {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest));
    std::env::join_paths(dirs).with_context(|| format!("{} cannot go on PATH", dir.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "wasm-bindgen-backend"
version = "0.2.130"

[[package]]
name = "twice"
version = "1.0.0"

[[package]]
name = "twice"
version = "2.0.0"
"#;

    #[test]
    fn the_locked_version_is_read_by_exact_name() {
        assert_eq!(
            locked_version(LOCK, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(locked_version(LOCK, "wasm"), None);
        assert_eq!(locked_version(LOCK, "twice"), None, "ambiguous");
    }

    #[test]
    fn the_workspace_lock_matches_the_exact_pins() {
        let ctx = Ctx::new().expect("workspace root");
        let version = wasm_bindgen_version(&ctx).expect("Cargo.lock locks wasm-bindgen");
        let lock = std::fs::read_to_string(ctx.root.join("Cargo.lock")).expect("Cargo.lock");
        assert_eq!(
            locked_version(&lock, "wasm-bindgen-cli-support").as_deref(),
            Some(version.as_str()),
            "the JS glue generator must be the wasm-bindgen version"
        );
        let manifest = std::fs::read_to_string(ctx.root.join("Cargo.toml")).expect("Cargo.toml");
        assert!(
            manifest.contains(&format!("wasm-bindgen = \"={version}\"")),
            "Cargo.toml pins wasm-bindgen to exactly the locked {version}"
        );
    }
}
