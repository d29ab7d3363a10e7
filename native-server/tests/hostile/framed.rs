//! Length headers and garbage bytes on the framed demo and the others.

use super::*;

#[tokio::test]
async fn framed_length_headers_of_0_1mib_plus_1_and_4gib() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let addr = server.addr(Demo::Framed);
    let before = rss_bytes();

    // 0: an empty payload is a frame; it is not JSON, so an error frame, and
    // the stream goes on (the length said where the next frame starts).
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0, 0, 0, 0]).await.unwrap();
    assert_eq!(read_frame(&mut s).await["error"], json!("invalid_json"));
    s.write_all(&frame::encode_json(&json!({"after": "empty"})).unwrap())
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await["echo"], json!({"after": "empty"}));

    // Exactly the limit (1 MiB) is accepted.
    let text = "a".repeat((1 << 20) - 2);
    let payload = serde_json::to_vec(&text).unwrap();
    assert_eq!(payload.len(), 1 << 20);
    s.write_all(&frame::encode(&payload).unwrap())
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await["echo"], json!(text));
    drop(s);

    // 1 MiB + 1, 2 GiB, 4 GiB - 1 (the largest a 32-bit header can claim):
    // an error frame, then close, never an allocation of the claimed size.
    for claim in [(1u32 << 20) + 1, 1 << 31, u32::MAX] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&claim.to_be_bytes()).await.unwrap();
        s.write_all(b"{\"x\":").await.unwrap();
        let reply = read_frame(&mut s).await;
        assert_eq!(reply["error"], json!("too_large"), "claim {claim}");
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .contains(&claim.to_string())
        );
        let rest = read_to_close(&mut s, Duration::from_secs(5)).await;
        assert!(rest.is_empty(), "the server closes after a bad header");
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    served(&server, Demo::Framed, Duration::from_secs(2)).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn many_connections_claiming_the_largest_allowed_frame_stay_bounded() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;
    let addr = server.addr(Demo::Framed);
    let before = rss_bytes();
    // 200 clients each promise a 1 MiB frame and send 10 bytes of it.
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&(1u32 << 20).to_be_bytes()).await.unwrap();
        s.write_all(b"\"aaaaaaaaa").await.unwrap();
        held.push(s);
    }
    served(&server, Demo::Framed, Duration::from_secs(2)).await;
    let grown = rss_bytes().saturating_sub(before);
    println!("200 pending 1 MiB frames: memory grew by {grown} bytes");
    assert!(grown < MEMORY_BOUND, "memory grew by {grown} bytes");
    drop(held);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_utf8_and_invalid_json_get_errors_and_the_streams_go_on() {
    let _serial = serial().await;
    let server = TestServer::start(|_| {}).await;

    // framed: 60 bad frames in one write, then a good one, on one stream.
    let mut s = TcpStream::connect(server.addr(Demo::Framed)).await.unwrap();
    let bad: [&[u8]; 6] = [
        &[0xff, 0xfe, 0xfd],
        b"{nope",
        b"\"\xc3\"",
        b"[1,2",
        b"\xed\xa0\x80", // an encoded surrogate: not UTF-8
        b"{\"a\":1}}",
    ];
    let mut burst = Vec::new();
    for i in 0..60 {
        burst.extend_from_slice(&frame::encode(bad[i % bad.len()]).unwrap());
    }
    burst.extend_from_slice(&frame::encode_json(&json!({"still": "here"})).unwrap());
    s.write_all(&burst).await.unwrap();
    let mut replies = read_frames(&mut s, 61).await;
    assert_eq!(replies.pop().unwrap()["echo"], json!({"still": "here"}));
    for (i, reply) in replies.iter().enumerate() {
        let code = reply["error"].as_str().unwrap_or_default();
        assert!(
            code == "invalid_utf8" || code == "invalid_json",
            "frame {i}: {reply}"
        );
    }

    // The byte-stream demos treat bytes as bytes.
    let garbage = [0xff, b'a', 0xc3, 0x00, 0xfe];
    let mut s = TcpStream::connect(server.addr(Demo::TcpEcho))
        .await
        .unwrap();
    s.write_all(&garbage).await.unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], [&b"ACK: "[..], &garbage].concat());
    drop(s);
    let mut s = TcpStream::connect(server.addr(Demo::Uppercase))
        .await
        .unwrap();
    s.write_all(&garbage).await.unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, [0xff, b'A', 0xc3, 0x00, 0xfe]);
    let mut s = TcpStream::connect(server.addr(Demo::Sticky)).await.unwrap();
    s.write_all(&garbage).await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, garbage);

    // The bridge: JSON that is too deep, numbers too big, text that is not
    // UTF-8 (a raw WebSocket frame, since client libraries refuse to send it).
    let mut page = Page::connect(server.http).await;
    for text in [
        "[".repeat(100_000),
        r#"{"type":"open","sock":99999999999999999999,"demo":"tcp-echo"}"#.to_owned(),
        r#"{"type":"open","sock":-1,"demo":"tcp-echo"}"#.to_owned(),
        r#"{"type":"send","sock":1,"text":"\ud800"}"#.to_owned(),
    ] {
        let code = page.refused(&text).await;
        assert_eq!(code, "bad_message", "{}", &text[..text.len().min(60)]);
    }
    let (status, mut ws, _) = ws_handshake(
        server.http,
        Some(&server.http.to_string()),
        Some(&format!("http://{}", server.http)),
    )
    .await;
    assert_eq!(status, 101);
    ws.write_all(&masked_frame(0x1, &[0xff, 0xfe, 0xfd]))
        .await
        .unwrap();
    // The server fails that WebSocket (close 1007 or a plain close) ...
    read_to_close(&mut ws, Duration::from_secs(5)).await;
    // ... and only that one.
    page.open(open(1, Demo::TcpEcho)).await;
    page.send_bytes(1, b"ok").await;
    assert_eq!(page.read_until(1, |b| b.len() >= 7).await, b"ACK: ok");
    served(&server, Demo::UdpEcho, Duration::from_secs(5)).await;
    server.stop().await.unwrap();
}
