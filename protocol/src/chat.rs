//! The `chat` demo's rules, without any socket: what a newcomer is told,
//! what the others hear when someone joins, speaks or leaves, and how a
//! client's bytes are cut into lines.
//!
//! A chat room is the first demo whose connections affect each other, so the
//! room itself (who is in it, and how a message reaches each member) belongs
//! to the driver: the tokio server keeps a member list behind a lock, the
//! in-page simulation keeps its own. Both call these functions for every
//! byte they send, so the room answers the same in both. The per-connection
//! part (splitting lines, refusing a line that never ends) is the
//! conversation's `Chat` role in [`crate::conversation`], which hands each
//! complete line to the driver as an
//! [`Output::Broadcast`](crate::conversation::Output::Broadcast).

/// The longest line the demo takes, newline excluded.
pub const MAX_LINE: usize = 1024;

/// A member may send nothing for this many times the demos' idle timeout
/// (ten minutes by default): a chat client may only listen.
pub const IDLE_FACTOR: u64 = 10;

/// A member whose undelivered output passes this many bytes is dropped.
pub const MAX_PENDING: usize = 64 * 1024;

/// What a newcomer is told first: its own address as the server sees it and
/// how many others are in the room.
pub fn welcome(peer: &str, others: usize) -> Vec<u8> {
    let who = if others == 1 { "other" } else { "others" };
    format!("* you are {peer}; {others} {who} here\n").into_bytes()
}

/// What the others hear when `peer` joins.
pub fn joined(peer: &str) -> Vec<u8> {
    format!("* {peer} joined\n").into_bytes()
}

/// What the others hear when `peer` leaves, for whatever reason.
pub fn left(peer: &str) -> Vec<u8> {
    format!("* {peer} left\n").into_bytes()
}

/// What the others hear when `peer` says `line` (without its newline).
pub fn relay(peer: &str, line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(peer.len() + 3 + line.len());
    out.extend_from_slice(peer.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(line);
    out.push(b'\n');
    out
}

/// What a client is told before it is closed for a line that never ends.
pub fn too_long() -> Vec<u8> {
    format!("* line too long: at most {MAX_LINE} bytes per line; closing\n").into_bytes()
}

/// What a member is told before it is closed for saying nothing for `secs`.
pub fn idle(secs: u64) -> Vec<u8> {
    format!("* you sent nothing for {secs} s; closing\n").into_bytes()
}

/// One client's unfinished line: bytes in, complete lines out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Lines {
    partial: Vec<u8>,
}

/// What [`Lines::feed`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineStep {
    /// A complete, non-empty line, without `\n` or a trailing `\r`.
    Line(Vec<u8>),
    /// More than [`MAX_LINE`] bytes without a newline.
    TooLong,
}

impl Lines {
    /// Adds the bytes of one read; returns the lines they completed, in
    /// order. Empty lines are skipped. After `TooLong` nothing more is
    /// returned (the caller closes).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<LineStep> {
        let mut steps = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if !line.is_empty() {
                    steps.push(LineStep::Line(line));
                }
            } else if self.partial.len() == MAX_LINE {
                steps.push(LineStep::TooLong);
                self.partial.clear();
                return steps;
            } else {
                self.partial.push(b);
            }
        }
        steps
    }

    /// The client's stream ended: its last line, if it did not end in `\n`.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let mut line = std::mem::take(&mut self.partial);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        (!line.is_empty()).then_some(line)
    }

    /// Bytes held for the unfinished line.
    pub fn held(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn lines(steps: Vec<LineStep>) -> Vec<String> {
        steps
            .into_iter()
            .map(|s| match s {
                LineStep::Line(l) => String::from_utf8(l).unwrap(),
                LineStep::TooLong => "<too long>".into(),
            })
            .collect()
    }

    #[test]
    fn lines_are_cut_at_newlines_across_reads_and_crlf_is_accepted() {
        let mut l = Lines::default();
        assert!(l.feed(b"hel").is_empty());
        assert_eq!(lines(l.feed(b"lo\r\nbye\n\nand")), ["hello", "bye"]);
        assert_eq!(l.held(), 3);
        assert_eq!(l.finish(), Some(b"and".to_vec()));
        assert_eq!(l.finish(), None);
    }

    #[test]
    fn a_line_of_max_bytes_passes_and_one_more_is_too_long() {
        let mut l = Lines::default();
        let mut ok = vec![b'a'; MAX_LINE];
        ok.push(b'\n');
        assert_eq!(l.feed(&ok), vec![LineStep::Line(vec![b'a'; MAX_LINE])]);
        let long = vec![b'b'; MAX_LINE + 1];
        assert_eq!(l.feed(&long), vec![LineStep::TooLong]);
    }

    #[test]
    fn the_room_texts() {
        assert_eq!(
            welcome("127.0.0.1:5", 1),
            b"* you are 127.0.0.1:5; 1 other here\n"
        );
        assert_eq!(
            welcome("127.0.0.1:5", 2),
            b"* you are 127.0.0.1:5; 2 others here\n"
        );
        assert_eq!(relay("a:1", b"hi"), b"a:1: hi\n");
        assert_eq!(joined("a:1"), b"* a:1 joined\n");
        assert_eq!(left("a:1"), b"* a:1 left\n");
    }
}
