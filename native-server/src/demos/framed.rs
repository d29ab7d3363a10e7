//! `framed`: length-prefixed JSON, the notes' cure for sticky packets.
//!
//! The stream is fed, chunk by chunk, to `protocol`'s [`FramedServer`] (the
//! same state machine the in-page simulation runs); every
//! complete frame gets a reply frame (the request echoed with what the server
//! saw). A frame that is not UTF-8 or not JSON gets an error frame and the
//! stream goes on, because its length told us where the next frame starts. A
//! header claiming more than `--max-frame` gets an error frame and the
//! connection is closed: nothing is ever allocated for the claimed length.

use std::io;

use protocol::demo::{FramedServer, FramedStep};
use protocol::events::EventKind;
use protocol::frame::FrameError;
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

async fn send(stream: &mut TcpStream, events: &ConnEvents, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    events.emit_with(|| reply_event(bytes));
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
    let mut server = FramedServer::new(ctx.config.max_frame);
    loop {
        let outcome = read_with(&stream, idle, &ctx.shutdown, |bytes| {
            events.emit_with(|| read_event(bytes));
            server.feed(bytes);
        })
        .await?;
        if let Some(ending) = ending_for(&outcome, &events, idle, "the next frame") {
            if let (ReadOutcome::Eof, Err(err)) = (&outcome, server.finish()) {
                rejected(&events, &err);
                return Ok(Ending {
                    reason: format!("the client closed mid-frame: {err}"),
                    ..ending
                });
            }
            return Ok(ending);
        }
        while let Some(step) = server.next_step() {
            match step {
                FramedStep::Decoded { len, json, reply } => {
                    events.emit(EventKind::FrameDecoded { len, json });
                    send(&mut stream, &events, &reply).await?;
                }
                FramedStep::Rejected { error, reply } => {
                    rejected(&events, &error);
                    send(&mut stream, &events, &reply).await?;
                }
                FramedStep::Fatal { error, reply } => {
                    // The length is wrong, so we no longer know where frames
                    // start: explain, then close.
                    rejected(&events, &error);
                    send(&mut stream, &events, &reply).await?;
                    let _ = stream.shutdown().await;
                    return Ok(Ending::server(format!(
                        "closed after a bad header: {error}"
                    )));
                }
            }
        }
    }
}
