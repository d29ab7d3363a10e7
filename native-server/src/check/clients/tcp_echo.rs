//! `check tcp-echo-client`: the learner's client for the echo server. It
//! sends a message and prints the `ACK: ` reply.
//!
//! socket-lab answers like the demo (`ACK: ` + every read, close when the
//! client does), then cuts its reply into pieces: a client that takes one
//! `recv` for the whole reply prints only the first piece. The two sure ways
//! are reading until the reply's known length, or half-closing and reading
//! to the end of the stream.

use protocol::demo::{ACK_PREFIX, echo_reply};

use super::super::Ctx;
use super::super::conn::End;
use super::super::failure::{Failure, StageResult};
use super::{ClientRun, Finished, judge_kept, keep, run_client, seeded_pieces, send_all};

/// The stages, in order.
pub(crate) const STAGES: &[&str] = &[
    "connects and sends a message",
    "prints the ACK reply and exits 0",
    "the reply in two writes",
    "the reply in several small writes",
    "a server that closes right after replying",
    "no server: exits with a non-zero status, promptly",
];

/// How socket-lab writes its reply in a run.
#[derive(Clone, Copy)]
enum Reply {
    /// One write per read, like the demo.
    Whole,
    /// Cut at up to this many seeded places.
    Pieces(usize),
    /// One write, then close at once.
    ThenClose,
}

/// Runs stage `index`.
pub(crate) async fn stage(index: usize, ctx: &mut Ctx) -> StageResult {
    match index {
        0 => {
            let done = exchange(ctx, Reply::Whole).await?;
            keep(ctx, done)
        }
        1 => judge_kept(ctx),
        2 => exchange(ctx, Reply::Pieces(1))
            .await?
            .succeeded(ctx.timeout),
        3 => exchange(ctx, Reply::Pieces(5))
            .await?
            .succeeded(ctx.timeout),
        4 => exchange(ctx, Reply::ThenClose)
            .await?
            .succeeded(ctx.timeout),
        5 => {
            let run = ClientRun::start_without_server(ctx)?;
            let wait = ctx.start_timeout;
            let done = run.finish(ctx, wait).await;
            done.exited_nonzero(
                wait,
                "nothing listens on the port it was given (connection refused)",
                None,
            )
        }
        _ => unreachable!("tcp-echo-client has {} stages", STAGES.len()),
    }
}

/// One run: accept the client, echo what it sends as `reply` says, and
/// close when it does.
async fn exchange(ctx: &mut Ctx, reply: Reply) -> Result<Finished, Failure> {
    let (mut done, (sent, partial)) =
        run_client(ctx, async |run, ctx| serve(run, ctx, reply).await).await?;
    done.expected = String::from_utf8_lossy(&echo_reply(&sent)).into_owned();
    done.partial = partial;
    Ok(done)
}

/// Plays the echo server for one client; returns what it sent and, if the
/// reply was cut, its first piece as text.
async fn serve(
    run: &mut ClientRun,
    ctx: &mut Ctx,
    reply: Reply,
) -> Result<(Vec<u8>, Option<String>), Failure> {
    let mut conn = run.accept(ctx).await?;
    let mut sent = Vec::new();
    let mut partial = None;
    loop {
        conn.clear();
        match conn.read_until(|got| !got.is_empty()).await {
            End::Done => {}
            End::TimedOut if sent.is_empty() => {
                return Err(conn.fail(format!(
                    "your client connected but sent nothing within {}",
                    super::super::conn::secs(ctx.timeout)
                )));
            }
            _ => return Ok((sent, partial)),
        }
        let read = conn.received().to_vec();
        sent.extend_from_slice(&read);
        let answer = echo_reply(&read);
        match reply {
            // A send that fails means the client left: its output and exit
            // status tell the rest.
            Reply::Whole => {
                if conn.send(&answer).await.is_err() {
                    return Ok((sent, partial));
                }
            }
            Reply::Pieces(cuts) => {
                // Every cut after `ACK: ` and a byte: the first piece shows what a
                // one-recv client printed.
                let pieces = seeded_pieces(ctx, &answer, cuts, ACK_PREFIX.len() + 1);
                partial.get_or_insert_with(|| String::from_utf8_lossy(&pieces[0]).into_owned());
                if send_all(&mut conn, &pieces).await.is_err() {
                    return Ok((sent, partial));
                }
            }
            Reply::ThenClose => {
                let _ = conn.send(&answer).await;
                conn.log().push("server closes the connection".into());
                return Ok((sent, None));
            }
        }
    }
}
