//! The quiz check: the book's quizzes must test understanding, not test-taking.
//!
//! A learner who has not read the chapter should not be able to pass its quiz
//! by picking the longest option, or the third one. This test (run by
//! `cargo test`, and so by `cargo xtask test`) reads every
//! `book/src/quiz/*.json` and fails with a list of what is wrong. The file
//! format is described in `wasm-client/src/labs/quiz.rs`. The rules:
//!
//! 1. **Every option is explained**: each choice is `{"text", "why"}`, both
//!    non-empty; no other fields, so an old single `explain` is caught.
//! 2. **Length carries no signal**: in each quiz, the right answer is the
//!    longest option (ties count) in at most 40 % of the questions, and the
//!    shortest in at most 40 % too, so the fix for one signal doesn't become
//!    the opposite one.
//! 3. **Position carries no signal**: across all quizzes no position holds
//!    more than 40 % of the right answers; in a quiz of 4 or more questions no
//!    position holds more than half of them.
//! 4. **A prediction in every chapter**: each quiz has at least one question
//!    with `try`, asking what a program or the chapter's lab will do.
//! 5. Well-formed: at least 3 options, `answer` in range, no two options
//!    alike, backticks (code spans) paired, `code` and `try` non-empty text.
//!
//! Lengths are counted in characters with the backticks removed, as the page
//! shows them.
#![cfg(test)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The share of questions (in a quiz, or of all answers) a signal may reach.
const MAX_SHARE_PERCENT: usize = 40;

/// The length the learner sees: characters, without code-span backticks.
fn shown_len(text: &str) -> usize {
    text.chars().filter(|&c| c != '`').count()
}

fn text_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn unpaired_backtick(text: &str) -> bool {
    text.matches('`').count() % 2 == 1
}

/// The required text field `key` of `v`, if there is one. A missing one is the
/// problem `{at}: {missing}`, an unpaired backtick in it `{at}: unpaired
/// backtick in {named}`.
fn required_text<'a>(
    problems: &mut Vec<String>,
    v: &'a Value,
    key: &str,
    at: &str,
    (named, missing): (&str, &str),
) -> Option<&'a str> {
    let text = text_field(v, key);
    match text {
        Some(t) if unpaired_backtick(t) => {
            problems.push(format!("{at}: unpaired backtick in {named}"))
        }
        Some(_) => {}
        None => problems.push(format!("{at}: {missing}")),
    }
    text
}

/// The right answer's index of each well-formed question, and every problem found.
fn check_quiz(name: &str, quiz: &Value, problems: &mut Vec<String>) -> Vec<usize> {
    let mut answers = Vec::new();
    if text_field(quiz, "title").is_none() {
        problems.push(format!("{name}: no title"));
    }
    let Some(questions) = quiz.get("questions").and_then(Value::as_array) else {
        problems.push(format!("{name}: no questions array"));
        return answers;
    };
    if questions.is_empty() {
        problems.push(format!("{name}: no questions"));
    }
    let (mut longest, mut shortest, mut predict) = (0, 0, 0);
    for (qi, q) in questions.iter().enumerate() {
        let at = format!("{name} question {}", qi + 1);
        for key in q.as_object().into_iter().flat_map(|o| o.keys()) {
            if !["prompt", "code", "choices", "answer", "try"].contains(&key.as_str()) {
                problems.push(format!(
                    "{at}: unknown field {key:?} (explanations go in each choice's \"why\")"
                ));
            }
        }
        required_text(problems, q, "prompt", &at, ("the prompt", "no prompt"));
        if q.get("code")
            .is_some_and(|c| c.as_str().is_none_or(|c| c.trim().is_empty()))
        {
            problems.push(format!("{at}: \"code\" must be non-empty text"));
        }
        match q.get("try") {
            None => {}
            Some(t) => match t.as_str().filter(|s| !s.trim().is_empty()) {
                Some(t) if unpaired_backtick(t) => {
                    problems.push(format!("{at}: unpaired backtick in \"try\""))
                }
                Some(_) => predict += 1,
                None => problems.push(format!("{at}: \"try\" must be non-empty text")),
            },
        }
        let Some(choices) = q.get("choices").and_then(Value::as_array) else {
            problems.push(format!("{at}: no choices array"));
            continue;
        };
        if choices.len() < 3 {
            problems.push(format!("{at}: {} options; give at least 3", choices.len()));
        }
        let mut texts = Vec::new();
        for (ci, c) in choices.iter().enumerate() {
            let opt = format!("{at} option {}", ci + 1);
            for key in c.as_object().into_iter().flat_map(|o| o.keys()) {
                if key != "text" && key != "why" {
                    problems.push(format!("{opt}: unknown field {key:?}"));
                }
            }
            let no_text = "no text (each choice is {\"text\", \"why\"})";
            if let Some(t) = required_text(problems, c, "text", &opt, ("the text", no_text)) {
                if texts.contains(&t) {
                    problems.push(format!("{opt}: the same text as another option"));
                }
                texts.push(t);
            }
            let no_why = "no explanation (\"why\")";
            required_text(problems, c, "why", &opt, ("the explanation", no_why));
        }
        let answer = q.get("answer").and_then(Value::as_u64).map(|a| a as usize);
        let Some(answer) = answer.filter(|&a| a < choices.len()) else {
            problems.push(format!("{at}: \"answer\" must be an index into choices"));
            continue;
        };
        if texts.len() != choices.len() {
            continue;
        }
        let lens: Vec<usize> = texts.iter().map(|t| shown_len(t)).collect();
        let right = lens[answer];
        if lens.iter().all(|&l| right >= l) {
            longest += 1;
        }
        if lens.iter().all(|&l| right <= l) {
            shortest += 1;
        }
        answers.push(answer);
    }
    let n = questions.len();
    for (count, what) in [(longest, "longest"), (shortest, "shortest")] {
        if count * 100 > MAX_SHARE_PERCENT * n {
            problems.push(format!(
                "{name}: the right answer is the {what} option in {count} of {n} questions \
                 (at most {MAX_SHARE_PERCENT} %): vary the lengths"
            ));
        }
    }
    if n >= 4 {
        let mut at: BTreeMap<usize, usize> = BTreeMap::new();
        for &a in &answers {
            *at.entry(a).or_default() += 1;
        }
        for (pos, count) in at {
            if count * 2 > n {
                problems.push(format!(
                    "{name}: option {} is right in {count} of {n} questions (at most half)",
                    pos + 1
                ));
            }
        }
    }
    if n > 0 && predict == 0 {
        problems.push(format!(
            "{name}: no predict question (one with \"try\": what will the program or lab do?)"
        ));
    }
    answers
}

/// Checks every quiz, and the positions of the right answers across all of them.
fn check_all(quizzes: &[(String, Value)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut at: BTreeMap<usize, usize> = BTreeMap::new();
    let mut total = 0;
    for (name, quiz) in quizzes {
        for a in check_quiz(name, quiz, &mut problems) {
            *at.entry(a).or_default() += 1;
            total += 1;
        }
    }
    for (pos, count) in at {
        if count * 100 > MAX_SHARE_PERCENT * total {
            problems.push(format!(
                "across all quizzes, option {} is right in {count} of {total} questions \
                 (at most {MAX_SHARE_PERCENT} %)",
                pos + 1
            ));
        }
    }
    problems
}

fn book_quizzes() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/quiz");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("book/src/quiz exists") {
        let path = entry.expect("listing book/src/quiz").path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("reading a quiz");
            let quiz = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
            out.push((name, quiz));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn the_books_quizzes_carry_no_test_taking_signal() {
    let quizzes = book_quizzes();
    assert!(
        quizzes.len() >= 11,
        "expected a quiz per chapter, found {}",
        quizzes.len()
    );
    let problems = check_all(&quizzes);
    assert!(
        problems.is_empty(),
        "the quizzes need work:\n  {}",
        problems.join("\n  ")
    );
}

mod fixtures {
    use serde_json::json;

    use super::*;

    fn choice(text: &str) -> Value {
        json!({ "text": text, "why": format!("because of {text}") })
    }

    /// A question whose right answer is `choices[answer]`.
    fn question(choices: &[&str], answer: usize) -> Value {
        json!({
            "prompt": "p",
            "answer": answer,
            "choices": choices.iter().map(|c| choice(c)).collect::<Vec<_>>(),
        })
    }

    fn quiz(questions: Vec<Value>) -> Value {
        let mut questions = questions;
        questions[0]["try"] = json!("run the lab");
        json!({ "title": "t", "questions": questions })
    }

    fn problems(quiz: Value) -> Vec<String> {
        check_all(&[("bad.json".into(), quiz)])
    }

    /// Checks `quiz` and asserts that some problem contains each of `needles`.
    fn assert_problems(quiz: Value, needles: &[&str]) {
        let p = problems(quiz);
        for needle in needles {
            assert!(p.iter().any(|p| p.contains(needle)), "{needle}: {p:?}");
        }
    }

    /// Four questions, right answers at 0..4, lengths mixed.
    fn good_questions() -> Vec<Value> {
        vec![
            question(&["right one", "a much longer wrong", "no"], 0),
            question(&["wrong option", "ok", "an even longer wrong"], 1),
            question(&["aaa", "bbbbbbbbbbbb", "medium", "cc"], 2),
            question(&["xxxxxxxxxx", "y", "zzzzzzzzzzzzzz", "right, mid"], 3),
        ]
    }

    #[test]
    fn a_good_quiz_passes() {
        assert_eq!(problems(quiz(good_questions())), Vec::<String>::new());
    }

    /// Quizzes whose right answers give themselves away: each question as
    /// (its options, the right one), and what the check must say.
    #[test]
    fn answers_that_give_themselves_away_fail() {
        type Case = (
            &'static [(&'static [&'static str], usize)],
            &'static [&'static str],
        );
        let cases: [Case; 3] = [
            // The longest answer always right.
            (
                &[
                    (&["the long right answer", "b", "c"], 0),
                    (&["a", "the long right answer", "c"], 1),
                    (&["a", "b", "the long right answer"], 2),
                    (&["a", "b", "c", "the long right answer"], 3),
                ],
                &["longest option in 4 of 4"],
            ),
            // The shortest answer always right.
            (
                &[
                    (&["r", "long wrong", "longer wrong"], 0),
                    (&["long wrong", "r", "longer wrong"], 1),
                    (&["long wrong", "longer wrong", "r"], 2),
                ],
                &["shortest option in 3 of 3"],
            ),
            // Answers piled on one position, here and across all quizzes.
            (
                &[
                    (&["wrong one", "ok", "another wrong"], 1),
                    (&["wrong", "right it is", "z"], 1),
                    (&["aaa", "right", "bbbbbbb"], 1),
                    (&["aa", "mid", "b"], 2),
                ],
                &[
                    "option 2 is right in 3 of 4",
                    "across all quizzes, option 2",
                ],
            ),
        ];
        for (questions, needles) in cases {
            let q = quiz(questions.iter().map(|(c, a)| question(c, *a)).collect());
            assert_problems(q, needles);
        }
    }

    #[test]
    fn a_missing_or_old_style_explanation_fails() {
        let mut qs = good_questions();
        qs[1]["choices"][2] = json!({ "text": "no why here" });
        qs[2]["explain"] = json!("one explanation for all options");
        qs[3]["choices"][0] = json!("a bare string");
        assert_problems(
            quiz(qs),
            &[
                "question 2 option 3: no explanation",
                "question 3: unknown field \"explain\"",
                "question 4 option 1: no text",
                "question 4 option 1: no explanation",
            ],
        );
    }

    #[test]
    fn a_quiz_without_a_prediction_or_with_broken_code_spans_fails() {
        let mut q = quiz(good_questions());
        q["questions"][0].as_object_mut().unwrap().remove("try");
        q["questions"][1]["choices"][0]["why"] = json!("an `unpaired backtick");
        q["questions"][2]["answer"] = json!(9);
        q["questions"][3]["code"] = json!(["not", "text"]);
        assert_problems(
            q,
            &[
                "no predict question",
                "question 2 option 1: unpaired backtick",
                "question 3: \"answer\" must be an index",
                "question 4: \"code\" must be non-empty text",
            ],
        );
    }
}
