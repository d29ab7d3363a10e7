//! Bytes shown as hex: how events carry payloads in JSON and how labs print them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::events::MAX_EVENT_BYTES;

/// Bytes that serialize as a lowercase hex string (`"48656c6c6f"`), not a
/// JSON array of numbers.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl HexBytes {
    /// The first [`MAX_EVENT_BYTES`] of `bytes`.
    pub fn capped(bytes: &[u8]) -> Self {
        HexBytes(bytes[..bytes.len().min(MAX_EVENT_BYTES)].to_vec())
    }

    /// Lowercase hex, no separators.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// The bytes as text where printable, for logs: `"Hello\n"`.
    pub fn preview(&self) -> String {
        format!("{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexBytes({})", self.to_hex())
    }
}

/// Lowercase hex of `bytes`, no separators.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Hex with a space between bytes: `00 00 00 10 7b`.
pub fn to_spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&to_hex(&[*b]));
    }
    out
}

/// Parses hex (upper or lower case; spaces ignored).
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "hex needs two digits per byte, but {} digits were given",
            digits.len()
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| "hex must be ASCII".to_owned())?;
            u8::from_str_radix(s, 16).map_err(|_| format!("{s:?} is not a hex byte"))
        })
        .collect()
}

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        from_hex(&text)
            .map(HexBytes)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn hex_round_trips() {
        assert_eq!(to_hex(&[0, 0x10, 0xff]), "0010ff");
        assert_eq!(to_spaced_hex(&[0, 0x10, 0xff]), "00 10 ff");
        assert_eq!(from_hex("00 10 FF").unwrap(), vec![0, 0x10, 0xff]);
        assert!(from_hex("abc").is_err());
        assert!(from_hex("zz").is_err());
    }
}
