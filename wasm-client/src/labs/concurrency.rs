//! The concurrency lab: N clients at once against the iterative `tcp-echo`
//! and the concurrent `uppercase`; per client, when it was accepted, answered
//! and closed, on one time axis shared by all clients (`gantt.rs`), from the
//! server's own timestamps. The verdict follows from those times: iterative
//! when each accept came only after the previous client had closed.
//!
//! One code path: the lab opens its clients on the bridge and draws only what
//! the server reports for them (`sock == Some(id)`), live or simulated.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::bridge::{ClientMsg, SocketId};
use protocol::events::{EventKind, ServerEvent};
use web_sys::{Element, HtmlElement};

use super::gantt::{ClientTimes, layout};
use super::{Frame, HasFrame, Later, Mounted, number_input, read_number};
use crate::dom::{add, attr, el};
use crate::net::{Bridge, SockEvent};
use crate::timeline::Side;

/// Most clients in one run (a page's bridge session holds at most 16 sockets).
const MAX_CLIENTS: u32 = 10;

/// `12.3 ms`.
fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// What the server's times say about how it served the clients, as a key
/// (`iterative`, `concurrent`, `single`, `pending`) and a sentence.
///
/// Every client must have been accepted and closed; the clients are taken in
/// the order the server accepted them.
pub fn judge(demo: &str, clients: &[ClientTimes]) -> (&'static str, String) {
    let mut done: Vec<(usize, u64, u64, Option<u64>)> = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        match (c.accepted_us, c.closed_us) {
            (Some(a), Some(x)) => done.push((i, a, x, c.answered_us)),
            _ => {
                return (
                    "pending",
                    "Waiting for the server to serve every client…".into(),
                );
            }
        }
    }
    if done.len() < 2 {
        return (
            "single",
            "One client: nobody had to wait. Run with more clients to compare the two servers."
                .into(),
        );
    }
    done.sort_by_key(|&(_, a, _, _)| a);
    let start = done[0].1;
    let rel = |t: u64| ms(t.saturating_sub(start));
    // An overlap: a client accepted while an earlier one was still open.
    let overlap = done.windows(2).find(|w| w[1].1 < w[0].2);
    let most_at_once = done
        .iter()
        .map(|&(_, a, _, _)| done.iter().filter(|&&(_, b, x, _)| b <= a && a < x).count())
        .max()
        .unwrap_or(1);
    let last = done.last().expect("two or more");
    match overlap {
        None => {
            let (prev, next) = (done[done.len() - 2], *last);
            (
                "iterative",
                format!(
                    "Iterative: {demo} accepted each client only after the one before it had closed \
                     (client {} at {}, after client {} closed at {}). The clients queued in the listen \
                     backlog, so the last one waited {} for its turn. That is one client at a time.",
                    next.0 + 1,
                    rel(next.1),
                    prev.0 + 1,
                    rel(prev.2),
                    rel(last.1)
                ),
            )
        }
        Some(w) => (
            "concurrent",
            format!(
                "Concurrent: {demo} served up to {most_at_once} clients at once: client {} was accepted at {}, \
                 before client {} closed at {}. Nobody waited for anybody else; the last accept came at {}.",
                w[1].0 + 1,
                rel(w[1].1),
                w[0].0 + 1,
                rel(w[0].2),
                rel(last.1)
            ),
        ),
    }
}

/// Whether a socket event ends that client's connect (opened or failed).
enum Settles {
    Yes,
    No,
}

/// One client of a run.
struct Client {
    sock: SocketId,
    events: Vec<ServerEvent>,
    open: bool,
}

struct Run {
    demo: Demo,
    hold_ms: u32,
    clients: Vec<Client>,
    /// Clients whose connect has settled (opened or failed).
    settled: usize,
    /// Whether the clients have sent their line.
    sent: bool,
}

struct Lab {
    frame: Frame,
    chart: Element,
    close: Element,
    run: RefCell<Option<Run>>,
}

super::has_frame!(Lab);

impl Lab {
    fn open_socks(&self) -> Vec<SocketId> {
        self.run.borrow().as_ref().map_or(Vec::new(), |r| {
            r.clients
                .iter()
                .filter(|c| c.open)
                .map(|c| c.sock)
                .collect()
        })
    }

    fn refresh(&self) {
        self.frame.refresh_sockets();
        super::set_enabled(&self.close, !self.open_socks().is_empty());
    }

    fn client_of(&self, sock: SocketId) -> Option<usize> {
        self.run
            .borrow()
            .as_ref()?
            .clients
            .iter()
            .position(|c| c.sock == sock)
    }

    fn start(self: &Rc<Self>, demo: Demo, n: usize, hold_ms: u32) {
        for sock in self.open_socks() {
            self.bridge().close(sock);
        }
        self.frame.timeline.clear();
        self.frame.conclude("");
        attr(&self.frame.verdict, "data-verdict", "pending");
        *self.run.borrow_mut() = Some(Run {
            demo,
            hold_ms,
            clients: Vec::new(),
            settled: 0,
            sent: false,
        });
        for _ in 0..n {
            let lab = self.clone();
            self.bridge().open(
                |sock| {
                    if let Some(run) = self.run.borrow_mut().as_mut() {
                        run.clients.push(Client {
                            sock,
                            events: Vec::new(),
                            open: true,
                        });
                    }
                    ClientMsg::open(sock, demo)
                },
                move |id, ev| lab.on_sock(id, ev),
            );
        }
        self.render();
        self.refresh();
    }

    fn on_sock(self: &Rc<Self>, sock: SocketId, ev: SockEvent) {
        let Some(i) = self.client_of(sock) else {
            return;
        };
        let tl = &self.frame.timeline;
        let ev_kind = match &ev {
            SockEvent::Opened { .. } | SockEvent::Error { .. } => Settles::Yes,
            _ => Settles::No,
        };
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                tl.segment(Some(&client_name(i)), &seg, held);
            }
            SockEvent::Read { data, .. } => {
                let who = client_name(i);
                let row = tl.row_in(
                    &who,
                    Side::Read,
                    &format!("{who} read its answer"),
                    Some(&data),
                );
                attr(&row, "data-event", "answer");
                // An echo client holds its connection a while, like a person
                // typing, then closes; uppercase closes by itself.
                let hold = self.run.borrow().as_ref().map_or(0, |r| r.hold_ms);
                let bridge = self.bridge().clone();
                let close =
                    wasm_bindgen::closure::Closure::once_into_js(move || bridge.close(sock));
                let lab = Rc::downgrade(self);
                let after = wasm_bindgen::closure::Closure::once_into_js(move || {
                    if let Some(lab) = lab.upgrade() {
                        lab.forget(sock);
                    }
                });
                if let Some(w) = web_sys::window() {
                    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                        wasm_bindgen::JsCast::unchecked_ref(&close),
                        hold as i32,
                    );
                    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                        wasm_bindgen::JsCast::unchecked_ref(&after),
                        hold as i32,
                    );
                }
            }
            SockEvent::Closed { .. } => self.forget(sock),
            SockEvent::Error { message } => {
                tl.row(
                    Side::Error,
                    &format!(
                        "client {}: {message}. Click a Run button to try again.",
                        i + 1
                    ),
                    None,
                );
                self.bridge().close(sock);
                self.forget(sock);
            }
            SockEvent::Opened { .. } => {}
            SockEvent::Sent { .. } | SockEvent::TcpInfo { .. } => {}
        }
        if matches!(ev_kind, Settles::Yes) {
            self.settle();
        }
        self.refresh();
    }

    /// One more client's connect has settled; once all have, every client
    /// sends its line. Sending only then (as many_clients.py does) is what
    /// lets a concurrent server show it had them all at once: each was
    /// accepted before any was answered.
    fn settle(&self) {
        let sends: Vec<(usize, SocketId)> = {
            let mut run = self.run.borrow_mut();
            let Some(run) = run.as_mut() else {
                return;
            };
            run.settled += 1;
            attr(&self.chart, "data-settled", &run.settled.to_string());
            if run.sent || run.settled < run.clients.len() {
                return;
            }
            run.sent = true;
            run.clients
                .iter()
                .enumerate()
                .filter(|(_, c)| c.open)
                .map(|(i, c)| (i, c.sock))
                .collect()
        };
        let lines: Vec<(usize, SocketId, String)> = sends
            .into_iter()
            .map(|(i, sock)| (i, sock, format!("hello from client {}", i + 1)))
            .collect();
        // Every line first, as many_clients.py sends them, then their rows.
        for (_, sock, line) in &lines {
            self.bridge().send(*sock, line.as_bytes());
        }
        for (i, _, line) in &lines {
            let who = client_name(*i);
            let row = self.frame.timeline.row_in(
                &who,
                Side::Send,
                &format!("{who} sent its line"),
                Some(line.as_bytes()),
            );
            attr(&row, "data-event", "line");
        }
    }

    /// The page no longer holds `sock`.
    fn forget(&self, sock: SocketId) {
        if let Some(run) = self.run.borrow_mut().as_mut()
            && let Some(c) = run.clients.iter_mut().find(|c| c.sock == sock)
        {
            c.open = false;
        }
        self.refresh();
    }

    fn on_event(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        let Some(sock) = sock else {
            return;
        };
        {
            let mut run = self.run.borrow_mut();
            let Some(run) = run.as_mut() else {
                return;
            };
            if ev.demo != run.demo {
                return;
            }
            let Some(c) = run.clients.iter_mut().find(|c| c.sock == sock) else {
                return;
            };
            if !matches!(
                ev.kind,
                EventKind::Accepted { .. } | EventKind::Reply { .. } | EventKind::Closed { .. }
            ) {
                return;
            }
            c.events.push(ev.clone());
        }
        self.render();
    }

    /// Redraws the chart and the verdict from the server's events so far.
    fn render(&self) {
        let run = self.run.borrow();
        let Some(run) = run.as_ref() else {
            return;
        };
        let mut times: Vec<ClientTimes> = run
            .clients
            .iter()
            .map(|c| ClientTimes::from_events(&c.events))
            .collect();
        // The page opens every client in the same instant, and the kernel
        // completes each handshake at once, so all of them are connected from
        // the first accept on (the server's clock has no earlier mark).
        let first = times.iter().filter_map(|t| t.accepted_us).min();
        for t in &mut times {
            t.connected_us = first.map(|f| t.accepted_us.map_or(f, |a| a.min(f)));
        }
        let l = layout(&times, None);
        self.chart.set_inner_html("");
        let axis = add(&self.chart, el("div", "sl-gantt-axis", ""));
        attr(
            &axis,
            "style",
            "position: relative; height: 1.4em; margin: 0 1em 0 5.5em; border-bottom: 1px solid var(--sl-border); \
             color: var(--sl-muted);",
        );
        // Every other label when there are many, so narrow screens stay legible.
        let every = if l.ticks.len() > 5 { 2 } else { 1 };
        for t in l.ticks.iter().step_by(every) {
            let tick = add(&axis, el("span", "sl-gantt-tick", &t.label));
            attr(
                &tick,
                "style",
                &format!(
                    "position: absolute; left: {:.2}%; transform: translateX(-50%); white-space: nowrap; font-size: .875em;",
                    t.left_pct
                ),
            );
        }
        let rel = |t: Option<u64>| t.map(|t| t.saturating_sub(l.start_us));
        for (row, t) in l.rows.iter().zip(&times) {
            let line = add(&self.chart, el("div", "sl-gantt-row", ""));
            attr(
                &line,
                "style",
                "display: flex; flex-wrap: wrap; align-items: center; margin: .3em 1em .3em 0;",
            );
            attr(&line, "data-role", "gantt-row");
            attr(&line, "data-client", &(row.client + 1).to_string());
            for (name, v) in [
                ("data-accepted-us", rel(t.accepted_us)),
                ("data-answered-us", rel(t.answered_us)),
                ("data-closed-us", rel(t.closed_us)),
            ] {
                if let Some(v) = v {
                    attr(&line, name, &v.to_string());
                }
            }
            if t.closed_us.is_some() {
                attr(&line, "data-event", "client-done");
            }
            let label = add(
                &line,
                el(
                    "span",
                    "sl-gantt-label",
                    &format!("client {}", row.client + 1),
                ),
            );
            attr(&label, "style", "width: 5.5em; flex: none;");
            let track = add(&line, el("span", "sl-gantt-track", ""));
            attr(
                &track,
                "style",
                "position: relative; flex: 1; height: 1.1em; background: var(--sl-bg); \
                 border: 1px solid var(--sl-border); border-radius: 3px;",
            );
            for bar in &row.bars {
                let b = add(&track, el("span", "sl-gantt-bar", ""));
                let color = match bar.phase.name() {
                    "waiting" => {
                        "repeating-linear-gradient(45deg, var(--sl-border) 0 4px, transparent 4px 8px)"
                    }
                    "served" => "var(--sl-accent)",
                    _ => "var(--sl-ok)",
                };
                attr(&b, "data-phase", bar.phase.name());
                attr(
                    &b,
                    "style",
                    &format!(
                        "position: absolute; top: 0; bottom: 0; left: {:.2}%; width: {:.2}%; min-width: 2px; background: {color};",
                        bar.left_pct, bar.width_pct
                    ),
                );
                attr(
                    &b,
                    "title",
                    &format!(
                        "{}: {} to {}",
                        bar.phase.name(),
                        ms(bar.start_us - l.start_us),
                        ms(bar.end_us - l.start_us)
                    ),
                );
            }
            let words = match (rel(t.accepted_us), rel(t.answered_us), rel(t.closed_us)) {
                (None, _, _) => "waiting to be accepted".to_owned(),
                (Some(a), None, None) => format!("accepted {}", ms(a)),
                (Some(a), None, Some(x)) => format!("accepted {}, closed {}", ms(a), ms(x)),
                (Some(a), Some(r), None) => format!("accepted {}, answered {}", ms(a), ms(r)),
                (Some(a), Some(r), Some(x)) => {
                    format!("accepted {}, answered {}, closed {}", ms(a), ms(r), ms(x))
                }
            };
            let text = add(&line, el("span", "sl-gantt-times", &words));
            attr(
                &text,
                "style",
                "flex-basis: 100%; padding-left: 6.9em; font-size: .875em; color: var(--sl-muted);",
            );
        }
        let (key, sentence) = judge(run.demo.name(), &times);
        attr(&self.frame.verdict, "data-verdict", key);
        self.frame
            .conclude(if key == "pending" { "" } else { &sentence });
    }

    fn close_all(&self) {
        let socks = self.open_socks();
        if !socks.is_empty() {
            for sock in &socks {
                self.bridge().close(*sock);
                self.forget(*sock);
            }
            self.frame.timeline.row(
                Side::Note,
                &format!("you closed {} connection(s)", socks.len()),
                None,
            );
        }
        self.refresh();
    }
}

/// The `i`th client's name, and its lifeline in the diagram.
fn client_name(i: usize) -> String {
    format!("client {}", i + 1)
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Iterative vs concurrent",
        "Launch several clients at once. Once all are connected, each sends one line and reads the answer; an echo \
         client then stays connected a while. The chart puts every client on one time axis, from the server's own clock: \
         hatched while it waits to be accepted, blue while the server has it, green once answered.",
        bridge.clone(),
    );
    let count = number_input(&frame.controls, "Clients", "clients", 5, 1, MAX_CLIENTS);
    let hold = number_input(
        &frame.controls,
        "Each echo client stays connected after its answer (ms)",
        "hold",
        200,
        0,
        5000,
    );
    let buttons = add(&frame.controls, el("div", "sl-buttons", ""));
    let chart = add(&frame.controls, el("div", "sl-gantt", ""));
    attr(&chart, "data-role", "gantt");
    attr(
        &chart,
        "style",
        "flex-basis: 100%; width: 100%; margin: .5em 0;",
    );
    let cell = Later::<Lab>::default();
    let mut listeners = Vec::new();
    for (text, role, demo) in [
        ("Run against tcp-echo", "run-iterative", Demo::TcpEcho),
        ("Run against uppercase", "run-concurrent", Demo::Uppercase),
    ] {
        let (c, h) = (count.clone(), hold.clone());
        listeners.push(
            cell.button(&buttons, text, role, move |lab| {
                lab.start(
                    demo,
                    read_number(&c, 1, MAX_CLIENTS) as usize,
                    read_number(&h, 0, 5000),
                );
            })
            .1,
        );
    }
    let (close, close_listener) = cell.button(&buttons, "Close all connections", "close", |lab| {
        lab.close_all()
    });
    listeners.push(close_listener);
    let lab = Rc::new(Lab {
        frame,
        chart,
        close,
        run: RefCell::new(None),
    });
    lab.refresh();
    let view = lab.frame.server_view(&[Demo::TcpEcho, Demo::Uppercase]);
    cell.mount(&lab, listeners, view, Lab::on_event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: u64, r: u64, x: u64) -> ClientTimes {
        ClientTimes {
            connected_us: None,
            accepted_us: Some(a),
            answered_us: Some(r),
            closed_us: Some(x),
        }
    }

    #[test]
    fn one_at_a_time_is_iterative() {
        let (key, text) = judge(
            "tcp-echo",
            &[
                c(0, 1_000, 201_000),
                c(201_500, 202_000, 402_000),
                c(402_100, 403_000, 603_000),
            ],
        );
        assert_eq!(key, "iterative", "{text}");
        assert!(
            text.contains("client 3 at 402.1 ms, after client 2 closed at 402.0 ms"),
            "{text}"
        );
    }

    #[test]
    fn overlap_is_concurrent() {
        let (key, text) = judge(
            "uppercase",
            &[c(0, 500, 600), c(100, 700, 800), c(150, 900, 1_000)],
        );
        assert_eq!(key, "concurrent", "{text}");
        assert!(text.contains("up to 3 clients at once"), "{text}");
    }

    #[test]
    fn unfinished_and_single_runs() {
        let open = ClientTimes {
            accepted_us: Some(5),
            ..ClientTimes::default()
        };
        assert_eq!(judge("tcp-echo", &[c(0, 1, 2), open]).0, "pending");
        assert_eq!(judge("tcp-echo", &[c(0, 1, 2)]).0, "single");
    }
}
