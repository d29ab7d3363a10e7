//! Harness for the headless-Chromium tests: a real server on port 0, a real
//! chromedriver, a real browser, and cleanup that happens even on failure.
//!
//! The trap this avoids: if a test panics while a browser is open, chromedriver
//! can die and leave Chromium holding the test's output, and `cargo test` never
//! ends. So drivers get null stdio and are killed on drop, test bodies return
//! `Result` instead of panicking, and the session is closed before anything is
//! asserted.
//!
//! A test names where its pages come from as a [`Site`] (the real server, or
//! a static copy where the labs run simulated) and runs its browser sessions
//! through it, so that the site is stopped whatever the session did; a
//! session run both ways gets its two tests from [`live_and_simulated!`]. A
//! lab's clicks, typing and waits can be written as a table of [`Step`]s.

pub mod learner;

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use native_server::Config;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// How long to wait for anything to appear in the page.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// A Socket Lab server running in this process (the one helper every test
/// crate uses).
pub type RunningServer = native_server::testing::TestServer;

/// The built site, from `SOCKET_LAB_DIST` (set by `cargo xtask test`).
pub fn dist() -> Result<PathBuf> {
    let dist = std::env::var_os("SOCKET_LAB_DIST")
        .map(PathBuf::from)
        .context("SOCKET_LAB_DIST is not set: run these tests with `cargo xtask test`, which builds the site first")?;
    if !dist.join("index.html").is_file() {
        bail!(
            "{} has no index.html: run `cargo xtask build`",
            dist.display()
        );
    }
    Ok(dist)
}

/// Starts a server on port 0 serving the built site, with `tweak` applied.
pub async fn start_server(tweak: impl FnOnce(&mut Config)) -> Result<RunningServer> {
    Ok(RunningServer::serving(dist()?, tweak).await?)
}

fn free_port() -> Result<u16> {
    // chromedriver needs a port number up front; ask the OS for a free one.
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_driver() -> Result<(Child, u16)> {
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port()?;
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("could not start {driver}: install chromium-driver"))?;
    // Ready when it accepts connections.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok((child, port));
        }
        if tokio::time::Instant::now() > deadline {
            bail!("chromedriver did not start listening on port {port} within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Options for one browser session.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// Prefer dark colour scheme.
    pub dark: bool,
    /// Window size.
    pub size: (u32, u32),
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self {
            dark: false,
            size: (1280, 900),
        }
    }
}

/// Runs `body` with a fresh headless Chromium, and always closes it.
pub async fn with_browser<T, F, Fut>(options: BrowserOptions, body: F) -> Result<T>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    with_browser_args(options, &[], |c, _| body(c)).await
}

/// The chromedriver of one browser session, for what WebDriver has no
/// command for.
#[derive(Debug, Clone, Copy)]
pub struct Driver {
    port: u16,
}

impl Driver {
    /// Sends the DevTools protocol command `cmd` to the session's browser
    /// (chromedriver's `goog/cdp/execute`) and returns its result.
    pub async fn cdp(
        &self,
        client: &Client,
        cmd: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let session = client.session_id().await?.context("no WebDriver session")?;
        let body = serde_json::json!({ "cmd": cmd, "params": params }).to_string();
        // One plain HTTP/1.1 request; `Connection: close` ends the reply.
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        s.write_all(
            format!(
                "POST /session/{session}/goog/cdp/execute HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                self.port,
                body.len()
            )
            .as_bytes(),
        )
        .await?;
        // Read the head, then exactly the body it announces (chromedriver
        // may keep the connection open).
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        let read_all = async {
            loop {
                let n = s.read(&mut buf).await?;
                reply.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&reply);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>())
                        })
                        .transpose()?;
                    if n == 0 || length.is_some_and(|len| body.len() >= len) {
                        return anyhow::Ok((head.to_owned(), body.to_owned()));
                    }
                } else if n == 0 {
                    bail!("chromedriver closed the connection mid-reply");
                }
            }
        };
        let (head, json) = tokio::time::timeout(PAGE_TIMEOUT, read_all)
            .await
            .with_context(|| {
                format!("{cmd}: no reply from chromedriver within {PAGE_TIMEOUT:?}")
            })??;
        let json = json.as_str();
        if !head.starts_with("HTTP/1.1 200") {
            bail!("{cmd}: chromedriver answered {head:?}: {json}");
        }
        Ok(serde_json::from_str::<serde_json::Value>(json)
            .with_context(|| format!("{cmd}: unreadable reply {json:?}"))?["value"]
            .take())
    }
}

/// Like [`with_browser`], with `extra_args` added to Chromium's command line
/// and the session's [`Driver`] handed to `body` too.
pub async fn with_browser_args<T, F, Fut>(
    options: BrowserOptions,
    extra_args: &[String],
    body: F,
) -> Result<T>
where
    F: FnOnce(Client, Driver) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let (mut driver, port) = start_driver().await?;
    let profile = tempdir()?;
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        format!("--window-size={},{}", options.size.0, options.size.1),
        format!("--user-data-dir={}", profile.display()),
    ];
    if options.dark {
        args.push("--force-dark-mode".into());
        args.push("--blink-settings=preferredColorScheme=0".into());
    }
    args.extend(extra_args.iter().cloned());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    let connected = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await;
    let result = match connected {
        Ok(client) => {
            let result = body(client.clone(), Driver { port }).await;
            // Close before anything is asserted, whatever happened.
            let _ = client.close().await;
            result
        }
        Err(e) => Err(anyhow::anyhow!("could not start a Chromium session: {e}")),
    };
    let _ = driver.kill().await;
    let _ = std::fs::remove_dir_all(&profile);
    result
}

fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "socket-lab-chromium-{}-{}",
        std::process::id(),
        free_port()?
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Waits until the element at `css` has text for which `ok` holds; returns it.
pub async fn wait_text(client: &Client, css: &str, ok: impl Fn(&str) -> bool) -> Result<String> {
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    let mut last = String::new();
    loop {
        if let Ok(el) = client.find(Locator::Css(css)).await
            && let Ok(text) = el.text().await
        {
            if ok(&text) {
                return Ok(text);
            }
            last = text;
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{css}: the expected text did not appear within {PAGE_TIMEOUT:?}; last text: {last:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until a `<socket-lab>` matching `css` has mounted its lab.
pub async fn wait_lab(client: &Client, css: &str) -> Result<()> {
    client
        .wait()
        .at_most(PAGE_TIMEOUT)
        .for_element(Locator::Css(&format!("{css}[data-ready=true]")))
        .await
        .with_context(|| format!("{css} did not become ready"))?;
    Ok(())
}

/// A plain static file server (no bridge): pages on it run simulated, or
/// load labs from another origin.
pub struct StaticServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    task: JoinHandle<()>,
}

impl StaticServer {
    /// Serves `dir` on a free port.
    pub async fn start(dir: PathBuf) -> Result<StaticServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dir));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(StaticServer { base, task })
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where a test's pages come from: the real server, or a static copy of the
/// built site with no server behind it (the labs run simulated).
pub enum Site {
    /// A Socket Lab server in this process.
    Live(RunningServer),
    /// A plain static file server.
    Static(StaticServer),
}

impl Site {
    /// A live site: a server on port 0 serving the built site, with `tweak` applied.
    pub async fn start_live(tweak: impl FnOnce(&mut Config)) -> Result<Site> {
        Ok(Site::Live(start_server(tweak).await?))
    }

    /// A static copy of the built site, where every lab runs simulated.
    pub async fn start_simulated() -> Result<Site> {
        Ok(Site::Static(StaticServer::start(dist()?).await?))
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> &str {
        match self {
            Site::Live(s) => &s.base,
            Site::Static(s) => &s.base,
        }
    }

    /// The mode the labs show on this site: `live` or `simulated`.
    pub fn mode(&self) -> &'static str {
        match self {
            Site::Live(_) => "live",
            Site::Static(_) => "simulated",
        }
    }

    /// The server, on a live site.
    pub fn server(&self) -> Option<&RunningServer> {
        match self {
            Site::Live(s) => Some(s),
            Site::Static(_) => None,
        }
    }

    /// The port of the demo `demo`, on a live site (a terminal client's target).
    pub fn port(&self, demo: &str) -> Result<Option<u16>> {
        self.server().map(|s| Ok(s.demo(demo)?.port())).transpose()
    }

    /// Stops the server, if there is one.
    pub async fn stop(self) -> Result<()> {
        match self {
            Site::Live(s) => Ok(s.stop().await?),
            Site::Static(_) => Ok(()),
        }
    }

    /// Runs `body` on this site in a fresh browser with `options`.
    pub async fn browse<T>(
        &self,
        options: BrowserOptions,
        body: impl AsyncFnOnce(&Client, &Site) -> Result<T>,
    ) -> Result<T> {
        with_browser(options, |c| async move { body(&c, self).await }).await
    }

    /// Runs `body` in a fresh default browser, then stops the site, whatever
    /// `body` did.
    pub async fn session<T>(
        self,
        body: impl AsyncFnOnce(&Client, &Site) -> Result<T>,
    ) -> Result<T> {
        let result = self.browse(BrowserOptions::default(), body).await;
        self.stop().await?;
        result
    }

    /// Runs `check` on each of `chapters` in turn, in one fresh default
    /// browser, until one fails (the error names it by `name`); then stops
    /// the site.
    pub async fn each_chapter<C>(
        self,
        chapters: &[C],
        name: impl Fn(&C) -> String,
        check: impl AsyncFn(&Client, &Site, &C) -> Result<()>,
    ) -> Result<()> {
        self.session(async |c, site| {
            for chapter in chapters {
                let checked = check(c, site, chapter).await;
                checked.with_context(|| format!("chapter {}", name(chapter)))?;
            }
            Ok(())
        })
        .await
    }

    /// Runs `body` once per look, each in a fresh browser with that look's
    /// options, until one fails; then stops the site.
    pub async fn each_look<L>(
        self,
        looks: impl IntoIterator<Item = (BrowserOptions, L)>,
        body: impl AsyncFn(&Client, &Site, L) -> Result<()>,
    ) -> Result<()> {
        let mut result = Ok(());
        for (options, look) in looks {
            result = self
                .browse(options, async |c, site| body(c, site, look).await)
                .await;
            if result.is_err() {
                break;
            }
        }
        self.stop().await?;
        result
    }
}

/// The two tests of each learner session: `$live` on the live site `$start`
/// gives, and `$simulated` on a static copy of the site (every lab simulated),
/// each handing its site to `$run`, which runs the session and stops the site
/// (e.g. `|site| site.session(tcp_session)`).
#[macro_export]
macro_rules! live_and_simulated {
    ($($live:ident, $simulated:ident: $start:expr => $run:expr;)+) => {
        $(
            #[tokio::test]
            async fn $live() -> ::anyhow::Result<()> {
                ($run)($start.await?).await
            }

            #[tokio::test]
            async fn $simulated() -> ::anyhow::Result<()> {
                ($run)($crate::Site::start_simulated().await?).await
            }
        )+
    };
}

/// Whether the page scrolls sideways (its content is wider than the window).
pub async fn scrolls_sideways(client: &Client) -> Result<bool> {
    Ok(client
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
            vec![],
        )
        .await?
        .as_bool()
        .unwrap_or(true))
}

/// Clicks the element at `css`.
pub async fn click(client: &Client, css: &str) -> Result<()> {
    client
        .wait()
        .at_most(PAGE_TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("{css} not found"))?
        .click()
        .await
        .with_context(|| format!("clicking {css}"))?;
    Ok(())
}

/// Replaces the value of the input at `css` by typing.
pub async fn set_value(client: &Client, css: &str, value: &str) -> Result<()> {
    let input = client
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("{css} not found"))?;
    input.clear().await?;
    input.send_keys(value).await?;
    Ok(())
}

/// Waits until exactly `n` elements match `css`.
pub async fn wait_count(client: &Client, css: &str, n: usize) -> Result<()> {
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    loop {
        let found = client
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0);
        if found == n {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{css}: expected {n} elements, found {found} after {PAGE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The texts of every element matching `css`.
pub async fn texts(client: &Client, css: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in client.find_all(Locator::Css(css)).await? {
        out.push(e.text().await?);
    }
    Ok(out)
}

/// Waits until some element matching `css` has text containing `needle`.
pub async fn wait_contains(client: &Client, css: &str, needle: &str) -> Result<String> {
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    loop {
        if let Ok(all) = texts(client, css).await
            && let Some(t) = all.into_iter().find(|t| t.contains(needle))
        {
            return Ok(t);
        }
        if tokio::time::Instant::now() > deadline {
            let last = texts(client, css).await.unwrap_or_default();
            bail!("{css}: no element containing {needle:?} within {PAGE_TIMEOUT:?}; saw {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One thing a test does in the page, or waits to see there.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// [`click`] the element at this selector.
    Click(&'a str),
    /// [`set_value`]: type the text into the input at the selector.
    Type(&'a str, &'a str),
    /// [`wait_contains`]: some element at the selector comes to contain the text.
    Shows(&'a str, &'a str),
    /// [`wait_count`]: exactly this many elements come to match the selector.
    Count(&'a str, usize),
}

/// Does `steps` in order, stopping at the first that fails.
pub async fn steps(client: &Client, steps: &[Step<'_>]) -> Result<()> {
    for step in steps {
        match *step {
            Step::Click(css) => click(client, css).await?,
            Step::Type(css, text) => set_value(client, css, text).await?,
            Step::Shows(css, text) => {
                wait_contains(client, css, text).await?;
            }
            Step::Count(css, n) => wait_count(client, css, n).await?,
        }
    }
    Ok(())
}

/// Writes a PNG screenshot of the page to `path`.
pub async fn screenshot(client: &Client, path: &std::path::Path) -> Result<()> {
    let png = client.screenshot().await?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, png)?;
    Ok(())
}

/// Where screenshots go: `target/screenshots`, so a test run leaves the tree
/// as it was; `SOCKET_LAB_SCREENSHOTS=docs/screenshots` (relative to the
/// repository) refreshes the committed pictures instead (see the README).
pub fn screenshot_dir() -> PathBuf {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match std::env::var_os("SOCKET_LAB_SCREENSHOTS") {
        Some(dir) => repo.join(dir),
        None => repo.join("target/screenshots"),
    }
}

/// Fills `{port:DEMO}`, `{host:DEMO}` and `{addr:DEMO}` with the server's
/// real addresses.
pub fn fill(template: &str, server: &RunningServer) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').context("an unclosed { in a command")?;
        let inner = &after[..close];
        let value = match inner.split_once(':') {
            // The server's own site: where `/tls-cert.pem` is fetched from.
            None if inner == "http" => server.base.clone(),
            Some((what @ ("port" | "host" | "addr"), demo)) => {
                let addr = server
                    .demo(demo)
                    .with_context(|| format!("{template}: no demo {demo}"))?;
                match what {
                    "port" => addr.port().to_string(),
                    "host" => addr.ip().to_string(),
                    _ => addr.to_string(),
                }
            }
            // Not a placeholder (a brace in Python code, say).
            _ => format!("{{{inner}}}"),
        };
        out.push_str(&value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
