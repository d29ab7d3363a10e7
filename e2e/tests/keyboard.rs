//! Every lab run once with the keyboard alone, as a learner who cannot use a
//! pointer would: from the top of the lab's own page, Tab until the focus is
//! on the lab's first button (every control on the way must be reachable),
//! press Enter, and the run shows up in the lab (a step in its list, or its
//! verdict), live against a real server.

use std::time::Duration;

use anyhow::{Result, bail};
use e2e::{Site, wait_lab};
use fantoccini::Client;
use fantoccini::key::Key;
use serde_json::Value;

/// The labs a single button runs: every lab but the events list and the
/// check view, which wait for a terminal (the quiz and exercise labs, not
/// in the registry's list, are run by the book test).
fn labs() -> impl Iterator<Item = &'static str> {
    protocol::demo::LABS
        .into_iter()
        .filter(|l| !["events", "check"].contains(l))
}

/// Whether the focus is on the lab's first enabled control button.
const ON_FIRST: &str = "const first = document.querySelector('socket-lab .sl-controls button.sl-button:not([disabled])'); \
    return !!first && document.activeElement === first;";

/// Whether the lab shows something of a run.
const RAN: &str = "const lab = document.querySelector('socket-lab'); \
    const v = lab.querySelector('[data-role=verdict]'); \
    return lab.querySelectorAll('.sl-timeline li, .sl-gantt-row, tr[data-state]').length > 0 || (!!v && v.textContent.trim().length > 0);";

async fn run_by_keyboard(c: &Client, site: &Site, lab: &str) -> Result<()> {
    c.goto(&format!("{}/embed/{lab}", site.base())).await?;
    wait_lab(c, &format!("socket-lab[lab={lab}]")).await?;
    let mut tabs = 0;
    while c.execute(ON_FIRST, vec![]).await? != Value::Bool(true) {
        tabs += 1;
        if tabs > 40 {
            bail!("{lab}: 40 presses of Tab never reached the lab's first button");
        }
        c.active_element()
            .await?
            .send_keys(&Key::Tab.to_string())
            .await?;
    }
    c.active_element()
        .await?
        .send_keys(&Key::Enter.to_string())
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while c.execute(RAN, vec![]).await? != Value::Bool(true) {
        if tokio::time::Instant::now() > deadline {
            bail!("{lab}: Enter on its first button ran nothing within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("{lab}: run with the keyboard after {tabs} Tab presses");
    Ok(())
}

#[tokio::test]
async fn every_lab_runs_once_without_a_pointer() -> Result<()> {
    Site::start_live(|_| {})
        .await?
        .session(async |c, site| {
            for lab in labs() {
                run_by_keyboard(c, site, lab).await?;
            }
            Ok(())
        })
        .await
}
