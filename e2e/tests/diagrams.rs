//! Every lab's sequence diagram, after a run, live and simulated: it has one
//! step per row of the lab's list (the table view of the same steps), in the
//! same order, of the same kinds and sizes, and its time axis never goes
//! back. The diagram and the list are drawn from the same rows, so this is
//! what a learner can rely on: the picture says what the list says.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::{Site, wait_lab};
use fantoccini::Client;
use serde_json::Value;

/// The labs that draw a timeline, and with it a diagram: every lab but the
/// kernel lab (it draws the TCP state diagram), "what the servers see" and
/// the check view (both checked below and in check_view.rs). The concurrency
/// lab also draws its chart of every client on one axis, tested with the lab.
fn labs() -> impl Iterator<Item = &'static str> {
    protocol::demo::LABS
        .into_iter()
        .filter(|l| !["kernel", "events", "check"].contains(l))
}

/// What the page shows of one lab: its rows and the diagram's steps.
const READ: &str = r#"
const lab = document.querySelector(arguments[0]);
const rows = [...lab.querySelectorAll('.sl-timeline > li')].map(li => {
  const size = li.querySelector(':scope > .sl-size');
  return { kind: li.dataset.kind, size: size ? parseInt(size.textContent) : null };
});
const steps = [...lab.querySelectorAll('[data-role=sequence] .sl-seq-step')].map(g => ({
  kind: g.dataset.step,
  size: g.dataset.size === undefined ? null : parseInt(g.dataset.size),
  t: parseFloat(g.dataset.t),
}));
const figure = lab.querySelector('figure.sl-seq');
return { rows, steps, shown: !!figure && !figure.hidden, save: lab.querySelector('[data-role=save-svg]')?.getAttribute('href') || '' };
"#;

async fn check_lab(c: &Client, site: &Site, lab: &str) -> Result<()> {
    let css = format!("socket-lab[lab={lab}]");
    let page = match site.server() {
        Some(_) => format!("{}/embed/{lab}", site.base()),
        None => format!("{}/index.html#{lab}", site.base()),
    };
    c.goto(&page).await?;
    wait_lab(c, &css).await?;
    // The lab's first button: one run, as a learner's first click.
    let first = c
        .find(fantoccini::Locator::Css(&format!(
            "{css} .sl-controls button.sl-button:not([disabled])"
        )))
        .await
        .with_context(|| format!("{lab}: no button to run"))?;
    first.click().await?;
    steps_match_the_list(c, site, lab, 2).await
}

/// Waits until `lab`'s diagram and list settle with at least `least` rows,
/// then checks them step for step and saves a picture of the diagram.
async fn steps_match_the_list(c: &Client, site: &Site, lab: &str, least: usize) -> Result<()> {
    let css = format!("socket-lab[lab={lab}]");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let last = loop {
        let got = c.execute(READ, vec![Value::from(css.clone())]).await?;
        let rows = got["rows"].as_array().map_or(0, Vec::len);
        let steps = got["steps"].as_array().map_or(0, Vec::len);
        // Settled: something ran, the diagram caught up with the list, and
        // neither changed for 300 ms.
        if rows >= least && rows == steps {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let again = c.execute(READ, vec![Value::from(css.clone())]).await?;
            if again == got {
                break got;
            }
            continue;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{lab}: after a run the list and the diagram did not settle: {got}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rows = last["rows"].as_array().cloned().unwrap_or_default();
    let steps = last["steps"].as_array().cloned().unwrap_or_default();
    ensure!(
        last["shown"] == true,
        "{lab}: the diagram is hidden: {last}"
    );
    ensure!(
        rows.len() == steps.len(),
        "{lab}: {} rows but {} steps",
        rows.len(),
        steps.len()
    );
    let mut t = f64::NEG_INFINITY;
    for (i, (row, step)) in rows.iter().zip(&steps).enumerate() {
        ensure!(
            row["kind"] == step["kind"] && row["size"] == step["size"],
            "{lab}: step {i} is {step} but the list says {row}"
        );
        let at = step["t"].as_f64().context("a time")?;
        ensure!(
            at >= t,
            "{lab}: the time axis goes back at step {i}: {at} after {t}"
        );
        t = at;
    }
    ensure!(
        last["save"]
            .as_str()
            .is_some_and(|h| h.starts_with("data:image/svg+xml")),
        "{lab}: no SVG to save"
    );
    println!(
        "{lab} ({}): {} steps match the list",
        site.mode(),
        steps.len()
    );
    let figure = c
        .find(fantoccini::Locator::Css(&format!("{css} figure.sl-seq")))
        .await?;
    let png = figure.screenshot().await?;
    let path = e2e::screenshot_dir().join(format!("sequence-{lab}-{}.png", site.mode()));
    std::fs::write(path, png)?;
    Ok(())
}

/// The sticky lab's diagram, simulated, has the model's wire as a lifeline
/// of its own: with Nagle on, the first write leaves alone and the next two
/// wait for its ACK and leave together; with TCP_NODELAY, one segment per
/// write. Live, the bridge's kernel keeps its segments to itself, and the
/// diagram draws none.
async fn sticky_wire(c: &Client, site: &Site) -> Result<()> {
    let lab = "socket-lab[lab=sticky]";
    let sizes = format!("{lab} .sl-timeline > li[data-kind=segment] > .sl-size");
    e2e::set_value(c, &format!("{lab} [data-role=writes]"), "Hello|World|Again").await?;
    e2e::set_value(c, &format!("{lab} [data-role=read-delay]"), "0").await?;
    for (nodelay, want) in [
        (false, &["5 B", "10 B"][..]),
        (true, &["5 B", "5 B", "5 B"][..]),
    ] {
        if nodelay {
            e2e::click(c, &format!("{lab} [data-role=nodelay]")).await?;
        }
        e2e::click(c, &format!("{lab} [data-role=run]")).await?;
        e2e::wait_text(c, &format!("{lab} [data-role=verdict]"), |t| {
            !t.is_empty() && !t.starts_with("Waiting")
        })
        .await?;
        steps_match_the_list(c, site, "sticky", 6).await?;
        let got = e2e::texts(c, &sizes).await?;
        let label = c
            .execute(
                "return document.querySelector(arguments[0]).getAttribute('aria-label')",
                vec![Value::from(format!("{lab} .sl-seq-svg"))],
            )
            .await?;
        let label = label.as_str().unwrap_or_default();
        match site.server() {
            None => {
                ensure!(
                    got == want,
                    "nodelay {nodelay}: the model's segments are {got:?}"
                );
                ensure!(
                    label.contains("the wire (simulated), server"),
                    "no lifeline for the wire: {label}"
                );
            }
            Some(_) => ensure!(
                got.is_empty() && !label.contains("wire"),
                "live, no model draws segments: {got:?} {label}"
            ),
        }
    }
    println!(
        "sticky ({}): the wire's segments as the model sent them",
        site.mode()
    );
    Ok(())
}

/// The index page's "what the servers see" draws every event the servers
/// report: a run of the tcp-echo lab on the same page (and, live, the book's
/// own client from a terminal, on a lifeline of its own).
async fn events_lab(c: &Client, site: &Site) -> Result<()> {
    c.goto(&format!("{}/index.html#events", site.base()))
        .await?;
    wait_lab(c, "socket-lab[lab=events]").await?;
    wait_lab(c, "socket-lab[lab=tcp-echo]").await?;
    e2e::click(c, "socket-lab[lab=tcp-echo] [data-role=send]").await?;
    // accepted, read, reply: three events at least.
    steps_match_the_list(c, site, "events", 3).await?;
    // tcp-echo serves one client at a time: the page lets go first.
    e2e::click(c, "socket-lab[lab=tcp-echo] [data-role=close]").await?;
    if e2e::learner::terminal(site, "tcp_echo_client.py", "tcp-echo")
        .await?
        .is_some()
    {
        let lanes = "return [...document.querySelectorAll('socket-lab[lab=events] .sl-seq-svg .sl-seq-head')].map(t => t.textContent)";
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let heads = c.execute(lanes, vec![]).await?;
            let n = heads.as_array().map_or(0, Vec::len);
            // time, the page's connection, the terminal's, the servers.
            if n >= 4 {
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "events: the terminal client has no lifeline: {heads}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        steps_match_the_list(c, site, "events", 6).await?;
    }
    Ok(())
}

async fn every_lab(c: &Client, site: &Site) -> Result<()> {
    for lab in labs() {
        check_lab(c, site, lab).await?;
        if lab == "sticky" {
            sticky_wire(c, site).await?;
        }
    }
    events_lab(c, site).await
}

e2e::live_and_simulated! {
    every_lab_draws_its_steps_live, every_lab_draws_its_steps_simulated: Site::start_live(|_| {}) => |site: Site| site.session(every_lab);
}

/// Pictures of the diagrams for `docs/screenshots` (run with
/// `SOCKET_LAB_SCREENSHOTS=docs/screenshots` to refresh them): the auth lab's
/// after a run in dark, the HMAC chapter in mdBook's Coal theme with its
/// book diagram and its lab's, and the tcp-echo lab in a 390-pixel frame.
#[tokio::test]
async fn pictures_of_the_diagrams() -> Result<()> {
    let site = Site::start_live(|_| {}).await?;
    let looks = [
        (
            e2e::BrowserOptions {
                dark: true,
                ..e2e::BrowserOptions::default()
            },
            "dark",
        ),
        (e2e::BrowserOptions::default(), "coal"),
        (e2e::BrowserOptions::default(), "390"),
    ];
    site.each_look(looks, async |c, site, look| {
        match look {
            "dark" => {
                check_lab(c, site, "auth").await?;
                e2e::screenshot(c, &e2e::screenshot_dir().join("sequence-dark.png")).await?;
            }
            "coal" => {
                c.goto(&format!("{}/book/hmac-auth.html", site.base())).await?;
                c.execute(
                    "localStorage.setItem('mdbook-theme', 'coal'); location.reload();",
                    vec![],
                )
                .await?;
                wait_lab(c, "socket-lab[lab=auth]").await?;
                c.execute(
                    "document.querySelector('socket-lab[lab=auth] .sl-controls button.sl-button').click();",
                    vec![],
                )
                .await?;
                e2e::wait_count(c, "socket-lab[lab=auth] .sl-seq-step", 11).await?;
                c.execute(
                    "document.querySelector('.content .sl-seq-svg').scrollIntoView();",
                    vec![],
                )
                .await?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                e2e::screenshot(c, &e2e::screenshot_dir().join("sequence-coal-book.png")).await?;
                c.execute(
                    "document.querySelector('socket-lab[lab=auth] figure.sl-seq').scrollIntoView();",
                    vec![],
                )
                .await?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                e2e::screenshot(c, &e2e::screenshot_dir().join("sequence-coal-lab.png")).await?;
            }
            _ => {
                // A 390-pixel frame on the same origin (see learner_tcp_udp.rs).
                c.goto(&format!("{}/socket-lab.css", site.base())).await?;
                c.execute(
                    "document.body.style.margin = '0'; \
                     document.body.innerHTML = '<iframe style=\"width:390px;height:1400px;border:0\"></iframe>'; \
                     document.querySelector('iframe').src = arguments[0];",
                    vec![format!("{}/embed/tcp-echo", site.base()).into()],
                )
                .await?;
                tokio::time::sleep(Duration::from_millis(1500)).await;
                c.enter_frame(0).await?;
                wait_lab(c, "socket-lab[lab=tcp-echo]").await?;
                c.execute(
                    "document.querySelector('[data-role=send]').click();",
                    vec![],
                )
                .await?;
                e2e::wait_count(c, "socket-lab .sl-seq-step[data-step=read]", 1).await?;
                c.execute(
                    "document.querySelector('figure.sl-seq').scrollIntoView();",
                    vec![],
                )
                .await?;
                c.enter_parent_frame().await?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                e2e::screenshot(c, &e2e::screenshot_dir().join("sequence-390.png")).await?;
            }
        }
        Ok(())
    })
    .await
}
