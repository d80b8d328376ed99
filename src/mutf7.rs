//! Modified UTF-7 (RFC 3501 §5.1.3), the encoding of mailbox names on the
//! wire for servers without UTF8=ACCEPT.
//!
//! Owns the codec only: [`decode`] turns a wire name (or one level of it)
//! into text for display and matching, [`encode`] turns text into its one
//! canonical wire form. Decoding is strict: anything [`encode`] would not
//! have produced — a byte outside printable ASCII, an unterminated or empty
//! shift, base64 that encodes printable ASCII, padding bits that are not
//! zero, an unpaired surrogate, two shifts side by side — is an error,
//! never a panic. So decoding is one-to-one: two different wire names never
//! decode to the same text, and `encode(decode(w)?) == w`.
//!
//! It does not decide what to do with a name that does not decode; callers
//! keep the wire name exactly as listed in any case.

use std::fmt;

/// Why a wire name is not canonical modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutf7Error {
    /// A byte outside printable US-ASCII (0x20–0x7e) at this byte offset.
    NotPrintableAscii { offset: usize },
    /// A shift (`&…`) with no closing `-`, from this byte offset.
    Unterminated { offset: usize },
    /// A character inside a shift that is not modified base64.
    BadBase64 { offset: usize },
    /// The shift starting at this offset does not hold whole UTF-16 text
    /// (an unpaired surrogate, stray or non-zero padding bits).
    BadUtf16 { offset: usize },
    /// It decodes, but is not the form an encoder produces (printable
    /// ASCII in base64, two shifts side by side).
    NotCanonical,
}

impl fmt::Display for Mutf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutf7Error::NotPrintableAscii { offset } => {
                write!(f, "byte {offset} is not printable ASCII")
            }
            Mutf7Error::Unterminated { offset } => {
                write!(f, "the '&' at byte {offset} is never closed by '-'")
            }
            Mutf7Error::BadBase64 { offset } => {
                write!(f, "byte {offset} is not modified base64")
            }
            Mutf7Error::BadUtf16 { offset } => {
                write!(f, "the shift at byte {offset} is not valid UTF-16")
            }
            Mutf7Error::NotCanonical => write!(f, "not in canonical form"),
        }
    }
}

impl std::error::Error for Mutf7Error {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn sextet(b: u8) -> Option<u32> {
    ALPHABET.iter().position(|&c| c == b).map(|p| p as u32)
}

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// The text a modified UTF-7 wire name stands for.
pub fn decode(wire: &str) -> Result<String, Mutf7Error> {
    let bytes = wire.as_bytes();
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(0x20..=0x7e).contains(&b) {
            return Err(Mutf7Error::NotPrintableAscii { offset: i });
        }
        if b != b'&' {
            out.push(b as char);
            i += 1;
            continue;
        }
        let start = i;
        let end = bytes[start + 1..]
            .iter()
            .position(|&c| c == b'-')
            .map(|p| start + 1 + p)
            .ok_or(Mutf7Error::Unterminated { offset: start })?;
        if end == start + 1 {
            out.push('&');
        } else {
            decode_shift(&bytes[start + 1..end], start, &mut out)?;
        }
        i = end + 1;
    }
    // Strict: only the one form an encoder produces is accepted.
    if encode(&out) != wire {
        return Err(Mutf7Error::NotCanonical);
    }
    Ok(out)
}

/// Decodes the base64 between `&` and `-` (UTF-16BE) onto `out`.
fn decode_shift(b64: &[u8], offset: usize, out: &mut String) -> Result<(), Mutf7Error> {
    let mut units: Vec<u16> = Vec::with_capacity(b64.len() * 6 / 16);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (k, &c) in b64.iter().enumerate() {
        let v = sextet(c).ok_or(Mutf7Error::BadBase64 {
            offset: offset + 1 + k,
        })?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push((acc >> bits) as u16);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits are padding: fewer than six of them, all zero.
    if bits >= 6 || acc != 0 || units.is_empty() {
        return Err(Mutf7Error::BadUtf16 { offset });
    }
    for c in char::decode_utf16(units) {
        out.push(c.map_err(|_| Mutf7Error::BadUtf16 { offset })?);
    }
    Ok(())
}

/// The canonical modified UTF-7 form of `text`.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run: Vec<u16> = Vec::new();
    for c in text.chars() {
        if is_direct(c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Writes a pending run of UTF-16 units as `&base64-`.
fn flush(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out.push('-');
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3501_examples_and_common_names() {
        let cases = [
            ("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"),
            ("Entw&APw-rfe", "Entwürfe"),
            ("&-", "&"),
            ("Tom &- Jerry", "Tom & Jerry"),
            ("Gel&APY-schte Elemente", "Gelöschte Elemente"),
            ("&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-", "Отправленные"),
            ("&2D3eAA-", "😀"),
            ("f\\\"o!o [b*a%r]", "f\\\"o!o [b*a%r]"),
            ("a b ", "a b "),
            ("", ""),
        ];
        for (wire, text) in cases {
            assert_eq!(decode(wire).as_deref(), Ok(text), "decode {wire:?}");
            assert_eq!(encode(text), wire, "encode {text:?}");
        }
    }

    #[test]
    fn malformed_names_are_errors_not_panics() {
        let bad: [(&str, Mutf7Error); 10] = [
            ("bad&AOQ", Mutf7Error::Unterminated { offset: 3 }),
            ("x&AC8-y", Mutf7Error::NotCanonical), // '/' must be written as itself
            ("&AOQ-&AOQ-", Mutf7Error::NotCanonical), // one shift, not two
            ("&AOR-", Mutf7Error::BadUtf16 { offset: 0 }), // padding bits set
            ("&A-", Mutf7Error::BadUtf16 { offset: 0 }),
            ("&2D0-", Mutf7Error::BadUtf16 { offset: 0 }), // lone high surrogate
            ("a&A.Q-", Mutf7Error::BadBase64 { offset: 3 }),
            ("Entwürfe", Mutf7Error::NotPrintableAscii { offset: 4 }),
            ("tab\there", Mutf7Error::NotPrintableAscii { offset: 3 }),
            ("&", Mutf7Error::Unterminated { offset: 0 }),
        ];
        for (wire, err) in bad {
            assert_eq!(decode(wire), Err(err), "{wire:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_round_trips(text in any::<String>()) {
            let wire = encode(&text);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(&wire), Ok(text));
        }

        #[test]
        fn decoding_is_one_to_one(wire in "[ -~]{0,24}") {
            if let Ok(text) = decode(&wire) {
                prop_assert_eq!(encode(&text), wire);
            }
        }

        #[test]
        fn shifts_with_arbitrary_content_never_panic(
            parts in proptest::collection::vec(("[A-Za-z0-9+,/=&.-]{0,9}", any::<bool>()), 0..5)
        ) {
            let wire: String = parts
                .iter()
                .map(|(p, shift)| if *shift { format!("&{p}-") } else { p.clone() })
                .collect();
            if let Ok(text) = decode(&wire) {
                prop_assert_eq!(encode(&text), wire);
            }
        }
    }
}
