//! `socket-lab check` against the book's own programs and against programs
//! with the classic bugs (`book/samples/buggy/`).
//!
//! Every sample server and client of `book/src/code` must pass its lesson,
//! and every buggy program must fail at the stage, with the bug class, that
//! the `expect:` line of its docstring names. The checks run in-process
//! through `native_server::check::run`, exactly what the binary runs (the
//! exit statuses through the real binary are tested in
//! `native-server/tests/check.rs`).

use std::path::{Path, PathBuf};

use native_server::check::{Bug, CheckArgs, Outcome};
use native_server::cli::{Cli, Command};

fn book() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Rust sample: this package's binary of that name.
fn rust_bin(name: &str) -> String {
    // target/debug/deps/check-… → target/debug/<name>
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin.to_string_lossy().into_owned()
}

fn python(path: &Path) -> Vec<String> {
    vec!["python3".into(), path.to_string_lossy().into_owned()]
}

/// `socket-lab check <flags…> -- <command…>`, parsed by the real CLI.
fn args(flags: &[&str], command: &[String]) -> CheckArgs {
    let mut argv: Vec<String> = ["socket-lab", "check"].map(String::from).to_vec();
    argv.extend(flags.iter().map(|s| s.to_string()));
    argv.push("--".into());
    argv.extend(command.iter().cloned());
    match Cli::try_parse_args(argv).expect("the flags parse").command {
        Some(Command::Check(args)) => args,
        other => panic!("not a check command: {other:?}"),
    }
}

/// Runs a check; returns how it ended and what it printed.
async fn check(flags: &[&str], command: &[String]) -> (Outcome, String) {
    let mut out = Vec::new();
    let outcome = native_server::check::run(args(flags, command), &mut out).await;
    (outcome, String::from_utf8_lossy(&out).into_owned())
}

/// A server's command: its path, then `{port}`.
fn server(mut command: Vec<String>) -> Vec<String> {
    command.push("{port}".into());
    command
}

async fn passes(lesson: &str, command: Vec<String>) {
    let (outcome, out) = check(&[lesson, "--seed", "11"], &command).await;
    assert_eq!(
        outcome,
        Outcome::Passed,
        "{command:?} should pass {lesson}:\n{out}"
    );
    assert!(out.contains("PASS:"), "{out}");
}

macro_rules! sample_passes {
    ($($test:ident: $lesson:literal, $command:expr;)*) => {$(
        #[tokio::test]
        async fn $test() {
            passes($lesson, $command).await;
        }
    )*};
}

fn py(file: &str) -> Vec<String> {
    python(&book().join("src/code/python").join(file))
}

sample_passes! {
    py_tcp_echo_server: "tcp-echo", server(py("tcp_echo_server.py"));
    py_select_echo_server: "tcp-echo", server(py("select_echo_server.py"));
    rs_tcp_echo_server: "tcp-echo", server(vec![rust_bin("tcp_echo_server")]);
    rs_nonblocking_echo_server: "tcp-echo", server(vec![rust_bin("nonblocking_echo_server")]);
    py_udp_echo_server: "udp-echo", server(py("udp_echo_server.py"));
    rs_udp_echo_server: "udp-echo", server(vec![rust_bin("udp_echo_server")]);
    py_threaded_uppercase_server: "uppercase", server(py("threaded_uppercase_server.py"));
    py_asyncio_uppercase_server: "uppercase", server(py("asyncio_uppercase_server.py"));
    rs_threaded_uppercase_server: "uppercase", server(vec![rust_bin("threaded_uppercase_server")]);
    rs_async_uppercase_server: "uppercase", server(vec![rust_bin("async_uppercase_server")]);
    py_framed_server: "framed", server(py("framed_server.py"));
    rs_framed_server: "framed", server(vec![rust_bin("framed_server")]);
    py_auth_server: "auth", server(py("auth_server.py"));
    rs_auth_server: "auth", server(vec![rust_bin("auth_server")]);
    py_tcp_echo_client: "tcp-echo-client", py("tcp_echo_client.py");
    rs_tcp_echo_client: "tcp-echo-client", vec![rust_bin("tcp_echo_client")];
    py_whoami_client: "tcp-echo-client", py("whoami_client.py");
    rs_whoami_client: "tcp-echo-client", vec![rust_bin("whoami_client")];
    py_half_close_client: "tcp-echo-client", py("half_close_client.py");
    rs_half_close_client: "tcp-echo-client", vec![rust_bin("half_close_client")];
    py_framed_client: "framed-client", py("framed_client.py");
    rs_framed_client: "framed-client", vec![rust_bin("framed_client")];
    py_auth_client: "auth-client", py("auth_client.py");
    rs_auth_client: "auth-client", vec![rust_bin("auth_client")];
}

/// What a buggy program's docstring says it does wrong.
#[derive(Debug)]
struct Expect {
    file: PathBuf,
    lesson: String,
    stage: usize,
    flags: Vec<String>,
    bug: String,
}

/// `expect: framed stage 2, served one message per connection`, or with
/// flags: `expect: auth-client stage 1 (with --secret class-secret), …`.
fn expectations() -> Vec<Expect> {
    let dir = book().join("samples/buggy");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().is_none_or(|e| e != "py") || file.ends_with("learner.py") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("expect: "))
            .unwrap_or_else(|| panic!("{} has no `expect:` line", file.display()));
        let (head, bug) = line.split_once(", ").unwrap();
        let (head, flags) = match head.split_once(" (with ") {
            Some((head, flags)) => (
                head,
                flags
                    .trim_end_matches(')')
                    .split(' ')
                    .map(String::from)
                    .collect(),
            ),
            None => (head, Vec::new()),
        };
        let mut words = head.split(' ');
        let lesson = words.next().unwrap().to_owned();
        assert_eq!(words.next(), Some("stage"), "{line}");
        let stage = words.next().unwrap().parse().unwrap();
        assert!(
            Bug::ALL.iter().any(|b| b.name() == bug),
            "{}: {bug:?} is not a bug class",
            file.display()
        );
        all.push(Expect {
            file,
            lesson,
            stage,
            flags,
            bug: bug.to_owned(),
        });
    }
    all.sort_by(|a, b| a.file.cmp(&b.file));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_buggy_program_fails_at_its_stage_with_its_bug_class() {
    let expectations = expectations();
    // At least one program per bug class.
    for bug in Bug::ALL {
        assert!(
            expectations.iter().any(|e| e.bug == bug.name()),
            "no buggy program shows {:?}",
            bug.name()
        );
    }
    let mut runs = tokio::task::JoinSet::new();
    for e in expectations {
        runs.spawn(async move {
            let mut command = python(&e.file);
            if !e.lesson.ends_with("-client") {
                command.push("{port}".into());
            }
            let mut flags: Vec<&str> = vec![&e.lesson, "--seed", "5", "--silence-timeout", "1"];
            flags.extend(e.flags.iter().map(String::as_str));
            let (outcome, out) = check(&flags, &command).await;
            (e, outcome, out)
        });
    }
    let mut wrong = Vec::new();
    while let Some(run) = runs.join_next().await {
        let (e, outcome, out) = run.unwrap();
        let stage = format!("  ✗ {}. ", e.stage);
        let bug = format!("likely bug: {}\n", e.bug);
        if outcome != Outcome::Failed || !out.contains(&stage) || !out.contains(&bug) {
            wrong.push(format!(
                "{}: expected stage {} with {:?}:\n{out}",
                e.file.display(),
                e.stage,
                e.bug
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// The report without what may differ between two runs: the elapsed-time
/// column (`[12 ms]`, and the total on the PASS line) and the program's own
/// output (it prints the port it was given).
fn without_timings(report: &str) -> String {
    report
        .lines()
        .filter(|l| !l.contains("stdout| ") && !l.contains("stderr| "))
        .map(|l| match l.rfind("  [") {
            Some(i) if l.ends_with(" ms]") => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_seed_repeats_a_failing_run_byte_for_byte() {
    let command = server(python(
        &book().join("samples/buggy/framed_one_frame_server.py"),
    ));
    let (_, first) = check(&["framed", "--seed", "42"], &command).await;
    let (_, again) = check(&["framed", "--seed", "42"], &command).await;
    let (_, other) = check(&["framed", "--seed", "43"], &command).await;
    assert!(first.contains("✗ 2. two frames in one write"), "{first}");
    assert!(
        first.contains("seed 42 (repeat this run with --seed 42)"),
        "{first}"
    );
    assert_eq!(without_timings(&first), without_timings(&again));
    assert_ne!(
        without_timings(&first),
        without_timings(&other),
        "another seed sends other words"
    );
    // A client lesson: the seed chooses where the reply is cut.
    let client = python(&book().join("samples/buggy/notes_tcp_echo_client.py"));
    let (_, first) = check(&["tcp-echo-client", "--seed", "42"], &client).await;
    let (_, again) = check(&["tcp-echo-client", "--seed", "42"], &client).await;
    assert!(first.contains("✗ 3. the reply in two writes"), "{first}");
    assert_eq!(without_timings(&first), without_timings(&again));
}

/// mdBook's id for a heading: lower case, spaces to `-`, other punctuation dropped.
fn heading_id(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn every_bug_class_points_at_a_heading_that_exists() {
    for bug in Bug::ALL {
        let (page, anchor) = bug.book().split_once(".html#").unwrap();
        let chapter = std::fs::read_to_string(book().join(format!("src/{page}.md")))
            .unwrap_or_else(|_| panic!("{bug:?} points at {page}.md, which does not exist"));
        let ids: Vec<String> = chapter
            .lines()
            .filter_map(|l| {
                l.trim_start_matches('#')
                    .strip_prefix(' ')
                    .filter(|_| l.starts_with('#'))
            })
            .map(heading_id)
            .collect();
        assert!(
            ids.iter().any(|id| id == anchor),
            "{bug:?}: no heading #{anchor} in {page}.md (there are {ids:?})"
        );
    }
}

#[test]
fn the_appendix_lists_every_lesson_and_stage() {
    let appendix = std::fs::read_to_string(book().join("src/appendix-check.md")).unwrap();
    for lesson in native_server::check::Lesson::ALL {
        let section = appendix
            .split(&format!("### `{}`\n", lesson.name()))
            .nth(1)
            .unwrap_or_else(|| panic!("appendix-check.md has no section for {}", lesson.name()))
            .split("\n### ")
            .next()
            .unwrap();
        for (i, stage) in lesson.stages().iter().enumerate() {
            assert!(
                section.contains(&format!("\n{}. {stage}\n", i + 1)),
                "appendix-check.md, {}: stage {} should read {stage:?}",
                lesson.name(),
                i + 1
            );
        }
    }
    for bug in Bug::ALL {
        assert!(
            appendix.contains(&format!("| {} |", bug.name())),
            "{:?} is not in the appendix's table",
            bug.name()
        );
    }
}
