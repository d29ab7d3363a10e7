//! `BENCHMARKS.md`: the run's figures, ratios against the goals, and how it scales.
//!
//! Everything above the notes marker is generated from this run's
//! measurements and rewritten every time; everything below it (hand-written
//! analysis: profiles, explanations of a missed goal) is carried over from the
//! previous file unchanged, with the date of the run it was written after.
//!
//! This file lays the report out: tables and figures from the typed results
//! (`results.rs`), the goals and their rules from `report/goals.rs`, and every
//! sentence of prose from the template `report.md`, whose named sections are
//! filled in here.

use std::path::{Path, PathBuf};
use std::process::Command;

use measurement::{Demo, Hold, Measurement, Relay};

use super::Plan;
use super::codec::{Allocation, CodecFigure};
use super::kernel::{self, KernelCost};
use super::lessons::LessonTime;
use super::procs;
use super::results::{Agg, Run, agg};

mod goals;

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
    /// `socket-lab check`'s lessons, timed.
    pub(crate) lessons: Vec<LessonTime>,
    /// The kernel watcher's cost (no runs if it could not be measured).
    pub(crate) kernel: KernelCost,
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

    /// socket-lab's hold run for `kind`.
    fn hold(&self, kind: Demo) -> Option<&Hold> {
        self.results
            .iter()
            .filter(|r| r.target == "socket-lab")
            .filter_map(Run::hold)
            .find(|h| h.kind == kind)
    }

    /// The scale test's relay: many sessions on a fresh socket-lab.
    fn big_relay(&self) -> Option<(&Measurement, &Relay)> {
        self.results
            .iter()
            .filter(|r| r.target == "socket-lab-scale")
            .find_map(|r| Some((&r.measurement, r.relay()?)))
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
            .map(|c| format!("| {} | {} | {}\n", c.frame(), c.chunk(), c.cells()))
            .collect();
        let encode: String = self
            .codec_cases("encode")
            .iter()
            .map(|c| format!("| {} frames | {}\n", c.frame(), c.cells()))
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

        if !self.kernel.windows.is_empty() {
            o += &self.kernel_section();
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

        if !self.lessons.is_empty() {
            let rows: String = self
                .lessons
                .iter()
                .map(|l| {
                    format!(
                        "| `{}` | `{}` | {} | {:.2} s | {} |\n",
                        l.lesson,
                        l.program,
                        l.passed
                            .map_or_else(|| "did not pass".into(), |n| format!("{n} passed")),
                        l.secs,
                        if l.waits_for_silence {
                            "includes a silent client held until the server's own timeout"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            o += &fill("lessons", &[("rows", rows)]);
        }

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

    /// The kernel watcher's section: each rate, its CPU and its cost.
    fn kernel_section(&self) -> String {
        let k = &self.kernel;
        let base = k.at(0).map(|b| b.pct());
        let tick_s = 1.0 / procs::ticks_per_second();
        let mut tick_pct: f64 = 0.0;
        let mut rows = String::new();
        for hz in kernel::RATES {
            let Some(r) = k.at(hz) else { continue };
            tick_pct = tick_pct.max(r.windows as f64 * tick_s / r.wall_secs.max(1e-9) * 100.0);
            let (name, cost, per_sample, snapshot, changes) = if hz == 0 {
                let none = || "—".to_owned();
                (
                    "none (session open)".to_owned(),
                    none(),
                    none(),
                    none(),
                    none(),
                )
            } else {
                (
                    format!("{hz} Hz"),
                    base.map_or_else(|| "n/a".into(), |b| format!("{:+.2} %", r.pct() - b)),
                    k.per_sample_ms(hz)
                        .map_or_else(|| "n/a".into(), |ms| format!("{ms:.1} ms")),
                    format!("{} sockets", r.snapshot_min),
                    r.changes.to_string(),
                )
            };
            let errors = if r.errors > 0 {
                format!(" ({} errors)", r.errors)
            } else {
                String::new()
            };
            rows += &format!(
                "| {name}{errors} | {} | {:.1} s | {:.0} ms | {:.0} ms | {:.2} % | {cost} | {per_sample} | {snapshot} | {changes} |\n",
                r.windows,
                r.wall_secs,
                r.cpu_ms,
                r.sys_ms,
                r.pct()
            );
        }
        let held = match &k.hold {
            Some(h) if k.held_throughout => phrase(
                "kernel_held",
                &[
                    ("answered", h.answered.to_string()),
                    ("opened", h.opened.to_string()),
                ],
            ),
            _ => phrase("kernel_not_held", &[("conns", kernel::CONNS.to_string())]),
        };
        let rounds = self.plan.rounds;
        fill(
            "kernel",
            &[
                ("conns", kernel::CONNS.to_string()),
                ("both_ends", (2 * kernel::CONNS).to_string()),
                (
                    "table",
                    k.table.map_or_else(
                        || "an unknown number of TCP sockets".into(),
                        |n| format!("{n} TCP sockets"),
                    ),
                ),
                ("secs", k.secs.to_string()),
                (
                    "rounds",
                    format!("{rounds} round{}", if rounds == 1 { "" } else { "s" }),
                ),
                ("tick_ms", format!("{:.0}", tick_s * 1000.0)),
                ("tick_pct", format!("{tick_pct:.2}")),
                ("rows", rows),
                ("held", held),
            ],
        )
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
    use super::goals::Goal;
    use super::*;

    pub(super) fn plan() -> Plan {
        Plan {
            quick: true,
            secs: 1.0,
            rounds: 1,
            hold: 100,
            sessions: 50,
            kernel_secs: 2.0,
            criterion: (0.2, 0.3),
            codec_passes: 2,
            out: PathBuf::from("unused"),
        }
    }

    /// A report over `results` and `codec`, with nothing built on disk.
    pub(super) fn report(results: Vec<Run>, codec: Vec<CodecFigure>) -> Report {
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
            lessons: Vec::new(),
            kernel: KernelCost::default(),
            problems: Vec::new(),
            nofile: 20_000,
            nofile_hard: "20000".into(),
            websockify: Some("0.13.0".into()),
            isolation: None,
            root: nowhere.clone(),
            target: nowhere,
        }
    }

    pub(super) fn goal<'a>(goals: &'a [Goal], starts: &str) -> &'a Goal {
        goals
            .iter()
            .find(|g| g.what.starts_with(starts))
            .unwrap_or_else(|| panic!("no goal starting {starts:?}"))
    }

    /// One side of a decode case: its best and worst pass, MiB/s.
    pub(super) fn decode(frame: &str, who: &str, best: f64, worst: f64) -> CodecFigure {
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

    pub(super) fn conn_rate(target: &str, ops: u64) -> Run {
        run(
            target,
            Some(100.0),
            measurement(Bench::ConnRate(load(32)), ops, 1.0, 100, 200),
        )
    }

    pub(super) fn relaying(
        target: &str,
        bridge: Bridge,
        sessions: u64,
        ops: u64,
        p50: u32,
        p99: u32,
    ) -> Run {
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

    pub(super) fn held(kind: Demo, answered: u64, held_kb: u64) -> Run {
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
        r.kernel = super::super::kernel::tests::cost(10.0, 110.0, 210.0);
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
            "the demo ports have 2000 sockets plus the listeners; the kernel's whole TCP table, which every sample reads through, held 2010 TCP sockets.",
            "| none (session open) | 1 | 10.0 s | 10 ms | 5 ms | 0.10 % | — | — | — | — |",
            "| 10 Hz | 1 | 10.0 s | 110 ms | 55 ms | 1.10 % | +1.00 % | 1.0 ms | 2002 sockets | 0 |",
            "every held connection was asked one question: 1000 of 1000 answered.",
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
