//! The command line: every option imapmend accepts is defined here and only
//! here (clap derive), so `--help`, shell completions and the man page are
//! generated from one source.
//!
//! This module owns spelling, help text and the parsing of single values
//! (`a|b`, `implicit|starttls|none`, `N|P%`, the batch `--shard i/n`). It
//! does not check how options combine with each other beyond what clap can
//! say (`--a-password-file` excludes `--a-password-command`), read files, or
//! look at the environment:
//! turning a [`Cli`] and its config file into endpoints and policies is
//! [`crate::config`]'s job. Settings the config file may also give (`--a`,
//! `--deletes`, `--delete-extra` with `--one-way` …) are therefore optional
//! here and checked there.

use crate::imap::{CertPin, TlsMode};
use crate::model::{ByteSize, DeleteMode, Identity, MaxDelete, OneWay, Side};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Shown under `--help` of every verb: where passwords come from, since
/// there is deliberately no `--password` option.
/// The short-help reminder of the same.
const PASSWORD_HINT: &str = "Passwords: IMAPMEND_A_PASSWORD / IMAPMEND_B_PASSWORD, or the options \
    above; never on the command line (see --help).";

const PASSWORD_HELP: &str = "\
Passwords are never accepted on the command line (nor inside the URL).
For each side, exactly one of these is used:
  --a-password-file PATH      the file's content, one trailing newline removed
  --a-password-command CMD    run with `sh -c`; its standard output is the password
  IMAPMEND_A_PASSWORD         environment variable, used when neither option is given
and the same with b for side B (IMAPMEND_B_PASSWORD).";

/// `imapmend --version`: the version and the commit it was built from
/// (build.rs; "unknown" outside a git checkout), so a bug report names
/// the exact code. The man pages carry the version alone
/// ([`crate::docs`]), so they do not change with every commit.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("IMAPMEND_COMMIT"),
    ")"
);

#[derive(Parser, Debug, Clone)]
#[command(
    name = "imapmend",
    version = VERSION,
    about = "Reconcile two IMAP servers that should hold the same mail",
    long_about = "Reconcile two IMAP servers (A and B) that should hold the same mail.\n\n\
        Messages are matched by content fingerprint, flags are merged as changes \
        against a snapshot of the last agreed state, and nothing is deleted without \
        proof. `plan` shows what `sync` would do; `check` judges whether A and B agree.",
    after_long_help = PASSWORD_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
}

/// The three run verbs share [`CommonArgs`], `--verify` included (`check`
/// reports bodies damaged in place, `plan` and `sync` replace them), and add
/// a few of their own (`plan --save`, `sync --expect-plan`, `check
/// --timeout`, `--metrics` for `sync` and `check`); `completions` and `man` never touch a server.
#[derive(Subcommand, Debug, Clone)]
pub enum Verb {
    /// Dry run: show the Plan, change nothing on either server
    #[command(after_help = PASSWORD_HINT, after_long_help = PASSWORD_HELP)]
    Plan(PlanArgs),
    /// Show the Plan, apply it to both servers and save the snapshot
    #[command(after_help = PASSWORD_HINT, after_long_help = PASSWORD_HELP)]
    Sync(SyncArgs),
    /// Read-only (EXAMINE): judge whether A and B hold the same mail and flags
    #[command(after_help = PASSWORD_HINT, after_long_help = PASSWORD_HELP)]
    Check(CheckArgs),
    /// Run plan, sync or check over a list of account pairs (CSV or TOML)
    #[command(after_help = BATCH_HELP)]
    Batch(BatchArgs),
    /// What a snapshot remembers (show), or delete it (forget)
    #[command(subcommand)]
    Snapshot(SnapshotVerb),
    /// What sync wrote to the servers: the action log beside the snapshot
    #[command(subcommand)]
    Log(LogVerb),
    /// Take back one sync (--run ID): quarantined messages moved back, its
    /// flag changes reverted; prints what it would do unless --apply
    #[command(after_help = PASSWORD_HINT, after_long_help = PASSWORD_HELP)]
    Undo(UndoArgs),
    /// Print shell completions for SHELL on standard output
    #[command(
        long_about = "Print shell completions for SHELL on standard output.\n\n\
            Prebuilt files are in the source tree's completions/ directory. For example:\n  \
            imapmend completions bash > ~/.local/share/bash-completion/completions/imapmend\n  \
            imapmend completions zsh > ~/.zfunc/_imapmend\n  \
            imapmend completions fish > ~/.config/fish/completions/imapmend.fish"
    )]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) on standard output: `imapmend man | man -l -`
    Man {
        /// A verb's page (imapmend-VERB(1)) instead of the main one
        #[arg(value_name = "VERB")]
        verb: Option<String>,
    },
}

const BATCH_HELP: &str = "\
Each pair runs as its own `imapmend VERB --json --a … --b …` process, with its
own snapshot; the options after `--` go to every one of them, e.g.
  imapmend batch sync accounts.csv --jobs 8 --shard 0/4 -- --a-tls starttls --max-delete 20%
CSV columns (header row; a and b required): name, a, b, a_password_file,
b_password_file, a_password_command, b_password_command, a_password_env,
b_password_env, a_oauth2_token_command, b_oauth2_token_command, a_tunnel,
b_tunnel, state. TOML: the same keys in [[pair]] tables.
Exit code: 0 all pairs 0; otherwise the worst of 4 > 2 > 1, a pair that could
not run counting as 2; 3 only when no pair could run.";

#[derive(Args, Debug, Clone)]
pub struct BatchArgs {
    /// The verb each pair runs
    #[arg(value_name = "VERB", value_parser = ["plan", "sync", "check"])]
    pub verb: String,

    /// The account pairs: CSV with a header row, or TOML ([[pair]] tables)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// How many pairs run at once
    #[arg(short, long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,

    /// Run only shard I of N (0-based): each pair always falls in the same
    /// shard, so hosts or job-array tasks can split a list without
    /// coordination
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,

    /// A config file every pair's run reads (shared TLS, policies …); each
    /// pair's --a/--b override its URLs
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Stop a pair's run after SECONDS (it counts as exit 2; a rerun resumes
    /// safely), so one hung account cannot hold up the batch
    #[arg(long, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub pair_timeout: Option<u64>,

    /// Keep each pair's standard output and error in DIR (NAME.out, NAME.err)
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Print the outcomes (with each pair's report) as JSON
    #[arg(long)]
    pub json: bool,

    /// No line per finished pair on standard error
    #[arg(short, long)]
    pub quiet: bool,

    /// Options for every pair's run (after --)
    #[arg(last = true, value_name = "OPTIONS")]
    pub extra: Vec<String>,
}

/// `imapmend snapshot show|forget|verify`: the snapshot is found as a run would
/// find it (`--state`, or the default path named after `--a` and `--b`, or
/// both from `--config`).
#[derive(Subcommand, Debug, Clone)]
pub enum SnapshotVerb {
    /// Which mailboxes the snapshot knows, pair counts, cached messages and
    /// sizes, pending copies, and whether a run holds it now
    Show(SnapshotArgs),
    /// Delete the snapshot (and its -wal, -shm and .lock files); refused
    /// while a run holds it. The next run starts as a first meeting
    Forget(SnapshotArgs),
    /// Check the file: SQLite's integrity check and the snapshot's own
    /// invariants (every pair has its cache rows, levels and watermarks are
    /// valid); read-only. Exit 0 sound, 1 problems found, 3 cannot check
    Verify(SnapshotArgs),
}

/// `imapmend log show`: the action log is found beside the snapshot, which
/// is found as `snapshot show` finds it.
#[derive(Subcommand, Debug, Clone)]
pub enum LogVerb {
    /// Every write sync sent (APPEND, STORE, EXPUNGE, MOVE, CREATE, RENAME,
    /// DELETE, SUBSCRIBE), one row per command, with its outcome; "not
    /// confirmed" where the run ended before the answer was logged
    Show(LogArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct LogArgs {
    #[command(flatten)]
    pub snapshot: SnapshotArgs,

    /// Only this run (the run id a sync's --json report carries)
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,

    /// Only writes at or after this UTC time (2026-12-07, 2026-12-07T10:00)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct SnapshotArgs {
    /// Read --a, --b and the state path from this TOML file
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Server A, to find the default snapshot (no password needed)
    #[arg(long = "a", value_name = "URL")]
    pub a: Option<String>,

    /// Server B, to find the default snapshot
    #[arg(long = "b", value_name = "URL")]
    pub b: Option<String>,

    /// The snapshot file itself (then --a and --b are optional)
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// Print as JSON on standard output
    #[arg(long)]
    pub json: bool,
}

impl SnapshotArgs {
    /// As the run verbs' options, to find the snapshot the same way.
    pub fn as_common(&self) -> CommonArgs {
        CommonArgs {
            config: self.config.clone(),
            a: self.a.clone(),
            b: self.b.clone(),
            state: self.state.clone(),
            json: self.json,
            ..CommonArgs::default()
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Also write the report (as --json prints it) to FILE, for review and
    /// for `sync --expect-plan FILE`
    #[arg(long, value_name = "FILE", help_heading = "Review")]
    pub save: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct UndoArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// The run to take back, as `log show` and --json reports name it
    #[arg(long, value_name = "ID", help_heading = "Undo")]
    pub run: String,

    /// Do it; without, only print what would be done (docs/AUDIT.md)
    #[arg(long, help_heading = "Undo")]
    pub apply: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SyncArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Refuse (exit 4, nothing applied) if the live plan deletes any message
    /// the plan saved in FILE (`plan --save`) did not
    #[arg(long, value_name = "FILE", help_heading = "Review")]
    pub expect_plan: Option<PathBuf>,

    #[command(flatten)]
    pub monitoring: MonitoringArgs,
}

/// `--metrics` and `--scrub`, shared by `check` and `sync`, so a sync
/// timer is monitored as a check timer is: the same series
/// ([`crate::metrics`]), told apart by their `verb` label.
#[derive(Args, Debug, Clone, Default)]
pub struct MonitoringArgs {
    /// Write the outcome in Prometheus text format to FILE (atomically), for
    /// node_exporter's textfile collector
    #[arg(long, value_name = "FILE", help_heading = "Monitoring")]
    pub metrics: Option<PathBuf>,

    /// Also re-read the bodies verified longest ago (never verified first)
    /// and compare them with what was recorded, up to BUDGET per side: a
    /// share of the messages (2%), a size (500M) or a time (30s); `check`
    /// reports damage, `sync` replaces it from the healthy side
    #[arg(long, value_name = "BUDGET", help_heading = "Monitoring")]
    pub scrub: Option<crate::model::ScrubBudget>,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub monitoring: MonitoringArgs,

    /// Give up after SECONDS in all (connect, list, compare): exit 3, no verdict
    #[arg(
        long,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = "Check"
    )]
    pub timeout: Option<u64>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Read settings from this TOML file; command-line options override it
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Endpoints",
        long_help = "Read endpoints, TLS, password sources, policies and the state path from \
            this TOML file (tables [a], [b], [policy]; see docs/OPTIONS.md). Every command-line \
            option overrides the file's value for the same setting. Relative paths in the \
            file are relative to the file's directory. Unknown keys and wrong types are \
            errors, and a password in the file is refused."
    )]
    pub config: Option<PathBuf>,

    /// Server A: imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]
    #[arg(
        long = "a",
        value_name = "URL",
        help_heading = "Endpoints",
        long_help = "Server A: imaps://USER@HOST[:PORT] (TLS from the start, port 993) or \
            imap://USER@HOST[:PORT] (STARTTLS, port 143). Percent-encode an @ in USER \
            as %40. IPv6 literals go in brackets: imaps://u@[::1]:993. A password in \
            the URL is refused: see the end of --help."
    )]
    pub a: Option<String>,

    /// Server B, in the same form as --a
    #[arg(long = "b", value_name = "URL", help_heading = "Endpoints")]
    pub b: Option<String>,

    /// The snapshot file [default: a file named after both endpoints in
    /// $XDG_STATE_HOME/imapmend/]
    #[arg(long, value_name = "PATH", help_heading = "Endpoints")]
    pub state: Option<PathBuf>,

    /// TLS for A, overriding the URL scheme's default
    #[arg(long, value_name = "MODE", value_parser = tls_parser(), help_heading = "TLS")]
    pub a_tls: Option<TlsMode>,

    /// TLS for B, overriding the URL scheme's default
    #[arg(long, value_name = "MODE", value_parser = tls_parser(), help_heading = "TLS")]
    pub b_tls: Option<TlsMode>,

    /// Extra CA certificate(s) (PEM) to trust for A, besides the system
    /// roots, or A's own (self-signed) certificate
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "TLS",
        long_help = "Certificates (PEM) to trust for A besides the system roots: the CA that \
            issued A's certificate, or A's own certificate, e.g. a self-signed one made by \
            `openssl req -x509`. A certificate in the file that is byte for byte the one the \
            server presents is accepted whatever its CA flag and without a chain; its names \
            and dates are still checked. See docs/TLS.md."
    )]
    pub a_ca_file: Option<PathBuf>,

    /// Extra CA certificate(s) (PEM) to trust for B, or B's own certificate,
    /// as --a-ca-file
    #[arg(long, value_name = "PATH", help_heading = "TLS")]
    pub b_ca_file: Option<PathBuf>,

    /// Trust only a certificate for A with this fingerprint (repeatable):
    /// sha256:HEX, spki-sha256:BASE64 or sha256//BASE64
    #[arg(
        long,
        value_name = "SPEC",
        value_parser = pin_parser,
        help_heading = "TLS",
        long_help = "Trust only a certificate for A with this fingerprint; repeatable (any \
            one may match). sha256:HEX is the certificate's SHA-256, as `openssl x509 -noout \
            -fingerprint -sha256 -in CERT.pem` prints it (colons and case ignored); \
            spki-sha256:BASE64, or curl's sha256//BASE64, is its public key's, which survives a \
            renewal that keeps the key. A match replaces the chain, name and expiry checks \
            (the handshake signature is still verified); with a pin set, a certificate that \
            matches none is refused even if a CA vouches for it. Confirm a fingerprint \
            through another channel before pinning it. See docs/TLS.md."
    )]
    pub a_fingerprint: Vec<CertPin>,

    /// Trust only a certificate for B with this fingerprint, as --a-fingerprint
    #[arg(long, value_name = "SPEC", value_parser = pin_parser, help_heading = "TLS")]
    pub b_fingerprint: Vec<CertPin>,

    /// Talk to A through this command's stdin/stdout (run with `sh -c`)
    /// instead of TCP
    #[arg(
        long,
        value_name = "COMMAND",
        help_heading = "Endpoints",
        long_help = "Talk IMAP to A over the standard input and output of COMMAND, run with \
            `sh -c`, instead of a TCP connection (as mbsync's Tunnel), e.g. \
            \"ssh mailhost /usr/lib/dovecot/imap\". --a still names the account (user and \
            host identify the snapshot). A server that greets with PREAUTH needs no \
            password; otherwise the password goes through the tunnel, which is trusted to \
            protect it (no TLS is added). The command's standard error is not shown, only \
            quoted (password blanked) if the tunnel fails."
    )]
    pub a_tunnel: Option<String>,

    /// Talk to B through this command's stdin/stdout, as --a-tunnel
    #[arg(long, value_name = "COMMAND", help_heading = "Endpoints")]
    pub b_tunnel: Option<String>,

    /// Send passwords without TLS (with --X-tls none) even to a host that is
    /// not loopback
    #[arg(long, help_heading = "TLS")]
    pub allow_plaintext_auth: bool,

    /// Read A's password from this file (one trailing newline removed)
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "a_password_command",
        help_heading = "Passwords"
    )]
    pub a_password_file: Option<PathBuf>,

    /// Read B's password from this file (one trailing newline removed)
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "b_password_command",
        help_heading = "Passwords"
    )]
    pub b_password_file: Option<PathBuf>,

    /// Run CMD with `sh -c`; its standard output is A's password
    #[arg(long, value_name = "CMD", help_heading = "Passwords")]
    pub a_password_command: Option<String>,

    /// Run CMD with `sh -c`; its standard output is B's password
    #[arg(long, value_name = "CMD", help_heading = "Passwords")]
    pub b_password_command: Option<String>,

    /// Log in to A with an OAuth 2.0 access token (SASL OAUTHBEARER or
    /// XOAUTH2): run CMD with `sh -c`, its standard output is the token
    #[arg(
        long,
        value_name = "CMD",
        conflicts_with_all = ["a_password_file", "a_password_command"],
        help_heading = "Passwords"
    )]
    pub a_oauth2_token_command: Option<String>,

    /// Log in to B with an OAuth 2.0 access token (SASL OAUTHBEARER or
    /// XOAUTH2): run CMD with `sh -c`, its standard output is the token
    #[arg(
        long,
        value_name = "CMD",
        conflicts_with_all = ["b_password_file", "b_password_command"],
        help_heading = "Passwords"
    )]
    pub b_oauth2_token_command: Option<String>,

    /// Without a snapshot base, this side's flags win instead of the union
    #[arg(long, value_name = "SIDE", value_parser = side_parser(), help_heading = "Policy")]
    pub prefer: Option<Side>,

    /// Withhold a mailbox's deletions on a side when they exceed N, or P% of
    /// its pairs (never fewer than 10) [default: 50%]
    #[arg(long, value_name = "N|P%", help_heading = "Policy")]
    pub max_delete: Option<MaxDelete>,

    /// This side was restored from a backup: the other side's flags win, and
    /// mail missing here is copied back, never taken as deleted
    #[arg(long, value_name = "SIDE", value_parser = side_parser(), help_heading = "Policy")]
    pub restored: Option<Side>,

    /// How proven deletions are carried out [default: expunge]
    #[arg(
        long,
        value_name = "MODE",
        value_parser = deletes_parser(),
        help_heading = "Policy"
    )]
    pub deletes: Option<DeleteMode>,

    /// Delete a mailbox on one side when it was proven deleted on the other
    #[arg(long, help_heading = "Policy")]
    pub delete_mailboxes: bool,

    /// What a message is known by. `headers`, for servers that rebuild
    /// messages on FETCH (Exchange, Office 365): what content leaves
    /// unpaired pairs by a Message-ID unique among them on both sides, with
    /// Date, From and fetched size agreeing; such a pair never proves a
    /// deletion, and a changed RFC822.SIZE is no sign of a restore
    /// [default: content]
    #[arg(
        long,
        value_name = "BY",
        value_parser = identity_parser(),
        help_heading = "Policy"
    )]
    pub identity: Option<Identity>,

    /// Move what would be expunged into MAILBOX on the same side instead
    /// (created on first use, left out of every run; a top-level name
    /// without delimiters). `imapmend log show` lists what went there
    #[arg(long, value_name = "MAILBOX", help_heading = "Policy")]
    pub expunge_to: Option<String>,

    /// With --expunge-to: each sync expunges from the quarantine what
    /// imapmend moved there at least N days ago (under --max-delete)
    #[arg(long, value_name = "N", help_heading = "Policy")]
    pub quarantine_days: Option<u32>,

    /// Copy in one direction only; the target is never read as a source
    #[arg(long, value_name = "DIRECTION", value_parser = one_way_parser(), help_heading = "Policy")]
    pub one_way: Option<OneWay>,

    /// With --one-way: delete messages found only on the target side
    #[arg(long, help_heading = "Policy")]
    pub delete_extra: bool,

    /// On a restored side, copy back messages whose expunge was proven
    /// earlier (tombstones) instead of expunging them there again
    #[arg(long, help_heading = "Policy")]
    pub no_tombstones: bool,

    /// How long the content of a proven expunge is remembered as a
    /// tombstone, in days (default 90; 0 forgets them at the next run)
    #[arg(long, value_name = "DAYS", help_heading = "Policy")]
    pub tombstone_days: Option<u32>,

    /// Expunge messages found only on a restored side (they may be mail
    /// deleted since the backup) instead of copying them to the other side
    #[arg(long, help_heading = "Policy")]
    pub drop_restored_extras: bool,

    /// Do not copy messages larger than SIZE (bytes, or 512K, 10M, 1G):
    /// they are skipped and reported, never taken as deleted
    #[arg(long, value_name = "SIZE", help_heading = "Policy")]
    pub max_size: Option<ByteSize>,

    /// Copy again the messages a server refused on an earlier run (by
    /// default they are skipped until they change)
    #[arg(long, help_heading = "Policy")]
    pub retry_refused: bool,

    /// When a connection is lost or stalls during the run, reconnect and
    /// redo the work from a fresh listing up to N times (backoff 1 s, 2 s,
    /// 4 s …) before it fails [default: 2]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Connections per server: up to N mailboxes are listed and applied at
    /// once (1 to 16; a server that refuses more gets fewer, with a warning)
    /// [default: 4]
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=crate::pool::MAX_CONNECTIONS as i64))]
    pub connections: Option<u32>,

    /// Never use COMPRESS=DEFLATE, even where a server offers it
    #[arg(long)]
    pub no_compress: bool,

    /// For providers that throttle: move at most N message bodies per
    /// second (fetched and appended, both servers together)
    #[arg(long, value_name = "N")]
    pub max_messages_per_second: Option<u64>,

    /// For providers that throttle: send and receive at most SIZE bytes per
    /// second (bytes, or 512K, 10M), both servers together
    #[arg(long, value_name = "SIZE")]
    pub max_bytes_per_second: Option<ByteSize>,

    /// Re-fetch every body and compare it with the fingerprint recorded when
    /// it was synced: `check` reports content damaged in place, `plan` and
    /// `sync` replace it from the other side (reads every message)
    #[arg(long)]
    pub verify: bool,

    /// Only this mailbox (logical name, `/` between levels); repeatable
    #[arg(long, value_name = "NAME", help_heading = "Mailboxes")]
    pub folder: Vec<String>,

    /// Only this mailbox and the ones below it; repeatable
    #[arg(long, value_name = "NAME", help_heading = "Mailboxes")]
    pub folderrec: Vec<String>,

    /// Only mailboxes whose name matches REGEX (unanchored); repeatable
    #[arg(long, value_name = "REGEX", help_heading = "Mailboxes")]
    pub include: Vec<String>,

    /// Leave out mailboxes whose name matches REGEX (unanchored); repeatable
    #[arg(long, value_name = "REGEX", help_heading = "Mailboxes")]
    pub exclude: Vec<String>,

    /// A's folders live under this wire prefix, e.g. `INBOX.` (Courier,
    /// Cyrus): A's `INBOX.Sent` is then the mailbox `Sent`
    #[arg(long, value_name = "PREFIX", help_heading = "Mailboxes")]
    pub a_prefix: Option<String>,

    /// B's folders live under this wire prefix (as --a-prefix)
    #[arg(long, value_name = "PREFIX", help_heading = "Mailboxes")]
    pub b_prefix: Option<String>,

    /// A's mailbox A_NAME is B's mailbox B_NAME, and the ones below them
    /// alike, e.g. --map "Sent Items=Sent"; repeatable
    #[arg(long, value_name = "A_NAME=B_NAME", help_heading = "Mailboxes")]
    pub map: Vec<String>,

    #[command(flatten)]
    pub imapsync: ImapsyncArgs,

    /// Print the Plan (or the check result) as JSON on standard output
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// More detail: -v every action in the report and each mailbox's
    /// decisions on standard error, -vv also the IMAP commands, -vvv also
    /// the responses (never a password or a message body; RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "quiet", help_heading = "Output")]
    pub verbose: u8,

    /// Only errors on standard error
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
}

/// imapsync's spellings, so existing scripts port with little change:
/// `imapsync --host1 H …` becomes `imapmend sync --host1 H …`. Giving either
/// server this way means `--one-way a-to-b` (host1 → host2) unless
/// `--one-way` says otherwise, as imapsync only copies one way.
#[derive(Args, Debug, Clone, Default)]
pub struct ImapsyncArgs {
    /// Server A's host (imapsync style; with --user1, instead of --a)
    #[arg(long, value_name = "HOST", conflicts_with = "a", help_heading = IMAPSYNC)]
    pub host1: Option<String>,
    /// Server B's host (with --user2, instead of --b)
    #[arg(long, value_name = "HOST", conflicts_with = "b", help_heading = IMAPSYNC)]
    pub host2: Option<String>,
    /// Server A's user
    #[arg(long, value_name = "USER", conflicts_with = "a", help_heading = IMAPSYNC)]
    pub user1: Option<String>,
    /// Server B's user
    #[arg(long, value_name = "USER", conflicts_with = "b", help_heading = IMAPSYNC)]
    pub user2: Option<String>,
    /// Server A's port [default: 143, or 993 with --ssl1]
    #[arg(long, value_name = "PORT", conflicts_with = "a", help_heading = IMAPSYNC)]
    pub port1: Option<u16>,
    /// Server B's port [default: 143, or 993 with --ssl2]
    #[arg(long, value_name = "PORT", conflicts_with = "b", help_heading = IMAPSYNC)]
    pub port2: Option<u16>,
    /// TLS from the first byte to A (imaps)
    #[arg(long, conflicts_with_all = ["a", "tls1", "a_tls"], help_heading = IMAPSYNC)]
    pub ssl1: bool,
    /// TLS from the first byte to B (imaps)
    #[arg(long, conflicts_with_all = ["b", "tls2", "b_tls"], help_heading = IMAPSYNC)]
    pub ssl2: bool,
    /// STARTTLS to A (the default without --ssl1 anyway)
    #[arg(long, conflicts_with_all = ["a", "a_tls"], help_heading = IMAPSYNC)]
    pub tls1: bool,
    /// STARTTLS to B (the default without --ssl2 anyway)
    #[arg(long, conflicts_with_all = ["b", "b_tls"], help_heading = IMAPSYNC)]
    pub tls2: bool,
    /// As --a-password-file
    #[arg(long, value_name = "FILE", conflicts_with_all = ["a_password_file", "a_password_command"], help_heading = IMAPSYNC)]
    pub passfile1: Option<PathBuf>,
    /// As --b-password-file
    #[arg(long, value_name = "FILE", conflicts_with_all = ["b_password_file", "b_password_command"], help_heading = IMAPSYNC)]
    pub passfile2: Option<PathBuf>,
    /// Refused: passwords never go on the command line
    #[arg(long, value_name = "PASSWORD", hide = true)]
    pub password1: Option<String>,
    /// Refused: passwords never go on the command line
    #[arg(long, value_name = "PASSWORD", hide = true)]
    pub password2: Option<String>,
    /// With sync: only show the Plan, as `plan` does
    #[arg(long, help_heading = IMAPSYNC)]
    pub dry: bool,
    /// As --delete-extra: delete messages on B that A does not have
    #[arg(long, help_heading = IMAPSYNC)]
    pub delete2: bool,
}

const IMAPSYNC: &str = "imapsync compatibility";

impl ImapsyncArgs {
    /// Whether either server was given imapsync's way.
    pub fn names_a_server(&self) -> bool {
        self.host1.is_some() || self.host2.is_some() || self.user1.is_some() || self.user2.is_some()
    }
}

/// One side's endpoint options, picked out of [`CommonArgs`] so code that
/// treats A and B alike takes a [`Side`] instead of being written twice.
#[derive(Debug, Clone, Copy)]
pub struct EndpointArgs<'a> {
    pub url: Option<&'a str>,
    pub tls: Option<TlsMode>,
    pub ca_file: Option<&'a std::path::Path>,
    /// `--a-fingerprint` pins, in the order given.
    pub fingerprint: &'a [CertPin],
    pub password_file: Option<&'a std::path::Path>,
    pub password_command: Option<&'a str>,
    pub oauth2_token_command: Option<&'a str>,
    /// `--a-tunnel COMMAND`.
    pub tunnel: Option<&'a str>,
    /// imapsync's `--hostN`, `--userN`, `--portN`, `--sslN`, `--tlsN`.
    pub host: Option<&'a str>,
    pub user: Option<&'a str>,
    pub port: Option<u16>,
    pub ssl: bool,
    pub starttls: bool,
    /// imapsync's `--passfileN` (same as the password file).
    pub passfile: Option<&'a std::path::Path>,
    /// imapsync's `--passwordN`, only to be refused.
    pub password_given: bool,
}

impl CommonArgs {
    pub fn endpoint(&self, side: Side) -> EndpointArgs<'_> {
        match side {
            Side::A => EndpointArgs {
                url: self.a.as_deref(),
                tls: self.a_tls,
                ca_file: self.a_ca_file.as_deref(),
                fingerprint: &self.a_fingerprint,
                password_file: self.a_password_file.as_deref(),
                password_command: self.a_password_command.as_deref(),
                oauth2_token_command: self.a_oauth2_token_command.as_deref(),
                tunnel: self.a_tunnel.as_deref(),
                host: self.imapsync.host1.as_deref(),
                user: self.imapsync.user1.as_deref(),
                port: self.imapsync.port1,
                ssl: self.imapsync.ssl1,
                starttls: self.imapsync.tls1,
                passfile: self.imapsync.passfile1.as_deref(),
                password_given: self.imapsync.password1.is_some(),
            },
            Side::B => EndpointArgs {
                url: self.b.as_deref(),
                tls: self.b_tls,
                ca_file: self.b_ca_file.as_deref(),
                fingerprint: &self.b_fingerprint,
                password_file: self.b_password_file.as_deref(),
                password_command: self.b_password_command.as_deref(),
                oauth2_token_command: self.b_oauth2_token_command.as_deref(),
                tunnel: self.b_tunnel.as_deref(),
                host: self.imapsync.host2.as_deref(),
                user: self.imapsync.user2.as_deref(),
                port: self.imapsync.port2,
                ssl: self.imapsync.ssl2,
                starttls: self.imapsync.tls2,
                passfile: self.imapsync.passfile2.as_deref(),
                password_given: self.imapsync.password2.is_some(),
            },
        }
    }
}

impl Cli {
    /// The options the run verbs (`plan`, `sync`, `check`) share; None for
    /// verbs that never connect to a server.
    pub fn common(&self) -> Option<&CommonArgs> {
        match &self.verb {
            Verb::Plan(c) => Some(&c.common),
            Verb::Sync(c) => Some(&c.common),
            Verb::Check(c) => Some(&c.common),
            Verb::Undo(c) => Some(&c.common),
            Verb::Batch(_)
            | Verb::Snapshot(_)
            | Verb::Log(_)
            | Verb::Completions { .. }
            | Verb::Man { .. } => None,
        }
    }
}

/// The command-line spelling of a side (`a`, `b`), for messages that name
/// an option: `--a`, `--b-password-file`.
pub fn side_option(side: Side) -> &'static str {
    match side {
        Side::A => "a",
        Side::B => "b",
    }
}

fn side_parser() -> impl TypedValueParser<Value = Side> {
    PossibleValuesParser::new(["a", "b"]).map(|s| match s.as_str() {
        "a" => Side::A,
        _ => Side::B,
    })
}

/// `--a-fingerprint`: the pin forms [`CertPin::parse`] reads.
fn pin_parser(spec: &str) -> Result<CertPin, String> {
    CertPin::parse(spec)
}

fn tls_parser() -> impl TypedValueParser<Value = TlsMode> {
    PossibleValuesParser::new([
        PossibleValue::new("implicit").help("TLS from the first byte (imaps)"),
        PossibleValue::new("starttls").help("plain greeting, then STARTTLS, required"),
        PossibleValue::new("none").help("no TLS (loopback, or with --allow-plaintext-auth)"),
    ])
    .map(|s| match s.as_str() {
        "implicit" => TlsMode::Implicit,
        "starttls" => TlsMode::StartTls,
        _ => TlsMode::None,
    })
}

fn deletes_parser() -> impl TypedValueParser<Value = DeleteMode> {
    PossibleValuesParser::new([
        PossibleValue::new("expunge").help("set \\Deleted, then UID EXPUNGE exactly those UIDs"),
        PossibleValue::new("flag-only").help("only set \\Deleted; never expunge"),
    ])
    .map(|s| match s.as_str() {
        "expunge" => DeleteMode::Expunge,
        _ => DeleteMode::FlagOnly,
    })
}

fn identity_parser() -> impl TypedValueParser<Value = Identity> {
    PossibleValuesParser::new([
        PossibleValue::new("content").help("the content hash, exact or normalised"),
        PossibleValue::new("headers")
            .help("content, then Message-ID + Date + From + size (servers that rebuild messages)"),
    ])
    .map(|s| match s.as_str() {
        "headers" => Identity::Headers,
        _ => Identity::Content,
    })
}

fn one_way_parser() -> impl TypedValueParser<Value = OneWay> {
    PossibleValuesParser::new([
        PossibleValue::new("a-to-b").help("A is the source, B the target"),
        PossibleValue::new("b-to-a").help("B is the source, A the target"),
    ])
    .map(|s| match s.as_str() {
        "a-to-b" => OneWay::AToB,
        _ => OneWay::BToA,
    })
}

/// `--shard i/n`: this process runs the pairs of shard `i` (0-based) of `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad =
            || format!("'{s}': expected i/n with 0 <= i < n, e.g. 0/4 (the index is 0-based)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) =
            (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("imapmend").chain(args.iter().copied()))
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_minimal_plan_takes_defaults() {
        let cli = parse(&["plan", "--a", "imaps://u@a", "--b", "imap://v@b"]).unwrap();
        assert!(matches!(cli.verb, Verb::Plan(_)));
        let c = cli.common().unwrap();
        assert_eq!(
            (c.a.as_deref(), c.b.as_deref()),
            (Some("imaps://u@a"), Some("imap://v@b"))
        );
        assert_eq!((&c.state, &c.config), (&None, &None));
        assert!(!c.json && !c.allow_plaintext_auth && !c.delete_mailboxes && !c.delete_extra);
        assert_eq!(c.deletes, None, "the default is config's to apply");
        assert_eq!(
            (c.prefer, c.restored, c.one_way, c.max_delete),
            (None, None, None, None)
        );
        assert_eq!((c.verbose, c.quiet), (0, false));
    }

    #[test]
    fn cli_every_option_parses_with_its_contract_spelling() {
        let cli = parse(&[
            "sync",
            "--a",
            "imap://u@a",
            "--b",
            "imap://v@b",
            "--state",
            "/tmp/s.sqlite",
            "--json",
            "--a-tls",
            "none",
            "--b-tls",
            "implicit",
            "--a-ca-file",
            "/ca/a.pem",
            "--b-ca-file",
            "/ca/b.pem",
            "--a-password-file",
            "/pw/a",
            "--b-password-command",
            "pass show b",
            "--allow-plaintext-auth",
            "--prefer",
            "b",
            "--max-delete",
            "25%",
            "--restored",
            "a",
            "--deletes",
            "flag-only",
            "--delete-mailboxes",
            "--one-way",
            "a-to-b",
            "--delete-extra",
            "-vv",
        ])
        .unwrap();
        assert!(matches!(cli.verb, Verb::Sync(_)));
        let c = cli.common().unwrap();
        assert_eq!(
            c.state.as_deref(),
            Some(std::path::Path::new("/tmp/s.sqlite"))
        );
        assert!(c.json && c.allow_plaintext_auth && c.delete_mailboxes && c.delete_extra);
        assert_eq!(
            (c.a_tls, c.b_tls),
            (Some(TlsMode::None), Some(TlsMode::Implicit))
        );
        let a = c.endpoint(Side::A);
        let b = c.endpoint(Side::B);
        assert_eq!(a.ca_file, Some(std::path::Path::new("/ca/a.pem")));
        assert_eq!(b.ca_file, Some(std::path::Path::new("/ca/b.pem")));
        assert_eq!(a.password_file, Some(std::path::Path::new("/pw/a")));
        assert_eq!(b.password_command, Some("pass show b"));
        assert_eq!((c.prefer, c.restored), (Some(Side::B), Some(Side::A)));
        assert_eq!(c.max_delete, Some(MaxDelete::Percent(25)));
        assert_eq!(c.deletes, Some(DeleteMode::FlagOnly));
        assert_eq!(c.one_way, Some(OneWay::AToB));
        assert_eq!(c.verbose, 2);
    }

    #[test]
    fn cli_every_run_verb_takes_verify() {
        for verb in ["check", "plan", "sync"] {
            let cli =
                parse(&[verb, "--a", "imaps://u@a", "--b", "imaps://v@b", "--verify"]).unwrap();
            assert!(cli.common().is_some_and(|c| c.verify), "{verb}");
        }
    }

    #[test]
    fn cli_refuses_bad_combinations_and_values() {
        let base = ["plan", "--a", "imaps://u@a", "--b", "imaps://v@b"];
        let with = |extra: &[&str]| parse(&[&base[..], extra].concat());
        // --b may come from --config, and --delete-extra's --one-way too:
        // config::resolve checks those after merging.
        assert!(parse(&["plan", "--a", "imaps://u@a"]).is_ok());
        assert!(with(&["--delete-extra"]).is_ok());
        assert!(with(&["--one-way", "b-to-a", "--delete-extra"]).is_ok());
        assert!(with(&["--a-password-file", "f", "--a-password-command", "c"]).is_err());
        assert!(with(&["--b-password-file", "f", "--b-password-command", "c"]).is_err());
        assert!(with(&["--a-password-file", "f", "--b-password-command", "c"]).is_ok());
        assert!(with(&["-v", "-q"]).is_err());
        assert!(with(&["--prefer", "c"]).is_err());
        assert!(with(&["--a-tls", "ssl"]).is_err());
        assert!(with(&["--deletes", "purge"]).is_err());
        assert!(with(&["--one-way", "a-b"]).is_err());
        assert!(with(&["--max-delete", "0%"]).is_err());
        assert!(with(&["--max-delete", "many"]).is_err());
        assert!(
            with(&["--password", "x"]).is_err(),
            "there is no --password"
        );
    }

    #[test]
    fn cli_shard_is_a_0_based_index_of_a_count() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard { index: 2, count: 4 }.to_string(), "2/4");
        for bad in ["4/4", "1/0", "a/b", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cli_long_help_says_where_passwords_come_from() {
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("sync")
            .unwrap()
            .render_long_help()
            .to_string();
        for needle in [
            "IMAPMEND_A_PASSWORD",
            "IMAPMEND_B_PASSWORD",
            "--a-password-file",
            "--a-password-command",
            "never accepted on the command line",
        ] {
            assert!(help.contains(needle), "long help lacks {needle}:\n{help}");
        }
    }
}
