//! A bridged socket's whole life, many times over in one session: whoever
//! closes it (the demo or the page), the session frees it and the page can
//! reuse its id at once. A page that runs a lab all afternoon never meets
//! "too many sockets".

mod common;

use common::TestServer;
use common::page::{Got, Page, open};
use protocol::Demo;
use protocol::auth::respond;
use protocol::bridge::{ClientMsg, ClosedBy, ServerMsg, SocketId};
use protocol::frame;
use serde_json::json;

const CYCLES: usize = 500;

/// Who ends the connection in a cycle.
#[derive(Debug, Clone, Copy)]
enum Ender {
    /// The demo: it closes after its answer, or after the page's FIN.
    Server,
    /// The page sends `close` as soon as it has the answer.
    Page,
}

/// One exchange with `demo` on socket `sock`: returns when the demo answered.
async fn exchange(page: &mut Page, demo: Demo, sock: SocketId, i: usize) {
    let text = format!("cycle {i}");
    match demo {
        Demo::TcpEcho => {
            page.send_bytes(sock, text.as_bytes()).await;
            let want = format!("ACK: {text}");
            let got = page.read_until(sock, |b| b.len() >= want.len()).await;
            assert_eq!(got, want.as_bytes());
        }
        Demo::Sticky => {
            page.send_bytes(sock, text.as_bytes()).await;
            let got = page.read_until(sock, |b| b.len() >= text.len()).await;
            assert_eq!(got, text.as_bytes());
        }
        Demo::Uppercase => {
            page.send_bytes(sock, text.as_bytes()).await;
            let got = page.read_until(sock, |b| b.len() >= text.len()).await;
            assert_eq!(got, text.to_uppercase().as_bytes());
        }
        Demo::Framed => {
            let bytes = frame::encode_json(&json!({ "i": i })).unwrap();
            page.send_bytes(sock, &bytes).await;
            let got = page
                .read_until(sock, |b| {
                    frame::peek_len(b).is_some_and(|n| b.len() >= 4 + n as usize)
                })
                .await;
            assert!(String::from_utf8_lossy(&got).contains(&format!("\"i\": {i}")));
        }
        Demo::Auth => {
            let challenge = page.read_until(sock, |b| b.len() >= 32).await;
            page.send_bytes(sock, &respond(b"my_super_secret_key", &challenge))
                .await;
            let got = page.read_until(sock, |b| b.len() >= 14).await;
            assert_eq!(got, b"Access Granted");
        }
        Demo::Chat => {
            let got = page.read_until(sock, |b| b.ends_with(b"\n")).await;
            assert!(got.starts_with(b"* you are "), "{got:?}");
            // Alone in the room: a line reaches nobody, and nothing comes back.
            page.send_bytes(sock, format!("{text}\n").as_bytes()).await;
        }
        Demo::TlsEcho => {
            // The page speaks plain TCP: the alert, then the server closes.
            page.send_bytes(sock, text.as_bytes()).await;
            let got = page.read_until(sock, |b| b.len() >= 7).await;
            assert_eq!(got, protocol::tls::DECODE_ERROR_ALERT);
        }
        Demo::UdpEcho => unreachable!("TCP demos only"),
    }
}

/// Waits for `closed` of `sock`, then asks how many sockets the session
/// holds; every other message in between is skipped.
async fn closed_then_count(page: &mut Page, sock: SocketId, want_closed: bool) -> usize {
    if want_closed {
        page.until(|g| match g {
            Got::Msg(ServerMsg::Closed { sock: s, .. }) if *s == sock => Some(()),
            Got::Msg(ServerMsg::Error { message, .. }) => panic!("unexpected error: {message}"),
            _ => None,
        })
        .await;
    }
    page.send(ClientMsg::Status {}).await;
    page.until(|g| match g {
        Got::Msg(ServerMsg::Status { sockets }) => Some(*sockets),
        Got::Msg(ServerMsg::Error { message, .. }) => panic!("unexpected error: {message}"),
        _ => None,
    })
    .await
}

async fn cycles(demo: Demo, ender: Ender) {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    for i in 0..CYCLES {
        // The same id every time: it must be free again after each cycle.
        let sock = 1;
        page.open(open(sock, demo)).await;
        exchange(&mut page, demo, sock, i).await;
        match ender {
            Ender::Server => {
                // uppercase and auth close by themselves; the others close
                // when the page's FIN arrives.
                if matches!(
                    demo,
                    Demo::TcpEcho | Demo::Sticky | Demo::Framed | Demo::Chat
                ) {
                    page.send(ClientMsg::Shutdown { sock }).await;
                }
                page.until(|g| match g {
                    Got::Msg(ServerMsg::Closed { sock: s, by, .. }) if *s == sock => {
                        assert_eq!(*by, ClosedBy::Peer, "{demo} cycle {i}");
                        Some(())
                    }
                    Got::Msg(ServerMsg::Error { message, .. }) => {
                        panic!("{demo} cycle {i}: {message}")
                    }
                    _ => None,
                })
                .await;
                let open = closed_then_count(&mut page, sock, false).await;
                assert_eq!(
                    open, 0,
                    "{demo} cycle {i}: a socket the demo closed is freed"
                );
            }
            Ender::Page => {
                page.send(ClientMsg::Close { sock }).await;
                // uppercase and auth may close first: then `closed` says
                // so (by the peer) and the page's close is a quiet no-op.
                let open = closed_then_count(&mut page, sock, true).await;
                assert_eq!(
                    open, 0,
                    "{demo} cycle {i}: a socket the page closed is freed"
                );
            }
        }
    }
    server.stop().await.unwrap();
}

macro_rules! lifecycle_tests {
    ($($name:ident: $demo:expr, $ender:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            cycles($demo, $ender).await;
        }
    )*};
}

lifecycle_tests! {
    tcp_echo_closed_by_the_server_500_times: Demo::TcpEcho, Ender::Server;
    tcp_echo_closed_by_the_page_500_times: Demo::TcpEcho, Ender::Page;
    uppercase_closed_by_the_server_500_times: Demo::Uppercase, Ender::Server;
    uppercase_closed_by_the_page_500_times: Demo::Uppercase, Ender::Page;
    framed_closed_by_the_server_500_times: Demo::Framed, Ender::Server;
    framed_closed_by_the_page_500_times: Demo::Framed, Ender::Page;
    auth_closed_by_the_server_500_times: Demo::Auth, Ender::Server;
    auth_closed_by_the_page_500_times: Demo::Auth, Ender::Page;
    sticky_closed_by_the_server_500_times: Demo::Sticky, Ender::Server;
    sticky_closed_by_the_page_500_times: Demo::Sticky, Ender::Page;
    chat_closed_by_the_server_500_times: Demo::Chat, Ender::Server;
    chat_closed_by_the_page_500_times: Demo::Chat, Ender::Page;
    tls_echo_closed_by_the_server_500_times: Demo::TlsEcho, Ender::Server;
    tls_echo_closed_by_the_page_500_times: Demo::TlsEcho, Ender::Page;
}

/// The socket ids the page's events carry, up to a connection's close.
async fn socks_until_closed(page: &mut Page) -> Vec<Option<protocol::bridge::SocketId>> {
    let mut socks = Vec::new();
    page.until(|g| match g {
        Got::Msg(ServerMsg::Event { event, sock }) => {
            socks.push(*sock);
            matches!(event.kind, protocol::events::EventKind::Closed { .. }).then_some(())
        }
        _ => None,
    })
    .await;
    socks
}

/// Server events of the page's own connections carry its socket id; a
/// connection from another program carries none.
#[tokio::test]
async fn events_say_which_socket_of_the_page_they_belong_to() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.subscribe(vec![Demo::Uppercase]).await;
    page.open(open(7, Demo::Uppercase)).await;
    page.send_bytes(7, b"mine").await;
    let own = socks_until_closed(&mut page).await;
    assert!(own.len() >= 4, "accepted, read, reply, closed: {own:?}");
    assert!(own.iter().all(|s| *s == Some(7)), "{own:?}");

    // Another program: a plain TCP client.
    let addr = server.addr(Demo::Uppercase);
    let other = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"theirs").await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        buf
    });
    let theirs = socks_until_closed(&mut page).await;
    assert_eq!(other.await.unwrap(), b"THEIRS");
    assert!(theirs.iter().all(Option::is_none), "{theirs:?}");
    server.stop().await.unwrap();
}

/// A reset is an RST: the demo's read fails with "connection reset", and it
/// says the client vanished.
#[tokio::test]
async fn a_reset_reaches_the_demo_as_a_connection_reset() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.subscribe(vec![Demo::TcpEcho]).await;
    page.open(open(1, Demo::TcpEcho)).await;
    page.send_bytes(1, b"Hello").await;
    page.read_until(1, |b| b.len() >= 10).await;
    page.send(ClientMsg::Reset { sock: 1 }).await;
    let (by, reason) = page
        .until(|g| match g {
            Got::Msg(ServerMsg::Event { event, .. }) => match &event.kind {
                protocol::events::EventKind::Closed { by, reason } => Some((*by, reason.clone())),
                _ => None,
            },
            _ => None,
        })
        .await;
    assert_eq!(by, protocol::events::Closer::Client);
    assert!(reason.contains("reset"), "{reason}");
    assert_eq!(closed_then_count(&mut page, 1, false).await, 0);
    server.stop().await.unwrap();
}
