//! `socket-lab check`: tests the learner's own server or client, stage by
//! stage, over real sockets on loopback.
//!
//! ```text
//! socket-lab check <lesson> [--port N] [--stage K] [--seed S] [--json FILE] [--server URL] [--no-publish] -- <command> [args…]
//! ```
//!
//! For a server lesson the runner picks a free port, starts the command with
//! it (`$PORT`, `{port}`), waits until it listens and plays the clients; for
//! a client lesson it plays the server on a port of its own and starts the
//! client once per run. Stages run in order and stop at the first failure,
//! whose report shows what was sent, expected against got (text and hex),
//! the reads and writes as they happened, the likely bug and the book
//! section about it. Every random choice comes from `--seed`, printed at
//! the top, so a failing run repeats exactly. A `socket-lab` server running
//! on this machine shows the run live in the lesson's chapter (`publish.rs`).
//!
//! The files: `args.rs` the flags, `lessons.rs` the lessons and their
//! stages, `process.rs` the learner's program, `conn.rs` a connection that
//! keeps a transcript, `frames.rs` frames read back and diagnosed,
//! `failure.rs` the evidence and the bug classes, `report.rs` their text,
//! `results_json.rs` the `--json` file, `publish.rs` the run sent live to a
//! running server's check view, `servers/` and `clients/` one file per
//! lesson. This file runs the stages in order.

mod args;
mod clients;
mod conn;
mod failure;
mod frames;
mod lessons;
mod process;
mod publish;
mod report;
pub mod results_json;
mod servers;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

pub use args::CheckArgs;
pub use failure::Bug;
pub use lessons::{Lesson, chapter};
use process::{Output, Program};
use publish::{Feed, Publisher};
use results_json::{Results, Status, TestResult};

/// How a check ended, and the exit status it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every stage that ran passed: exit status 0.
    Passed,
    /// A stage failed, or the program could not be checked: exit status 1.
    Failed,
    /// The command line was wrong: exit status 2.
    Usage,
}

impl Outcome {
    /// 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Passed => 0,
            Outcome::Failed => 1,
            Outcome::Usage => 2,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        ExitCode::from(outcome.code())
    }
}

/// What every stage may use: the seeded randomness, the limits, where the
/// learner's server is, or how to start the learner's client.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// This stage's random choices (seeded from `--seed` and the stage number).
    pub rng: StdRng,
    /// Wait for an expected reply.
    pub timeout: Duration,
    /// Wait for a program to start listening, or a client to connect.
    pub start_timeout: Duration,
    /// Wait for a server to drop a silent client.
    pub silence_timeout: Duration,
    /// The auth lessons' secret.
    pub secret: Vec<u8>,
    /// Server lessons: the learner's server.
    pub addr: SocketAddr,
    /// Server lessons: the connection that found the server listening,
    /// kept for the first client of stage 1.
    pub first_client: std::sync::Mutex<Option<tokio::net::TcpStream>>,
    /// Client lessons: the client's command (with `{port}` unreplaced) and
    /// the environment variable of its port.
    pub client: Vec<String>,
    pub(crate) port_var: String,
    /// Client lessons: what the last run of the client printed.
    pub client_output: Option<Output>,
    /// Client lessons: a finished run that later stages judge too.
    pub client_run: Option<clients::Finished>,
    /// Where the transcripts are published (nowhere with `--no-publish`).
    pub(crate) feed: Feed,
}

impl Ctx {
    /// A new transcript for a stage, published as it is written.
    pub(crate) fn transcript(&self) -> conn::Transcript {
        conn::Transcript::new(self.feed.clone())
    }
}

/// Checks the learner's program as `args` say, printing progress and the
/// report to `out`, and writing `--json` if asked.
pub async fn run(args: CheckArgs, out: &mut (dyn Write + Send)) -> Outcome {
    match prepare(&args) {
        Ok(lesson) => check(lesson, args, out).await,
        Err(message) => {
            let _ = writeln!(
                out,
                "socket-lab check: {message}\n\
                 usage: socket-lab check <lesson> [--stage K] [--seed S] [--json FILE] -- <command that starts your program> [args, {{port}} for the port]\n\
                 e.g.   socket-lab check tcp-echo -- python3 my_server.py {{port}}\n\
                 (socket-lab check --help says more)"
            );
            Outcome::Usage
        }
    }
}

/// The lesson, once the flags are known to make sense together.
fn prepare(args: &CheckArgs) -> Result<Lesson, String> {
    let lesson: Lesson = args.lesson.parse()?;
    let stages = lesson.stages().len();
    if let Some(k) = args.stage
        && !(1..=stages).contains(&k)
    {
        return Err(format!(
            "--stage {k} is out of range: {} has stages 1 to {stages}",
            lesson.name()
        ));
    }
    match (args.port, args.command.is_empty()) {
        (Some(_), _) if lesson.is_client() => Err(format!(
            "--port checks a server that is already running, but {} checks your client: give the command that starts it after --",
            lesson.name()
        )),
        (Some(_), false) => Err(
            "give either --port (a server already running) or a command after --, not both".into(),
        ),
        (None, true) => Err(format!(
            "no command: put the command that starts your {} after --, e.g. `socket-lab check {} -- python3 my_{}.py {{port}}`",
            if lesson.is_client() {
                "client"
            } else {
                "server"
            },
            lesson.name(),
            lesson.name().replace('-', "_"),
        )),
        _ => Ok(lesson),
    }
}

/// Stage K's random generator: the same for a seed whatever ran before it.
fn stage_rng(seed: u64, index: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ ((index as u64 + 1) << 40))
}

async fn check(lesson: Lesson, args: CheckArgs, out: &mut (dyn Write + Send)) -> Outcome {
    let seed = args
        .seed
        .unwrap_or_else(|| StdRng::from_os_rng().next_u64() % 1_000_000);
    let stages = &lesson.stages()[..args.stage.unwrap_or(lesson.stages().len())];
    let name = lesson.name();
    let _ = writeln!(
        out,
        "socket-lab check {name}: {} stages, seed {seed} (repeat this run with --seed {seed})",
        stages.len()
    );
    if !args.command.is_empty() {
        let _ = writeln!(out, "program: {}", args.command.join(" "));
    }
    let started = protocol::check::CheckMsg::Started {
        lesson: name.clone(),
        command: args.command.join(" "),
        seed,
        stages: stages.iter().map(|s| s.to_string()).collect(),
    };
    let publisher = Publisher::start(&args, started, chapter(lesson), out).await;
    let _ = out.flush();

    let mut ctx = Ctx {
        rng: stage_rng(seed, 0),
        timeout: args.timeout,
        start_timeout: args.start_timeout,
        silence_timeout: args.silence_timeout,
        secret: args.secret.clone().into_bytes(),
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port.unwrap_or(0))),
        first_client: std::sync::Mutex::new(None),
        client: args.command.clone(),
        port_var: lesson.port_var(),
        client_output: None,
        client_run: None,
        feed: publisher.feed(),
    };
    let mut server = None;
    if !lesson.is_client() && args.port.is_none() {
        match start_server(lesson, &args, &mut ctx).await {
            Ok(program) => server = Some(program),
            Err((why, output)) => {
                let mut report = format!("    {why}\n");
                report.push_str(&output_block(&output));
                let report = format!("  ✗ could not check the program:\n{report}");
                let verdict = "ERROR: fix the start-up first; no stage ran.".to_owned();
                let _ = writeln!(out, "{report}{verdict}");
                publisher.finish(false, verdict, report, out).await;
                write_json(&args, Status::Error, Some(why), Vec::new(), out);
                return Outcome::Failed;
            }
        }
    }

    let started = Instant::now();
    let mut tests = Vec::new();
    let mut failed = None;
    // The failed stage's report as the terminal shows it, for the check view.
    let mut failed_block = String::new();
    for (index, stage) in stages.iter().enumerate() {
        let title = format!("{}. {stage}", index + 1);
        ctx.rng = stage_rng(seed, index);
        ctx.feed.stage_started(index + 1, stage);
        let t0 = Instant::now();
        let result = lesson.run_stage(index, &mut ctx).await;
        let took = t0.elapsed().as_millis();
        ctx.feed.stage_finished(result.is_ok(), took);
        match result {
            Ok(()) => {
                let _ = writeln!(out, "  ✓ {title}  [{took} ms]");
                tests.push(TestResult {
                    name: title,
                    status: Status::Pass,
                    message: None,
                    output: None,
                });
            }
            Err(failure) => {
                let mut failure = failure;
                let output = match server.as_mut() {
                    Some(program) => {
                        if let Some(status) = program.exited() {
                            failure = failure.note(format!(
                                "your program ended during this stage ({}): see its output below",
                                process::describe(status)
                            ));
                        }
                        program.stop().await
                    }
                    None => ctx.client_output.take().unwrap_or_default(),
                };
                let report = report::render(&failure);
                let shown = output_block(&output);
                failed_block = format!("  ✗ {title}  [{took} ms]\n{report}{shown}");
                let _ = write!(out, "{failed_block}");
                tests.push(TestResult {
                    name: title,
                    status: Status::Fail,
                    message: Some(report),
                    output: (!shown.is_empty()).then_some(shown),
                });
                failed = Some(index);
                break;
            }
        }
        let _ = out.flush();
    }
    if let Some(program) = server.as_mut() {
        program.stop().await;
    }

    let total = lesson.stages().len();
    let (status, message, verdict) = match failed {
        None => {
            let upto = if stages.len() < total {
                format!(" (of {total}; run without --stage for the rest)")
            } else {
                String::new()
            };
            let verdict = format!(
                "PASS: {} stages passed{upto} in {:.1} s.",
                stages.len(),
                started.elapsed().as_secs_f64()
            );
            let _ = writeln!(out, "{verdict}");
            (Status::Pass, None, verdict)
        }
        Some(index) => {
            let rest = match stages.len() - index - 1 {
                0 => String::new(),
                1 => format!("stage {} not run: fix this one first.\n", stages.len()),
                _ => format!(
                    "stages {} to {} not run: fix this one first.\n",
                    index + 2,
                    stages.len()
                ),
            };
            let _ = write!(out, "{rest}");
            failed_block.push_str(&rest);
            let message = format!("stage {} failed: {}", index + 1, stages[index]);
            let verdict = format!(
                "FAIL: {message} ({index} of {} passed). The book's chapter: book/{}.html. Repeat this run with --seed {seed}.",
                stages.len(),
                chapter(lesson)
            );
            let _ = writeln!(out, "{verdict}");
            (Status::Fail, Some(message), verdict)
        }
    };
    publisher
        .finish(failed.is_none(), verdict, failed_block, out)
        .await;
    write_json(&args, status, message, tests, out);
    if failed.is_some() {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}

/// The environment every learner program gets: the port three ways (and
/// the shared secret, for the auth lessons).
pub(crate) fn program_env(ctx: &Ctx, port: u16) -> Vec<(String, String)> {
    vec![
        ("PORT".into(), port.to_string()),
        (ctx.port_var.clone(), port.to_string()),
        ("SOCKET_LAB_HOST".into(), "127.0.0.1".into()),
        (
            "SOCKET_LAB_SECRET".into(),
            String::from_utf8_lossy(&ctx.secret).into_owned(),
        ),
    ]
}

/// Starts the learner's server on a free port and waits until it listens.
async fn start_server(
    lesson: Lesson,
    args: &CheckArgs,
    ctx: &mut Ctx,
) -> Result<Program, (String, Output)> {
    let port = process::free_port().map_err(|e| {
        (
            format!("could not find a free port: {e}"),
            Output::default(),
        )
    })?;
    ctx.addr.set_port(port);
    let command = process::substitute(&args.command, port);
    let mut program =
        Program::spawn(&command, &program_env(ctx, port)).map_err(|e| (e, Output::default()))?;
    // UDP has no listening state to poll: stage 1 retries its datagram instead.
    if lesson.demo().transport() == protocol::demo::Transport::Tcp {
        match process::wait_for_listener(ctx.addr, &mut program, args.start_timeout).await {
            Ok(first) => ctx.first_client = std::sync::Mutex::new(Some(first)),
            Err(why) => {
                let output = program.stop().await;
                return Err((why, output));
            }
        }
    }
    Ok(program)
}

/// The program's output, for the end of a failure report.
fn output_block(output: &Output) -> String {
    if output.stdout.is_empty() && output.stderr.is_empty() {
        return String::new();
    }
    let mut block = String::from("    your program's output:\n");
    block.push_str(&report::program_output("stdout", &output.stdout, 30));
    block.push_str(&report::program_output("stderr", &output.stderr, 30));
    block
}

fn write_json(
    args: &CheckArgs,
    status: Status,
    message: Option<String>,
    tests: Vec<TestResult>,
    out: &mut (dyn Write + Send),
) {
    let Some(path) = &args.json else { return };
    let results = Results {
        version: 2,
        status,
        message,
        tests,
    };
    let text = serde_json::to_string_pretty(&results).unwrap_or_default();
    if let Err(e) = std::fs::write(path, text + "\n") {
        let _ = writeln!(
            out,
            "socket-lab check: could not write {}: {e}",
            path.display()
        );
    }
}
