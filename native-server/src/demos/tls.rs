//! The `tls-echo` demo: the tcp-echo conversation behind a real TLS
//! handshake, with a certificate the server makes when it starts.
//!
//! Each connection is looked at before TLS begins. A client whose first bytes
//! cannot start a TLS handshake (someone speaking plain TCP to a TLS port, as
//! a learner's first try often is) is answered by the conversation's TLS gate:
//! the reason in an event and a TLS alert on the wire, the same as the
//! simulation. A real ClientHello goes to rustls; once the handshake is done,
//! the decrypted bytes are fed to the tcp-echo conversation and its replies
//! are encrypted back.
//!
//! What the wire carried is published too: every socket read and write is
//! scanned for TLS record headers ([`protocol::tls::RecordScanner`]), so the
//! lab can put "you sent 10 bytes; the wire carried a 37-byte
//! application-data record" side by side.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use protocol::Demo;
use protocol::events::EventKind;
use protocol::tls::{RECORD_HEADER, RecordScanner};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::{DemoCtx, Ending};
use crate::events::ConnEvents;

/// The names the certificate is valid for: what a client on this machine
/// may ask for (`server_hostname=` in Python, the `ServerName` in rustls).
pub const CERT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The server's TLS identity: a self-signed certificate made at start (never
/// written to disk by the server; `/tls-cert.pem` serves it), and what a
/// client needs to trust it.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The certificate, PEM, for clients to trust (`cafile=`).
    pub cert_pem: Arc<str>,
    acceptor: tokio_rustls::TlsAcceptor,
    /// A client configuration that trusts exactly this certificate.
    pub client_config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Makes a fresh key pair and a certificate for [`CERT_NAMES`].
    pub fn generate() -> Result<Self, String> {
        let names: Vec<String> = CERT_NAMES.iter().map(|s| (*s).to_owned()).collect();
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|e| format!("could not make tls-echo's certificate: {e}"))?;
        let cert_der: CertificateDer<'static> = certified.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(vec![cert_der.clone()], key.into())
            })
            .map_err(|e| format!("could not set up tls-echo's TLS: {e}"))?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(cert_der)
            .map_err(|e| format!("could not trust tls-echo's own certificate: {e}"))?;
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("could not set up a TLS client: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            cert_pem: certified.cert.pem().into(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            client_config: Arc::new(client),
        })
    }
}

/// Serves one `tls-echo` connection.
pub async fn serve_one(stream: TcpStream, events: ConnEvents, ctx: DemoCtx) -> io::Result<Ending> {
    let timeout = ctx.config.handshake_timeout;
    // Look at the first bytes without taking them.
    let mut first = [0u8; RECORD_HEADER];
    let peeked = tokio::select! {
        _ = ctx.shutdown.cancelled() => return Ok(Ending::server("the server is shutting down")),
        res = tokio::time::timeout(timeout, stream.peek(&mut first)) => res,
    };
    let n = match peeked {
        Ok(res) => res?,
        Err(_) => {
            events.emit(EventKind::Timeout {
                waiting_for: "the TLS ClientHello".into(),
                after_ms: millis(timeout),
            });
            return Ok(Ending::server(format!(
                "the client sent nothing for {} s: a TLS client speaks first, with its ClientHello",
                timeout.as_secs_f64()
            )));
        }
    };
    if n == 0 {
        return Ok(Ending::client_closed());
    }
    if protocol::tls::not_tls(&first[..n]).is_some() {
        // The gate says why, sends the alert and closes, as in the page.
        return super::driver::converse(Demo::TlsEcho, stream, events, ctx).await;
    }
    let tapped = Tapped::new(stream, events.clone());
    let accepted = tokio::select! {
        _ = ctx.shutdown.cancelled() => return Ok(Ending::server("the server is shutting down")),
        res = tokio::time::timeout(timeout, ctx.tls.acceptor.accept(tapped)) => res,
    };
    let tls = match accepted {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            let reason = format!("the TLS handshake failed: {e}");
            events.emit(EventKind::TlsRefused {
                reason: reason.clone(),
            });
            return Ok(Ending::server(reason));
        }
        Err(_) => {
            events.emit(EventKind::Timeout {
                waiting_for: "the TLS handshake to finish".into(),
                after_ms: millis(timeout),
            });
            return Ok(Ending::server(format!(
                "the TLS handshake did not finish within {} s",
                timeout.as_secs_f64()
            )));
        }
    };
    let (_, conn) = tls.get_ref();
    events.emit(EventKind::TlsHandshake {
        version: conn
            .protocol_version()
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .replace("TLSv1_", "TLSv1.")
            .to_owned(),
        cipher: conn
            .negotiated_cipher_suite()
            .and_then(|c| c.suite().as_str())
            .unwrap_or("?")
            .to_owned(),
        sni: conn.server_name().map(str::to_owned),
    });
    let conv = protocol::conversation::Conversation::after_tls_handshake(
        &super::driver::settings(&ctx.config),
        0,
    );
    super::driver::drive(tls, conv, events, ctx, None).await
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A TCP stream that publishes the TLS records each read and write carried.
pub struct Tapped {
    inner: TcpStream,
    events: ConnEvents,
    incoming: RecordScanner,
    outgoing: RecordScanner,
}

impl Tapped {
    fn new(inner: TcpStream, events: ConnEvents) -> Self {
        Self {
            inner,
            events,
            incoming: RecordScanner::default(),
            outgoing: RecordScanner::default(),
        }
    }

    fn publish(&mut self, incoming: bool, bytes: &[u8]) {
        let scanner = if incoming {
            &mut self.incoming
        } else {
            &mut self.outgoing
        };
        let records = scanner.feed(bytes);
        if self.events.is_watched() {
            self.events.emit(EventKind::TlsRecords {
                incoming,
                size: bytes.len(),
                records,
            });
        }
    }
}

impl AsyncRead for Tapped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let got = buf.filled()[before..].to_vec();
            if !got.is_empty() {
                self.publish(true, &got);
            }
        }
        res
    }
}

impl AsyncWrite for Tapped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res
            && n > 0
        {
            self.publish(false, &buf[..n]);
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
