//! What can go wrong with a snapshot file, worded for the operator: every
//! message names the file, and the refusals say what to do next.

use super::EndpointIdentity;
use std::path::{Path, PathBuf};

/// Why a snapshot could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Another live process holds the lock; we never wait for it.
    #[error(
        "snapshot {} is in use by another imapmend run (lock {} is held); \
         wait for that run to finish, or give this run another --state path",
        path.display(),
        lock.display()
    )]
    Locked { path: PathBuf, lock: PathBuf },

    /// The file remembers a different pair of servers.
    #[error(
        "snapshot {} belongs to other servers (A {}, B {}), not to this run's \
         (A {}, B {}); give this pair of servers its own snapshot with another \
         --state path (or remove {} to forget the other pair)",
        path.display(),
        found[0],
        found[1],
        expected[0],
        expected[1],
        path.display()
    )]
    OtherEndpoints {
        path: PathBuf,
        /// The endpoints of this run, [A, B] as given on the command line.
        expected: Box<[EndpointIdentity; 2]>,
        /// The endpoints recorded in the file, [A, B] as first recorded.
        found: Box<[EndpointIdentity; 2]>,
    },

    /// Written by a newer imapmend; reading it could lose what it knows.
    #[error(
        "snapshot {} has schema version {found}, newer than the {supported} this \
         imapmend understands; upgrade imapmend, or use another --state path",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// The file is not a snapshot, or holds values no snapshot can hold.
    #[error("snapshot {} is not usable: {reason}; move it aside to start over", path.display())]
    Corrupt { path: PathBuf, reason: String },

    /// SQLite refused an operation.
    #[error("snapshot {}: {context}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        context: String,
        #[source]
        source: rusqlite::Error,
    },

    /// The file system refused an operation.
    #[error("snapshot {}: {context}: {source}", path.display())]
    Io {
        path: PathBuf,
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl SnapshotError {
    pub(crate) fn io(path: &Path, context: impl Into<String>, source: std::io::Error) -> Self {
        SnapshotError::Io {
            path: path.to_path_buf(),
            context: context.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> Self {
        SnapshotError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// Wraps a SQLite error. Values that cannot be read back as what they
    /// should be, and files SQLite itself calls damaged, are `Corrupt`: the
    /// operator's remedy is the same (move the file aside), not a retry.
    pub(crate) fn sqlite(path: &Path, context: impl Into<String>, source: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let context = context.into();
        let corrupt = match &source {
            rusqlite::Error::SqliteFailure(e, _) => {
                matches!(e.code, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
            }
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => true,
            _ => false,
        };
        if corrupt {
            SnapshotError::corrupt(path, format!("{context}: {source}"))
        } else {
            SnapshotError::Sqlite {
                path: path.to_path_buf(),
                context,
                source,
            }
        }
    }
}

/// Attaches the file and what we were doing to a SQLite result.
pub(crate) trait SqlContext<T> {
    fn ctx(self, path: &Path, context: impl FnOnce() -> String) -> Result<T, SnapshotError>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, path: &Path, context: impl FnOnce() -> String) -> Result<T, SnapshotError> {
        self.map_err(|e| SnapshotError::sqlite(path, context(), e))
    }
}
