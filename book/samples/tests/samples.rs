//! Runs every sample of the book against real servers and checks its output.
//!
//! The list of samples and what each must print is `book/src/code/README.md`
//! (the table under "## Samples"), the same page readers see, so a sample
//! cannot be added to the book without being run here.
//!
//! - every client, Python and Rust, against an in-process `socket-lab` on port 0;
//! - every sample server, started on port 0 (it prints `listening on …`), with
//!   each client of its demo pointed at it;
//! - the standalone samples on their own.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use native_server::{Config, Server};
use protocol::Demo;

#[derive(Debug, Clone)]
struct Sample {
    file: String,
    kind: String,
    demo: String,
    expect: String,
}

fn code_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/code")
}

fn samples() -> Vec<Sample> {
    let readme =
        std::fs::read_to_string(code_dir().join("README.md")).expect("book/src/code/README.md");
    let table = readme
        .split("## Samples")
        .nth(1)
        .expect("a '## Samples' section")
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<Sample> = table
        .lines()
        .filter(|l| l.starts_with("| python/") || l.starts_with("| rust/"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            Sample {
                file: cells[0].to_owned(),
                kind: cells[1].to_owned(),
                demo: cells[2].to_owned(),
                expect: cells[3].trim_matches('`').to_owned(),
            }
        })
        .collect();
    // Every file in the folder is in the table, and the other way round.
    for lang in ["python", "rust"] {
        for entry in std::fs::read_dir(code_dir().join(lang)).unwrap() {
            let name = format!("{lang}/{}", entry.unwrap().file_name().to_string_lossy());
            if name.ends_with(".py") || name.ends_with(".rs") {
                assert!(
                    rows.iter().any(|s| s.file == name),
                    "{name} is not listed in book/src/code/README.md"
                );
            }
        }
    }
    assert!(
        rows.len() >= 40,
        "the samples table looks truncated: {} rows",
        rows.len()
    );
    rows
}

/// The command that runs a sample (Rust samples are this package's binaries).
fn command(file: &str) -> Command {
    if let Some(py) = file.strip_suffix(".py") {
        let mut c = Command::new("python3");
        c.arg("-u").arg(code_dir().join(format!("{py}.py")));
        c
    } else {
        let name = Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // target/debug/deps/samples-… → target/debug/<name>
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().unwrap().parent().unwrap().join(&name);
        assert!(bin.is_file(), "{} was not built", bin.display());
        Command::new(bin)
    }
}

fn port_var(demo: &str) -> &'static str {
    match demo {
        "tcp-echo" => "SOCKET_LAB_TCP_ECHO_PORT",
        "udp-echo" => "SOCKET_LAB_UDP_ECHO_PORT",
        "uppercase" => "SOCKET_LAB_UPPERCASE_PORT",
        "framed" => "SOCKET_LAB_FRAMED_PORT",
        "auth" => "SOCKET_LAB_AUTH_PORT",
        "sticky" => "SOCKET_LAB_STICKY_PORT",
        "web" => "SOCKET_LAB_HTTP_PORT",
        "chat" => "SOCKET_LAB_CHAT_PORT",
        "tls-echo" => "SOCKET_LAB_TLS_ECHO_PORT",
        other => panic!("unknown demo {other:?} in the samples table"),
    }
}

/// Runs a client to completion (bounded) and returns its output, or why it failed.
fn run_client(sample: &Sample, env: &[(String, String)]) -> Result<String, String> {
    let mut cmd = command(&sample.file);
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| format!("{}: could not start: {e}", sample.file))?;
    let out = wait_bounded(child, Duration::from_secs(30))
        .map_err(|e| format!("{}: {e}", sample.file))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{} exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
            sample.file,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if !stdout.contains(&sample.expect) {
        return Err(format!(
            "{} did not print {:?}; it printed:\n{stdout}",
            sample.file, sample.expect
        ));
    }
    Ok(stdout)
}

fn wait_bounded(mut child: Child, limit: Duration) -> Result<std::process::Output, String> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().map_err(|e| e.to_string()),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {limit:?}; killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

struct Lab {
    http: SocketAddr,
    demos: Vec<(Demo, SocketAddr)>,
    /// tls-echo's certificate, written where the TLS clients are told to find it.
    cert: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Lab {
    /// Starts socket-lab on a runtime of its own thread, every port 0.
    fn start() -> Lab {
        let site = std::env::temp_dir().join(format!("socket-lab-samples-{}", std::process::id()));
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(
            site.join("index.html"),
            "<!doctype html><title>Socket Lab</title>",
        )
        .unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let server = Server::bind(Config::for_tests(site.clone())).await.unwrap();
                let demos = Demo::ALL
                    .iter()
                    .filter_map(|d| server.demo_addr(*d).map(|a| (*d, a)))
                    .collect();
                let cert = site.join("socket-lab-cert.pem");
                std::fs::write(&cert, server.tls_cert_pem()).unwrap();
                ready_tx
                    .send((server.http_addr().unwrap(), demos, cert))
                    .unwrap();
                server
                    .run(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let (http, demos, cert) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("socket-lab starts");
        Lab {
            http,
            demos,
            cert,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("SOCKET_LAB_HOST".to_owned(), "127.0.0.1".to_owned()),
            (
                "SOCKET_LAB_HTTP_PORT".to_owned(),
                self.http.port().to_string(),
            ),
            (
                "SOCKET_LAB_TLS_CERT".to_owned(),
                self.cert.display().to_string(),
            ),
        ];
        for (demo, addr) in &self.demos {
            env.push((port_var(demo.name()).to_owned(), addr.port().to_string()));
        }
        env
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn every_client_against_socket_lab() {
    let lab = Lab::start();
    let env = lab.env();
    let mut failures = Vec::new();
    let mut ran = 0;
    for sample in samples().iter().filter(|s| s.kind == "client") {
        ran += 1;
        if let Err(e) = run_client(sample, &env) {
            failures.push(e);
        }
    }
    assert!(ran >= 20, "only {ran} clients found");
    assert!(
        failures.is_empty(),
        "{} of {ran} clients failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn standalone_samples_run() {
    let mut failures = Vec::new();
    for sample in samples().iter().filter(|s| s.kind == "standalone") {
        if let Err(e) = run_client(sample, &[]) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A sample server on port 0, killed on drop.
struct SampleServer {
    child: Child,
    port: u16,
    /// The lines it printed after the first.
    lines: std::sync::mpsc::Receiver<String>,
}

impl SampleServer {
    fn start(sample: &Sample) -> Result<SampleServer, String> {
        SampleServer::start_with(sample, &["0"])
    }

    /// Starts a server with these arguments (the first is its port, "0").
    fn start_with(sample: &Sample, args: &[&str]) -> Result<SampleServer, String> {
        let mut child = command(&sample.file)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: could not start: {e}", sample.file))?;
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let lines = BufReader::new(stdout).lines();
            // Every line goes to the channel, which never blocks, so the
            // server never blocks on its stdout.
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .map_err(|_| format!("{} printed no 'listening on' line within 20 s", sample.file));
        let mut server = SampleServer {
            child,
            port: 0,
            lines: rx,
        };
        let line = line?;
        server.port = line
            .split_once("listening on ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|addr| addr.parse::<SocketAddr>().ok())
            .map(|addr| addr.port())
            .filter(|_| line.contains(&sample.expect))
            .ok_or_else(|| {
                format!(
                    "{}: first line {line:?} does not say {:?}",
                    sample.file, sample.expect
                )
            })?;
        Ok(server)
    }
}

impl Drop for SampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_sample_server_answers_the_clients_of_its_demo() {
    let all = samples();
    let mut failures = Vec::new();
    let mut pairs = 0;
    for server in all.iter().filter(|s| s.kind == "server") {
        let running = match SampleServer::start(server) {
            Ok(s) => s,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let env = vec![
            ("SOCKET_LAB_HOST".to_owned(), "127.0.0.1".to_owned()),
            (port_var(&server.demo).to_owned(), running.port.to_string()),
        ];
        for client in all
            .iter()
            .filter(|c| c.kind == "client" && c.demo == server.demo)
        {
            pairs += 1;
            if let Err(e) = run_client(client, &env) {
                failures.push(format!("against {}: {e}", server.file));
            }
        }
    }
    assert!(pairs >= 30, "only {pairs} server/client pairs ran");
    assert!(
        failures.is_empty(),
        "{} pairs failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Runs one standalone sample of the table and returns what it printed.
fn run_standalone(file: &str) -> String {
    let sample = samples()
        .into_iter()
        .find(|s| s.file == file && s.kind == "standalone")
        .unwrap_or_else(|| panic!("{file} is not a standalone sample in the table"));
    run_client(&sample, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// `tcp-echo.md` and `beyond-the-notes.md`: a restart fails with *Address
/// already in use* only when the server closed first and did not set
/// `SO_REUSEADDR`; when the client closes first (the echo pattern), it works
/// either way.
#[test]
fn reuseaddr_demo() {
    let out = run_standalone("python/reuseaddr_demo.py");
    let result = |case: &str| -> String {
        out.lines()
            .find(|l| l.starts_with(case))
            .and_then(|l| l.split_once(": "))
            .map(|(_, r)| r.trim().to_owned())
            .unwrap_or_else(|| panic!("no line for {case:?} in:\n{out}"))
    };
    assert_eq!(result("client closed first, no SO_REUSEADDR"), "bind OK");
    assert_eq!(result("client closed first, with SO_REUSEADDR"), "bind OK");
    assert_eq!(result("server closed first, with SO_REUSEADDR"), "bind OK");
    let failed = result("server closed first, no SO_REUSEADDR");
    assert!(
        failed.starts_with("bind failed: [Errno 98] Address already in use"),
        "the server-first restart without SO_REUSEADDR should fail with EADDRINUSE, got {failed:?}"
    );
}

/// `osi-and-sockets.md` and `sticky-packets.md`: on loopback a segment may
/// carry far more than Ethernet's 1460 bytes, and a peer that announces an MSS
/// of 1460 gets segments of 1448 when TCP timestamps are on (Linux's default).
#[test]
fn tcp_maxseg() {
    let out = run_standalone("python/tcp_maxseg.py");
    // The two sizes after "TCP_MAXSEG" on the line that starts with `prefix`.
    let sizes = |prefix: &str| -> Vec<u32> {
        let line = out
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"));
        let (_, after) = line.split_once("TCP_MAXSEG").unwrap();
        let sizes: Vec<u32> = after
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(sizes.len(), 2, "a client and a server size in {line:?}");
        sizes
    };
    let lo = sizes("loopback:");
    assert!(
        lo.iter().all(|n| *n > 1460),
        "loopback segments should be larger than Ethernet's 1460 bytes: {lo:?}"
    );
    let timestamps = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_timestamps")
        .map(|s| s.trim() != "0")
        .unwrap_or(true);
    let want = if timestamps { 1448 } else { 1460 };
    assert_eq!(
        sizes("server announcing an MSS of 1460:"),
        vec![want, want],
        "with an MSS of 1460 announced, each segment carries {want} bytes:\n{out}"
    );
}

/// `introduction.md`, `concurrency.md` and `chat.md`: every Rust sample but
/// four is std only and compiles with `rustc` alone; those four (tokio, and
/// hmac + sha2) do not, which is why the book sends them through Cargo.
#[test]
fn std_only_rust_samples_compile_with_rustc() {
    const NEED_CRATES: [&str; 5] = [
        "async_uppercase_server.rs",
        "auth_client.rs",
        "auth_server.rs",
        "chat_server.rs",
        "tls_echo_client.rs",
    ];
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out_dir = std::env::temp_dir().join(format!("book-samples-rustc-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut failures = Vec::new();
    let mut std_only = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(code_dir().join("rust"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let needs_crates = NEED_CRATES.contains(&name.as_str());
        let mut cmd = Command::new(&rustc);
        cmd.args(["--edition", "2021", "--crate-type", "bin"])
            .arg(file)
            .arg("-o")
            .arg(out_dir.join(file.file_stem().unwrap()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if needs_crates {
            cmd.arg("--emit=metadata"); // enough to reach the imports
        } else {
            std_only += 1;
        }
        let out = cmd.output().expect("rustc runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        match (needs_crates, out.status.success()) {
            (false, false) => {
                failures.push(format!("{name} does not build with rustc alone:\n{stderr}"))
            }
            (true, true) => failures.push(format!(
                "{name} builds with rustc alone; the book says it needs crates"
            )),
            (true, false) if !stderr.contains("unresolved") => failures.push(format!(
                "{name}: rustc failed, but not on a missing crate:\n{stderr}"
            )),
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(
        std_only >= 15,
        "only {std_only} std-only Rust samples found"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `client-server.md`: the `content-length` header the HTTP client prints is
/// the number of body bytes it then counts, in both languages.
#[test]
fn http_get_client_body_matches_content_length() {
    let lab = Lab::start();
    let env = lab.env();
    for file in ["python/http_get_client.py", "rust/http_get_client.rs"] {
        let sample = samples()
            .into_iter()
            .find(|s| s.file == file)
            .unwrap_or_else(|| panic!("{file} is not in the table"));
        let out = run_client(&sample, &env).unwrap_or_else(|e| panic!("{e}"));
        let header: usize = out
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("{file} printed no content-length:\n{out}"));
        let counted: usize = out
            .lines()
            .find_map(|l| l.strip_prefix("(and ")?.strip_suffix(" bytes of body)"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{file} printed no body size:\n{out}"));
        assert!(header > 0, "{file}: an empty page?\n{out}");
        assert_eq!(header, counted, "{file}: content-length vs body:\n{out}");
    }
}

impl SampleServer {
    /// The lines it prints up to and including the first that contains
    /// `until`, waiting at most 10 s.
    fn lines_until(&self, until: &str) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(until);
                    seen.push(line);
                    if done {
                        return Ok(seen);
                    }
                }
                Err(_) => return Err(format!("no line with {until:?} within 10 s; saw {seen:#?}")),
            }
        }
    }
}

/// The sizes of the reads a sticky server printed (`  read 1: 3 bytes …`).
fn read_sizes(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .filter_map(|l| {
            let (_, rest) = l.trim_start().strip_prefix("read ")?.split_once(": ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// `tcp-echo.md` and `sticky-packets.md`: the read sizes the sticky table
/// predicts for `Hello` and `World`, with both sample servers. A small read
/// size splits every write; a receiver that waits before each read finds both
/// writes waiting, so its reads are cut by the read size alone.
#[test]
fn sticky_server_read_size_and_delay() {
    let all = samples();
    let client = all
        .iter()
        .find(|s| s.file == "python/sticky_client.py")
        .expect("sticky_client.py in the table");
    // (read size, delay in ms, the reads it must make: None = any reads of at
    // most the read size, as timing decides)
    let rows: [(&str, &str, Option<&[usize]>); 4] = [
        ("3", "0", None),
        ("1024", "500", Some(&[10])),
        ("3", "500", Some(&[3, 3, 3, 1])),
        ("7", "500", Some(&[7, 3])),
    ];
    let mut failures = Vec::new();
    for server in all
        .iter()
        .filter(|s| s.kind == "server" && s.demo == "sticky")
    {
        for (size, delay, want) in rows {
            let result = (|| -> Result<(), String> {
                let running = SampleServer::start_with(server, &["0", size, delay])?;
                let env = vec![
                    ("SOCKET_LAB_HOST".to_owned(), "127.0.0.1".to_owned()),
                    (
                        "SOCKET_LAB_STICKY_PORT".to_owned(),
                        running.port.to_string(),
                    ),
                ];
                run_client(client, &env)?;
                let lines = running.lines_until("done after")?;
                let sizes = read_sizes(&lines);
                let limit: usize = size.parse().unwrap();
                let ok = match want {
                    Some(want) => sizes == want,
                    None => sizes.iter().sum::<usize>() == 10 && sizes.iter().all(|n| *n <= limit),
                };
                if ok {
                    Ok(())
                } else {
                    Err(format!("read sizes {sizes:?} in {lines:#?}"))
                }
            })();
            if let Err(e) = result {
                failures.push(format!(
                    "{} with read size {size}, delay {delay} ms: {e}",
                    server.file
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `tcp-vs-udp.md` and `udp-echo.md`: on Linux the ICMP port-unreachable
/// reaches only a connected UDP socket, as `ConnectionRefusedError`.
#[test]
fn udp_unreachable() {
    let out = run_standalone("python/udp_unreachable.py");
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
            .to_owned()
    };
    assert!(
        line("unconnected:").contains("timed out"),
        "an unconnected socket on Linux hears nothing:\n{out}"
    );
    assert!(
        line("connected:").contains("ConnectionRefusedError"),
        "a connected socket gets the refusal:\n{out}"
    );
}

/// `beyond-the-notes.md`: both half-close clients print the reply, then that
/// the server's end of stream came after their own FIN.
#[test]
fn half_close_client_sees_end_of_stream() {
    let lab = Lab::start();
    let env = lab.env();
    for (file, eof) in [
        (
            "python/half_close_client.py",
            "recv returned b'' : the server closed its side after ours",
        ),
        (
            "rust/half_close_client.rs",
            "read returned 0: the server closed its side after ours",
        ),
    ] {
        let sample = samples()
            .into_iter()
            .find(|s| s.file == file)
            .unwrap_or_else(|| panic!("{file} is not in the table"));
        let out = run_client(&sample, &env).unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            ["Server replied: ACK: Hello, Server", eof],
            "{file} printed:\n{out}"
        );
    }
}

/// `tcp-echo.md`: with the accept queue full, Linux drops a new SYN, and the
/// client connects only when its kernel resends it (about a second later)
/// after the server has made room.
#[test]
fn backlog_full() {
    let out = run_standalone("python/backlog_full.py");
    let waited: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("connection 3: connected after "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("connection 3 did not connect:\n{out}"));
    assert!(
        waited >= 0.9,
        "connection 3 connected after {waited} s: its first SYN should have been dropped:\n{out}"
    );
}
