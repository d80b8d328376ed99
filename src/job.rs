//! The resolved job: everything one run of `plan`, `sync` or `check` needs,
//! as plain values ([`Job`], [`Command`], [`PolicyOptions`]).
//!
//! [`crate::config`] builds a Job from the command line and the config file;
//! the run, gather, apply, metrics and the reviewed-plan checks read it.
//! This module only defines the values: it parses nothing, opens nothing,
//! and holds no live state (the metrics recorder is built from the path
//! where the run starts).

use crate::imap::ConnectSpec;
use crate::mailbox_filter::MailboxFilter;
use crate::model::{ByteSize, DeleteMode, Identity, MaxDelete, NameRules, OneWay, Side};
use crate::snapshot::EndpointIdentity;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// What the run does once endpoints are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Show the Plan; change nothing.
    Plan,
    /// Show the Plan and apply it.
    Sync,
    /// Judge agreement, read-only; `verify` re-fetches paired bodies.
    Check { verify: bool },
    /// Take back the run [`Job::undo_run`]: print what would be done, and
    /// with `apply` do it.
    Undo { apply: bool },
}

/// Everything one run needs, resolved and validated.
#[derive(Debug, Clone)]
pub struct Job {
    pub command: Command,
    /// Indexed by [`Side::index`].
    pub endpoints: [ConnectSpec; 2],
    /// Indexed by [`Side::index`]; what the snapshot is keyed on.
    pub identities: [EndpointIdentity; 2],
    pub state_path: PathBuf,
    pub json: bool,
    /// `--verify`: re-read every body and compare it with its fingerprint.
    pub verify: bool,
    /// `check`/`sync --scrub BUDGET` (or `scrub = ` in the config file):
    /// also re-read the slice verified longest ago ([`crate::scrub`]).
    pub scrub: Option<crate::model::ScrubBudget>,
    pub options: PolicyOptions,
    /// 0 normal, negative quieter (`-q`), positive more detail (`-v`…).
    pub verbosity: i8,
    /// `check`/`sync --metrics FILE`: where the outcome goes in Prometheus format
    /// (the run's recorder is [`crate::metrics::Metrics`], built from it).
    pub metrics: Option<PathBuf>,
    /// `check --timeout SECONDS`: the whole run's deadline.
    pub timeout: Option<Duration>,
    /// `plan --save FILE`: where the reviewed report goes.
    pub save_plan: Option<PathBuf>,
    /// `sync --expect-plan FILE`: the reviewed plan the live one must not
    /// exceed in deletions.
    pub expect_plan: Option<PathBuf>,
    /// The lock that makes syncs of these two servers on this machine take
    /// turns, whatever their snapshots ([`crate::server_lock`]); None when
    /// no default state directory is known.
    pub servers_lock: Option<PathBuf>,
    /// `--retries N`: how many times a connection lost during the run is
    /// re-established (with backoff) before the work it held fails.
    pub retries: u32,
    /// `--connections N`: sessions per server, so that up to N mailboxes
    /// are worked on at once ([`crate::pool`]).
    pub connections: u32,
    /// `--max-messages-per-second` / `--max-bytes-per-second`
    /// ([`crate::throttle`]); None: unlimited.
    pub max_messages_per_second: Option<u64>,
    pub max_bytes_per_second: Option<u64>,
    /// `undo --run ID`: the run to take back.
    pub undo_run: Option<String>,
}

/// The policies the reconcile core and the apply phase take as values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyOptions {
    /// Without a base, this side's flags win instead of the union.
    pub prefer: Option<Side>,
    /// None: the default guard, `max(10, 50% of pairs)` per mailbox and side.
    pub max_delete: Option<MaxDelete>,
    /// The operator says this side was restored from a backup.
    pub restored: Option<Side>,
    pub deletes: DeleteMode,
    pub delete_mailboxes: bool,
    /// `--identity`: by content only, or by headers too where content
    /// leaves a message unpaired (servers that rebuild messages).
    pub identity: Identity,
    /// `--expunge-to`: proven expunges are moved into this mailbox on the
    /// same side (its name under each side's prefix), which every run
    /// leaves out.
    pub expunge_to: Option<String>,
    /// `--quarantine-days`: a sync purges from the quarantine what imapmend
    /// moved there at least this many days ago (only with `expunge_to`).
    pub quarantine_days: Option<u32>,
    pub one_way: Option<OneWay>,
    /// Only with `one_way`: delete the target's unpaired messages.
    pub delete_extra: bool,
    /// A restored side's messages that match a tombstone are expunged there
    /// (false: `--no-tombstones`, copy them back).
    pub tombstones: bool,
    /// How long tombstones are kept (`--tombstone-days`, default 90).
    pub tombstone_days: u32,
    /// `--drop-restored-extras`: expunge messages only on a restored side.
    pub drop_restored_extras: bool,
    /// `--max-size`: messages larger than this are not copied (skipped and
    /// reported, never taken as deleted).
    pub max_size: Option<ByteSize>,
    /// `--retry-refused`: copy again messages a server refused earlier.
    pub retry_refused: bool,
    /// Which mailboxes the run covers (`--folder`, `--exclude` …).
    pub mailboxes: MailboxFilter,
    /// How names map between the sides (`--a-prefix`, `--map` …).
    pub names: NameRules,
}

/// Tombstones are kept this long unless `--tombstone-days` says otherwise:
/// long enough to cover the backups a restore is usually taken from.
pub const DEFAULT_TOMBSTONE_DAYS: u32 = 90;

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            prefer: None,
            max_delete: None,
            restored: None,
            deletes: DeleteMode::Expunge,
            delete_mailboxes: false,
            identity: Identity::Content,
            expunge_to: None,
            quarantine_days: None,
            one_way: None,
            delete_extra: false,
            tombstones: true,
            tombstone_days: DEFAULT_TOMBSTONE_DAYS,
            drop_restored_extras: false,
            max_size: None,
            retry_refused: false,
            mailboxes: MailboxFilter::default(),
            names: NameRules::default(),
        }
    }
}
