//! The check view: a chapter follows the `socket-lab check` runs of its
//! lesson as they happen on the learner's machine.
//!
//! `<socket-lab lab="check" lesson="framed" client="framed-client">` shows
//! the commands to run, then, for each run of either lesson that the local
//! server hears about (`watch_checks`), its stages with ✓ or ✗ and their
//! time, every read and write drawn as timeline rows labelled by
//! connection, and the failure report exactly as the terminal shows it. A
//! new run replaces the one before. Without a `lesson` the view follows
//! every lesson.
//!
//! What a run did is kept in [`Run`], a plain value the messages update
//! (tested natively); the DOM is drawn from it. Simulated, no check can
//! reach the page, and the view says what to run instead.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use protocol::bridge::ClientMsg;
use protocol::check::{CheckMsg, Direction};
use web_sys::{Element, HtmlElement};

use super::{Frame, Mounted};
use crate::dom::{add, attr, el};
use crate::net::{Bridge, Mode};
use crate::timeline::Side;

/// The diagram's lifeline for the program a run checks.
const PROGRAM: &str = "your program";

/// Most rows one run draws; the rest are counted in a last row.
const MAX_ROWS: usize = 400;

/// How a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageState {
    /// Not started yet.
    Pending,
    /// Running now.
    Running,
    /// Passed, in this many milliseconds.
    Passed(u64),
    /// Failed, after this many milliseconds.
    Failed(u64),
}

/// One run as the view knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The server's number for the run.
    pub id: u64,
    /// The lesson checked.
    pub lesson: String,
    /// The learner's command.
    pub command: String,
    /// The run's seed.
    pub seed: u64,
    /// Each stage's name and state.
    pub stages: Vec<(String, StageState)>,
    /// The verdict line and the report, once the run ended.
    pub end: Option<(bool, String, String)>,
    /// Messages the check dropped rather than wait.
    pub dropped: u64,
    /// The check ended before its verdict (stopped, or cut off).
    pub stopped: bool,
}

impl Run {
    /// A run that has just started.
    pub fn new(id: u64, lesson: &str, command: &str, seed: u64, stages: &[String]) -> Run {
        Run {
            id,
            lesson: lesson.to_owned(),
            command: command.to_owned(),
            seed,
            stages: stages
                .iter()
                .map(|s| (s.clone(), StageState::Pending))
                .collect(),
            end: None,
            dropped: 0,
            stopped: false,
        }
    }

    /// Applies a message of this run (not its start).
    pub fn apply(&mut self, msg: &CheckMsg) {
        match msg {
            CheckMsg::StageStarted { stage, .. } => self.set(*stage, StageState::Running),
            CheckMsg::StageFinished { stage, passed, ms } => self.set(
                *stage,
                if *passed {
                    StageState::Passed(*ms)
                } else {
                    StageState::Failed(*ms)
                },
            ),
            CheckMsg::Finished {
                passed,
                verdict,
                report,
                dropped,
            } => {
                self.end = Some((*passed, verdict.clone(), report.clone()));
                self.dropped = *dropped;
            }
            // The server's word that the run ended without a verdict.
            CheckMsg::Note { stage: 0, .. } => self.stopped = self.end.is_none(),
            CheckMsg::Started { .. } | CheckMsg::Io { .. } | CheckMsg::Note { .. } => {}
        }
    }

    fn set(&mut self, stage: u32, state: StageState) {
        if let Some(s) = (stage as usize)
            .checked_sub(1)
            .and_then(|i| self.stages.get_mut(i))
        {
            s.1 = state;
        }
    }

    /// The stage's line: `✓ 1. one frame  [2 ms]`.
    pub fn stage_line(&self, index: usize) -> String {
        let (name, state) = &self.stages[index];
        let n = index + 1;
        match state {
            StageState::Pending => format!("· {n}. {name}"),
            StageState::Running => format!("… {n}. {name}  (running)"),
            StageState::Passed(ms) => format!("✓ {n}. {name}  [{ms} ms]"),
            StageState::Failed(ms) => format!("✗ {n}. {name}  [{ms} ms]"),
        }
    }

    /// One line on where the run stands.
    pub fn status(&self) -> String {
        let done = self
            .stages
            .iter()
            .filter(|(_, s)| matches!(s, StageState::Passed(_) | StageState::Failed(_)))
            .count();
        match &self.end {
            None if self.stopped => format!(
                "socket-lab check {} stopped before its verdict: {done} of {} stages done (seed {})",
                self.lesson,
                self.stages.len(),
                self.seed
            ),
            None => format!(
                "socket-lab check {} is running: {done} of {} stages done (seed {})",
                self.lesson,
                self.stages.len(),
                self.seed
            ),
            Some((true, ..)) => format!(
                "socket-lab check {}: every stage passed (seed {})",
                self.lesson, self.seed
            ),
            Some((false, ..)) => format!(
                "socket-lab check {}: a stage failed; the report is below (seed {})",
                self.lesson, self.seed
            ),
        }
    }
}

/// Whether a run of `lesson` belongs to a view that follows `wanted`
/// (none: every lesson).
pub fn follows(wanted: &[String], lesson: &str) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| w == lesson)
}

/// The command a chapter suggests for `lesson`.
pub fn suggested_command(lesson: &str) -> String {
    if lesson.ends_with("-client") {
        format!("socket-lab check {lesson} -- python3 your_client.py")
    } else {
        format!("socket-lab check {lesson} -- python3 your_server.py {{port}}")
    }
}

struct Lab {
    frame: Frame,
    server: String,
    lessons: Vec<String>,
    status: Element,
    stages: Element,
    /// One item per stage of the run shown.
    items: RefCell<Vec<Element>>,
    report: Element,
    run: RefCell<Option<Run>>,
    rows: RefCell<usize>,
}

thread_local! {
    /// The check views on this page, for [`deliver`].
    static VIEWS: RefCell<Vec<Weak<Lab>>> = const { RefCell::new(Vec::new()) };
}

/// Hands a check message from `server`'s bridge to the views that follow it
/// (the bridge calls this for every `check` message).
pub(crate) fn deliver(server: &str, run: u64, msg: &CheckMsg) {
    let views: Vec<Rc<Lab>> = VIEWS.with(|v| {
        let mut v = v.borrow_mut();
        v.retain(|w| w.strong_count() > 0);
        v.iter().filter_map(Weak::upgrade).collect()
    });
    for view in views.iter().filter(|v| v.server == server) {
        view.on_check(run, msg);
    }
}

/// Builds the view; `lesson` and `client` attributes name the lessons.
pub fn mount(root: &HtmlElement, bridge: Bridge, server: &str) -> Mounted {
    let lessons: Vec<String> = ["lesson", "client"]
        .iter()
        .filter_map(|a| root.get_attribute(a))
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let title = match lessons.first() {
        Some(lesson) => format!("Check your own program: {lesson}"),
        None => "Check your own program".to_owned(),
    };
    let frame = Frame::new(
        root,
        &title,
        "Run the command in a terminal on this machine, with your own program's file in it. \
         The run shows up here as it happens: each stage with ✓ or ✗, the report \
         of the stage that failed, and every write (→ sent, by socket-lab) and read (← read) of each \
         connection. A new run replaces the last one.",
        bridge.clone(),
    );
    let commands = add(&frame.controls, el("div", "sl-check-commands", ""));
    let shown: Vec<String> = if lessons.is_empty() {
        vec!["socket-lab check <lesson> -- python3 your_server.py {port}".to_owned()]
    } else {
        lessons.iter().map(|l| suggested_command(l)).collect()
    };
    for command in shown {
        let line = add(&commands, el("p", "", ""));
        let code = add(&line, el("code", "sl-decoded", &command));
        attr(&code, "data-role", "check-command");
    }
    // Under the commands: the status, the stages, the verdict and the
    // report (what to fix), then every read and write.
    let before = |node: Element, next: &Element| {
        let _ = frame.card.insert_before(&node, Some(next));
        node
    };
    let status = before(el("p", "sl-status", ""), frame.timeline.element());
    attr(&status, "data-role", "check-status");
    attr(&status, "aria-live", "polite");
    let stages = before(el("ol", "sl-sv-list", ""), frame.timeline.element());
    attr(&stages, "data-role", "check-stages");
    let _ = frame
        .card
        .insert_before(&frame.verdict, Some(frame.timeline.element()));
    let report = before(el("pre", "sl-decoded", ""), frame.timeline.element());
    attr(&report, "data-role", "check-report");
    attr(
        &report,
        "style",
        "white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85em; margin: .75em 0 0",
    );
    attr(&report, "hidden", "");
    let heading = before(
        el("p", "sl-label", "Reads and writes, as they happened"),
        frame.timeline.element(),
    );
    attr(&heading, "data-role", "check-conversation");
    // The run as a sequence diagram, under its heading: socket-lab's
    // connections on the left, the learner's program on the right.
    let _ = frame
        .card
        .insert_before(frame.timeline.figure(), Some(frame.timeline.element()));
    frame.timeline.name_far_end(
        PROGRAM,
        "The same reads and writes as the list below, time going down: socket-lab's connections on the left, \
         your program on the right. Focus or hover a step for its details. ",
    );
    let lab = Rc::new(Lab {
        frame,
        server: server.to_owned(),
        lessons,
        status,
        stages,
        items: RefCell::new(Vec::new()),
        report,
        run: RefCell::new(None),
        rows: RefCell::new(0),
    });
    VIEWS.with(|v| v.borrow_mut().push(Rc::downgrade(&lab)));
    let weak = Rc::downgrade(&lab);
    let mode = bridge.on_mode(move |mode| {
        let Some(lab) = weak.upgrade() else { return };
        if mode != Mode::Connecting {
            // Live, the server starts sending runs; simulated, nothing ever
            // comes (the in-page bridge accepts the request and has no runs).
            lab.frame.bridge.send_msg(&ClientMsg::WatchChecks {});
        }
        if lab.run.borrow().is_none() {
            lab.waiting(mode);
        }
    });
    Mounted::with_state(Vec::new(), Rc::new((mode, lab)))
}

impl Lab {
    /// The status line before any run: what to do next.
    fn waiting(&self, mode: Mode) {
        let text = match mode {
            Mode::Connecting => "Looking for the Socket Lab server…".to_owned(),
            Mode::Live => format!(
                "Waiting for a run of {}: run the command above in a terminal.",
                if self.lessons.is_empty() {
                    "any lesson".to_owned()
                } else {
                    self.lessons.join(" or ")
                }
            ),
            Mode::Simulated => "Checks need the local server: this page is simulated, so no run can reach it. \
                 Start socket-lab (or cargo xtask serve), open this chapter from http://127.0.0.1:8000/book/, \
                 then run the command above; or read its report in your terminal."
                .to_owned(),
        };
        self.status.set_text_content(Some(&text));
        attr(&self.status, "data-state", "waiting");
    }

    fn on_check(&self, run: u64, msg: &CheckMsg) {
        if let CheckMsg::Started {
            lesson,
            command,
            seed,
            stages,
        } = msg
        {
            if follows(&self.lessons, lesson) {
                self.start(Run::new(run, lesson, command, *seed, stages));
            }
            return;
        }
        if self.run.borrow().as_ref().is_none_or(|r| r.id != run) {
            return;
        }
        match msg {
            CheckMsg::Io {
                stage,
                conn,
                dir,
                size,
                data,
                ..
            } => {
                let side = match dir {
                    Direction::Sent => Side::Send,
                    Direction::Read => Side::Read,
                };
                let label = if *size > data.0.len() {
                    format!(
                        "{conn} (stage {stage}; {size} bytes, the first {} shown)",
                        data.0.len()
                    )
                } else {
                    format!("{conn} (stage {stage})")
                };
                let lane = format!("socket-lab {conn}");
                if let Some(row) = self.row(|t| t.row_in(&lane, side, &label, Some(&data.0))) {
                    attr(&row, "data-conn", conn);
                    attr(&row, "data-stage", &stage.to_string());
                }
            }
            CheckMsg::Note { stage, conn, text } => {
                if let Some(row) = self.row(|t| t.row(Side::Note, text, None)) {
                    attr(&row, "data-stage", &stage.to_string());
                    if let Some(conn) = conn {
                        attr(&row, "data-conn", conn);
                    }
                }
            }
            CheckMsg::StageStarted { stage, name } => {
                self.row(|t| t.row(Side::Note, &format!("stage {stage}: {name}"), None));
            }
            _ => {}
        }
        if let Some(r) = self.run.borrow_mut().as_mut() {
            r.apply(msg);
        }
        self.draw();
    }

    /// A new run: everything of the last one goes.
    fn start(&self, run: Run) {
        self.frame.timeline.clear();
        *self.rows.borrow_mut() = 0;
        self.report.set_text_content(None);
        attr(&self.report, "hidden", "");
        self.frame.conclude("");
        self.stages.set_inner_html("");
        *self.items.borrow_mut() = run
            .stages
            .iter()
            .map(|_| {
                let li = add(&self.stages, el("li", "sl-sv-entry", ""));
                attr(&li, "data-role", "check-stage");
                li
            })
            .collect();
        attr(&self.frame.root, "data-run", &run.id.to_string());
        *self.run.borrow_mut() = Some(run);
        self.draw();
    }

    /// Adds a timeline row, unless the run already drew [`MAX_ROWS`].
    fn row(&self, f: impl FnOnce(&crate::timeline::Timeline) -> Element) -> Option<Element> {
        let mut rows = self.rows.borrow_mut();
        *rows += 1;
        match (*rows).cmp(&MAX_ROWS) {
            std::cmp::Ordering::Less => {
                let row = f(&self.frame.timeline);
                // Follow the run, like a log: the newest row in sight.
                let list = self.frame.timeline.element();
                list.set_scroll_top(list.scroll_height());
                Some(row)
            }
            std::cmp::Ordering::Equal => {
                self.frame.timeline.row(
                    Side::Note,
                    "… more reads and writes than this view draws; the terminal's report has the failed stage's",
                    None,
                );
                None
            }
            std::cmp::Ordering::Greater => None,
        }
    }

    /// Draws the stages, the status, the verdict and the report from the run.
    fn draw(&self) {
        let run = self.run.borrow();
        let Some(run) = run.as_ref() else { return };
        let items = self.items.borrow();
        for (i, ((_, state), li)) in run.stages.iter().zip(items.iter()).enumerate() {
            li.set_text_content(Some(&run.stage_line(i)));
            let key = match state {
                StageState::Pending => "pending",
                StageState::Running => "running",
                StageState::Passed(_) => "passed",
                StageState::Failed(_) => "failed",
            };
            attr(li, "data-state", key);
            let color = match state {
                StageState::Passed(_) => "color: var(--sl-ok)",
                StageState::Failed(_) => "color: var(--sl-bad); font-weight: 700",
                StageState::Pending | StageState::Running => "color: var(--sl-muted)",
            };
            attr(li, "style", color);
        }
        self.status.set_text_content(Some(&run.status()));
        let state = match &run.end {
            None if run.stopped => "stopped",
            None => "running",
            Some((true, ..)) => "passed",
            Some((false, ..)) => "failed",
        };
        attr(&self.status, "data-state", state);
        attr(&self.frame.root, "data-check", state);
        if let Some((_, verdict, report)) = &run.end {
            let mut verdict = verdict.clone();
            if run.dropped > 0 {
                verdict.push_str(&format!(
                    " ({} messages of this run were not shown: the server fell behind.)",
                    run.dropped
                ));
            }
            self.frame.conclude(&verdict);
            if !report.is_empty() {
                self.report.set_text_content(Some(report));
                let _ = self.report.remove_attribute("hidden");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run {
        Run::new(
            4,
            "framed",
            "python3 s.py {port}",
            9,
            &["one".into(), "two".into()],
        )
    }

    #[test]
    fn stages_follow_their_messages() {
        let mut r = run();
        assert_eq!(r.stage_line(0), "· 1. one");
        r.apply(&CheckMsg::StageStarted {
            stage: 1,
            name: "one".into(),
        });
        assert_eq!(r.stage_line(0), "… 1. one  (running)");
        r.apply(&CheckMsg::StageFinished {
            stage: 1,
            passed: true,
            ms: 2,
        });
        r.apply(&CheckMsg::StageFinished {
            stage: 2,
            passed: false,
            ms: 150,
        });
        // A stage number the run never announced changes nothing.
        r.apply(&CheckMsg::StageFinished {
            stage: 9,
            passed: true,
            ms: 1,
        });
        assert_eq!(r.stage_line(0), "✓ 1. one  [2 ms]");
        assert_eq!(r.stage_line(1), "✗ 2. two  [150 ms]");
        assert!(r.status().contains("2 of 2 stages done"), "{}", r.status());
        let mut stopped = r.clone();
        stopped.apply(&CheckMsg::Note {
            stage: 0,
            conn: None,
            text: "the check ended before its verdict".into(),
        });
        assert!(stopped.status().contains("stopped before its verdict"));
        r.apply(&CheckMsg::Finished {
            passed: false,
            verdict: "FAIL: stage 2".into(),
            report: "  ✗ 2. two\n".into(),
            dropped: 3,
        });
        assert_eq!(
            r.end,
            Some((false, "FAIL: stage 2".into(), "  ✗ 2. two\n".into()))
        );
        assert_eq!(r.dropped, 3);
        assert!(r.status().contains("a stage failed"));
    }

    #[test]
    fn a_view_follows_its_lessons_or_all() {
        let framed = ["framed".to_owned(), "framed-client".to_owned()];
        assert!(follows(&framed, "framed-client"));
        assert!(!follows(&framed, "auth"));
        assert!(follows(&[], "auth"));
        assert_eq!(
            suggested_command("framed"),
            "socket-lab check framed -- python3 your_server.py {port}"
        );
        assert_eq!(
            suggested_command("auth-client"),
            "socket-lab check auth-client -- python3 your_client.py"
        );
    }
}
