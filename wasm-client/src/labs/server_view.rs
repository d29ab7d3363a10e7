//! The server view: what the demo servers saw, as every lab shows it.
//!
//! A lab draws its own side (what the page sent, what its reads returned);
//! this panel draws the *server's* side, from the event stream the bridge
//! relays: every connection and datagram that reached the lab's demos, from
//! this page *and* from any other program (the learner's terminal client),
//! grouped per connection, with the peer's address and port and the server's
//! account of it: accepted, each read with its size and bytes, each reply,
//! frames decoded or refused, the auth challenge and verdict, timeouts with
//! what the server was waiting for, and who closed the connection and why.
//!
//! The view renders only what the bridge reports, so it is the same code live
//! and simulated. The rendering of one event ([`describe`]) is a pure
//! function with native tests.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::SocketId;
use protocol::demo::Transport;
use protocol::events::{Closer, EventKind, ServerEvent};
use protocol::hex::{Shown, shown, to_ascii_column, to_spaced_hex};
use web_sys::Element;

use crate::dom::{Listener, add, attr, el};
use crate::net::{Bridge, Watch};

/// Most connections (or UDP peers) kept; older ones are dropped.
pub const MAX_CONNECTIONS: usize = 50;
/// Most events kept per connection; older ones are dropped.
const MAX_ENTRIES: usize = 200;
/// Most bytes shown as text in one entry.
const TEXT_SHOWN: usize = 120;
/// Most bytes shown as hex in one entry.
const HEX_SHOWN: usize = 48;

type EventCallback = Rc<dyn Fn(&ServerEvent, Option<SocketId>)>;

/// Which group an event belongs to: a TCP connection (demo and connection
/// number), or for UDP, where every datagram has a number of its own, the
/// sender's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GroupKey {
    Conn(Demo, u64),
    Peer(Demo, String),
}

fn group_key(ev: &ServerEvent) -> GroupKey {
    match ev.demo.transport() {
        Transport::Udp => GroupKey::Peer(ev.demo, ev.peer.clone()),
        Transport::Tcp => GroupKey::Conn(ev.demo, ev.conn),
    }
}

struct Group {
    root: Element,
    status: Element,
    entries: Element,
    count: usize,
    first_us: u64,
}

struct Inner {
    demos: Vec<Demo>,
    list: Element,
    empty: Element,
    root: Element,
    groups: RefCell<HashMap<GroupKey, Group>>,
    order: RefCell<VecDeque<GroupKey>>,
    callbacks: RefCell<Vec<EventCallback>>,
    seen: Cell<u64>,
}

/// The "Server view" panel. Cheap to clone; the subscription ends when the
/// last clone is dropped.
///
/// A callback given to [`on_event`](Self::on_event) should not hold a clone
/// of the view itself (that would keep the view alive for as long as the page).
#[derive(Clone)]
pub struct ServerView {
    inner: Rc<Inner>,
    _watch: Rc<Watch>,
    _clear: Rc<Listener>,
}

/// What one event says, in words a learner reads, and the bytes to show
/// beside it (if any). Pure, so it is tested natively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The event's kind as a stable name (`read`, `datagram`, …), for styling and tests.
    pub kind: &'static str,
    /// The sentence.
    pub text: String,
    /// A piece of the sentence to show as code (a JSON value, an error code).
    pub code: Option<String>,
    /// Bytes to show, and whether they are binary by nature (always hex).
    pub bytes: Option<(Vec<u8>, bool)>,
    /// Whether this event ends the connection.
    pub ends: bool,
}

/// Words for one server event.
pub fn describe(kind: &EventKind) -> Described {
    let d = |kind, text: String| Described {
        kind,
        text,
        code: None,
        bytes: None,
        ends: false,
    };
    match kind {
        EventKind::Accepted { local } => d("accepted", format!("accepted (server side {local})")),
        EventKind::Read { size, data } => Described {
            bytes: Some((data.0.clone(), false)),
            ..d("read", format!("read {size} {}", bytes_word(*size)))
        },
        EventKind::Reply { size, data } => Described {
            bytes: Some((data.0.clone(), false)),
            ..d("reply", format!("replied {size} {}", bytes_word(*size)))
        },
        EventKind::Datagram {
            size,
            truncated,
            data,
        } => {
            let text = if *truncated {
                format!(
                    "datagram of {size} bytes, truncated to {} by the server's 1024-byte buffer",
                    data.0.len()
                )
            } else {
                format!("datagram of {size} {}", bytes_word(*size))
            };
            Described {
                bytes: Some((data.0.clone(), false)),
                ..d("datagram", text)
            }
        }
        EventKind::FrameDecoded { len, json } => Described {
            code: Some(json.to_string()),
            ..d(
                "frame",
                format!("frame decoded: {len} {} of JSON", bytes_word(*len)),
            )
        },
        EventKind::FrameRejected { code, message } => Described {
            code: Some(code.clone()),
            ..d("frame-rejected", format!("frame refused: {message}"))
        },
        EventKind::Challenge { data } => Described {
            bytes: Some((data.0.clone(), true)),
            ..d(
                "challenge",
                format!("sent a challenge of {} random bytes", data.0.len()),
            )
        },
        EventKind::Verdict { granted: true, .. } => d("verdict", "access granted".into()),
        EventKind::Verdict { reason, .. } => d(
            "verdict",
            format!(
                "access denied: {}",
                reason.map_or("no reason given", |r| r.explain())
            ),
        ),
        EventKind::Timeout {
            waiting_for,
            after_ms,
        } => d(
            "timeout",
            format!(
                "timed out: waited {} for {waiting_for}, then dropped the client",
                duration(*after_ms)
            ),
        ),
        EventKind::Refused { reason } => Described {
            ends: true,
            ..d("refused", format!("refused the connection: {reason}"))
        },
        EventKind::Fin { before_reply } => d(
            "fin",
            if *before_reply {
                "the client's FIN (a read returned 0 bytes), before the reply went out: it half-closed and reads on".into()
            } else {
                "the client's FIN (a read returned 0 bytes): it will send no more".into()
            },
        ),
        EventKind::Closed { by, reason } => {
            let who = match by {
                Closer::Client => "the client",
                Closer::Server => "the server",
            };
            Described {
                ends: true,
                ..d("closed", format!("closed by {who}: {reason}"))
            }
        }
        EventKind::Error { message } => d("error", format!("error: {message}")),
        EventKind::Broadcast { size, data, to } => Described {
            bytes: Some((data.0.clone(), false)),
            ..d(
                "broadcast",
                format!(
                    "relayed {size} {} to {to} other {}",
                    bytes_word(*size),
                    if *to == 1 { "member" } else { "members" }
                ),
            )
        },
        EventKind::TlsHandshake {
            version,
            cipher,
            sni,
        } => Described {
            code: Some(cipher.clone()),
            ..d(
                "tls-handshake",
                format!(
                    "TLS handshake done: {version}, server name {}; cipher suite",
                    sni.as_deref().unwrap_or("(none sent)")
                ),
            )
        },
        EventKind::TlsRefused { reason } => d("tls-refused", format!("TLS refused: {reason}")),
        EventKind::TlsRecords {
            incoming,
            size,
            records,
        } => {
            let recs: Vec<String> = records
                .iter()
                .map(|r| format!("{} ({} + 5 header)", r.kind_name(), r.len))
                .collect();
            let dir = if *incoming { "read" } else { "sent" };
            let text = if recs.is_empty() {
                format!(
                    "{dir} {size} encrypted {} (the rest of a record)",
                    bytes_word(*size)
                )
            } else {
                format!(
                    "{dir} {size} {} of TLS records: {}",
                    bytes_word(*size),
                    recs.join(", ")
                )
            };
            d("tls-records", text)
        }
        EventKind::Lagged { missed } => d(
            "lagged",
            format!("{missed} events were missed: this view fell behind the server"),
        ),
    }
}

fn bytes_word(n: usize) -> &'static str {
    if n == 1 { "byte" } else { "bytes" }
}

fn duration(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// Who a group's connection came from, in words.
pub fn origin(sock: Option<SocketId>) -> &'static str {
    if sock.is_some() {
        "this page"
    } else {
        "another program"
    }
}

/// Bytes as a learner should see them: printable text as itself, anything
/// else (or anything binary by nature) as hex with the ASCII beside it.
/// Returns (text or hex, ASCII column if hex, bytes left out).
fn bytes_display(bytes: &[u8], force_hex: bool) -> (String, Option<String>, usize) {
    match shown(bytes) {
        Shown::Text(text) if !force_hex => {
            let mut end = text.len().min(TEXT_SHOWN);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (text[..end].to_owned(), None, bytes.len() - end)
        }
        _ => {
            let cut = &bytes[..bytes.len().min(HEX_SHOWN)];
            (
                to_spaced_hex(cut),
                Some(to_ascii_column(cut)),
                bytes.len() - cut.len(),
            )
        }
    }
}

impl ServerView {
    /// Adds the panel to `parent`, showing what reached `demos` (all demos
    /// when empty), and starts watching the bridge's event stream.
    pub fn new(parent: &Element, bridge: &Bridge, demos: &[Demo]) -> ServerView {
        let root = add(parent, el("section", "sl-server-view", ""));
        attr(&root, "data-role", "server-view");
        attr(&root, "data-connections", "0");
        let head = add(&root, el("div", "sl-sv-head", ""));
        let title = add(&head, el("h4", "sl-sv-title", "Server view"));
        let names: Vec<&str> = demos.iter().map(|d| d.name()).collect();
        let scope = match names.as_slice() {
            [] => "demo servers".to_owned(),
            [one] => format!("{one} server"),
            [rest @ .., last] => format!("{} and {last} servers", rest.join(", ")),
        };
        let title_id = format!("sl-sv-{}", unique());
        attr(&title, "id", &title_id);
        attr(&root, "aria-labelledby", &title_id);
        let clear_button = add(
            &head,
            el("button", "sl-button sl-quiet", "Clear server view"),
        );
        attr(&clear_button, "type", "button");
        attr(&clear_button, "data-role", "server-view-clear");
        add(
            &root,
            el(
                "p",
                "sl-sv-help",
                &format!(
                    "What the {scope} saw: every connection that reached them, from this page \
                     and from any other program on this machine (a client you run in a terminal), \
                     in the server's own words."
                ),
            ),
        );
        let empty = add(
            &root,
            el("p", "sl-sv-empty", "Nothing has reached the server yet."),
        );
        let list = add(&root, el("ol", "sl-sv-list", ""));
        // It scrolls once long: focusable, so the keyboard can scroll it too.
        attr(&list, "tabindex", "0");
        attr(&list, "aria-label", "Connections the server saw");
        attr(&list, "aria-live", "polite");
        attr(&list, "aria-relevant", "additions");
        let inner = Rc::new(Inner {
            demos: demos.to_vec(),
            list,
            empty,
            root,
            groups: RefCell::default(),
            order: RefCell::default(),
            callbacks: RefCell::default(),
            seen: Cell::new(0),
        });
        let watch = {
            let inner = inner.clone();
            bridge.watch(move |ev, sock| {
                if !inner.demos.is_empty() && !inner.demos.contains(&ev.demo) {
                    return;
                }
                inner.render(ev, sock);
                let callbacks: Vec<EventCallback> = inner.callbacks.borrow().clone();
                for cb in callbacks {
                    cb(ev, sock);
                }
            })
        };
        let clear = {
            let inner = inner.clone();
            Listener::new(&clear_button, "click", move |_| inner.clear())
        };
        ServerView {
            inner,
            _watch: Rc::new(watch),
            _clear: Rc::new(clear),
        }
    }

    /// Removes every connection shown (new ones keep arriving).
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// Calls `f` after each event the view shows, with the page's socket the
    /// event belongs to (`None`: another program), so a lab can react.
    pub fn on_event(&self, f: impl Fn(&ServerEvent, Option<SocketId>) + 'static) {
        self.inner.callbacks.borrow_mut().push(Rc::new(f));
    }

    /// Hands every event to `lab`'s `f` while the lab lives: the view holds
    /// only a weak reference, so a lab that is dropped is not kept alive by
    /// its own panel.
    pub fn on_event_for<T: 'static>(
        &self,
        lab: &Rc<T>,
        f: impl Fn(&Rc<T>, &ServerEvent, Option<SocketId>) + 'static,
    ) {
        let weak = Rc::downgrade(lab);
        self.on_event(move |ev, sock| {
            if let Some(lab) = weak.upgrade() {
                f(&lab, ev, sock);
            }
        });
    }

    /// The panel's element.
    pub fn element(&self) -> &Element {
        &self.inner.root
    }

    /// How many events the view has shown since it was made (cleared or not).
    pub fn events_seen(&self) -> u64 {
        self.inner.seen.get()
    }
}

impl Inner {
    fn clear(&self) {
        self.list.set_inner_html("");
        self.groups.borrow_mut().clear();
        self.order.borrow_mut().clear();
        attr(&self.root, "data-connections", "0");
        let _ = self.empty.remove_attribute("hidden");
    }

    fn render(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        self.seen.set(self.seen.get() + 1);
        let said = describe(&ev.kind);
        if said.kind == "lagged" {
            let li = add(&self.list, el("li", "sl-sv-note", &said.text));
            attr(&li, "data-event", "lagged");
            return;
        }
        let key = group_key(ev);
        let mut groups = self.groups.borrow_mut();
        if !groups.contains_key(&key) {
            let group = self.new_group(ev, sock);
            groups.insert(key.clone(), group);
            let mut order = self.order.borrow_mut();
            order.push_back(key.clone());
            while order.len() > MAX_CONNECTIONS {
                if let Some(old) = order.pop_front()
                    && let Some(g) = groups.remove(&old)
                {
                    g.root.remove();
                }
            }
            attr(&self.root, "data-connections", &order.len().to_string());
            attr(&self.empty, "hidden", "");
        }
        let group = groups.get_mut(&key).expect("the group was just made");
        if sock.is_some() && group.root.get_attribute("data-origin").as_deref() != Some("page") {
            // A later event may know the page's socket when an earlier one did not.
            mark_origin(&group.root, sock);
        }
        add_entry(group, ev, &said);
        if said.ends {
            attr(&group.root, "data-state", "closed");
            group.status.set_text_content(Some(match &ev.kind {
                EventKind::Closed {
                    by: Closer::Client, ..
                } => "closed by the client",
                EventKind::Closed {
                    by: Closer::Server, ..
                } => "closed by the server",
                _ => "refused",
            }));
        }
    }

    fn new_group(&self, ev: &ServerEvent, sock: Option<SocketId>) -> Group {
        let root = add(&self.list, el("li", "sl-sv-conn", ""));
        attr(&root, "data-demo", ev.demo.name());
        attr(&root, "data-conn", &ev.conn.to_string());
        attr(&root, "data-peer", &ev.peer);
        let head = add(&root, el("div", "sl-sv-conn-head", ""));
        let what = match ev.demo.transport() {
            Transport::Udp => format!("{}: datagrams from ", ev.demo.name()),
            Transport::Tcp => format!("{} connection {} from ", ev.demo.name(), ev.conn),
        };
        add(&head, el("span", "sl-sv-what", &what));
        add(&head, el("code", "sl-sv-peer", &ev.peer));
        let who = add(&head, el("span", "sl-sv-origin", ""));
        attr(&who, "data-role", "origin");
        let status = add(&head, el("span", "sl-sv-status", ""));
        let entries = add(&root, el("ol", "sl-sv-entries", ""));
        match ev.demo.transport() {
            Transport::Tcp => {
                attr(&root, "data-state", "open");
                status.set_text_content(Some("open"));
            }
            Transport::Udp => attr(&root, "data-state", "udp"),
        }
        mark_origin(&root, sock);
        Group {
            root,
            status,
            entries,
            count: 0,
            first_us: ev.at_us,
        }
    }
}

fn mark_origin(root: &Element, sock: Option<SocketId>) {
    attr(
        root,
        "data-origin",
        if sock.is_some() { "page" } else { "other" },
    );
    match sock {
        Some(s) => attr(root, "data-sock", &s.to_string()),
        None => {
            let _ = root.remove_attribute("data-sock");
        }
    }
    if let Some(who) = root.query_selector("[data-role=origin]").ok().flatten() {
        who.set_text_content(Some(origin(sock)));
    }
}

fn add_entry(group: &mut Group, ev: &ServerEvent, said: &Described) {
    let li = add(&group.entries, el("li", "sl-sv-entry", ""));
    attr(&li, "data-event", said.kind);
    if let EventKind::Read { size, .. }
    | EventKind::Reply { size, .. }
    | EventKind::Datagram { size, .. } = &ev.kind
    {
        attr(&li, "data-size", &size.to_string());
    }
    if let EventKind::Datagram { truncated, .. } = &ev.kind {
        attr(
            &li,
            "data-truncated",
            if *truncated { "true" } else { "false" },
        );
    }
    if let EventKind::FrameRejected { code, .. } = &ev.kind {
        attr(&li, "data-code", code);
    }
    let since = ev.at_us.saturating_sub(group.first_us);
    add(
        &li,
        el(
            "span",
            "sl-sv-time",
            &format!("+{:.1} ms", since as f64 / 1000.0),
        ),
    );
    add(&li, el("span", "sl-sv-text", &said.text));
    if let Some(code) = &said.code {
        add(&li, el("code", "sl-sv-code", code));
    }
    if let Some((bytes, force_hex)) = &said.bytes {
        let (main, ascii, more) = bytes_display(bytes, *force_hex);
        let b = add(&li, el("span", "sl-sv-bytes", ""));
        attr(&b, "data-role", "bytes");
        match ascii {
            None => {
                attr(&b, "data-format", "text");
                add(&b, el("code", "sl-sv-text-bytes", &main));
            }
            Some(ascii) => {
                attr(&b, "data-format", "hex");
                add(&b, el("code", "sl-sv-hex", &main));
                add(&b, el("code", "sl-sv-ascii", &ascii));
            }
        }
        if more > 0 {
            add(&b, el("span", "sl-sv-more", &format!("… {more} more")));
        }
    }
    group.count += 1;
    if group.count > MAX_ENTRIES
        && let Some(first) = group.entries.first_element_child()
    {
        first.remove();
        attr(&group.root, "data-trimmed", "true");
    }
}

fn unique() -> u32 {
    thread_local! { static NEXT: Cell<u32> = const { Cell::new(1) }; }
    NEXT.with(|n| {
        let v = n.get();
        n.set(v + 1);
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::auth::DenyReason;
    use protocol::hex::HexBytes;

    #[test]
    fn reads_and_datagrams_say_their_size() {
        let r = describe(&EventKind::Read {
            size: 13,
            data: HexBytes::capped(b"Hello, Server"),
        });
        assert_eq!(r.text, "read 13 bytes");
        assert_eq!(r.bytes, Some((b"Hello, Server".to_vec(), false)));
        let t = describe(&EventKind::Datagram {
            size: 1500,
            truncated: true,
            data: HexBytes::capped(&[b'.'; 1024]),
        });
        assert!(
            t.text.contains("1500 bytes, truncated to 1024"),
            "{}",
            t.text
        );
        assert_eq!(
            describe(&EventKind::Read {
                size: 1,
                data: HexBytes::capped(b"x")
            })
            .text,
            "read 1 byte"
        );
    }

    #[test]
    fn endings_name_who_and_why() {
        let c = describe(&EventKind::Closed {
            by: Closer::Server,
            reason: "idle".into(),
        });
        assert!(c.ends);
        assert_eq!(c.text, "closed by the server: idle");
        let t = describe(&EventKind::Timeout {
            waiting_for: "data".into(),
            after_ms: 60_000,
        });
        assert_eq!(
            t.text,
            "timed out: waited 60 s for data, then dropped the client"
        );
        assert!(!t.ends);
        let v = describe(&EventKind::Verdict {
            granted: false,
            reason: Some(DenyReason::TooShort),
        });
        assert!(v.text.starts_with("access denied: the connection closed"));
    }

    #[test]
    fn binary_is_hex_and_text_is_text() {
        let (text, ascii, more) = bytes_display(b"ACK: hi", false);
        assert_eq!((text.as_str(), ascii, more), ("ACK: hi", None, 0));
        let (hex, ascii, _) = bytes_display(&[0, 0, 0, 0x10, b'{'], false);
        assert_eq!(hex, "00 00 00 10 7b");
        assert_eq!(ascii.as_deref(), Some("····{"));
        let (hex, ..) = bytes_display(b"text", true);
        assert_eq!(hex, "74 65 78 74");
        let (_, _, more) = bytes_display(&[0u8; 100], false);
        assert_eq!(more, 100 - HEX_SHOWN);
    }

    #[test]
    fn no_markdown_in_sentences() {
        let kinds = [
            EventKind::FrameRejected {
                code: "too_large".into(),
                message: "too big".into(),
            },
            EventKind::Accepted {
                local: "127.0.0.1:1".into(),
            },
        ];
        for k in kinds {
            assert!(!describe(&k).text.contains('`'));
        }
        assert_eq!(origin(Some(1)), "this page");
        assert_eq!(origin(None), "another program");
    }
}
