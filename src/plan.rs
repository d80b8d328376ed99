//! The Plan: every action one run would take, as one value.
//!
//! `plan` prints it, `sync` prints and applies the same value, so a dry run
//! cannot disagree with a real run. Actions are typed and grouped per
//! mailbox; the apply phase orders them creates → copies → flag stores.
//! The JSON form carries [`SCHEMA_VERSION`] so scripts can rely on it.

use crate::model::{Fingerprint, Flag, FlagDelta, FlagSet, InternalDate, PairLevel, Side, Uid};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the JSON form of the Plan; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub schema_version: u32,
    pub mailboxes: Vec<MailboxPlan>,
    /// About the trees rather than one mailbox (mailboxes skipped on
    /// purpose, such as `\All`).
    pub notes: Vec<String>,
    /// SUBSCRIBE / UNSUBSCRIBE to make both sides agree (M12). What the
    /// snapshot then records is derived by apply
    /// ([`crate::reconcile::subscriptions::agreed`]): the Plan holds actions,
    /// not snapshot bookkeeping.
    pub subscriptions: Vec<SubscriptionChange>,
}

/// Subscribe to or unsubscribe from one mailbox on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionChange {
    /// Logical name.
    pub name: String,
    pub side: Side,
    /// The wire name on that side.
    pub wire: String,
    /// SUBSCRIBE (true) or UNSUBSCRIBE (false).
    pub subscribe: bool,
}

/// How a side's mailbox was read, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListingPath {
    /// "full" (every UID listed and compared) or "history" (the snapshot's
    /// listing brought up to date from the server's changes since the last
    /// sync, CONDSTORE/QRESYNC; also a mailbox LIST-STATUS shows unchanged).
    pub path: String,
    pub reason: String,
}

/// Everything planned for one mailbox (by logical name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MailboxPlan {
    /// Logical name: hierarchy levels joined by '/', INBOX upper-cased.
    pub name: String,
    /// The wire name on each side, where the mailbox exists or will.
    pub wire: [Option<String>; 2],
    /// The mailbox is missing on this side and will be created.
    pub create: Option<Side>,
    /// `--delete-mailboxes`: the mailbox is gone from one side since the
    /// last sync and will be deleted on the other (or is withheld).
    pub delete: Option<MailboxDeletion>,
    /// The other side renamed the mailbox since the last sync: it is renamed
    /// on this side too (instead of created) before anything else.
    pub rename: Option<MailboxRename>,
    /// Per side, how it was listed (None where the mailbox does not exist).
    pub listing: [Option<ListingPath>; 2],
    /// UIDVALIDITY per side as listed (None where the mailbox does not exist).
    pub uidvalidity: [Option<u32>; 2],
    /// Every pair that holds after this plan (copies excluded: they are
    /// paired when the server names the new UID) among the messages read:
    /// none for a mailbox read as settled, and for one read as its changed
    /// subset only the pairs it touched (the rest stand as recorded).
    pub pairs: Vec<PlannedPair>,
    pub copies: Vec<Copy>,
    /// Messages not copied on purpose: too large for `--max-size` or the
    /// target's APPENDLIMIT, or refused by the target on an earlier run.
    /// Never sent, and never taken as deleted.
    pub skipped: Vec<Skipped>,
    pub flag_changes: Vec<FlagChange>,
    /// Proven expunges to propagate.
    pub expunges: Vec<Expunge>,
    /// Proven expunges held back by the mass-deletion guard; their pairs stay
    /// in the snapshot so the next run sees the proof again.
    pub withheld: Vec<Expunge>,
    /// Flag removals held back by the guard (lost flags, not a user's choice).
    pub withheld_flags: Vec<WithheldFlag>,
    pub conflicts: Vec<Conflict>,
    /// Things the operator should know that are not actions.
    pub notes: Vec<String>,
    /// Why this mailbox cannot be reconciled (it is then left alone and the
    /// run reports a partial failure).
    pub problems: Vec<String>,
}

/// Renaming a mailbox on one side, as the other side did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxRename {
    /// The side the RENAME is sent to.
    pub side: Side,
    /// The old logical name (its snapshot record moves to the new one).
    pub from: String,
    /// The old wire name on that side.
    pub from_wire: String,
    /// Moved by the RENAME of an ancestor: no command of its own.
    pub implied: bool,
}

/// Deleting a whole mailbox on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxDeletion {
    /// The side the mailbox is deleted on.
    pub side: Side,
    /// How many messages go with it (they count toward the guard).
    pub messages: usize,
    /// Held back by the mass-deletion guard: nothing is done.
    pub withheld: bool,
}

/// A pair as the snapshot should record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedPair {
    /// [uid on A, uid on B].
    pub uid: [Uid; 2],
    /// A's content (and B's, unless `fingerprint_b` says otherwise).
    pub fingerprint: Fingerprint,
    /// B's content where it differs from A's: a pair made below the exact
    /// level (few: boxed, so that the others hold 8 bytes, not 33; a repair
    /// plans a pair per message, issue 18).
    pub fingerprint_b: Option<Box<Fingerprint>>,
    /// At which level of identity the pair was made (or, linked from the
    /// snapshot, was made when first paired).
    pub level: PairLevel,
    /// Flags to record before any STORE is sent: the old base, or None when
    /// there is none. Recording the merged result before both sides hold it
    /// would make a crash look like a removal on the lagging side.
    pub base_before: Option<FlagSet>,
    /// The agreed flags once the flag changes of this pair are applied.
    pub agreed: FlagSet,
}

/// One message to copy to the other side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    pub from: Side,
    pub uid: Uid,
    /// None where the content was not read before the copy (a first sync
    /// towards an empty mailbox, see [`crate::reconcile::unread`]): the copy
    /// hashes the body as it reads it, before its intent is recorded.
    pub fingerprint: Option<Fingerprint>,
    /// The source's normalised fingerprint where known, recorded with the
    /// pair the copy makes (not part of the JSON form).
    #[serde(skip)]
    pub normalised: Option<Fingerprint>,
    pub size: u32,
    pub internal_date: InternalDate,
    /// Flags to give the new message (already limited to what the target
    /// can store).
    pub flags: FlagSet,
    /// The flags the source holds, recorded as agreed once paired.
    pub agreed: FlagSet,
}

/// A message that is not copied, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub from: Side,
    pub uid: Uid,
    /// None where the content was not read (as for [`Copy`](struct@Copy)).
    pub fingerprint: Option<Fingerprint>,
    pub size: u32,
    pub why: SkipReason,
    /// For the operator: the limit, or the server's words.
    pub reason: String,
}

/// The kinds of [`Skipped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Larger than `--max-size`.
    MaxSize,
    /// Larger than the target's APPENDLIMIT (RFC 7889).
    AppendLimit,
    /// The target refused it (APPEND answered NO) on an earlier run.
    Refused,
}

/// A flag delta for one message on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagChange {
    pub side: Side,
    /// [uid on A, uid on B] of the pair.
    pub pair: [Uid; 2],
    pub delta: FlagDelta,
}

/// How a proven expunge is carried out on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpungeMode {
    /// `UID STORE +FLAGS.SILENT (\Deleted)` then `UID EXPUNGE` of exactly this UID.
    Expunge,
    /// Only `\Deleted`; the message is remembered as `pending-expunge`.
    FlagOnly,
}

/// Why a message is to be expunged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpungeReason {
    /// Its partner was proven expunged on the other side.
    Proven,
    /// `--verify` found it damaged; its partner is copied in again.
    Damaged,
    /// On a restored side, its content was expunged earlier (tombstone).
    Tombstone,
    /// Only on a restored side, dropped by `--drop-restored-extras`.
    RestoredExtra,
    /// Only on a one-way target, removed by `--delete-extra`.
    OneWayExtra,
}

/// Remove a message from one side, for the [`ExpungeReason`] given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expunge {
    /// The side the message is removed from.
    pub side: Side,
    pub uid: Uid,
    /// The pair as the snapshot knows it ([uid on A, uid on B]).
    pub pair: [Uid; 2],
    pub fingerprint: Fingerprint,
    /// The pair's agreed flags, kept while the expunge is pending.
    pub base: Option<FlagSet>,
    pub mode: ExpungeMode,
    pub reason: ExpungeReason,
    /// The level of the pair, where the expunge is of a pair's survivor
    /// (not part of the JSON form).
    #[serde(skip)]
    pub level: PairLevel,
    /// The content of the pair's other side where it differs from
    /// `fingerprint` (a pair below the exact level): both are tombstoned.
    #[serde(skip)]
    pub partner: Option<Fingerprint>,
    /// The expunged message's normalised fingerprint, where known, for its
    /// tombstone.
    #[serde(skip)]
    pub normalised: Option<Fingerprint>,
}

impl Expunge {
    /// The pair's content on each side ([A, B]).
    pub fn fingerprints(&self) -> [Fingerprint; 2] {
        let mut both = [self.partner.unwrap_or(self.fingerprint); 2];
        both[self.side.index()] = self.fingerprint;
        both
    }
}

/// A flag removed from too many messages of one side at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithheldFlag {
    pub side: Side,
    pub flag: Flag,
    pub count: u64,
}

/// A decision the operator may want to review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub pair: [Uid; 2],
    pub description: String,
}

impl Plan {
    /// Whether the plan asks for any IMAP write.
    pub fn has_actions(&self) -> bool {
        self.mailboxes.iter().any(MailboxPlan::has_actions) || !self.subscriptions.is_empty()
    }

    /// Whether the guard held back any deletion.
    pub fn withholds(&self) -> bool {
        self.mailboxes.iter().any(|m| {
            !m.withheld.is_empty() || !m.withheld_flags.is_empty() || m.withholds_deletion()
        })
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for mb in &self.mailboxes {
            if let Some(side) = mb.create {
                t.creates[side.index()] += 1;
            }
            for c in &mb.copies {
                t.copies_to[c.from.other().index()] += 1;
                t.bytes_to[c.from.other().index()] += c.size as u64;
            }
            for f in &mb.flag_changes {
                t.flag_changes_on[f.side.index()] += 1;
            }
            for e in &mb.expunges {
                t.expunges_on[e.side.index()] += 1;
            }
            for e in &mb.withheld {
                t.withheld_on[e.side.index()] += 1;
            }
            t.conflicts += mb.conflicts.len();
            t.pairs += mb.pairs.len();
        }
        t
    }
}

impl MailboxPlan {
    pub fn has_actions(&self) -> bool {
        self.create.is_some()
            || self.rename.as_ref().is_some_and(|r| !r.implied)
            || self.delete.as_ref().is_some_and(|d| !d.withheld)
            || !self.copies.is_empty()
            || !self.flag_changes.is_empty()
            || !self.expunges.is_empty()
    }

    /// Whether the guard held back this mailbox's deletion.
    pub fn withholds_deletion(&self) -> bool {
        self.delete.as_ref().is_some_and(|d| d.withheld)
    }

    /// The flag changes of one side grouped by delta, so each distinct delta
    /// goes out as one `UID STORE` over a UID set.
    pub fn stores(&self, side: Side) -> Vec<(FlagDelta, Vec<Uid>)> {
        let mut grouped: BTreeMap<&FlagDelta, Vec<Uid>> = BTreeMap::new();
        for change in self.flag_changes.iter().filter(|c| c.side == side) {
            grouped
                .entry(&change.delta)
                .or_default()
                .push(change.pair[side.index()]);
        }
        grouped
            .into_iter()
            .map(|(delta, mut uids)| {
                uids.sort_unstable();
                (delta.clone(), uids)
            })
            .collect()
    }

    /// Copies from one side, in a stable order (by UID).
    pub fn copies_from(&self, side: Side) -> Vec<&Copy> {
        let mut copies: Vec<&Copy> = self.copies.iter().filter(|c| c.from == side).collect();
        copies.sort_by_key(|c| c.uid);
        copies
    }
}

/// Counts over a whole plan, per target side where that matters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub creates: [usize; 2],
    /// Messages to be copied *to* each side.
    pub copies_to: [usize; 2],
    pub bytes_to: [u64; 2],
    pub flag_changes_on: [usize; 2],
    pub expunges_on: [usize; 2],
    pub withheld_on: [usize; 2],
    pub conflicts: usize,
    pub pairs: usize,
}

#[cfg(test)]
mod tests {
    /// A repair plans a pair per message (docs/PERFORMANCE.md, "What a full
    /// path holds per message"): a field that grows a pair shows here.
    #[test]
    fn a_planned_pair_is_88_bytes() {
        assert_eq!(std::mem::size_of::<super::PlannedPair>(), 88);
    }

    /// One Plan for three verbs: the value `reconcile` returns is the one
    /// printed and applied, so nothing outside the core may edit a Plan.
    /// Read from the sources, as the layer test reads imports: outside
    /// `src/reconcile/` no code takes a Plan (or a mailbox's plan) by
    /// mutable reference or binds one mutably.
    #[test]
    fn no_step_after_the_core_edits_the_plan() {
        let forbidden = [
            "&mut Plan",
            "&mut crate::plan::Plan",
            "&mut MailboxPlan",
            "&mut crate::plan::MailboxPlan",
            "mut plan:",
            "let mut plan ",
            "let mut plan=",
            "mailboxes.iter_mut()",
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path == root.join("reconcile") {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (n, line) in text.lines().enumerate() {
                        if forbidden.iter().any(|f| line.contains(f)) {
                            found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        // This test's own list is the one expected hit.
        found.retain(|l| !l.contains("src/plan.rs"));
        assert!(
            found.is_empty(),
            "a Plan edited after reconcile:\n{}",
            found.join("\n")
        );
    }
}
