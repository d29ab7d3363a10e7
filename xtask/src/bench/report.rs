//! `BENCHMARKS.md`: the run's figures, ratios against the goals, and how it scales.
//!
//! Everything above the notes marker is generated from this run's
//! measurements and rewritten every time; everything below it (hand-written
//! analysis: profiles, explanations of a missed goal) is carried over from the
//! previous file unchanged, with the date of the run it was written after.

use std::path::{Path, PathBuf};
use std::process::Command;

use measurement::{Demo, Hold, Measurement, Relay};

use super::Plan;
use super::codec::{Allocation, CodecFigure, Op};
use super::results::{Agg, Run, agg};

/// The line that separates generated text from hand-written notes.
const NOTES_MARKER: &str =
    "<!-- notes: everything below this line is kept by `cargo xtask bench` -->";

/// Everything one run produced.
pub(crate) struct Report {
    pub(crate) date: String,
    pub(crate) command: String,
    pub(crate) build_secs: f64,
    pub(crate) codec_secs: f64,
    pub(crate) total_secs: f64,
    pub(crate) plan: Plan,
    pub(crate) codec: Vec<CodecFigure>,
    pub(crate) allocs: Vec<Allocation>,
    pub(crate) results: Vec<Run>,
    pub(crate) problems: Vec<String>,
    /// The open-file limit the servers ran with.
    pub(crate) nofile: u64,
    /// The hard limit this machine allowed.
    pub(crate) nofile_hard: String,
    pub(crate) websockify: Option<String>,
    /// The isolated relay placement's CPU lists (bridges, load), if it ran.
    pub(crate) isolation: Option<(String, String)>,
    pub(crate) root: PathBuf,
    pub(crate) target: PathBuf,
}

/// The current time, UTC.
pub(crate) fn now() -> String {
    command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "unknown date".into())
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn file_field(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// One codec case, both sides.
#[derive(Debug, Clone)]
struct CodecCase {
    /// Frame payload size, e.g. `1KiB`.
    frame: String,
    /// Chunk size fed (`-` for encode).
    chunk: String,
    /// Fastest-sample MiB/s over the passes, `protocol` and tokio-util.
    ours: f64,
    theirs: f64,
    /// Ratio of criterion's medians (best pass of each).
    medians: f64,
    /// The larger of the two sides' pass-to-pass spread (see `CodecFigure::spread`).
    noise: f64,
}

impl CodecCase {
    fn ratio(&self) -> f64 {
        self.ours / self.theirs
    }

    /// The table cells both codec tables share, from the throughputs on.
    fn cells(&self) -> String {
        format!(
            "{:.0} | {:.0} | {:.2}× | {} | {:.1} % | {:.2}× |",
            self.ours,
            self.theirs,
            self.ratio(),
            self.verdict().mark(),
            self.noise * 100.0,
            self.medians
        )
    }

    /// Met: at least as fast, or slower by less than the same code moved
    /// between passes, which no run can tell from equal (`≈`). Cases where
    /// both sides are one `memcpy` land there half the time.
    fn verdict(&self) -> Verdict {
        let r = self.ratio();
        if r >= 1.0 {
            Verdict::Faster
        } else if 1.0 - r <= self.noise {
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

/// KiB (as /proc reports) to MB (10^6 bytes).
fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// Server RSS growth per opened bridge session, bytes.
fn per_session(relay: &Relay) -> f64 {
    relay.open.rss_kb.saturating_sub(relay.before.rss_kb) as f64 * 1024.0
        / relay.opened.max(1) as f64
}

/// Microseconds, or `n/a` where no operation completed.
fn us(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.0} µs"))
}

fn mark(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "—",
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".into(), |r| format!("{r:.2}×"))
}

fn rate(a: &Option<Agg>) -> String {
    a.as_ref()
        .map_or_else(|| "not measured".into(), |a| format!("{:.0}/s", a.rate))
}

/// One row of the goals table.
struct Goal {
    what: String,
    measured: String,
    ok: Option<bool>,
}

impl Report {
    fn machine(&self) -> Vec<(String, String)> {
        let cpu = file_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let mem = file_field("/proc/meminfo", "MemTotal")
            .and_then(|m| m.split_whitespace().next()?.parse::<f64>().ok())
            .map_or_else(
                || "unknown".into(),
                |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
            );
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        vec![
            ("CPU".into(), format!("{cpu}, `nproc` = {cores}")),
            ("memory".into(), mem),
            ("kernel".into(), format!("Linux {kernel}")),
            (
                "toolchain".into(),
                command_line("rustc", &["--version"]).unwrap_or_default(),
            ),
            (
                "Python".into(),
                command_line("python3", &["--version"]).unwrap_or_default(),
            ),
            ("date".into(), self.date.clone()),
            ("command".into(), format!("`{}`", self.command)),
            (
                "duration".into(),
                format!(
                    "{:.0} s in all: release build {:.0} s (incremental), codec {:.0} s, servers and bridges {:.0} s",
                    self.total_secs,
                    self.build_secs,
                    self.codec_secs,
                    self.total_secs - self.build_secs - self.codec_secs
                ),
            ),
        ]
    }

    /// Every measured case of `op`, smallest frames and chunks first.
    fn codec_cases(&self, op: &str) -> Vec<CodecCase> {
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
                let (ours, theirs) = (
                    get(&frame, &chunk, "protocol")?,
                    get(&frame, &chunk, "tokio-util")?,
                );
                Some(CodecCase {
                    ours: ours.mib_s,
                    theirs: theirs.mib_s,
                    medians: ours.median_mib_s / theirs.median_mib_s,
                    noise: ours.spread().max(theirs.spread()),
                    frame,
                    chunk,
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

    /// socket-lab's hold run for `kind`.
    fn hold(&self, kind: Demo) -> Option<&Hold> {
        self.results
            .iter()
            .filter(|r| r.target == "socket-lab")
            .filter_map(Run::hold)
            .find(|h| h.kind == kind)
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

    /// The scale test's relay: many sessions on a fresh socket-lab.
    fn big_relay(&self) -> Option<(&Measurement, &Relay)> {
        self.results
            .iter()
            .filter(|r| r.target == "socket-lab-scale")
            .find_map(|r| Some((&r.measurement, r.relay()?)))
    }

    fn goals(&self) -> Vec<Goal> {
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
                        w.frame,
                        if op == "decode" {
                            format!(", {}-byte chunks", w.chunk)
                        } else {
                            String::new()
                        },
                        if w.verdict() == Verdict::WithinNoise {
                            format!(
                                ": ≈, {:.1} % under, less than the {:.1} % the same code moved between passes",
                                (1.0 - w.ratio()) * 100.0,
                                w.noise * 100.0
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
        let vs_floor = ours
            .as_ref()
            .zip(floor.as_ref())
            .and_then(|(a, b)| ratio(a.rate, b.rate));
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
        let vs_py = ours
            .as_ref()
            .zip(python.as_ref())
            .and_then(|(a, b)| ratio(a.rate, b.rate));
        let floor_py = floor
            .as_ref()
            .zip(python.as_ref())
            .and_then(|(a, b)| ratio(a.rate, b.rate));
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
            let x = a
                .as_ref()
                .zip(b.as_ref())
                .and_then(|(a, b)| ratio(a.rate, b.rate));
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
        let x = |(a, b): (Option<Agg>, Option<Agg>)| {
            a.as_ref()
                .zip(b.as_ref())
                .and_then(|(a, b)| ratio(a.rate, b.rate))
        };
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
        let (size, _) = self.bundle();
        goals.push(Goal {
            what: "labs (wasm + JS) ≤ 150 KB gzipped".into(),
            measured: size.map_or_else(
                || "dist/ not built".into(),
                |b| format!("{:.1} KB", b as f64 / 1024.0),
            ),
            ok: size.map(|b| b <= 150 * 1024),
        });
        goals
    }

    /// Gzipped size of the labs in `dist/`, and when they were built.
    fn bundle(&self) -> (Option<u64>, Option<String>) {
        let dist = self.root.join("dist");
        let files = [
            dist.join("pkg/wasm_client_bg.wasm"),
            dist.join("pkg/wasm_client.js"),
            dist.join("socket-lab.js"),
        ];
        let mut total = 0;
        for f in &files {
            match crate::build::gz_size(f) {
                Ok(n) => total += n,
                Err(_) => return (None, None),
            }
        }
        let when = modified(&files[0]);
        (Some(total), when)
    }

    fn ready(&self) -> Option<(String, Option<String>)> {
        let path = self.target.join("labs-ready.txt");
        let text = std::fs::read_to_string(&path).ok()?;
        Some((text.trim().to_owned(), modified(&path)))
    }

    /// The whole file: generated part, then the notes carried over from `previous`.
    pub(crate) fn render(&self, previous: &str) -> String {
        let r = &self.results;
        let plan = &self.plan;
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut o = fill(
            "head",
            &[
                ("command", self.command.clone()),
                ("rounds", plural(plan.rounds, "round", "rounds")),
            ],
        );
        if plan.quick {
            o += &fill(
                "quick",
                &[
                    ("hold", plan.hold.to_string()),
                    ("sessions", plan.sessions.to_string()),
                ],
            );
        }

        let machine: String = self
            .machine()
            .into_iter()
            .map(|(k, v)| format!("| {k} | {v} |\n"))
            .collect();
        o += &fill(
            "machine",
            &[
                ("rows", machine),
                ("nofile", self.nofile.to_string()),
                ("nofile_hard", self.nofile_hard.clone()),
                (
                    "python",
                    command_line("python3", &["--version"])
                        .unwrap_or_default()
                        .trim_start_matches("Python ")
                        .to_owned(),
                ),
                (
                    "websockify",
                    self.websockify
                        .clone()
                        .unwrap_or_else(|| "(not installed)".into()),
                ),
            ],
        );

        let goals: String = self
            .goals()
            .iter()
            .map(|g| format!("| {} | {} | {} |\n", g.what, g.measured, mark(g.ok)))
            .collect();
        o += &fill("goals", &[("rows", goals)]);

        let decode: String = self
            .codec_cases("decode")
            .iter()
            .map(|c| format!("| {} | {} | {}\n", c.frame, c.chunk, c.cells()))
            .collect();
        let encode: String = self
            .codec_cases("encode")
            .iter()
            .map(|c| format!("| {} frames | {}\n", c.frame, c.cells()))
            .collect();
        o += &fill(
            "codec",
            &[
                ("warm_up", plan.criterion.0.to_string()),
                ("measure", plan.criterion.1.to_string()),
                ("passes", plural(plan.codec_passes, "pass", "passes")),
                ("decode_rows", decode),
                ("encode_rows", encode),
            ],
        );
        if !self.allocs.is_empty() {
            let rows: String = self
                .allocs
                .iter()
                .map(|a| {
                    format!(
                        "| {} | {} B | {} | {} | {} | {} |\n",
                        a.alloc.name(),
                        a.frame,
                        a.chunk.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                        a.frames,
                        a.protocol_allocs,
                        a.tokio_util_allocs
                    )
                })
                .collect();
            o += &fill("allocations", &[("rows", rows)]);
        }

        let uppercase: String = [
            ("socket-lab `uppercase`", "socket-lab"),
            ("minimal tokio loop (floor)", "tokio-floor"),
            ("notes' Python ThreadingTCPServer", "python"),
        ]
        .into_iter()
        .map(|(name, target)| row(name, agg(r, "conn_rate", target, 32)))
        .collect();
        let framed: String = [1, 32]
            .into_iter()
            .flat_map(|conns| {
                [
                    ("socket-lab `framed`", "socket-lab"),
                    ("Python struct/json server", "python"),
                ]
                .map(|(name, target)| {
                    row(
                        &format!("{name} | {conns}"),
                        agg(r, "framed_rtt", target, conns),
                    )
                })
            })
            .collect();
        o += &fill(
            "servers",
            &[
                ("secs", plan.secs.to_string()),
                ("uppercase_rows", uppercase),
                ("framed_rows", framed),
            ],
        );

        o += &fill(
            "bridge",
            &[
                ("websockify", self.websockify.clone().unwrap_or_default()),
                (
                    "bridge_cpus",
                    self.isolation
                        .as_ref()
                        .map_or("-".into(), |(b, _)| b.clone()),
                ),
                (
                    "load_cpus",
                    self.isolation
                        .as_ref()
                        .map_or("-".into(), |(_, l)| l.clone()),
                ),
                ("rows", self.relay_rows()),
            ],
        );
        for (placement, suffix) in [("isolated", "-isolated"), ("shared", "")] {
            if let (Some(a), Some(b)) = (
                agg(r, "relay", &format!("socket-lab{suffix}"), 32).and_then(|a| a.cpu_us),
                agg(r, "relay", &format!("websockify{suffix}"), 32).and_then(|a| a.cpu_us),
            ) {
                o += &fill(
                    "bridge_cpu",
                    &[
                        ("placement", placement.into()),
                        ("ours", format!("{a:.1}")),
                        ("theirs", format!("{b:.1}")),
                        ("times", format!("{:.1}", b / a)),
                    ],
                );
            }
        }

        let holds: String = [(Demo::Uppercase, "uppercase"), (Demo::Framed, "framed")]
            .into_iter()
            .filter_map(|(kind, name)| {
                let h = self.hold(kind)?;
                Some(format!(
                    "| `{name}` | {} | {} | {:.1} MB | {:.1} MB | {:.1} KB | {:.1} s | {:.2} s |\n",
                    h.opened,
                    h.answered,
                    mb(h.before.rss_kb),
                    mb(h.held.rss_kb),
                    h.bytes_per_conn / 1000.0,
                    h.open_secs,
                    h.answer_secs
                ))
            })
            .collect();
        o += &fill("scale", &[("rows", holds)]);
        if let Some((m, relay)) = self.big_relay() {
            o += &fill(
                "big_relay",
                &[
                    ("sessions", plan.sessions.to_string()),
                    ("size", relay.size.to_string()),
                    ("secs", plan.secs.to_string()),
                    ("opened", relay.opened.to_string()),
                    ("ops", m.ops.to_string()),
                    ("rate", format!("{:.0}", m.rate)),
                    ("errors", m.errors.to_string()),
                    ("p50", us(m.latency.map(|l| f64::from(l.p50_us)))),
                    ("p99", us(m.latency.map(|l| f64::from(l.p99_us)))),
                    ("before_mb", format!("{:.1}", mb(relay.before.rss_kb))),
                    ("open_mb", format!("{:.1}", mb(relay.open.rss_kb))),
                    ("session_kb", format!("{:.1}", per_session(relay) / 1000.0)),
                    ("peak_mb", format!("{:.1}", mb(relay.peak.rss_kb))),
                ],
            );
            if let Some(e) = &m.first_error {
                o += &fill("first_error", &[("error", e.clone())]);
            }
        }

        let bundle = match self.bundle() {
            (Some(bytes), built) => phrase(
                "bundle_built",
                &[
                    ("kb", format!("{:.1}", bytes as f64 / 1024.0)),
                    (
                        "built",
                        built.unwrap_or_else(|| "at an unknown time".into()),
                    ),
                ],
            ),
            (None, _) => phrase("bundle_missing", &[]),
        };
        let ready = match self.ready() {
            Some((ready, when)) => phrase(
                "ready_recorded",
                &[
                    ("ready", ready),
                    ("when", when.unwrap_or_else(|| "at an unknown time".into())),
                ],
            ),
            None => phrase("ready_missing", &[]),
        };
        o += &fill("browser", &[("bundle", bundle), ("ready", ready)]);

        o += &self.scaling();

        if !self.problems.is_empty() {
            let rows: String = self
                .problems
                .iter()
                .map(|p| format!("- {}\n", p.replace('\n', " ")))
                .collect();
            o += &fill("problems", &[("rows", rows)]);
        }
        let errors: String = r
            .iter()
            .filter_map(|run| {
                let m = &run.measurement;
                let conc = m
                    .bench
                    .concurrency()
                    .map_or_else(String::new, |c| format!(" ×{c}"));
                Some(format!(
                    "- {} {}{conc}: {} errors, first: `{}`\n",
                    m.bench.name(),
                    run.target,
                    m.errors,
                    m.first_error.as_deref()?
                ))
            })
            .collect();
        if !errors.is_empty() {
            o += &fill("errors", &[("rows", errors)]);
        }
        let lines: String = r
            .iter()
            .map(|run| {
                serde_json::to_string(run).unwrap_or_else(|e| format!("(unprintable: {e})")) + "\n"
            })
            .collect();
        o += &fill("raw", &[("lines", lines)]);

        o += NOTES_MARKER;
        o.push('\n');
        match previous.split_once(NOTES_MARKER) {
            Some((_, notes)) if !notes.trim().is_empty() => {
                o.push_str(notes.trim_start_matches('\n'))
            }
            _ => o += &fill("notes", &[]),
        }
        o
    }

    /// The relay table's rows: each placement, session count and bridge measured.
    fn relay_rows(&self) -> String {
        let r = &self.results;
        let mut rows = String::new();
        for (placement, suffix) in [("isolated", "-isolated"), ("shared", "")] {
            for sessions in [1, 32] {
                for name in ["socket-lab", "websockify", "relay-floor"] {
                    let target = format!("{name}{suffix}");
                    let runs: Vec<&Relay> = r
                        .iter()
                        .filter(|run| run.target == target)
                        .filter_map(Run::relay)
                        .filter(|relay| relay.concurrency == sessions)
                        .collect();
                    if runs.is_empty() {
                        continue;
                    }
                    // websockify forks per session: count the whole tree, shared pages once.
                    let mem = runs
                        .iter()
                        .map(|relay| {
                            if name == "websockify" {
                                relay.peak.tree_pss_kb
                            } else {
                                relay.peak.rss_kb
                            }
                        })
                        .max()
                        .unwrap_or(0);
                    let shown = if name == "relay-floor" {
                        "copy-only floor"
                    } else {
                        name
                    };
                    let line = row(
                        &format!("{placement} | {shown} | {sessions}"),
                        agg(r, "relay", &target, sessions),
                    );
                    let line = line.trim_end().trim_end_matches('|');
                    rows += &format!("{line}| {:.1} MB |\n", mb(mem));
                }
            }
        }
        rows
    }

    /// "How it scales", from this run's numbers.
    fn scaling(&self) -> String {
        let r = &self.results;
        let per = |h: Option<&Hold>| h.map_or(0.0, |h| h.bytes_per_conn);
        let upper = per(self.hold(Demo::Uppercase));
        let framed = per(self.hold(Demo::Framed));
        let session = self.big_relay().map(|(_, relay)| per_session(relay));
        let cpu = |bench: &str| agg(r, bench, "socket-lab", 32).and_then(|a| a.cpu_us);
        let fmt_cpu = |c: Option<f64>| c.map_or_else(|| "n/a".into(), |c| format!("{c:.0} µs"));
        let fd_cap = self.nofile.saturating_sub(64);
        let worst = upper.max(framed).max(1.0);
        let bridge_limit = match session {
            Some(b) => {
                let per_gb = 1e9 / b.max(1.0);
                let first = if per_gb < (fd_cap / 2) as f64 {
                    "memory_first"
                } else {
                    "descriptors_first"
                };
                phrase(
                    "bridge_limit_measured",
                    &[
                        ("kb", format!("{:.0}", b / 1000.0)),
                        ("per_gb", format!("{per_gb:.0}")),
                        ("fd_sessions", (fd_cap / 2).to_string()),
                        ("first", phrase(first, &[])),
                    ],
                )
            }
            None => phrase("bridge_limit_not_measured", &[]),
        };
        fill(
            "scaling",
            &[
                ("uppercase_kb", format!("{:.1}", upper / 1000.0)),
                ("framed_kb", format!("{:.1}", framed / 1000.0)),
                (
                    "session",
                    session.map_or_else(
                        || phrase("session_not_measured", &[]),
                        |b| phrase("session_kb", &[("kb", format!("{:.1}", b / 1000.0))]),
                    ),
                ),
                ("conn_cpu", fmt_cpu(cpu("conn_rate"))),
                ("framed_cpu", fmt_cpu(cpu("framed_rtt"))),
                ("relay_cpu", fmt_cpu(cpu("relay"))),
                ("conn_per_core", per_core(cpu("conn_rate"))),
                ("framed_per_core", per_core(cpu("framed_rtt"))),
                ("relay_per_core", per_core(cpu("relay"))),
                ("fd_cap", fd_cap.to_string()),
                ("nofile", self.nofile.to_string()),
                ("worst_kb", format!("{:.1}", worst / 1000.0)),
                ("per_gb", format!("{:.0}", 1e9 / worst)),
                ("bridge_limit", bridge_limit),
            ],
        )
    }
}

/// The prose of the report, in named sections (see the file's head).
const TEMPLATE: &str = include_str!("report.md");

/// The text of section `name` of [`TEMPLATE`], from its marker line to the next.
fn section(name: &str) -> &'static str {
    let marker = format!("<!-- section: {name} -->\n");
    let Some(at) = TEMPLATE.find(&marker) else {
        // Only a typo in this file can get here, and the tests render every section.
        #[cfg(test)]
        panic!("report.md has no section {name:?}");
        #[cfg(not(test))]
        return "";
    };
    let text = &TEMPLATE[at + marker.len()..];
    &text[..text.find("<!-- section: ").unwrap_or(text.len())]
}

/// Section `name` with each `{{key}}` replaced by its value.
fn fill(name: &str, values: &[(&str, String)]) -> String {
    let mut text = section(name).to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

/// A one-line section, filled, for use inside a sentence.
fn phrase(name: &str, values: &[(&str, String)]) -> String {
    fill(name, values).trim_end().to_owned()
}

/// How a goal's placement reads after its name.
fn placement_words(suffix: &str) -> &'static str {
    if suffix.is_empty() {
        ""
    } else {
        " (isolated: bridge and load on separate CPUs)"
    }
}

fn per_core(cpu_us: Option<f64>) -> String {
    cpu_us
        .filter(|c| *c > 0.0)
        .map_or_else(|| "n/a".into(), |c| format!("{:.0}", 1e6 / c))
}

/// One table row from an aggregate: rate, p50, p99, errors, CPU per op.
fn row(name: &str, a: Option<Agg>) -> String {
    match a {
        Some(a) => format!(
            "| {name} | {:.0} | {} | {} | {} | {} |\n",
            a.rate,
            us(a.p50),
            us(a.p99),
            a.errors,
            a.cpu_us
                .map_or_else(|| "n/a".into(), |c| format!("{c:.1} µs"))
        ),
        None => format!("| {name} | not measured | | | | |\n"),
    }
}

/// When `path` was last written, UTC, if known.
fn modified(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let secs = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    command_line(
        "date",
        &["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d %H:%M UTC"],
    )
}

#[cfg(test)]
mod tests {
    use measurement::{Bench, Bridge, Demo};

    use super::super::codec::{Allocation, Op};
    use super::super::results::fixtures::{hold, load, measurement, relay, run};
    use super::*;

    fn plan() -> Plan {
        Plan {
            quick: true,
            secs: 1.0,
            rounds: 1,
            hold: 100,
            sessions: 50,
            criterion: (0.2, 0.3),
            codec_passes: 2,
            out: PathBuf::from("unused"),
        }
    }

    /// A report over `results` and `codec`, with nothing built on disk.
    fn report(results: Vec<Run>, codec: Vec<CodecFigure>) -> Report {
        let nowhere = std::env::temp_dir().join("socket-lab-report-test-nothing-here");
        Report {
            date: "today".into(),
            command: "cargo xtask bench --quick".into(),
            build_secs: 1.0,
            codec_secs: 1.0,
            total_secs: 3.0,
            plan: plan(),
            codec,
            allocs: Vec::new(),
            results,
            problems: Vec::new(),
            nofile: 20_000,
            nofile_hard: "20000".into(),
            websockify: Some("0.13.0".into()),
            isolation: None,
            root: nowhere.clone(),
            target: nowhere,
        }
    }

    fn goal<'a>(goals: &'a [Goal], starts: &str) -> &'a Goal {
        goals
            .iter()
            .find(|g| g.what.starts_with(starts))
            .unwrap_or_else(|| panic!("no goal starting {starts:?}"))
    }

    /// One side of a decode case: its best and worst pass, MiB/s.
    fn decode(frame: &str, who: &str, best: f64, worst: f64) -> CodecFigure {
        CodecFigure {
            op: "decode".into(),
            frame: frame.into(),
            chunk: "64".into(),
            who: who.into(),
            mib_s: best,
            median_mib_s: best,
            worst_pass_mib_s: worst,
        }
    }

    fn case(ours: f64, theirs: f64, noise: f64) -> CodecCase {
        CodecCase {
            frame: "1KiB".into(),
            chunk: "64".into(),
            ours,
            theirs,
            medians: 1.0,
            noise,
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
        assert_eq!(g.ok, Some(false));
        assert!(
            g.measured.starts_with("worst 0.97× (1KiB frames"),
            "{}",
            g.measured
        );

        let goals = report(Vec::new(), codec[..2].to_vec()).goals();
        let g = goal(&goals, "codec: decode");
        assert_eq!(g.ok, Some(true), "within noise counts as met");
        assert!(g.measured.contains(": ≈, 10.0 % under"), "{}", g.measured);
        assert_eq!(goal(&goals, "codec: encode").ok, None, "not measured");
    }

    fn conn_rate(target: &str, ops: u64) -> Run {
        run(
            target,
            Some(100.0),
            measurement(Bench::ConnRate(load(32)), ops, 1.0, 100, 200),
        )
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

    fn relaying(target: &str, bridge: Bridge, sessions: u64, ops: u64, p50: u32, p99: u32) -> Run {
        run(
            target,
            Some(1000.0),
            measurement(
                Bench::Relay(relay(bridge, sessions, [6000, 6500, 7000])),
                ops,
                1.0,
                p50,
                p99,
            ),
        )
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

    fn held(kind: Demo, answered: u64, held_kb: u64) -> Run {
        run(
            "socket-lab",
            None,
            measurement(
                Bench::Hold(hold(kind, 100, answered, held_kb)),
                answered,
                0.5,
                50,
                90,
            ),
        )
    }

    #[test]
    fn every_held_connection_must_answer_within_the_memory_budget() {
        let results = vec![
            held(Demo::Uppercase, 100, 20_000),
            held(Demo::Framed, 99, 20_000),
        ];
        let goals = report(results, Vec::new()).goals();
        let upper = goal(&goals, "100 idle `uppercase`");
        assert_eq!(upper.ok, Some(true));
        assert!(
            upper.measured.starts_with("20.5 MB RSS holding 100"),
            "{}",
            upper.measured
        );
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
        assert_eq!(goal(&goals, "labs (wasm + JS)").ok, None, "dist/ not built");
    }

    #[test]
    fn the_notes_below_the_marker_are_carried_over() {
        let r = report(
            vec![
                conn_rate("socket-lab", 900),
                held(Demo::Framed, 100, 20_000),
            ],
            Vec::new(),
        );
        let previous = format!("old figures\n{NOTES_MARKER}\n\n## Notes\n\nkept by hand\n");
        let text = r.render(&previous);
        assert!(text.starts_with("# Benchmarks"));
        assert!(!text.contains("old figures"));
        assert!(
            text.contains("| socket-lab `uppercase` | 900 | 100 µs | 200 µs | 0 | 111.1 µs |"),
            "{text}"
        );
        let (_, notes) = text.split_once(NOTES_MARKER).expect("the marker");
        assert_eq!(notes, "\n## Notes\n\nkept by hand\n");

        let fresh = r.render("");
        assert!(
            fresh.ends_with("`cargo xtask bench` keeps it.)\n"),
            "{fresh}"
        );
    }

    /// Every section name in the template, in order.
    fn section_names() -> Vec<&'static str> {
        TEMPLATE
            .match_indices("<!-- section: ")
            .map(|(i, m)| {
                let rest = &TEMPLATE[i + m.len()..];
                &rest[..rest.find(" -->").expect("a closed marker")]
            })
            .collect()
    }

    #[test]
    fn every_template_section_is_used_and_every_placeholder_filled() {
        let code = include_str!("report.rs");
        for name in section_names() {
            assert!(!section(name).is_empty(), "section {name} is empty");
            assert!(
                code.contains(&format!("\"{name}\"")),
                "section {name} is never used"
            );
        }

        // A run with everything: isolation, allocations, problems, errors, a built site.
        let root = std::env::temp_dir().join(format!("xtask-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("dist/pkg")).unwrap();
        std::fs::create_dir_all(root.join("target")).unwrap();
        for f in [
            "dist/pkg/wasm_client_bg.wasm",
            "dist/pkg/wasm_client.js",
            "dist/socket-lab.js",
        ] {
            std::fs::write(root.join(f), "a small file").unwrap();
        }
        std::fs::write(root.join("target/labs-ready.txt"), "120 ms\n").unwrap();
        let mut big = relaying("socket-lab-scale", Bridge::SocketLab, 50, 5000, 100, 300);
        big.measurement.errors = 1;
        big.measurement.first_error = Some("open: refused".into());
        let results = vec![
            conn_rate("socket-lab", 900),
            conn_rate("tokio-floor", 1000),
            conn_rate("python", 150),
            held(Demo::Uppercase, 100, 20_000),
            held(Demo::Framed, 100, 21_000),
            relaying("socket-lab", Bridge::SocketLab, 32, 2000, 300, 900),
            relaying("websockify", Bridge::Websockify, 32, 1000, 1000, 3000),
            relaying("socket-lab-isolated", Bridge::SocketLab, 1, 5000, 50, 90),
            relaying("relay-floor-isolated", Bridge::Websockify, 1, 6000, 40, 80),
            big,
        ];
        let mut r = report(
            results,
            vec![
                decode("1KiB", "protocol", 97.0, 97.0),
                decode("1KiB", "tokio-util", 100.0, 100.0),
            ],
        );
        r.allocs = vec![Allocation {
            alloc: Op::Decode,
            frame: 1024,
            chunk: Some(64),
            frames: 1000,
            protocol_allocs: 1003,
            tokio_util_allocs: 20,
        }];
        r.problems = vec!["websockify: not\ninstalled".into()];
        r.isolation = Some(("0".into(), "1".into()));
        r.root = root.clone();
        r.target = root.join("target");
        let text = r.render("");
        let _ = std::fs::remove_dir_all(&root);
        assert!(!text.contains("{{"), "a placeholder left unfilled:\n{text}");
        for expected in [
            "**This is a `--quick` smoke run** (shorter loads, 100 held connections, 50 sessions)",
            "| 1KiB | 64 | 97 | 100 | 0.97× | ✗ | 0.0 % | 0.97× |",
            "| decode | 1024 B | 64 | 1000 | 1003 | 20 |",
            "`taskset -c 0`",
            "| isolated | socket-lab | 1 | 5000 | 50 µs | 90 µs | 0 | 200.0 µs | 7.2 MB |",
            "Bridge CPU per relayed message at 32 sessions, shared: socket-lab 500.0 µs, websockify 1000.0 µs (2.0× less",
            "50 bridge sessions (each a WebSocket",
            "First error: `open: refused`",
            "- Labs bundle: **",
            "- Time until the lab page is interactive: **120 ms**",
            "a bridge session (WebSocket + one TCP socket + its tasks) 10.2 KB.",
            "so descriptors still come first",
            "- websockify: not installed",
            "- relay socket-lab-scale ×50: 1 errors, first: `open: refused`",
            "1 round each",
            "2 passes",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }

        // A run with nothing in it still reads as sentences.
        let empty = report(Vec::new(), Vec::new()).render("");
        assert!(!empty.contains("{{"), "{empty}");
        assert!(empty.contains(
            "- Labs bundle: `dist/` is not built; run `cargo xtask build`.\n- Time until"
        ));
        assert!(
            empty.contains("session (WebSocket + one TCP socket + its tasks) was not measured.")
        );
        assert!(empty.contains("Bridge sessions are the exception: not measured in this run."));
    }
}
