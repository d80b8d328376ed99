//! FETCH data and the workarounds it needs: the body fetch read directly
//! in its common shape (the hot path of a copy), everything else through
//! imap-proto — with `INTERNALDATE NIL` refused and `~{n}` literal8 markers
//! dropped before it sees them, and any other panic of its caught
//! ([`quietly`]) so a server's bytes never take the process down.

use super::{excerpt, Untagged};
use crate::model::Uid;
use imap_proto::AttributeValue;
use std::borrow::Cow;

/// FETCH data, through imap-proto. A few of its paths unwrap on odd input
/// (`INTERNALDATE NIL`), and a server's bytes must never be able to panic
/// us: the known ones are refused before imap-proto sees them, and the
/// parser runs under `catch_unwind` with the panic message silenced (see
/// [`quietly`]) in case there are others.
pub(super) fn fetch(whole: &[u8]) -> Result<Untagged<'_>, String> {
    if let Some(u) = fetch_body_fast(whole) {
        return Ok(u);
    }
    if let Some(u) = super::fetch_meta::fetch_meta_fast(whole) {
        return Ok(u);
    }
    match without_literal8_markers(whole) {
        Cow::Borrowed(b) => fetch_proto(b),
        Cow::Owned(copy) => match fetch_proto(&copy)? {
            Untagged::Fetch { seq, attrs } => Ok(Untagged::Fetch {
                seq,
                attrs: attrs.into_iter().map(AttributeValue::into_owned).collect(),
            }),
            _ => Err("FETCH response with unexpected data".into()),
        },
    }
}

/// The FETCH response a body fetch brings by the thousand, read without
/// imap-proto: `* n FETCH (UID u BODY[] {len}` CRLF, the literal, `)` CRLF
/// (the two items in either order). Anything else, or anything odd in it,
/// is None and goes the general way. Reading it directly saves the passes
/// over every message that the general way makes (measured with
/// scripts/bench: imap-proto was 7% of the CPU of a 100k repair resync).
fn fetch_body_fast(whole: &[u8]) -> Option<Untagged<'_>> {
    fn number(b: &[u8]) -> Option<(u32, &[u8])> {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 10 {
            return None;
        }
        let v = std::str::from_utf8(&b[..n]).ok()?.parse().ok()?;
        Some((v, &b[n..]))
    }
    let rest = whole.strip_prefix(b"* ")?;
    let (seq, rest) = number(rest)?;
    let mut rest = rest.strip_prefix(b" FETCH (")?;
    let mut attrs = Vec::with_capacity(2);
    let (mut uid_seen, mut body_seen) = (false, false);
    loop {
        if let Some(r) = rest.strip_prefix(b"UID ") {
            let (uid, r) = number(r)?;
            if uid_seen || uid == 0 {
                return None;
            }
            uid_seen = true;
            attrs.push(AttributeValue::Uid(uid));
            rest = r;
        } else if let Some(r) = rest.strip_prefix(b"BODY[] {") {
            let (len, r) = number(r)?;
            let r = r.strip_prefix(b"}\r\n")?;
            let len = usize::try_from(len).ok()?;
            if body_seen || r.len() < len {
                return None;
            }
            body_seen = true;
            attrs.push(AttributeValue::BodySection {
                section: None,
                index: None,
                data: Some(Cow::Borrowed(&r[..len])),
            });
            rest = &r[len..];
        } else {
            return None;
        }
        match rest {
            [b' ', r @ ..] => rest = r,
            b")\r\n" if uid_seen && body_seen => break,
            _ => return None,
        }
    }
    Some(Untagged::Fetch { seq, attrs })
}

pub(super) fn fetch_proto(whole: &[u8]) -> Result<Untagged<'_>, String> {
    if has_nil_internaldate(whole) {
        return Err(format!(
            "FETCH response with INTERNALDATE NIL: {}",
            excerpt(whole)
        ));
    }
    let parsed = quietly(|| imap_proto::Response::parse(whole)).map_err(|_| {
        PANICS_CAUGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("FETCH response the parser cannot read: {}", excerpt(whole))
    })?;
    match parsed {
        Ok((&[], imap_proto::Response::Fetch(seq, attrs))) => Ok(Untagged::Fetch { seq, attrs }),
        Ok(_) => Err("FETCH response with trailing or unexpected data".into()),
        Err(_) => Err(format!("unparsable FETCH response: {}", excerpt(whole))),
    }
}

/// Whether `INTERNALDATE NIL` (on which imap-proto 0.17 unwraps a None)
/// occurs in the protocol text of a response — outside quoted strings and
/// literals, so a message body saying so is not mistaken for it.
fn has_nil_internaldate(buf: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"INTERNALDATE NIL";
    let mut i = 0;
    let mut line_start = 0;
    let mut in_quote = false;
    while i < buf.len() {
        let b = buf[i];
        if in_quote {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_quote = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b'"' => {
                in_quote = true;
                i += 1;
            }
            b'\r' if buf.get(i + 1) == Some(&b'\n') => {
                let size = crate::imap::frame::literal_size(&buf[line_start..i]).unwrap_or(0);
                i = (i + 2).saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
                line_start = i;
            }
            _ => {
                if buf[i..]
                    .get(..NEEDLE.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(NEEDLE))
                {
                    return true;
                }
                i += 1;
            }
        }
    }
    false
}

/// How many times imap-proto panicked on a response (and was caught).
/// Tests use it to show that known panics are avoided rather than caught.
pub(crate) static PANICS_CAUGHT: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// Set while this thread runs a parser under [`quietly`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` under `catch_unwind` without the panic message reaching stderr:
/// a server's odd bytes are reported as a protocol error of that session,
/// not as a "thread panicked" line. The silence is scoped to this thread
/// while `f` runs; every other panic is reported by the hook that was in
/// place before (installed once, wrapping it).
pub(crate) fn quietly<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> std::thread::Result<R> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(f);
    QUIET.with(|q| q.set(was));
    result
}

/// imap-proto cannot read RFC 3516 `~{n}` literals (BINARY fetches); the
/// data of a literal8 is read like any literal, so the marker is dropped.
/// Only the announcements are touched: the scan skips literal contents.
fn without_literal8_markers(buf: &[u8]) -> Cow<'_, [u8]> {
    let mut tildes = Vec::new();
    let mut pos = 0;
    while let Some(off) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
        let line_end = pos + off;
        let line = &buf[pos..line_end];
        pos = line_end + 2;
        if let Some(size) = crate::imap::frame::literal_size(line) {
            if let Some(open) = line.iter().rposition(|&b| b == b'{') {
                if open > 0 && line[open - 1] == b'~' {
                    tildes.push(line_end - line.len() + open - 1);
                }
            }
            pos = pos.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
            if pos > buf.len() {
                break;
            }
        }
    }
    if tildes.is_empty() {
        return Cow::Borrowed(buf);
    }
    let mut out = Vec::with_capacity(buf.len());
    let mut from = 0;
    for t in tildes {
        out.extend_from_slice(&buf[from..t]);
        from = t + 1;
    }
    out.extend_from_slice(&buf[from..]);
    Cow::Owned(out)
}

/// `UID` of a FETCH response, if present.
pub(crate) fn fetch_uid(attrs: &[AttributeValue<'_>]) -> Option<Uid> {
    attrs.iter().find_map(|a| match a {
        AttributeValue::Uid(u) => Some(*u),
        _ => None,
    })
}

#[cfg(test)]
mod fast_fetch_tests {
    use super::*;
    use proptest::prelude::*;

    fn response(seq: u32, uid: u32, body: &[u8], uid_first: bool) -> Vec<u8> {
        let mut r = format!("* {seq} FETCH (").into_bytes();
        let uid_item = format!("UID {uid}").into_bytes();
        let mut body_item = format!("BODY[] {{{}}}\r\n", body.len()).into_bytes();
        body_item.extend_from_slice(body);
        let (x, y) = if uid_first {
            (uid_item, body_item)
        } else {
            (body_item, uid_item)
        };
        r.extend_from_slice(&x);
        r.push(b' ');
        r.extend_from_slice(&y);
        r.extend_from_slice(b")\r\n");
        r
    }

    #[test]
    fn the_fast_way_reads_a_body_fetch_as_imap_proto_does() {
        for (body, uid_first) in [
            (&b"Subject: x\r\n\r\nbody\r\n"[..], true),
            (&b"Subject: x\r\n\r\n) UID 9 BODY[] {3}\r\n"[..], false),
            (&b""[..], true),
        ] {
            let r = response(12, 345, body, uid_first);
            let fast = fetch_body_fast(&r).expect("the common shape");
            assert_eq!(fast, fetch_proto(&r).unwrap());
            assert_eq!(fetch(&r).unwrap(), fast);
        }
    }

    #[test]
    fn anything_else_goes_the_general_way() {
        for r in [
            &b"* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {1}\r\nx)\r\n"[..],
            b"* 1 FETCH (UID 5 BODY[] NIL)\r\n",
            b"* 1 FETCH (UID 5 BODY[] {2}\r\nx)\r\n",
            b"* 1 FETCH (UID 5 BODY[] {1}\r\nx)",
            b"* 1 FETCH (UID 5 UID 6 BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (UID 5 BODY[] ~{1}\r\nx)\r\n",
            b"* 1 fetch (UID 5 BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (UID 0 BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (UID 99999999999 BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (UID 5)\r\n",
        ] {
            assert_eq!(fetch_body_fast(r), None, "{}", String::from_utf8_lossy(r));
        }
        // and the general way still reads what it can
        let flags = b"* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {1}\r\nx)\r\n";
        assert!(matches!(fetch(flags), Ok(Untagged::Fetch { .. })));
    }

    proptest! {
        #[test]
        fn fast_and_general_agree(
            seq in 1u32..,
            uid in 1u32..,
            body in proptest::collection::vec(any::<u8>(), 0..300),
            uid_first in any::<bool>(),
        ) {
            let r = response(seq, uid, &body, uid_first);
            let fast = fetch_body_fast(&r);
            prop_assert!(fast.is_some());
            prop_assert_eq!(fast, fetch_proto(&r).ok());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::parse;
    use crate::imap::parse::tests::untagged_of;
    #[test]
    fn fetch_goes_through_imap_proto_with_literals_and_nil_bodies() {
        match untagged_of(b"* 12 FETCH (UID 44 FLAGS (\\Seen $Junk) RFC822.SIZE 4 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[] {4}\r\nab\r\n)\r\n") {
            Untagged::Fetch { seq, attrs } => {
                assert_eq!(seq, 12);
                assert_eq!(fetch_uid(&attrs), Some(44));
                assert!(attrs.iter().any(|a| matches!(a, AttributeValue::BodySection { data: Some(d), .. } if d.as_ref() == b"ab\r\n")));
                assert!(attrs.iter().any(|a| matches!(a, AttributeValue::Rfc822Size(4))));
            }
            other => panic!("{other:?}"),
        }
        match untagged_of(b"* 3 FETCH (UID 9 BODY[] NIL)\r\n") {
            Untagged::Fetch { attrs, .. } => assert!(attrs
                .iter()
                .any(|a| matches!(a, AttributeValue::BodySection { data: None, .. }))),
            other => panic!("{other:?}"),
        }
        match untagged_of(b"* 3 FETCH (UID 9 MODSEQ (12345))\r\n") {
            Untagged::Fetch { attrs, .. } => assert_eq!(fetch_uid(&attrs), Some(9)),
            other => panic!("{other:?}"),
        }
        assert!(parse(b"* 3 FETCH (UID 9 INTERNALDATE NIL)\r\n").is_err());
        // A literal8 whose content itself looks like an announcement.
        match untagged_of(b"* 3 FETCH (UID 9 BODY[] ~{8}\r\na\0~{2}\r\n)\r\n") {
            Untagged::Fetch { attrs, .. } => assert_eq!(fetch_uid(&attrs), Some(9)),
            other => panic!("{other:?}"),
        }
        assert!(parse(b"* 3 FETCH (UID)\r\n").is_err());
    }
}
