//! Proven expunges, once every mailbox's copies have landed: `UID EXPUNGE`
//! of exactly the planned UIDs, or `\Deleted` only (flag-only, or no
//! UIDPLUS) remembered as pending-expunge; the pairs leave the snapshot
//! once that is done. Which UIDs have proof is the plan's decision, not
//! this module's.

use super::logged::{as_sent, logged};
use super::MailboxRun;
use super::{quarantine, refused_by_mailbox};
use crate::action_log::{self, Write};
use crate::model::{Fingerprint, FlagDelta, FlagSet, Side, Uid};
use crate::outcome::{Action, Status};
use crate::plan::{Expunge, ExpungeMode, ExpungeReason};
use crate::snapshot::Tombstone;
use std::collections::HashMap;

impl MailboxRun<'_, '_> {
    /// Carries out proven expunges: `UID EXPUNGE` of exactly those UIDs, or
    /// only `\Deleted` (flag-only, or no UIDPLUS) with the message remembered
    /// as pending-expunge. The pairs leave the snapshot once that is done.
    pub(super) async fn expunge(&mut self) {
        for side in Side::BOTH {
            // A refusal about the mailbox is reported once: the other mode's
            // command would meet it too.
            let mut refused_mailbox: Option<String> = None;
            for mode in [ExpungeMode::Expunge, ExpungeMode::FlagOnly] {
                let chosen: Vec<&Expunge> = self
                    .mb
                    .expunges
                    .iter()
                    .filter(|e| e.side == side && e.mode == mode)
                    .collect();
                if chosen.is_empty() {
                    continue;
                }
                let uids: Vec<Uid> = chosen.iter().map(|e| e.uid).collect();
                let readable: Vec<Uid> = chosen
                    .iter()
                    .filter(|e| e.reason != ExpungeReason::Damaged)
                    .map(|e| e.uid)
                    .collect();
                if let Some(e) = &refused_mailbox {
                    let refused = Status::Refused(e.clone());
                    let name = &self.mb.name;
                    self.out
                        .ledger
                        .messages(name, Action::Expunge, side, &uids, &refused);
                    continue;
                }
                let wire = self.wire(side).to_string();
                let uidvalidity = self.statuses[side.index()].as_ref().map(|s| s.uidvalidity);
                let delta = FlagDelta {
                    add: FlagSet::from_wire(["\\Deleted"]),
                    remove: FlagSet::new(),
                };
                let content: HashMap<Uid, Fingerprint> =
                    chosen.iter().map(|e| (e.uid, e.fingerprint)).collect();
                let mut messages =
                    self.logged_messages(side, &uids, |uid| content.get(&uid).copied());
                let name = &self.mb.name;
                // --expunge-to: moved into the quarantine instead.
                let quarantine = (mode == ExpungeMode::Expunge)
                    .then(|| self.quarantine.map(|q| q[side.index()].clone()))
                    .flatten();
                // The read-back rides behind the UID EXPUNGE where this is
                // the side's last write here (no \Deleted-only STORE after
                // it, no quarantine): a read after the writes, in the
                // mailbox whose UIDVALIDITY the SELECT below checks.
                let last = !(self.mb.expunges.iter())
                    .any(|e| e.side == side && e.mode == ExpungeMode::FlagOnly);
                let ride = (mode == ExpungeMode::Expunge && quarantine.is_none() && last)
                    .then(|| self.changes_from(side))
                    .flatten();
                let mut seen = None;
                let ids_read = self.ids_read[side.index()].clone();
                let conn = &mut self.conns[side.index()];
                let peer = conn.peer().clone();
                let done = async {
                    let kept = match &quarantine {
                        Some(q) => Some((q, quarantine::ensure(conn, side, q).await?)),
                        None => None,
                    };
                    // The Message-IDs for the log: read in the flag STOREs'
                    // flight where this session still holds the mailbox
                    // read-write at the UIDVALIDITY they were read at (a
                    // SELECT it answered, checked then): nothing is sent
                    // before the deletion. Else in the SELECT's flight.
                    // Not of a body found damaged or undeliverable: Dovecot
                    // ends the session that reads a file cut short, even
                    // its header, and such bytes name nothing reliably.
                    let fields = match ids_read {
                        Some((fields, at))
                            if uidvalidity == Some(at) && conn.holds_writable_at(&wire, at) =>
                        {
                            fields
                        }
                        _ => {
                            let (status, fields) = conn
                                .select_reading_fields(&wire, &readable, &["MESSAGE-ID"])
                                .await?;
                            // Nothing is expunged by UID in a mailbox whose
                            // UIDs now name other messages.
                            super::same_uidvalidity(&peer, &wire, uidvalidity, status.uidvalidity)?;
                            fields
                        }
                    };
                    for m in &mut messages {
                        let header = m.uid.and_then(|uid| fields.get(&uid));
                        m.message_id = header.and_then(|h| action_log::message_id(h));
                    }
                    let write = Write {
                        uidvalidity,
                        uids: &uids,
                        flags: (mode == ExpungeMode::FlagOnly).then_some(&delta),
                        messages,
                        ..Write::mailbox(side, name, action_log::Action::Expunge)
                    };
                    match (kept, mode) {
                        (Some((q, uidvalidity)), _) => {
                            quarantine::move_to(conn, write, &uids, q, uidvalidity).await
                        }
                        (None, ExpungeMode::Expunge) => match ride {
                            Some((modseq, expected)) => {
                                let send =
                                    conn.uid_expunge_reading_back(&uids, &wire, modseq, expected);
                                let read = logged(&peer, write, send, as_sent).await?;
                                seen = read;
                                Ok(())
                            }
                            None => logged(&peer, write, conn.uid_expunge(&uids), as_sent).await,
                        },
                        (None, ExpungeMode::FlagOnly) => {
                            let write = Write {
                                action: action_log::Action::Store,
                                ..write
                            };
                            logged(&peer, write, conn.store(&uids, &delta), as_sent).await
                        }
                    }
                }
                .await;
                self.read_behind_writes[side.index()] = seen;
                if done.as_ref().is_err_and(refused_by_mailbox) {
                    refused_mailbox = done.as_ref().err().map(ToString::to_string);
                }
                let done = done.map_err(|e| e.to_string());
                let status = Status::of(&done);
                let name = &self.mb.name;
                self.out
                    .ledger
                    .messages(name, Action::Expunge, side, &uids, &status);
                if let Err(e) = done {
                    self.fail(
                        side,
                        &format!("expunge {} message(s)", uids.len()),
                        e.to_string(),
                    );
                    continue;
                }
                let pairs: Vec<[Uid; 2]> = chosen.iter().map(|e| e.pair).collect();
                let uidvalidity = self.statuses[side.index()]
                    .as_ref()
                    .map_or(0, |s| s.uidvalidity);
                let mut snapshot = self.snapshot.borrow_mut();
                let recorded = if mode == ExpungeMode::Expunge {
                    // Both sides' actual content (a pair below the exact
                    // level holds two), each with its normalised fingerprint.
                    let tombstones: Vec<_> = chosen
                        .iter()
                        .flat_map(|e| {
                            let partner = e.partner.map(|fingerprint| Tombstone {
                                fingerprint,
                                normalised: e.normalised,
                            });
                            std::iter::once(Tombstone {
                                fingerprint: e.fingerprint,
                                normalised: e.normalised,
                            })
                            .chain(partner)
                        })
                        .collect();
                    // Forgetting the expunged UIDs makes one that comes back
                    // (a restore, even on a server without CONDSTORE) a UID
                    // below the saved UIDNEXT that was never seen: a regression.
                    snapshot
                        .remove_pairs(&self.mb.name, &pairs, &tombstones)
                        .and_then(|()| {
                            snapshot.update_cache(&self.mb.name, side, uidvalidity, &[], &uids)
                        })
                } else {
                    snapshot
                        .mark_pending_expunge(&self.mb.name, side, uidvalidity, &uids)
                        .and_then(|()| snapshot.remove_pairs(&self.mb.name, &pairs, &[]))
                };
                drop(snapshot);
                if let Err(e) = recorded {
                    self.fail(
                        side,
                        "record expunges in the snapshot (the next run proves them again)",
                        e.to_string(),
                    );
                }
            }
        }
    }
}
