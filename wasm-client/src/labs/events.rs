//! The index page's "what the servers see": a server view over every demo,
//! so connections from the learner's own terminal clients show up with the
//! server's account of each, next to the page's own.

use web_sys::HtmlElement;

use super::{Frame, Mounted};

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
    // Nothing of its own to draw: only the servers' account.
    frame.verdict.remove();
    let view = frame.server_view(&[]);
    Mounted::with_state(Vec::new(), std::rc::Rc::new((view, frame)))
}
