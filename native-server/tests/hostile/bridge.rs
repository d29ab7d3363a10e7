//! The bridge: not an open proxy, not for foreign pages.

use super::*;

#[tokio::test]
async fn the_bridge_opens_nothing_but_demos_and_allowed_targets() {
    let _serial = serial().await;
    let allowed_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let allowed = allowed_listener.local_addr().unwrap();
    let server = TestServer::start(|c| c.bridge_allow.push(allowed)).await;
    let mut sub = server.bus.subscribe();
    let echo = server.addr(Demo::TcpEcho);
    let p = allowed.port();
    let targets = [
        // private and public addresses
        "10.0.0.1:22".to_owned(),
        "192.168.1.1:80".into(),
        "172.16.0.1:443".into(),
        "169.254.169.254:80".into(), // cloud metadata
        "1.1.1.1:53".into(),
        "93.184.216.34:80".into(),
        "[2606:4700:4700::1111]:53".into(),
        // a demo by address instead of by name, and loopback spelled otherwise
        echo.to_string(),
        format!("localhost:{}", echo.port()),
        format!("localhost:{p}"),
        format!("localhost.:{p}"),
        format!("127.0.0.2:{p}"),
        format!("127.1:{p}"),
        format!("0.0.0.0:{p}"),
        format!("[::1]:{p}"),
        format!("[::ffff:127.0.0.1]:{p}"),
        format!("2130706433:{p}"),
        format!("0x7f000001:{p}"),
        format!(" {allowed}"),
        format!("{allowed}/"),
        format!("tcp://{allowed}"),
        // the allowed host on a different port, and the server's own HTTP port
        format!("127.0.0.1:{}", p.wrapping_add(1)),
        format!("127.0.0.1:{}", server.http.port()),
        // UNIX sockets and named pipes
        "unix:/var/run/docker.sock".into(),
        "unix:///tmp/socket-lab.sock".into(),
        "/run/systemd/private".into(),
        "@abstract-socket".into(),
        r"\\.\pipe\docker_engine".into(),
    ];
    let mut attempts: Vec<String> = targets
        .iter()
        .map(|t| json!({"type": "open", "sock": 1, "target": t}).to_string())
        .collect();
    attempts.extend(
        [
            json!({"type": "open", "sock": 1, "demo": "tcp-echo", "target": allowed.to_string()}),
            json!({"type": "open", "sock": 1, "demo": "TCP-ECHO"}),
            json!({"type": "open", "sock": 1, "demo": "tcp-echo\u{0}"}),
            json!({"type": "open", "sock": 1, "demo": "../tcp-echo"}),
            json!({"type": "open", "sock": 1, "demo": format!("tcp-echo:{}", echo.port())}),
            json!({"type": "open", "sock": 1, "demo": {"host": "10.0.0.1"}}),
            json!({"type": "open", "sock": 1, "target": ["127.0.0.1", p]}),
            json!({"type": "open", "sock": 1, "target": allowed.to_string(), "sticky": {"read_size": 1, "read_delay_ms": 0}}),
            json!({"type": "open", "sock": 1, "demo": "sticky", "sticky": {"read_size": 1u64 << 40, "read_delay_ms": 0}}),
            json!({"type": "open", "sock": 1, "demo": "sticky", "sticky": {"read_size": 8, "read_delay_ms": u32::MAX}}),
            json!({"type": "open", "sock": 1}),
        ]
        .map(|v| v.to_string()),
    );
    let mut page = Page::connect(server.http).await;
    for attempt in &attempts {
        let code = page.refused(attempt).await;
        assert!(
            matches!(
                code.as_str(),
                "bad_message" | "target_not_allowed" | "bad_open" | "bad_sticky_options"
            ),
            "{attempt}: {code}"
        );
    }
    println!("{} open requests refused", attempts.len());
    // Nothing was opened: the first demo connection is the legitimate one, and
    // the first connection the allowed target sees is the legitimate one.
    let local = page.open(open(1, Demo::TcpEcho)).await;
    assert_eq!(wait_for(&mut sub, |_| true).await.peer, local);
    page.send_raw_text(
        &json!({"type": "open", "sock": 2, "target": allowed.to_string()}).to_string(),
    )
    .await;
    let (_conn, peer) = within(
        Duration::from_secs(5),
        "the allowed target's accept",
        allowed_listener.accept(),
    )
    .await
    .unwrap();
    let opened = page
        .until(|g| match g {
            Got::Msg(ServerMsg::Opened { sock: 2, local, .. }) => Some(local.clone()),
            _ => None,
        })
        .await;
    assert_eq!(peer.to_string(), opened);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn upgrades_from_foreign_or_missing_origins_and_rebinding_hosts_get_403() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let own = server.http.to_string();
    let port = server.http.port();
    let own_origin = format!("http://{own}");
    let cases: Vec<(Option<String>, Option<String>, &str)> = vec![
        // (Host, Origin, what the refusal must mention)
        (
            Some(own.clone()),
            Some("http://evil.example".into()),
            "--allow-origin",
        ),
        (
            Some(own.clone()),
            Some("https://evil.example".into()),
            "--allow-origin",
        ),
        (Some(own.clone()), Some("null".into()), "--allow-origin"),
        (
            Some(own.clone()),
            Some(format!("http://{own}.evil.example")),
            "--allow-origin",
        ),
        (
            Some(own.clone()),
            Some(format!("http://evil.example#{own}")),
            "--allow-origin",
        ),
        (
            Some(own.clone()),
            Some(format!("http://127.0.0.1:{}", port.wrapping_add(1))),
            "--allow-origin",
        ),
        (Some(own.clone()), Some("file://".into()), "--allow-origin"),
        (Some(own.clone()), None, "no Origin"),
        // DNS rebinding: the attacker's name resolves to 127.0.0.1, so the
        // page's Origin and the Host match each other but not us.
        (
            Some(format!("evil.example:{port}")),
            Some(format!("http://evil.example:{port}")),
            "--allow-host",
        ),
        (
            Some(format!("127.0.0.1.nip.io:{port}")),
            Some(format!("http://127.0.0.1.nip.io:{port}")),
            "--allow-host",
        ),
        (
            Some("localhost".into()),
            Some("http://localhost".into()),
            "--allow-host",
        ),
        (
            Some(format!("127.0.0.1:{}", port.wrapping_add(1))),
            Some(own_origin.clone()),
            "--allow-host",
        ),
        (None, Some(own_origin.clone()), "--allow-host"),
    ];
    for (host, origin, mention) in &cases {
        let (status, _, text) = ws_handshake(server.http, host.as_deref(), origin.as_deref()).await;
        assert_eq!(status, 403, "Host {host:?} Origin {origin:?}: {text}");
        assert!(
            text.contains(mention),
            "Host {host:?} Origin {origin:?}: {text}"
        );
    }
    println!("{} upgrades refused", cases.len());
    // The refused upgrades opened nothing, and our own page still works.
    let (status, _, _) = ws_handshake(server.http, Some(&own), Some(&own_origin)).await;
    assert_eq!(status, 101);
    let mut page = Page::connect(server.http).await;
    let local = page.open(open(1, Demo::TcpEcho)).await;
    assert_eq!(wait_for(&mut sub, |_| true).await.peer, local);
    server.stop().await.unwrap();
}
