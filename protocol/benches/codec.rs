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

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::frame::{DEFAULT_MAX_FRAME, FrameDecoder, encode_into};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// Frame payload sizes, with the names used in benchmark ids.
const FRAME_SIZES: [(usize, &str); 3] = [(16, "16B"), (1024, "1KiB"), (64 * 1024, "64KiB")];

/// How the stream is cut before it is fed, as `recv` might return it.
const CHUNKS: [usize; 3] = [1, 1460, 64 * 1024];

/// About how many bytes each stream holds.
const STREAM_BYTES: usize = 1 << 20;

/// `count` frames of `size` bytes each, with varied payload bytes.
fn frames(size: usize) -> Vec<Vec<u8>> {
    let count = (STREAM_BYTES / (size + 4)).max(1);
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
        let frames = frames(size);
        let stream = stream_of(&frames);
        let mut group = c.benchmark_group(format!("frame_decode_{name}"));
        group.throughput(Throughput::Bytes(stream.len() as u64));
        for chunk in CHUNKS {
            // Both must agree on the stream before either is timed.
            assert_eq!(decode_protocol(&stream, chunk), frames.len());
            assert_eq!(decode_tokio(&stream, chunk), frames.len());
            group.bench_with_input(
                BenchmarkId::new("protocol", format!("chunk{chunk}")),
                &chunk,
                |b, &chunk| b.iter(|| decode_protocol(&stream, chunk)),
            );
            group.bench_with_input(
                BenchmarkId::new("tokio-util", format!("chunk{chunk}")),
                &chunk,
                |b, &chunk| b.iter(|| decode_tokio(&stream, chunk)),
            );
        }
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    for (size, name) in FRAME_SIZES {
        let frames = frames(size);
        let total = stream_of(&frames).len();
        let mut group = c.benchmark_group(format!("frame_encode_{name}"));
        group.throughput(Throughput::Bytes(total as u64));
        // Reused output buffers: after the first iteration neither side allocates.
        let mut ours = Vec::with_capacity(total);
        group.bench_function("protocol", |b| {
            b.iter(|| {
                ours.clear();
                for f in &frames {
                    encode_into(f, &mut ours).expect("small frames encode");
                }
                black_box(ours.len())
            })
        });
        let mut codec = tokio_codec();
        let mut theirs = BytesMut::with_capacity(total);
        group.bench_function("tokio-util", |b| {
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
        assert_eq!(ours.as_slice(), &theirs[..], "both write the same bytes");
        group.finish();
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
