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
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
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
