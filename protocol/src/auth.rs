//! HMAC-SHA256 challenge-response authentication, as a sans-IO state machine.
//!
//! The server sends 32 random bytes (the challenge). A client that knows the
//! shared secret answers with HMAC-SHA256(secret, challenge): 32 bytes that
//! prove knowledge of the secret without sending it. A fresh challenge per
//! connection means an answer overheard yesterday is useless today.
//!
//! The comparison is constant-time (`Mac::verify_slice`): an ordinary `==`
//! stops at the first differing byte, and the time it takes leaks how many
//! leading bytes were right.
//!
//! Nothing here touches a socket, a clock or the OS: randomness is passed in,
//! bytes go in through [`AuthServer::handle_input`] and come out of
//! [`AuthServer::poll_transmit`]. The tokio server, the browser and the
//! in-page simulation all drive this same code.

use hmac::{Hmac, Mac};
use rand_core::RngCore;
use sha2::Sha256;

/// Length of the challenge the server sends.
pub const CHALLENGE_LEN: usize = 32;
/// Length of a correct answer (an HMAC-SHA256 digest).
pub const RESPONSE_LEN: usize = 32;
/// The secret the notes use; fine on loopback, refused for a shared server.
pub const DEFAULT_SECRET: &str = "my_super_secret_key";
/// Reply on success.
pub const GRANTED: &[u8] = b"Access Granted";
/// Reply on failure.
pub const DENIED: &[u8] = b"Access Denied";

type HmacSha256 = Hmac<Sha256>;

/// A challenge: 32 random bytes.
pub type Challenge = [u8; CHALLENGE_LEN];

/// Draws a fresh challenge from the caller's random number generator.
pub fn new_challenge<R: RngCore + ?Sized>(rng: &mut R) -> Challenge {
    let mut challenge = [0u8; CHALLENGE_LEN];
    rng.fill_bytes(&mut challenge);
    challenge
}

fn mac(secret: &[u8], challenge: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(challenge);
    mac
}

/// The correct answer to `challenge`: HMAC-SHA256(secret, challenge).
///
/// Python: `hmac.new(secret, challenge, 'sha256').digest()`.
pub fn respond(secret: &[u8], challenge: &[u8]) -> [u8; RESPONSE_LEN] {
    mac(secret, challenge).finalize().into_bytes().into()
}

/// Checks an answer in constant time.
pub fn verify(secret: &[u8], challenge: &[u8], response: &[u8]) -> bool {
    mac(secret, challenge).verify_slice(response).is_ok()
}

/// Why a client was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// 32 bytes arrived but they are not the right HMAC.
    WrongAnswer,
    /// The client closed before sending 32 bytes.
    TooShort,
    /// The client did not answer in time.
    TimedOut,
}

impl DenyReason {
    /// A sentence for a learner.
    pub fn explain(self) -> &'static str {
        match self {
            DenyReason::WrongAnswer => {
                "the 32 bytes were not HMAC-SHA256(secret, challenge): check the secret and that you hashed this connection's challenge"
            }
            DenyReason::TooShort => {
                "the connection closed before 32 bytes of answer arrived: send the whole digest (use sendall)"
            }
            DenyReason::TimedOut => {
                "no complete answer arrived before the timeout: compute the HMAC and answer straight away"
            }
        }
    }
}

/// The outcome of a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The client proved it knows the secret.
    Granted,
    /// It did not.
    Denied(DenyReason),
}

impl Verdict {
    /// The bytes the server sends for this verdict.
    pub fn reply(self) -> &'static [u8] {
        match self {
            Verdict::Granted => GRANTED,
            Verdict::Denied(_) => DENIED,
        }
    }

    /// Whether access was granted.
    pub fn is_granted(self) -> bool {
        self == Verdict::Granted
    }
}

/// The server side of one handshake.
///
/// Drive it like this: send what [`poll_transmit`](Self::poll_transmit) gives
/// (first the challenge), feed every received chunk to
/// [`handle_input`](Self::handle_input), call [`handle_eof`](Self::handle_eof) or
/// [`handle_timeout`](Self::handle_timeout) when those happen, send what
/// `poll_transmit` gives again (the verdict), then close.
#[derive(Debug, Clone)]
pub struct AuthServer {
    secret: Vec<u8>,
    challenge: Challenge,
    answer: [u8; RESPONSE_LEN],
    have: usize,
    challenge_sent: bool,
    verdict: Option<Verdict>,
    verdict_sent: bool,
}

impl AuthServer {
    /// Starts a handshake with a challenge drawn from `rng`.
    pub fn new<R: RngCore + ?Sized>(secret: &[u8], rng: &mut R) -> Self {
        Self::with_challenge(secret, new_challenge(rng))
    }

    /// Starts a handshake with a given challenge (tests and simulations).
    pub fn with_challenge(secret: &[u8], challenge: Challenge) -> Self {
        Self {
            secret: secret.to_vec(),
            challenge,
            answer: [0; RESPONSE_LEN],
            have: 0,
            challenge_sent: false,
            verdict: None,
            verdict_sent: false,
        }
    }

    /// This connection's challenge.
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// Bytes of the answer received so far.
    pub fn answer_received(&self) -> &[u8] {
        &self.answer[..self.have]
    }

    /// Feeds received bytes; returns how many were used. Bytes after the 32nd
    /// are not part of the answer and are left unused.
    pub fn handle_input(&mut self, bytes: &[u8]) -> usize {
        if self.verdict.is_some() {
            return 0;
        }
        let take = bytes.len().min(RESPONSE_LEN - self.have);
        self.answer[self.have..self.have + take].copy_from_slice(&bytes[..take]);
        self.have += take;
        if self.have == RESPONSE_LEN {
            self.verdict = Some(if verify(&self.secret, &self.challenge, &self.answer) {
                Verdict::Granted
            } else {
                Verdict::Denied(DenyReason::WrongAnswer)
            });
        }
        take
    }

    /// The client closed its side before answering fully.
    pub fn handle_eof(&mut self) {
        self.verdict
            .get_or_insert(Verdict::Denied(DenyReason::TooShort));
    }

    /// The answer did not arrive in time.
    pub fn handle_timeout(&mut self) {
        self.verdict
            .get_or_insert(Verdict::Denied(DenyReason::TimedOut));
    }

    /// The verdict, once there is one.
    pub fn verdict(&self) -> Option<Verdict> {
        self.verdict
    }

    /// Whether the handshake is over (verdict known and sent): close now.
    pub fn is_done(&self) -> bool {
        self.verdict_sent
    }

    /// The next bytes to send, if any: the challenge, later the verdict.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if !self.challenge_sent {
            self.challenge_sent = true;
            return Some(self.challenge.to_vec());
        }
        match self.verdict {
            Some(v) if !self.verdict_sent => {
                self.verdict_sent = true;
                Some(v.reply().to_vec())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const SECRET: &[u8] = DEFAULT_SECRET.as_bytes();

    /// RFC 4231 test case 2: key "Jefe".
    #[test]
    fn hmac_matches_rfc_4231() {
        let digest = respond(b"Jefe", b"what do ya want for nothing?");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn answer_split_three_ways_is_granted() {
        let challenge = [7u8; 32];
        let mut server = AuthServer::with_challenge(SECRET, challenge);
        assert_eq!(server.poll_transmit().unwrap(), challenge.to_vec());
        let answer = respond(SECRET, &challenge);
        assert_eq!(server.handle_input(&answer[..1]), 1);
        assert_eq!(server.handle_input(&answer[1..20]), 19);
        assert_eq!(server.verdict(), None);
        assert_eq!(server.poll_transmit(), None);
        assert_eq!(server.handle_input(&answer[20..]), 12);
        assert_eq!(server.verdict(), Some(Verdict::Granted));
        assert_eq!(server.poll_transmit().unwrap(), GRANTED.to_vec());
        assert!(server.is_done());
    }

    #[test]
    fn wrong_key_is_denied() {
        let challenge = [1u8; 32];
        let mut server = AuthServer::with_challenge(SECRET, challenge);
        server.poll_transmit();
        server.handle_input(&respond(b"not the key", &challenge));
        assert_eq!(
            server.verdict(),
            Some(Verdict::Denied(DenyReason::WrongAnswer))
        );
        assert_eq!(server.poll_transmit().unwrap(), DENIED.to_vec());
    }

    #[test]
    fn replayed_answer_fails_on_a_new_challenge() {
        let old = respond(SECRET, &[1u8; 32]);
        let mut server = AuthServer::with_challenge(SECRET, [2u8; 32]);
        server.handle_input(&old);
        assert_eq!(
            server.verdict(),
            Some(Verdict::Denied(DenyReason::WrongAnswer))
        );
    }

    #[test]
    fn extra_bytes_are_not_consumed_and_short_answers_deny() {
        let challenge = [3u8; 32];
        let mut long = respond(SECRET, &challenge).to_vec();
        long.push(0);
        let mut server = AuthServer::with_challenge(SECRET, challenge);
        assert_eq!(server.handle_input(&long), 32);
        assert_eq!(server.verdict(), Some(Verdict::Granted));

        let mut server = AuthServer::with_challenge(SECRET, challenge);
        server.handle_input(&long[..31]);
        server.handle_eof();
        assert_eq!(
            server.verdict(),
            Some(Verdict::Denied(DenyReason::TooShort))
        );

        let mut server = AuthServer::with_challenge(SECRET, challenge);
        server.handle_timeout();
        assert_eq!(
            server.verdict(),
            Some(Verdict::Denied(DenyReason::TimedOut))
        );
    }

    #[test]
    fn challenges_come_from_the_given_rng() {
        use rand_core::SeedableRng;
        let a = new_challenge(&mut rand::rngs::StdRng::seed_from_u64(9));
        let b = new_challenge(&mut rand::rngs::StdRng::seed_from_u64(9));
        let c = new_challenge(&mut rand::rngs::StdRng::seed_from_u64(10));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
