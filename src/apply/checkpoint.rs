//! The snapshot bookkeeping around a mailbox run's writes: intents an
//! interrupted run left settled first, the rebase (watermarks and pairs with
//! their base flags) before anything is written, and what was seen after
//! writing. The intents framing each APPEND are the copier's
//! ([`super::copy`]); expunges and flags record their own results.

use super::advance::ReadBack;
use super::settled::{proven, Applied};
use super::MailboxRun;
use crate::model::{MailboxStatus, Side};
use crate::plan::PlannedPair;
use crate::reconcile::MailboxBase;
use crate::snapshot::PairRecord;

impl MailboxRun<'_, '_> {
    /// After writing to a side, records its UIDNEXT and HIGHESTMODSEQ as
    /// seen, so a restore that loses our writes is recognised next time
    /// even when it matches the listing watermark; and, where what changed
    /// since the listing is only this run's writes, moves the saved
    /// watermarks past them ([`super::advance`]): the next run then finds
    /// the mailbox unchanged.
    pub(super) async fn record_what_was_seen(&mut self) {
        // Per side, the status to mark the mailbox settled at: as listed
        // where nothing was written, as read back where the watermarks
        // moved past the writes, else none ([`super::settled`]).
        let mut now = self.statuses.clone();
        for side in Side::BOTH {
            let mb = self.mb;
            let wrote = mb.create == Some(side)
                || mb.copies.iter().any(|c| c.from != side)
                || mb.flag_changes.iter().any(|c| c.side == side)
                || mb.expunges.iter().any(|e| e.side == side);
            if !wrote {
                continue;
            }
            now[side.index()] = None;
            let status = match self.read_back(side).await {
                Ok(ReadBack::Status(status)) => status,
                Ok(ReadBack::Changes(seen)) => {
                    if self.advance(side, &seen) {
                        now[side.index()] = Some(seen.status);
                        continue;
                    }
                    seen.status
                }
                Err(e) => {
                    self.out.notes.push(format!(
                        "{}: could not re-read {side} after writing: {e}",
                        mb.name
                    ));
                    continue;
                }
            };
            let raised = self.snapshot.borrow_mut().raise_seen(
                &mb.name,
                side,
                status.uidnext,
                status.highestmodseq,
            );
            if let Err(e) = raised {
                self.fail(side, "record what was seen in the snapshot", e.to_string());
            }
        }
        if self.mb.has_actions() {
            self.mark_settled(now);
        }
    }

    /// Marks the mailbox settled at `now` where this run's writes leave it
    /// so, as [`super::settled::proven`] proves; says on `-v` which it was.
    fn mark_settled(&mut self, now: [Option<MailboxStatus>; 2]) {
        let name = &self.mb.name;
        let applied = Applied {
            plan: self.mb,
            listings: self.listings,
            base: self.base,
            refused: self.refused,
            unconfirmed: self.unconfirmed_receipts,
            ledger: &self.out.ledger,
            failed: self.out.stopped || self.out.failures.iter().any(|f| f.mailbox == *name),
            now: [now[0].as_ref(), now[1].as_ref()],
        };
        let marks = match proven(&applied) {
            Ok(marks) => marks,
            Err(why) => return tracing::info!("{name}: not marked settled: {why}"),
        };
        let recorded = self
            .snapshot
            .borrow_mut()
            .record_settled(&[(name.clone(), Some(marks))]);
        match recorded {
            Ok(()) => tracing::info!(
                "{name}: settled by this run's writes; the next run need not read it"
            ),
            Err(e) => self.fail(Side::A, "record the mailbox settled", e.to_string()),
        }
    }

    /// An intent left by a run that stopped between an APPEND and its
    /// checkpoint is settled once the mailbox has been listed in full: what
    /// landed is on the target now and is re-paired by content in this very
    /// plan, so nothing is appended twice. (Resolving by order and size, for
    /// servers that rewrite messages on APPEND, comes with Cyrus support.)
    pub(super) fn forget_settled_intents(&mut self) {
        let intents = self.snapshot.borrow().intents();
        let intents = match intents {
            Ok(intents) => intents,
            Err(e) => return self.fail(Side::A, "read pending intents", e.to_string()),
        };
        for intent in intents.into_iter().filter(|i| i.mailbox == self.mb.name) {
            let dropped = self.snapshot.borrow_mut().drop_intent(intent.id);
            if let Err(e) = dropped {
                self.fail(intent.target, "forget a settled intent", e.to_string());
            }
        }
    }

    /// Watermarks and pairs, with each pair's flags as they may be recorded
    /// before any STORE is sent.
    pub(super) fn rebase(&mut self) -> Result<(), String> {
        if self.base.is_some_and(|b| b.settled) {
            return Ok(()); // not read this run: its watermarks and pairs stand
        }
        // A side whose proven expunges were withheld must be listed in full
        // next time, so the proof is seen again: its HIGHESTMODSEQ is not saved.
        let mut statuses = self.statuses.clone();
        for e in &self.mb.withheld {
            if let Some(st) = statuses[e.side.other().index()].as_mut() {
                st.highestmodseq = None;
            }
        }
        let sides = [Side::A, Side::B].map(|s| {
            let st = statuses[s.index()].as_ref();
            st.map(|st| (self.mb.wire[s.index()].as_deref().unwrap_or_default(), st))
        });
        // Every planned pair was linked in this run's listing on both
        // sides, so a receipt among them is confirmed now (see
        // `reconcile::messages`): recorded without its marker.
        let planned = self.mb.pairs.iter().map(|p: &PlannedPair| PairRecord {
            uid: p.uid,
            fingerprint: p.fingerprint,
            flags: p.base_before.clone(),
            unconfirmed: None,
            level: p.level,
            fingerprint_b: p.fingerprint_b.as_deref().copied(),
        });
        // Pairs about to be expunged stay until the expunge is done, so a
        // crash in between proves it again instead of copying the survivor back.
        // (An extra with no partner — one-way, restored, damaged — has no
        // pair to keep.)
        let expunging = self
            .mb
            .expunges
            .iter()
            .chain(&self.mb.withheld)
            .filter(|e| e.pair.iter().all(|uid| *uid != 0))
            .map(|e| {
                let [a, b] = e.fingerprints();
                PairRecord {
                    uid: e.pair,
                    fingerprint: a,
                    flags: e.base.clone(),
                    // a proven expunge needs a confirmed pair
                    unconfirmed: None,
                    level: e.level,
                    fingerprint_b: Some(b).filter(|b| *b != a),
                }
            });
        // Made as they are written, not collected: a repair's million
        // pairs were held a second time as rows (~112 bytes each).
        let pairs = planned.chain(expunging);
        // Rewriting every pair of a mailbox where none changed (the common
        // case of a rerun) costs more than the rest of it: watermarks only.
        let unchanged =
            self.mb.rename.is_none() && self.base.is_some_and(|b| same_pairs(b, pairs.clone()));
        let mut snapshot = self.snapshot.borrow_mut();
        // Read as its changed subset: the pairs it read are replaced, row
        // by row; the rest, untouched, stand.
        let subset = self.base.filter(|b| b.subset_of.is_some());
        if unchanged {
            snapshot.set_watermarks(&self.mb.name, sides)
        } else if let Some(base) = subset {
            let old: Vec<_> = base.pairs.iter().map(|p| p.uid).collect();
            snapshot.rebase_pairs(&self.mb.name, sides, &old, pairs)
        } else {
            snapshot.rebase_mailbox(&self.mb.name, sides, pairs)
        }
        .map_err(|e| e.to_string())?;
        for side in Side::BOTH.into_iter().filter(|s| self.restored[s.index()]) {
            if let Some(st) = &self.statuses[side.index()] {
                snapshot
                    .reset_seen(&self.mb.name, side, st.uidnext, st.highestmodseq)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// Whether `pairs` are exactly the pairs the snapshot held (`base`); they
/// are collected only where their number may be the base's (not in a
/// repair, whose base has none).
fn same_pairs(base: &MailboxBase, pairs: impl Iterator<Item = PairRecord>) -> bool {
    // A receipt confirmed by this run's listing must be written as such.
    let confirming = base.pairs.iter().any(|p| p.unconfirmed.is_some());
    let (least, most) = pairs.size_hint();
    let held = base.pairs.len();
    if confirming || held < least || most.is_some_and(|most| held > most) {
        return false;
    }
    let pairs: Vec<PairRecord> = pairs.collect();
    if held != pairs.len() {
        return false;
    }
    let mut old: Vec<_> = base
        .pairs
        .iter()
        .map(|p| (p.uid, p.fingerprint, &p.flags, p.level, p.fingerprint_b))
        .collect();
    let mut new: Vec<_> = pairs
        .iter()
        .map(|p| (p.uid, p.fingerprint, &p.flags, p.level, p.fingerprint_b))
        .collect();
    old.sort_unstable_by_key(|p| p.0);
    new.sort_unstable_by_key(|p| p.0);
    old == new
}
