//! Churn, half-open connections, UDP floods.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connect_close_cycles() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let targets: Vec<SocketAddr> = std::iter::once(server.http)
        .chain(tcp_demos().into_iter().map(|d| server.addr(d)))
        .collect();
    let baseline = open_sockets();
    let before = rss_bytes();
    const CYCLES: usize = 10_000;
    const WORKERS: usize = 50;
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let targets = targets.clone();
            tokio::spawn(async move {
                for i in (w..CYCLES).step_by(WORKERS) {
                    let s = TcpStream::connect(targets[i % targets.len()])
                        .await
                        .expect("connect during churn");
                    if i % 2 == 1 {
                        // Half of them leave with a reset instead of a FIN.
                        s.set_zero_linger().unwrap();
                    }
                    drop(s);
                }
            })
        })
        .collect();
    for w in workers {
        within(Duration::from_secs(60), "the churn", w)
            .await
            .unwrap();
    }
    println!("{CYCLES} connect-close cycles in {:?}", started.elapsed());
    // Every server-side socket is closed again: back to the baseline.
    let now = sockets_settle_to(baseline, Duration::from_secs(10)).await;
    assert!(
        now <= baseline,
        "{now} sockets open, {baseline} before:\n{}",
        common::describe_sockets()
    );
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    for demo in tcp_demos() {
        served(&server, demo, Duration::from_secs(2)).await;
    }
    let (status, _) = raw_http(server.http, &get(server.http, "/")).await;
    assert!(status == 200 || status == 503, "status {status}");
    server.stop().await.unwrap();
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn half_open_and_vanishing_clients_are_closed() {
    let _serial = serial().await;
    let idle = Duration::from_millis(300);
    let server = TestServer::start(|c| {
        c.idle_timeout = idle;
        c.handshake_timeout = idle;
    })
    .await;
    let mut sub = server.bus.subscribe();
    let limit = Duration::from_secs(5);

    // A client that connects and then neither sends nor reads (its host may
    // be gone): dropped after the idle (or handshake) timeout.
    for demo in tcp_demos() {
        let mut s = TcpStream::connect(server.addr(demo)).await.unwrap();
        let got = read_to_close(&mut s, limit).await;
        if demo == Demo::Auth {
            assert_eq!(&got[32..], b"Access Denied");
        } else if demo == Demo::Chat {
            // Welcomed, then dropped after ten idle limits of silence.
            let text = String::from_utf8_lossy(&got);
            assert!(
                text.starts_with("* you are ")
                    && text.ends_with("* you sent nothing for 3 s; closing\n"),
                "{text}"
            );
        } else {
            assert!(got.is_empty(), "{demo}: {got:?}");
        }
    }

    // A client that sends part of a message and half-closes (FIN): the server
    // answers what it got, then closes too.
    let expect: [(Demo, &[u8], &[u8]); 5] = [
        (Demo::TcpEcho, b"half", b"ACK: half"),
        (Demo::Uppercase, b"half", b"HALF"),
        (Demo::Framed, &[0, 0, 0, 10, b'{'], b""),
        (Demo::Auth, b"0123456789", b"Access Denied"),
        (Demo::Sticky, b"half", b"half"),
    ];
    for (demo, send, want) in expect {
        let mut s = TcpStream::connect(server.addr(demo)).await.unwrap();
        if demo == Demo::Auth {
            let mut challenge = [0u8; 32];
            s.read_exact(&mut challenge).await.unwrap();
        }
        s.write_all(send).await.unwrap();
        s.shutdown().await.unwrap();
        assert_eq!(read_to_close(&mut s, limit).await, want, "{demo}");
    }

    // A client that vanishes with a reset mid-conversation.
    let mut vanished = Vec::new();
    for demo in tcp_demos() {
        let mut s = TcpStream::connect(server.addr(demo)).await.unwrap();
        s.write_all(&[0, 0, 0]).await.unwrap();
        vanished.push(s.local_addr().unwrap().to_string());
        s.set_zero_linger().unwrap();
        drop(s);
    }
    for peer in vanished {
        wait_for(&mut sub, |e: &ServerEvent| {
            e.peer == peer && matches!(e.kind, EventKind::Closed { .. })
        })
        .await;
    }
    for demo in tcp_demos() {
        served(&server, demo, Duration::from_secs(2)).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_oversized_datagrams() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let mut sub = server.bus.subscribe();
    let addr = server.addr(Demo::UdpEcho);
    let before = rss_bytes();
    const PER_SOCKET: usize = 500;
    let floods: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(async move {
                let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                sock.connect(addr).await.unwrap();
                let big = vec![0xa5u8; 65_507]; // the largest IPv4 UDP payload
                for i in 0..PER_SOCKET {
                    let datagram: &[u8] = if i % 50 == 0 { &[] } else { &big };
                    // The kernel may refuse when buffers are full: that is a drop, not our bug.
                    let _ = sock.send(datagram).await;
                }
            })
        })
        .collect();
    for f in floods {
        within(Duration::from_secs(30), "the flood", f)
            .await
            .unwrap();
    }
    assert_eq!(
        datagram_event(&mut sub, 65_507).await,
        (true, 1024),
        "a 65507-byte datagram is reported as truncated, 1024 bytes kept"
    );
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{} datagrams sent; memory grew by {grown} bytes",
        4 * PER_SOCKET
    );
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    served(&server, Demo::UdpEcho, Duration::from_secs(10)).await;
    served(&server, Demo::TcpEcho, Duration::from_secs(2)).await;
    server.stop().await.unwrap();
}
