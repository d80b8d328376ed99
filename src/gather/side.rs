//! One side of one mailbox, read: selected (or not, where LIST-STATUS shows
//! it unchanged), listed through the change history where it can be
//! trusted or in full, its evidence judged, then its new bodies read.

use super::ahead::SideAhead;
use super::bodies::{read_bodies_into, Sink};
use super::evidence::{
    judge_status, rebuild_from_history, regression_in_listing, vanished_from_uid_list, Judgement,
    Remembered, Watermark,
};
use super::Reading;
use crate::hashing::Hashed;
use crate::header_key::HeaderKey;
use crate::imap::{Changes, Connection, HistorySupport, ImapError, ListedStatus};
use crate::model::{Fingerprint, ListedMessage, MailboxStatus, MessageMeta, Side, Uid};
use crate::plan::ListingPath;
use crate::reconcile::mailboxes::MailboxPairing;
use crate::reconcile::{Evidence, SideListing};
use crate::snapshot::{MailboxRecord, SideCache, SideRecord};
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
/// (SELECT, then history or metadata), then both sides' bodies never seen
/// before. In between, a side whose bodies may be deferred (`reading`)
/// leaves them unread where the snapshot knows nothing of the mailbox and
/// the other side is absent or listed empty: every message of it is then a
/// copy, and nothing could pair with it.
pub(super) async fn list_both(
    a: &mut Connection,
    b: &mut Connection,
    pairing: &MailboxPairing,
    record: Option<&MailboxRecord>,
    reading: &Reading,
    listed: [Option<ListedStatus>; 2],
    ahead: [Option<&SideAhead>; 2],
) -> [Result<Option<SideRead>, String>; 2] {
    let (la, lb) = tokio::join!(
        list_side(a, pairing, Side::A, record, reading, listed[0], ahead[0]),
        list_side(b, pairing, Side::B, record, reading, listed[1], ahead[1]),
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
pub(super) struct Listed<'r> {
    pub(super) wire: String,
    pub(super) status: MailboxStatus,
    pub(super) evidence: Evidence,
    pub(super) path: ListingPath,
    /// Every message, with its fingerprint where the cache vouches for it.
    pub(super) listing: Vec<(ListedMessage, Option<Fingerprint>)>,
    /// UIDs new or whose flags changed since the cache.
    pub(super) changed: HashSet<Uid>,
    /// Cached UIDs that are gone from the side.
    pub(super) gone: Vec<Uid>,
    /// Cached UIDs no pair holds whose normalised fingerprint the cache
    /// does not know (a file of an older version), or, with `--identity
    /// headers`, whose header key it never keeps: their bodies are read
    /// once to learn it, since only unpaired messages may need it.
    pub(super) learn: HashSet<Uid>,
    pub(super) remembered: HashMap<Uid, Remembered<'r>>,
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
async fn list_side<'r>(
    conn: &mut Connection,
    pairing: &MailboxPairing,
    side: Side,
    record: Option<&'r MailboxRecord>,
    reading: &Reading,
    listed: Option<ListedStatus>,
    ahead: Option<&SideAhead>,
) -> Result<Option<Listed<'r>>, String> {
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
        return Box::pin(list_side(conn, pairing, side, record, reading, None, None)).await;
    }
    if ahead.is_some() && !judgement.history {
        // Read in full: asked again alone, on a session that holds it.
        let again = list_side(conn, pairing, side, record, reading, listed, None);
        return Box::pin(again).await;
    }
    let remembered = match record {
        Some(r) => remembered(&r.cache[side.index()], status.uidvalidity, reading.headers),
        None => HashMap::new(),
    };

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
                read = Some((rebuilt, changed, gone));
            }
            // The cache lacks messages the mailbox holds (a copy skipped
            // or cut short before its row was written): read it as usual.
            Err(_) if unchanged.is_some() => {
                return Box::pin(list_side(conn, pairing, side, record, reading, None, None)).await;
            }
            Err(_) if ahead.is_some() => {
                let again = list_side(conn, pairing, side, record, reading, listed, None);
                return Box::pin(again).await;
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
                            && r.internal_date.unix() == m.internal_date.unix()
                            && (!r.size_is_evidence || r.size == m.size)
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
    let paired: HashSet<Uid> = record
        .map(|r| r.pairs.iter().map(|p| p.uid[side.index()]).collect())
        .unwrap_or_default();
    // (Not where the mailbox was left unselected: nothing changed there.)
    let learn = listing
        .iter()
        .filter(|_| unchanged.is_none())
        .filter(|(m, fp)| {
            fp.is_some()
                && !paired.contains(&m.uid)
                && remembered
                    .get(&m.uid)
                    .is_some_and(|r| r.normalised.is_none() || reading.headers)
        })
        .map(|(m, _)| m.uid)
        .collect();
    Ok(Some(Listed {
        wire: wire.clone(),
        status,
        evidence,
        path,
        listing,
        changed,
        gone,
        learn,
        remembered,
        partial: false,
        ahead: ahead.map(|a| a.hashed.clone()).unwrap_or_default(),
    }))
}

/// The watermarks the snapshot saved for `side` of the mailbox.
fn saved_watermark(record: Option<&MailboxRecord>, side: Side) -> Option<Watermark> {
    let r = record?;
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
        learn,
        remembered,
        partial,
        ahead,
    } = listed;
    let listed_len = listing.len();
    // Bodies never seen before; with --verify, every body. Those read
    // ahead are not read again: their fingerprints go in below.
    let to_read: Vec<(Uid, u32)> = listing
        .iter()
        .filter(|(m, fp)| reading.verify || fp.is_none() || learn.contains(&m.uid))
        .filter(|_| !defer)
        .map(|(m, _)| (m.uid, m.size))
        .collect();
    let (ahead, to_read): (Vec<_>, Vec<_>) = {
        let hashed: HashMap<Uid, Hashed> = ahead.into_iter().collect();
        let mut taken = Vec::new();
        let mut rest = Vec::with_capacity(to_read.len());
        let mut hashed = hashed;
        for (uid, size) in to_read {
            match hashed.remove(&uid) {
                Some(h) => taken.push((uid, h)),
                None => rest.push((uid, size)),
            }
        }
        (taken, rest)
    };
    // The listing becomes the records it ends as before the bodies are
    // read, so that it is not held beside them and their fingerprints: a
    // record per message, its cached fingerprint where `state` says so.
    // The bodies' fingerprints go into the records as they are hashed (no
    // map of them beside: [`Records`]).
    let mut state = Vec::with_capacity(listing.len());
    let mut messages: Vec<MessageMeta> = Vec::with_capacity(listing.len());
    for (m, fp) in listing {
        state.push(if fp.is_some() { CACHED } else { 0 });
        messages.push(MessageMeta {
            uid: m.uid,
            size: m.size,
            internal_date: m.internal_date,
            flags: m.flags,
            fingerprint: fp.unwrap_or(Fingerprint([0; 32])),
            normalised: crate::model::Normalised::UNKNOWN,
        });
    }
    let verify = reading.verify;
    let mut damaged = BTreeSet::new();
    let mut headers = BTreeMap::new();
    let mut records = Records {
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
                match remembered.get(&m.uid) {
                    // Known under this UID, its size since changed (a file
                    // cut short): with --verify it is what it was, broken,
                    // so its partner can replace it.
                    Some(r) if verify => m.fingerprint = r.fingerprint,
                    // Never read: left out (it can be neither compared nor
                    // copied), reported.
                    _ => continue,
                }
            }
            // A body that vanished between listing and fetch: the message is gone.
            (false, false) => continue,
        }
        if !fresh {
            let normalised = remembered
                .get(&m.uid)
                .filter(|r| r.fingerprint == m.fingerprint)
                .and_then(|r| r.normalised);
            m.normalised = crate::model::Normalised::of(&m.fingerprint, normalised);
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

/// [`Records`]' state of a record: its fingerprint came from the cache.
const CACHED: u8 = 1;
/// A body was hashed for it (taken or not).
const ARRIVED: u8 = 2;
/// Its fingerprints are the ones its body hashed to now.
const FRESH: u8 = 4;

/// One side's records as the sink of its bodies' fingerprints: each is
/// written into its record as it is hashed, with what the hash means for
/// a record the cache vouched for (read again under --verify, or to learn
/// its normalised fingerprint).
struct Records<'a> {
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

/// [`Records`]' index: (UID, position), sorted, where the records are not
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

impl Records<'_> {
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

impl Extend<(Uid, Hashed)> for Records<'_> {
    fn extend<I: IntoIterator<Item = (Uid, Hashed)>>(&mut self, iter: I) {
        for (uid, hashed) in iter {
            self.put(uid, hashed);
        }
    }
}

impl Sink for Records<'_> {
    fn has(&self, uid: Uid) -> bool {
        self.at(uid).is_some_and(|i| self.state[i] & ARRIVED != 0)
    }
}
