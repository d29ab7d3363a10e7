//! The processes a bench run starts, and what `/proc` says about them.
//!
//! Every server is started on loopback with port 0 (or a free port found just
//! before), announces its address on stdout, and is stopped when its [`Proc`]
//! is dropped — by its own process id, or by the process group the bench gave
//! it (websockify forks a child per session). Output goes to log files under
//! `target/bench/logs`, so a failing peer can be diagnosed afterwards.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use measurement::Measurement;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, SysconfVar, sysconf};

/// A running server; stopped on drop.
pub(crate) struct Proc {
    name: String,
    child: Child,
    /// Held open so servers started with `--exit-on-stdin-eof` die with us.
    _stdin: Option<ChildStdin>,
    /// Whether the server leads its own process group (to stop its children too).
    group: bool,
}

impl Proc {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.child.id();
        match i32::try_from(pid).ok().filter(|_| self.group) {
            // The group we created for it: the server and its forks. SIGTERM
            // first, so they can close their sockets; SIGKILL after 2 s.
            Some(group) => {
                let group = Pid::from_raw(group);
                let _ = killpg(group, Signal::SIGTERM);
                let stopped = (0..40).any(|_| {
                    std::thread::sleep(Duration::from_millis(50));
                    matches!(self.child.try_wait(), Ok(Some(_)))
                });
                if !stopped {
                    let _ = killpg(group, Signal::SIGKILL);
                }
            }
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        println!("xtask: stopped {} (pid {pid})", self.name);
    }
}

/// Where the bench keeps logs and its raw results.
pub(crate) fn bench_dir(target: &Path) -> PathBuf {
    target.join("bench")
}

/// Starts `cmd` as server `name` and waits until it has printed `lines` lines
/// on stdout (its addresses), which are returned. The rest of its output goes
/// to `target/bench/logs/<name>.{out,err}`.
pub(crate) fn start(
    logs: &Path,
    name: &str,
    mut cmd: Command,
    lines: usize,
    group: bool,
) -> Result<(Proc, Vec<String>)> {
    fs::create_dir_all(logs)?;
    let err = File::create(logs.join(format!("{name}.err")))?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err));
    if group {
        cmd.process_group(0);
    }
    let shown = format!("{cmd:?}").replace('"', "");
    println!("xtask: starting {name}: {shown}");
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start {name} ({shown})"))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().context("server stdout")?;
    let proc = Proc {
        name: name.to_owned(),
        child,
        _stdin: stdin,
        group,
    };
    let (tx, rx) = mpsc::channel();
    let mut out = File::create(logs.join(format!("{name}.out")))?;
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(out, "{line}");
            // The receiver stops listening once it has its lines; keep draining.
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < lines {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => got.push(line),
            Err(_) => bail!(
                "{name} did not announce its address within 30 s; see {}",
                logs.join(format!("{name}.err")).display()
            ),
        }
    }
    Ok((proc, got))
}

/// The address in a `listening 127.0.0.1:PORT` line.
pub(crate) fn listening(lines: &[String]) -> Result<String> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("listening "))
        .map(str::to_owned)
        .context("no `listening ADDR` line")
}

/// Waits until something accepts TCP connections on `addr` (for peers that cannot report port 0).
pub(crate) fn wait_for_port(addr: &str, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    let sock: std::net::SocketAddr = addr.parse()?;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing listened on {addr} within {within:?}")
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// CPUs this process may run on (`Cpus_allowed_list` in `/proc/self/status`),
/// in order; empty if that cannot be read.
pub(crate) fn allowed_cpus() -> Vec<u32> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(list) = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
    else {
        return Vec::new();
    };
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) {
            cpus.extend(lo..=hi);
        }
    }
    cpus
}

/// `cmd` to run on the given CPUs (a `taskset -c` list), or as it is for `None`.
pub(crate) fn pinned(cpus: Option<&str>, program: &Path) -> Command {
    match cpus {
        Some(list) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(list).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Runs `loadgen` with `args` (on the CPUs `cpus`, if given), waiting at most
/// `limit`, and returns its measurements (one JSON line each).
pub(crate) fn loadgen(
    bin: &Path,
    cpus: Option<&str>,
    logs: &Path,
    args: &[String],
    limit: Duration,
) -> Result<Vec<Measurement>> {
    let shown = args.join(" ");
    match cpus {
        Some(list) => println!("xtask: $ taskset -c {list} loadgen {shown}"),
        None => println!("xtask: $ loadgen {shown}"),
    }
    let err = File::options()
        .create(true)
        .append(true)
        .open(logs.join("loadgen.err"))?;
    let mut child = pinned(cpus, bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err))
        .spawn()
        .with_context(|| format!("could not start {}", bin.display()))?;
    let stdout = child.stdout.take().context("loadgen stdout")?;
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("loadgen {shown} ran past {limit:?} and was stopped");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines = reader.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "loadgen {shown} failed ({status}); see {}",
            logs.join("loadgen.err").display()
        );
    }
    let mut values = Vec::new();
    for line in lines.iter().filter(|l| l.starts_with('{')) {
        println!("xtask:   {line}");
        values.push(serde_json::from_str(line).with_context(|| {
            format!(
                "loadgen {shown} printed a line that is not a measurement; \
                 rebuild it with xtask (`cargo build --release -p loadgen`): {line}"
            )
        })?);
    }
    Ok(values)
}

/// `pid`'s utime, stime, cutime and cstime from `/proc/<pid>/stat`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<[u64; 4]> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after "(comm)": state is the 1st, utime the 12th, stime 13th, cutime 14th, cstime 15th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.try_into().ok()
}

/// CPU time used so far by `pid` and the children it has reaped, in milliseconds.
pub(crate) fn cpu_ms(pid: u32) -> Option<f64> {
    let f = cpu_ticks(pid)?;
    Some(f.iter().sum::<u64>() as f64 * 1000.0 / ticks_per_second())
}

/// The part of [`cpu_ms`] spent in the kernel (system time), in milliseconds.
pub(crate) fn system_ms(pid: u32) -> Option<f64> {
    let [_, stime, _, cstime] = cpu_ticks(pid)?;
    Some((stime + cstime) as f64 * 1000.0 / ticks_per_second())
}

/// How many file descriptors `pid` has open (`/proc/<pid>/fd`).
pub(crate) fn open_fds(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// TCP sockets in the kernel's table, IPv4 and IPv6 (`/proc/net/tcp` and
/// `tcp6`, one line each after the header), every state counted.
pub(crate) fn tcp_sockets() -> Option<usize> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).ok()?;
            Some(
                text.lines()
                    .skip(1)
                    .filter(|l| !l.trim().is_empty())
                    .count(),
            )
        })
        .sum()
}

/// Clock ticks per second, the unit of `/proc/<pid>/stat`'s CPU times.
pub(crate) fn ticks_per_second() -> f64 {
    sysconf(SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100.0, |ticks| ticks as f64)
}

/// The (soft, hard) open-file limits of this process, from `/proc/self/limits`.
pub(crate) fn nofile_limits() -> (String, String) {
    let text = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f.get(3).unwrap_or(&"?").to_string(),
                f.get(4).unwrap_or(&"?").to_string(),
            )
        })
        .unwrap_or_else(|| ("?".into(), "?".into()))
}

/// Looks for an executable on `PATH`.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_reports_this_process() {
        let cpu = cpu_ms(std::process::id()).expect("/proc/self/stat");
        assert!(cpu >= 0.0);
        assert!(system_ms(std::process::id()).is_some_and(|sys| sys <= cpu));
        assert!(ticks_per_second() > 0.0);
        assert!(!allowed_cpus().is_empty());
        assert!(nofile_limits().1 != "?");
        assert!(open_fds(std::process::id()).is_some_and(|n| n >= 3));
    }

    #[test]
    fn the_tcp_table_counts_a_listener() {
        let _listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(tcp_sockets().is_some_and(|n| n >= 1));
    }

    /// Whether `pid` has gone (or is only a zombie waiting to be reaped).
    fn gone(pid: u32) -> bool {
        fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
    }

    #[test]
    fn dropping_a_group_stops_its_forks_too() {
        let logs = std::env::temp_dir().join(format!("xtask-procs-{}", std::process::id()));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & echo $!; wait"]);
        let (proc, lines) = start(&logs, "group", cmd, 1, true).unwrap();
        let fork: u32 = lines[0].trim().parse().unwrap();
        assert!(!gone(fork));
        drop(proc);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !gone(fork) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = fs::remove_dir_all(&logs);
        assert!(gone(fork), "the forked sleep outlived its group");
    }

    #[test]
    fn the_address_comes_from_the_listening_line() {
        let lines = ["hello".to_owned(), "listening 127.0.0.1:4000".to_owned()];
        assert_eq!(listening(&lines).unwrap(), "127.0.0.1:4000");
        assert!(listening(&lines[..1]).is_err());
    }
}
