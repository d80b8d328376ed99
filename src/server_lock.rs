//! Syncs of the same two servers on one machine take turns, whatever
//! snapshot each uses.
//!
//! Two syncs at once with different snapshots would each see what the other
//! side lacks and copy it, and the mail would arrive twice. So a sync holds
//! an OS lock (`flock(2)`, released by the kernel when the process dies) on
//! a file named after both endpoints — the default snapshot's path with
//! `.sync.lock` appended, the same for A/B given either way round — and a
//! second sync waits for it, then lists servers that the first one has
//! already made agree. `plan` and `check` write nothing and take no lock.
//! Runs on other machines are not coordinated.

use fs4::fs_std::FileExt;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

/// How often a waiting sync tries the lock again.
const POLL: Duration = Duration::from_millis(200);

/// Takes the lock at `path`, waiting while another sync holds it (saying so
/// once on stderr). A lock that cannot be made at all (no such directory,
/// a read-only disk) is warned about and not taken: the snapshot's own lock
/// still keeps runs on one snapshot apart. Returns None when a stop signal
/// came while waiting.
pub async fn take(path: &Path) -> Option<Option<File>> {
    let open = || {
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
    };
    let file = match open() {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "imapmend: warning: cannot make the lock {} ({e}); not waiting for other syncs of these servers",
                path.display()
            );
            return Some(None);
        }
    };
    let mut said = false;
    loop {
        match file.try_lock_exclusive() {
            Ok(true) => return Some(Some(file)),
            Ok(false) => {}
            Err(e) => {
                eprintln!(
                    "imapmend: warning: cannot lock {} ({e}); not waiting for other syncs of these servers",
                    path.display()
                );
                return Some(None);
            }
        }
        if !said {
            eprintln!(
                "imapmend: another sync of these two servers is running (lock {}); waiting for it to finish",
                path.display()
            );
            said = true;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = crate::stop::wait() => return None,
        }
    }
}
