//! A side's listing matched to the snapshot's cache rows of that side:
//! each listed message becomes its record, with the cached fingerprint
//! where the row vouches for it (same UID, INTERNALDATE and, where it is
//! evidence, size, and a side not restored).
//!
//! A full listing is matched as a merge join: the listing in UID order
//! against the rows read in UID order from the snapshot's file
//! ([`crate::snapshot::Snapshot::each_cached`]), so that neither a copy of
//! the cache nor a map of it is held beside the records. A side rebuilt
//! from its change history, or read as its changed subset, starts from a
//! map of the rows ([`Remembered`]) and is turned into records the same
//! way ([`records_from`]).

use super::evidence::{regression_of, Remembered};
use crate::model::{Fingerprint, ListedMessage, MessageMeta, Normalised, Side, Uid};
use crate::snapshot::{CachedMessage, SideCache, Snapshot};
use std::collections::{HashMap, HashSet};

/// A record's state: its fingerprint came from the cache.
pub(super) const CACHED: u8 = 1;

/// Where a side's cache rows come from.
#[derive(Clone, Copy)]
pub(super) enum CacheRows<'r> {
    /// None: the snapshot does not know the mailbox.
    Empty,
    /// The record's cache, loaded whole (a caller with no snapshot file).
    Loaded(&'r SideCache),
    /// The snapshot's file, read as needed: the record was loaded without
    /// its cache ([`Snapshot::load_mailbox_without_cache`]).
    File(&'r Snapshot, &'r str),
}

impl CacheRows<'_> {
    /// Hands `f` the rows under `uidvalidity`, in UID order.
    fn each(
        self,
        side: Side,
        uidvalidity: u32,
        f: &mut dyn FnMut(Uid, &CachedMessage),
    ) -> Result<(), String> {
        match self {
            CacheRows::Empty => Ok(()),
            CacheRows::Loaded(cache) => {
                (cache.iter())
                    .filter(|((uv, _), _)| *uv == uidvalidity)
                    .for_each(|((_, uid), c)| f(*uid, c));
                Ok(())
            }
            CacheRows::File(snapshot, mailbox) => snapshot
                .each_cached(mailbox, side, uidvalidity, f)
                .map_err(|e| format!("the snapshot's cache could not be read: {e}")),
        }
    }
}

/// A listed side's records, as [`super::side::read_side`] takes them.
#[derive(Debug, Default)]
pub(super) struct Records {
    /// One per listed message, in UID order; the fingerprints of those
    /// not [`CACHED`] are not known yet.
    pub messages: Vec<MessageMeta>,
    /// Per record: [`CACHED`] or 0.
    pub state: Vec<u8>,
    /// With --verify only: the rows known under the UID of a record they
    /// did not vouch for, (UID, fingerprint, normalised), by UID — what a
    /// body that cannot be read is taken to be.
    pub recalled: Vec<(Uid, Fingerprint, Option<Fingerprint>)>,
}

/// What matching a full listing to the cache gave.
pub(super) struct Joined {
    pub records: Records,
    /// UIDs whose flags are not the cached ones, or not vouched for.
    pub changed: HashSet<Uid>,
    /// Cached UIDs the listing does not hold.
    pub gone: Vec<Uid>,
    /// The first sign that the side was restored (then nothing is
    /// vouched for).
    pub regression: Option<String>,
}

/// How to match a full listing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Matching {
    pub side: Side,
    pub uidvalidity: u32,
    /// Where the side is healthy and the snapshot saved its UIDNEXT: a
    /// listed message that shows the side was restored makes the whole
    /// cache untrusted ([`regression_of`]).
    pub saved_uidnext: Option<u32>,
    /// The cache may vouch at all (the side is not known restored).
    pub trust: bool,
    /// `--identity headers`: sizes are no evidence.
    pub headers: bool,
    pub verify: bool,
}

/// A full listing (any order; sorted by UID here where it is not) matched
/// to the side's cache rows, read in UID order as they come.
pub(super) fn join(
    mut listed: Vec<ListedMessage>,
    rows: CacheRows<'_>,
    how: Matching,
) -> Result<Joined, String> {
    if !listed.is_sorted_by_key(|m| m.uid) {
        listed.sort_by_key(|m| m.uid);
    }
    let n = listed.len();
    let mut joined = Joined {
        records: Records {
            messages: Vec::with_capacity(n),
            state: Vec::with_capacity(n),
            recalled: Vec::new(),
        },
        changed: HashSet::new(),
        gone: Vec::new(),
        regression: None,
    };
    let mut listed = listed.into_iter().peekable();
    rows.each(how.side, how.uidvalidity, &mut |uid, row| {
        while let Some(m) = listed.next_if(|m| m.uid < uid) {
            joined.take(m, None, how);
        }
        match listed.next_if(|m| m.uid == uid) {
            Some(m) => joined.take(m, Some(row), how),
            None => joined.gone.push(uid),
        }
    })?;
    for m in listed {
        joined.take(m, None, how);
    }
    if joined.regression.is_some() {
        joined.distrust(how.verify);
    }
    Ok(joined)
}

impl Joined {
    /// One listed message, with the row of its UID if the cache has one.
    fn take(&mut self, m: ListedMessage, row: Option<&CachedMessage>, how: Matching) {
        let size_is_evidence = |r: &CachedMessage| r.read_back && !how.headers;
        if let (None, Some(saved)) = (&self.regression, how.saved_uidnext) {
            let remembered = row.map(|r| remembered_of(r, size_is_evidence(r)));
            self.regression = regression_of(saved, remembered.as_ref(), &m);
        }
        let vouched = row.filter(|r| {
            how.trust
                && r.internal_date.unix() == m.internal_date.unix()
                && (!size_is_evidence(r) || r.size == m.size)
        });
        if vouched.is_none_or(|r| r.flags != m.flags) {
            self.changed.insert(m.uid);
        }
        if let (Some(r), None, true) = (row, vouched, how.verify) {
            (self.records.recalled).push((m.uid, r.fingerprint, r.normalised));
        }
        let records = &mut self.records;
        records
            .state
            .push(if vouched.is_some() { CACHED } else { 0 });
        records.messages.push(MessageMeta {
            uid: m.uid,
            size: m.size,
            internal_date: m.internal_date,
            flags: m.flags,
            fingerprint: vouched.map_or(Fingerprint([0; 32]), |r| r.fingerprint),
            normalised: match vouched {
                Some(r) => Normalised::of(&r.fingerprint, r.normalised),
                None => Normalised::UNKNOWN,
            },
        });
    }

    /// The side was restored: no row vouches for its record, every
    /// message counts as changed (as if the cache had been set aside
    /// before the listing was matched).
    fn distrust(&mut self, verify: bool) {
        let records = &mut self.records;
        for (m, state) in records.messages.iter_mut().zip(&mut records.state) {
            self.changed.insert(m.uid);
            if *state & CACHED == 0 {
                continue;
            }
            if verify {
                records
                    .recalled
                    .push((m.uid, m.fingerprint, m.normalised()));
            }
            *state = 0;
            m.set_fingerprints(Fingerprint([0; 32]), None);
        }
        records.recalled.sort_unstable_by_key(|(uid, _, _)| *uid);
    }
}

/// A row as [`regression_of`] and the history paths read it.
pub(super) fn remembered_of(c: &CachedMessage, size_is_evidence: bool) -> Remembered<'_> {
    Remembered {
        size: c.size,
        internal_date: c.internal_date,
        fingerprint: c.fingerprint,
        normalised: c.normalised,
        flags: &c.flags,
        size_is_evidence,
    }
}

/// Records from a listing whose fingerprints were taken from `remembered`
/// (a side rebuilt from its change history, or its changed subset): the
/// normalised fingerprint where the row knows it, and under `verify` the
/// rows of records not vouched for.
pub(super) fn records_from(
    listing: Vec<(ListedMessage, Option<Fingerprint>)>,
    remembered: &HashMap<Uid, Remembered<'_>>,
    verify: bool,
) -> Records {
    let mut records = Records {
        messages: Vec::with_capacity(listing.len()),
        state: Vec::with_capacity(listing.len()),
        recalled: Vec::new(),
    };
    for (m, fp) in listing {
        let row = remembered.get(&m.uid);
        match (fp, row) {
            (None, Some(r)) if verify => {
                (records.recalled).push((m.uid, r.fingerprint, r.normalised))
            }
            _ => {}
        }
        records.state.push(if fp.is_some() { CACHED } else { 0 });
        let fingerprint = fp.unwrap_or(Fingerprint([0; 32]));
        let normalised =
            (fp.and_then(|fp| row.filter(|r| r.fingerprint == fp))).and_then(|r| r.normalised);
        records.messages.push(MessageMeta {
            uid: m.uid,
            size: m.size,
            internal_date: m.internal_date,
            flags: m.flags,
            fingerprint,
            normalised: Normalised::of(&fingerprint, normalised),
        });
    }
    records.recalled.sort_unstable_by_key(|(uid, _, _)| *uid);
    records
}
