//! One side of one mailbox, read: selected (or not, where LIST-STATUS shows
//! it unchanged), listed through the change history where it can be
//! trusted or in full, its evidence judged, then its new bodies read.

use super::ahead::SideAhead;
use super::bodies::{read_bodies_into, Sink};
use super::evidence::{
    judge_status, rebuild_from_history, vanished_from_uid_list, Judgement, Remembered, Watermark,
};
use super::join::{join, records_from, CacheRows, Matching, Records, CACHED};
use super::Reading;
use crate::hashing::Hashed;
use crate::header_key::HeaderKey;
use crate::imap::{Changes, Connection, HistorySupport, ImapError, ListedStatus};
use crate::model::{ListedMessage, MailboxStatus, MessageMeta, Side, Uid};
use crate::plan::ListingPath;
use crate::reconcile::mailboxes::MailboxPairing;
use crate::reconcile::{Evidence, SideListing};
use crate::snapshot::{MailboxRecord, PairRecord, SideCache, SideRecord, Snapshot};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What reading one side of one mailbox produced.
pub(super) struct SideRead {
    pub listing: SideListing,
    /// Cache rows to write, new messages and changed flags: where each is
    /// in `listing.messages` (not a copy of it).
    pub upsert: Vec<Upsert>,
    /// Cached UIDs that are gone from the side.
    pub gone: Vec<Uid>,
}

/// One cache row to write: the message at `at` in the side's listing,
/// under `uid` (which says it is still the one meant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upsert {
    pub at: u32,
    pub uid: Uid,
}

/// Reads both sides of one mailbox, in two steps: first both listings
/// ([`list_sides`]), then both sides' bodies never seen before
/// ([`read_both`]).
pub(super) async fn list_both(
    a: &mut Connection,
    b: &mut Connection,
    pairing: &MailboxPairing,
    record: Option<&MailboxRecord>,
    reading: &Reading,
    listed: [Option<ListedStatus>; 2],
    ahead: [Option<&SideAhead>; 2],
) -> [Result<Option<SideRead>, String>; 2] {
    let conns = [&mut *a, &mut *b];
    let sides = list_sides(conns, pairing, record, None, reading, listed, ahead).await;
    let pairs = record.map(|r| &r.pairs[..]);
    read_both([a, b], sides, pairs, reading).await
}

/// Selects and lists both sides of one mailbox (SELECT, then history or
/// metadata), their bodies not read yet. With `file`, the record was
/// loaded without its cache ([`Snapshot::load_mailbox_lean`]): a side's
/// rows are read from that snapshot as its listing needs them.
pub(super) async fn list_sides(
    [a, b]: [&mut Connection; 2],
    pairing: &MailboxPairing,
    record: Option<&MailboxRecord>,
    file: Option<&Snapshot>,
    reading: &Reading,
    listed: [Option<ListedStatus>; 2],
    ahead: [Option<&SideAhead>; 2],
) -> [Result<Option<Listed>, String>; 2] {
    let rows = |side: Side| match (record, file) {
        (None, _) => CacheRows::Empty,
        (Some(_), Some(snapshot)) => CacheRows::File(snapshot, &pairing.name),
        (Some(r), None) => CacheRows::Loaded(&r.cache[side.index()]),
    };
    let (la, lb) = tokio::join!(
        list_side(
            a,
            pairing,
            Side::A,
            record,
            rows(Side::A),
            reading,
            listed[0],
            ahead[0]
        ),
        list_side(
            b,
            pairing,
            Side::B,
            record,
            rows(Side::B),
            reading,
            listed[1],
            ahead[1]
        ),
    );
    [la, lb]
}

/// Reads the bodies of both listed sides that the cache cannot vouch for
/// (and, with `pairs`, the snapshot's pairs of the mailbox — None where it
/// does not know it — those of cached messages no pair holds whose
/// normalised fingerprint it must learn: [`Listed::learn`]). A side whose
/// bodies may be deferred (`reading`) leaves them unread where the
/// snapshot knows nothing of the mailbox and the other side is absent or
/// listed empty: every message of it is then a copy, and nothing could
/// pair with it.
pub(super) async fn read_both(
    [a, b]: [&mut Connection; 2],
    [mut la, mut lb]: [Result<Option<Listed>, String>; 2],
    pairs: Option<&[PairRecord]>,
    reading: &Reading,
) -> [Result<Option<SideRead>, String>; 2] {
    for (side, listed) in [(Side::A, &mut la), (Side::B, &mut lb)] {
        if let Ok(Some(l)) = listed {
            if l.learning {
                l.learn = to_learn(&l.records, pairs.unwrap_or_default(), side, reading.headers);
            }
        }
    }
    let empty = |listed: &Result<Option<Listed>, String>| match listed {
        Ok(None) => true,
        Ok(Some(l)) => l.records.messages.is_empty(),
        Err(_) => false,
    };
    let defer = [(Side::A, &lb), (Side::B, &la)]
        .map(|(side, other)| reading.defer_bodies[side.index()] && pairs.is_none() && empty(other));
    let (ra, rb) = tokio::join!(
        read_side(a, la, reading, defer[0]),
        read_side(b, lb, reading, defer[1]),
    );
    [ra, rb]
}

/// One side of one mailbox, selected and listed, its bodies not read yet.
pub(super) struct Listed {
    pub(super) wire: String,
    pub(super) status: MailboxStatus,
    pub(super) evidence: Evidence,
    pub(super) path: ListingPath,
    /// A record per message, with its fingerprint where the cache vouches
    /// for it.
    pub(super) records: Records,
    /// UIDs new or whose flags changed since the cache.
    pub(super) changed: HashSet<Uid>,
    /// Cached UIDs that are gone from the side.
    pub(super) gone: Vec<Uid>,
    /// Cached UIDs no pair holds whose normalised fingerprint the cache
    /// does not know (a file of an older version), or, with `--identity
    /// headers`, whose header key it never keeps: their bodies are read
    /// once to learn it, since only unpaired messages may need it. Filled
    /// by [`read_both`] where `learning`, once the pairs are known.
    pub(super) learn: HashSet<Uid>,
    pub(super) learning: bool,
    /// Only the changed subset of the mailbox ([`super::subset`]): the
    /// status keeps the server's EXISTS.
    pub(super) partial: bool,
    /// New bodies read ahead ([`super::ahead`]), hashed: not read again.
    pub(super) ahead: Vec<(Uid, Hashed)>,
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
///
/// Where the mailbox was read ahead (`ahead`), that answer is the open's
/// and its history's; where it cannot serve (not read by its history, or
/// the history does not add up) the mailbox is asked again alone.
#[allow(clippy::too_many_arguments)] // the side's inputs, as list_sides holds them
async fn list_side(
    conn: &mut Connection,
    pairing: &MailboxPairing,
    side: Side,
    record: Option<&MailboxRecord>,
    rows: CacheRows<'_>,
    reading: &Reading,
    listed: Option<ListedStatus>,
    ahead: Option<&SideAhead>,
) -> Result<Option<Listed>, String> {
    let Some(wire) = &pairing.wire[side.index()] else {
        return Ok(None);
    };
    let err = |e: ImapError| e.to_string();
    let can_history = conn.history_support() != HistorySupport::None;
    let unchanged = listed
        .filter(|_| can_history)
        .and_then(|l| unchanged_since_saved(l, record?.sides[side.index()].as_ref()?));
    let saved = saved_watermark(record, side);
    // The history rides in the SELECT's flight where it may be read and
    // the listing counted the mailbox (that count bounds the answer).
    let ask = (saved.and_then(|s| Some((s.uidvalidity, s.highestmodseq?))))
        .zip(listed)
        .filter(|_| can_history);
    let ahead = ahead.filter(|_| unchanged.is_none() && ask.is_some());
    let (mut status, mut prefetched) = match (unchanged.clone(), ask) {
        (Some(status), _) => (status, None),
        (None, _) if ahead.is_some() => {
            let a = ahead.expect("just checked");
            (a.status.clone(), Some(a.changes.clone()))
        }
        (None, ask) => {
            let opened = match ask {
                Some(((uidvalidity, modseq), l)) => {
                    let read_only = reading.read_only;
                    conn.select_with_changes(wire, read_only, uidvalidity, modseq, l.messages)
                        .await
                }
                None => conn
                    .select(wire, reading.read_only)
                    .await
                    .map(|s| (s, None)),
            };
            match opened {
                // Listed, yet the server says it does not exist: it holds
                // nothing, like a \Noselect parent.
                Err(e) if e.says_nonexistent() => return Ok(None),
                other => other.map_err(err)?,
            }
        }
    };
    if reading.read_only {
        // EXAMINE cannot tell what a sync may store: plan and check judge
        // by what the last sync's SELECT said.
        status.permanent_flags = record
            .and_then(|r| r.sides[side.index()].as_ref())
            .and_then(|s| s.permanent_flags.clone());
    }
    let judgement = judge_status(saved, &status, can_history);
    if unchanged.is_some() && !(judgement.history && judgement.evidence.is_healthy()) {
        // Cannot be: the watermarks are the saved ones. Read it as usual.
        return Box::pin(list_side(
            conn, pairing, side, record, rows, reading, None, None,
        ))
        .await;
    }
    if ahead.is_some() && !judgement.history {
        // Read in full: asked again alone, on a session that holds it.
        let again = list_side(conn, pairing, side, record, rows, reading, listed, None);
        return Box::pin(again).await;
    }
    let mut evidence = judgement.evidence.clone();
    let mut path = ListingPath {
        path: "full".into(),
        reason: judgement.reason.clone(),
    };
    let mut read = None;
    if let (true, Some(saved)) = (judgement.history, saved) {
        // The history is read against every row of the side's cache.
        let loaded = match rows {
            CacheRows::File(snapshot, mailbox) => Some(
                (snapshot.side_cache(mailbox, side))
                    .map_err(|e| format!("the snapshot's cache could not be read: {e}"))?,
            ),
            _ => None,
        };
        let cache = match (rows, &loaded) {
            (CacheRows::Loaded(cache), _) => cache,
            (_, Some(loaded)) => loaded,
            _ => &SideCache::default(),
        };
        let remembered = remembered(cache, status.uidvalidity, reading.headers);
        let modseq = saved.highestmodseq.unwrap_or_default();
        let changes = match unchanged {
            Some(_) => Changes {
                vanished: Some(Vec::new()),
                ..Changes::default()
            },
            None => match prefetched.take() {
                Some(changes) => changes,
                None => conn.fetch_changes(modseq).await.map_err(err)?,
            },
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
                    Some(_) => "unchanged since the last sync (its watermarks as the server gave them); not selected".into(),
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
                read = Some((
                    records_from(rebuilt, &remembered, reading.verify),
                    changed,
                    gone,
                ));
            }
            // The cache lacks messages the mailbox holds (a copy skipped
            // or cut short before its row was written): read it as usual.
            Err(_) if unchanged.is_some() => {
                return Box::pin(list_side(
                    conn, pairing, side, record, rows, reading, None, None,
                ))
                .await;
            }
            Err(_) if ahead.is_some() => {
                let again = list_side(conn, pairing, side, record, rows, reading, listed, None);
                return Box::pin(again).await;
            }
            Err(why) => {
                path.reason = format!("the change history did not add up ({why})");
            }
        }
    }
    let (records, changed, gone) = match read {
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
            // Matched to the cache rows as they are read, in UID order:
            // a listed message that shows the side restored untrusts them
            // all, and a restored side's rows vouch for nothing (it
            // reuses UIDs).
            let how = Matching {
                side,
                uidvalidity: status.uidvalidity,
                saved_uidnext: saved.map(|s| s.uidnext).filter(|_| evidence.is_healthy()),
                trust: !evidence.is_restored(),
                headers: reading.headers,
                verify: reading.verify,
            };
            let joined = join(listed, rows, how)?;
            if let Some(sign) = joined.regression {
                path.reason = format!("regressed: {sign}");
                evidence = Evidence::Restored(sign);
            }
            (joined.records, joined.changed, joined.gone)
        }
    };
    crate::progress::listed(records.messages.len());
    Ok(Some(Listed {
        wire: wire.clone(),
        status,
        evidence,
        path,
        records,
        changed,
        gone,
        learn: HashSet::new(),
        // (Not where the mailbox was left unselected: nothing changed there.)
        learning: unchanged.is_none(),
        partial: false,
        ahead: ahead.map(|a| a.hashed.clone()).unwrap_or_default(),
    }))
}

/// The cached records no pair holds whose normalised fingerprint the
/// cache does not know (or, with `headers`, all cached records no pair
/// holds): see [`Listed::learn`].
fn to_learn(records: &Records, pairs: &[PairRecord], side: Side, headers: bool) -> HashSet<Uid> {
    let candidates = || {
        (records.messages.iter().zip(&records.state))
            .filter(|(m, state)| **state & CACHED != 0 && (!m.normalised.is_known() || headers))
            .map(|(m, _)| m.uid)
    };
    // The pairs' UIDs only where some record may need learning.
    if candidates().next().is_none() {
        return HashSet::new();
    }
    let paired: HashSet<Uid> = pairs.iter().map(|p| p.uid[side.index()]).collect();
    candidates().filter(|uid| !paired.contains(uid)).collect()
}

/// The watermarks the snapshot saved for `side` of the mailbox.
fn saved_watermark(record: Option<&MailboxRecord>, side: Side) -> Option<Watermark> {
    let r = record?;
    let s = r.sides[side.index()].as_ref()?;
    // A UID the snapshot knows must stay below UIDNEXT: the index row says
    // which (a record loaded without its cache holds few rows), or the
    // rows of a record made whole in memory.
    let known = r.cache[side.index()]
        .keys()
        .filter(|(uv, _)| *uv == s.uidvalidity)
        .map(|(_, uid)| uid.saturating_add(1))
        .max()
        .unwrap_or(0)
        .max(r.known_uidnext[side.index()]);
    Some(Watermark {
        uidvalidity: s.uidvalidity,
        uidnext: s.uidnext,
        highestmodseq: s.highestmodseq,
        seen_uidnext: s.seen_uidnext.unwrap_or(0).max(known),
        seen_highestmodseq: s.seen_highestmodseq,
    })
}

/// Both sides of a mailbox a sync found settled, where LIST-STATUS shows
/// each side at the settled mark and at the saved watermarks, with nothing
/// that says it was restored since (the same judgement as a SELECT's): its
/// listings without messages ([`crate::reconcile::settled`]), read from
/// nothing, neither the server nor the snapshot's rows of its messages.
/// None where the mailbox must be read.
pub(super) fn settled(
    a: &Connection,
    b: &Connection,
    pairing: &MailboxPairing,
    record: Option<&MailboxRecord>,
    reading: &Reading,
    listed: [Option<ListedStatus>; 2],
) -> Option<[Result<Option<SideRead>, String>; 2]> {
    let record = record.filter(|r| reading.skip_settled && !r.intents)?;
    let read = |conn: &Connection, side: Side| -> Option<SideRead> {
        let i = side.index();
        let (wire, saved, mark, listed) = (
            pairing.wire[i].as_ref()?,
            record.sides[i].as_ref()?,
            record.settled[i]?,
            listed[i]?,
        );
        let status = unchanged_since_saved(listed, saved)?;
        let at_mark = mark.uidvalidity == listed.uidvalidity
            && mark.uidnext == listed.uidnext
            && mark.highestmodseq == listed.highestmodseq
            && mark.messages == listed.messages;
        let can_history = conn.history_support() != HistorySupport::None;
        if !at_mark || !can_history || *wire != saved.wire_name {
            return None;
        }
        healthy_history(saved, record.known_uidnext[i], &status)?;
        let listing = SideListing {
            wire_name: wire.clone(),
            status,
            evidence: Evidence::Healthy,
            path: ListingPath {
                path: "history".into(),
                reason: "settled, and unchanged since the last sync (its watermarks as the server gave them); not read".into(),
            },
            can_uid_expunge: conn.has_uidplus(),
            ..SideListing::default()
        };
        Some(SideRead {
            listing,
            upsert: Vec::new(),
            gone: Vec::new(),
        })
    };
    Some([read(a, Side::A)?, read(b, Side::B)?].map(|r| Ok(Some(r))))
}

/// A side's cache rows under `uidvalidity`, by UID, as a listing is
/// checked against them (`headers`: sizes are no evidence, see
/// [`Reading::headers`]).
pub(super) fn remembered(
    cache: &SideCache,
    uidvalidity: u32,
    headers: bool,
) -> HashMap<Uid, Remembered<'_>> {
    cache
        .iter()
        .filter(|((uv, _), _)| *uv == uidvalidity)
        .map(|((_, uid), c)| {
            let r = Remembered {
                size: c.size,
                internal_date: c.internal_date,
                fingerprint: c.fingerprint,
                normalised: c.normalised,
                flags: &c.flags,
                size_is_evidence: c.read_back && !headers,
            };
            (*uid, r)
        })
        .collect()
}

/// How a side with these saved watermarks (and `known_uidnext`, one above
/// the highest UID its cache knows) is judged at `status`: Some only where
/// it may be read by its change history and is healthy.
pub(super) fn healthy_history(
    saved: &SideRecord,
    known_uidnext: u32,
    status: &MailboxStatus,
) -> Option<Judgement> {
    let saved = Watermark {
        uidvalidity: saved.uidvalidity,
        uidnext: saved.uidnext,
        highestmodseq: saved.highestmodseq,
        seen_uidnext: saved.seen_uidnext.unwrap_or(0).max(known_uidnext),
        seen_highestmodseq: saved.seen_highestmodseq,
    };
    let judgement = judge_status(Some(saved), status, true);
    (judgement.history && judgement.evidence.is_healthy()).then_some(judgement)
}

/// The status a SELECT would give, from LIST-STATUS watermarks equal to
/// the ones saved for the side (and PERMANENTFLAGS from the last SELECT);
/// None when anything differs or is not known.
pub(super) fn unchanged_since_saved(
    listed: ListedStatus,
    saved: &SideRecord,
) -> Option<MailboxStatus> {
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
pub(super) async fn read_side(
    conn: &mut Connection,
    listed: Result<Option<Listed>, String>,
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
        records,
        changed,
        gone,
        learn,
        learning: _,
        partial,
        ahead,
    } = listed;
    // The records were made as the listing was matched to the cache (a
    // record per message, its cached fingerprint and normalised one where
    // `state` says so), so the listing is not held beside them and their
    // fingerprints; the bodies' fingerprints go into them as they are
    // hashed (no map of them beside: [`Hashing`]).
    let Records {
        mut messages,
        mut state,
        recalled,
    } = records;
    let listed_len = messages.len();
    // Bodies never seen before; with --verify, every body.
    let to_read: Vec<(Uid, u32)> = (messages.iter().zip(&state))
        .filter(|(m, state)| reading.verify || **state & CACHED == 0 || learn.contains(&m.uid))
        .filter(|_| !defer)
        .map(|(m, _)| (m.uid, m.size))
        .collect();
    let (ahead, to_read): (Vec<_>, Vec<_>) = {
        let mut hashed: HashMap<Uid, Hashed> = ahead.into_iter().collect();
        let mut taken = Vec::new();
        let mut rest = Vec::with_capacity(to_read.len());
        for (uid, size) in to_read {
            match hashed.remove(&uid) {
                Some(h) => taken.push((uid, h)),
                None => rest.push((uid, size)),
            }
        }
        (taken, rest)
    };
    let verify = reading.verify;
    let mut damaged = BTreeSet::new();
    let mut headers = BTreeMap::new();
    let mut records = Hashing {
        index: uid_index(&messages),
        messages: &mut messages,
        state: &mut state,
        learn: &learn,
        verify,
        damaged: &mut damaged,
        headers: &mut headers,
    };
    records.extend(ahead);
    if !to_read.is_empty() && !conn.holds_at(&wire, status.uidvalidity) {
        // Read ahead, then another mailbox opened on this session.
        let again = (conn.select(&wire, reading.read_only).await).map_err(|e| e.to_string())?;
        if again.uidvalidity != status.uidvalidity {
            return Err(format!(
                "{wire:?} has UIDVALIDITY {} now, {} when it was listed; not read",
                again.uidvalidity, status.uidvalidity
            ));
        }
    }
    let undeliverable = read_bodies_into(
        conn,
        &wire,
        reading.read_only,
        status.uidvalidity,
        &to_read,
        reading.body_reconnects,
        reading.headers,
        &mut records,
    )
    .await
    .map_err(|e| e.to_string())?;
    drop(to_read);
    let mut unread = Vec::new();
    // Positions in `messages`: a copy of each row to write held every
    // message of a full listing twice until the cache was written.
    let mut upsert = Vec::new();
    let mut unreadable = Vec::new();
    // In place: the records kept move down to `kept`, in listing order.
    let mut kept = 0;
    for i in 0..messages.len() {
        let m = &mut messages[i];
        let (cached, fresh) = (state[i] & CACHED != 0, state[i] & FRESH != 0);
        match (cached, fresh) {
            // Under --verify, a cached body not delivered.
            (true, false) if verify => unreadable.push(m.uid),
            // Its cached fingerprint, or what its body hashed to now (a
            // change in place since it was synced is in `damaged`: the
            // cache keeps what it should be, so the damage is not
            // silently accepted).
            (true, _) | (false, true) => {}
            (false, false) if defer => {
                unread.push(ListedMessage {
                    uid: m.uid,
                    size: m.size,
                    internal_date: m.internal_date,
                    flags: std::mem::take(&mut m.flags),
                });
                continue;
            }
            (false, false) if undeliverable.contains(&m.uid) => {
                unreadable.push(m.uid);
                match recalled.binary_search_by_key(&m.uid, |(uid, _, _)| *uid) {
                    // Known under this UID, its size since changed (a file
                    // cut short): with --verify it is what it was, broken,
                    // so its partner can replace it.
                    Ok(at) if verify => m.set_fingerprints(recalled[at].1, recalled[at].2),
                    // Never read: left out (it can be neither compared nor
                    // copied), reported.
                    _ => continue,
                }
            }
            // A body that vanished between listing and fetch: the message is gone.
            (false, false) => continue,
        }
        let uid = m.uid;
        let learnt = learn.contains(&uid) && !verify && m.normalised.is_known();
        let vouched = !damaged.contains(&uid) && !unreadable.contains(&uid);
        if (changed.contains(&uid) || !cached || learnt) && vouched {
            upsert.push(Upsert {
                at: kept as u32,
                uid,
            });
        }
        messages.swap(kept, i);
        kept += 1;
    }
    if kept < messages.len() {
        // A first sync's deferred side keeps none of them.
        messages.truncate(kept);
        messages.shrink_to_fit();
    }
    let read = messages.len() + unread.len();
    let exists = match partial {
        // Less what was dropped (gone meanwhile, or undeliverable).
        true => status.exists.saturating_sub((listed_len - read) as u32),
        false => read as u32,
    };
    let status = MailboxStatus { exists, ..status };
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
        headers,
    };
    Ok(Some(SideRead {
        listing,
        upsert,
        gone,
    }))
}

/// A body was hashed for it (taken or not).
const ARRIVED: u8 = 2;
/// Its fingerprints are the ones its body hashed to now.
const FRESH: u8 = 4;

/// One side's records as the sink of its bodies' fingerprints: each is
/// written into its record as it is hashed, with what the hash means for
/// a record the cache vouched for (read again under --verify, or to learn
/// its normalised fingerprint).
struct Hashing<'a> {
    messages: &'a mut [MessageMeta],
    state: &'a mut [u8],
    /// (UID, position), sorted, where the records are not in UID order.
    index: Option<Vec<(Uid, u32)>>,
    learn: &'a HashSet<Uid>,
    verify: bool,
    /// UIDs whose body is not what the cache says (under --verify).
    damaged: &'a mut BTreeSet<Uid>,
    /// The header keys (`--identity headers`).
    headers: &'a mut BTreeMap<Uid, HeaderKey>,
}

/// [`Hashing`]' index: (UID, position), sorted, where the records are not
/// in UID order (None: they are, and are searched as they are).
fn uid_index(messages: &[MessageMeta]) -> Option<Vec<(Uid, u32)>> {
    (!messages.is_sorted_by_key(|m| m.uid)).then(|| {
        let mut index: Vec<(Uid, u32)> = (messages.iter().enumerate())
            .map(|(i, m)| (m.uid, i as u32))
            .collect();
        index.sort_unstable();
        index
    })
}

impl Hashing<'_> {
    fn at(&self, uid: Uid) -> Option<usize> {
        match &self.index {
            Some(index) => {
                (index.binary_search_by_key(&uid, |(u, _)| *u).ok()).map(|i| index[i].1 as usize)
            }
            None => self.messages.binary_search_by_key(&uid, |m| m.uid).ok(),
        }
    }

    fn put(&mut self, uid: Uid, hashed: Hashed) {
        let Some(i) = self.at(uid) else {
            return;
        };
        self.state[i] |= ARRIVED;
        if let Some(key) = hashed.headers {
            self.headers.insert(uid, *key);
        }
        let m = &mut self.messages[i];
        if self.state[i] & CACHED != 0 && hashed.exact != m.fingerprint {
            // Read only to learn its normalised fingerprint: a body that is
            // not what the cache says (a copy's row holds its source's)
            // teaches nothing, and is no sign of damage without --verify.
            if self.learn.contains(&uid) && !self.verify {
                return;
            }
            self.damaged.insert(uid);
        }
        m.set_fingerprints(hashed.exact, Some(hashed.normalised));
        self.state[i] |= FRESH;
    }
}

impl Extend<(Uid, Hashed)> for Hashing<'_> {
    fn extend<I: IntoIterator<Item = (Uid, Hashed)>>(&mut self, iter: I) {
        for (uid, hashed) in iter {
            self.put(uid, hashed);
        }
    }
}

impl Sink for Hashing<'_> {
    fn has(&self, uid: Uid) -> bool {
        self.at(uid).is_some_and(|i| self.state[i] & ARRIVED != 0)
    }
}
