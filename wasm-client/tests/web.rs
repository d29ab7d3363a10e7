//! The wasm exports, tested in wasm (node) with wasm-bindgen-test.

#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn frames_the_playground_example_like_python() {
    let bytes = wasm_client::encode_frame(r#"{"msg": "Hello"}"#).unwrap();
    assert_eq!(
        bytes,
        [
            0x00, 0x00, 0x00, 0x10, 0x7b, 0x22, 0x6d, 0x73, 0x67, 0x22, 0x3a, 0x20, 0x22, 0x48,
            0x65, 0x6c, 0x6c, 0x6f, 0x22, 0x7d
        ]
    );
    assert_eq!(
        wasm_client::decode_frames(&bytes).unwrap(),
        vec![r#"{"msg": "Hello"}"#.to_owned()]
    );
}

#[wasm_bindgen_test]
fn hmac_matches_the_protocol_crate() {
    let challenge = [9u8; 32];
    assert_eq!(
        wasm_client::hmac_response(b"my_super_secret_key", &challenge),
        protocol::auth::respond(b"my_super_secret_key", &challenge).to_vec()
    );
}
