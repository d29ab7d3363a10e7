//! The event log: everything the demo servers see, live, including
//! connections from the learner's own terminal clients.

use web_sys::HtmlElement;

use super::{Frame, Mounted, button};
use crate::dom::attr;
use crate::timeline::Side;

/// Most rows kept; older ones are dropped so a long session cannot bloat the page.
const MAX_ROWS: u32 = 300;

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "What the servers see",
        "A live log of every demo server: connections (with the client's ephemeral port), each read, each reply. \
         Run a client in your terminal, e.g. `python3 tcp_echo_client.py`, and watch it appear.",
        bridge,
    );
    let f = frame.clone();
    let tl = frame.timeline.clone();
    let count = std::rc::Rc::new(std::cell::Cell::new(0u32));
    frame.bridge.subscribe(move |ev| {
        if !f.live() {
            return;
        }
        let row = tl.row(Side::Server, &ev.describe(), None);
        attr(&row, "data-demo", ev.demo.name());
        count.set(count.get() + 1);
        if count.get() > MAX_ROWS
            && let Some(parent) = row.parent_element()
            && let Some(first) = parent.first_element_child()
        {
            first.remove();
        }
    });
    let tl = frame.timeline.clone();
    let (_, l) = button(&frame.controls, "Clear", "clear", move |_| tl.clear());
    Mounted::new(vec![l])
}
