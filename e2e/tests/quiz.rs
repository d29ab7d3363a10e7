//! The quizzes in a real browser, chapter by chapter: a wrong answer shows
//! every option's explanation with the right and the chosen one marked, locks
//! the question, counts in the score, and "Retry the ones I missed" resets
//! that question and nothing else.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use e2e::{Site, click, texts, wait_contains, wait_count};
use fantoccini::{Client, Locator};
use serde_json::Value;

fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src")
}

/// Chapters with a quiz, in book order, with their quiz files, from SUMMARY.md.
fn quiz_chapters() -> Result<Vec<(String, Value)>> {
    let summary = std::fs::read_to_string(book_src().join("SUMMARY.md"))?;
    let mut out = Vec::new();
    for line in summary.lines() {
        let Some(file) = line.split("](").nth(1).and_then(|r| r.strip_suffix(')')) else {
            continue;
        };
        let md = std::fs::read_to_string(book_src().join(file))?;
        let Some(src) = md
            .split("lab=\"quiz\" src=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let quiz: Value = serde_json::from_str(&std::fs::read_to_string(book_src().join(src))?)
            .with_context(|| format!("{src} is not valid JSON"))?;
        out.push((file.trim_end_matches(".md").to_owned(), quiz));
    }
    ensure!(
        out.len() >= 10,
        "expected the topic chapters, found {}",
        out.len()
    );
    Ok(out)
}

/// The text as the page shows it: code spans lose their backticks.
fn shown(text: &str) -> String {
    text.replace('`', "")
}

fn answer_of(quiz: &Value, qi: usize) -> Result<usize> {
    quiz["questions"][qi]["answer"]
        .as_u64()
        .map(|a| a as usize)
        .with_context(|| format!("question {qi} has no answer"))
}

fn choices_of(quiz: &Value, qi: usize) -> Result<&Vec<Value>> {
    quiz["questions"][qi]["choices"]
        .as_array()
        .with_context(|| format!("question {qi} has no choices"))
}

async fn check_chapter(c: &Client, base: &str, chapter: &str, quiz: &Value) -> Result<()> {
    c.goto(&format!("{base}/book/{chapter}.html")).await?;
    let total = quiz["questions"].as_array().map_or(0, Vec::len);
    ensure!(total >= 2, "{chapter}: a quiz needs at least two questions");
    let q = |qi: usize, rest: &str| format!("socket-lab[lab=quiz] [data-question='{qi}'] {rest}");
    wait_count(c, "socket-lab[lab=quiz] [data-question]", total)
        .await
        .with_context(|| format!("{chapter}: the quiz did not load"))?;
    let score = "socket-lab[lab=quiz] [data-role=score]";
    wait_contains(c, score, &format!("0 of {total} right")).await?;

    // Answer question 1 wrongly.
    let choices = choices_of(quiz, 0)?;
    let right = answer_of(quiz, 0)?;
    let wrong = (right + 1) % choices.len();
    click(c, &q(0, &format!("[data-choice='{wrong}']"))).await?;
    wait_contains(c, &q(0, "[data-role=feedback]"), "Not quite.")
        .await
        .with_context(|| format!("{chapter}: a wrong answer was not graded"))?;

    // Every option's explanation is shown, marked.
    let whys = texts(c, &q(0, "[data-role=why]:not([hidden])")).await?;
    ensure!(
        whys.len() == choices.len(),
        "{chapter}: {} of {} explanations shown",
        whys.len(),
        choices.len()
    );
    for (ci, (choice, seen)) in choices.iter().zip(&whys).enumerate() {
        let why = shown(choice["why"].as_str().context("an option without why")?);
        ensure!(
            seen.contains(&why),
            "{chapter}: option {ci} shows {seen:?}, not its explanation {why:?}"
        );
        let mark = if ci == right {
            "Right answer:"
        } else if ci == wrong {
            "Your choice, wrong:"
        } else {
            "Wrong:"
        };
        ensure!(
            seen.starts_with(mark),
            "{chapter}: option {ci} should be marked {mark:?}: {seen:?}"
        );
    }
    let text = texts(c, &q(0, "[data-role=feedback]")).await?.join(" ");
    ensure!(
        !text.contains('`'),
        "{chapter}: backticks in the page: {text:?}"
    );
    wait_contains(
        c,
        score,
        &format!("0 of {total} right (1 of {total} answered)"),
    )
    .await?;

    // The question is locked: the right option, clicked now, changes nothing.
    click(c, &q(0, &format!("[data-choice='{right}']"))).await?;
    let feedback = texts(c, &q(0, "[data-role=feedback]")).await?.join(" ");
    ensure!(
        feedback.contains("Not quite."),
        "{chapter}: a locked question was graded again: {feedback:?}"
    );

    // Answer question 2 rightly, so the retry has something to keep.
    let right2 = answer_of(quiz, 1)?;
    click(c, &q(1, &format!("[data-choice='{right2}']"))).await?;
    wait_contains(c, &q(1, "[data-role=feedback]"), "Right.").await?;
    wait_contains(
        c,
        score,
        &format!("1 of {total} right (2 of {total} answered)"),
    )
    .await?;

    // Retry the ones I missed: question 1 is open again, question 2 stays.
    click(c, "socket-lab[lab=quiz] button[data-role=retry]").await?;
    wait_count(c, &q(0, "[data-role=why]:not([hidden])"), 0)
        .await
        .with_context(|| format!("{chapter}: retry left the explanations up"))?;
    let feedback = texts(c, &q(0, "[data-role=feedback]")).await?.join(" ");
    ensure!(
        feedback.trim().is_empty(),
        "{chapter}: retry left feedback: {feedback:?}"
    );
    wait_contains(
        c,
        score,
        &format!("1 of {total} right (1 of {total} answered)"),
    )
    .await?;
    let kept = texts(c, &q(1, "[data-role=why]:not([hidden])")).await?;
    ensure!(
        kept.len() == choices_of(quiz, 1)?.len(),
        "{chapter}: retry reset a question answered rightly"
    );
    let retry_shown = c
        .find_all(Locator::Css(
            "socket-lab[lab=quiz] button[data-role=retry]:not([hidden])",
        ))
        .await?
        .len();
    ensure!(
        retry_shown == 0,
        "{chapter}: retry still offered with nothing missed"
    );

    // And the retried question can now be answered rightly.
    click(c, &q(0, &format!("[data-choice='{right}']"))).await?;
    wait_contains(c, &q(0, "[data-role=feedback]"), "Right.")
        .await
        .with_context(|| format!("{chapter}: the retried question did not unlock"))?;
    wait_contains(c, score, &format!("2 of {total} right")).await?;
    Ok(())
}

#[tokio::test]
async fn every_quiz_explains_every_option_scores_and_retries_the_missed() -> Result<()> {
    let chapters = quiz_chapters()?;
    let site = Site::start_live(|_| {}).await?;
    let name = |(chapter, _): &(String, Value)| chapter.clone();
    site.each_chapter(&chapters, name, async |c, site, (chapter, quiz)| {
        check_chapter(c, site.base(), chapter, quiz).await
    })
    .await
}
