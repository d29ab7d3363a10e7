//! The client lessons: socket-lab plays the server on a port of its own and
//! runs the learner's client against it, once per run.
//!
//! Each run: bind 127.0.0.1:0, start the client with the port (`$PORT`,
//! `{port}`, and the variable the book's clients read), accept it, play the
//! stage's server, then wait for the client to exit and judge what it sent,
//! what it printed and its exit status. One file per lesson; the run itself
//! is here.

pub(crate) mod auth;
pub(crate) mod framed;
pub(crate) mod tcp_echo;

use std::process::ExitStatus;
use std::time::Duration;

use tokio::net::TcpListener;

use super::conn::{Conn, Transcript, secs};
use super::failure::{Bug, Failure, StageResult};
use super::process::{self, Program};
use super::{Ctx, program_env};

/// How a finished run of the learner's client ended.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    /// Its exit status; `None` if it had to be stopped.
    pub(crate) status: Option<ExitStatus>,
    /// What it printed on stdout.
    pub(crate) stdout: String,
    /// The run's reads and writes.
    pub(crate) transcript: Vec<String>,
    /// What its output must contain (set by the lesson).
    pub(crate) expected: String,
    /// The first piece of a reply that was cut, if it was.
    pub(crate) partial: Option<String>,
}

/// One run of the learner's client.
#[derive(Debug)]
pub(crate) struct ClientRun {
    listener: Option<TcpListener>,
    program: Program,
    /// The run's reads and writes.
    pub(crate) log: Transcript,
}

impl ClientRun {
    /// Listens on a free port and starts the client with it.
    pub(crate) async fn start(ctx: &Ctx) -> Result<ClientRun, Failure> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Failure::new(format!("could not listen on loopback: {e}")))?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        Self::spawn(ctx, port, Some(listener))
    }

    /// Starts the client with a port nobody listens on.
    pub(crate) fn start_without_server(ctx: &Ctx) -> Result<ClientRun, Failure> {
        let port = process::free_port()
            .map_err(|e| Failure::new(format!("could not find a free port: {e}")))?;
        Self::spawn(ctx, port, None)
    }

    fn spawn(ctx: &Ctx, port: u16, listener: Option<TcpListener>) -> Result<ClientRun, Failure> {
        let command = process::substitute(&ctx.client, port);
        let program = Program::spawn(&command, &program_env(ctx, port)).map_err(Failure::new)?;
        Ok(ClientRun {
            listener,
            program,
            log: ctx.transcript(),
        })
    }

    /// Waits for the client to connect.
    pub(crate) async fn accept(&mut self, ctx: &Ctx) -> Result<Conn, Failure> {
        let Some(listener) = &self.listener else {
            return Err(Failure::new("this run has no server"));
        };
        tokio::select! {
            accepted = tokio::time::timeout(ctx.start_timeout, listener.accept()) => match accepted {
                Ok(Ok((stream, _))) => {
                    self.log.conn_note("server", "your client connected".into());
                    // Named for socket-lab's side, as in the server lessons.
                    Ok(Conn::new(stream, "server", &self.log, ctx.timeout))
                }
                Ok(Err(e)) => Err(Failure::new(format!("accept failed: {e}"))),
                Err(_) => Err(Failure::new(format!(
                    "your client did not connect within {}: does it connect to 127.0.0.1 on the port it is given ($PORT, {{port}} or {})?",
                    secs(ctx.start_timeout),
                    ctx.port_var
                ))),
            },
            Some(status) = self.program.wait(ctx.start_timeout) => Err(Failure::new(format!(
                "your client ended ({}) without connecting",
                process::describe(status)
            ))),
        }
    }

    /// Waits up to `wait` for the client to exit (then stops it) and keeps
    /// its output for the report.
    pub(crate) async fn finish(mut self, ctx: &mut Ctx, wait: Duration) -> Finished {
        let status = self.program.wait(wait).await;
        let output = self.program.stop().await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        ctx.client_output = Some(output);
        Finished {
            status,
            stdout,
            transcript: self.log.lines(),
            expected: String::new(),
            partial: None,
        }
    }
}

/// Runs the client once: `serve` plays the server, then the client is
/// given the reply timeout to exit. A failure carries the whole transcript.
pub(crate) async fn run_client<T>(
    ctx: &mut Ctx,
    serve: impl AsyncFnOnce(&mut ClientRun, &mut Ctx) -> Result<T, Failure>,
) -> Result<(Finished, T), Failure> {
    let mut run = ClientRun::start(ctx).await?;
    let served = serve(&mut run, ctx).await;
    let wait = ctx.timeout;
    let done = run.finish(ctx, wait).await;
    match served {
        Ok(value) => Ok((done, value)),
        Err(failure) => Err(failure.transcript(done.transcript.clone())),
    }
}

/// Stage 1 of a client lesson: a run that stage 2 judges too.
pub(crate) fn keep(ctx: &mut Ctx, done: Finished) -> StageResult {
    ctx.client_run = Some(done);
    Ok(())
}

/// Stage 2 of a client lesson: stage 1's run printed what it should and exited 0.
pub(crate) fn judge_kept(ctx: &mut Ctx) -> StageResult {
    ctx.client_run
        .take()
        .ok_or_else(|| Failure::new("stage 1 did not run"))?
        .succeeded(ctx.timeout)
}

impl Finished {
    /// Printed what it should, and exited by itself with status 0.
    pub(crate) fn succeeded(&self, wait: Duration) -> StageResult {
        self.printed()?;
        self.exited_zero(wait)
    }

    /// A failure with this run's transcript.
    pub(crate) fn fail(&self, what: impl Into<String>) -> Failure {
        Failure::new(what).transcript(self.transcript.clone())
    }

    /// The client printed what it should on stdout; if it printed only the
    /// first piece of a reply that was cut, it read one piece as the whole.
    pub(crate) fn printed(&self) -> StageResult {
        let needle = &self.expected;
        if self.stdout.contains(needle.as_str()) {
            return Ok(());
        }
        // A piece of a few bytes proves nothing: `A` is in many outputs.
        let cut = self
            .partial
            .as_ref()
            .is_some_and(|p| p.len() >= 4 && self.stdout.contains(p.as_str()));
        Err(self
            .fail(format!(
                "your client's output should contain {needle:?}{}",
                if cut {
                    ", but it printed only the first piece of the reply: it took one recv for the whole reply"
                } else {
                    ""
                }
            ))
            .compare(needle.as_bytes(), closest(&self.stdout, needle).as_bytes())
            .note("got: the line of your output that comes closest, from where it starts to match")
            .bug(cut.then_some(Bug::OneRecvOneMessage)))
    }

    /// The client exited by itself with status 0.
    pub(crate) fn exited_zero(&self, wait: Duration) -> StageResult {
        match self.status {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(self.fail(format!(
                "the exchange went right, so your client should exit with status 0, but it ended with {}",
                process::describe(status)
            ))),
            None => Err(self.fail(format!(
                "your client was still running {} after the exchange: close the socket and exit when the reply is read",
                secs(wait)
            ))),
        }
    }

    /// The client gave up by itself, with a non-zero status.
    pub(crate) fn exited_nonzero(
        &self,
        wait: Duration,
        why: &str,
        hang_bug: Option<Bug>,
    ) -> StageResult {
        match self.status {
            Some(status) if !status.success() => Ok(()),
            Some(_) => Err(self
                .fail(format!(
                    "{why}, so your client should fail with a non-zero exit status (an uncaught exception does that), but it exited with status 0"
                ))
                .bug(Bug::ExitZeroOnFailure)),
            None => Err(self
                .fail(format!("{why}, but your client was still running {} later", secs(wait)))
                .bug(hang_bug)),
        }
    }
}

/// The part of `output` to compare with `needle`: from the longest start
/// of `needle` (3 characters at least) to the end of its line, or all of it.
fn closest<'a>(output: &'a str, needle: &str) -> &'a str {
    (3..needle.len())
        .rev()
        .filter(|&n| needle.is_char_boundary(n))
        .find_map(|n| output.find(&needle[..n]))
        .map_or(output, |start| {
            let end = output[start..]
                .find('\n')
                .map_or(output.len(), |e| start + e);
            &output[start..end]
        })
}

/// Pieces of `bytes` cut at 1 to `max_cuts` seeded places, none before
/// `first` (so the first piece is long enough to recognise), none empty.
pub(crate) fn seeded_pieces(
    ctx: &mut Ctx,
    bytes: &[u8],
    max_cuts: usize,
    first: usize,
) -> Vec<Vec<u8>> {
    use rand::Rng;
    let first = first.clamp(1, bytes.len().saturating_sub(1).max(1));
    let mut cuts: Vec<usize> = (0..ctx.rng.random_range(1..=max_cuts))
        .map(|_| ctx.rng.random_range(first..bytes.len().max(first + 1)))
        .filter(|&cut| cut < bytes.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        pieces.push(bytes[start..cut].to_vec());
        start = cut;
    }
    pieces
}

/// Sends `pieces` as separate writes (see `conn::pause_between`).
pub(crate) async fn send_all(conn: &mut Conn, pieces: &[Vec<u8>]) -> StageResult {
    let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
    conn.send_pieces(&refs).await
}
