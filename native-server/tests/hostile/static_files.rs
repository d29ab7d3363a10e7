//! Static files: nothing outside --assets.

use super::*;

/// `base/assets` (the site) next to `base/secret.txt` and
/// `base/assets-private/secret.txt`, which must never be served.
fn site_with_secrets() -> (PathBuf, String) {
    let base = std::env::temp_dir().join(format!("socket-lab-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let assets = base.join("assets");
    std::fs::create_dir_all(assets.join("sub")).unwrap();
    std::fs::create_dir_all(base.join("assets-private")).unwrap();
    std::fs::write(assets.join("index.html"), "<h1>lab index</h1>").unwrap();
    std::fs::write(assets.join("sub/page.html"), "<p>sub page</p>").unwrap();
    let marker = format!("TOP-SECRET-{}", std::process::id());
    std::fs::write(base.join("secret.txt"), &marker).unwrap();
    std::fs::write(base.join("assets-private/secret.txt"), &marker).unwrap();
    (assets, marker)
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn static_paths_never_leave_the_assets_directory() {
    let _serial = serial().await;
    let (assets, marker) = site_with_secrets();
    let server = TestServer::start(|c| c.assets = assets.clone()).await;
    let secret_abs = path_str(&assets.parent().unwrap().join("secret.txt"));
    let http = server.http;
    let mut targets: Vec<String> = [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/..%5csecret.txt",
        "/..%255csecret.txt",
        "/....//secret.txt",
        "/sub/.../secret.txt",
        "/../assets-private/secret.txt",
        "/%2e%2e/assets-private/secret.txt",
        "/%00/../secret.txt",
        "/sub/..%00/secret.txt",
        "/embed/..%2f..%2fsecret.txt",
        "/book/../../secret.txt",
        "/etc/passwd",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/../../../../../../../../etc/passwd",
        "../secret.txt",
        "secret.txt",
    ]
    .map(str::to_owned)
    .to_vec();
    targets.push(format!("/{secret_abs}"));
    targets.push(format!("/{}", secret_abs.replace('/', "%2f")));
    targets.push(format!("http://{http}/../secret.txt"));
    targets.push(format!("http://{http}/%2e%2e/secret.txt"));
    targets.push(format!("http://{http}{secret_abs}"));
    let mut statuses = Vec::new();
    for target in &targets {
        let (status, text) = raw_http(http, &get(http, target)).await;
        assert!(
            !text.contains(&marker) && !text.contains("root:x:0"),
            "{target} served a file outside --assets:\n{text}"
        );
        assert!(
            status != 200 || text.contains("lab index") || text.contains("sub page"),
            "{target}: unexpected 200:\n{text}"
        );
        statuses.push((target.clone(), status));
    }
    println!("{} traversal attempts: {statuses:?}", targets.len());
    for odd in ["secret.txt", "../secret.txt"] {
        let status = statuses.iter().find(|(t, _)| t == odd).map(|(_, s)| *s);
        assert_eq!(
            status,
            Some(400),
            "{odd}: a relative request target gets a plain 400"
        );
    }
    // The site itself is still served.
    let (status, text) = raw_http(http, &get(http, "/sub/page.html")).await;
    assert_eq!(status, 200);
    assert!(text.contains("sub page"));
    let (status, text) = raw_http(http, &get(http, "/")).await;
    assert_eq!(status, 200);
    assert!(text.contains("lab index"));
    server.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(assets.parent().unwrap());
}

// ---------------------------------------------------------------------------
