//! The FETCH response a metadata listing brings by the million, read
//! without imap-proto: `* n FETCH (UID u FLAGS (…) RFC822.SIZE s
//! INTERNALDATE "…" MODSEQ (m))` CRLF, its items in any order, each at most
//! once, UID among them. Anything else, or anything odd in it (a literal,
//! lower case, a flag with a character outside the plain atom set, two
//! spaces), is None and goes the general way ([`super::fetch`]). The full
//! listing of a large mailbox is one such line a message: imap-proto's
//! combinators and the general way's two scans over each line were a fifth
//! of a full `check`'s CPU.

use super::Untagged;
use imap_proto::AttributeValue;
use std::borrow::Cow;

pub(super) fn fetch_meta_fast(whole: &[u8]) -> Option<Untagged<'_>> {
    let rest = whole.strip_prefix(b"* ")?;
    let (seq, rest) = number(rest)?;
    let seq = u32::try_from(seq).ok()?;
    let mut rest = rest.strip_prefix(b" FETCH (")?;
    let mut attrs = Vec::with_capacity(5);
    // UID, FLAGS, RFC822.SIZE, INTERNALDATE, MODSEQ: each at most once.
    let mut seen = [false; 5];
    loop {
        let (item, r) = if let Some(r) = rest.strip_prefix(b"UID ") {
            let (uid, r) = number(r)?;
            let uid = u32::try_from(uid).ok().filter(|u| *u != 0)?;
            (AttributeValue::Uid(uid), r)
        } else if let Some(r) = rest.strip_prefix(b"FLAGS (") {
            let (flags, r) = flag_list(r)?;
            (AttributeValue::Flags(flags), r)
        } else if let Some(r) = rest.strip_prefix(b"RFC822.SIZE ") {
            let (size, r) = number(r)?;
            (AttributeValue::Rfc822Size(u32::try_from(size).ok()?), r)
        } else if let Some(r) = rest.strip_prefix(b"INTERNALDATE \"") {
            let end = r.iter().position(|&c| c == b'"')?;
            let date = std::str::from_utf8(&r[..end]).ok()?;
            if !date
                .bytes()
                .all(|c| (b' '..=b'~').contains(&c) && c != b'\\')
            {
                return None;
            }
            (
                AttributeValue::InternalDate(Cow::Borrowed(date)),
                &r[end + 1..],
            )
        } else if let Some(r) = rest.strip_prefix(b"MODSEQ (") {
            let (modseq, r) = number(r)?;
            (AttributeValue::ModSeq(modseq), r.strip_prefix(b")")?)
        } else {
            return None;
        };
        let at = match item {
            AttributeValue::Uid(_) => 0,
            AttributeValue::Flags(_) => 1,
            AttributeValue::Rfc822Size(_) => 2,
            AttributeValue::InternalDate(_) => 3,
            _ => 4,
        };
        if std::mem::replace(&mut seen[at], true) {
            return None;
        }
        attrs.push(item);
        match r {
            [b' ', r @ ..] => rest = r,
            b")\r\n" if seen[0] => break,
            _ => return None,
        }
    }
    Some(Untagged::Fetch { seq, attrs })
}

/// Up to 19 digits (a u64 that cannot overflow), no leading sign.
fn number(b: &[u8]) -> Option<(u64, &[u8])> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 19 {
        return None;
    }
    let v = std::str::from_utf8(&b[..n]).ok()?.parse().ok()?;
    Some((v, &b[n..]))
}

/// The flags up to the closing parenthesis, single spaces between them:
/// each an atom of plain characters, `\` only in front.
fn flag_list(b: &[u8]) -> Option<(Vec<Cow<'_, str>>, &[u8])> {
    let end = b.iter().position(|&c| c == b')')?;
    let (list, rest) = (&b[..end], &b[end + 1..]);
    let mut flags = Vec::new();
    if !list.is_empty() {
        for flag in list.split(|&c| c == b' ') {
            let name = flag.strip_prefix(b"\\").unwrap_or(flag);
            if name.is_empty() || !name.iter().all(|&c| plain(c)) {
                return None;
            }
            flags.push(Cow::Borrowed(std::str::from_utf8(flag).ok()?));
        }
    }
    Some((flags, rest))
}

/// An atom character that no IMAP grammar treats specially.
fn plain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"$_-.:+!#&'/=?@^`|~".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::super::fetch::fetch_proto;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_fast_way_reads_a_listing_line_as_imap_proto_does() {
        for r in [
            &b"* 12 FETCH (UID 44 FLAGS (\\Seen $Junk) RFC822.SIZE 4 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n"[..],
            b"* 1 FETCH (UID 5 FLAGS () RFC822.SIZE 1300 INTERNALDATE \" 7-Jul-2021 02:44:25 +0000\" MODSEQ (123456789012))\r\n",
            b"* 3 FETCH (FLAGS (\\Flagged \\Answered \\Seen) UID 300001 MODSEQ (9))\r\n",
            b"* 3 FETCH (UID 7 FLAGS (\\Seen))\r\n",
            b"* 3 FETCH (UID 7)\r\n",
        ] {
            let fast = fetch_meta_fast(r).expect("the common shape");
            assert_eq!(Ok(fast), fetch_proto(r), "{}", String::from_utf8_lossy(r));
            assert_eq!(super::super::fetch::fetch(r), fetch_proto(r));
        }
    }

    #[test]
    fn anything_else_goes_the_general_way() {
        for r in [
            &b"* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {1}\r\nx)\r\n"[..],
            b"* 1 FETCH (UID 5 FLAGS (\\Seen  \\Flagged))\r\n",
            b"* 1 FETCH (UID 5 FLAGS ( \\Seen))\r\n",
            b"* 1 FETCH (UID 5 FLAGS (\\*))\r\n",
            b"* 1 FETCH (UID 5 FLAGS (OIB-Seen-[Gmail]/All))\r\n",
            b"* 1 FETCH (UID 5 FLAGS (\\))\r\n",
            b"* 1 FETCH (UID 5 FLAGS (caf\xc3\xa9))\r\n",
            b"* 1 FETCH (UID 5 INTERNALDATE NIL)\r\n",
            b"* 1 FETCH (UID 5 INTERNALDATE {26}\r\n17-Jul-1996 02:44:25 -0700)\r\n",
            b"* 1 FETCH (UID 5 INTERNALDATE \"a\\\"b\")\r\n",
            b"* 1 FETCH (UID 5 RFC822.SIZE 4294967296)\r\n",
            b"* 1 FETCH (UID 5 UID 6)\r\n",
            b"* 1 FETCH (UID 5 FLAGS () FLAGS (\\Seen))\r\n",
            b"* 1 fetch (UID 5)\r\n",
            b"* 1 FETCH (uid 5)\r\n",
            b"* 1 FETCH (UID 0)\r\n",
            b"* 1 FETCH (FLAGS (\\Seen))\r\n",
            b"* 1 FETCH (UID 5 MODSEQ 7)\r\n",
            b"* 1 FETCH (UID 5)",
            b"* 1 FETCH (UID 5 X-GM-MSGID 7)\r\n",
        ] {
            assert_eq!(fetch_meta_fast(r), None, "{}", String::from_utf8_lossy(r));
        }
    }

    fn line(
        seq: u32,
        uid: u32,
        flags: &[String],
        size: u32,
        modseq: Option<u64>,
        order: u8,
    ) -> Vec<u8> {
        let mut items = vec![
            format!("UID {uid}"),
            format!("FLAGS ({})", flags.join(" ")),
            format!("RFC822.SIZE {size}"),
            "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\"".to_string(),
        ];
        items.extend(modseq.map(|m| format!("MODSEQ ({m})")));
        let n = items.len();
        items.rotate_left(usize::from(order) % n);
        format!("* {seq} FETCH ({})\r\n", items.join(" ")).into_bytes()
    }

    proptest! {
        #[test]
        fn fast_and_general_agree(
            seq in 1u32..,
            uid in 1u32..,
            flags in proptest::collection::vec("\\\\?[A-Za-z$][A-Za-z0-9$_.-]{0,8}", 0..4),
            size in any::<u32>(),
            modseq in proptest::option::of(1u64..(1 << 63)),
            order in any::<u8>(),
        ) {
            let r = line(seq, uid, &flags, size, modseq, order);
            let fast = fetch_meta_fast(&r);
            prop_assert!(fast.is_some());
            prop_assert_eq!(fast, fetch_proto(&r).ok());
        }
    }
}
