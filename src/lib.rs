//! imapmend: reconcile two IMAP servers that should hold the same mail.
//!
//! The pure core is [`reconcile`] (listings + snapshot → [`plan::Plan`]);
//! I/O lives at the edges: [`imap`], [`snapshot`], [`apply`].

pub mod apply;
pub mod batch;
pub mod cli;
pub mod config;
pub mod docs;
pub mod exit;
pub mod fingerprint;
pub mod gather;
pub mod hashing;
pub mod imap;
pub mod job;
pub mod logging;
pub mod mailbox_filter;
pub mod metrics;
pub mod model;
pub mod mutf7;
pub mod outcome;
pub mod plan;
pub mod pool;
pub mod progress;
pub mod reconcile;
pub mod report;
pub mod reviewed;
pub mod run;
pub mod secret;
pub mod server_lock;
pub mod set_aside;
pub mod snapshot;
pub mod snapshot_verb;
pub mod stop;
pub mod throttle;
