//! The hidden test hooks of the write point (see the engine's module
//! documentation): inert unless their environment variables are set.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// When the crash hook fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    /// After the command has been sent and flushed.
    Sent,
    /// After its tagged reply has been read.
    Answered,
}

struct Hooks {
    crash: Option<(u64, When)>,
    log: Option<Mutex<std::fs::File>>,
}

fn hooks() -> &'static Hooks {
    static HOOKS: OnceLock<Hooks> = OnceLock::new();
    HOOKS.get_or_init(|| Hooks {
        crash: std::env::var("IMAPMEND_TEST_CRASH_AFTER_WRITES")
            .ok()
            .and_then(|v| parse_crash(&v)),
        log: std::env::var_os("IMAPMEND_TEST_WRITE_LOG").and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
                .map(Mutex::new)
        }),
    })
}

/// `k` or `k:answered` (also `k:sent`); anything else disables the hook.
pub(super) fn parse_crash(v: &str) -> Option<(u64, When)> {
    let (k, when) = match v.trim().split_once(':') {
        None => (v.trim(), When::Sent),
        Some((k, "sent")) => (k, When::Sent),
        Some((k, "answered")) => (k, When::Answered),
        Some(_) => return None,
    };
    let k: u64 = k.parse().ok()?;
    (k > 0).then_some((k, when))
}

/// Whether the process is to die once write `n` has reached `when`.
pub(super) fn crash_at(n: u64, when: When) -> bool {
    hooks().crash == Some((n, when))
}

/// Logs write `n` as sent (when asked to).
pub(super) fn log_sent(n: u64, peer: &super::Peer, label: &str) {
    if let Some(log) = &hooks().log {
        if let Ok(mut f) = log.lock() {
            let _ = writeln!(f, "{n}\t{}\t{label}", peer.side);
        }
    }
}

/// Dies like a crash: no unwinding, no destructors, no checkpoint.
pub(super) fn crash(n: u64, when: When, label: &str) -> ! {
    let when = match when {
        When::Sent => "sent",
        When::Answered => "answered",
    };
    eprintln!("imapmend: test hook: crashing after write {n} ({label}) was {when}");
    std::process::abort()
}
