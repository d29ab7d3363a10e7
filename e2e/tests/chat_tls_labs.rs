//! The chat and TLS labs used the way a learner uses them, in a real browser:
//! thirty lines between the page's two chat clients (leaving and joining
//! again along the way), a line from a program in the terminal, thirty plain
//! messages to the TLS port, and a real TLS client from the terminal; live
//! against a real server and, where the lab can, simulated. Each verdict is
//! checked against what the lab was shown. Screenshots go to
//! `target/screenshots/{chat,tls}-*.png`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::{
    BrowserOptions, Site, click, screenshot, screenshot_dir, set_value, wait_contains, wait_lab,
    wait_text,
};
use fantoccini::Client;

const CHAT: &str = "socket-lab[lab=chat]";
const TLS: &str = "socket-lab[lab=tls]";

async fn open(c: &Client, site: &Site, lab: &str) -> Result<()> {
    let page = match site.server() {
        Some(_) => format!("embed/{lab}"),
        None => format!("index.html#{lab}"),
    };
    c.goto(&format!("{}/{page}", site.base())).await?;
    let css = format!("socket-lab[lab={lab}]");
    wait_lab(c, &css).await?;
    wait_contains(c, &format!("{css} [data-role=mode]"), site.mode()).await?;
    Ok(())
}

/// A shell command in the repository, bounded to 30 s.
async fn run(command: &str) -> Result<String> {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(repo)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), child)
        .await
        .with_context(|| format!("{command}: still running after 30 s"))??;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(out.status.success(), "{command} failed: {text}");
    Ok(text)
}

/// The address the server gave client `who` (from its status line).
async fn addr_of(c: &Client, who: &str) -> Result<String> {
    let status = wait_text(c, &format!("{CHAT} [data-role={who}-status]"), |t| {
        t.contains("the server calls it")
    })
    .await?;
    Ok(status
        .rsplit("the server calls it ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

async fn chat_session(c: &Client, site: &Site) -> Result<()> {
    open(c, site, "chat").await?;
    click(c, &format!("{CHAT} [data-role=a-join]")).await?;
    let a = addr_of(c, "a").await?;
    click(c, &format!("{CHAT} [data-role=b-join]")).await?;
    let mut b = addr_of(c, "b").await?;
    for i in 0..30 {
        // A learner leaves and comes back now and then.
        if i % 10 == 9 {
            click(c, &format!("{CHAT} [data-role=b-leave]")).await?;
            wait_contains(c, &format!("{CHAT} .sl-timeline"), &format!("* {b} left"))
                .await
                .with_context(|| format!("A was not told that B ({b}) left"))?;
            click(c, &format!("{CHAT} [data-role=b-join]")).await?;
            b = addr_of(c, "b").await?;
        }
        let (from, to, from_addr) = if i % 2 == 0 {
            ("a", "B", &a)
        } else {
            ("b", "A", &b)
        };
        let text = format!("line {i} from {}", from.to_uppercase());
        set_value(c, &format!("{CHAT} [data-role=message]"), &text).await?;
        click(c, &format!("{CHAT} [data-role={from}-send]")).await?;
        let verdict = wait_contains(
            c,
            &format!("{CHAT} [data-role=verdict]"),
            &format!("{to} read \"{from_addr}: {text}\""),
        )
        .await
        .with_context(|| format!("round {i}: {to} did not read {text:?}"))?;
        ensure!(
            verdict.contains(&format!("{} itself got nothing back", from.to_uppercase())),
            "round {i}: {verdict}"
        );
        if site.server().is_some() {
            ensure!(verdict.contains("(1 in all"), "round {i}: {verdict}");
        }
    }
    let open = c
        .find(fantoccini::Locator::Css(CHAT))
        .await?
        .attr("data-open-sockets")
        .await?;
    ensure!(
        open.as_deref() == Some("2"),
        "the page holds {open:?} sockets"
    );

    if let Some(server) = site.server() {
        // A program in the terminal joins the same room.
        let port = server.addr(protocol::Demo::Chat).port();
        run(&format!(
            "SOCKET_LAB_CHAT_PORT={port} python3 book/src/code/python/chat_client.py --say 'from my terminal'"
        ))
        .await?;
        wait_contains(
            c,
            &format!("{CHAT} [data-role=verdict]"),
            "not one of this page's clients",
        )
        .await?;
        wait_contains(c, &format!("{CHAT} .sl-server-view"), "relayed").await?;
        screenshot(c, &screenshot_dir().join("chat-light.png")).await?;
    }
    click(c, &format!("{CHAT} [data-role=a-leave]")).await?;
    click(c, &format!("{CHAT} [data-role=b-leave]")).await?;
    e2e::wait_count(c, &format!("{CHAT}[data-open-sockets='0']"), 1).await?;
    Ok(())
}

async fn tls_session(c: &Client, site: &Site) -> Result<()> {
    open(c, site, "tls").await?;
    for i in 0..30 {
        let text = format!(
            "{} attempt {i}",
            ["Hello", "GET /", "ping", "{\"x\": 1}"][i % 4]
        );
        set_value(c, &format!("{TLS} [data-role=message]"), &text).await?;
        click(c, &format!("{TLS} [data-role=send-plain]")).await?;
        let first = text.as_bytes()[0];
        let verdict = wait_contains(
            c,
            &format!("{TLS} [data-role=verdict]"),
            &format!("the first was 0x{first:02x}"),
        )
        .await?;
        let verdict = if verdict.contains("a TLS alert record") {
            verdict
        } else {
            wait_contains(
                c,
                &format!("{TLS} [data-role=verdict]"),
                "a TLS alert record",
            )
            .await?
        };
        ensure!(
            verdict.contains(&format!("The page sent {} bytes", text.len()))
                && verdict.contains("50 (decode_error)"),
            "attempt {i}: {verdict}"
        );
        e2e::wait_count(c, &format!("{TLS}[data-open-sockets='0']"), 1).await?;
    }
    match site.server() {
        Some(server) => {
            let dir =
                std::env::temp_dir().join(format!("socket-lab-e2e-tls-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let cert = dir.join("cert.pem");
            std::fs::write(&cert, &server.tls_cert_pem)?;
            let port = server.addr(protocol::Demo::TlsEcho).port();
            let out = run(&format!(
                "SOCKET_LAB_TLS_ECHO_PORT={port} SOCKET_LAB_TLS_CERT={} python3 book/src/code/python/tls_echo_client.py",
                cert.display()
            ))
            .await?;
            ensure!(out.contains("ACK: Hello, TLS"), "{out}");
            let line =
                wait_contains(c, &format!("{TLS} [data-role=tls-terminal]"), "TLSv1.3").await?;
            let line = if line.contains("authentication tag") {
                line
            } else {
                wait_contains(
                    c,
                    &format!("{TLS} [data-role=tls-terminal]"),
                    "authentication tag",
                )
                .await?
            };
            ensure!(
                line.contains("decrypted 10 bytes") && line.contains("32 bytes on the wire"),
                "{line}"
            );
            let _ = std::fs::remove_dir_all(&dir);
            screenshot(c, &screenshot_dir().join("tls-light.png")).await?;
        }
        None => {
            wait_contains(
                c,
                &format!("{TLS} [data-role=tls-terminal]"),
                "The simulation has no other programs",
            )
            .await?;
        }
    }
    Ok(())
}

e2e::live_and_simulated! {
    chat_thirty_lines_live, chat_thirty_lines_simulated: Site::start_live(|_| {}) => |site: Site| site.session(chat_session);
    tls_thirty_tries_live, tls_thirty_tries_simulated: Site::start_live(|_| {}) => |site: Site| site.session(tls_session);
}

#[tokio::test]
async fn the_labs_in_dark() -> Result<()> {
    let site = Site::start_live(|_| {}).await?;
    // Dark only: every page at a phone's 390 px (which headless Chromium will
    // not make a window) is checked in a frame by readable.rs.
    let looks = [(
        BrowserOptions {
            dark: true,
            ..BrowserOptions::default()
        },
        "dark",
    )];

    site.each_look(looks, async |c, site, look| {
        for lab in ["chat", "tls"] {
            open(c, site, lab).await?;
            let css = format!("socket-lab[lab={lab}]");
            if lab == "chat" {
                click(c, &format!("{css} [data-role=a-join]")).await?;
                click(c, &format!("{css} [data-role=b-join]")).await?;
                click(c, &format!("{css} [data-role=a-send]")).await?;
                wait_contains(c, &format!("{css} [data-role=verdict]"), "B read").await?;
            } else {
                click(c, &format!("{css} [data-role=send-plain]")).await?;
                wait_contains(
                    c,
                    &format!("{css} [data-role=verdict]"),
                    "a TLS alert record",
                )
                .await?;
            }
            let wide = e2e::scrolls_sideways(c).await?;
            ensure!(!wide, "{lab} scrolls sideways at the {look} look");
            screenshot(c, &screenshot_dir().join(format!("{lab}-{look}.png"))).await?;
        }
        Ok(())
    })
    .await
}
