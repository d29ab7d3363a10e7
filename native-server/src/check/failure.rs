//! What a failed stage found: the evidence, and the named bug it points to.
//!
//! A stage that fails returns a [`Failure`]; the runner renders it with
//! `report.rs`. The evidence is kept as bytes and lines, never as formatted
//! text with timings or ports in it, so a failing run repeats byte for byte
//! under the same `--seed`.

/// A mistake the chapters teach about, with where the book covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// Treated whatever one `recv` returned as a whole message.
    OneRecvOneMessage,
    /// Wrote `len(text)` (characters) in the length field instead of the UTF-8 byte count.
    CharacterCount,
    /// Wrote or read the length field little-endian (`<I`) instead of network order (`!I`).
    LittleEndian,
    /// Read the 32-byte challenge or answer with a single `recv(32)`.
    NotExactly32,
    /// An iterative server: the next client waits until the current one leaves.
    OneClientAtATime,
    /// Closed the connection (or crashed) on a frame whose JSON was bad.
    ClosedOnBadFrame,
    /// Served one message (or frame) per connection, then closed.
    OneMessagePerConnection,
    /// Believed the length field without a limit.
    NoLengthLimit,
    /// Waits for an answer without a deadline.
    NoTimeout,
    /// Decoded the bytes as UTF-8 text (and failed on bytes that are not).
    BytesAsText,
    /// Sent the same challenge twice.
    SameChallenge,
    /// Sent the hex digest (64 characters) instead of the 32 raw bytes.
    HexDigest,
    /// The HMAC was computed with another secret or another hash.
    WrongHmac,
    /// Reported success (exit status 0) although the exchange failed.
    ExitZeroOnFailure,
    /// Went on after `recv` returned 0 bytes (the peer's end of stream).
    IgnoredEndOfStream,
}

impl Bug {
    /// The bug's name, as a learner would search for it.
    pub fn name(self) -> &'static str {
        match self {
            Bug::OneRecvOneMessage => "assumed one recv = one message",
            Bug::CharacterCount => "length counted in characters, not UTF-8 bytes",
            Bug::LittleEndian => "little-endian length",
            Bug::NotExactly32 => "did not read exactly 32 bytes",
            Bug::OneClientAtATime => "serves one client at a time",
            Bug::ClosedOnBadFrame => "closed the connection on a bad frame",
            Bug::OneMessagePerConnection => "served one message per connection",
            Bug::NoLengthLimit => "trusted the length field without a limit",
            Bug::NoTimeout => "waits for a silent client forever",
            Bug::BytesAsText => "decoded the bytes as UTF-8 text",
            Bug::SameChallenge => "the same challenge twice",
            Bug::HexDigest => "sent the hex digest, not the 32 raw bytes",
            Bug::WrongHmac => "HMAC with another secret or hash",
            Bug::ExitZeroOnFailure => "exit status 0 on failure",
            Bug::IgnoredEndOfStream => "did not stop when recv returned b\"\"",
        }
    }

    /// The book page and heading that covers it (`page.html#anchor`, under `book/`).
    pub fn book(self) -> &'static str {
        match self {
            Bug::OneRecvOneMessage => "sticky-packets.html#where-boundaries-disappear",
            Bug::CharacterCount => "framing.html#the-frame-format",
            Bug::LittleEndian => "framing.html#byte-order-and-structpacki-n",
            Bug::NotExactly32 => {
                "hmac-auth.html#reading-the-answer-exactly-32-bytes-with-a-deadline"
            }
            Bug::OneClientAtATime => "concurrency.html#watch-an-iterative-server-stall",
            Bug::ClosedOnBadFrame => "framing.html#errors-when-to-continue-when-to-close",
            Bug::OneMessagePerConnection => "tcp-echo.html#the-server",
            Bug::NoLengthLimit => "framing.html#reading-a-frame-with-a-limit",
            Bug::NoTimeout => "beyond-the-notes.html#timeouts",
            Bug::BytesAsText => "beyond-the-notes.html#where-the-notes-snippets-break-on-python-3",
            Bug::SameChallenge => "hmac-auth.html#why-a-fresh-random-challenge",
            Bug::HexDigest => "hmac-auth.html#what-hmac-is",
            Bug::WrongHmac => "hmac-auth.html#what-hmac-is",
            Bug::ExitZeroOnFailure => "beyond-the-notes.html#errors-you-will-meet",
            Bug::IgnoredEndOfStream => "beyond-the-notes.html#half-close-and-recv-returning-0",
        }
    }

    /// Every bug class, for the docs and their tests.
    pub const ALL: [Bug; 15] = [
        Bug::OneRecvOneMessage,
        Bug::CharacterCount,
        Bug::LittleEndian,
        Bug::NotExactly32,
        Bug::OneClientAtATime,
        Bug::ClosedOnBadFrame,
        Bug::OneMessagePerConnection,
        Bug::NoLengthLimit,
        Bug::NoTimeout,
        Bug::BytesAsText,
        Bug::SameChallenge,
        Bug::HexDigest,
        Bug::WrongHmac,
        Bug::ExitZeroOnFailure,
        Bug::IgnoredEndOfStream,
    ];
}

/// Why a stage failed, with the evidence.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failure {
    /// What went wrong, in a sentence or two.
    pub(crate) what: String,
    /// What socket-lab sent that the stage is about.
    pub(crate) sent: Option<Box<[u8]>>,
    /// The bytes a correct program returns, and the bytes that came back
    /// (boxed: a failure is passed around in every `Result`).
    pub(crate) compared: Option<Box<(Vec<u8>, Vec<u8>)>>,
    /// Decoded details (e.g. a length field) worth a line each.
    pub(crate) notes: Vec<String>,
    /// The reads and writes as they happened, one line each.
    pub(crate) transcript: Vec<String>,
    /// The named bug this points to, when one fits.
    pub(crate) bug: Option<Bug>,
}

impl Failure {
    /// A failure with only its sentence.
    pub(crate) fn new(what: impl Into<String>) -> Self {
        Failure {
            what: what.into(),
            ..Failure::default()
        }
    }

    /// What was sent.
    pub(crate) fn sent(mut self, bytes: &[u8]) -> Self {
        self.sent = Some(bytes.into());
        self
    }

    /// Expected against got.
    pub(crate) fn compare(mut self, expected: &[u8], got: &[u8]) -> Self {
        self.compared = Some(Box::new((expected.to_vec(), got.to_vec())));
        self
    }

    /// One more line of decoded detail.
    pub(crate) fn note(mut self, line: impl Into<String>) -> Self {
        self.notes.push(line.into());
        self
    }

    /// The reads and writes behind it.
    pub(crate) fn transcript(mut self, lines: Vec<String>) -> Self {
        self.transcript = lines;
        self
    }

    /// The bug class, if the evidence points to one.
    pub(crate) fn bug(mut self, bug: impl Into<Option<Bug>>) -> Self {
        self.bug = bug.into();
        self
    }
}

/// A stage's result.
pub(crate) type StageResult = Result<(), Failure>;
