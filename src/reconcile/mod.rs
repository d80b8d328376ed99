//! The pure core: listings of both sides and the snapshot's base in, one
//! [`Plan`] out. No sockets, no files, no clock.
//!
//! Split by concern so each part reads like the rule it implements:
//! [`mailboxes`] (names and pairing of the trees), [`matching`] (messages by
//! content, as multisets), [`by_headers`] (by headers, below content, where
//! the operator asks), [`flags`] (the three-way merge), [`messages`]
//! (one mailbox: link the base, merge, match, copy), [`skips`] (copies not
//! to be sent: size limits, earlier refusals), [`agreement`] (what `check`
//! judges), [`settled`] (mailboxes a later run need not read).
//!
//! The Plan [`reconcile`] returns is the whole decision: `plan` prints it,
//! `sync` prints and applies it, and no step after this one edits it.

pub mod agreement;
pub mod by_headers;
pub mod evidence;
pub mod fast_hash;
pub mod flags;
mod guard;
mod linker;
pub mod mailboxes;
pub mod matching;
pub mod messages;
pub mod policy;
pub mod settled;
pub mod skips;
pub mod subscriptions;
pub mod unread;

pub use policy::Policy;

pub use evidence::Evidence;

use crate::header_key::HeaderKey;
use crate::model::{Fingerprint, ListedMessage, MailboxStatus, MessageMeta, Uid};
use crate::plan::{ListingPath, Plan, SCHEMA_VERSION};
use std::collections::{BTreeMap, BTreeSet};

/// One side of one mailbox, completely listed (directly, or rebuilt from the
/// server's change history) and fingerprinted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideListing {
    pub wire_name: String,
    pub status: MailboxStatus,
    pub messages: Vec<MessageMeta>,
    /// What this side's listing can prove (deletions, flag removals).
    pub evidence: Evidence,
    /// How it was read and why, for the report.
    pub path: ListingPath,
    /// The side can expunge exactly chosen UIDs (UIDPLUS).
    pub can_uid_expunge: bool,
    /// `--verify`: UIDs whose body no longer matches the fingerprint the
    /// snapshot recorded for them (damaged in place).
    pub damaged: BTreeSet<Uid>,
    /// `--verify`: UIDs whose body the server did not deliver.
    pub unreadable: Vec<Uid>,
    /// Messages listed by metadata only, their content not read (a first
    /// sync towards an empty mailbox, see [`unread`]). They have no
    /// fingerprint, so they never link, pair, prove anything or match a
    /// tombstone or a rename: they can only be copied, and only where
    /// nothing could have been paired with them.
    pub unread: Vec<ListedMessage>,
    /// With `--identity headers`: the header key of each message whose
    /// body was read this run (and had a Message-ID, Date and From).
    pub headers: BTreeMap<Uid, HeaderKey>,
}

/// A pair the snapshot remembers, with the flags last agreed (its UIDs
/// valid under `MailboxBase::uidvalidity`): the snapshot's own record.
pub type BasePair = crate::model::KnownPair;

/// What the snapshot knows about one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxBase {
    /// UIDVALIDITY per side under which the pairs' UIDs hold.
    pub uidvalidity: [Option<u32>; 2],
    pub pairs: Vec<BasePair>,
    /// Per side: UIDs imapmend marked `\Deleted` for a proven expunge it could
    /// not carry out (flag-only mode or no UIDPLUS). They are never copied
    /// back while they keep `\Deleted`.
    pub pending_expunge: [BTreeSet<Uid>; 2],
    /// Content whose expunge from this mailbox was proven and propagated
    /// (within the tombstone lifetime).
    pub tombstones: BTreeSet<Fingerprint>,
    /// The tombstones' normalised fingerprints, where known: a message that
    /// matches one of these and no tombstone exactly is reported, never
    /// expunged for it.
    pub tombstones_normalised: BTreeSet<Fingerprint>,
    /// Per side: messages scrubs found damaged or undeliverable in recent
    /// runs, this one's included (`scrub::RECENT_DAMAGE_DAYS`): the guard
    /// counts them against replacing damage piece by piece.
    pub recent_damage: [u64; 2],
    /// Both sides are as a sync found them settled ([`settled`]) and their
    /// messages were not read: the listings hold none, `pairs` is empty,
    /// and the mailbox plans nothing; `check` counts it as agreeing, with
    /// each side's `status.exists` messages.
    pub settled: bool,
    /// The changed subset of a mailbox settled at its mark (the subset
    /// path, `gather::subset`): Some(n) where the listings hold only the
    /// messages the change history shows and their pairs' partners, and
    /// `pairs` only the pairs touching them, out of the n pairs the
    /// snapshot holds. Every message not in the listings is paired and
    /// agrees, as of the mark: the plan is the full listing's without the
    /// pairs left untouched (`proptests::subset`); the guards count all n
    /// pairs and `check` each side's `status.exists` messages.
    pub subset_of: Option<usize>,
}

impl MailboxBase {
    /// How many pairs the snapshot holds for the mailbox (what the guards
    /// scale by): all of them, also where `pairs` is only a subset.
    pub fn pair_count(&self) -> usize {
        self.subset_of.unwrap_or(self.pairs.len())
    }
}

/// Everything reconcile needs about one logical mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInput {
    pub name: String,
    /// Per side; None where the mailbox does not exist on that side.
    pub sides: [Option<SideListing>; 2],
    pub base: MailboxBase,
}

/// Both trees, listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileInput {
    /// How names map between the sides, for naming mailboxes a side lacks.
    pub naming: mailboxes::Naming,
    pub mailboxes: Vec<MailboxInput>,
    /// About the trees (mailboxes skipped on purpose), for the Plan.
    pub notes: Vec<String>,
    /// Both sides' subscriptions and the agreed ones.
    pub subscriptions: subscriptions::SubscriptionInput,
    /// Per side: mailboxes left out of the run, with their UIDVALIDITY,
    /// where that side lost a mailbox of the run (see
    /// [`mailboxes::moved_out_of_run`]).
    pub set_aside: [Vec<mailboxes::SetAside>; 2],
    /// What limits copies on this run: `--max-size`, the servers' and the
    /// mailboxes' APPENDLIMIT (see [`skips`]).
    pub limits: skips::CopyLimits,
    /// Copies the target refused on earlier runs, as the snapshot holds
    /// them once this run's listing is recorded.
    pub refusals: Vec<skips::Refusal>,
    /// Refusals a `sync` tries again once, being about the mailbox by their
    /// words (recorded before refusals were told apart, see
    /// [`crate::refusal`]): not in `refusals`, so the copies are planned;
    /// apply forgets them once the retry has classified them.
    pub retried_refusals: Vec<skips::Refusal>,
}

/// Computes the Plan for everything listed.
pub fn reconcile(input: &ReconcileInput, policy: &Policy) -> Plan {
    let (inputs, renames) = mailboxes::detect_renames(input, policy);
    let mut notes = input.notes.clone();
    let inputs = mailboxes::moved_out_of_run(inputs, &input.set_aside, &mut notes);
    let mut plans: Vec<_> = inputs
        .iter()
        .map(|mb| {
            let mut plan = messages::reconcile_mailbox(mb, &input.naming, policy);
            plan.rename = renames.get(&mb.name).cloned();
            plan
        })
        .collect();
    mailboxes::guard_mailbox_deletions(&mut plans, input, policy);
    let subscribed = subscriptions::reconcile_subscriptions(&input.subscriptions, &plans, policy);
    // Last, as it always was: the guard and the subscriptions are decided
    // on every copy and restored extra, sendable or not.
    skips::apply(&mut plans, input);
    Plan {
        schema_version: SCHEMA_VERSION,
        mailboxes: plans,
        notes,
        subscriptions: subscribed.changes,
    }
}

/// What `check` judges, for everything listed: each mailbox's verdict,
/// with the earlier refusals still listed counted as known divergences.
pub fn agreements(input: &ReconcileInput) -> Vec<agreement::MailboxAgreement> {
    let mut verdicts: Vec<_> = input.mailboxes.iter().map(agreement::compare).collect();
    skips::known_refusals(&mut verdicts, input);
    verdicts
}

#[cfg(test)]
mod proptests;
