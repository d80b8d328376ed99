//! What servers do to a message's bytes, as the tests know it (issue 15):
//! the mail that shows it (the census's quick set: fixtures, seeded
//! generated mail and the hand-made shapes; the shared corpora), the
//! normalisations that undo each measured rewrite, and a content key under
//! all of them at once — so a test can count "the same message" on
//! Dovecot, Courier and Cyrus alike, whatever each stored.
//!
//! Owns no server: `tests/census.rs` measures the rewrites with these,
//! `support::repair` counts by [`normalised_key`].

use sha2::{Digest, Sha256};

use super::corpus::{self, MailFile};
use super::generator::Generator;
use super::mail::DATE;
use super::oracle::canonical_crlf;

/// One message to send, with its INTERNALDATE.
#[derive(Clone)]
pub struct Sent {
    pub name: String,
    pub bytes: Vec<u8>,
    pub date: String,
}

/// The hand-made shapes the census is about: no final line break, a bare
/// CR, a CR run before LF, a NUL byte.
pub const SHAPES: [(&str, &[u8]); 4] = [
    (
        "no-final-line-break",
        b"From: a@example.org\r\nSubject: no final break\r\n\r\nlast line",
    ),
    (
        "bare-cr",
        b"From: a@example.org\r\nSubject: bare cr\r\n\r\none\rtwo\r\n",
    ),
    (
        "cr-run",
        b"From: a@example.org\r\nSubject: cr run\r\n\r\none\r\r\ntwo\r\n",
    ),
    (
        "nul-in-body",
        b"From: a@example.org\r\nSubject: nul\r\n\r\nb\x00dy\r\n",
    ),
];

/// The quick set: the fixtures, `generated` seeded generated messages
/// (8-bit headers and bodies, bare LFs, multipart, no Message-ID; the
/// census takes 60), and the [`SHAPES`].
pub fn quick_mail(generated: usize) -> Vec<Sent> {
    let mut out: Vec<Sent> = corpus::fixture_mail()
        .into_iter()
        .map(|f| sent(f, DATE))
        .collect();
    let mut generator = Generator::new(15);
    for (i, m) in generator.messages(generated).into_iter().enumerate() {
        out.push(Sent {
            name: format!("generated-{i:02}"),
            bytes: m.bytes,
            date: m.internal_date,
        });
    }
    for (name, bytes) in SHAPES {
        out.push(Sent {
            name: name.into(),
            bytes: bytes.to_vec(),
            date: DATE.into(),
        });
    }
    out
}

/// The shared corpora (`../shared/corpora`), every message.
pub fn corpora_mail() -> Vec<Sent> {
    ["cpython-email", "mail-parser"]
        .into_iter()
        .flat_map(|name| {
            corpus::shared_corpus(name).into_iter().map(move |f| {
                let mut s = sent(f, DATE);
                s.name = format!("{name}/{}", s.name);
                s
            })
        })
        .collect()
}

fn sent(f: MailFile, date: &str) -> Sent {
    Sent {
        name: f.name,
        bytes: f.bytes,
        date: date.into(),
    }
}

/// Every bare LF made CRLF, bare CRs kept: how a message goes over IMAP
/// (RFC 3501 wants CRLF; imapmend copies what a server serves, CRLF).
/// Sent raw, a message of a Unix mailbox would only measure Cyrus' refusal
/// of bare newlines.
pub fn crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 32);
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

pub type Normalisation = (&'static str, fn(&[u8]) -> Vec<u8>);

/// What servers are known to do to a message's bytes, in the order they
/// are tried (each applied to both the sent and the served bytes, on top
/// of the ones before it).
pub const NORMALISATIONS: [Normalisation; 5] = [
    ("CR run before LF served as one CR", collapse_cr_runs),
    ("bare CR removed", drop_bare_cr),
    ("final line break added", drop_final_line_breaks),
    ("NUL served as 0x80", nul_as_0x80),
    ("8-bit header bytes folded to X", fold_8bit_header),
];

fn collapse_cr_runs(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'\r' && b.get(i + 1) == Some(&b'\r') {
            let next = b[i..].iter().position(|&x| x != b'\r').map(|p| b[i + p]);
            if next == Some(b'\n') {
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn drop_bare_cr(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'\r' && b.get(i + 1) != Some(&b'\n') {
            continue;
        }
        out.push(c);
    }
    out
}

fn drop_final_line_breaks(b: &[u8]) -> Vec<u8> {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    b[..end].to_vec()
}

fn nul_as_0x80(b: &[u8]) -> Vec<u8> {
    b.iter().map(|&c| if c == 0 { 0x80 } else { c }).collect()
}

fn fold_8bit_header(b: &[u8]) -> Vec<u8> {
    let end = b
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| b.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(b.len());
    b.iter()
        .enumerate()
        .map(|(i, &c)| if i < end && c >= 0x80 { b'X' } else { c })
        .collect()
}

/// The content under every known rewrite at once (SHA-256 hex of the
/// message with all [`NORMALISATIONS`] applied, line ends made CRLF): equal
/// for a message and any copy a server of the suite made of it. Computed
/// here, not by imapmend, so a test cannot share a bug with the code under
/// test.
pub fn normalised_key(bytes: &[u8]) -> String {
    let mut b = bytes.to_vec();
    for (_, normalise) in NORMALISATIONS {
        b = normalise(&b);
    }
    let digest = Sha256::digest(canonical_crlf(&b));
    digest.iter().map(|x| format!("{x:02x}")).collect()
}
