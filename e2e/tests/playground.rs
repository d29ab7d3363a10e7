//! The framing playground in a real browser: typed JSON becomes the exact
//! frame Python's `struct.pack('!I', …) + json.dumps(…)` would send.

use anyhow::{Result, ensure};
use e2e::{BrowserOptions, start_server, wait_lab, wait_text, with_browser};
use fantoccini::Locator;

const EXPECTED: &str = "00 00 00 10 7b 22 6d 73 67 22 3a 20 22 48 65 6c 6c 6f 22 7d";

#[tokio::test]
async fn playground_shows_the_python_frame_for_typed_json() -> Result<()> {
    let server = start_server(|_| {}).await?;
    let base = server.base.clone();
    let shown = with_browser(BrowserOptions::default(), |client| async move {
        client.goto(&format!("{base}/")).await?;
        wait_lab(&client, "socket-lab[lab=framing]").await?;
        let input = client
            .find(Locator::Css(
                "socket-lab[lab=framing] [data-role=json-input]",
            ))
            .await?;
        input.clear().await?;
        // Something else first, so the test proves the page follows the typing.
        input.send_keys("[1]").await?;
        wait_text(
            &client,
            "socket-lab[lab=framing] [data-role=frame-hex]",
            |t| t == "00 00 00 03 5b 31 5d",
        )
        .await?;
        input.clear().await?;
        input.send_keys(r#"{"msg": "Hello"}"#).await?;
        wait_text(
            &client,
            "socket-lab[lab=framing] [data-role=frame-hex]",
            |t| t == EXPECTED,
        )
        .await
    })
    .await;
    server.stop().await?;
    ensure!(shown? == EXPECTED);
    Ok(())
}

#[tokio::test]
async fn the_book_is_served() -> Result<()> {
    let server = start_server(|_| {}).await?;
    let base = server.base.clone();
    let title = with_browser(BrowserOptions::default(), |client| async move {
        client.goto(&format!("{base}/book/")).await?;
        Ok(client.title().await?)
    })
    .await;
    server.stop().await?;
    let title = title?;
    ensure!(title.contains("Socket Lab"), "book title was {title:?}");
    Ok(())
}
