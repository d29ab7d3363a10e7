//! The codec part of the bench: criterion's figures and the allocation count.
//!
//! Criterion runs `protocol/benches/codec.rs` with a short warm-up and
//! measurement time (the whole bench must fit in ten minutes on two cores),
//! then this file reads what it wrote under `target/criterion/<group>/…/new/`
//! (`benchmark.json` for the ids and throughput, `sample.json` for the fastest
//! sample, `estimates.json` for the median). The allocation counts come from
//! `protocol/tests/allocations.rs`, which prints one JSON line per case.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::{Ctx, run_cmd};

/// One criterion benchmark's result.
#[derive(Debug, Clone)]
pub(crate) struct CodecFigure {
    /// `decode` or `encode`.
    pub(crate) op: String,
    /// Frame payload size, e.g. `1KiB`.
    pub(crate) frame: String,
    /// Chunk size the stream was fed in (`-` for encode).
    pub(crate) chunk: String,
    /// `protocol` or `tokio-util`.
    pub(crate) who: String,
    /// Throughput of the fastest sample, MiB/s: another process on the
    /// machine can only ever slow a sample down, so the fastest one is the
    /// figure least moved by it.
    pub(crate) mib_s: f64,
    /// Throughput at criterion's median estimate, MiB/s.
    pub(crate) median_mib_s: f64,
    /// The slowest pass's fastest sample, MiB/s (equal to `mib_s` after one
    /// pass): how far the same code moves from one pass to the next.
    pub(crate) worst_pass_mib_s: f64,
}

impl CodecFigure {
    /// How much slower this side's worst pass was than its best, as a
    /// fraction of the best (0 after one pass).
    pub(crate) fn spread(&self) -> f64 {
        1.0 - self.worst_pass_mib_s / self.mib_s
    }
}

/// Runs the criterion benches with the given warm-up and measurement seconds,
/// tokio-util's side of each case first if `tokio_first`.
pub(crate) fn run(ctx: &Ctx, warm_up: f64, measure: f64, tokio_first: bool) -> Result<()> {
    let out = ctx.target().join("criterion");
    // Old results would be read as new ones if a benchmark were renamed or skipped.
    if let Ok(dir) = fs::read_dir(&out) {
        for entry in dir.flatten() {
            if entry.file_name().to_string_lossy().starts_with("frame_") {
                fs::remove_dir_all(entry.path())?;
            }
        }
    }
    let order = if tokio_first {
        "tokio-util-first"
    } else {
        "protocol-first"
    };
    run_cmd(ctx.cargo().env("CODEC_BENCH_ORDER", order).args([
        "bench",
        "-p",
        "protocol",
        "--bench",
        "codec",
        "--",
        "--noplot",
        "--warm-up-time",
        &warm_up.to_string(),
        "--measurement-time",
        &measure.to_string(),
    ]))
}

/// Reads every `frame_*` result criterion left under `target/criterion`.
pub(crate) fn read(target: &Path) -> Result<Vec<CodecFigure>> {
    let mut out = Vec::new();
    let root = target.join("criterion");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "benchmark.json")
                && path.parent().is_some_and(|p| p.ends_with("new"))
                && let Some(fig) = figure(&path)?
            {
                out.push(fig);
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.op, &a.frame, &a.chunk, &a.who).cmp(&(&b.op, &b.frame, &b.chunk, &b.who))
    });
    Ok(out)
}

fn figure(benchmark_json: &Path) -> Result<Option<CodecFigure>> {
    let read = |p: &Path| -> Result<Value> {
        Ok(serde_json::from_str(
            &fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )?)
    };
    let bench = read(benchmark_json)?;
    let estimates = read(&benchmark_json.with_file_name("estimates.json"))?;
    let group = bench["group_id"].as_str().unwrap_or_default();
    let Some(rest) = group.strip_prefix("frame_") else {
        return Ok(None);
    };
    let Some((op, frame)) = rest.split_once('_') else {
        return Ok(None);
    };
    let sample = read(&benchmark_json.with_file_name("sample.json"))?;
    let bytes = bench["throughput"]["Bytes"].as_f64().unwrap_or(0.0);
    let median_ns = estimates["median"]["point_estimate"]
        .as_f64()
        .unwrap_or(0.0);
    // Each sample is `iters[i]` iterations taking `times[i]` ns in all.
    let series = |key: &str| -> Vec<f64> {
        sample[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let fastest_ns = series("times")
        .iter()
        .zip(series("iters"))
        .filter(|(_, n)| *n > 0.0)
        .map(|(t, n)| t / n)
        .fold(f64::INFINITY, f64::min);
    if bytes == 0.0 || median_ns == 0.0 || !fastest_ns.is_finite() {
        return Ok(None);
    }
    let mib_s = |ns: f64| bytes / (ns * 1e-9) / (1024.0 * 1024.0);
    let chunk = bench["value_str"]
        .as_str()
        .map(|v| v.trim_start_matches("chunk").to_owned())
        .unwrap_or_else(|| "-".into());
    Ok(Some(CodecFigure {
        op: op.to_owned(),
        frame: frame.to_owned(),
        chunk,
        who: bench["function_id"].as_str().unwrap_or_default().to_owned(),
        mib_s: mib_s(fastest_ns),
        median_mib_s: mib_s(median_ns),
        worst_pass_mib_s: mib_s(fastest_ns),
    }))
}

/// Adds a pass's figures to `all`, keeping each side's best of the passes.
pub(crate) fn merge(all: &mut Vec<CodecFigure>, pass: Vec<CodecFigure>) {
    for fig in pass {
        let same = all.iter_mut().find(|f| {
            (&f.op, &f.frame, &f.chunk, &f.who) == (&fig.op, &fig.frame, &fig.chunk, &fig.who)
        });
        match same {
            Some(f) => {
                f.mib_s = f.mib_s.max(fig.mib_s);
                f.median_mib_s = f.median_mib_s.max(fig.median_mib_s);
                f.worst_pass_mib_s = f.worst_pass_mib_s.min(fig.worst_pass_mib_s);
            }
            None => all.push(fig),
        }
    }
}

/// Runs the allocation-count test and returns its JSON lines.
pub(crate) fn allocations(ctx: &Ctx) -> Result<Vec<Value>> {
    let shown = "cargo test --release -p protocol --test allocations -- --nocapture";
    println!("xtask: $ {shown}");
    let out = ctx
        .cargo()
        .args([
            "test",
            "--release",
            "-p",
            "protocol",
            "--test",
            "allocations",
            "--",
            "--nocapture",
        ])
        .output()
        .context("running the allocation test")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        anyhow::bail!(
            "{shown} failed:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("alloc").is_some())
        .collect())
}
