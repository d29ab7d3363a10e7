//! The `chat` demo's room: who is in it, and how a line reaches each member.
//!
//! What is said (welcome, joined, left, `peer: line`) and how a client's
//! bytes become lines is `protocol::chat` and the conversation's `Chat` role;
//! the simulation uses the same. This file owns what only a real server has:
//! members on many tasks at once, each with its own queue of bytes to write,
//! and a client that stops reading. A member's queue is unbounded as a
//! channel but counted in bytes; a member with more than
//! [`protocol::chat::MAX_PENDING`] bytes waiting is dropped, so one stuck
//! client cannot make the server hold the whole room's talk for it (nor slow
//! the others: nobody waits for anybody's socket).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use protocol::chat::MAX_PENDING;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The room every `chat` connection of one server joins.
#[derive(Debug, Clone, Default)]
pub struct ChatRoom {
    inner: Arc<Mutex<Members>>,
}

#[derive(Debug, Default)]
struct Members {
    next: u64,
    by_id: BTreeMap<u64, Member>,
}

#[derive(Debug)]
struct Member {
    tx: mpsc::UnboundedSender<Arc<[u8]>>,
    pending: Arc<AtomicUsize>,
    dropped: CancellationToken,
}

/// One connection's place in the room; it leaves when this is dropped.
#[derive(Debug)]
pub struct Seat {
    room: ChatRoom,
    id: u64,
    /// What the others sent this member, to be written to its socket.
    pub inbox: mpsc::UnboundedReceiver<Arc<[u8]>>,
    /// Bytes in the inbox not yet written.
    pub pending: Arc<AtomicUsize>,
    /// Cancelled when the room drops this member for not reading.
    pub dropped: CancellationToken,
}

impl ChatRoom {
    /// Joins the room; returns the seat and how many others were there.
    pub fn join(&self) -> (Seat, usize) {
        let (tx, inbox) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let dropped = CancellationToken::new();
        let mut m = self.lock();
        let id = m.next;
        m.next += 1;
        let others = m.by_id.len();
        m.by_id.insert(
            id,
            Member {
                tx,
                pending: pending.clone(),
                dropped: dropped.clone(),
            },
        );
        let seat = Seat {
            room: self.clone(),
            id,
            inbox,
            pending,
            dropped,
        };
        (seat, others)
    }

    /// How many members the room has.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Members> {
        // A panic while holding the lock leaves the map consistent (every
        // change is one insert or remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `bytes` for every member but `from`; returns how many got them.
    /// A member whose queue would pass the limit is dropped instead.
    fn relay(&self, from: u64, bytes: &[u8]) -> usize {
        let shared: Arc<[u8]> = Arc::from(bytes);
        let m = self.lock();
        let mut to = 0;
        for (id, member) in &m.by_id {
            if *id == from || member.dropped.is_cancelled() {
                continue;
            }
            let before = member.pending.fetch_add(bytes.len(), Ordering::AcqRel);
            if before + bytes.len() > MAX_PENDING {
                member.dropped.cancel();
                continue;
            }
            if member.tx.send(shared.clone()).is_ok() {
                to += 1;
            }
        }
        to
    }
}

impl Seat {
    /// Sends `bytes` to every other member; returns how many got them.
    pub fn relay(&self, bytes: &[u8]) -> usize {
        self.room.relay(self.id, bytes)
    }

    /// Leaves the room; the others are sent `farewell`. Returns how many.
    pub fn leave(self, farewell: &[u8]) -> usize {
        // Drop (below) removes the seat; say goodbye after that, so the
        // leaver is not counted.
        let room = self.room.clone();
        let id = self.id;
        drop(self);
        room.relay(id, farewell)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.room.lock().by_id.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reaches_every_member_but_the_sender() {
        let room = ChatRoom::default();
        let (a, none) = room.join();
        let (mut b, one) = room.join();
        let (mut c, two) = room.join();
        assert_eq!((none, one, two), (0, 1, 2));
        assert_eq!(a.relay(b"hi\n"), 2);
        assert_eq!(&*b.inbox.try_recv().unwrap(), b"hi\n");
        assert_eq!(&*c.inbox.try_recv().unwrap(), b"hi\n");
        assert_eq!(a.leave(b"bye\n"), 2);
        assert_eq!(room.len(), 2);
    }

    #[test]
    fn a_member_that_does_not_read_is_dropped_past_the_limit() {
        let room = ChatRoom::default();
        let (a, _) = room.join();
        let (b, _) = room.join();
        let line = vec![b'x'; 1000];
        let mut reached = 0;
        for _ in 0..100 {
            reached += a.relay(&line);
        }
        assert!(b.dropped.is_cancelled());
        assert_eq!(reached, MAX_PENDING / line.len());
    }
}
