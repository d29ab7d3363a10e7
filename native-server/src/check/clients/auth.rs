//! `check auth-client`: the learner's client for the HMAC handshake. It
//! reads the 32-byte challenge, answers HMAC-SHA256(secret, challenge) as
//! 32 raw bytes, and prints the server's verdict.
//!
//! socket-lab plays the demo's server with a seeded challenge, then cuts the
//! challenge and the verdict into pieces. A wrong answer is explained: the
//! HMAC of only the first bytes of the challenge (a single `recv(32)`), the
//! hex digest instead of the raw one, or the HMAC under another secret.

use std::time::Duration;

use protocol::auth::{self, CHALLENGE_LEN, DENIED, GRANTED, RESPONSE_LEN};
use rand::RngCore;

use super::super::Ctx;
use super::super::conn::{Conn, End};
use super::super::failure::{Bug, Failure, StageResult};
use super::{ClientRun, Finished, judge_kept, keep, run_client, send_all};

/// The stages, in order.
pub(crate) const STAGES: &[&str] = &[
    "reads the challenge and answers HMAC-SHA256(secret, challenge)",
    "prints Access Granted and exits 0",
    "the challenge in two writes",
    "the challenge one byte at a time",
    "the verdict in two writes",
    "a denial is printed, not hidden",
    "the server vanishes mid-challenge: exits non-zero, promptly",
];

/// How socket-lab plays the server in a run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Play {
    Whole,
    ChallengeInTwo,
    ChallengeBytes,
    VerdictInTwo,
    Deny,
    Vanish,
}

/// Runs stage `index`.
pub(crate) async fn stage(index: usize, ctx: &mut Ctx) -> StageResult {
    match index {
        0 => {
            let done = exchange(ctx, Play::Whole).await?;
            keep(ctx, done)
        }
        1 => judge_kept(ctx),
        2 => exchange(ctx, Play::ChallengeInTwo)
            .await?
            .succeeded(ctx.timeout),
        3 => exchange(ctx, Play::ChallengeBytes)
            .await?
            .succeeded(ctx.timeout),
        4 => exchange(ctx, Play::VerdictInTwo)
            .await?
            .succeeded(ctx.timeout),
        5 => {
            let done = exchange(ctx, Play::Deny).await?;
            done.printed()?;
            if done.stdout.contains("Access Granted") {
                return Err(done.fail(
                    "the server said Access Denied, but your client printed Access Granted",
                ));
            }
            match done.status {
                Some(_) => Ok(()),
                None => Err(done.fail("after Access Denied and the close, your client should end, but it was still running")),
            }
        }
        6 => {
            let done = exchange(ctx, Play::Vanish).await?;
            done.exited_nonzero(
                ctx.timeout,
                "the server closed after 10 of the challenge's 32 bytes",
                Some(Bug::IgnoredEndOfStream),
            )
            .map_err(|f| {
                let answered = f.transcript.iter().any(|l| l.starts_with("server ←"));
                if answered && f.bug == Some(Bug::ExitZeroOnFailure) {
                    f.note("it even answered a 10-byte challenge: read exactly 32 bytes, and fail if the stream ends first")
                        .bug(Bug::NotExactly32)
                } else {
                    f
                }
            })
        }
        _ => unreachable!("auth-client has {} stages", STAGES.len()),
    }
}

/// One run of the client against the server as `play` says.
async fn exchange(ctx: &mut Ctx, play: Play) -> Result<Finished, Failure> {
    let (mut done, ()) = run_client(ctx, async |run, ctx| serve(run, ctx, play).await).await?;
    let verdict = if play == Play::Deny { DENIED } else { GRANTED };
    done.expected = String::from_utf8_lossy(verdict).into_owned();
    done.partial = (play == Play::VerdictInTwo).then(|| "Access ".to_owned());
    Ok(done)
}

/// Plays the auth server once.
async fn serve(run: &mut ClientRun, ctx: &mut Ctx, play: Play) -> StageResult {
    let mut conn = run.accept(ctx).await?;
    let mut challenge = [0u8; CHALLENGE_LEN];
    ctx.rng.fill_bytes(&mut challenge);
    let pieces: Vec<Vec<u8>> = match play {
        Play::ChallengeInTwo => challenge.chunks(16).map(<[u8]>::to_vec).collect(),
        Play::ChallengeBytes => challenge.chunks(1).map(<[u8]>::to_vec).collect(),
        Play::Vanish => {
            let _ = conn.send(&challenge[..10]).await;
            // Read whatever it answers to a short challenge, then leave.
            conn.read_until_for(Duration::from_millis(200), &mut |got| {
                got.len() >= RESPONSE_LEN
            })
            .await;
            conn.log().push("server closes the connection".into());
            return Ok(());
        }
        _ => vec![challenge.to_vec()],
    };
    send_all(&mut conn, &pieces).await?;
    let end = conn.read_exactly(RESPONSE_LEN).await;
    let answer = conn.received().to_vec();
    if play == Play::Deny {
        return deliver(&mut conn, &[DENIED.to_vec()]).await;
    }
    check_answer(ctx, &conn, &challenge, &answer, &end)?;
    let verdict = if play == Play::VerdictInTwo {
        vec![b"Access ".to_vec(), b"Granted".to_vec()]
    } else {
        vec![GRANTED.to_vec()]
    };
    deliver(&mut conn, &verdict).await
}

/// Sends the verdict and closes.
async fn deliver(conn: &mut Conn, verdict: &[Vec<u8>]) -> StageResult {
    let _ = send_all(conn, verdict).await;
    conn.log().push("server closes the connection".into());
    Ok(())
}

/// The answer is the HMAC of the whole challenge; if not, which mistake it is.
fn check_answer(ctx: &Ctx, conn: &Conn, challenge: &[u8], answer: &[u8], end: &End) -> StageResult {
    let right = auth::respond(&ctx.secret, challenge);
    if answer == right {
        return Ok(());
    }
    let fail = |what: String| conn.fail(what).compare(&right, answer);
    if answer.len() < RESPONSE_LEN {
        return Err(fail(format!(
            "expected 32 bytes of answer, but {} after {} bytes",
            end.explain(conn.timeout()),
            answer.len()
        ))
        .bug((answer.len() == 16).then_some(Bug::WrongHmac))
        .note("16 bytes would be an MD5 digest: the notes' hmac.new(key, msg) without a digest; pass 'sha256'"));
    }
    if let Some(k) =
        (1..CHALLENGE_LEN).find(|&k| answer == auth::respond(&ctx.secret, &challenge[..k]))
    {
        return Err(fail(format!(
            "the answer is the HMAC of the first {k} bytes of the challenge only: the challenge arrived in pieces and one recv(32) returned {k} bytes"
        ))
        .bug(Bug::NotExactly32));
    }
    let hex = protocol::hex::to_hex(&right);
    if hex
        .as_bytes()
        .starts_with(&answer[..answer.len().min(hex.len())])
    {
        return Err(fail("the answer is the start of the hex digest (hexdigest()): send the 32 raw bytes (digest())".into())
            .bug(Bug::HexDigest));
    }
    if answer == auth::respond(auth::DEFAULT_SECRET.as_bytes(), challenge) {
        return Err(fail("the answer is the HMAC under the default secret my_super_secret_key, not the secret given in SOCKET_LAB_SECRET".into())
            .bug(Bug::WrongHmac));
    }
    Err(fail("the answer is not HMAC-SHA256(secret, challenge): check the secret (SOCKET_LAB_SECRET), the hash (sha256) and that you hashed this connection's challenge".into())
        .bug(Bug::WrongHmac))
}
