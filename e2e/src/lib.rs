//! Harness for the headless-Chromium tests: a real server on port 0, a real
//! chromedriver, a real browser, and cleanup that happens even on failure.
//!
//! The trap this avoids: if a test panics while a browser is open, chromedriver
//! can die and leave Chromium holding the test's output, and `cargo test` never
//! ends. So drivers get null stdio and are killed on drop, test bodies return
//! `Result` instead of panicking, and the session is closed before anything is
//! asserted.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use native_server::{Config, Server};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long to wait for anything to appear in the page.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// A Socket Lab server running in this process.
pub struct RunningServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The server's HTTP address.
    pub http: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .context("server did not stop within 5 s")???;
        }
        Ok(())
    }
}

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
    let mut config = Config::for_tests(dist()?);
    tweak(&mut config);
    let server = Server::bind(config).await?;
    let http = server.http_addr()?;
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        base: format!("http://{http}"),
        http,
        stop: Some(tx),
        task: Some(task),
    })
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
            let result = body(client.clone()).await;
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
