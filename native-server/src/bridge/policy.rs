//! Who may open the bridge: the Origin and Host checks on the upgrade.
//!
//! A WebSocket upgrade is a plain HTTP request that any web page can make, to
//! any address, with the visitor's browser. Without these checks a page on
//! the internet could drive the demo servers on a learner's machine. Two
//! headers decide:
//!
//! - `Origin` names the page that asks. Browsers always send it on a
//!   WebSocket upgrade and pages cannot forge it. Allowed: this server's own
//!   pages, and the operator's `--allow-origin` entries. Missing: refused.
//! - `Host` names the server the browser thinks it is talking to. A DNS
//!   rebinding attack points a hostile name at 127.0.0.1, so the Origin looks
//!   "own" but the Host is the attacker's name. Allowed: the loopback names
//!   with our port, the bind address, and `--allow-host` entries.

use std::net::SocketAddr;

/// Why an upgrade was refused (sent as the 403 body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No Origin header: not a browser page we can vouch for.
    #[error(
        "the WebSocket upgrade has no Origin header; the bridge only serves web pages \
         (non-browser clients: send an Origin the operator allowed with --allow-origin)"
    )]
    NoOrigin,
    /// An Origin nobody allowed.
    #[error(
        "pages from {0} may not use this bridge; if you run this server for that page, \
         start it with --allow-origin {0}"
    )]
    Origin(String),
    /// A Host header that is not ours (DNS rebinding defence).
    #[error(
        "this server does not answer to the name {0:?}; if that is its real name, \
         start it with --allow-host {0}"
    )]
    Host(String),
}

/// The allowed Origins and Hosts.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    hosts: Vec<String>,
    origins: Vec<String>,
}

fn normalize(s: &str) -> String {
    s.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl OriginPolicy {
    /// The policy for a server whose HTTP side listens on `http`.
    pub fn new(http: SocketAddr, allow_origins: &[String], allow_hosts: &[String]) -> Self {
        let port = http.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if !http.ip().is_unspecified() && !http.ip().is_loopback() {
            hosts.push(http.to_string());
        }
        hosts.extend(allow_hosts.iter().map(|h| normalize(h)));
        let mut origins: Vec<String> = hosts
            .iter()
            .flat_map(|h| [format!("http://{h}"), format!("https://{h}")])
            .collect();
        origins.extend(allow_origins.iter().map(|o| normalize(o)));
        Self { hosts, origins }
    }

    /// Whether `origin` is one of ours or allowed (for CORS-like decisions).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.contains(&normalize(origin))
    }

    /// Checks an upgrade's headers.
    pub fn check(&self, host: Option<&str>, origin: Option<&str>) -> Result<(), Refusal> {
        let host = host.map(normalize).unwrap_or_default();
        if !self.hosts.contains(&host) {
            return Err(Refusal::Host(host));
        }
        let origin = origin.ok_or(Refusal::NoOrigin)?;
        if !self.origin_allowed(origin) {
            return Err(Refusal::Origin(origin.trim().to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> OriginPolicy {
        OriginPolicy::new(
            "127.0.0.1:8000".parse().unwrap(),
            &["https://Course.Example/".to_owned()],
            &[],
        )
    }

    #[test]
    fn own_pages_and_allowed_origins_pass() {
        let p = policy();
        assert_eq!(
            p.check(Some("127.0.0.1:8000"), Some("http://127.0.0.1:8000")),
            Ok(())
        );
        assert_eq!(
            p.check(Some("localhost:8000"), Some("http://localhost:8000")),
            Ok(())
        );
        assert_eq!(
            p.check(Some("127.0.0.1:8000"), Some("https://course.example")),
            Ok(())
        );
    }

    #[test]
    fn foreign_missing_and_rebinding_fail() {
        let p = policy();
        assert!(matches!(
            p.check(Some("127.0.0.1:8000"), Some("http://evil.example")),
            Err(Refusal::Origin(_))
        ));
        assert_eq!(
            p.check(Some("127.0.0.1:8000"), None),
            Err(Refusal::NoOrigin)
        );
        // DNS rebinding: the page's origin matches its Host, but the Host is not ours.
        assert!(matches!(
            p.check(Some("evil.example:8000"), Some("http://evil.example:8000")),
            Err(Refusal::Host(_))
        ));
        // Another port on loopback is another origin.
        assert!(matches!(
            p.check(Some("127.0.0.1:8000"), Some("http://127.0.0.1:9000")),
            Err(Refusal::Origin(_))
        ));
        assert!(matches!(
            p.check(None, Some("http://127.0.0.1:8000")),
            Err(Refusal::Host(_))
        ));
        let msg = Refusal::Origin("http://evil.example".into()).to_string();
        assert!(msg.contains("--allow-origin http://evil.example"));
    }
}
