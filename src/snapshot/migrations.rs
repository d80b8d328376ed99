//! The snapshot's schema upgrades: numbered migrations from the first
//! release's schema (`schema::BASE_DDL`, version 1) to this build's.
//!
//! A new file is the base schema with every migration applied, and an older
//! file gets the migrations it lacks, in order, in one transaction with its
//! version bump (a failure leaves the file as it was), so a new file and an
//! upgraded one are the same schema. A file of a higher version than
//! [`SCHEMA_VERSION`] is refused by `store` and `inspect`, never misread.
//!
//! Adding a migration is one entry at the end of [`MIGRATIONS`] (the next
//! version, what it adds, the function that does it) and a dump of a file
//! of the version before it in `fixtures/snapshots/` (see
//! docs/ARCHITECTURE.md, "Changing the snapshot's schema"); the upgrade
//! tests then run it from every earlier version.

use rusqlite::Connection;

/// One schema upgrade: what turns a file of version `version - 1` into one
/// of `version`.
pub struct Migration {
    /// The version a file has once this migration ran.
    pub version: i64,
    /// What it adds and why, in a few words (for errors and `verify`).
    pub summary: &'static str,
    /// Runs inside the upgrade's transaction. A column added must read as
    /// the old behaviour where NULL (or its default), since older rows have
    /// nothing else.
    pub apply: fn(&Connection) -> rusqlite::Result<()>,
}

/// Every migration, in version order from 2; the last one's version is the
/// schema version this build writes.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2,
        summary: "seen watermarks, PERMANENTFLAGS, receipts and identity levels",
        apply: to_2,
    },
    Migration {
        version: 3,
        summary: "scrub: when each body was last verified, and what scrubs found",
        apply: to_3,
    },
    Migration {
        version: 4,
        summary: "the snapshot as an index: settled marks, indexes per mailbox",
        apply: to_4,
    },
    Migration {
        version: 5,
        summary: "no index of the cache by fingerprint (no query needs it)",
        apply: to_5,
    },
];

/// The version written to `PRAGMA user_version` (and `meta.schema_version`);
/// a file with a higher one is refused rather than misread.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Brings a file of version `from` up to the last version of `migrations`:
/// each migration it lacks, in order, each followed by its version. The
/// caller holds one transaction around it.
pub fn upgrade(
    conn: &Connection,
    from: i64,
    migrations: &[Migration],
) -> Result<(), (i64, rusqlite::Error)> {
    for m in migrations.iter().filter(|m| m.version > from) {
        (m.apply)(conn)
            .and_then(|()| conn.pragma_update(None, "user_version", m.version))
            .and_then(|()| {
                conn.execute("UPDATE meta SET schema_version = ?1", [m.version])
                    .map(|_| ())
            })
            .map_err(|e| (m.version, e))?;
    }
    Ok(())
}

/// The migration that makes `version`, for messages.
pub fn summary(version: i64) -> &'static str {
    MIGRATIONS
        .iter()
        .find(|m| m.version == version)
        .map_or("", |m| m.summary)
}

/// Adds a column unless the table has it already.
pub fn add_column(
    conn: &Connection,
    table: &str,
    column: &str,
    declaration: &str,
) -> rusqlite::Result<()> {
    let present: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get(0),
    )?;
    if !present {
        conn.execute_batch(&format!(
            "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
        ))?;
    }
    Ok(())
}

/// Version 2. Files that say version 1 come in several shapes: builds
/// before version 2 added the first seven of these columns to version-1
/// files as they opened them, without a version bump. So each column is
/// added only where missing.
///
/// - `mailbox.{a,b}_seen_uidnext`, `_seen_highestmodseq`: the highest
///   UIDNEXT / HIGHESTMODSEQ ever seen, our own writes included: a server
///   that shows less was restored (never the history watermark). NULL: not
///   known.
/// - `mailbox.{a,b}_permanent_flags`: PERMANENTFLAGS of the last SELECT,
///   space-joined ('' for none), NULL when the server sent none (`plan`
///   and `check` open with EXAMINE, whose answer says nothing about what a
///   sync may store).
/// - `pair.unconfirmed`: the side whose UID an APPENDUID named and no
///   listing has shown since (a receipt not yet confirmed: it proves no
///   expunge). NULL, confirmed, in an older file: its pairs were matched by
///   content or were receipts of runs before the marker existed, which
///   proved expunges then; treating them as unconfirmed would copy back
///   every message deleted since.
/// - The identity levels (issue 15): `message.normalised_version`, the
///   rules' version (`fingerprint::NORMALISATION_VERSION`) a normalised
///   fingerprint was made by (NULL or another version: not known);
///   `pair.level`, 'normalised' or 'headers' (NULL: exact, as every pair
///   of a version-1 file was made); `pair.fingerprint_b`, B's content
///   where it differs from A's (`fingerprint`; NULL: the same);
///   `tombstone.normalised_fingerprint`, where known.
fn to_2(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, declaration) in [
        ("mailbox", "a_seen_uidnext", "INTEGER"),
        ("mailbox", "a_seen_highestmodseq", "INTEGER"),
        ("mailbox", "b_seen_uidnext", "INTEGER"),
        ("mailbox", "b_seen_highestmodseq", "INTEGER"),
        ("mailbox", "a_permanent_flags", "TEXT"),
        ("mailbox", "b_permanent_flags", "TEXT"),
        (
            "pair",
            "unconfirmed",
            "TEXT CHECK (unconfirmed IN ('A', 'B'))",
        ),
        ("message", "normalised_version", "INTEGER"),
        ("pair", "level", "TEXT"),
        ("pair", "fingerprint_b", "BLOB"),
        ("tombstone", "normalised_fingerprint", "BLOB"),
    ] {
        add_column(conn, table, column, declaration)?;
    }
    Ok(())
}

/// Version 3, the scrub (issue 22): `message.verified_at`, when a scrub last
/// read the body and found it as recorded (Unix seconds; NULL: never, which
/// the scrub reads as oldest), and the table `scrub_finding` with its index
/// (`scrub.sql`), which the mass-deletion guard counts across runs.
fn to_3(conn: &Connection) -> rusqlite::Result<()> {
    add_column(conn, "message", "verified_at", "INTEGER")?;
    conn.execute_batch(include_str!("scrub.sql"))
}

/// Version 4, the snapshot as an index (issue 18): a run reads per
/// mailbox only what its decision needs.
///
/// - `mailbox.{a,b}_settled`: "UIDVALIDITY UIDNEXT HIGHESTMODSEQ MESSAGES"
///   of the side when a sync last found the mailbox settled (both sides
///   listed, every message paired, flags agreed, nothing to do, nothing
///   recorded against a message). While LIST-STATUS shows both sides at
///   these values (and at the saved watermarks), the next run reads none
///   of its messages. NULL: not known settled, read as before.
/// - `tombstone_by_mailbox` and `message_with_status` (partial): the
///   per-mailbox tombstone read and the read of earlier refusals are
///   index look-ups, not scans of tables as large as the mail.
fn to_4(conn: &Connection) -> rusqlite::Result<()> {
    add_column(conn, "mailbox", "a_settled", "TEXT")?;
    add_column(conn, "mailbox", "b_settled", "TEXT")?;
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS tombstone_by_mailbox ON tombstone (mailbox);
         CREATE INDEX IF NOT EXISTS message_with_status ON message (status)
             WHERE status IS NOT NULL;",
    )
}

/// Version 5, the full paths' writes (issue 18): the index
/// `message_by_fingerprint` is dropped. No run's query reads the cache by
/// fingerprint (content is matched in memory, the subset reads rows by
/// UID), yet every cache row written put a random key into it: at 300,000
/// messages a first sync's or a repair's rows spent most of their write
/// time there, rewriting pages of that index into the WAL.
fn to_5(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("DROP INDEX IF EXISTS message_by_fingerprint;")
}
