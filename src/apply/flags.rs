//! Flag deltas: one STORE per delta and side (`UNCHANGEDSINCE` the listing
//! with CONDSTORE, so a message changed meanwhile is left for the next run),
//! all of a side's in one flight through the batch door
//! ([`super::logged::logged_flight`]), then the agreed flags recorded for
//! the pairs whose changes all went through. The Message-IDs the side's
//! expunges will log ride in that flight ([`MailboxRun::ids_read`]).

use super::logged::logged_flight;
use super::refused_by_mailbox;
use super::MailboxRun;
use crate::action_log::{self, LoggedMessage, Write};
use crate::imap::{ImapError, StoreOutcome};
use crate::model::{FlagDelta, FlagSet, Side, Uid};
use crate::outcome::{Action, Status};
use crate::plan::ExpungeReason;
use std::collections::HashSet;

impl MailboxRun<'_, '_> {
    /// Sends every flag delta, then records the agreed flags of the pairs
    /// whose changes all went through.
    pub(super) async fn store_flags(&mut self) {
        let mut failed_pairs: HashSet<[Uid; 2]> = HashSet::new();
        for side in Side::BOTH {
            let stores = self.mb.stores(side);
            if stores.is_empty() {
                continue;
            }
            // Where copies went in just before, the session holds the
            // mailbox read-write already: no SELECT.
            if let Err(e) = self.open_to_write(side).await {
                self.fail(side, "open mailbox to store flags", e.to_string());
                failed_pairs.extend(
                    self.mb
                        .flag_changes
                        .iter()
                        .filter(|c| c.side == side)
                        .map(|c| c.pair),
                );
                continue;
            }
            let unchanged_since = self.statuses[side.index()]
                .as_ref()
                .and_then(|st| st.highestmodseq);
            // The Message-IDs the expunge on this side logs ride in the
            // same flight, so that the expunge needs no SELECT of its own
            // where this session still holds the mailbox then.
            let read_ids = self.ids_to_read(side);
            // Where these STOREs are the side's last write here (no
            // deletion follows), the read-back rides behind them.
            let last = !self.mb.expunges.iter().any(|e| e.side == side);
            let wire = self.wire(side).to_string();
            let ride = self.changes_from(side).filter(|_| last);
            let ride = ride.map(|(modseq, expected)| (wire.as_str(), modseq, expected));
            let writes: Vec<Write> = stores
                .iter()
                .map(|(delta, uids)| Write {
                    uidvalidity: self.statuses[side.index()].as_ref().map(|s| s.uidvalidity),
                    uids,
                    flags: Some(delta),
                    messages: self.stored_messages(side, uids),
                    ..Write::mailbox(side, &self.mb.name, action_log::Action::Store)
                })
                .collect();
            let items: Vec<(&[Uid], &FlagDelta)> =
                stores.iter().map(|(d, u)| (u.as_slice(), d)).collect();
            let conn = &mut self.conns[side.index()];
            let peer = conn.peer().clone();
            let mut fields = None;
            let mut seen = None;
            // CONDSTORE: a message changed since the listing is left alone
            // ([MODIFIED]) and merged again on the next run.
            let send = async {
                let flight = conn
                    .store_flight(&items, unchanged_since, &read_ids, &["MESSAGE-ID"], ride)
                    .await?;
                fields = Some(flight.fields);
                seen = flight.read_back;
                Ok(flight.outcomes)
            };
            let confirm = |w: &Write<'_>, o: &StoreOutcome| {
                super::logged::stored_but_modified(w.uids)(&o.modified)
            };
            let answers = logged_flight(&peer, &writes, send, confirm).await;
            self.read_behind_writes[side.index()] = seen;
            if !read_ids.is_empty() {
                let uidvalidity = self.statuses[side.index()].as_ref().map(|s| s.uidvalidity);
                self.ids_read[side.index()] = fields.zip(uidvalidity);
            }
            let answers: Vec<Result<&Vec<Uid>, &ImapError>> = match &answers {
                Ok(each) => (each.iter())
                    .map(|r| r.as_ref().map(|o| &o.modified))
                    .collect(),
                // The flight failed as a whole: every delta with that error.
                Err(e) => vec![Err(e); stores.len()],
            };
            // A refusal about the mailbox (read-only, no permission …) is
            // reported once.
            let mut refused_mailbox: Option<String> = None;
            for ((delta, uids), result) in stores.into_iter().zip(answers) {
                let name = &self.mb.name;
                if let (Some(e), Err(_)) = (&refused_mailbox, &result) {
                    let refused = Status::Refused(e.clone());
                    let ledger = &mut self.out.ledger;
                    ledger.messages(name, Action::Flags, side, &uids, &refused);
                    failed_pairs.extend(self.pairs_of(side, &uids));
                    continue;
                }
                match &result {
                    Ok(modified) => {
                        let stored: Vec<Uid> = uids
                            .iter()
                            .filter(|u| !modified.contains(u))
                            .copied()
                            .collect();
                        let ledger = &mut self.out.ledger;
                        ledger.messages(name, Action::Flags, side, &stored, &Status::Done);
                        let why = Status::Skipped(
                            "changed on the server during the run; merged on the next run".into(),
                        );
                        ledger.messages(name, Action::Flags, side, modified, &why);
                    }
                    Err(e) => {
                        let refused = Status::Refused(e.to_string());
                        let ledger = &mut self.out.ledger;
                        ledger.messages(name, Action::Flags, side, &uids, &refused);
                    }
                }
                match result {
                    Ok(modified) => {
                        if !modified.is_empty() {
                            self.out.notes.push(format!(
                                "{}: {} message(s) on {side} changed during the run; not overwritten, merged on the next run",
                                self.mb.name,
                                modified.len()
                            ));
                            failed_pairs.extend(self.pairs_of(side, modified));
                        }
                    }
                    Err(e) => {
                        if refused_by_mailbox(e) {
                            refused_mailbox = Some(e.to_string());
                        }
                        let what = format!(
                            "store +{} -{} on {} messages",
                            delta.add,
                            delta.remove,
                            uids.len()
                        );
                        self.fail(side, &what, e.to_string());
                        failed_pairs.extend(self.pairs_of(side, &uids));
                    }
                }
            }
        }
        let changed: HashSet<[Uid; 2]> = self.mb.flag_changes.iter().map(|c| c.pair).collect();
        let updates: Vec<([Uid; 2], FlagSet)> = self
            .mb
            .pairs
            .iter()
            .filter(|p| changed.contains(&p.uid) && !failed_pairs.contains(&p.uid))
            .map(|p| (p.uid, p.agreed.clone()))
            .collect();
        if !updates.is_empty() {
            let recorded = self
                .snapshot
                .borrow_mut()
                .set_pair_flags(&self.mb.name, &updates);
            if let Err(e) = recorded {
                self.fail(
                    Side::A,
                    "record agreed flags in the snapshot",
                    e.to_string(),
                );
            }
        }
    }

    /// For the action log: these UIDs of `side` with their pairs' content
    /// on that side and their listed size.
    fn stored_messages(&self, side: Side, uids: &[Uid]) -> Vec<LoggedMessage> {
        let content: std::collections::HashMap<Uid, _> = self
            .mb
            .pairs
            .iter()
            .map(|p| {
                let on_b = p.fingerprint_b.as_deref().copied().unwrap_or(p.fingerprint);
                let here = if side == Side::A { p.fingerprint } else { on_b };
                (p.uid[side.index()], here)
            })
            .collect();
        self.logged_messages(side, uids, |uid| content.get(&uid).copied())
    }

    /// The UIDs whose Message-IDs this mailbox's expunges on `side` will
    /// log (not of a body found damaged: see [`MailboxRun::expunge`]).
    fn ids_to_read(&self, side: Side) -> Vec<Uid> {
        let mut uids: Vec<Uid> = (self.mb.expunges.iter())
            .filter(|e| e.side == side && e.reason != ExpungeReason::Damaged)
            .map(|e| e.uid)
            .collect();
        uids.sort_unstable();
        uids
    }

    /// The pairs whose flag changes on `side` touch these UIDs.
    fn pairs_of(&self, side: Side, uids: &[Uid]) -> Vec<[Uid; 2]> {
        let uids: HashSet<Uid> = uids.iter().copied().collect();
        self.mb
            .flag_changes
            .iter()
            .filter(|c| c.side == side && uids.contains(&c.pair[side.index()]))
            .map(|c| c.pair)
            .collect()
    }
}
