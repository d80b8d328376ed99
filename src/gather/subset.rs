//! A mailbox settled at its mark that changed since, read as the changed
//! subset ([`crate::reconcile::MailboxBase::subset_of`]): each side's
//! change history (CHANGEDSINCE the mark, VANISHED) names the UIDs that
//! moved; the snapshot gives, by index, the pairs holding them, their
//! partners' cache rows, the cache rows of the UIDs themselves and the
//! tombstones ([`Snapshot::load_subset`]); only bodies of new mail the
//! cache does not know are read. Every other message is paired and
//! agrees, as of the mark.
//!
//! Only where the saved watermarks are the marks on both sides (so what
//! changed since the saved HIGHESTMODSEQ is all that changed since the
//! mailbox was settled), both sides give VANISHED (QRESYNC) and judge
//! healthy, and the run is not `--verify`, `--restored`, `--scrub` or
//! `--identity headers` (`Reading::subset`). Anything that does not add up
//! — a UID below the mark with no pair, a pair's partner with no cache
//! row, a count that differs from EXISTS, a sign of a restore — gives None
//! and the caller loads and lists the mailbox in full, as before.

use super::ahead::SideAhead;
use super::evidence::regression_of;
use super::join::records_from;
use super::side::{
    healthy_history, read_side, remembered, unchanged_since_saved, Listed, SideRead,
};
use super::Reading;
use crate::hashing::Hashed;
use crate::imap::{Changes, Connection, HistorySupport, ListedStatus};
use crate::model::{ListedMessage, MailboxStatus, Side, Uid};
use crate::plan::ListingPath;
use crate::reconcile::mailboxes::MailboxPairing;
use crate::reconcile::MailboxBase;
use crate::snapshot::{MailboxRecord, SettledMark, Snapshot, Touched};
use std::collections::HashSet;

/// Both sides of `pairing` read as the changed subset, with the base the
/// core takes; None where the mailbox must be read in full (see the
/// module's doc). `index` is the mailbox's own row
/// ([`Snapshot::load_index`]).
pub(super) async fn list_subset(
    [a, b]: [&mut Connection; 2],
    pairing: &MailboxPairing,
    index: &MailboxRecord,
    snapshot: &Snapshot,
    reading: &Reading,
    listed: [Option<ListedStatus>; 2],
    ahead: [Option<&SideAhead>; 2],
) -> Option<(MailboxBase, [Result<Option<SideRead>, String>; 2])> {
    let marks = eligible(pairing, index, reading, [&*a, &*b])?;
    let (ha, hb) = tokio::join!(
        history(a, pairing, Side::A, index, reading, listed[0], ahead[0]),
        history(b, pairing, Side::B, index, reading, listed[1], ahead[1]),
    );
    let (ha, hb) = (ha?, hb?);
    let changed = [&ha, &hb].map(|h| h.changes.changed.iter().map(|m| m.uid).collect::<Vec<_>>());
    let touched = [0, 1].map(|i| Touched {
        changed: &changed[i],
        vanished: [&ha, &hb][i].changes.vanished.as_deref().unwrap_or(&[]),
    });
    let record = match snapshot.load_subset(&pairing.name, touched) {
        Ok(Some(record)) => record,
        _ => return None,
    };
    let la = subset_side(ha, Side::A, &record, &marks)?;
    let lb = subset_side(hb, Side::B, &record, &marks)?;
    let (ra, rb) = tokio::join!(
        read_side(a, Ok(Some(la)), reading, false),
        read_side(b, Ok(Some(lb)), reading, false),
    );
    let base = MailboxBase {
        subset_of: Some(marks[0].messages as usize),
        ..super::base_of(Some(&record))
    };
    Some((base, [ra, rb]))
}

/// The marks of a mailbox that may be read as its changed subset, from
/// its own row alone (see the module's doc).
fn eligible(
    pairing: &MailboxPairing,
    index: &MailboxRecord,
    reading: &Reading,
    conns: [&Connection; 2],
) -> Option<[SettledMark; 2]> {
    if !reading.subset || reading.verify || reading.headers || index.intents {
        return None;
    }
    let mark = |i: usize| {
        let (wire, saved, mark) = (
            pairing.wire[i].as_ref()?,
            index.sides[i].as_ref()?,
            index.settled[i]?,
        );
        let at_mark = saved.uidvalidity == mark.uidvalidity
            && saved.uidnext == mark.uidnext
            && saved.highestmodseq == Some(mark.highestmodseq)
            && saved.permanent_flags.is_some()
            && *wire == saved.wire_name;
        let qresync = conns[i].history_support() == HistorySupport::Qresync;
        (at_mark && qresync).then_some(mark)
    };
    let marks = [mark(0)?, mark(1)?];
    // Settled: every message paired, so as many on each side.
    (marks[0].messages == marks[1].messages).then_some(marks)
}

/// One side selected (not where LIST-STATUS shows it at the saved
/// watermarks) and its change history since them.
struct History {
    wire: String,
    status: MailboxStatus,
    saved_uidnext: u32,
    reason: String,
    changes: Changes,
    /// New bodies read ahead, hashed.
    ahead: Vec<(Uid, Hashed)>,
}

async fn history(
    conn: &mut Connection,
    pairing: &MailboxPairing,
    side: Side,
    index: &MailboxRecord,
    reading: &Reading,
    listed: Option<ListedStatus>,
    ahead: Option<&SideAhead>,
) -> Option<History> {
    let i = side.index();
    let (wire, saved) = (pairing.wire[i].as_ref()?, index.sides[i].as_ref()?);
    let unchanged = listed.and_then(|l| unchanged_since_saved(l, saved));
    let modseq = saved.highestmodseq?;
    // The history rides in the SELECT's flight where the listing counted
    // the mailbox (that count bounds the answer).
    let ahead = ahead.filter(|_| unchanged.is_none() && listed.is_some());
    let (mut status, prefetched) = match (unchanged.clone(), listed) {
        (Some(status), _) => (status, None),
        (None, _) if ahead.is_some() => {
            let a = ahead.expect("just checked");
            (a.status.clone(), Some(a.changes.clone()))
        }
        (None, Some(l)) => conn
            .select_with_changes(
                wire,
                reading.read_only,
                saved.uidvalidity,
                modseq,
                l.messages,
            )
            .await
            .ok()?,
        (None, None) => (conn.select(wire, reading.read_only).await.ok()?, None),
    };
    if reading.read_only {
        // As `side::list_side`: EXAMINE cannot tell what a sync may store.
        status.permanent_flags = saved.permanent_flags.clone();
    }
    let judgement = healthy_history(saved, index.known_uidnext[i], &status)?;
    let changes = match unchanged {
        Some(_) => Changes {
            vanished: Some(Vec::new()),
            ..Changes::default()
        },
        None => {
            let changes = match prefetched {
                Some(changes) => changes,
                None => conn.fetch_changes(modseq).await.ok()?,
            };
            changes.vanished.is_some().then_some(changes)?
        }
    };
    Some(History {
        wire: wire.clone(),
        status,
        saved_uidnext: saved.uidnext,
        reason: judgement.reason,
        changes,
        ahead: ahead.map(|a| a.hashed.clone()).unwrap_or_default(),
    })
}

/// One side's listing of the subset: its changed and new messages (the
/// cache's fingerprint, size and date where it knows the UID), and the
/// partners on this side of every pair the subset holds that are neither
/// changed nor gone here (the cache's rows, unchanged since the mark).
fn subset_side(
    h: History,
    side: Side,
    record: &MailboxRecord,
    marks: &[SettledMark; 2],
) -> Option<Listed> {
    let i = side.index();
    let uidvalidity = h.status.uidvalidity;
    let remembered = remembered(&record.cache[i], uidvalidity, false);
    let vanished = h.changes.vanished.as_deref().unwrap_or(&[]);
    let is_vanished = |uid: Uid| vanished.iter().any(|(lo, hi)| (*lo..=*hi).contains(&uid));
    let paired: HashSet<Uid> = record.pairs.iter().map(|p| p.uid[i]).collect();
    let mut listing = Vec::with_capacity(h.changes.changed.len() + record.pairs.len());
    let mut changed = HashSet::new();
    let mut new = 0u32;
    for m in &h.changes.changed {
        if is_vanished(m.uid) || !changed.insert(m.uid) {
            return None;
        }
        let known = remembered.get(&m.uid);
        if m.uid < h.saved_uidnext {
            // Below the mark: a message the mark saw, so paired.
            if !paired.contains(&m.uid) || known.is_none() {
                return None;
            }
        } else {
            new += 1;
        }
        if regression_of(h.saved_uidnext, known, m).is_some() {
            return None;
        }
        let mut listed = m.clone();
        if let Some(r) = known {
            // The cache's size and date: only flags change.
            listed.size = r.size;
            listed.internal_date = r.internal_date;
        }
        listing.push((listed, known.map(|r| r.fingerprint)));
    }
    let mut gone_pairs = 0u32;
    for uid in record.pairs.iter().map(|p| p.uid[i]) {
        if is_vanished(uid) {
            gone_pairs += 1;
        } else if !changed.contains(&uid) {
            let r = remembered.get(&uid)?;
            let m = ListedMessage {
                uid,
                size: r.size,
                internal_date: r.internal_date,
                flags: r.flags.clone(),
            };
            listing.push((m, Some(r.fingerprint)));
        }
    }
    if marks[i].messages - gone_pairs.min(marks[i].messages) + new != h.status.exists {
        return None;
    }
    listing.sort_unstable_by_key(|(m, _)| m.uid);
    let gone = remembered
        .keys()
        .copied()
        .filter(|uid| is_vanished(*uid))
        .collect();
    crate::progress::listed(listing.len());
    let reason = format!(
        "{}; settled at its mark, only what changed since was read ({} of {} messages)",
        h.reason,
        listing.len(),
        h.status.exists
    );
    Some(Listed {
        wire: h.wire,
        status: h.status,
        evidence: crate::reconcile::Evidence::Healthy,
        path: ListingPath {
            path: "history".into(),
            reason,
        },
        records: records_from(listing, &remembered, false),
        changed,
        gone,
        learn: HashSet::new(),
        learning: false,
        partial: true,
        ahead: h.ahead,
    })
}
