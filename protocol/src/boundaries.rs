//! Where the sender's message boundaries ended up in the receiver's reads.
//!
//! The sticky lab sends a few writes and shows what each `recv` returned. This
//! file compares the two from the bytes alone and says what happened to the
//! boundaries:
//!
//! - **aligned**: every read returned exactly one send, whole;
//! - **merged**: some read returned bytes of two or more sends, and no send
//!   was cut by a read boundary;
//! - **split**: some send was cut by a read boundary (it came out in pieces),
//!   and no read mixed bytes of two sends;
//! - **both**: a read mixed bytes of two sends *and* some send was cut, like
//!   the reads `HelloWo`, `rld` for the sends `Hello`, `World`.
//!
//! It also names a cause, but only when the evidence passed in shows it. A
//! merge after a read delay is put down to the delay; a cut made by a read
//! that returned exactly the read size is put down to the read size. Nagle's
//! algorithm is named only when the caller passes what the wire carried (the
//! segments) and they show the sender joining writes with `TCP_NODELAY` off:
//! the reads alone can never tell a merge made by Nagle from one made by a
//! receiver that read late, so without that evidence Nagle is never blamed.
//!
//! A run may be incomplete (the connection ended early, or the lab is still
//! waiting for reads): reads that are a prefix of the sends are fine, and
//! bytes that do not match the sends are reported, not hidden.
//!
//! Zero-length sends put no bytes in the stream, so no read can show them:
//! they are ignored (and the sentence says so).

use std::fmt::Write as _;
use std::ops::Range;

/// What happened to the send boundaries, judged from the reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// No bytes have been read yet.
    Nothing,
    /// Every read returned exactly one whole send.
    Aligned,
    /// Some read returned bytes of several sends; no send was cut.
    Merged,
    /// Some send was cut across reads; no read mixed two sends.
    Split,
    /// Some read mixed two sends and some send was cut.
    Both,
}

impl Shape {
    /// A short lowercase name: `aligned`, `merged`, `split`, `both`, `nothing`.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Nothing => "nothing",
            Shape::Aligned => "aligned",
            Shape::Merged => "merged",
            Shape::Split => "split",
            Shape::Both => "both",
        }
    }
}

/// Why the boundaries moved, when the evidence shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The receiver slept before reading, so several sends were already in its
    /// buffer when a `recv` ran, and that `recv` returned them together.
    ReadDelay,
    /// The receiver's data was waiting in its buffer when it read (no delay
    /// was set): the segments show the sends crossed the wire separately, so
    /// they were joined at the receiver, not by the sender.
    ReceiverTiming,
    /// A read returned exactly the read size, and that limit cut a send.
    ReadSize,
    /// A read returned fewer bytes than it asked for and still ended inside a
    /// send: the rest of that send had not arrived yet.
    PartialArrival,
    /// The segments show the sender joined writes with `TCP_NODELAY` off:
    /// Nagle's algorithm held the later writes back and sent them together.
    Nagle,
    /// The segments show the sender joined writes although `TCP_NODELAY` was
    /// on (or its setting is unknown): the writes queued up in the send buffer.
    SenderCoalesced,
}

/// What the caller knows beyond the bytes. Every field is optional; a cause
/// is named only from what is given here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The bytes each `recv` asked for.
    pub read_size: Option<usize>,
    /// How long the receiver slept before each `recv`, in microseconds.
    pub read_delay_us: Option<u64>,
    /// Whether `TCP_NODELAY` was on for the sender.
    pub nodelay: Option<bool>,
    /// The payload size of each segment on the wire, in order (the simulation
    /// knows them; a live run usually does not).
    pub segments: Option<Vec<usize>>,
    /// How many segments carried the data, when only the count is known (a
    /// kernel's counters). Ignored when `segments` is given.
    pub segment_count: Option<usize>,
}

/// A piece of one read: which send its bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The send, from 0; `None` for bytes read beyond everything sent.
    pub send: Option<usize>,
    /// The bytes' range within that send (within the extra bytes when `send`
    /// is `None`).
    pub in_send: Range<usize>,
    /// The same bytes' range within the read.
    pub in_read: Range<usize>,
}

impl Piece {
    /// Whether this piece is a whole send.
    pub fn is_whole(&self, sends: &[impl AsRef<[u8]>]) -> bool {
        self.send
            .is_some_and(|s| self.in_send.start == 0 && self.in_send.end == sends[s].as_ref().len())
    }
}

/// One read, cut where the sends' boundaries fall inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadParts {
    /// How many bytes the read returned.
    pub len: usize,
    /// The pieces, in order; their `in_read` ranges tile `0..len`.
    pub pieces: Vec<Piece>,
}

/// The verdict on one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// What happened to the boundaries.
    pub shape: Shape,
    /// Per read, which sends it contained (for drawing).
    pub reads: Vec<ReadParts>,
    /// Causes the evidence shows, most direct first; empty when nothing shows one.
    pub causes: Vec<Cause>,
    /// Whether every byte sent has been read (and nothing more).
    pub complete: bool,
    /// Bytes sent but not read (yet).
    pub unread: usize,
    /// Bytes read beyond everything sent.
    pub extra: usize,
    /// The first stream offset where the bytes read differ from the bytes sent.
    pub mismatch_at: Option<usize>,
    /// The verdict in one or a few plain sentences, following from the data.
    pub sentence: String,
}

/// Compares the sends' boundaries with the reads and names the cause the
/// evidence shows.
///
/// `sends` are the writes in order; `reads` what each `recv` returned, in
/// order. Their concatenations should be equal for a complete run; a prefix is
/// an incomplete run, anything else is reported in [`Analysis::mismatch_at`].
pub fn analyze(
    sends: &[impl AsRef<[u8]>],
    reads: &[impl AsRef<[u8]>],
    evidence: &Evidence,
) -> Analysis {
    let seen: Vec<(usize, &[u8])> = reads
        .iter()
        .map(|r| (r.as_ref().len(), r.as_ref()))
        .collect();
    analyze_seen(sends, &seen, evidence)
}

/// Like [`analyze`], for reads known by their size only (an event stream
/// that left the bytes out). The boundaries are a matter of positions, so the
/// verdict is the same; only a mismatch of content cannot be noticed.
pub fn analyze_sizes(
    sends: &[impl AsRef<[u8]>],
    read_sizes: &[usize],
    evidence: &Evidence,
) -> Analysis {
    let seen: Vec<(usize, &[u8])> = read_sizes.iter().map(|&n| (n, &[][..])).collect();
    analyze_seen(sends, &seen, evidence)
}

/// Like [`analyze`], for reads given as `(size, bytes)` where the bytes may
/// be only the first part of the read (an event caps what it carries, see
/// `events::MAX_EVENT_BYTES`): positions come from the sizes, and the
/// content is checked as far as it was carried.
pub fn analyze_seen(
    sends: &[impl AsRef<[u8]>],
    reads: &[(usize, &[u8])],
    evidence: &Evidence,
) -> Analysis {
    let send_lens: Vec<usize> = sends.iter().map(|s| s.as_ref().len()).collect();
    // Stream offsets where each send starts and ends.
    let mut starts = Vec::with_capacity(sends.len());
    let mut total = 0usize;
    for len in &send_lens {
        starts.push(total);
        total += len;
    }
    let sent: Vec<u8> = sends
        .iter()
        .flat_map(|s| s.as_ref().iter().copied())
        .collect();

    let mut parts = Vec::with_capacity(reads.len());
    let mut offset = 0usize; // stream offset of the next read byte
    let mut mismatch_at = None;
    let mut merged = false;
    let mut split = false;
    for &(len, carried) in reads {
        let carried = &carried[..carried.len().min(len)];
        if mismatch_at.is_none()
            && let Some(i) = carried
                .iter()
                .enumerate()
                .position(|(i, b)| sent.get(offset + i) != Some(b))
            && offset + i < total
        {
            mismatch_at = Some(offset + i);
        }
        let mut pieces = Vec::new();
        let mut at = 0usize;
        while at < len {
            let pos = offset + at;
            if pos >= total {
                let n = len - at;
                pieces.push(Piece {
                    send: None,
                    in_send: pos - total..pos - total + n,
                    in_read: at..len,
                });
                at = len;
                continue;
            }
            // The non-empty send holding stream byte `pos`.
            let s = send_holding(&starts, &send_lens, pos);
            let within = pos - starts[s];
            let n = (send_lens[s] - within).min(len - at);
            pieces.push(Piece {
                send: Some(s),
                in_send: within..within + n,
                in_read: at..at + n,
            });
            at += n;
        }
        let distinct_sends = pieces.iter().filter(|p| p.send.is_some()).count();
        merged |= distinct_sends > 1;
        // A read that ends strictly inside a send cuts it: the rest of that
        // send comes (if ever) in another read.
        if let Some(Piece {
            send: Some(s),
            in_send,
            ..
        }) = pieces.last()
            && in_send.end < send_lens[*s]
        {
            split = true;
        }
        offset += len;
        parts.push(ReadParts { len, pieces });
    }

    let shape = match (offset == 0, merged, split) {
        (true, _, _) => Shape::Nothing,
        (false, false, false) => Shape::Aligned,
        (false, true, false) => Shape::Merged,
        (false, false, true) => Shape::Split,
        (false, true, true) => Shape::Both,
    };
    let unread = total.saturating_sub(offset);
    let extra = offset.saturating_sub(total);
    let causes = causes(&parts, &send_lens, &starts, evidence);
    let mut analysis = Analysis {
        shape,
        reads: parts,
        causes,
        complete: unread == 0 && extra == 0 && mismatch_at.is_none(),
        unread,
        extra,
        mismatch_at,
        sentence: String::new(),
    };
    analysis.sentence = sentence(&analysis, sends, evidence);
    analysis
}

/// The send holding stream byte `pos` (`pos` < total): the last non-empty send
/// starting at or before it.
fn send_holding(starts: &[usize], lens: &[usize], pos: usize) -> usize {
    // `partition_point` finds the first send starting after `pos`; step back
    // over empty sends, which start where the next one does.
    let mut s = starts.partition_point(|&start| start <= pos) - 1;
    while lens[s] == 0 || starts[s] + lens[s] <= pos {
        s -= 1;
    }
    s
}

/// Whether the byte boundary at stream offset `at` falls strictly inside one
/// of the `sizes` chunks laid end to end.
fn inside_chunk(sizes: &[usize], at: usize) -> bool {
    let mut start = 0;
    for size in sizes {
        if at <= start {
            return false;
        }
        if at < start + size {
            return true;
        }
        start += size;
    }
    false
}

fn causes(parts: &[ReadParts], lens: &[usize], starts: &[usize], ev: &Evidence) -> Vec<Cause> {
    let mut out = Vec::new();
    let mut push = |c: Cause| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    let nonempty = lens.iter().filter(|&&l| l > 0).count();

    // Merges: a send boundary inside a read. Was the same boundary inside a
    // segment (the sender joined the writes) or between segments (they were
    // joined in the receiver's buffer)?
    let mut sender_joined = false;
    let mut receiver_joined = false;
    let mut any_merge = false;
    for p in parts {
        for pair in p.pieces.windows(2) {
            let (Some(_), Some(b)) = (pair[0].send, pair[1].send) else {
                continue;
            };
            any_merge = true;
            let boundary = starts[b];
            match &ev.segments {
                Some(sizes) if inside_chunk(sizes, boundary) => sender_joined = true,
                Some(_) => receiver_joined = true,
                None => {}
            }
        }
    }
    if ev.segments.is_none()
        && let Some(count) = ev.segment_count
        && any_merge
        && count < nonempty
    {
        // Fewer segments than non-empty writes: some segment carried two.
        sender_joined = true;
    }
    let delayed = ev.read_delay_us.is_some_and(|d| d > 0);
    if any_merge {
        // A late reader joins whatever was waiting, however it travelled;
        // unless the segments show every merge was made by the sender.
        if delayed && (receiver_joined || !sender_joined) {
            push(Cause::ReadDelay);
        }
        if receiver_joined && !delayed {
            push(Cause::ReceiverTiming);
        }
        if sender_joined {
            push(if ev.nodelay == Some(false) {
                Cause::Nagle
            } else {
                Cause::SenderCoalesced
            });
        }
    }

    // Cuts: a read ending strictly inside a send.
    for p in parts {
        let Some(Piece {
            send: Some(s),
            in_send,
            ..
        }) = p.pieces.last()
        else {
            continue;
        };
        if in_send.end < lens[*s] {
            match ev.read_size {
                Some(size) if p.len == size => push(Cause::ReadSize),
                Some(size) if p.len < size => push(Cause::PartialArrival),
                _ => {}
            }
        }
    }
    out
}

/// `send 2 ("World")`, or `send 2 (1500 bytes)` when it is not short text.
fn send_name(sends: &[impl AsRef<[u8]>], s: usize) -> String {
    let bytes = sends[s].as_ref();
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.len() <= 24 && text.chars().all(|c| !c.is_control()) => {
            format!("send {} (\"{text}\")", s + 1)
        }
        _ => format!("send {} ({} bytes)", s + 1, bytes.len()),
    }
}

fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_owned()
    } else {
        format!("{n} bytes")
    }
}

/// How a piece reads in a sentence: `all of send 1 ("Hello")`, `the first 2
/// bytes of send 2 ("World")`.
fn piece_words(p: &Piece, sends: &[impl AsRef<[u8]>]) -> String {
    let Some(s) = p.send else {
        return format!("{} that were never sent", bytes(p.in_send.len()));
    };
    let len = sends[s].as_ref().len();
    let name = send_name(sends, s);
    let n = p.in_send.len();
    if p.in_send.start == 0 && p.in_send.end == len {
        format!("all of {name}")
    } else if p.in_send.start == 0 {
        format!("the first {} of {name}", counted(n))
    } else if p.in_send.end == len {
        format!("the last {} of {name}", counted(n))
    } else {
        format!(
            "{} from the middle of {name} (bytes {} to {})",
            bytes(n),
            p.in_send.start + 1,
            p.in_send.end
        )
    }
}

/// `byte` or `3 bytes`, after "the first" or "the last".
fn counted(n: usize) -> String {
    if n == 1 { "byte".to_owned() } else { bytes(n) }
}

fn ms(us: u64) -> String {
    if us.is_multiple_of(1000) {
        format!("{} ms", us / 1000)
    } else {
        format!("{:.1} ms", us as f64 / 1000.0)
    }
}

/// Most reads described one by one; longer runs are summarised.
const READS_DESCRIBED: usize = 6;

fn sentence(a: &Analysis, sends: &[impl AsRef<[u8]>], ev: &Evidence) -> String {
    let mut out = String::new();
    let lens: Vec<usize> = sends.iter().map(|s| s.as_ref().len()).collect();
    let n_sends = lens.iter().filter(|&&l| l > 0).count();
    let n_reads = a.reads.len();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    if let Some(at) = a.mismatch_at {
        let _ = write!(
            out,
            "The bytes read differ from the bytes sent from byte {} on, so the pieces below are matched by position only. ",
            at + 1
        );
    }
    match a.shape {
        Shape::Nothing => {
            out.push_str("Nothing has been read yet.");
            return out;
        }
        Shape::Aligned => {
            let _ = write!(
                out,
                "Aligned: {} returned exactly one send each. Nothing guarantees that: TCP keeps the bytes and their order, not where each send began and ended. Try a read delay or a small read size.",
                if n_reads == 1 {
                    "the only read".to_owned()
                } else if n_reads == 2 {
                    "both reads".to_owned()
                } else {
                    format!("all {n_reads} reads")
                }
            );
        }
        Shape::Merged | Shape::Split | Shape::Both => {
            let (name, why) = match a.shape {
                Shape::Merged => ("Merged", ", and no send was cut."),
                Shape::Split => ("Split", ", and no read mixed two sends."),
                _ => (
                    "Split and merged at once",
                    "; a read held pieces of two sends and a send was cut, so neither boundary is where you put it.",
                ),
            };
            let _ = write!(
                out,
                "{name}: {} came out of {}{why}",
                plural(n_sends, "send", "sends"),
                plural(n_reads, "read", "reads")
            );
        }
    }
    if a.shape != Shape::Aligned {
        for (i, r) in a.reads.iter().take(READS_DESCRIBED).enumerate() {
            let words: Vec<String> = r.pieces.iter().map(|p| piece_words(p, sends)).collect();
            let _ = write!(out, " Read {} returned {}.", i + 1, join_and(&words));
        }
        if n_reads > READS_DESCRIBED {
            let _ = write!(out, " ({} more reads follow.)", n_reads - READS_DESCRIBED);
        }
    }
    for cause in &a.causes {
        out.push(' ');
        out.push_str(&cause_words(*cause, a, ev, &lens));
    }
    let merged = matches!(a.shape, Shape::Merged | Shape::Both);
    if merged && !a.causes.iter().any(|c| is_merge_cause(*c)) {
        out.push_str(
            " The bytes were already waiting together when the receiver read; what put them there (the receiver's timing, or the sender joining them) the reads alone cannot show.",
        );
    }
    let cut = matches!(a.shape, Shape::Split | Shape::Both);
    if cut && !a.causes.iter().any(|c| is_cut_cause(*c)) {
        out.push_str(
            " What cut the send the reads alone cannot show (the read size is not known here).",
        );
    }
    if a.unread > 0 {
        let _ = write!(out, " {} sent have not been read (yet).", bytes(a.unread));
    }
    if a.extra > 0 {
        let _ = write!(out, " {} more were read than were sent.", bytes(a.extra));
    }
    if sends.iter().any(|s| s.as_ref().is_empty()) {
        out.push_str(" Empty sends put no bytes in the stream, so no read can show them.");
    }
    out
}

fn is_merge_cause(c: Cause) -> bool {
    matches!(
        c,
        Cause::ReadDelay | Cause::ReceiverTiming | Cause::Nagle | Cause::SenderCoalesced
    )
}

fn is_cut_cause(c: Cause) -> bool {
    matches!(c, Cause::ReadSize | Cause::PartialArrival)
}

fn cause_words(c: Cause, a: &Analysis, ev: &Evidence, lens: &[usize]) -> String {
    match c {
        Cause::ReadDelay => format!(
            "The receiver waited {} before each read, so later sends were already in its buffer and one recv returned bytes of several sends.",
            ms(ev.read_delay_us.unwrap_or_default())
        ),
        Cause::ReceiverTiming => {
            "The sends crossed the wire in separate segments, so the merge happened at the receiver: the bytes were waiting in its buffer when it read.".to_owned()
        }
        Cause::ReadSize => {
            let size = ev.read_size.unwrap_or_default();
            // The full reads that ended inside a send.
            let full = a
                .reads
                .iter()
                .filter(|r| r.len == size && r.pieces.last().is_some_and(|p| cuts(p, lens)))
                .count();
            format!(
                "{} exactly the {} asked for (the read size) and stopped inside a send: the read size cut it.",
                if full == 1 {
                    "One read returned".to_owned()
                } else {
                    format!("{full} reads returned")
                },
                bytes(size)
            )
        }
        Cause::PartialArrival => {
            "A read returned less than it asked for and still ended inside a send: the rest of that send had not arrived yet.".to_owned()
        }
        Cause::Nagle => {
            "The segments show the sender joined writes into one segment with TCP_NODELAY off: Nagle's algorithm held the later writes until the first was acknowledged.".to_owned()
        }
        Cause::SenderCoalesced => {
            "The segments show the sender joined writes into one segment: they queued up in its send buffer before they left.".to_owned()
        }
    }
}

/// Whether a read ending with `p` ends strictly inside a send.
fn cuts(p: &Piece, lens: &[usize]) -> bool {
    p.send.is_some_and(|s| p.in_send.end < lens[s])
}

fn join_and(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{TcpSimConfig, simulate_tcp};
    use proptest::prelude::{ProptestConfig, any, prop, prop_assert, prop_assert_eq, proptest};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn texts(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn delayed(read_size: usize, delay_ms: u64, nodelay: bool) -> Evidence {
        Evidence {
            read_size: Some(read_size),
            read_delay_us: Some(delay_ms * 1000),
            nodelay: Some(nodelay),
            ..Evidence::default()
        }
    }

    #[test]
    fn one_read_per_send_is_aligned() {
        let a = analyze(
            &texts(&["Hello", "World"]),
            &texts(&["Hello", "World"]),
            &delayed(1024, 0, true),
        );
        assert_eq!(a.shape, Shape::Aligned);
        assert!(a.causes.is_empty());
        assert!(a.complete);
        assert!(a.sentence.starts_with("Aligned"), "{}", a.sentence);
    }

    #[test]
    fn read_size_7_delay_500_is_both() {
        let sends = texts(&["Hello", "World"]);
        let a = analyze(&sends, &texts(&["HelloWo", "rld"]), &delayed(7, 500, true));
        assert_eq!(a.shape, Shape::Both);
        assert_eq!(
            a.reads[0].pieces,
            vec![
                Piece {
                    send: Some(0),
                    in_send: 0..5,
                    in_read: 0..5
                },
                Piece {
                    send: Some(1),
                    in_send: 0..2,
                    in_read: 5..7
                },
            ]
        );
        assert_eq!(
            a.reads[1].pieces,
            vec![Piece {
                send: Some(1),
                in_send: 2..5,
                in_read: 0..3
            }]
        );
        assert_eq!(a.causes, vec![Cause::ReadDelay, Cause::ReadSize]);
        let s = &a.sentence;
        assert!(s.starts_with("Split and merged at once"), "{s}");
        assert!(s.contains("the first 2 bytes of send 2 (\"World\")"), "{s}");
        assert!(s.contains("500 ms"), "{s}");
        assert!(s.contains("exactly the 7 bytes"), "{s}");
        assert!(!s.contains("one read per send"), "{s}");
        assert!(!s.contains('`'), "{s}");
    }

    #[test]
    fn read_size_3_is_split_and_with_a_delay_both() {
        let sends = texts(&["Hello", "World"]);
        // The lab's live run with no delay: no read mixes the two sends.
        let a = analyze(
            &sends,
            &texts(&["Hel", "lo", "Wor", "ld"]),
            &delayed(3, 0, true),
        );
        assert_eq!(a.shape, Shape::Split);
        assert_eq!(a.causes, vec![Cause::ReadSize]);
        assert!(a.sentence.starts_with("Split"), "{}", a.sentence);
        // With the delay, "loW" holds pieces of both.
        let a = analyze(
            &sends,
            &texts(&["Hel", "loW", "orl", "d"]),
            &delayed(3, 500, true),
        );
        assert_eq!(a.shape, Shape::Both);
        assert!(a.causes.contains(&Cause::ReadSize));
        assert!(a.causes.contains(&Cause::ReadDelay));
        assert!(a.sentence.contains("Read 2 returned the last 2 bytes of send 1 (\"Hello\") and the first byte of send 2"), "{}", a.sentence);
    }

    #[test]
    fn eight_tiny_writes_merged_without_a_delay_do_not_blame_nagle() {
        let sends = texts(&["a", "b", "c", "d", "e", "f", "g", "h"]);
        let reads = texts(&["abc", "defgh"]);
        let a = analyze(&sends, &reads, &delayed(1024, 0, false));
        assert_eq!(a.shape, Shape::Merged);
        assert!(a.causes.is_empty(), "{:?}", a.causes);
        assert!(!a.sentence.contains("Nagle"), "{}", a.sentence);
        assert!(a.sentence.contains("cannot show"), "{}", a.sentence);

        // Segments that crossed separately: the merge was the receiver's.
        let ev = Evidence {
            segments: Some(vec![1; 8]),
            ..delayed(1024, 0, false)
        };
        let a = analyze(&sends, &reads, &ev);
        assert_eq!(a.causes, vec![Cause::ReceiverTiming]);
        assert!(!a.sentence.contains("Nagle"), "{}", a.sentence);

        // Only evidence from the wire names Nagle.
        let ev = Evidence {
            segments: Some(vec![1, 2, 5]),
            ..delayed(1024, 0, false)
        };
        let a = analyze(&sends, &reads, &ev);
        assert!(a.causes.contains(&Cause::Nagle), "{:?}", a.causes);
        assert!(a.sentence.contains("Nagle"));
        let ev = Evidence {
            segment_count: Some(2),
            ..delayed(1024, 0, false)
        };
        assert_eq!(analyze(&sends, &reads, &ev).causes, vec![Cause::Nagle]);
        // The same wire with TCP_NODELAY on is not Nagle.
        let ev = Evidence {
            segment_count: Some(2),
            ..delayed(1024, 0, true)
        };
        assert_eq!(
            analyze(&sends, &reads, &ev).causes,
            vec![Cause::SenderCoalesced]
        );
    }

    #[test]
    fn a_delay_without_a_merge_is_not_a_cause() {
        let a = analyze(
            &texts(&["Hello"]),
            &texts(&["Hello"]),
            &delayed(1024, 500, false),
        );
        assert_eq!(a.shape, Shape::Aligned);
        assert!(a.causes.is_empty());
    }

    #[test]
    fn incomplete_and_wrong_runs_are_reported() {
        let sends = texts(&["Hello", "World"]);
        let none: Vec<Vec<u8>> = Vec::new();
        let a = analyze(&sends, &none, &Evidence::default());
        assert_eq!(a.shape, Shape::Nothing);
        assert_eq!(a.unread, 10);
        assert!(!a.complete);

        // Cut off after "Hel": the read ended inside a send, so it is split.
        let a = analyze(&sends, &texts(&["Hel"]), &Evidence::default());
        assert_eq!(a.shape, Shape::Split);
        assert_eq!(a.unread, 7);
        assert!(a.sentence.contains("7 bytes sent have not been read"));
        assert!(a.sentence.contains("cannot show"), "{}", a.sentence);

        // One whole send so far is aligned so far.
        let a = analyze(&sends, &texts(&["Hello"]), &Evidence::default());
        assert_eq!(a.shape, Shape::Aligned);
        assert!(!a.complete);

        let a = analyze(&sends, &texts(&["HelloWorld!!"]), &Evidence::default());
        assert_eq!(a.extra, 2);
        assert_eq!(
            a.reads[0].pieces.last(),
            Some(&Piece {
                send: None,
                in_send: 0..2,
                in_read: 10..12
            })
        );
        assert!(a.sentence.contains("2 bytes more were read"));

        let a = analyze(&sends, &texts(&["Help", "World"]), &Evidence::default());
        assert_eq!(a.mismatch_at, Some(3));
        assert!(!a.complete);
        assert!(a.sentence.starts_with("The bytes read differ"));
    }

    #[test]
    fn sizes_alone_give_the_same_verdict() {
        let sends = texts(&["Hello", "World"]);
        let ev = delayed(7, 500, true);
        let by_bytes = analyze(&sends, &texts(&["HelloWo", "rld"]), &ev);
        let by_sizes = analyze_sizes(&sends, &[7, 3], &ev);
        assert_eq!(by_sizes, by_bytes);
        // Capped bytes: checked as far as they go.
        let capped = analyze_seen(&sends, &[(7, &b"Hel"[..]), (3, &b""[..])], &ev);
        assert_eq!(capped, by_bytes);
        let wrong = analyze_seen(&sends, &[(7, &b"Hex"[..]), (3, &b""[..])], &ev);
        assert_eq!(wrong.mismatch_at, Some(2));
    }

    #[test]
    fn empty_sends_are_skipped() {
        let sends = texts(&["ab", "", "cd"]);
        let a = analyze(&sends, &texts(&["abcd"]), &Evidence::default());
        assert_eq!(a.shape, Shape::Merged);
        let sends_seen: Vec<_> = a.reads[0].pieces.iter().map(|p| p.send).collect();
        assert_eq!(sends_seen, [Some(0), Some(2)]);
        assert!(a.sentence.contains("2 sends came out of 1 read"));
        assert!(a.sentence.contains("Empty sends"));
        let a = analyze(
            &texts(&["", "ab"]),
            &texts(&["a", "b"]),
            &Evidence::default(),
        );
        assert_eq!(a.shape, Shape::Split);
    }

    #[test]
    fn simulated_runs_name_their_causes() {
        // A slow reader merges two separate segments: the delay, not Nagle.
        let cfg = TcpSimConfig {
            read_delay_us: 5000,
            ..TcpSimConfig::default()
        };
        let writes = vec![(0, b"Hello".to_vec()), (10, b"World".to_vec())];
        let trace = simulate_tcp(&cfg, &writes);
        let reads: Vec<&[u8]> = trace.reads.iter().map(|r| &r.data[..]).collect();
        let ev = Evidence {
            read_size: Some(cfg.read_size),
            read_delay_us: Some(cfg.read_delay_us),
            nodelay: Some(!cfg.nagle),
            segments: Some(trace.segments.iter().map(|s| s.data.len()).collect()),
            segment_count: None,
        };
        let sends: Vec<&[u8]> = writes.iter().map(|(_, b)| &b[..]).collect();
        let a = analyze(&sends, &reads, &ev);
        assert_eq!(
            (a.shape, a.causes.clone()),
            (Shape::Merged, vec![Cause::ReadDelay])
        );

        // Nagle on, a fast reader: ten tiny writes leave as two segments.
        let tiny: Vec<(u64, Vec<u8>)> = (0..10).map(|i| (i, vec![b'0' + i as u8])).collect();
        let trace = simulate_tcp(&TcpSimConfig::default(), &tiny);
        let ev = Evidence {
            nodelay: Some(false),
            segments: Some(trace.segments.iter().map(|s| s.data.len()).collect()),
            ..delayed(1024, 0, false)
        };
        let sends: Vec<&[u8]> = tiny.iter().map(|(_, b)| &b[..]).collect();
        let reads: Vec<&[u8]> = trace.reads.iter().map(|r| &r.data[..]).collect();
        let a = analyze(&sends, &reads, &ev);
        assert_eq!(
            (a.shape, a.causes.clone()),
            (Shape::Merged, vec![Cause::Nagle])
        );
    }

    /// The definitions, byte by byte: label every stream byte with its send,
    /// then look at the labels each read got.
    fn brute_force(sends: &[Vec<u8>], reads: &[Vec<u8>]) -> Shape {
        let labels: Vec<usize> = sends
            .iter()
            .enumerate()
            .flat_map(|(i, s)| std::iter::repeat_n(i, s.len()))
            .collect();
        let mut read_of_send: Vec<Vec<usize>> = vec![Vec::new(); sends.len()];
        let mut merged = false;
        let mut at = 0;
        for (r, read) in reads.iter().enumerate() {
            let mut seen: Vec<usize> = labels[at..at + read.len()].to_vec();
            seen.dedup();
            merged |= seen.len() > 1;
            for s in seen {
                if !read_of_send[s].contains(&r) {
                    read_of_send[s].push(r);
                }
            }
            at += read.len();
        }
        let split = read_of_send.iter().any(|rs| rs.len() > 1);
        match (reads.iter().all(|r| r.is_empty()), merged, split) {
            (true, ..) => Shape::Nothing,
            (_, false, false) => Shape::Aligned,
            (_, true, false) => Shape::Merged,
            (_, false, true) => Shape::Split,
            (_, true, true) => Shape::Both,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn simulated_runs_agree_with_the_definition(
            nagle in any::<bool>(),
            mss in 1usize..40,
            read_size in 1usize..40,
            read_delay_us in 0u64..3000,
            raw in prop::collection::vec(
                (0u64..1500, prop::collection::vec(any::<u8>(), 0..30)),
                0..10,
            ),
        ) {
            let cfg = TcpSimConfig { nagle, mss, read_size, read_delay_us, ..TcpSimConfig::default() };
            let mut at = 0;
            let writes: Vec<(u64, Vec<u8>)> = raw
                .into_iter()
                .map(|(gap, bytes)| { at += gap; (at, bytes) })
                .collect();
            let trace = simulate_tcp(&cfg, &writes);
            let sends: Vec<Vec<u8>> = writes.iter().map(|(_, b)| b.clone()).collect();
            let reads: Vec<Vec<u8>> = trace.reads.iter().map(|r| r.data.clone()).collect();
            let ev = Evidence {
                read_size: Some(read_size),
                read_delay_us: Some(read_delay_us),
                nodelay: Some(!nagle),
                segments: Some(trace.segments.iter().map(|s| s.data.len()).collect()),
                segment_count: None,
            };
            let a = analyze(&sends, &reads, &ev);
            prop_assert_eq!(a.shape, brute_force(&sends, &reads));
            let sizes: Vec<usize> = reads.iter().map(Vec::len).collect();
            prop_assert_eq!(&analyze_sizes(&sends, &sizes, &ev), &a);
            prop_assert!(a.complete);
            // No Markdown: a backtick appears only when the data holds one.
            prop_assert!(!a.sentence.contains('`') || sends.iter().flatten().any(|&b| b == b'`'));
            for (read, parts) in reads.iter().zip(&a.reads) {
                let mut joined = Vec::new();
                let mut next = 0;
                for p in &parts.pieces {
                    let s = p.send.expect("a complete run has no extra bytes");
                    prop_assert_eq!(p.in_read.start, next);
                    next = p.in_read.end;
                    joined.extend_from_slice(&sends[s][p.in_send.clone()]);
                }
                prop_assert_eq!(next, read.len());
                prop_assert_eq!(&joined, read);
            }
            // Nagle is named only where the wire shows the sender joining writes.
            if a.causes.contains(&Cause::Nagle) {
                prop_assert!(nagle);
                let sizes: Vec<usize> = trace.segments.iter().map(|s| s.data.len()).collect();
                let mut start = 0;
                let joined = sends.iter().any(|s| {
                    start += s.len();
                    !s.is_empty() && inside_chunk(&sizes, start)
                });
                prop_assert!(joined, "a segment carries bytes of two sends");
            }
            if a.causes.contains(&Cause::ReadSize) {
                prop_assert!(a.reads.iter().any(|r| r.len == read_size));
            }
        }

        #[test]
        fn any_prefix_of_a_run_is_classified_without_panicking(
            sends in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..6),
            cuts in prop::collection::vec(1usize..6, 0..12),
            keep in 0usize..12,
        ) {
            let stream: Vec<u8> = sends.iter().flatten().copied().collect();
            let mut reads = Vec::new();
            let mut at = 0;
            for c in cuts.iter().take(keep) {
                if at >= stream.len() { break; }
                let end = (at + c).min(stream.len());
                reads.push(stream[at..end].to_vec());
                at = end;
            }
            let a = analyze(&sends, &reads, &Evidence::default());
            prop_assert_eq!(a.shape, brute_force_prefix(&sends, &reads));
            prop_assert_eq!(a.unread, stream.len() - at);
            prop_assert!(a.causes.is_empty());
        }
    }

    /// For an incomplete run a send counts as cut once a read ends inside it.
    fn brute_force_prefix(sends: &[Vec<u8>], reads: &[Vec<u8>]) -> Shape {
        let read_total: usize = reads.iter().map(Vec::len).sum();
        let mut padded = reads.to_vec();
        let total: usize = sends.iter().map(Vec::len).sum();
        if read_total < total {
            // Whatever comes later comes in another read.
            let stream: Vec<u8> = sends.iter().flatten().copied().collect();
            padded.push(stream[read_total..].to_vec());
        }
        let full = brute_force(sends, &padded);
        // The padding read may have merged sends that no real read merged yet.
        let merged_so_far = {
            let mut at = 0;
            let mut m = false;
            let labels: Vec<usize> = sends
                .iter()
                .enumerate()
                .flat_map(|(i, s)| std::iter::repeat_n(i, s.len()))
                .collect();
            for r in reads {
                let mut seen = labels[at..at + r.len()].to_vec();
                seen.dedup();
                m |= seen.len() > 1;
                at += r.len();
            }
            m
        };
        let split = matches!(full, Shape::Split | Shape::Both);
        match (read_total == 0, merged_so_far, split) {
            (true, ..) => Shape::Nothing,
            (_, false, false) => Shape::Aligned,
            (_, true, false) => Shape::Merged,
            (_, false, true) => Shape::Split,
            (_, true, true) => Shape::Both,
        }
    }
}
