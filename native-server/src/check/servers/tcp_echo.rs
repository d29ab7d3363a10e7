//! `check tcp-echo`: the learner's echo server, which answers every read
//! with `ACK: ` and the bytes read, and serves a client until it closes.
//!
//! Because the server answers each *read*, one message may come back as
//! several `ACK: ` pieces (`ACK: HelACK: lo`); every stage accepts any
//! split, as long as the pieces together echo the message exactly.

use protocol::demo::ACK_PREFIX;
use rand::Rng;

use super::super::Ctx;
use super::super::conn::{Conn, End};
use super::super::failure::{Bug, StageResult};
use super::{connect, word};

/// The stages, in order.
pub(crate) const STAGES: &[&str] = &[
    "one message",
    "three messages on one connection",
    "a message in two writes",
    "two messages in one write",
    "a 3000-byte message (more than one 1024-byte read)",
    "bytes that are not UTF-8",
    "half-close: the reply still comes, then the server closes",
    "ten clients one after another",
];

/// Runs stage `index`.
pub(crate) async fn stage(index: usize, ctx: &mut Ctx) -> StageResult {
    let log = ctx.transcript();
    match index {
        0 => {
            let mut a = connect(ctx, "A", &log).await?;
            round_trip(&mut a, b"Hello, Server", None).await
        }
        1 => {
            let mut a = connect(ctx, "A", &log).await?;
            for i in 0..3 {
                let message = format!("message {} {}", i + 1, word(ctx, 6));
                let bug = (i > 0).then_some(Bug::OneMessagePerConnection);
                round_trip(&mut a, message.as_bytes(), bug).await?;
            }
            Ok(())
        }
        2 => {
            let message = format!("split {}", word(ctx, 12));
            let cut = ctx.rng.random_range(2..message.len() - 2);
            let (first, second) = message.as_bytes().split_at(cut);
            let mut a = connect(ctx, "A", &log).await?;
            a.send(first).await?;
            expect_echo(&mut a, first, None).await?;
            a.clear();
            a.send(second).await?;
            expect_echo(&mut a, second, Some(Bug::OneMessagePerConnection)).await
        }
        3 => {
            let message = format!("one {} two {}", word(ctx, 5), word(ctx, 5));
            let mut a = connect(ctx, "A", &log).await?;
            round_trip(&mut a, message.as_bytes(), None).await
        }
        4 => {
            let message = word(ctx, 3000);
            let mut a = connect(ctx, "A", &log).await?;
            round_trip(&mut a, message.as_bytes(), Some(Bug::OneRecvOneMessage)).await
        }
        5 => {
            let mut message = vec![0xff, 0xfe, 0x00, 0x80];
            message.extend((0..12).map(|_| ctx.rng.random_range(0x80..=0xffu8)));
            let mut a = connect(ctx, "A", &log).await?;
            round_trip(&mut a, &message, Some(Bug::BytesAsText)).await
        }
        6 => {
            let message = format!("bye {}", word(ctx, 8));
            let mut a = connect(ctx, "A", &log).await?;
            a.send(message.as_bytes()).await?;
            a.shutdown_write().await;
            expect_echo(&mut a, message.as_bytes(), None).await?;
            let end = a.read_until(answers_end_of_stream).await;
            if answers_end_of_stream(a.received()) {
                return Err(a
                    .fail("after the client's end of stream the server kept sending `ACK: ` (an answer to a read of 0 bytes)")
                    .bug(Bug::IgnoredEndOfStream));
            }
            match end {
                End::Eof | End::Broken(_) => Ok(()),
                end => Err(a
                    .fail(format!(
                        "the client half-closed (sent FIN) and got its echo, so the server's next recv returned b\"\" and it should close the connection; but {}",
                        end.explain(a.timeout())
                    ))
                    .bug(Bug::IgnoredEndOfStream)),
            }
        }
        7 => {
            for i in 0..10 {
                let label = format!("client {}", i + 1);
                let message = format!("hello from client {} {}", i + 1, word(ctx, 4));
                let mut c = Conn::connect(ctx.addr, &label, &log, ctx.timeout)
                    .await
                    .map_err(|f| f.note("the server must go back to accept() after each client"))?;
                round_trip(&mut c, message.as_bytes(), None).await?;
            }
            Ok(())
        }
        _ => unreachable!("tcp-echo has {} stages", STAGES.len()),
    }
}

/// Whether `got` holds an `ACK: ` with nothing after it: the answer to a
/// read of 0 bytes, the end of stream taken for a message.
fn answers_end_of_stream(got: &[u8]) -> bool {
    got.windows(2 * ACK_PREFIX.len())
        .any(|w| w.starts_with(ACK_PREFIX) && w.ends_with(ACK_PREFIX))
}

/// Sends `message` in one write and expects its echo.
async fn round_trip(conn: &mut Conn, message: &[u8], bug: Option<Bug>) -> StageResult {
    conn.clear();
    conn.send(message).await?;
    expect_echo(conn, message, bug).await
}

/// Reads until the `ACK: ` pieces echo all of `message`, and checks them.
/// `bug` is the likely cause when nothing (or too little) comes back.
async fn expect_echo(conn: &mut Conn, message: &[u8], bug: Option<Bug>) -> StageResult {
    let end = conn
        .read_until(|got| acked(got).map_or(true, |echoed| echoed.len() >= message.len()))
        .await;
    let got = conn.received().to_vec();
    let expected = [ACK_PREFIX, message].concat();
    match acked(&got) {
        Ok(echoed) if echoed == message => Ok(()),
        Ok(echoed) => {
            let mut failure = conn
                .fail(if echoed.len() < message.len() {
                    format!(
                        "expected the echo of all {} bytes sent (as one or more `ACK: ` pieces), but {}",
                        message.len(),
                        end.explain(conn.timeout())
                    )
                } else {
                    "the echoed bytes differ from the bytes sent".to_owned()
                })
                .sent(message)
                .compare(&expected, &got)
                .note("any split into pieces is fine (`ACK: HelACK: lo`): the server answers each read");
            if end != End::TimedOut || echoed.is_empty() {
                failure = failure.bug(bug);
            }
            Err(failure)
        }
        Err(at) => Err(conn
            .fail(format!(
                "every reply must be `ACK: ` followed by the bytes read; the reply stops following that at byte {at}"
            ))
            .sent(message)
            .compare(&expected, &got)),
    }
}

/// What the `ACK: ` pieces in `received` echo so far, or the offset where
/// `received` stops being `ACK: `-prefixed pieces. The messages the stages
/// send contain no `A`, so every `A` starts a piece.
fn acked(received: &[u8]) -> Result<Vec<u8>, usize> {
    let mut echoed = Vec::new();
    let mut i = 0;
    while i < received.len() {
        let rest = &received[i..];
        let n = rest.len().min(ACK_PREFIX.len());
        if let Some(off) = rest[..n].iter().zip(ACK_PREFIX).position(|(a, b)| a != b) {
            return Err(i + off);
        }
        if n < ACK_PREFIX.len() {
            break; // the start of a piece whose prefix is still arriving
        }
        i += ACK_PREFIX.len();
        let end = received[i..]
            .iter()
            .position(|&b| b == b'A')
            .map_or(received.len(), |p| i + p);
        echoed.extend_from_slice(&received[i..end]);
        i = end;
    }
    Ok(echoed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_pieces_are_joined() {
        assert_eq!(acked(b"ACK: HelACK: lo").unwrap(), b"Hello");
        assert_eq!(acked(b"ACK: HelAC").unwrap(), b"Hel");
        assert_eq!(acked(b"Hello").unwrap_err(), 0);
        assert_eq!(acked(b"ACK: hiACX").unwrap_err(), 9);
    }
}
