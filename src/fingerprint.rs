//! Content identity: SHA-256 over a message's bytes with line endings
//! canonicalised. Callers run it off the async threads (`crate::hashing`,
//! and the copier in `apply/copy.rs` on the rayon pool).
//!
//! Servers rewrite line endings on APPEND (a bare LF stored as CRLF), so
//! CRLF, bare LF and bare CR all hash as CRLF. Nothing else is normalised
//! in the exact fingerprint.
//!
//! Beside it, [`fingerprints`] gives a second, looser fingerprint (version
//! [`NORMALISATION_VERSION`]) for messages the exact one leaves unpaired:
//! exactly the rewrites measured on the servers in the test matrix, and no
//! more (docs/COMPATIBILITY.md):
//!
//! - every CR is dropped and every LF is a CRLF (Courier removes every CR
//!   on APPEND, a bare CR included; Dovecot serves `\r\r\n` as `\r\n`);
//! - a message ends in exactly one line break: one is added where it has
//!   none, and a run of them at the end counts as one (Courier adds a line
//!   break after a final bare CR it then drops, so `end\r\n\r` is served
//!   `end\r\n\r\n` by Courier and `end\r\n` by Dovecot: measured on the
//!   shared corpora, `mail-parser/legacy/049.eml`);
//! - NUL is 0x80 (Dovecot serves NUL as 0x80 in `BODY[]`);
//! - in the message's header (up to the first empty line), every byte
//!   ≥ 0x80 is `X` (Cyrus folds 8-bit header bytes so).
//!
//! A message these rules leave unchanged (7-bit header, CRLF line ends, one
//! final line break, no NUL: most mail) has a normalised fingerprint equal
//! to its exact one, and costs no second pass of SHA-256.

use crate::model::Fingerprint;
use sha2::{Digest, Sha256};

/// The version of the normalisation rules above. Stored beside every
/// normalised fingerprint, so that a change of the rules is seen (the old
/// values are then unknown, not compared) instead of silently mismatching.
pub const NORMALISATION_VERSION: u32 = 2;

/// Both fingerprints of one message: the exact one and the normalised one.
pub fn fingerprints(body: &[u8]) -> (Fingerprint, Fingerprint) {
    if crlf_only(body) {
        let exact = Fingerprint(Sha256::digest(body).into());
        if normalising_keeps(body) {
            return (exact, exact);
        }
        return (exact, by_normalised_lines(body));
    }
    (by_lines(body), by_normalised_lines(body))
}

/// A body already in canonical CRLF form that the normalisation leaves as
/// it is: it ends in one line break (or is empty), holds no NUL, and its
/// header holds no byte ≥ 0x80.
fn normalising_keeps(body: &[u8]) -> bool {
    let ends_well = body.is_empty() || (body.ends_with(b"\n") && !body.ends_with(b"\n\r\n"));
    ends_well && !body.contains(&0) && header(body).is_ascii()
}

/// The header of a message: up to its first empty line (the whole message
/// when it has none).
fn header(body: &[u8]) -> &[u8] {
    let mut at_line_start = true;
    for (i, &b) in body.iter().enumerate() {
        match b {
            b'\n' if at_line_start => return &body[..i],
            b'\n' => at_line_start = true,
            b'\r' => {}
            _ => at_line_start = false,
        }
    }
    body
}

/// The normalised fingerprint, the bytes rewritten on the way. Line breaks
/// are held back until more text follows them, so that a run of them at
/// the end becomes the one final line break.
fn by_normalised_lines(body: &[u8]) -> Fingerprint {
    let header_len = header(body).len();
    let mut hasher = Sha256::new();
    let mut out = Vec::with_capacity(body.len().min(64 * 1024) + 2);
    let mut held_breaks = 0usize;
    let mut any_text = false;
    for (i, &b) in body.iter().enumerate() {
        let b = match b {
            b'\r' => continue,
            b'\n' => {
                held_breaks += 1;
                continue;
            }
            0 => 0x80,
            other => other,
        };
        for _ in 0..std::mem::take(&mut held_breaks) {
            out.extend_from_slice(b"\r\n");
            if out.len() >= 64 * 1024 {
                hasher.update(&out);
                out.clear();
            }
        }
        out.push(if b >= 0x80 && i < header_len { b'X' } else { b });
        any_text = true;
        if out.len() >= 64 * 1024 {
            hasher.update(&out);
            out.clear();
        }
    }
    if any_text || held_breaks > 0 {
        out.extend_from_slice(b"\r\n");
    }
    hasher.update(&out);
    Fingerprint(hasher.finalize().into())
}

/// The fingerprint of one message.
pub fn fingerprint(body: &[u8]) -> Fingerprint {
    if crlf_only(body) {
        // Already canonical (as servers deliver most mail): one update.
        return Fingerprint(Sha256::digest(body).into());
    }
    by_lines(body)
}

/// Every CR is followed by LF and every LF preceded by CR: the first byte
/// is no LF, the last no CR, and for every two adjacent bytes the first is
/// a CR exactly when the second is an LF. One pass without a branch per
/// byte, so it vectorises (three counting passes, as before, took most of
/// a repair's hashing time: issue 18); a chunk at a time, so that a body
/// that fails early is not read to its end.
fn crlf_only(body: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (body.first(), body.last()) else {
        return true;
    };
    if first == b'\n' || last == b'\r' {
        return false;
    }
    let (this, next) = (&body[..body.len() - 1], &body[1..]);
    this.chunks(256).zip(next.chunks(256)).all(|(this, next)| {
        let odd = this.iter().zip(next).fold(0u8, |odd, (&a, &b)| {
            odd | ((a == b'\r') as u8 ^ (b == b'\n') as u8)
        });
        odd == 0
    })
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

    fn normalised(body: &[u8]) -> Fingerprint {
        fingerprints(body).1
    }

    /// What each server in the matrix does to a message on APPEND or
    /// FETCH (docs/COMPATIBILITY.md), as the normalised fingerprint sees it.
    #[test]
    fn the_measured_rewrites_normalise_to_the_original() {
        let n = normalised;
        // Courier: every CR removed (a bare CR too), a final line break added.
        let original = b"Subject: x\r\n\r\nbody\rmore\r\nend";
        assert_eq!(n(original), n(b"Subject: x\r\n\r\nbodymore\r\nend\r\n"));
        assert_eq!(n(original), n(b"Subject: x\n\nbodymore\nend\n"));
        // Dovecot: NUL served as 0x80, `\r\r\n` as `\r\n`.
        assert_eq!(n(b"S: x\r\n\r\na\0b\r\r\n"), n(b"S: x\r\n\r\na\x80b\r\n"));
        // Cyrus: 8-bit header bytes folded to X, the body left alone.
        let utf8 = "Subject: café\r\n\r\ncafé\r\n".as_bytes();
        let folded = b"Subject: cafXX\r\n\r\ncaf\xc3\xa9\r\n";
        assert_eq!(n(utf8), n(folded));
        assert_ne!(fingerprint(utf8), fingerprint(folded));
    }

    /// Courier after a final bare CR: it drops the CR and adds a line
    /// break, because the message did not end in one; Dovecot drops it.
    /// Both copies and the original pair (shared corpora, 049.eml).
    #[test]
    fn a_run_of_line_breaks_at_the_end_counts_as_one() {
        let n = normalised;
        let original = b"Subject: x\r\n\r\nend\r\n\r";
        let courier = b"Subject: x\r\n\r\nend\r\n\r\n";
        let dovecot = b"Subject: x\r\n\r\nend\r\n";
        assert_eq!(n(original), n(dovecot));
        assert_eq!(n(courier), n(dovecot));
        assert_ne!(fingerprint(courier), fingerprint(dovecot));
        assert_eq!(n(b"\r\n\r\n"), n(b"\n"));
        assert_ne!(n(b"\r\n"), n(b""));
    }

    /// No more than those: the body's 8-bit bytes, its text, and blank
    /// lines anywhere but at the end all still count.
    #[test]
    fn nothing_else_is_normalised() {
        let n = normalised;
        let base = "Subject: x\r\n\r\ncafé\r\n".as_bytes();
        assert_ne!(n(base), n(b"Subject: x\r\n\r\ncafXX\r\n"));
        assert_ne!(n(base), n("Subject: x\r\n\r\n\r\ncafé\r\n".as_bytes()));
        assert_ne!(n(base), n("Subject: x\r\n\r\ncaf\r\né\r\n".as_bytes()));
        assert_ne!(n(base), n("Subject: y\r\n\r\ncafé\r\n".as_bytes()));
        assert_ne!(n(base), n("Subject: x\r\n\r\ncafé \r\n".as_bytes()));
        // The header ends at the first empty line, bare LF or CRLF alike.
        assert_ne!(n(b"S: x\n\n\xe9\n"), n(b"S: x\n\nX\n"));
        assert_eq!(n(b"S: \xe9\n\nb\n"), n(b"S: X\r\n\r\nb\r\n"));
    }

    /// Most mail is left unchanged, and then the normalised fingerprint is
    /// the exact one (no second hash).
    #[test]
    fn unchanged_mail_has_its_exact_fingerprint_twice() {
        let plain = b"Subject: x\r\n\r\nbody\r\n";
        assert_eq!(
            fingerprints(plain),
            (fingerprint(plain), fingerprint(plain))
        );
        let lf = b"Subject: x\n\nbody\n";
        assert_eq!(fingerprints(lf), (fingerprint(plain), fingerprint(plain)));
        let (exact, loose) = fingerprints(b"Subject: x\r\n\r\nbody");
        assert_ne!(exact, loose);
        assert_eq!(loose, fingerprint(plain));
        assert_eq!(normalised(b""), fingerprint(b""));
    }

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

    /// The definition the one-pass test stands for: as many CRLF pairs as
    /// CRs and as LFs.
    fn counted(body: &[u8]) -> bool {
        let count = |byte: u8| body.iter().filter(|&&b| b == byte).count();
        let pairs = (body.windows(2)).filter(|w| w == b"\r\n").count();
        count(b'\r') == pairs && count(b'\n') == pairs
    }

    proptest::proptest! {
        #[test]
        fn crlf_only_is_the_counting_definition(
            body in proptest::collection::vec(
                proptest::prop_oneof![
                    3 => proptest::prelude::Just(b'\r'),
                    3 => proptest::prelude::Just(b'\n'),
                    1 => proptest::prelude::any::<u8>(),
                ],
                0..600,
            ),
            crlf_lines in 0usize..200,
        ) {
            proptest::prop_assert_eq!(crlf_only(&body), counted(&body));
            // Long canonical bodies with the one fault anywhere, across
            // the chunks the scan takes.
            let canonical = b"ab\r\n".repeat(crlf_lines);
            proptest::prop_assert!(crlf_only(&canonical));
            for at in (0..canonical.len()).step_by(7) {
                let mut broken = canonical.clone();
                broken[at] = if broken[at] == b'\r' { b'x' } else { b'\n' };
                proptest::prop_assert_eq!(crlf_only(&broken), counted(&broken));
            }
        }
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
            proptest::prop_assert_eq!(normalised(&body), by_normalised_lines(&body));
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
