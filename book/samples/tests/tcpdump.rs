//! The captures of `book/src/tcpdump.md`, taken for real: tcpdump on the
//! loopback interface while the book's own `tcp_echo_client.py` and
//! `udp_echo_client.py` talk to an in-process socket-lab on port 0. The test
//! reads tcpdump's lines and checks what the chapter says they show: the
//! three-way handshake, the client's 13 bytes and their ACK, the server's
//! 18-byte reply, both FINs and the last ACK, and the two UDP datagrams of
//! 13 and 16 bytes. A second test writes a capture file with `-w` and reads
//! it back with `-r` and a filter.
//!
//! Capturing needs root (or CAP_NET_RAW and CAP_NET_ADMIN on tcpdump). This
//! test does not skip when it can't capture: it fails and says what to
//! install or run, so a machine without tcpdump cannot pass it unseen.
//! Nothing here sleeps for a fixed time: tcpdump is used once it has printed
//! `listening on lo`, and stopped once the lines the test waits for are in.

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use native_server::{Config, Server};
use protocol::Demo;

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/code/python")
}

/// socket-lab in-process, every port 0; stopped on drop.
struct Lab {
    tcp_echo: SocketAddr,
    udp_echo: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Lab {
    fn start() -> Lab {
        let site = std::env::temp_dir().join(format!("socket-lab-tcpdump-{}", std::process::id()));
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("index.html"), "<!doctype html><title>x</title>").unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let server = Server::bind(Config::for_tests(site)).await.unwrap();
                let tcp = server.demo_addr(Demo::TcpEcho).unwrap();
                let udp = server.demo_addr(Demo::UdpEcho).unwrap();
                ready_tx.send((tcp, udp)).unwrap();
                server
                    .run(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let (tcp_echo, udp_echo) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("socket-lab starts");
        Lab {
            tcp_echo,
            udp_echo,
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

/// What to do when tcpdump is missing or may not capture.
const HOW_TO_CAPTURE: &str = "book/src/tcpdump.md's captures are tested for real: \
    install tcpdump (Debian/Ubuntu: apt-get install -y tcpdump) and run this test \
    as root, or give tcpdump the capture capabilities \
    (setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump))";

/// A tcpdump that has said `listening on lo`, with its stdout lines on a
/// channel; interrupted (so it prints its counts) and reaped on drop.
struct Tcpdump {
    child: Child,
    lines: Receiver<String>,
}

impl Tcpdump {
    fn start(args: &[&str]) -> Tcpdump {
        let mut child = match Command::new("tcpdump")
            .args(["-i", "lo", "-nn"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                panic!("tcpdump is not installed. {HOW_TO_CAPTURE}")
            }
            Err(e) => panic!("tcpdump could not start ({e}). {HOW_TO_CAPTURE}"),
        };
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // stderr: wait for "listening on lo", keep what came before for the
        // message if it never comes (a permission error, say).
        let (err_tx, err_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let mut said = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match err_rx.recv_timeout(left) {
                Ok(line) if line.contains("listening on lo") => break,
                Ok(line) => said.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "tcpdump did not start capturing; it said:\n{}\n{HOW_TO_CAPTURE}",
                        said.join("\n")
                    );
                }
            }
        }
        Tcpdump { child, lines }
    }

    /// The lines printed so far and from now on, until `done` holds for
    /// them (at most 10 s), then tcpdump is stopped.
    fn until(mut self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(&got) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(_) => break, // the assertions say what is missing
            }
        }
        self.interrupt();
        got
    }

    /// SIGINT, as Ctrl-C would: tcpdump flushes and exits.
    fn interrupt(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.interrupt();
        }
    }
}

/// Runs one of the book's Python clients with `var` set to `port`.
fn client(file: &str, var: &str, port: u16) -> String {
    let out = Command::new("python3")
        .arg(python_dir().join(file))
        .env("SOCKET_LAB_HOST", "127.0.0.1")
        .env(var, port.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{file}: {text}");
    text
}

/// One line of tcpdump's, taken apart.
#[derive(Debug)]
struct Packet {
    /// From the client's port to the demo's.
    to_server: bool,
    /// `S`, `S.`, `.`, `P.`, `F.`, `R.`…; empty for UDP.
    flags: String,
    /// The fields after the flags, as printed: `seq 1:14`, `ack 1`, `win 64`…
    rest: String,
    length: usize,
    line: String,
}

impl Packet {
    fn parse(line: &str, server_port: u16) -> Option<Packet> {
        // 18:17:10.808392 IP 127.0.0.1.42020 > 127.0.0.1.65432: Flags [S], seq …
        let mut words = line.split_whitespace();
        let (_time, ip, src, arrow, dst) = (
            words.next()?,
            words.next()?,
            words.next()?,
            words.next()?,
            words.next()?,
        );
        if ip != "IP" || arrow != ">" {
            return None;
        }
        let port = |addr: &str| -> Option<u16> {
            addr.trim_end_matches(':').rsplit('.').next()?.parse().ok()
        };
        let (src_port, dst_port) = (port(src)?, port(dst)?);
        if src_port != server_port && dst_port != server_port {
            return None; // another conversation in the same capture
        }
        let flags = line
            .split_once("Flags [")
            .and_then(|(_, r)| r.split_once(']'))
            .map_or("", |(f, _)| f)
            .to_owned();
        let length = line.rsplit_once("length ")?.1.trim().parse().ok()?;
        let rest = line.split_once("], ").map_or("", |(_, r)| r).to_owned();
        Some(Packet {
            to_server: dst_port == server_port,
            flags,
            rest,
            length,
            line: line.to_owned(),
        })
    }

    /// The number after `field ` in the line (`seq`, `ack`), if any.
    fn number(&self, field: &str) -> Option<u64> {
        let after = self.rest.split(", ").find_map(|f| f.strip_prefix(field))?;
        after
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }
}

/// Whether these segments include both FINs and, after them, the last ACK.
fn closed(segments: &[Packet]) -> bool {
    let fins = segments.iter().filter(|p| p.flags == "F.").count();
    let last_ack = segments
        .last()
        .is_some_and(|p| p.to_server && p.flags == ".");
    fins == 2 && last_ack
}

fn packets(lines: &[String], port: u16) -> Vec<Packet> {
    lines
        .iter()
        .filter_map(|l| Packet::parse(l, port))
        .collect()
}

/// `tcpdump.md`: the whole life of one tcp-echo connection and one UDP
/// exchange, as `tcpdump -i lo -nn -l` prints them.
#[test]
fn tcpdump_shows_the_handshake_the_data_the_teardown_and_the_datagrams() {
    let lab = Lab::start();
    let (tcp, udp) = (lab.tcp_echo.port(), lab.udp_echo.port());
    let filter = format!("tcp port {tcp} or udp port {udp}");
    let dump = Tcpdump::start(&["-l", "-U", &filter]);

    let said = client("tcp_echo_client.py", "SOCKET_LAB_TCP_ECHO_PORT", tcp);
    assert!(
        said.contains("Server replied: ACK: Hello, Server"),
        "{said}"
    );
    let said = client("udp_echo_client.py", "SOCKET_LAB_UDP_ECHO_PORT", udp);
    assert!(said.contains("Response: Message received"), "{said}");

    // Wait for the connection's last ACK (after both FINs) and the UDP reply.
    let lines = dump.until(|lines| {
        closed(&packets(lines, tcp)) && packets(lines, udp).iter().any(|p| !p.to_server)
    });
    let all = lines.join("\n");
    eprintln!("{all}");
    let t = packets(&lines, tcp);
    assert!(
        t.len() >= 9,
        "a whole connection is at least 9 segments:\n{all}"
    );

    // The handshake: SYN, SYN-ACK, ACK.
    let (syn, syn_ack, ack) = (&t[0], &t[1], &t[2]);
    assert!(
        syn.to_server && syn.flags == "S" && syn.length == 0,
        "{all}"
    );
    assert!(
        syn.rest.contains("options [mss ") && syn.rest.contains("wscale"),
        "{all}"
    );
    assert!(!syn_ack.to_server && syn_ack.flags == "S.", "{all}");
    // The SYN-ACK acknowledges the SYN's number plus one (absolute numbers in
    // the handshake); after it tcpdump prints numbers relative to the start.
    assert_eq!(
        syn_ack.number("ack "),
        syn.number("seq ").map(|s| (s + 1) % (1 << 32)),
        "{all}"
    );
    assert!(
        ack.to_server && ack.flags == "." && ack.rest.starts_with("ack 1,"),
        "{all}"
    );

    // On loopback (MTU 65536) the SYN announces an MSS of 65535 - 40.
    let mtu = std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap_or_default();
    if mtu.trim() == "65536" {
        assert!(syn.rest.contains("mss 65495"), "{all}");
        assert!(syn_ack.rest.contains("mss 65495"), "{all}");
    }

    // The client's 13 bytes, "Hello, Server", and the demo's ACK of them.
    let data = t
        .iter()
        .find(|p| p.to_server && p.length > 0)
        .unwrap_or_else(|| panic!("no data from the client:\n{all}"));
    assert_eq!(data.flags, "P.", "{all}");
    assert_eq!(data.length, "Hello, Server".len(), "{all}");
    assert!(data.rest.starts_with("seq 1:14, ack 1,"), "{}", data.line);
    assert!(
        t.iter()
            .any(|p| !p.to_server && p.number("ack ") == Some(14)),
        "the demo acknowledges byte 14:\n{all}"
    );
    // The reply, "ACK: Hello, Server": 18 bytes, acknowledged by the client.
    let reply = t
        .iter()
        .find(|p| !p.to_server && p.length > 0)
        .unwrap_or_else(|| panic!("no reply:\n{all}"));
    assert_eq!(reply.flags, "P.", "{all}");
    assert_eq!(reply.length, "ACK: Hello, Server".len(), "{all}");
    assert!(
        reply.rest.starts_with("seq 1:19, ack 14,"),
        "{}",
        reply.line
    );
    assert!(
        t.iter()
            .any(|p| p.to_server && p.number("ack ") == Some(19)),
        "the client acknowledges byte 19:\n{all}"
    );

    // Teardown: the client's FIN first (it closes first), then the demo's,
    // each taking one sequence number; the last ACK is the client's.
    let fins: Vec<&Packet> = t.iter().filter(|p| p.flags == "F.").collect();
    assert_eq!(fins.len(), 2, "{all}");
    assert!(
        fins[0].to_server && fins[0].number("seq ") == Some(14),
        "{all}"
    );
    assert!(
        !fins[1].to_server && fins[1].number("seq ") == Some(19),
        "{all}"
    );
    assert_eq!(fins[1].number("ack "), Some(15), "{all}");
    let last = t.last().unwrap();
    assert!(
        last.to_server && last.flags == "." && last.number("ack ") == Some(20),
        "{all}"
    );
    assert!(!t.iter().any(|p| p.flags.contains('R')), "no reset:\n{all}");
    // Every segment carries at most the data of one write here.
    assert!(t.iter().all(|p| p.length <= 18), "{all}");

    // UDP: one datagram each way, no handshake, no ACK.
    let u = packets(&lines, udp);
    assert_eq!(u.len(), 2, "one request, one reply:\n{all}");
    assert!(
        u[0].to_server && u[0].line.contains(": UDP, length 13"),
        "{all}"
    );
    assert!(
        !u[1].to_server && u[1].line.contains(": UDP, length 16"),
        "{all}"
    );
}

/// `tcpdump.md`: `-w` writes raw packets to a file (with `--immediate-mode`
/// each is handed over at once, and `-U` writes each out as it comes);
/// `tcpdump -r` reads it back, and a filter given to `-r` picks from it.
#[test]
fn tcpdump_writes_a_file_and_reads_it_back_with_a_filter() {
    let lab = Lab::start();
    let tcp = lab.tcp_echo.port();
    let file = std::env::temp_dir().join(format!("socket-lab-echo-{}.pcap", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let filter = format!("tcp port {tcp}");
    let path = file.to_string_lossy().into_owned();
    let mut dump = Tcpdump::start(&["-U", "--immediate-mode", "-w", &path, &filter]);
    client("tcp_echo_client.py", "SOCKET_LAB_TCP_ECHO_PORT", tcp);

    let read = |filter: &str| -> Vec<String> {
        let out = Command::new("tcpdump")
            .args(["-nn", "-r", &path, filter])
            .output()
            .expect("tcpdump -r runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // The file fills as packets come; read it until the connection is whole.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = read("");
    while !closed(&packets(&lines, tcp)) {
        assert!(
            Instant::now() < deadline,
            "the file holds only:\n{}",
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
        lines = read("");
    }
    dump.interrupt();
    assert!(packets(&lines, tcp).len() >= 9, "{}", lines.join("\n"));

    // The same file, filtered when read: only the segments with SYN or FIN.
    let syn_fin = read("tcp[tcpflags] & (tcp-syn|tcp-fin) != 0");
    let flags: Vec<String> = packets(&syn_fin, tcp)
        .into_iter()
        .map(|p| p.flags)
        .collect();
    assert_eq!(flags, ["S", "S.", "F.", "F."], "{}", syn_fin.join("\n"));
    let _ = std::fs::remove_file(&file);
}
