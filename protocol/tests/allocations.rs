//! The frame codec allocates nothing per frame beyond the payload it returns.
//!
//! A counting global allocator (`stats_alloc`) wraps the system one in this
//! test binary only. The stream, frame sizes and chunkings are the codec
//! benchmark's (`benches/codec.rs`); tokio-util's `LengthDelimitedCodec` is
//! counted alongside for reference. Each case prints one JSON line, which
//! `cargo xtask bench` copies into BENCHMARKS.md:
//! `cargo test -p protocol --test allocations -- --nocapture`.

#![cfg(not(target_arch = "wasm32"))]

use std::alloc::System;

use bytes::BytesMut;
use protocol::frame::{DEFAULT_MAX_FRAME, FrameDecoder, encode_into};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations a whole stream may cost beyond one per frame: the decoder's own
/// buffer growing to its working size (a handful of doublings).
const SLACK: usize = 40;

/// The payload every frame carries.
fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|j| j as u8).collect()
}

/// About 1 MiB of `size`-byte frames: (how many frames, the stream).
fn stream(size: usize) -> (usize, Vec<u8>) {
    let count = ((1 << 20) / (size + 4)).max(1);
    let payload = payload(size);
    let mut out = Vec::new();
    for _ in 0..count {
        encode_into(&payload, &mut out).unwrap();
    }
    (count, out)
}

/// Allocations plus reallocations while `f` runs (this binary runs one test, so
/// nothing else allocates meanwhile).
fn count(f: impl FnOnce() -> usize) -> (usize, usize) {
    let region = Region::new(GLOBAL);
    let frames = f();
    let stats = region.change();
    (frames, stats.allocations + stats.reallocations)
}

#[test]
fn decode_and_encode_allocate_only_payloads() {
    for size in [16, 1024, 64 * 1024] {
        let (frames, bytes) = stream(size);
        for chunk in [1, 1460, 64 * 1024] {
            let (seen, ours) = count(|| {
                let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME);
                let mut seen = 0;
                for piece in bytes.chunks(chunk) {
                    d.feed(piece);
                    while let Some(p) = d.decode().unwrap() {
                        assert_eq!(p.len(), size);
                        seen += 1;
                    }
                }
                seen
            });
            assert_eq!(seen, frames);
            let (seen, theirs) = count(|| {
                let mut codec = LengthDelimitedCodec::builder()
                    .max_frame_length(DEFAULT_MAX_FRAME)
                    .new_codec();
                let mut buf = BytesMut::new();
                let mut seen = 0;
                for piece in bytes.chunks(chunk) {
                    buf.extend_from_slice(piece);
                    while let Some(p) = codec.decode(&mut buf).unwrap() {
                        assert_eq!(p.len(), size);
                        seen += 1;
                    }
                }
                seen
            });
            assert_eq!(seen, frames);
            println!(
                r#"{{"alloc":"decode","frame":{size},"chunk":{chunk},"frames":{frames},"protocol_allocs":{ours},"tokio_util_allocs":{theirs}}}"#
            );
            assert!(
                ours <= frames + SLACK,
                "decoding {frames} frames of {size} B in {chunk}-byte chunks made {ours} allocations; \
                 at most one per frame (the payload) plus {SLACK} for the buffer is allowed"
            );
        }

        // Encoding into a buffer that already has room allocates nothing at all.
        let payload = payload(size);
        let mut out = Vec::with_capacity(bytes.len());
        let (_, ours) = count(|| {
            for _ in 0..frames {
                encode_into(&payload, &mut out).unwrap();
            }
            frames
        });
        let mut codec = LengthDelimitedCodec::new();
        let mut buf = BytesMut::with_capacity(bytes.len());
        let (_, theirs) = count(|| {
            for _ in 0..frames {
                codec.encode(payload.as_slice(), &mut buf).unwrap();
            }
            frames
        });
        println!(
            r#"{{"alloc":"encode","frame":{size},"frames":{frames},"protocol_allocs":{ours},"tokio_util_allocs":{theirs}}}"#
        );
        assert_eq!(ours, 0, "encode_into allocated with room to spare");
        assert!(out == bytes, "encode_into wrote the benchmark's stream");
    }
}
