//! The auth lab: the server's 32-byte challenge in hex, a secret, the
//! HMAC-SHA256 answer computed here in wasm, and the verdict; try a wrong
//! secret, a replayed answer, a slow answer.

use std::cell::RefCell;
use std::rc::Rc;

use protocol::Demo;
use protocol::auth::{AuthServer, CHALLENGE_LEN, respond};
use protocol::bridge::ClientMsg;
use protocol::hex::to_spaced_hex;
use protocol::sim::SimRng;
use web_sys::HtmlElement;

use super::{Frame, Mounted, button, text_input};
use crate::dom::attr;
use crate::net::SockEvent;
use crate::timeline::Side;

/// What the client does with the challenge.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Play {
    /// Answer with HMAC(secret, challenge).
    Honest,
    /// Send the previous connection's answer again.
    Replay,
    /// Do not answer; let the server time out.
    Silent,
}

#[derive(Default)]
struct State {
    last_answer: Option<[u8; 32]>,
    sim_seed: u64,
}

fn verdict_row(f: &Frame, bytes: &[u8]) {
    let row = f.timeline.row(Side::Read, "verdict", Some(bytes));
    attr(&row, "data-event", "verdict");
    let text = String::from_utf8_lossy(bytes).into_owned();
    f.conclude(&if text.contains("Granted") {
        "Access Granted: your answer proves you know the secret, without sending it.".to_owned()
    } else {
        "Access Denied: the 32 bytes were not HMAC-SHA256(secret, this challenge).".to_owned()
    });
}

fn answer_for(
    play: Play,
    secret: &[u8],
    challenge: &[u8],
    state: &Rc<RefCell<State>>,
) -> Option<[u8; 32]> {
    match play {
        Play::Honest => {
            let a = respond(secret, challenge);
            state.borrow_mut().last_answer = Some(a);
            Some(a)
        }
        Play::Replay => Some(state.borrow().last_answer.unwrap_or([0; 32])),
        Play::Silent => None,
    }
}

fn run(f: &Frame, state: &Rc<RefCell<State>>, secret: Vec<u8>, play: Play) {
    f.timeline.clear();
    f.conclude("");
    if play == Play::Replay && state.borrow().last_answer.is_none() {
        f.timeline.row(
            Side::Note,
            "No earlier answer yet: connect once with the right secret first; this replays zeros.",
            None,
        );
    }
    if !f.live() {
        let seed = {
            let mut s = state.borrow_mut();
            s.sim_seed += 1;
            s.sim_seed
        };
        let mut server = AuthServer::new(
            protocol::auth::DEFAULT_SECRET.as_bytes(),
            &mut SimRng::new(seed),
        );
        let challenge = server.poll_transmit().unwrap_or_default();
        f.timeline.row(
            Side::Read,
            &format!("challenge (simulated): {}", to_spaced_hex(&challenge)),
            Some(&challenge),
        );
        match answer_for(play, &secret, &challenge, state) {
            Some(a) => {
                f.timeline.row(
                    Side::Send,
                    &format!("answer: {}", to_spaced_hex(&a)),
                    Some(&a),
                );
                server.handle_input(&a);
            }
            None => {
                f.timeline.row(
                    Side::Note,
                    "(no answer; the server's timeout runs out)",
                    None,
                );
                server.handle_timeout();
            }
        }
        if let Some(v) = server.poll_transmit() {
            verdict_row(f, &v);
        }
        return;
    }
    let (f2, st) = (f.clone(), state.clone());
    let got = Rc::new(RefCell::new(Vec::<u8>::new()));
    let bridge = f.bridge.clone();
    let sock_id = Rc::new(RefCell::new(0));
    let sid = sock_id.clone();
    let id = f.bridge.open(
        |sock| ClientMsg::Open {
            sock,
            demo: Some(Demo::Auth),
            target: None,
            nodelay: true,
            sticky: None,
            ack: false,
        },
        move |ev| match ev {
            SockEvent::Opened { local, .. } => {
                f2.timeline.row(Side::Note, &format!("connected from {local}"), None);
                if play == Play::Silent {
                    f2.timeline.row(Side::Note, "not answering: the server gives up after its handshake timeout (10 s by default)", None);
                }
            }
            SockEvent::Read { data, .. } => {
                let mut buf = got.borrow_mut();
                let before = buf.len();
                buf.extend_from_slice(&data);
                if before < CHALLENGE_LEN && buf.len() >= CHALLENGE_LEN {
                    let challenge = buf[..CHALLENGE_LEN].to_vec();
                    let row = f2
                        .timeline
                        .row(Side::Read, &format!("challenge: {}", to_spaced_hex(&challenge)), Some(&challenge));
                    attr(&row, "data-event", "challenge");
                    if let Some(a) = answer_for(play, &secret, &challenge, &st) {
                        bridge.send(*sid.borrow(), &a);
                        f2.timeline.row(Side::Send, &format!("answer: {}", to_spaced_hex(&a)), Some(&a));
                    }
                }
                if buf.len() > CHALLENGE_LEN {
                    let verdict = buf[CHALLENGE_LEN..].to_vec();
                    if verdict.ends_with(b"Granted") || verdict.ends_with(b"Denied") {
                        verdict_row(&f2, &verdict);
                    }
                }
            }
            SockEvent::Closed { reason, .. } => {
                f2.timeline.row(Side::Note, &format!("closed: {reason}"), None);
            }
            SockEvent::Error { message } => {
                f2.timeline.row(Side::Error, &message, None);
            }
            SockEvent::Sent { .. } => {}
        },
    );
    *sock_id.borrow_mut() = id;
}

/// Builds the lab.
pub fn mount(root: &HtmlElement, bridge: crate::net::Bridge) -> Mounted {
    let frame = Frame::new(
        root,
        "HMAC challenge-response",
        "The server sends 32 random bytes. Prove you know the shared secret by answering HMAC-SHA256(secret, challenge), \
         computed here in your browser. The secret itself never crosses the network.",
        bridge,
    );
    let secret = text_input(
        &frame.controls,
        "Secret",
        "secret",
        protocol::auth::DEFAULT_SECRET,
    );
    let state: Rc<RefCell<State>> = Rc::default();
    let mut listeners = Vec::new();
    for (text, role, play) in [
        ("Connect and answer", "run", Play::Honest),
        ("Replay the last answer", "replay", Play::Replay),
        ("Connect and stay silent", "silent", Play::Silent),
    ] {
        let (f, st, s) = (frame.clone(), state.clone(), secret.clone());
        listeners.push(
            button(&frame.controls, text, role, move |_| {
                run(&f, &st, s.value().into_bytes(), play)
            })
            .1,
        );
    }
    Mounted::with_state(listeners, state)
}
