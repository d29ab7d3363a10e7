//! The way to the page: the messages a session exchanges with it, and the
//! one shared sink every writer uses.
//!
//! Independent of any WebSocket library: the HTTP edge maps axum's messages
//! to [`Inbound`] and from [`Outbound`], and tests can use channels. The
//! session, its sockets' readers and its event feed each write through the
//! same [`Page`], one message at a time, so backpressure needs no queue.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Sink, SinkExt};
use protocol::bridge::ServerMsg;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// A message from the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A JSON control message.
    Text(String),
    /// A binary data frame.
    Binary(Vec<u8>),
    /// The page answered a keepalive ping: it is still there.
    Pong,
}

/// A message to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A JSON control message.
    Text(String),
    /// A binary read frame.
    Binary(Vec<u8>),
    /// A keepalive ping (browsers answer it by themselves).
    Ping,
}

impl Outbound {
    /// Serializes a control message.
    pub fn msg(msg: &ServerMsg) -> Self {
        Outbound::Text(serde_json::to_string(msg).expect("bridge messages always serialize"))
    }
}

type BoxSink = Pin<Box<dyn Sink<Outbound, Error = ()> + Send>>;

/// The way to the page, shared by the session, its sockets' readers and its
/// event feed: whoever has something for the page writes it.
///
/// One message at a time: a writer holds the sink until the message is
/// written. If the page stops reading, that write waits and so does everyone
/// else's; nothing queues up in between, so memory stays bounded, and a socket
/// reader that waits stops reading its socket.
#[derive(Clone)]
pub struct Page {
    sink: Arc<Mutex<BoxSink>>,
    gone: CancellationToken,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("gone", &self.gone.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Page {
    pub(super) fn new<O>(sink: O) -> Self
    where
        O: Sink<Outbound> + Send + 'static,
    {
        Self {
            sink: Arc::new(Mutex::new(Box::pin(sink.sink_map_err(|_| ())))),
            gone: CancellationToken::new(),
        }
    }

    /// Writes one message to the page, waiting while the page is not reading.
    /// Returns false once the page is gone.
    pub async fn send(&self, msg: Outbound) -> bool {
        let mut sink = self.sink.lock().await;
        // Checked under the lock: a sink that has failed must not be used again.
        if self.gone.is_cancelled() {
            return false;
        }
        let written = sink.send(msg).await.is_ok();
        if !written {
            self.gone.cancel();
        }
        written
    }

    /// Resolves when a write to the page has failed: it went away.
    pub(super) async fn gone(&self) {
        self.gone.cancelled().await;
    }

    /// Closes the WebSocket (a close frame, then the connection).
    pub(super) async fn close(&self) {
        let mut sink = self.sink.lock().await;
        if !self.gone.is_cancelled() {
            let _ = sink.close().await;
            self.gone.cancel();
        }
    }
}
