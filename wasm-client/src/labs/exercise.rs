//! Exercises with feedback: a task the learner does with their own client;
//! the page watches the server's event stream and marks it done.
//!
//! Connections the page itself opened through the bridge do not count: the
//! point is the learner's own program.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::events::{Closer, EventKind, ServerEvent};
use serde::Deserialize;
use web_sys::{Element, HtmlElement};

use super::Mounted;
use crate::dom::{add, attr, el, fetch_text};
use crate::net::{Bridge, Mode};

/// One exercise from `book/src/exercises.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Exercise {
    /// Its id, as in `exercise="…"`.
    pub id: String,
    /// The chapter it belongs to.
    pub chapter: String,
    /// What to do.
    pub task: String,
    /// Which demo to talk to.
    pub demo: Demo,
    /// The event that completes it.
    pub done_when: String,
}

/// Whether `event` completes `exercise`.
pub fn completes(exercise: &Exercise, event: &ServerEvent) -> bool {
    if event.demo != exercise.demo {
        return false;
    }
    matches!(
        (exercise.done_when.as_str(), &event.kind),
        ("accepted", EventKind::Accepted { .. })
            | ("read", EventKind::Read { .. })
            | ("verdict_granted", EventKind::Verdict { granted: true, .. })
            | ("frame_decoded", EventKind::FrameDecoded { .. })
            | ("datagram", EventKind::Datagram { .. })
            | (
                "closed_by_client",
                EventKind::Closed {
                    by: Closer::Client,
                    ..
                }
            )
    )
}

fn storage_key(id: &str) -> String {
    format!("socket-lab.exercise.{id}")
}

fn remembered(id: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(&storage_key(id)).ok().flatten())
        .is_some()
}

fn remember(id: &str) {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(&storage_key(id), "done");
    }
}

fn render(root: &Element, ex: Exercise, bridge: Bridge) {
    let card = add(root, el("div", "sl-card sl-exercise", ""));
    add(&card, el("h3", "sl-title", "Exercise"));
    add(&card, el("p", "", &ex.task));
    let status = add(&card, el("p", "sl-status", ""));
    attr(&status, "data-role", "exercise-status");
    let done = Rc::new(RefCell::new(false));
    let mark_done = {
        let (status, done) = (status.clone(), done.clone());
        let id = ex.id.clone();
        move |how: &str| {
            *done.borrow_mut() = true;
            status.set_text_content(Some(&format!("✓ Done: {how}")));
            attr(&status, "data-done", "true");
            remember(&id);
        }
    };
    if remembered(&ex.id) {
        mark_done("completed earlier on this browser.");
    } else {
        let s = status.clone();
        bridge.on_mode(move |mode| {
            let text = match mode {
                Mode::Live => "Waiting for your client… (the server's events are being watched)",
                Mode::Connecting => "Connecting to the Socket Lab server…",
                Mode::Simulated => "Start the lab with `cargo xtask serve` and open this page from it; the exercise is checked against the real server.",
            };
            if s.get_attribute("data-done").is_none() {
                s.set_text_content(Some(text));
            }
        });
    }
    let b = bridge.clone();
    bridge.subscribe(move |ev| {
        if *done.borrow() || !completes(&ex, ev) {
            return;
        }
        let port = ev.peer.rsplit(':').next().unwrap_or_default();
        if b.is_own_port(port) {
            return; // the page's own socket, not the learner's client
        }
        mark_done(&format!(
            "the {} demo saw your client {}.",
            ex.demo, ev.peer
        ));
    });
}

/// Builds the exercise named by the element's `exercise` attribute.
pub fn mount(root: &HtmlElement, bridge: Bridge) -> Result<Mounted, String> {
    let id = root
        .get_attribute("exercise")
        .ok_or("<socket-lab lab=\"exercise\"> needs exercise=\"<id>\"")?;
    let src = root
        .get_attribute("src")
        .unwrap_or_else(|| "exercises.json".to_owned());
    let r: Element = root.clone().into();
    wasm_bindgen_futures::spawn_local(async move {
        let found = fetch_text(&src)
            .await
            .and_then(|t| {
                serde_json::from_str::<Vec<Exercise>>(&t).map_err(|e| format!("{src}: {e}"))
            })
            .and_then(|all| {
                all.into_iter()
                    .find(|e| e.id == id)
                    .ok_or(format!("no exercise {id:?} in {src}"))
            });
        match found {
            Ok(ex) => render(&r, ex, bridge),
            Err(e) => {
                add(
                    &r,
                    el(
                        "p",
                        "sl-error",
                        &format!("The exercise could not be loaded: {e}"),
                    ),
                );
            }
        }
    });
    Ok(Mounted::new(Vec::new()))
}
