//! The kernel lab in a real browser against a real server: each guided
//! experiment is run and the states it promises are found in the lab's own
//! table (which is drawn from the kernel watcher's messages); a terminal
//! program that forgets to close shows up in CLOSE_WAIT; the sticky lab
//! shows the sender's real segment count; and a page with no server says the
//! kernel view needs one. Screenshots (light, dark, a narrow window) go to
//! `target/screenshots/kernel-*.png`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::{
    BrowserOptions, Site, Step, click, screenshot, screenshot_dir, steps, wait_contains,
    wait_count, wait_lab,
};
use fantoccini::{Client, Locator};

const LAB: &str = "socket-lab[lab=kernel]";

/// A row of the lab's table for an end in a state, e.g. `client`, `TIME_WAIT`.
fn row(end: &str, state: &str) -> String {
    format!("{LAB} tr[data-end={end}][data-state={state}]")
}

/// Waits until at least one element matches `css`.
async fn appears(c: &Client, css: &str) -> Result<()> {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("{css} did not appear"))?;
    Ok(())
}

/// Runs one experiment and waits for its verdict to say the promise was kept.
async fn experiment(c: &Client, id: &str) -> Result<String> {
    click(c, &format!("{LAB} [data-role={id}]")).await?;
    let kept = appears(
        c,
        &format!("{LAB} [data-role=verdict][data-experiment={id}][data-verdict=pass]"),
    )
    .await;
    if let Err(e) = kept {
        // Say what the lab did show: its verdict and every state change it drew.
        let shown = e2e::texts(c, &format!("{LAB} [data-role=verdict], {LAB} .sl-row")).await?;
        return Err(e.context(format!("{id}: the lab showed {shown:#?}")));
    }
    Ok(c.find(Locator::Css(&format!("{LAB} [data-role=verdict]")))
        .await?
        .text()
        .await?)
}

/// The kernel lab's one-lab page on a live site; the index on a static one
/// (which has no embed pages).
async fn open(c: &Client, site: &Site) -> Result<()> {
    let page = match site.server() {
        Some(_) => "embed/kernel",
        None => "index.html#kernel",
    };
    c.goto(&format!("{}/{page}", site.base())).await?;
    wait_lab(c, LAB).await?;
    wait_contains(c, &format!("{LAB} [data-role=mode]"), site.mode()).await?;
    Ok(())
}

#[tokio::test]
async fn every_guided_experiment_shows_the_states_it_promises() -> Result<()> {
    Site::start_live(|_| {})
        .await?
        .session(async |c, site| {
            open(c, site).await?;
            appears(
                c,
                &format!("{LAB} [data-role=kernel-status][data-supported=true]"),
            )
            .await?;
            // The listeners are there, tcp-echo's with its small backlog.
            appears(
                c,
                &format!("{LAB} .sl-k-queue[data-demo=tcp-echo][data-backlog='10']"),
            )
            .await?;

            let text = experiment(c, "client-closes").await?;
            ensure!(
                text.contains("Only the side that closed first waits"),
                "{text}"
            );
            appears(c, &row("client", "TIME_WAIT")).await?;

            let text = experiment(c, "server-closes").await?;
            ensure!(
                text.contains("the server's end") && text.contains("TIME_WAIT"),
                "{text}"
            );
            appears(c, &row("server", "TIME_WAIT")).await?;

            let text = experiment(c, "half-close").await?;
            ensure!(
                text.contains("CLOSE_WAIT") && text.contains("FIN_WAIT_2"),
                "{text}"
            );
            appears(c, &row("server", "CLOSE_WAIT")).await?;
            // The second step: the server goes on, accepts, reads EOF and closes.
            click(c, &format!("{LAB} [data-role=next-step]")).await?;
            wait_count(c, &row("server", "CLOSE_WAIT"), 0).await?;

            let text = experiment(c, "fill-queue").await?;
            ensure!(text.contains("SYN_SENT"), "{text}");
            appears(
                c,
                &format!("{LAB} .sl-k-queue[data-demo=tcp-echo][data-waiting='11']"),
            )
            .await?;
            // The picture while the last client still waits in SYN_SENT.
            c.execute(
                "document.querySelector('socket-lab[lab=kernel] [data-role=promise]').scrollIntoView()",
                vec![],
            )
            .await?;
            screenshot(c, &screenshot_dir().join("kernel-fill-queue.png")).await?;
            // The one that found no room is refused by the bridge after its wait.
            appears(c, &format!("{LAB} [data-event=open-failed]")).await?;
            click(c, &format!("{LAB} [data-role=close]")).await?;
            appears(
                c,
                &format!("{LAB} .sl-k-queue[data-demo=tcp-echo][data-waiting='0']"),
            )
            .await?;

            // Again, as a learner does: the same experiment twice in a row.
            for _ in 0..2 {
                experiment(c, "client-closes").await?;
            }
            Ok(())
        })
        .await
}

/// A terminal program that reads the answer but never closes: uppercase
/// closes first, so the program's own end sits in CLOSE_WAIT, drawn as
/// "another program".
#[tokio::test]
async fn a_terminal_client_that_never_closes_is_seen_in_close_wait() -> Result<()> {
    Site::start_live(|_| {})
        .await?
        .session(async |c, site| {
            open(c, site).await?;
            appears(
                c,
                &format!("{LAB} [data-role=kernel-status][data-supported=true]"),
            )
            .await?;
            let port = site.port("uppercase")?.context("uppercase runs")?;
            let script = format!(
                "import socket, sys, time\n\
             s = socket.create_connection(('127.0.0.1', {port}))\n\
             s.sendall(b'hi\\n')\n\
             print(s.recv(100)); sys.stdout.flush()\n\
             time.sleep(30)\n"
            );
            let mut child = tokio::process::Command::new("python3")
                .args(["-c", &script])
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            let seen = async {
                appears(c, &row("client", "CLOSE_WAIT")).await?;
                wait_contains(
                    c,
                    &format!("{LAB} tr[data-state=CLOSE_WAIT]"),
                    "another program",
                )
                .await?;
                anyhow::Ok(())
            }
            .await;
            child.kill().await.ok();
            seen?;
            // Killed, the program's socket is closed by the kernel: CLOSE_WAIT ends.
            wait_count(c, &row("client", "CLOSE_WAIT"), 0).await?;
            Ok(())
        })
        .await
}

/// The sticky lab, live: the sender's kernel's own count of data segments
/// for the writes, next to the reads.
#[tokio::test]
async fn the_sticky_lab_shows_how_many_segments_the_writes_took() -> Result<()> {
    Site::start_live(|_| {})
        .await?
        .session(async |c, site| {
            c.goto(&format!("{}/embed/sticky", site.base())).await?;
            wait_lab(c, "socket-lab[lab=sticky]").await?;
            wait_contains(c, "[data-role=mode]", "live").await?;
            for (writes, delay) in [("Hello|World", "300"), ("a|b|c|d", "0"), ("one|two", "0")] {
                steps(
                    c,
                    &[
                        Step::Type("[data-role=writes]", writes),
                        Step::Type("[data-role=read-delay]", delay),
                        Step::Click("[data-role=run]"),
                        Step::Shows("[data-event=segments]", "data segment"),
                    ],
                )
                .await?;
                let n: u32 = c
                    .find(Locator::Css("[data-event=segments]"))
                    .await?
                    .attr("data-segments")
                    .await?
                    .context("a count")?
                    .parse()?;
                let sends = writes.split('|').count() as u32;
                ensure!((1..=sends).contains(&n), "{writes}: {n} segments");
                appears(c, "[data-role=verdict][data-reads]").await?;
            }
            Ok(())
        })
        .await
}

#[tokio::test]
async fn without_a_server_the_lab_says_the_view_needs_one() -> Result<()> {
    Site::start_simulated()
        .await?
        .session(async |c, site| {
            open(c, site).await?;
            let status =
                wait_contains(c, &format!("{LAB} [data-role=kernel-status]"), "simulated").await?;
            ensure!(status.contains("no kernel in the page"), "{status}");
            let run = c
                .find(Locator::Css(&format!("{LAB} [data-role=client-closes]")))
                .await?;
            ensure!(
                run.attr("disabled").await?.is_some(),
                "experiments need a live server"
            );
            Ok(())
        })
        .await
}

#[tokio::test]
async fn screenshots_light_dark_and_narrow() -> Result<()> {
    let looks = [
        (BrowserOptions::default(), "light"),
        (
            BrowserOptions {
                dark: true,
                ..BrowserOptions::default()
            },
            "dark",
        ),
        // Headless Chromium's narrowest window is 500 px; every page at a
        // phone's 390 px is checked in a frame by readable.rs.
        (
            BrowserOptions {
                size: (390, 1400),
                ..BrowserOptions::default()
            },
            "narrow",
        ),
    ];
    Site::start_live(|_| {})
        .await?
        .each_look(looks, async |c, site, name| {
            open(c, site).await?;
            experiment(c, "half-close").await?;
            let wide = e2e::scrolls_sideways(c).await?;
            ensure!(!wide, "{name}: the page scrolls sideways");
            c.execute(
            "document.querySelector('socket-lab[lab=kernel] [data-role=promise]').scrollIntoView()",
            vec![],
        )
        .await?;
            screenshot(c, &screenshot_dir().join(format!("kernel-{name}.png"))).await?;
            Ok(())
        })
        .await
}

/// The kernel exercises' commands (from `exercises.json`), with the server's
/// real addresses in place of `{host:…}`, `{port:…}` and `{addr:…}`.
fn commands(site: &Site, id: &str) -> Result<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/exercises.json");
    let all: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let ex = all
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == id))
        .with_context(|| format!("exercise {id}"))?;
    let server = site.server().context("a live site")?;
    let mut out = Vec::new();
    for c in ex["commands"].as_array().context("commands")? {
        out.push(e2e::fill(c.as_str().context("a command")?, server)?);
    }
    Ok(out)
}

/// Starts `sh -c command` in the repository, as a learner's terminal would.
/// The shell hands its process over to the program (`exec`), so killing the
/// child kills the program and closes its sockets.
fn terminal(command: &str) -> Result<tokio::process::Child> {
    let command = match command.strip_prefix("python3 ") {
        Some(rest) => format!("exec python3 {rest}"),
        None => command.to_owned(),
    };
    Ok(tokio::process::Command::new("sh")
        .args(["-c", &command])
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// Each chapter's kernel exercise, done from a terminal while the chapter is
/// open, judged by the page from the kernel watcher's states alone.
#[tokio::test]
async fn every_kernel_exercise_is_done_from_a_terminal() -> Result<()> {
    let exercises = [
        ("tcp-vs-udp", "kernel-time-wait"),
        ("tcp-echo", "kernel-queue-full"),
        ("concurrency", "kernel-server-close-wait"),
        ("beyond-the-notes", "kernel-close-wait-fixed"),
    ];
    Site::start_live(|_| {})
        .await?
        .session(async |c, site| {
            for (chapter, id) in exercises {
                c.goto(&format!("{}/book/{chapter}.html", site.base()))
                    .await?;
                let card = format!("socket-lab[lab=exercise][exercise={id}]");
                let status = format!("{card} [data-role=exercise-status]");
                wait_contains(c, &status, "Waiting for your client").await?;
                let cmds = commands(site, id)?;
                if id == "kernel-close-wait-fixed" {
                    // First the bug: the end sits in CLOSE_WAIT while the program sleeps.
                    let mut buggy = terminal(&cmds[0])?;
                    wait_contains(c, &status, "stayed in CLOSE_WAIT").await?;
                    buggy.wait().await?;
                    terminal(&cmds[1])?.wait().await?;
                } else {
                    // Held open while the page judges; killed afterwards.
                    let _program = terminal(&cmds[0])?;
                    wait_contains(c, &format!("{status}[data-state=done]"), "Done").await?;
                }
                let done = match wait_contains(c, &format!("{status}[data-done=true]"), "✓ Done: ")
                    .await
                {
                    Ok(done) => done,
                    Err(e) => {
                        let mut shown = e2e::texts(c, &status).await?;
                        if let Ok(el) = c.find(Locator::Css(&status)).await {
                            shown.push(el.attr("data-debug").await?.unwrap_or_default());
                        }
                        return Err(e.context(format!("{chapter}: {id} shows {shown:?}")));
                    }
                };
                println!("{id}: {done}");
            }
            Ok(())
        })
        .await
}
