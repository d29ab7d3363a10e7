//! `cargo xtask serve`: build the site, then run the server on it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::build::build;
use crate::{Ctx, flags};

/// Builds, then runs `socket-lab --assets dist` until Ctrl-C.
pub(crate) fn serve(ctx: &Ctx, args: &flags::Serve) -> Result<()> {
    build(ctx)?;
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
        .args(&args.server_args)
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
