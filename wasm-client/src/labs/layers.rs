//! The layers lab: what each layer adds around our frame, byte by byte.
//!
//! A socket hides everything below the transport layer, but the bytes are
//! real: this lab builds the headers a message to the `framed` demo gets on
//! its way down (TCP, IPv4, Ethernet) around the frame `protocol` makes.

use protocol::frame;
use protocol::hex::to_spaced_hex;
use web_sys::HtmlElement;

use super::{Frame, Mounted, button, text_input};
use crate::dom::{add, attr, el};

/// One layer's contribution.
pub struct Layer {
    /// OSI layer name.
    pub name: &'static str,
    /// What it adds.
    pub what: &'static str,
    /// Bytes added in front.
    pub header: usize,
    /// Bytes added behind.
    pub trailer: usize,
}

/// The layers below our application protocol, for a TCP/IPv4/Ethernet path.
pub const LAYERS: [Layer; 4] = [
    Layer {
        name: "Application (ours)",
        what: "4-byte length header + JSON",
        header: 4,
        trailer: 0,
    },
    Layer {
        name: "Transport: TCP",
        what: "ports, sequence and ACK numbers, flags, window (no options)",
        header: 20,
        trailer: 0,
    },
    Layer {
        name: "Network: IPv4",
        what: "source and destination addresses, TTL, protocol = 6 (TCP)",
        header: 20,
        trailer: 0,
    },
    Layer {
        name: "Link: Ethernet",
        what: "MAC addresses, EtherType; frame check sequence at the end",
        header: 14,
        trailer: 4,
    },
];

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Layers: what wraps your bytes",
        "Your socket sends a frame; each layer below wraps it in a header of its own. \
         Type a message and see how many bytes actually leave the machine.",
        bridge,
    );
    let message = text_input(
        &frame.controls,
        "JSON message",
        "message",
        r#"{"msg": "Hello"}"#,
    );
    let table = add(&frame.controls, el("table", "sl-layers", ""));
    attr(&table, "data-role", "layers");
    let t = table.clone();
    let render = move |text: &str| {
        t.set_inner_html("");
        let payload = text.as_bytes();
        let head = add(&t, el("tr", "", ""));
        for h in ["layer", "adds", "bytes so far"] {
            add(&head, el("th", "", h));
        }
        let mut total = payload.len();
        let app = add(&t, el("tr", "", ""));
        add(&app, el("td", "", "Your data"));
        add(&app, el("td", "", "the JSON text, UTF-8"));
        add(&app, el("td", "", &total.to_string()));
        for layer in &LAYERS {
            total += layer.header + layer.trailer;
            let row = add(&t, el("tr", "", ""));
            add(&row, el("td", "", layer.name));
            add(
                &row,
                el(
                    "td",
                    "",
                    &format!("{} (+{} B)", layer.what, layer.header + layer.trailer),
                ),
            );
            add(&row, el("td", "", &total.to_string()));
        }
        if let Ok(bytes) = frame::encode(payload) {
            let row = add(&t, el("tr", "", ""));
            add(&row, el("td", "", "Our frame, exactly"));
            let cell = add(&row, el("td", "sl-hex", &to_spaced_hex(&bytes)));
            attr(&cell, "colspan", "2");
        }
        let share = payload.len() as f64 / total as f64 * 100.0;
        let row = add(&t, el("tr", "", ""));
        let cell = add(
            &row,
            el(
                "td",
                "",
                &format!("{share:.0}% of what goes on the wire is your data."),
            ),
        );
        attr(&cell, "colspan", "3");
    };
    render(&message.value());
    let m = message.clone();
    let (_, l) = button(&frame.controls, "Wrap it", "wrap", move |_| {
        render(&m.value())
    });
    Mounted::new(vec![l])
}
