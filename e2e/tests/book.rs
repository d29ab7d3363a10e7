//! The course in a real browser: every chapter's lab live, a quiz question
//! answered (the quizzes themselves are covered by `quiz.rs`), and the
//! chapter's exercise judged from a terminal, as a learner would do it: the
//! exercise's own first command (from `exercises.json`, with the server's
//! real ports) must complete it, and where a wrong program is easy to write,
//! one that does the wrong thing must leave it not done and say why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::{PAGE_TIMEOUT, RunningServer, Site, click, wait_contains, wait_count};
use fantoccini::{Client, Locator};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn book_src() -> PathBuf {
    repo().join("book/src")
}

const STATUS: &str = "socket-lab[lab=exercise] [data-role=exercise-status]";

/// Chapters with a quiz, in book order, from SUMMARY.md.
fn topic_chapters() -> Result<Vec<String>> {
    let summary = std::fs::read_to_string(book_src().join("SUMMARY.md"))?;
    let mut out = Vec::new();
    for line in summary.lines() {
        if let Some(file) = line.split("](").nth(1).and_then(|r| r.strip_suffix(')')) {
            let md = std::fs::read_to_string(book_src().join(file))?;
            if md.contains("lab=\"quiz\"") {
                out.push(file.trim_end_matches(".md").to_owned());
            }
        }
    }
    ensure!(
        out.len() >= 10,
        "expected the topic chapters, found {out:?}"
    );
    Ok(out)
}

/// A wrong program for an exercise, and what the exercise must then say.
struct Wrong {
    /// A shell command, with the same placeholders as `commands`.
    command: &'static str,
    /// The status's `data-state` after it ran.
    state: &'static str,
    /// What the status must say (why it is not done).
    says: &'static str,
}

/// The programs a learner easily gets wrong, by exercise id.
fn wrong_program(id: &str) -> Option<Wrong> {
    Some(match id {
        // The classic mistake: sending the server's port, not one's own.
        "ports-ephemeral" => Wrong {
            command: r#"python3 -c "import socket; s = socket.create_connection(('{host:tcp-echo}', {port:tcp-echo})); s.sendall(b'my port is {port:tcp-echo}'); s.recv(1024); s.close()""#,
            state: "failed",
            says: "Send this socket's own local port",
        },
        // Plain TCP to the TLS port: told why, and not done.
        "tls-roundtrip" => Wrong {
            command: "SOCKET_LAB_TLS_ECHO_PORT={port:tls-echo} python3 book/src/code/python/tls_plain_mistake.py",
            state: "failed",
            says: "not a TLS handshake",
        },
        "tcp-echo-roundtrip" => Wrong {
            command: r#"python3 -c "import socket; s = socket.create_connection(('{host:tcp-echo}', {port:tcp-echo})); s.sendall(b'Goodbye, Server'); print(s.recv(1024)); s.close()""#,
            state: "failed",
            says: "not \"Hello, Server\"",
        },
        // A 13-byte datagram is not cut.
        "udp-truncated" => Wrong {
            command: "SOCKET_LAB_UDP_ECHO_PORT={port:udp-echo} python3 book/src/code/python/udp_echo_client.py",
            state: "failed",
            says: "it must be larger than 1024 bytes",
        },
        "sticky-merge" => Wrong {
            command: r#"python3 -c "import socket; socket.create_connection(('{host:sticky}', {port:sticky})).close()""#,
            state: "failed",
            says: "ended before the demo read anything",
        },
        // JSON with no length header: its first 4 bytes read as a huge length.
        "framing-send-frame" => Wrong {
            command: r#"python3 -c "import socket; s = socket.create_connection(('{host:framed}', {port:framed})); s.sendall(b'{\"msg\": \"Hello\"}'); s.recv(1024); s.close()""#,
            state: "failed",
            says: "(too_large)",
        },
        "auth-python" => Wrong {
            command: "SOCKET_LAB_AUTH_PORT={port:auth} SOCKET_LAB_SECRET=wrong python3 book/src/code/python/auth_client.py",
            state: "failed",
            says: "wrong answer",
        },
        // One connection is not five at once.
        "concurrency-many" => Wrong {
            command: "SOCKET_LAB_UPPERCASE_PORT={port:uppercase} python3 book/src/code/python/uppercase_client.py",
            state: "failed",
            says: "at most 1 of your connections were open at the same moment",
        },
        // A plain close looks like this from the server: not a half-close.
        "beyond-half-close" => Wrong {
            command: "SOCKET_LAB_TCP_ECHO_PORT={port:tcp-echo} python3 book/src/code/python/tcp_echo_client.py",
            state: "progress",
            says: "does not show a half-close",
        },
        // Another demo than the one the task names: it does not count.
        "cs-own-client" => Wrong {
            command: "SOCKET_LAB_UPPERCASE_PORT={port:uppercase} python3 book/src/code/python/uppercase_client.py",
            state: "waiting",
            says: "Waiting for your client",
        },
        "osi-app-bytes" => Wrong {
            command: "SOCKET_LAB_TCP_ECHO_PORT={port:tcp-echo} python3 book/src/code/python/tcp_echo_client.py",
            state: "waiting",
            says: "Waiting for your client",
        },
        // TCP to the same port number is another port: TCP and UDP ports
        // are separate spaces.
        "tcp-udp-datagram" => Wrong {
            command: "SOCKET_LAB_UPPERCASE_PORT={port:uppercase} python3 book/src/code/python/uppercase_client.py",
            state: "waiting",
            says: "Waiting for your client",
        },
        _ => return None,
    })
}

/// Runs `command` with `sh -c` from the repository root, as a learner would
/// in a terminal, without blocking the in-process server. Returns whether it
/// succeeded, and its output.
async fn run(command: &str) -> Result<(bool, String)> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(repo())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), child)
        .await
        .with_context(|| format!("{command}: still running after 30 s"))?
        .with_context(|| format!("sh -c {command}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// The exercise status's text and attributes.
async fn status(c: &Client) -> Result<(String, Option<String>, Option<String>)> {
    let el = c.find(Locator::Css(STATUS)).await?;
    Ok((
        el.text().await?,
        el.attr("data-state").await?,
        el.attr("data-done").await?,
    ))
}

/// Waits until the status is in `state` and says `says`.
async fn wait_status(c: &Client, what: &str, state: &str, says: &str) -> Result<String> {
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    loop {
        let (text, st, _) = status(c).await?;
        if st.as_deref() == Some(state) && text.contains(says) {
            return Ok(text);
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{what}: the exercise did not say {says:?} (state {state}); it shows {text:?} (state {st:?})"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The attribute `name` of the element at `css`, which must have it.
async fn attr(c: &Client, css: &str, name: &str) -> Result<String> {
    c.find(Locator::Css(css))
        .await?
        .attr(name)
        .await?
        .with_context(|| format!("{css} has no {name}"))
}

async fn check_chapter(c: &Client, server: &RunningServer, chapter: &str) -> Result<()> {
    c.goto(&format!("{}/book/{chapter}.html", server.base))
        .await?;
    let labs = c.find_all(Locator::Css("socket-lab")).await?.len();
    wait_count(c, "socket-lab[data-ready=true]", labs)
        .await
        .with_context(|| format!("{chapter}: labs did not load"))?;
    // The chapter's own lab (not the quiz or exercise) is live.
    wait_contains(c, "[data-role=mode]", "live on your machine")
        .await
        .with_context(|| format!("{chapter}: lab not live"))?;

    // The quiz loads and grades (quiz.rs covers it fully): question 1
    // answered right, from the quiz file itself.
    let src = attr(c, "socket-lab[lab=quiz]", "src").await?;
    let quiz: Value = serde_json::from_str(&std::fs::read_to_string(book_src().join(&src))?)?;
    let answer = quiz["questions"][0]["answer"].as_u64().context("answer")?;
    wait_count(
        c,
        "socket-lab[lab=quiz] [data-question]",
        quiz["questions"].as_array().map_or(0, Vec::len),
    )
    .await?;
    click(
        c,
        &format!("socket-lab[lab=quiz] [data-question='0'] [data-choice='{answer}']"),
    )
    .await?;
    wait_contains(
        c,
        "socket-lab[lab=quiz] [data-question='0'] [data-role=feedback]",
        "Right.",
    )
    .await
    .with_context(|| format!("{chapter}: quiz not graded"))?;

    // The exercise, from a terminal.
    let id = attr(c, "socket-lab[lab=exercise]", "exercise").await?;
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(book_src().join("exercises.json"))?)?;
    let exercise = all
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == id.as_str()))
        .with_context(|| format!("exercise {id} in exercises.json"))?;
    let command = exercise["commands"][0]
        .as_str()
        .with_context(|| format!("exercise {id} has no commands"))?;
    wait_status(c, &id, "waiting", "Waiting for your client").await?;
    // The page shows the commands with the same ports.
    wait_contains(
        c,
        "socket-lab[lab=exercise] .sl-commands code",
        &e2e::fill(command, server)?,
    )
    .await
    .with_context(|| format!("{id}: the page does not show its command with the server's ports"))?;

    if let Some(wrong) = wrong_program(&id) {
        let cmd = e2e::fill(wrong.command, server)?;
        let (_, out) = run(&cmd).await?;
        let said = wait_status(
            c,
            &format!("{id} after a wrong program"),
            wrong.state,
            wrong.says,
        )
        .await
        .with_context(|| format!("{id}: ran {cmd}, which printed {out:?}"))?;
        let (text, _, done) = status(c).await?;
        ensure!(
            done.is_none() && !text.contains("Done"),
            "{id}: {cmd} must not complete the exercise, yet it shows {text:?}"
        );
        println!("{id}, wrong program: {said}");
    }

    let cmd = e2e::fill(command, server)?;
    let (ok, out) = run(&cmd).await?;
    ensure!(ok, "{id}: {cmd} failed: {out}");
    let done = wait_contains(
        c,
        &format!("{STATUS}[data-done=true][data-state=done]"),
        "Done",
    )
    .await
    .with_context(|| format!("{id}: not marked done after {cmd}, which printed {out:?}"))?;
    ensure!(
        done.starts_with("✓ Done: "),
        "{id}: the done status reads {done:?}"
    );
    println!("{id}: {done}");
    Ok(())
}

#[tokio::test]
async fn every_chapter_has_a_live_lab_a_graded_quiz_and_a_completable_exercise() -> Result<()> {
    let chapters = topic_chapters()?;
    let site = Site::start_live(|_| {}).await?;
    site.each_chapter(&chapters, String::clone, async |c, site, chapter| {
        check_chapter(c, site.server().context("a live site")?, chapter).await
    })
    .await
}
