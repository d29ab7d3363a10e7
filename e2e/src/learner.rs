//! What the learner-session tests share: running JavaScript in the page and
//! waiting on it, the page's socket count, opening a chapter's lab, typing
//! into and clicking a lab's parts and waiting for its verdict, a chapter's
//! thirty runs in a row, the book's Python clients run as a learner would
//! from a terminal (and their traces in the chapter's server view), and the
//! looks and screenshots of a lab.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use fantoccini::Client;
use serde_json::Value;

use crate::{BrowserOptions, Site, click, screenshot, set_value, wait_lab};

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

/// Runs the book's Python client `file` against the demo `demo` of a live
/// site, as a learner would from a terminal, and returns what it printed; on
/// a simulated site there is no server to run it against (`None`).
pub async fn terminal(site: &Site, file: &str, demo: &str) -> Result<Option<String>> {
    let Some(port) = site.port(demo)? else {
        return Ok(None);
    };
    // The variable the book's clients read their port from.
    let var = format!("SOCKET_LAB_{}_PORT", demo.to_uppercase().replace('-', "_"));
    python(file, &var, port).await.map(Some)
}

/// What the lab at `lab` shows now, as `{verdict, text, ...}`: its verdict's
/// `data-verdict` and text, then the members `fields`, JavaScript that may
/// use `v` (the verdict element), `q(css)` (the timeline's rows matching
/// `css`) and whatever the statements `lets` define.
pub async fn lab_state(c: &Client, lab: &str, lets: &str, fields: &str) -> Result<Value> {
    js(
        c,
        &format!(
            "const q = s => [...document.querySelectorAll('{lab} [data-role=timeline] ' + s)]; \
             const v = document.querySelector('{lab} [data-role=verdict]'); {lets} \
             return {{verdict: v.getAttribute('data-verdict'), text: v.textContent, {fields}}};"
        ),
    )
    .await
}

/// Types `value` into the part `role` (its `data-role`) of the lab at `lab`.
pub async fn set_in(c: &Client, lab: &str, role: &str, value: &str) -> Result<()> {
    set_value(c, &format!("{lab} [data-role={role}]"), value).await
}

/// Clicks the part `role` (its `data-role`) of the lab at `lab`.
pub async fn click_in(c: &Client, lab: &str, role: &str) -> Result<()> {
    click(c, &format!("{lab} [data-role={role}]")).await
}

/// Waits (at most `timeout`) until the verdict of the lab at `lab` has a
/// value other than `pending` in its attribute `attr`, and returns `{key, text,
/// ...}`: that value, the verdict's text, and the members `fields`
/// (JavaScript, read at that moment).
pub async fn wait_verdict(
    c: &Client,
    lab: &str,
    what: &str,
    attr: &str,
    fields: &str,
    timeout: Duration,
) -> Result<Value> {
    wait_js(
        c,
        &format!("{what}: a verdict"),
        &format!(
            "const v = document.querySelector('{lab} [data-role=verdict]'); \
             const k = v.getAttribute('{attr}'); \
             if (!k || k === 'pending') return null; \
             return {{key: k, text: v.textContent, {fields}}};"
        ),
        timeout,
    )
    .await
}

/// Opens the book's chapter `chapter` on `site` and waits for its lab `lab`.
pub async fn open_lab(c: &Client, site: &Site, chapter: &str, lab: &str) -> Result<()> {
    c.goto(&format!("{}/book/{chapter}.html", site.base()))
        .await?;
    wait_lab(c, lab).await
}

/// One of the book's clients a learner runs from a terminal while a chapter
/// is open: the file, the demo it talks to, what it must print (one of these;
/// none: anything), and how the chapter's server view shows it: of the
/// groups from another program (those matching the selector too), at least
/// so many show every one of the texts.
type BookClient = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static [&'static str],
    usize,
);

/// The clients the chapters' sessions run ([`book_client`]).
#[rustfmt::skip]
const BOOK_CLIENTS: [BookClient; 4] = [
    ("framed_client.py", "framed", &[], "[data-demo=framed]", &["frame decoded"], 1),
    ("auth_client.py", "auth", &["Access Granted"], "[data-demo=auth]", &["access granted"], 1),
    ("sticky_client.py", "sticky", &["HelloWorld", "read"], "", &["another program", "Hello"], 1),
    ("many_clients.py", "uppercase", &[], "[data-demo=uppercase]", &[], 5),
];

/// On a live site, runs the book's client `file` (one of `BOOK_CLIENTS`)
/// from a terminal and waits until the server view of the lab at `lab` shows
/// it as another program; on a simulated site there is nothing to run.
pub async fn book_client(c: &Client, site: &Site, lab: &str, file: &str) -> Result<()> {
    let (_, demo, prints, filter, shows, at_least) = BOOK_CLIENTS
        .iter()
        .find(|client| client.0 == file)
        .with_context(|| format!("{file} is not in BOOK_CLIENTS"))?;
    let Some(out) = terminal(site, file, demo).await? else {
        return Ok(());
    };
    ensure!(
        prints.is_empty() || prints.iter().any(|p| out.contains(p)),
        "{file} printed {out:?}"
    );
    let shows = serde_json::to_string(shows)?;
    wait_js(
        c,
        &format!("{file} in the chapter's server view as another program"),
        &format!(
            "const g = [...document.querySelectorAll('{lab} [data-role=server-view] [data-origin=other]{filter}')]; \
             const shows = {shows}; \
             return g.filter(x => shows.every(t => x.textContent.includes(t))).length >= {at_least} ? true : null;"
        ),
        Duration::from_secs(10),
    )
    .await
    .map(|_| ())
}

/// A chapter's thirty runs in a row of the lab at `lab`, `run(i)` each; after
/// run `at` the learner runs the book's client `file` ([`book_client`]).
pub async fn thirty_runs(
    c: &Client,
    site: &Site,
    lab: &str,
    (at, file): (usize, &str),
    mut run: impl AsyncFnMut(usize) -> Result<()>,
) -> Result<()> {
    for i in 0..30 {
        run(i).await?;
        if i == at {
            book_client(c, site, lab, file).await?;
        }
    }
    Ok(())
}

/// The two looks each lab is pictured in besides the default: dark, and a
/// 390-pixel-wide phone, each with its file-name tag.
pub fn dark_and_narrow() -> [(BrowserOptions, &'static str); 2] {
    [
        (
            BrowserOptions {
                dark: true,
                size: (1280, 900),
            },
            "dark",
        ),
        (
            BrowserOptions {
                dark: false,
                size: (390, 844),
            },
            "390",
        ),
    ]
}

/// Scrolls the part `role` (its `data-role`) of the lab at `lab` into view
/// and saves the window as `target/learner-shots/{name}.png`.
pub async fn shot(c: &Client, lab: &str, role: &str, name: &str) -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/learner-shots");
    js(
        c,
        &format!(
            "document.querySelector('{lab} [data-role={role}]').scrollIntoView(); return null;"
        ),
    )
    .await?;
    screenshot(c, &dir.join(format!("{name}.png"))).await
}

/// Runs a chapter's `session` on `site` and then, on a live site, pictures
/// the lab's timeline as `{name}-light`.
pub async fn pictured(
    site: Site,
    lab: &str,
    name: &str,
    session: impl AsyncFnOnce(&Client, &Site) -> Result<()>,
) -> Result<()> {
    site.session(async |c, site| {
        session(c, site).await?;
        match site.server() {
            Some(_) => shot(c, lab, "timeline", &format!("{name}-light")).await,
            None => Ok(()),
        }
    })
    .await
}
