//! Quizzes: a few questions per chapter, stored with the book as JSON and
//! graded here in the page, with the reason for every option.
//!
//! # The file format: `book/src/quiz/<chapter>.json`
//!
//! ```json
//! {
//!   "title": "TCP vs UDP",
//!   "questions": [
//!     {
//!       "prompt": "What does `recv(1024)` return when …?",
//!       "code": "optional: a program to read, shown as a block under the prompt",
//!       "answer": 1,
//!       "choices": [
//!         { "text": "a wrong option", "why": "why a learner might think so, and why it is wrong" },
//!         { "text": "the right option", "why": "why it is right" }
//!       ],
//!       "try": "optional: what to do in the chapter's lab to see the answer happen"
//!     }
//!   ]
//! }
//! ```
//!
//! - `answer` is the index (from 0) of the right choice.
//! - Every choice carries its own `why`. After a question is answered, every
//!   option's `why` is shown under it, the right one and the chosen one
//!   marked, because seeing why a tempting option is wrong teaches more than
//!   "Not quite".
//! - A question with `try` is a *predict* question: the learner commits to a
//!   prediction of what a program or the chapter's lab will do, and after
//!   answering is told how to run it and see.
//! - `code`, if present, is shown under the prompt as a `<pre>` block, for
//!   questions that ask what a program prints or does.
//! - Text between backticks is shown as `<code>`; the backticks never reach
//!   the page.
//!
//! `xtask/src/quiz_check.rs` (run by `cargo test`) keeps the files honest:
//! every option explained, the right answer not usually the longest, its
//! position spread out, a predict question in every chapter.
//!
//! # How a quiz behaves
//!
//! Each option is a `<button>` inside the question's `<fieldset>`, so a
//! keyboard user moves with Tab and commits with Enter; radio buttons would
//! commit on the first arrow key. The first answer locks the question. A
//! score line counts the right answers, and "Retry the ones I missed" unlocks
//! only the questions answered wrongly. The grading and the bookkeeping
//! ([`grade`], [`Sheet`]) are plain functions, tested natively below; the
//! rest of this file only mirrors them into the page.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

use super::Mounted;
use crate::dom::{Listener, add, attr, el, fetch_text};

/// A quiz file: `book/src/quiz/<chapter>.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quiz {
    /// Shown above the questions.
    pub title: String,
    /// The questions.
    pub questions: Vec<Question>,
}

/// One multiple-choice question.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The question.
    pub prompt: String,
    /// A program the question is about, shown as a block under the prompt.
    #[serde(default)]
    pub code: Option<String>,
    /// The options, each with its explanation.
    pub choices: Vec<Choice>,
    /// Index of the right choice.
    pub answer: usize,
    /// For a predict question: how to see the answer happen in the lab.
    #[serde(default, rename = "try")]
    pub try_it: Option<String>,
}

/// One option of a question.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// What the learner picks.
    pub text: String,
    /// Why this option is right or wrong.
    pub why: String,
}

/// How one option is marked once its question is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The learner chose it, and it is right.
    ChosenRight,
    /// The right answer, not chosen.
    Right,
    /// The learner chose it, and it is wrong.
    ChosenWrong,
    /// Wrong, and not chosen.
    Wrong,
}

impl Mark {
    /// The words shown before the option's explanation.
    pub fn label(self) -> &'static str {
        match self {
            Mark::ChosenRight => "Your choice, right:",
            Mark::Right => "Right answer:",
            Mark::ChosenWrong => "Your choice, wrong:",
            Mark::Wrong => "Wrong:",
        }
    }

    /// The value of the option's `data-mark` attribute.
    pub fn attr(self) -> &'static str {
        match self {
            Mark::ChosenRight => "chosen right",
            Mark::Right => "right",
            Mark::ChosenWrong => "chosen wrong",
            Mark::Wrong => "wrong",
        }
    }
}

/// The result of answering one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graded {
    /// Whether the chosen option is the right one.
    pub right: bool,
    /// The sentence announced to the learner.
    pub feedback: String,
    /// One mark per option, in order.
    pub marks: Vec<Mark>,
}

/// Grades a choice: whether it is right, what to announce, how to mark each option.
pub fn grade(q: &Question, choice: usize) -> Graded {
    let right = choice == q.answer;
    let marks = (0..q.choices.len())
        .map(|i| match (i == choice, i == q.answer) {
            (true, true) => Mark::ChosenRight,
            (false, true) => Mark::Right,
            (true, false) => Mark::ChosenWrong,
            (false, false) => Mark::Wrong,
        })
        .collect();
    let feedback = if right {
        "Right. Each option now shows why it is right or wrong.".to_owned()
    } else {
        let answer = q.choices.get(q.answer).map_or(String::new(), |c| {
            plain(&c.text).trim_end_matches('.').to_owned()
        });
        format!(
            "Not quite. The right answer is option {}: {answer}. Each option now shows why it is right or wrong.",
            q.answer + 1
        )
    };
    Graded {
        right,
        feedback,
        marks,
    }
}

/// One learner's answers to one quiz: which questions are locked, which are right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// Per question: `Some(right)` once answered.
    answers: Vec<Option<bool>>,
}

impl Sheet {
    /// A blank sheet for `questions` questions.
    pub fn new(questions: usize) -> Self {
        Self {
            answers: vec![None; questions],
        }
    }

    /// Records the first answer to question `qi`. A question that is already
    /// answered stays locked: the answer is ignored and `false` returned.
    pub fn record(&mut self, qi: usize, right: bool) -> bool {
        match self.answers.get_mut(qi) {
            Some(slot @ None) => {
                *slot = Some(right);
                true
            }
            _ => false,
        }
    }

    /// Whether question `qi` is answered (and so locked).
    pub fn is_locked(&self, qi: usize) -> bool {
        matches!(self.answers.get(qi), Some(Some(_)))
    }

    /// How many questions are answered right.
    pub fn right(&self) -> usize {
        self.answers.iter().filter(|a| **a == Some(true)).count()
    }

    /// How many questions are answered at all.
    pub fn answered(&self) -> usize {
        self.answers.iter().filter(|a| a.is_some()).count()
    }

    /// The questions answered wrongly, in order.
    pub fn missed(&self) -> Vec<usize> {
        (0..self.answers.len())
            .filter(|&i| self.answers[i] == Some(false))
            .collect()
    }

    /// Unlocks the questions answered wrongly, and only those; returns them.
    pub fn retry_missed(&mut self) -> Vec<usize> {
        let missed = self.missed();
        for &i in &missed {
            self.answers[i] = None;
        }
        missed
    }

    /// The score line, e.g. "3 of 5 right".
    pub fn score(&self) -> String {
        let (right, answered, total) = (self.right(), self.answered(), self.answers.len());
        if answered == total {
            format!("Score: {right} of {total} right")
        } else {
            format!("Score: {right} of {total} right ({answered} of {total} answered)")
        }
    }
}

/// Splits `text` at backticks: `(is_code, piece)`, in order, empty pieces
/// left out. An unpaired backtick is kept as plain text.
pub fn code_spans(text: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else {
            break;
        };
        if open > 0 {
            out.push((false, &rest[..open]));
        }
        if len > 0 {
            out.push((true, &rest[open + 1..open + 1 + len]));
        }
        rest = &rest[open + 1 + len + 1..];
    }
    if !rest.is_empty() {
        out.push((false, rest));
    }
    out
}

/// The text without its backticks, for places that can't hold `<code>`.
pub fn plain(text: &str) -> String {
    code_spans(text).into_iter().map(|(_, t)| t).collect()
}

/// Appends `text` to `parent`, code spans as `<code>`.
fn rich(parent: &Element, text: &str) {
    for (code, piece) in code_spans(text) {
        if code {
            add(parent, el("code", "", piece));
        } else {
            let _ = parent.append_with_str_1(piece);
        }
    }
}

/// One question's elements.
struct QuestionView {
    options: Vec<Element>,
    whys: Vec<Element>,
    feedback: Element,
    try_it: Option<Element>,
    fieldset: Element,
}

/// A rendered quiz and its sheet.
struct View {
    quiz: Quiz,
    sheet: RefCell<Sheet>,
    questions: Vec<QuestionView>,
    score: Element,
    retry: Element,
}

impl View {
    fn answer(&self, qi: usize, choice: usize) {
        let (Some(q), Some(v)) = (self.quiz.questions.get(qi), self.questions.get(qi)) else {
            return;
        };
        if choice >= q.choices.len() || self.sheet.borrow().is_locked(qi) {
            return;
        }
        let graded = grade(q, choice);
        self.sheet.borrow_mut().record(qi, graded.right);
        for (ci, mark) in graded.marks.iter().enumerate() {
            let (option, why) = (&v.options[ci], &v.whys[ci]);
            attr(option, "aria-disabled", "true");
            attr(
                option,
                "aria-pressed",
                if ci == choice { "true" } else { "false" },
            );
            attr(option, "data-mark", mark.attr());
            why.set_inner_html("");
            add(why, el("strong", "", mark.label()));
            let _ = why.append_with_str_1(" ");
            rich(why, &q.choices[ci].why);
            attr(why, "data-mark", mark.attr());
            let _ = why.remove_attribute("hidden");
        }
        if let Some(t) = &v.try_it {
            let _ = t.remove_attribute("hidden");
        }
        v.feedback.set_text_content(Some(&graded.feedback));
        attr(
            &v.fieldset,
            "data-correct",
            if graded.right { "true" } else { "false" },
        );
        self.update_score();
    }

    fn retry_missed(&self) {
        let reset = self.sheet.borrow_mut().retry_missed();
        for &qi in &reset {
            let v = &self.questions[qi];
            for (option, why) in v.options.iter().zip(&v.whys) {
                for a in ["aria-disabled", "data-mark"] {
                    let _ = option.remove_attribute(a);
                }
                attr(option, "aria-pressed", "false");
                why.set_inner_html("");
                let _ = why.remove_attribute("data-mark");
                attr(why, "hidden", "");
            }
            if let Some(t) = &v.try_it {
                attr(t, "hidden", "");
            }
            v.feedback.set_text_content(Some(""));
            let _ = v.fieldset.remove_attribute("data-correct");
        }
        self.update_score();
        // Take the keyboard to the first question to try again.
        if let Some(first) = reset
            .first()
            .and_then(|&qi| self.questions[qi].options.first())
            && let Some(b) = first.dyn_ref::<HtmlElement>()
        {
            let _ = b.focus();
        }
    }

    fn update_score(&self) {
        let sheet = self.sheet.borrow();
        self.score.set_text_content(Some(&sheet.score()));
        if sheet.missed().is_empty() {
            attr(&self.retry, "hidden", "");
        } else {
            let _ = self.retry.remove_attribute("hidden");
        }
    }
}

fn render(root: &Element, quiz: Quiz) -> Listener {
    let card = add(root, el("div", "sl-card sl-quiz", ""));
    add(
        &card,
        el("h3", "sl-title", &format!("Quiz: {}", quiz.title)),
    );
    // Ids must be unique in the page, and a page can hold several quizzes.
    let page_id = format!("q{}", js_sys::Math::random().to_bits());
    let mut questions = Vec::new();
    for (qi, q) in quiz.questions.iter().enumerate() {
        let fieldset = add(&card, el("fieldset", "sl-question", ""));
        attr(&fieldset, "data-question", &qi.to_string());
        let legend = add(&fieldset, el("legend", "", &format!("{}. ", qi + 1)));
        if q.try_it.is_some() {
            add(&legend, el("em", "", "Predict: "));
        }
        rich(&legend, &q.prompt);
        if let Some(code) = &q.code {
            let pre = add(&fieldset, el("pre", "sl-code", ""));
            add(&pre, el("code", "", code));
        }
        let mut options = Vec::new();
        let mut whys = Vec::new();
        for (ci, choice) in q.choices.iter().enumerate() {
            let wrap = add(&fieldset, el("div", "sl-option", ""));
            let option = add(&wrap, el("button", "sl-choice", ""));
            attr(&option, "type", "button");
            attr(&option, "data-choice", &ci.to_string());
            attr(&option, "aria-pressed", "false");
            rich(&option, &choice.text);
            let why = add(&wrap, el("p", "sl-explain sl-why", ""));
            let id = format!("{page_id}-{qi}-{ci}");
            attr(&why, "id", &id);
            attr(&why, "data-role", "why");
            attr(&why, "hidden", "");
            attr(&option, "aria-describedby", &id);
            options.push(option);
            whys.push(why);
        }
        let try_it = q.try_it.as_ref().map(|t| {
            let p = add(&fieldset, el("p", "sl-explain sl-try", ""));
            attr(&p, "data-role", "try");
            attr(&p, "hidden", "");
            add(&p, el("strong", "", "See it:"));
            let _ = p.append_with_str_1(" ");
            rich(&p, t);
            p
        });
        let feedback = add(&fieldset, el("p", "sl-feedback", ""));
        attr(&feedback, "data-role", "feedback");
        attr(&feedback, "aria-live", "polite");
        questions.push(QuestionView {
            options,
            whys,
            feedback,
            try_it,
            fieldset,
        });
    }
    let footer = add(&card, el("div", "sl-buttons", ""));
    let score = add(&footer, el("p", "sl-verdict", ""));
    attr(&score, "data-role", "score");
    let retry = add(
        &footer,
        el("button", "sl-button", "Retry the ones I missed"),
    );
    attr(&retry, "type", "button");
    attr(&retry, "data-role", "retry");
    attr(&retry, "hidden", "");
    let view = Rc::new(View {
        sheet: RefCell::new(Sheet::new(quiz.questions.len())),
        quiz,
        questions,
        score,
        retry,
    });
    view.update_score();
    // One listener for the whole quiz: the click's target says what was pressed.
    Listener::new(&card, "click", move |e| {
        let Some(target) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        if let Ok(Some(option)) = target.closest("[data-choice]") {
            let index = |e: Option<Element>, name: &str| {
                e.and_then(|e| e.get_attribute(name))
                    .and_then(|v| v.parse::<usize>().ok())
            };
            let qi = index(
                option.closest("[data-question]").ok().flatten(),
                "data-question",
            );
            let ci = index(Some(option), "data-choice");
            if let (Some(qi), Some(ci)) = (qi, ci) {
                view.answer(qi, ci);
            }
        } else if let Ok(Some(_)) = target.closest("[data-role=retry]") {
            view.retry_missed();
        }
    })
}

/// Builds the quiz named by the element's `src` attribute.
pub fn mount(root: &HtmlElement) -> Result<Mounted, String> {
    let src = root
        .get_attribute("src")
        .ok_or("<socket-lab lab=\"quiz\"> needs src=\"quiz/<chapter>.json\"")?;
    let listeners = Rc::new(RefCell::new(Vec::new()));
    let (r, ls): (Element, _) = (root.clone().into(), listeners.clone());
    wasm_bindgen_futures::spawn_local(async move {
        match fetch_text(&src)
            .await
            .and_then(|t| serde_json::from_str::<Quiz>(&t).map_err(|e| format!("{src}: {e}")))
        {
            Ok(quiz) => ls.borrow_mut().push(render(&r, quiz)),
            Err(e) => super::load_failed(&r, "quiz", &e),
        }
    });
    Ok(Mounted::with_state(Vec::new(), listeners))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question() -> Question {
        Question {
            prompt: "p".into(),
            choices: ["a", "b", "`c()`"]
                .iter()
                .map(|t| Choice {
                    text: (*t).into(),
                    why: format!("why {t}"),
                })
                .collect(),
            answer: 2,
            code: None,
            try_it: None,
        }
    }

    #[test]
    fn a_right_answer_marks_every_option() {
        let g = grade(&question(), 2);
        assert!(g.right);
        assert!(g.feedback.starts_with("Right."));
        assert_eq!(g.marks, [Mark::Wrong, Mark::Wrong, Mark::ChosenRight]);
    }

    #[test]
    fn a_wrong_answer_names_the_right_one_without_backticks() {
        let g = grade(&question(), 0);
        assert!(!g.right);
        assert!(g.feedback.starts_with("Not quite."), "{}", g.feedback);
        assert!(g.feedback.contains("option 3: c()."), "{}", g.feedback);
        assert!(!g.feedback.contains('`'));
        assert_eq!(g.marks, [Mark::ChosenWrong, Mark::Wrong, Mark::Right]);
    }

    #[test]
    fn an_answer_locks_its_question() {
        let mut s = Sheet::new(3);
        assert!(s.record(0, false));
        assert!(s.is_locked(0));
        // A second click, even on the right option, changes nothing.
        assert!(!s.record(0, true));
        assert_eq!((s.right(), s.answered()), (0, 1));
        assert!(!s.record(7, true), "no such question");
    }

    #[test]
    fn the_score_counts_right_answers() {
        let mut s = Sheet::new(3);
        assert_eq!(s.score(), "Score: 0 of 3 right (0 of 3 answered)");
        s.record(0, true);
        s.record(1, false);
        assert_eq!(s.score(), "Score: 1 of 3 right (2 of 3 answered)");
        s.record(2, true);
        assert_eq!(s.score(), "Score: 2 of 3 right");
    }

    #[test]
    fn retry_unlocks_only_the_missed_questions() {
        let mut s = Sheet::new(4);
        s.record(0, true);
        s.record(1, false);
        s.record(3, false);
        assert_eq!(s.missed(), [1, 3]);
        assert_eq!(s.retry_missed(), [1, 3]);
        assert!(s.is_locked(0), "a right answer stays");
        assert!(!s.is_locked(1) && !s.is_locked(3));
        assert!(!s.is_locked(2), "an unanswered question stays open");
        assert!(s.missed().is_empty());
        assert_eq!(s.right(), 1);
        assert!(s.record(1, true));
        assert_eq!(s.score(), "Score: 2 of 4 right (2 of 4 answered)");
    }

    #[test]
    fn backticks_become_code_spans() {
        assert_eq!(
            code_spans("call `recv(3)` twice"),
            [(false, "call "), (true, "recv(3)"), (false, " twice")]
        );
        assert_eq!(code_spans("`a``b`"), [(true, "a"), (true, "b")]);
        assert_eq!(code_spans("odd ` tick"), [(false, "odd ` tick")]);
        assert_eq!(code_spans(""), Vec::<(bool, &str)>::new());
        assert_eq!(plain("`b''` means EOF"), "b'' means EOF");
    }

    #[test]
    fn the_file_format_parses_and_rejects_the_old_one() {
        let new = r#"{"title":"t","questions":[{"prompt":"p","answer":0,
            "choices":[{"text":"a","why":"w"}],"try":"run it","code":"print(1)"}]}"#;
        let q: Quiz = serde_json::from_str(new).unwrap();
        assert_eq!(q.questions[0].try_it.as_deref(), Some("run it"));
        assert_eq!(q.questions[0].code.as_deref(), Some("print(1)"));
        let old = r#"{"title":"t","questions":[{"prompt":"p","answer":0,
            "choices":["a"],"explain":"e"}]}"#;
        assert!(serde_json::from_str::<Quiz>(old).is_err());
    }
}
