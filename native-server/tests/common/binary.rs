//! The real `socket-lab` binary as a child process, every port on 0, for
//! tests that need a process of its own (a descriptor limit, its memory, a
//! signal).

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A running binary and the services it printed at start.
pub struct Binary {
    pub child: Child,
    pub services: Vec<(String, SocketAddr)>,
}

impl Binary {
    /// Starts the binary serving `assets` with `extra` flags; with
    /// `fd_limit`, under `ulimit -n` of that (soft and hard, so it cannot
    /// raise it).
    pub fn spawn(assets: &std::path::Path, fd_limit: Option<u64>, extra: &[&str]) -> Binary {
        let limit = fd_limit.map_or(String::new(), |n| format!("ulimit -n {n} && "));
        let mut args = vec![
            "-c".to_owned(),
            format!("{limit}exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_socket-lab").to_owned(),
            "--assets".to_owned(),
            assets.display().to_string(),
        ];
        for flag in [
            "--http-port",
            "--tcp-echo-port",
            "--udp-echo-port",
            "--uppercase-port",
            "--framed-port",
            "--auth-port",
            "--sticky-port",
            "--chat-port",
            "--tls-echo-port",
        ] {
            args.extend([flag.to_owned(), "0".to_owned()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new("sh")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts the socket-lab binary");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut services = Vec::new();
        while services.len() < 1 + protocol::Demo::COUNT {
            let line = lines.next().expect("a startup line per service").unwrap();
            let Some((name, url)) = line.split_once(' ') else {
                continue;
            };
            let Some((_, addr)) = url.split_once("://") else {
                continue;
            };
            services.push((name.to_owned(), addr.parse().unwrap()));
        }
        Binary { child, services }
    }

    /// Where service `name` listens.
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.services
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no service {name}"))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid` in MiB.
pub fn rss_mib(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096 / (1024 * 1024)
}

/// How many descriptors process `pid` has open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}
