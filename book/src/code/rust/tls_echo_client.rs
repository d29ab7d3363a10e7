//! A TLS client for the tls-echo demo with rustls: the tcp-echo client, with
//! the stream wrapped.
//!
//! `rustls::StreamOwned` joins a TCP stream and a TLS connection into one
//! `Read + Write`: the first write runs the handshake (and checks the
//! server's certificate against the one file we trust, and against the name
//! "localhost"), then writes go out as encrypted records and reads return
//! plain text.
//!
//! socket-lab makes its certificate at start; fetch it first:
//!     curl -o socket-lab-cert.pem http://127.0.0.1:8000/tls-cert.pem
//!
//! Run:  cargo run -p book-samples --bin tls_echo_client
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_TLS_ECHO_PORT (8443),
//!       SOCKET_LAB_TLS_CERT (socket-lab-cert.pem)
//! (rustls is a crate: this sample needs cargo, not rustc alone.)

use std::env;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = env::var("SOCKET_LAB_TLS_ECHO_PORT").unwrap_or_else(|_| "8443".into());
    let cafile = env::var("SOCKET_LAB_TLS_CERT").unwrap_or_else(|_| "socket-lab-cert.pem".into());

    // Trust exactly the certificate socket-lab made.
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&cafile)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost")?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name)?;

    let tcp = TcpStream::connect(format!("{host}:{port}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);

    let message = b"Hello, TLS";
    tls.write_all(message)?; // the handshake happens here, then the record
    let version = tls.conn.protocol_version();
    let suite = tls.conn.negotiated_cipher_suite().map(|s| s.suite());
    println!("TLS handshake done: {version:?}, {suite:?}");

    let expected = b"ACK: ".len() + message.len();
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while response.len() < expected {
        let n = tls.read(&mut buf)?; // decrypted bytes; 0 when the server closes
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    println!("Server replied: {}", String::from_utf8_lossy(&response));
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}
