//! What the server runs, by kind and address: the HTTP site or one demo.
//!
//! A leaf: it knows the demo registry and nothing of the server around it,
//! so the HTTP layer and the bridge can name services without importing
//! the module that starts them.

use std::fmt;
use std::net::SocketAddr;

use protocol::Demo;

/// Which service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// The site, the embed pages and the bridge's `/ws`.
    Http,
    /// One demo server.
    Demo(Demo),
}

/// A listening service and its real address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Which service.
    pub kind: ServiceKind,
    /// The bound address.
    pub addr: SocketAddr,
}

impl Service {
    /// `http` or the demo's name.
    pub fn name(&self) -> &'static str {
        match self.kind {
            ServiceKind::Http => "http",
            ServiceKind::Demo(d) => d.name(),
        }
    }

    /// `http`, `tcp` or `udp`.
    pub fn scheme(&self) -> &'static str {
        match self.kind {
            ServiceKind::Http => "http",
            ServiceKind::Demo(d) => d.transport().scheme(),
        }
    }

    /// The demo, if this is one.
    pub fn demo(&self) -> Option<Demo> {
        match self.kind {
            ServiceKind::Http => None,
            ServiceKind::Demo(d) => Some(d),
        }
    }
}

impl fmt::Display for Service {
    /// The startup line: `tcp-echo tcp://127.0.0.1:65432`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}://{}", self.name(), self.scheme(), self.addr)
    }
}
