//! `framed`: length-prefixed JSON, the notes' cure for sticky packets.
//!
//! The stream is fed, chunk by chunk, to `protocol`'s [`FrameDecoder`]; every
//! complete frame gets a reply frame (the request echoed with what the server
//! saw). A frame that is not UTF-8 or not JSON gets an error frame and the
//! stream goes on, because its length told us where the next frame starts. A
//! header claiming more than `--max-frame` gets an error frame and the
//! connection is closed: nothing is ever allocated for the claimed length.

use std::io;

use protocol::FrameDecoder;
use protocol::demo::{error_reply, framed_reply};
use protocol::events::EventKind;
use protocol::frame::{self, FrameError};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::{
    DemoCtx, Ending, ReadOutcome, Style, ending_for, read_event, read_with, reply_event, serve_tcp,
};
use crate::events::ConnEvents;

/// Runs `framed` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        protocol::Demo::Framed,
        ctx,
        Style::Concurrent,
        converse,
    )
    .await;
}

async fn send_json(stream: &mut TcpStream, events: &ConnEvents, value: &Value) -> io::Result<()> {
    let bytes = frame::encode_json(value).map_err(io::Error::other)?;
    stream.write_all(&bytes).await?;
    events.emit(reply_event(&bytes));
    Ok(())
}

fn rejected(events: &ConnEvents, err: &FrameError) {
    events.emit(EventKind::FrameRejected {
        code: err.code().to_owned(),
        message: err.to_string(),
    });
}

async fn converse(mut stream: TcpStream, events: ConnEvents, ctx: DemoCtx) -> io::Result<Ending> {
    let idle = ctx.config.idle_timeout;
    let mut decoder = FrameDecoder::new(ctx.config.max_frame);
    let mut index = 0u64;
    loop {
        let outcome = read_with(&stream, idle, &ctx.shutdown, |bytes| {
            events.emit(read_event(bytes));
            decoder.feed(bytes);
        })
        .await?;
        if let Some(ending) = ending_for(&outcome, &events, idle, "the next frame") {
            if let (ReadOutcome::Eof, Err(err)) = (&outcome, decoder.finish()) {
                rejected(&events, &err);
                return Ok(Ending {
                    reason: format!("the client closed mid-frame: {err}"),
                    ..ending
                });
            }
            return Ok(ending);
        }
        loop {
            match decoder.decode() {
                Ok(None) => break,
                Ok(Some(payload)) => {
                    index += 1;
                    let (reply, seen) = framed_reply(&payload, index);
                    match seen {
                        Ok(json) => events.emit(EventKind::FrameDecoded {
                            len: payload.len(),
                            json,
                        }),
                        Err(err) => rejected(&events, &err),
                    }
                    send_json(&mut stream, &events, &reply).await?;
                }
                Err(err) => {
                    // The length is wrong, so we no longer know where frames
                    // start: explain, then close.
                    rejected(&events, &err);
                    send_json(&mut stream, &events, &error_reply(&err)).await?;
                    let _ = stream.shutdown().await;
                    return Ok(Ending::server(format!("closed after a bad header: {err}")));
                }
            }
        }
    }
}
