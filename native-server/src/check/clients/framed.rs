//! `check framed-client`: the learner's client for length-prefixed JSON. It
//! sends one frame and prints the reply frame it decoded.
//!
//! socket-lab answers with the demo's reply (`protocol::demo::FramedServer`)
//! plus a seeded `"check"` word the client's output must show, and delivers
//! it cut and merged the ways TCP may: the header split, the payload in
//! pieces, a second frame glued on, a reply far larger than one `recv`, and
//! a server that vanishes mid-frame.

use protocol::demo::{FramedServer, FramedStep};
use protocol::frame::DEFAULT_MAX_FRAME;
use serde_json::{Value, json};

use super::super::Ctx;
use super::super::conn::Conn;
use super::super::failure::{Bug, Failure, StageResult};
use super::super::frames;
use super::super::servers::word;
use super::{ClientRun, Finished, keep, run_client, seeded_pieces, send_all};

/// The stages, in order.
pub(crate) const STAGES: &[&str] = &[
    "connects and sends one well-formed frame",
    "prints the decoded reply and exits 0",
    "the reply's header split across writes",
    "the reply in several pieces",
    "the reply merged with a second frame in one write",
    "a 200 KiB reply",
    "the server vanishes mid-frame: exits non-zero, promptly",
];

/// How socket-lab delivers its reply in a run.
#[derive(Clone, Copy)]
enum Reply {
    Whole,
    SplitHeader,
    Pieces,
    WithSecondFrame,
    Large,
    Vanish,
}

/// Runs stage `index`.
pub(crate) async fn stage(index: usize, ctx: &mut Ctx) -> StageResult {
    match index {
        0 => {
            let done = exchange(ctx, Reply::Whole).await?;
            keep(ctx, done)
        }
        1 => {
            let done = ctx.client_run.take();
            judge(
                &done.ok_or_else(|| Failure::new("stage 1 did not run"))?,
                ctx,
                false,
            )
        }
        2 => judge(&exchange(ctx, Reply::SplitHeader).await?, ctx, true),
        3 => judge(&exchange(ctx, Reply::Pieces).await?, ctx, true),
        4 => judge(&exchange(ctx, Reply::WithSecondFrame).await?, ctx, true),
        5 => judge(&exchange(ctx, Reply::Large).await?, ctx, true),
        6 => {
            let wait = ctx.timeout;
            let done = exchange(ctx, Reply::Vanish).await?;
            done.exited_nonzero(
                wait,
                "the server closed 10 bytes into a 100-byte payload",
                Some(Bug::IgnoredEndOfStream),
            )
        }
        _ => unreachable!("framed-client has {} stages", STAGES.len()),
    }
}

/// The client printed the reply and exited 0. A client that managed a
/// whole reply in one write (stages 1 and 2) but not a cut or merged one
/// reads one `recv` as one frame.
fn judge(done: &Finished, ctx: &Ctx, cut: bool) -> StageResult {
    let bug = cut.then_some(Bug::OneRecvOneMessage);
    done.succeeded(ctx.timeout)
        .map_err(|f| {
            let named = f.bug.or(bug);
            f.note("your client should print the reply it decoded; socket-lab looks for the reply's \"check\" word in it")
                .bug(named)
        })
}

/// One run: read the client's frame, answer as `reply` says.
async fn exchange(ctx: &mut Ctx, reply: Reply) -> Result<Finished, Failure> {
    let (mut done, token) = run_client(ctx, async |run, ctx| serve(run, ctx, reply).await).await?;
    done.expected = token;
    Ok(done)
}

/// Plays the framed server for one request; returns the word the output
/// must show.
async fn serve(run: &mut ClientRun, ctx: &mut Ctx, reply: Reply) -> Result<String, Failure> {
    let mut conn = run.accept(ctx).await?;
    let payload = frames::read_frame(&mut conn, "one frame from your client").await?;
    frames::json(&payload, "your frame's").map_err(|f| f.transcript(conn.log().lines()))?;
    let token = word(ctx, 10);
    let mut answer = demo_reply(&payload);
    if let Value::Object(fields) = &mut answer {
        fields.insert("check".into(), Value::String(token.clone()));
        if let Reply::Large = reply {
            fields.insert("filler".into(), Value::String(word(ctx, 200 * 1024)));
        }
    }
    let frame = frames::encode(&answer);
    let pieces = match reply {
        Reply::Whole | Reply::Large => vec![frame],
        Reply::SplitHeader => vec![frame[..2].to_vec(), frame[2..].to_vec()],
        Reply::Pieces => seeded_pieces(ctx, &frame, 5, 1),
        Reply::WithSecondFrame => {
            vec![[frame, frames::encode(&json!({"note": "a second frame"}))].concat()]
        }
        Reply::Vanish => {
            let mut cut = 100u32.to_be_bytes().to_vec();
            cut.extend_from_slice(br#"{"echo": {"#);
            let _ = conn.send(&cut).await;
            conn.log()
                .push("server closes the connection mid-frame".into());
            return Ok(token);
        }
    };
    // A send that fails means the client left; its output tells the rest.
    let _ = send_all(&mut conn, &pieces).await;
    wait_for_close(&mut conn).await;
    Ok(token)
}

/// The demo's reply to one request payload.
fn demo_reply(payload: &[u8]) -> Value {
    let mut server = FramedServer::new(DEFAULT_MAX_FRAME);
    server.feed(&frames::encode_raw(payload));
    match server.next_step() {
        Some(FramedStep::Decoded { reply, .. } | FramedStep::Rejected { reply, .. }) => {
            serde_json::from_slice(&reply[4..]).unwrap_or_default()
        }
        _ => Value::Null,
    }
}

/// Lets the client read in peace until it closes (or the timeout passes).
async fn wait_for_close(conn: &mut Conn) {
    let _ = conn.read_to_end().await;
}
