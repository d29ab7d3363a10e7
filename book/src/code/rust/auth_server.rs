//! An HMAC-SHA256 challenge-response server, like the auth demo.
//!
//! Run:  cargo run -p book-samples --bin auth_server   (needs the hmac and sha2 crates) [PORT]   (default 8080; 0 = any)
//! Env:  SOCKET_LAB_SECRET (my_super_secret_key)
//!
//! Unix only as written: the challenge comes from /dev/urandom. In real code
//! use the `getrandom` (or `rand`) crate, which works everywhere.

use std::env;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

// ANCHOR: verify
/// Compares in time that depends only on the length, never on where the
/// first difference is. (Crates like `subtle` also stop the optimiser from
/// reintroducing an early exit; `hmac`'s `verify_slice` uses that.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn verify(conn: &mut TcpStream, secret: &[u8]) -> io::Result<bool> {
    let mut challenge = [0u8; 32];
    File::open("/dev/urandom")?.read_exact(&mut challenge)?; // fresh per connection
    conn.write_all(&challenge)?;
    let expected = hmac_sha256(secret, &challenge);

    conn.set_read_timeout(Some(Duration::from_secs(5)))?; // a silent client cannot hold us
    let mut answer = [0u8; 32];
    match conn.read_exact(&mut answer) {
        Ok(()) => Ok(constant_time_eq(&answer, &expected)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
// ANCHOR_END: verify

fn main() -> io::Result<()> {
    let port: u16 = env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let secret = env::var("SOCKET_LAB_SECRET").unwrap_or_else(|_| "my_super_secret_key".into());
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on {}", listener.local_addr()?);

    for conn in listener.incoming() {
        let mut conn = conn?;
        let peer = conn.peer_addr()?;
        match verify(&mut conn, secret.as_bytes()) {
            Ok(granted) => {
                let reply: &[u8] = if granted {
                    b"Access Granted"
                } else {
                    b"Access Denied"
                };
                let _ = conn.write_all(reply);
                println!("{peer} {}", if granted { "granted" } else { "denied" });
            }
            Err(e) => println!("{peer} error: {e}"),
        }
    } // `conn` is dropped at the end of each iteration: closed
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
