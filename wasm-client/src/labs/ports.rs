//! The ports lab: the real address pairs of one connection, from both ends.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::ClientMsg;
use protocol::events::EventKind;
use protocol::sim::SimRng;
use rand_core::RngCore;
use web_sys::HtmlElement;

use super::{Frame, Mounted, button};
use crate::dom::attr;
use crate::net::SockEvent;
use crate::timeline::Side;

/// Our local address once opened, and every (peer, server side) the server accepted.
type Seen = (Option<String>, Vec<(String, String)>);

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "IP addresses and ports",
        "A connection is named by four numbers: your IP and port, the server's IP and port. \
         Connect, and see the ephemeral port your operating system picked for you, from both ends.",
        bridge,
    );
    let f = frame.clone();
    let (_, l) = button(
        &frame.controls,
        "Connect to uppercase",
        "connect",
        move |_| {
            f.timeline.clear();
            if !f.live() {
                let port = 49152 + (SimRng::new(js_sys::Date::now() as u64).next_u32() % 16384);
                let row = f.timeline.row(
                Side::Note,
                &format!("you: 127.0.0.1:{port} → server: 127.0.0.1:9999 (simulated; the port is an example)"),
                None,
            );
                attr(&row, "data-event", "local");
                return;
            }
            // Either side may be heard first: the bridge's "opened" or the server's "accepted".
            let seen: Rc<RefCell<Seen>> = Rc::default();
            let finish = {
                let (seen, f2) = (seen.clone(), f.clone());
                move || {
                    let s = seen.borrow();
                    let Some(local) = &s.0 else { return };
                    let port = format!(":{}", local.rsplit(':').next().unwrap_or("-"));
                    if let Some((peer, server_side)) =
                        s.1.iter().find(|(peer, _)| peer.ends_with(&port))
                    {
                        let row = f2.timeline.row(
                            Side::Server,
                            &format!("server: accepted a connection from {peer} on {server_side}"),
                            None,
                        );
                        attr(&row, "data-event", "accepted");
                        f2.conclude("Same four numbers from both ends: the server sees your ephemeral port as the connection's peer port.");
                    }
                }
            };
            let finish = Rc::new(finish);
            let (seen2, fin) = (seen.clone(), finish.clone());
            let bridge = f.bridge.clone();
            let sub = Rc::new(RefCell::new(None::<u32>));
            let s2 = sub.clone();
            let id = f.bridge.subscribe(move |ev| {
                if ev.demo == Demo::Uppercase
                    && let EventKind::Accepted { local: server_side } = &ev.kind
                {
                    seen2
                        .borrow_mut()
                        .1
                        .push((ev.peer.clone(), server_side.clone()));
                    let mine = seen2.borrow().0.is_some();
                    if mine {
                        fin();
                        if let Some(id) = s2.borrow_mut().take() {
                            bridge.unsubscribe(id);
                        }
                    }
                }
            });
            *sub.borrow_mut() = Some(id);
            let tl = f.timeline.clone();
            let b = f.bridge.clone();
            let sock = Rc::new(RefCell::new(0));
            let s3 = sock.clone();
            let id = f.bridge.open(
                |sock| ClientMsg::Open {
                    sock,
                    demo: Some(Demo::Uppercase),
                    target: None,
                    nodelay: true,
                    sticky: None,
                    ack: false,
                },
                move |ev| {
                    if let SockEvent::Opened { local, peer } = ev {
                        let row =
                            tl.row(Side::Note, &format!("you: {local} → server: {peer}"), None);
                        attr(&row, "data-event", "local");
                        seen.borrow_mut().0 = Some(local);
                        finish();
                        b.send(*s3.borrow(), b"which port am I?");
                    }
                },
            );
            *sock.borrow_mut() = id;
        },
    );
    Mounted::new(vec![l])
}
