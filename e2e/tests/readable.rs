//! Every page readable at a phone's width and every lab readable beside the
//! prose around it: the index, each chapter of the book and each lab's embed
//! page, loaded in a 390-pixel-wide frame (headless Chromium will not make
//! its window that narrow), must not scroll sideways, after its labs have
//! loaded and after one run of the page's first lab; and inside a chapter,
//! the computed font size of every piece of lab text is at least 0.875× the
//! chapter's body text. Both are measured with the page's own layout
//! (`scrollWidth`, `getComputedStyle`), and a failure names the elements.

use std::time::Duration;

use anyhow::{Result, bail, ensure};
use e2e::Site;
use fantoccini::Client;
use serde_json::Value;

const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

fn chapters() -> Result<Vec<String>> {
    let summary = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/SUMMARY.md"),
    )?;
    Ok(summary
        .lines()
        .filter_map(|l| l.split("](").nth(1)?.strip_suffix(')'))
        .map(|f| format!("/book/{}", f.replace(".md", ".html")))
        .collect())
}

/// Loads `path` in a 390-pixel frame and enters it, once its labs are ready.
async fn in_phone_frame(c: &Client, site: &Site, path: &str) -> Result<()> {
    c.enter_parent_frame().await.ok();
    // A parent on the same origin (see learner_tcp_udp.rs).
    c.goto(&format!("{}/socket-lab.css", site.base())).await?;
    c.execute(
        "document.body.style.margin = '0'; \
         document.body.innerHTML = '<iframe style=\"width:390px;height:2000px;border:0\"></iframe>'; \
         document.querySelector('iframe').src = arguments[0];",
        vec![format!("{}{path}", site.base()).into()],
    )
    .await?;
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.enter_frame(0).await?;
        let ready: Value = c
            .execute(
                "if (document.readyState !== 'complete' || !location.href.startsWith(arguments[0])) return false; \
                 const labs = document.querySelectorAll('socket-lab'); \
                 return [...labs].every(l => l.dataset.ready === 'true');",
                vec![site.base().into()],
            )
            .await?;
        if ready == true {
            return Ok(());
        }
        c.enter_parent_frame().await?;
        if tokio::time::Instant::now() > deadline {
            bail!("{path}: the page or its labs did not load in the frame");
        }
    }
}

/// What scrolls sideways in the frame, or null.
const WIDE: &str = "const d = document.documentElement; \
    if (d.scrollWidth <= d.clientWidth + 1) return null; \
    return [d.scrollWidth, d.clientWidth, ...[...document.querySelectorAll('body *')] \
      .filter(e => e.getBoundingClientRect().right > d.clientWidth + 1 && !e.parentElement.closest('pre, .sl-seq-draw, table')) \
      .slice(0, 6).map(e => e.tagName + '.' + e.className)];";

/// The smallest text in the page's labs against the chapter's body text.
const SIZES: &str = "const body = document.querySelector('.content main p, main p'); \
    if (!body) return null; \
    const base = parseFloat(getComputedStyle(body).fontSize); \
    const small = []; \
    for (const lab of document.querySelectorAll('socket-lab')) { \
      for (const e of lab.querySelectorAll('*')) { \
        if (e.closest('svg')) continue; \
        const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()); \
        if (!own || e.offsetParent === null) continue; \
        const size = parseFloat(getComputedStyle(e).fontSize); \
        if (size < 0.875 * base - 0.01) small.push(e.tagName + '.' + e.className + ' ' + size + 'px'); \
      } \
    } \
    return [base, small.slice(0, 8)];";

/// Runs the page's first lab (its first button), and waits a moment for it.
/// The click is the page's own (`click()`), as a keyboard's Enter would be:
/// mdBook's bar may cover a button scrolled to the top.
async fn run_first_lab(c: &Client) -> Result<()> {
    c.execute(
        "const b = document.querySelector('socket-lab .sl-controls button.sl-button:not([disabled])'); \
         if (b) { b.scrollIntoView({block: 'center'}); b.click(); }",
        vec![],
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    Ok(())
}

#[tokio::test]
async fn every_page_fits_a_phone_and_labs_read_as_large_as_the_prose() -> Result<()> {
    let site = Site::start_live(|_| {}).await?;
    site.session(async |c, site| {
        let mut pages = vec!["/".to_owned()];
        pages.extend(chapters()?);
        pages.extend(protocol::demo::LABS.iter().map(|l| format!("/embed/{l}")));
        let mut checked = 0;
        for page in &pages {
            in_phone_frame(c, site, page).await?;
            for state in ["loaded", "after a run"] {
                if state == "after a run" {
                    run_first_lab(c).await?;
                }
                let wide = c.execute(WIDE, vec![]).await?;
                ensure!(wide.is_null(), "{page} ({state}) scrolls sideways at 390 px: {wide}");
                if page.starts_with("/book/") {
                    let sizes = c.execute(SIZES, vec![]).await?;
                    if let Some(small) = sizes.get(1).and_then(Value::as_array) {
                        ensure!(
                            small.is_empty(),
                            "{page} ({state}): lab text smaller than 0.875 × the body's {} px: {small:?}",
                            sizes[0]
                        );
                    }
                }
                checked += 1;
            }
        }
        println!("readable: {checked} page states at 390 px, no sideways scroll; lab text ≥ 0.875 × prose in every chapter");
        Ok(())
    })
    .await
}
