//! A test "page": a tokio-tungstenite client speaking the bridge protocol.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::bridge::{ClientMsg, ServerMsg, SocketId, decode_read, encode_send};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// What the page received.
#[derive(Debug, Clone, PartialEq)]
pub enum Got {
    /// A control message.
    Msg(ServerMsg),
    /// One read of a bridged socket.
    Read { sock: SocketId, data: Vec<u8> },
}

pub struct Page {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Opens `/ws` on `http` with the given Origin (None = no Origin header).
pub async fn connect_with_origin(
    http: std::net::SocketAddr,
    origin: Option<&str>,
) -> Result<Page, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{http}/ws").into_client_request().unwrap();
    if let Some(origin) = origin {
        req.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    Ok(Page { ws })
}

impl Page {
    /// Connects as one of the server's own pages and reads the welcome.
    pub async fn connect(http: std::net::SocketAddr) -> Page {
        let mut page = connect_with_origin(http, Some(&format!("http://{http}")))
            .await
            .unwrap();
        match page.next().await {
            Got::Msg(ServerMsg::Welcome { .. }) => page,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    pub async fn send(&mut self, msg: ClientMsg) {
        let text = serde_json::to_string(&msg).unwrap();
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    pub async fn send_raw_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }

    pub async fn send_bytes(&mut self, sock: SocketId, bytes: &[u8]) {
        self.ws
            .send(Message::Binary(encode_send(sock, bytes).into()))
            .await
            .unwrap();
    }

    /// The next message (bounded wait).
    pub async fn next(&mut self) -> Got {
        // One deadline for the whole call: keepalive pings arrive every few
        // seconds and must not keep a test waiting for ever.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("a bridge message within 10 s")
                .expect("the bridge closed the WebSocket")
                .unwrap();
            match msg {
                Message::Text(t) => return Got::Msg(serde_json::from_str(t.as_str()).unwrap()),
                Message::Binary(b) => {
                    let read = decode_read(&b).unwrap();
                    return Got::Read {
                        sock: read.sock,
                        data: read.data.to_vec(),
                    };
                }
                _ => continue,
            }
        }
    }

    /// Skips messages until `f` returns Some.
    pub async fn until<T>(&mut self, mut f: impl FnMut(&Got) -> Option<T>) -> T {
        loop {
            let got = self.next().await;
            if let Some(t) = f(&got) {
                return t;
            }
        }
    }

    /// Opens a socket to `demo` and returns its local address.
    pub async fn open(&mut self, msg: ClientMsg) -> String {
        let ClientMsg::Open { sock, .. } = msg else {
            panic!("not an open")
        };
        self.send(msg).await;
        self.until(|g| match g {
            Got::Msg(ServerMsg::Opened { sock: s, local, .. }) if *s == sock => Some(local.clone()),
            Got::Msg(ServerMsg::Error { message, .. }) => panic!("open failed: {message}"),
            _ => None,
        })
        .await
    }

    /// Sends `text`, a control message the bridge must refuse, and returns
    /// the error's code (a socket opened instead fails the test).
    pub async fn refused(&mut self, text: &str) -> String {
        self.send_raw_text(text).await;
        self.until(|g| match g {
            Got::Msg(ServerMsg::Error { code, .. }) => Some(code.clone()),
            Got::Msg(ServerMsg::Opened { .. }) => panic!("{text} opened a socket"),
            _ => None,
        })
        .await
    }

    /// Asks for the server's events of `demos`.
    pub async fn subscribe(&mut self, demos: Vec<protocol::Demo>) {
        self.send(ClientMsg::Subscribe { demos }).await;
    }

    /// Waits for `sock`'s `closed` message and says who closed it.
    pub async fn closed(&mut self, sock: SocketId) -> protocol::bridge::ClosedBy {
        self.until(|g| match g {
            Got::Msg(ServerMsg::Closed { sock: s, by, .. }) if *s == sock => Some(*by),
            _ => None,
        })
        .await
    }

    /// Waits for `sock`'s `opened` message.
    pub async fn opened(&mut self, sock: SocketId) {
        self.until(|g| {
            matches!(g, Got::Msg(ServerMsg::Opened { sock: s, .. }) if *s == sock).then_some(())
        })
        .await
    }

    /// Collects read bytes of `sock` until `done(bytes so far)`.
    pub async fn read_until(&mut self, sock: SocketId, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut all = Vec::new();
        while !done(&all) {
            if let Got::Read { sock: s, data } = self.next().await
                && s == sock
            {
                all.extend_from_slice(&data);
            }
        }
        all
    }
}

pub fn open(sock: SocketId, demo: protocol::Demo) -> ClientMsg {
    ClientMsg::open(sock, demo)
}

/// An open of `sock` to a `--bridge-allow`ed target instead of a demo.
pub fn open_target(sock: SocketId, target: std::net::SocketAddr, nodelay: bool) -> ClientMsg {
    ClientMsg::Open {
        sock,
        demo: None,
        target: Some(target.to_string()),
        nodelay,
        sticky: None,
        ack: false,
    }
}

impl Page {
    /// Opens sockets 1 to 6, one per demo, and checks each demo's answer:
    /// what an honest page does to see every demo work.
    pub async fn round_trip_every_demo(&mut self) {
        use protocol::Demo;
        use protocol::frame::{self, FrameDecoder};
        use serde_json::{Value, json};

        self.open(open(1, Demo::TcpEcho)).await;
        self.send_bytes(1, b"Hello").await;
        assert_eq!(self.read_until(1, |b| b.len() >= 10).await, b"ACK: Hello");
        self.open(open(2, Demo::UdpEcho)).await;
        self.send(ClientMsg::Send {
            sock: 2,
            text: "Hello via UDP".into(),
        })
        .await;
        assert_eq!(
            self.read_until(2, |b| !b.is_empty()).await,
            b"Message received"
        );
        self.open(open(3, Demo::Uppercase)).await;
        self.send_bytes(3, b"hello").await;
        assert_eq!(self.read_until(3, |b| b.len() >= 5).await, b"HELLO");
        self.open(open(4, Demo::Framed)).await;
        self.send_bytes(4, &frame::encode_json(&json!({"msg": "Hello"})).unwrap())
            .await;
        let bytes = self
            .read_until(4, |b| {
                frame::peek_len(b).is_some_and(|n| b.len() >= 4 + n as usize)
            })
            .await;
        let mut decoder = FrameDecoder::default();
        decoder.feed(&bytes);
        let reply: Value = frame::decode_json(&decoder.decode().unwrap().unwrap()).unwrap();
        assert_eq!(reply["echo"], json!({"msg": "Hello"}));
        self.open(open(5, Demo::Auth)).await;
        let challenge = self.read_until(5, |b| b.len() >= 32).await;
        self.send_bytes(
            5,
            &protocol::auth::respond(b"my_super_secret_key", &challenge),
        )
        .await;
        assert_eq!(
            self.read_until(5, |b| b.len() >= 14).await,
            b"Access Granted"
        );
        self.open(open(6, Demo::Sticky)).await;
        self.send_bytes(6, b"round trip").await;
        assert_eq!(self.read_until(6, |b| b.len() >= 10).await, b"round trip");
    }
}
