//! What the learner-session tests share: running JavaScript in the page and
//! waiting on it, the page's socket count, and the book's Python clients run
//! as a learner would from a terminal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use fantoccini::Client;
use serde_json::Value;

/// Runs `script` (a function body that returns a value) in the page.
pub async fn js(c: &Client, script: &str) -> Result<Value> {
    Ok(c.execute(script, vec![]).await?)
}

/// Polls `script` until it returns something other than `null`.
pub async fn wait_js(c: &Client, what: &str, script: &str, timeout: Duration) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let v = js(c, script).await?;
        if !v.is_null() {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: not within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Waits until the lab at `lab` reports no open sockets on the page.
pub async fn sockets_back_to_zero(c: &Client, lab: &str) -> Result<()> {
    wait_js(
        c,
        "the page's socket count back to 0",
        &format!(
            "const e = document.querySelector('{lab}'); \
             return e && e.getAttribute('data-open-sockets') === '0' ? true : null;"
        ),
        Duration::from_secs(10),
    )
    .await
    .map(|_| ())
}

pub fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src")
}

/// Runs one of the book's Python clients against `port`, as a learner would
/// from a terminal.
pub async fn python(file: &str, var: &str, port: u16) -> Result<String> {
    let out = tokio::process::Command::new("python3")
        .arg(book_src().join("code/python").join(file))
        .env(var, port.to_string())
        .env("SOCKET_LAB_HOST", "127.0.0.1")
        .output()
        .await
        .context("python3")?;
    ensure!(
        out.status.success(),
        "{file} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
