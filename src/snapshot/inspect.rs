//! Read-only inspection of a snapshot file, and forgetting one, for
//! `imapmend snapshot show|forget`.
//!
//! `inspect` opens the database read-only and takes no lock, so it works
//! while a run is using the file (SQLite's WAL gives it a consistent view);
//! it only *tests* the lock, to say whether a run holds it. `forget` takes
//! the lock like a run does, so it never deletes a file in use. Neither
//! decides anything about mail: they report counts and delete files.

use super::error::{SnapshotError, SqlContext};
use super::migrations::SCHEMA_VERSION;
use super::schema::{modseq_from_sql, side_from_text, APPLICATION_ID};
use super::scrub::{Coverage, COVERAGE_DAYS};
use super::store::{lock_path, take_lock};
use super::EndpointIdentity;
use crate::model::Side;
use fs4::fs_std::FileExt;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a snapshot remembers, in the file's own orientation unless
/// [`SnapshotSummary::mirrored`] was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotSummary {
    pub path: PathBuf,
    pub schema_version: i64,
    /// "imaps://user@host:993", [A, B].
    pub endpoints: [String; 2],
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last write by any run (sync, or the fingerprint
    /// cache that plan and check also fill).
    pub updated_at: i64,
    /// The database and its write-ahead log, in bytes.
    pub file_bytes: u64,
    /// Whether a run holds the lock right now.
    pub in_use: bool,
    pub mailboxes: Vec<MailboxSummary>,
    /// Copies announced and never checkpointed (a run stopped mid-batch);
    /// the next run resolves them.
    pub pending_intents: Vec<IntentSummary>,
    pub tombstones: u64,
    /// What scrubs have verified, per mailbox and side (empty in a file
    /// older than the scrub): measured at `coverage_at` (Unix seconds),
    /// `verified_since` counting the last [`COVERAGE_DAYS`] days.
    pub coverage: Vec<Coverage>,
    pub coverage_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxSummary {
    pub name: String,
    /// [A, B]; None where the side was never synced.
    pub sides: [Option<SideSummary>; 2],
    pub pairs: u64,
    /// Pairs whose flags both sides agreed on.
    pub pairs_with_agreed_flags: u64,
    /// [A, B]: the fingerprint cache for the side's current UIDVALIDITY.
    pub cached: [CacheSummary; 2],
    /// [A, B]: messages with a recorded status other than `paired`
    /// (`refused`, `skipped`, `pending-expunge`, `unstorable-flags`), counted.
    pub divergences: [BTreeMap<String, u64>; 2],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SideSummary {
    pub wire_name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheSummary {
    pub messages: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntentSummary {
    pub mailbox: String,
    pub target: Side,
    pub messages: u64,
    /// The sources' sizes where they were known.
    pub bytes: u64,
    /// Unix seconds.
    pub created_at: i64,
}

impl SnapshotSummary {
    /// The same summary with A and B exchanged, for a caller who names the
    /// servers the other way round than the file recorded them.
    pub fn mirrored(mut self) -> SnapshotSummary {
        self.endpoints.swap(0, 1);
        for mb in &mut self.mailboxes {
            mb.sides.swap(0, 1);
            mb.cached.swap(0, 1);
            mb.divergences.swap(0, 1);
        }
        for intent in &mut self.pending_intents {
            intent.target = intent.target.other();
        }
        for c in &mut self.coverage {
            c.side = c.side.other();
        }
        self.coverage
            .sort_by(|x, y| (&x.mailbox, x.side).cmp(&(&y.mailbox, y.side)));
        self
    }

    /// Totals over all mailboxes: (pairs, cached [A, B]).
    pub fn totals(&self) -> (u64, [CacheSummary; 2]) {
        let mut cached = [CacheSummary::default(); 2];
        for mb in &self.mailboxes {
            for (total, c) in cached.iter_mut().zip(&mb.cached) {
                total.messages += c.messages;
                total.bytes += c.bytes;
            }
        }
        (self.mailboxes.iter().map(|m| m.pairs).sum(), cached)
    }
}

/// The endpoints a snapshot file records, [A, B] as first recorded, without
/// locking or changing it.
pub fn recorded_endpoints(path: &Path) -> Result<[EndpointIdentity; 2], SnapshotError> {
    let conn = open_read_only(path)?;
    read_endpoints(&conn, path)
}

/// Reads what the snapshot at `path` remembers. Refuses a file that is not
/// an imapmend snapshot, or one of a newer schema; never writes.
pub fn inspect(path: &Path) -> Result<SnapshotSummary, SnapshotError> {
    let conn = open_read_only(path)?;
    let endpoints = read_endpoints(&conn, path)?;
    let (schema_version, created_at, updated_at): (i64, i64, i64) = conn
        .query_row(
            "SELECT schema_version, created_at, updated_at FROM meta WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ctx(path, || "reading the meta row".into())?;
    let mailboxes = mailboxes(&conn).ctx(path, || "reading mailboxes".into())?;
    let pending_intents = intents(&conn).ctx(path, || "reading intents".into())?;
    let tombstones: u64 = conn
        .query_row("SELECT count(*) FROM tombstone", [], |r| r.get(0))
        .ctx(path, || "counting tombstones".into())?;
    let coverage_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let coverage = scrub_coverage(&conn, coverage_at - COVERAGE_DAYS * 86_400)
        .ctx(path, || "reading the scrub coverage".into())?;
    let file_bytes = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(with_suffix(path, suffix)).ok())
        .map(|m| m.len())
        .sum();
    Ok(SnapshotSummary {
        path: path.to_path_buf(),
        schema_version,
        endpoints: endpoints.map(|e| e.to_string()),
        created_at,
        updated_at,
        file_bytes,
        in_use: is_locked(path),
        mailboxes,
        pending_intents,
        tombstones,
        coverage,
        coverage_at,
    })
}

/// The scrub coverage, in the file's orientation; none in a file older
/// than the scrub (no `message.verified_at`).
fn scrub_coverage(conn: &Connection, since: i64) -> rusqlite::Result<Vec<Coverage>> {
    let scrubbed: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('message') WHERE name = 'verified_at'",
        [],
        |r| r.get(0),
    )?;
    if scrubbed {
        super::scrub::coverage(conn, since, |side| side)
    } else {
        Ok(Vec::new())
    }
}

/// Deletes the snapshot at `path` with its `-wal`, `-shm`, `-journal`,
/// `.sync.lock` (unless a sync holds it) and `.lock` files, after taking its lock (a run in progress makes this fail
/// with `Locked`) and checking that it is an imapmend snapshot. Returns the
/// files removed; a missing snapshot removes nothing.
pub fn forget(path: &Path) -> Result<Vec<PathBuf>, SnapshotError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    // Never delete a file that is not ours, whatever --state said.
    recorded_endpoints(path)?;
    let lock = take_lock(path)?;
    let mut removed = Vec::new();
    for suffix in ["-wal", "-shm", "-journal", ""] {
        let file = with_suffix(path, suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => removed.push(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(SnapshotError::io(
                    path,
                    format!("removing {}", file.display()),
                    e,
                ))
            }
        }
    }
    // The lock syncs of these servers take turns on (`crate::server_lock`,
    // beside the default snapshot), when no sync holds it.
    let servers_lock = with_suffix(path, ".sync.lock");
    if let Ok(file) = std::fs::File::open(&servers_lock) {
        if FileExt::try_lock_exclusive(&file).unwrap_or(false)
            && std::fs::remove_file(&servers_lock).is_ok()
        {
            removed.push(servers_lock);
        }
    }
    // The lock file goes last, while still held.
    let lock_file = lock_path(path);
    if std::fs::remove_file(&lock_file).is_ok() {
        removed.push(lock_file);
    }
    drop(lock);
    Ok(removed)
}

/// Whether another process holds the run lock. Tests with a shared lock,
/// released at once; a missing lock file means nobody holds it.
pub fn is_locked(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(lock_path(path)) else {
        return false;
    };
    match FileExt::try_lock_shared(&file) {
        Ok(true) => {
            let _ = FileExt::unlock(&file);
            false
        }
        Ok(false) => true,
        Err(_) => false,
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub(super) fn open_read_only(path: &Path) -> Result<Connection, SnapshotError> {
    if !path.is_file() {
        return Err(SnapshotError::io(
            path,
            "opening it",
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ctx(path, || "opening the database read-only".into())?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx(path, || "reading the schema version".into())?;
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .ctx(path, || "reading the application id".into())?;
    if app != APPLICATION_ID || version < 1 {
        return Err(SnapshotError::corrupt(path, "not an imapmend snapshot"));
    }
    if version > SCHEMA_VERSION {
        return Err(SnapshotError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(conn)
}

fn read_endpoints(conn: &Connection, path: &Path) -> Result<[EndpointIdentity; 2], SnapshotError> {
    conn.query_row(
        "SELECT a_scheme, a_host, a_port, a_user, b_scheme, b_host, b_port, b_user
         FROM meta WHERE id = 1",
        [],
        |r| {
            let side = |i: usize| -> rusqlite::Result<EndpointIdentity> {
                Ok(EndpointIdentity {
                    scheme: r.get(i)?,
                    host: r.get(i + 1)?,
                    port: r.get(i + 2)?,
                    user: r.get(i + 3)?,
                })
            };
            Ok([side(0)?, side(4)?])
        },
    )
    .map_err(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => {
            SnapshotError::corrupt(path, "the meta row is missing")
        }
        e => SnapshotError::sqlite(path, "reading the endpoints", e),
    })
}

fn mailboxes(conn: &Connection) -> rusqlite::Result<Vec<MailboxSummary>> {
    let mut stmt = conn.prepare(
        "SELECT id, name,
                a_wire_name, a_uidvalidity, a_uidnext, a_highestmodseq,
                b_wire_name, b_uidvalidity, b_uidnext, b_highestmodseq,
                (SELECT count(*) FROM pair WHERE pair.mailbox = mailbox.id),
                (SELECT count(*) FROM pair WHERE pair.mailbox = mailbox.id AND flags IS NOT NULL)
         FROM mailbox ORDER BY name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            let side = |at: usize| -> rusqlite::Result<Option<SideSummary>> {
                let wire: Option<String> = r.get(at)?;
                let uidvalidity: Option<u32> = r.get(at + 1)?;
                let uidnext: Option<u32> = r.get(at + 2)?;
                let modseq: Option<i64> = r.get(at + 3)?;
                Ok(match (wire, uidvalidity, uidnext) {
                    (Some(wire_name), Some(uidvalidity), Some(uidnext)) => Some(SideSummary {
                        wire_name,
                        uidvalidity,
                        uidnext,
                        highestmodseq: modseq.map(modseq_from_sql),
                    }),
                    _ => None,
                })
            };
            Ok((
                r.get::<_, i64>(0)?,
                MailboxSummary {
                    name: r.get(1)?,
                    sides: [side(2)?, side(6)?],
                    pairs: r.get(10)?,
                    pairs_with_agreed_flags: r.get(11)?,
                    cached: [CacheSummary::default(); 2],
                    divergences: [BTreeMap::new(), BTreeMap::new()],
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let mut cache = conn.prepare(
        "SELECT side, uidvalidity, count(*), coalesce(sum(size), 0) FROM message
         WHERE mailbox = ?1 GROUP BY side, uidvalidity",
    )?;
    let mut statuses = conn.prepare(
        "SELECT side, status, count(*) FROM message
         WHERE mailbox = ?1 AND status IS NOT NULL AND status != 'paired'
         GROUP BY side, status",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, mut mb) in rows {
        let groups = cache
            .query_map([id], |r| {
                Ok((
                    side_from_text(0, &r.get::<_, String>(0)?)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, u64>(2)?,
                    r.get::<_, u64>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (side, uidvalidity, messages, bytes) in groups {
            // Rows of an older UIDVALIDITY are history, not the cache in use.
            let current = mb.sides[side.index()]
                .as_ref()
                .is_none_or(|s| s.uidvalidity == uidvalidity);
            if current {
                let c = &mut mb.cached[side.index()];
                c.messages += messages;
                c.bytes += bytes;
            }
        }
        let counted = statuses
            .query_map([id], |r| {
                Ok((
                    side_from_text(0, &r.get::<_, String>(0)?)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (side, status, n) in counted {
            *mb.divergences[side.index()].entry(status).or_default() += n;
        }
        out.push(mb);
    }
    Ok(out)
}

fn intents(conn: &Connection) -> rusqlite::Result<Vec<IntentSummary>> {
    let mut stmt = conn.prepare(
        "SELECT mailbox.name, intent.target, intent.created_at,
                (SELECT count(*) FROM intent_item WHERE intent_item.intent = intent.id),
                (SELECT coalesce(sum(size), 0) FROM intent_item WHERE intent_item.intent = intent.id)
         FROM intent JOIN mailbox ON mailbox.id = intent.mailbox ORDER BY intent.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(IntentSummary {
            mailbox: r.get(0)?,
            target: side_from_text(1, &r.get::<_, String>(1)?)?,
            created_at: r.get(2)?,
            messages: r.get(3)?,
            bytes: r.get(4)?,
        })
    })?;
    rows.collect()
}
