//! The command line over the config file: each setting from the command
//! line when given, else from the file, else its default, and for each side
//! the [`Place`] its value came from so that an error can name it (`--a`, or
//! `job.toml:7: a.url`).
//!
//! This module picks values; it does not interpret them. URLs and TLS are
//! [`super::endpoint`]'s, password sources [`super::password`]'s.

use super::file::FilePolicy;
use super::password::{file_password, password_var, PasswordSource};
use super::{ConfigError, ConfigFile};
use crate::cli::{side_option, CommonArgs, EndpointArgs};
use crate::imap::{AuthMethod, CertPin, TlsMode};
use crate::job::{PolicyOptions, DEFAULT_TOMBSTONE_DAYS};
use crate::mailbox_filter::MailboxFilter;
use crate::model::{DeleteMode, Identity, NameRules, OneWay, Side};
use std::fmt;
use std::path::PathBuf;

/// `--connections` (checked by clap), else the config file's (checked
/// here), else [`crate::pool::DEFAULT_CONNECTIONS`].
pub(super) fn connections(c: &CommonArgs, file: Option<&ConfigFile>) -> Result<u32, ConfigError> {
    if let Some(n) = c.connections {
        return Ok(n);
    }
    let Some((f, n)) = file.and_then(|f| Some((f, f.content.connections.as_ref()?))) else {
        return Ok(crate::pool::DEFAULT_CONNECTIONS);
    };
    let max = crate::pool::MAX_CONNECTIONS;
    if !(1..=max).contains(n.get_ref()) {
        return Err(ConfigError::Options(format!(
            "{}: {} is not a number of connections per server from 1 to {max}",
            f.place(n.span(), "connections"),
            n.get_ref()
        )));
    }
    Ok(*n.get_ref())
}

/// The command line's policies over the config file's `[policy]`.
pub(super) fn policy_options(
    c: &CommonArgs,
    file: Option<&ConfigFile>,
) -> Result<PolicyOptions, ConfigError> {
    let p = file.and_then(|f| f.content.policy.as_ref());
    let from_file = |get: &dyn Fn(&FilePolicy) -> Option<bool>| p.and_then(get) == Some(true);
    let options = PolicyOptions {
        prefer: c.prefer.or(p.and_then(|p| p.prefer).map(Side::from)),
        max_delete: c
            .max_delete
            .or(p.and_then(|p| p.max_delete.as_ref()).map(|m| m.get_ref().0)),
        restored: c.restored.or(p.and_then(|p| p.restored).map(Side::from)),
        deletes: c
            .deletes
            .or(p.and_then(|p| p.deletes).map(DeleteMode::from))
            .unwrap_or(DeleteMode::Expunge),
        delete_mailboxes: c.delete_mailboxes || from_file(&|p| p.delete_mailboxes),
        identity: c
            .identity
            .or(p.and_then(|p| p.identity).map(Identity::from))
            .unwrap_or_default(),
        expunge_to: c
            .expunge_to
            .clone()
            .or(p.and_then(|p| p.expunge_to.clone())),
        quarantine_days: c.quarantine_days.or(p.and_then(|p| p.quarantine_days)),
        // imapsync copies host1 → host2 only; its spellings mean the same.
        one_way: c
            .one_way
            .or(p.and_then(|p| p.one_way).map(OneWay::from))
            .or(c.imapsync.names_a_server().then_some(OneWay::AToB)),
        delete_extra: c.delete_extra || c.imapsync.delete2 || from_file(&|p| p.delete_extra),
        tombstones: !c.no_tombstones && p.and_then(|p| p.tombstones) != Some(false),
        tombstone_days: c
            .tombstone_days
            .or(p.and_then(|p| p.tombstone_days))
            .unwrap_or(DEFAULT_TOMBSTONE_DAYS),
        drop_restored_extras: c.drop_restored_extras || from_file(&|p| p.drop_restored_extras),
        max_size: c
            .max_size
            .or(p.and_then(|p| p.max_size.as_ref()).map(|m| m.get_ref().0)),
        retry_refused: c.retry_refused,
        mailboxes: mailbox_filter(c, file),
        names: name_rules(c, file)?,
    };
    let mut options = options;
    if let Some(q) = &options.expunge_to {
        quarantine_name(q).map_err(ConfigError::Options)?;
        // Left out of every run: never copied, never reconciled.
        let q = regex::escape(q);
        options.mailboxes.exclude.push(format!("^{q}$"));
    }
    if options.quarantine_days.is_some() && options.expunge_to.is_none() {
        return Err(ConfigError::Options(
            "--quarantine-days (quarantine_days in the config file) purges the quarantine \
             of --expunge-to MAILBOX (expunge_to), which is not given"
                .into(),
        ));
    }
    options.mailboxes.compile().map_err(ConfigError::Options)?;
    if options.delete_extra && options.one_way.is_none() {
        return Err(ConfigError::Options(
            "--delete-extra (delete_extra in the config file) only applies with \
             --one-way a-to-b|b-to-a"
                .into(),
        ));
    }
    Ok(options)
}

/// `--expunge-to`'s mailbox: a top-level name the same on both sides (under
/// each side's prefix), so it needs no mapping.
fn quarantine_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 200
        && name.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && !name.contains(['/', '.', '\\', '*', '%', '"'])
        && !name.eq_ignore_ascii_case("INBOX");
    if plain {
        Ok(())
    } else {
        Err(format!(
            "--expunge-to {name:?}: give a top-level mailbox name of plain ASCII, without \
             '/', '.', '\\', '*', '%' or '\"', and not INBOX"
        ))
    }
}

/// The command line's mailbox selection, each list replacing the config
/// file's `[mailboxes]` list of the same name when given.
fn mailbox_filter(c: &CommonArgs, file: Option<&ConfigFile>) -> MailboxFilter {
    let m = file.and_then(|f| f.content.mailboxes.as_ref());
    let pick = |cli: &Vec<String>, from_file: Option<&Vec<String>>| {
        if cli.is_empty() {
            from_file.cloned().unwrap_or_default()
        } else {
            cli.clone()
        }
    };
    MailboxFilter {
        folders: pick(&c.folder, m.and_then(|m| m.folder.as_ref())),
        folders_recursive: pick(&c.folderrec, m.and_then(|m| m.folderrec.as_ref())),
        include: pick(&c.include, m.and_then(|m| m.include.as_ref())),
        exclude: pick(&c.exclude, m.and_then(|m| m.exclude.as_ref())),
    }
}

/// `--a-prefix`, `--b-prefix` and `--map A=B`, each replacing the config
/// file's `[mailboxes]` key of the same name when given.
fn name_rules(c: &CommonArgs, file: Option<&ConfigFile>) -> Result<NameRules, ConfigError> {
    let m = file.and_then(|f| f.content.mailboxes.as_ref());
    let maps = match (c.map.is_empty(), m.and_then(|m| m.map.as_ref())) {
        (true, Some(from_file)) => from_file,
        _ => &c.map,
    };
    let maps = maps
        .iter()
        .map(|m| match m.split_once('=') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok([a.to_string(), b.to_string()]),
            _ => Err(ConfigError::Options(format!(
                "--map {m:?}: give A's name and B's name, e.g. --map \"Sent Items=Sent\""
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NameRules {
        prefixes: [
            c.a_prefix.as_ref().or(m.and_then(|m| m.a_prefix.as_ref())),
            c.b_prefix.as_ref().or(m.and_then(|m| m.b_prefix.as_ref())),
        ]
        .map(|p| p.cloned().unwrap_or_default()),
        maps,
    })
}

/// Where a side's setting came from: a command-line option (`--a`, named by
/// side) or a line of the config file (`job.toml:7: a.url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    Cli(Side),
    File(String),
}

impl Place {
    pub(super) fn file(
        file: &ConfigFile,
        span: std::ops::Range<usize>,
        side: Side,
        key: &str,
    ) -> Place {
        Place::File(file.place(span, &format!("{}.{key}", side_option(side))))
    }

    /// How to name a setting in a message: its option or its file key.
    pub(super) fn spell(&self, side: Side, option: &str, key: &str) -> String {
        match self {
            Place::Cli(_) => format!("--{}-{option}", side_option(side)),
            Place::File(_) => key.to_string(),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Cli(side) => write!(f, "--{}", side_option(*side)),
            Place::File(at) => f.write_str(at),
        }
    }
}

/// One side's settings: the command line over the config file, each value
/// with its place. Nothing is read or run yet.
#[derive(Debug, Clone)]
pub(super) struct SideSettings {
    pub(super) side: Side,
    pub(super) url: (String, Place),
    pub(super) tls: Option<(TlsMode, Place)>,
    pub(super) ca_file: Option<(PathBuf, Place)>,
    /// `--a-fingerprint` (all of them) / the file's `fingerprint`.
    pub(super) pins: Option<(Vec<CertPin>, Place)>,
    pub(super) password: Option<(PasswordSource, Place)>,
    /// `--a-tunnel COMMAND` / the file's `tunnel`.
    pub(super) tunnel: Option<(String, Place)>,
}

impl SideSettings {
    /// A token command means OAuth 2.0; every other source is a password.
    pub(super) fn auth_method(&self) -> AuthMethod {
        match &self.password {
            Some((PasswordSource::TokenCommand(_), _)) => AuthMethod::OAuth2,
            _ => AuthMethod::Password,
        }
    }
}

pub(super) fn side_settings(
    side: Side,
    common: &CommonArgs,
    file: Option<&ConfigFile>,
) -> Result<SideSettings, ConfigError> {
    let args = common.endpoint(side);
    let fe = file.and_then(|f| f.endpoint(side).map(|e| (f, e)));
    let s = side_option(side);
    let at = |span, key: &str| match fe {
        Some((f, _)) => Place::file(f, span, side, key),
        None => Place::Cli(side),
    };

    if args.password_given {
        let n = side.index() + 1;
        return Err(ConfigError::Password {
            place: format!("--password{n}"),
            reason: format!(
                "passwords are never accepted on the command line (other users can read \
                 it); put it in a file for --passfile{n} FILE, or set {}",
                password_var(side)
            ),
        });
    }
    let url = match (
        args.url,
        imapsync_url(side, &args)?,
        fe.and_then(|(_, e)| e.url.as_ref()),
    ) {
        (Some(url), _, _) => (url.to_string(), Place::Cli(side)),
        (None, Some(url), _) => (url, Place::Cli(side)),
        (None, None, Some(url)) => (url.get_ref().clone(), at(url.span(), "url")),
        (None, None, None) => {
            return Err(ConfigError::Options(format!(
                "no server {}: give --{s} URL{}",
                side.letter(),
                if file.is_some() {
                    format!(", or `url` under [{s}] in the config file")
                } else {
                    String::new()
                }
            )))
        }
    };
    let imapsync_tls = if args.ssl {
        Some(TlsMode::Implicit)
    } else if args.starttls {
        Some(TlsMode::StartTls)
    } else {
        None
    };
    let tls = match (
        args.tls.or(imapsync_tls),
        fe.and_then(|(_, e)| e.tls.as_ref()),
    ) {
        (Some(t), _) => Some((t, Place::Cli(side))),
        (None, Some(t)) => Some(((*t.get_ref()).into(), at(t.span(), "tls"))),
        (None, None) => None,
    };
    let ca_file = match (args.ca_file, fe.and_then(|(_, e)| e.ca_file.as_ref())) {
        (Some(p), _) => Some((p.to_path_buf(), Place::Cli(side))),
        (None, Some(p)) => Some((p.get_ref().clone(), at(p.span(), "ca_file"))),
        (None, None) => None,
    };
    let pins = match (
        args.fingerprint,
        fe.and_then(|(_, e)| e.fingerprint.as_ref()),
    ) {
        (given, _) if !given.is_empty() => Some((given.to_vec(), Place::Cli(side))),
        (_, Some(list)) => {
            let place = at(list.span(), "fingerprint");
            let pins = list
                .get_ref()
                .iter()
                .map(|spec| CertPin::parse(spec))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|reason| ConfigError::Endpoint {
                    place: place.to_string(),
                    reason,
                })?;
            (!pins.is_empty()).then_some((pins, place))
        }
        _ => None,
    };

    let tunnel = match (args.tunnel, fe.and_then(|(_, e)| e.tunnel.as_ref())) {
        (Some(c), _) => Some((c.to_string(), Place::Cli(side))),
        (None, Some(c)) => Some((c.get_ref().clone(), at(c.span(), "tunnel"))),
        (None, None) => None,
    };
    if let Some((command, place)) = &tunnel {
        if command.trim().is_empty() {
            return Err(ConfigError::Endpoint {
                place: place.to_string(),
                reason: "the tunnel command is empty".into(),
            });
        }
    }

    let cli_password = match (args.password_file.or(args.passfile), args.password_command) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Password {
                place: Place::Cli(side).to_string(),
                reason: format!(
                    "give either --{s}-password-file or --{s}-password-command, not both"
                ),
            })
        }
        (Some(p), None) => Some(PasswordSource::File(p.to_path_buf())),
        (None, Some(c)) => Some(PasswordSource::Command(c.to_string())),
        (None, None) => args
            .oauth2_token_command
            .map(|c| PasswordSource::TokenCommand(c.to_string())),
    };
    let password = match (cli_password, fe) {
        (Some(source), _) => Some((source, Place::Cli(side))),
        (None, Some((f, e))) => file_password(side, f, e)?,
        (None, None) => None,
    };
    // The file's `password = …` is refused even when the command line gives
    // another source: a secret sitting in a config file is the mistake.
    if let Some((f, e)) = fe {
        if let Some(p) = &e.password {
            return Err(ConfigError::Password {
                place: Place::file(f, p.span(), side, "password").to_string(),
                reason: "passwords are never accepted in the config file (nor on the command \
                         line); use password_file, password_command or password_env"
                    .into(),
            });
        }
    }
    Ok(SideSettings {
        side,
        url,
        tls,
        ca_file,
        pins,
        password,
        tunnel,
    })
}

/// The URL that imapsync's `--hostN`, `--userN`, `--portN` and `--sslN`
/// describe, if any of them is given.
fn imapsync_url(side: Side, args: &EndpointArgs<'_>) -> Result<Option<String>, ConfigError> {
    let n = side.index() + 1;
    let (host, user) = match (args.host, args.user) {
        (None, None) if args.port.is_none() && !args.ssl && !args.starttls => return Ok(None),
        (Some(h), Some(u)) => (h, u),
        (None, _) => {
            return Err(ConfigError::Options(format!(
                "--host{n} is missing (--user{n}, --port{n}, --ssl{n} and --tls{n} go with it)"
            )))
        }
        (Some(_), None) => {
            return Err(ConfigError::Options(format!(
                "--user{n} is missing: --host{n} needs it"
            )))
        }
    };
    // The user is percent-encoded so that `@`, `:` or `%` in it survive;
    // an IPv6 address gets its brackets.
    let user: String = user
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let scheme = if args.ssl { "imaps" } else { "imap" };
    let port = args.port.map_or(String::new(), |p| format!(":{p}"));
    Ok(Some(format!("{scheme}://{user}@{host}{port}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::config::tests::*;

    /// `--expunge-to` takes one plain top-level name, and leaves it out of
    /// the run by that exact name only.
    #[test]
    fn expunge_to_is_a_plain_top_level_name_left_out_of_the_run() {
        assert!(quarantine_name("Quarantine").is_ok());
        assert!(quarantine_name("Held back").is_ok());
        for bad in ["", "a/b", "a.b", "INBOX", "inbox", "Q*", "Q%", "Qü"] {
            assert!(quarantine_name(bad).is_err(), "{bad:?}");
        }
        let filter = MailboxFilter {
            exclude: vec![format!("^{}$", regex::escape("Quarantine"))],
            ..MailboxFilter::default()
        };
        let compiled = filter.compile().unwrap();
        assert!(!compiled.selects("Quarantine"));
        assert!(compiled.selects("Quarantined mail") && compiled.selects("INBOX"));
    }
    use crate::config::DEFAULT_RETRIES;
    use crate::job::Command;
    use crate::model::MaxDelete;
    use clap::Parser;

    #[test]
    fn retries_come_from_the_command_line_the_file_or_the_default() {
        let text = format!("retries = 5\n{JOB}");
        let env = env_of(&[("ALICE_B", "pw"), ("HOME", "/h")]);
        let retries = |extra: &[&str]| {
            let (dir, c) = with_file(&text, "sync", extra);
            std::fs::write(dir.path().join("a.pw"), "pw\n").unwrap();
            resolve_env(&c, &env).unwrap().retries
        };
        assert_eq!(retries(&[]), 5);
        assert_eq!(retries(&["--retries", "0"]), 0);
        let (dir, c) = with_file(JOB, "sync", &[]);
        std::fs::write(dir.path().join("a.pw"), "pw\n").unwrap();
        let job = resolve_env(&c, &env).unwrap();
        assert_eq!(job.retries, DEFAULT_RETRIES);
        // The servers' lock is named after both endpoints, beside the
        // default snapshot, whatever --state says.
        let lock = job.servers_lock.unwrap();
        assert!(lock.starts_with("/h/.local/state/imapmend"), "{lock:?}");
        assert!(
            lock.to_string_lossy().ends_with(".sqlite.sync.lock"),
            "{lock:?}"
        );
    }

    #[test]
    fn connections_come_from_the_command_line_the_file_or_the_default_within_1_to_16() {
        let env = env_of(&[("ALICE_B", "pw"), ("HOME", "/h")]);
        let connections = |text: &str, extra: &[&str]| {
            let (dir, c) = with_file(text, "sync", extra);
            std::fs::write(dir.path().join("a.pw"), "pw\n").unwrap();
            resolve_env(&c, &env).map(|j| j.connections)
        };
        let text = format!("connections = 8\n{JOB}");
        assert_eq!(connections(&text, &[]).unwrap(), 8);
        assert_eq!(connections(&text, &["--connections", "1"]).unwrap(), 1);
        assert_eq!(
            connections(JOB, &[]).unwrap(),
            crate::pool::DEFAULT_CONNECTIONS
        );
        for wrong in ["0", "17"] {
            let text = format!("connections = {wrong}\n{JOB}");
            let e = connections(&text, &[]).unwrap_err().to_string();
            assert!(
                e.ends_with(&format!(
                    "job.toml:1: connections: {wrong} is not a number of connections per server from 1 to 16"
                )),
                "{e}"
            );
            let args = ["imapmend", "plan", "--a", "imap://a@h", "--b", "imap://b@h"];
            let e = Cli::try_parse_from(args.iter().copied().chain(["--connections", wrong]))
                .unwrap_err()
                .to_string();
            assert!(e.contains("--connections") && e.contains("1..=16"), "{e}");
        }
    }

    /// `identity = "headers"` in `[policy]`, `--identity` over it, content
    /// by default, and a value of neither kind refused with the choices.
    #[test]
    fn identity_from_the_file_and_the_command_line() {
        let env = env_of(&[("ALICE_B", "pw-b"), ("HOME", "/h")]);
        let identity = |text: &str, args: &[&str]| {
            let (dir, c) = with_file(text, "plan", args);
            std::fs::write(dir.path().join("a.pw"), "pw\n").unwrap();
            resolve_env(&c, &env).map(|j| j.options.identity)
        };
        let headers = format!("{JOB}identity = \"headers\"\n");
        assert_eq!(identity(JOB, &[]).unwrap(), Identity::Content);
        assert_eq!(identity(&headers, &[]).unwrap(), Identity::Headers);
        assert_eq!(
            identity(&headers, &["--identity", "content"]).unwrap(),
            Identity::Content
        );
        let e = identity(&format!("{JOB}identity = \"header\"\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected `content` or `headers`"), "{e}");
    }

    #[test]
    fn config_file_restore_policies_and_the_command_line_over_them() {
        let text =
            format!("{JOB}tombstones = false\ntombstone_days = 30\ndrop_restored_extras = true\n");
        let env = env_of(&[("ALICE_B", "pw-b"), ("HOME", "/h")]);
        let (dir, c) = with_file(&text, "plan", &[]);
        std::fs::write(dir.path().join("a.pw"), "pw\n").unwrap();
        let o = resolve_env(&c, &env).unwrap().options;
        assert_eq!(
            (o.tombstones, o.tombstone_days, o.drop_restored_extras),
            (false, 30, true)
        );
        let (dir, c) = with_file(JOB, "plan", &["--tombstone-days", "7"]);
        std::fs::write(dir.path().join("a.pw"), "pw\n").unwrap();
        let o = resolve_env(&c, &env).unwrap().options;
        assert_eq!((o.tombstones, o.tombstone_days), (true, 7));
        let (dir, c) = with_file(&text, "plan", &["--tombstone-days", "0"]);
        std::fs::write(dir.path().join("a.pw"), "pw\n").unwrap();
        assert_eq!(resolve_env(&c, &env).unwrap().options.tombstone_days, 0);
        let (dir, c) = with_file(JOB, "plan", &[]);
        std::fs::write(dir.path().join("a.pw"), "pw\n").unwrap();
        assert_eq!(
            resolve_env(&c, &env).unwrap().options.tombstone_days,
            DEFAULT_TOMBSTONE_DAYS
        );
    }

    #[test]
    fn config_command_line_overrides_the_file_setting_by_setting() {
        let (dir, c) = with_file(
            JOB,
            "check",
            &[
                "--b",
                "imaps://carol@other.example",
                "--prefer",
                "a",
                "--deletes",
                "expunge",
                "--state",
                "/cli/state.sqlite",
                "--a-password-command",
                "echo from-command",
            ],
        );
        // a.pw does not exist: the command line's password source replaces
        // the file's, so it is never read.
        let env = env_of(&[("ALICE_B", "pw-b"), ("HOME", "/h")]);
        let job = resolve_env(&c, &env).unwrap();
        assert_eq!(job.endpoints[0].password.expose(), "from-command");
        assert_eq!(
            (
                job.endpoints[1].user.as_str(),
                job.endpoints[1].host.as_str()
            ),
            ("carol", "other.example")
        );
        assert_eq!(
            job.endpoints[1].tls,
            TlsMode::Implicit,
            "the file's tls still applies to B"
        );
        assert_eq!(job.endpoints[1].password.expose(), "pw-b");
        assert_eq!(job.state_path, PathBuf::from("/cli/state.sqlite"));
        assert_eq!(job.options.prefer, Some(Side::A));
        assert_eq!(job.options.max_delete, Some(MaxDelete::Count(25)));
        assert_eq!(job.options.deletes, DeleteMode::Expunge);
        drop(dir);
    }

    #[test]
    fn config_missing_endpoints_and_lonely_delete_extra_are_refused() {
        let c = cli(&["plan", "--a", "imaps://u@a.example"]);
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert_eq!(msg, "no server B: give --b URL");
        let msg = file_err("", &["--b", "imaps://u@b.example"]);
        assert_eq!(
            msg,
            "no server A: give --a URL, or `url` under [a] in the config file"
        );
        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &["--delete-extra"],
        );
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert!(msg.contains("only applies with --one-way"), "{msg}");
        // The file's one_way completes the command line's --delete-extra.
        let (_dir, c) = with_file(
            "[policy]\none_way = \"a-to-b\"\n",
            "sync",
            &[
                "--a",
                "imaps://u@a.example",
                "--b",
                "imaps://v@b.example",
                "--delete-extra",
            ],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(
            (job.options.one_way, job.options.delete_extra),
            (Some(OneWay::AToB), true)
        );
    }

    #[test]
    fn config_imapsync_spellings_build_endpoints_and_imply_one_way() {
        let c = cli(&[
            "sync",
            "--host1",
            "Old.Example.org",
            "--user1",
            "alice@example.org",
            "--ssl1",
            "--host2",
            "::1",
            "--port2",
            "1143",
            "--user2",
            "bob",
            "--tls2",
            "--passfile2",
            "/nonexistent/pw",
            "--delete2",
            "--exclude",
            "^Junk$",
            "--folderrec",
            "Archive",
        ]);
        // passfile2 is read last; the error proves it was taken as B's file.
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert!(
            msg.starts_with("--b: cannot read password file /nonexistent/pw"),
            "{msg}"
        );
        let c = cli(&[
            "sync",
            "--host1",
            "Old.Example.org",
            "--user1",
            "alice@example.org",
            "--ssl1",
            "--host2",
            "::1",
            "--port2",
            "1143",
            "--user2",
            "bob",
            "--delete2",
            "--exclude",
            "^Junk$",
            "--dry",
        ]);
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(job.command, Command::Plan, "--dry");
        let id = |i: usize| job.identities[i].to_string();
        assert_eq!(id(0), "imaps://alice@example.org@old.example.org:993");
        assert_eq!(id(1), "imap://bob@::1:1143");
        assert_eq!(job.endpoints[0].tls, TlsMode::Implicit);
        assert_eq!(job.endpoints[1].tls, TlsMode::StartTls);
        assert_eq!(job.options.one_way, Some(OneWay::AToB));
        assert!(job.options.delete_extra);
        assert_eq!(job.options.mailboxes.exclude, vec!["^Junk$".to_string()]);

        // An explicit --one-way wins over the implied one.
        let c = cli(&[
            "plan",
            "--host1",
            "a.example",
            "--user1",
            "u",
            "--b",
            "imaps://v@b.example",
            "--one-way",
            "b-to-a",
        ]);
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(job.options.one_way, Some(OneWay::BToA));
        // Without imapsync spellings nothing is implied.
        let c = plan("imaps://u@a.example", "imaps://v@b.example", &[]);
        assert_eq!(resolve_env(&c, &full_env()).unwrap().options.one_way, None);
    }

    #[test]
    fn config_file_mailboxes_are_replaced_list_by_list_by_the_command_line() {
        let (_dir, c) = with_file(
            "[mailboxes]\nexclude = [\"^Trash$\"]\nfolder = [\"INBOX\"]\n",
            "plan",
            &[
                "--a",
                "imaps://u@a.example",
                "--b",
                "imaps://v@b.example",
                "--exclude",
                "^Junk",
            ],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(
            job.options.mailboxes,
            MailboxFilter {
                folders: vec!["INBOX".into()],
                exclude: vec!["^Junk".into()],
                ..MailboxFilter::default()
            }
        );
    }

    #[test]
    fn prefixes_and_maps_come_from_the_command_line_or_the_file() {
        let (_dir, c) = with_file(
            "[mailboxes]\na_prefix = \"INBOX.\"\nmap = [\"Sent Items=Sent\"]\n",
            "plan",
            &[
                "--a",
                "imaps://u@a.example",
                "--b",
                "imaps://v@b.example",
                "--b-prefix",
                "INBOX/",
            ],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(
            job.options.names,
            NameRules {
                prefixes: ["INBOX.".into(), "INBOX/".into()],
                maps: vec![["Sent Items".into(), "Sent".into()]],
            }
        );
        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &["--map", "Sent Items"],
        );
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert!(msg.contains("--map \"Sent Items\""), "{msg}");
    }
}
