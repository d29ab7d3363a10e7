//! The claims of the broadcast section of `book/src/udp-echo.md`: one
//! datagram sent to loopback's broadcast address reaches two receivers that
//! share a port (SO_REUSEADDR), from the Python and the Rust sender alike;
//! without SO_BROADCAST the send fails with EACCES; a socket bound to
//! 127.0.0.1 does not see broadcasts, and a unicast datagram reaches only one
//! of the sharing sockets.
//!
//! The broadcast samples are not clients of a demo, so the samples table
//! lists them with their own kind and this file runs them. Every port is
//! picked by the kernel (the first receiver binds port 0), and a receiver is
//! sent to only once it has printed its `listening on` line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/code/python")
}

fn python(file: &str, args: &[&str]) -> Command {
    let mut c = Command::new("python3");
    c.arg("-u").arg(python_dir().join(file)).args(args);
    c
}

fn rust_sender(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_udp_broadcast_sender"));
    c.args(args);
    c
}

/// What a program printed (stdout then stderr), and whether it exited with 0.
struct Ran {
    ok: bool,
    out: String,
}

/// Runs a command to its end, for at most 30 s.
fn run(mut cmd: Command) -> Ran {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shown}: could not start: {e}"));
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{shown} still running after 30 s; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    Ran {
        ok: out.status.success(),
        out: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

/// `udp_broadcast_receiver.py`, running, with the lines it prints on a
/// channel; killed on drop.
struct BroadcastReceiver {
    child: Child,
    port: u16,
    lines: Receiver<String>,
}

impl BroadcastReceiver {
    /// Starts a receiver on `port` (0: any) waiting for `count` datagrams,
    /// and returns once it has bound (its first line).
    fn start(port: u16, count: usize) -> BroadcastReceiver {
        let mut child = python(
            "udp_broadcast_receiver.py",
            &[&port.to_string(), &count.to_string()],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut receiver = BroadcastReceiver {
            child,
            port: 0,
            lines: rx,
        };
        let first = receiver
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("udp_broadcast_receiver.py prints 'listening on' within 20 s");
        receiver.port = first
            .strip_prefix("listening on 0.0.0.0:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("first line {first:?}"));
        assert!(port == 0 || receiver.port == port, "{first}");
        receiver
    }

    /// The next `n` lines it prints, within 10 s.
    fn lines(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                self.lines
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap_or_else(|_| panic!("receiver printed only {i} of {n} lines"))
            })
            .collect()
    }
}

impl Drop for BroadcastReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sender's port of a `got 15 bytes from 127.0.0.1:PORT: …` line.
fn source_port(line: &str) -> u16 {
    line.strip_prefix("got 15 bytes from 127.0.0.1:")
        .and_then(|rest| rest.strip_suffix(": hello, everyone"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a receiver's line for the datagram: {line:?}"))
}

/// `udp-echo.md`: two receivers on one port both get each datagram sent to
/// 127.255.255.255, from the Python sender and from the Rust one.
#[test]
fn two_receivers_get_the_same_broadcast() {
    let first = BroadcastReceiver::start(0, 2);
    let second = BroadcastReceiver::start(first.port, 2);
    let port = first.port.to_string();

    let py = run(python("udp_broadcast_sender.py", &[&port]));
    assert!(py.ok, "{}", py.out);
    assert_eq!(
        py.out.trim(),
        format!("sent 15 bytes to 127.255.255.255:{port}")
    );
    let rs = run(rust_sender(&[&port]));
    assert!(rs.ok, "{}", rs.out);
    assert_eq!(
        rs.out.trim(),
        format!("sent 15 bytes to 127.255.255.255:{port}")
    );

    // Each receiver got both datagrams, each from the same source port:
    // the same two datagrams, delivered twice by the kernel.
    let a: Vec<u16> = first.lines(2).iter().map(|l| source_port(l)).collect();
    let b: Vec<u16> = second.lines(2).iter().map(|l| source_port(l)).collect();
    assert_eq!(a, b, "both receivers see the same senders");
    assert_ne!(a[0], a[1], "two senders, two source ports");
}

/// `udp-echo.md`: without SO_BROADCAST, sending to a broadcast address fails
/// with EACCES: `PermissionError` in Python, `PermissionDenied` in Rust.
#[test]
fn without_so_broadcast_the_send_is_refused() {
    // Nobody needs to listen: the send fails before anything is sent.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let py = run(python(
        "udp_broadcast_sender.py",
        &[&port, "127.255.255.255", "no-broadcast"],
    ));
    assert!(!py.ok, "{}", py.out);
    assert!(
        py.out.contains(&format!(
            "sendto 127.255.255.255:{port} failed: [Errno 13] Permission denied"
        )),
        "{}",
        py.out
    );
    let rs = run(rust_sender(&[&port, "127.255.255.255", "no-broadcast"]));
    assert!(!rs.ok, "{}", rs.out);
    assert!(
        rs.out
            .contains("Permission denied (os error 13) (PermissionDenied;"),
        "{}",
        rs.out
    );
}

/// `udp-echo.md`: what the receiver's bind and options change. A socket bound
/// to 127.0.0.1 does not get a broadcast; a second bind of a port fails
/// without SO_REUSEADDR on both, works with it, and then a unicast datagram
/// goes to one of the two sockets only; std's `UdpSocket::bind` cannot join
/// them.
#[test]
fn what_bind_and_so_reuseaddr_change() {
    let script = "\
import socket
def rx(addr, reuse):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.settimeout(0.3)
    return s
def got(s):
    try:
        return s.recv(100) == b'x'
    except TimeoutError:
        return False
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
one = rx(('127.0.0.1', 0), False)
tx.sendto(b'x', ('127.255.255.255', one.getsockname()[1]))
print('bound to 127.0.0.1, broadcast received:', got(one))
a = rx(('0.0.0.0', 0), False)
try:
    rx(('0.0.0.0', a.getsockname()[1]), True)
except OSError as e:
    print('second bind, first without SO_REUSEADDR:', e)
a = rx(('0.0.0.0', 0), True)
b = rx(('0.0.0.0', a.getsockname()[1]), True)
print('port', a.getsockname()[1])
tx.sendto(b'x', ('127.0.0.1', a.getsockname()[1]))
print('unicast received by', int(got(a)) + int(got(b)), 'of 2')
import sys; sys.stdout.flush(); sys.stdin.readline()
";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line").expect("utf-8");
    assert_eq!(next(), "bound to 127.0.0.1, broadcast received: False");
    assert_eq!(
        next(),
        "second bind, first without SO_REUSEADDR: [Errno 98] Address already in use"
    );
    let port: u16 = next()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .expect("a port");
    assert_eq!(next(), "unicast received by 1 of 2");
    // While the two sockets share the port, std cannot bind a third.
    let err = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    drop(child.stdin.take());
    let _ = child.wait();
}
