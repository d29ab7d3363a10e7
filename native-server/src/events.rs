//! The event bus: every demo publishes what it saw; anyone may watch.
//!
//! A `tokio::sync::broadcast` channel with a fixed capacity. Publishing never
//! waits: a subscriber that falls behind loses the oldest events and is told
//! how many it missed (a "lagged" marker), so a slow browser tab can never slow
//! a demo server down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::Demo;
use protocol::events::{EventKind, ServerEvent};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// How many events a subscriber may fall behind before it starts losing them.
pub const BUS_CAPACITY: usize = 4096;

/// The shared publisher. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: broadcast::Sender<Arc<ServerEvent>>,
    started: Instant,
    next_conn: AtomicU64,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(BUS_CAPACITY)
    }
}

impl EventBus {
    /// A bus that holds up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        Self {
            inner: Arc::new(Inner {
                tx,
                started: Instant::now(),
                next_conn: AtomicU64::new(1),
            }),
        }
    }

    /// A fresh connection number, unique for this server run.
    pub fn next_conn(&self) -> u64 {
        self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Microseconds since the server started.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.inner.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether anybody is subscribed right now.
    pub fn is_watched(&self) -> bool {
        self.inner.tx.receiver_count() > 0
    }

    /// Publishes an event. Never blocks; with nobody watching it is dropped.
    pub fn publish(&self, demo: Demo, conn: u64, peer: SocketAddr, kind: EventKind) {
        if self.inner.tx.receiver_count() == 0 {
            return;
        }
        let event = ServerEvent {
            demo,
            conn,
            peer: peer.to_string(),
            at_us: self.now_us(),
            kind,
        };
        // An error only means every subscriber left in the meantime.
        let _ = self.inner.tx.send(Arc::new(event));
    }

    /// Starts watching. See [`Subscription::recv`].
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            rx: self.inner.tx.subscribe(),
        }
    }

    /// A handle that publishes for one connection of one demo.
    pub fn conn(&self, demo: Demo, peer: SocketAddr) -> ConnEvents {
        ConnEvents {
            bus: self.clone(),
            demo,
            conn: self.next_conn(),
            peer,
        }
    }
}

/// Publishes the events of one connection.
#[derive(Clone, Debug)]
pub struct ConnEvents {
    bus: EventBus,
    demo: Demo,
    conn: u64,
    peer: SocketAddr,
}

impl ConnEvents {
    /// Publishes one event of this connection.
    pub fn emit(&self, kind: EventKind) {
        self.bus.publish(self.demo, self.conn, self.peer, kind);
    }

    /// Publishes one event built only if somebody is watching: a read or reply
    /// event copies its bytes, which is wasted work when no lab is open.
    pub fn emit_with(&self, kind: impl FnOnce() -> EventKind) {
        if self.bus.is_watched() {
            self.emit(kind());
        }
    }

    /// Whether anybody is watching the events right now.
    pub fn is_watched(&self) -> bool {
        self.bus.is_watched()
    }

    /// The connection's number.
    pub fn id(&self) -> u64 {
        self.conn
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

/// One subscriber's view of the bus.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<Arc<ServerEvent>>,
}

impl Subscription {
    /// The next event; `None` once the server is gone. If this subscriber fell
    /// behind, a [`EventKind::Lagged`] event says how many it missed.
    pub async fn recv(&mut self) -> Option<Arc<ServerEvent>> {
        match self.rx.recv().await {
            Ok(ev) => Some(ev),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Arc::new(ServerEvent {
                demo: Demo::TcpEcho,
                conn: 0,
                peer: String::new(),
                at_us: 0,
                kind: EventKind::Lagged { missed },
            })),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}
