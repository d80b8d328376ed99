//! Content identity: SHA-256 over a message's bytes with line endings
//! canonicalised. Callers run it off the async threads (`crate::hashing`,
//! and the copier in `apply/copy.rs` on the rayon pool).
//!
//! Servers rewrite line endings on APPEND (a bare LF stored as CRLF), so
//! CRLF, bare LF and bare CR all hash as CRLF. Nothing else is normalised
//! here; the second, header-folded fingerprint for rewriting servers is a
//! later addition.

use crate::model::Fingerprint;
use sha2::{Digest, Sha256};

/// The fingerprint of one message.
pub fn fingerprint(body: &[u8]) -> Fingerprint {
    if crlf_only(body) {
        // Already canonical (as servers deliver most mail): one update.
        return Fingerprint(Sha256::digest(body).into());
    }
    by_lines(body)
}

/// Every CR is followed by LF and every LF preceded by CR: the number of
/// CRLF pairs equals both the number of CRs and the number of LFs (a pair
/// never shares a byte with another). Counting vectorises; a branch per
/// byte does not.
fn crlf_only(body: &[u8]) -> bool {
    let count = |byte: u8| body.iter().filter(|&&b| b == byte).count();
    let pairs = body
        .iter()
        .zip(body.iter().skip(1))
        .filter(|&(&a, &b)| a == b'\r' && b == b'\n')
        .count();
    count(b'\r') == pairs && count(b'\n') == pairs
}

/// The fingerprint with every line ending rewritten to CRLF on the way.
fn by_lines(body: &[u8]) -> Fingerprint {
    let mut hasher = Sha256::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' => {
                hasher.update(&body[start..i]);
                hasher.update(b"\r\n");
                i += if body.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            b'\n' => {
                hasher.update(&body[start..i]);
                hasher.update(b"\r\n");
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    hasher.update(&body[start..]);
    Fingerprint(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_hash_the_same() {
        let crlf = fingerprint(b"Subject: x\r\n\r\nbody\r\nend\r\n");
        assert_eq!(crlf, fingerprint(b"Subject: x\n\nbody\nend\n"));
        assert_eq!(crlf, fingerprint(b"Subject: x\r\rbody\rend\r"));
        assert_eq!(crlf, fingerprint(b"Subject: x\r\n\nbody\rend\r\n"));
        assert_ne!(crlf, fingerprint(b"Subject: x\r\n\r\nbody\r\nend"));
    }

    #[test]
    fn canonical_bodies_are_recognised() {
        assert!(crlf_only(b""));
        assert!(crlf_only(b"a\r\nb\r\n\r\n"));
        assert!(!crlf_only(b"a\nb"));
        assert!(!crlf_only(b"a\rb"));
        assert!(!crlf_only(b"a\r\n\n"));
        assert!(!crlf_only(b"a\r\r\n"));
        assert!(!crlf_only(b"\r"));
    }

    proptest::proptest! {
        /// The one-update path gives the digest of the line-by-line path,
        /// for any bytes (line endings of every kind made likely).
        #[test]
        fn the_fast_path_gives_the_same_digest(
            body in proptest::collection::vec(
                proptest::prop_oneof![
                    3 => proptest::prelude::Just(b'\r'),
                    3 => proptest::prelude::Just(b'\n'),
                    1 => proptest::prelude::any::<u8>(),
                    2 => proptest::prelude::Just(b'x'),
                ],
                0..64,
            ),
            canonical in proptest::collection::vec("[a-z \t]{0,5}", 0..8),
        ) {
            proptest::prop_assert_eq!(fingerprint(&body), by_lines(&body));
            let crlf = canonical.join("\r\n").into_bytes();
            proptest::prop_assert!(crlf_only(&crlf));
            proptest::prop_assert_eq!(fingerprint(&crlf), by_lines(&crlf));
        }
    }

    #[test]
    fn empty_and_crlf_only_messages_are_distinct() {
        assert_ne!(fingerprint(b""), fingerprint(b"\r\n"));
        assert_eq!(fingerprint(b"\n"), fingerprint(b"\r\n"));
    }
}
