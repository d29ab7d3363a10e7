//! `tls-echo` in a build without the `tls` feature: the demo still listens
//! (its port, its place in every list), but it tells each client and the
//! server view that this build has no TLS, and how to get one.
//!
//! The feature is on by default; it is off only where ring's C code cannot
//! be compiled (the other systems' compile check of `cargo xtask test`).

use std::io;
use std::sync::Arc;

use protocol::events::EventKind;
use tokio::net::TcpStream;

use super::{DemoCtx, Ending};
use crate::events::ConnEvents;

/// Why there is no TLS.
pub const NO_TLS: &str = "this socket-lab was built without TLS (the `tls` feature of \
     native-server, on by default): rebuild it with default features to use tls-echo";

/// Stands in for the certificate and TLS settings: there are none.
#[derive(Clone, Debug)]
pub struct TlsIdentity {
    /// Empty: no certificate was made.
    pub cert_pem: Arc<str>,
}

impl TlsIdentity {
    /// Never fails: there is nothing to make.
    pub fn generate() -> Result<Self, String> {
        Ok(Self {
            cert_pem: Arc::from(""),
        })
    }
}

/// Tells the client and the server view that this build has no TLS.
pub async fn serve_one(stream: TcpStream, events: ConnEvents, _ctx: DemoCtx) -> io::Result<Ending> {
    events.emit(EventKind::TlsRefused {
        reason: NO_TLS.to_owned(),
    });
    drop(stream);
    Ok(Ending::server(NO_TLS))
}
