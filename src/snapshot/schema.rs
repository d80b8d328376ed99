//! The on-disk base schema, version 1 as first released, and the value
//! encodings shared by the readers and writers.
//!
//! The tables are complete from the first release: behaviour that arrives
//! later adds code, and at most columns or indexes, each in a numbered
//! migration (`migrations`). A new file is made from [`BASE_DDL`] and then
//! every migration, exactly as an old file is upgraded, so the two can never
//! differ. A file of a version this build does not know is refused, so an
//! older build never rewrites what it would misread.
//!
//! Everything per side is stored in the orientation the file was created
//! with; mirroring for a swapped run happens in `Orientation`, never here.

use crate::model::{Fingerprint, FlagSet, Side};
use rusqlite::types::Type;

/// `PRAGMA application_id`: marks the file as an imapmend snapshot ("IMMD"),
/// so a random SQLite file given as --state is recognised as foreign.
pub const APPLICATION_ID: i64 = 0x494D_4D44;

/// Version 1, as the first release wrote it: never edit it (files of every
/// version were made from it); a change is a migration. The columns added
/// since are documented where they were added, in `migrations`.
/// Conventions:
/// - `side` is 'A' or 'B' as recorded when the file was created.
/// - Fingerprints are 32-byte BLOBs.
/// - UIDs, UIDVALIDITY, UIDNEXT and sizes are u32 and fit INTEGER as is;
///   HIGHESTMODSEQ is a u64 stored bit-cast into INTEGER (values ≥ 2^63 read
///   as negative in SQL — never compare them in SQL, only in Rust).
/// - Flags are space-joined wire spellings (keywords keep their case).
/// - Times are Unix seconds.
pub const BASE_DDL: &str = r#"CREATE TABLE meta (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version  INTEGER NOT NULL,
    a_scheme        TEXT NOT NULL,
    a_host          TEXT NOT NULL,
    a_port          INTEGER NOT NULL,
    a_user          TEXT NOT NULL,
    b_scheme        TEXT NOT NULL,
    b_host          TEXT NOT NULL,
    b_port          INTEGER NOT NULL,
    b_user          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- One row per logical mailbox; a side's columns are NULL where that side
-- has never been synced (or no longer has the mailbox).
CREATE TABLE mailbox (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    a_wire_name      TEXT,
    a_uidvalidity    INTEGER,
    a_uidnext        INTEGER,
    a_highestmodseq  INTEGER,
    b_wire_name      TEXT,
    b_uidvalidity    INTEGER,
    b_uidnext        INTEGER,
    b_highestmodseq  INTEGER
);

-- The fingerprint cache and per-message status, per side and UID.
CREATE TABLE message (
    mailbox                 INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    side                    TEXT NOT NULL CHECK (side IN ('A', 'B')),
    uidvalidity             INTEGER NOT NULL,
    uid                     INTEGER NOT NULL,
    size                    INTEGER NOT NULL,
    internal_date           INTEGER NOT NULL,
    internal_date_offset    INTEGER NOT NULL, -- minutes east of UTC
    fingerprint             BLOB NOT NULL CHECK (length(fingerprint) = 32),
    normalised_fingerprint  BLOB CHECK (length(normalised_fingerprint) = 32),
    -- 0: the fingerprint is the copy source's, the body was not read back
    fingerprint_read_back   INTEGER NOT NULL DEFAULT 1,
    flags                   TEXT NOT NULL,
    status                  TEXT CHECK (status IN
        ('paired', 'pending-expunge', 'refused', 'skipped', 'unstorable-flags')),
    status_reason           TEXT,
    PRIMARY KEY (mailbox, side, uidvalidity, uid)
);
CREATE INDEX message_by_fingerprint ON message (fingerprint);

-- Pairs of the mailbox's current UIDVALIDITYs; flags NULL until agreed.
CREATE TABLE pair (
    mailbox      INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    uid_a        INTEGER NOT NULL,
    uid_b        INTEGER NOT NULL,
    fingerprint  BLOB NOT NULL CHECK (length(fingerprint) = 32),
    flags        TEXT,
    PRIMARY KEY (mailbox, uid_a),
    UNIQUE (mailbox, uid_b)
);

-- Committed before a batch of copies, deleted when its pairs are checkpointed.
CREATE TABLE intent (
    id           INTEGER PRIMARY KEY,
    mailbox      INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    target       TEXT NOT NULL CHECK (target IN ('A', 'B')),
    uidvalidity  INTEGER NOT NULL,
    uidnext      INTEGER NOT NULL, -- the target's UIDNEXT before the batch
    created_at   INTEGER NOT NULL
);
CREATE TABLE intent_item (
    intent       INTEGER NOT NULL REFERENCES intent(id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL, -- append order within the batch
    fingerprint  BLOB NOT NULL CHECK (length(fingerprint) = 32),
    size         INTEGER,          -- the source's size, where known
    PRIMARY KEY (intent, seq)
);

-- Messages whose expunge was proven and propagated.
CREATE TABLE tombstone (
    fingerprint  BLOB NOT NULL CHECK (length(fingerprint) = 32),
    mailbox      INTEGER REFERENCES mailbox(id) ON DELETE SET NULL,
    expunged_at  INTEGER NOT NULL
);
CREATE INDEX tombstone_by_fingerprint ON tombstone (fingerprint);

-- Subscriptions by logical name; NULL where unknown.
CREATE TABLE subscription (
    name          TEXT PRIMARY KEY,
    a_subscribed  INTEGER,
    b_subscribed  INTEGER,
    agreed        INTEGER
);

-- Keywords a side cannot store in a mailbox (outside PERMANENTFLAGS).
CREATE TABLE unstorable_keyword (
    mailbox  INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    side     TEXT NOT NULL CHECK (side IN ('A', 'B')),
    keyword  TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (mailbox, side, keyword)
);
"#;

/// The `side`/`target` column value for a side in stored orientation.
pub fn side_text(stored: Side) -> &'static str {
    match stored {
        Side::A => "A",
        Side::B => "B",
    }
}

/// The column prefix of a side's per-side columns (`a_uidnext`).
pub fn side_prefix(stored: Side) -> &'static str {
    match stored {
        Side::A => "a",
        Side::B => "b",
    }
}

pub fn side_from_text(idx: usize, text: &str) -> rusqlite::Result<Side> {
    match text {
        "A" => Ok(Side::A),
        "B" => Ok(Side::B),
        other => Err(conversion(idx, Type::Text, format!("side {other:?}"))),
    }
}

pub fn fingerprint_from_blob(idx: usize, blob: &[u8]) -> rusqlite::Result<Fingerprint> {
    <[u8; 32]>::try_from(blob).map(Fingerprint).map_err(|_| {
        conversion(
            idx,
            Type::Blob,
            format!("fingerprint of {} bytes", blob.len()),
        )
    })
}

pub fn flags_from_text(text: &str) -> FlagSet {
    FlagSet::from_wire(text.split(' ').filter(|f| !f.is_empty()))
}

/// HIGHESTMODSEQ is a u64; SQLite INTEGER is an i64. The bit cast is exact
/// both ways, including for values ≥ 2^63.
pub fn modseq_to_sql(modseq: u64) -> i64 {
    modseq as i64
}

pub fn modseq_from_sql(stored: i64) -> u64 {
    stored as u64
}

fn conversion(idx: usize, ty: Type, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, what.into())
}
