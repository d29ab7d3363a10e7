//! Chrome's Local Network Access, as far as a page can see it, and the
//! learner's remembered choice of the simulation.
//!
//! Chrome stops a page on a public site from reaching the learner's own
//! machine (loopback) or local network unless the learner allows it: the
//! permission is `loopback-network` for 127.0.0.1 and `local-network` for
//! private addresses (Chrome 156; earlier versions had one,
//! `local-network-access`). On https the browser asks; a plain-http page is
//! refused outright. A refused WebSocket fails within milliseconds, exactly
//! like one to a port where nothing listens, so the only way for the lab to
//! tell the two apart is the permission's state. The page's own address
//! space is not visible to script (a test can make a loopback page count as
//! public), so the page's host name is consulted only where the state leaves
//! the question open ("prompt").

use std::net::IpAddr;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// `navigator.permissions.query(descriptor)`.
    #[wasm_bindgen(js_namespace = ["navigator", "permissions"], js_name = query, catch)]
    fn query_permission(descriptor: &JsValue) -> Result<js_sys::Promise, JsValue>;

    /// A `PermissionStatus`: its state follows the learner's decisions.
    pub(crate) type PermissionStatus;

    #[wasm_bindgen(method, getter)]
    fn state(this: &PermissionStatus) -> String;

    #[wasm_bindgen(method, setter)]
    fn set_onchange(this: &PermissionStatus, f: Option<&js_sys::Function>);
}

/// How private an address is, in Local Network Access's order: a page may
/// reach its own space and less private ones freely, more private ones only
/// with the permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Space {
    /// The internet.
    Public,
    /// A private network: 10/8, 172.16/12, 192.168/16, link-local, `*.local`.
    Private,
    /// The learner's own machine.
    Loopback,
}

/// The space of the host in `url` (`http://127.0.0.1:8000/` → loopback).
pub(crate) fn space_of_url(url: &str) -> Space {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let host = host.to_ascii_lowercase();
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Space::Loopback,
        Ok(IpAddr::V4(ip)) if ip.is_private() || ip.is_link_local() => Space::Private,
        Ok(IpAddr::V6(ip)) if ip.is_unique_local() || ip.is_unicast_link_local() => Space::Private,
        Ok(_) => Space::Public,
        Err(_) if host == "localhost" || host.ends_with(".localhost") => Space::Loopback,
        Err(_) if host.ends_with(".local") => Space::Private,
        Err(_) => Space::Public,
    }
}

/// Whether the browser would gate a page in `page` reaching `target`.
pub(crate) fn gated(page: Space, target: Space) -> bool {
    page < target
}

/// The page's URL.
pub(crate) fn page_url() -> String {
    crate::dom::document().url().unwrap_or_default()
}

/// Whether the page is a secure context (https, or loopback): only such a
/// page can be granted the permission.
pub(crate) fn secure_page() -> bool {
    web_sys::window().is_some_and(|w| w.is_secure_context())
}

/// What the browser says about the permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permission {
    /// Allowed.
    Granted,
    /// Not decided: the browser asks when the page tries.
    Prompt,
    /// Refused.
    Denied,
}

impl PermissionStatus {
    /// The state now.
    pub(crate) fn permission(&self) -> Permission {
        match self.state().as_str() {
            "granted" => Permission::Granted,
            "denied" => Permission::Denied,
            _ => Permission::Prompt,
        }
    }

    /// Calls `f` on every change of the state (`None`: stop).
    pub(crate) fn on_change(&self, f: Option<&Closure<dyn FnMut()>>) {
        self.set_onchange(f.map(|f| f.as_ref().unchecked_ref()));
    }
}

/// The permission that gates reaching `target`, by each name this browser
/// may know it by; `None` when the browser knows none of them (it does not
/// gate, or does not say).
pub(crate) async fn permission_for(target: Space) -> Option<PermissionStatus> {
    let names: &[&str] = match target {
        Space::Loopback => &["loopback-network", "local-network-access"],
        Space::Private => &["local-network", "local-network-access"],
        Space::Public => &[],
    };
    for name in names {
        let descriptor = js_sys::Object::new();
        js_sys::Reflect::set(&descriptor, &"name".into(), &(*name).into()).ok()?;
        // An unknown name rejects the promise (or throws): try the next one.
        let Ok(promise) = query_permission(&descriptor) else {
            continue;
        };
        if let Ok(status) = JsFuture::from(promise).await {
            return Some(status.unchecked_into());
        }
    }
    None
}

/// Where the learner's choice of the simulation is kept (per site, as
/// `localStorage` is).
const CHOICE_KEY: &str = "socket-lab.simulate";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Whether the learner chose the simulation on this site.
pub(crate) fn chose_simulation() -> bool {
    storage().is_some_and(|s| s.get_item(CHOICE_KEY).ok().flatten().is_some())
}

/// Remembers (or forgets) that the learner chose the simulation on this site.
pub(crate) fn remember_simulation(chosen: bool) {
    if let Some(s) = storage() {
        let _ = if chosen {
            s.set_item(CHOICE_KEY, "chosen")
        } else {
            s.remove_item(CHOICE_KEY)
        };
    }
}

/// The same lab as a page of the server itself, where no permission is
/// needed: `http://127.0.0.1:8000/` and `sticky` → `http://127.0.0.1:8000/embed/sticky`.
pub(crate) fn own_server_link(server: &str, lab: &str) -> Option<String> {
    let (scheme, rest) = server.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}/embed/{lab}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_fall_in_the_spaces_chrome_uses() {
        for (url, space) in [
            ("http://127.0.0.1:8000/", Space::Loopback),
            ("http://127.9.9.9/", Space::Loopback),
            ("http://localhost:8000/book/", Space::Loopback),
            ("http://[::1]:8000/", Space::Loopback),
            ("http://192.168.10.5:8000/", Space::Private),
            ("http://10.0.0.1", Space::Private),
            ("http://172.20.1.1:80/x", Space::Private),
            ("http://pi.local:8000/", Space::Private),
            ("http://[fd00::1]:8000/", Space::Private),
            ("https://course.example.edu/week3", Space::Public),
            ("https://172.32.0.1/", Space::Public),
            ("https://8.8.8.8/", Space::Public),
        ] {
            assert_eq!(space_of_url(url), space, "{url}");
        }
    }

    #[test]
    fn only_a_less_private_page_is_gated() {
        assert!(gated(Space::Public, Space::Loopback));
        assert!(gated(Space::Public, Space::Private));
        assert!(gated(Space::Private, Space::Loopback));
        assert!(!gated(Space::Loopback, Space::Loopback));
        assert!(!gated(Space::Loopback, Space::Private));
        assert!(!gated(Space::Public, Space::Public));
    }

    #[test]
    fn the_own_server_link_is_the_servers_embed_page() {
        assert_eq!(
            own_server_link("http://127.0.0.1:8000/", "sticky").as_deref(),
            Some("http://127.0.0.1:8000/embed/sticky")
        );
        assert_eq!(
            own_server_link("http://192.168.10.5:8000/book/", "auth").as_deref(),
            Some("http://192.168.10.5:8000/embed/auth")
        );
        assert_eq!(own_server_link("nonsense", "auth"), None);
    }
}
