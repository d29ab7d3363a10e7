//! Starting, watching and stopping the learner's program.
//!
//! The program is started in a process group of its own, with its stdout
//! and stderr captured (shown on failure), and is told its port three ways:
//! `$PORT`, `{port}` in its arguments, and the variable the book's samples
//! read (`SOCKET_LAB_FRAMED_PORT`, …). Stopping it signals the whole group,
//! so a shell script or `cargo run` does not leave the real program behind.
//! This file is the one place where Unix and other systems differ.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// The placeholder replaced by the port in the program's arguments.
pub(crate) const PORT_PLACEHOLDER: &str = "{port}";

/// Most bytes kept of each output stream.
const OUTPUT_CAP: usize = 1024 * 1024;

/// A free port on loopback: bound, read and released, for the program to bind.
pub(crate) fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// What the program printed so far.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Its stdout.
    pub(crate) stdout: Vec<u8>,
    /// Its stderr.
    pub(crate) stderr: Vec<u8>,
}

/// A running learner program.
#[derive(Debug)]
pub(crate) struct Program {
    child: Child,
    output: Arc<Mutex<Output>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

/// `{port}` replaced in every argument.
pub(crate) fn substitute(command: &[String], port: u16) -> Vec<String> {
    command
        .iter()
        .map(|arg| arg.replace(PORT_PLACEHOLDER, &port.to_string()))
        .collect()
}

impl Program {
    /// Starts `command` (already substituted) with `env` added.
    pub(crate) fn spawn(command: &[String], env: &[(String, String)]) -> Result<Program, String> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| "no command was given".to_owned())?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            // Python buffers stdout when it is a pipe; unbuffered, its output
            // is there to show even when the program is stopped by a signal.
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not start {program:?}: {e}"))?;
        let output = Arc::new(Mutex::new(Output::default()));
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(capture(stdout, output.clone(), |o| &mut o.stdout));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(capture(stderr, output.clone(), |o| &mut o.stderr));
        }
        Ok(Program {
            child,
            output,
            readers,
            status: None,
        })
    }

    /// The exit status, if the program has already ended.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `limit` for the program to end by itself.
    pub(crate) async fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Ok(status)) = tokio::time::timeout(limit, self.child.wait()).await
        {
            self.status = Some(status);
        }
        self.status
    }

    /// Stops the program and everything it started, then collects its output.
    pub(crate) async fn stop(&mut self) -> Output {
        if self.exited().is_none() {
            kill_group(&mut self.child);
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        // The pipes close when the last process holding them is gone; a
        // grandchild that left the group could keep them open, so bound it.
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
        }
        std::mem::take(&mut *self.output.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Program {
    /// A check that is dropped half-way (Ctrl-C, a panic) still stops the
    /// program and what it started: nobody is left holding a port.
    fn drop(&mut self) {
        if self.exited().is_none() {
            kill_group(&mut self.child);
        }
    }
}

/// SIGKILL to the program's process group (Unix); elsewhere, to the program.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        if killpg(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
            return;
        }
    }
    let _ = child.start_kill();
}

/// Copies a pipe into the shared output, keeping the first [`OUTPUT_CAP`] bytes.
fn capture<R>(
    mut pipe: R,
    output: Arc<Mutex<Output>>,
    stream: fn(&mut Output) -> &mut Vec<u8>,
) -> JoinHandle<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
            let kept = stream(&mut out);
            let room = OUTPUT_CAP.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
    })
}

/// Waits until something accepts TCP connections on `addr`, trying every
/// 20 ms until `deadline`; gives up early if the program ends. Returns the
/// connection that got through: it becomes the first stage's first client,
/// so the server never sees a client that connects and leaves at once.
pub(crate) async fn wait_for_listener(
    addr: SocketAddr,
    program: &mut Program,
    limit: Duration,
) -> Result<tokio::net::TcpStream, String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(status) = program.exited() {
            return Err(format!(
                "the program ended ({}) before it listened on port {}",
                describe(status),
                addr.port()
            ));
        }
        if let Ok(stream) = tokio::net::TcpStream::connect(addr).await {
            return Ok(stream);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "nothing listened on 127.0.0.1:{} within {:?}; does the program bind the port it is given ($PORT or {PORT_PLACEHOLDER}) on 127.0.0.1? (A slow start, such as `cargo run` compiling, needs a longer --start-timeout.)",
                addr.port(),
                limit
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `exit status 1` or `killed by signal 9`.
pub(crate) fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}
