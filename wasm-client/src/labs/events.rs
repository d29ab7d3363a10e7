//! The index page's "what the servers see": a server view over every demo,
//! so connections from the learner's own terminal clients show up with the
//! server's account of each, next to the page's own.
//!
//! Above it, the same events in the order they happened, as a sequence
//! diagram (and its list): one lifeline per client the servers heard from,
//! named by demo and address, the servers on the right. What the grouped
//! view cannot show, how two clients' traffic interleaved, is drawn here.

use std::cell::Cell;
use std::rc::Rc;

use protocol::demo::Transport;
use protocol::events::{EventKind, ServerEvent};
use web_sys::HtmlElement;

use super::{Frame, Mounted};
use crate::dom::Listener;
use crate::timeline::Side;

/// The diagram's lifeline for the demo servers.
const SERVERS: &str = "the servers";
/// Most rows the list keeps before it starts again (the grouped view below
/// keeps each connection's own events).
const MAX_ROWS: u32 = 400;

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "What the servers see",
        "Every demo server's own account: each connection (with the client's ephemeral port), each read, \
         each reply, each verdict, and who closed it. Run a client in your terminal, for example \
         python3 tcp_echo_client.py, and watch it appear, marked another program.",
        bridge,
    );
    // Nothing of its own to conclude: only the servers' account.
    frame.verdict.remove();
    frame.timeline.name_far_end(
        SERVERS,
        "Every event the servers reported, time going down: each client (its demo and address) on the left, \
         the servers on the right. A client's write is an arrow to the servers when they read it; a reply an \
         arrow back. Focus or hover a step for its details. ",
    );
    frame.timeline.arrow_words("→ to server", "← from server");
    let view = frame.server_view(&[]);
    let timeline = frame.timeline.clone();
    let rows = Rc::new(Cell::new(0u32));
    // Clearing the server view clears its diagram and list too.
    let cleared = view
        .element()
        .query_selector("[data-role=server-view-clear]")
        .ok()
        .flatten()
        .map(|button| {
            let (timeline, rows) = (timeline.clone(), rows.clone());
            Listener::new(&button, "click", move |_| {
                timeline.clear();
                rows.set(0);
            })
        });
    view.on_event(move |ev, _sock| {
        // A page left open all day: the list starts again, and says so.
        if rows.get() >= MAX_ROWS {
            timeline.clear();
            timeline.row(
                Side::Note,
                &format!(
                    "The list reached {MAX_ROWS} events and starts again here; the connections below keep their own."
                ),
                None,
            );
            rows.set(1);
        }
        rows.set(rows.get() + 1);
        draw(&timeline, ev);
    });
    Mounted::with_state(Vec::new(), Rc::new((view, frame, cleared)))
}

/// The client's lifeline: its demo and address (a TCP connection's number
/// too, as one address can be used again).
fn lane(ev: &ServerEvent) -> String {
    match ev.demo.transport() {
        Transport::Udp => format!("{} {}", ev.demo, ev.peer),
        Transport::Tcp => format!("{} #{} {}", ev.demo, ev.conn, ev.peer),
    }
}

/// One event as one step: what the server read is an arrow from the client,
/// what it sent one back, anything else a box on the servers' lifeline.
fn draw(timeline: &crate::timeline::Timeline, ev: &ServerEvent) {
    let said = super::server_view::describe(&ev.kind);
    let lane = lane(ev);
    let label = format!("{} #{}: {}", ev.demo, ev.conn, said.text);
    match &ev.kind {
        EventKind::Read { data, .. } | EventKind::Datagram { data, .. } => {
            timeline.row_in(&lane, Side::Send, &label, Some(&data.0));
        }
        EventKind::Reply { data, .. } => {
            timeline.row_in(&lane, Side::Read, &label, Some(&data.0));
        }
        EventKind::Lagged { .. } => {
            timeline.row(Side::Note, &said.text, None);
        }
        _ => {
            timeline.row_in(&lane, Side::Server, &label, None);
        }
    }
}
