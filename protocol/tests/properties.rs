//! Property tests: framing holds for any payloads and any way the stream is cut.
//!
//! TCP may hand a reader the stream in any chunks at all; these tests check
//! that the decoder's answer never depends on where the cuts fall, and that no
//! input whatsoever makes it panic. They run natively (proptest) and, with the
//! same properties, on wasm32 under node.

use proptest::prelude::*;
use protocol::auth::{AuthServer, Verdict, respond};
use protocol::frame::{FrameDecoder, FrameError, encode_into};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Cuts `stream` at the given points (taken modulo its length) and decodes it.
fn decode_in_chunks(stream: &[u8], cuts: &[usize], max: usize) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.push(0);
    points.push(stream.len());
    points.sort_unstable();
    let mut decoder = FrameDecoder::new(max);
    let mut frames = Vec::new();
    for pair in points.windows(2) {
        decoder.feed(&stream[pair[0]..pair[1]]);
        while let Some(frame) = decoder.decode()? {
            frames.push(frame);
        }
    }
    decoder.finish()?;
    Ok(frames)
}

proptest! {
    #[test]
    fn any_split_decodes_to_the_same_frames(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let mut stream = Vec::new();
        for p in &payloads {
            encode_into(p, &mut stream).unwrap();
        }
        prop_assert_eq!(decode_in_chunks(&stream, &cuts, 1024).unwrap(), payloads);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        max in 0usize..4096,
    ) {
        // Any answer is fine; panicking or reserving the claimed length is not.
        let _ = decode_in_chunks(&bytes, &cuts, max);
        // Memory stays bounded by what arrived plus one frame of at most
        // `max`, whatever a header claims.
        let mut decoder = FrameDecoder::new(max);
        let mut fed = 0;
        for chunk in bytes.chunks(cuts.first().map_or(7, |c| c % 64 + 1)) {
            decoder.feed(chunk);
            fed += chunk.len();
            prop_assert!(
                decoder.reserved() <= max + fed,
                "{} bytes reserved after {fed} fed with a limit of {max}",
                decoder.reserved()
            );
            if decoder.decode().is_err() {
                break;
            }
        }
    }

    #[test]
    fn oversized_headers_are_refused_whatever_follows(
        claimed in 1025u32..,
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut stream = claimed.to_be_bytes().to_vec();
        stream.extend_from_slice(&tail);
        let err = decode_in_chunks(&stream, &[], 1024).unwrap_err();
        prop_assert_eq!(err, FrameError::TooLarge { claimed: claimed as u64, limit: 1024 });
    }

    #[test]
    fn auth_answer_accepted_however_split(
        challenge in any::<[u8; 32]>(),
        secret in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(0usize..=32, 0..6),
    ) {
        let answer = respond(&secret, &challenge);
        let mut server = AuthServer::with_challenge(&secret, challenge);
        let mut points = cuts.clone();
        points.extend([0, 32]);
        points.sort_unstable();
        for pair in points.windows(2) {
            server.handle_input(&answer[pair[0]..pair[1]]);
        }
        prop_assert_eq!(server.verdict(), Some(Verdict::Granted));
    }

    #[test]
    fn auth_never_grants_a_wrong_answer(
        challenge in any::<[u8; 32]>(),
        answer in any::<[u8; 32]>(),
    ) {
        prop_assume!(answer != respond(b"k", &challenge));
        let mut server = AuthServer::with_challenge(b"k", challenge);
        server.handle_input(&answer);
        prop_assert!(!server.verdict().unwrap().is_granted());
    }
}
