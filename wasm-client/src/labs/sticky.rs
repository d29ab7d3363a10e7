//! The sticky lab: several writes, TCP_NODELAY, the receiver's read size and
//! delay; the reads the real socket returned, and which cause was at work.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::boundaries::{Evidence, analyze};
use protocol::bridge::ClientMsg;
use protocol::demo::StickyOptions;
use protocol::events::EventKind;
use protocol::sim::{TcpSimConfig, simulate_tcp};
use web_sys::HtmlElement;

use super::{Frame, Mounted, button, checkbox, number_input, read_number, text_input};
use crate::dom::attr;
use crate::net::SockEvent;
use crate::timeline::Side;

#[derive(Default)]
struct Run {
    local_port: Option<String>,
    reads: Vec<Vec<u8>>,
    writes: Vec<Vec<u8>>,
    read_size: usize,
    delay_ms: u32,
    nodelay: bool,
}

/// Why the reads came out as they did, judged from the bytes: the sends'
/// boundaries compared with the reads (see `protocol::boundaries`). A cause
/// is named only from the evidence given: the read size, the delay, and, in
/// simulation, the segments on the wire (the only evidence that can show
/// Nagle's algorithm at work).
pub fn explain(
    sends: &[Vec<u8>],
    reads: &[Vec<u8>],
    read_size: usize,
    delay_ms: u32,
    nodelay: bool,
    segments: Option<Vec<usize>>,
) -> String {
    let evidence = Evidence {
        read_size: Some(read_size),
        read_delay_us: Some(u64::from(delay_ms) * 1000),
        nodelay: Some(nodelay),
        segments,
        segment_count: None,
    };
    analyze(sends, reads, &evidence).sentence
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "Sticky packets",
        "TCP carries a stream of bytes, not messages. Send a few writes, then choose how the receiver reads: \
         a delay before each recv merges sends, a small read size splits them.",
        bridge,
    );
    let writes = text_input(
        &frame.controls,
        "Writes (separated by |)",
        "writes",
        "Hello|World",
    );
    let nodelay = checkbox(&frame.controls, "TCP_NODELAY (Nagle off)", "nodelay", true);
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
    let run: Rc<RefCell<Run>> = Rc::default();

    let (f, r) = (frame.clone(), run.clone());
    let (_, l) = button(&frame.controls, "Run", "run", move |_| {
        let parts: Vec<Vec<u8>> = writes
            .value()
            .split('|')
            .filter(|p| !p.is_empty())
            .map(|p| p.as_bytes().to_vec())
            .collect();
        let read_size = read_number(&size, 1, 65536) as usize;
        let delay_ms = read_number(&delay, 0, 5000);
        let nd = nodelay.checked();
        f.timeline.clear();
        f.conclude("");
        *r.borrow_mut() = Run {
            local_port: None,
            reads: Vec::new(),
            writes: parts.clone(),
            read_size,
            delay_ms,
            nodelay: nd,
        };
        if f.live() {
            run_live(&f, &r, parts, read_size, delay_ms, nd);
        } else {
            let cfg = TcpSimConfig {
                nagle: !nd,
                read_size,
                read_delay_us: u64::from(delay_ms) * 1000,
                ..TcpSimConfig::default()
            };
            let timed: Vec<(u64, Vec<u8>)> = parts
                .iter()
                .enumerate()
                .map(|(i, p)| (i as u64 * 10, p.clone()))
                .collect();
            for (_, p) in &timed {
                f.timeline.row(Side::Send, "write (simulated)", Some(p));
            }
            let trace = simulate_tcp(&cfg, &timed);
            for seg in &trace.segments {
                f.timeline.row(
                    Side::Note,
                    &format!("segment on the wire: {} bytes", seg.data.len()),
                    None,
                );
            }
            for read in &trace.reads {
                let row = f
                    .timeline
                    .row(Side::Server, "server read (simulated)", Some(&read.data));
                attr(&row, "data-event", "read");
            }
            let reads: Vec<Vec<u8>> = trace.reads.iter().map(|r| r.data.clone()).collect();
            let segments = trace.segments.iter().map(|s| s.data.len()).collect();
            f.conclude(&explain(
                &parts,
                &reads,
                read_size,
                delay_ms,
                nd,
                Some(segments),
            ));
        }
    });
    Mounted::with_state(vec![l], run)
}

fn run_live(
    f: &Frame,
    run: &Rc<RefCell<Run>>,
    parts: Vec<Vec<u8>>,
    read_size: usize,
    delay_ms: u32,
    nodelay: bool,
) {
    let (tl, r, fr) = (f.timeline.clone(), run.clone(), f.clone());
    let sub = Rc::new(RefCell::new(None::<u32>));
    let sub2 = sub.clone();
    let bridge = f.bridge.clone();
    let id = f.bridge.subscribe(move |ev| {
        let Some(port) = r.borrow().local_port.clone() else {
            return;
        };
        if ev.demo != Demo::Sticky || !ev.peer.ends_with(&format!(":{port}")) {
            return;
        }
        match &ev.kind {
            EventKind::Read { data, .. } => {
                r.borrow_mut().reads.push(data.0.clone());
                let row = tl.row(Side::Server, "server read", Some(&data.0));
                attr(&row, "data-event", "read");
            }
            EventKind::Closed { .. } => {
                let run = r.borrow();
                fr.conclude(&explain(
                    &run.writes,
                    &run.reads,
                    run.read_size,
                    run.delay_ms,
                    run.nodelay,
                    None,
                ));
                if let Some(id) = sub2.borrow_mut().take() {
                    bridge.unsubscribe(id);
                }
            }
            _ => {}
        }
    });
    *sub.borrow_mut() = Some(id);
    let (tl, r) = (f.timeline.clone(), run.clone());
    let sock = f.bridge.open(
        |sock| ClientMsg::Open {
            sock,
            demo: Some(Demo::Sticky),
            target: None,
            nodelay,
            sticky: Some(StickyOptions {
                read_size,
                read_delay_ms: delay_ms,
            }),
            ack: false,
        },
        move |ev| match ev {
            SockEvent::Opened { local, .. } => {
                r.borrow_mut().local_port = local.rsplit(':').next().map(str::to_owned);
                tl.row(Side::Note, &format!("connected from {local}"), None);
            }
            SockEvent::Read { data, .. } => {
                tl.row(Side::Read, "echoed back", Some(&data));
            }
            SockEvent::Error { message } => {
                tl.row(Side::Error, &message, None);
            }
            SockEvent::Closed { .. } | SockEvent::Sent { .. } => {}
        },
    );
    for p in &parts {
        f.bridge.send(sock, p);
        f.timeline.row(Side::Send, "write", Some(p));
    }
    f.bridge.shutdown(sock);
}
