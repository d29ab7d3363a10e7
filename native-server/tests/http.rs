//! The HTTP side: pages, MIME types, CSP, CORS for static assets only,
//! caching and compression headers, the per-lab embed pages.
//!
//! Through the router itself with `oneshot` (axum's `testing` example), except
//! the upgrade, whose raw request and answer are the point.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestServer;
use native_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// One request through the router: (status, headers lowercased as text, body).
async fn call(
    assets: &std::path::Path,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String, Vec<u8>) {
    let app = native_server::testing::app(Config::for_tests(assets), Vec::new());
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let head: String = res
        .headers()
        .iter()
        .map(|(k, v)| format!("{}: {}\n", k, v.to_str().unwrap_or("")).to_ascii_lowercase())
        .collect();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, head, body)
}

/// A minimal site like `dist/`, one per test: tests run in parallel, and
/// rewriting a file another test is serving would cut its response short.
fn site() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("socket-lab-http-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Socket Lab</title>",
    )
    .unwrap();
    std::fs::write(dir.join("socket-lab.js"), "// loader\n".repeat(200)).unwrap();
    std::fs::write(dir.join("pkg/wasm_client_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    dir
}

/// Sends one raw HTTP/1.1 request and returns (status line + headers lowercased, body).
async fn get(server: &TestServer, path: &str, extra: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(server.http).await.unwrap();
    let close = if extra.contains("Connection:") {
        ""
    } else {
        "Connection: close\r\n"
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{close}{extra}\r\n",
        server.http
    );
    s.write_all(req.as_bytes()).await.unwrap();
    // Read the head, then exactly content-length bytes (or to EOF), so a
    // kept-alive connection cannot hang the test.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let split = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the response head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(len) => {
            while body.len() < len {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed mid-body");
                body.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            s.read_to_end(&mut body).await.unwrap();
        }
    }
    (head, body)
}

#[tokio::test]
async fn pages_carry_csp_and_static_assets_allow_cors() {
    let dir = site();
    let (status, head, _) = call(&dir, "/", &[("origin", "https://course.example")]).await;
    assert_eq!(status, StatusCode::OK, "{head}");
    assert!(
        head.contains(
            "content-security-policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'"
        ),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"));
    assert!(head.contains("cache-control: no-cache"));
    assert!(
        head.contains("access-control-allow-origin: *"),
        "static assets may be loaded by course pages: {head}"
    );

    let (_, head, _) = call(&dir, "/pkg/wasm_client_bg.wasm", &[]).await;
    assert!(head.contains("content-type: application/wasm"), "{head}");

    let (_, head, _) = call(&dir, "/socket-lab.js", &[("accept-encoding", "gzip")]).await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
}

#[tokio::test]
async fn the_bridge_is_not_cors_open() {
    let server = TestServer::start(|c| c.assets = site()).await;
    let (head, body) = get(
        &server,
        "/ws",
        "Origin: https://course.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("--allow-origin https://course.example"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn embed_pages_exist_for_every_lab_and_explain_unknown_ones() {
    let dir = site();
    for lab in protocol::demo::LABS {
        let (status, head, body) = call(&dir, &format!("/embed/{lab}"), &[]).await;
        assert_eq!(status, StatusCode::OK, "{lab}: {head}");
        assert!(String::from_utf8_lossy(&body).contains(&format!("<socket-lab lab=\"{lab}\">")));
    }
    let (status, _, body) = call(&dir, "/embed/ftp", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("tcp-echo"));
    let (status, _, body) = call(&dir, "/embed/%3Cscript%3E", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        !String::from_utf8_lossy(&body).contains("<script>"),
        "names are not reflected as HTML"
    );
}

#[tokio::test]
async fn an_unbuilt_site_says_how_to_build_it() {
    let nothing = std::env::temp_dir().join("socket-lab-no-site");
    let (status, _, body) = call(&nothing, "/", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&body).contains("cargo xtask serve"));
}
