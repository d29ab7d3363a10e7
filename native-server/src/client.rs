//! `socket-lab client <demo>`: the C/S side of the lesson, a native client.
//!
//! It speaks each demo's protocol, printing every step, so a learner can
//! compare it with their own Python client byte for byte.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use protocol::auth::{CHALLENGE_LEN, respond};
use protocol::frame::{self, FrameDecoder};
use protocol::hex::to_spaced_hex;
use protocol::{Demo, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::cli::ClientArgs;

const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

fn default_message(demo: Demo) -> &'static str {
    match demo {
        Demo::TcpEcho => "Hello, Server",
        Demo::UdpEcho => "Hello via UDP",
        Demo::Uppercase => "hello",
        Demo::Framed => r#"{"msg": "Hello"}"#,
        Demo::Auth => "",
        Demo::Sticky => "Hello|World",
        Demo::Chat => "Hello, everyone",
        Demo::TlsEcho => "Hello, TLS",
    }
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

async fn timed<T>(
    what: &str,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T> {
    tokio::time::timeout(REPLY_TIMEOUT, fut)
        .await
        .with_context(|| {
            format!(
                "no answer within {} s while {what}",
                REPLY_TIMEOUT.as_secs()
            )
        })?
        .with_context(|| format!("failed while {what}"))
}

/// Runs the client and prints the exchange to stdout.
pub async fn run(args: ClientArgs) -> Result<()> {
    let demo = args.demo;
    let port = args.port.unwrap_or(demo.default_port());
    let addr = format!("{}:{port}", args.host);
    let message = args
        .message
        .unwrap_or_else(|| default_message(demo).to_owned());

    if demo.transport() == Transport::Udp {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        socket
            .connect(&addr)
            .await
            .with_context(|| format!("bad address {addr}"))?;
        socket.send(message.as_bytes()).await?;
        println!(
            "sent datagram of {} bytes from {} to {addr}: {}",
            message.len(),
            socket.local_addr()?,
            show(message.as_bytes())
        );
        let mut buf = vec![0u8; 65_536];
        let n = timed(
            "waiting for the reply datagram (is udp-echo running?)",
            socket.recv(&mut buf),
        )
        .await?;
        println!("received datagram of {n} bytes: {}", show(&buf[..n]));
        return Ok(());
    }

    if demo == Demo::TlsEcho {
        return tls_echo(&args.host, &addr, args.cafile, args.http_port, &message).await;
    }

    let mut stream = TcpStream::connect(&addr).await.with_context(|| {
        format!("could not connect to {demo} at {addr}: is `socket-lab` running (and was {demo} started)?")
    })?;
    println!(
        "connected {} -> {}",
        stream.local_addr()?,
        stream.peer_addr()?
    );

    match demo {
        Demo::Framed => {
            serde_json::from_str::<serde_json::Value>(&message)
                .with_context(|| format!("the framed demo takes JSON; {message:?} is not JSON"))?;
            let bytes = frame::encode(message.as_bytes())?;
            stream.write_all(&bytes).await?;
            println!(
                "sent frame: header {} + {} payload bytes",
                to_spaced_hex(&bytes[..4]),
                message.len()
            );
            let mut decoder = FrameDecoder::default();
            let mut buf = [0u8; 4096];
            let payload = loop {
                if let Some(p) = decoder.decode()? {
                    break p;
                }
                let n = timed("waiting for the reply frame", stream.read(&mut buf)).await?;
                if n == 0 {
                    decoder.finish()?;
                    bail!("the server closed without replying");
                }
                decoder.feed(&buf[..n]);
            };
            println!(
                "received frame of {} bytes: {}",
                payload.len(),
                String::from_utf8_lossy(&payload)
            );
        }
        Demo::Auth => {
            let mut challenge = [0u8; CHALLENGE_LEN];
            timed(
                "reading the 32-byte challenge",
                stream.read_exact(&mut challenge),
            )
            .await?;
            println!("challenge: {}", to_spaced_hex(&challenge));
            let answer = respond(args.secret.as_bytes(), &challenge);
            stream.write_all(&answer).await?;
            println!("answer (HMAC-SHA256): {}", to_spaced_hex(&answer));
            let mut verdict = Vec::new();
            timed("reading the verdict", stream.read_to_end(&mut verdict)).await?;
            println!("verdict: {}", String::from_utf8_lossy(&verdict));
        }
        Demo::Uppercase => {
            stream.write_all(message.as_bytes()).await?;
            println!("sent {} bytes: {}", message.len(), show(message.as_bytes()));
            let mut reply = Vec::new();
            timed("reading the reply", stream.read_to_end(&mut reply)).await?;
            println!("received {} bytes: {}", reply.len(), show(&reply));
        }
        Demo::Sticky => {
            // One write per `|`-separated part, back to back: whether the
            // demo reads them merged or apart is what the lesson is about.
            let parts: Vec<&str> = message.split('|').filter(|p| !p.is_empty()).collect();
            stream.set_nodelay(true)?;
            for part in &parts {
                stream.write_all(part.as_bytes()).await?;
                println!("sent {} bytes: {}", part.len(), show(part.as_bytes()));
            }
            let total: usize = parts.iter().map(|p| p.len()).sum();
            let mut got = 0;
            let mut buf = vec![0u8; 4096];
            while got < total {
                let n = timed("reading the echo", stream.read(&mut buf)).await?;
                if n == 0 {
                    bail!("the server closed after {got} of {total} bytes");
                }
                got += n;
                println!("read {n} bytes: {}", show(&buf[..n]));
            }
            println!(
                "{} writes came back in the reads above: TCP keeps the bytes, not the boundaries",
                parts.len()
            );
        }
        Demo::TcpEcho => {
            stream.write_all(message.as_bytes()).await?;
            println!("sent {} bytes: {}", message.len(), show(message.as_bytes()));
            let mut buf = vec![0u8; 4096];
            let n = timed("reading the reply", stream.read(&mut buf)).await?;
            println!("received {n} bytes: {}", show(&buf[..n]));
        }
        Demo::Chat => {
            // One line, then whatever the room says until it is quiet.
            let mut buf = vec![0u8; 4096];
            let n = timed("reading the welcome", stream.read(&mut buf)).await?;
            print!("{}", String::from_utf8_lossy(&buf[..n]));
            let line = format!("{message}\n");
            stream.write_all(line.as_bytes()).await?;
            println!("sent {} bytes: {}", line.len(), show(line.as_bytes()));
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await
            {
                if n == 0 {
                    println!("the server closed the connection");
                    break;
                }
                print!("{}", String::from_utf8_lossy(&buf[..n]));
            }
        }
        Demo::UdpEcho | Demo::TlsEcho => unreachable!("handled above"),
    }
    Ok(())
}

/// `tls-echo` in a build without TLS.
#[cfg(not(feature = "tls"))]
async fn tls_echo(
    _host: &str,
    _addr: &str,
    _cafile: Option<std::path::PathBuf>,
    _http_port: u16,
    _message: &str,
) -> Result<()> {
    bail!("{}", crate::demos::tls::NO_TLS)
}

/// `tls-echo`: a TLS handshake that trusts the server's own certificate,
/// then one message and its echo.
#[cfg(feature = "tls")]
async fn tls_echo(
    host: &str,
    addr: &str,
    cafile: Option<std::path::PathBuf>,
    http_port: u16,
    message: &str,
) -> Result<()> {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let pem = match cafile {
        Some(path) => std::fs::read(&path)
            .with_context(|| format!("could not read the certificate {}", path.display()))?,
        None => fetch_cert(host, http_port).await?,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.context("the certificate file is not PEM")?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .with_context(|| format!("{host:?} is not a host name or address"))?;
    let tcp = TcpStream::connect(addr).await.with_context(|| {
        format!("could not connect to tls-echo at {addr}: is `socket-lab` running?")
    })?;
    println!("connected {} -> {}", tcp.local_addr()?, tcp.peer_addr()?);
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let mut tls = timed("doing the TLS handshake", connector.connect(name, tcp)).await?;
    let (_, conn) = tls.get_ref();
    println!(
        "TLS handshake done: {:?}, {:?}",
        conn.protocol_version(),
        conn.negotiated_cipher_suite().map(|c| c.suite())
    );
    tls.write_all(message.as_bytes()).await?;
    println!("sent {} bytes: {}", message.len(), show(message.as_bytes()));
    let mut buf = vec![0u8; 4096];
    let n = timed("reading the reply", tls.read(&mut buf)).await?;
    println!("received {n} bytes: {}", show(&buf[..n]));
    tls.shutdown().await?;
    Ok(())
}

/// The server's certificate, from its HTTP port.
#[cfg(feature = "tls")]
async fn fetch_cert(host: &str, http_port: u16) -> Result<Vec<u8>> {
    let url = format!("http://{host}:{http_port}/tls-cert.pem");
    let mut http = TcpStream::connect((host, http_port))
        .await
        .with_context(|| format!("could not fetch {url}; pass --cafile or --http-port"))?;
    let request = format!("GET /tls-cert.pem HTTP/1.0\r\nHost: {host}:{http_port}\r\n\r\n");
    http.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    timed("fetching the certificate", http.read_to_end(&mut response)).await?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("{url} gave no HTTP answer"))?;
    if !response.starts_with(b"HTTP/1.1 200") && !response.starts_with(b"HTTP/1.0 200") {
        bail!("{url} did not answer 200 OK; pass --cafile");
    }
    Ok(response[split + 4..].to_vec())
}
