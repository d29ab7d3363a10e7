//! Slowloris: clients that trickle or hold a turn.

use super::*;

/// One slowloris client: connects, sends `prefix`, waits at `ready`, then
/// sends one byte every `tick`, reading (and ignoring) whatever comes back.
/// Returns how long the server let it live, or `None` if still open at `stop`.
async fn slowloris(
    addr: SocketAddr,
    prefix: Vec<u8>,
    tick: Duration,
    ready: Arc<Barrier>,
    stop: CancellationToken,
) -> Option<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("attacker connects");
    s.set_nodelay(true).unwrap();
    let _ = s.write_all(&prefix).await;
    ready.wait().await;
    let mut ticks = tokio::time::interval_at(Instant::now() + tick, tick);
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            // A close that already happened wins over `stop`.
            biased;
            res = s.read(&mut buf) => match res {
                Ok(0) | Err(_) => return Some(start.elapsed()),
                Ok(_) => {}
            },
            _ = stop.cancelled() => return None,
            _ = ticks.tick() => {
                if s.write_all(b"x").await.is_err() {
                    return Some(start.elapsed());
                }
            }
        }
    }
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn slowloris_on_every_tcp_demo_and_http_does_not_starve_others() {
    let _serial = serial().await;
    let header_timeout = Duration::from_millis(1000);
    let hold = Duration::from_millis(300);
    let server = TestServer::start(|c| {
        c.http_header_timeout = header_timeout;
        c.hold_limit = hold;
        c.handshake_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(10);
    })
    .await;
    let before = rss_bytes();
    let tick = Duration::from_millis(250);
    let header = format!("GET / HTTP/1.1\r\nHost: {}\r\nX-Slow: ", server.http).into_bytes();
    // (label, address, attackers, first bytes). tcp-echo serves one client at a
    // time by design, so ten attackers already queue a newcomer for ten turns.
    let plan: Vec<(&str, SocketAddr, usize, Vec<u8>)> = vec![
        ("http", server.http, 150, header),
        ("tcp-echo", server.addr(Demo::TcpEcho), 10, Vec::new()),
        ("uppercase", server.addr(Demo::Uppercase), 50, Vec::new()),
        ("framed", server.addr(Demo::Framed), 50, vec![0, 0, 0, 100]),
        ("auth", server.addr(Demo::Auth), 50, Vec::new()),
        ("sticky", server.addr(Demo::Sticky), 50, Vec::new()),
    ];
    let total: usize = plan.iter().map(|p| p.2).sum();
    let ready = Arc::new(Barrier::new(total + 1));
    let stop = CancellationToken::new();
    let mut attackers = Vec::new();
    for (label, addr, n, prefix) in &plan {
        for _ in 0..*n {
            let task = tokio::spawn(slowloris(
                *addr,
                prefix.clone(),
                tick,
                ready.clone(),
                stop.clone(),
            ));
            attackers.push((*label, task));
        }
    }
    within(
        Duration::from_secs(20),
        "every attacker connected",
        ready.wait(),
    )
    .await;
    println!("{total} slowloris connections open");

    // Everyone else is still served, within a stated time.
    let started = Instant::now();
    let (status, _) = within(
        Duration::from_secs(2),
        "a normal HTTP request during slowloris",
        raw_http(server.http, &get(server.http, "/")),
    )
    .await;
    assert!(status == 200 || status == 503, "status {status}");
    for demo in [Demo::Uppercase, Demo::Framed, Demo::Auth, Demo::Sticky] {
        served(&server, demo, Duration::from_secs(2)).await;
    }
    // tcp-echo: at most ten turns of --hold-limit ahead of us, plus slack.
    served(&server, Demo::TcpEcho, hold * 10 + Duration::from_secs(3)).await;
    println!("normal clients served in {:?}", started.elapsed());

    // The HTTP attackers were cut off by the header deadline, the tcp-echo
    // ones by the hold limit; the others each hold one connection slot.
    let mut cut = Vec::new();
    let mut still_open = 0;
    stop.cancel();
    for (label, task) in attackers {
        let lived = within(Duration::from_secs(10), "an attacker to stop", task)
            .await
            .unwrap();
        match (label, lived) {
            ("http", Some(d)) => cut.push(d),
            ("http", None) => panic!("an HTTP slowloris connection was never closed"),
            ("tcp-echo", None) => panic!("a tcp-echo slowloris client was never dropped"),
            (_, _) => still_open += 1,
        }
    }
    let longest = cut.iter().max().copied().unwrap_or_default();
    println!(
        "HTTP attackers closed after at most {longest:?}; {still_open} other attackers held a slot"
    );
    assert!(
        longest < header_timeout + Duration::from_secs(3),
        "HTTP slowloris lived {longest:?} with a {header_timeout:?} header deadline"
    );
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn an_http_client_that_sends_nothing_is_closed_after_the_header_deadline() {
    let _serial = serial().await;
    let server = TestServer::start(|c| c.http_header_timeout = Duration::from_millis(300)).await;
    let mut silent = TcpStream::connect(server.http).await.unwrap();
    let mut partial = TcpStream::connect(server.http).await.unwrap();
    partial
        .write_all(b"GET / HTTP/1.1\r\nHost: ")
        .await
        .unwrap();
    // Before this fix, both stayed open forever (axum::serve sets no timer).
    read_to_close(&mut silent, Duration::from_secs(5)).await;
    read_to_close(&mut partial, Duration::from_secs(5)).await;
    let (status, _) = raw_http(server.http, &get(server.http, "/")).await;
    assert!(status == 200 || status == 503, "status {status}");
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn tcp_echo_drops_a_busy_client_after_the_hold_limit() {
    let _serial = serial().await;
    let server = TestServer::start(|c| c.hold_limit = Duration::from_millis(300)).await;
    let mut sub = server.bus.subscribe();
    let addr = server.addr(Demo::TcpEcho);
    let mut hog = TcpStream::connect(addr).await.unwrap();
    hog.set_nodelay(true).unwrap();
    let mut next = TcpStream::connect(addr).await.unwrap();
    // The hog never goes idle: a byte every 50 ms until it is dropped.
    let mut buf = [0u8; 64];
    let dropped = within(Duration::from_secs(5), "the hog to be dropped", async {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                _ = tick.tick() => { let _ = hog.write_all(b"x").await; }
                res = hog.read(&mut buf) => if matches!(res, Ok(0) | Err(_)) { return; },
            }
        }
    });
    dropped.await;
    let ev = wait_for(&mut sub, |e| matches!(e.kind, EventKind::Closed { .. })).await;
    let EventKind::Closed { reason, .. } = ev.kind else {
        unreachable!()
    };
    assert!(reason.contains("hold limit"), "{reason}");
    next.write_all(b"my turn").await.unwrap();
    let n = within(
        Duration::from_secs(5),
        "the next client",
        next.read(&mut buf),
    )
    .await
    .unwrap();
    assert_eq!(&buf[..n], b"ACK: my turn");
    server.stop().await.unwrap();
}
