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

use crate::hashing::Hashers;
use crate::imap::{Changes, Connection, HistorySupport, ImapError, ListedStatus};
use crate::mailbox_filter::MailboxFilter;
use crate::model::{Fingerprint, ListedMessage, MailboxStatus, MessageMeta, NameRules, Side, Uid};
use crate::plan::{ListingPath, Plan};
use crate::pool::{Lane, Pool};
use crate::reconcile::evidence::{
    judge_status, rebuild_from_history, regression_in_listing, vanished_from_uid_list, Evidence,
    Remembered, Watermark,
};
use crate::reconcile::mailboxes::{pair_mailboxes, MailboxEntry, MailboxPairing, Naming};
use crate::reconcile::skips::{limits_to_ask, CopyLimits, LimitQuery, Refusal};
use crate::reconcile::subscriptions::SubscriptionInput;
use crate::reconcile::{
    reconcile, BasePair, MailboxBase, MailboxInput, Policy, ReconcileInput, SideListing,
};
use crate::snapshot::{MailboxRecord, MessageStatus, SideRecord, Snapshot, SnapshotState};
use std::collections::{BTreeSet, HashMap, HashSet};

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
    /// New messages and changed flags.
    pub upsert: Vec<MessageMeta>,
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
    reading: &Reading,
    names: &NameRules,
    filter: &MailboxFilter,
    copying: CopySettings,
) -> Result<Gathered, (Side, ImapError)> {
    let conns = pool.first();
    let limits = CopyLimits {
        max_size: copying.max_size,
        append_limit: [0, 1].map(|i| conns[i].append_limit()),
        per_mailbox: [0, 1].map(|i| conns[i].has_capability("APPENDLIMIT")),
        mailbox_limit: Default::default(),
        retry_refused: copying.retry_refused,
    };
    let (tree_a, tree_b) = {
        let [a, b] = &mut *conns;
        tokio::join!(a.list_mailboxes(), b.list_mailboxes())
    };
    let tree_a = tree_a.map_err(|e| (Side::A, e))?;
    let tree_b = tree_b.map_err(|e| (Side::B, e))?;
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
    let set_aside =
        crate::set_aside::uidvalidities(conns, &tree.pairings, &left_out, &listed_status, state)
            .await;
    let [a, b] = conns;
    let (subs_a, subs_b) = tokio::join!(a.list_subscribed(), b.list_subscribed());
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
    };
    crate::progress::listing(tree.pairings.len());
    let list_pairing = async |[a, b]: &mut Lane, pairing: MailboxPairing| {
        crate::progress::mailbox(&pairing.name);
        let record = state.mailboxes.get(&pairing.name);
        // Not with --verify, which reads every mailbox whatever changed.
        let listed = [Side::A, Side::B].map(|side| {
            let wire = pairing.wire[side.index()].as_ref()?;
            listed_status[side.index()]
                .get(wire)
                .copied()
                .filter(|_| !reading.verify)
        });
        let [la, lb] = list_both(a, b, &pairing, record, reading, listed).await;
        crate::progress::mailbox_done(&pairing.name);
        (pairing, la, lb)
    };
    for (pairing, la, lb) in pool.each(tree.pairings, list_pairing).await {
        let record = state.mailboxes.get(&pairing.name);
        let mut sides: [Option<SideListing>; 2] = [None, None];
        let mut failed = false;
        for (side, result) in [(Side::A, la), (Side::B, lb)] {
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
        if !failed {
            gathered.input.mailboxes.push(MailboxInput {
                name: pairing.name.clone(),
                sides,
                base: base_of(record),
            });
        }
    }
    Ok(gathered)
}

/// Records what the listing taught the snapshot's fingerprint cache, then
/// reads the earlier refusals into the input — in that order, because
/// recording a refused message whose flags changed forgets its refusal (it
/// is tried again). The updates are dropped once written: they repeat every
/// new message's record.
///
/// A side that is not healthy keeps its cache until a sync repairs it
/// (`record_suspect` is for `sync` only): a plan or check that recorded the
/// restored listing would hide the regression from the sync that follows.
pub fn settle(snapshot: &mut Snapshot, gathered: &mut Gathered, record_suspect: bool) {
    for u in std::mem::take(&mut gathered.cache_updates) {
        let healthy = gathered
            .input
            .mailboxes
            .iter()
            .find(|m| m.name == u.mailbox)
            .and_then(|m| m.sides[u.side.index()].as_ref())
            .is_none_or(|l| l.evidence.is_healthy());
        if !healthy && !record_suspect {
            continue;
        }
        if let Err(e) = snapshot.update_cache(&u.mailbox, u.side, u.uidvalidity, &u.upsert, &u.gone)
        {
            eprintln!("imapmend: warning: could not update the fingerprint cache: {e}");
        }
    }
    gathered.input.refusals = earlier_refusals(snapshot);
}

/// The refusals the snapshot holds (a warning, and none, if it cannot say).
fn earlier_refusals(snapshot: &Snapshot) -> Vec<Refusal> {
    let statuses = snapshot.message_statuses().unwrap_or_else(|e| {
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

/// The Plan for what was gathered, final: the pure core's answer. Where a
/// server limits per mailbox and its listing did not say how much, the
/// mailboxes that would receive copies are asked (STATUS) and the core
/// runs again with their limits, so the Plan is still exactly what
/// [`reconcile`] returns for `input`, which is left holding those limits.
pub async fn decide(input: &mut ReconcileInput, policy: &Policy, conns: &mut Lane) -> Plan {
    decide_with(input, policy, async |wanted| {
        ask_limits(conns, wanted).await
    })
    .await
}

/// [`decide`], with the asking given (`ask` answers each query with the
/// mailbox's limit, None for none or not known).
async fn decide_with(
    input: &mut ReconcileInput,
    policy: &Policy,
    ask: impl AsyncFnOnce(Vec<LimitQuery>) -> Vec<(LimitQuery, Option<u64>)>,
) -> Plan {
    let plan = reconcile(input, policy);
    let wanted = limits_to_ask(&plan, &input.limits);
    if wanted.is_empty() {
        return plan;
    }
    for (query, limit) in ask(wanted).await {
        // Not known (the STATUS failed) counts as no limit, as it always
        // did: the server's refusal, if any, is recorded against the copy.
        input
            .limits
            .mailbox_limit
            .insert((query.mailbox, query.side), limit);
    }
    reconcile(input, policy)
}

/// `STATUS … (APPENDLIMIT)` for each query, both sides at once.
async fn ask_limits(conns: &mut Lane, wanted: Vec<LimitQuery>) -> Vec<(LimitQuery, Option<u64>)> {
    let (for_a, for_b): (Vec<_>, Vec<_>) = wanted.into_iter().partition(|q| q.side == Side::A);
    let ask_side = async |conn: &mut Connection, queries: Vec<LimitQuery>| {
        let mut answers = Vec::with_capacity(queries.len());
        for query in queries {
            let limit = conn
                .mailbox_append_limit(&query.wire)
                .await
                .unwrap_or_else(|e| {
                    eprintln!("imapmend: warning: {e}; its size limit is not known");
                    None
                });
            answers.push((query, limit));
        }
        answers
    };
    let [a, b] = conns;
    let (mut answers, from_b) = tokio::join!(ask_side(a, for_a), ask_side(b, for_b));
    answers.extend(from_b);
    answers
}

/// The snapshot's base for one mailbox, as reconcile takes it.
pub fn base_of(record: Option<&MailboxRecord>) -> MailboxBase {
    let Some(record) = record else {
        return MailboxBase::default();
    };
    MailboxBase {
        uidvalidity: [0, 1].map(|i| record.sides[i].as_ref().map(|s| s.uidvalidity)),
        pairs: record
            .pairs
            .iter()
            .map(|p| BasePair {
                uid: p.uid,
                fingerprint: p.fingerprint,
                flags: p.flags.clone(),
            })
            .collect(),
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
        tombstones: record.tombstones.iter().map(|(fp, _)| *fp).collect(),
    }
}

/// What reading one side of one mailbox produced.
struct SideRead {
    listing: SideListing,
    /// Cache rows to write: new messages and changed flags.
    upsert: Vec<MessageMeta>,
    /// Cached UIDs that are gone from the side.
    gone: Vec<Uid>,
}

/// How this run reads the servers.
pub struct Reading {
    /// EXAMINE rather than SELECT (`plan`, `check`).
    pub read_only: bool,
    /// `--verify`: read every body, cached or not.
    pub verify: bool,
    /// See [`body_reconnects`].
    pub body_reconnects: usize,
    /// Per side: see [`defer_bodies`].
    pub defer_bodies: [bool; 2],
}

/// Per side: whether this run may list a side's messages without reading
/// their bodies where the other side of the mailbox is absent or empty —
/// the first sync's shortcut, so that each body is read once (by the copy,
/// which hashes it) instead of twice.
///
/// Only where nothing can need the content before the copy: a `sync`
/// (`plan` and `check` read everything, and `plan` shows fingerprints)
/// without `--verify` or `--expect-plan`, a snapshot that holds no mailbox
/// at all (so no pair, cache, tombstone or rename can be matched against)
/// and no pending intent (a run interrupted mid-copy is resolved by
/// content), no `--restored` side, and not the target of `--one-way`.
/// [`list_both`] adds the per-mailbox conditions; the reconcile core
/// refuses an unread listing anywhere else ([`crate::reconcile::unread`]).
///
/// A run interrupted during such a first sync leaves mailbox records (and
/// intents for a batch in flight), so the rerun takes the normal path.
pub fn defer_bodies(
    job: &crate::job::Job,
    state: &SnapshotState,
    pending_intents: bool,
) -> [bool; 2] {
    let first_sync = matches!(job.command, crate::job::Command::Sync)
        && !job.verify
        && job.expect_plan.is_none()
        && job.options.restored.is_none()
        && state.mailboxes.is_empty()
        && !pending_intents;
    let one_way = job.options.one_way.map(|w| w.source());
    Side::BOTH.map(|side| first_sync && one_way.is_none_or(|source| source == side))
}

/// Reads both sides of one mailbox, in two steps: first both listings
/// (SELECT, then history or metadata), then both sides' bodies never seen
/// before. In between, a side whose bodies may be deferred (`reading`)
/// leaves them unread where the snapshot knows nothing of the mailbox and
/// the other side is absent or listed empty: every message of it is then a
/// copy, and nothing could pair with it.
async fn list_both(
    a: &mut Connection,
    b: &mut Connection,
    pairing: &MailboxPairing,
    record: Option<&MailboxRecord>,
    reading: &Reading,
    listed: [Option<ListedStatus>; 2],
) -> [Result<Option<SideRead>, String>; 2] {
    let (la, lb) = tokio::join!(
        list_side(a, pairing, Side::A, record, reading.read_only, listed[0]),
        list_side(b, pairing, Side::B, record, reading.read_only, listed[1]),
    );
    let empty = |listed: &Result<Option<Listed<'_>>, String>| match listed {
        Ok(None) => true,
        Ok(Some(l)) => l.listing.is_empty(),
        Err(_) => false,
    };
    let defer = [(Side::A, &lb), (Side::B, &la)].map(|(side, other)| {
        reading.defer_bodies[side.index()] && record.is_none() && empty(other)
    });
    let (ra, rb) = tokio::join!(
        read_side(a, la, reading, defer[0]),
        read_side(b, lb, reading, defer[1]),
    );
    [ra, rb]
}

/// One side of one mailbox, selected and listed, its bodies not read yet.
struct Listed<'r> {
    wire: String,
    status: MailboxStatus,
    evidence: Evidence,
    path: ListingPath,
    /// Every message, with its fingerprint where the cache vouches for it.
    listing: Vec<(ListedMessage, Option<Fingerprint>)>,
    /// UIDs new or whose flags changed since the cache.
    changed: HashSet<Uid>,
    /// Cached UIDs that are gone from the side.
    gone: Vec<Uid>,
    remembered: HashMap<Uid, Remembered<'r>>,
}

/// Selects and lists one side of one mailbox — through the change history
/// where it can be trusted, else in full — and judges what it can prove.
/// Ok(None) where the mailbox does not exist on that side.
///
/// A mailbox whose LIST-STATUS watermarks (`listed`) are the ones the
/// snapshot saved is not selected at all: nothing was added, expunged or
/// flagged since (every change raises HIGHESTMODSEQ), so its listing is the
/// cache, exactly as an empty change history would rebuild it, with the
/// same checks. Apply selects it if it has something to write there.
async fn list_side<'r>(
    conn: &mut Connection,
    pairing: &MailboxPairing,
    side: Side,
    record: Option<&'r MailboxRecord>,
    read_only: bool,
    listed: Option<ListedStatus>,
) -> Result<Option<Listed<'r>>, String> {
    let Some(wire) = &pairing.wire[side.index()] else {
        return Ok(None);
    };
    let err = |e: ImapError| e.to_string();
    let can_history = conn.history_support() != HistorySupport::None;
    let unchanged = listed
        .filter(|_| can_history)
        .and_then(|l| unchanged_since_saved(l, record?.sides[side.index()].as_ref()?));
    let mut status = match unchanged.clone() {
        Some(status) => status,
        None => match conn.select(wire, read_only).await {
            // Listed, yet the server says it does not exist: it holds
            // nothing, like a \Noselect parent.
            Err(e) if e.says_nonexistent() => return Ok(None),
            other => other.map_err(err)?,
        },
    };
    if read_only {
        // EXAMINE cannot tell what a sync may store: plan and check judge
        // by what the last sync's SELECT said.
        status.permanent_flags = record
            .and_then(|r| r.sides[side.index()].as_ref())
            .and_then(|s| s.permanent_flags.clone());
    }
    let saved = record.and_then(|r| {
        let s = r.sides[side.index()].as_ref()?;
        // A UID the snapshot knows must stay below UIDNEXT.
        let known = r.cache[side.index()]
            .keys()
            .filter(|(uv, _)| *uv == s.uidvalidity)
            .map(|(_, uid)| uid.saturating_add(1))
            .max()
            .unwrap_or(0);
        Some(Watermark {
            uidvalidity: s.uidvalidity,
            uidnext: s.uidnext,
            highestmodseq: s.highestmodseq,
            seen_uidnext: s.seen_uidnext.unwrap_or(0).max(known),
            seen_highestmodseq: s.seen_highestmodseq,
        })
    });
    let judgement = judge_status(saved, &status, can_history);
    if unchanged.is_some() && !(judgement.history && judgement.evidence.is_healthy()) {
        // Cannot be: the watermarks are the saved ones. Read it as usual.
        return Box::pin(list_side(conn, pairing, side, record, read_only, None)).await;
    }
    let cache = record.map(|r| &r.cache[side.index()]);
    let remembered: HashMap<Uid, Remembered<'r>> = cache
        .into_iter()
        .flatten()
        .filter(|((uv, _), _)| *uv == status.uidvalidity)
        .map(|((_, uid), c)| {
            let r = Remembered {
                size: c.size,
                internal_date: c.internal_date,
                fingerprint: c.fingerprint,
                flags: &c.flags,
                read_back: c.read_back,
            };
            (*uid, r)
        })
        .collect();

    let mut evidence = judgement.evidence.clone();
    let mut path = ListingPath {
        path: "full".into(),
        reason: judgement.reason.clone(),
    };
    let mut read = None;
    if let (true, Some(saved)) = (judgement.history, saved) {
        let modseq = saved.highestmodseq.unwrap_or_default();
        let changes = match unchanged {
            Some(_) => Changes {
                vanished: Some(Vec::new()),
                ..Changes::default()
            },
            None => conn.fetch_changes(modseq).await.map_err(err)?,
        };
        let vanished = match changes.vanished {
            Some(v) => v,
            None => vanished_from_uid_list(&remembered, &conn.uid_list().await.map_err(err)?),
        };
        match rebuild_from_history(
            saved.uidnext,
            &remembered,
            &changes.changed,
            &vanished,
            status.exists,
        ) {
            Ok(rebuilt) => {
                let reason = match unchanged {
                    Some(_) => "unchanged since the last sync (LIST-STATUS); not selected".into(),
                    None => judgement.reason.clone(),
                };
                path = ListingPath {
                    path: "history".into(),
                    reason,
                };
                let changed: std::collections::HashSet<Uid> =
                    changes.changed.iter().map(|m| m.uid).collect();
                let present: HashSet<Uid> = rebuilt.iter().map(|(m, _)| m.uid).collect();
                let gone = remembered
                    .keys()
                    .filter(|u| !present.contains(u))
                    .copied()
                    .collect();
                read = Some((rebuilt, changed, gone));
            }
            // The cache lacks messages the mailbox holds (a copy skipped
            // or cut short before its row was written): read it as usual.
            Err(_) if unchanged.is_some() => {
                return Box::pin(list_side(conn, pairing, side, record, read_only, None)).await;
            }
            Err(why) => {
                path.reason = format!("the change history did not add up ({why})");
            }
        }
    }
    let (listing, changed, gone) = match read {
        Some(r) => r,
        None => {
            let listed = conn.fetch_all_meta().await.map_err(err)?;
            if listed.len() != status.exists as usize {
                return Err(format!(
                    "{side}: mailbox {wire:?} listed {} messages but EXISTS said {}; not trusting a partial listing",
                    listed.len(),
                    status.exists
                ));
            }
            if evidence.is_healthy() {
                if let Some(sign) =
                    saved.and_then(|s| regression_in_listing(s.uidnext, &remembered, &listed))
                {
                    path.reason = format!("regressed: {sign}");
                    evidence = Evidence::Restored(sign);
                }
            }
            // A restored side reuses UIDs: its cached fingerprints cannot be trusted.
            let trust_cache = !evidence.is_restored();
            let present: HashSet<Uid> = listed.iter().map(|m| m.uid).collect();
            let gone = remembered
                .keys()
                .filter(|u| !present.contains(u))
                .copied()
                .collect();
            let mut changed = std::collections::HashSet::new();
            let rebuilt = listed
                .into_iter()
                .map(|m| {
                    let known = remembered.get(&m.uid).filter(|r| {
                        trust_cache
                            && r.internal_date.unix == m.internal_date.unix
                            && (!r.read_back || r.size == m.size)
                    });
                    if known.is_none_or(|r| r.flags != &m.flags) {
                        changed.insert(m.uid);
                    }
                    let fp = known.map(|r| r.fingerprint);
                    (m, fp)
                })
                .collect();
            (rebuilt, changed, gone)
        }
    };
    crate::progress::listed(listing.len());
    Ok(Some(Listed {
        wire: wire.clone(),
        status,
        evidence,
        path,
        listing,
        changed,
        gone,
        remembered,
    }))
}

/// The status a SELECT would give, from LIST-STATUS watermarks equal to
/// the ones saved for the side (and PERMANENTFLAGS from the last SELECT);
/// None when anything differs or is not known.
fn unchanged_since_saved(listed: ListedStatus, saved: &SideRecord) -> Option<MailboxStatus> {
    let permanent_flags = saved.permanent_flags.clone()?;
    let same = listed.uidvalidity == saved.uidvalidity
        && listed.uidnext == saved.uidnext
        && saved.highestmodseq == Some(listed.highestmodseq);
    same.then_some(MailboxStatus {
        uidvalidity: listed.uidvalidity,
        uidnext: listed.uidnext,
        exists: listed.messages,
        highestmodseq: Some(listed.highestmodseq),
        permanent_flags: Some(permanent_flags),
    })
}

/// Reads the bodies of a listed side that the cache cannot vouch for (with
/// --verify, every body) and hashes them. With `defer`, those bodies are
/// not read: the messages go into the listing as unread (see
/// [`defer_bodies`]) and get no cache row here — the copy records them.
async fn read_side(
    conn: &mut Connection,
    listed: Result<Option<Listed<'_>>, String>,
    reading: &Reading,
    defer: bool,
) -> Result<Option<SideRead>, String> {
    let Some(listed) = listed? else {
        return Ok(None);
    };
    let Listed {
        wire,
        status,
        evidence,
        path,
        listing,
        changed,
        gone,
        remembered,
    } = listed;
    // Bodies never seen before; with --verify, every body.
    let to_read: Vec<(Uid, u32)> = listing
        .iter()
        .filter(|(_, fp)| reading.verify || fp.is_none())
        .filter(|_| !defer)
        .map(|(m, _)| (m.uid, m.size))
        .collect();
    let bodies = read_bodies(
        conn,
        &wire,
        reading.read_only,
        status.uidvalidity,
        &to_read,
        reading.body_reconnects,
    )
    .await
    .map_err(|e| e.to_string())?;
    let fresh_fps = bodies.fingerprints;
    let verify = reading.verify;
    let mut messages = Vec::with_capacity(listing.len());
    let mut unread = Vec::new();
    // Positions in `messages`; cloned once their number is known (a vector
    // of records grown by pushing held up to twice them at 100k).
    let mut upsert_at = Vec::new();
    let mut damaged = BTreeSet::new();
    let mut unreadable = Vec::new();
    for (m, fp) in listing {
        let fresh = fresh_fps.get(&m.uid).copied();
        let fingerprint = match (fp, fresh) {
            (Some(cached), Some(now)) if cached != now => {
                // Changed in place since it was synced. The cache keeps what
                // it should be, so the damage is not silently accepted.
                damaged.insert(m.uid);
                now
            }
            (Some(cached), None) if verify => {
                unreadable.push(m.uid);
                cached
            }
            (Some(cached), _) => cached,
            (None, Some(now)) => now,
            (None, None) if defer => {
                unread.push(m);
                continue;
            }
            (None, None) if bodies.undeliverable.contains(&m.uid) => {
                unreadable.push(m.uid);
                match remembered.get(&m.uid) {
                    // Known under this UID, its size since changed (a file
                    // cut short): with --verify it is what it was, broken,
                    // so its partner can replace it.
                    Some(r) if verify => r.fingerprint,
                    // Never read: left out (it can be neither compared nor
                    // copied), reported.
                    _ => continue,
                }
            }
            // A body that vanished between listing and fetch: the message is gone.
            (None, None) => continue,
        };
        let meta = MessageMeta {
            uid: m.uid,
            size: m.size,
            internal_date: m.internal_date,
            flags: m.flags,
            fingerprint,
        };
        let vouched = !damaged.contains(&meta.uid) && !unreadable.contains(&meta.uid);
        if (changed.contains(&meta.uid) || fp.is_none()) && vouched {
            upsert_at.push(messages.len());
        }
        messages.push(meta);
    }
    let upsert = upsert_at.into_iter().map(|i| messages[i].clone()).collect();
    let status = MailboxStatus {
        exists: (messages.len() + unread.len()) as u32,
        ..status
    };
    let listing = SideListing {
        wire_name: wire,
        status,
        messages,
        evidence,
        path,
        can_uid_expunge: conn.has_uidplus(),
        damaged,
        unreadable,
        unread,
    };
    Ok(Some(SideRead {
        listing,
        upsert,
        gone,
    }))
}
/// How many new connections reading one mailbox's bodies may open to get
/// past messages that make the server drop the connection: enough for three
/// such messages, none when the operator asked for no retries.
pub fn body_reconnects(retries: u32) -> usize {
    if retries == 0 {
        0
    } else {
        6
    }
}

/// What [`read_bodies`] got: a fingerprint per UID delivered, and the UIDs
/// whose body the server would not deliver.
struct Bodies {
    fingerprints: HashMap<Uid, Fingerprint>,
    undeliverable: Vec<Uid>,
}

/// Fetches and hashes these bodies (UID, listed size) of the selected
/// mailbox `wire`. A body
/// that makes the server drop the connection (Dovecot does, serving a file
/// cut short behind its back) must not fail the whole mailbox, nor be taken
/// for gone: on a new connection the first body not delivered is fetched
/// alone, and if that drops the connection too it is undeliverable (the
/// caller reports it); a passing cut just goes on with the rest. At most
/// `reconnects` connections are opened so (two per such message); then, or
/// with 0, the loss fails the mailbox.
async fn read_bodies(
    conn: &mut Connection,
    wire: &str,
    read_only: bool,
    uidvalidity: u32,
    uids: &[(Uid, u32)],
    reconnects: usize,
) -> Result<Bodies, ImapError> {
    let mut fingerprints = HashMap::new();
    let mut undeliverable = Vec::new();
    let mut suspect: Option<(Uid, u32)> = None;
    let mut reopened = 0;
    loop {
        let remaining: Vec<(Uid, u32)> = uids
            .iter()
            .copied()
            .filter(|(u, _)| !fingerprints.contains_key(u) && !undeliverable.contains(u))
            .collect();
        let batch = match suspect {
            Some(item) => vec![item],
            None => remaining.clone(),
        };
        if batch.is_empty() {
            break;
        }
        match fetch_fingerprints(conn, &batch, &mut fingerprints).await {
            Ok(()) if batch.len() == remaining.len() => break,
            Ok(()) => suspect = None,
            Err(e) if !conn.is_alive() && reopened < reconnects => {
                reopened += 1;
                eprintln!(
                    "imapmend: {e}; reconnecting to read the rest of {wire:?} \
                     (a message may be undeliverable)"
                );
                suspect = match suspect {
                    Some((uid, _)) => {
                        undeliverable.push(uid);
                        None
                    }
                    None => batch
                        .iter()
                        .copied()
                        .find(|(u, _)| !fingerprints.contains_key(u)),
                };
                conn.reopen().await?;
                let again = conn.select(wire, read_only).await?;
                if again.uidvalidity != uidvalidity {
                    return Err(ImapError::Protocol {
                        peer: conn.peer().clone(),
                        during: format!("reading the bodies of {wire:?}"),
                        detail: "UIDVALIDITY changed while reconnecting".into(),
                    });
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Bodies {
        fingerprints,
        undeliverable,
    })
}

/// Fetches these bodies (UID, listed size) and hashes each on the hashing
/// threads as it arrives, so a body is dropped as soon as it is hashed. The
/// bodies are asked for in runs of at most a quarter of the process's
/// hashing budget (two sides, and the pool's lanes, share it), each once
/// its room is free: the server is not asked for more than the hashing
/// keeps up with. What was hashed goes `into` the map even when the fetch
/// fails part way.
async fn fetch_fingerprints(
    conn: &mut Connection,
    items: &[(Uid, u32)],
    into: &mut HashMap<Uid, Fingerprint>,
) -> Result<(), ImapError> {
    if items.is_empty() {
        return Ok(());
    }
    let hashers = Hashers::new();
    let mut fetched = Ok(());
    for run in crate::hashing::runs(items, |s| hashers.cost(s), hashers.budget() / 4) {
        let room: HashMap<Uid, u32> = run.iter().map(|(u, s)| (*u, hashers.cost(*s))).collect();
        let reserved: u32 = room.values().sum();
        hashers.reserve(reserved).await;
        let uids: Vec<Uid> = run.iter().map(|(u, _)| *u).collect();
        let mut handed = 0;
        let mut on_body = |uid: Uid, body: Vec<u8>| {
            crate::progress::fingerprinted(1);
            // Each UID comes at most once, and only the ones asked for.
            let r = room.get(&uid).copied().unwrap_or(0);
            handed += r;
            hashers.submit(uid, body, r);
        };
        let result = conn.fetch_bodies(&uids, &mut on_body).await;
        hashers.give_back(reserved - handed);
        if let Err(e) = result {
            fetched = Err(e);
            break;
        }
    }
    let hashed = hashers
        .finish()
        .await
        .map_err(|detail| ImapError::Protocol {
            peer: conn.peer().clone(),
            during: "hashing fetched bodies".into(),
            detail,
        })?;
    into.extend(hashed);
    fetched
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FlagSet, InternalDate};
    use crate::plan::SkipReason;

    fn side(sizes: &[u32]) -> SideListing {
        SideListing {
            wire_name: "INBOX".into(),
            status: MailboxStatus {
                uidvalidity: 7,
                uidnext: 100,
                exists: sizes.len() as u32,
                highestmodseq: None,
                permanent_flags: None,
            },
            messages: sizes
                .iter()
                .enumerate()
                .map(|(i, size)| MessageMeta {
                    uid: 1 + i as Uid,
                    size: *size,
                    internal_date: InternalDate {
                        unix: 0,
                        offset_minutes: 0,
                    },
                    flags: FlagSet::new(),
                    fingerprint: Fingerprint([i as u8; 32]),
                })
                .collect(),
            ..SideListing::default()
        }
    }

    /// INBOX with messages of 100, 5000 and 300 bytes on A, empty on B; B
    /// limits per mailbox; A's UID 3 was refused by B on an earlier run.
    fn input() -> ReconcileInput {
        ReconcileInput {
            naming: Naming {
                delimiters: [Some('/'), Some('/')],
                ..Naming::default()
            },
            mailboxes: vec![MailboxInput {
                name: "INBOX".into(),
                sides: [Some(side(&[100, 5000, 300])), Some(side(&[]))],
                base: MailboxBase::default(),
            }],
            limits: CopyLimits {
                per_mailbox: [false, true],
                ..CopyLimits::default()
            },
            refusals: vec![Refusal {
                mailbox: "INBOX".into(),
                side: Side::A,
                uidvalidity: 7,
                uid: 3,
                reason: "NO [LIMIT] no".into(),
            }],
            ..ReconcileInput::default()
        }
    }

    fn skipped(plan: &Plan) -> Vec<(Uid, SkipReason)> {
        plan.mailboxes[0]
            .skipped
            .iter()
            .map(|s| (s.uid, s.why))
            .collect()
    }

    /// The Plan `plan` and `sync` print is exactly the core's answer for
    /// the input as finally gathered — per-mailbox limits asked included —
    /// and only the mailbox that receives copies is asked, once.
    #[tokio::test]
    async fn the_plan_is_reconciles_answer_with_the_limits_asked() {
        let mut input = input();
        let mut asked = Vec::new();
        let plan = decide_with(&mut input, &Policy::default(), async |wanted| {
            asked.extend(wanted.clone());
            wanted.into_iter().map(|q| (q, Some(1000))).collect()
        })
        .await;
        assert_eq!(
            asked,
            [LimitQuery {
                mailbox: "INBOX".into(),
                side: Side::B,
                wire: "INBOX".into()
            }]
        );
        assert_eq!(plan, reconcile(&input, &Policy::default()));
        assert_eq!(
            skipped(&plan),
            [(2, SkipReason::AppendLimit), (3, SkipReason::Refused)]
        );
        let copied: Vec<Uid> = plan.mailboxes[0].copies.iter().map(|c| c.uid).collect();
        assert_eq!(copied, [1]);
        assert!(plan.mailboxes[0].expunges.is_empty());
    }

    /// Where the listing gave the mailbox's limit (LIST-STATUS), or the
    /// server announced one for every mailbox, nothing is asked.
    #[tokio::test]
    async fn a_limit_already_known_is_not_asked() {
        let never = async |_: Vec<LimitQuery>| -> Vec<(LimitQuery, Option<u64>)> {
            panic!("asked although known")
        };
        let mut listed = input();
        listed
            .limits
            .mailbox_limit
            .insert(("INBOX".into(), Side::B), Some(1000));
        let plan = decide_with(&mut listed, &Policy::default(), never).await;
        assert_eq!(
            skipped(&plan),
            [(2, SkipReason::AppendLimit), (3, SkipReason::Refused)]
        );
        let mut server_wide = input();
        server_wide.limits.append_limit = [None, Some(1000)];
        let plan = decide_with(&mut server_wide, &Policy::default(), never).await;
        assert_eq!(plan, reconcile(&server_wide, &Policy::default()));
        assert_eq!(
            skipped(&plan),
            [(2, SkipReason::AppendLimit), (3, SkipReason::Refused)]
        );
        // No limit anywhere: nothing to ask either.
        let mut unlimited = input();
        unlimited.limits.per_mailbox = [false, false];
        let plan = decide_with(&mut unlimited, &Policy::default(), never).await;
        assert_eq!(skipped(&plan), [(3, SkipReason::Refused)]);
    }
}
