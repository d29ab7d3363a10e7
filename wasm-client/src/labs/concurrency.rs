//! The concurrency lab: N clients at once against iterative `tcp-echo` and
//! concurrent `uppercase`; each client's row shows how long it waited.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::ClientMsg;
use protocol::sim::simulate_clients;
use web_sys::{Element, HtmlElement};

use super::{Frame, Mounted, button, number_input, read_number};
use crate::dom::{add, attr, el};
use crate::net::SockEvent;
use crate::timeline::Side;

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Draws one client's bar: waiting (hatched) then served.
fn client_row(f: &Frame, demo: Demo, client: usize, waited_ms: f64, scale_ms: f64) -> Element {
    let row = f.timeline.row(
        Side::Note,
        &format!(
            "{demo} client {}: answered after {:.0} ms",
            client + 1,
            waited_ms
        ),
        None,
    );
    attr(&row, "data-event", "client-done");
    let bar = add(&row, el("span", "sl-bar", ""));
    let pct = if scale_ms > 0.0 {
        (waited_ms / scale_ms * 100.0).clamp(2.0, 100.0)
    } else {
        2.0
    };
    attr(&bar, "style", &format!("width: {pct:.0}%"));
    row
}

fn run_live(f: &Frame, demo: Demo, n: usize, hold_ms: u32) {
    let start = now_ms();
    let done = Rc::new(RefCell::new(0usize));
    for i in 0..n {
        let (f2, d) = (f.clone(), done.clone());
        let bridge = f.bridge.clone();
        let sock = Rc::new(RefCell::new(0));
        let s2 = sock.clone();
        let id = f.bridge.open(
            |sock| ClientMsg::Open {
                sock,
                demo: Some(demo),
                target: None,
                nodelay: true,
                sticky: None,
                ack: false,
            },
            move |ev| match ev {
                SockEvent::Read { .. } => {
                    let waited = now_ms() - start;
                    client_row(&f2, demo, i, waited, (waited * 1.2).max(1.0));
                    *d.borrow_mut() += 1;
                    // An echo client that holds its connection a while, like a person typing.
                    let id = *s2.borrow();
                    let b = bridge.clone();
                    let close = wasm_bindgen::closure::Closure::once_into_js(move || b.close(id));
                    if let Some(w) = web_sys::window() {
                        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                            wasm_bindgen::JsCast::unchecked_ref(&close),
                            hold_ms as i32,
                        );
                    }
                    if *d.borrow() == n {
                        f2.conclude(&match demo {
                            Demo::TcpEcho => format!(
                                "tcp-echo served the {n} clients one after another: each waited for everyone before it. That is an iterative server."
                            ),
                            _ => format!("uppercase served all {n} clients at once: a task per connection. That is a concurrent server."),
                        });
                    }
                }
                SockEvent::Error { message } => {
                    f2.timeline.row(Side::Error, &message, None);
                }
                _ => {}
            },
        );
        *sock.borrow_mut() = id;
        let msg = format!("hello from client {}", i + 1);
        f.bridge.send(id, msg.as_bytes());
    }
}

fn run_sim(f: &Frame, demo: Demo, n: usize, hold_ms: u32) {
    let iterative = demo == Demo::TcpEcho;
    let runs = simulate_clients(n, 0, u64::from(hold_ms) * 1000, iterative);
    let scale = runs.iter().map(|r| r.replied_at_us).max().unwrap_or(1) as f64 / 1000.0;
    for r in &runs {
        client_row(f, demo, r.client, r.replied_at_us as f64 / 1000.0, scale);
    }
    f.conclude(if iterative {
        "Simulated: the iterative server answers one client at a time, so waits add up."
    } else {
        "Simulated: the concurrent server answers everyone at once."
    });
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Iterative vs concurrent",
        "Launch several clients at once. Against tcp-echo (iterative) each waits for the ones before it to finish; \
         against uppercase (concurrent) all are served together.",
        bridge,
    );
    let count = number_input(&frame.controls, "Clients", "clients", 5, 1, 50);
    let hold = number_input(
        &frame.controls,
        "Each echo client stays connected (ms)",
        "hold",
        200,
        0,
        5000,
    );
    let mut listeners = Vec::new();
    for (text, role, demo) in [
        ("Run against tcp-echo", "run-iterative", Demo::TcpEcho),
        ("Run against uppercase", "run-concurrent", Demo::Uppercase),
    ] {
        let (f, c, h) = (frame.clone(), count.clone(), hold.clone());
        listeners.push(
            button(&frame.controls, text, role, move |_| {
                f.timeline.clear();
                f.conclude("");
                let n = read_number(&c, 1, 50) as usize;
                let hold_ms = read_number(&h, 0, 5000);
                if f.live() {
                    run_live(&f, demo, n, hold_ms);
                } else {
                    run_sim(&f, demo, n, hold_ms);
                }
            })
            .1,
        );
    }
    Mounted::new(listeners)
}
