//! `check framed`: the learner's server for length-prefixed JSON (a 4-byte
//! big-endian length, then that many bytes of UTF-8 JSON).
//!
//! Each request gets a frame back whose JSON holds `"echo"`: the request.
//! The stages cut and merge the requests the ways TCP may (two in one write,
//! a header split in two, one byte at a time), then try what a server must
//! survive: bad JSON (answer with an error frame and go on), a header
//! claiming 4 GiB (refuse and close, without waiting for 4 GiB), a client
//! that leaves mid-frame, and fifty clients.

use serde_json::{Value, json};

use super::super::Ctx;
use super::super::conn::{Conn, End, Transcript};
use super::super::failure::{Bug, Failure, StageResult};
use super::super::frames::{self, read_frame};
use super::{connect, word};

/// The stages, in order.
pub(crate) const STAGES: &[&str] = &[
    "one frame",
    "two frames in one write",
    "a header split across writes",
    "a frame written one byte at a time",
    "non-ASCII text (length in UTF-8 bytes)",
    "a 64 KiB frame",
    "invalid JSON, then a valid frame on the same connection",
    "a header claiming 4 GiB: refused and closed",
    "a client that vanishes mid-frame, then the next client",
    "50 clients, 5 connected at a time",
];

/// Runs stage `index`.
pub(crate) async fn stage(index: usize, ctx: &mut Ctx) -> StageResult {
    let log = ctx.transcript();
    match index {
        0 => {
            let mut a = connect(ctx, "A", &log).await?;
            let request = json!({"msg": "Hello"});
            a.send(&frames::encode(&request)).await?;
            expect_echo(&mut a, &request, None).await
        }
        1 => {
            let mut a = connect(ctx, "A", &log).await?;
            let first = json!({"msg": "first", "id": word(ctx, 6)});
            let second = json!({"msg": "second", "id": word(ctx, 6)});
            a.send(&[frames::encode(&first), frames::encode(&second)].concat())
                .await?;
            expect_echo(&mut a, &first, Some(Bug::OneRecvOneMessage)).await?;
            expect_echo(&mut a, &second, Some(Bug::OneMessagePerConnection)).await
        }
        2 => {
            let mut a = connect(ctx, "A", &log).await?;
            let request = json!({"msg": "split header", "id": word(ctx, 6)});
            let bytes = frames::encode(&request);
            a.send_pieces(&[&bytes[..2], &bytes[2..]]).await?;
            expect_echo(&mut a, &request, Some(Bug::OneRecvOneMessage))
                .await
                .map_err(|f| f.note("the header arrived as 2 bytes, then 2 more: read exactly 4 bytes, looping on recv"))
        }
        3 => {
            let mut a = connect(ctx, "A", &log).await?;
            let request = json!({"msg": "byte by byte", "id": word(ctx, 4)});
            let bytes = frames::encode(&request);
            let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
            a.send_pieces(&pieces).await?;
            expect_echo(&mut a, &request, Some(Bug::OneRecvOneMessage)).await
        }
        4 => {
            let mut a = connect(ctx, "A", &log).await?;
            let text = format!(r#"{{"msg": "héllo wörld ✓ — ünïcödé {}"}}"#, word(ctx, 4));
            a.send(&frames::encode_raw(text.as_bytes())).await?;
            let request: Value = serde_json::from_str(&text).unwrap_or_default();
            expect_echo(&mut a, &request, None).await
        }
        5 => {
            let mut a = connect(ctx, "A", &log).await?;
            let filler = 64 * 1024 - r#"{"data": ""}"#.len();
            let request = json!({"data": word(ctx, filler)});
            a.send(&frames::encode(&request)).await?;
            expect_echo(&mut a, &request, Some(Bug::OneRecvOneMessage)).await
        }
        6 => {
            let mut a = connect(ctx, "A", &log).await?;
            a.send(&frames::encode_raw(br#"{"msg": oops"#)).await?;
            let bad = read_frame(&mut a, "an error frame for the invalid JSON (the demo sends {\"error\": \"invalid_json\", …})")
                .await
                .map_err(|f| {
                    let closed = f.transcript.iter().any(|l| l.contains("end of stream") || l.contains("error"));
                    f.bug(closed.then_some(Bug::ClosedOnBadFrame))
                })?;
            if let Ok(reply) = serde_json::from_slice::<Value>(&bad)
                && reply.get("echo").is_some()
            {
                return Err(a
                    .fail("the reply to invalid JSON must say it is an error (the demo sends {\"error\": \"invalid_json\", \"message\": …}), not echo it")
                    .note(format!("reply: {}", super::super::report::bytes(&bad))));
            }
            let request = json!({"msg": "still there?"});
            a.send(&frames::encode(&request)).await?;
            expect_echo(&mut a, &request, Some(Bug::ClosedOnBadFrame)).await
        }
        7 => {
            let mut a = connect(ctx, "A", &log).await?;
            a.send(&[&[0xff, 0xff, 0xff, 0xff][..], br#"{"msg": "huge"}"#].concat())
                .await?;
            match a.read_to_end().await {
                End::Eof | End::Broken(_) => Ok(()),
                _ => Err(a
                    .fail(format!(
                        "the header claims 4294967295 bytes; the server must refuse it (the demo sends an error frame) and close, but it kept the connection open for {}: it is waiting for 4 GiB",
                        super::super::conn::secs(a.timeout())
                    ))
                    .note("check the length against a limit before reading (or allocating) the payload")
                    .bug(Bug::NoLengthLimit)),
            }
        }
        8 => {
            let mut a = connect(ctx, "A", &log).await?;
            a.send(&[&100u32.to_be_bytes()[..], b"{\"msg\": \"h"].concat())
                .await?;
            drop(a);
            log.push("A closed the connection 10 bytes into a 100-byte payload".into());
            let mut b = connect(ctx, "B", &log).await?;
            let request = json!({"msg": "after the vanished client"});
            b.send(&frames::encode(&request)).await?;
            expect_echo(&mut b, &request, None).await.map_err(|f| {
                f.note("a client closing mid-frame is an error for that connection only: close it and accept the next")
            })
        }
        9 => {
            let mut jobs = Vec::new();
            for worker in 0..5 {
                let ids: Vec<String> = (0..10).map(|_| word(ctx, 8)).collect();
                let addr = ctx.addr;
                let timeout = ctx.timeout;
                let feed = log.feed();
                jobs.push(tokio::spawn(async move {
                    for (i, id) in ids.into_iter().enumerate() {
                        let log = Transcript::new(feed.clone());
                        let label = format!("client {}", worker * 10 + i + 1);
                        let mut c = Conn::connect(addr, &label, &log, timeout).await?;
                        let request = json!({"client": worker * 10 + i + 1, "id": id});
                        c.send(&frames::encode(&request)).await?;
                        expect_echo(&mut c, &request, None).await?;
                    }
                    Ok::<(), Failure>(())
                }));
            }
            for job in jobs {
                job.await
                    .unwrap_or_else(|e| Err(Failure::new(format!("a client task failed: {e}"))))?;
            }
            Ok(())
        }
        _ => unreachable!("framed has {} stages", STAGES.len()),
    }
}

/// Reads the next reply frame and checks that it echoes `request`. `bug` is
/// the likely cause when no whole frame comes back.
async fn expect_echo(conn: &mut Conn, request: &Value, bug: Option<Bug>) -> StageResult {
    // What was sent is in the transcript, write by write.
    let payload = read_frame(conn, "a reply frame").await.map_err(|f| {
        let bug = f.bug.or(bug);
        f.bug(bug)
    })?;
    let reply =
        frames::json(&payload, "the reply's").map_err(|f| f.transcript(conn.log().lines()))?;
    if reply.get("echo") == Some(request) {
        return Ok(());
    }
    let expected = frames::encode(&json!({"echo": request}));
    let got = frames::encode_raw(&payload);
    Err(conn
        .fail("the reply must be a JSON object whose \"echo\" is the request (the demo also adds \"seen\")")
        .compare(&expected, &got)
        .note(super::super::report::length_field(&got)))
}
