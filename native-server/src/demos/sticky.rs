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
use std::time::{Duration, Instant};

use protocol::demo::StickyOptions;

/// Read settings keyed by the client's address, set before it connects.
///
/// Settings can never outlive their connection or pass to another one: they
/// are taken when the demo accepts, forgotten when it refuses (at its
/// connection limit) or when the bridge's connect fails, and any left over
/// (a connection that never arrived) expire after [`SETTINGS_TTL`], long
/// before the kernel would hand the same ephemeral port to a new client.
#[derive(Debug, Clone, Default)]
pub struct StickyRegistry {
    inner: Arc<Mutex<HashMap<SocketAddr, (StickyOptions, Instant)>>>,
}

/// How long settings wait for their connection.
pub const SETTINGS_TTL: Duration = Duration::from_secs(10);

impl StickyRegistry {
    /// Registers settings for the connection that will come from `client`.
    pub fn set(&self, client: SocketAddr, options: StickyOptions) {
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, (_, at)| now.duration_since(*at) < SETTINGS_TTL);
        map.insert(client, (options, now));
    }

    /// Forgets the settings for `client` (its connection failed or was refused).
    pub fn forget(&self, client: SocketAddr) {
        self.lock().remove(&client);
    }

    /// How many connections' settings are waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no settings are waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the settings for `client`, or the defaults.
    pub(crate) fn take(&self, client: SocketAddr) -> StickyOptions {
        match self.lock().remove(&client) {
            Some((options, at)) if at.elapsed() < SETTINGS_TTL => options,
            _ => StickyOptions::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, (StickyOptions, Instant)>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
