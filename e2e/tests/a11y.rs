//! Accessibility checked by a machine: the axe-core engine (fetched from npm
//! at a pinned version by `cargo xtask test`, which passes its path in
//! `AXE_CORE`) injected into every page — the index, every chapter of the
//! book, every lab's embed page, the embed pages again after their lab has
//! run once — light and dark, with the WCAG 2.0 A and AA, 2.1 AA and 2.2 AA
//! rules. Any violation fails the test with what axe said; the counts go to
//! `SOCKET_LAB_A11Y_REPORT`, which `cargo xtask test` prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::{BrowserOptions, Site, wait_lab};
use fantoccini::{Client, Locator};

/// The rule sets the course promises.
const TAGS: &str = "['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']";

fn axe_source() -> Result<String> {
    let path = std::env::var_os("AXE_CORE").map(PathBuf::from).context(
        "AXE_CORE is not set: run these tests with `cargo xtask test`, which fetches axe-core",
    )?;
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Runs axe on the open page; one line per violation.
async fn axe(c: &Client, source: &str) -> Result<Vec<String>> {
    c.execute(source, vec![]).await?;
    let script = format!(
        "const done = arguments[arguments.length - 1];
         axe.run(document, {{ runOnly: {{ type: 'tag', values: {TAGS} }} }})
           .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
               v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' +
                 (n.failureSummary || '').replace(/\\s+/g, ' ')).join(' | '))))
           .catch(e => done(['axe failed: ' + e]));"
    );
    let result = c.execute_async(&script, vec![]).await?;
    Ok(result
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Every page of the site: the index, the book's chapters (from SUMMARY.md)
/// and each lab's embed page.
fn pages() -> Result<Vec<String>> {
    let summary = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/SUMMARY.md"),
    )?;
    let mut pages = vec!["index.html".to_owned()];
    for line in summary.lines() {
        if let Some(file) = line.split("](").nth(1).and_then(|r| r.strip_suffix(')')) {
            pages.push(format!("book/{}", file.replace(".md", ".html")));
        }
    }
    pages.extend(
        protocol::demo::LABS
            .iter()
            .map(|lab| format!("embed/{lab}")),
    );
    Ok(pages)
}

/// Runs the lab on an embed page once: its first button that can be
/// clicked, then until the lab shows something of the run (a timeline row
/// or a verdict), at most 15 s.
async fn run_once(c: &Client) -> Result<()> {
    let buttons = c
        .find_all(Locator::Css(
            "socket-lab .sl-controls button.sl-button:not([disabled])",
        ))
        .await?;
    let Some(first) = buttons.into_iter().next() else {
        return Ok(()); // a lab with nothing to run (the check view waits for a terminal)
    };
    first.click().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        let shown: bool = c
            .execute(
                "const lab = document.querySelector('socket-lab');
                 const v = lab.querySelector('[data-role=verdict]');
                 return lab.querySelectorAll('.sl-timeline li').length > 0 || (v && v.textContent.trim().length > 0);",
                vec![],
            )
            .await?
            .as_bool()
            .unwrap_or(false);
        if shown {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn every_page_and_lab_state_passes_axe_light_and_dark() -> Result<()> {
    let source = axe_source()?;
    let pages = pages()?;
    let site = Site::start_live(|_| {}).await?;
    let dark = BrowserOptions {
        dark: true,
        ..BrowserOptions::default()
    };
    let mut violations = Vec::new();
    let mut checked = 0;
    for (options, look) in [(BrowserOptions::default(), "light"), (dark, "dark")] {
        let (found, n) = site
            .browse(options, async |c, site| {
                let mut out = Vec::new();
                let mut n = 0;
                for page in &pages {
                    c.goto(&format!("{}/{page}", site.base())).await?;
                    if c.find(Locator::Css("socket-lab")).await.is_ok() {
                        wait_lab(c, "socket-lab").await?;
                    }
                    let mut states = vec!["before a run"];
                    if page.starts_with("embed/") {
                        states.push("after a run");
                    }
                    for state in states {
                        if state == "after a run" {
                            run_once(c).await?;
                        }
                        n += 1;
                        for v in axe(c, &source).await? {
                            out.push(format!("{look}, {page} ({state}): {v}"));
                        }
                    }
                }
                Ok((out, n))
            })
            .await?;
        violations.extend(found);
        checked += n;
    }
    site.stop().await?;
    let summary = format!(
        "axe-core: {checked} page states checked ({} pages, light and dark, embed pages before and after a run), {} violations\n",
        pages.len(),
        violations.len()
    );
    print!("{summary}");
    if let Some(path) = std::env::var_os("SOCKET_LAB_A11Y_REPORT") {
        std::fs::write(path, &summary)?;
    }
    ensure!(
        violations.is_empty(),
        "axe found {} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
    Ok(())
}
