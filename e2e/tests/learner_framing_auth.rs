//! A learner's afternoon in two chapters, in a real browser: the framing lab
//! run thirty times in a row in `framing.html` (valid frames, two frames in
//! one write, invalid JSON and UTF-8, an oversize header typed in hex, text
//! sent unframed) and the auth lab thirty times in `hmac-auth.html` (right
//! secret, wrong secret, a replayed answer, silence, against a server with a
//! short handshake timeout so silent runs are quick). After every run the
//! test checks that the verdict agrees with what the page shows (the reply
//! frames it read and the server's events; the answer, the expected HMAC and
//! what the server received) and that the page's socket count is back to 0.
//! The book's Python clients run meanwhile and must appear in the chapter's
//! server view as another program.
//!
//! The same sessions run in simulated mode from a static copy of the site
//! (`*_simulated`).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::learner::{js, python, sockets_back_to_zero, wait_js};
use e2e::{
    BrowserOptions, StaticServer, click, dist, screenshot, set_value, start_server, wait_lab,
    with_browser,
};
use fantoccini::Client;
use serde_json::Value;

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

async fn shot(c: &Client, lab: &str, name: &str) -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/learner-shots");
    js(
        c,
        &format!(
            "document.querySelector('{lab} [data-role=timeline]').scrollIntoView(); return null;"
        ),
    )
    .await?;
    screenshot(c, &dir.join(format!("{name}.png"))).await
}

const FRAMING: &str = "socket-lab[lab=framing]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Send {
    Valid,
    TwoInOne,
    InvalidJson,
    Oversize,
    ByteByByte,
    InvalidUtf8,
    Unframed,
}

/// What the framing lab shows now.
async fn framing_state(c: &Client) -> Result<Value> {
    js(
        c,
        &format!(
            "const q = s => [...document.querySelectorAll('{FRAMING} [data-role=timeline] ' + s)]; \
             const v = document.querySelector('{FRAMING} [data-role=verdict]'); \
             return {{verdict: v.getAttribute('data-verdict'), text: v.textContent, \
               decoded: Number(v.getAttribute('data-decoded')), refused: Number(v.getAttribute('data-refused')), \
               state: document.querySelector('{FRAMING} [data-role=conn-status]').getAttribute('data-state'), \
               decodedRows: q('[data-event=frame-decoded]').length, \
               rejected: q('[data-event=frame-rejected]').map(r => r.getAttribute('data-code')), \
               replies: q('[data-event=reply-frame]').map(r => [r.querySelector('[data-role=frame-header]').textContent, \
                   Number(r.querySelector('.sl-box:not(.sl-header)').getAttribute('data-size'))]), \
               errors: q('[data-event=error-frame]').length, \
               notes: q('[data-event=note]').map(r => r.textContent), \
               closedBy: q('[data-event=server-closed]').map(r => r.getAttribute('data-by'))}};"
        ),
    )
    .await
}

async fn wait_framing(c: &Client, i: usize, ok: impl Fn(&Value) -> bool) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = framing_state(c).await?;
        if ok(&s) {
            return Ok(s);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("framing run {i}: the expected outcome did not appear; the lab shows {s}");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// The reply headers shown must decode to the payload sizes shown.
fn headers_agree(i: usize, s: &Value) -> Result<()> {
    for r in s["replies"].as_array().into_iter().flatten() {
        let label = r[0].as_str().unwrap_or("");
        let size = r[1].as_u64().unwrap_or(0);
        let hex: Vec<u8> = label
            .trim_start_matches("header ")
            .split(" = ")
            .next()
            .unwrap_or("")
            .split(' ')
            .filter_map(|b| u8::from_str_radix(b, 16).ok())
            .collect();
        ensure!(hex.len() == 4, "framing run {i}: reply header {label:?}");
        let n = u32::from_be_bytes([hex[0], hex[1], hex[2], hex[3]]) as u64;
        ensure!(
            label.ends_with(&format!(" = {n}")) && n == size,
            "framing run {i}: reply header {label:?} but the payload shown is {size} bytes"
        );
    }
    Ok(())
}

async fn framing_run(c: &Client, i: usize, how: Send, text: &str) -> Result<()> {
    set_value(c, &format!("{FRAMING} [data-role=json-input]"), text).await?;
    let role = match how {
        Send::Valid => "send-whole",
        Send::TwoInOne => "send-two",
        Send::InvalidJson => "send-invalid-json",
        Send::Oversize => {
            set_value(
                c,
                &format!("{FRAMING} [data-role=header-hex]"),
                "ff ff ff ff",
            )
            .await?;
            "send-header"
        }
        Send::ByteByByte => "send-bytes",
        Send::InvalidUtf8 => "send-invalid-utf8",
        Send::Unframed => "send-unframed",
    };
    click(c, &format!("{FRAMING} [data-role={role}]")).await?;
    let s = match how {
        Send::Valid | Send::ByteByByte | Send::TwoInOne => {
            let want = if how == Send::TwoInOne { 2 } else { 1 };
            let s =
                wait_framing(c, i, |s| s["decoded"] == want && s["verdict"] == "decoded").await?;
            ensure!(
                s["decodedRows"] == want
                    && s["replies"].as_array().map(Vec::len) == Some(want)
                    && s["refused"] == 0
                    && s["errors"] == 0
                    && s["state"] == "open",
                "framing run {i} ({how:?}): {want} frames decoded and answered on an open connection expected; {s}"
            );
            s
        }
        Send::InvalidJson | Send::InvalidUtf8 => {
            let code = if how == Send::InvalidJson {
                "invalid_json"
            } else {
                "invalid_utf8"
            };
            let s =
                wait_framing(c, i, |s| s["verdict"] == "refused-open" && s["errors"] == 1).await?;
            ensure!(
                s["rejected"] == serde_json::json!([code])
                    && s["state"] == "open"
                    && s["decoded"] == 0,
                "framing run {i}: {code} refused with the connection open expected; {s}"
            );
            // The same connection carries on: a good frame is decoded on it.
            click(c, &format!("{FRAMING} [data-role=send-whole]")).await?;
            let s = wait_framing(c, i, |s| s["verdict"] == "decoded").await?;
            ensure!(
                s["decoded"] == 1
                    && s["refused"] == 1
                    && s["state"] == "open"
                    && s["closedBy"] == serde_json::json!([]),
                "framing run {i}: a frame after the error frame should be decoded on the same connection; {s}"
            );
            s
        }
        Send::Oversize | Send::Unframed => {
            let s = wait_framing(c, i, |s| {
                s["verdict"] == "refused-closed" && s["state"] == "closed" && s["errors"] == 1
            })
            .await?;
            ensure!(
                s["rejected"] == serde_json::json!(["too_large"])
                    && s["closedBy"] == serde_json::json!(["server"]),
                "framing run {i} ({how:?}): too_large and a close by the server expected; {s}"
            );
            let first: [u8; 4] = if how == Send::Oversize {
                [0xff; 4]
            } else {
                text.as_bytes()[..4].try_into()?
            };
            let claimed = grouped(u64::from(u32::from_be_bytes(first)));
            ensure!(
                s["notes"].as_array().into_iter().flatten().any(|n| {
                    let n = n.as_str().unwrap_or("");
                    n.contains(&claimed) && n.contains("at once")
                }),
                "framing run {i}: the note should read the first 4 bytes as {claimed} and say the server refuses at once; {s}"
            );
            s
        }
    };
    headers_agree(i, &s)?;
    let open = js(
        c,
        &format!("return !document.querySelector('{FRAMING} [data-role=close]').disabled;"),
    )
    .await?;
    if s["state"] == "open" {
        ensure!(
            open == true,
            "framing run {i}: the connection is open but Close is disabled"
        );
        click(c, &format!("{FRAMING} [data-role=close]")).await?;
    }
    sockets_back_to_zero(c, FRAMING)
        .await
        .with_context(|| format!("framing run {i}"))
}

async fn framing_session(c: &Client, base: &str, python_port: Option<u16>) -> Result<()> {
    c.goto(&format!("{base}/book/framing.html")).await?;
    wait_lab(c, FRAMING).await?;
    let kinds = [
        Send::Valid,
        Send::TwoInOne,
        Send::InvalidJson,
        Send::Oversize,
        Send::ByteByByte,
        Send::InvalidUtf8,
        Send::Unframed,
    ];
    let texts = [
        r#"{"msg": "Hello"}"#,
        r#"{"n": 7}"#,
        r#"{"text": "héllo wörld"}"#,
        "[1, 2, 3]",
        r#"{"nested": {"a": [true, null]}}"#,
    ];
    for i in 0..30 {
        framing_run(c, i, kinds[i % kinds.len()], texts[i % texts.len()]).await?;
        if i == 10
            && let Some(port) = python_port
        {
            python("framed_client.py", "SOCKET_LAB_FRAMED_PORT", port).await?;
            wait_js(
                c,
                "framed_client.py in the chapter's server view as another program",
                &format!(
                    "const g = [...document.querySelectorAll('{FRAMING} [data-role=server-view] [data-origin=other][data-demo=framed]')]; \
                     return g.some(x => x.textContent.includes('frame decoded')) ? true : null;"
                ),
                Duration::from_secs(10),
            )
            .await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn framing_chapter_thirty_runs_live() -> Result<()> {
    let server = start_server(|_| {}).await?;
    let port = server.demo("framed")?.port();
    let base = server.base.clone();
    let result = with_browser(BrowserOptions::default(), |c| async move {
        framing_session(&c, &base, Some(port)).await?;
        shot(&c, FRAMING, "framing-light").await
    })
    .await;
    server.stop().await?;
    result
}

#[tokio::test]
async fn framing_chapter_thirty_runs_simulated() -> Result<()> {
    let site = StaticServer::start(dist()?).await?;
    let base = site.base.clone();
    with_browser(BrowserOptions::default(), |c| async move {
        framing_session(&c, &base, None).await
    })
    .await
}

const AUTH: &str = "socket-lab[lab=auth]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Play {
    Right,
    Wrong,
    Silent,
    Replay,
    /// The right client secret, but a wrong guess typed as the demo's secret.
    WrongGuess,
}

async fn auth_state(c: &Client) -> Result<Value> {
    js(
        c,
        &format!(
            "const q = s => [...document.querySelectorAll('{AUTH} [data-role=timeline] ' + s)]; \
             const hex = s => q(s).map(r => r.querySelector('.sl-hex').textContent); \
             const v = document.querySelector('{AUTH} [data-role=verdict]'); \
             return {{verdict: v.getAttribute('data-verdict'), text: v.textContent, \
               answer: hex('[data-event=answer]'), expected: hex('[data-event=expected]'), \
               challenge: hex('[data-event=challenge]'), serverChallenge: hex('[data-event=server-challenge]'), \
               received: hex('[data-event=server-received]'), \
               silent: q('[data-event=silent]').length, timeouts: q('[data-event=server-timeout]').length, \
               page: q('[data-event=verdict]').map(r => r.textContent)}};"
        ),
    )
    .await
}

async fn auth_run(
    c: &Client,
    i: usize,
    play: Play,
    last_answer: &mut Option<String>,
) -> Result<()> {
    let secret = match play {
        Play::Wrong => format!("not the secret {i}"),
        _ => "my_super_secret_key".to_owned(),
    };
    set_value(c, &format!("{AUTH} [data-role=secret]"), &secret).await?;
    let guess = match play {
        Play::WrongGuess => format!("a guess {i}"),
        _ => "my_super_secret_key".to_owned(),
    };
    set_value(c, &format!("{AUTH} [data-role=server-secret]"), &guess).await?;
    let role = match play {
        Play::Right | Play::Wrong | Play::WrongGuess => "run",
        Play::Silent => "silent",
        Play::Replay => "replay",
    };
    click(c, &format!("{AUTH} [data-role={role}]")).await?;
    if play == Play::Silent {
        wait_js(
            c,
            &format!("auth run {i}: a countdown while silent"),
            &format!(
                "const e = document.querySelector('{AUTH} [data-role=countdown]'); \
                 return !e.hidden && e.textContent.includes('gives up in') ? true : null;"
            ),
            Duration::from_secs(5),
        )
        .await?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let s = loop {
        let s = auth_state(c).await?;
        let v = s["verdict"].as_str().unwrap_or("pending");
        if v != "pending" && !s["page"].as_array().is_none_or(Vec::is_empty) {
            break s;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("auth run {i} ({play:?}): no verdict; the lab shows {s}");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    };
    let one = |k: &str| {
        s[k].as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let text = s["text"].as_str().unwrap_or("");
    let page = s["page"][0].as_str().unwrap_or("");
    ensure!(
        one("challenge").is_some() && one("challenge") == one("serverChallenge"),
        "auth run {i}: the challenge the page read differs from the one the server says it sent: {s}"
    );
    match play {
        Play::Right => {
            ensure!(
                s["verdict"] == "granted" && page.contains("Access Granted"),
                "auth run {i}: granted expected: {s}"
            );
            ensure!(
                one("answer").is_some()
                    && one("answer") == one("expected")
                    && one("answer") == one("received"),
                "auth run {i}: the answer, the expected HMAC and what the server received must be the same: {s}"
            );
            *last_answer = one("answer");
        }
        Play::WrongGuess => {
            ensure!(
                s["verdict"] == "granted"
                    && one("answer") == one("received")
                    && one("answer") != one("expected")
                    && text.contains("not the one the server uses"),
                "auth run {i}: granted, with a note that the typed demo secret is wrong, expected: {s}"
            );
            *last_answer = one("answer");
        }
        Play::Wrong | Play::Replay => {
            ensure!(
                s["verdict"] == "wrong_answer" && page.contains("Access Denied"),
                "auth run {i}: wrong_answer expected: {s}"
            );
            ensure!(
                one("answer") != one("expected") && one("answer") == one("received"),
                "auth run {i}: the answer must differ from the expected HMAC and be what the server received: {s}"
            );
            ensure!(text.contains("received 32 bytes"), "auth run {i}: {text}");
            if play == Play::Replay {
                ensure!(
                    one("answer") == *last_answer && text.contains("replayed"),
                    "auth run {i}: the replay must resend the last right answer: {s}"
                );
            }
        }
        Play::Silent => {
            ensure!(
                s["verdict"] == "timed_out" && page.contains("Access Denied"),
                "auth run {i}: timed_out expected: {s}"
            );
            ensure!(
                s["answer"] == serde_json::json!([])
                    && s["received"] == serde_json::json!([])
                    && s["silent"] == 1
                    && s["timeouts"] == 1,
                "auth run {i}: nothing sent, nothing received, one timeout expected: {s}"
            );
            ensure!(
                text.contains("received 0 of the 32") && !text.contains("were not HMAC"),
                "auth run {i}: the silent verdict must not claim 32 bytes were sent: {text}"
            );
        }
    }
    sockets_back_to_zero(c, AUTH)
        .await
        .with_context(|| format!("auth run {i}"))
}

/// Thirty auth runs. `silent_runs` caps how many of them stay silent (each
/// lasts the server's whole handshake timeout); the silent slots past it
/// answer with the right secret instead.
async fn auth_session(
    c: &Client,
    base: &str,
    python_port: Option<u16>,
    silent_runs: usize,
) -> Result<()> {
    c.goto(&format!("{base}/book/hmac-auth.html")).await?;
    wait_lab(c, AUTH).await?;
    let plays = [
        Play::Right,
        Play::Wrong,
        Play::Silent,
        Play::Replay,
        Play::Right,
        Play::WrongGuess,
    ];
    let mut last = None;
    let mut silent = 0;
    for i in 0..30 {
        let play = match plays[i % plays.len()] {
            Play::Silent if silent == silent_runs => Play::Right,
            Play::Silent => {
                silent += 1;
                Play::Silent
            }
            other => other,
        };
        auth_run(c, i, play, &mut last).await?;
        if i == 6
            && let Some(port) = python_port
        {
            let out = python("auth_client.py", "SOCKET_LAB_AUTH_PORT", port).await?;
            ensure!(out.contains("Access Granted"), "auth_client.py: {out}");
            wait_js(
                c,
                "auth_client.py in the chapter's server view as another program",
                &format!(
                    "const g = [...document.querySelectorAll('{AUTH} [data-role=server-view] [data-origin=other][data-demo=auth]')]; \
                     return g.some(x => x.textContent.includes('access granted')) ? true : null;"
                ),
                Duration::from_secs(10),
            )
            .await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn auth_chapter_thirty_runs_live() -> Result<()> {
    // A short handshake timeout, so the silent runs are quick.
    let server = start_server(|cfg| cfg.handshake_timeout = Duration::from_millis(1500)).await?;
    let port = server.demo("auth")?.port();
    let base = server.base.clone();
    let result = with_browser(BrowserOptions::default(), |c| async move {
        auth_session(&c, &base, Some(port), usize::MAX).await?;
        shot(&c, AUTH, "auth-light").await
    })
    .await;
    server.stop().await?;
    result
}

#[tokio::test]
async fn auth_chapter_thirty_runs_simulated() -> Result<()> {
    let site = StaticServer::start(dist()?).await?;
    let base = site.base.clone();
    with_browser(BrowserOptions::default(), |c| async move {
        // The simulated server keeps its default 10 s handshake timeout:
        // one silent run shows it; five would add 40 s and nothing new.
        auth_session(&c, &base, None, 1).await
    })
    .await
}

/// Each of the four labs, dark and at 390 px, after one run.
#[tokio::test]
async fn framing_and_auth_dark_and_narrow() -> Result<()> {
    let server = start_server(|cfg| cfg.handshake_timeout = Duration::from_millis(1500)).await?;
    let base = server.base.clone();
    let mut result = Ok(());
    for (dark, size, tag) in [(true, (1280, 900), "dark"), (false, (390, 844), "390")] {
        let base = base.clone();
        result = with_browser(BrowserOptions { dark, size }, |c| async move {
            c.goto(&format!("{base}/book/framing.html")).await?;
            wait_lab(&c, FRAMING).await?;
            framing_run(&c, 0, Send::InvalidJson, r#"{"msg": "Hello"}"#).await?;
            shot(&c, FRAMING, &format!("framing-{tag}")).await?;
            c.goto(&format!("{base}/book/hmac-auth.html")).await?;
            wait_lab(&c, AUTH).await?;
            auth_run(&c, 0, Play::Right, &mut None).await?;
            shot(&c, AUTH, &format!("auth-{tag}")).await
        })
        .await;
        if result.is_err() {
            break;
        }
    }
    server.stop().await?;
    result
}
