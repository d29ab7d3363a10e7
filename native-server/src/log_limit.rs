//! Rate-limited logging: one line per interval for a repeated event.
//!
//! Some events repeat as fast as a client can cause them: an `accept` that
//! fails because the process is out of descriptors (every listener retries
//! every 50 ms), or a refused WebSocket upgrade (one hostile page can send
//! thousands a second). Logging each one fills the disk and buries the lines
//! an operator needs. A [`LogLimit`] lets the first occurrence through, stays
//! quiet for the rest of the interval while counting, and lets the next one
//! through with the count, so the log says "and 4,211 more like this".
//!
//! One `LogLimit` per kind of event (per listener, per refusal reason), so a
//! flood of one kind never hides another.
//!
//! ```
//! use native_server::log_limit::LogLimit;
//! static ACCEPT_FAILED: LogLimit = LogLimit::per_second();
//! # let e = std::io::Error::other("EMFILE");
//! if let Some(suppressed) = ACCEPT_FAILED.allow() {
//!     tracing::warn!(error = %e, suppressed, "accept failed");
//! }
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets one occurrence of an event through per interval and counts the rest.
#[derive(Debug)]
pub struct LogLimit {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When the last line was let through (`None`: never).
    last: Option<Instant>,
    /// Occurrences swallowed since then.
    suppressed: u64,
}

impl LogLimit {
    /// At most one line per `interval`.
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(State {
                last: None,
                suppressed: 0,
            }),
        }
    }

    /// At most one line per second: what every caller in this crate uses.
    pub const fn per_second() -> Self {
        Self::new(Duration::from_secs(1))
    }

    /// Records an occurrence now. `Some(n)`: log it, mentioning the `n`
    /// occurrences suppressed since the previous line; `None`: stay quiet.
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    /// [`allow`](Self::allow) at a given instant (the clock is passed in so
    /// tests need not sleep).
    pub fn allow_at(&self, now: Instant) -> Option<u64> {
        // A poisoned lock only means another thread panicked while counting:
        // the counts are still usable.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let due = match state.last {
            None => true,
            Some(last) => now.saturating_duration_since(last) >= self.interval,
        };
        if due {
            state.last = Some(now);
            Some(std::mem::take(&mut state.suppressed))
        } else {
            state.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_occurrence_is_logged_then_one_per_interval_with_a_count() {
        let limit = LogLimit::per_second();
        let t0 = Instant::now();
        assert_eq!(limit.allow_at(t0), Some(0));
        for ms in 1..=999 {
            assert_eq!(limit.allow_at(t0 + Duration::from_millis(ms)), None);
        }
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(1)), Some(999));
        assert_eq!(limit.allow_at(t0 + Duration::from_millis(1500)), None);
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(5)), Some(1));
        // A quiet spell starts afresh: nothing was suppressed in between.
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(60)), Some(0));
    }

    #[test]
    fn a_flood_of_a_million_costs_about_one_line_per_interval() {
        let limit = LogLimit::new(Duration::from_millis(100));
        let t0 = Instant::now();
        // A million events spread over 10 s: 100 lines, every event counted once.
        let mut lines = 0;
        let mut counted = 0;
        for i in 0..1_000_000u64 {
            if let Some(suppressed) = limit.allow_at(t0 + Duration::from_micros(i * 10)) {
                lines += 1;
                counted += suppressed + 1;
            }
        }
        assert_eq!(lines, 100);
        let pending = limit.state.lock().unwrap().suppressed;
        assert_eq!(counted + pending, 1_000_000);
    }

    #[test]
    fn a_clock_that_goes_backwards_does_not_unlock_early() {
        let limit = LogLimit::per_second();
        let t0 = Instant::now() + Duration::from_secs(10);
        assert_eq!(limit.allow_at(t0), Some(0));
        assert_eq!(limit.allow_at(t0 - Duration::from_secs(5)), None);
    }
}
