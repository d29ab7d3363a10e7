//! The notes' own snippets (`book/src/code/notes/`), run as printed, and the
//! failure that `book/src/notes-code.md` shows for each.
//!
//! The snippets hard-code their ports. The page runs them on another port by
//! piping them through `sed "s/PORT_NUMBER/$PORT/"` into `python3 -`, and
//! so do the `socket-lab check` runs here (in-process, through
//! `native_server::check::run`, as in `check.rs`). Where a test starts a
//! snippet itself, it writes the same substitution to a temporary copy and
//! runs that, so the child it kills is Python itself. Every wait is bounded
//! and every child is killed when its guard drops, also when a test fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use native_server::check::{CheckArgs, Outcome};
use native_server::cli::{Cli, Command as CliCommand};
use native_server::testing::TestServer;
use protocol::Demo;

fn notes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/code/notes")
}

/// A snippet's text; `port` is the number it hard-codes, and must appear in
/// its code exactly once so that the page's `sed` replaces the right thing.
fn snippet(file: &str, port: u16) -> String {
    let text = std::fs::read_to_string(notes_dir().join(file)).unwrap();
    let in_code = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(&port.to_string()))
        .count();
    assert_eq!(
        in_code, 1,
        "{file} should name port {port} once in its code"
    );
    text
}

// ---- socket-lab check, as the page runs it -------------------------------

/// The page's command: `sh -c 'sed -e "s/PORT_NUMBER/$PORT/" [-e EDIT…] FILE | python3 -'`.
fn piped(file: &str, port: u16, edits: &[&str]) -> Vec<String> {
    snippet(file, port);
    let mut sed = format!("sed -e \"s/{port}/$PORT/\"");
    for edit in edits {
        sed.push_str(&format!(" -e '{edit}'"));
    }
    let path = notes_dir().join(file);
    vec![
        "sh".into(),
        "-c".into(),
        format!("{sed} '{}' | python3 -", path.display()),
    ]
}

fn args(flags: &[&str], command: &[String]) -> CheckArgs {
    let mut argv: Vec<String> = ["socket-lab", "check"].map(String::from).to_vec();
    argv.extend(flags.iter().map(|s| s.to_string()));
    argv.extend(["--no-publish".to_owned(), "--".to_owned()]);
    argv.extend(command.iter().cloned());
    match Cli::try_parse_args(argv).expect("the flags parse").command {
        Some(CliCommand::Check(args)) => args,
        other => panic!("not a check command: {other:?}"),
    }
}

/// `socket-lab check LESSON --seed 1 -- COMMAND`: how it ended, what it printed.
async fn check(lesson: &str, command: &[String]) -> (Outcome, String) {
    let mut out = Vec::new();
    let run = native_server::check::run(args(&[lesson, "--seed", "1"], command), &mut out);
    let outcome = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the check ends within 60 s");
    (outcome, String::from_utf8_lossy(&out).into_owned())
}

/// The check failed at `stage`, and its report contains every one of `lines`.
fn failed_at(outcome: Outcome, out: &str, stage: &str, lines: &[&str]) {
    assert_eq!(outcome, Outcome::Failed, "{out}");
    assert!(
        out.contains(&format!("  ✗ {stage}")),
        "not stage {stage}:\n{out}"
    );
    for line in lines {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
}

/// The last line of the program's stderr, as the check report shows it.
fn last_stderr_line(out: &str) -> &str {
    out.lines()
        .filter_map(|l| l.trim_start().strip_prefix("stderr| "))
        .next_back()
        .unwrap_or_else(|| panic!("the program wrote nothing to stderr:\n{out}"))
}

// ---- snippets started by the test ------------------------------------------

/// A snippet running as `python3 -u COPY`, with its port replaced; killed on drop.
struct Snippet {
    child: Option<Child>,
    dir: PathBuf,
}

impl Snippet {
    fn start(file: &str, printed: u16, port: u16) -> Snippet {
        Self::start_edited(file, printed, port, &[])
    }

    /// The same, with each `(from, to)` replaced in the copy as well.
    fn start_edited(file: &str, printed: u16, port: u16, edits: &[(&str, &str)]) -> Snippet {
        let mut text = snippet(file, printed).replace(&printed.to_string(), &port.to_string());
        for (from, to) in edits {
            assert!(text.contains(from), "{file} has no {from:?}");
            text = text.replace(from, to);
        }
        let dir = std::env::temp_dir().join(format!(
            "socket-lab-notes-{}-{}-{port}",
            std::process::id(),
            file.trim_end_matches(".py")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join(file);
        std::fs::write(&copy, text).unwrap();
        let child = Command::new("python3")
            .arg("-u")
            .arg(&copy)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        Snippet {
            child: Some(child),
            dir,
        }
    }

    /// Waits for the program to end by itself (at most `limit`): its status
    /// and output, or `None` if it was still running, and then killed.
    fn wait(mut self, limit: Duration) -> Option<(std::process::ExitStatus, String, String)> {
        let start = Instant::now();
        let mut child = self.child.take().unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                let out = child.wait_with_output().unwrap();
                return Some((
                    out.status,
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ));
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the program (if it still runs) and returns what it printed.
    fn stop(mut self) -> (String, String) {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let (mut out, mut err) = (String::new(), String::new());
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (out, err)
    }
}

impl Drop for Snippet {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP port that was free a moment ago.
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connects to a snippet's server, retrying while it starts (at most 10 s).
fn connect(port: u16) -> TcpStream {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                return s;
            }
            Err(e) if start.elapsed() > Duration::from_secs(10) => {
                panic!("nothing listened on {addr} within 10 s: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Reads until end of stream; stops quietly at an error after some data.
fn read_to_end(mut s: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if got.is_empty() => panic!("no reply: {e}"),
            Err(_) => return got,
        }
    }
}

/// Runs a client snippet against the in-process socket-lab demo `demo`.
async fn client_against_lab(file: &str, printed: u16, demo: Demo) -> (String, String) {
    let lab = TestServer::start(|_| {}).await;
    let port = lab.addr(demo).port();
    let file = file.to_owned();
    let done = tokio::task::spawn_blocking(move || {
        Snippet::start(&file, printed, port).wait(Duration::from_secs(20))
    })
    .await
    .unwrap();
    lab.stop().await.unwrap();
    let (status, out, err) = done.expect("the client ends within 20 s");
    assert!(status.success(), "{status}\n{out}\n{err}");
    (out, err)
}

// ---- every server, next to socket-lab ---------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_as_printed_cannot_share_the_demos_ports() {
    let lab = TestServer::start(|_| {}).await;
    let servers = [
        ("tcp_echo_server.py", 65432, Demo::TcpEcho),
        ("udp_echo_server.py", 9999, Demo::UdpEcho),
        ("framed_server.py", 5000, Demo::Framed),
        ("auth_server.py", 8080, Demo::Auth),
        ("uppercase_server.py", 9999, Demo::Uppercase),
    ]
    .map(|(file, printed, demo)| (file, printed, lab.addr(demo).port()));
    let ended = tokio::task::spawn_blocking(move || {
        servers.map(|(file, printed, port)| {
            let end = Snippet::start(file, printed, port).wait(Duration::from_secs(10));
            (file, end)
        })
    })
    .await
    .unwrap();
    lab.stop().await.unwrap();
    for (file, end) in ended {
        let (status, out, err) = end.unwrap_or_else(|| panic!("{file} kept running"));
        assert!(!status.success(), "{file}: {status}\n{out}");
        assert_eq!(
            err.lines().next_back(),
            Some("OSError: [Errno 98] Address already in use"),
            "{file}: {err}"
        );
    }
}

// ---- tcp_echo_client.py ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_echo_client_works_against_the_demo() {
    let (out, _) = client_against_lab("tcp_echo_client.py", 65432, Demo::TcpEcho).await;
    assert_eq!(out, "Server replied: ACK: Hello, Server\n");
}

#[tokio::test]
async fn tcp_echo_client_prints_half_a_reply_that_comes_in_two_writes() {
    let (outcome, out) = check("tcp-echo-client", &piped("tcp_echo_client.py", 65432, &[])).await;
    failed_at(
        outcome,
        &out,
        "3. the reply in two writes",
        &[
            "server → 7 bytes \"ACK: He\"",
            "server → 11 bytes \"llo, Server\"",
            "likely bug: assumed one recv = one message",
            "stdout| Server replied: ACK: He\n",
        ],
    );
}

// ---- tcp_echo_server.py ------------------------------------------------------

#[tokio::test]
async fn tcp_echo_server_dies_on_bytes_that_are_not_utf8() {
    let (outcome, out) = check("tcp-echo", &piped("tcp_echo_server.py", 65432, &[])).await;
    failed_at(
        outcome,
        &out,
        "6. bytes that are not UTF-8",
        &[
            "  ✓ 5. a 3000-byte message",
            "A ← end of stream (the program closed the connection)",
            "likely bug: decoded the bytes as UTF-8 text",
        ],
    );
    assert_eq!(
        last_stderr_line(&out),
        "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    );
}

// ---- udp_echo_client.py ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_echo_client_works_against_the_demo() {
    let (out, _) = client_against_lab("udp_echo_client.py", 9999, Demo::UdpEcho).await;
    assert_eq!(out, "Response: Message received\n");
}

#[test]
fn udp_echo_client_waits_forever_when_no_reply_comes() {
    // Nobody on the port (the page's case: socket-lab stopped): Linux does
    // not tell an unconnected socket about the ICMP "port unreachable".
    let nobody = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let alone = Snippet::start("udp_echo_client.py", 9999, nobody);
    // A "server" that receives and never answers: a lost reply, as far as
    // the client can tell.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = silent.local_addr().unwrap().port();
    let ignored = Snippet::start("udp_echo_client.py", 9999, port);
    let mut buf = [0u8; 1024];
    let (n, _) = silent.recv_from(&mut buf).expect("the client sends");
    assert_eq!(&buf[..n], b"Hello via UDP");
    std::thread::sleep(Duration::from_secs(3));
    for client in [alone, ignored] {
        let (out, err) = client.stop();
        assert_eq!(
            (out.as_str(), err.as_str()),
            ("", ""),
            "it should still wait"
        );
    }
}

// ---- udp_echo_server.py ------------------------------------------------------

#[tokio::test]
async fn udp_echo_server_dies_on_bytes_that_are_not_utf8() {
    let (outcome, out) = check("udp-echo", &piped("udp_echo_server.py", 9999, &[])).await;
    failed_at(
        outcome,
        &out,
        "5. bytes that are not UTF-8",
        &[
            "  ✓ 4. ten datagrams in a burst, ten replies",
            "your program ended during this stage (exit status 1)",
            "likely bug: decoded the bytes as UTF-8 text",
        ],
    );
    assert_eq!(
        last_stderr_line(&out),
        "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    );
}

// ---- framed_server.py --------------------------------------------------------

/// The notes' text exactly: the bare `import`, and no name before `.dumps`
/// and `.loads`.
const AS_PRINTED: [&str; 2] = ["s/^# import$/import/", "s/json\\././"];
const WITH_IMPORT: &str = "s/^# import$/import json/";

#[test]
fn framed_server_as_printed_is_a_syntax_error() {
    let command = piped("framed_server.py", 5000, &AS_PRINTED);
    let child = Command::new(&command[0])
        .args(&command[1..])
        .env("PORT", free_tcp_port().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("sh runs");
    let err = String::from_utf8_lossy(&child.stderr);
    assert!(!child.status.success());
    assert!(
        err.contains("  File \"<stdin>\", line 9\n    import\n"),
        "{err}"
    );
    assert_eq!(
        err.lines().last(),
        Some("SyntaxError: invalid syntax"),
        "{err}"
    );
}

#[tokio::test]
async fn framed_server_never_imports_json() {
    let (outcome, out) = check("framed", &piped("framed_server.py", 5000, &[])).await;
    failed_at(
        outcome,
        &out,
        "1. one frame",
        &[
            "A → 20 bytes [00 00 00 10 7b 22 6d 73 67 22 3a 20 22 48 65 6c 6c 6f 22 7d",
            "A ← error: Connection reset by peer",
            "stderr|   File \"<stdin>\", line 23, in recv_msg",
        ],
    );
    assert_eq!(
        last_stderr_line(&out),
        "NameError: name 'json' is not defined"
    );
}

#[tokio::test]
async fn framed_server_with_the_import_never_answers() {
    let (outcome, out) = check("framed", &piped("framed_server.py", 5000, &[WITH_IMPORT])).await;
    failed_at(
        outcome,
        &out,
        "1. one frame",
        &[
            "expected a reply frame, but the program closed the connection",
            "A ← end of stream (the program closed the connection)",
            "stdout| Received Payload: {'msg': 'Hello'}\n",
        ],
    );
}

#[test]
fn framed_server_with_the_import_serves_one_client_and_ends() {
    let port = free_tcp_port();
    let server = Snippet::start_edited(
        "framed_server.py",
        5000,
        port,
        &[("\n# import\n", "\nimport json\n")],
    );
    let mut s = connect(port);
    let payload = br#"{"msg": "Hello"}"#;
    s.write_all(&(payload.len() as u32).to_be_bytes()).unwrap();
    s.write_all(payload).unwrap();
    assert_eq!(read_to_end(s), b"", "the snippet sends no reply");
    let (status, out, err) = server
        .wait(Duration::from_secs(10))
        .expect("the program ends by itself");
    assert!(status.success(), "{status}\n{out}\n{err}");
    assert_eq!(out, "Received Payload: {'msg': 'Hello'}\n");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "a second client should be refused"
    );
}

#[test]
fn framed_server_with_the_import_crashes_on_a_frame_cut_short() {
    let port = free_tcp_port();
    let server = Snippet::start_edited(
        "framed_server.py",
        5000,
        port,
        &[("\n# import\n", "\nimport json\n")],
    );
    let mut s = connect(port);
    // A header that promises 100 bytes, then 5 bytes and the end.
    s.write_all(b"\0\0\0\x64short").unwrap();
    drop(s);
    let (status, out, err) = server
        .wait(Duration::from_secs(10))
        .expect("the program ends by itself");
    assert!(!status.success(), "{status}\n{out}\n{err}");
    assert!(err.contains(", line 23, in recv_msg\n"), "{err}");
    assert_eq!(
        err.lines().next_back(),
        Some("AttributeError: 'NoneType' object has no attribute 'decode'"),
        "{err}"
    );
}

// ---- auth_server.py ----------------------------------------------------------

#[tokio::test]
async fn auth_server_calls_hmac_new_without_digestmod() {
    let (outcome, out) = check("auth", &piped("auth_server.py", 8080, &[])).await;
    failed_at(
        outcome,
        &out,
        "1. the right answer: Access Granted",
        &[
            "A ← error: Connection reset by peer",
            "stderr|   File \"<stdin>\", line 14, in verify_connection",
        ],
    );
    assert_eq!(
        last_stderr_line(&out),
        "TypeError: Missing required parameter 'digestmod'."
    );
}

#[tokio::test]
async fn auth_server_with_sha256_takes_one_recv_for_the_answer() {
    let edit = "s/challenge).digest/challenge, \"sha256\").digest/";
    let (outcome, out) = check("auth", &piped("auth_server.py", 8080, &[edit])).await;
    failed_at(
        outcome,
        &out,
        "3. the answer in two writes",
        &[
            "  ✓ 1. the right answer: Access Granted",
            "  ✓ 2. a wrong answer: not granted",
            "a single recv(32) returns whatever has arrived, here the first 16 bytes",
            "likely bug: did not read exactly 32 bytes",
        ],
    );
}

// ---- uppercase_server.py -----------------------------------------------------

#[tokio::test]
async fn uppercase_server_passes_its_lesson() {
    let (outcome, out) = check("uppercase", &piped("uppercase_server.py", 9999, &[])).await;
    assert_eq!(outcome, Outcome::Passed, "{out}");
    assert!(out.contains("PASS: 6 stages passed"), "{out}");
}

#[test]
fn uppercase_server_answers_the_first_piece_of_a_message() {
    let port = free_tcp_port();
    let server = Snippet::start("uppercase_server.py", 9999, port);
    let mut s = connect(port);
    s.write_all(b"hello ").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let _ = s.write_all(b"world");
    let reply = read_to_end(s);
    let (out, err) = server.stop();
    assert_eq!(String::from_utf8_lossy(&reply), "HELLO", "{out}{err}");
}
