//! Every lab in a real browser: live against a started server (each on its
//! own `/embed/<lab>` page), then simulated from a static copy of the site
//! with no server behind it. Screenshots land in `docs/screenshots/`.

use std::future::Future;

use anyhow::{Result, ensure};
use e2e::{
    BrowserOptions, StaticServer, click, dist, screenshot, screenshot_dir, set_value, start_server,
    texts, wait_contains, wait_count, wait_lab, with_browser,
};
use fantoccini::Client;

/// Opens `/embed/<lab>` on a fresh server, waits for live mode, runs `body`,
/// then saves a light screenshot.
async fn live<F, Fut>(lab: &'static str, body: F) -> Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let server = start_server(|_| {}).await?;
    let url = format!("{}/embed/{lab}", server.base);
    let result = with_browser(BrowserOptions::default(), |c| async move {
        c.goto(&url).await?;
        wait_lab(&c, "socket-lab").await?;
        wait_contains(&c, "[data-role=mode]", "live on your machine").await?;
        body(c.clone()).await?;
        screenshot(&c, &screenshot_dir().join(format!("{lab}-light.png"))).await
    })
    .await;
    server.stop().await?;
    result
}

#[tokio::test]
async fn tcp_echo_live() -> Result<()> {
    live("tcp-echo", |c| async move {
        click(&c, "[data-role=send]").await?;
        wait_contains(&c, "[data-kind=read]", "ACK: Hello, Server").await?;
        click(&c, "[data-role=second]").await?;
        wait_contains(&c, "[data-kind=note]", "has not accepted it").await?;
        // Still only the first client's reply.
        ensure!(
            texts(&c, "[data-kind=read]").await?.len() == 1,
            "the second client was answered too early"
        );
        click(&c, "[data-role=close-first]").await?;
        wait_contains(&c, "[data-kind=read]", "ACK: I am the second client").await?;
        wait_contains(&c, "[data-role=verdict]", "iterative").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn udp_echo_live() -> Result<()> {
    live("udp-echo", |c| async move {
        click(&c, "[data-role=send]").await?;
        wait_count(&c, "[data-kind=read]", 3).await?;
        wait_contains(&c, "[data-kind=read]", "Message received").await?;
        set_value(&c, "[data-role=count]", "1").await?;
        set_value(&c, "[data-role=pad]", "1500").await?;
        click(&c, "[data-role=send]").await?;
        wait_contains(&c, "[data-kind=server]", "truncated to 1024").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn sticky_live_shows_merged_and_split_reads() -> Result<()> {
    live("sticky", |c| async move {
        // Defaults: Hello|World, 1024-byte reads, 300 ms delay.
        click(&c, "[data-role=run]").await?;
        wait_contains(&c, "[data-role=verdict]", "Merged").await?;
        wait_count(&c, "[data-event=read]", 1).await?;
        let sizes = texts(&c, "[data-event=read] .sl-size").await?;
        ensure!(
            sizes == ["10 B"],
            "one 10-byte read expected, got {sizes:?}"
        );

        set_value(&c, "[data-role=read-size]", "3").await?;
        set_value(&c, "[data-role=read-delay]", "100").await?;
        click(&c, "[data-role=run]").await?;
        wait_contains(&c, "[data-role=verdict]", "Split").await?;
        wait_count(&c, "[data-event=read]", 4).await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn framing_live() -> Result<()> {
    live("framing", |c| async move {
        click(&c, "[data-role=send-bytes]").await?;
        wait_contains(&c, "[data-event=frame-decoded]", r#"{"msg":"Hello"}"#).await?;
        click(&c, "[data-role=send-oversize]").await?;
        wait_contains(&c, "[data-event=frame-rejected]", "limit").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn auth_live_grants_and_denies() -> Result<()> {
    live("auth", |c| async move {
        click(&c, "[data-role=run]").await?;
        wait_contains(&c, "[data-event=verdict]", "Access Granted").await?;
        click(&c, "[data-role=replay]").await?;
        wait_contains(&c, "[data-event=verdict]", "Access Denied").await?;
        set_value(&c, "[data-role=secret]", "not the secret").await?;
        click(&c, "[data-role=run]").await?;
        wait_contains(&c, "[data-event=verdict]", "Access Denied").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn concurrency_live() -> Result<()> {
    live("concurrency", |c| async move {
        set_value(&c, "[data-role=clients]", "3").await?;
        click(&c, "[data-role=run-iterative]").await?;
        wait_count(&c, "[data-event=client-done]", 3).await?;
        wait_contains(&c, "[data-role=verdict]", "one after another").await?;
        click(&c, "[data-role=run-concurrent]").await?;
        wait_count(&c, "[data-event=client-done]", 3).await?;
        wait_contains(&c, "[data-role=verdict]", "all 3 clients at once").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn ports_live_shows_both_ends() -> Result<()> {
    live("ports", |c| async move {
        click(&c, "[data-role=connect]").await?;
        let local = wait_contains(&c, "[data-event=local]", "you: 127.0.0.1:").await?;
        let port = local
            .split("you: 127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_default()
            .to_owned();
        wait_contains(&c, "[data-event=accepted]", &format!("127.0.0.1:{port}")).await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn layers_live() -> Result<()> {
    live("layers", |c| async move {
        set_value(&c, "[data-role=message]", r#"{"a": 1}"#).await?;
        click(&c, "[data-role=wrap]").await?;
        wait_contains(&c, "[data-role=layers]", "00 00 00 08").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn events_live_shows_a_terminal_client() -> Result<()> {
    let server = start_server(|_| {}).await?;
    let url = format!("{}/embed/events", server.base);
    let echo = server.demo("tcp-echo")?;
    let result = with_browser(BrowserOptions::default(), |c| async move {
        c.goto(&url).await?;
        wait_lab(&c, "socket-lab").await?;
        wait_contains(&c, "[data-role=mode]", "live on your machine").await?;
        // A client that is not the page: a plain TCP connection from this test.
        let mut s = tokio::net::TcpStream::connect(echo).await?;
        let me = s.local_addr()?;
        tokio::io::AsyncWriteExt::write_all(&mut s, b"from the terminal").await?;
        wait_contains(&c, "[data-kind=server]", &format!("{me}: accepted")).await?;
        wait_contains(&c, "[data-kind=server]", "from the terminal").await?;
        screenshot(&c, &screenshot_dir().join("events-light.png")).await
    })
    .await;
    server.stop().await?;
    result
}

/// Opens the lab index from a static server (no bridge): every lab simulated.
async fn simulated<F, Fut>(body: F) -> Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let site = StaticServer::start(dist()?).await?;
    let url = format!("{}/", site.base);
    with_browser(BrowserOptions::default(), |c| async move {
        c.goto(&url).await?;
        wait_count(&c, "socket-lab[data-ready=true]", 9).await?;
        wait_count(&c, "[data-role=mode][data-mode=simulated]", 9).await?;
        body(c).await
    })
    .await
}

#[tokio::test]
async fn every_lab_simulated_with_no_server() -> Result<()> {
    simulated(|c| async move {
        click(&c, "#tcp-echo [data-role=send]").await?;
        wait_contains(&c, "#tcp-echo [data-kind=read]", "ACK: Hello, Server").await?;

        click(&c, "#udp-echo [data-role=send]").await?;
        wait_count(&c, "#udp-echo [data-kind=read]", 3).await?;

        click(&c, "#sticky [data-role=run]").await?;
        wait_count(&c, "#sticky [data-event=read]", 1).await?;
        ensure!(texts(&c, "#sticky [data-event=read] .sl-size").await? == ["10 B"]);
        set_value(&c, "#sticky [data-role=read-size]", "3").await?;
        click(&c, "#sticky [data-role=run]").await?;
        wait_count(&c, "#sticky [data-event=read]", 4).await?;

        click(&c, "#framing [data-role=send-whole]").await?;
        wait_contains(&c, "#framing [data-kind=server]", "decoded").await?;

        click(&c, "#auth [data-role=run]").await?;
        wait_contains(&c, "#auth [data-event=verdict]", "Access Granted").await?;
        set_value(&c, "#auth [data-role=secret]", "wrong").await?;
        click(&c, "#auth [data-role=run]").await?;
        wait_contains(&c, "#auth [data-event=verdict]", "Access Denied").await?;

        click(&c, "#concurrency [data-role=run-iterative]").await?;
        wait_count(&c, "#concurrency [data-event=client-done]", 5).await?;

        click(&c, "#ports [data-role=connect]").await?;
        wait_contains(&c, "#ports [data-event=local]", "simulated").await?;

        click(&c, "#layers [data-role=wrap]").await?;
        wait_contains(&c, "#layers [data-role=layers]", "00 00 00 10").await?;

        let hints = texts(&c, ".sl-golive").await?;
        ensure!(
            hints.iter().all(|h| h.contains("cargo xtask serve")),
            "each lab says how to go live"
        );
        screenshot(&c, &screenshot_dir().join("index-simulated.png")).await
    })
    .await
}
