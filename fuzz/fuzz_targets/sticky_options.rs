//! Fuzz target: the `sticky` read settings a page sends (JSON) must never
//! panic the parser or the range check, and what passes the check must be in
//! range: a read size the server can allocate, a delay it can wait.
//!
//! Run with `cargo xtask fuzz` or `cargo +nightly fuzz run sticky_options`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::demo::StickyOptions;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Alone, and inside an `open` message as the bridge receives it.
    let alone = serde_json::from_str::<StickyOptions>(text).ok();
    let wrapped = format!(r#"{{"type":"open","sock":1,"demo":"sticky","sticky":{text}}}"#);
    let inside = match serde_json::from_str::<protocol::bridge::ClientMsg>(&wrapped) {
        Ok(protocol::bridge::ClientMsg::Open { sticky, .. }) => sticky,
        _ => None,
    };
    for options in [alone, inside].into_iter().flatten() {
        if let Ok(ok) = options.validate() {
            assert!((1..=StickyOptions::MAX_READ_SIZE).contains(&ok.read_size));
            assert!(ok.read_delay_ms <= StickyOptions::MAX_DELAY_MS);
        }
    }
});
