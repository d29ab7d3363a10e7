//! The claims of `book/src/ipv6.md` that the samples table cannot express:
//! what `resolve.py` prints, `connect_each` moving on from a refused address,
//! the dual-stack server seeing IPv4 clients as `::ffff:a.b.c.d`, and what
//! happens with `IPV6_V6ONLY` set.
//!
//! Not every machine has IPv6. The kernel may lack it altogether (`socket
//! (AF_INET6)` fails), or have it with no `::1` on loopback (common in
//! containers: `::` can be bound, `::1` cannot). Each test finds out which,
//! says so on stderr, and then checks what the samples print in that case,
//! so a machine without IPv6 checks the samples' messages instead of passing
//! without looking.

use std::io::{BufRead, BufReader};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use native_server::{Config, Server};
use protocol::Demo;

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/code/python")
}

/// How much IPv6 this machine has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ipv6 {
    /// No IPv6 sockets at all.
    None,
    /// IPv6 sockets, but `::1` cannot be bound: no IPv6 on loopback.
    NoLoopback,
    /// `::1` works.
    Loopback,
}

fn ipv6() -> Ipv6 {
    let have = if TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok() {
        Ipv6::Loopback
    } else if TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)).is_ok() {
        Ipv6::NoLoopback
    } else {
        Ipv6::None
    };
    if have != Ipv6::Loopback {
        eprintln!("this machine has {have:?} IPv6: checking what the samples say about it");
    }
    have
}

/// A child process, killed when dropped (a failed assertion included).
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a program printed, and whether it exited with 0.
struct Ran {
    ok: bool,
    out: String,
}

/// Runs a command to its end, for at most 30 s.
fn run(mut cmd: Command) -> Ran {
    let shown = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shown}: could not start: {e}"));
    let mut running = Running(Some(child));
    let start = Instant::now();
    loop {
        match running.0.as_mut().unwrap().try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > Duration::from_secs(30) => {
                panic!("{shown} still running after 30 s; killed")
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("{shown}: {e}"),
        }
    }
    let out = running
        .0
        .take()
        .unwrap()
        .wait_with_output()
        .expect("output");
    Ran {
        ok: out.status.success(),
        out: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

fn python(file: &str, args: &[&str]) -> Command {
    let mut c = Command::new("python3");
    c.arg("-u").arg(python_dir().join(file)).args(args);
    c.env_remove("SOCKET_LAB_TCP_ECHO_PORT")
        .env_remove("SOCKET_LAB_HOST");
    c
}

fn rust_connect_each(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_connect_each"));
    c.args(args).env_remove("SOCKET_LAB_TCP_ECHO_PORT");
    c
}

/// The line of `out` that starts with `prefix` (after indentation).
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"))
}

/// The socket addresses `resolve.py` listed under the heading that contains
/// `heading`, in order.
fn listed<'a>(out: &'a str, heading: &str) -> Vec<&'a str> {
    out.lines()
        .skip_while(|l| !l.contains(heading))
        .skip(1)
        .take_while(|l| l.starts_with("  AF_"))
        .map(|l| &l[l.find('(').expect("a sockaddr")..])
        .collect()
}

/// `ipv6.md`: getaddrinfo's answers, as `resolve.py` prints them.
#[test]
fn resolve_prints_getaddrinfo_results() {
    let have = ipv6();
    // No name, AI_PASSIVE: the wildcard of each family, IPv4 first (glibc).
    let out = run(python("resolve.py", &[])).out;
    let passive = listed(&out, "as a server asks");
    assert_eq!(
        passive,
        ["('0.0.0.0', 65432)", "('::', 65432, 0, 0)"],
        "{out}"
    );
    // localhost: whatever /etc/hosts says, loopback; three times as many
    // results without a socket type (stream, datagram, raw).
    let local = listed(&out, "as a client asks");
    assert!(!local.is_empty(), "{out}");
    assert!(
        local
            .iter()
            .all(|a| a.starts_with("('127.") || a.starts_with("('::1',")),
        "localhost should be loopback only: {local:?}"
    );
    let every = format!("without type=SOCK_STREAM: {} results", 3 * local.len());
    assert!(out.contains(&every), "want {every:?} in:\n{out}");
    eprintln!("localhost here gives {local:?}");

    // No name at all, no AI_PASSIVE: the loopback addresses, ::1 first.
    let out = run(python("resolve.py", &["", "65432"])).out;
    assert_eq!(
        listed(&out, "as a client asks"),
        ["('::1', 65432, 0, 0)", "('127.0.0.1', 65432)"],
        "{out}"
    );

    // An IPv6 literal is its own answer, a four-tuple; the brackets of
    // `[::1]:65432` are not part of the address.
    let out = run(python("resolve.py", &["::1", "65432"])).out;
    assert_eq!(listed(&out, "as a client asks"), ["('::1', 65432, 0, 0)"]);
    let brackets = run(python("resolve.py", &["[::1]", "65432"]));
    assert!(!brackets.ok, "{}", brackets.out);
    assert!(
        brackets.out.contains("getaddrinfo failed"),
        "{}",
        brackets.out
    );

    // A link-local address with a zone: the zone becomes the scope id, the
    // interface's index.
    if have == Ipv6::None {
        return;
    }
    let Some((addr, iface)) = link_local() else {
        eprintln!("no link-local IPv6 address here: the zone check is skipped");
        return;
    };
    let index = std::fs::read_to_string(format!("/sys/class/net/{iface}/ifindex"))
        .expect("ifindex")
        .trim()
        .to_owned();
    let out = run(python("resolve.py", &[&format!("{addr}%{iface}"), "80"])).out;
    assert_eq!(
        listed(&out, "as a client asks"),
        [format!("('{addr}', 80, 0, {index})")],
        "{out}"
    );
    // Rust parses a numeric zone in an address string.
    let parsed: SocketAddr = format!("[{addr}%{index}]:80").parse().unwrap();
    let SocketAddr::V6(v6) = parsed else {
        panic!("{parsed}")
    };
    assert_eq!(v6.scope_id().to_string(), index);
    // Python 3.11: a two-tuple with the zone in the string is not enough to
    // connect; the tuple from getaddrinfo is.
    let listener = TcpListener::bind(parsed).expect("bind the link-local address");
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET6)\n\
         try:\n    s.connect(('{addr}%{iface}', {port}))\n\
         except OSError as e:\n    print('two-tuple:', e)\n\
         c = socket.create_connection(('{addr}%{iface}', {port}), timeout=3)\n\
         print('create_connection:', c.getpeername())\n"
    );
    let mut c = Command::new("python3");
    c.arg("-c").arg(script);
    let ran = run(c);
    assert!(ran.ok, "{}", ran.out);
    assert!(
        ran.out.contains(&format!(
            "create_connection: ('{addr}', {port}, 0, {index})"
        )),
        "{}",
        ran.out
    );
    let python_3_11 = run({
        let mut c = Command::new("python3");
        c.args(["-c", "import sys; print(sys.version_info[:2] == (3, 11))"]);
        c
    })
    .out;
    if python_3_11.trim() == "True" {
        assert!(
            ran.out.contains("two-tuple: [Errno 22] Invalid argument"),
            "{}",
            ran.out
        );
    }
}

/// A link-local address of this machine and its interface, from
/// `/proc/net/if_inet6`.
fn link_local() -> Option<(String, String)> {
    let table = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    table.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let hex = f.first()?;
        if !hex.starts_with("fe80") || f.len() < 6 {
            return None;
        }
        let bits = u128::from_str_radix(hex, 16).ok()?;
        Some((Ipv6Addr::from(bits).to_string(), f[5].to_owned()))
    })
}

/// socket-lab in-process, every port 0, on `bind`; stopped on drop.
struct Lab {
    tcp_echo: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Lab {
    fn start(bind: &str) -> Lab {
        let site = std::env::temp_dir().join(format!("socket-lab-ipv6-{}", std::process::id()));
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("index.html"), "<!doctype html><title>x</title>").unwrap();
        let mut config = Config::for_tests(site);
        config.bind = bind.parse().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let server = Server::bind(config).await.unwrap();
                ready_tx
                    .send(server.demo_addr(Demo::TcpEcho).unwrap())
                    .unwrap();
                server
                    .run(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let tcp_echo = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("socket-lab starts");
        Lab {
            tcp_echo,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
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

const REPLY: &str = "Server replied: ACK: Hello, Server";

/// `ipv6.md`: tcp-echo listens on 127.0.0.1 only. Given both loopback
/// addresses, ::1 first, `connect_each.py` is refused on ::1 and connects on
/// 127.0.0.1; given ::1 alone, both twins fail with the refusal.
#[test]
fn connect_each_moves_on_from_a_refused_address() {
    let have = ipv6();
    let lab = Lab::start("127.0.0.1");
    let port = lab.tcp_echo.port().to_string();

    let ran = run(python("connect_each.py", &["", &port]));
    assert!(ran.ok, "{}", ran.out);
    let out = ran.out;
    assert!(line(&out, "None port").ends_with("2 address(es)"), "{out}");
    let first = line(&out, "AF_INET6 ::1:");
    match have {
        Ipv6::Loopback => assert!(first.contains("Connection refused"), "{out}"),
        Ipv6::None => assert!(first.contains("Address family not supported"), "{out}"),
        // No ::1 on loopback: some error, which one depends on the setup.
        Ipv6::NoLoopback => assert!(!first.ends_with("connected"), "{out}"),
    }
    eprintln!("{first}");
    assert_eq!(
        line(&out, "AF_INET 127.0.0.1:"),
        "  AF_INET 127.0.0.1: connected"
    );
    assert!(out.contains(REPLY), "{out}");

    // By name: localhost is loopback, so one of its addresses answers.
    for cmd in [
        python("connect_each.py", &["localhost", &port]),
        rust_connect_each(&["localhost", &port]),
    ] {
        let ran = run(cmd);
        assert!(ran.ok && ran.out.contains(REPLY), "{}", ran.out);
    }

    // ::1 alone: nothing to move on to.
    if have == Ipv6::Loopback {
        for (cmd, refused) in [
            (
                python("connect_each.py", &["::1", &port]),
                "[Errno 111] Connection refused",
            ),
            (
                rust_connect_each(&["::1", &port]),
                "Connection refused (os error 111)",
            ),
        ] {
            let ran = run(cmd);
            assert!(!ran.ok, "{}", ran.out);
            assert!(
                ran.out.contains("no address of") && ran.out.contains(refused),
                "{}",
                ran.out
            );
        }
    }
}

/// `ipv6.md`: with `--bind ::1`, the demos are the same over IPv6: the
/// course's tcp-echo clients get the same reply.
#[test]
fn the_tcp_echo_demo_answers_the_same_over_ipv6() {
    if ipv6() != Ipv6::Loopback {
        return; // socket-lab cannot bind ::1 here; said so above
    }
    let lab = Lab::start("::1");
    assert_eq!(lab.tcp_echo.ip().to_string(), "::1");
    let port = lab.tcp_echo.port().to_string();
    let ran = run(rust_connect_each(&["::1", &port]));
    assert!(ran.ok && ran.out.contains(REPLY), "{}", ran.out);
    let mut client = python("tcp_echo_client.py", &[]);
    client
        .env("SOCKET_LAB_HOST", "::1")
        .env("SOCKET_LAB_TCP_ECHO_PORT", &port);
    // tcp_echo_client.py makes an AF_INET socket: it cannot reach ::1.
    let ran = run(client);
    assert!(
        !ran.ok
            && ran
                .out
                .contains("Address family for hostname not supported"),
        "{}",
        ran.out
    );
    let mut client = python("whoami_client.py", &[]);
    client
        .env("SOCKET_LAB_HOST", "::1")
        .env("SOCKET_LAB_TCP_ECHO_PORT", &port);
    // whoami_client.py uses create_connection: any family.
    let ran = run(client);
    assert!(
        ran.ok && ran.out.contains("Server replied: ACK: Hello from port"),
        "{}",
        ran.out
    );
}

/// A sample server started on port 0, with what it prints on a channel.
struct SampleServer {
    _child: Running,
    first: String,
    port: u16,
    lines: Receiver<String>,
}

impl SampleServer {
    fn start(args: &[&str]) -> SampleServer {
        let mut child = python("dualstack_server.py", args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let child = Running(Some(child));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("dualstack_server.py prints a first line within 20 s");
        let port = first
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("first line {first:?}"))
            .port();
        SampleServer {
            _child: child,
            first,
            port,
            lines: rx,
        }
    }

    /// The next line that starts with "accepted ", within 10 s.
    fn accepted(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with("accepted ") => return l,
                Ok(_) => {}
                Err(_) => panic!("no 'accepted' line within 10 s"),
            }
        }
    }
}

/// The client's own port, from whoami_client.py's `local address:` line. It
/// prints `host:port` without brackets (`::1:59216` for IPv6), so the port is
/// what follows the last colon.
fn client_port(out: &str) -> String {
    let addr = line(out, "local address:")
        .split_whitespace()
        .nth(2)
        .expect("an address");
    let (_, port) = addr.rsplit_once(':').unwrap_or_else(|| panic!("{addr:?}"));
    assert!(port.parse::<u16>().is_ok(), "{addr:?}");
    port.to_owned()
}

fn whoami(host: &str, port: u16) -> String {
    let mut c = python("whoami_client.py", &[]);
    c.env("SOCKET_LAB_HOST", host)
        .env("SOCKET_LAB_TCP_ECHO_PORT", port.to_string());
    let ran = run(c);
    assert!(ran.ok, "{}", ran.out);
    ran.out
}

/// `ipv6.md`: one socket on `::` with IPV6_V6ONLY off serves IPv4 clients,
/// which it sees as `::ffff:127.0.0.1` with the client's own port, and IPv6
/// clients as themselves. With IPV6_V6ONLY on, IPv4 clients are refused.
#[test]
fn dualstack_server_sees_ipv4_clients_v4_mapped() {
    let have = ipv6();
    let server = SampleServer::start(&["0"]);
    if have == Ipv6::None {
        assert!(
            server.first.contains("IPv4 only: this system has no IPv6"),
            "{}",
            server.first
        );
        let out = whoami("127.0.0.1", server.port);
        let port = client_port(&out);
        assert_eq!(server.accepted(), format!("accepted 127.0.0.1:{port}"));
        return;
    }
    assert_eq!(
        server.first,
        format!(
            "listening on [::]:{}  (IPV6_V6ONLY=0: IPv6 and IPv4 clients)",
            server.port
        )
    );
    let out = whoami("127.0.0.1", server.port);
    let port = client_port(&out);
    assert!(out.contains(&format!("Hello from port {port}")), "{out}");
    assert_eq!(
        server.accepted(),
        format!("accepted [::ffff:127.0.0.1]:{port} (an IPv4 client, 127.0.0.1, v4-mapped)")
    );
    if have == Ipv6::Loopback {
        let out = whoami("::1", server.port);
        let port = client_port(&out);
        assert_eq!(
            server.accepted(),
            format!("accepted [::1]:{port} (an IPv6 client)")
        );
    }
    // A link-local address with its zone reaches it too (from Rust: the
    // tuple form goes through getaddrinfo, which reads the zone).
    if let Some((addr, iface)) = link_local() {
        let zoned = format!("{addr}%{iface}");
        let ran = run(rust_connect_each(&[&zoned, &server.port.to_string()]));
        assert!(ran.ok && ran.out.contains(REPLY), "{}", ran.out);
        assert!(
            server
                .accepted()
                .starts_with(&format!("accepted [{addr}]:")),
            "{zoned}"
        );
    }
    // The dual-stack socket holds the IPv4 port too.
    let taken = TcpListener::bind(("0.0.0.0", server.port)).unwrap_err();
    assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    drop(server);

    // IPV6_V6ONLY on: 127.0.0.1 refused; ::1 still served.
    let server = SampleServer::start(&["0", "v6only"]);
    assert_eq!(
        server.first,
        format!(
            "listening on [::]:{}  (IPV6_V6ONLY=1: IPv6 clients only)",
            server.port
        )
    );
    let refused = TcpStream::connect(("127.0.0.1", server.port)).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // ... and the IPv4 port is free for a socket of its own.
    TcpListener::bind(("0.0.0.0", server.port)).expect("0.0.0.0 beside a v6-only ::");
    if have == Ipv6::Loopback {
        let ran = run(python(
            "connect_each.py",
            &["::1", &server.port.to_string()],
        ));
        assert!(ran.ok && ran.out.contains(REPLY), "{}", ran.out);
        assert!(server.accepted().starts_with("accepted [::1]:"));
    }
}

/// `ipv6.md`: a socket bound to `::` without setting IPV6_V6ONLY follows
/// `net.ipv6.bindv6only` (Rust's std never sets it); Python's
/// `create_server` sets it to 1 for AF_INET6 unless `dualstack_ipv6=True`.
#[test]
fn the_default_of_ipv6_v6only() {
    if ipv6() == Ipv6::None {
        return; // nothing to bind; said so above
    }
    let sysctl = std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only")
        .expect("/proc/sys/net/ipv6/bindv6only")
        .trim()
        .to_owned();
    eprintln!("net.ipv6.bindv6only = {sysctl}");
    let listener = TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let v4 = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(3),
    );
    assert_eq!(v4.is_ok(), sysctl == "0", "bindv6only={sysctl}: {v4:?}");

    let script = "import socket\n\
        for d in (False, True):\n\
        \x20   s = socket.create_server(('', 0), family=socket.AF_INET6, dualstack_ipv6=d)\n\
        \x20   print(d, s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))\n\
        print('has_dualstack_ipv6', socket.has_dualstack_ipv6())\n\
        import ipaddress, sys\n\
        peer = ipaddress.ip_address('::ffff:127.0.0.1')\n\
        print(sys.version_info[:2] == (3, 11), peer.is_loopback, peer.ipv4_mapped.is_loopback)\n";
    let mut c = Command::new("python3");
    c.arg("-c").arg(script);
    let ran = run(c);
    assert!(ran.ok, "{}", ran.out);
    let lines: Vec<&str> = ran.out.lines().collect();
    assert_eq!(lines[..3], ["False 1", "True 0", "has_dualstack_ipv6 True"]);
    // Python 3.11's ipaddress: a v4-mapped 127.0.0.1 is not "loopback";
    // its .ipv4_mapped is. (Later versions may answer True for both.)
    match lines[3] {
        "True False True" => {}
        other if other.starts_with("False") && other.ends_with("True") => {
            eprintln!("not Python 3.11: is_loopback of ::ffff:127.0.0.1 not checked")
        }
        other => panic!("{other:?}"),
    }
}
