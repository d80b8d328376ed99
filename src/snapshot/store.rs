//! Opening a snapshot: parent directories, mode 0600, the OS lock, SQLite
//! settings for durability, the schema version and the endpoint identity.
//!
//! The lock is `flock(2)` on a sidecar `<path>.lock`, taken before SQLite
//! touches the database: the kernel releases it when the process dies, so a
//! rerun after a crash is never refused, and every `open` uses its own file
//! description, so two opens in one process conflict too. Rust opens files
//! close-on-exec, so a tunnel command spawned later does not inherit it.

use super::error::{SnapshotError, SqlContext};
use super::migrations::{self, MIGRATIONS, SCHEMA_VERSION};
use super::schema::{APPLICATION_ID, BASE_DDL};
use super::EndpointIdentity;
use crate::model::Side;
use fs4::fs_std::FileExt;
use rusqlite::{params, Connection};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// How the file's sides relate to this run's: the file may have been made
/// with A and B the other way round. Mirroring is an involution, so the same
/// calls map the run's view to the file's and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation {
    pub swapped: bool,
}

impl Orientation {
    /// The file's side for a run's side, and the run's side for a file's.
    pub fn side(self, side: Side) -> Side {
        if self.swapped {
            side.other()
        } else {
            side
        }
    }

    /// A per-side array in the file's order from the run's order, and back.
    pub fn pair<T>(self, [a, b]: [T; 2]) -> [T; 2] {
        if self.swapped {
            [b, a]
        } else {
            [a, b]
        }
    }
}

/// An open connection, its lock and its orientation.
pub struct Opened {
    pub conn: Connection,
    pub orientation: Orientation,
    pub lock: File,
}

/// See `Snapshot::open`.
pub fn open(path: &Path, endpoints: [&EndpointIdentity; 2]) -> Result<Opened, SnapshotError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dirs(parent).map_err(|e| {
            SnapshotError::io(path, format!("creating directory {}", parent.display()), e)
        })?;
    }
    let lock = take_lock(path)?;
    create_private_file(path)?;
    let conn = Connection::open(path).ctx(path, || "opening the database".into())?;
    let orientation = prepare(&conn, path, endpoints)?;
    Ok(Opened {
        conn,
        orientation,
        lock,
    })
}

pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

pub(super) fn take_lock(path: &Path) -> Result<File, SnapshotError> {
    let lock_path = lock_path(path);
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| {
            SnapshotError::io(
                path,
                format!("opening lock file {}", lock_path.display()),
                e,
            )
        })?;
    match file.try_lock_exclusive() {
        Ok(true) => Ok(file),
        Ok(false) => Err(SnapshotError::Locked {
            path: path.to_path_buf(),
            lock: lock_path,
        }),
        Err(e) => Err(SnapshotError::io(
            path,
            format!("locking {}", lock_path.display()),
            e,
        )),
    }
}

/// Creates the database file empty with mode 0600 before SQLite writes
/// anything, and tightens an existing file (and its journals) that is
/// readable by others: the snapshot names servers, users and mailboxes.
/// SQLite creates its -wal and -shm files with the database file's mode.
fn create_private_file(path: &Path) -> Result<(), SnapshotError> {
    private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| SnapshotError::io(path, "creating the database file", e))?;
    for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        tighten(Path::new(&name))
            .map_err(|e| SnapshotError::io(path, format!("making {:?} private", name), e))?;
    }
    Ok(())
}

#[cfg(unix)]
fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

#[cfg(not(unix))]
fn private_options() -> OpenOptions {
    OpenOptions::new()
}

#[cfg(unix)]
fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Sets mode 0600 on a file others may read or write (or that the umask
/// left unwritable to us); a missing file is fine.
#[cfg(unix)]
fn tighten(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & 0o777 != 0o600 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn tighten(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Checks the version and that the file is ours (before writing anything,
/// so a newer or foreign file is left untouched), creates the schema in a new file, sets durability, and
/// checks whose snapshot this is.
fn prepare(
    conn: &Connection,
    path: &Path,
    endpoints: [&EndpointIdentity; 2],
) -> Result<Orientation, SnapshotError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx(path, || "reading the schema version".into())?;
    if version > SCHEMA_VERSION {
        return Err(SnapshotError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 0 {
        return Err(SnapshotError::corrupt(
            path,
            format!("schema version {version}"),
        ));
    }
    if version == 0 {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .ctx(path, || "inspecting the file".into())?;
        if tables != 0 {
            return Err(SnapshotError::corrupt(
                path,
                "it is a SQLite database without an imapmend schema version",
            ));
        }
    } else {
        let app: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .ctx(path, || "reading the application id".into())?;
        if app != APPLICATION_ID {
            return Err(SnapshotError::corrupt(
                path,
                "not an imapmend snapshot (foreign application id)",
            ));
        }
    }
    // WAL with FULL: a commit that returned is on disk, surviving SIGKILL
    // and power loss alike; the cost is one fsync per checkpoint. Where WAL
    // is unavailable (some network file systems) SQLite keeps its rollback
    // journal, which FULL makes just as durable.
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .ctx(path, || "choosing the journal mode".into())?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .ctx(path, || "setting durability".into())?;

    if version == 0 {
        create(conn, path, endpoints)?;
        return Ok(Orientation { swapped: false });
    }
    if version < SCHEMA_VERSION {
        upgrade(conn, path, version)?;
    }
    let found = recorded_endpoints(conn, path)?;
    let given = endpoints.map(normalised);
    if found == given {
        Ok(Orientation { swapped: false })
    } else if found[0] == given[1] && found[1] == given[0] {
        Ok(Orientation { swapped: true })
    } else {
        Err(SnapshotError::OtherEndpoints {
            path: path.to_path_buf(),
            expected: Box::new(given),
            found: Box::new(found),
        })
    }
}

/// Brings an older file up to [`SCHEMA_VERSION`] in one transaction: the
/// migrations it lacks, each with its version; a failure leaves the file
/// as it was.
fn upgrade(conn: &Connection, path: &Path, from: i64) -> Result<(), SnapshotError> {
    let tx = conn
        .unchecked_transaction()
        .ctx(path, || "upgrading the schema".into())?;
    migrations::upgrade(&tx, from, MIGRATIONS).map_err(|(version, e)| {
        SnapshotError::sqlite(
            path,
            format!(
                "upgrading the schema from version {from} to {version} ({})",
                migrations::summary(version)
            ),
            e,
        )
    })?;
    tx.commit().ctx(path, || "upgrading the schema".into())
}

/// Identities compare with the host case-folded, whoever built them.
fn normalised(id: &EndpointIdentity) -> EndpointIdentity {
    EndpointIdentity {
        scheme: id.scheme.to_ascii_lowercase(),
        host: id.host.to_ascii_lowercase(),
        port: id.port,
        user: id.user.clone(),
    }
}

fn create(
    conn: &Connection,
    path: &Path,
    endpoints: [&EndpointIdentity; 2],
) -> Result<(), SnapshotError> {
    let [a, b] = endpoints.map(normalised);
    let now = super::now();
    let tx = conn
        .unchecked_transaction()
        .ctx(path, || "creating the schema".into())?;
    tx.execute_batch(BASE_DDL)
        .ctx(path, || "creating the schema".into())?;
    tx.execute(
        "INSERT INTO meta (id, schema_version, a_scheme, a_host, a_port, a_user,
                           b_scheme, b_host, b_port, b_user, created_at, updated_at)
         VALUES (1, 1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        params![a.scheme, a.host, a.port, a.user, b.scheme, b.host, b.port, b.user, now],
    )
    .ctx(path, || "recording the endpoints".into())?;
    // A new file is the base schema upgraded like any old one; pragmas take
    // no parameters, and the value is our own constant.
    tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID};"))
        .ctx(path, || "recording the application id".into())?;
    migrations::upgrade(&tx, 1, MIGRATIONS).map_err(|(version, e)| {
        SnapshotError::sqlite(path, format!("creating the schema (version {version})"), e)
    })?;
    tx.commit().ctx(path, || "creating the schema".into())
}

fn recorded_endpoints(
    conn: &Connection,
    path: &Path,
) -> Result<[EndpointIdentity; 2], SnapshotError> {
    conn.query_row(
        "SELECT a_scheme, a_host, a_port, a_user, b_scheme, b_host, b_port, b_user FROM meta WHERE id = 1",
        [],
        |r| {
            Ok([
                EndpointIdentity {
                    scheme: r.get(0)?,
                    host: r.get(1)?,
                    port: r.get(2)?,
                    user: r.get(3)?,
                },
                EndpointIdentity {
                    scheme: r.get(4)?,
                    host: r.get(5)?,
                    port: r.get(6)?,
                    user: r.get(7)?,
                },
            ])
        },
    )
    .map_err(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => SnapshotError::corrupt(path, "the meta row is missing"),
        e => SnapshotError::sqlite(path, "reading the endpoints", e),
    })
}
