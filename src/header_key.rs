//! The header identity of a message (`--identity headers`): its
//! Message-ID, its Date and its From, read from the message's own header,
//! and the number of bytes the server served. It owns the reading of those
//! three fields; which messages may pair by them is the core's rule
//! (`reconcile::by_headers`).
//!
//! For servers that rebuild a message's MIME from their store on every
//! FETCH (Exchange / Office 365): the bytes differ from what was stored,
//! but the originator's fields survive, if not always in the same
//! spelling. So each field is read as what it means, not as its bytes:
//!
//! - Message-ID: the `<…>` id, whitespace and folding removed (compared
//!   exactly: ids are case-sensitive);
//! - Date: the instant (RFC 5322 date-time, zone applied; a date that does
//!   not parse compares as its text, whitespace collapsed, lowercase);
//! - From: the address (`<addr>` where there is one, else the field
//!   without comments), lowercase, display name and its encoding dropped.
//!
//! A message without a Message-ID, a Date or a From has no header key and
//! never pairs by it. Reading the key costs a scan of the header only,
//! done while the body is hashed ([`crate::hashing`]).

use crate::model::{days_from_civil, Fingerprint};
use sha2::{Digest, Sha256};

/// What pairs at the header level: the Message-ID, the Date and From
/// together, and the size of the body as fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeaderKey {
    /// SHA-256 of the Message-ID as read.
    pub message_id: Fingerprint,
    /// SHA-256 of the Date's instant and the From address.
    pub date_from: Fingerprint,
    /// Bytes of the body as the server served it (not RFC822.SIZE, which
    /// such servers estimate).
    pub bytes: u32,
}

/// Sizes of two bodies served for the same message may differ by this
/// many bytes, or a tenth of the larger, whichever is more: a rebuilt
/// message re-wraps lines, re-encodes parts and adds a header or two.
pub const SIZE_SLACK_BYTES: u32 = 4096;

impl HeaderKey {
    /// Whether two fetched sizes are close enough to be one message
    /// ([`SIZE_SLACK_BYTES`], or 10% of the larger).
    pub fn sizes_agree(&self, other: &HeaderKey) -> bool {
        let (small, large) = (self.bytes.min(other.bytes), self.bytes.max(other.bytes));
        large - small <= SIZE_SLACK_BYTES.max(large / 10)
    }
}

/// The header key of one message's bytes, or None when it lacks a
/// Message-ID, a Date or a From.
pub fn header_key(body: &[u8]) -> Option<HeaderKey> {
    let fields = Fields::read(header_of(body));
    let message_id = message_id(fields.message_id.as_deref()?)?;
    let date = date(fields.date.as_deref()?)?;
    let from = address(fields.from.as_deref()?)?;
    let mut date_from = Sha256::new();
    date_from.update(date.as_bytes());
    date_from.update([0]);
    date_from.update(from.as_bytes());
    Some(HeaderKey {
        message_id: Fingerprint(Sha256::digest(message_id.as_bytes()).into()),
        date_from: Fingerprint(date_from.finalize().into()),
        bytes: u32::try_from(body.len()).unwrap_or(u32::MAX),
    })
}

/// The header: up to the first empty line (CRLF or bare LF).
fn header_of(body: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < body.len() {
        let end = body[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |p| start + p);
        let line = &body[start..end];
        if line.is_empty() || line == b"\r" {
            return &body[..start];
        }
        start = end + 1;
    }
    body
}

/// The first Message-ID, Date and From of a header, each unfolded.
#[derive(Default)]
struct Fields {
    message_id: Option<String>,
    date: Option<String>,
    from: Option<String>,
}

impl Fields {
    fn read(header: &[u8]) -> Fields {
        let text = String::from_utf8_lossy(header);
        let mut fields = Fields::default();
        let mut current: Option<(String, String)> = None;
        let take = |fields: &mut Fields, (name, value): (String, String)| {
            let slot = match name.to_ascii_lowercase().as_str() {
                "message-id" => &mut fields.message_id,
                "date" => &mut fields.date,
                "from" => &mut fields.from,
                _ => return,
            };
            slot.get_or_insert(value);
        };
        for line in text.split('\n') {
            let line = line.trim_end_matches('\r');
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = current.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some(done) = current.take() {
                take(&mut fields, done);
            }
            if let Some((name, value)) = line.split_once(':') {
                current = Some((name.trim().to_string(), value.trim().to_string()));
            }
        }
        if let Some(done) = current {
            take(&mut fields, done);
        }
        fields
    }
}

/// The id between `<` and `>` (whitespace removed), else the value itself.
fn message_id(value: &str) -> Option<String> {
    let inner = match (value.find('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value,
    };
    let id: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    (!id.is_empty()).then_some(id)
}

/// The address of a From field, lowercase: the last `<…>`, else the
/// field with its comments removed.
fn address(value: &str) -> Option<String> {
    let addr = match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => value[open + 1..close].to_string(),
        _ => without_comments(value),
    };
    let addr = addr.trim().to_ascii_lowercase();
    (!addr.is_empty()).then_some(addr)
}

fn without_comments(value: &str) -> String {
    let mut depth = 0usize;
    value
        .chars()
        .filter(|&c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

/// A Date as the instant it names (`@` and UTC seconds), or as its text
/// with whitespace collapsed where it does not parse.
fn date(value: &str) -> Option<String> {
    let text = without_comments(value);
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    Some(match instant(&words) {
        Some(unix) => format!("@{unix}"),
        None => words.join(" ").to_ascii_lowercase(),
    })
}

/// RFC 5322's date-time: `[day-name ","] day month year hh:mm[:ss] zone`.
fn instant(words: &[&str]) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let words = match words.first()?.strip_suffix(',') {
        Some(_) => &words[1..],
        None if words[0].ends_with(char::is_alphabetic) && words[0].len() == 3 => &words[1..],
        None => words,
    };
    let [day, month, year, time, rest @ ..] = words else {
        return None;
    };
    let day: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u32 + 1;
    let mut year: i64 = year.parse().ok()?;
    if year < 50 {
        year += 2000; // obsolete two-digit years (RFC 5322 4.3)
    } else if year < 1000 {
        year += 1900;
    }
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m) = (hms.next()??, hms.next()??);
    let s = hms.next().unwrap_or(Some(0))?;
    let offset = match rest.first() {
        Some(zone) => zone_minutes(zone)?,
        None => 0,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + h * 3600 + m * 60 + s - offset * 60)
}

/// `+hhmm` / `-hhmm`, or the obsolete names (UT, GMT, Z, EST …).
fn zone_minutes(zone: &str) -> Option<i64> {
    let named = [
        ("UT", 0),
        ("GMT", 0),
        ("Z", 0),
        ("EST", -5),
        ("EDT", -4),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("PST", -8),
        ("PDT", -7),
    ];
    if let Some((_, h)) = named.iter().find(|(n, _)| n.eq_ignore_ascii_case(zone)) {
        return Some(h * 60);
    }
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(sign * (n / 100 * 60 + n % 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &[u8] = b"Message-ID: <abc.123@example.org>\r\n\
        Date: Mon, 7 Dec 2026 10:00:00 +0100\r\n\
        From: Alice Example <Alice@Example.org>\r\n\
        Subject: hello\r\n\r\nbody\r\n";

    /// As Exchange might serve it: fields reordered, re-spelled, folded,
    /// a header added, the body re-wrapped.
    const REBUILT: &[u8] = b"From: \"=?utf-8?Q?Alice_Example?=\" <alice@example.org>\r\n\
        Subject: hello\r\n\
        Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n\
        Message-ID:\r\n <abc.123@example.org>\r\n\
        X-Message-Flag: Follow up\r\n\r\nbody\r\n\r\n";

    #[test]
    fn a_rebuilt_message_has_the_original_key_but_its_own_size() {
        let (a, b) = (header_key(ORIGINAL).unwrap(), header_key(REBUILT).unwrap());
        assert_eq!(
            (a.message_id, a.date_from),
            (b.message_id, b.date_from),
            "same Message-ID, same instant, same address"
        );
        assert_eq!(b.bytes as usize, REBUILT.len());
        assert!(a.sizes_agree(&b));
    }

    #[test]
    fn another_date_sender_or_id_is_another_key() {
        let key = |text: &[u8]| header_key(text).unwrap();
        let base = key(ORIGINAL);
        let later = ORIGINAL.replace_bytes(b"10:00:00", b"10:00:01");
        let other_from = ORIGINAL.replace_bytes(b"Alice@", b"Bob@");
        let other_id = ORIGINAL.replace_bytes(b"abc.123", b"abc.124");
        assert_ne!(key(&later).date_from, base.date_from);
        assert_ne!(key(&other_from).date_from, base.date_from);
        assert_ne!(key(&other_id).message_id, base.message_id);
        assert_eq!(key(&other_id).date_from, base.date_from);
    }

    #[test]
    fn without_message_id_date_or_from_there_is_no_key() {
        for field in [&b"Message-ID"[..], b"Date", b"From"] {
            let text = ORIGINAL.replace_bytes(field, b"X-Gone");
            assert_eq!(
                header_key(&text),
                None,
                "{}",
                String::from_utf8_lossy(field)
            );
        }
        // Fields after the header's end are the body's, not the header's.
        assert_eq!(
            header_key(b"Subject: x\r\n\r\nMessage-ID: <a@b>\r\nDate: x\r\nFrom: a@b\r\n"),
            None
        );
        assert_eq!(
            header_key(b"Message-ID: <>\r\nDate: x\r\nFrom: a@b\r\n"),
            None
        );
    }

    #[test]
    fn an_unparsable_date_compares_as_its_text() {
        let odd = ORIGINAL.replace_bytes(b"Mon, 7 Dec 2026 10:00:00 +0100", b"sometime  Monday");
        let spaced = ORIGINAL.replace_bytes(b"Mon, 7 Dec 2026 10:00:00 +0100", b"Sometime Monday");
        assert_eq!(
            header_key(&odd).unwrap().date_from,
            header_key(&spaced).unwrap().date_from
        );
    }

    #[test]
    fn dates_parse_to_their_instant() {
        let at = |s: &str| instant(&s.split_whitespace().collect::<Vec<_>>());
        assert_eq!(at("Thu, 1 Jan 1970 00:00:00 +0000"), Some(0));
        assert_eq!(at("1 Jan 1970 01:00 +0100"), Some(0));
        assert_eq!(at("Thu, 01 Jan 70 00:00:10 GMT"), Some(10));
        assert_eq!(at("Wed, 31 Dec 1969 19:00:00 EST"), Some(0));
        assert_eq!(at("Thu, 1 Foo 1970 00:00:00 +0000"), None);
        assert_eq!(at("1 Jan 1970 00:00:00 +01"), None);
    }

    #[test]
    fn sizes_agree_within_four_kib_or_a_tenth() {
        let k = |bytes| HeaderKey {
            message_id: Fingerprint([0; 32]),
            date_from: Fingerprint([0; 32]),
            bytes,
        };
        assert!(k(1000).sizes_agree(&k(5096)));
        assert!(!k(1000).sizes_agree(&k(5097)));
        assert!(k(100_000).sizes_agree(&k(90_000)));
        assert!(!k(100_000).sizes_agree(&k(89_999)));
    }

    trait Replace {
        fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
    }

    impl Replace for [u8] {
        fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
            let at = self
                .windows(from.len())
                .position(|w| w == from)
                .expect("the text to replace");
            [&self[..at], to, &self[at + from.len()..]].concat()
        }
    }
}
