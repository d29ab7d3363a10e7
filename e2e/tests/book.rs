//! The course in a real browser: every chapter's lab live, a quiz question
//! answered, and the chapter's exercise completed by running the book's own
//! sample client against the server, as a learner would from a terminal.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use e2e::{
    BrowserOptions, RunningServer, click, start_server, wait_contains, wait_count, with_browser,
};
use fantoccini::{Client, Locator};
use serde_json::Value;

fn book_src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src")
}

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

/// The sample client that completes an exercise on `demo`.
fn client_for(demo: &str) -> Result<(&'static str, &'static str)> {
    Ok(match demo {
        "tcp-echo" => ("tcp_echo_client.py", "SOCKET_LAB_TCP_ECHO_PORT"),
        "udp-echo" => ("udp_echo_client.py", "SOCKET_LAB_UDP_ECHO_PORT"),
        "uppercase" => ("uppercase_client.py", "SOCKET_LAB_UPPERCASE_PORT"),
        "framed" => ("framed_client.py", "SOCKET_LAB_FRAMED_PORT"),
        "auth" => ("auth_client.py", "SOCKET_LAB_AUTH_PORT"),
        "sticky" => ("sticky_client.py", "SOCKET_LAB_STICKY_PORT"),
        other => bail!("no sample client for {other}"),
    })
}

/// Runs the client as a separate process, without blocking the in-process server.
async fn run_sample(server: &RunningServer, demo: &str) -> Result<String> {
    let (file, var) = client_for(demo)?;
    let port = server.demo(demo)?.port();
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

    // Answer the first quiz question correctly, from the quiz file itself.
    let src = c
        .find(Locator::Css("socket-lab[lab=quiz]"))
        .await?
        .attr("src")
        .await?
        .context("quiz without src")?;
    let quiz: Value = serde_json::from_str(&std::fs::read_to_string(book_src().join(&src))?)?;
    let answer = quiz["questions"][0]["answer"].as_u64().context("answer")?;
    wait_count(
        c,
        "[data-question]",
        quiz["questions"].as_array().map_or(0, Vec::len),
    )
    .await?;
    click(c, &format!("[data-question='0'] [data-choice='{answer}']")).await?;
    wait_contains(c, "[data-question='0'] [data-role=feedback]", "Right.")
        .await
        .with_context(|| format!("{chapter}: quiz not graded"))?;
    let wrong = (answer + 1)
        % quiz["questions"][1]["choices"]
            .as_array()
            .map_or(2, |a| a.len() as u64);
    let right1 = quiz["questions"][1]["answer"].as_u64().context("answer")?;
    if wrong != right1 {
        click(c, &format!("[data-question='1'] [data-choice='{wrong}']")).await?;
        wait_contains(c, "[data-question='1'] [data-role=feedback]", "Not quite.").await?;
    }

    // The exercise: run the book's sample client, as the learner would.
    let exercise = c
        .find(Locator::Css("socket-lab[lab=exercise]"))
        .await?
        .attr("exercise")
        .await?
        .context("exercise id")?;
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(book_src().join("exercises.json"))?)?;
    let demo = all
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == exercise.as_str()))
        .and_then(|e| e["demo"].as_str())
        .context("exercise in exercises.json")?
        .to_owned();
    wait_contains(c, "[data-role=exercise-status]", "Waiting for your client").await?;
    run_sample(server, &demo).await?;
    wait_contains(c, "[data-role=exercise-status][data-done=true]", "Done")
        .await
        .with_context(|| format!("{chapter}: exercise {exercise} not marked done"))?;
    Ok(())
}

#[tokio::test]
async fn every_chapter_has_a_live_lab_a_graded_quiz_and_a_completable_exercise() -> Result<()> {
    let chapters = topic_chapters()?;
    let server = start_server(|_| {}).await?;
    let result = with_browser(BrowserOptions::default(), |c| {
        let server = &server;
        async move {
            for chapter in &chapters {
                check_chapter(&c, server, chapter).await?;
            }
            Ok(())
        }
    })
    .await;
    server.stop().await?;
    result
}
