//! Reading both servers into the values reconcile takes: the mailbox trees,
//! and for every mailbox a full listing of each side with fingerprints.
//!
//! Fingerprints come from the snapshot's cache where (UIDVALIDITY, UID, size,
//! INTERNALDATE) match — content is immutable per UID — and only bodies never
//! seen before are fetched and hashed (off the async threads, with a bound
//! on the bytes waiting to be hashed: [`crate::hashing`]) — except on a
//! first sync towards an empty side, where they are left to the copy that
//! reads them anyway ([`defer_bodies`]). A mailbox that cannot be listed
//! completely on either side is left out of the input and reported: a
//! failed listing is never an empty mailbox.
//!
//! The input carries everything else the decision needs too: the copy
//! limits (`--max-size`, the servers' APPENDLIMIT and each mailbox's own
//! where the LIST answer gave it) and, once the listing is recorded in the
//! snapshot ([`settle`]), the copies refused on earlier runs.
//!
//! Split by step: `side` reads one side of one mailbox (through the
//! change history where `evidence` trusts it, else in full), `bodies`
//! fetches and hashes the bodies never seen, [`decide`] turns what was
//! gathered into the final Plan.

mod ahead;
mod bodies;
mod decide;
mod evidence;
#[cfg(test)]
mod fake_server_tests;
mod join;
mod side;
mod subset;

pub use ahead::Kept;
pub use bodies::{body_reconnects, read_bodies_into};
pub use decide::decide;
pub use side::Upsert;

use crate::imap::{ImapError, ListedMailbox, ListedStatus};
use crate::mailbox_filter::MailboxFilter;
use crate::model::{MessageMeta, NameRules, Side, Uid};
use crate::pool::{Lane, Pool};
use crate::reconcile::mailboxes::{pair_mailboxes, MailboxEntry, MailboxPairing, Naming};
use crate::reconcile::skips::{CopyLimits, Refusal};
use crate::reconcile::subscriptions::SubscriptionInput;
use crate::reconcile::{MailboxBase, MailboxInput, ReconcileInput, SideListing};
use crate::snapshot::{MailboxRecord, MessageStatus, Snapshot, SnapshotError, SnapshotState};
use side::list_both;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// A mailbox that could not be read on one side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MailboxFailure {
    pub mailbox: String,
    pub side: Side,
    pub error: String,
}

/// What to write to the snapshot's cache for one side of one mailbox.
pub struct CacheUpdate {
    pub mailbox: String,
    pub side: Side,
    pub uidvalidity: u32,
    /// New messages and changed flags: where they are in the side's
    /// listing in the input.
    pub upsert: Vec<Upsert>,
    /// UIDs gone from the side.
    pub gone: Vec<Uid>,
}

/// Both trees, read.
pub struct Gathered {
    pub input: ReconcileInput,
    pub failures: Vec<MailboxFailure>,
    /// Cache updates, per mailbox and side, so the cache stays an exact
    /// picture of each side as listed.
    pub cache_updates: Vec<CacheUpdate>,
    /// New bodies read whole while listing, for apply's copies
    /// ([`ahead`]).
    pub kept: Kept,
}

/// What the operator set that limits copies (the rest of the limits are
/// the servers').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopySettings {
    /// `--max-size`, in bytes, both ways.
    pub max_size: Option<u64>,
    /// `--retry-refused`: earlier refusals are tried again.
    pub retry_refused: bool,
}

/// Lists both servers completely — the mailboxes `filter` selects; the
/// others are set aside right after LIST, never selected. Errors only when
/// a tree cannot be listed at all; per-mailbox trouble goes into `failures`.
/// The trees are listed over the pool's first lane, then the mailboxes
/// several at a time (one per lane), and put back in the trees' order.
/// The input's copy limits are the operator's (`copying`) and what the
/// servers announced; its refusals come with [`settle`].
pub async fn gather(
    pool: &mut Pool,
    state: &SnapshotState,
    snapshot: Option<&Snapshot>,
    reading: &Reading,
    names: &NameRules,
    filter: &MailboxFilter,
    copying: CopySettings,
) -> Result<Gathered, (Side, ImapError)> {
    let conns = pool.first();
    let mut limits = CopyLimits {
        max_size: copying.max_size,
        append_limit: [0, 1].map(|i| conns[i].append_limit()),
        per_mailbox: [0, 1].map(|i| conns[i].has_capability("APPENDLIMIT")),
        mailbox_limit: Default::default(),
        retry_refused: copying.retry_refused,
    };
    // The trees and the subscriptions in one flight per side, with the
    // watermarks of the mailboxes the snapshot knows there — of those the
    // run covers only: a left-out mailbox is never named to the server.
    let covered = filter.compile().ok();
    let known = [0, 1].map(|i| {
        (state.mailboxes.iter())
            .filter(|(name, _)| {
                filter.is_everything() || covered.as_ref().is_some_and(|c| c.selects(name))
            })
            .filter_map(|(_, r)| Some(r.sides[i].as_ref()?.wire_name.clone()))
            .collect::<Vec<String>>()
    });
    let (tree_a, tree_b) = {
        let [a, b] = &mut *conns;
        tokio::join!(a.list_tree(&known[0]), b.list_tree(&known[1]))
    };
    let (tree_a, subs_a) = tree_a.map_err(|e| (Side::A, e))?;
    let (tree_b, subs_b) = tree_b.map_err(|e| (Side::B, e))?;
    // LIST-STATUS watermarks by wire name, where the server gave them.
    let listed_status = [&tree_a, &tree_b].map(|tree| {
        tree.iter()
            .filter_map(|m| Some((m.name.clone(), m.status?)))
            .collect::<HashMap<String, ListedStatus>>()
    });
    let entries = [&tree_a, &tree_b].map(|tree| {
        tree.iter()
            .map(|m| MailboxEntry {
                wire_name: m.name.clone(),
                delimiter: m.delimiter,
                selectable: m.is_selectable(),
                attributes: m.attributes.clone(),
            })
            .collect::<Vec<_>>()
    });
    let naming = Naming::new(names.clone(), [&entries[0], &entries[1]]);
    let mut tree = pair_mailboxes([&entries[0], &entries[1]], &naming);
    // Left-out mailboxes go now, before anything is selected.
    let left_out = crate::mailbox_filter::retain_selected(filter, &mut tree);
    limits.mailbox_limit = listed_limits([&tree_a, &tree_b], &tree.pairings);
    let set_aside =
        crate::set_aside::uidvalidities(conns, &tree.pairings, &left_out, &listed_status, state)
            .await;
    let listed_subscriptions =
        [(Side::A, subs_a), (Side::B, subs_b)].map(|(side, subs)| match subs {
            Ok(wires) => Some(
                wires
                    .iter()
                    .filter_map(|w| naming.logical(side, w).ok().map(|(name, _)| name))
                    .collect(),
            ),
            Err(e) => {
                tree.notes.push(format!(
                "the subscriptions of {side} could not be listed ({e}); they are left as they are"
            ));
                None
            }
        });

    let mut gathered = Gathered {
        input: ReconcileInput {
            naming,
            mailboxes: Vec::new(),
            notes: tree.notes,
            subscriptions: SubscriptionInput {
                listed: listed_subscriptions,
                base: state.subscriptions.clone(),
            },
            set_aside,
            limits,
            refusals: Vec::new(),
            retried_refusals: Vec::new(),
        },
        // A name that cannot be mapped safely is a failure of that mailbox.
        failures: tree
            .refused
            .into_iter()
            .map(|r| MailboxFailure {
                mailbox: r.name,
                side: r.side,
                error: r.error,
            })
            .collect(),
        cache_updates: Vec::new(),
        kept: Kept::default(),
    };
    // Every changed mailbox's open, history and new bodies in one flight
    // per side; each mailbox's listing below takes its answer.
    // Several mailboxes to read or write: their lanes start opening now.
    pool.open_ahead(ahead::busy(&tree.pairings, state, &listed_status, reading));
    let (aheads, kept) = {
        let [a, b] = pool.first();
        ahead::read_ahead([a, b], &tree.pairings, state, &listed_status, reading).await
    };
    if !kept.is_empty() {
        tracing::debug!(target: "imapmend::run", "{} new bodies read ahead, kept for the copies", kept.len());
    }
    gathered.kept = kept;
    let aheads = &aheads;
    crate::progress::listing(tree.pairings.len());
    let list_pairing = async |[a, b]: &mut Lane, pairing: MailboxPairing| {
        crate::progress::mailbox(&pairing.name);
        let index = state.mailboxes.get(&pairing.name);
        // Not with --verify, which reads every mailbox whatever changed.
        let listed = [Side::A, Side::B].map(|side| {
            let wire = pairing.wire[side.index()].as_ref()?;
            listed_status[side.index()]
                .get(wire)
                .copied()
                .filter(|_| !reading.verify)
        });
        let ahead = [0, 1].map(|i| aheads[i].get(pairing.wire[i].as_ref()?));
        if let Some([la, lb]) = side::settled(a, b, &pairing, index, reading, listed) {
            crate::progress::mailbox_done(&pairing.name);
            let base = MailboxBase {
                settled: true,
                ..base_of(index)
            };
            return (pairing, base, la, lb);
        }
        // Settled at its mark and changed since: only what changed.
        if let (Some(snapshot), Some(index)) = (snapshot, index) {
            let conns = [&mut *a, &mut *b];
            let read =
                subset::list_subset(conns, &pairing, index, snapshot, reading, listed, ahead);
            if let Some((base, [la, lb])) = read.await {
                crate::progress::mailbox_done(&pairing.name);
                return (pairing, base, la, lb);
            }
        }
        // The mailbox's rows: read only now, for a mailbox the run must
        // look at (`state` holds only the index). Its own row first; its
        // pairs while the servers open it and list it (the SQLite read
        // runs once both EXAMINEs are sent: `join!` polls in order), its
        // cache rows side by side as the listings need them.
        let why = |e: SnapshotError| {
            let why = format!("the snapshot's record of it could not be read: {e}");
            [Err(why.clone()), Err(why)]
        };
        let mut loaded = match (snapshot, index) {
            (Some(snapshot), Some(_)) => match snapshot.load_mailbox_lean(&pairing.name) {
                Ok(record) => record.map(Cow::Owned),
                Err(e) => {
                    let [la, lb] = why(e);
                    return (pairing, MailboxBase::default(), la, lb);
                }
            },
            _ => index.map(Cow::Borrowed),
        };
        let file = snapshot.filter(|_| matches!(loaded, Some(Cow::Owned(_))));
        let (sides, pairs) = tokio::join!(
            side::list_sides(
                [a, b],
                &pairing,
                loaded.as_deref(),
                file,
                reading,
                listed,
                ahead
            ),
            async { file.map(|s| s.load_pairs(&pairing.name)).transpose() },
        );
        match (pairs, loaded.as_mut()) {
            (Ok(Some(pairs)), Some(record)) => record.to_mut().pairs = pairs,
            (Err(e), _) => {
                let [la, lb] = why(e);
                return (pairing, MailboxBase::default(), la, lb);
            }
            _ => {}
        }
        let record = loaded.as_deref();
        let pairs = record.map(|r| &r.pairs[..]);
        let [la, lb] = side::read_both([a, b], sides, pairs, reading).await;
        let base = base_of(record);
        crate::progress::mailbox_done(&pairing.name);
        (pairing, base, la, lb)
    };
    for (pairing, base, la, lb) in pool.each(tree.pairings, list_pairing).await {
        if let Some(mailbox) = assemble(&mut gathered, &pairing, base, [la, lb]) {
            gathered.input.mailboxes.push(mailbox);
        }
    }
    Ok(gathered)
}

/// One mailbox's input from both sides' reads; its cache updates and
/// failures go into `gathered`. None where a side failed: a failed
/// listing is never an empty mailbox.
fn assemble(
    gathered: &mut Gathered,
    pairing: &MailboxPairing,
    base: MailboxBase,
    reads: [Result<Option<side::SideRead>, String>; 2],
) -> Option<MailboxInput> {
    let mut sides: [Option<SideListing>; 2] = [None, None];
    let mut failed = false;
    for (side, result) in Side::BOTH.into_iter().zip(reads) {
        match result {
            Ok(Some(read)) => {
                if !read.upsert.is_empty() || !read.gone.is_empty() {
                    gathered.cache_updates.push(CacheUpdate {
                        mailbox: pairing.name.clone(),
                        side,
                        uidvalidity: read.listing.status.uidvalidity,
                        upsert: read.upsert,
                        gone: read.gone,
                    });
                }
                sides[side.index()] = Some(read.listing);
            }
            Ok(None) => {}
            Err(error) => {
                failed = true;
                gathered.failures.push(MailboxFailure {
                    mailbox: pairing.name.clone(),
                    side,
                    error,
                });
            }
        }
    }
    (!failed).then(|| MailboxInput {
        name: pairing.name.clone(),
        sides,
        base,
    })
}

/// Lists again, in full, mailbox `at` of the input, which was read as
/// settled ([`MailboxBase::settled`]: no messages, no pairs): its record
/// loaded from the snapshot and both sides listed as a run that does not
/// skip settled mailboxes lists them (`reading.skip_settled` is ignored).
/// For a scrub that found damage there, which must then be handled as in
/// any other mailbox. The input is replaced in place; where a side cannot
/// be listed the failure is recorded and the settled input kept (it
/// plans nothing) — Err then, with the reason. Cache updates go into
/// `gathered` for [`settle`].
pub async fn relist(
    pool: &mut Pool,
    snapshot: &Snapshot,
    reading: &Reading,
    gathered: &mut Gathered,
    at: usize,
) -> Result<(), String> {
    let settled = &gathered.input.mailboxes[at];
    let pairing = MailboxPairing {
        name: settled.name.clone(),
        wire: settled
            .sides
            .each_ref()
            .map(|s| s.as_ref().map(|l| l.wire_name.clone())),
    };
    let listed = settled.sides.each_ref().map(|s| {
        let status = &s.as_ref()?.status;
        Some(ListedStatus {
            uidvalidity: status.uidvalidity,
            uidnext: status.uidnext,
            messages: status.exists,
            highestmodseq: status.highestmodseq?,
        })
    });
    let record = match snapshot.load_mailbox(&pairing.name) {
        Ok(record) => record,
        Err(e) => {
            let error = format!("the snapshot's record of it could not be read: {e}");
            gathered.failures.push(MailboxFailure {
                mailbox: pairing.name.clone(),
                side: Side::A,
                error: error.clone(),
            });
            return Err(error);
        }
    };
    let reading = Reading {
        skip_settled: false,
        subset: false,
        ..*reading
    };
    let [a, b] = pool.first();
    let reads = list_both(
        a,
        b,
        &pairing,
        record.as_ref(),
        &reading,
        listed,
        [None, None],
    )
    .await;
    let base = base_of(record.as_ref());
    match assemble(gathered, &pairing, base, reads) {
        Some(mailbox) => {
            gathered.input.mailboxes[at] = mailbox;
            Ok(())
        }
        None => Err(format!("{}: could not be listed again", pairing.name)),
    }
}

/// The mailboxes' own APPENDLIMITs the LIST answers gave (LIST-STATUS on
/// a server that limits per mailbox), by logical name and side.
fn listed_limits(
    trees: [&[ListedMailbox]; 2],
    pairings: &[MailboxPairing],
) -> BTreeMap<(String, Side), Option<u64>> {
    let by_wire = trees.map(|tree| {
        tree.iter()
            .filter_map(|m| Some((m.name.as_str(), m.append_limit?)))
            .collect::<HashMap<&str, Option<u64>>>()
    });
    let mut limits = BTreeMap::new();
    for pairing in pairings {
        for side in Side::BOTH {
            let Some(wire) = &pairing.wire[side.index()] else {
                continue;
            };
            if let Some(limit) = by_wire[side.index()].get(wire.as_str()) {
                limits.insert((pairing.name.clone(), side), *limit);
            }
        }
    }
    limits
}

/// Records what the listing taught the snapshot's fingerprint cache, then
/// reads the earlier refusals into the input — in that order, because
/// recording a refused message whose flags changed forgets its refusal (it
/// is tried again). The updates are dropped once written: they repeat every
/// new message's record.
///
/// A side that is not healthy keeps its cache until a sync repairs it
/// (`syncing`): a plan or check that recorded the restored listing would
/// hide the regression from the sync that follows. A sync also tries again
/// the refusals whose words are about the mailbox ([`crate::refusal`]).
pub fn settle(snapshot: &mut Snapshot, gathered: &mut Gathered, syncing: bool) {
    for u in std::mem::take(&mut gathered.cache_updates) {
        let listing = gathered
            .input
            .mailboxes
            .iter()
            .find(|m| m.name == u.mailbox)
            .and_then(|m| m.sides[u.side.index()].as_ref());
        let healthy = listing.is_none_or(|l| l.evidence.is_healthy());
        if !healthy && !syncing {
            continue;
        }
        let messages = listing.map_or(&[][..], |l| &l.messages[..]);
        let upsert = u.upsert.iter().filter_map(|r| upserted(messages, *r));
        if let Err(e) = snapshot.update_cache(&u.mailbox, u.side, u.uidvalidity, upsert, &u.gone) {
            eprintln!("imapmend: warning: could not update the fingerprint cache: {e}");
        }
    }
    let (retried, kept) = earlier_refusals(snapshot)
        .into_iter()
        .partition(|r| syncing && crate::refusal::recorded_is_mailbox_level(&r.reason));
    gathered.input.refusals = kept;
    gathered.input.retried_refusals = retried;
}

/// The message a cache update means: at its place in the listing, or, had
/// the listing been reordered since, found by UID (None, and no row written,
/// where it is no longer there: the next run reads it again).
fn upserted(messages: &[MessageMeta], u: Upsert) -> Option<&MessageMeta> {
    match messages.get(u.at as usize) {
        Some(m) if m.uid == u.uid => Some(m),
        _ => messages.iter().find(|m| m.uid == u.uid),
    }
}

/// The refusals the snapshot holds (a warning, and none, if it cannot say).
fn earlier_refusals(snapshot: &Snapshot) -> Vec<Refusal> {
    let statuses = snapshot.refused_messages().unwrap_or_else(|e| {
        eprintln!("imapmend: warning: could not read earlier refusals: {e}");
        Vec::new()
    });
    statuses
        .into_iter()
        .filter(|s| s.status == MessageStatus::Refused)
        .map(|s| Refusal {
            mailbox: s.mailbox,
            side: s.side,
            uidvalidity: s.uidvalidity,
            uid: s.uid,
            reason: s.reason.unwrap_or_else(|| "no reason recorded".into()),
        })
        .collect()
}

/// The snapshot's base for one mailbox, as reconcile takes it.
pub fn base_of(record: Option<&MailboxRecord>) -> MailboxBase {
    let Some(record) = record else {
        return MailboxBase::default();
    };
    MailboxBase {
        uidvalidity: [0, 1].map(|i| record.sides[i].as_ref().map(|s| s.uidvalidity)),
        pairs: record.pairs.to_vec(),
        pending_expunge: [0, 1].map(|i| {
            let Some(uidvalidity) = record.sides[i].as_ref().map(|s| s.uidvalidity) else {
                return Default::default();
            };
            record.cache[i]
                .iter()
                .filter(|((uv, _), c)| {
                    *uv == uidvalidity && c.status == Some(MessageStatus::PendingExpunge)
                })
                .map(|((_, uid), _)| *uid)
                .collect()
        }),
        tombstones: record
            .tombstones
            .iter()
            .map(|(t, _)| t.fingerprint)
            .collect(),
        tombstones_normalised: record
            .tombstones
            .iter()
            .filter_map(|(t, _)| t.normalised)
            .collect(),
        // Known only to a scrub ([`crate::scrub::record`]).
        recent_damage: [0, 0],
        settled: false,
        subset_of: None,
    }
}

/// How this run reads the servers.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// EXAMINE rather than SELECT (`plan`, `check`).
    pub read_only: bool,
    /// `--verify`: read every body, cached or not.
    pub verify: bool,
    /// See [`body_reconnects`].
    pub body_reconnects: usize,
    /// Per side: see [`defer_bodies`].
    pub defer_bodies: [bool; 2],
    /// `--identity headers`: each body read gives its header key to the
    /// listing; the bodies of cached messages no pair holds are read once
    /// to learn it (the cache does not keep it); a changed RFC822.SIZE
    /// under a known UID is not taken as a sign of a restore.
    pub headers: bool,
    /// A mailbox a sync found settled and LIST-STATUS shows unchanged on
    /// both sides is not read at all ([`crate::reconcile::settled`]): not
    /// with `--verify` or `--restored`, which must look at it (`--scrub`
    /// takes a settled mailbox's slice from the snapshot, and lists it
    /// with [`relist`] only where the slice finds something).
    pub skip_settled: bool,
    /// A mailbox settled at its mark that changed since is read as its
    /// changed subset ([`subset`]): not with `--verify`, `--restored` or
    /// `--scrub`, whose slices are chosen from complete listings.
    pub subset: bool,
}
/// Per side: whether this run may list a side's messages without reading
/// their bodies where the other side of the mailbox is absent or empty —
/// the first sync's shortcut, so that each body is read once (by the copy,
/// which hashes it) instead of twice.
///
/// Only where nothing can need the content before the copy: a `sync`
/// (`plan` and `check` read everything, and `plan` shows fingerprints)
/// without `--verify` or `--expect-plan` and with no `--restored` side
/// (`eligible`, the caller's to say), a snapshot that holds no mailbox at
/// all (so no pair, cache, tombstone or rename can be matched against) and
/// no pending intent (a run interrupted mid-copy is resolved by content),
/// and not the target of `--one-way` (`one_way_source`).
/// `side::list_both` adds the per-mailbox conditions; the reconcile core
/// refuses an unread listing anywhere else ([`crate::reconcile::unread`]).
///
/// A run interrupted during such a first sync leaves mailbox records (and
/// intents for a batch in flight), so the rerun takes the normal path.
pub fn defer_bodies(
    eligible: bool,
    one_way_source: Option<Side>,
    state: &SnapshotState,
    pending_intents: bool,
) -> [bool; 2] {
    let first_sync = eligible && state.mailboxes.is_empty() && !pending_intents;
    Side::BOTH.map(|side| first_sync && one_way_source.is_none_or(|source| source == side))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fingerprint, FlagSet, InternalDate, MessageMeta};

    /// Courier's refusal of every APPEND into the mailbox the session
    /// examined, as releases before refusals were told apart recorded it
    /// against each message.
    const COURIER: &str = "NO Current box is selected READ-ONLY.";

    /// Only `sync` tries again, once, an earlier refusal whose words are
    /// about the mailbox; `plan` and `check` keep skipping it, and a
    /// refusal about the message is kept by all.
    #[test]
    fn a_sync_retries_earlier_refusals_about_the_mailbox_and_plan_and_check_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut snapshot = crate::snapshot::scratch(dir.path());
        for (uid, words) in [(1, COURIER), (2, "NO [TOOBIG] too big")] {
            let meta = MessageMeta {
                uid,
                size: 3,
                internal_date: InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap(),
                flags: FlagSet::new(),
                fingerprint: Fingerprint([uid as u8; 32]),
                normalised: crate::model::Normalised::UNKNOWN,
            };
            let refused = Some(MessageStatus::Refused);
            snapshot
                .set_message_status("INBOX", Side::A, 7, &meta, refused, Some(words))
                .unwrap();
        }
        let settled = |snapshot: &mut Snapshot, syncing: bool| {
            let mut gathered = Gathered {
                input: ReconcileInput::default(),
                failures: Vec::new(),
                cache_updates: Vec::new(),
                kept: Kept::default(),
            };
            settle(snapshot, &mut gathered, syncing);
            let uids = |r: &[Refusal]| r.iter().map(|r| r.uid).collect::<Vec<_>>();
            (
                uids(&gathered.input.refusals),
                uids(&gathered.input.retried_refusals),
            )
        };
        assert_eq!(settled(&mut snapshot, false), (vec![1, 2], vec![]));
        assert_eq!(settled(&mut snapshot, true), (vec![2], vec![1]));
        // The record stays until the retry classifies it (apply's part).
        assert_eq!(snapshot.message_statuses().unwrap().len(), 2);
    }
}
