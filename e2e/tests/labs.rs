//! Every lab in a real browser: live against a started server (each on its
//! own `/embed/<lab>` page), then simulated from a static copy of the site
//! with no server behind it. Screenshots land in `docs/screenshots/`.

use anyhow::{Context, Result, ensure};
use e2e::Step::{Click, Count, Shows, Type};
use e2e::{
    Site, click, screenshot, screenshot_dir, steps, texts, wait_contains, wait_count, wait_lab,
};
use fantoccini::Client;

/// The lab's verdict once it has reached `key` (its `data-verdict`).
fn verdict(key: &str) -> String {
    format!("[data-role=verdict][data-verdict={key}]")
}

/// Opens `/embed/<lab>` on a fresh live site, waits for live mode, runs
/// `body`, then saves a light screenshot.
async fn live(lab: &str, body: impl AsyncFnOnce(&Client, &Site) -> Result<()>) -> Result<()> {
    let site = Site::start_live(|_| {}).await?;
    site.session(async |c, site| {
        c.goto(&format!("{}/embed/{lab}", site.base())).await?;
        wait_lab(c, "socket-lab").await?;
        wait_contains(c, "[data-role=mode]", "live on your machine").await?;
        body(c, site).await?;
        screenshot(c, &screenshot_dir().join(format!("{lab}-light.png"))).await
    })
    .await
}

#[tokio::test]
async fn tcp_echo_live() -> Result<()> {
    live("tcp-echo", async |c, _| {
        steps(
            c,
            &[
                Click("[data-role=send]"),
                Shows("[data-kind=read]", "ACK: Hello, Server"),
                Shows("[data-role=first-status]", "the server accepted it"),
                // A second connection while the first holds the iterative server.
                Type("[data-role=message]", "I am the second client"),
                Click("[data-role=second-connect]"),
                Click("[data-role=second-send]"),
                Shows("[data-role=second-status]", "has not accepted it"),
                Shows("[data-role=second-status]", "the first connection"),
            ],
        )
        .await?;
        // Still only the first client's reply.
        ensure!(
            texts(c, "[data-kind=read]").await?.len() == 1,
            "the second client was answered too early"
        );
        steps(
            c,
            &[
                Click("[data-role=close]"),
                Shows("[data-kind=read]", "ACK: I am the second client"),
                Shows("[data-role=verdict]", "iterative"),
                Shows(
                    "[data-role=verdict]",
                    "only after the first connection closed",
                ),
                // The server's own account: two connections from this page.
                Count(".sl-sv-conn[data-demo=tcp-echo][data-origin=page]", 2),
            ],
        )
        .await
    })
    .await
}

#[tokio::test]
async fn udp_echo_live() -> Result<()> {
    live("udp-echo", async |c, _| {
        steps(
            c,
            &[
                Click("[data-role=send]"),
                Count("[data-kind=read]", 3),
                Shows("[data-kind=read]", "Message received"),
                Shows("[data-role=verdict]", "the server received 3"),
                Shows("[data-role=socket-status]", "no socket open"),
                Count(".sl-sv-entry[data-event=datagram]", 3),
            ],
        )
        .await?;
        ensure!(
            texts(c, ".sl-sv-entry[data-truncated=true]")
                .await?
                .is_empty(),
            "a small datagram was shown truncated"
        );
        steps(
            c,
            &[
                Type("[data-role=count]", "1"),
                Type("[data-role=pad]", "1500"),
                Click("[data-role=send]"),
                Shows(
                    ".sl-sv-entry[data-truncated=true]",
                    "datagram of 1500 bytes, truncated to 1024",
                ),
                Shows("[data-role=verdict]", "1500 (truncated)"),
                Shows("[data-role=verdict]", "cut a datagram short"),
            ],
        )
        .await
    })
    .await
}

/// The sticky lab's own timeline rows for the server's reads (the server
/// view's entries are `[data-event=read]` too).
const READS: &str = "[data-role=timeline] [data-event=read]";

#[tokio::test]
async fn sticky_live_shows_merged_and_split_reads() -> Result<()> {
    live("sticky", async |c, _| {
        // Defaults: Hello|World, 1024-byte reads, 300 ms delay.
        steps(
            c,
            &[
                Click("[data-role=run]"),
                Shows("[data-role=verdict]", "Merged"),
                Count(READS, 1),
            ],
        )
        .await?;
        let sizes = texts(c, &format!("{READS} .sl-size")).await?;
        ensure!(
            sizes == ["10 B"],
            "one 10-byte read expected, got {sizes:?}"
        );

        steps(
            c,
            &[
                Type("[data-role=read-size]", "3"),
                Type("[data-role=read-delay]", "100"),
                Click("[data-role=run]"),
                Shows("[data-role=verdict]", "Split"),
                Count(READS, 4),
            ],
        )
        .await?;
        // The 10 bytes, at most 3 per recv (how they group depends on when
        // "World" arrived).
        let sizes: Vec<usize> = texts(c, &format!("{READS} .sl-size"))
            .await?
            .iter()
            .filter_map(|s| s.strip_suffix(" B")?.parse().ok())
            .collect();
        ensure!(
            sizes.len() == 4 && sizes.iter().sum::<usize>() == 10 && sizes.iter().all(|&n| n <= 3),
            "Hello and World read 3 bytes at a time expected, got {sizes:?}"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn framing_live() -> Result<()> {
    live("framing", async |c, _| {
        let timeline = |event: &str| format!("[data-role=timeline] [data-event={event}]");
        let too_large = timeline("frame-rejected") + "[data-code=too_large]";
        steps(
            c,
            &[
                Click("[data-role=send-bytes]"),
                Shows(&timeline("frame-decoded"), r#"{"msg":"Hello"}"#),
                Shows(&timeline("reply-frame"), ""),
                Shows(&verdict("decoded"), "Decoded"),
                // A header no server can accept: 4 GiB.
                Type("[data-role=header-hex]", "ff ff ff ff"),
                Click("[data-role=send-header]"),
                Shows(&too_large, "limit"),
                Shows(&timeline("error-frame"), "error"),
                Shows(&verdict("refused-closed"), "closed the connection"),
                Shows("[data-role=conn-status][data-state=closed]", "Closed"),
            ],
        )
        .await
    })
    .await
}

#[tokio::test]
async fn auth_live_grants_and_denies() -> Result<()> {
    live("auth", async |c, _| {
        let page = "[data-role=timeline] [data-event=verdict]";
        let wrong = verdict("wrong_answer");
        steps(
            c,
            &[
                Click("[data-role=run]"),
                Shows(page, "Access Granted"),
                Shows(&verdict("granted"), "Access Granted"),
                Click("[data-role=replay]"),
                Shows(page, "Access Denied"),
                Shows(&wrong, "replayed"),
                Type("[data-role=secret]", "not the secret"),
                Click("[data-role=run]"),
                Shows(page, "Access Denied"),
                Shows(&wrong, "received 32 bytes"),
                // The server's account: one grant, then two denials.
                Count(".sl-sv-entry[data-event=verdict]", 3),
            ],
        )
        .await?;
        let said = texts(c, ".sl-sv-entry[data-event=verdict]").await?;
        ensure!(
            said.iter().filter(|t| t.contains("access granted")).count() == 1
                && said.iter().filter(|t| t.contains("access denied")).count() == 2,
            "the server view's verdicts: {said:?}"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn concurrency_live() -> Result<()> {
    live("concurrency", async |c, _| {
        let answers = "[data-role=timeline] [data-event=answer]";
        steps(
            c,
            &[
                Type("[data-role=clients]", "3"),
                Click("[data-role=run-iterative]"),
                Count("[data-event=client-done]", 3),
                Shows(&verdict("iterative"), "Iterative"),
                Count(answers, 3),
                Click("[data-role=run-concurrent]"),
                Count("[data-event=client-done]", 3),
                Shows(&verdict("concurrent"), "Concurrent"),
                Shows("[data-role=verdict]", "served up to 3 clients at once"),
                // The rows of this run, not the last one's: all three in capitals.
                Shows(answers, "HELLO FROM CLIENT"),
                Count(answers, 3),
            ],
        )
        .await?;
        let answers = texts(c, answers).await?;
        ensure!(
            answers.len() == 3 && answers.iter().all(|a| a.contains("HELLO FROM CLIENT")),
            "each uppercase client reads its line in capitals: {answers:?}"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn ports_live_shows_both_ends() -> Result<()> {
    live("ports", async |c, _| {
        click(c, "[data-role=connect]").await?;
        let local = wait_contains(c, "[data-event=local]", "your end: 127.0.0.1:").await?;
        let port = local
            .split("your end: 127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_default()
            .to_owned();
        ensure!(
            port.parse::<u16>().is_ok_and(|p| p > 0),
            "no port in {local:?}"
        );
        wait_contains(c, "[data-event=accepted]", &format!("127.0.0.1:{port}")).await?;
        // The same port from both ends, in the table and the verdict.
        wait_contains(c, "[data-role=tuple] [data-role=mine]", &port).await?;
        wait_contains(c, "[data-role=tuple] [data-role=theirs]", &port).await?;
        wait_contains(
            c,
            "[data-role=verdict]",
            &format!(
                "Same four numbers from both ends: the port your system picked for you ({port})"
            ),
        )
        .await?;
        // A second connection gets a new ephemeral port.
        wait_count(c, "socket-lab[data-open-sockets='0']", 1).await?;
        click(c, "[data-role=connect]").await?;
        wait_contains(c, "[data-role=verdict]", "Client ports so far").await?;
        let verdict = texts(c, "[data-role=verdict]").await?.concat();
        let ports: Vec<&str> = verdict
            .split("Client ports so far: ")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .map(|r| r.split(", ").collect())
            .unwrap_or_default();
        ensure!(
            ports.len() == 2 && ports[0] == port,
            "the two client ports expected: {verdict:?}"
        );
        // The verdict says what the ports show: new, or the same one again.
        let says_new = verdict.contains("a new one for each connection");
        ensure!(
            says_new == (ports[1] != port),
            "the verdict does not match the ports {ports:?}: {verdict:?}"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn layers_live() -> Result<()> {
    live("layers", async |c, _| {
        steps(
            c,
            &[
                Type("[data-role=message]", r#"{"a": 1}"#),
                Click("[data-role=send]"),
                // Both ends are 127.0.0.1: the IPv4 header's two addresses.
                Shows("[data-role=layers]", "7f 00 00 01 7f 00 00 01"),
            ],
        )
        .await?;
        // The page's ephemeral port, big-endian, in the TCP header.
        let local = wait_contains(
            c,
            "[data-role=timeline] [data-kind=note]",
            "your end 127.0.0.1:",
        )
        .await?;
        let port: u16 = local
            .split("your end 127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split(|ch: char| !ch.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_default();
        let [hi, lo] = port.to_be_bytes();
        steps(
            c,
            &[
                Shows("[data-role=layers]", &format!("{hi:02x} {lo:02x}")),
                Shows("[data-role=verdict]", "exactly the 8 bytes you sent"),
            ],
        )
        .await
    })
    .await
}

#[tokio::test]
async fn events_live_shows_a_terminal_client() -> Result<()> {
    live("events", async |c, site| {
        let echo = site.server().context("a live site")?.demo("tcp-echo")?;
        // A client that is not the page: a plain TCP connection from this test.
        let mut s = tokio::net::TcpStream::connect(echo).await?;
        let me = s.local_addr()?;
        tokio::io::AsyncWriteExt::write_all(&mut s, b"from the terminal").await?;
        let group = format!(".sl-sv-conn[data-origin=other][data-peer=\"{me}\"]");
        wait_contains(c, &group, "another program").await?;
        wait_contains(c, &group, "accepted").await?;
        wait_contains(c, &group, "from the terminal").await?;
        wait_contains(c, &group, "ACK: from the terminal").await?;
        drop(s);
        let closed = format!("{group}[data-state=closed]");
        wait_contains(c, &closed, "closed by the client").await?;
        Ok(())
    })
    .await
}

/// Opens the lab index from a static copy of the site (no bridge): every lab simulated.
async fn simulated(body: impl AsyncFnOnce(&Client) -> Result<()>) -> Result<()> {
    let site = Site::start_simulated().await?;
    site.session(async |c, site| {
        c.goto(&format!("{}/", site.base())).await?;
        // Every lab of the registry is on the index page (tidy checks that).
        let labs = protocol::demo::LABS.len();
        wait_count(c, "socket-lab[data-ready=true]", labs).await?;
        wait_count(c, "[data-role=mode][data-mode=simulated]", labs).await?;
        body(c).await
    })
    .await
}

#[tokio::test]
async fn every_lab_simulated_with_no_server() -> Result<()> {
    simulated(async |c| {
        steps(
            c,
            &[
                Click("#tcp-echo [data-role=send]"),
                Shows("#tcp-echo [data-kind=read]", "ACK: Hello, Server"),
                // tcp-echo is iterative: the concurrency lab's clients below would
                // wait behind this connection, so close it.
                Click("#tcp-echo [data-role=close]"),
                Shows("#tcp-echo [data-role=first-status]", "not connected"),
                Shows(
                    "#tcp-echo .sl-sv-conn[data-state=closed]",
                    "closed by the client",
                ),
                Click("#udp-echo [data-role=send]"),
                Count("#udp-echo [data-kind=read]", 3),
                Shows("#udp-echo [data-role=verdict]", "the server received 3"),
            ],
        )
        .await?;

        let sticky_reads = format!("#sticky {READS}");
        steps(
            c,
            &[Click("#sticky [data-role=run]"), Count(&sticky_reads, 1)],
        )
        .await?;
        ensure!(texts(c, &format!("{sticky_reads} .sl-size")).await? == ["10 B"]);
        let auth = "#auth [data-role=timeline] [data-event=verdict]";
        steps(
            c,
            &[
                Type("#sticky [data-role=read-size]", "3"),
                Click("#sticky [data-role=run]"),
                Count(&sticky_reads, 4),
                Click("#framing [data-role=send-whole]"),
                Shows("#framing [data-kind=server]", "decoded"),
                Shows(&format!("#framing {}", verdict("decoded")), "Decoded"),
                Click("#auth [data-role=run]"),
                Shows(auth, "Access Granted"),
                Type("#auth [data-role=secret]", "wrong"),
                Click("#auth [data-role=run]"),
                Shows(auth, "Access Denied"),
                Click("#concurrency [data-role=run-iterative]"),
                Count("#concurrency [data-event=client-done]", 5),
                Shows("#concurrency [data-role=verdict]", "Iterative"),
                Click("#ports [data-role=connect]"),
                Shows("#ports [data-event=local]", "your end:"),
                Shows("#ports [data-role=verdict]", "Same four numbers"),
                Click("#layers [data-role=send]"),
                Shows("#layers [data-role=layers]", "7f 00 00 01"),
                Shows("#layers [data-role=verdict]", "exactly the 13 bytes"),
            ],
        )
        .await?;

        // The index's server log saw the other labs' connections (all of
        // them from this page).
        ensure!(
            !texts(c, "#events .sl-sv-conn[data-origin=page]")
                .await?
                .is_empty(),
            "the server log shows the labs' connections"
        );

        let hints = texts(c, ".sl-golive").await?;
        ensure!(
            hints.iter().all(|h| h.contains("pipx install socket-lab")),
            "each lab says how to go live"
        );
        screenshot(c, &screenshot_dir().join("index-simulated.png")).await
    })
    .await
}
