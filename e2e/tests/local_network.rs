//! Labs on a course site that Chrome counts as *public*, reaching the
//! learner's own Socket Lab server on loopback: Chrome's Local Network
//! Access (LNA).
//!
//! The course pages are served on loopback ports that
//! `--ip-address-space-overrides=127.0.0.1:PORT=public` makes public; the
//! live server's port stays loopback. What Debian's Chromium 156 does,
//! measured with these pages and asserted below:
//!
//! - The permission names it knows (`navigator.permissions.query`):
//!   `loopback-network` (reaching 127.0.0.1), `local-network` (private
//!   addresses) and the older `local-network-access`; every one starts as
//!   `prompt`. The Permissions-Policy features of the same three names have
//!   the default allowlist `'self'`; `allow="local-network-access"` delegates
//!   all three, `allow="loopback-network"` only that one.
//! - Headless, the permission prompt is answered "no" at once: the first
//!   connection from a public page to loopback fails within milliseconds
//!   with `net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS` (a WebSocket) or
//!   a CORS error naming the `loopback` address space (a script, a fetch), and
//!   `loopback-network` then reads `denied`. So "the browser is asking" cannot
//!   be seen headless; it is not tested here.
//! - Not only the bridge is gated: a `<script src>` from the learner's
//!   machine and an `<iframe>` of the server's `/embed/<lab>` are blocked too
//!   (the frame shows Chrome's error page). Only labs loaded from the course
//!   site itself (a copy of the built site, pointed at the learner's server
//!   with `server=`) run in the page and can say why.
//! - The DevTools protocol grants it: `Browser.grantPermissions` with
//!   `loopbackNetwork` for the course origin (the
//!   `localNetworkAccess` grant does not open loopback in this version).
//!   A page already open hears the change (the permission's `change` event)
//!   and connects without a reload; after it, the scripts, the frames and
//!   their WebSockets load, whatever the frame's `allow` attribute said (a
//!   granted permission was not held back by the frame's policy here, so the
//!   `allow` value is checked through `featurePolicy.allowsFeature`).
//! - No preflight header from the older Private Network Access proposal is
//!   sent, so the server needs nothing beyond the CORS headers it sends.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::{
    BrowserOptions, Driver, PAGE_TIMEOUT, RunningServer, click, dist, screenshot, screenshot_dir,
    start_server, wait_contains, wait_count, wait_lab, with_browser_args,
};
use fantoccini::{Client, Locator};
use serde_json::json;

/// The `allow` value the embedding snippets carry: the older name and the
/// two current ones (loopback, private network).
const ALLOW: &str = "local-network-access; loopback-network; local-network";

/// A course site on a loopback port that the browser is told to count as
/// public: the course page, a one-lab page for a frame, a README-style
/// page loading the labs from the learner's machine, and a copy of the
/// built labs.
struct CourseSite {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CourseSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The head every course page shares: the labs from the course site itself.
fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=stylesheet href=\"/socket-lab.css\">\
         <script src=\"/socket-lab.js\"></script>\
         <style>iframe {{ box-sizing: border-box; width: 100%; height: 36rem; border: 1px solid #ccc; }}</style></head>"
    )
}

impl CourseSite {
    async fn start(listener: tokio::net::TcpListener, live: &str, frames: &str) -> Result<Self> {
        let base = format!("http://{}", listener.local_addr()?);
        let course = format!(
            "{}<body class=sl-site><h1>Week 3: sticky packets</h1>\
             <socket-lab id=element lab=sticky server=\"{live}/\"></socket-lab>\
             <h2>The same lab, framed from another site</h2>\
             <iframe id=hosted src=\"{frames}/lab.html\" allow=\"{ALLOW}\" title=\"Sticky packets lab\"></iframe>\
             <h2>The lab's own page on your machine</h2>\
             <iframe id=direct src=\"{live}/embed/sticky\" allow=\"{ALLOW}\" title=\"Sticky packets lab\"></iframe>\
             </body></html>",
            head("Week 3: sticky packets")
        );
        let lab = format!(
            "{}<body class=\"sl-site sl-embed\"><socket-lab lab=sticky server=\"{live}/\"></socket-lab></body></html>",
            head("Sticky packets")
        );
        // The README's snippet: the loader from the learner's machine, with
        // words inside the element for when the browser refuses it.
        let from_machine = format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Week 3</title>\
             <script src=\"{live}/socket-lab.js\" \
             onerror=\"document.documentElement.dataset.loader='refused'\"></script></head>\
             <body><socket-lab lab=sticky>This lab runs on Socket Lab on your machine. If this \
             text stays, start it or <a href=\"{live}/embed/sticky\">open the lab there</a>.\
             </socket-lab></body></html>"
        );
        let page = |html: String| {
            axum::routing::get(move || std::future::ready(axum::response::Html(html.clone())))
        };
        let app = axum::Router::new()
            .route("/", page(course))
            .route("/lab.html", page(lab))
            .route("/from-your-machine.html", page(from_machine))
            .fallback_service(tower_http::services::ServeDir::new(dist()?));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(CourseSite { base, task })
    }
}

/// The learner's server and two public sites: the course, and another one
/// whose lab page the course frames.
struct Sites {
    live: RunningServer,
    course: CourseSite,
    frames: CourseSite,
}

impl Sites {
    async fn start() -> Result<Sites> {
        let course = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let frames = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origins = [&course, &frames].map(|l| l.local_addr().map(|a| format!("http://{a}")));
        let [course_origin, frames_origin] = origins;
        let (course_origin, frames_origin) = (course_origin?, frames_origin?);
        let live = start_server(|c| {
            c.allow_origins.push(course_origin);
            c.allow_origins.push(frames_origin);
        })
        .await?;
        let frames_base = format!("http://{}", frames.local_addr()?);
        let course = CourseSite::start(course, &live.base, &frames_base).await?;
        let frames = CourseSite::start(frames, &live.base, &frames_base).await?;
        Ok(Sites {
            live,
            course,
            frames,
        })
    }

    /// Chromium's switch that makes both course sites public.
    fn public_args(&self) -> Vec<String> {
        let port = |base: &str| base.rsplit(':').next().unwrap_or_default().to_owned();
        vec![format!(
            "--ip-address-space-overrides=127.0.0.1:{}=public,127.0.0.1:{}=public",
            port(&self.course.base),
            port(&self.frames.base)
        )]
    }

    /// Runs `body` in a fresh browser that counts the course sites as
    /// public, then stops the server, whatever `body` did.
    async fn browse<T>(
        self,
        looks: impl IntoIterator<Item = BrowserOptions>,
        body: impl AsyncFn(&Client, Driver, &Sites) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut result = Ok(());
        let (body, sites, args) = (&body, &self, self.public_args());
        for options in looks {
            match with_browser_args(
                options,
                &args,
                |c, d| async move { body(&c, d, sites).await },
            )
            .await
            {
                Ok(t) => out.push(t),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.live.stop().await?;
        result.map(|()| out)
    }

    /// The live server's page for the sticky lab.
    fn own_page(&self) -> String {
        format!("{}/embed/sticky", self.live.base)
    }
}

/// Polls `script` (which returns a boolean) until it is true.
async fn wait_js(c: &Client, script: &str, what: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    loop {
        if c.execute(script, vec![])
            .await
            .ok()
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: not so within {PAGE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What `navigator.permissions` says about `name` on this page.
async fn permission(c: &Client, name: &str) -> Result<String> {
    let state = c
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             navigator.permissions.query({ name: arguments[0] })\
               .then(s => done(s.state), e => done('unknown: ' + e.message));",
            vec![json!(name)],
        )
        .await?;
    Ok(state.as_str().unwrap_or_default().to_owned())
}

/// Grants `permission` (a DevTools `PermissionType`) to `origin`.
async fn grant(c: &Client, d: Driver, origin: &str, permission: &str) -> Result<()> {
    d.cdp(
        c,
        "Browser.grantPermissions",
        json!({ "origin": origin, "permissions": [permission] }),
    )
    .await
    .map(|_| ())
}

/// The lab at `css` explains that the browser has not allowed this page to
/// reach the learner's machine, and links to the lab on their own server.
async fn says_not_allowed(c: &Client, sites: &Sites, css: &str) -> Result<()> {
    wait_lab(c, css).await?;
    wait_count(
        c,
        &format!("{css} [data-role=reach][data-reach=blocked]"),
        1,
    )
    .await?;
    let badge = wait_contains(c, &format!("{css} [data-role=mode]"), "simulated").await?;
    ensure!(
        badge.contains("not allowed by your browser"),
        "badge: {badge:?}"
    );
    let note = c
        .find(Locator::Css(&format!("{css} [data-role=reach] p")))
        .await?
        .text()
        .await?;
    ensure!(
        note.contains("has not let this page connect to your machine")
            && note.contains("site settings"),
        "the explanation: {note:?}"
    );
    let href = c
        .find(Locator::Css(&format!("{css} [data-role=own-server]")))
        .await?
        .attr("href")
        .await?
        .context("the link has no href")?;
    ensure!(
        href == sites.own_page(),
        "the link points at {href}, not {}",
        sites.own_page()
    );
    Ok(())
}

/// Waits until the lab at `css` (`""` for the page's only one) runs live.
async fn goes_live(c: &Client, css: &str) -> Result<()> {
    wait_contains(
        c,
        format!("{css} [data-role=mode]").trim_start(),
        "live on your machine",
    )
    .await
    .map(|_| ())
}

/// Opens `url` and waits until its lab runs live.
async fn opens_live(c: &Client, url: &str) -> Result<()> {
    c.goto(url).await?;
    wait_lab(c, "socket-lab").await?;
    goes_live(c, "").await
}

/// Opens the course page, whose element lab says the browser refused.
async fn course_not_allowed(c: &Client, sites: &Sites) -> Result<()> {
    c.goto(&format!("{}/", sites.course.base)).await?;
    says_not_allowed(c, sites, "#element").await
}

/// Runs `f` inside the frame `css`, then returns to the page.
async fn in_frame<T>(c: &Client, css: &str, f: impl AsyncFnOnce() -> Result<T>) -> Result<T> {
    c.find(Locator::Css(css)).await?.enter_frame().await?;
    let result = f().await;
    c.enter_parent_frame().await?;
    result
}

#[tokio::test]
async fn without_the_permission_a_lab_says_why_and_links_to_the_learners_server() -> Result<()> {
    let sites = Sites::start().await?;
    sites
        .browse([BrowserOptions::default()], async |c, _, sites| {
            c.goto(&format!("{}/", sites.course.base)).await?;
            // The element, with the labs from the course site.
            says_not_allowed(c, sites, "#element").await?;
            ensure!(
                permission(c, "loopback-network").await? == "denied",
                "headless answered the prompt with something other than no"
            );
            // The same, framed from another public site, which the page
            // delegated the permission to.
            in_frame(c, "#hosted", async || {
                says_not_allowed(c, sites, "socket-lab").await?;
                wait_js(
                    c,
                    "return document.featurePolicy.allowsFeature('loopback-network')",
                    "the frame's allow attribute delegates loopback-network",
                )
                .await
            })
            .await?;
            // The server's own page in a frame: Chrome does not even load it.
            in_frame(c, "#direct", async || {
                wait_js(
                    c,
                    "return location.href.startsWith('chrome-error:')",
                    "the frame of the learner's server shows Chrome's error page",
                )
                .await
            })
            .await?;
            // The README's snippet: the loader itself is refused, the
            // element's own words stay.
            c.goto(&format!("{}/from-your-machine.html", sites.course.base))
                .await?;
            wait_count(c, "html[data-loader=refused]", 1).await?;
            wait_contains(c, "socket-lab", "If this text stays").await?;
            // The link: the lab on the learner's own server, live there.
            opens_live(c, &sites.own_page()).await?;
            wait_count(c, "[data-role=reach][data-reach=none]", 1).await
        })
        .await?;
    Ok(())
}

#[tokio::test]
async fn with_the_permission_granted_the_labs_go_live() -> Result<()> {
    let sites = Sites::start().await?;
    sites
        .browse([BrowserOptions::default()], async |c, d, sites| {
            let course = &sites.course.base;
            course_not_allowed(c, sites).await?;
            // The older name's grant does not open loopback in this Chromium.
            grant(c, d, course, "localNetworkAccess").await?;
            let state = permission(c, "loopback-network").await?;
            ensure!(
                state != "granted",
                "localNetworkAccess granted loopback-network too"
            );
            // Granted while the page is open: the lab hears it and connects.
            grant(c, d, course, "loopbackNetwork").await?;
            goes_live(c, "#element").await?;
            wait_count(c, "#element [data-role=reach][data-reach=none]", 1).await?;
            click(c, "#element [data-role=run]").await?;
            wait_contains(c, "#element [data-role=verdict]", "Merged").await?;
            // Both frames load and run live.
            c.refresh().await?;
            wait_lab(c, "#element").await?;
            goes_live(c, "#element").await?;
            for frame in ["#hosted", "#direct"] {
                in_frame(c, frame, async || {
                    wait_lab(c, "socket-lab").await?;
                    goes_live(c, "").await
                })
                .await
                .with_context(|| format!("the frame {frame}"))?;
            }
            // And the loader from the learner's machine.
            opens_live(c, &format!("{course}/from-your-machine.html")).await?;
            Ok(())
        })
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_learners_choice_of_the_simulation_is_remembered_until_they_change_it() -> Result<()> {
    let sites = Sites::start().await?;
    sites
        .browse([BrowserOptions::default()], async |c, d, sites| {
            let course = &sites.course.base;
            course_not_allowed(c, sites).await?;
            click(c, "#element [data-role=use-simulation]").await?;
            wait_count(c, "#element [data-role=reach][data-reach=chosen]", 1).await?;
            wait_contains(c, "#element [data-role=mode]", "simulated, as you chose").await?;
            screenshot(c, &screenshot_dir().join("local-network-chosen.png")).await?;
            // From now on a try would succeed: the page must not make one.
            grant(c, d, course, "loopbackNetwork").await?;
            c.refresh().await?;
            wait_lab(c, "#element").await?;
            wait_count(c, "#element [data-role=reach][data-reach=chosen]", 1).await?;
            // A whole simulated run, then still simulated: no try was made
            // (with the permission granted, one would have gone live).
            click(c, "#element [data-role=run]").await?;
            wait_contains(c, "#element [data-role=verdict]", "Merged").await?;
            wait_contains(c, "#element [data-role=mode]", "simulated, as you chose").await?;
            // The way back: live at once, and after a reload too.
            click(c, "#element [data-role=use-machine]").await?;
            goes_live(c, "#element").await?;
            c.refresh().await?;
            wait_lab(c, "#element").await?;
            goes_live(c, "#element").await?;
            Ok(())
        })
        .await?;
    Ok(())
}

/// The explanation as a learner sees it: light, dark and on a phone.
#[tokio::test]
async fn screenshots_of_the_explanation() -> Result<()> {
    let looks = [
        (BrowserOptions::default(), "light"),
        (
            BrowserOptions {
                dark: true,
                ..BrowserOptions::default()
            },
            "dark",
        ),
        (
            BrowserOptions {
                size: (390, 844),
                ..BrowserOptions::default()
            },
            "390",
        ),
    ];
    let tags = looks.clone().map(|(_, tag)| tag);
    let next = std::cell::Cell::new(0);
    let sites = Sites::start().await?;
    sites
        .browse(looks.map(|(o, _)| o), async |c, d, sites| {
            let tag = tags[next.replace(next.get() + 1)];
            if tag == "390" {
                // Headless Chromium keeps a window at least 500 px wide; the
                // phone's width comes from device emulation instead.
                let phone =
                    json!({ "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true });
                d.cdp(c, "Emulation.setDeviceMetricsOverride", phone)
                    .await?;
            }
            c.goto(&format!("{}/", sites.course.base)).await?;
            says_not_allowed(c, sites, "#element").await?;
            screenshot(
                c,
                &screenshot_dir().join(format!("local-network-{tag}.png")),
            )
            .await
        })
        .await?;
    Ok(())
}
