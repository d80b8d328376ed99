//! imapmend: reconcile two IMAP servers that should hold the same mail.
//!
//! The pure core is `reconcile` (listings + snapshot → `plan::Plan`); I/O
//! lives at the edges: [`imap`], [`snapshot`], `gather`, `apply`. The
//! layers, and the test that holds them, are in docs/ARCHITECTURE.md.
//!
//! A module is `pub` only where the binary (`main.rs`), the integration
//! tests or the examples use it; the rest are the crate's own, and the
//! compiler reports what in them nothing uses. Something only unit tests
//! use is `#[cfg(test)]`.

pub mod action_log;
mod apply;
mod audit;
pub mod batch;
pub mod cli;
pub mod config;
pub mod docs;
pub mod exit;
mod fingerprint;
mod gather;
mod hashing;
mod header_key;
pub mod imap;
pub mod job;
pub mod log_verb;
pub mod logging;
mod mailbox_filter;
pub mod metrics;
pub mod model;
mod mutf7;
mod outcome;
mod plan;
mod pool;
pub mod progress;
mod reconcile;
mod refusal;
mod report;
mod reviewed;
pub mod run;
mod scrub;
pub mod secret;
mod server_lock;
mod set_aside;
pub mod snapshot;
pub mod snapshot_verb;
mod stop;
mod throttle;
mod undo;
