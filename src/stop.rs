//! A graceful stop on SIGTERM or SIGINT (systemd stopping a timer unit,
//! Ctrl-C).
//!
//! The first signal asks the run to stop: while both servers are being
//! listed, nothing has been written yet, so the listing is abandoned where
//! it stands; while the plan is applied, the command in flight (one APPEND
//! batch, one STORE) completes and is checkpointed, then no further write
//! is started. The report says what was done and the run exits 2 ("some
//! actions did not happen; rerun"). A second signal ends the process at
//! once, also with exit 2: the snapshot stays consistent either way, since
//! every checkpoint is one SQLite transaction and an interrupted APPEND
//! batch is covered by its intent (the next run pairs by content what
//! landed).

use crate::exit;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

static STOPPING: AtomicBool = AtomicBool::new(false);

fn notify() -> &'static Notify {
    static NOTIFY: std::sync::OnceLock<Notify> = std::sync::OnceLock::new();
    NOTIFY.get_or_init(Notify::new)
}

/// Starts listening for SIGTERM and SIGINT (call once, inside the runtime).
/// A signal that cannot be listened for keeps its default action.
pub fn install() {
    use tokio::signal::unix::{signal, SignalKind};
    for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
        let Ok(mut stream) = signal(kind) else {
            eprintln!("imapmend: warning: cannot catch a stop signal; it will end the run at once");
            continue;
        };
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if STOPPING.swap(true, Ordering::SeqCst) {
                    crate::progress::finish();
                    eprintln!("imapmend: second stop signal: stopping now (rerun to finish)");
                    std::process::exit(exit::PARTIAL);
                }
                crate::progress::finish();
                eprintln!(
                    "imapmend: stop signal: finishing the command in flight, then stopping \
                     (send it again to stop at once)"
                );
                notify().notify_waiters();
            }
        });
    }
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Resolves once a stop is asked for (at once if it already was).
pub async fn wait() {
    loop {
        let notified = notify().notified();
        if requested() {
            return;
        }
        notified.await;
    }
}
