//! `socket-lab check` timed: every lesson run as a learner runs it, with the
//! book's own (correct) Python programs, against the release binary.
//!
//! The goal is a whole lesson in under 5 s. The only wait a correct program
//! cannot shorten is a stage where silence is the test: the auth lesson's
//! last stage holds a silent client until the learner's server gives up
//! (the book's server after 5 s). So auth is timed twice: whole, and up to
//! the stage before that one, which is what the goal judges.

use std::process::Command;
use std::time::Instant;

use super::Runner;

/// One timed lesson.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LessonTime {
    /// The lesson, with `--stage K` if only part of it ran.
    pub(crate) lesson: String,
    /// The book's program it checked.
    pub(crate) program: String,
    /// Stages passed (from the report's `PASS: N stages` line); `None` if the
    /// check did not pass.
    pub(crate) passed: Option<usize>,
    /// Wall-clock seconds, start of the program included.
    pub(crate) secs: f64,
    /// Whether a stage where silence is the test ran (the goal does not
    /// judge those runs).
    pub(crate) waits_for_silence: bool,
}

/// (lesson, stage limit, the book's program, waits for silence).
const RUNS: [(&str, Option<usize>, &str, bool); 9] = [
    ("tcp-echo", None, "tcp_echo_server.py", false),
    ("udp-echo", None, "udp_echo_server.py", false),
    ("uppercase", None, "threaded_uppercase_server.py", false),
    ("framed", None, "framed_server.py", false),
    ("auth", None, "auth_server.py", true),
    ("auth", Some(6), "auth_server.py", false),
    ("tcp-echo-client", None, "tcp_echo_client.py", false),
    ("framed-client", None, "framed_client.py", false),
    ("auth-client", None, "auth_client.py", false),
];

/// Times every lesson; a lesson that fails or cannot start is a problem of
/// the run, reported with its output.
pub(super) fn run(run: &mut Runner) -> Vec<LessonTime> {
    let code = run.root.join("book/src/code/python");
    let mut times = Vec::new();
    for (lesson, stage, program, waits_for_silence) in RUNS {
        let mut cmd = Command::new(&run.socket_lab);
        cmd.args(["check", lesson, "--seed", "1"]);
        if let Some(k) = stage {
            cmd.args(["--stage", &k.to_string()]);
        }
        cmd.arg("--").arg("python3").arg(code.join(program));
        if !lesson.ends_with("-client") {
            cmd.arg("{port}"); // a server takes its port as its first argument
        }
        let started = Instant::now();
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) => {
                run.problems
                    .push(format!("socket-lab check {lesson}: could not start: {e}"));
                continue;
            }
        };
        let secs = started.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(&out.stdout);
        let passed = stages_passed(&text).filter(|_| out.status.success());
        if passed.is_none() {
            run.problems.push(format!(
                "socket-lab check {lesson} with {program} did not pass:\n{text}"
            ));
        }
        times.push(LessonTime {
            lesson: match stage {
                Some(k) => format!("{lesson} --stage {k}"),
                None => lesson.to_owned(),
            },
            program: program.to_owned(),
            passed,
            secs,
            waits_for_silence,
        });
    }
    times
}

/// `N` from the report's last line, `PASS: N stages passed in …`.
fn stages_passed(report: &str) -> Option<usize> {
    report
        .lines()
        .find_map(|l| l.strip_prefix("PASS: "))?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pass_line_gives_the_stages() {
        let report = "socket-lab check framed: 10 stages, seed 1\n  ✓ 1. one frame  [0 ms]\n\
                      PASS: 10 stages passed in 0.2 s.\n";
        assert_eq!(stages_passed(report), Some(10));
        assert_eq!(stages_passed("FAIL: stage 2 failed"), None);
    }
}
