//! The process exit codes every verb ends with, as the README's "Exit codes"
//! table gives them (`check` stays within 0–3, the monitoring-plugin range),
//! and how several outcomes combine into one.
//!
//! A leaf: plain constants, so `stop`, `batch`, `report` and `main` can all
//! name a code without reaching up into the module that prints the report.

pub const OK: i32 = 0;
/// plan: actions pending; check: differences found.
pub const PENDING: i32 = 1;
/// Some mailboxes or messages failed; rerun.
pub const PARTIAL: i32 = 2;
/// Could not run: configuration, connection, authentication, TLS, snapshot.
pub const CANNOT_RUN: i32 = 3;
/// Actions withheld for safety (or the snapshot is in use by another run).
pub const WITHHELD: i32 = 4;

/// Combines outcomes: 4 > 2 > 1 > 0 (3 is only for runs that did nothing).
pub fn worst(codes: impl IntoIterator<Item = i32>) -> i32 {
    let rank = |c: i32| match c {
        WITHHELD => 4,
        PARTIAL => 3,
        PENDING => 2,
        CANNOT_RUN => 1,
        _ => 0,
    };
    codes.into_iter().max_by_key(|c| rank(*c)).unwrap_or(OK)
}
