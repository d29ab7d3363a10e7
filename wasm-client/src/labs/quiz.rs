//! Quizzes: a few questions per chapter, stored with the book as JSON and
//! graded here in the page, with the reason for each answer.

use serde::Deserialize;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlInputElement};

use super::Mounted;
use crate::dom::{Listener, add, attr, el, fetch_text};

/// A quiz file: `book/src/quiz/<chapter>.json`.
#[derive(Debug, Deserialize)]
pub struct Quiz {
    /// Shown above the questions.
    pub title: String,
    /// The questions.
    pub questions: Vec<Question>,
}

/// One multiple-choice question.
#[derive(Debug, Deserialize)]
pub struct Question {
    /// The question.
    pub prompt: String,
    /// The choices.
    pub choices: Vec<String>,
    /// Index of the right choice.
    pub answer: usize,
    /// Why.
    pub explain: String,
}

/// Grades a choice: (correct, feedback).
pub fn grade(q: &Question, choice: usize) -> (bool, String) {
    let right = choice == q.answer;
    let lead = if right { "Right." } else { "Not quite." };
    (right, format!("{lead} {}", q.explain))
}

fn render(root: &Element, quiz: Quiz, listeners: &std::rc::Rc<std::cell::RefCell<Vec<Listener>>>) {
    let card = add(root, el("div", "sl-card sl-quiz", ""));
    add(
        &card,
        el("h3", "sl-title", &format!("Quiz: {}", quiz.title)),
    );
    let quiz = std::rc::Rc::new(quiz);
    for (qi, q) in quiz.questions.iter().enumerate() {
        let fs = add(&card, el("fieldset", "sl-question", ""));
        attr(&fs, "data-question", &qi.to_string());
        add(&fs, el("legend", "", &format!("{}. {}", qi + 1, q.prompt)));
        let name = format!("q{}-{qi}", js_sys::Math::random().to_bits());
        for (ci, choice) in q.choices.iter().enumerate() {
            let label = add(&fs, el("label", "sl-choice", ""));
            let input = add(&label, el("input", "", ""));
            attr(&input, "type", "radio");
            attr(&input, "name", &name);
            attr(&input, "value", &ci.to_string());
            attr(&input, "data-choice", &ci.to_string());
            add(&label, el("span", "", choice));
        }
        let feedback = add(&fs, el("p", "sl-feedback", ""));
        attr(&feedback, "data-role", "feedback");
        attr(&feedback, "aria-live", "polite");
        let (qz, fs2, fb) = (quiz.clone(), fs.clone(), feedback.clone());
        let l = Listener::new(&fs, "change", move |e| {
            let Some(input) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            else {
                return;
            };
            let Ok(choice) = input.value().parse::<usize>() else {
                return;
            };
            let (right, text) = grade(&qz.questions[qi], choice);
            fb.set_text_content(Some(&text));
            attr(&fs2, "data-correct", if right { "true" } else { "false" });
        });
        listeners.borrow_mut().push(l);
    }
}

/// Builds the quiz named by the element's `src` attribute.
pub fn mount(root: &HtmlElement) -> Result<Mounted, String> {
    let src = root
        .get_attribute("src")
        .ok_or("<socket-lab lab=\"quiz\"> needs src=\"quiz/<chapter>.json\"")?;
    let listeners = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let (r, ls): (Element, _) = (root.clone().into(), listeners.clone());
    wasm_bindgen_futures::spawn_local(async move {
        match fetch_text(&src)
            .await
            .and_then(|t| serde_json::from_str::<Quiz>(&t).map_err(|e| format!("{src}: {e}")))
        {
            Ok(quiz) => render(&r, quiz, &ls),
            Err(e) => {
                add(
                    &r,
                    el(
                        "p",
                        "sl-error",
                        &format!("The quiz could not be loaded: {e}"),
                    ),
                );
            }
        }
    });
    Ok(Mounted::with_state(Vec::new(), listeners))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grading_explains() {
        let q = Question {
            prompt: "p".into(),
            choices: vec!["a".into(), "b".into()],
            answer: 1,
            explain: "because".into(),
        };
        assert_eq!(grade(&q, 1), (true, "Right. because".into()));
        assert!(!grade(&q, 0).0);
    }
}
