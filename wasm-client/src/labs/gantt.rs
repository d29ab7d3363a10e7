//! The concurrency lab's picture: one bar per client on one time axis shared
//! by all clients, so an iterative server's queue and a concurrent server's
//! overlap can be seen at a glance.
//!
//! Each client's bar has up to three phases: **waiting** (connected, the
//! kernel finished the handshake, but the server has not called `accept` for
//! it yet), **served** (accepted, not yet answered) and **answered** (the
//! reply sent, the connection not yet closed). Every position is a percentage
//! of the common span, from the earliest timestamp of any client to the latest,
//! so bars of different clients compare directly; that is the whole point
//! (a bar scaled by its own length says nothing).
//!
//! All timestamps passed in must come from one clock (e.g. the server's
//! `at_us`, or the simulation's virtual time). This file does no IO: the lab
//! turns the layout into elements.

/// What is known of one client's visit, in microseconds on one shared clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientTimes {
    /// When its `connect()` returned (the handshake finished).
    pub connected_us: Option<u64>,
    /// When the server's `accept()` returned it.
    pub accepted_us: Option<u64>,
    /// When the server sent its reply.
    pub answered_us: Option<u64>,
    /// When the connection closed.
    pub closed_us: Option<u64>,
}

impl ClientTimes {
    /// The server's side of one connection, from its events (one `demo` and
    /// `conn`, in order): accepted, first reply, closed, on the server's
    /// clock. The connect time is not in the server's account (the kernel
    /// completes the handshake before `accept`), so it is left unset; a
    /// caller that knows it must convert it to the server's clock first.
    pub fn from_events(events: &[protocol::events::ServerEvent]) -> Self {
        use protocol::events::EventKind;
        let first = |f: fn(&EventKind) -> bool| events.iter().find(|e| f(&e.kind)).map(|e| e.at_us);
        Self {
            connected_us: None,
            accepted_us: first(|k| matches!(k, EventKind::Accepted { .. })),
            answered_us: first(|k| matches!(k, EventKind::Reply { .. })),
            closed_us: first(|k| matches!(k, EventKind::Closed { .. })),
        }
    }
}

/// The phases of a client's bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connected, waiting in the listen backlog for `accept`.
    Waiting,
    /// Accepted, the server working on it.
    Served,
    /// Answered, the connection still open.
    Answered,
}

impl Phase {
    /// A lowercase name for CSS classes and data attributes.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Served => "served",
            Phase::Answered => "answered",
        }
    }
}

/// One phase of one client, placed on the shared axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Which phase.
    pub phase: Phase,
    /// Start, in µs on the caller's clock.
    pub start_us: u64,
    /// End, in µs on the caller's clock.
    pub end_us: u64,
    /// Left edge as a percentage of the common span (0 to 100).
    pub left_pct: f64,
    /// Width as a percentage of the common span (0 to 100).
    pub width_pct: f64,
    /// Whether the phase had not ended by the last timestamp known: the bar
    /// runs to the end of the axis and should be drawn as still going.
    pub open: bool,
}

/// One client's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The client's position in the input, from 0.
    pub client: usize,
    /// Its phases, in time order (missing phases are left out).
    pub bars: Vec<Bar>,
    /// Connected → accepted, in ms, when both are known.
    pub wait_ms: Option<f64>,
    /// Connected (or accepted, when the connect time is unknown) → answered, in ms.
    pub answer_ms: Option<f64>,
}

/// A labelled tick on the shared axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Milliseconds since the start of the axis.
    pub at_ms: f64,
    /// Position as a percentage of the span.
    pub left_pct: f64,
    /// `0 ms`, `200 ms`, `1.5 s`…
    pub label: String,
}

/// The whole picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The axis starts here (µs on the caller's clock).
    pub start_us: u64,
    /// The axis ends here (at least 1 ms after the start).
    pub end_us: u64,
    /// One row per client, in input order.
    pub rows: Vec<Row>,
    /// Ticks from 0 to the end of the span.
    pub ticks: Vec<Tick>,
}

/// The shortest axis drawn, so a run of identical timestamps still has a scale.
const MIN_SPAN_US: u64 = 1000;

/// Lays out every client on one shared axis.
///
/// `now_us`, when given, extends the axis (a run still in progress): phases
/// not yet ended run to it. Timestamps out of order within a client (an
/// answer before its accept, from clock jitter) are clamped forward, so bars
/// never have negative width.
pub fn layout(clients: &[ClientTimes], now_us: Option<u64>) -> Layout {
    let all = clients
        .iter()
        .flat_map(|c| [c.connected_us, c.accepted_us, c.answered_us, c.closed_us])
        .chain([now_us])
        .flatten();
    let (min, max) = all.fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let start_us = if min == u64::MAX { 0 } else { min };
    let end_us = max.max(start_us.saturating_add(MIN_SPAN_US));
    let span = (end_us - start_us) as f64;
    let pct = |t: u64| (t.saturating_sub(start_us)) as f64 * 100.0 / span;

    let rows = clients
        .iter()
        .enumerate()
        .map(|(client, c)| {
            // The phase boundaries, each clamped to be no earlier than the one before.
            let mut marks: Vec<(Option<Phase>, Option<u64>)> = vec![
                (Some(Phase::Waiting), c.connected_us),
                (Some(Phase::Served), c.accepted_us),
                (Some(Phase::Answered), c.answered_us),
                (None, c.closed_us),
            ];
            let mut last = None::<u64>;
            for (_, t) in &mut marks {
                if let Some(v) = t {
                    let clamped = last.map_or(*v, |l| (*v).max(l));
                    *v = clamped;
                    last = Some(clamped);
                }
            }
            let mut bars = Vec::new();
            for (i, (phase, start)) in marks.iter().enumerate() {
                let (Some(phase), Some(start)) = (phase, start) else {
                    continue;
                };
                // A phase ends at the next known mark; with none, it is open.
                let next = marks[i + 1..].iter().find_map(|(_, t)| *t);
                let (end, open) = match next {
                    Some(end) => (end, false),
                    None => (end_us, true),
                };
                bars.push(Bar {
                    phase: *phase,
                    start_us: *start,
                    end_us: end,
                    left_pct: pct(*start),
                    width_pct: pct(end) - pct(*start),
                    open,
                });
            }
            let ms = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1000.0;
            let wait_ms = match (marks[0].1, marks[1].1) {
                (Some(c), Some(a)) => Some(ms(c, a)),
                _ => None,
            };
            let answer_ms = match (marks[0].1.or(marks[1].1), marks[2].1) {
                (Some(s), Some(a)) => Some(ms(s, a)),
                _ => None,
            };
            Row {
                client,
                bars,
                wait_ms,
                answer_ms,
            }
        })
        .collect();
    Layout {
        start_us,
        end_us,
        rows,
        ticks: ticks(end_us - start_us),
    }
}

/// Ticks at a round step (1, 2 or 5 × 10ⁿ ms) giving at most 8 intervals.
fn ticks(span_us: u64) -> Vec<Tick> {
    let span_ms = span_us as f64 / 1000.0;
    let mut step = 0.001f64; // 1 µs, the finest step
    'search: loop {
        for m in [1.0, 2.0, 5.0] {
            let s = step * m;
            if span_ms / s <= 8.0 {
                step = s;
                break 'search;
            }
        }
        step *= 10.0;
    }
    let count = (span_ms / step + 1e-9).floor() as usize;
    (0..=count)
        .map(|i| {
            let at_ms = step * i as f64;
            Tick {
                at_ms,
                left_pct: at_ms * 100.0 / span_ms,
                label: tick_label(at_ms),
            }
        })
        .collect()
}

fn tick_label(at_ms: f64) -> String {
    let trim = |v: f64| {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    if at_ms >= 1000.0 {
        format!("{} s", trim(at_ms / 1000.0))
    } else {
        format!("{} ms", trim(at_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::sim::simulate_clients;

    fn at(c: u64, a: u64, r: u64, x: u64) -> ClientTimes {
        ClientTimes {
            connected_us: Some(c),
            accepted_us: Some(a),
            answered_us: Some(r),
            closed_us: Some(x),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn iterative_clients_queue_on_one_axis() {
        // The live figures from the walkthrough: waits of 14, 218, 421 ms.
        let clients = [
            at(0, 0, 14_000, 14_000),
            at(0, 14_000, 218_000, 218_000),
            at(0, 218_000, 421_000, 421_000),
        ];
        let l = layout(&clients, None);
        assert_eq!((l.start_us, l.end_us), (0, 421_000));
        // The last client waits most of the span: its bars are not all 83 %.
        let last = &l.rows[2];
        assert_eq!(last.bars[0].phase, Phase::Waiting);
        assert!(close(last.bars[0].left_pct, 0.0));
        assert!(close(last.bars[0].width_pct, 218_000.0 * 100.0 / 421_000.0));
        assert!(close(last.bars[1].left_pct + last.bars[1].width_pct, 100.0));
        assert_eq!(last.wait_ms, Some(218.0));
        assert_eq!(last.answer_ms, Some(421.0));
        // The first client is never kept waiting: a zero-width waiting bar.
        assert!(close(l.rows[0].bars[0].width_pct, 0.0));
        let widths: Vec<f64> = l.rows.iter().map(|r| r.bars[1].width_pct).collect();
        assert!(widths.iter().all(|w| *w < 50.0));
    }

    /// Five simulated clients of 10 ms each, against an iterative or a
    /// concurrent server.
    fn simulated(iterative: bool) -> Vec<ClientTimes> {
        simulate_clients(5, 0, 10_000, iterative)
            .iter()
            .map(|r| {
                at(
                    r.connect_at_us,
                    r.accepted_at_us,
                    r.replied_at_us,
                    r.replied_at_us,
                )
            })
            .collect()
    }

    #[test]
    fn concurrent_clients_overlap() {
        let l = layout(&simulated(false), None);
        for row in &l.rows {
            assert_eq!(row.wait_ms, Some(0.0));
            let served = row.bars.iter().find(|b| b.phase == Phase::Served).unwrap();
            assert!(close(served.left_pct, 0.0) && close(served.width_pct, 100.0));
        }
        // The iterative run of the same clients takes five times as long.
        let l = layout(&simulated(true), None);
        assert_eq!(l.end_us, 50_000);
        assert!(close(l.rows[4].bars[0].width_pct, 80.0));
    }

    #[test]
    fn missing_times_leave_open_or_absent_bars() {
        let clients = [
            ClientTimes {
                connected_us: Some(1_000),
                ..ClientTimes::default()
            },
            ClientTimes {
                accepted_us: Some(2_000),
                answered_us: Some(3_000),
                ..ClientTimes::default()
            },
        ];
        let l = layout(&clients, Some(5_000));
        assert_eq!((l.start_us, l.end_us), (1_000, 5_000));
        let waiting = l.rows[0].bars[0];
        assert!(waiting.open && close(waiting.left_pct + waiting.width_pct, 100.0));
        let phases: Vec<Phase> = l.rows[1].bars.iter().map(|b| b.phase).collect();
        assert_eq!(phases, [Phase::Served, Phase::Answered]);
        assert!(l.rows[1].bars[1].open);
        assert_eq!(l.rows[1].wait_ms, None);
        assert_eq!(l.rows[1].answer_ms, Some(1.0));
    }

    #[test]
    fn server_events_give_the_servers_side() {
        use protocol::Demo;
        use protocol::events::{Closer, EventKind, ServerEvent};
        use protocol::hex::HexBytes;
        let ev = |at_us, kind| ServerEvent {
            demo: Demo::Uppercase,
            conn: 1,
            peer: "127.0.0.1:5000".into(),
            at_us,
            kind,
        };
        let events = [
            ev(
                10,
                EventKind::Accepted {
                    local: "127.0.0.1:9999".into(),
                },
            ),
            ev(
                20,
                EventKind::Read {
                    size: 2,
                    data: HexBytes(b"hi".to_vec()),
                },
            ),
            ev(
                30,
                EventKind::Reply {
                    size: 2,
                    data: HexBytes(b"HI".to_vec()),
                },
            ),
            ev(
                40,
                EventKind::Closed {
                    by: Closer::Server,
                    reason: "done".into(),
                },
            ),
        ];
        assert_eq!(
            ClientTimes::from_events(&events),
            ClientTimes {
                connected_us: None,
                accepted_us: Some(10),
                answered_us: Some(30),
                closed_us: Some(40),
            }
        );
    }

    #[test]
    fn degenerate_inputs_still_have_a_scale() {
        let l = layout(&[], None);
        assert_eq!((l.start_us, l.end_us), (0, MIN_SPAN_US));
        assert!(l.rows.is_empty());
        let l = layout(&[at(7, 7, 7, 7)], None);
        assert_eq!(l.end_us - l.start_us, MIN_SPAN_US);
        assert!(l.rows[0].bars.iter().all(|b| b.width_pct == 0.0));
        // An answer stamped before its accept is clamped, never negative.
        let l = layout(&[at(0, 5_000, 4_000, 6_000)], None);
        assert!(l.rows[0].bars.iter().all(|b| b.width_pct >= 0.0));
    }

    #[test]
    fn ticks_are_round_and_cover_the_span() {
        let labels =
            |span_us| -> Vec<String> { ticks(span_us).into_iter().map(|t| t.label).collect() };
        assert_eq!(
            labels(421_000),
            ["0 ms", "100 ms", "200 ms", "300 ms", "400 ms"]
        );
        assert_eq!(
            labels(1_000),
            ["0 ms", "0.2 ms", "0.4 ms", "0.6 ms", "0.8 ms", "1 ms"]
        );
        assert_eq!(
            labels(3_000_000),
            ["0 ms", "500 ms", "1 s", "1.5 s", "2 s", "2.5 s", "3 s"]
        );
        let t = ticks(421_000);
        assert!(t.iter().all(|t| t.left_pct <= 100.0));
        assert!(close(t[1].left_pct, 100_000.0 * 100.0 / 421_000.0));
        assert!(ticks(u64::MAX / 2).len() <= 9);
    }
}
