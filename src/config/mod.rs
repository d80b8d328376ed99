//! From parsed arguments to a runnable [`Job`]: endpoints resolved and
//! validated, passwords fetched from their one source, policies as values.
//!
//! This file is the entry point ([`resolve`]): it reads the config file,
//! merges it with the command line, checks everything that can be checked
//! without side effects for both sides, and only then fetches passwords.
//! The parts, one job a file: `file.rs` the TOML file's shape, `merge.rs`
//! the command line over the file (per side, each value with the place it
//! came from), `endpoint.rs` URL, TLS, tunnel and the plaintext guard,
//! `password.rs` password and token sources, `state_path.rs` where the
//! snapshot lives.
//!
//! It does not define options (that is [`crate::cli`]) nor the Job's types
//! (that is [`crate::job`]), and opens no connection. Every error names the
//! side's option (`--a: …`) or the file's line, and never contains a
//! password.

mod endpoint;
mod file;
mod merge;
mod password;
mod state_path;

pub use file::{ConfigFile, FileError};
pub use state_path::{default_state_path, locate_snapshot, SnapshotLocation};

use crate::cli::{Cli, Verb};
use crate::job::{Command, Job};
use crate::model::Side;
use endpoint::parse_endpoint;
use merge::{connections, policy_options, side_settings};
use password::{password, password_variables, PasswordSource};
use std::path::PathBuf;
use std::time::Duration;

/// `--retries` when neither the command line nor the config file says.
pub const DEFAULT_RETRIES: u32 = 2;

/// Why a command line (and config file) cannot become a [`Job`]. Exit code 3.
/// No variant ever holds a password, a password command's output, or a raw
/// URL (which might carry one). `place` says where the bad value came from:
/// `--a` for side A's command-line options, `job.toml:7: a.url` for a line of
/// the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL, TLS or CA settings of one side.
    #[error("{place}: {reason}")]
    Endpoint { place: String, reason: String },
    /// Where one side's password comes from.
    #[error("{place}: {reason}")]
    Password { place: String, reason: String },
    /// Options that do not fit together.
    #[error("{0}")]
    Options(String),
    #[error("no --state given and no default location: {0}")]
    StatePath(String),
    /// The config file cannot be read or does not fit the schema.
    #[error(transparent)]
    File(#[from] FileError),
}

/// Resolves with the process environment.
pub fn resolve(cli: &Cli) -> Result<Job, ConfigError> {
    resolve_with(cli, &|name| std::env::var(name).ok())
}

/// Resolves with `env` as the environment (passwords, `XDG_STATE_HOME`,
/// `HOME`), so tests need not touch the process environment.
///
/// The config file (`--config`) is read first; every command-line option
/// overrides the file's value for the same setting. Everything that can be
/// checked without side effects (URLs, TLS, the plaintext guard, option
/// combinations, the state path) is checked for both sides before any
/// password file is read or password command run.
pub fn resolve_with(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Job, ConfigError> {
    let (command, common) = match &cli.verb {
        Verb::Plan(c) => (Command::Plan, &c.common),
        // imapsync's --dry: show what would be done.
        Verb::Sync(c) if c.common.imapsync.dry => (Command::Plan, &c.common),
        Verb::Sync(c) => (Command::Sync, &c.common),
        Verb::Check(c) => (
            Command::Check {
                verify: c.common.verify,
            },
            &c.common,
        ),
        Verb::Undo(u) => (Command::Undo { apply: u.apply }, &u.common),
        Verb::Batch(_)
        | Verb::Snapshot(_)
        | Verb::Log(_)
        | Verb::Completions { .. }
        | Verb::Man { .. } => {
            return Err(ConfigError::Options(
                "this verb does not run against servers; only plan, sync and check resolve \
                 into a job"
                    .into(),
            ))
        }
    };
    let file = common.config.as_deref().map(ConfigFile::load).transpose()?;
    let file = file.as_ref();
    let options = policy_options(common, file)?;
    let allow_plaintext_auth = common.allow_plaintext_auth
        || file.and_then(|f| f.content.allow_plaintext_auth) == Some(true);

    let settings = [
        side_settings(Side::A, common, file)?,
        side_settings(Side::B, common, file)?,
    ];
    let urls = [
        parse_endpoint(&settings[0], allow_plaintext_auth)?,
        parse_endpoint(&settings[1], allow_plaintext_auth)?,
    ];
    let identities = [urls[0].identity(), urls[1].identity()];
    if identities[0] == identities[1] {
        return Err(ConfigError::Options(
            "--a and --b name the same account on the same server".into(),
        ));
    }
    let file_state = file.and_then(|f| f.content.state.as_ref().map(|s| s.get_ref().clone()));
    let default_state = default_state_path(&identities, env);
    let servers_lock = default_state.as_ref().ok().map(|p| {
        let mut name = p.clone().into_os_string();
        name.push(".sync.lock");
        PathBuf::from(name)
    });
    let state_path = match common.state.clone().or(file_state) {
        Some(p) => p,
        None => default_state?,
    };

    let [a, b] = urls;
    let hide_env = password_variables(&settings);
    let mut endpoints = [
        a.into_spec(
            password(&settings[0], env)?,
            settings[0].auth_method(),
            allow_plaintext_auth,
            &hide_env,
        ),
        b.into_spec(
            password(&settings[1], env)?,
            settings[1].auth_method(),
            allow_plaintext_auth,
            &hide_env,
        ),
    ];
    for (spec, set) in endpoints.iter_mut().zip(&settings) {
        spec.compress = !common.no_compress;
        if let Some((PasswordSource::TokenCommand(command), _)) = &set.password {
            let source = crate::secret::TokenCommand::new(command.clone(), spec.password.clone());
            spec.token_command = Some(std::sync::Arc::new(source));
        }
    }
    let verbosity = if common.quiet {
        -1
    } else {
        common.verbose.min(i8::MAX as u8) as i8
    };
    let (metrics, timeout) = match (&cli.verb, &command) {
        (Verb::Check(c), _) => (
            c.monitoring.metrics.clone(),
            c.timeout.map(Duration::from_secs),
        ),
        // Not `sync --dry`, which is a plan.
        (Verb::Sync(s), Command::Sync) => (s.monitoring.metrics.clone(), None),
        _ => (None, None),
    };
    let scrub = match (&cli.verb, &command) {
        (Verb::Check(c), _) => c.monitoring.scrub,
        (Verb::Sync(s), Command::Sync) => s.monitoring.scrub,
        _ => None,
    }
    .or_else(|| {
        matches!(command, Command::Sync | Command::Check { .. })
            .then(|| file.and_then(|f| f.content.scrub.map(|s| s.0)))
            .flatten()
    });
    Ok(Job {
        command,
        endpoints,
        identities,
        state_path,
        json: common.json,
        verify: common.verify,
        scrub,
        options,
        verbosity,
        metrics,
        timeout,
        save_plan: match &cli.verb {
            Verb::Plan(p) => p.save.clone(),
            _ => None,
        },
        expect_plan: match &cli.verb {
            Verb::Sync(s) if !s.common.imapsync.dry => s.expect_plan.clone(),
            _ => None,
        },
        servers_lock,
        retries: common
            .retries
            .or(file.and_then(|f| f.content.retries))
            .unwrap_or(DEFAULT_RETRIES),
        connections: connections(common, file)?,
        max_messages_per_second: common
            .max_messages_per_second
            .or(file.and_then(|f| f.content.max_messages_per_second))
            .filter(|n| *n > 0),
        max_bytes_per_second: common
            .max_bytes_per_second
            .or(file.and_then(|f| {
                f.content
                    .max_bytes_per_second
                    .as_ref()
                    .map(|b| b.get_ref().0)
            }))
            .map(|b| b.0),
        undo_run: match &cli.verb {
            Verb::Undo(u) => Some(u.run.clone()),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    //! Helpers every config test uses (a fake environment, command lines,
    //! a config file in a temporary directory), and the tests of a whole Job.
    use super::*;
    use crate::imap::{ConnectSpec, TlsMode};
    use crate::job::{PolicyOptions, DEFAULT_TOMBSTONE_DAYS};
    use crate::mailbox_filter::MailboxFilter;
    use crate::model::{ByteSize, DeleteMode, Identity, MaxDelete, NameRules, OneWay};
    use crate::snapshot::EndpointIdentity;
    use clap::Parser;
    use std::collections::HashMap;
    use std::path::Path;

    /// A fake environment: a fixed map, never the process's.
    pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    pub(super) fn full_env() -> impl Fn(&str) -> Option<String> {
        env_of(&[
            ("IMAPMEND_A_PASSWORD", "pw-a"),
            ("IMAPMEND_B_PASSWORD", "pw-b"),
            ("HOME", "/home/op"),
        ])
    }

    pub(super) fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("imapmend").chain(args.iter().copied())).unwrap()
    }

    pub(super) fn plan(a: &str, b: &str, extra: &[&str]) -> Cli {
        cli(&[&["plan", "--a", a, "--b", b][..], extra].concat())
    }

    pub(super) fn resolve_env(
        c: &Cli,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Job, ConfigError> {
        resolve_with(c, env)
    }

    pub(super) fn id(scheme: &str, host: &str, port: u16, user: &str) -> EndpointIdentity {
        EndpointIdentity {
            scheme: scheme.into(),
            host: host.into(),
            port,
            user: user.into(),
        }
    }

    /// The parts of a ConnectSpec that tests compare (Secret has no Eq).
    pub(super) fn spec_view(
        s: &ConnectSpec,
    ) -> (Side, &str, u16, &str, &str, TlsMode, Option<&Path>, bool) {
        (
            s.side,
            s.host.as_str(),
            s.port,
            s.user.as_str(),
            s.password.expose(),
            s.tls,
            s.ca_file.as_deref(),
            s.allow_plaintext_auth,
        )
    }

    pub(super) fn endpoint_err(url: &str, extra: &[&str]) -> String {
        let c = plan(url, "imaps://other@b.example", extra);
        resolve_env(&c, &full_env()).unwrap_err().to_string()
    }

    /// A config file in a temp dir, and a `verb --config FILE extra…` Cli.
    pub(super) fn with_file(text: &str, verb: &str, extra: &[&str]) -> (tempfile::TempDir, Cli) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.toml");
        std::fs::write(&path, text).unwrap();
        let c = cli(&[&[verb, "--config", path.to_str().unwrap()][..], extra].concat());
        (dir, c)
    }

    pub(super) fn file_err(text: &str, extra: &[&str]) -> String {
        let (dir, c) = with_file(text, "plan", extra);
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        // Messages name the file by the path given; strip the temp dir.
        msg.replace(&format!("{}/", dir.path().display()), "")
    }

    pub(super) const JOB: &str = r#"
state = "alice.sqlite"

[a]
url = "imaps://alice@old.example.org"
password_file = "a.pw"

[b]
url = "imap://alice@new.example.org:1143"
tls = "implicit"
password_env = "ALICE_B"

[policy]
prefer = "b"
max_delete = 25
deletes = "flag-only"
"#;

    #[test]
    fn config_same_account_twice_is_refused() {
        let c = plan("imaps://u@HOST.example", "imaps://u@host.example:993", &[]);
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert!(msg.contains("same account"), "{msg}");
    }

    #[test]
    fn config_policies_verbs_and_verbosity_carry_over() {
        let c = cli(&[
            "check",
            "--a",
            "imaps://u@a.example",
            "--b",
            "imaps://v@b.example",
            "--verify",
            "--prefer",
            "a",
            "--max-delete",
            "7",
            "--restored",
            "b",
            "--deletes",
            "flag-only",
            "--delete-mailboxes",
            "--identity",
            "headers",
            "--one-way",
            "b-to-a",
            "--delete-extra",
            "--no-tombstones",
            "--drop-restored-extras",
            "--max-size",
            "10M",
            "--retry-refused",
            "--json",
            "-q",
            "--state",
            "/tmp/x.sqlite",
        ]);
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(job.command, Command::Check { verify: true });
        assert_eq!(
            job.options,
            PolicyOptions {
                prefer: Some(Side::A),
                max_delete: Some(MaxDelete::Count(7)),
                restored: Some(Side::B),
                deletes: DeleteMode::FlagOnly,
                delete_mailboxes: true,
                identity: Identity::Headers,
                expunge_to: None,
                quarantine_days: None,
                one_way: Some(OneWay::BToA),
                delete_extra: true,
                tombstones: false,
                tombstone_days: DEFAULT_TOMBSTONE_DAYS,
                drop_restored_extras: true,
                max_size: Some(ByteSize(10 << 20)),
                retry_refused: true,
                mailboxes: MailboxFilter::default(),
                names: NameRules::default(),
            }
        );
        assert_eq!((job.json, job.verify, job.verbosity), (true, true, -1));
        assert_eq!(job.state_path, PathBuf::from("/tmp/x.sqlite"));
        assert_eq!(
            (OneWay::BToA.source(), OneWay::BToA.target()),
            (Side::B, Side::A)
        );

        let c = plan("imaps://u@a.example", "imaps://v@b.example", &["-vvv"]);
        assert_eq!(resolve_env(&c, &full_env()).unwrap().verbosity, 3);
        let c = cli(&[
            "sync",
            "--a",
            "imaps://u@a.example",
            "--b",
            "imaps://v@b.example",
        ]);
        assert_eq!(resolve_env(&c, &full_env()).unwrap().command, Command::Sync);
    }

    #[test]
    fn config_errors_and_debug_never_show_secrets() {
        let c = plan("imaps://u@a.example", "imaps://v@b.example", &[]);
        let env = env_of(&[
            ("IMAPMEND_A_PASSWORD", "sekrit-a"),
            ("IMAPMEND_B_PASSWORD", "sekrit-b"),
            ("HOME", "/h"),
        ]);
        let job = resolve_env(&c, &env).unwrap();
        let dump = format!("{job:?}");
        assert!(!dump.contains("sekrit"), "{dump}");
    }

    #[test]
    fn config_file_gives_a_whole_job_with_relative_paths_from_its_directory() {
        let (dir, c) = with_file(JOB, "sync", &[]);
        std::fs::write(dir.path().join("a.pw"), "pw-from-file\n").unwrap();
        let env = env_of(&[("ALICE_B", "pw-from-env"), ("HOME", "/h")]);
        let job = resolve_env(&c, &env).unwrap();
        assert_eq!(job.command, Command::Sync);
        assert_eq!(job.state_path, dir.path().join("alice.sqlite"));
        assert_eq!(
            spec_view(&job.endpoints[0]),
            (
                Side::A,
                "old.example.org",
                993,
                "alice",
                "pw-from-file",
                TlsMode::Implicit,
                None,
                false
            )
        );
        assert_eq!(
            spec_view(&job.endpoints[1]),
            (
                Side::B,
                "new.example.org",
                1143,
                "alice",
                "pw-from-env",
                TlsMode::Implicit,
                None,
                false
            )
        );
        assert_eq!(
            job.options,
            PolicyOptions {
                prefer: Some(Side::B),
                max_delete: Some(MaxDelete::Count(25)),
                deletes: DeleteMode::FlagOnly,
                ..PolicyOptions::default()
            }
        );
    }

    #[test]
    fn config_non_run_verbs_do_not_resolve() {
        let msg = resolve_env(&cli(&["completions", "bash"]), &full_env())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("does not run against servers"), "{msg}");
    }
}
