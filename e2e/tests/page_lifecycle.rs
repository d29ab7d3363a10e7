//! A learner leaves a page and comes back. The browser may keep the page
//! alive in its back-forward cache, WebSocket and all; the bridge would then
//! keep the page's sockets open, and tcp-echo (one client at a time) would
//! stay busy with a connection nobody uses. Leaving closes them, so the next
//! page's lab is answered at once, and going back reconnects live.

use std::time::Duration;

use anyhow::{Result, ensure};
use e2e::{Site, wait_contains, wait_lab};

const TCP_ECHO: &str = "socket-lab[lab=tcp-echo]";

#[tokio::test]
async fn leaving_a_page_frees_its_connections_and_coming_back_reconnects() -> Result<()> {
    let site = Site::start_live(|_| {}).await?;
    site.session(async |c, site| {
        // A connection held open, as a learner leaves it after Connect.
        c.goto(&format!("{}/embed/tcp-echo", site.base())).await?;
        wait_lab(c, TCP_ECHO).await?;
        e2e::click(c, &format!("{TCP_ECHO} [data-role=connect]")).await?;
        wait_contains(c, &format!("{TCP_ECHO} [data-role=timeline]"), "connected").await?;

        // Another page: its tcp-echo lab is served, not queued behind the
        // connection the first page left open.
        c.goto(&format!("{}/index.html#tcp-echo", site.base()))
            .await?;
        wait_lab(c, TCP_ECHO).await?;
        e2e::click(c, &format!("{TCP_ECHO} [data-role=send]")).await?;
        let echo = tokio::time::timeout(
            Duration::from_secs(5),
            wait_contains(c, &format!("{TCP_ECHO} [data-kind=read]"), "ACK"),
        )
        .await;
        ensure!(
            matches!(echo, Ok(Ok(_))),
            "the second page's send was not answered within 5 s: the first page's connection still holds tcp-echo"
        );
        e2e::click(c, &format!("{TCP_ECHO} [data-role=close]")).await?;

        // Back to the first page: it says why its connection closed, is
        // live again, and runs.
        c.back().await?;
        wait_lab(c, TCP_ECHO).await?;
        let list = format!("{TCP_ECHO} [data-role=timeline]");
        let timeline = wait_contains(c, &list, "this page was left");
        // (A browser that reloaded the page instead of restoring it shows a
        // fresh lab: nothing to say, and it is live as well.)
        let restored = tokio::time::timeout(Duration::from_secs(3), timeline).await.is_ok();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mode = c
                .execute(
                    "return document.querySelector(arguments[0]).getAttribute('data-mode')",
                    vec![format!("{TCP_ECHO} [data-mode]").into()],
                )
                .await?;
            if mode == "live" {
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "back on the first page, the lab is {mode}, not live"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        e2e::click(c, &format!("{TCP_ECHO} [data-role=send]")).await?;
        let reads = format!("{TCP_ECHO} [data-kind=read]");
        wait_contains(c, &reads, "ACK").await?;
        println!(
            "left with a connection open, the next page was answered; back ({}), live and answered",
            if restored { "restored from the cache" } else { "reloaded" }
        );
        Ok(())
    })
    .await
}
