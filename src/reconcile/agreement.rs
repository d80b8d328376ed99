//! What `check` judges: per mailbox, do both sides hold the same multiset of
//! (fingerprint, flags)?
//!
//! Flags a side cannot store (PERMANENTFLAGS) are left out of the comparison
//! on both sides, because they are a recorded divergence, not a difference.
//!
//! What differs by the exact fingerprint may still agree by the normalised
//! one, under the rule that pairs by it ([`super::matching`]): with the same
//! flags, as many messages on each side per normalised fingerprint. With
//! `--identity headers` what is left may agree by headers, under the
//! plan's rule for them ([`super::by_headers`]), flags equal.

use super::fast_hash::FastMap;
use super::flags::storable;
use super::MailboxInput;
use crate::model::{Fingerprint, FlagSet, MailboxStatus, MessageMeta, Side, Uid};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Messages one side holds more of than the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Surplus {
    pub side: Side,
    pub fingerprint: Fingerprint,
    pub flags: FlagSet,
    pub count: usize,
}

/// The verdict for one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxAgreement {
    pub name: String,
    /// The mailbox exists on this side only.
    pub only_on: Option<Side>,
    pub messages: [usize; 2],
    pub surplus: Vec<Surplus>,
    /// `--verify`: (side, UID) whose content changed in place since it was synced.
    pub damaged: Vec<(Side, Uid)>,
    /// `--verify`: (side, UID) whose body the server did not deliver.
    pub unreadable: Vec<(Side, Uid)>,
    /// Known divergences, not differences: (side, UID) marked `\Deleted`
    /// for a proven expunge that was not carried out (pending-expunge).
    pub pending_expunge: Vec<(Side, Uid)>,
    /// Known divergences, not differences: (side, UID) of messages the
    /// other side refused to take on an earlier sync (from the input's
    /// refusals: see [`super::agreements`]).
    pub refused: Vec<(Side, Uid)>,
}

impl MailboxAgreement {
    pub fn agrees(&self) -> bool {
        self.only_on.is_none()
            && self.surplus.is_empty()
            && self.damaged.is_empty()
            && self.unreadable.is_empty()
    }
}

/// Compares both sides of one mailbox.
pub fn compare(input: &MailboxInput) -> MailboxAgreement {
    let absent = MailboxStatus::default();
    let status = [0, 1].map(|i| input.sides[i].as_ref().map_or(&absent, |s| &s.status));
    let mut totals = [0, 0];
    // `--identity headers` (the listings carry header keys): each message
    // with what it is compared as, for the header level below.
    let by_headers = input.sides.iter().flatten().any(|s| !s.headers.is_empty());
    let mut compared: [Vec<(&MessageMeta, Key)>; 2] = Default::default();
    let paired = [0, 1].map(|i| pair_identities(input, i));
    let messages = [0, 1].map(|i| input.sides[i].as_ref().map_or(&[][..], |s| &s.messages[..]));
    // The flags compared where they are not the message's own (a side
    // cannot store some of them): built first, as the entries point into it.
    let mut restricted: Vec<FlagSet> = Vec::new();
    let mut own = [Vec::new(), Vec::new()];
    for (i, listed) in messages.iter().enumerate() {
        let pending = &input.base.pending_expunge[i];
        own[i] = (listed.iter())
            .map(|m| {
                if is_pending_expunge(pending, m) {
                    return SKIPPED;
                }
                let comparable = storable(&storable(&m.flags, status[0]), status[1]);
                if comparable == m.flags {
                    return OWN;
                }
                restricted.push(comparable);
                (restricted.len() - 1) as u32
            })
            .collect::<Vec<u32>>();
    }
    // One sorted vector of every message compared, by (identity, flags):
    // a run of equal keys is one multiset element, counted per side. Two
    // maps keyed by fingerprint held ~200 bytes a message of a mailbox.
    let mut entries: Vec<Entry<'_>> = Vec::with_capacity(messages[0].len() + messages[1].len());
    for (i, listed) in messages.iter().enumerate() {
        for (at, (m, how)) in listed.iter().zip(&own[i]).enumerate() {
            let flags = match *how {
                SKIPPED => continue,
                OWN => &m.flags,
                r => &restricted[r as usize],
            };
            let identity = paired[i].get(&m.uid).unwrap_or(&m.fingerprint);
            if by_headers {
                compared[i].push((m, (*identity, flags.clone())));
            }
            entries.push(Entry {
                identity,
                flags,
                side: i as u8,
                at: at as u32,
            });
            totals[i] += 1;
        }
    }
    drop(own);
    entries.sort_unstable_by(|x, y| (x.identity, x.flags).cmp(&(y.identity, y.flags)));
    let mut surplus = Vec::new();
    // The normalised fingerprint of each identity with a surplus: the
    // first one known in listing order (A's messages, then B's).
    let mut normalised: BTreeMap<Fingerprint, Fingerprint> = BTreeMap::new();
    for run in entries.chunk_by(|x, y| x.identity == y.identity) {
        let before = surplus.len();
        for same in run.chunk_by(|x, y| x.flags == y.flags) {
            let a = same.iter().filter(|e| e.side == 0).count();
            let b = same.len() - a;
            if a != b {
                surplus.push(Surplus {
                    side: if a > b { Side::A } else { Side::B },
                    fingerprint: *same[0].identity,
                    flags: same[0].flags.clone(),
                    count: a.abs_diff(b),
                });
            }
        }
        if surplus.len() > before {
            let known = (run.iter())
                .filter_map(|e| {
                    let n = messages[e.side as usize][e.at as usize].normalised()?;
                    Some(((e.side, e.at), n))
                })
                .min_by_key(|(place, _)| *place);
            if let Some((_, n)) = known {
                normalised.insert(*run[0].identity, n);
            }
        }
    }
    drop(entries);
    // Per (normalised fingerprint, flags): as much surplus on A as on B is
    // agreement at the normalised level.
    let loose_key = |s: &Surplus| Some((*normalised.get(&s.fingerprint)?, s.flags.clone()));
    let mut loose: BTreeMap<(Fingerprint, FlagSet), [usize; 2]> = BTreeMap::new();
    for s in &surplus {
        if let Some(key) = loose_key(s) {
            loose.entry(key).or_default()[s.side.index()] += s.count;
        }
    }
    surplus.retain(|s| loose_key(s).is_none_or(|key| loose[&key][0] != loose[&key][1]));
    if by_headers {
        agree_by_headers(input, &compared, &mut surplus);
    }
    let only_on = match (&input.sides[0], &input.sides[1]) {
        (Some(_), None) => Some(Side::A),
        (None, Some(_)) => Some(Side::B),
        _ => None,
    };
    let per_side = |pick: &dyn Fn(&super::SideListing) -> Vec<Uid>| -> Vec<(Side, Uid)> {
        Side::BOTH
            .into_iter()
            .flat_map(|side| {
                let uids = input.sides[side.index()]
                    .as_ref()
                    .map(pick)
                    .unwrap_or_default();
                uids.into_iter().map(move |uid| (side, uid))
            })
            .collect()
    };
    MailboxAgreement {
        name: input.name.clone(),
        only_on,
        // A settled mailbox's messages were not read, nor a subset's
        // untouched ones: all agree.
        messages: if input.base.settled || input.base.subset_of.is_some() {
            status.map(|s| s.exists as usize)
        } else {
            totals
        },
        surplus,
        damaged: per_side(&|l| l.damaged.iter().copied().collect()),
        // Listed without content (`check` never lists so): not comparable.
        unreadable: per_side(&|l| {
            let unread = l.unread.iter().map(|m| m.uid);
            l.unreadable.iter().copied().chain(unread).collect()
        }),
        pending_expunge: Side::BOTH
            .into_iter()
            .flat_map(|side| {
                let listed = input.sides[side.index()].iter().flat_map(|s| &s.messages);
                let pending = &input.base.pending_expunge[side.index()];
                listed
                    .filter(|m| is_pending_expunge(pending, m))
                    .map(move |m| (side, m.uid))
                    .collect::<Vec<_>>()
            })
            .collect(),
        refused: Vec::new(),
    }
}

/// What a message is compared as: its identity (content, or its pair's)
/// and the flags both sides can store.
type Key = (Fingerprint, FlagSet);

/// One message as [`compare`] counts it: [`Key`] by reference, and where
/// it is listed (side, position).
struct Entry<'a> {
    identity: &'a Fingerprint,
    flags: &'a FlagSet,
    side: u8,
    at: u32,
}

/// [`compare`]: a message compared with its own flags, or not compared
/// (pending expunge); any other value is an index into the flags a side
/// cannot store some of.
const OWN: u32 = u32::MAX;
const SKIPPED: u32 = u32::MAX - 1;

/// `--identity headers`: what both content levels leave over agrees where
/// the plan's header level would pair it ([`super::by_headers`]: one
/// candidate per Message-ID on each side, Date and From equal, sizes
/// close) and the flags agree too: each such pair takes one message off
/// each side's surplus. Only the messages under a surplus key are
/// candidates, all of them (which of several equal ones is the surplus
/// is not known, and a Message-ID two candidates share pairs nothing).
fn agree_by_headers(
    input: &MailboxInput,
    compared: &[Vec<(&MessageMeta, Key)>; 2],
    surplus: &mut Vec<Surplus>,
) {
    // Where each (side, key) stands in `surplus`.
    let at: HashMap<(Side, Key), usize> = surplus
        .iter()
        .enumerate()
        .map(|(n, s)| ((s.side, (s.fingerprint, s.flags.clone())), n))
        .collect();
    let left = [0, 1].map(|i| {
        compared[i]
            .iter()
            .filter(|(_, key)| at.contains_key(&(Side::BOTH[i], key.clone())))
            .map(|(m, _)| *m)
            .collect()
    });
    let none = BTreeMap::new();
    let keys = [0, 1].map(|i| input.sides[i].as_ref().map_or(&none, |s| &s.headers));
    let key_of: [HashMap<Uid, &Key>; 2] =
        [0, 1].map(|i| compared[i].iter().map(|(m, key)| (m.uid, key)).collect());
    for [a, b] in super::by_headers::match_headers(left, keys).pairs {
        let (Some(ka), Some(kb)) = (key_of[0].get(&a.uid), key_of[1].get(&b.uid)) else {
            continue;
        };
        if ka.1 != kb.1 {
            continue; // the flags differ: that is a difference
        }
        let (Some(&na), Some(&nb)) = (
            at.get(&(Side::A, (*ka).clone())),
            at.get(&(Side::B, (*kb).clone())),
        ) else {
            continue;
        };
        if surplus[na].count > 0 && surplus[nb].count > 0 {
            surplus[na].count -= 1;
            surplus[nb].count -= 1;
        }
    }
    surplus.retain(|s| s.count > 0);
}

/// Side `i`'s UIDs the snapshot pairs, with the pair's fingerprint: a copy
/// the target rewrote holds other bytes (its own fingerprint, read back)
/// than its source, yet it is the message imapmend sent, so it compares as
/// the pair's content. Only where the side is healthy under the pairs'
/// UIDVALIDITY: elsewhere a UID may name another message.
pub(super) fn pair_identities(input: &MailboxInput, i: usize) -> FastMap<Uid, Fingerprint> {
    let Some(side) = input.sides[i].as_ref() else {
        return FastMap::default();
    };
    if !side.evidence.is_healthy() || input.base.uidvalidity[i] != Some(side.status.uidvalidity) {
        return FastMap::default();
    }
    let mut identities =
        FastMap::with_capacity_and_hasher(input.base.pairs.len(), Default::default());
    identities.extend(input.base.pairs.iter().map(|p| (p.uid[i], p.fingerprint)));
    identities
}

/// A message imapmend marked `\Deleted` for a proven expunge, as long as it
/// keeps `\Deleted` (removing it is an un-delete: it is synced again).
fn is_pending_expunge(
    pending: &std::collections::BTreeSet<Uid>,
    m: &crate::model::MessageMeta,
) -> bool {
    pending.contains(&m.uid) && m.flags.contains(&crate::model::Flag::deleted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{InternalDate, MessageMeta};
    use crate::reconcile::{BasePair, MailboxBase, SideListing};

    fn side(fingerprint: u8) -> Option<SideListing> {
        Some(SideListing {
            wire_name: "INBOX".into(),
            status: MailboxStatus {
                uidvalidity: 1,
                ..MailboxStatus::default()
            },
            messages: vec![MessageMeta {
                uid: 1,
                size: 10,
                internal_date: InternalDate::new(0, 0),
                flags: FlagSet::new(),
                fingerprint: Fingerprint([fingerprint; 32]),
                normalised: crate::model::Normalised::UNKNOWN,
            }],
            ..SideListing::default()
        })
    }

    /// What a full `check` holds per message it compares, beside the
    /// listings (docs/PERFORMANCE.md, "What a full path holds per
    /// message"): an entry of the sorted vector, 24 bytes; and the
    /// record it points into, each side's `MessageMeta`, 80 bytes. A
    /// change that grows either grows a 1,000,000-message `check` by a
    /// megabyte a byte: it should show here, and in those figures.
    #[test]
    fn a_compared_message_costs_an_entry_of_24_bytes_beside_its_record() {
        assert_eq!(std::mem::size_of::<Entry<'_>>(), 24);
        assert_eq!(std::mem::size_of::<MessageMeta>(), 80);
    }

    /// I7: B rewrote the copy of A's message (its own fingerprint, read
    /// back, differs); the snapshot's pair says it is the message sent, so
    /// `check` finds the sides agreeing — and without the pair, not.
    #[test]
    fn i7_a_copy_the_target_rewrote_agrees_with_its_source_through_the_pair() {
        let mut input = MailboxInput {
            name: "INBOX".into(),
            sides: [side(1), side(2)],
            base: MailboxBase {
                uidvalidity: [Some(1), Some(1)],
                pairs: vec![BasePair {
                    uid: [1, 1],
                    fingerprint: Fingerprint([1; 32]),
                    flags: Some(FlagSet::new()),
                    unconfirmed: None,
                    fingerprint_b: None,
                    level: crate::model::PairLevel::Exact,
                }],
                ..MailboxBase::default()
            },
        };
        assert!(compare(&input).agrees(), "{:?}", compare(&input));
        input.base.pairs.clear();
        assert_eq!(compare(&input).surplus.len(), 2);
    }

    /// I16: before any snapshot, a message and its rebuilt version (other
    /// content, same header key) agree where the listings carry header
    /// keys (`--identity headers`), not without them, nor with other
    /// flags, nor where a Message-ID two messages of a side share.
    #[test]
    fn i16_check_counts_agreement_by_headers_only_as_the_plan_would_pair() {
        let key = |id: u8| crate::header_key::HeaderKey {
            message_id: Fingerprint([id; 32]),
            date_from: Fingerprint([9; 32]),
            bytes: 100,
        };
        let mut input = MailboxInput {
            name: "INBOX".into(),
            sides: [side(1), side(2)],
            base: MailboxBase::default(),
        };
        assert_eq!(compare(&input).surplus.len(), 2);
        for s in input.sides.iter_mut().flatten() {
            s.headers.insert(1, key(7));
        }
        assert!(compare(&input).agrees(), "{:?}", compare(&input));
        // Other flags: a difference the plan would carry over.
        fn flags_on_b(input: &mut MailboxInput, flags: FlagSet) {
            input.sides[1].as_mut().unwrap().messages[0].flags = flags;
        }
        flags_on_b(&mut input, FlagSet::from_wire(["\\Seen"]));
        assert_eq!(compare(&input).surplus.len(), 2);
        flags_on_b(&mut input, FlagSet::new());
        // A second message on A with the same Message-ID: ambiguous.
        let a = input.sides[0].as_mut().unwrap();
        let mut twin = a.messages[0].clone();
        twin.uid = 2;
        twin.set_fingerprints(Fingerprint([3; 32]), twin.normalised());
        a.messages.push(twin);
        a.headers.insert(2, key(7));
        assert_eq!(compare(&input).surplus.len(), 3);
    }
}
