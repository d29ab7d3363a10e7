//! A learner's afternoon with the tcp-echo and udp-echo labs, in the book's
//! own chapter pages: many runs in a row in one page with varied inputs, and
//! after each run a check that what the lab shows agrees with the server's
//! events (the ACK is `ACK: ` + what was sent, a 1500-byte datagram shows
//! truncated) and that the page holds no socket any more. The book's Python
//! clients run from a terminal while the chapter is open and must appear in
//! that chapter's server view as "another program".
//!
//! The same sessions run simulated, from a static copy of the site with no
//! server behind it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::learner::terminal;
use e2e::{BrowserOptions, PAGE_TIMEOUT, Site, screenshot, set_value, wait_count};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::Value;

/// Runs of each lab in one page.
const RUNS: usize = 30;

const TCP: &str = "socket-lab[lab=tcp-echo]";
const UDP: &str = "socket-lab[lab=udp-echo]";

fn out_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-learner")
}

/// Everything a lab shows, as JSON: its timeline rows, verdict, statuses, the
/// page's open sockets and the server view's connections. `arguments[0]` is
/// the lab's selector.
const SNAPSHOT: &str = r#"
const lab = document.querySelector(arguments[0]);
if (!lab) return {missing: arguments[0]};
const box = (r) => r.querySelector('.sl-box');
return {
  open: lab.dataset.openSockets,
  mode: lab.querySelector('[data-role=mode]')?.dataset.mode,
  verdict: lab.querySelector('[data-role=verdict]')?.textContent,
  first: lab.querySelector('[data-role=first-status]')?.textContent,
  second: lab.querySelector('[data-role=second-status]')?.textContent,
  rows: [...lab.querySelectorAll('[data-role=timeline] .sl-row')].map(r => ({
    kind: r.dataset.kind, text: r.textContent,
    box: box(r)?.textContent, size: box(r) ? Number(box(r).dataset.size) : null})),
  conns: [...lab.querySelectorAll('.sl-sv-conn')].map(g => ({
    origin: g.dataset.origin, state: g.dataset.state, peer: g.dataset.peer,
    head: g.querySelector('.sl-sv-conn-head')?.textContent,
    entries: [...g.querySelectorAll('.sl-sv-entry')].map(e => ({
      event: e.dataset.event, size: e.dataset.size ? Number(e.dataset.size) : null,
      truncated: e.dataset.truncated, text: e.textContent,
      bytes: e.querySelector('[data-role=bytes]')?.textContent}))}))
};
"#;

async fn snapshot(c: &Client, lab: &str) -> Result<Value> {
    Ok(c.execute(SNAPSHOT, vec![lab.into()]).await?)
}

/// Waits until `pred` holds for the lab's snapshot; returns that snapshot.
async fn wait_snapshot(
    c: &Client,
    lab: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    loop {
        let s = snapshot(c, lab).await?;
        if pred(&s) {
            return Ok(s);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: not seen within {PAGE_TIMEOUT:?}; the lab shows {s:#}");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// The property `prop` of the element at `css` inside the lab at `lab`.
async fn lab_part(c: &Client, lab: &str, css: &str, prop: &str) -> Result<Value> {
    let script = "return document.querySelector(arguments[0] + ' ' + arguments[1])[arguments[2]];";
    Ok(c.execute(script, vec![lab.into(), css.into(), prop.into()])
        .await?)
}

fn rows(s: &Value) -> &[Value] {
    s["rows"].as_array().map_or(&[], Vec::as_slice)
}

fn conns(s: &Value) -> &[Value] {
    s["conns"].as_array().map_or(&[], Vec::as_slice)
}

fn entries(g: &Value) -> &[Value] {
    g["entries"].as_array().map_or(&[], Vec::as_slice)
}

fn open_sockets(s: &Value) -> Option<u64> {
    s["open"].as_str().and_then(|n| n.parse().ok())
}

/// The lab's button with this exact label.
async fn press(c: &Client, lab: &str, label: &str) -> Result<()> {
    let buttons = c.find_all(Locator::Css(&format!("{lab} button"))).await?;
    for b in buttons {
        if b.text().await? == label {
            b.click()
                .await
                .with_context(|| format!("clicking {label}"))?;
            return Ok(());
        }
    }
    bail!("{lab} has no button {label:?}")
}

/// Presses Enter in the lab's message field, which sends (and connects first).
async fn enter_in_message(c: &Client, lab: &str) -> Result<()> {
    c.find(Locator::Css(&format!("{lab} [data-role=message]")))
        .await?
        .send_keys(&Key::Enter.to_string())
        .await?;
    Ok(())
}

async fn open_chapter(c: &Client, site: &Site, chapter: &str, lab: &str) -> Result<()> {
    c.goto(&format!("{}/book/{chapter}.html", site.base()))
        .await?;
    let labs = c.find_all(Locator::Css("socket-lab")).await?.len();
    wait_count(c, "socket-lab[data-ready=true]", labs)
        .await
        .with_context(|| format!("{chapter}: labs did not load"))?;
    let mode = site.mode();
    wait_snapshot(c, lab, &format!("{chapter}: the lab runs {mode}"), |s| {
        s["mode"] == mode
    })
    .await?;
    Ok(())
}

/// A message for run `i`: plain, Unicode, long, spaced, markup-like, digits.
fn tcp_message(i: usize) -> String {
    match i % 6 {
        0 => "Hello, Server".into(),
        1 => format!("run {i}: ünïcödé ✓"),
        2 => "x".repeat(100 + i * 13),
        3 => format!("a b  c {i}"),
        4 => format!("<b>not html</b> & {i};"),
        _ => (0..=i).map(|d| char::from(b'0' + (d % 10) as u8)).collect(),
    }
}

fn is_ack_read(row: &Value, msg: &str) -> bool {
    let expected = format!("ACK: {msg}");
    row["kind"] == "read"
        && row["size"].as_u64() == Some(expected.len() as u64)
        && row["box"]
            .as_str()
            .is_some_and(|b| expected.starts_with(b.trim_end_matches(" …")) && !b.is_empty())
}

/// The newest server-view connection from this page.
fn last_page_conn(s: &Value) -> Option<&Value> {
    conns(s).iter().rev().find(|g| g["origin"] == "page")
}

/// The server's account of one echo: a read of `msg` and a reply of `ACK: msg`.
fn server_echoed(g: &Value, msg: &str) -> bool {
    let n = msg.len() as u64;
    let e = entries(g);
    e.iter().any(|x| x["event"] == "read" && x["size"] == n)
        && e.iter().any(|x| {
            x["event"] == "reply"
                && x["size"] == n + 5
                && x["bytes"].as_str().is_some_and(|b| b.starts_with("ACK: "))
        })
}

async fn wait_no_sockets(c: &Client, lab: &str, what: &str) -> Result<Value> {
    wait_snapshot(
        c,
        lab,
        &format!("{what}: the page's sockets back to 0"),
        |s| open_sockets(s) == Some(0),
    )
    .await
}

/// One ordinary tcp-echo run: connect, send (button or Enter), read the ACK,
/// then end it one of three ways.
async fn tcp_run(c: &Client, i: usize) -> Result<()> {
    let msg = tcp_message(i);
    let what = format!("tcp run {i} ({msg:?})");
    set_value(c, &format!("{TCP} [data-role=message]"), &msg).await?;
    if i.is_multiple_of(2) {
        press(c, TCP, "Connect").await?;
        wait_snapshot(c, TCP, &format!("{what}: connected"), |s| {
            s["first"]
                .as_str()
                .is_some_and(|t| t.contains("accepted it"))
        })
        .await?;
        press(c, TCP, "Send").await?;
    } else {
        enter_in_message(c, TCP).await?;
    }
    let s = wait_snapshot(c, TCP, &format!("{what}: the ACK"), |s| {
        rows(s).iter().any(|r| is_ack_read(r, &msg))
            && last_page_conn(s).is_some_and(|g| server_echoed(g, &msg))
    })
    .await?;
    let verdict = s["verdict"].as_str().unwrap_or_default();
    ensure!(
        verdict.contains(&format!(
            "ACK: and a space followed by the {} bytes it sent",
            msg.len()
        )),
        "{what}: the verdict does not follow from the read: {verdict:?}"
    );
    let (button, closed_by) = match i % 3 {
        0 => ("Close", "closed by the client"),
        1 => ("Half-close (shutdown)", "closed by the client"),
        _ => ("Reset (RST)", "closed by the client"),
    };
    press(c, TCP, button).await?;
    let s = wait_snapshot(c, TCP, &format!("{what}: {button}"), |s| {
        open_sockets(s) == Some(0)
            && s["first"] == "not connected"
            && last_page_conn(s).is_some_and(|g| {
                g["state"] == "closed"
                    && entries(g).iter().any(|e| {
                        e["event"] == "closed"
                            && e["text"].as_str().is_some_and(|t| t.contains(closed_by))
                    })
            })
    })
    .await?;
    ensure!(
        !s.to_string().contains('`'),
        "{what}: Markdown backticks in the lab"
    );
    Ok(())
}

/// Two connections: the second waits while the first holds the server, and
/// is answered only after the first closes; the verdict says so.
async fn tcp_two_connections(c: &Client, i: usize) -> Result<()> {
    let what = format!("tcp run {i} (two connections)");
    let msg = format!("first {i}");
    set_value(c, &format!("{TCP} [data-role=message]"), &msg).await?;
    press(c, TCP, "Send").await?;
    wait_snapshot(c, TCP, &format!("{what}: first answered"), |s| {
        rows(s).iter().any(|r| is_ack_read(r, &msg))
    })
    .await?;
    let second = format!("second {i}");
    set_value(c, &format!("{TCP} [data-role=message]"), &second).await?;
    press(c, TCP, "Open a second connection").await?;
    press(c, TCP, "Send on the second").await?;
    let s = wait_snapshot(c, TCP, &format!("{what}: the second waits"), |s| {
        s["second"]
            .as_str()
            .is_some_and(|t| t.contains("still serving the first connection"))
    })
    .await?;
    ensure!(
        !rows(&s).iter().any(|r| is_ack_read(r, &second)),
        "{what}: the second was answered while the first held the server"
    );
    ensure!(
        !s["verdict"]
            .as_str()
            .unwrap_or_default()
            .contains("only after"),
        "{what}: the verdict speaks of an order the events have not shown yet"
    );
    press(c, TCP, "Close").await?;
    let s = wait_snapshot(c, TCP, &format!("{what}: the second answered"), |s| {
        rows(s).iter().any(|r| is_ack_read(r, &second))
            && s["verdict"]
                .as_str()
                .is_some_and(|v| v.contains("only after the first connection closed"))
    })
    .await?;
    // The server view shows the order: the first closed before the second was accepted.
    let page: Vec<&Value> = conns(&s).iter().filter(|g| g["origin"] == "page").collect();
    ensure!(
        page.len() >= 2,
        "{what}: both connections in the server view"
    );
    let (a, b) = (page[page.len() - 2], page[page.len() - 1]);
    ensure!(
        a["state"] == "closed" && server_echoed(a, &msg) && server_echoed(b, &second),
        "{what}: the server view does not show both echoes: {a:#} {b:#}"
    );
    press(c, TCP, "Close the second").await?;
    let s = wait_no_sockets(c, TCP, &what).await?;
    ensure!(s["second"] == "not connected", "{what}: second still shown");
    Ok(())
}

/// Connect and send nothing: the server's timeout and close are in the
/// server view, and the lab is back to "not connected".
async fn tcp_silent(c: &Client) -> Result<()> {
    press(c, TCP, "Connect").await?;
    let s = wait_snapshot(c, TCP, "silent client: timed out", |s| {
        last_page_conn(s).is_some_and(|g| {
            entries(g).iter().any(|e| e["event"] == "timeout")
                && entries(g).iter().any(|e| {
                    e["event"] == "closed"
                        && e["text"]
                            .as_str()
                            .is_some_and(|t| t.contains("closed by the server"))
                })
        }) && open_sockets(s) == Some(0)
    })
    .await?;
    ensure!(
        s["first"] == "not connected",
        "silent client: lab still connected: {s:#}"
    );
    ensure!(
        rows(&s).iter().any(|r| r["text"]
            .as_str()
            .is_some_and(|t| t.contains("closed by the server"))),
        "silent client: the timeline does not say who closed"
    );
    Ok(())
}

async fn tcp_session(c: &Client, site: &Site) -> Result<()> {
    open_chapter(c, site, "tcp-echo", TCP).await?;
    for i in 0..RUNS {
        if i % 5 == 4 {
            tcp_two_connections(c, i).await?;
        } else {
            tcp_run(c, i).await?;
        }
        // The learner runs the book's client in a terminal meanwhile.
        if i == 12
            && let Some(out) = terminal(site, "tcp_echo_client.py", "tcp-echo").await?
        {
            ensure!(out.contains("ACK: Hello, Server"), "client printed {out:?}");
            wait_snapshot(c, TCP, "the terminal client in the server view", |s| {
                conns(s).iter().any(|g| {
                    g["origin"] == "other"
                        && g["head"]
                            .as_str()
                            .is_some_and(|h| h.contains("another program"))
                        && server_echoed(g, "Hello, Server")
                        && g["state"] == "closed"
                })
            })
            .await?;
        }
    }
    if site.server().is_some() {
        // The test server's idle timeout is 3 s; the simulation's is the demo's own.
        tcp_silent(c).await?;
    }
    screenshot(c, &out_dir().join(format!("tcp-echo-{}.png", site.mode()))).await?;
    Ok(())
}

/// Inputs for udp run `i`: (message, datagrams, pad-to size).
fn udp_inputs(i: usize) -> (String, usize, usize) {
    let pads = [0, 100, 1024, 1025, 1500, 0, 2000];
    let msg = match i % 4 {
        0 => "Hello via UDP".to_owned(),
        1 => format!("dgram {i} ✓"),
        2 => format!("a  b {i}"),
        _ => "x".into(),
    };
    (msg, 1 + i % 4, pads[i % pads.len()])
}

/// The size datagram `k` of `n` will have (numbered when several, then padded).
fn udp_size(msg: &str, k: usize, n: usize, pad: usize) -> usize {
    let numbered = if n == 1 {
        msg.len()
    } else {
        format!("#{} {msg}", k + 1).len()
    };
    numbered.max(pad)
}

async fn udp_run(c: &Client, i: usize) -> Result<()> {
    let (msg, n, pad) = udp_inputs(i);
    let what = format!("udp run {i} ({msg:?} x{n}, pad {pad})");
    set_value(c, &format!("{UDP} [data-role=message]"), &msg).await?;
    set_value(c, &format!("{UDP} [data-role=count]"), &n.to_string()).await?;
    set_value(c, &format!("{UDP} [data-role=pad]"), &pad.to_string()).await?;
    if i.is_multiple_of(2) {
        press(c, UDP, "Send datagrams").await?;
    } else {
        enter_in_message(c, UDP).await?;
    }
    let s = wait_snapshot(c, UDP, &format!("{what}: the run ends"), |s| {
        open_sockets(s) == Some(0)
            && s["verdict"]
                .as_str()
                .is_some_and(|v| v.contains(&format!("the server received {n},")))
    })
    .await?;
    let replies = rows(&s)
        .iter()
        .filter(|r| r["kind"] == "read" && r["box"] == "Message received")
        .count();
    let sends: Vec<u64> = rows(&s)
        .iter()
        .filter(|r| r["kind"] == "send")
        .filter_map(|r| r["size"].as_u64())
        .collect();
    let expected: Vec<u64> = (0..n).map(|k| udp_size(&msg, k, n, pad) as u64).collect();
    ensure!(
        replies == n && sends == expected,
        "{what}: {replies} replies, sends {sends:?}, expected {expected:?}"
    );
    // The server's account of this run: one group for the run's socket.
    let g = last_page_conn(&s).context("no page datagrams in the server view")?;
    let mut seen: Vec<(u64, bool)> = entries(g)
        .iter()
        .filter(|e| e["event"] == "datagram")
        .map(|e| (e["size"].as_u64().unwrap_or(0), e["truncated"] == "true"))
        .collect();
    seen.sort();
    let mut want: Vec<(u64, bool)> = expected.iter().map(|&z| (z, z > 1024)).collect();
    want.sort();
    ensure!(
        seen == want,
        "{what}: server saw {seen:?}, expected {want:?}"
    );
    let verdict = s["verdict"].as_str().unwrap_or_default();
    let truncated = want.iter().any(|(_, t)| *t);
    ensure!(
        verdict.contains("cut") == truncated && verdict.contains(&format!("{replies} repl")),
        "{what}: the verdict does not follow from the events: {verdict:?}"
    );
    ensure!(
        !s.to_string().contains('`'),
        "{what}: Markdown backticks in the lab"
    );
    Ok(())
}

/// Simulated loss and reordering: whatever arrives, the verdict counts what
/// the server view and the timeline show, and names loss only when some
/// datagram is missing.
async fn udp_lossy_runs(c: &Client) -> Result<()> {
    set_value(c, &format!("{UDP} [data-role=loss]"), "40").await?;
    set_value(c, &format!("{UDP} [data-role=reorder]"), "50").await?;
    set_value(c, &format!("{UDP} [data-role=count]"), "8").await?;
    set_value(c, &format!("{UDP} [data-role=pad]"), "0").await?;
    set_value(c, &format!("{UDP} [data-role=message]"), "lossy").await?;
    for i in 0..5 {
        let what = format!("lossy run {i}");
        press(c, UDP, "Send datagrams").await?;
        let s = wait_snapshot(c, UDP, &what, |s| {
            open_sockets(s) == Some(0)
                && s["verdict"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("8 datagrams sent"))
        })
        .await?;
        let g = last_page_conn(&s);
        let seen = g.map_or(0, |g| {
            entries(g)
                .iter()
                .filter(|e| e["event"] == "datagram")
                .count()
        });
        let replies = rows(&s).iter().filter(|r| r["kind"] == "read").count();
        let verdict = s["verdict"].as_str().unwrap_or_default();
        ensure!(
            verdict.contains(&format!("the server received {seen},"))
                && verdict.contains(&format!("{replies} repl"))
                && verdict.contains("never reached") == (seen < 8),
            "{what}: the verdict does not follow from {seen} datagrams and {replies} replies: {verdict:?}"
        );
    }
    set_value(c, &format!("{UDP} [data-role=loss]"), "0").await?;
    set_value(c, &format!("{UDP} [data-role=reorder]"), "0").await?;
    Ok(())
}

async fn udp_session(c: &Client, site: &Site) -> Result<()> {
    open_chapter(c, site, "udp-echo", UDP).await?;
    // Loss and reordering are offered only where they act.
    let hidden = lab_part(c, UDP, "[data-role=sim-network]", "hidden").await?;
    ensure!(
        hidden == Value::Bool(site.server().is_some()),
        "the simulated-network controls are shown {} (hidden = {hidden})",
        site.mode()
    );
    for i in 0..RUNS {
        udp_run(c, i).await?;
        if i == 10
            && let Some(out) = terminal(site, "udp_echo_client.py", "udp-echo").await?
        {
            ensure!(out.contains("Message received"), "client printed {out:?}");
            // And a 1500-byte datagram from "a terminal", as the exercise asks.
            let port = site.port("udp-echo")?.context("a live site")?;
            let big = tokio::process::Command::new("python3")
                .arg("-c")
                .arg(format!(
                    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
                     s.sendto(b'x' * 1500, ('127.0.0.1', {port}))"
                ))
                .status()
                .await?;
            ensure!(big.success(), "python3 -c failed");
            wait_snapshot(c, UDP, "the terminal's datagrams in the server view", |s| {
                let others: Vec<&Value> = conns(s)
                    .iter()
                    .filter(|g| {
                        g["origin"] == "other"
                            && g["head"]
                                .as_str()
                                .is_some_and(|h| h.contains("another program"))
                    })
                    .collect();
                let has = |size: u64, t: &str| {
                    others.iter().any(|g| {
                        entries(g).iter().any(|e| {
                            e["event"] == "datagram" && e["size"] == size && e["truncated"] == t
                        })
                    })
                };
                has(13, "false") && has(1500, "true")
            })
            .await?;
        }
    }
    if site.server().is_none() {
        udp_lossy_runs(c).await?;
    }
    screenshot(c, &out_dir().join(format!("udp-echo-{}.png", site.mode()))).await?;
    Ok(())
}

const PORTS: &str = "socket-lab[lab=ports]";
const LAYERS: &str = "socket-lab[lab=layers]";

/// The ports lab's two rows, as text cells.
const TUPLE: &str = r#"
const lab = document.querySelector(arguments[0]);
const row = (r) => [...lab.querySelectorAll(`[data-role=tuple] tr[data-role=${r}] td`)].map(td => td.textContent);
return {mine: row('mine'), theirs: row('theirs'), open: lab.dataset.openSockets,
        verdict: lab.querySelector('[data-role=verdict]').textContent};
"#;

async fn ports_session(c: &Client, site: &Site) -> Result<()> {
    open_chapter(c, site, "addresses-and-ports", PORTS).await?;
    let mut client_ports = Vec::new();
    for i in 0..RUNS {
        press(c, PORTS, "Connect to uppercase").await?;
        let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
        let t = loop {
            let t = c.execute(TUPLE, vec![PORTS.into()]).await?;
            let full = |r: &Value| r.as_array().is_some_and(|a| a.len() == 5 && a[2] != "…");
            if full(&t["mine"]) && full(&t["theirs"]) && t["open"] == "0" && t["verdict"] != "" {
                break t;
            }
            if tokio::time::Instant::now() > deadline {
                let all = snapshot(c, PORTS).await?;
                bail!(
                    "ports run {i}: the two ends did not both appear: {t:#}; the lab shows {all:#}"
                );
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        };
        // The same four numbers from both ends, and the verdict says so.
        ensure!(
            t["mine"].as_array().map(|a| &a[1..]) == t["theirs"].as_array().map(|a| &a[1..]),
            "ports run {i}: ends differ: {t:#}"
        );
        ensure!(
            t["verdict"]
                .as_str()
                .is_some_and(|v| v.contains("Same four numbers")),
            "ports run {i}: verdict {t:#}"
        );
        client_ports.push(t["mine"][2].as_str().unwrap_or_default().to_owned());
    }
    let mut distinct = client_ports.clone();
    distinct.sort();
    distinct.dedup();
    ensure!(
        distinct.len() > 1,
        "{RUNS} connections, one client port: {client_ports:?}"
    );
    Ok(())
}

async fn layers_session(c: &Client, site: &Site) -> Result<()> {
    open_chapter(c, site, "osi-and-sockets", LAYERS).await?;
    let samples = ["Hello, Server", "ünïcödé", "a b c", "", "<b>bold?</b>"];
    let messages: Vec<String> = (0..RUNS)
        .map(|i| match samples[i % samples.len()] {
            // An empty field sends nothing: pad it so every run sends bytes.
            "" => "y".repeat(100 + 7 * i),
            m => format!("{m} #{i}"),
        })
        .collect();
    for (i, msg) in messages.iter().enumerate() {
        set_value(c, &format!("{LAYERS} [data-role=message]"), msg).await?;
        press(c, LAYERS, "Send it").await?;
        let s = wait_snapshot(c, LAYERS, &format!("layers run {i}"), |s| {
            open_sockets(s) == Some(0)
                && s["verdict"]
                    .as_str()
                    .is_some_and(|v| v.contains(&format!("exactly the {} bytes", msg.len())))
        })
        .await?;
        // The TCP row names the port the page's socket reported.
        let local = rows(&s)
            .iter()
            .find_map(|r| {
                r["text"]
                    .as_str()?
                    .split("your end ")
                    .nth(1)?
                    .split(',')
                    .next()
                    .map(str::to_owned)
            })
            .context("no connected row")?;
        let port = local.rsplit(':').next().unwrap_or_default().to_owned();
        let tcp = lab_part(c, LAYERS, "tr[data-layer=\"0\"]", "textContent").await?;
        ensure!(
            tcp.as_str()
                .is_some_and(|t| t.contains(&format!("source port {port} "))),
            "layers run {i}: the TCP row does not show port {port}: {tcp}"
        );
        ensure!(
            last_page_conn(&s).is_some_and(|g| entries(g)
                .iter()
                .any(|e| e["event"] == "read" && e["size"] == msg.len() as u64)),
            "layers run {i}: the server view lacks the read"
        );
    }
    Ok(())
}

async fn ports_and_layers(c: &Client, site: &Site) -> Result<()> {
    ports_session(c, site).await?;
    layers_session(c, site).await
}

/// Opens `path` on the site, either as the page itself or, for a phone-sized
/// look, inside a 390-pixel-wide frame (headless Chromium will not make its
/// window that narrow); in the frame case the session is left inside it.
async fn show(
    c: &Client,
    site: &Site,
    path: &str,
    narrow: bool,
    theme: Option<&str>,
) -> Result<()> {
    let url = format!("{}{path}", site.base());
    if narrow {
        // A parent on the same origin (a blank page elsewhere would be held
        // back by the browser's local-network checks).
        c.goto(&format!("{}/socket-lab.css", site.base())).await?;
        c.execute(
            "document.body.style.margin = '0'; \
             document.body.innerHTML = '<iframe style=\"width:390px;height:2400px;border:0\"></iframe>'; \
             document.querySelector('iframe').src = arguments[0];",
            vec![url.into()],
        )
        .await?;
        // Enter the frame once it holds the page (not its first about:blank).
        let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c.enter_frame(0).await?;
            let here: Value = c
                .execute(
                    "return document.readyState === 'complete' ? location.href : null",
                    vec![],
                )
                .await?;
            if here.as_str().is_some_and(|h| h.starts_with(site.base())) {
                break;
            }
            c.enter_parent_frame().await?;
            if tokio::time::Instant::now() > deadline {
                bail!("{path}: the frame did not load");
            }
        }
    } else {
        c.goto(&url).await?;
        if let Some(theme) = theme {
            // mdBook's theme picker keeps its choice here.
            c.execute(
                "localStorage.setItem('mdbook-theme', arguments[0]); location.reload();",
                vec![theme.into()],
            )
            .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    loop {
        let labs = c.find_all(Locator::Css("socket-lab")).await?.len();
        let ready = c
            .find_all(Locator::Css("socket-lab[data-ready=true]"))
            .await?
            .len();
        if labs > 0 && labs == ready {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{path}: {ready} of {labs} labs ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Scrolls `lab` into view, checks the page does not scroll sideways, and
/// saves a picture of the window.
async fn picture(c: &Client, lab: &str, name: &str, narrow: bool) -> Result<()> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let wide: Value = c
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView(); \
             const d = document.documentElement; \
             if (d.scrollWidth <= d.clientWidth) return null; \
             return [d.scrollWidth, d.clientWidth, ...[...document.querySelectorAll('body *')] \
               .filter(e => e.getBoundingClientRect().right > d.clientWidth + 1 && !e.parentElement.closest('pre')) \
               .slice(0, 6).map(e => e.tagName + '.' + e.className)];",
            vec![lab.into()],
        )
        .await?;
    if narrow {
        c.enter_parent_frame().await?;
    }
    screenshot(c, &out_dir().join(format!("{name}.png"))).await?;
    if narrow {
        c.enter_frame(0).await?;
    }
    ensure!(wide.is_null(), "{name}: the page scrolls sideways: {wide}");
    Ok(())
}

/// Pictures of each lab after a run: light, dark, and a 390-pixel phone.
/// Written under target/e2e-learner (not the committed screenshots).
#[tokio::test]
async fn lab_pictures() -> Result<()> {
    let looks = [
        ("light", false, false, None),
        ("dark", true, false, None),
        ("narrow", false, true, None),
        // mdBook's Coal theme on a light system: the labs follow the book.
        ("coal", false, false, Some("coal")),
    ]
    .map(|(look, dark, narrow, theme)| {
        let options = BrowserOptions {
            dark,
            size: (1280, 2600),
        };
        (options, (look, narrow, theme))
    });
    let site = start_live().await?;
    site.each_look(looks, async |c, site, (look, narrow, theme)| {
        for (chapter, lab, button) in [
            ("tcp-echo", TCP, "Send"),
            ("udp-echo", UDP, "Send datagrams"),
            ("addresses-and-ports", PORTS, "Connect to uppercase"),
            ("osi-and-sockets", LAYERS, "Send it"),
        ] {
            show(c, site, &format!("/book/{chapter}.html"), narrow, theme).await?;
            wait_snapshot(c, lab, "live", |s| s["mode"] == "live").await?;
            press(c, lab, button).await?;
            if lab == TCP {
                press(c, lab, "Open a second connection").await?;
                press(c, lab, "Send on the second").await?;
                wait_snapshot(c, lab, "second waits", |s| {
                    s["second"]
                        .as_str()
                        .is_some_and(|t| t.contains("still serving"))
                })
                .await?;
            } else {
                wait_no_sockets(c, lab, chapter).await?;
            }
            picture(c, lab, &format!("{chapter}-{look}"), narrow).await?;
            if lab == TCP {
                press(c, lab, "Close").await?;
                press(c, lab, "Close the second").await?;
                wait_no_sockets(c, lab, chapter).await?;
            }
        }
        // The index page's log of every demo, after a run of the tcp-echo lab there.
        show(c, site, "/", narrow, None).await?;
        wait_snapshot(c, TCP, "index live", |s| s["mode"] == "live").await?;
        press(c, TCP, "Send").await?;
        press(c, TCP, "Close").await?;
        wait_count(
            c,
            "socket-lab[lab=events] .sl-sv-conn[data-state=closed]",
            1,
        )
        .await?;
        picture(
            c,
            "socket-lab[lab=events]",
            &format!("index-events-{look}"),
            narrow,
        )
        .await?;
        Ok(())
    })
    .await
}

/// client-server.md: the lab's connection and a terminal client side by
/// side; and while the lab holds the iterative server, the terminal client
/// waits (the server view has not seen it) until the lab's Close.
/// beyond-the-notes.md: the book's half-close client in that chapter's view.
#[tokio::test]
async fn terminal_clients_beside_the_lab() -> Result<()> {
    start_live()
        .await?
        .session(async |c, site| {
            let server = site.server().context("live")?;
            open_chapter(c, site, "client-server", TCP).await?;
            press(c, TCP, "Send").await?;
            wait_snapshot(c, TCP, "the lab's ACK", |s| {
                rows(s).iter().any(|r| is_ack_read(r, "Hello, Server"))
            })
            .await?;
            // The lab holds the server; the terminal client has to wait.
            let port = server.demo("tcp-echo")?.port();
            let waiting = tokio::process::Command::new("python3")
                .arg(e2e::learner::book_src().join("code/python/tcp_echo_client.py"))
                .env("SOCKET_LAB_TCP_ECHO_PORT", port.to_string())
                .output();
            let waiting = tokio::spawn(waiting);
            tokio::time::sleep(Duration::from_millis(800)).await;
            let s = snapshot(c, TCP).await?;
            ensure!(
                !conns(&s).iter().any(|g| g["origin"] == "other"),
                "the server accepted the terminal client while the lab held it: {s:#}"
            );
            press(c, TCP, "Close").await?;
            let out = waiting.await??;
            ensure!(
                out.status.success()
                    && String::from_utf8_lossy(&out.stdout).contains("ACK: Hello, Server"),
                "the waiting client: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let s = wait_snapshot(c, TCP, "both connections in the view", |s| {
                let page = last_page_conn(s).is_some_and(|g| server_echoed(g, "Hello, Server"));
                let other = conns(s)
                    .iter()
                    .any(|g| g["origin"] == "other" && server_echoed(g, "Hello, Server"));
                page && other && open_sockets(s) == Some(0)
            })
            .await?;
            let peers: Vec<&str> = conns(&s)
                .iter()
                .filter_map(|g| g["peer"].as_str())
                .collect();
            ensure!(
                peers.len() == 2 && peers[0] != peers[1],
                "two client ports: {peers:?}"
            );

            open_chapter(c, site, "beyond-the-notes", TCP).await?;
            let out = terminal(site, "half_close_client.py", "tcp-echo").await?;
            let out = out.context("a live site")?;
            ensure!(out.contains("ACK: Hello, Server"), "{out}");
            wait_snapshot(c, TCP, "the half-close client in the view", |s| {
                conns(s).iter().any(|g| {
                    g["origin"] == "other"
                        && server_echoed(g, "Hello, Server")
                        && entries(g).iter().any(|e| {
                            e["event"] == "closed"
                                && e["text"]
                                    .as_str()
                                    .is_some_and(|t| t.contains("closed by the client"))
                        })
                })
            })
            .await?;
            Ok(())
        })
        .await
}

/// A live site whose idle timeout is short enough for the silent-client run
/// to end within the page timeout.
async fn start_live() -> Result<Site> {
    Site::start_live(|config| config.idle_timeout = Duration::from_secs(3)).await
}

e2e::live_and_simulated! {
    tcp_echo_learner_session_live, tcp_echo_learner_session_simulated:
        start_live() => |site: Site| site.session(tcp_session);
    udp_echo_learner_session_live, udp_echo_learner_session_simulated:
        start_live() => |site: Site| site.session(udp_session);
    ports_and_layers_live, ports_and_layers_simulated:
        start_live() => |site: Site| site.session(ports_and_layers);
}
