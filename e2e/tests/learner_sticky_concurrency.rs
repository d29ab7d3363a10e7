//! A learner's afternoon in two chapters, in a real browser: the sticky lab
//! run thirty times in a row in `sticky-packets.html` with varied writes, read
//! sizes, delays and TCP_NODELAY, and the concurrency lab run thirty times in
//! `concurrency.html` against both servers with varied client counts. After
//! every run the test checks that the verdict agrees with what the page shows
//! (the reads' bytes; the server's accept, answer and close times) and that
//! the page's socket count is back to 0. The book's own Python clients are
//! run from a terminal meanwhile and must appear in the chapter's server view
//! as another program.
//!
//! The same sessions run in simulated mode from a static copy of the site
//! (`*_simulated`), once the in-page simulation answers behind the bridge.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::Site;
use e2e::learner::{
    click_in, dark_and_narrow, js, open_lab, pictured, set_in, shot, sockets_back_to_zero,
    thirty_runs, wait_verdict,
};
use fantoccini::Client;
use serde_json::Value;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

/// The shape the reads give the sends, worked out here independently of the
/// lab: a read that holds bytes of two sends merges; a read that ends inside
/// a send splits.
fn shape(sends: &[&str], reads: &[Vec<u8>]) -> &'static str {
    let mut ends = Vec::new(); // stream offset where each send ends
    let mut at = 0;
    for s in sends {
        at += s.len();
        ends.push(at);
    }
    let (mut merged, mut split) = (false, false);
    let mut start = 0;
    for r in reads {
        let end = start + r.len();
        // A send boundary strictly inside this read: it merges two sends.
        if ends.iter().any(|&e| e > start && e < end) {
            merged = true;
        }
        if !ends.contains(&end) {
            split = true;
        }
        start = end;
    }
    match (reads.is_empty(), merged, split) {
        (true, _, _) => "nothing",
        (false, false, false) => "aligned",
        (false, true, false) => "merged",
        (false, false, true) => "split",
        (false, true, true) => "both",
    }
}

const STICKY: &str = "socket-lab[lab=sticky]";

/// One sticky run: set the inputs, click Run, wait for the verdict, check it
/// against the reads shown.
async fn sticky_run(
    c: &Client,
    site: &Site,
    i: usize,
    writes: &[&str],
    read_size: u32,
    delay: u32,
    nodelay: bool,
) -> Result<String> {
    set_in(c, STICKY, "writes", &writes.join("|")).await?;
    set_in(c, STICKY, "read-size", &read_size.to_string()).await?;
    set_in(c, STICKY, "read-delay", &delay.to_string()).await?;
    let checked = js(
        c,
        &format!("return document.querySelector('{STICKY} [data-role=nodelay]').checked;"),
    )
    .await?;
    if checked.as_bool() != Some(nodelay) {
        click_in(c, STICKY, "nodelay").await?;
    }
    click_in(c, STICKY, "run").await?;
    let reads = format!(
        "[...document.querySelectorAll('{STICKY} [data-role=timeline] [data-event=read]')]"
    );
    let fields = format!(
        "reads: {reads}.map(r => r.getAttribute('data-bytes')), \
         times: {reads}.map(r => Number(r.getAttribute('data-at-us'))), \
         wire: [...document.querySelectorAll('{STICKY} [data-role=timeline] > li[data-kind=segment] > .sl-size')].map(s => parseInt(s.textContent)), \
         kernel: [...document.querySelectorAll('{STICKY} [data-role=timeline] [data-event=segments]')].map(r => Number(r.getAttribute('data-segments')))"
    );
    let what = format!("sticky run {i}");
    let within = Duration::from_secs(20);
    let verdict = wait_verdict(c, STICKY, &what, "data-shape", &fields, within).await?;
    let reads: Vec<Vec<u8>> = verdict["reads"]
        .as_array()
        .context("reads")?
        .iter()
        .map(|r| unhex(r.as_str().unwrap_or("")))
        .collect();
    let text = verdict["text"].as_str().unwrap_or("").to_owned();
    let shown = verdict["key"].as_str().unwrap_or("");
    let all: Vec<u8> = reads.concat();
    ensure!(
        all == writes.concat().as_bytes(),
        "sticky run {i}: the reads {:?} do not add up to the writes {writes:?}",
        String::from_utf8_lossy(&all)
    );
    let expected = shape(writes, &reads);
    ensure!(
        shown == expected,
        "sticky run {i} ({writes:?}, read size {read_size}, delay {delay}): verdict {shown:?} \
         but the reads shown {:?} are {expected}; verdict text: {text}",
        reads
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>()
    );
    let agrees = match expected {
        "aligned" => text.starts_with("Aligned"),
        "merged" => text.starts_with("Merged:"),
        "split" => text.starts_with("Split:"),
        _ => text.contains("at once"),
    };
    ensure!(
        agrees,
        "sticky run {i}: the verdict text does not say {expected}: {text}"
    );
    // Nagle is named only when the segments shown carry fewer pieces than
    // there were writes (the model's wire, simulated; the kernel's count,
    // live), and only with TCP_NODELAY off.
    let nums = |k: &str| -> Vec<u64> {
        verdict[k]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    };
    let (wire, kernel) = (nums("wire"), nums("kernel"));
    let sent: usize = writes.iter().map(|w| w.len()).sum();
    if !wire.is_empty() {
        ensure!(
            wire.iter().sum::<u64>() == sent as u64,
            "sticky run {i}: the model's segments {wire:?} do not add up to the {sent} bytes written"
        );
    }
    let merged_by_sender = (!wire.is_empty() && wire.len() < writes.len())
        || kernel.first().is_some_and(|&n| (n as usize) < writes.len());
    ensure!(
        !text.contains("Nagle") || (merged_by_sender && !nodelay),
        "sticky run {i}: Nagle named without segment evidence (wire {wire:?}, kernel {kernel:?}, nodelay {nodelay}): {text}"
    );
    if site.server().is_none() {
        ensure!(
            !wire.is_empty(),
            "sticky run {i}: simulated, but no segment of the model's wire is shown"
        );
    }
    // Every read bigger than the read size would be impossible.
    ensure!(
        reads.iter().all(|r| r.len() <= read_size as usize),
        "sticky run {i}: a read longer than the read size {read_size}"
    );
    // Read times never go backwards, and with a delay each read waits for it.
    let times: Vec<u64> = verdict["times"]
        .as_array()
        .context("times")?
        .iter()
        .map(|t| t.as_u64().unwrap_or(0))
        .collect();
    ensure!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "sticky run {i}: read times out of order: {times:?}"
    );
    if delay > 0 && times.len() > 1 {
        let gap = times[times.len() - 1] - times[0];
        ensure!(
            gap + 5_000 >= u64::from(delay) * 1000 * (times.len() as u64 - 1),
            "sticky run {i}: {} reads {delay} ms apart took only {gap} µs",
            times.len()
        );
    }
    sockets_back_to_zero(c, STICKY)
        .await
        .with_context(|| format!("sticky run {i}"))?;
    Ok(expected.to_owned())
}

async fn sticky_session(c: &Client, site: &Site) -> Result<()> {
    open_lab(c, site, "sticky-packets", STICKY).await?;
    let writes: [&[&str]; 5] = [
        &["Hello", "World"],
        &["a", "b", "c", "d", "e", "f", "g", "h"],
        &["one", "two", "three"],
        &["Hello, Server", "How are you?"],
        &["{\"id\":1}", "{\"id\":2}"],
    ];
    let sizes = [1024, 3, 7, 5, 2, 1024];
    let delays = [0, 60, 0, 20, 100];
    let mut seen = std::collections::BTreeSet::new();
    // After run 10, a learner's terminal, while the chapter is open.
    thirty_runs(c, site, STICKY, (10, "sticky_client.py"), async |i| {
        let w = writes[i % writes.len()];
        let size = sizes[i % sizes.len()];
        // Keep each run short: a delay with tiny reads makes many reads.
        let total: usize = w.iter().map(|s| s.len()).sum();
        let mut delay = delays[i % delays.len()];
        if total / size as usize > 8 {
            delay = delay.min(20);
        }
        seen.insert(sticky_run(c, site, i, w, size, delay, i % 3 == 0).await?);
        Ok(())
    })
    .await?;
    // A delay must have merged something and a small read size split something.
    ensure!(
        seen.contains("both") || (seen.contains("merged") && seen.contains("split")),
        "30 runs showed only {seen:?}"
    );
    Ok(())
}

/// Dark and narrow screenshots, one run each.
#[tokio::test]
async fn sticky_and_concurrency_dark_and_narrow() -> Result<()> {
    let site = Site::start_live(|_| {}).await?;
    site.each_look(dark_and_narrow(), async |c, site, tag| {
        open_lab(c, site, "sticky-packets", STICKY).await?;
        sticky_run(c, site, 0, &["Hello", "World"], 3, 100, false).await?;
        shot(c, STICKY, "timeline", &format!("sticky-{tag}")).await?;
        open_lab(c, site, "concurrency", CONCURRENCY).await?;
        concurrency_run(c, 0, true, 4, 60).await?;
        shot(c, CONCURRENCY, "gantt", &format!("concurrency-{tag}")).await
    })
    .await
}

const CONCURRENCY: &str = "socket-lab[lab=concurrency]";

/// One concurrency run: the verdict must follow from the times the chart
/// shows (each accept after the previous close, or not).
async fn concurrency_run(c: &Client, i: usize, iterative: bool, n: usize, hold: u32) -> Result<()> {
    set_in(c, CONCURRENCY, "clients", &n.to_string()).await?;
    set_in(c, CONCURRENCY, "hold", &hold.to_string()).await?;
    let role = if iterative {
        "run-iterative"
    } else {
        "run-concurrent"
    };
    click_in(c, CONCURRENCY, role).await?;
    let fields = format!(
        "rows: [...document.querySelectorAll('{CONCURRENCY} [data-role=gantt-row]')].map(r => [ \
           Number(r.getAttribute('data-accepted-us')), \
           Number(r.getAttribute('data-answered-us')), \
           Number(r.getAttribute('data-closed-us'))])"
    );
    let what = format!("concurrency run {i}");
    let within = Duration::from_secs(30);
    let got = wait_verdict(c, CONCURRENCY, &what, "data-verdict", &fields, within).await?;
    let key = got["key"].as_str().unwrap_or("");
    let text = got["text"].as_str().unwrap_or("");
    let mut rows: Vec<(u64, u64, u64)> = got["rows"]
        .as_array()
        .context("rows")?
        .iter()
        .map(|r| {
            let n = |k: usize| r[k].as_u64().unwrap_or(u64::MAX);
            (n(0), n(1), n(2))
        })
        .collect();
    ensure!(
        rows.len() == n,
        "concurrency run {i}: {} rows for {n} clients",
        rows.len()
    );
    ensure!(
        rows.iter()
            .all(|&(a, r, x)| a <= r && r <= x && x != u64::MAX),
        "concurrency run {i}: a client without accept ≤ answer ≤ close: {rows:?}"
    );
    rows.sort();
    let sequential = rows.windows(2).all(|w| w[1].0 >= w[0].2);
    let expected = match (n, sequential) {
        (1, _) => "single",
        (_, true) => "iterative",
        (_, false) => "concurrent",
    };
    ensure!(
        key == expected,
        "concurrency run {i}: verdict {key} but the times shown {rows:?} are {expected}: {text}"
    );
    // The servers behave as the chapter says.
    if n > 1 {
        let want = if iterative { "iterative" } else { "concurrent" };
        ensure!(
            key == want,
            "concurrency run {i}: {want} expected, got {key}: {text}"
        );
        ensure!(
            text.to_lowercase().starts_with(want),
            "concurrency run {i}: the verdict text does not say {want}: {text}"
        );
    }
    if iterative && n > 1 {
        // The last client waited at least the others' hold times.
        let last = rows.last().map_or(0, |r| r.0);
        ensure!(
            last + 10_000 >= u64::from(hold) * 1000 * (n as u64 - 1),
            "concurrency run {i}: the last accept at {last} µs is too early for {n} clients holding {hold} ms"
        );
    }
    sockets_back_to_zero(c, CONCURRENCY)
        .await
        .with_context(|| format!("concurrency run {i}"))
}

async fn concurrency_session(c: &Client, site: &Site) -> Result<()> {
    open_lab(c, site, "concurrency", CONCURRENCY).await?;
    let counts = [5, 2, 3, 1, 4, 6];
    let holds = [50, 20, 80, 0, 40];
    thirty_runs(c, site, CONCURRENCY, (7, "many_clients.py"), async |i| {
        let (n, hold) = (counts[i % counts.len()], holds[i % holds.len()]);
        concurrency_run(c, i, i % 2 == 0, n, hold).await
    })
    .await
}

// The simulated tests run on a static copy of the site, where the labs run
// on the in-page simulation behind the same bridge API.
e2e::live_and_simulated! {
    sticky_chapter_thirty_runs_live, sticky_chapter_thirty_runs_simulated:
        Site::start_live(|_| {}) => |site| pictured(site, STICKY, "sticky", sticky_session);
    concurrency_chapter_thirty_runs_live, concurrency_chapter_thirty_runs_simulated:
        Site::start_live(|_| {}) => |site| pictured(site, CONCURRENCY, "concurrency", concurrency_session);
}
