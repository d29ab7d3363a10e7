//! The udp-echo lab: datagrams keep their boundaries; one larger than the
//! server's 1024-byte buffer is cut short; (simulated) loss and reordering.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, SocketId};
use protocol::demo::UDP_REPLY;
use protocol::events::EventKind;
use protocol::sim::{UdpSimConfig, simulate_udp};
use web_sys::HtmlElement;

use super::{Frame, Mounted, button, number_input, read_number, text_input};
use crate::net::SockEvent;
use crate::timeline::Side;

#[derive(Default)]
struct State {
    sock: Option<SocketId>,
    local_port: Option<String>,
    subscribed: bool,
    seed: u64,
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "UDP echo",
        "Each datagram arrives whole or not at all, and the server answers each with `Message received`. \
         Make one bigger than 1024 bytes to see the server's buffer cut it short.",
        bridge,
    );
    let message = text_input(&frame.controls, "Message", "message", "Hello via UDP");
    let count = number_input(&frame.controls, "Datagrams", "count", 3, 1, 20);
    let pad = number_input(
        &frame.controls,
        "Pad each to (bytes, 0 = as typed)",
        "pad",
        0,
        0,
        8000,
    );
    let loss = number_input(&frame.controls, "Simulated loss %", "loss", 0, 0, 100);
    let reorder = number_input(
        &frame.controls,
        "Simulated reordering %",
        "reorder",
        0,
        0,
        100,
    );
    let state: Rc<RefCell<State>> = Rc::default();

    let (f, st) = (frame.clone(), state.clone());
    let (b, l) = button(&frame.controls, "Send datagrams", "send", move |_| {
        let mut text = message.value().into_bytes();
        let pad_to = read_number(&pad, 0, 8000) as usize;
        if pad_to > text.len() {
            text.resize(pad_to, b'.');
        }
        let n = read_number(&count, 1, 20) as usize;
        if f.live() {
            live_send(&f, &st, &text, n);
        } else {
            let seed = {
                let mut s = st.borrow_mut();
                s.seed += 1;
                s.seed
            };
            let cfg = UdpSimConfig {
                loss: f64::from(read_number(&loss, 0, 100)) / 100.0,
                reorder: f64::from(read_number(&reorder, 0, 100)) / 100.0,
                seed,
                ..UdpSimConfig::default()
            };
            let sends: Vec<(u64, Vec<u8>)> = (0..n)
                .map(|i| (i as u64 * 100, numbered(&text, i, n)))
                .collect();
            for (_, d) in &sends {
                f.timeline.row(Side::Send, "datagram (simulated)", Some(d));
            }
            let mut lost = 0;
            for d in simulate_udp(&cfg, &sends) {
                match d.arrive_at_us {
                    None => {
                        lost += 1;
                        f.timeline.row(
                            Side::Error,
                            &format!("datagram {} lost on the way", d.index + 1),
                            None,
                        );
                    }
                    Some(_) => {
                        let note = if d.truncated {
                            format!(
                                "server: datagram {} of {} bytes, truncated to {}",
                                d.index + 1,
                                d.size,
                                d.kept.len()
                            )
                        } else {
                            format!("server: datagram {} of {} bytes", d.index + 1, d.size)
                        };
                        f.timeline.row(Side::Server, &note, Some(&d.kept));
                        f.timeline
                            .row(Side::Read, "reply (simulated)", Some(UDP_REPLY));
                    }
                }
            }
            f.conclude(&format!(
                "{n} datagrams sent, {} arrived, each as exactly one read: UDP keeps message boundaries but promises neither delivery nor order.",
                n - lost
            ));
        }
    });
    let _ = b;
    Mounted::with_state(vec![l], state)
}

fn numbered(text: &[u8], i: usize, n: usize) -> Vec<u8> {
    if n == 1 {
        return text.to_vec();
    }
    let mut d = format!("#{} ", i + 1).into_bytes();
    d.extend_from_slice(text);
    d
}

fn live_send(f: &Frame, st: &Rc<RefCell<State>>, text: &[u8], n: usize) {
    if !st.borrow().subscribed {
        st.borrow_mut().subscribed = true;
        let (tl, st2) = (f.timeline.clone(), st.clone());
        f.bridge.subscribe(move |ev| {
            let Some(port) = st2.borrow().local_port.clone() else {
                return;
            };
            if ev.demo != Demo::UdpEcho || !ev.peer.ends_with(&format!(":{port}")) {
                return;
            }
            if let EventKind::Datagram {
                size,
                truncated,
                data,
            } = &ev.kind
            {
                let note = if *truncated {
                    format!(
                        "server: datagram of {size} bytes, truncated to {} by its 1024-byte buffer",
                        data.0.len()
                    )
                } else {
                    format!("server: datagram of {size} bytes")
                };
                tl.row(Side::Server, &note, Some(&data.0));
            }
        });
    }
    let existing = st.borrow().sock;
    let sock = match existing {
        Some(s) => s,
        None => {
            let (tl, st2, f2) = (f.timeline.clone(), st.clone(), f.clone());
            let id = f.bridge.open(
                |sock| ClientMsg::Open {
                    sock,
                    demo: Some(Demo::UdpEcho),
                    target: None,
                    nodelay: false,
                    sticky: None,
                    ack: false,
                },
                move |ev| match ev {
                    SockEvent::Opened { local, peer } => {
                        let port = local.rsplit(':').next().unwrap_or_default().to_owned();
                        st2.borrow_mut().local_port = Some(port);
                        tl.row(Side::Note, &format!("UDP socket {local} → {peer} (no handshake: connect() only fixes the destination)"), None);
                    }
                    SockEvent::Read { data, .. } => {
                        tl.row(Side::Read, "reply", Some(&data));
                        f2.conclude("Every datagram came back as exactly one read: UDP keeps message boundaries.");
                    }
                    SockEvent::Error { message } => {
                        tl.row(Side::Error, &message, None);
                    }
                    SockEvent::Closed { reason, .. } => {
                        st2.borrow_mut().sock = None;
                        tl.row(Side::Note, &format!("closed: {reason}"), None);
                    }
                    SockEvent::Sent { .. } => {}
                },
            );
            st.borrow_mut().sock = Some(id);
            id
        }
    };
    for i in 0..n {
        let d = numbered(text, i, n);
        f.bridge.send(sock, &d);
        f.timeline.row(Side::Send, "datagram", Some(&d));
    }
}
