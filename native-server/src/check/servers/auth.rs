//! `check auth`: the learner's HMAC challenge-response server. It sends 32
//! random bytes, reads exactly 32 bytes of answer within a deadline,
//! compares them with HMAC-SHA256(secret, challenge) in constant time, and
//! replies `Access Granted` or `Access Denied` before it closes.
//!
//! The answers come from `protocol::auth::respond`, the demo's own code;
//! the secret is `--secret` (also given to the program as SOCKET_LAB_SECRET).

use protocol::auth::{self, CHALLENGE_LEN, GRANTED};

use super::super::Ctx;
use super::super::conn::{Conn, End, Transcript, secs};
use super::super::failure::{Bug, Failure, StageResult};
use super::connect;

/// The stages, in order.
pub(crate) const STAGES: &[&str] = &[
    "the right answer: Access Granted",
    "a wrong answer: not granted",
    "the answer in two writes",
    "the answer one byte at a time",
    "a fresh challenge every connection (no replay)",
    "a client that leaves mid-answer, then the next client",
    "a silent client is dropped after a timeout",
];

/// Runs stage `index`.
pub(crate) async fn stage(index: usize, ctx: &mut Ctx) -> StageResult {
    let log = ctx.transcript();
    match index {
        0 => granted(ctx, "A", &log, 1, None).await,
        1 => {
            let mut a = connect(ctx, "A", &log).await?;
            let challenge = read_challenge(&mut a).await?;
            let mut wrong = auth::respond(&ctx.secret, &challenge);
            wrong[0] ^= 0x01;
            a.send(&wrong).await?;
            let end = a.read_to_end().await;
            let verdict = a.received().to_vec();
            if verdict.starts_with(GRANTED) {
                return Err(a
                    .fail("a wrong answer was granted: compare the whole 32-byte answer with the expected HMAC (hmac.compare_digest)")
                    .compare(auth::DENIED, &verdict));
            }
            if end != End::Eof && !matches!(end, End::Broken(_)) {
                return Err(a.fail(format!(
                    "after a wrong answer the server must reply Access Denied (or just close); but {}",
                    end.explain(a.timeout())
                )));
            }
            Ok(())
        }
        2 => granted(ctx, "A", &log, 2, Some(Bug::NotExactly32)).await,
        3 => granted(ctx, "A", &log, 32, Some(Bug::NotExactly32)).await,
        4 => {
            let mut seen: Vec<[u8; CHALLENGE_LEN]> = Vec::new();
            for i in 0..5 {
                let mut c = connect(ctx, &format!("client {}", i + 1), &log).await?;
                let challenge = read_challenge(&mut c).await?;
                if seen.contains(&challenge) {
                    return Err(c
                        .fail("two connections got the same challenge, so an answer overheard once opens the door again: draw 32 fresh random bytes (os.urandom) for every connection")
                        .bug(Bug::SameChallenge));
                }
                // Replay the answer to the previous connection's challenge.
                let answer = match seen.last() {
                    Some(previous) => auth::respond(&ctx.secret, previous),
                    None => auth::respond(&ctx.secret, &challenge),
                };
                c.send(&answer).await?;
                c.read_to_end().await;
                let granted = c.received().starts_with(GRANTED);
                if i > 0 && granted {
                    return Err(c
                        .fail("an answer replayed from an earlier connection was granted")
                        .bug(Bug::SameChallenge));
                }
                if i == 0 && !granted {
                    return Err(c
                        .fail("the right answer was not granted")
                        .compare(GRANTED, c.received()));
                }
                seen.push(challenge);
            }
            Ok(())
        }
        5 => {
            let mut a = connect(ctx, "A", &log).await?;
            let challenge = read_challenge(&mut a).await?;
            a.send(&auth::respond(&ctx.secret, &challenge)[..10])
                .await?;
            drop(a);
            log.push("A closed the connection after 10 bytes of its answer".into());
            granted(ctx, "B", &log, 1, None).await.map_err(|f| {
                f.note("a client that closes early is denied (or dropped); the server must go on to the next one")
            })
        }
        6 => {
            let mut a = connect(ctx, "A", &log).await?;
            read_challenge(&mut a).await?;
            log.push("A says nothing".into());
            match a
                .read_until_for(ctx.silence_timeout, &mut |got| {
                    got.len() > CHALLENGE_LEN + 64
                })
                .await
            {
                End::Eof | End::Broken(_) => {}
                _ => {
                    return Err(a
                        .fail(format!(
                            "the server kept a silent client for {} without answering or closing: set a timeout on the read of the answer (conn.settimeout(5))",
                            secs(ctx.silence_timeout)
                        ))
                        .bug(Bug::NoTimeout));
                }
            }
            granted(ctx, "B", &log, 1, None).await
        }
        _ => unreachable!("auth has {} stages", STAGES.len()),
    }
}

/// Reads exactly the 32-byte challenge (and nothing else).
async fn read_challenge(conn: &mut Conn) -> Result<[u8; CHALLENGE_LEN], Failure> {
    let end = conn.read_exactly(CHALLENGE_LEN).await;
    let got = conn.received();
    let Some(challenge) = got.get(..CHALLENGE_LEN).and_then(|c| c.try_into().ok()) else {
        return Err(conn.fail(format!(
            "expected the 32-byte challenge, but {} after {} bytes",
            end.explain(conn.timeout()),
            got.len()
        )));
    };
    if got.len() > CHALLENGE_LEN {
        return Err(conn.fail(format!(
            "the challenge must be exactly 32 bytes, but {} arrived before the answer was sent",
            got.len()
        )));
    }
    conn.clear();
    Ok(challenge)
}

/// A client that answers right, in `pieces` writes, and must be granted.
async fn granted(
    ctx: &Ctx,
    label: &str,
    log: &Transcript,
    pieces: usize,
    bug: Option<Bug>,
) -> StageResult {
    let mut conn = connect(ctx, label, log).await?;
    let challenge = read_challenge(&mut conn).await?;
    let answer = auth::respond(&ctx.secret, &challenge);
    let parts: Vec<&[u8]> = answer.chunks(CHALLENGE_LEN.div_ceil(pieces)).collect();
    conn.send_pieces(&parts).await?;
    let end = conn.read_to_end().await;
    let verdict = conn.received().to_vec();
    if verdict == GRANTED && end == End::Eof {
        return Ok(());
    }
    let what = if verdict == GRANTED {
        format!(
            "Access Granted arrived, but then the server must close the connection; instead {}",
            end.explain(conn.timeout())
        )
    } else if pieces > 1 {
        format!(
            "the right answer, sent in {pieces} writes, was not granted: a single recv(32) returns whatever has arrived, here the first {} bytes",
            parts[0].len()
        )
    } else {
        format!(
            "the right answer (HMAC-SHA256 with the secret given as SOCKET_LAB_SECRET) was not granted; then {}",
            end.explain(conn.timeout())
        )
    };
    Err(conn
        .fail(what)
        .sent(&answer)
        .compare(GRANTED, &verdict)
        .bug((verdict != GRANTED).then_some(bug).flatten()))
}
