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

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::Site;
use e2e::learner::{
    click_in, dark_and_narrow, js, lab_state, open_lab, pictured, set_in, shot,
    sockets_back_to_zero, thirty_runs, wait_js,
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
    let fields = format!(
        "decoded: Number(v.getAttribute('data-decoded')), refused: Number(v.getAttribute('data-refused')), \
         state: document.querySelector('{FRAMING} [data-role=conn-status]').getAttribute('data-state'), \
         decodedRows: q('[data-event=frame-decoded]').length, \
         rejected: q('[data-event=frame-rejected]').map(r => r.getAttribute('data-code')), \
         replies: q('[data-event=reply-frame]').map(r => [r.querySelector('[data-role=frame-header]').textContent, \
             Number(r.querySelector('.sl-box:not(.sl-header)').getAttribute('data-size'))]), \
         errors: q('[data-event=error-frame]').length, \
         notes: q('[data-event=note]').map(r => r.textContent), \
         closedBy: q('[data-event=server-closed]').map(r => r.getAttribute('data-by'))"
    );
    lab_state(c, FRAMING, "", &fields).await
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
    set_in(c, FRAMING, "json-input", text).await?;
    let role = match how {
        Send::Valid => "send-whole",
        Send::TwoInOne => "send-two",
        Send::InvalidJson => "send-invalid-json",
        Send::Oversize => {
            set_in(c, FRAMING, "header-hex", "ff ff ff ff").await?;
            "send-header"
        }
        Send::ByteByByte => "send-bytes",
        Send::InvalidUtf8 => "send-invalid-utf8",
        Send::Unframed => "send-unframed",
    };
    click_in(c, FRAMING, role).await?;
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
            click_in(c, FRAMING, "send-whole").await?;
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
        click_in(c, FRAMING, "close").await?;
    }
    sockets_back_to_zero(c, FRAMING)
        .await
        .with_context(|| format!("framing run {i}"))
}

async fn framing_session(c: &Client, site: &Site) -> Result<()> {
    open_lab(c, site, "framing", FRAMING).await?;
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
    thirty_runs(c, site, FRAMING, (10, "framed_client.py"), async |i| {
        framing_run(c, i, kinds[i % kinds.len()], texts[i % texts.len()]).await
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
    let hex = "const hex = s => q(s).map(r => r.querySelector('.sl-hex').textContent);";
    let fields = "answer: hex('[data-event=answer]'), expected: hex('[data-event=expected]'), \
         challenge: hex('[data-event=challenge]'), serverChallenge: hex('[data-event=server-challenge]'), \
         received: hex('[data-event=server-received]'), \
         silent: q('[data-event=silent]').length, timeouts: q('[data-event=server-timeout]').length, \
         page: q('[data-event=verdict]').map(r => r.textContent)";
    lab_state(c, AUTH, hex, fields).await
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
    set_in(c, AUTH, "secret", &secret).await?;
    let guess = match play {
        Play::WrongGuess => format!("a guess {i}"),
        _ => "my_super_secret_key".to_owned(),
    };
    set_in(c, AUTH, "server-secret", &guess).await?;
    let role = match play {
        Play::Right | Play::Wrong | Play::WrongGuess => "run",
        Play::Silent => "silent",
        Play::Replay => "replay",
    };
    click_in(c, AUTH, role).await?;
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

/// Thirty auth runs. Silent runs last the server's whole handshake timeout:
/// the live server's is short ([`quick_handshakes`]), but the simulated
/// server keeps its default 10 s, so there one silent run shows it (five
/// would add 40 s and nothing new) and the silent slots past it answer with
/// the right secret instead.
async fn auth_session(c: &Client, site: &Site) -> Result<()> {
    let silent_runs = if site.server().is_some() {
        usize::MAX
    } else {
        1
    };
    open_lab(c, site, "hmac-auth", AUTH).await?;
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
    thirty_runs(c, site, AUTH, (6, "auth_client.py"), async |i| {
        let play = match plays[i % plays.len()] {
            Play::Silent if silent == silent_runs => Play::Right,
            Play::Silent => {
                silent += 1;
                Play::Silent
            }
            other => other,
        };
        auth_run(c, i, play, &mut last).await
    })
    .await
}

/// A live site whose handshake timeout is short, so the silent runs are quick.
async fn quick_handshakes() -> Result<Site> {
    Site::start_live(|cfg| cfg.handshake_timeout = Duration::from_millis(1500)).await
}

/// Each of the four labs, dark and at 390 px, after one run.
#[tokio::test]
async fn framing_and_auth_dark_and_narrow() -> Result<()> {
    quick_handshakes()
        .await?
        .each_look(dark_and_narrow(), async |c, site, tag| {
            open_lab(c, site, "framing", FRAMING).await?;
            framing_run(c, 0, Send::InvalidJson, r#"{"msg": "Hello"}"#).await?;
            shot(c, FRAMING, "timeline", &format!("framing-{tag}")).await?;
            open_lab(c, site, "hmac-auth", AUTH).await?;
            auth_run(c, 0, Play::Right, &mut None).await?;
            shot(c, AUTH, "timeline", &format!("auth-{tag}")).await
        })
        .await
}

e2e::live_and_simulated! {
    framing_chapter_thirty_runs_live, framing_chapter_thirty_runs_simulated:
        Site::start_live(|_| {}) => |site| pictured(site, FRAMING, "framing", framing_session);
    auth_chapter_thirty_runs_live, auth_chapter_thirty_runs_simulated:
        quick_handshakes() => |site| pictured(site, AUTH, "auth", auth_session);
}
