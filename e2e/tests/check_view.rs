//! The check view in the framing chapter: a `socket-lab check` run on this
//! machine shows up live, with its stages, its conversation and the
//! failure report; the next run replaces it. Screenshots of the failed run,
//! light, dark and 390 px wide, go to `target/screenshots/check-view-*.png`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::{
    BrowserOptions, RunningServer, screenshot_dir, start_server, texts, wait_contains, wait_lab,
    with_browser,
};
use fantoccini::{Client, Locator};
use native_server::check::{CheckArgs, Outcome};
use native_server::cli::{Cli, Command};

const VIEW: &str = "socket-lab[lab=check]";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `socket-lab check <lesson> --server <base> -- <command…>`, parsed by the real CLI.
fn args(lesson: &str, server: &str, command: &[String]) -> Result<CheckArgs> {
    let mut argv: Vec<String> = [
        "socket-lab",
        "check",
        lesson,
        "--seed",
        "7",
        "--server",
        server,
    ]
    .map(String::from)
    .to_vec();
    argv.push("--".into());
    argv.extend(command.iter().cloned());
    match Cli::try_parse_args(argv)?.command {
        Some(Command::Check(args)) => Ok(args),
        other => bail!("not a check command: {other:?}"),
    }
}

/// Runs a check of a Python server in this process; returns how it ended
/// and what it printed.
async fn check(server: &RunningServer, sample: &str) -> Result<(Outcome, String)> {
    let command = vec![
        "python3".to_owned(),
        repo().join(sample).to_string_lossy().into_owned(),
        "{port}".to_owned(),
    ];
    let mut out = Vec::new();
    let outcome =
        native_server::check::run(args("framed", &server.base, &command)?, &mut out).await;
    Ok((outcome, String::from_utf8_lossy(&out).into_owned()))
}

/// Waits until the page's bridge session watches the check runs (the
/// server counts its watchers), so no message of the next run is missed.
async fn until_watched(server: &RunningServer) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while server.checks.watchers() == 0 {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the page never asked for the check runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Writes screenshots of the check view: `NAME.png` with its verdict and
/// report at the top of the window, `NAME-stages.png` with its stages,
/// `NAME-conversation.png` with its reads and writes.
/// The texts of what `css` selects inside the check view.
async fn view(c: &Client, css: &str) -> Result<Vec<String>> {
    texts(c, &format!("{VIEW} {css}")).await
}

async fn shot(c: &Client, name: &str) -> Result<()> {
    for (part, file) in [
        ("[data-role=check-status]", format!("{name}-stages.png")),
        ("[data-role=verdict]", format!("{name}.png")),
        (
            "[data-role=check-conversation]",
            format!("{name}-conversation.png"),
        ),
    ] {
        // Below the book's sticky header.
        c.execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'}); \
             window.scrollBy(0, -60);",
            vec![serde_json::json!(format!("{VIEW} {part}"))],
        )
        .await?;
        e2e::screenshot(c, &screenshot_dir().join(file)).await?;
    }
    Ok(())
}

/// The run's sequence diagram says what its list says: one step per row
/// (the diagram keeps the last 80), of the same kinds and sizes, time never
/// going back, socket-lab's connections on the left and the learner's
/// program on the right.
async fn diagram_matches_the_list(c: &Client) -> Result<()> {
    let got = c
        .execute(
            "const v = document.querySelector(arguments[0]); \
             const rows = [...v.querySelectorAll('.sl-timeline > li')].map(li => { \
               const s = li.querySelector(':scope > .sl-size'); \
               return { kind: li.dataset.kind, size: s ? parseInt(s.textContent) : null }; }); \
             const steps = [...v.querySelectorAll('[data-role=sequence] .sl-seq-step')].map(g => ({ \
               kind: g.dataset.step, size: g.dataset.size === undefined ? null : parseInt(g.dataset.size), \
               t: parseFloat(g.dataset.t) })); \
             const label = v.querySelector('.sl-seq-svg').getAttribute('aria-label'); \
             return { rows, steps, label, shown: !v.querySelector('figure.sl-seq').hidden };",
            vec![serde_json::json!(VIEW)],
        )
        .await?;
    let rows = got["rows"].as_array().cloned().unwrap_or_default();
    let steps = got["steps"].as_array().cloned().unwrap_or_default();
    ensure!(got["shown"] == true, "the run's diagram is hidden");
    ensure!(
        !steps.is_empty() && steps.len() == rows.len().min(80),
        "{} rows but {} steps",
        rows.len(),
        steps.len()
    );
    let mut t = f64::NEG_INFINITY;
    for (i, (row, step)) in rows[rows.len() - steps.len()..]
        .iter()
        .zip(&steps)
        .enumerate()
    {
        ensure!(
            row["kind"] == step["kind"] && row["size"] == step["size"],
            "step {i} is {step} but the list says {row}"
        );
        let at = step["t"].as_f64().context("a time")?;
        ensure!(at >= t, "the time axis goes back at step {i}");
        t = at;
    }
    // The SVG's label names every lifeline in full, left to right.
    let label = got["label"].as_str().unwrap_or_default();
    ensure!(
        label.contains("between socket-lab ") && label.contains(", your program, time going down"),
        "the lifelines: {label}"
    );
    Ok(())
}

/// The stage lines of the view, in order.
async fn stages(c: &Client) -> Result<Vec<String>> {
    texts(c, &format!("{VIEW} [data-role=check-stage]")).await
}

/// Opens the framing chapter in `options` and waits for its check view.
async fn open_chapter(c: &Client, base: &str) -> Result<()> {
    c.goto(&format!("{base}/book/framing.html")).await?;
    wait_lab(c, VIEW).await?;
    wait_contains(c, &format!("{VIEW} [data-role=mode]"), "live").await?;
    let command = wait_contains(
        c,
        &format!("{VIEW} [data-role=check-command]"),
        "socket-lab check framed",
    )
    .await?;
    ensure!(
        command == "socket-lab check framed -- python3 your_server.py {port}",
        "{command}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_then_a_passing_check_run_show_up_live_in_the_framing_chapter() -> Result<()> {
    let server = start_server(|_| {}).await?;
    let base = server.base.clone();
    let result = with_browser(BrowserOptions::default(), |c| {
        let server = &server;
        async move {
            open_chapter(&c, &base).await?;
            wait_contains(
                &c,
                &format!("{VIEW} [data-role=check-status]"),
                "Waiting for a run",
            )
            .await?;
            until_watched(server).await?;

            let (outcome, terminal) =
                check(server, "book/samples/buggy/framed_one_frame_server.py").await?;
            ensure!(outcome == Outcome::Failed, "{terminal}");
            ensure!(
                !terminal.contains("no Socket Lab server answered"),
                "{terminal}"
            );
            let report = wait_contains(
                &c,
                &format!("{VIEW} [data-role=check-report]"),
                "served one message per connection",
            )
            .await?;
            ensure!(report.contains("✗ 2. two frames in one write"), "{report}");
            ensure!(
                report.contains("read: book/tcp-echo.html#the-server"),
                "{report}"
            );
            let lines = stages(&c).await?;
            ensure!(lines.len() == 10, "{lines:?}");
            ensure!(lines[0].starts_with("✓ 1. one frame"), "{lines:?}");
            ensure!(
                lines[1].starts_with("✗ 2. two frames in one write"),
                "{lines:?}"
            );
            ensure!(lines[2].starts_with("· 3."), "stage 3 never ran: {lines:?}");
            wait_contains(
                &c,
                &format!("{VIEW} [data-role=verdict]"),
                "FAIL: stage 2 failed",
            )
            .await?;
            // The conversation: stage 2's two frames in one write, and the
            // one reply frame that came back before the reset.
            let sent = view(&c, ".sl-send[data-stage='2'][data-conn=A] .sl-box").await?;
            ensure!(
                sent.iter()
                    .any(|t| t.contains("\"first\"") && t.contains("00 00 00")),
                "stage 2's write: {sent:?}"
            );
            let sizes: Vec<String> = view(&c, ".sl-send[data-stage='2'] .sl-size").await?;
            ensure!(sizes.len() == 1, "two frames, one write: {sizes:?}");
            let read = view(&c, ".sl-read[data-stage='2'][data-conn=A] .sl-box").await?;
            ensure!(
                read.iter()
                    .any(|t| t.contains("echo") && t.contains("first")),
                "the reply seen: {read:?}"
            );
            diagram_matches_the_list(&c).await?;
            shot(&c, "check-view-framing-failed").await?;

            let (outcome, terminal) =
                check(server, "book/src/code/python/framed_server.py").await?;
            ensure!(outcome == Outcome::Passed, "{terminal}");
            wait_contains(
                &c,
                &format!("{VIEW} [data-role=verdict]"),
                "PASS: 10 stages passed",
            )
            .await?;
            let lines = stages(&c).await?;
            ensure!(
                lines.len() == 10 && lines.iter().all(|l| l.starts_with('✓')),
                "every stage ✓: {lines:?}"
            );
            let report = c
                .find(Locator::Css(&format!("{VIEW} [data-role=check-report]")))
                .await?;
            ensure!(
                report.attr("hidden").await?.is_some(),
                "the last run's report is gone"
            );
            ensure!(
                view(&c, ".sl-send[data-stage='2'] .sl-size").await?.len() == 1,
                "the rows are the new run's, not both runs'"
            );
            diagram_matches_the_list(&c).await?;
            Ok(())
        }
    })
    .await;
    server.stop().await?;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_run_is_readable_dark_and_at_390_px() -> Result<()> {
    let server = start_server(|_| {}).await?;
    let mut result = Ok(());
    for (name, options) in [
        (
            "check-view-framing-failed-dark",
            BrowserOptions {
                dark: true,
                ..BrowserOptions::default()
            },
        ),
        (
            "check-view-framing-failed-390",
            BrowserOptions {
                dark: false,
                size: (390, 844),
            },
        ),
    ] {
        let base = server.base.clone();
        let server = &server;
        result = with_browser(options, |c| async move {
            open_chapter(&c, &base).await?;
            until_watched(server).await?;
            let (outcome, terminal) =
                check(server, "book/samples/buggy/framed_one_frame_server.py").await?;
            ensure!(outcome == Outcome::Failed, "{terminal}");
            wait_contains(
                &c,
                &format!("{VIEW} [data-role=check-report]"),
                "served one message per connection",
            )
            .await?;
            shot(&c, name).await?;
            // Nothing of the view sticks out of its card, and the card fits
            // the window: the report wraps instead of running off the side.
            let fits = c
                .execute(
                    "const card = document.querySelector(arguments[0] + ' .sl-card'); \
                     const r = card.getBoundingClientRect(); \
                     return [card.scrollWidth <= card.clientWidth + 1, r.right <= window.innerWidth + 1, \
                             card.scrollWidth, card.clientWidth, r.right, window.innerWidth];",
                    vec![serde_json::json!(VIEW)],
                )
                .await?;
            ensure!(
                fits[0] == true && fits[1] == true,
                "the check view is wider than the window: {fits}"
            );
            Ok(())
        })
        .await
        .with_context(|| name.to_owned());
        if result.is_err() {
            break;
        }
        // Each browser's session has left the server before the next watches.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while server.checks.watchers() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    server.stop().await?;
    result
}

#[tokio::test]
async fn simulated_the_view_says_checks_need_the_local_server() -> Result<()> {
    let site = e2e::Site::start_simulated().await?;
    let url = format!("{}/book/framing.html", site.base());
    let result = with_browser(BrowserOptions::default(), |c| async move {
        c.goto(&url).await?;
        wait_lab(&c, VIEW).await?;
        wait_contains(&c, &format!("{VIEW} [data-role=mode]"), "simulated").await?;
        let status = wait_contains(
            &c,
            &format!("{VIEW} [data-role=check-status]"),
            "Checks need the local server",
        )
        .await?;
        ensure!(status.contains("socket-lab"), "{status}");
        wait_contains(
            &c,
            &format!("{VIEW} [data-role=check-command]"),
            "socket-lab check framed-client -- python3 your_client.py",
        )
        .await?;
        Ok(())
    })
    .await;
    site.stop().await?;
    result
}
