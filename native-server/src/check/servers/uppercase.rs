//! `check uppercase`: the learner's concurrent server, which reads one
//! chunk per connection, answers it trimmed and upper-cased, and closes.
//!
//! The trap is concurrency. An iterative server with a deep listen backlog
//! passes any test that sends clients one after another, since the kernel
//! queues them, so stage 4 holds client A connected and silent, and then
//! wants client B's answer: an iterative server is stuck in A's `recv`.

use protocol::demo::uppercase_reply;
use rand::seq::SliceRandom;

use super::super::Ctx;
use super::super::conn::{Conn, End, Transcript};
use super::super::failure::{Bug, StageResult};
use super::{connect, word};

/// The stages, in order.
pub(crate) const STAGES: &[&str] = &[
    "one client: hello → HELLO, then the server closes",
    "whitespace trimmed, letters upper-cased",
    "a client that closes without sending, then the next client",
    "client B served while client A is connected and silent",
    "client A, still connected, served after B",
    "5 clients at once, answered in a seeded order",
];

/// Runs stage `index`.
pub(crate) async fn stage(index: usize, ctx: &mut Ctx) -> StageResult {
    let log = ctx.transcript();
    match index {
        0 => ask(ctx, "A", &log, b"hello", None).await,
        1 => {
            let message = format!("  Mixed case, {} \r\n", word(ctx, 6));
            ask(ctx, "A", &log, message.as_bytes(), None).await
        }
        2 => {
            let mut a = connect(ctx, "A", &log).await?;
            a.shutdown_write().await;
            // Whatever it says to a client that said nothing, it must not stop serving.
            let _ = a.read_to_end().await;
            drop(a);
            ask(ctx, "B", &log, b"next", None).await
        }
        3 | 4 => {
            // Stage 5 needs A from stage 4: both run here, stage 4 stops after B.
            let mut a = connect(ctx, "A", &log).await?;
            log.push("A says nothing and stays connected".into());
            ask(ctx, "B", &log, b"second", Some(Bug::OneClientAtATime))
                .await
                .map_err(|f| {
                    f.note(
                        "an iterative server is still in recv() for client A; B waits in the listen queue",
                    )
                })?;
            if index == 3 {
                return Ok(());
            }
            exchange(&mut a, b"first", None).await
        }
        5 => {
            let mut clients = Vec::new();
            // Five, not more: a listen(5) queue holds six connections the server
            // has not accepted yet, and a SYN beyond that waits a second to retry.
            for i in 0..5 {
                let label = format!("client {}", i + 1);
                clients.push((
                    connect(ctx, &label, &log).await?,
                    format!("word {} {}", i + 1, word(ctx, 5)),
                ));
            }
            clients.shuffle(&mut ctx.rng);
            for (conn, message) in &mut clients {
                conn.send(message.as_bytes()).await?;
            }
            for (conn, message) in &mut clients {
                judge(conn, message.as_bytes(), None).await?;
            }
            Ok(())
        }
        _ => unreachable!("uppercase has {} stages", STAGES.len()),
    }
}

/// A new client sends `message` and expects its answer, then the close.
async fn ask(
    ctx: &Ctx,
    label: &str,
    log: &Transcript,
    message: &[u8],
    bug: Option<Bug>,
) -> StageResult {
    let mut conn = connect(ctx, label, log).await?;
    exchange(&mut conn, message, bug).await
}

async fn exchange(conn: &mut Conn, message: &[u8], bug: Option<Bug>) -> StageResult {
    conn.send(message).await?;
    judge(conn, message, bug).await
}

/// Reads to the end of stream and compares with `message.strip().upper()`.
async fn judge(conn: &mut Conn, message: &[u8], bug: Option<Bug>) -> StageResult {
    let expected = uppercase_reply(message);
    let end = conn.read_to_end().await;
    let got = conn.received().to_vec();
    let closed = end == End::Eof;
    if got == expected && closed {
        return Ok(());
    }
    let what = if got == expected {
        format!(
            "the answer was right, but the server must close the connection after it (clients read until it does); instead {}",
            end.explain(conn.timeout())
        )
    } else if got.is_empty() {
        format!("expected the answer, but {}", end.explain(conn.timeout()))
    } else {
        "the answer must be the bytes received, with whitespace trimmed and letters upper-cased"
            .into()
    };
    Err(conn
        .fail(what)
        .sent(message)
        .compare(&expected, &got)
        .bug(got.is_empty().then_some(bug).flatten()))
}
