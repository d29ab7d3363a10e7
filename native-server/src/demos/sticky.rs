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
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use protocol::Demo;
use protocol::demo::StickyOptions;
use tokio::net::TcpListener;

use super::{DemoCtx, Style, driver, serve_tcp};

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
    pub(crate) fn take(&self, client: SocketAddr) -> StickyOptions {
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
        Demo::Sticky,
        ctx,
        Style::Concurrent,
        |stream, events, ctx| driver::converse(Demo::Sticky, stream, events, ctx),
    )
    .await;
}
