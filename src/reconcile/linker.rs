//! Linking the snapshot's pairs to what each side lists now: by UID on a
//! healthy side, by content on one whose UIDs cannot be trusted
//! (UIDVALIDITY changed, regressed), and which contents such a side holds
//! fewer copies of than the snapshot paired (a partner's absence then
//! proves nothing about the copy left). Owned by [`super::messages`].

use super::fast_hash::{FastMap, FastSet};
use super::{BasePair, Evidence, MailboxInput};
use crate::model::{Fingerprint, Flag, MessageMeta, Side, Uid};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The contents `side`'s pairs name more often than `messages` hold them.
fn contended_contents(
    pairs: &[BasePair],
    messages: &[MessageMeta],
    side: Side,
) -> FastSet<Fingerprint> {
    let mut surplus: FastMap<Fingerprint, i64> = FastMap::default();
    for p in pairs {
        *surplus.entry(p.fingerprint_on(side)).or_default() += 1;
    }
    for m in messages {
        if let Some(n) = surplus.get_mut(&m.fingerprint) {
            *n -= 1;
        }
    }
    surplus
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(f, _)| f)
        .collect()
}

/// One side's messages by fingerprint, each group in (INTERNALDATE, UID)
/// order: the order in which duplicates are linked by content.
fn content_index(messages: &[MessageMeta]) -> BTreeMap<Fingerprint, VecDeque<&MessageMeta>> {
    let mut map: BTreeMap<Fingerprint, Vec<&MessageMeta>> = BTreeMap::new();
    for m in messages {
        map.entry(m.fingerprint).or_default().push(m);
    }
    map.into_iter()
        .map(|(fp, mut v)| {
            v.sort_by_key(|m| (m.internal_date, m.uid));
            (fp, VecDeque::from(v))
        })
        .collect()
}

/// Finds the messages the snapshot's pairs refer to on each side.
pub(super) struct Linker<'a> {
    /// Per side whose listing is not in UID order, built on first use: its
    /// messages by UID (a listing in order is searched as it is; a map of
    /// every message was ~45 bytes a message, built where no pair needed it).
    by_uid: [Option<FastMap<Uid, &'a MessageMeta>>; 2],
    /// Per side: the listing's UIDs only ever go up.
    in_order: [bool; 2],
    /// Per side, built on the first link by content (most runs link every
    /// pair by UID and never need it).
    by_fingerprint: [Option<BTreeMap<Fingerprint, VecDeque<&'a MessageMeta>>>; 2],
    /// Per side: link by content because the side is not healthy (UIDVALIDITY
    /// changed, or it regressed and may reuse UIDs).
    by_content: [bool; 2],
    /// Per side linked by content: the contents the snapshot paired more
    /// often than the side now lists them (duplicates, some gone).
    contended: [FastSet<Fingerprint>; 2],
    linked: [FastSet<Uid>; 2],
    messages: [&'a [MessageMeta]; 2],
}

impl<'a> Linker<'a> {
    pub(super) fn new(
        input: &MailboxInput,
        messages: [&'a [MessageMeta]; 2],
        evidence: &[Evidence; 2],
    ) -> Linker<'a> {
        let by_content = [0, 1].map(|i| match &input.sides[i] {
            Some(side) => {
                !evidence[i].is_healthy()
                    || input.base.uidvalidity[i] != Some(side.status.uidvalidity)
            }
            None => false,
        });
        let contended = [Side::A, Side::B].map(|s| {
            if by_content[s.index()] {
                contended_contents(&input.base.pairs, messages[s.index()], s)
            } else {
                FastSet::default()
            }
        });
        Linker {
            by_uid: [None, None],
            in_order: messages.map(|m| m.windows(2).all(|w| w[0].uid < w[1].uid)),
            by_fingerprint: [None, None],
            by_content,
            contended,
            // Most messages get linked: sized once, not grown by doubling.
            linked: [0, 1]
                .map(|i| FastSet::with_capacity_and_hasher(messages[i].len(), Default::default())),
            messages,
        }
    }

    /// The message of `side` a base pair names: by UID on a healthy side
    /// (with `exact`, only if it holds `fingerprint`), else by content.
    pub(super) fn link(
        &mut self,
        side: Side,
        uid: Uid,
        fingerprint: Fingerprint,
        exact: bool,
    ) -> Option<&'a MessageMeta> {
        let i = side.index();
        let found = if self.by_content[i] {
            let messages = self.messages[i];
            let index = self.by_fingerprint[i].get_or_insert_with(|| content_index(messages));
            let queue = index.get_mut(&fingerprint)?;
            loop {
                let m = queue.pop_front()?;
                if !self.linked[i].contains(&m.uid) {
                    break Some(m);
                }
            }
        } else {
            self.by_uid(i, uid)
                .filter(|m| !self.linked[i].contains(&m.uid))
                .filter(|m| !exact || m.fingerprint == fingerprint)
        }?;
        self.linked[i].insert(found.uid);
        Some(found)
    }

    /// The message of side `i` under this UID.
    fn by_uid(&mut self, i: usize, uid: Uid) -> Option<&'a MessageMeta> {
        let messages = self.messages[i];
        if self.in_order[i] {
            let at = messages.binary_search_by_key(&uid, |m| m.uid).ok()?;
            return Some(&messages[at]);
        }
        let index =
            self.by_uid[i].get_or_insert_with(|| messages.iter().map(|m| (m.uid, m)).collect());
        index.get(&uid).copied()
    }

    /// Whether `side` is linked by content and lists fewer messages of
    /// `fingerprint` than the snapshot's pairs name there.
    pub(super) fn contended(&self, side: Side, fingerprint: Fingerprint) -> bool {
        self.contended[side.index()].contains(&fingerprint)
    }

    /// Gives a linked message back: its partner is gone, unproven.
    pub(super) fn release(&mut self, side: Side, m: &MessageMeta) {
        self.linked[side.index()].remove(&m.uid);
    }

    /// Keeps messages imapmend already marked `\Deleted` for a proven
    /// expunge out of matching, so they are not copied back, for as long as
    /// they keep `\Deleted` (removing it is an un-delete, F13).
    pub(super) fn hold_pending_expunges(&mut self, pending: &[BTreeSet<Uid>; 2]) {
        for (i, uids) in pending.iter().enumerate() {
            if self.by_content[i] {
                continue; // UIDs of another UIDVALIDITY name other messages
            }
            for uid in uids {
                let marked = self
                    .by_uid(i, *uid)
                    .is_some_and(|m| m.flags.contains(&Flag::deleted()));
                if marked {
                    self.linked[i].insert(*uid);
                }
            }
        }
    }

    pub(super) fn unlinked(&self, i: usize) -> Vec<&'a MessageMeta> {
        self.messages[i]
            .iter()
            .filter(|m| !self.linked[i].contains(&m.uid))
            .collect()
    }
}
