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
fn hmac_matches_python() {
    // python3 -c "import hmac, hashlib; print(hmac.new(b'my_super_secret_key',
    //     bytes([9] * 32), hashlib.sha256).hexdigest())"
    let expected = "4546b17b0ed20504fd98421bddfe340e6b7381ae392109b6f35c9fd91787d60f";
    let got = wasm_client::hmac_response(b"my_super_secret_key", &[9u8; 32]);
    assert_eq!(protocol::hex::to_hex(&got), expected);
}
