//! Fuzz target: the auth server's state machine, driven by any sequence of
//! inputs, EOFs and timeouts, must never panic, must decide exactly once,
//! and must grant only the one right answer.
//!
//! Run with `cargo xtask fuzz` or `cargo +nightly fuzz run auth_server`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::auth::{AuthServer, CHALLENGE_LEN, Verdict, respond};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the secret's length, the next 32 the challenge; the
    // rest is a script: each step's first byte is an opcode and a length.
    let [secret_len, rest @ ..] = data else {
        return;
    };
    let secret_len = usize::from(*secret_len) % 48;
    if rest.len() < secret_len + CHALLENGE_LEN {
        return;
    }
    let (secret, rest) = rest.split_at(secret_len);
    let (challenge, mut script) = rest.split_at(CHALLENGE_LEN);
    let challenge: [u8; CHALLENGE_LEN] = challenge.try_into().unwrap();
    let right = respond(secret, &challenge);

    let mut server = AuthServer::with_challenge(secret, challenge);
    assert_eq!(server.poll_transmit().as_deref(), Some(&challenge[..]));
    let mut fed = Vec::new();
    let mut first_verdict = None;
    while let [op, tail @ ..] = script {
        match op % 8 {
            0 => server.handle_eof(),
            1 => server.handle_timeout(),
            2 => {
                // Feed the right answer's next bytes (so grants are reachable).
                let start = fed.len();
                let n = usize::from(op / 8).min(right.len() - start);
                let piece = &right[start..start + n];
                let used = server.handle_input(piece);
                assert!(used <= piece.len());
                fed.extend_from_slice(&piece[..used]);
            }
            _ => {
                let n = usize::from(op / 8).min(tail.len());
                let used = server.handle_input(&tail[..n]);
                assert!(used <= n);
                fed.extend_from_slice(&tail[..used]);
                script = &tail[n..];
                check(&server, &mut first_verdict, &fed, &right);
                continue;
            }
        }
        script = tail;
        check(&server, &mut first_verdict, &fed, &right);
    }
    if server.verdict().is_some() {
        let reply = server.poll_transmit().expect("a verdict is sent once");
        assert!(reply == b"Access Granted" || reply == b"Access Denied");
        assert!(server.poll_transmit().is_none());
        assert!(server.is_done());
    }
});

/// A verdict, once given, never changes; a grant needs the 32 right bytes.
fn check(
    server: &AuthServer,
    first: &mut Option<Verdict>,
    fed: &[u8],
    right: &[u8; 32],
) {
    assert!(fed.len() <= 32, "never more than 32 bytes of answer");
    assert_eq!(server.answer_received(), fed);
    match (*first, server.verdict()) {
        (None, v) => *first = v,
        (Some(a), Some(b)) => assert_eq!(a, b, "a verdict never changes"),
        (Some(_), None) => panic!("a verdict was taken back"),
    }
    if server.verdict() == Some(Verdict::Granted) {
        assert_eq!(fed, right, "granted without the right answer");
    }
}
