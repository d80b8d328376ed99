//! How a side may be read and what it shows against the snapshot: judged
//! from SELECT (or LIST-STATUS) against the saved watermarks
//! ([`judge_status`]), signs of a restore in a listed message
//! ([`regression_of`]), and a complete listing rebuilt from the
//! snapshot's cache and the server's change history
//! ([`rebuild_from_history`]), which refuses (and so forces the full
//! listing) whenever the history does not add up. What the side can prove
//! is the core's [`Evidence`].

use crate::model::{Fingerprint, FlagSet, InternalDate, ListedMessage, MailboxStatus, Uid};
use crate::reconcile::Evidence;
use std::collections::HashMap;

/// What the snapshot remembers of a side's mailbox at the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    pub uidvalidity: u32,
    /// UIDNEXT and HIGHESTMODSEQ when the side was last listed: the point
    /// the change history is asked from.
    pub uidnext: u32,
    pub highestmodseq: Option<u64>,
    /// The highest UIDNEXT and HIGHESTMODSEQ ever seen, our own writes and
    /// the UIDs the snapshot knows included: a server showing less forgot
    /// them, i.e. was restored.
    pub seen_uidnext: u32,
    pub seen_highestmodseq: Option<u64>,
}

/// A message as the snapshot's cache remembers it on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remembered<'a> {
    pub size: u32,
    pub internal_date: InternalDate,
    pub fingerprint: Fingerprint,
    /// Its normalised fingerprint, where the cache knows it.
    pub normalised: Option<Fingerprint>,
    pub flags: &'a FlagSet,
    /// A changed size under this UID is a sign that the UID was reused:
    /// the size was read from this server (not copied from the source of
    /// an APPEND, which the server may have rewritten), and the run does
    /// not take the server's sizes for estimates (`--identity headers`
    /// does: Exchange estimates RFC822.SIZE and edits flagged messages).
    pub size_is_evidence: bool,
}

/// How to read a side, judged from SELECT alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub evidence: Evidence,
    /// Whether the change history may be used (else the full listing).
    pub history: bool,
    /// Why, for the report.
    pub reason: String,
}

/// Judges a side from what SELECT said against the saved watermark.
/// `can_history`: the session has CONDSTORE (or QRESYNC) enabled.
pub fn judge_status(
    saved: Option<Watermark>,
    status: &MailboxStatus,
    can_history: bool,
) -> Judgement {
    let healthy = |history: bool, reason: &str| Judgement {
        evidence: Evidence::Healthy,
        history,
        reason: reason.to_string(),
    };
    let Some(saved) = saved else {
        return healthy(false, "no snapshot of this mailbox yet");
    };
    if saved.uidvalidity != status.uidvalidity {
        return Judgement {
            evidence: Evidence::UidvalidityChanged,
            history: false,
            reason: format!(
                "UIDVALIDITY changed ({} → {})",
                saved.uidvalidity, status.uidvalidity
            ),
        };
    }
    let seen_uidnext = saved.seen_uidnext.max(saved.uidnext);
    if status.uidnext < seen_uidnext {
        return restored(format!(
            "UIDNEXT went backwards ({seen_uidnext} seen, now {})",
            status.uidnext
        ));
    }
    let seen_modseq = saved.highestmodseq.max(saved.seen_highestmodseq);
    if let (Some(was), Some(now)) = (seen_modseq, status.highestmodseq) {
        if now < was {
            return restored(format!(
                "HIGHESTMODSEQ went backwards ({was} seen, now {now})"
            ));
        }
    }
    if !can_history {
        return healthy(false, "server offers no CONDSTORE");
    }
    if status.highestmodseq.is_none() {
        return healthy(false, "server answered NOMODSEQ for this mailbox");
    }
    if saved.highestmodseq.is_none() {
        return healthy(false, "no HIGHESTMODSEQ saved for this mailbox yet");
    }
    healthy(true, "changes since the saved HIGHESTMODSEQ")
}

fn restored(reason: String) -> Judgement {
    Judgement {
        evidence: Evidence::Restored(reason.clone()),
        history: false,
        reason: format!("regressed: {reason}"),
    }
}

/// Looks for a sign of a restore in one listed message under an unchanged
/// UIDVALIDITY (with its cache row, if any): a UID below the saved
/// UIDNEXT the snapshot never saw, or a known UID whose size or date
/// changed. A full listing is looked at message by message as it is
/// matched to the cache ([`super::join`]).
pub(super) fn regression_of(
    saved_uidnext: u32,
    remembered: Option<&Remembered<'_>>,
    m: &ListedMessage,
) -> Option<String> {
    match remembered {
        None if m.uid < saved_uidnext => Some(format!(
            "UID {} is below the saved UIDNEXT {saved_uidnext} but was never seen",
            m.uid
        )),
        None => None,
        Some(r) => {
            // A zone may be reported differently (Maildir keeps only the
            // instant); the instant itself is immutable.
            let date_changed = r.internal_date.unix() != m.internal_date.unix();
            let size_changed = r.size_is_evidence && r.size != m.size;
            (date_changed || size_changed).then(|| {
                format!(
                    "UID {} changed its size or INTERNALDATE: the UID was reused",
                    m.uid
                )
            })
        }
    }
}

/// A complete listing rebuilt from history: every message with its
/// fingerprint where the cache knows it (None: a new message whose body must
/// be fetched).
pub type Rebuilt = Vec<(ListedMessage, Option<Fingerprint>)>;

/// Rebuilds the complete listing of a side from the cache (its state at
/// the last listing), the messages changed since the saved HIGHESTMODSEQ
/// (new ones included) and the UIDs expunged since (inclusive ranges).
/// Errors, with the reason, when the history does not add up — the caller
/// then takes the full listing and treats the side as suspect.
pub fn rebuild_from_history(
    saved_uidnext: u32,
    remembered: &HashMap<Uid, Remembered<'_>>,
    changed: &[ListedMessage],
    vanished: &[(Uid, Uid)],
    exists: u32,
) -> Result<Rebuilt, String> {
    let is_vanished = |uid: Uid| vanished.iter().any(|(lo, hi)| (*lo..=*hi).contains(&uid));
    // A vector sorted by UID, not a map: at 100,000 messages a B-tree of
    // them was ~25 MB of the incremental run's peak.
    let mut listing: Rebuilt = Vec::with_capacity(remembered.len() + changed.len());
    listing.extend(
        remembered
            .iter()
            .filter(|(uid, _)| !is_vanished(**uid))
            .map(|(uid, r)| {
                let m = ListedMessage {
                    uid: *uid,
                    size: r.size,
                    internal_date: r.internal_date,
                    flags: r.flags.clone(),
                };
                (m, Some(r.fingerprint))
            }),
    );
    listing.sort_unstable_by_key(|(m, _)| m.uid);
    let known = listing.len();
    for m in changed {
        if let Some(sign) = regression_of(saved_uidnext, remembered.get(&m.uid), m) {
            return Err(sign);
        }
        let fingerprint = remembered.get(&m.uid).map(|r| r.fingerprint);
        let mut listed = m.clone();
        if let Some(r) = remembered.get(&m.uid) {
            // Keep what the cache holds for size and date: only flags change.
            listed.size = r.size;
            listed.internal_date = r.internal_date;
        }
        match listing[..known].binary_search_by_key(&m.uid, |(l, _)| l.uid) {
            Ok(at) => listing[at] = (listed, fingerprint),
            Err(_) => listing.push((listed, fingerprint)),
        }
    }
    // UIDs the cache did not know, in order; one reported twice keeps its
    // last report (reversed, the stable sort puts it first of its run).
    listing[known..].reverse();
    listing.sort_by_key(|(m, _)| m.uid);
    listing.dedup_by_key(|(m, _)| m.uid);
    if listing.len() != exists as usize {
        return Err(format!(
            "the change history adds up to {} messages but the server has {exists}",
            listing.len()
        ));
    }
    Ok(listing)
}

/// UIDs the cache knows that a complete UID list no longer has, as ranges
/// of one (for servers with CONDSTORE but no VANISHED).
pub fn vanished_from_uid_list(
    remembered: &HashMap<Uid, Remembered<'_>>,
    present: &[Uid],
) -> Vec<(Uid, Uid)> {
    let present: std::collections::HashSet<Uid> = present.iter().copied().collect();
    let mut gone: Vec<Uid> = remembered
        .keys()
        .filter(|u| !present.contains(u))
        .copied()
        .collect();
    gone.sort_unstable();
    gone.into_iter().map(|u| (u, u)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn status(uidvalidity: u32, uidnext: u32, modseq: Option<u64>) -> MailboxStatus {
        MailboxStatus {
            uidvalidity,
            uidnext,
            exists: 0,
            highestmodseq: modseq,
            permanent_flags: None,
        }
    }

    fn mark(uidvalidity: u32, uidnext: u32, modseq: Option<u64>) -> Option<Watermark> {
        Some(Watermark {
            uidvalidity,
            uidnext,
            highestmodseq: modseq,
            seen_uidnext: uidnext,
            seen_highestmodseq: modseq,
        })
    }

    #[test]
    fn regressions_make_a_side_suspect_and_force_the_full_listing() {
        let j = judge_status(mark(7, 10, Some(5)), &status(8, 10, Some(5)), true);
        assert_eq!(
            (j.evidence, j.history),
            (Evidence::UidvalidityChanged, false)
        );
        let j = judge_status(mark(7, 10, Some(5)), &status(7, 9, Some(5)), true);
        assert!(j.evidence.is_restored() && !j.history, "{j:?}");
        let j = judge_status(mark(7, 10, Some(5)), &status(7, 10, Some(4)), true);
        assert!(j.evidence.is_restored() && !j.history, "{j:?}");
        let j = judge_status(mark(7, 10, Some(5)), &status(7, 12, Some(9)), true);
        assert_eq!((j.evidence, j.history), (Evidence::Healthy, true));
        let j = judge_status(mark(7, 10, Some(5)), &status(7, 12, None), true);
        assert_eq!((j.evidence, j.history), (Evidence::Healthy, false));
        let j = judge_status(mark(7, 10, Some(5)), &status(7, 12, Some(9)), false);
        assert_eq!((j.evidence, j.history), (Evidence::Healthy, false));
        let j = judge_status(None, &status(7, 12, Some(9)), true);
        assert_eq!((j.evidence, j.history), (Evidence::Healthy, false));
    }

    /// Our own writes raised what was seen; a server restored to the state
    /// it had before them shows less, even though it matches the history
    /// watermark exactly.
    #[test]
    fn a_server_that_forgot_our_writes_is_restored() {
        let saved = Watermark {
            uidvalidity: 7,
            uidnext: 10,
            highestmodseq: Some(5),
            seen_uidnext: 12,
            seen_highestmodseq: Some(9),
        };
        let j = judge_status(Some(saved), &status(7, 10, Some(9)), true);
        assert!(j.evidence.is_restored(), "{j:?}");
        let j = judge_status(Some(saved), &status(7, 12, Some(5)), true);
        assert!(j.evidence.is_restored(), "{j:?}");
        let j = judge_status(Some(saved), &status(7, 12, Some(9)), true);
        assert_eq!((j.evidence, j.history), (Evidence::Healthy, true));
    }

    /// A model mailbox that keeps a MODSEQ per message and per expunge, as a
    /// CONDSTORE/QRESYNC server does, to produce honest change histories.
    #[derive(Clone, Debug, Default)]
    struct ModelServer {
        messages: BTreeMap<Uid, (ListedMessage, Fingerprint, u64)>,
        expunged: Vec<(Uid, u64)>,
        uidnext: Uid,
        modseq: u64,
    }

    #[derive(Clone, Debug)]
    enum Change {
        Deliver(u8),
        SetFlags(prop::sample::Index, u8),
        Expunge(prop::sample::Index),
    }

    impl ModelServer {
        fn apply(&mut self, change: &Change) {
            self.modseq += 1;
            match change {
                Change::Deliver(content) => {
                    self.uidnext += 1;
                    let uid = self.uidnext - 1;
                    let m = ListedMessage {
                        uid,
                        size: 100 + *content as u32,
                        internal_date: InternalDate::new(*content as i64, 0),
                        flags: FlagSet::new(),
                    };
                    self.messages
                        .insert(uid, (m, Fingerprint([*content; 32]), self.modseq));
                }
                Change::SetFlags(i, bits) if !self.messages.is_empty() => {
                    let uid = *i.get(&self.messages.keys().copied().collect::<Vec<_>>());
                    let all = ["\\Seen", "\\Flagged", "$Junk"];
                    let flags =
                        FlagSet::from_wire((0..3).filter(|b| bits & (1 << b) != 0).map(|b| all[b]));
                    let entry = self.messages.get_mut(&uid).unwrap();
                    entry.0.flags = flags;
                    entry.2 = self.modseq;
                }
                Change::Expunge(i) if !self.messages.is_empty() => {
                    let uid = *i.get(&self.messages.keys().copied().collect::<Vec<_>>());
                    self.messages.remove(&uid);
                    self.expunged.push((uid, self.modseq));
                }
                _ => {}
            }
        }

        fn listing(&self) -> Vec<(ListedMessage, Fingerprint)> {
            self.messages
                .values()
                .map(|(m, fp, _)| (m.clone(), *fp))
                .collect()
        }

        /// `UID FETCH 1:* (…) (CHANGEDSINCE m VANISHED)`.
        fn changes_since(&self, m: u64) -> (Vec<ListedMessage>, Vec<(Uid, Uid)>) {
            let changed = self
                .messages
                .values()
                .filter(|(_, _, ms)| *ms > m)
                .map(|(l, _, _)| l.clone())
                .collect();
            let vanished = self
                .expunged
                .iter()
                .filter(|(_, ms)| *ms > m)
                .map(|(u, _)| (*u, *u))
                .collect();
            (changed, vanished)
        }
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (0u8..6).prop_map(Change::Deliver),
            (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, b)| Change::SetFlags(i, b)),
            any::<prop::sample::Index>().prop_map(Change::Expunge),
        ]
    }

    proptest! {
        /// The history path and the full listing see the same mailbox, so
        /// everything downstream (the Plan) is the same.
        #[test]
        fn history_rebuild_equals_the_full_listing(
            before in prop::collection::vec(change(), 0..12),
            after in prop::collection::vec(change(), 0..12),
        ) {
            let mut server = ModelServer { uidnext: 1, ..Default::default() };
            for c in &before { server.apply(c); }
            let cached = server.listing();
            let (saved_modseq, saved_uidnext) = (server.modseq, server.uidnext);
            for c in &after { server.apply(c); }

            let remembered: HashMap<Uid, Remembered<'_>> = cached.iter().map(|(m, fp)| (m.uid, Remembered {
                size: m.size, internal_date: m.internal_date, fingerprint: *fp, normalised: None, flags: &m.flags, size_is_evidence: true,
            })).collect();
            let (changed, vanished) = server.changes_since(saved_modseq);
            let rebuilt = rebuild_from_history(saved_uidnext, &remembered, &changed, &vanished, server.messages.len() as u32)
                .expect("an honest history adds up");
            let full = server.listing();
            prop_assert_eq!(rebuilt.len(), full.len());
            for ((m, fp), (truth, true_fp)) in rebuilt.iter().zip(&full) {
                prop_assert_eq!(m, truth);
                if let Some(fp) = fp { prop_assert_eq!(fp, true_fp); }
                else { prop_assert!(truth.uid >= saved_uidnext, "only new messages lack a fingerprint"); }
            }
            // CONDSTORE without VANISHED: the UID list gives the same answer.
            let uids: Vec<Uid> = server.messages.keys().copied().collect();
            let from_uids = vanished_from_uid_list(&remembered, &uids);
            let again = rebuild_from_history(saved_uidnext, &remembered, &changed, &from_uids, uids.len() as u32).unwrap();
            prop_assert_eq!(again, rebuilt);
        }

        /// A history that does not cover a change (as after a restore that
        /// rewound HIGHESTMODSEQ) is refused, never silently believed.
        #[test]
        fn a_history_missing_a_delivery_is_refused(before in prop::collection::vec(change(), 0..8), content in 0u8..6) {
            let mut server = ModelServer { uidnext: 1, ..Default::default() };
            for c in &before { server.apply(c); }
            let cached = server.listing();
            let (saved_modseq, saved_uidnext) = (server.modseq, server.uidnext);
            server.apply(&Change::Deliver(content));
            let remembered: HashMap<Uid, Remembered<'_>> = cached.iter().map(|(m, fp)| (m.uid, Remembered {
                size: m.size, internal_date: m.internal_date, fingerprint: *fp, normalised: None, flags: &m.flags, size_is_evidence: true,
            })).collect();
            let (mut changed, vanished) = server.changes_since(saved_modseq);
            changed.retain(|m| m.uid < saved_uidnext);
            let result = rebuild_from_history(saved_uidnext, &remembered, &changed, &vanished, server.messages.len() as u32);
            prop_assert!(result.is_err());
        }
    }
}
