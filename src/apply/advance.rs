//! After writing to a side: the watermarks saved for it move past the
//! run's own writes, so the next run finds the mailbox unchanged
//! (LIST-STATUS) instead of reading back what this one wrote — but only
//! when what changed since the listing (EXAMINE and CHANGEDSINCE from the
//! saved HIGHESTMODSEQ, one flight) is exactly those writes. A message
//! another client added, expunged or flagged meanwhile leaves the
//! watermarks where they were, so the next run reads it from the history.
//!
//! [`judge`] is that comparison, pure: the side's cache rows as the run
//! left them (its copies in, its expunges out, the flags as listed) with
//! the flag deltas it stored, against what the server shows. It asks the
//! cache only about the UIDs the server or the run names, and for the
//! count ([`CachedFlags`]): never the whole mailbox.

use super::MailboxRun;
use crate::imap::{ImapError, Recheck};
use crate::model::{FlagDelta, FlagSet, MailboxStatus, Side, Uid};
use crate::outcome::{Action, Status};
use crate::snapshot::{CachedFlags, Judged};
use std::collections::HashMap;

/// What reading a side back after writing gave.
pub(super) enum ReadBack {
    /// The status alone (no history to compare with: no CONDSTORE, a
    /// restored side, watermarks this run could not save).
    Status(MailboxStatus),
    /// The status and what changed since the saved HIGHESTMODSEQ.
    Changes(Recheck),
}

impl MailboxRun<'_, '_> {
    /// Reads `side` back after writing: EXAMINE, with the changes since
    /// the listing in the same flight where they can move the watermarks
    /// (read already where they rode behind the UID EXPUNGE: taken).
    pub(super) async fn read_back(&mut self, side: Side) -> Result<ReadBack, ImapError> {
        if let Some(seen) = self.read_behind_writes[side.index()].take() {
            return Ok(ReadBack::Changes(seen));
        }
        let wire = self.wire(side).to_string();
        let from = self.changes_from(side);
        let conn = &mut self.conns[side.index()];
        match from {
            Some((modseq, expected)) => {
                let seen = conn.examine_changes(&wire, modseq, expected).await?;
                Ok(ReadBack::Changes(seen))
            }
            None => conn.select(&wire, true).await.map(ReadBack::Status),
        }
    }

    /// Where reading `side` back can move its watermarks: the
    /// mod-sequence the changes are asked from and the messages expected
    /// there (the listing's and the copies'); None where the status alone
    /// is read.
    pub(super) fn changes_from(&self, side: Side) -> Option<(u64, u32)> {
        let from = self.statuses[side.index()].as_ref()?;
        // The rebase saved no HIGHESTMODSEQ for a side whose proven
        // expunges were withheld, nor is a restored side's cache trusted.
        let withheld = self.mb.withheld.iter().any(|e| e.side.other() == side);
        let usable = self.conns[side.index()].history_support()
            != crate::imap::HistorySupport::None
            && !withheld
            && !self.restored[side.index()];
        let modseq = from.highestmodseq.filter(|_| usable)?;
        let copies = self.mb.copies.iter().filter(|c| c.from != side).count();
        let expected = (from.exists as usize + copies).min(u32::MAX as usize) as u32;
        Some((modseq, expected))
    }

    /// Moves `side`'s saved watermarks to what `seen` says, if it shows
    /// nothing but this run's writes; says on `-v` which it was. Returns
    /// whether they moved.
    pub(super) fn advance(&mut self, side: Side, seen: &Recheck) -> bool {
        let Some(from) = self.statuses[side.index()].clone() else {
            return false;
        };
        let stored = self.stored_deltas(side);
        let moved = self.snapshot.borrow_mut().advance_past_writes(
            &self.mb.name,
            side,
            &from,
            &seen.status,
            |cached| judge(cached, &stored, seen),
        );
        match moved {
            Ok(Ok(())) => {
                tracing::info!(
                    "{}: {side}'s watermarks moved past this run's writes",
                    self.mb.name
                );
                true
            }
            Ok(Err(why)) => {
                tracing::info!(
                    "{}: {side} is read from its history again next run: {why}",
                    self.mb.name
                );
                false
            }
            Err(e) => {
                self.fail(side, "record what was seen in the snapshot", e.to_string());
                false
            }
        }
    }

    /// The flag deltas this run stored on `side`, by UID: the changes the
    /// ledger says went through (not those refused, nor those left alone
    /// because another client changed the message first).
    fn stored_deltas(&self, side: Side) -> HashMap<Uid, FlagDelta> {
        let ledger = &self.out.ledger;
        self.mb
            .flag_changes
            .iter()
            .filter(|c| c.side == side)
            .map(|c| (c.pair[side.index()], &c.delta))
            .filter(|(uid, _)| {
                ledger.status(&self.mb.name, Action::Flags, side, *uid) == Some(&Status::Done)
            })
            .map(|(uid, delta)| (uid, delta.clone()))
            .collect()
    }
}

/// Whether `seen` shows exactly the side the cache describes once the
/// `stored` deltas are applied to it: every changed message one the cache
/// holds, with the flags it should have now; every delta stored showing
/// (or changing nothing); nothing the cache holds expunged; as many
/// messages as the cache holds. Ok: the flags to record (the changed
/// messages' that differ from the cache's); Err: why not.
pub(super) fn judge(
    cached: &dyn CachedFlags,
    stored: &HashMap<Uid, FlagDelta>,
    seen: &Recheck,
) -> Judged {
    if seen.disturbed {
        return Err("the mailbox changed while it was read back".into());
    }
    let expected = |was: &FlagSet, uid: Uid| match stored.get(&uid) {
        Some(d) => was.union(&d.add).minus(&d.remove),
        None => was.clone(),
    };
    let mut updates = Vec::new();
    for (uid, flags) in &seen.changed {
        let Some(was) = cached.flags(*uid) else {
            return Err(format!("UID {uid} is new and not one of this run's copies"));
        };
        if expected(&was, *uid) != *flags {
            return Err(format!("UID {uid} has flags this run did not store"));
        }
        if was != *flags {
            updates.push((*uid, flags.clone()));
        }
    }
    let shown: std::collections::HashSet<Uid> = seen.changed.iter().map(|(u, _)| *u).collect();
    for uid in stored.keys().filter(|u| !shown.contains(u)) {
        if let Some(was) = cached.flags(*uid) {
            if expected(&was, *uid) != was {
                return Err(format!("the flags stored on UID {uid} do not show"));
            }
        }
    }
    for &(lo, hi) in seen.vanished.iter().flatten() {
        if let Some(uid) = cached.first_in(lo, hi) {
            return Err(format!("UID {uid} was expunged by another client"));
        }
    }
    let count = cached.count();
    if seen.status.exists as usize != count {
        return Err(format!(
            "{} message(s) where this run expects {count}",
            seen.status.exists,
        ));
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl CachedFlags for HashMap<Uid, FlagSet> {
        fn flags(&self, uid: Uid) -> Option<FlagSet> {
            self.get(&uid).cloned()
        }

        fn first_in(&self, lo: Uid, hi: Uid) -> Option<Uid> {
            self.keys()
                .filter(|u| (lo..=hi).contains(*u))
                .min()
                .copied()
        }

        fn count(&self) -> usize {
            self.len()
        }
    }

    fn flags(list: &[&str]) -> FlagSet {
        FlagSet::from_wire(list.iter().copied())
    }

    fn seen(exists: u32, changed: &[(Uid, &[&str])], vanished: Option<&[(Uid, Uid)]>) -> Recheck {
        Recheck {
            status: MailboxStatus {
                uidvalidity: 7,
                uidnext: 20,
                exists,
                highestmodseq: Some(50),
                permanent_flags: None,
            },
            changed: changed.iter().map(|(u, f)| (*u, flags(f))).collect(),
            vanished: vanished.map(<[_]>::to_vec),
            disturbed: false,
        }
    }

    /// Cache: 1 (listed, \Seen), 2 (listed, no flags), 10 (this run's
    /// copy, \Flagged). The run stored +\Answered -\Seen on 1.
    fn run() -> (HashMap<Uid, FlagSet>, HashMap<Uid, FlagDelta>) {
        let cached = [
            (1, flags(&["\\Seen"])),
            (2, flags(&[])),
            (10, flags(&["\\Flagged"])),
        ];
        let delta = FlagDelta {
            add: flags(&["\\Answered"]),
            remove: flags(&["\\Seen"]),
        };
        (
            cached.into_iter().collect(),
            [(1, delta)].into_iter().collect(),
        )
    }

    #[test]
    fn exactly_the_runs_writes_move_the_watermarks_and_record_the_flags_stored() {
        let (cached, stored) = run();
        let own = seen(
            3,
            &[(1, &["\\Answered"]), (10, &["\\Flagged"])],
            Some(&[(3, 9)]),
        );
        assert_eq!(
            judge(&cached, &stored, &own),
            Ok(vec![(1, flags(&["\\Answered"]))]),
            "10 shows the flags cached: nothing to record"
        );
        // Under CONDSTORE alone (no VANISHED) the count says it.
        let own = seen(3, &[(1, &["\\Answered"]), (10, &["\\Flagged"])], None);
        assert!(judge(&cached, &stored, &own).is_ok());
    }

    #[test]
    fn another_clients_change_keeps_the_watermarks() {
        let (cached, stored) = run();
        let cases: [(&str, Recheck); 7] = [
            // a message another client added
            ("new", seen(4, &[(1, &["\\Answered"]), (11, &[])], None)),
            // flags another client set on a message the run did not touch
            (
                "flags",
                seen(3, &[(1, &["\\Answered"]), (2, &["\\Seen"])], None),
            ),
            // … or on one the run stored to
            ("flags", seen(3, &[(1, &["\\Answered", "$x"])], None)),
            // … or on the run's own copy
            ("flags", seen(3, &[(1, &["\\Answered"]), (10, &[])], None)),
            // a store that does not show
            ("do not show", seen(3, &[], None)),
            // an expunge, seen as VANISHED …
            (
                "expunged",
                seen(3, &[(1, &["\\Answered"])], Some(&[(2, 2)])),
            ),
            // … or only in the count
            ("expects 3", seen(2, &[(1, &["\\Answered"])], None)),
        ];
        for (why, case) in cases {
            let judged = judge(&cached, &stored, &case);
            assert!(
                judged.as_ref().is_err_and(|e| e.contains(why)),
                "{why}: {judged:?}"
            );
        }
        let mut disturbed = seen(3, &[(1, &["\\Answered"])], None);
        disturbed.disturbed = true;
        assert!(judge(&cached, &stored, &disturbed).is_err());
    }
}
