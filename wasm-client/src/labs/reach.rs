//! What a lab says beside its mode badge when the browser, not a missing
//! server, decides the mode: Chrome asking about or refusing the page's
//! connection to the learner's machine (Local Network Access), or the
//! learner's own choice of the simulation, each with what to do about it.

use web_sys::Element;

use crate::access;
use crate::dom::{Listener, add, attr, el};
use crate::net::{Bridge, Mode, Reach};

/// The explanation and its actions, under the lab's title.
pub(crate) struct ReachNote {
    note: Element,
    text: Element,
    simulate: Element,
    machine: Element,
    host: String,
    _listeners: [Listener; 2],
}

impl ReachNote {
    /// Builds the (hidden) note in `card`, after `head` (the title and the
    /// badge), for the lab at `root`.
    pub(crate) fn new(
        card: &Element,
        head: &Element,
        root: &Element,
        bridge: &Bridge,
    ) -> ReachNote {
        let server = bridge.server();
        let note = el("div", "sl-reach", "");
        let _ = card.insert_before(&note, head.next_sibling().as_ref());
        attr(&note, "data-role", "reach");
        attr(&note, "role", "status");
        attr(&note, "hidden", "");
        let text = add(&note, el("p", "", ""));
        let actions = add(&note, el("div", "sl-buttons", ""));
        if let Some(href) = root
            .get_attribute("lab")
            .and_then(|lab| access::own_server_link(&server, &lab))
        {
            let a = add(
                &actions,
                el("a", "sl-button", "Open this lab on your own server"),
            );
            attr(&a, "href", &href);
            attr(&a, "target", "_blank");
            attr(&a, "rel", "noopener");
            attr(&a, "data-role", "own-server");
        }
        let choice = |text: &str, role: &str, choose: fn(&Bridge)| {
            let b = bridge.clone();
            super::button(&actions, text, role, move |_| choose(&b))
        };
        let (simulate, l1) = choice(
            "Use the simulation",
            "use-simulation",
            Bridge::choose_simulation,
        );
        let (machine, l2) = choice(
            "Use Socket Lab on my machine",
            "use-machine",
            Bridge::choose_machine,
        );
        for b in [&simulate, &machine] {
            b.class_list().add_1("sl-quiet").ok();
        }
        let host = server
            .split_once("://")
            .map_or(server.as_str(), |(_, r)| r)
            .trim_end_matches('/')
            .to_owned();
        ReachNote {
            note,
            text,
            simulate,
            machine,
            host,
            _listeners: [l1, l2],
        }
    }

    /// The badge's words for `mode` and `reach`.
    pub(crate) fn badge(mode: Mode, reach: Reach) -> &'static str {
        match (mode, reach) {
            (Mode::Live, _) => "live on your machine",
            (Mode::Connecting, Reach::Asking) => "waiting for your browser…",
            (Mode::Connecting, _) => "connecting…",
            (Mode::Simulated, Reach::Blocked { .. }) => "simulated: not allowed by your browser",
            (Mode::Simulated, Reach::Chosen) => "simulated, as you chose",
            (Mode::Simulated, _) => "simulated",
        }
    }

    /// Shows what `reach` means for the learner (nothing while live, or when
    /// no server answered: the lab's usual note says that).
    pub(crate) fn show(&self, mode: Mode, reach: Reach) {
        let host = &self.host;
        let (key, text) = match (mode, reach) {
            (Mode::Live, _) | (_, Reach::Plain) => {
                attr(&self.note, "hidden", "");
                attr(&self.note, "data-reach", "none");
                return;
            }
            (_, Reach::Asking) => (
                "asking",
                format!(
                    "Your browser is asking whether this page may connect to Socket Lab on your \
                     machine ({host}). Choose Allow to run this lab live, on real sockets."
                ),
            ),
            (_, Reach::Blocked { insecure: false }) => (
                "blocked",
                format!(
                    "Your browser has not let this page connect to your machine ({host}), so \
                     the lab runs a simulation. To run it live, start Socket Lab (socket-lab, \
                     or cargo xtask serve) and allow this site to reach your local network in its site settings \
                     (the icon left of the address): the lab connects as soon as you do. Or open \
                     the lab on your own server, where no permission is needed."
                ),
            ),
            (_, Reach::Blocked { insecure: true }) => (
                "insecure",
                format!(
                    "This page is plain http, and your browser never lets a plain-http site \
                     connect to your machine ({host}), so this lab runs a simulation. Open the \
                     lab on your own server instead (start it with socket-lab), or this \
                     course's https address."
                ),
            ),
            (_, Reach::Chosen) => (
                "chosen",
                "Simulated, as you chose on this site: this page does not try to reach your \
                 machine."
                    .to_owned(),
            ),
        };
        self.text.set_text_content(Some(&text));
        attr(&self.note, "data-reach", key);
        let _ = self.note.remove_attribute("hidden");
        // The link stays in every case: the lab on the learner's own server.
        let chosen = reach == Reach::Chosen;
        for (e, shown) in [(&self.simulate, !chosen), (&self.machine, chosen)] {
            if shown {
                let _ = e.remove_attribute("hidden");
            } else {
                attr(e, "hidden", "");
            }
        }
    }
}
