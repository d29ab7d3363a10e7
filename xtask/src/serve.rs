//! `cargo xtask serve`: build the site, then run the server on it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::Ctx;
use crate::build::build;

/// Builds, then runs `socket-lab --assets dist` until Ctrl-C.
pub(crate) fn serve(ctx: &Ctx, args: &[String]) -> Result<()> {
    build(ctx)?;
    let extra = args.strip_prefix(&["--".to_owned()]).unwrap_or(args);
    let mut child = ctx
        .cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "native-server",
            "--bin",
            "socket-lab",
            "--",
            "--assets",
        ])
        .arg(ctx.dist())
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start socket-lab")?;
    let stdout = child.stdout.take().context("socket-lab stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(url) = line.strip_prefix("http ") {
            println!(
                "\nSocket Lab is running. Open {url}/ (the course: {url}/book/). Ctrl-C stops it.\n"
            );
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("socket-lab exited with {status}");
    }
    Ok(())
}
