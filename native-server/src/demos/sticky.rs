//! `sticky`: a receiver built to show the "sticky packet" effect on demand.
//!
//! TCP keeps no message boundaries: what one `recv` returns depends on how much
//! the receiver asks for and on how much has arrived by then. This demo makes
//! both knobs explicit per connection: it waits `read_delay_ms` before each
//! read (so several sends pile up and come out merged) and asks for
//! `read_size` bytes (so one send comes out split). It echoes every read back
//! unchanged and publishes each read with its size.
//!
//! The lab sets the knobs through the bridge, which registers them under the
//! bridge socket's local address *before* connecting; the accept side looks
//! them up by the peer address. Connections from elsewhere get the defaults
//! (1024 bytes, no delay).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::demo::StickyOptions;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::{
    DemoCtx, Ending, ReadOutcome, Style, ending_for, read_event, read_some, reply_event, serve_tcp,
};
use crate::events::ConnEvents;

/// Read settings keyed by the client's address, set before it connects.
#[derive(Debug, Clone, Default)]
pub struct StickyRegistry {
    inner: Arc<Mutex<HashMap<SocketAddr, StickyOptions>>>,
}

impl StickyRegistry {
    /// Registers settings for the connection that will come from `client`.
    pub fn set(&self, client: SocketAddr, options: StickyOptions) {
        self.lock().insert(client, options);
    }

    /// Forgets the settings for `client` (when its connection failed).
    pub fn forget(&self, client: SocketAddr) {
        self.lock().remove(&client);
    }

    /// Takes the settings for `client`, or the defaults.
    fn take(&self, client: SocketAddr) -> StickyOptions {
        self.lock().remove(&client).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, StickyOptions>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs `sticky` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, ctx: DemoCtx) {
    serve_tcp(
        listener,
        protocol::Demo::Sticky,
        ctx,
        Style::Concurrent,
        converse,
    )
    .await;
}

async fn converse(mut stream: TcpStream, events: ConnEvents, ctx: DemoCtx) -> io::Result<Ending> {
    let options = ctx.sticky.take(events.peer());
    let idle = ctx.config.idle_timeout;
    let delay = Duration::from_millis(u64::from(options.read_delay_ms));
    let mut buf = vec![0u8; options.read_size];
    loop {
        if !delay.is_zero() {
            tokio::select! {
                _ = ctx.shutdown.cancelled() => return Ok(Ending::server("the server is shutting down")),
                _ = tokio::time::sleep(delay) => {}
            }
        }
        let outcome = read_some(&mut stream, &mut buf, idle, &ctx.shutdown).await?;
        if let Some(ending) = ending_for(&outcome, &events, idle, "more bytes") {
            return Ok(ending);
        }
        let ReadOutcome::Data(n) = outcome else {
            unreachable!("handled above")
        };
        events.emit_with(|| read_event(&buf[..n]));
        stream.write_all(&buf[..n]).await?;
        events.emit_with(|| reply_event(&buf[..n]));
    }
}
