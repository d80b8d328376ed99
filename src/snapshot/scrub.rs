//! What scrubbing keeps in the snapshot: when each cached message was last
//! read back and found intact (`message.verified_at`, NULL: never), the
//! damage scrubs found (`scrub_finding`, so the guard can count damage
//! across runs), and the coverage both give for metrics and `snapshot
//! show`. It decides nothing: which messages a run re-reads and what
//! counts as damage are `scrub`'s business.

use super::load::{level_from_sql, optional_fingerprint};
use super::schema::{fingerprint_from_blob, side_text};
use super::{Snapshot, SnapshotError};
use crate::fingerprint::NORMALISATION_VERSION;
use crate::model::{Fingerprint, PairLevel, Side, Uid};
use rusqlite::params;
use std::collections::BTreeMap;

/// The period coverage is measured over: the share of messages verified
/// within the last this many days (`--metrics`, `snapshot show`).
pub const COVERAGE_DAYS: i64 = 30;

/// One cached message as a scrub sees it: what was recorded for it and
/// when it was last verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrubRow {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: Uid,
    pub size: u32,
    /// The side's fingerprint as recorded (a copy's source's where the
    /// copy was not read back).
    pub fingerprint: Fingerprint,
    /// The normalised one, where known at this build's version.
    pub normalised: Option<Fingerprint>,
    /// The fingerprint was computed from this side's own bytes.
    pub read_back: bool,
    /// Unix seconds; None: never verified.
    pub verified_at: Option<i64>,
    /// The pair that holds it: its level and the partner's UID.
    pub pair: Option<(PairLevel, Uid)>,
}

/// What a scrub found for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrubResult {
    Intact,
    Damaged,
    Undeliverable,
}

/// Coverage of one side of one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    pub mailbox: String,
    pub side: Side,
    pub messages: u64,
    /// Verified at or after the `since` asked for.
    pub verified_since: u64,
    pub never_verified: u64,
    /// The oldest verification among the messages verified (Unix
    /// seconds); None: none was.
    pub oldest_verified: Option<i64>,
    /// The earliest INTERNALDATE among the messages never verified (Unix
    /// seconds); None: there are none.
    pub oldest_unverified_arrival: Option<i64>,
}

impl Coverage {
    /// Since when the least recently verified message has gone unverified:
    /// its last verification, or, for a message never verified, its
    /// INTERNALDATE (when the server says it arrived: an unverified
    /// message ages from then, not from infinity, so mail that arrived
    /// since the last run does not look as old as the hills). None: no
    /// messages.
    pub fn oldest(&self) -> Option<i64> {
        match (self.oldest_verified, self.oldest_unverified_arrival) {
            (Some(v), Some(u)) => Some(v.min(u)),
            (v, u) => v.or(u),
        }
    }

    /// The share of the messages verified since the `since` asked for
    /// (1 where there are none).
    pub fn share_verified(&self) -> f64 {
        if self.messages == 0 {
            1.0
        } else {
            self.verified_since as f64 / self.messages as f64
        }
    }
}

impl Snapshot {
    /// The cached messages of `side`, the least recently verified first
    /// (never verified first of all), handed to `each` until it returns
    /// false. Rows are read as they go, never all at once, and counted
    /// among the rows read (`-v`'s "snapshot: N rows read").
    pub fn scrub_rows(
        &self,
        side: Side,
        mut each: impl FnMut(ScrubRow) -> bool,
    ) -> Result<(), SnapshotError> {
        self.read_counted(
            || format!("choosing what to scrub on side {side}"),
            |conn, o, read| {
                let mut stmt = conn.prepare(
                    "SELECT mb.name, m.uidvalidity, m.uid, m.size, m.fingerprint,
                            m.normalised_fingerprint, m.normalised_version, m.fingerprint_read_back,
                            m.verified_at, coalesce(pa.level, pb.level), pa.uid_b, pb.uid_a,
                            pa.uid_a IS NOT NULL OR pb.uid_b IS NOT NULL
                     FROM message m JOIN mailbox mb ON mb.id = m.mailbox
                     LEFT JOIN pair pa ON ?1 = 'A' AND pa.mailbox = m.mailbox AND pa.uid_a = m.uid
                     LEFT JOIN pair pb ON ?1 = 'B' AND pb.mailbox = m.mailbox AND pb.uid_b = m.uid
                     WHERE m.side = ?1
                     ORDER BY m.verified_at IS NOT NULL, m.verified_at, mb.name, m.uid",
                )?;
                let mut rows = stmt.query([side_text(o.side(side))])?;
                while let Some(row) = rows.next()? {
                    *read += 1;
                    let partner: Option<Uid> = row.get::<_, Option<Uid>>(10)?.or(row.get(11)?);
                    let paired: bool = row.get(12)?;
                    let version: Option<u32> = row.get(6)?;
                    let scrub_row = ScrubRow {
                        mailbox: row.get(0)?,
                        uidvalidity: row.get(1)?,
                        uid: row.get(2)?,
                        size: row.get(3)?,
                        fingerprint: fingerprint_from_blob(4, &row.get::<_, Vec<u8>>(4)?)?,
                        normalised: optional_fingerprint(row, 5)?
                            .filter(|_| version == Some(NORMALISATION_VERSION)),
                        read_back: row.get(7)?,
                        verified_at: row.get(8)?,
                        pair: match (paired, partner) {
                            (true, Some(uid)) => Some((level_from_sql(row, 9)?, uid)),
                            _ => None,
                        },
                    };
                    if !each(scrub_row) {
                        break;
                    }
                }
                Ok(())
            },
        )
    }

    /// Records what one run's scrub found, in one transaction: an intact
    /// message is verified `at`; damage (and a body not delivered) is
    /// remembered as a finding for the guard ([`Snapshot::recent_damage`]).
    /// Findings older than `forget_before` are dropped.
    pub fn record_scrub(
        &mut self,
        results: &[(String, Side, u32, Uid, ScrubResult)],
        at: i64,
        forget_before: i64,
    ) -> Result<(), SnapshotError> {
        self.write(
            || format!("recording what the scrub read ({} messages)", results.len()),
            |tx, o| {
                tx.execute(
                    "DELETE FROM scrub_finding WHERE found_at < ?1",
                    [forget_before],
                )?;
                let mut verified = tx.prepare_cached(
                    "UPDATE message SET verified_at = ?1
                     WHERE mailbox = (SELECT id FROM mailbox WHERE name = ?2)
                       AND side = ?3 AND uidvalidity = ?4 AND uid = ?5",
                )?;
                let mut found = tx.prepare_cached(
                    "INSERT INTO scrub_finding (mailbox, side, uidvalidity, uid, found_at, finding)
                     SELECT id, ?3, ?4, ?5, ?1, ?6 FROM mailbox WHERE name = ?2",
                )?;
                for (mailbox, side, uidvalidity, uid, result) in results {
                    let side = side_text(o.side(*side));
                    match result {
                        ScrubResult::Intact => {
                            verified.execute(params![at, mailbox, side, uidvalidity, uid])?
                        }
                        ScrubResult::Damaged => found.execute(params![
                            at,
                            mailbox,
                            side,
                            uidvalidity,
                            uid,
                            "damaged"
                        ])?,
                        ScrubResult::Undeliverable => found.execute(params![
                            at,
                            mailbox,
                            side,
                            uidvalidity,
                            uid,
                            "undeliverable"
                        ])?,
                    };
                }
                Ok(())
            },
        )
    }

    /// Per mailbox and side, the distinct messages scrubs found damaged or
    /// undeliverable at or after `since` (Unix seconds).
    pub fn recent_damage(
        &self,
        since: i64,
    ) -> Result<BTreeMap<(String, Side), u64>, SnapshotError> {
        self.read(
            || "counting the damage earlier scrubs found".into(),
            |conn, o| {
                let mut stmt = conn.prepare(
                    "SELECT mb.name, f.side, count(DISTINCT f.uidvalidity || ':' || f.uid)
                     FROM scrub_finding f JOIN mailbox mb ON mb.id = f.mailbox
                     WHERE f.found_at >= ?1 GROUP BY mb.name, f.side",
                )?;
                let mut rows = stmt.query([since])?;
                let mut counts = BTreeMap::new();
                while let Some(row) = rows.next()? {
                    let side = super::schema::side_from_text(1, &row.get::<_, String>(1)?)?;
                    counts.insert((row.get(0)?, o.side(side)), row.get(2)?);
                }
                Ok(counts)
            },
        )
    }

    /// Per mailbox and side (of the side's current UIDVALIDITY): how many
    /// messages the cache holds, how many were verified at or after
    /// `since`, how many never were, the oldest verification and the
    /// earliest arrival of those never verified.
    pub fn coverage(&self, since: i64) -> Result<Vec<Coverage>, SnapshotError> {
        self.read(
            || "reading the scrub coverage".into(),
            |conn, o| coverage(conn, since, |s| o.side(s)),
        )
    }
}

/// [`Snapshot::coverage`] over an open database (also for `snapshot show`,
/// which reads the file without locking it); `orient` maps the file's
/// sides to the caller's.
pub fn coverage(
    conn: &rusqlite::Connection,
    since: i64,
    orient: impl Fn(Side) -> Side,
) -> rusqlite::Result<Vec<Coverage>> {
    let mut stmt = conn.prepare(
        "SELECT mb.name, m.side, count(*), count(CASE WHEN m.verified_at >= ?1 THEN 1 END),
                count(*) - count(m.verified_at), min(m.verified_at),
                min(CASE WHEN m.verified_at IS NULL THEN m.internal_date END)
         FROM message m JOIN mailbox mb ON mb.id = m.mailbox
         WHERE m.uidvalidity = CASE m.side WHEN 'A' THEN mb.a_uidvalidity ELSE mb.b_uidvalidity END
         GROUP BY mb.name, m.side ORDER BY mb.name, m.side",
    )?;
    let mut rows = stmt.query([since])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let side = orient(super::schema::side_from_text(1, &row.get::<_, String>(1)?)?);
        out.push(Coverage {
            mailbox: row.get(0)?,
            side,
            messages: row.get(2)?,
            verified_since: row.get(3)?,
            never_verified: row.get(4)?,
            oldest_verified: row.get(5)?,
            oldest_unverified_arrival: row.get(6)?,
        });
    }
    out.sort_by(|x, y| (&x.mailbox, x.side).cmp(&(&y.mailbox, y.side)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(verified: Option<i64>, arrival: Option<i64>) -> Coverage {
        Coverage {
            mailbox: "INBOX".into(),
            side: Side::A,
            messages: 4,
            verified_since: 1,
            never_verified: 3,
            oldest_verified: verified,
            oldest_unverified_arrival: arrival,
        }
    }

    #[test]
    fn the_oldest_is_the_earlier_of_a_verification_and_an_unverified_arrival() {
        assert_eq!(coverage(Some(100), Some(50)).oldest(), Some(50));
        assert_eq!(coverage(Some(100), Some(150)).oldest(), Some(100));
        assert_eq!(coverage(None, Some(150)).oldest(), Some(150));
        assert_eq!(coverage(Some(100), None).oldest(), Some(100));
        assert_eq!(coverage(None, None).oldest(), None);
        assert_eq!(coverage(None, None).share_verified(), 0.25);
        let empty = Coverage {
            messages: 0,
            verified_since: 0,
            ..coverage(None, None)
        };
        assert_eq!(empty.share_verified(), 1.0);
    }
}
