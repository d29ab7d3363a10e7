//! The sticky lab: several writes, TCP_NODELAY, the receiver's read size and
//! delay; each read the server's `recv` returned, with its time, and a verdict
//! computed from those reads (`protocol::boundaries`).
//!
//! One code path: the lab opens a socket on the bridge, sends the writes,
//! half-closes, and draws only what comes back — the server's events for this
//! socket (`sock == Some(id)`) and the echo the page reads. Whether the bridge
//! is a real server or the in-page simulation makes no difference here.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::boundaries::{Evidence, analyze};
use protocol::bridge::{ClientMsg, SocketId};
use protocol::demo::StickyOptions;
use protocol::events::{EventKind, ServerEvent};
use protocol::hex::to_hex;
use web_sys::{Element, HtmlElement};

use super::{Frame, HasFrame, Later, Mounted, checkbox, number_input, read_number, text_input};
use crate::dom::{add, attr, el};
use crate::net::{Bridge, SockEvent};
use crate::timeline::Side;

/// One run: what was sent, and what the server's reads returned so far.
struct Run {
    sock: SocketId,
    sends: Vec<Vec<u8>>,
    reads: Vec<Vec<u8>>,
    read_size: usize,
    delay_ms: u32,
    nodelay: bool,
    /// The server clock (µs) of its accept, the origin of the read times.
    origin_us: Option<u64>,
    /// The server has closed its side: no more reads will come.
    done: bool,
    /// How many data segments the bridge's kernel sent for the writes
    /// (`TCP_INFO`, live on Linux); `None` until known, or where it cannot be.
    segments: Option<u32>,
    /// The payload size of each segment the simulation's wire carried
    /// (simulated runs only: the model says).
    wire: Vec<usize>,
}

/// Why the reads came out as they did, judged from the bytes: the sends'
/// boundaries compared with the reads (see `protocol::boundaries`). A cause
/// is named only from the evidence given: the read size, the delay, and, live
/// on Linux, how many data segments the sender's kernel sent, or simulated,
/// the size of each segment the model sent (the only evidence that can show
/// Nagle's algorithm at work).
pub fn explain(
    sends: &[Vec<u8>],
    reads: &[Vec<u8>],
    read_size: usize,
    delay_ms: u32,
    nodelay: bool,
    segment_count: Option<usize>,
    wire: Option<Vec<usize>>,
) -> String {
    let evidence = Evidence {
        read_size: Some(read_size),
        read_delay_us: Some(u64::from(delay_ms) * 1000),
        nodelay: Some(nodelay),
        segments: wire,
        segment_count,
    };
    analyze(sends, reads, &evidence).sentence
}

/// The lab's parts and its current run.
struct Lab {
    frame: Frame,
    close: Element,
    run: RefCell<Option<Run>>,
}

/// `"s"` unless there is one.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `12.3 ms` from microseconds.
fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

super::has_frame!(Lab);

impl Lab {
    /// Publishes how many sockets the page holds (for tests and the curious),
    /// and whether the close button has anything to close.
    fn refresh(&self) {
        self.frame.refresh_sockets();
        let open = self.run.borrow().as_ref().is_some_and(|r| !r.done);
        super::set_enabled(&self.close, open);
    }

    fn start(self: &Rc<Self>, sends: Vec<Vec<u8>>, read_size: usize, delay_ms: u32, nodelay: bool) {
        let tl = &self.frame.timeline;
        if sends.is_empty() {
            tl.clear();
            tl.row(
                Side::Error,
                "Type at least one write in Writes (separate writes with |), then click Run.",
                None,
            );
            return;
        }
        // A new run replaces the old one: its socket, if still open, is closed.
        let old = self.run.borrow_mut().take();
        if let Some(old) = old {
            self.bridge().close(old.sock);
        }
        tl.clear();
        self.frame.conclude("Waiting for the server's reads…");
        attr(&self.frame.verdict, "data-shape", "pending");
        let lab = self.clone();
        let sock = self.bridge().open(
            |sock| {
                // Known before any event can arrive for it.
                *self.run.borrow_mut() = Some(Run {
                    sock,
                    sends: sends.clone(),
                    reads: Vec::new(),
                    read_size,
                    delay_ms,
                    nodelay,
                    origin_us: None,
                    done: false,
                    segments: None,
                    wire: Vec::new(),
                });
                ClientMsg::Open {
                    sock,
                    demo: Some(Demo::Sticky),
                    target: None,
                    nodelay,
                    sticky: Some(StickyOptions {
                        read_size,
                        read_delay_ms: delay_ms,
                    }),
                    ack: false,
                }
            },
            move |id, ev| lab.on_sock(id, ev),
        );
        // Every write first, back to back as a program's send() calls are,
        // then their rows (drawing takes longer than a simulated round trip).
        for p in &sends {
            self.bridge().send(sock, p);
        }
        for (i, p) in sends.iter().enumerate() {
            let row = tl.row(Side::Send, &format!("write {}", i + 1), Some(p));
            attr(&row, "data-event", "write");
        }
        // The sender's kernel's count of data segments for these writes (it
        // answers once they are out and acknowledged), before the FIN.
        self.bridge().tcp_info(sock);
        // No more writes: the server reads to the end, echoes, and closes.
        self.bridge().shutdown(sock);
        tl.row(
            Side::Note,
            "half-closed: the page sends no more; the server reads until the end of the stream",
            None,
        );
        self.refresh();
    }

    fn is_current(&self, sock: SocketId) -> bool {
        self.run.borrow().as_ref().is_some_and(|r| r.sock == sock)
    }

    /// What the page's own socket reported.
    fn on_sock(&self, sock: SocketId, ev: SockEvent) {
        if !self.is_current(sock) {
            return;
        }
        let tl = &self.frame.timeline;
        match ev {
            SockEvent::Segment { segment: seg, held } => {
                if let Some(run) = self.run.borrow_mut().as_mut() {
                    run.wire.push(seg.data.len());
                }
                tl.segment(None, &seg, held);
            }
            SockEvent::Opened { local, peer } => {
                tl.row(
                    Side::Note,
                    &format!("connected from {local} to {peer}"),
                    None,
                );
            }
            SockEvent::Read { data, .. } => {
                let row = tl.row(Side::Read, "the page read the echo", Some(&data));
                attr(&row, "data-event", "echo");
            }
            SockEvent::Closed { reason, .. } => {
                tl.row(
                    Side::Note,
                    &format!("the page's socket closed: {reason}"),
                    None,
                );
            }
            SockEvent::Error { message } => {
                tl.row(
                    Side::Error,
                    &format!("{message}. Click Run to try again."),
                    None,
                );
                self.bridge().close(sock);
                self.finish("The run stopped on an error (above); nothing to conclude.");
            }
            SockEvent::TcpInfo { counters, missing } => {
                let writes = self.run.borrow().as_ref().map_or(0, |r| r.sends.len());
                match counters {
                    Some(c) => {
                        if let Some(run) = self.run.borrow_mut().as_mut() {
                            run.segments = Some(c.data_segs_out);
                        }
                        let row = tl.row(
                            Side::Note,
                            &format!(
                                "the bridge's kernel sent these {writes} write{} in {} data segment{} \
                                 (TCP_INFO data_segs_out; MSS {} B)",
                                plural(writes),
                                c.data_segs_out,
                                plural(c.data_segs_out as usize),
                                c.mss
                            ),
                            None,
                        );
                        attr(&row, "data-event", "segments");
                        attr(&row, "data-segments", &c.data_segs_out.to_string());
                    }
                    None => {
                        let why = missing.unwrap_or_default();
                        let row = tl.row(
                            Side::Note,
                            &format!("segments on the wire: not known here. {why}"),
                            None,
                        );
                        attr(&row, "data-event", "segments-unknown");
                    }
                }
            }
            SockEvent::Sent { .. } => {}
        }
        self.refresh();
    }

    /// The server's account of this run's connection.
    fn on_event(&self, ev: &ServerEvent, sock: Option<SocketId>) {
        if ev.demo != Demo::Sticky || !sock.is_some_and(|s| self.is_current(s)) {
            return;
        }
        if self.run.borrow().as_ref().is_some_and(|r| r.done) {
            return;
        }
        let tl = &self.frame.timeline;
        let origin = {
            let mut run = self.run.borrow_mut();
            let run = run.as_mut().expect("checked above");
            *run.origin_us.get_or_insert(ev.at_us)
        };
        let at = ms(ev.at_us.saturating_sub(origin));
        match &ev.kind {
            EventKind::Accepted { .. } => {
                tl.row(
                    Side::Server,
                    "server accepted the connection (0 ms; read times count from here)",
                    None,
                );
            }
            EventKind::Read { size, data } => {
                let n = {
                    let mut run = self.run.borrow_mut();
                    let run = run.as_mut().expect("checked above");
                    run.reads.push(data.0.clone());
                    run.reads.len()
                };
                let row = tl.row(
                    Side::Server,
                    &format!("server read {n}: recv returned {size} B at {at}"),
                    Some(&data.0),
                );
                attr(&row, "data-event", "read");
                attr(&row, "data-bytes", &to_hex(&data.0));
                attr(
                    &row,
                    "data-at-us",
                    &ev.at_us.saturating_sub(origin).to_string(),
                );
            }
            EventKind::Timeout {
                waiting_for,
                after_ms,
            } => {
                tl.row(
                    Side::Server,
                    &format!("server timed out after {after_ms} ms waiting for {waiting_for}"),
                    None,
                );
            }
            EventKind::Closed { reason, .. } => {
                tl.row(
                    Side::Server,
                    &format!("server closed at {at}: {reason}"),
                    None,
                );
                self.finish("");
            }
            _ => {}
        }
        self.refresh();
    }

    /// Ends the run and concludes from the reads seen (or says `why` not).
    fn finish(&self, why: &str) {
        let mut run = self.run.borrow_mut();
        let Some(run) = run.as_mut() else {
            return;
        };
        if run.done {
            return;
        }
        run.done = true;
        if !why.is_empty() {
            self.frame.conclude(why);
            attr(&self.frame.verdict, "data-shape", "none");
            return;
        }
        let shape = analyze(&run.sends, &run.reads, &Evidence::default()).shape;
        self.frame.conclude(&explain(
            &run.sends,
            &run.reads,
            run.read_size,
            run.delay_ms,
            run.nodelay,
            run.segments.map(|n| n as usize),
            (!run.wire.is_empty()).then(|| run.wire.clone()),
        ));
        attr(&self.frame.verdict, "data-shape", shape.name());
        attr(
            &self.frame.verdict,
            "data-reads",
            &run.reads.len().to_string(),
        );
    }

    /// The learner's way out of a long run (a long delay, a small read size).
    fn close_now(&self) {
        let sock = self
            .run
            .borrow()
            .as_ref()
            .filter(|r| !r.done)
            .map(|r| r.sock);
        if let Some(sock) = sock {
            self.bridge().close(sock);
            self.frame.timeline.row(
                Side::Note,
                "you closed the connection: the verdict covers the reads so far",
                None,
            );
            self.finish("");
        }
        self.refresh();
    }
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Sticky packets",
        "TCP carries a stream of bytes, not messages. Send a few writes, then choose how the receiver reads: \
         a delay before each recv merges sends, a small read size splits them. Each row marked server is one \
         recv on the demo, with its time since the demo accepted the connection.",
        bridge.clone(),
    );
    let writes = text_input(
        &frame.controls,
        "Writes (separated by |)",
        "writes",
        "Hello|World",
    );
    // Off by default: the chapter has the learner switch it on and compare.
    let nodelay = checkbox(&frame.controls, "TCP_NODELAY (Nagle off)", "nodelay", false);
    let size = number_input(
        &frame.controls,
        "Receiver read size (bytes)",
        "read-size",
        1024,
        1,
        65536,
    );
    let delay = number_input(
        &frame.controls,
        "Receiver delay before each read (ms)",
        "read-delay",
        300,
        0,
        5000,
    );
    let buttons = add(&frame.controls, el("div", "sl-buttons", ""));
    let l = Later::<Lab>::default();
    let (_, run_listener) = l.button(&buttons, "Run", "run", move |lab| {
        let sends: Vec<Vec<u8>> = writes
            .value()
            .split('|')
            .filter(|p| !p.is_empty())
            .map(|p| p.as_bytes().to_vec())
            .collect();
        lab.start(
            sends,
            read_number(&size, 1, 65536) as usize,
            read_number(&delay, 0, 5000),
            nodelay.checked(),
        );
    });
    let (close, close_listener) = l.button(&buttons, "Close the connection", "close", |lab| {
        lab.close_now()
    });
    let lab = Rc::new(Lab {
        frame,
        close,
        run: RefCell::new(None),
    });
    lab.refresh();
    // Every connection to the demo, this page's and other programs' (a
    // terminal's sticky_client.py), with the server's account.
    let view = lab.frame.server_view(&[Demo::Sticky]);
    l.mount(
        &lab,
        vec![run_listener, close_listener],
        view,
        Lab::on_event,
    )
}
