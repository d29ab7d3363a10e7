//! Turns a [`Failure`] into the text a learner reads.
//!
//! Bytes are shown as text when they are printable and as hex otherwise; an
//! expected/got pair also gets a hex dump of the line where they first
//! differ, with that byte marked. Nothing here prints a time or a port, so
//! the same failure renders to the same bytes.

use std::fmt::Write as _;

use protocol::hex;

use super::failure::Failure;

/// Longest stretch of bytes shown inline before it is cut.
const INLINE_CAP: usize = 64;
/// Most transcript lines shown; the rest are counted.
const TRANSCRIPT_CAP: usize = 40;

/// `13 bytes "Hello, Server"` or `6 bytes [00 00 00 02 7b 7d  ····{}]`, cut
/// after [`INLINE_CAP`] bytes.
pub(crate) fn bytes(data: &[u8]) -> String {
    let shown = &data[..data.len().min(INLINE_CAP)];
    let more = if data.len() > INLINE_CAP {
        format!(" … and {} more", data.len() - INLINE_CAP)
    } else {
        String::new()
    };
    let plural = if data.len() == 1 { "byte" } else { "bytes" };
    let body = match hex::shown(shown) {
        hex::Shown::Text(text) => format!("{text:?}"),
        hex::Shown::Binary { hex, ascii } => format!("[{hex}  {ascii}]"),
    };
    format!("{} {plural} {body}{more}", data.len())
}

/// Where two byte strings first differ (`None` when equal).
pub(crate) fn first_difference(expected: &[u8], got: &[u8]) -> Option<usize> {
    if expected == got {
        return None;
    }
    Some(
        expected
            .iter()
            .zip(got)
            .position(|(a, b)| a != b)
            .unwrap_or(expected.len().min(got.len())),
    )
}

/// A 4-byte length header and what followed it, e.g.
/// `length field: 23 (bytes 00 00 00 17) / payload received: 19 bytes`.
pub(crate) fn length_field(frame: &[u8]) -> String {
    match hex::FrameHeader::parse(frame) {
        Some(header) => format!(
            "length field: {} (bytes {}) / payload received: {} bytes",
            header.len,
            hex::to_spaced_hex(&header.bytes),
            frame.len() - 4
        ),
        None => format!(
            "length field: incomplete, only {} of its 4 bytes arrived ({})",
            frame.len(),
            hex::to_spaced_hex(frame)
        ),
    }
}

/// The 16-byte hex line of `data` that holds `at`, and the marker under it.
fn dump_line(label: &str, data: &[u8], at: usize, out: &mut String) -> usize {
    let start = at - at % 16;
    let line = &data[start.min(data.len())..(start + 16).min(data.len())];
    let hex = hex::to_spaced_hex(line);
    let _ = writeln!(
        out,
        "      {label:<8} {start:08x}  {hex:<47}  {}",
        hex::to_ascii_column(line)
    );
    // Column of the marked byte: label (8) + space + offset (8) + two spaces.
    6 + 8 + 1 + 8 + 2 + (at - start) * 3
}

/// The expected/got block: both inline, then the hex line where they part.
fn comparison(expected: &[u8], got: &[u8], out: &mut String) {
    let _ = writeln!(out, "    expected: {}", bytes(expected));
    let _ = writeln!(out, "    got:      {}", bytes(got));
    let Some(at) = first_difference(expected, got) else {
        return;
    };
    let what = if at >= got.len() {
        format!(
            "what came back ends at byte {at}, {} bytes short",
            expected.len() - at
        )
    } else if at >= expected.len() {
        format!("{} extra bytes from byte {at} on", got.len() - at)
    } else {
        format!(
            "first difference at byte {at}: expected {:02x}, got {:02x}",
            expected[at], got[at]
        )
    };
    let _ = writeln!(out, "    {what}:");
    let column = dump_line("expected", expected, at, out);
    dump_line("got", got, at, out);
    let _ = writeln!(out, "{}^^", " ".repeat(column));
}

/// The whole report of one failed stage (without the stage's title line).
pub(crate) fn render(failure: &Failure) -> String {
    let mut out = String::new();
    for line in failure.what.lines() {
        let _ = writeln!(out, "    {line}");
    }
    if let Some(sent) = &failure.sent {
        let _ = writeln!(out, "    sent:     {}", bytes(sent));
    }
    if let Some(compared) = &failure.compared {
        comparison(&compared.0, &compared.1, &mut out);
    }
    for note in &failure.notes {
        let _ = writeln!(out, "    {note}");
    }
    if !failure.transcript.is_empty() {
        let _ = writeln!(
            out,
            "    reads and writes, as they happened (→ socket-lab wrote, ← socket-lab read):"
        );
        for line in failure.transcript.iter().take(TRANSCRIPT_CAP) {
            let _ = writeln!(out, "      {line}");
        }
        if failure.transcript.len() > TRANSCRIPT_CAP {
            let _ = writeln!(
                out,
                "      … {} more",
                failure.transcript.len() - TRANSCRIPT_CAP
            );
        }
    }
    if let Some(bug) = failure.bug {
        let _ = writeln!(out, "    likely bug: {}", bug.name());
        let _ = writeln!(out, "    read: book/{}", bug.book());
    }
    out
}

/// A program's captured output, last lines first cut, each line marked with
/// its stream (`stdout| …`), for the end of a failure report.
pub(crate) fn program_output(stream: &str, data: &[u8], max_lines: usize) -> String {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(max_lines);
    let mut out = String::new();
    if skip > 0 {
        let _ = writeln!(out, "    {stream}| … {skip} earlier lines");
    }
    for line in &lines[skip..] {
        let _ = writeln!(out, "    {stream}| {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_is_marked_under_its_byte() {
        let failure = Failure::new("short").compare(b"ACK: Hello, Server", b"ACK: Hel");
        let text = render(&failure);
        assert!(text.contains("ends at byte 8, 10 bytes short"), "{text}");
        let marker = text.lines().find(|l| l.trim() == "^^").unwrap();
        let got = text
            .lines()
            .find(|l| l.trim_start().starts_with("got "))
            .unwrap();
        let column = marker.find('^').unwrap();
        assert_eq!(
            &got[column - 3..column - 1],
            "6c",
            "the marker follows the last byte"
        );
        assert_eq!(column, 25 + 3 * 8);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"abc", b"abc"), None);
    }

    #[test]
    fn length_fields_are_decoded() {
        let mut frame = vec![0, 0, 0, 23];
        frame.extend_from_slice(&[b'x'; 19]);
        assert_eq!(
            length_field(&frame),
            "length field: 23 (bytes 00 00 00 17) / payload received: 19 bytes"
        );
        assert!(length_field(&[0, 0]).contains("only 2 of its 4 bytes"));
        assert_eq!(bytes(b"hi"), "2 bytes \"hi\"");
        assert!(bytes(&[0; 100]).ends_with("… and 36 more"));
    }
}
