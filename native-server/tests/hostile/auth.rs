//! auth: replays, late answers, wrong lengths.

use super::*;

async fn auth_challenge(server: &TestServer) -> (TcpStream, [u8; 32]) {
    let mut s = TcpStream::connect(server.addr(Demo::Auth)).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut challenge = [0u8; 32];
    s.read_exact(&mut challenge).await.unwrap();
    (s, challenge)
}

/// The verdict the server published for the connection from `s`.
async fn verdict_for(
    sub: &mut native_server::events::Subscription,
    s: &TcpStream,
) -> (bool, Option<String>) {
    let peer = s.local_addr().unwrap().to_string();
    let ev = wait_for(sub, |e| {
        e.peer == peer && matches!(e.kind, EventKind::Verdict { .. })
    })
    .await;
    let EventKind::Verdict { granted, reason } = ev.kind else {
        unreachable!()
    };
    (
        granted,
        reason.map(|r| {
            serde_json::to_value(r)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        }),
    )
}

// Paused time: the timeout under test passes at once, with no real wait.
#[tokio::test(start_paused = true)]
async fn auth_refuses_replayed_late_and_wrong_length_answers() {
    let _serial = serial().await;
    let timeout = Duration::from_millis(400);
    let server = TestServer::start(|c| c.handshake_timeout = timeout).await;
    let mut sub = server.bus.subscribe();
    let limit = Duration::from_secs(5);

    // A correct answer, then the same answer replayed on a new connection.
    let (mut s, challenge) = auth_challenge(&server).await;
    let old = respond(SECRET, &challenge);
    s.write_all(&old).await.unwrap();
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Granted");
    let (mut s, _) = auth_challenge(&server).await;
    s.write_all(&old).await.unwrap();
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Denied");
    assert_eq!(
        verdict_for(&mut sub, &s).await,
        (false, Some("wrong_answer".into()))
    );

    // The right answer, too late: the verdict came first.
    let (mut s, challenge) = auth_challenge(&server).await;
    let verdict = verdict_for(&mut sub, &s).await;
    assert_eq!(verdict, (false, Some("timed_out".into())));
    let _ = s.write_all(&respond(SECRET, &challenge)).await;
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Denied");

    // 31 bytes, then FIN.
    let (mut s, challenge) = auth_challenge(&server).await;
    s.write_all(&respond(SECRET, &challenge)[..31])
        .await
        .unwrap();
    s.shutdown().await.unwrap();
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Denied");
    assert_eq!(
        verdict_for(&mut sub, &s).await,
        (false, Some("too_short".into()))
    );

    // 31 bytes, then silence.
    let (mut s, challenge) = auth_challenge(&server).await;
    s.write_all(&respond(SECRET, &challenge)[..31])
        .await
        .unwrap();
    assert_eq!(read_to_close(&mut s, limit).await, b"Access Denied");
    assert_eq!(
        verdict_for(&mut sub, &s).await,
        (false, Some("timed_out".into()))
    );

    // 33 bytes: the server reads exactly 32 (like the notes' recv(32)); the
    // 33rd is not part of the answer. Right 32 + 1: granted; wrong: denied.
    let (mut s, challenge) = auth_challenge(&server).await;
    let mut long = respond(SECRET, &challenge).to_vec();
    long.push(b'!');
    s.write_all(&long).await.unwrap();
    assert_eq!(verdict_for(&mut sub, &s).await, (true, None));
    let (mut s, challenge) = auth_challenge(&server).await;
    let mut long = respond(b"not the secret", &challenge).to_vec();
    long.push(b'!');
    s.write_all(&long).await.unwrap();
    assert_eq!(
        verdict_for(&mut sub, &s).await,
        (false, Some("wrong_answer".into()))
    );
    drop(s);

    served(&server, Demo::Auth, Duration::from_secs(2)).await;
    server.stop().await.unwrap();
}
