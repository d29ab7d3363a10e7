//! Fuzz target: the bridge's message parsers, which read whatever a web page
//! (or a check publisher) sends, must never panic, and what they accept must
//! round-trip.
//!
//! Run with `cargo xtask fuzz` or `cargo +nightly fuzz run bridge_message`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::bridge::{ClientMsg, decode_read, decode_send, encode_send, read_header};
use protocol::check::CheckMsg;

fuzz_target!(|data: &[u8]| {
    // As a text frame: JSON control messages.
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(msg) = serde_json::from_str::<ClientMsg>(text)
    {
        let again = serde_json::to_string(&msg).expect("a parsed message serializes");
        let back: ClientMsg = serde_json::from_str(&again).expect("and parses again");
        assert_eq!(back, msg);
    }
    // As a check run's message on `/check/publish`: parsed, bounded, round-tripped.
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(msg) = serde_json::from_str::<CheckMsg>(text)
    {
        let _ = msg.validate();
        let again = serde_json::to_string(&msg).expect("a parsed message serializes");
        let back: CheckMsg = serde_json::from_str(&again).expect("and parses again");
        assert_eq!(back, msg);
    }
    // As a binary frame: `D` (page to server), and `R` (server to page).
    if let Ok((sock, payload)) = decode_send(data) {
        assert_eq!(encode_send(sock, payload), data);
    }
    if let Ok(read) = decode_read(data) {
        let mut frame = read_header(read.sock, read.at_us).to_vec();
        frame.extend_from_slice(read.data);
        assert_eq!(frame, data);
    }
});
