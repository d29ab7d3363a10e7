//! A bridge session driven through channels instead of a WebSocket: the
//! session is generic over `Stream`/`Sink` (axum's `testing-websockets`
//! pattern), so its rules can be checked in paused time with no socket for
//! the page at all.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, Stream, sink, stream};
use native_server::bridge::session::{Inbound, Outbound, SessionEnv, run_session};
use native_server::{Config, Service, ServiceKind};
use protocol::Demo;
use protocol::bridge::{ClientMsg, ServerMsg, decode_read, encode_send};
use tokio::sync::mpsc;

/// The page's ends of the two channels.
struct ChannelPage {
    to_session: mpsc::Sender<Inbound>,
    from_session: mpsc::Receiver<Outbound>,
}

fn channels() -> (
    ChannelPage,
    impl Stream<Item = Inbound> + Unpin + Send,
    impl Sink<Outbound> + Send + 'static,
) {
    let (to_session, rx) = mpsc::channel::<Inbound>(16);
    let (tx, from_session) = mpsc::channel::<Outbound>(16);
    let incoming = Box::pin(stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }));
    let outgoing = Box::pin(sink::unfold(tx, |tx, m: Outbound| async move {
        tx.send(m).await.map_err(|_| ())?;
        Ok::<_, ()>(tx)
    }));
    (
        ChannelPage {
            to_session,
            from_session,
        },
        incoming,
        outgoing,
    )
}

fn env(config: Config, services: Vec<Service>) -> SessionEnv {
    SessionEnv {
        ctx: native_server::testing::ctx(config),
        services: Arc::new(services),
    }
}

impl ChannelPage {
    async fn send(&self, msg: ClientMsg) {
        let text = serde_json::to_string(&msg).unwrap();
        self.to_session.send(Inbound::Text(text)).await.unwrap();
    }

    /// Checks that the session holds no socket (it answers a status request
    /// with 0), then leaves: the session ends when the page is gone.
    async fn close_with_no_sockets(mut self, session: tokio::task::JoinHandle<()>) {
        self.send(ClientMsg::Status {}).await;
        assert_eq!(
            self.next_msg().await,
            Some(ServerMsg::Status { sockets: 0 })
        );
        drop(self);
        session.await.unwrap();
    }

    /// The next control message, skipping pings.
    async fn next_msg(&mut self) -> Option<ServerMsg> {
        loop {
            match self.from_session.recv().await? {
                Outbound::Text(t) => return Some(serde_json::from_str(&t).unwrap()),
                Outbound::Ping | Outbound::Binary(_) => {}
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_page_that_answers_no_ping_is_gone_after_three() {
    let mut config = Config::for_tests("dist");
    config.bridge.keepalive = Duration::from_secs(5);
    let (mut page, incoming, outgoing) = channels();
    let session = tokio::spawn(run_session(incoming, outgoing, env(config, Vec::new())));
    assert!(matches!(
        page.next_msg().await,
        Some(ServerMsg::Welcome { .. })
    ));
    let started = tokio::time::Instant::now();
    let mut pings = 0;
    // Keep the channel open but never answer: the session ends by itself.
    while let Some(out) = page.from_session.recv().await {
        if out == Outbound::Ping {
            pings += 1;
        }
    }
    session.await.unwrap();
    let took = started.elapsed();
    assert!(pings >= 2, "it pinged before giving up ({pings})");
    assert!(
        took >= Duration::from_secs(15) && took <= Duration::from_secs(20),
        "gone after three unanswered pings of 5 s, not {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_page_that_answers_its_pings_stays() {
    let mut config = Config::for_tests("dist");
    config.bridge.keepalive = Duration::from_secs(5);
    let (mut page, incoming, outgoing) = channels();
    let session = tokio::spawn(run_session(incoming, outgoing, env(config, Vec::new())));
    page.next_msg().await.unwrap();
    page.send(ClientMsg::Subscribe { demos: vec![] }).await;
    let mut pongs = 0;
    while pongs < 20 {
        match page.from_session.recv().await {
            Some(Outbound::Ping) => {
                page.to_session.send(Inbound::Pong).await.unwrap();
                pongs += 1;
            }
            Some(_) => {}
            None => panic!("the session ended though the page answered every ping"),
        }
    }
    // A hundred seconds later, still there: it answers a status request.
    page.close_with_no_sockets(session).await;
}

#[tokio::test]
async fn open_send_read_close_through_channels() {
    let server = common::TestServer::start(|_| {}).await;
    let services = vec![Service {
        kind: ServiceKind::Demo(Demo::TcpEcho),
        addr: server.addr(Demo::TcpEcho),
    }];
    let (mut page, incoming, outgoing) = channels();
    let session = tokio::spawn(run_session(
        incoming,
        outgoing,
        env(Config::for_tests("dist"), services),
    ));
    let Some(ServerMsg::Welcome { demos, .. }) = page.next_msg().await else {
        panic!("welcome first")
    };
    assert_eq!(demos.len(), 1, "the bridge offers the demos it was given");
    page.send(common::page::open(1, Demo::TcpEcho)).await;
    assert!(matches!(
        page.next_msg().await,
        Some(ServerMsg::Opened { sock: 1, .. })
    ));
    page.to_session
        .send(Inbound::Binary(encode_send(1, b"Hello")))
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 10 {
        if let Some(Outbound::Binary(frame)) = page.from_session.recv().await {
            got.extend_from_slice(decode_read(&frame).unwrap().data);
        }
    }
    assert_eq!(got, b"ACK: Hello");
    page.send(ClientMsg::Close { sock: 1 }).await;
    assert!(matches!(
        page.next_msg().await,
        Some(ServerMsg::Closed { sock: 1, .. })
    ));
    page.close_with_no_sockets(session).await;
    server.stop().await.unwrap();
}
