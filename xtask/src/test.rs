//! `cargo xtask test`: every test layer, from the inside out.
//!
//! 1. formatting and clippy, warnings denied;
//! 2. the site build (wasm, glue, book), which the later layers use;
//! 3. native unit, property and integration tests over real sockets, the
//!    Python clients and the book's samples (`cargo test --workspace`);
//! 4. `protocol` and `wasm-client` tests compiled to wasm32 and run in node;
//! 5. the fuzz targets, built (a fuzz run needs nightly: `--long`);
//! 6. `native-server` checked for Windows and macOS (compiled, not linked);
//! 7. the self-contained static binary and the wheel (`cargo xtask dist`,
//!    `cargo xtask wheel`), which the browser tests install and start;
//! 8. headless-Chromium end-to-end tests against a server on port 0, with
//!    the axe-core accessibility engine (fetched from npm at
//!    [`AXE_CORE_VERSION`]) run on every page, its counts printed at the end;
//! 9. with `--long`: the bridge soak (`native-server/tests/soak.rs`) and
//!    30 s of every fuzz target (`cargo xtask fuzz --smoke`).

use anyhow::Result;

use crate::{Ctx, build, dist, flags, fuzz, run_cmd, tools};

/// The axe-core release the accessibility test injects into every page.
const AXE_CORE_VERSION: &str = "4.10.3";

/// Runs every layer; `--long` adds the slow ones.
pub(crate) fn test(ctx: &Ctx, args: &flags::Test) -> Result<()> {
    // Fail early on what a browser test would need, before minutes of building.
    let browser = tools::browser()?;

    run_cmd(ctx.cargo().args(["fmt", "--all", "--", "--check"]))?;
    build::build(ctx)?;
    run_cmd(ctx.cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    run_cmd(
        ctx.cargo()
            .args(["test", "--workspace", "--exclude", "e2e"]),
    )?;

    let runner_dir = tools::wasm_test_runner(ctx)?;
    let path = tools::path_with(&runner_dir)?;
    run_cmd(
        ctx.cargo()
            .args([
                "test",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "protocol",
                "-p",
                "wasm-client",
            ])
            .env("PATH", path),
    )?;

    run_cmd(
        ctx.cargo()
            .args(["build", "--manifest-path", "fuzz/Cargo.toml", "--bins"])
            .env("CARGO_TARGET_DIR", ctx.target().join("fuzz")),
    )?;

    // Without the `tls` feature: ring's C needs a C compiler for the target,
    // and this machine has none for them (their learners build natively).
    for target in dist::OTHER_SYSTEMS {
        tools::ensure_target(target)?;
        run_cmd(ctx.cargo().args([
            "check",
            "-p",
            "native-server",
            "--no-default-features",
            "--target",
            target,
        ]))?;
    }

    let static_bin = dist::static_binary(ctx)?;
    let wheel = dist::package(ctx)?;
    let axe = tools::npm_file(ctx, "axe-core", AXE_CORE_VERSION, "axe.min.js")?;
    let a11y_report = ctx.target().join("a11y.txt");
    let _ = std::fs::remove_file(&a11y_report);

    run_cmd(
        ctx.cargo()
            .args(["test", "-p", "e2e", "--", "--test-threads=1"])
            .env("SOCKET_LAB_DIST", ctx.dist())
            .env("SOCKET_LAB_STATIC_BIN", &static_bin)
            .env("SOCKET_LAB_WHEEL", &wheel)
            .env("AXE_CORE", &axe)
            .env("SOCKET_LAB_A11Y_REPORT", &a11y_report)
            .env("CHROMIUM", &browser.chromium)
            .env("CHROMEDRIVER", &browser.chromedriver),
    )?;

    match std::fs::read_to_string(&a11y_report) {
        Ok(report) => print!("xtask: {report}"),
        Err(_) => println!("xtask: the accessibility check wrote no report"),
    }

    if args.long {
        // The soak: 60 s of random traffic through the bridge, every byte checked.
        run_cmd(ctx.cargo().args([
            "test",
            "-p",
            "native-server",
            "--test",
            "soak",
            "--",
            "--ignored",
        ]))?;
        fuzz::fuzz(
            ctx,
            &flags::Fuzz {
                smoke: true,
                ..flags::Fuzz::default()
            },
        )?;
    }
    println!("xtask: every test layer passed");
    Ok(())
}
