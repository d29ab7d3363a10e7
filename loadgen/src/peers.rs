//! The two servers the bench needs that are not under test.
//!
//! - The **floor**: the least a tokio server can do for the `uppercase` demo —
//!   accept, read once, write the answer, close — with none of socket-lab's
//!   events, limits, timeouts or shutdown handling. socket-lab's `uppercase`
//!   is measured against it: the cost of being a careful server.
//! - The **echo** server: the target both bridges (socket-lab's `/ws` and
//!   websockify) relay to, so the two relays are compared on the same far end.
//! - The **relay floor**: a WebSocket-to-TCP relay that only copies bytes
//!   (websockify's wire format: binary frames of raw bytes, subprotocol
//!   `binary`), one task per session on tokio. It checks nothing, frames
//!   nothing and reports nothing, so its round trip is what the machine's
//!   loopback and wake-ups cost a relay; both bridges are read against it.
//!
//! Both print `listening ADDR` once bound, then serve until `--max-secs` pass
//! (or stdin closes, with `--exit-on-stdin-eof`, so they die with the bench).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Flags of both servers.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Where to listen (port 0: any free port; the real address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Stop after this many seconds at most.
    #[arg(long, default_value_t = 1800)]
    max_secs: u64,
    /// Stop when stdin reaches EOF (the parent went away).
    #[arg(long)]
    exit_on_stdin_eof: bool,
}

/// Binds, announces the address, then serves with `handle` until told to stop.
async fn serve<F, Fut>(args: ServerArgs, handle: F) -> Result<()>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    println!("listening {}", listener.local_addr()?);
    let accept = async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(handle(stream));
                }
                // EMFILE and friends: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    };
    let stdin_closed = async {
        if args.exit_on_stdin_eof {
            // A plain thread blocks on stdin; its end wakes the runtime.
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                let _ = tx.send(());
            });
            let _ = rx.await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = stdin_closed => {}
        _ = tokio::time::sleep(Duration::from_secs(args.max_secs)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// The floor: accept, one read of up to 1024 bytes, reply trimmed and upper-cased, close.
pub(crate) async fn floor_server(args: ServerArgs) -> Result<()> {
    serve(args, |mut stream| async move {
        let mut buf = [0u8; 1024];
        if let Ok(n) = stream.read(&mut buf).await {
            let _ = stream
                .write_all(&buf[..n].trim_ascii().to_ascii_uppercase())
                .await;
        }
        // Dropping the stream closes it.
    })
    .await
}

/// The relay target: every read is written straight back.
pub(crate) async fn echo_server(args: ServerArgs) -> Result<()> {
    serve(args, |mut stream| async move {
        let _ = stream.set_nodelay(true);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await
}

/// Flags of the relay floor.
#[derive(Debug, Args)]
pub(crate) struct RelayFloorArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The one TCP address every session is relayed to.
    #[arg(long)]
    target: SocketAddr,
}

/// The relay floor: accept a WebSocket, connect to the target, copy both ways.
pub(crate) async fn relay_floor(args: RelayFloorArgs) -> Result<()> {
    let target = args.target;
    serve(args.server, move |stream| async move {
        // Errors end the session quietly: the load generator counts them.
        let _ = relay_one(stream, target).await;
    })
    .await
}

/// One session of the relay floor, until either side closes.
async fn relay_one(stream: TcpStream, target: SocketAddr) -> Result<()> {
    stream.set_nodelay(true)?;
    // The same small read buffer socket-lab's bridge uses (tungstenite's
    // default zero-fills 128 KiB before each read).
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let mut ws =
        tokio_tungstenite::accept_hdr_async_with_config(stream, binary_subprotocol, Some(config))
            .await?;
    let mut tcp = TcpStream::connect(target).await?;
    tcp.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(bytes))) => tcp.write_all(&bytes).await?,
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            },
            n = tcp.read(&mut buf) => match n? {
                0 => return Ok(()),
                n => ws.send(Message::binary(buf[..n].to_vec())).await?,
            },
        }
    }
}

/// Answers with websockify's subprotocol, which loadgen's client asks for.
#[expect(
    clippy::result_large_err,
    reason = "the signature tungstenite requires of a handshake callback"
)]
fn binary_subprotocol(_: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    resp.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
    Ok(resp)
}
