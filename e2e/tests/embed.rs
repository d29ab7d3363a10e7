//! Embedding: a lab on a course page from another origin (allowed, and not),
//! dark-theme screenshots of every lab, and how fast the lab index is ready.

use anyhow::{Context, Result, ensure};
use e2e::{
    BrowserOptions, StaticServer, click, screenshot, screenshot_dir, start_server, wait_contains,
    wait_count, wait_lab, with_browser,
};

/// A course page on its own origin that embeds the sticky lab from `server`.
fn course_dir(server: &str) -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("socket-lab-course-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("index.html"),
        format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>A course</title>\
             <link rel=stylesheet href=\"{server}/socket-lab.css\">\
             <script src=\"{server}/socket-lab.js\"></script></head>\
             <body class=sl-site><h1>Week 3: sticky packets</h1><socket-lab lab=\"sticky\"></socket-lab></body></html>"
        ),
    )?;
    Ok(dir)
}

#[tokio::test]
async fn a_lab_embedded_in_an_allowed_course_page_runs_live() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("socket-lab-course-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let course = StaticServer::start(dir.clone()).await?;
    let origin = course.base.clone();
    let server = start_server(|c| c.allow_origins.push(origin)).await?;
    course_dir(&server.base)?;
    let url = format!("{}/", course.base);
    let result = with_browser(BrowserOptions::default(), |c| async move {
        c.goto(&url).await?;
        wait_lab(&c, "socket-lab[lab=sticky]").await?;
        wait_contains(&c, "[data-role=mode]", "live on your machine").await?;
        click(&c, "[data-role=run]").await?;
        wait_contains(&c, "[data-role=verdict]", "Merged").await?;
        screenshot(&c, &screenshot_dir().join("embedded-course-page.png")).await
    })
    .await;
    server.stop().await?;
    result
}

#[tokio::test]
async fn a_course_page_that_was_not_allowed_falls_back_to_simulation() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("socket-lab-course-x-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let course = StaticServer::start(dir.clone()).await?;
    let server = start_server(|_| {}).await?;
    std::fs::copy(
        course_dir(&server.base)?.join("index.html"),
        dir.join("index.html"),
    )?;
    let url = format!("{}/", course.base);
    let result = with_browser(BrowserOptions::default(), |c| async move {
        c.goto(&url).await?;
        wait_lab(&c, "socket-lab[lab=sticky]").await?;
        // The bridge refuses the foreign origin (403), so the lab simulates.
        wait_contains(&c, "[data-role=mode]", "simulated").await?;
        Ok(())
    })
    .await;
    server.stop().await?;
    result
}

#[tokio::test]
async fn dark_theme_screenshots_of_every_lab() -> Result<()> {
    let server = start_server(|_| {}).await?;
    let base = server.base.clone();
    let echo = server.demo("tcp-echo")?;
    let result = with_browser(
        BrowserOptions {
            dark: true,
            ..BrowserOptions::default()
        },
        |c| async move {
            for (lab, action) in [
                ("tcp-echo", "send"),
                ("udp-echo", "send"),
                ("sticky", "run"),
                ("framing", "send-whole"),
                ("auth", "run"),
                ("concurrency", "run-concurrent"),
                ("ports", "connect"),
                ("layers", "send"),
                ("events", "server-view-clear"),
            ] {
                c.goto(&format!("{base}/embed/{lab}")).await?;
                wait_lab(&c, "socket-lab").await?;
                wait_contains(&c, "[data-role=mode]", "live").await?;
                let dark: bool = c
                    .execute(
                        "return matchMedia('(prefers-color-scheme: dark)').matches",
                        vec![],
                    )
                    .await?
                    .as_bool()
                    .unwrap_or(false);
                ensure!(dark, "the browser did not prefer a dark colour scheme");
                // Held open until the screenshot, so no later event (its
                // close) refills the cleared view.
                let mut terminal = None;
                if lab == "events" {
                    // Something to clear: a client that is not the page.
                    let mut s = tokio::net::TcpStream::connect(echo).await?;
                    tokio::io::AsyncWriteExt::write_all(&mut s, b"from the terminal").await?;
                    wait_contains(
                        &c,
                        ".sl-sv-conn[data-origin=other]",
                        "ACK: from the terminal",
                    )
                    .await?;
                    terminal = Some(s);
                }
                click(&c, &format!("[data-role={action}]")).await?;
                if lab == "events" {
                    // Cleared: no connection listed, the empty note shown.
                    wait_count(&c, "[data-role=server-view][data-connections='0']", 1).await?;
                    wait_count(&c, ".sl-sv-conn", 0).await?;
                    wait_count(&c, ".sl-sv-empty:not([hidden])", 1).await?;
                    // And so are the events' diagram and list above it.
                    wait_count(&c, "[data-role=timeline] > li", 0).await?;
                    wait_count(&c, "figure.sl-seq[hidden]", 1).await?;
                } else {
                    wait_count_at_least(&c, ".sl-row", 1).await?;
                    // The server's own account of the lab's connection.
                    wait_count_at_least(&c, ".sl-sv-conn[data-origin=page]", 1).await?;
                }
                screenshot(&c, &screenshot_dir().join(format!("{lab}-dark.png"))).await?;
                drop(terminal);
            }
            Ok(())
        },
    )
    .await;
    server.stop().await?;
    result
}

async fn wait_count_at_least(c: &fantoccini::Client, css: &str, n: usize) -> Result<()> {
    for _ in 0..300 {
        if c.find_all(fantoccini::Locator::Css(css)).await?.len() >= n {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("fewer than {n} {css}")
}

/// Not an assertion (speed is measured, not asserted): prints how long the
/// lab index takes until every lab is interactive, and writes it to
/// `target/labs-ready.txt` for BENCHMARKS.md.
#[tokio::test]
async fn measure_time_until_labs_are_interactive() -> Result<()> {
    let server = start_server(|_| {}).await?;
    let url = format!("{}/", server.base);
    let result = with_browser(BrowserOptions::default(), |c| async move {
        let mut samples = Vec::new();
        for _ in 0..5 {
            c.goto(&url).await?;
            // Every lab of the registry is on the index page (tidy checks that).
            wait_count(
                &c,
                "socket-lab[data-ready=true]",
                protocol::demo::LABS.len(),
            )
            .await?;
            let ms = c
                .execute(
                    "return Number(document.documentElement.dataset.labsReadyMs)",
                    vec![],
                )
                .await?
                .as_f64()
                .context("labsReadyMs not set")?;
            samples.push(ms);
        }
        Ok(samples)
    })
    .await;
    server.stop().await?;
    let mut samples = result?;
    samples.sort_by(f64::total_cmp);
    let line = format!(
        "lab index interactive after {:.0} ms (median of {}; min {:.0}, max {:.0}), headless Chromium, loopback",
        samples[samples.len() / 2],
        samples.len(),
        samples[0],
        samples[samples.len() - 1]
    );
    println!("{line}");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/labs-ready.txt");
    std::fs::write(out, format!("{line}\n"))?;
    Ok(())
}
