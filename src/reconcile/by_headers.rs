//! The header level of identity (`--identity headers`), below content:
//! for servers that rebuild a message's bytes on every FETCH (Exchange /
//! Office 365), where neither fingerprint can pair a message with its
//! original.
//!
//! Only what both content levels left unpaired takes part, and a pair is
//! made only where it cannot be a guess: a Message-ID held by exactly one
//! such message on each side, whose Date and From agree too, and whose
//! sizes as fetched agree within [`crate::header_key::SIZE_SLACK_BYTES`]
//! or 10%. A Message-ID two candidates share on a side (duplicates, or a
//! sender reusing ids), a message without Message-ID, Date or From, or
//! one whose header was not read pairs with nothing here: it is copied.
//!
//! Uniqueness is judged among the candidates, not among every message of
//! the mailbox: a message already paired by content has its partner, and
//! a second delivery of the same Message-ID on both sides pairs rather
//! than being copied both ways.
//!
//! Such a pair may only prevent a duplicate: it never carries a proven
//! expunge, matches a tombstone or confirms a rename (`messages`).

use super::matching::Matched;
use super::{MailboxInput, Policy};
use crate::header_key::HeaderKey;
use crate::model::{Fingerprint, Identity, MessageMeta, Uid};
use std::collections::{BTreeMap, HashMap};

/// The header level for one mailbox where the operator asked for it
/// (`--identity headers`), else nothing paired: what the content levels
/// left over (`left`) is matched by the header keys the listings carry,
/// and the plan's `notes` say how many pairs it made.
pub fn when_asked<'a>(
    left: [Vec<&'a MessageMeta>; 2],
    input: &MailboxInput,
    policy: &Policy,
    notes: &mut Vec<String>,
) -> Matched<'a> {
    if policy.identity != Identity::Headers {
        return Matched {
            pairs: Vec::new(),
            left,
        };
    }
    let none = BTreeMap::new();
    let keys = [0, 1].map(|i| input.sides[i].as_ref().map_or(&none, |s| &s.headers));
    let matched = match_headers(left, keys);
    if !matched.pairs.is_empty() {
        notes.push(format!(
            "{} message(s) paired by headers (--identity headers: Message-ID, Date and From agree, sizes \
             close): their contents differ; such a pair never proves a deletion",
            matched.pairs.len()
        ));
    }
    matched
}

/// Pairs by header key what the content levels left over (`left`), each
/// side's keys given by UID.
pub fn match_headers<'a>(
    left: [Vec<&'a MessageMeta>; 2],
    keys: [&BTreeMap<Uid, HeaderKey>; 2],
) -> Matched<'a> {
    // Per side: Message-ID → the candidates holding it, with their keys.
    let by_id: [HashMap<Fingerprint, Vec<(&'a MessageMeta, &HeaderKey)>>; 2] = [0, 1].map(|i| {
        let mut ids: HashMap<Fingerprint, Vec<_>> = HashMap::new();
        for m in &left[i] {
            if let Some(key) = keys[i].get(&m.uid) {
                ids.entry(key.message_id).or_default().push((*m, key));
            }
        }
        ids
    });
    let mut out = Matched::default();
    let mut paired: [Vec<Uid>; 2] = Default::default();
    for (id, on_a) in &by_id[0] {
        let Some(on_b) = by_id[1].get(id) else {
            continue;
        };
        let ([(a, ka)], [(b, kb)]) = (&on_a[..], &on_b[..]) else {
            continue; // a Message-ID two candidates share: ambiguous
        };
        if ka.date_from == kb.date_from && ka.sizes_agree(kb) {
            out.pairs.push([*a, *b]);
            paired[0].push(a.uid);
            paired[1].push(b.uid);
        }
    }
    out.pairs.sort_by_key(|[a, b]| (a.uid, b.uid));
    for (i, pool) in left.into_iter().enumerate() {
        paired[i].sort_unstable();
        out.left[i] = pool
            .into_iter()
            .filter(|m| paired[i].binary_search(&m.uid).is_err())
            .collect();
        out.left[i].sort_unstable_by_key(|m| m.uid);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message whose content is `content`, at the epoch, no flags.
    fn msg(uid: Uid, content: u8) -> MessageMeta {
        let fingerprint = Fingerprint([content; 32]);
        let internal_date = crate::model::InternalDate::parse("01-Jan-1970 00:00:00 +0000");
        MessageMeta {
            uid,
            fingerprint,
            normalised: crate::model::Normalised::of(&fingerprint, Some(fingerprint)),
            flags: crate::model::FlagSet::new(),
            internal_date: internal_date.unwrap(),
            size: 10,
        }
    }

    fn key(id: u8, date_from: u8, bytes: u32) -> HeaderKey {
        HeaderKey {
            message_id: Fingerprint([id; 32]),
            date_from: Fingerprint([date_from; 32]),
            bytes,
        }
    }

    /// I16: one to one by a unique Message-ID with Date, From and size
    /// agreeing; a duplicated id, another date or sender, a size too far
    /// off or no key at all pair nothing.
    #[test]
    fn i16_only_an_unambiguous_header_match_pairs() {
        let a: Vec<MessageMeta> = (1..=6).map(|u| msg(u, u as u8)).collect();
        let b: Vec<MessageMeta> = (11..=17).map(|u| msg(u, u as u8)).collect();
        let keys_a = BTreeMap::from([
            (1, key(1, 1, 1000)),   // pairs with 11
            (2, key(2, 2, 1000)),   // id 2 twice on B
            (3, key(3, 3, 1000)),   // another date/sender on B
            (4, key(4, 4, 1000)),   // 40 KB on B
            (5, key(5, 5, 50_000)), // 54 KB on B: within 10%
        ]); // 6: no key (no Message-ID)
        let keys_b = BTreeMap::from([
            (11, key(1, 1, 4000)),
            (12, key(2, 2, 1000)),
            (13, key(2, 2, 1000)),
            (14, key(3, 9, 1000)),
            (15, key(4, 4, 40_000)),
            (16, key(5, 5, 54_000)),
            (17, key(6, 6, 1000)),
        ]);
        let m = match_headers([a.iter().collect(), b.iter().collect()], [&keys_a, &keys_b]);
        let pairs: Vec<_> = m.pairs.iter().map(|[x, y]| (x.uid, y.uid)).collect();
        assert_eq!(pairs, [(1, 11), (5, 16)]);
        let left = |i: usize| m.left[i].iter().map(|m| m.uid).collect::<Vec<_>>();
        assert_eq!(left(0), [2, 3, 4, 6]);
        assert_eq!(left(1), [12, 13, 14, 15, 17]);
        // Swapped: the same pairs, mirrored.
        let m = match_headers([b.iter().collect(), a.iter().collect()], [&keys_b, &keys_a]);
        let mirrored: Vec<_> = m.pairs.iter().map(|[x, y]| (y.uid, x.uid)).collect();
        assert_eq!(mirrored, pairs);
    }
}
