//! Python interoperability: frames made by Python's `struct` + `json` decode
//! here, and ours decode in Python. Runs the real `python3`.

#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;
use std::process::{Command, Stdio};

use protocol::auth;
use protocol::frame::{FrameDecoder, decode_json, encode_json};
use serde_json::{Value, json};

fn python(script: &str, stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 must be installed to run the interoperability tests");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed: {out:?}");
    out.stdout
}

fn samples() -> Vec<Value> {
    vec![
        json!({"msg": "Hello"}),
        json!({"user": "ada", "scores": [1, 2, 3], "ok": true, "none": null}),
        json!({"text": "héllo wörld ✓ \u{1F600}", "nested": {"a": [{"b": "c"}]}}),
        json!([]),
        json!("just a string"),
        json!({"big": "x".repeat(70_000)}),
    ]
}

#[test]
fn python_frames_decode_in_rust() {
    let script = r#"
import json, struct, sys
objs = json.loads(sys.stdin.read())
out = b''
for obj in objs:
    b = json.dumps(obj).encode('utf-8')
    out += struct.pack('!I', len(b)) + b
sys.stdout.buffer.write(out)
"#;
    let objs = samples();
    let stream = python(script, serde_json::to_string(&objs).unwrap().as_bytes());
    let mut decoder = FrameDecoder::default();
    let mut got = Vec::new();
    // Feed it in awkward 7-byte pieces, as a socket might.
    for chunk in stream.chunks(7) {
        decoder.feed(chunk);
        while let Some(payload) = decoder.decode().unwrap() {
            got.push(decode_json::<Value>(&payload).unwrap());
        }
    }
    decoder.finish().unwrap();
    assert_eq!(got, objs);

    // And byte for byte: our encoder writes exactly what Python wrote.
    let ours: Vec<u8> = objs.iter().flat_map(|o| encode_json(o).unwrap()).collect();
    assert_eq!(ours, stream);
}

#[test]
fn rust_frames_decode_in_python() {
    let script = r#"
import json, struct, sys
data = sys.stdin.buffer.read()
objs = []
while data:
    (n,) = struct.unpack('!I', data[:4])
    objs.append(json.loads(data[4:4 + n].decode('utf-8')))
    data = data[4 + n:]
print(json.dumps(objs))
"#;
    let objs = samples();
    let stream: Vec<u8> = objs.iter().flat_map(|o| encode_json(o).unwrap()).collect();
    let out = python(script, &stream);
    let back: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(back, Value::Array(objs));
}

#[test]
fn python_hmac_agrees() {
    let script = r#"
import hmac, sys
challenge = sys.stdin.buffer.read()
sys.stdout.write(hmac.new(b'my_super_secret_key', challenge, 'sha256').hexdigest())
"#;
    let challenge: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37)).collect();
    let out = python(script, &challenge);
    let ours = protocol::hex::to_hex(&auth::respond(auth::DEFAULT_SECRET.as_bytes(), &challenge));
    assert_eq!(String::from_utf8(out).unwrap(), ours);
}
