//! `-v`, `-vv`, `-vvv`: a log of the run on standard error, through
//! `tracing`.
//!
//! - `-v` (info): each mailbox's decisions — left out by a filter, how each
//!   side was listed and why (full listing or change history), what is
//!   planned (created, renamed, deleted, copies and flag changes each way,
//!   expunges, conflicts, notes, problems).
//! - `-vv` (debug): every IMAP command sent, literals shown as their size
//!   and credentials redacted (rendered at the source: [`crate::imap`]).
//! - `-vvv` (trace): every response read, literals shown as their size.
//!
//! `RUST_LOG` (e.g. `RUST_LOG=imapmend::imap=debug`) replaces the level
//! the flags choose, except under `-q`. Without either nothing is installed and the run pays
//! one check per event. Lines go above the progress bar, never through it.

use crate::model::{PairLevel, Side};
use crate::plan::{MailboxPlan, Plan};
use std::io::{IsTerminal, Write};
use tracing_subscriber::EnvFilter;

/// Installs the log for this verbosity (`-q` is negative); returns whether
/// one was installed.
pub fn init(verbosity: i8) -> bool {
    if verbosity < 0 {
        return false; // -q: only errors, whatever RUST_LOG says
    }
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let filter = match (from_env, verbosity) {
        (Some(spec), _) => EnvFilter::new(spec),
        (None, 0) => return false,
        (None, 1) => EnvFilter::new("imapmend=info"),
        (None, 2) => EnvFilter::new("imapmend=debug"),
        (None, _) => EnvFilter::new("imapmend=trace"),
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| AboveBar(Vec::new()))
        .with_ansi(color)
        .with_timer(tracing_subscriber::fmt::time::Uptime::default())
        .try_init()
        .is_ok()
}

/// One event's text, printed above the progress bar when it is complete.
struct AboveBar(Vec<u8>);

impl Write for AboveBar {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for AboveBar {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let text = String::from_utf8_lossy(&self.0);
            crate::progress::println_above(text.trim_end_matches('\n'));
        }
    }
}

/// Logs (at info) what the plan decided for each mailbox.
pub fn plan_decisions(plan: &Plan) {
    if !tracing::enabled!(target: "imapmend::plan", tracing::Level::INFO) {
        return;
    }
    for note in &plan.notes {
        tracing::info!(target: "imapmend::plan", "{note}");
    }
    for mb in &plan.mailboxes {
        tracing::info!(target: "imapmend::plan", "{}: {}", mb.name, summary(mb));
        for note in &mb.notes {
            tracing::info!(target: "imapmend::plan", "{}: note: {note}", mb.name);
        }
        for problem in &mb.problems {
            tracing::info!(target: "imapmend::plan", "{}: problem: {problem}", mb.name);
        }
    }
}

/// One line: how each side was listed, then what is planned.
fn summary(mb: &MailboxPlan) -> String {
    let mut parts: Vec<String> = Side::BOTH
        .into_iter()
        .map(|side| match &mb.listing[side.index()] {
            Some(l) if l.reason.is_empty() => format!("{side} listed by {}", l.path),
            Some(l) => format!("{side} listed by {} ({})", l.path, l.reason),
            None => format!("{side} lacks it"),
        })
        .collect();
    if let Some(side) = mb.create {
        parts.push(format!("create on {side}"));
    }
    if let Some(r) = &mb.rename {
        parts.push(format!("rename {:?} on {}", r.from, r.side));
    }
    if let Some(d) = &mb.delete {
        let how = if d.withheld {
            "withheld: delete"
        } else {
            "delete"
        };
        parts.push(format!("{how} on {} ({} messages)", d.side, d.messages));
    }
    for side in Side::BOTH {
        let to = side.other();
        let copies = mb.copies.iter().filter(|c| c.from == side).count();
        let flags = mb.flag_changes.iter().filter(|c| c.side == to).count();
        let expunges = mb.expunges.iter().filter(|e| e.side == to).count();
        for (n, what) in [
            (copies, "copies"),
            (flags, "flag changes"),
            (expunges, "expunges"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what} to {to}"));
            }
        }
    }
    let levels: Vec<String> = [PairLevel::Normalised, PairLevel::Headers]
        .into_iter()
        .filter_map(|level| {
            let n = mb.pairs.iter().filter(|p| p.level == level).count();
            (n > 0).then(|| format!("{n} at the {level} level"))
        })
        .collect();
    if !levels.is_empty() {
        parts.push(format!("{} pairs ({})", mb.pairs.len(), levels.join(", ")));
    }
    for (n, what) in [
        (mb.withheld.len(), "expunges withheld"),
        (mb.conflicts.len(), "conflicts"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if mb.copies.is_empty()
        && mb.flag_changes.is_empty()
        && mb.expunges.is_empty()
        && mb.create.is_none()
        && mb.rename.is_none()
        && mb.delete.is_none()
    {
        parts.push("nothing to do".into());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ListingPath, MailboxDeletion};

    #[test]
    fn logging_summary_says_path_and_actions() {
        let mb = MailboxPlan {
            name: "Archive".into(),
            listing: [
                Some(ListingPath {
                    path: "history".into(),
                    reason: "unchanged UIDVALIDITY".into(),
                }),
                None,
            ],
            delete: Some(MailboxDeletion {
                side: Side::A,
                messages: 3,
                withheld: true,
            }),
            ..MailboxPlan::default()
        };
        assert_eq!(
            summary(&mb),
            "A listed by history (unchanged UIDVALIDITY); B lacks it; \
             withheld: delete on A (3 messages)"
        );
        let idle = MailboxPlan {
            name: "INBOX".into(),
            listing: [0, 1].map(|_| Some(ListingPath::default())),
            ..MailboxPlan::default()
        };
        assert!(
            summary(&idle).ends_with("nothing to do"),
            "{}",
            summary(&idle)
        );
    }
}
