//! `socket-lab check` through the real binary: its exit statuses (0 pass,
//! 1 fail, 2 usage), the `--json` file against the documented shape, and
//! learner programs that misbehave before any stage can run.
//!
//! The lessons themselves, against the book's samples and the buggy
//! programs, are tested in `book/samples/tests/check.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn socket_lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_socket-lab"))
        .arg("check")
        .args(args)
        .env_remove("SOCKET_LAB_SECRET")
        .output()
        .expect("socket-lab runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path(rel: &str) -> String {
    repo().join(rel).to_string_lossy().into_owned()
}

/// The `--json` shape as the appendix documents it (Exercism's results.json
/// version 2), written down again here so that the file is checked against
/// the documentation rather than against the code that wrote it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Results {
    version: u32,
    status: String,
    message: Option<String>,
    tests: Vec<TestResult>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestResult {
    name: String,
    status: String,
    message: Option<String>,
    output: Option<String>,
}

fn json_file(name: &str) -> PathBuf {
    let dir = repo().join("target/check-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}-{}.json", std::process::id()))
}

fn results(file: &Path) -> Results {
    let text = std::fs::read_to_string(file).expect("--json wrote its file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

#[test]
fn usage_errors_exit_2_and_say_what_to_do() {
    let server = path("book/src/code/python/tcp_echo_server.py");
    let cases: [(&[&str], &str); 6] = [
        (
            &["ftp", "--", "python3", &server],
            "the lessons are tcp-echo, udp-echo",
        ),
        (
            &["tcp-echo"],
            "no command: put the command that starts your server after --",
        ),
        (&["tcp-echo", "--port", "1", "--", "python3"], "not both"),
        (&["auth-client", "--port", "1"], "checks your client"),
        (
            &["framed", "--stage", "11", "--", "python3"],
            "framed has stages 1 to 10",
        ),
        (
            &["framed", "--timeout", "soon", "--", "python3"],
            "not a duration",
        ),
    ];
    for (args, says) in cases {
        let out = socket_lab(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains(says),
            "{args:?} should say {says:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn a_passing_program_exits_0_and_its_json_says_pass() {
    let file = json_file("pass");
    let json = file.to_string_lossy().into_owned();
    let server = path("book/src/code/python/tcp_echo_server.py");
    let out = socket_lab(&[
        "tcp-echo", "--json", &json, "--", "python3", &server, "{port}",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let results = results(&file);
    assert_eq!(results.version, 2);
    assert_eq!(results.status, "pass");
    assert!(results.message.is_none());
    assert_eq!(results.tests.len(), 8);
    for (i, test) in results.tests.iter().enumerate() {
        assert_eq!(test.status, "pass", "{test:?}");
        assert!(test.name.starts_with(&format!("{}. ", i + 1)), "{test:?}");
        assert!(test.message.is_none() && test.output.is_none(), "{test:?}");
    }
}

#[test]
fn a_failing_program_exits_1_and_its_json_has_the_report() {
    let file = json_file("fail");
    let json = file.to_string_lossy().into_owned();
    let server = path("book/samples/buggy/framed_one_frame_server.py");
    let out = socket_lab(&[
        "framed", "--seed", "9", "--json", &json, "--", "python3", &server, "{port}",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let results = results(&file);
    assert_eq!((results.version, results.status.as_str()), (2, "fail"));
    assert_eq!(
        results.message.as_deref(),
        Some("stage 2 failed: two frames in one write")
    );
    let statuses: Vec<&str> = results.tests.iter().map(|t| t.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["pass", "fail"],
        "a run stops at its first failure"
    );
    let failed = &results.tests[1];
    let report = failed.message.as_deref().unwrap();
    assert!(
        report.contains("likely bug: served one message per connection"),
        "{report}"
    );
    assert!(
        report.contains("read: book/tcp-echo.html#the-server"),
        "{report}"
    );
    assert!(
        failed
            .output
            .as_deref()
            .unwrap()
            .contains("stdout| listening on 127.0.0.1:")
    );
}

#[test]
fn programs_that_cannot_be_checked_fail_with_a_clear_message() {
    // Ends at once.
    let file = json_file("error");
    let json = file.to_string_lossy().into_owned();
    let out = socket_lab(&[
        "tcp-echo",
        "--json",
        &json,
        "--",
        "python3",
        "-c",
        "import sys; print('bye'); sys.exit(3)",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the program ended (exit status 3) before it listened"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("stdout| bye"), "{}", text(&out));
    let results = results(&file);
    assert_eq!(results.status, "error");
    assert!(results.tests.is_empty() && results.message.is_some());

    // Never listens.
    let out = socket_lab(&["uppercase", "--start-timeout", "300ms", "--", "sleep", "30"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("nothing listened on 127.0.0.1:"),
        "{}",
        text(&out)
    );

    // Not a program at all.
    let out = socket_lab(&["udp-echo", "--", "./no-such-program-here"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("could not start"), "{}", text(&out));
}

#[test]
fn a_client_claiming_a_4_gib_frame_or_sending_garbage_is_failed_not_feared() {
    let claims_4_gib = "import os, socket; s = socket.create_connection(('127.0.0.1', int(os.environ['PORT']))); \
                        s.sendall(b'\\xff\\xff\\xff\\xff' + b'x' * 100); s.recv(10)";
    let out = socket_lab(&[
        "framed-client",
        "--timeout",
        "500ms",
        "--",
        "python3",
        "-c",
        claims_4_gib,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("✗ 1. connects and sends one well-formed frame"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("length field: 4294967295 (bytes ff ff ff ff)"),
        "{}",
        text(&out)
    );

    let garbage = "import os, socket; s = socket.create_connection(('127.0.0.1', int(os.environ['SOCKET_LAB_AUTH_PORT']))); \
                   s.recv(32); s.sendall(bytes(range(256)) * 4)";
    let out = socket_lab(&["auth-client", "--", "python3", "-c", garbage]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("likely bug: HMAC with another secret or hash"),
        "{}",
        text(&out)
    );
}

/// Starts a book server on port 0 and returns it with the port it printed.
fn running_server(file: &str) -> (std::process::Child, u16) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("python3")
        .args(["-u", &path(file), "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    (child, port)
}

#[test]
fn port_checks_a_server_that_is_already_running() {
    for (lesson, file) in [
        ("tcp-echo", "book/src/code/python/tcp_echo_server.py"),
        ("udp-echo", "book/src/code/python/udp_echo_server.py"),
    ] {
        let (mut server, port) = running_server(file);
        let out = socket_lab(&[lesson, "--port", &port.to_string()]);
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(out.status.code(), Some(0), "{lesson}: {}", text(&out));
        assert!(!text(&out).contains("program:"), "no program was started");
    }
}

/// `socket-lab check` with `args`, from a blocking thread (the test's
/// runtime keeps serving the server meanwhile).
async fn socket_lab_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        socket_lab(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_published_live_to_a_running_server_with_the_terminals_report() {
    use futures_util::{SinkExt, StreamExt};
    use protocol::bridge::{ClientMsg, ServerMsg};
    use protocol::check::{CheckMsg, Direction};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

    let server = native_server::testing::TestServer::start(|_| {}).await;
    // A page of the server's own, watching checks.
    let mut req = format!("ws://{}/ws", server.http)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Origin", server.base.parse().unwrap());
    let (mut page, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let watch = serde_json::to_string(&ClientMsg::WatchChecks {}).unwrap();
    page.send(Message::text(watch)).await.unwrap();
    let status = serde_json::to_string(&ClientMsg::Status {}).unwrap();
    page.send(Message::text(status)).await.unwrap();
    let mut checks = Vec::new();
    let mut watching = false;
    let buggy = path("book/samples/buggy/framed_one_frame_server.py");
    let args: Vec<String> = [
        "framed",
        "--seed",
        "9",
        "--server",
        &server.base,
        "--",
        "python3",
        &buggy,
        "{port}",
    ]
    .map(String::from)
    .to_vec();
    let mut run = None;
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(30), page.next())
            .await
            .expect("the page hears the run")
            .unwrap()
            .unwrap();
        let Message::Text(text) = msg else { continue };
        match serde_json::from_str::<ServerMsg>(text.as_str()).unwrap() {
            // Watching for sure: start the check now.
            ServerMsg::Status { .. } if !watching => {
                watching = true;
                run = Some(tokio::spawn(socket_lab_async(args.clone())));
            }
            ServerMsg::Check { msg, .. } => {
                let end = matches!(msg, CheckMsg::Finished { .. });
                checks.push(msg);
                if end {
                    break;
                }
            }
            _ => {}
        }
    }
    let out = run.unwrap().await.unwrap();
    let terminal = text(&out);
    assert_eq!(out.status.code(), Some(1), "{terminal}");
    assert!(
        !terminal.contains("no Socket Lab server answered"),
        "{terminal}"
    );
    let chapter = format!(
        "live in the chapter: {}/book/framing.html#check-yourself",
        server.base
    );
    assert!(terminal.contains(&chapter), "{terminal}");
    assert!(
        matches!(&checks[0], CheckMsg::Started { lesson, seed: 9, stages, .. }
            if lesson == "framed" && stages.len() == 10),
        "{checks:?}"
    );
    let finished: Vec<(u32, bool)> = checks
        .iter()
        .filter_map(|m| match m {
            CheckMsg::StageFinished { stage, passed, .. } => Some((*stage, *passed)),
            _ => None,
        })
        .collect();
    assert_eq!(finished, [(1, true), (2, false)]);
    // Stage 2's two frames went out in one write, and a reply came back.
    let io = |dir| {
        checks.iter().any(|m| {
            matches!(m, CheckMsg::Io { stage: 2, conn, dir: d, .. } if conn == "A" && *d == dir)
        })
    };
    assert!(io(Direction::Sent) && io(Direction::Read), "{checks:?}");
    let Some(CheckMsg::Finished {
        passed: false,
        verdict,
        report,
        dropped: 0,
    }) = checks.last()
    else {
        panic!("{checks:?}")
    };
    assert!(verdict.starts_with("FAIL: stage 2 failed"), "{verdict}");
    assert!(
        report.contains("likely bug: served one message per connection"),
        "{report}"
    );
    // The very text the terminal showed.
    assert!(
        terminal.contains(report.as_str()),
        "{terminal}\n---\n{report}"
    );
    assert!(terminal.contains(verdict.as_str()));
    server.stop().await.unwrap();
}

#[test]
fn without_a_server_a_check_says_so_once_and_runs_as_usual() {
    let server = path("book/src/code/python/tcp_echo_server.py");
    // Nothing listens on the port a just-closed listener had.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = socket_lab(&[
        "tcp-echo", "--server", &url, "--", "python3", &server, "{port}",
    ]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(
        said.matches("no Socket Lab server answered").count(),
        1,
        "{said}"
    );
    assert!(said.contains("won't show this run"), "{said}");
    assert!(!said.contains("live in the chapter"), "{said}");
    let quiet = socket_lab(&[
        "tcp-echo",
        "--server",
        &url,
        "--no-publish",
        "--",
        "python3",
        &server,
        "{port}",
    ]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet));
    assert!(
        !text(&quiet).contains("Socket Lab server"),
        "{}",
        text(&quiet)
    );
}
