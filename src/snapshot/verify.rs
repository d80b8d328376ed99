//! `imapmend snapshot verify`: is the file sound? SQLite's own integrity
//! and foreign-key checks, then the invariants the schema itself cannot
//! state: every pair has its cache rows, levels are ones this build knows,
//! watermarks are whole and sane, fingerprints are 32 bytes.
//!
//! Read-only, like `inspect`, and without the run lock. A file of an older
//! version is checked as the next run would see it: copied (`VACUUM INTO`,
//! a consistent copy even while a run writes), the copy upgraded, the
//! invariants checked on the copy, the copy removed; the file itself is
//! never changed. It decides nothing about mail.

use super::error::{SnapshotError, SqlContext};
use super::inspect::open_read_only;
use super::migrations::{self, MIGRATIONS, SCHEMA_VERSION};
use super::schema::modseq_from_sql;
use rusqlite::Connection;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub path: PathBuf,
    /// The file's version.
    pub schema_version: i64,
    /// The invariants were checked on an upgraded copy (an older file).
    pub checked_upgraded_copy: bool,
    /// Every check, in order, with what it found.
    pub checks: Vec<Check>,
}

/// One check and what broke it (empty: it holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    /// How many rows break it.
    pub violations: u64,
    /// A few of them, as text.
    pub examples: Vec<String>,
}

impl Verdict {
    pub fn sound(&self) -> bool {
        self.checks.iter().all(|c| c.violations == 0)
    }
}

/// How many violations of one check are shown.
const EXAMPLES: usize = 5;

/// A schema invariant as a query: every row it returns breaks it, as one
/// line of text.
struct Invariant {
    name: &'static str,
    query: &'static str,
}

/// For each side (`{p}` the column prefix, `{s}` the side's letter).
const PER_SIDE: &[Invariant] = &[
    Invariant {
        name: "a side's watermarks are all recorded or all absent",
        query: "SELECT name || ' on {s}' FROM mailbox
                WHERE NOT (({p}_wire_name IS NULL) = ({p}_uidvalidity IS NULL)
                       AND ({p}_uidvalidity IS NULL) = ({p}_uidnext IS NULL))",
    },
    Invariant {
        name: "UIDVALIDITY and UIDNEXT are 32-bit and positive",
        query: "SELECT name || ' on {s}: UIDVALIDITY ' || {p}_uidvalidity || ', UIDNEXT ' || {p}_uidnext
                FROM mailbox WHERE {p}_uidvalidity IS NOT NULL
                AND ({p}_uidvalidity NOT BETWEEN 1 AND 4294967295
                     OR {p}_uidnext NOT BETWEEN 1 AND 4294967295
                     OR {p}_seen_uidnext NOT BETWEEN 1 AND 4294967295)",
    },
    Invariant {
        name: "the highest UIDNEXT seen is not below the saved UIDNEXT",
        query: "SELECT name || ' on {s}: seen ' || {p}_seen_uidnext || ' < saved ' || {p}_uidnext
                FROM mailbox WHERE {p}_seen_uidnext < {p}_uidnext",
    },
    Invariant {
        name: "a settled mark is four numbers, under the side's UIDVALIDITY",
        query: "SELECT name || ' on {s}: settled ' || quote({p}_settled) FROM mailbox
                WHERE {p}_settled IS NOT NULL
                AND ({p}_settled NOT GLOB '[0-9]* [0-9]* [0-9]* [0-9]*'
                     OR ({p}_uidvalidity IS NOT NULL
                         AND {p}_settled NOT LIKE {p}_uidvalidity || ' %'))",
    },
    Invariant {
        name: "every pair has its cache row",
        query: "SELECT mailbox.name || ' on {s}: UID ' || pair.uid_{p}
                FROM pair JOIN mailbox ON mailbox.id = pair.mailbox
                WHERE mailbox.{p}_uidvalidity IS NULL OR NOT EXISTS (
                    SELECT 1 FROM message WHERE message.mailbox = pair.mailbox
                    AND message.side = '{s}' AND message.uidvalidity = mailbox.{p}_uidvalidity
                    AND message.uid = pair.uid_{p})",
    },
];

/// Once.
const WHOLE: &[Invariant] = &[
    Invariant {
        name: "one meta row, of the file's version",
        query: "SELECT 'meta rows: ' || count(*) || ', versions ' || group_concat(schema_version)
                FROM meta HAVING count(*) != 1 OR max(schema_version) != (SELECT user_version FROM pragma_user_version)",
    },
    Invariant {
        name: "pair levels are exact, normalised or headers",
        query: "SELECT mailbox.name || ': pair ' || uid_a || '/' || uid_b || ' level ' || quote(level)
                FROM pair JOIN mailbox ON mailbox.id = pair.mailbox
                WHERE level IS NOT NULL AND level NOT IN ('exact', 'normalised', 'headers')",
    },
    Invariant {
        name: "fingerprints are 32 bytes",
        query: "SELECT 'pair ' || uid_a || '/' || uid_b FROM pair
                WHERE fingerprint_b IS NOT NULL AND (typeof(fingerprint_b) != 'blob' OR length(fingerprint_b) != 32)
                UNION ALL
                SELECT 'tombstone ' || rowid FROM tombstone
                WHERE normalised_fingerprint IS NOT NULL
                  AND (typeof(normalised_fingerprint) != 'blob' OR length(normalised_fingerprint) != 32)",
    },
    Invariant {
        name: "cached UIDs and sizes are 32-bit, UIDs positive",
        query: "SELECT mailbox.name || ' on ' || side || ': UID ' || uid FROM message
                JOIN mailbox ON mailbox.id = message.mailbox
                WHERE uid NOT BETWEEN 1 AND 4294967295 OR uidvalidity NOT BETWEEN 1 AND 4294967295
                   OR size NOT BETWEEN 0 AND 4294967295",
    },
];

/// Checks the snapshot at `path`. Refuses (as an error) what is not an
/// imapmend snapshot, or one of a newer version; a file SQLite cannot read
/// at all is a finding of its integrity check where SQLite gets that far.
pub fn verify(path: &Path) -> Result<Verdict, SnapshotError> {
    let conn = open_read_only(path)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx(path, || "reading the schema version".into())?;
    let mut checks = vec![
        pragma_check(
            &conn,
            path,
            "SQLite integrity check",
            "PRAGMA integrity_check",
        )?,
        pragma_check(&conn, path, "foreign keys", "PRAGMA foreign_key_check")?,
    ];
    let upgraded = if version < SCHEMA_VERSION {
        Some(UpgradedCopy::make(&conn, path, version)?)
    } else {
        None
    };
    let on = upgraded.as_ref().map_or(&conn, |u| &u.conn);
    checks.extend(invariants(on).ctx(path, || "checking the invariants".into())?);
    checks.push(modseqs(on).ctx(path, || "checking the watermarks".into())?);
    Ok(Verdict {
        path: path.to_path_buf(),
        schema_version: version,
        checked_upgraded_copy: upgraded.is_some(),
        checks,
    })
}

/// A pragma whose rows are problems; `integrity_check` says "ok" when none.
fn pragma_check(
    conn: &Connection,
    path: &Path,
    name: &'static str,
    pragma: &str,
) -> Result<Check, SnapshotError> {
    let mut stmt = conn.prepare(pragma).ctx(path, || name.into())?;
    let column_count = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..column_count)
                .map(|i| {
                    r.get::<_, rusqlite::types::Value>(i)
                        .map(|v| format!("{v:?}"))
                })
                .collect::<rusqlite::Result<Vec<_>>>()
                .map(|v| v.join(" "))
        })
        .ctx(path, || name.into())?
        .collect::<rusqlite::Result<Vec<String>>>()
        .ctx(path, || name.into())?;
    let problems: Vec<String> = rows.into_iter().filter(|r| r != "Text(\"ok\")").collect();
    Ok(Check {
        name,
        violations: problems.len() as u64,
        examples: problems.into_iter().take(EXAMPLES).collect(),
    })
}

fn invariants(conn: &Connection) -> rusqlite::Result<Vec<Check>> {
    let mut checks: Vec<Check> = Vec::new();
    for inv in PER_SIDE {
        let mut check = Check {
            name: inv.name,
            violations: 0,
            examples: Vec::new(),
        };
        for (p, s) in [("a", "A"), ("b", "B")] {
            let found = violations(conn, &inv.query.replace("{p}", p).replace("{s}", s))?;
            check.violations += found.violations;
            check.examples.extend(found.examples);
        }
        check.examples.truncate(EXAMPLES);
        checks.push(check);
    }
    for inv in WHOLE {
        let found = violations(conn, inv.query)?;
        checks.push(Check {
            name: inv.name,
            ..found
        });
    }
    Ok(checks)
}

fn violations(conn: &Connection, query: &str) -> rusqlite::Result<Check> {
    let mut stmt = conn.prepare(query)?;
    let mut rows = stmt.query([])?;
    let mut check = Check {
        name: "",
        violations: 0,
        examples: Vec::new(),
    };
    while let Some(row) = rows.next()? {
        check.violations += 1;
        if check.examples.len() < EXAMPLES {
            check
                .examples
                .push(row.get::<_, Option<String>>(0)?.unwrap_or_default());
        }
    }
    Ok(check)
}

/// The highest HIGHESTMODSEQ seen is not below the saved one: compared as
/// u64 here, since they are stored bit-cast (never compared in SQL).
fn modseqs(conn: &Connection) -> rusqlite::Result<Check> {
    let mut check = Check {
        name: "the highest HIGHESTMODSEQ seen is not below the saved one",
        violations: 0,
        examples: Vec::new(),
    };
    for (p, s) in [("a", "A"), ("b", "B")] {
        let mut stmt = conn.prepare(&format!(
            "SELECT name, {p}_highestmodseq, {p}_seen_highestmodseq FROM mailbox
             WHERE {p}_highestmodseq IS NOT NULL AND {p}_seen_highestmodseq IS NOT NULL"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let saved = modseq_from_sql(row.get(1)?);
            let seen = modseq_from_sql(row.get(2)?);
            if seen < saved {
                check.violations += 1;
                if check.examples.len() < EXAMPLES {
                    let name: String = row.get(0)?;
                    check
                        .examples
                        .push(format!("{name} on {s}: seen {seen} < saved {saved}"));
                }
            }
        }
    }
    Ok(check)
}

/// An older file's consistent copy, upgraded as the next run would, in a
/// private temporary file removed when dropped.
struct UpgradedCopy {
    conn: Connection,
    file: PathBuf,
}

impl UpgradedCopy {
    fn make(conn: &Connection, path: &Path, version: i64) -> Result<UpgradedCopy, SnapshotError> {
        let file = std::env::temp_dir().join(format!(
            "imapmend-verify-{}-{}.sqlite",
            std::process::id(),
            super::now()
        ));
        // Empty and private before SQLite fills it: it names servers and users.
        private_empty_file(&file)
            .map_err(|e| SnapshotError::io(path, format!("creating {}", file.display()), e))?;
        conn.execute("VACUUM INTO ?1", [file.to_string_lossy()])
            .ctx(path, || format!("copying it to {}", file.display()))?;
        let copy = Connection::open(&file).ctx(path, || "opening the copy".into());
        let copy = UpgradedCopy { conn: copy?, file };
        let tx = copy
            .conn
            .unchecked_transaction()
            .ctx(path, || "upgrading the copy".into())?;
        migrations::upgrade(&tx, version, MIGRATIONS).map_err(|(v, e)| {
            SnapshotError::sqlite(path, format!("upgrading a copy to version {v}"), e)
        })?;
        tx.commit().ctx(path, || "upgrading the copy".into())?;
        Ok(copy)
    }
}

impl Drop for UpgradedCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

#[cfg(unix)]
fn private_empty_file(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map(drop)
}

#[cfg(not(unix))]
fn private_empty_file(file: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map(drop)
}
