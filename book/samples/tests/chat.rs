//! The chat protocol of `book/src/chat.md`, checked byte for byte against
//! the three sample servers (`chat_server.py`, `select_chat_server.py`,
//! `chat_server.rs`) with raw `std::net::TcpStream` clients, and both sample
//! clients (`chat_client.py`, `chat_client.rs`) against the Python and Rust
//! `chat_server` with a raw client in the room.
//!
//! Every wait is for a line the protocol promises, read with a timeout, so
//! a test is as fast as the servers and fails with what it saw instead of
//! hanging. Every process is killed when its handle is dropped, a failed
//! assertion included.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long any one expected line may take.
const PATIENCE: Duration = Duration::from_secs(10);

fn python(file: &str) -> Command {
    let mut c = Command::new("python3");
    c.arg("-u").arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../src/code/python")
            .join(file),
    );
    c
}

/// A child process, killed when dropped.
struct Running {
    child: Child,
    what: String,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let what = format!("{cmd:?}");
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
        Running { child, what }
    }

    /// Waits for it to exit (at most `PATIENCE`), and says whether it exited with 0.
    fn wait(&mut self) -> bool {
        let start = Instant::now();
        loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => return status.success(),
                None if start.elapsed() > PATIENCE => {
                    panic!("{} still running after {PATIENCE:?}", self.what)
                }
                None => thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every line a process prints, as it prints them, from a thread that never
/// lets its stdout fill up.
fn lines_of(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// A sample chat server on port 0.
struct Server {
    port: u16,
    _process: Running,
    _log: Receiver<String>,
}

impl Server {
    fn python() -> Server {
        Server::start(python("chat_server.py"))
    }

    fn python_select() -> Server {
        Server::start(python("select_chat_server.py"))
    }

    fn rust() -> Server {
        Server::start(Command::new(env!("CARGO_BIN_EXE_chat_server")))
    }

    fn start(mut cmd: Command) -> Server {
        cmd.arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut process = Running::spawn(cmd);
        let log = lines_of(process.child.stdout.take().unwrap());
        let first = log
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("{}: no 'listening on' line", process.what));
        let port = first
            .strip_prefix("listening on ")
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("{}: first line {first:?}", process.what))
            .port();
        Server {
            port,
            _process: process,
            _log: log,
        }
    }
}

/// A raw client: bytes out, lines in.
struct Peer {
    /// Its address as the server names it, `127.0.0.1:PORT`.
    name: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn connect(server: &Server) -> Peer {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        Peer {
            name: stream.local_addr().unwrap().to_string(),
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    /// Connects and reads the welcome, which must count `others`.
    fn join(server: &Server, others: usize) -> Peer {
        let mut peer = Peer::connect(server);
        let who = if others == 1 { "other" } else { "others" };
        peer.expect(&format!("* you are {}; {others} {who} here", peer.name));
        peer
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// The next line, without its `\n`.
    fn line(&mut self) -> String {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(_) if line.ends_with(b"\n") => {
                line.pop();
                String::from_utf8(line).expect("UTF-8 from the server")
            }
            Ok(_) => panic!(
                "{}: the server closed after {:?}, not a whole line",
                self.name,
                String::from_utf8_lossy(&line)
            ),
            Err(e) => panic!(
                "{}: no whole line ({e}); got {:?}",
                self.name,
                String::from_utf8_lossy(&line)
            ),
        }
    }

    fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "what {} received", self.name);
    }

    /// The server closes this connection, with nothing more to say.
    fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{}: not closed: {e}", self.name),
        }
        assert!(
            rest.is_empty(),
            "{} received {:?} before the close",
            self.name,
            String::from_utf8_lossy(&rest)
        );
    }
}

/// Every rule of the protocol, in the order `chat.md` gives them.
fn speaks_the_protocol(server: &Server) {
    // The welcome counts the others; the others hear who joined.
    let mut a = Peer::join(server, 0);
    let mut b = Peer::join(server, 1);
    a.expect(&format!("* {} joined", b.name));
    let mut c = Peer::join(server, 2);
    a.expect(&format!("* {} joined", c.name));
    b.expect(&format!("* {} joined", c.name));

    // A line goes to everyone else, with the sender's address.
    a.send(b"hello\n");
    b.expect(&format!("{}: hello", a.name));
    c.expect(&format!("{}: hello", a.name));

    // "\r\n" ends a line too, without its "\r". And A's next line is B's:
    // A did not get its own "hello" back.
    b.send(b"from b\r\n");
    a.expect(&format!("{}: from b", b.name));
    c.expect(&format!("{}: from b", b.name));

    // Empty lines are ignored, "\r\n" alone included.
    a.send(b"\n\r\n");
    a.send(b"after empty\n");
    b.expect(&format!("{}: after empty", a.name));
    c.expect(&format!("{}: after empty", a.name));

    // Two lines in one write are two lines.
    c.send(b"one\ntwo\n");
    for peer in [&mut a, &mut b] {
        peer.expect(&format!("{}: one", c.name));
        peer.expect(&format!("{}: two", c.name));
    }

    // One line in two writes is one line. Nothing tells us when the server
    // has read the first half, so a pause makes two reads likely; the
    // assertion holds however the bytes were read.
    a.send(b"spl");
    thread::sleep(Duration::from_millis(100));
    a.send(b"it\n");
    b.expect(&format!("{}: split", a.name));
    c.expect(&format!("{}: split", a.name));

    // UTF-8 goes through as it is.
    b.send("héllo ✓\n".as_bytes());
    a.expect(&format!("{}: héllo ✓", b.name));
    c.expect(&format!("{}: héllo ✓", b.name));

    // The longest line there may be: 1024 bytes, then "\n".
    let longest = "x".repeat(1024);
    a.send(format!("{longest}\n").as_bytes());
    b.expect(&format!("{}: {longest}", a.name));
    c.expect(&format!("{}: {longest}", a.name));

    // At end of stream a last line without "\n" still counts; then "left",
    // and the server closes its side.
    c.send(b"bye");
    c.stream.shutdown(Shutdown::Write).unwrap();
    for peer in [&mut a, &mut b] {
        peer.expect(&format!("{}: bye", c.name));
        peer.expect(&format!("* {} left", c.name));
    }
    c.expect_closed();

    // 1025 bytes with no "\n": too long. The reason, the close, a "left".
    b.send(&[b'y'; 1025]);
    b.expect("* line too long: at most 1024 bytes per line; closing");
    b.expect_closed();
    a.expect(&format!("* {} left", b.name));

    // The room goes on: A is alone, and a newcomer is told so.
    let d = Peer::join(server, 1);
    a.expect(&format!("* {} joined", d.name));

    // A client that closes at once still gets its welcome before the close.
    let mut e = Peer::connect(server);
    e.stream.shutdown(Shutdown::Write).unwrap();
    e.expect(&format!("* you are {}; 2 others here", e.name));
    e.expect_closed();
    a.expect(&format!("* {} joined", e.name));
    a.expect(&format!("* {} left", e.name));
}

#[test]
fn python_server_speaks_the_protocol() {
    speaks_the_protocol(&Server::python());
}

#[test]
fn select_server_speaks_the_protocol() {
    speaks_the_protocol(&Server::python_select());
}

#[test]
fn rust_server_speaks_the_protocol() {
    speaks_the_protocol(&Server::rust());
}

/// A client that never reads is dropped once 64 KiB wait for it, and the
/// others, still reading, are not.
fn drops_a_client_that_does_not_read(server: &Server) {
    let mut a = Peer::join(server, 0);
    let mut b = Peer::join(server, 1);
    a.expect(&format!("* {} joined", b.name));
    let mut slow = Peer::join(server, 2);
    a.expect(&format!("* {} joined", slow.name));
    b.expect(&format!("* {} joined", slow.name));

    // A hears nothing of its own lines: the next line it reads is the drop.
    let (left_tx, left_rx) = mpsc::channel();
    let mut a_in = BufReader::new(a.stream.try_clone().unwrap());
    thread::spawn(move || {
        let mut line = String::new();
        let _ = a_in.read_line(&mut line);
        let _ = left_tx.send(line);
    });
    // B reads all the while, up to A's last line.
    let a_name = a.name.clone();
    let b_reader = thread::spawn(move || {
        let mut lines = Vec::new();
        loop {
            let line = b.line();
            if line == format!("{a_name}: done") {
                return lines;
            }
            lines.push(line);
        }
    });

    let payload = "z".repeat(999);
    let limit = 64 << 20; // far more than any kernel buffers on the way
    let mut sent = 0;
    let left = loop {
        if let Ok(line) = left_rx.try_recv() {
            break line;
        }
        assert!(
            sent < limit,
            "{sent} bytes sent and the silent client is still in"
        );
        a.send(format!("{payload}\n").as_bytes());
        sent += 1000;
    };
    assert_eq!(left, format!("* {} left\n", slow.name));
    assert!(sent > 64 * 1024, "dropped after only {sent} bytes");
    a.send(b"done\n");

    let lines = b_reader.join().expect("B read every line");
    let drop_notice = format!("* {} left", slow.name);
    let from_a = format!("{}: {payload}", a.name);
    assert_eq!(
        lines.iter().filter(|l| **l == drop_notice).count(),
        1,
        "B hears of the drop once"
    );
    assert_eq!(
        lines.iter().filter(|l| **l == from_a).count(),
        sent / 1000,
        "B, reading, gets every line"
    );

    // What the kernel had taken for the silent client still arrives; then the close.
    let mut rest = Vec::new();
    match slow.reader.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the silent client was not closed: {e}"),
    }
}

#[test]
fn python_server_drops_a_client_that_does_not_read() {
    drops_a_client_that_does_not_read(&Server::python());
}

#[test]
fn select_server_drops_a_client_that_does_not_read() {
    drops_a_client_that_does_not_read(&Server::python_select());
}

#[test]
fn rust_server_drops_a_client_that_does_not_read() {
    drops_a_client_that_does_not_read(&Server::rust());
}

/// A sample client, pointed at `server`.
fn client(python_or_rust: &str, server: &Server) -> Command {
    let mut cmd = match python_or_rust {
        "python" => python("chat_client.py"),
        _ => Command::new(env!("CARGO_BIN_EXE_chat_client")),
    };
    cmd.env("SOCKET_LAB_HOST", "127.0.0.1")
        .env("SOCKET_LAB_CHAT_PORT", server.port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

/// The name in `* NAME joined`.
fn joined(line: &str) -> String {
    line.strip_prefix("* ")
        .and_then(|l| l.strip_suffix(" joined"))
        .unwrap_or_else(|| panic!("not a join: {line:?}"))
        .to_owned()
}

/// `--say LINE`: joins, says it, prints what arrives until 1 s of silence, leaves.
fn say(python_or_rust: &str, server: &Server) {
    let mut b = Peer::join(server, 0);
    let mut cmd = client(python_or_rust, server);
    cmd.args(["--say", "hello from the say client"])
        .stdin(Stdio::null());
    let mut process = Running::spawn(cmd);
    let name = joined(&b.line());
    b.expect(&format!("{name}: hello from the say client"));
    b.send(b"and hello to you\n");
    b.expect(&format!("* {name} left")); // after its second of silence
    assert!(process.wait(), "{} failed", process.what);
    let mut out = String::new();
    process
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(
        out,
        format!(
            "* you are {name}; 1 other here\n{}: and hello to you\n",
            b.name
        ),
        "what {python_or_rust}'s chat_client --say printed"
    );
}

/// Interactive: typed lines go out as typed, arriving lines are printed at
/// once, and at the end of input the client waits for the server to close.
fn interactive(python_or_rust: &str, server: &Server) {
    let mut b = Peer::join(server, 0);
    let mut cmd = client(python_or_rust, server);
    cmd.stdin(Stdio::piped());
    let mut process = Running::spawn(cmd);
    let printed = lines_of(process.child.stdout.take().unwrap());
    let name = joined(&b.line());
    let next_printed = || {
        printed
            .recv_timeout(PATIENCE)
            .expect("chat_client printed a line")
    };
    assert_eq!(next_printed(), format!("* you are {name}; 1 other here"));

    // Printed as it arrives, while the client still waits for the keyboard.
    b.send(b"anyone there?\n");
    assert_eq!(next_printed(), format!("{}: anyone there?", b.name));

    let mut stdin = process.child.stdin.take().unwrap();
    stdin.write_all(b"first\nsecond\r\nno newline").unwrap();
    drop(stdin); // end of input
    b.expect(&format!("{name}: first"));
    b.expect(&format!("{name}: second"));
    b.expect(&format!("{name}: no newline"));
    b.expect(&format!("* {name} left"));
    assert!(process.wait(), "{} failed", process.what);
}

/// With stdin already at its end (`< /dev/null`, as the samples table runs
/// it): the welcome, then gone.
fn nothing_to_say(python_or_rust: &str, server: &Server) {
    let mut b = Peer::join(server, 0);
    let mut cmd = client(python_or_rust, server);
    cmd.stdin(Stdio::null());
    let mut process = Running::spawn(cmd);
    let name = joined(&b.line());
    b.expect(&format!("* {name} left"));
    assert!(process.wait(), "{} failed", process.what);
    let mut out = String::new();
    let mut stdout = process.child.stdout.take().unwrap();
    stdout.read_to_string(&mut out).unwrap();
    assert_eq!(out, format!("* you are {name}; 1 other here\n"));
}

#[test]
fn python_client_against_both_servers() {
    // A fresh server for each part: the room must be empty when each
    // begins, and a member of the last part may not have left it yet.
    for server in [Server::python, Server::rust] {
        say("python", &server());
        interactive("python", &server());
        nothing_to_say("python", &server());
    }
}

#[test]
fn rust_client_against_both_servers() {
    // A fresh server for each part: the room must be empty when each
    // begins, and a member of the last part may not have left it yet.
    for server in [Server::python, Server::rust] {
        say("rust", &server());
        interactive("rust", &server());
        nothing_to_say("rust", &server());
    }
}
