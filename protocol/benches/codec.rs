//! Is the course's frame decoder fast enough to hold up as an example?
//!
//! `protocol::frame` (the decoder every Socket Lab server and lab uses) against
//! tokio-util's `LengthDelimitedCodec`, the codec a Rust user would otherwise
//! reach for, configured the same way (4-byte big-endian length, the same
//! 1 MiB cap). Both decode the *same* byte stream, delivered in the same
//! chunks: 1 byte at a time (the worst case), 1460 bytes (one Ethernet-sized
//! TCP segment) and 64 KiB (a large `recv`), for frames of 16 B, 1 KiB and
//! 64 KiB. Encoding appends the same frames to a reused buffer.
//!
//! `cargo xtask bench` runs this with a short measurement time and reads the
//! estimates criterion writes under `target/criterion`; by hand:
//! `cargo bench -p protocol --bench codec`.

use std::hint::black_box;

use bytes::{Buf, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::frame::{DEFAULT_MAX_FRAME, FrameDecoder, encode_into};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// Frame payload sizes, with the names used in benchmark ids.
const FRAME_SIZES: [(usize, &str); 3] = [(16, "16B"), (1024, "1KiB"), (64 * 1024, "64KiB")];

/// How the stream is cut before it is fed, as `recv` might return it.
const CHUNKS: [usize; 3] = [1, 1460, 64 * 1024];

/// The two sides' names in benchmark ids.
const PROTOCOL: &str = "protocol";
const TOKIO_UTIL: &str = "tokio-util";

/// The order the two sides run in within each case: `protocol` first unless
/// `CODEC_BENCH_ORDER=tokio-util-first`. Whichever side runs second tends to
/// come out a few per cent faster on the memcpy-bound cases whatever its code,
/// so `cargo xtask bench` swaps the order between passes.
fn sides() -> [&'static str; 2] {
    match std::env::var("CODEC_BENCH_ORDER").as_deref() {
        Ok("tokio-util-first") => [TOKIO_UTIL, PROTOCOL],
        _ => [PROTOCOL, TOKIO_UTIL],
    }
}

/// About how many bytes each decoded stream holds.
const STREAM_BYTES: usize = 1 << 20;

/// About how many bytes each encoded stream holds: source and destination
/// together stay in a core's L2 cache, so large frames measure the encoder
/// rather than how much memory bandwidth other processes leave (at 1 MiB the
/// 64 KiB case moved by ±15 % between back-to-back runs).
const ENCODE_STREAM_BYTES: usize = 256 << 10;

/// Frames of `size` bytes each, about `stream` bytes in all, with varied payload bytes.
fn frames(size: usize, stream: usize) -> Vec<Vec<u8>> {
    let count = (stream / (size + 4)).max(1);
    (0..count)
        .map(|i| (0..size).map(|j| (i * 31 + j * 7) as u8).collect())
        .collect()
}

/// The frames as one byte stream, as a peer would send them.
fn stream_of(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        encode_into(f, &mut out).expect("small frames encode");
    }
    out
}

fn tokio_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .big_endian()
        .max_frame_length(DEFAULT_MAX_FRAME)
        .new_codec()
}

/// Decodes `stream` fed in `chunk`-byte pieces with `protocol`; returns frames seen.
fn decode_protocol(stream: &[u8], chunk: usize) -> usize {
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
    let mut seen = 0;
    for piece in stream.chunks(chunk) {
        decoder.feed(piece);
        while let Some(payload) = decoder.decode().expect("the stream is valid") {
            black_box(&payload);
            seen += 1;
        }
    }
    seen
}

/// The same with tokio-util: append to a `BytesMut`, then decode from it.
fn decode_tokio(stream: &[u8], chunk: usize) -> usize {
    let mut codec = tokio_codec();
    let mut buf = BytesMut::new();
    let mut seen = 0;
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(payload) = codec.decode(&mut buf).expect("the stream is valid") {
            black_box(&payload);
            seen += 1;
        }
    }
    seen
}

fn decode(c: &mut Criterion) {
    for (size, name) in FRAME_SIZES {
        let frames = frames(size, STREAM_BYTES);
        let stream = stream_of(&frames);
        let mut group = c.benchmark_group(format!("frame_decode_{name}"));
        group.throughput(Throughput::Bytes(stream.len() as u64));
        for chunk in CHUNKS {
            // Both must agree on the stream before either is timed.
            assert_eq!(decode_protocol(&stream, chunk), frames.len());
            assert_eq!(decode_tokio(&stream, chunk), frames.len());
            for side in sides() {
                let id = BenchmarkId::new(side, format!("chunk{chunk}"));
                if side == PROTOCOL {
                    group.bench_with_input(id, &chunk, |b, &chunk| {
                        b.iter(|| decode_protocol(&stream, chunk))
                    });
                } else {
                    group.bench_with_input(id, &chunk, |b, &chunk| {
                        b.iter(|| decode_tokio(&stream, chunk))
                    });
                }
            }
        }
        group.finish();
    }
}

/// An empty buffer for `total` bytes whose first byte sits at the same offset
/// within a 4 KiB page as `ours`'s: a memcpy's speed depends on how source and
/// destination addresses line up (4 KiB aliasing), and without this the two
/// sides of the 64 KiB case differed by up to 7 % from where the allocator put
/// their buffers, not from their code.
fn same_page_offset(ours: &[u8], total: usize) -> BytesMut {
    const PAGE: usize = 4096;
    let mut buf = BytesMut::with_capacity(total + PAGE);
    let shift = (ours.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize) % PAGE;
    buf.resize(shift, 0);
    buf.advance(shift);
    assert_eq!(buf.as_ptr() as usize % PAGE, ours.as_ptr() as usize % PAGE);
    buf
}

fn encode(c: &mut Criterion) {
    for (size, name) in FRAME_SIZES {
        let frames = frames(size, ENCODE_STREAM_BYTES);
        let total = stream_of(&frames).len();
        let mut group = c.benchmark_group(format!("frame_encode_{name}"));
        group.throughput(Throughput::Bytes(total as u64));
        // Reused output buffers: after the first iteration neither side allocates.
        let mut ours = Vec::with_capacity(total);
        let mut theirs = same_page_offset(&ours, total);
        let mut codec = tokio_codec();
        for side in sides() {
            if side == PROTOCOL {
                group.bench_function(side, |b| {
                    b.iter(|| {
                        ours.clear();
                        for f in &frames {
                            encode_into(f, &mut ours).expect("small frames encode");
                        }
                        black_box(ours.len())
                    })
                });
            } else {
                group.bench_function(side, |b| {
                    b.iter(|| {
                        theirs.clear();
                        for f in &frames {
                            codec
                                .encode(f.as_slice(), &mut theirs)
                                .expect("small frames encode");
                        }
                        black_box(theirs.len())
                    })
                });
            }
        }
        assert_eq!(ours.as_slice(), &theirs[..], "both write the same bytes");
        group.finish();
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
