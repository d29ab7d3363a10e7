//! The goals table: what each measurement is judged against, and how.
//!
//! Every goal is a rule over this run's typed results: a ratio against the
//! peer measured beside it, a budget, or a count that must be complete. A
//! figure that was not measured shows as such (and fails where the goal needs
//! it), never as 0. The codec goals allow for noise: a case slower by less
//! than the same code moved between passes is counted as equal (`≈`).

use measurement::Demo;

use super::super::codec::{CodecFigure, Op};
use super::super::kernel;
use super::super::lessons::LessonTime;
use super::super::results::{Agg, agg};
use super::{Report, mb, us};

/// One codec case, both sides: `protocol`'s figures and tokio-util's for the
/// same operation, frame size and chunking.
#[derive(Debug, Clone)]
pub(super) struct CodecCase {
    ours: CodecFigure,
    theirs: CodecFigure,
}

impl CodecCase {
    /// Frame payload size, e.g. `1KiB`.
    pub(super) fn frame(&self) -> &str {
        &self.ours.frame
    }

    /// Chunk size fed (`-` for encode).
    pub(super) fn chunk(&self) -> &str {
        &self.ours.chunk
    }

    /// Fastest-sample MiB/s over the passes, ours over theirs.
    fn ratio(&self) -> f64 {
        self.ours.mib_s / self.theirs.mib_s
    }

    /// Ratio of criterion's medians (best pass of each).
    fn medians(&self) -> f64 {
        self.ours.median_mib_s / self.theirs.median_mib_s
    }

    /// The larger of the two sides' pass-to-pass spread (see `CodecFigure::spread`).
    fn noise(&self) -> f64 {
        self.ours.spread().max(self.theirs.spread())
    }

    /// The table cells both codec tables share, from the throughputs on.
    pub(super) fn cells(&self) -> String {
        format!(
            "{:.0} | {:.0} | {:.2}× | {} | {:.1} % | {:.2}× |",
            self.ours.mib_s,
            self.theirs.mib_s,
            self.ratio(),
            self.verdict().mark(),
            self.noise() * 100.0,
            self.medians()
        )
    }

    /// Met: at least as fast, or slower by less than the same code moved
    /// between passes, which no run can tell from equal (`≈`). Cases where
    /// both sides are one `memcpy` land there half the time.
    fn verdict(&self) -> Verdict {
        let r = self.ratio();
        if r >= 1.0 {
            Verdict::Faster
        } else if 1.0 - r <= self.noise() {
            Verdict::WithinNoise
        } else {
            Verdict::Slower
        }
    }
}

/// How one codec case compares with its goal of ≥ 1.0×.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Faster,
    WithinNoise,
    Slower,
}

impl Verdict {
    fn mark(self) -> &'static str {
        match self {
            Verdict::Faster => "✓",
            Verdict::WithinNoise => "≈",
            Verdict::Slower => "✗",
        }
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// How many times `a`'s rate is `b`'s, if both were measured.
fn rate_ratio(a: &Option<Agg>, b: &Option<Agg>) -> Option<f64> {
    a.as_ref()
        .zip(b.as_ref())
        .and_then(|(a, b)| ratio(a.rate, b.rate))
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".into(), |r| format!("{r:.2}×"))
}

fn rate(a: &Option<Agg>) -> String {
    a.as_ref()
        .map_or_else(|| "not measured".into(), |a| format!("{:.0}/s", a.rate))
}

/// One row of the goals table.
pub(super) struct Goal {
    /// The rule, in words.
    pub(super) what: String,
    /// What this run measured against it.
    pub(super) measured: String,
    /// Met, missed, or not a goal (shown for scale).
    pub(super) ok: Option<bool>,
}

/// How a goal's placement reads after its name.
fn placement_words(suffix: &str) -> &'static str {
    if suffix.is_empty() {
        ""
    } else {
        " (isolated: bridge and load on separate CPUs)"
    }
}

impl Report {
    /// Every measured case of `op`, smallest frames and chunks first.
    pub(super) fn codec_cases(&self, op: &str) -> Vec<CodecCase> {
        let get = |frame: &str, chunk: &str, who: &str| {
            self.codec
                .iter()
                .find(|f| f.op == op && f.frame == frame && f.chunk == chunk && f.who == who)
        };
        let mut cases: Vec<(String, String)> = self
            .codec
            .iter()
            .filter(|f| f.op == op)
            .map(|f| (f.frame.clone(), f.chunk.clone()))
            .collect();
        let size = |f: &str| match f {
            "16B" => 0,
            "1KiB" => 1,
            _ => 2,
        };
        cases.sort_by_key(|(f, c)| (size(f), c.parse::<u64>().unwrap_or(0)));
        cases.dedup();
        cases
            .into_iter()
            .filter_map(|(frame, chunk)| {
                Some(CodecCase {
                    ours: get(&frame, &chunk, "protocol")?.clone(),
                    theirs: get(&frame, &chunk, "tokio-util")?.clone(),
                })
            })
            .collect()
    }

    fn alloc_ok(&self) -> Option<(bool, String)> {
        if self.allocs.is_empty() {
            return None;
        }
        let mut worst_extra = 0i64;
        let mut encode_allocs = 0u64;
        for a in &self.allocs {
            match a.alloc {
                Op::Decode => {
                    worst_extra = worst_extra.max(a.protocol_allocs as i64 - a.frames as i64)
                }
                Op::Encode => encode_allocs += a.protocol_allocs,
            }
        }
        // The test allows one allocation per frame plus 40 for the decoder itself.
        Some((
            worst_extra <= 40 && encode_allocs == 0,
            format!(
                "decode: one per frame (the payload) + at most {worst_extra} per 1 MiB stream; encode: {encode_allocs}"
            ),
        ))
    }

    /// The target suffix the relay goals are judged on: the isolated runs if
    /// there are any, else the shared ones.
    fn relay_suffix(&self) -> &'static str {
        let isolated = self
            .results
            .iter()
            .any(|r| r.is("relay", "socket-lab-isolated"));
        if isolated { "-isolated" } else { "" }
    }

    /// The kernel watcher's budget: its cost over no watcher at the goal's
    /// rate, judged only on a working watcher with every connection held.
    fn kernel_goal(&self) -> Goal {
        let k = &self.kernel;
        let what = format!(
            "kernel watcher: {} connections open, sampling at {} Hz costs ≤ {} % of one core",
            kernel::CONNS,
            kernel::GOAL_HZ,
            kernel::GOAL_PCT
        );
        let (Some(at), Some(base), Some(cost)) =
            (k.at(kernel::GOAL_HZ), k.at(0), k.cost(kernel::GOAL_HZ))
        else {
            return Goal {
                what,
                measured: "not measured".into(),
                ok: Some(false),
            };
        };
        let top = kernel::RATES[kernel::RATES.len() - 1];
        let mut measured = format!(
            "{:.2} % of one core at {} Hz vs {:.2} % with no watcher: {cost:+.2} %",
            at.pct(),
            kernel::GOAL_HZ,
            base.pct()
        );
        if let Some(ms) = k.per_sample_ms(kernel::GOAL_HZ) {
            measured += &format!(", {ms:.1} ms of CPU per sample");
        }
        if let Some(c) = k.cost(top) {
            measured += &format!(" ({top} Hz: {c:+.2} %)");
        }
        let watched = k.watched(kernel::GOAL_HZ);
        if watched {
            measured += &format!("; snapshots of {} sockets", at.snapshot_min);
        } else {
            measured += &format!(
                "; the watcher did not work: smallest snapshot {} sockets for {} connections, {} errors",
                at.snapshot_min,
                k.opened(),
                at.errors
            );
        }
        if !k.held_all() {
            measured += &format!(
                "; not every connection was held throughout and answered ({} opened)",
                k.opened()
            );
        }
        Goal {
            what,
            measured,
            ok: Some(watched && k.held_all() && cost <= kernel::GOAL_PCT),
        }
    }

    /// Every goal, in the order the table shows them.
    pub(super) fn goals(&self) -> Vec<Goal> {
        let mut goals = Vec::new();
        for (op, what) in [
            (
                "decode",
                "codec: decode ≥ 1.0× tokio-util in every case (3 frame sizes × 3 chunkings)",
            ),
            (
                "encode",
                "codec: encode ≥ 1.0× tokio-util for every frame size",
            ),
        ] {
            let cases = self.codec_cases(op);
            // The case shown: a slower one if there is any (a case within its
            // noise can have a lower ratio than one outside it), else the lowest ratio.
            let worst = cases.iter().min_by(|a, b| {
                let met = |c: &CodecCase| c.verdict() != Verdict::Slower;
                (met(a), a.ratio())
                    .partial_cmp(&(met(b), b.ratio()))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            goals.push(match worst {
                Some(w) => Goal {
                    what: what.into(),
                    measured: format!(
                        "worst {:.2}× ({} frames{}){}",
                        w.ratio(),
                        w.frame(),
                        if op == "decode" {
                            format!(", {}-byte chunks", w.chunk())
                        } else {
                            String::new()
                        },
                        if w.verdict() == Verdict::WithinNoise {
                            format!(
                                ": ≈, {:.1} % under, less than the {:.1} % the same code moved between passes",
                                (1.0 - w.ratio()) * 100.0,
                                w.noise() * 100.0
                            )
                        } else {
                            String::new()
                        }
                    ),
                    ok: Some(w.verdict() != Verdict::Slower),
                },
                None => Goal {
                    what: what.into(),
                    measured: "not measured".into(),
                    ok: None,
                },
            });
        }
        if let Some((ok, text)) = self.alloc_ok() {
            goals.push(Goal {
                what: "codec: no allocation per frame beyond the payload".into(),
                measured: text,
                ok: Some(ok),
            });
        }

        let r = &self.results;
        let ours = agg(r, "conn_rate", "socket-lab", 32);
        let floor = agg(r, "conn_rate", "tokio-floor", 32);
        let python = agg(r, "conn_rate", "python", 32);
        let vs_floor = rate_ratio(&ours, &floor);
        goals.push(Goal {
            what: "`uppercase` conn/s (32 clients) ≥ 0.9× the minimal tokio loop".into(),
            measured: format!(
                "{} vs {}: {}",
                rate(&ours),
                rate(&floor),
                fmt_ratio(vs_floor)
            ),
            ok: vs_floor.map(|x| x >= 0.9),
        });
        let vs_py = rate_ratio(&ours, &python);
        let floor_py = rate_ratio(&floor, &python);
        goals.push(Goal {
            what: "`uppercase` conn/s vs the notes' Python ThreadingTCPServer (no goal: shown for scale, beside the floor)".into(),
            measured: format!(
                "{} vs {}: {} (floor vs Python: {})",
                rate(&ours),
                rate(&python),
                fmt_ratio(vs_py),
                fmt_ratio(floor_py)
            ),
            ok: None,
        });
        for conns in [1, 32] {
            let a = agg(r, "framed_rtt", "socket-lab", conns);
            let b = agg(r, "framed_rtt", "python", conns);
            let x = rate_ratio(&a, &b);
            goals.push(Goal {
                what: format!(
                    "`framed` round trips/s, {conns} connection{}, vs the Python struct/json server (no number set; faster is the bar)",
                    if conns == 1 { "" } else { "s" }
                ),
                measured: format!("{} vs {}: {}", rate(&a), rate(&b), fmt_ratio(x)),
                ok: x.map(|x| x > 1.0),
            });
        }
        for (kind, name) in [(Demo::Uppercase, "uppercase"), (Demo::Framed, "framed")] {
            let what = format!(
                "{} idle `{name}` connections: server RSS ≤ 100 MB and every one answered",
                self.plan.hold
            );
            goals.push(match self.hold(kind) {
                Some(h) => Goal {
                    what,
                    measured: format!(
                        "{:.1} MB RSS holding {} ({:.1} KB each); {} of {} answered",
                        mb(h.held.rss_kb),
                        h.opened,
                        h.bytes_per_conn / 1000.0,
                        h.answered,
                        self.plan.hold
                    ),
                    ok: Some(mb(h.held.rss_kb) <= 100.0 && h.answered == self.plan.hold as u64),
                },
                None => Goal {
                    what,
                    measured: "not measured".into(),
                    ok: Some(false),
                },
            });
        }
        let what = format!(
            "{} bridge sessions relaying at once: no errors, memory stated",
            self.plan.sessions
        );
        goals.push(match self.big_relay() {
            Some((m, relay)) => Goal {
                what,
                measured: format!(
                    "{} opened, {} round trips, {} errors; server RSS {:.1} MB idle → {:.1} MB with all open → {:.1} MB peak",
                    relay.opened,
                    m.ops,
                    m.errors,
                    mb(relay.before.rss_kb),
                    mb(relay.open.rss_kb),
                    mb(relay.peak.rss_kb)
                ),
                ok: Some(
                    m.errors == 0 && relay.opened == self.plan.sessions as u64 && m.ops > 0,
                ),
            },
            None => Goal {
                what,
                measured: "not measured".into(),
                ok: Some(false),
            },
        });
        // Judged where the bridge has CPUs of its own (the fair comparison on a
        // small machine, see the relay section); both placements are shown.
        let judged = self.relay_suffix();
        let relay_pair = |suffix: &str, sessions: u64| {
            (
                agg(r, "relay", &format!("socket-lab{suffix}"), sessions),
                agg(r, "relay", &format!("websockify{suffix}"), sessions),
            )
        };
        let shared_note = |judged: &str, text: String| {
            if judged.is_empty() {
                String::new()
            } else {
                format!("; sharing every CPU with the load generator: {text}")
            }
        };
        let x = |(a, b): (Option<Agg>, Option<Agg>)| rate_ratio(&a, &b);
        let (ours32, theirs32) = relay_pair(judged, 32);
        let judged_x = x((ours32.clone(), theirs32.clone()));
        goals.push(Goal {
            what: format!(
                "bridge relay at 32 sessions ≥ 4× websockify's messages/s{}",
                placement_words(judged)
            ),
            measured: format!(
                "{} vs {}: {}{}",
                rate(&ours32),
                rate(&theirs32),
                fmt_ratio(judged_x),
                shared_note(judged, fmt_ratio(x(relay_pair("", 32))))
            ),
            ok: judged_x.map(|x| x >= 4.0),
        });
        for sessions in [1, 32] {
            let latency = |pair: (Option<Agg>, Option<Agg>)| match pair {
                (Some(a), Some(b)) => a.p99.zip(b.p50),
                _ => None,
            };
            let judged_lat = latency(relay_pair(judged, sessions));
            let floor = agg(r, "relay", &format!("relay-floor{judged}"), sessions).map_or_else(
                String::new,
                |f| {
                    format!(
                        " (copy-only floor in the same place: p50 {}, p99 {})",
                        us(f.p50),
                        us(f.p99)
                    )
                },
            );
            let measured = match judged_lat {
                Some((p99, p50)) => format!(
                    "our p99 {p99:.0} µs vs websockify's p50 {p50:.0} µs{floor}{}",
                    shared_note(
                        judged,
                        latency(relay_pair("", sessions)).map_or_else(
                            || "not measured".into(),
                            |(a, b)| format!("{a:.0} vs {b:.0} µs")
                        )
                    )
                ),
                None => "not measured".into(),
            };
            goals.push(Goal {
                what: format!(
                    "bridge round trip, {sessions} session{}: our p99 ≤ websockify's median{}",
                    if sessions == 1 { "" } else { "s" },
                    placement_words(judged)
                ),
                measured,
                ok: judged_lat.map(|(p99, p50)| p99 <= p50),
            });
        }
        goals.push(self.kernel_goal());
        if !self.lessons.is_empty() {
            let judged: Vec<&LessonTime> = self
                .lessons
                .iter()
                .filter(|l| !l.waits_for_silence)
                .collect();
            let slowest = judged
                .iter()
                .max_by(|a, b| a.secs.total_cmp(&b.secs))
                .copied();
            let failed = judged.iter().filter(|l| l.passed.is_none()).count();
            goals.push(Goal {
                what: "a whole `socket-lab check` lesson with a correct program ≤ 5 s (a stage where silence is the test excepted)".into(),
                measured: match slowest {
                    Some(l) if failed == 0 => format!(
                        "slowest: `{}` {:.2} s ({} lessons)",
                        l.lesson,
                        l.secs,
                        judged.len()
                    ),
                    Some(_) => format!("{failed} lesson(s) did not pass"),
                    None => "not measured".into(),
                },
                ok: slowest.map(|l| failed == 0 && l.secs <= 5.0),
            });
        }
        let (size, _) = self.bundle();
        goals.push(Goal {
            what: "labs (wasm + JS, with the sequence diagrams) ≤ 120 KB gzipped".into(),
            measured: size.map_or_else(
                || "dist/ not built".into(),
                |b| format!("{:.1} KB", b as f64 / 1024.0),
            ),
            ok: size.map(|b| b <= 120 * 1024),
        });
        goals
    }
}

#[cfg(test)]
mod tests {
    use measurement::{Bridge, Demo};

    use super::super::super::kernel::KernelCost;
    use super::super::super::kernel::tests::cost as kernel_cost;
    use super::super::tests::{conn_rate, decode, goal, held, relaying, report};
    use super::*;

    /// Asserts that `g` was judged `ok` on a measurement that reads `measured…`.
    fn assert_judged(g: &Goal, ok: Option<bool>, measured: &str) {
        assert_eq!(g.ok, ok, "{}", g.what);
        assert!(g.measured.starts_with(measured), "{}", g.measured);
    }

    /// A case whose own side moved by `noise` between passes.
    fn case(ours: f64, theirs: f64, noise: f64) -> CodecCase {
        CodecCase {
            ours: decode("1KiB", "protocol", ours, ours * (1.0 - noise)),
            theirs: decode("1KiB", "tokio-util", theirs, theirs),
        }
    }

    #[test]
    fn a_codec_case_within_its_noise_is_neither_faster_nor_slower() {
        assert_eq!(case(100.0, 100.0, 0.0).verdict(), Verdict::Faster);
        assert_eq!(case(95.0, 100.0, 0.06).verdict(), Verdict::WithinNoise);
        assert_eq!(case(95.0, 100.0, 0.04).verdict(), Verdict::Slower);
        assert_eq!(case(90.0, 100.0, 0.0).verdict().mark(), "✗");
    }

    #[test]
    fn the_codec_goal_shows_a_slower_case_before_a_lower_one_within_noise() {
        let codec = vec![
            // 16B: 0.90×, but the same code moved 20 % between passes: ≈.
            decode("16B", "protocol", 90.0, 72.0),
            decode("16B", "tokio-util", 100.0, 100.0),
            // 1KiB: 0.97×, steady: ✗.
            decode("1KiB", "protocol", 97.0, 97.0),
            decode("1KiB", "tokio-util", 100.0, 100.0),
        ];
        let goals = report(Vec::new(), codec.clone()).goals();
        let g = goal(&goals, "codec: decode");
        assert_judged(g, Some(false), "worst 0.97× (1KiB frames");

        let goals = report(Vec::new(), codec[..2].to_vec()).goals();
        let g = goal(&goals, "codec: decode");
        assert_eq!(g.ok, Some(true), "within noise counts as met");
        assert!(g.measured.contains(": ≈, 10.0 % under"), "{}", g.measured);
        assert_eq!(goal(&goals, "codec: encode").ok, None, "not measured");
    }

    #[test]
    fn uppercase_is_judged_against_nine_tenths_of_the_floor() {
        let results = vec![conn_rate("socket-lab", 900), conn_rate("tokio-floor", 1000)];
        let goals = report(results, Vec::new()).goals();
        let g = goal(&goals, "`uppercase` conn/s (32 clients)");
        assert_eq!(g.ok, Some(true));
        assert_eq!(g.measured, "900/s vs 1000/s: 0.90×");

        let results = vec![conn_rate("socket-lab", 899), conn_rate("tokio-floor", 1000)];
        let goals = report(results, Vec::new()).goals();
        assert_eq!(goal(&goals, "`uppercase` conn/s (32").ok, Some(false));
        assert_eq!(
            goal(&goals, "`uppercase` conn/s vs").ok,
            None,
            "Python is shown, not judged"
        );
    }

    #[test]
    fn the_bridge_is_judged_on_the_isolated_runs_when_there_are_any() {
        let shared = vec![
            relaying("socket-lab", Bridge::SocketLab, 32, 2000, 300, 900),
            relaying("websockify", Bridge::Websockify, 32, 1000, 1000, 3000),
        ];
        let goals = report(shared.clone(), Vec::new()).goals();
        let g = goal(&goals, "bridge relay at 32 sessions ≥ 4×");
        assert_eq!(g.ok, Some(false), "2× shared");
        assert!(!g.what.contains("isolated"), "{}", g.what);
        assert_eq!(
            goal(&goals, "bridge round trip, 32 sessions").ok,
            Some(true)
        );
        assert_eq!(goal(&goals, "bridge round trip, 1 session").ok, None);

        let mut both = shared;
        both.push(relaying(
            "socket-lab-isolated",
            Bridge::SocketLab,
            32,
            5000,
            200,
            1100,
        ));
        both.push(relaying(
            "websockify-isolated",
            Bridge::Websockify,
            32,
            1000,
            1000,
            3000,
        ));
        let goals = report(both, Vec::new()).goals();
        let g = goal(&goals, "bridge relay at 32 sessions ≥ 4×");
        assert_eq!(g.ok, Some(true), "5× isolated");
        assert!(g.what.contains("isolated"), "{}", g.what);
        assert!(
            g.measured
                .ends_with("sharing every CPU with the load generator: 2.00×"),
            "{}",
            g.measured
        );
        assert_eq!(
            goal(&goals, "bridge round trip, 32 sessions").ok,
            Some(false),
            "isolated p99 1100 µs is over websockify's median of 1000 µs"
        );
    }

    #[test]
    fn every_held_connection_must_answer_within_the_memory_budget() {
        let results = vec![
            held(Demo::Uppercase, 100, 20_000),
            held(Demo::Framed, 99, 20_000),
        ];
        let goals = report(results, Vec::new()).goals();
        let upper = goal(&goals, "100 idle `uppercase`");
        assert_judged(upper, Some(true), "20.5 MB RSS holding 100");
        assert_eq!(
            goal(&goals, "100 idle `framed`").ok,
            Some(false),
            "one unanswered"
        );

        let results = vec![held(Demo::Uppercase, 100, 100_000)];
        let goals = report(results, Vec::new()).goals();
        assert_eq!(
            goal(&goals, "100 idle `uppercase`").ok,
            Some(false),
            "102 MB"
        );
        let framed = goal(&goals, "100 idle `framed`");
        assert_eq!(
            (framed.ok, framed.measured.as_str()),
            (Some(false), "not measured")
        );
    }

    #[test]
    fn the_scale_relay_needs_every_session_and_no_error() {
        let mut big = relaying("socket-lab-scale", Bridge::SocketLab, 50, 5000, 100, 300);
        let goals = report(vec![big.clone()], Vec::new()).goals();
        assert_eq!(goal(&goals, "50 bridge sessions").ok, Some(true));
        big.measurement.errors = 1;
        let goals = report(vec![big.clone()], Vec::new()).goals();
        assert_eq!(goal(&goals, "50 bridge sessions").ok, Some(false));
        let goals = report(Vec::new(), Vec::new()).goals();
        assert_eq!(
            goal(&goals, "50 bridge sessions").ok,
            Some(false),
            "not measured"
        );
        assert_eq!(
            goal(&goals, "labs (wasm + JS, with the sequence diagrams)").ok,
            None,
            "dist/ not built"
        );
    }

    #[test]
    fn the_kernel_watcher_is_judged_on_its_cost_over_no_watcher() {
        let judge = |cost: KernelCost| {
            let mut r = report(Vec::new(), Vec::new());
            r.kernel = cost;
            let goals = r.goals();
            let g = goal(&goals, "kernel watcher: 1000 connections open");
            (g.ok, g.measured.clone())
        };
        // 10 s runs: 0.10 % idle, 1.10 % at 10 Hz, 2.10 % at 20 Hz.
        let (ok, measured) = judge(kernel_cost(10.0, 110.0, 210.0));
        assert_eq!(ok, Some(true), "{measured}");
        assert_eq!(
            measured,
            "1.10 % of one core at 10 Hz vs 0.10 % with no watcher: +1.00 %, 1.0 ms of CPU \
             per sample (20 Hz: +2.00 %); \
             snapshots of 2002 sockets"
        );
        let (ok, _) = judge(kernel_cost(10.0, 220.0, 300.0));
        assert_eq!(ok, Some(false), "+2.10 %");
        let mut blind = kernel_cost(10.0, 20.0, 30.0);
        blind.windows[1].snapshot_sockets = 2;
        let (ok, measured) = judge(blind);
        assert_eq!(ok, Some(false), "{measured}");
        assert!(measured.contains("the watcher did not work"), "{measured}");
        let mut early = kernel_cost(10.0, 20.0, 30.0);
        early.held_throughout = false;
        assert_eq!(judge(early).0, Some(false));
        assert_eq!(
            judge(KernelCost::default()),
            (Some(false), "not measured".into())
        );
    }

    fn lesson(lesson: &str, secs: f64, passed: bool, waits_for_silence: bool) -> LessonTime {
        LessonTime {
            lesson: lesson.into(),
            program: "x.py".into(),
            passed: passed.then_some(5),
            secs,
            waits_for_silence,
        }
    }

    #[test]
    fn a_lesson_over_five_seconds_misses_unless_silence_is_the_test() {
        let judge = |lessons: Vec<LessonTime>| {
            let mut r = report(Vec::new(), Vec::new());
            r.lessons = lessons;
            let goals = r.goals();
            let g = goal(&goals, "a whole `socket-lab check` lesson");
            (g.ok, g.measured.clone())
        };
        let fast = lesson("framed", 0.3, true, false);
        let silent = lesson("auth", 5.4, true, true);
        let (ok, measured) = judge(vec![fast.clone(), silent.clone()]);
        assert_eq!(ok, Some(true), "{measured}");
        assert!(
            measured.starts_with("slowest: `framed` 0.30 s"),
            "{measured}"
        );
        let (ok, _) = judge(vec![fast.clone(), lesson("uppercase", 5.1, true, false)]);
        assert_eq!(ok, Some(false));
        let (ok, measured) = judge(vec![fast, lesson("auth-client", 0.2, false, false)]);
        assert_eq!(
            (ok, measured.as_str()),
            (Some(false), "1 lesson(s) did not pass")
        );
        let mut r = report(Vec::new(), Vec::new());
        r.lessons = vec![silent];
        let text = r.render("");
        assert!(
            text.contains("| `auth` | `x.py` | 5 passed | 5.40 s | includes a silent client"),
            "{text}"
        );
    }
}
