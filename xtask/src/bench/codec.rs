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
use serde::{Deserialize, Serialize};

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

/// The part of criterion's `benchmark.json` read here.
#[derive(Debug, Deserialize)]
struct CriterionId {
    /// `frame_<op>_<frame>`, e.g. `frame_decode_1KiB`.
    group_id: String,
    /// `protocol` or `tokio-util`.
    function_id: Option<String>,
    /// `chunk<N>` for decode cases.
    value_str: Option<String>,
    throughput: Option<CriterionThroughput>,
}

/// Criterion's `Throughput`; the codec benches set `Bytes`.
#[derive(Debug, Deserialize)]
struct CriterionThroughput {
    #[serde(rename = "Bytes")]
    bytes: Option<f64>,
}

/// The part of criterion's `estimates.json` read here.
#[derive(Debug, Deserialize)]
struct CriterionEstimates {
    median: CriterionEstimate,
}

#[derive(Debug, Deserialize)]
struct CriterionEstimate {
    /// Nanoseconds per iteration.
    point_estimate: f64,
}

/// Criterion's `sample.json`: sample `i` ran `iters[i]` iterations in `times[i]` ns.
#[derive(Debug, Deserialize)]
struct CriterionSample {
    iters: Vec<f64>,
    times: Vec<f64>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not the criterion output this bench reads; \
             delete target/criterion and run `cargo xtask bench` again",
            path.display()
        )
    })
}

fn figure(benchmark_json: &Path) -> Result<Option<CodecFigure>> {
    let id: CriterionId = read_json(benchmark_json)?;
    let Some(rest) = id.group_id.strip_prefix("frame_") else {
        return Ok(None);
    };
    let Some((op, frame)) = rest.split_once('_') else {
        return Ok(None);
    };
    let estimates: CriterionEstimates =
        read_json(&benchmark_json.with_file_name("estimates.json"))?;
    let sample: CriterionSample = read_json(&benchmark_json.with_file_name("sample.json"))?;
    let bytes = id
        .throughput
        .and_then(|t| t.bytes)
        .filter(|b| *b > 0.0)
        .with_context(|| {
            format!(
                "{}: the codec benches must set `Throughput::Bytes`",
                benchmark_json.display()
            )
        })?;
    let fastest_ns = sample
        .times
        .iter()
        .zip(&sample.iters)
        .filter(|(_, n)| **n > 0.0)
        .map(|(t, n)| t / n)
        .fold(f64::INFINITY, f64::min);
    let median_ns = estimates.median.point_estimate;
    if median_ns <= 0.0 || !fastest_ns.is_finite() || fastest_ns <= 0.0 {
        anyhow::bail!(
            "{}: criterion recorded no timed sample",
            benchmark_json.display()
        );
    }
    let mib_s = |ns: f64| bytes / (ns * 1e-9) / (1024.0 * 1024.0);
    let chunk = id
        .value_str
        .map(|v| v.trim_start_matches("chunk").to_owned())
        .unwrap_or_else(|| "-".into());
    Ok(Some(CodecFigure {
        op: op.to_owned(),
        frame: frame.to_owned(),
        chunk,
        who: id.function_id.unwrap_or_default(),
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

/// What the allocation test counted for one case (one JSON line it prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Allocation {
    /// Which side of the codec.
    pub(crate) alloc: Op,
    /// Payload bytes per frame.
    pub(crate) frame: u64,
    /// Bytes per read the stream was fed in (decode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) chunk: Option<u64>,
    /// Frames in the stream.
    pub(crate) frames: u64,
    /// Allocations and reallocations by `protocol`.
    pub(crate) protocol_allocs: u64,
    /// The same for tokio-util's `LengthDelimitedCodec`.
    pub(crate) tokio_util_allocs: u64,
}

/// Decoding or encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Op {
    /// Bytes to frames.
    Decode,
    /// Frames to bytes.
    Encode,
}

impl Op {
    /// As the report's table shows it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Decode => "decode",
            Op::Encode => "encode",
        }
    }
}

/// The allocation lines in the test's output (other lines are the test harness's).
fn allocation_lines(stdout: &str) -> Result<Vec<Allocation>> {
    stdout
        .lines()
        .filter(|l| l.starts_with(r#"{"alloc""#))
        .map(|l| {
            serde_json::from_str(l).with_context(|| {
                format!("protocol/tests/allocations.rs printed a line this bench cannot read: {l}")
            })
        })
        .collect()
}

/// Runs the allocation-count test and returns what it counted.
pub(crate) fn allocations(ctx: &Ctx) -> Result<Vec<Allocation>> {
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
    allocation_lines(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocation_tests_lines_are_read_and_the_harness_skipped() {
        let out = "running 2 tests\n\
            {\"alloc\":\"decode\",\"frame\":16,\"chunk\":64,\"frames\":100,\"protocol_allocs\":103,\"tokio_util_allocs\":9}\n\
            {\"alloc\":\"encode\",\"frame\":1024,\"frames\":256,\"protocol_allocs\":0,\"tokio_util_allocs\":1}\n\
            test decode ... ok\n";
        let got = allocation_lines(out).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].alloc, got[0].chunk), (Op::Decode, Some(64)));
        assert_eq!((got[1].alloc, got[1].chunk), (Op::Encode, None));
        let broken = "{\"alloc\":\"decode\",\"frame\":16}";
        assert!(
            allocation_lines(broken).is_err(),
            "a missing count is an error"
        );
    }

    /// Writes one benchmark's files as criterion lays them out.
    fn criterion_case(root: &Path, group: &str, who: &str, value: Option<&str>, bytes: u64) {
        let dir = root.join("criterion").join(group).join(who).join("new");
        fs::create_dir_all(&dir).unwrap();
        let value = value.map_or("null".to_owned(), |v| format!("\"{v}\""));
        fs::write(
            dir.join("benchmark.json"),
            format!(
                r#"{{"group_id":"{group}","function_id":"{who}","value_str":{value},"throughput":{{"Bytes":{bytes}}},"full_id":"x","directory_name":"x","title":"x"}}"#
            ),
        )
        .unwrap();
        fs::write(
            dir.join("estimates.json"),
            r#"{"mean":{"point_estimate":2000.0,"standard_error":1.0},"median":{"point_estimate":2048.0,"standard_error":1.0}}"#,
        )
        .unwrap();
        // Fastest sample: 10 iterations in 10,240 ns, 1,024 ns each.
        fs::write(
            dir.join("sample.json"),
            r#"{"sampling_mode":"Linear","iters":[10.0,20.0],"times":[10240.0,60000.0]}"#,
        )
        .unwrap();
    }

    #[test]
    fn criterion_results_are_read_as_fastest_sample_and_median() {
        let root = std::env::temp_dir().join(format!("xtask-codec-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        criterion_case(
            &root,
            "frame_decode_1KiB",
            "protocol",
            Some("chunk64"),
            1 << 20,
        );
        criterion_case(&root, "frame_encode_16B", "tokio-util", None, 1 << 20);
        criterion_case(&root, "something_else", "protocol", None, 1);
        let figs = read(&root).unwrap();
        assert_eq!(figs.len(), 2, "{figs:?}");
        let decode = &figs[0];
        assert_eq!(
            (
                decode.op.as_str(),
                decode.frame.as_str(),
                decode.chunk.as_str()
            ),
            ("decode", "1KiB", "64")
        );
        // 1 MiB in 1,024 ns is 976,562.5 MiB/s; the median is twice as slow.
        assert!((decode.mib_s - 976_562.5).abs() < 1e-6, "{}", decode.mib_s);
        assert!((decode.median_mib_s * 2.0 - decode.mib_s).abs() < 1e-6);
        assert_eq!(
            (figs[1].who.as_str(), figs[1].chunk.as_str()),
            ("tokio-util", "-")
        );

        let broken = root.join("criterion/frame_decode_16B/protocol/new");
        fs::create_dir_all(&broken).unwrap();
        fs::write(
            broken.join("benchmark.json"),
            r#"{"group_id":"frame_decode_16B"}"#,
        )
        .unwrap();
        assert!(read(&root).is_err(), "a missing file or figure is an error");
        let _ = fs::remove_dir_all(&root);
    }

    fn fig(who: &str, best: f64, median: f64) -> CodecFigure {
        CodecFigure {
            op: "decode".into(),
            frame: "1KiB".into(),
            chunk: "64".into(),
            who: who.into(),
            mib_s: best,
            median_mib_s: median,
            worst_pass_mib_s: best,
        }
    }

    #[test]
    fn passes_merge_into_best_figures_and_the_worst_pass() {
        let mut all = Vec::new();
        merge(
            &mut all,
            vec![fig("protocol", 100.0, 90.0), fig("tokio-util", 80.0, 70.0)],
        );
        merge(&mut all, vec![fig("protocol", 90.0, 95.0)]);
        assert_eq!(all.len(), 2);
        let ours = &all[0];
        assert_eq!(
            (ours.mib_s, ours.median_mib_s, ours.worst_pass_mib_s),
            (100.0, 95.0, 90.0)
        );
        assert!((ours.spread() - 0.1).abs() < 1e-9);
        assert_eq!(all[1].spread(), 0.0);
    }
}
