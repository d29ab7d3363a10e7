//! Authenticate to the auth demo with HMAC-SHA256 challenge-response.
//!
//! Run:  cargo run -p book-samples --bin auth_client   (needs the hmac and sha2 crates)
//! Env:  SOCKET_LAB_HOST (127.0.0.1), SOCKET_LAB_AUTH_PORT (8080),
//!       SOCKET_LAB_SECRET (my_super_secret_key)

use std::env;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> std::io::Result<()> {
    let host = env::var("SOCKET_LAB_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = env::var("SOCKET_LAB_AUTH_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let secret = env::var("SOCKET_LAB_SECRET").unwrap_or_else(|_| "my_super_secret_key".into());

    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;

    // ANCHOR: answer
    let mut challenge = [0u8; 32];
    stream.read_exact(&mut challenge)?; // all 32 bytes, however many reads it takes
    let answer = hmac_sha256(secret.as_bytes(), &challenge);
    stream.write_all(&answer)?;

    let mut verdict = String::new();
    stream.read_to_string(&mut verdict)?; // the server closes after its verdict
    // ANCHOR_END: answer

    println!("challenge: {}", hex(&challenge));
    println!("answer:    {}", hex(&answer));
    println!("Server says: {verdict}");
    Ok(())
}

// ANCHOR: crypto
/// HMAC-SHA256 with the RustCrypto `hmac` and `sha2` crates, the same ones the
/// Socket Lab server uses. Never write your own cryptography.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}
// ANCHOR_END: crypto
