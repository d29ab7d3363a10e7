//! Fuzz target: the frame decoder must never panic, whatever the bytes and
//! however they are cut, and must never hand back more than its limit.
//!
//! Run with `cargo +nightly fuzz run frame_decoder` (needs cargo-fuzz).

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::frame::FrameDecoder;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, the second the limit; the rest is the stream.
    let (chunk, max, stream) = match data {
        [c, m, rest @ ..] => (usize::from(*c).max(1), usize::from(*m) * 64, rest),
        _ => return,
    };
    let mut decoder = FrameDecoder::new(max);
    for piece in stream.chunks(chunk) {
        decoder.feed(piece);
        loop {
            match decoder.decode() {
                Ok(Some(frame)) => assert!(frame.len() <= max),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = decoder.finish();
});
