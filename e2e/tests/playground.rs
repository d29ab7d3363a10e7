//! The framing playground in a real browser: typed JSON becomes the exact
//! frame Python's `struct.pack('!I', …) + json.dumps(…)` would send.

use anyhow::{Result, ensure};
use e2e::{Site, wait_lab, wait_text};
use fantoccini::{Client, Locator};

const FRAMING: &str = "socket-lab[lab=framing]";

const EXPECTED: &str = "00 00 00 10 7b 22 6d 73 67 22 3a 20 22 48 65 6c 6c 6f 22 7d";

/// Runs `body` on the page at `path` of a fresh live site.
async fn on_page<T>(path: &str, body: impl AsyncFnOnce(&Client) -> Result<T>) -> Result<T> {
    let site = Site::start_live(|_| {}).await?;
    site.session(async |client, site| {
        client.goto(&format!("{}{path}", site.base())).await?;
        body(client).await
    })
    .await
}

#[tokio::test]
async fn playground_shows_the_python_frame_for_typed_json() -> Result<()> {
    let shown = on_page("/", async |client| {
        wait_lab(client, FRAMING).await?;
        let input = client
            .find(Locator::Css(&format!("{FRAMING} [data-role=json-input]")))
            .await?;
        let frame = format!("{FRAMING} [data-role=frame-hex]");
        input.clear().await?;
        // Something else first, so the test proves the page follows the typing.
        input.send_keys("[1]").await?;
        wait_text(client, &frame, |t| t == "00 00 00 03 5b 31 5d").await?;
        input.clear().await?;
        input.send_keys(r#"{"msg": "Hello"}"#).await?;
        wait_text(client, &frame, |t| t == EXPECTED).await
    })
    .await?;
    ensure!(shown == EXPECTED);
    Ok(())
}

#[tokio::test]
async fn the_book_is_served() -> Result<()> {
    let title = on_page("/book/", async |client| Ok(client.title().await?)).await?;
    ensure!(title.contains("Socket Lab"), "book title was {title:?}");
    Ok(())
}
