//! The changed subset of one mailbox ([`super::Snapshot::load_subset`]):
//! its own row, the pairs holding the UIDs a run's change history showed
//! (by UID, and by range for VANISHED), the cache rows of those UIDs and of
//! the pairs' partners, and its tombstones — index look-ups only, so the
//! rows read grow with what changed, not with the mailbox.

use super::load::{cache_row, mailbox_named, pair_row, tombstones, CACHE_COLUMNS, PAIR_COLUMNS};
use super::schema::side_text;
use super::store::Orientation;
use super::{MailboxRecord, SideCache};
use crate::model::{Side, Uid};
use rusqlite::{params, Connection};
use std::collections::{BTreeMap, BTreeSet};

/// What one side's change history showed: the UIDs changed or new, and
/// the UIDs expunged (inclusive ranges, as VANISHED gives them; they may
/// cover UIDs never used).
#[derive(Debug, Clone, Copy, Default)]
pub struct Touched<'a> {
    pub changed: &'a [Uid],
    pub vanished: &'a [(Uid, Uid)],
}

/// See [`super::Snapshot::load_subset`].
pub fn subset(
    conn: &Connection,
    o: Orientation,
    name: &str,
    touched: [Touched<'_>; 2],
    read: &mut u64,
) -> rusqlite::Result<Option<MailboxRecord>> {
    let Some((id, mut record)) = mailbox_named(conn, o, name, read)? else {
        return Ok(None);
    };
    let mut pairs = BTreeMap::new();
    for side in Side::BOTH {
        let column = match o.side(side) {
            Side::A => "uid_a",
            Side::B => "uid_b",
        };
        let t = touched[side.index()];
        let mut by_range = conn.prepare_cached(&format!(
            "SELECT {PAIR_COLUMNS} FROM pair WHERE mailbox = ?1 AND {column} BETWEEN ?2 AND ?3"
        ))?;
        let single = t.changed.iter().map(|uid| (*uid, *uid));
        for (lo, hi) in single.chain(t.vanished.iter().copied()) {
            let mut rows = by_range.query(params![id, lo, hi])?;
            while let Some(row) = rows.next()? {
                *read += 1;
                let pair = pair_row(row, o)?;
                pairs.insert(pair.uid, pair);
            }
        }
    }
    for side in Side::BOTH {
        let Some(uidvalidity) = record.sides[side.index()].as_ref().map(|s| s.uidvalidity) else {
            continue;
        };
        let t = touched[side.index()];
        // (Not those in a VANISHED range: read with the range.)
        let gone = |uid: &Uid| t.vanished.iter().any(|(lo, hi)| (lo..=hi).contains(&uid));
        let uids: BTreeSet<Uid> = (t.changed.iter().copied())
            .chain(pairs.keys().map(|uid| uid[side.index()]))
            .filter(|uid| !gone(uid))
            .collect();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CACHE_COLUMNS} FROM message
             WHERE mailbox = ?1 AND side = ?2 AND uidvalidity = ?3 AND uid BETWEEN ?4 AND ?5"
        ))?;
        let single = uids.into_iter().map(|uid| (uid, uid));
        let mut entries = Vec::new();
        for (lo, hi) in single.chain(t.vanished.iter().copied()) {
            let stored = side_text(o.side(side));
            let mut rows = stmt.query(params![id, stored, uidvalidity, lo, hi])?;
            while let Some(row) = rows.next()? {
                *read += 1;
                entries.push(cache_row(row, o)?.1);
            }
        }
        record.cache[side.index()] = SideCache::from_entries(entries);
    }
    record.pairs = pairs.into_values().collect();
    record.tombstones = tombstones(conn, id, read)?;
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    use super::super::{EndpointIdentity, PairRecord, Snapshot};
    use super::Touched;
    use crate::model::{
        Fingerprint, FlagSet, InternalDate, MailboxStatus, MessageMeta, PairLevel, Side,
    };

    fn endpoint(host: &str) -> EndpointIdentity {
        EndpointIdentity {
            scheme: "imap".into(),
            host: host.into(),
            port: 143,
            user: "alice".into(),
        }
    }

    fn message(uid: u32) -> MessageMeta {
        MessageMeta {
            uid,
            size: 100 + uid,
            internal_date: InternalDate::new(1_700_000_000, 0),
            flags: FlagSet::from_wire(["\\Seen"]),
            fingerprint: Fingerprint([uid as u8; 32]),
            normalised: crate::model::Normalised::UNKNOWN,
        }
    }

    /// Pairs 1–11, 2–12, 3–13, 4–14 (A–B as the file holds them) and
    /// both sides' cache rows; the subset of "2 changed on A, 13 gone from
    /// B" is the two pairs holding them and their four cache rows, the
    /// same through a run that names the sides the other way round.
    #[test]
    fn the_subset_is_the_pairs_of_what_changed_and_their_rows_either_way_round() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pair.sqlite");
        let [a, b] = [endpoint("a.example"), endpoint("b.example")];
        let mut snapshot = Snapshot::open(&path, [&a, &b]).unwrap();
        let status = MailboxStatus {
            uidvalidity: 7,
            uidnext: 20,
            exists: 4,
            highestmodseq: Some(9),
            permanent_flags: None,
        };
        let pairs: Vec<PairRecord> = (1..=4)
            .map(|n| PairRecord {
                uid: [n, 10 + n],
                fingerprint: Fingerprint([n as u8; 32]),
                flags: Some(FlagSet::new()),
                unconfirmed: None,
                level: PairLevel::Exact,
                fingerprint_b: None,
            })
            .collect();
        let sides = [Some(("INBOX", &status)), Some(("INBOX", &status))];
        snapshot.rebase_mailbox("INBOX", sides, &pairs).unwrap();
        for (side, first) in [(Side::A, 1), (Side::B, 11)] {
            let messages: Vec<_> = (first..first + 4).map(message).collect();
            (snapshot.cache_messages("INBOX", side, 7, &messages)).unwrap();
        }
        let on_a = Touched {
            changed: &[2],
            vanished: &[],
        };
        let on_b = Touched {
            changed: &[],
            vanished: &[(13, 13), (30, 40)],
        };
        let uids = |r: &super::MailboxRecord, side: Side| -> Vec<u32> {
            r.cache[side.index()].keys().map(|(_, uid)| *uid).collect()
        };
        let before = snapshot.rows_read();
        let record = snapshot
            .load_subset("INBOX", [on_a, on_b])
            .unwrap()
            .unwrap();
        let read = snapshot.rows_read() - before;
        let held: Vec<_> = record.pairs.iter().map(|p| p.uid).collect();
        assert_eq!(held, [[2, 12], [3, 13]]);
        assert_eq!(
            (uids(&record, Side::A), uids(&record, Side::B)),
            (vec![2, 3], vec![12, 13])
        );
        assert_eq!(read, 1 + 2 + 4, "its row, two pairs, four cache rows");
        // Written back row by row: 2–12 replaced, 3–13 dropped, 1 and 4 stand.
        let mut renewed = pairs[1].clone();
        renewed.flags = Some(FlagSet::from_wire(["\\Seen"]));
        let sides = [Some(("INBOX", &status)), Some(("INBOX", &status))];
        (snapshot.rebase_pairs("INBOX", sides, &[[2, 12], [3, 13]], &[renewed])).unwrap();
        drop(snapshot);
        let swapped = Snapshot::open(&path, [&b, &a]).unwrap();
        let record = swapped.load_subset("INBOX", [on_b, on_a]).unwrap().unwrap();
        let held: Vec<_> = record
            .pairs
            .iter()
            .map(|p| (p.uid, p.flags.clone()))
            .collect();
        assert_eq!(held, [([12, 2], Some(FlagSet::from_wire(["\\Seen"])))]);
        assert_eq!(
            (uids(&record, Side::A), uids(&record, Side::B)),
            (vec![12, 13], vec![2])
        );
        let whole = swapped.load_mailbox("INBOX").unwrap().unwrap();
        let all: Vec<_> = whole.pairs.iter().map(|p| p.uid).collect();
        assert_eq!(all, [[11, 1], [12, 2], [14, 4]]);
    }
}
