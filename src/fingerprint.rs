//! Content identity: SHA-256 over a message's bytes with line endings
//! canonicalised. Callers run it on the rayon pool, off the async threads.
//!
//! Servers rewrite line endings on APPEND (a bare LF stored as CRLF), so
//! CRLF, bare LF and bare CR all hash as CRLF. Nothing else is normalised
//! here; the second, header-folded fingerprint for rewriting servers is a
//! later addition.

use crate::model::Fingerprint;
use sha2::{Digest, Sha256};

/// The fingerprint of one message.
pub fn fingerprint(body: &[u8]) -> Fingerprint {
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
    fn empty_and_crlf_only_messages_are_distinct() {
        assert_ne!(fingerprint(b""), fingerprint(b"\r\n"));
        assert_eq!(fingerprint(b"\n"), fingerprint(b"\r\n"));
    }
}
