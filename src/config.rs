//! From parsed arguments to a runnable [`Job`]: endpoints resolved and
//! validated, passwords fetched from their one source, policies as values.
//!
//! This module owns URL interpretation (scheme, default port and TLS mode,
//! user), the password sources (file, command, environment), the plaintext
//! guard, the default snapshot location and how the command line and the
//! config file merge into [`PolicyOptions`]. It does not define options (that
//! is [`crate::cli`]) nor the Job's types (that is [`crate::job`]), and opens
//! no connection. Every error names the side's
//! option (`--a: …`) and never contains a password.

mod file;

pub use file::{ConfigFile, FileError};

use crate::cli::{side_option, Cli, CommonArgs, EndpointArgs, Verb};
use crate::imap::{AuthMethod, ConnectSpec, TlsMode, TunnelSpec};
use crate::job::{Command, Job, PolicyOptions, DEFAULT_TOMBSTONE_DAYS};
use crate::mailbox_filter::MailboxFilter;
use crate::model::{DeleteMode, NameRules, OneWay, Side};
use crate::secret::Secret;
use crate::snapshot::EndpointIdentity;
use file::{FileEndpoint, FilePolicy};
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
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
        Verb::Batch(_) | Verb::Snapshot(_) | Verb::Completions { .. } | Verb::Man { .. } => {
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
    let (metrics, timeout) = match &cli.verb {
        Verb::Check(c) => (c.metrics.clone(), c.timeout.map(Duration::from_secs)),
        _ => (None, None),
    };
    Ok(Job {
        command,
        endpoints,
        identities,
        state_path,
        json: common.json,
        verify: common.verify,
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
    })
}

/// `--connections` (checked by clap), else the config file's (checked
/// here), else [`crate::pool::DEFAULT_CONNECTIONS`].
fn connections(c: &CommonArgs, file: Option<&ConfigFile>) -> Result<u32, ConfigError> {
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
fn policy_options(c: &CommonArgs, file: Option<&ConfigFile>) -> Result<PolicyOptions, ConfigError> {
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
enum Place {
    Cli(Side),
    File(String),
}

impl Place {
    fn file(file: &ConfigFile, span: std::ops::Range<usize>, side: Side, key: &str) -> Place {
        Place::File(file.place(span, &format!("{}.{key}", side_option(side))))
    }

    /// How to name a setting in a message: its option or its file key.
    fn spell(&self, side: Side, option: &str, key: &str) -> String {
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

/// Where a side's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PasswordSource {
    File(PathBuf),
    Command(String),
    /// An environment variable named in the config file.
    Env(String),
    /// A command printing an OAuth 2.0 access token (SASL OAUTHBEARER or
    /// XOAUTH2 instead of a password).
    TokenCommand(String),
}

/// One side's settings: the command line over the config file, each value
/// with its place. Nothing is read or run yet.
#[derive(Debug, Clone)]
struct SideSettings {
    side: Side,
    url: (String, Place),
    tls: Option<(TlsMode, Place)>,
    ca_file: Option<(PathBuf, Place)>,
    password: Option<(PasswordSource, Place)>,
    /// `--a-tunnel COMMAND` / the file's `tunnel`.
    tunnel: Option<(String, Place)>,
}

impl SideSettings {
    /// A token command means OAuth 2.0; every other source is a password.
    fn auth_method(&self) -> AuthMethod {
        match &self.password {
            Some((PasswordSource::TokenCommand(_), _)) => AuthMethod::OAuth2,
            _ => AuthMethod::Password,
        }
    }
}

fn side_settings(
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

/// The one password source of `[a]` or `[b]`, if any.
fn file_password(
    side: Side,
    f: &ConfigFile,
    e: &FileEndpoint,
) -> Result<Option<(PasswordSource, Place)>, ConfigError> {
    let mut found = Vec::new();
    if let Some(p) = &e.password_file {
        found.push((
            PasswordSource::File(p.get_ref().clone()),
            Place::file(f, p.span(), side, "password_file"),
        ));
    }
    if let Some(c) = &e.password_command {
        found.push((
            PasswordSource::Command(c.get_ref().clone()),
            Place::file(f, c.span(), side, "password_command"),
        ));
    }
    if let Some(v) = &e.password_env {
        found.push((
            PasswordSource::Env(v.get_ref().clone()),
            Place::file(f, v.span(), side, "password_env"),
        ));
    }
    if let Some(t) = &e.oauth2_token_command {
        found.push((
            PasswordSource::TokenCommand(t.get_ref().clone()),
            Place::file(f, t.span(), side, "oauth2_token_command"),
        ));
    }
    if found.len() > 1 {
        return Err(ConfigError::Password {
            place: found[1].1.to_string(),
            reason: format!(
                "[{}] gives more than one of password_file, password_command, \
                 password_env and oauth2_token_command; keep one",
                side_option(side)
            ),
        });
    }
    Ok(found.pop())
}

/// One side's URL and TLS options, validated; no password yet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    side: Side,
    scheme: String,
    /// Lower-cased; IPv6 without brackets, in canonical form.
    host: String,
    port: u16,
    user: String,
    tls: TlsMode,
    ca_file: Option<PathBuf>,
    tunnel: Option<String>,
}

impl Endpoint {
    fn identity(&self) -> EndpointIdentity {
        EndpointIdentity {
            scheme: self.scheme.clone(),
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
        }
    }

    /// `hide_env`: the variables that hold passwords, kept from a tunnel
    /// command.
    fn into_spec(
        self,
        password: Secret,
        auth: AuthMethod,
        allow_plaintext_auth: bool,
        hide_env: &[String],
    ) -> ConnectSpec {
        ConnectSpec {
            side: self.side,
            host: self.host,
            port: self.port,
            user: self.user,
            password,
            auth,
            tls: self.tls,
            ca_file: self.ca_file,
            allow_plaintext_auth,
            compress: true,
            tunnel: self.tunnel.map(|command| TunnelSpec {
                command,
                hide_env: hide_env.to_vec(),
            }),
            token_command: None,
        }
    }
}

const URL_FORM: &str = "expected imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]";

/// Parses and checks one side's URL and TLS settings. Messages never echo
/// the URL: it might hold a password.
fn parse_endpoint(set: &SideSettings, allow_plaintext_auth: bool) -> Result<Endpoint, ConfigError> {
    let side = set.side;
    let (raw, url_place) = &set.url;
    let fail = |reason: String| ConfigError::Endpoint {
        place: url_place.to_string(),
        reason,
    };
    let url = url::Url::parse(raw.trim()).map_err(|e| fail(format!("{URL_FORM} ({e})")))?;

    if url.password().is_some() {
        let s = side_option(side);
        let (where_, sources) = match url_place {
            Place::Cli(_) => (
                "on the command line",
                format!(
                    "{}, --{s}-password-file or --{s}-password-command",
                    password_var(side)
                ),
            ),
            Place::File(_) => (
                "in the config file",
                "password_file, password_command or password_env".to_string(),
            ),
        };
        return Err(ConfigError::Password {
            place: url_place.to_string(),
            reason: format!(
                "the URL contains a password; passwords are never accepted {where_}. Remove \
                 it from the URL and use {sources}"
            ),
        });
    }
    let (default_tls, default_port) = match url.scheme() {
        "imaps" => (TlsMode::Implicit, 993),
        "imap" => (TlsMode::StartTls, 143),
        other => return Err(fail(format!("unsupported scheme '{other}:'; {URL_FORM}"))),
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(fail(format!(
            "a mailbox path, query or fragment is not supported; {URL_FORM}"
        )));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => domain(d).map_err(fail)?,
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(fail(format!("no host; {URL_FORM}"))),
    };
    let port = match url.port() {
        Some(0) => return Err(fail("port 0 is not a usable port".into())),
        Some(p) => p,
        None => default_port,
    };
    let user = percent_decode(url.username())
        .ok_or_else(|| fail("the user name is not valid percent-encoded UTF-8".into()))?;
    if user.is_empty() {
        return Err(fail(format!("no user name; {URL_FORM}")));
    }

    if let Some((_, tunnel_place)) = &set.tunnel {
        // The command carries the connection: no TLS of ours, no TCP
        // address to judge for plaintext.
        for (given, what) in [
            (
                set.tls
                    .as_ref()
                    .filter(|(t, _)| *t != TlsMode::None)
                    .map(|(_, p)| p),
                ("tls", "tls"),
            ),
            (set.ca_file.as_ref().map(|(_, p)| p), ("ca-file", "ca_file")),
        ] {
            if let Some(place) = given {
                return Err(ConfigError::Endpoint {
                    place: place.to_string(),
                    reason: format!(
                        "{} makes no sense with {}: the tunnel command carries the \
                         connection (TLS over a tunnel is not supported)",
                        place.spell(side, what.0, what.1),
                        tunnel_place.spell(side, "tunnel", "tunnel"),
                    ),
                });
            }
        }
        return Ok(Endpoint {
            side,
            scheme: url.scheme().to_string(),
            host,
            port,
            user,
            tls: TlsMode::None,
            ca_file: None,
            tunnel: set.tunnel.as_ref().map(|(c, _)| c.clone()),
        });
    }
    let (tls, tls_place) = match &set.tls {
        Some((t, place)) => (*t, place),
        None => (default_tls, url_place),
    };
    if tls == TlsMode::None {
        if let Some((_, ca_place)) = &set.ca_file {
            return Err(ConfigError::Endpoint {
                place: ca_place.to_string(),
                reason: format!(
                    "{} makes no sense with {}",
                    ca_place.spell(side, "ca-file", "ca_file"),
                    match tls_place {
                        Place::Cli(_) => format!("--{}-tls none", side_option(side)),
                        Place::File(_) => "tls = \"none\"".into(),
                    }
                ),
            });
        }
        if !allow_plaintext_auth && !is_loopback(&host) {
            return Err(ConfigError::Endpoint {
                place: tls_place.to_string(),
                reason: format!(
                    "refusing to send the password unencrypted to {host}, which is not a \
                     loopback address ({}). Use TLS (imaps://, or imap:// with STARTTLS), or \
                     pass --allow-plaintext-auth (allow_plaintext_auth = true in the config \
                     file) if the network path is trusted",
                    match tls_place {
                        Place::Cli(_) => format!("--{}-tls none", side_option(side)),
                        Place::File(_) => "tls = \"none\"".into(),
                    }
                ),
            });
        }
    }
    Ok(Endpoint {
        side,
        scheme: url.scheme().to_string(),
        host,
        port,
        user,
        tls,
        ca_file: set.ca_file.as_ref().map(|(p, _)| p.clone()),
        tunnel: None,
    })
}

/// A host name as the `url` crate leaves it for a non-special scheme: opaque,
/// not lower-cased, possibly percent-encoded. Only plain ASCII names pass.
fn domain(d: &str) -> Result<String, String> {
    let ok = d
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if d.is_empty() || !ok {
        return Err(format!(
            "the host name '{d}' is not a plain ASCII name (use the xn-- form for \
             international names)"
        ));
    }
    Ok(d.to_ascii_lowercase())
}

/// Whether a password may go to `host` in clear without
/// `--allow-plaintext-auth`: 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost.
fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "localhost." {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip == Ipv6Addr::LOCALHOST || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One side's password, from exactly one source: the command line's file or
/// command, else the config file's, else `IMAPMEND_A_PASSWORD`.
fn password(
    set: &SideSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, ConfigError> {
    let side = set.side;
    let s = side_option(side);
    let (password, place, source) = match &set.password {
        Some((PasswordSource::File(path), place)) => {
            let fail = |reason| ConfigError::Password {
                place: place.to_string(),
                reason,
            };
            (
                password_from_file(path).map_err(fail)?,
                place,
                format!(
                    "{} {}",
                    place.spell(side, "password-file", "password_file"),
                    path.display()
                ),
            )
        }
        Some((PasswordSource::Command(cmd), place)) => {
            let fail = |reason| ConfigError::Password {
                place: place.to_string(),
                reason,
            };
            (
                crate::secret::from_command(cmd, "password").map_err(fail)?,
                place,
                place.spell(side, "password-command", "password_command"),
            )
        }
        Some((PasswordSource::TokenCommand(cmd), place)) => {
            let fail = |reason| ConfigError::Password {
                place: place.to_string(),
                reason,
            };
            (
                crate::secret::from_command(cmd, "token").map_err(fail)?,
                place,
                place.spell(side, "oauth2-token-command", "oauth2_token_command"),
            )
        }
        Some((PasswordSource::Env(var), place)) => match env(var) {
            Some(p) => (p, place, var.clone()),
            None => {
                return Err(ConfigError::Password {
                    place: place.to_string(),
                    reason: format!("no password: the environment variable {var} is not set"),
                })
            }
        },
        None => {
            let var = password_var(side);
            match env(&var) {
                Some(p) => (p, &Place::Cli(side), var),
                // A tunnel's server may greet with PREAUTH: no password
                // needed (the login says so if one is asked for after all).
                None if set.tunnel.is_some() => return Ok(Secret::default()),
                None => {
                    return Err(ConfigError::Password {
                        place: Place::Cli(side).to_string(),
                        reason: format!(
                            "no password: set {var}, or pass --{s}-password-file PATH or \
                             --{s}-password-command CMD (or password_file, password_command \
                             or password_env under [{s}] in a --config file)"
                        ),
                    })
                }
            }
        }
    };
    if password.is_empty() {
        return Err(ConfigError::Password {
            place: place.to_string(),
            reason: format!("the password from {source} is empty"),
        });
    }
    Ok(Secret::new(password))
}

/// The environment variables that may hold a password of either side
/// (`IMAPMEND_A_PASSWORD`, `IMAPMEND_B_PASSWORD`, the config file's
/// `password_env`): a tunnel command must not inherit them.
fn password_variables(settings: &[SideSettings; 2]) -> Vec<String> {
    let mut vars = vec![password_var(Side::A), password_var(Side::B)];
    for set in settings {
        if let Some((PasswordSource::Env(var), _)) = &set.password {
            vars.push(var.clone());
        }
    }
    vars
}

/// `IMAPMEND_A_PASSWORD` / `IMAPMEND_B_PASSWORD`.
pub fn password_var(side: Side) -> String {
    format!("IMAPMEND_{}_PASSWORD", side.letter())
}

fn password_from_file(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read password file {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("password file {} is not UTF-8", path.display()))?;
    Ok(crate::secret::strip_one_newline(text))
}

/// Runs `sh -c cmd`. Its standard input and the terminal stay available (a
/// command may prompt, e.g. a GPG agent); standard error is captured only to
/// explain a failure. Standard output is the password and is never shown;
/// nor is the command itself (someone may have put a secret in it).
/// Where a run with these options keeps its snapshot, and the endpoints the
/// options name (None when only a state path was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotLocation {
    pub path: PathBuf,
    pub identities: Option<[EndpointIdentity; 2]>,
}

/// Finds the snapshot as a run with the same `--config`, `--a`, `--b` and
/// `--state` would, without any password (nothing is sent anywhere, so the
/// plaintext guard does not apply either).
pub fn locate_snapshot(
    common: &CommonArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SnapshotLocation, ConfigError> {
    let file = common.config.as_deref().map(ConfigFile::load).transpose()?;
    let file = file.as_ref();
    let file_state = file.and_then(|f| f.content.state.as_ref().map(|s| s.get_ref().clone()));
    let state = common.state.clone().or(file_state);
    let names_url = |side: Side| {
        common.endpoint(side).url.is_some()
            || file
                .and_then(|f| f.endpoint(side))
                .is_some_and(|e| e.url.is_some())
    };
    let identities = if state.is_some() && !names_url(Side::A) && !names_url(Side::B) {
        None
    } else {
        let mut ids = Vec::new();
        for side in [Side::A, Side::B] {
            ids.push(parse_endpoint(&side_settings(side, common, file)?, true)?.identity());
        }
        Some([ids[0].clone(), ids[1].clone()])
    };
    let path = match (state, &identities) {
        (Some(p), _) => p,
        (None, Some(ids)) => default_state_path(ids, env)?,
        (None, None) => unreachable!("no state path implies both URLs were parsed"),
    };
    Ok(SnapshotLocation { path, identities })
}

/// `$XDG_STATE_HOME/imapmend/<name>.sqlite`, else
/// `$HOME/.local/state/imapmend/<name>.sqlite`. The name is built from both
/// identities in sorted order, so giving A and B the other way round finds
/// the same file (the snapshot recognises the swap). The directory is not
/// created here.
pub fn default_state_path(
    identities: &[EndpointIdentity; 2],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, ConfigError> {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    // The XDG spec says relative values are invalid and must be ignored.
    let dir = match non_empty("XDG_STATE_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(state) => PathBuf::from(state),
        None => match non_empty("HOME") {
            Some(home) => Path::new(&home).join(".local").join("state"),
            None => {
                return Err(ConfigError::StatePath(
                    "neither XDG_STATE_HOME nor HOME is set; pass --state PATH".into(),
                ))
            }
        },
    };
    Ok(dir
        .join("imapmend")
        .join(format!("{}.sqlite", state_file_stem(identities))))
}

/// `imaps_user@host_993--imap_user@host_143-<hash>`: readable, filename-safe
/// and collision-free. Characters outside `[A-Za-z0-9._@+-]` become `_`, a
/// long name is cut, and a short hash of the exact identities always follows,
/// so neither sanitising nor cutting can make two pairs share a file.
fn state_file_stem(identities: &[EndpointIdentity; 2]) -> String {
    const MAX_READABLE: usize = 100;
    let mut keys = identities
        .clone()
        .map(|id| format!("{}_{}@{}_{}", id.scheme, id.user, id.host, id.port));
    keys.sort();
    let mut hasher = Sha256::new();
    for key in &keys {
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key.as_bytes());
    }
    let hash: String = hasher.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut readable: String = keys
        .join("--")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    readable.truncate(MAX_READABLE); // ASCII only by now
    format!("{readable}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ByteSize, MaxDelete};
    use clap::Parser;
    use std::collections::HashMap;

    /// A fake environment: a fixed map, never the process's.
    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn full_env() -> impl Fn(&str) -> Option<String> {
        env_of(&[
            ("IMAPMEND_A_PASSWORD", "pw-a"),
            ("IMAPMEND_B_PASSWORD", "pw-b"),
            ("HOME", "/home/op"),
        ])
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("imapmend").chain(args.iter().copied())).unwrap()
    }

    fn plan(a: &str, b: &str, extra: &[&str]) -> Cli {
        cli(&[&["plan", "--a", a, "--b", b][..], extra].concat())
    }

    fn resolve_env(c: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Job, ConfigError> {
        resolve_with(c, env)
    }

    fn id(scheme: &str, host: &str, port: u16, user: &str) -> EndpointIdentity {
        EndpointIdentity {
            scheme: scheme.into(),
            host: host.into(),
            port,
            user: user.into(),
        }
    }

    /// The parts of a ConnectSpec that tests compare (Secret has no Eq).
    fn spec_view(s: &ConnectSpec) -> (Side, &str, u16, &str, &str, TlsMode, Option<&Path>, bool) {
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

    fn endpoint_err(url: &str, extra: &[&str]) -> String {
        let c = plan(url, "imaps://other@b.example", extra);
        resolve_env(&c, &full_env()).unwrap_err().to_string()
    }

    #[test]
    fn config_url_forms_give_scheme_defaults_and_identities() {
        let c = plan(
            "imaps://Alice@Mail.Example.ORG",
            "imap://bob%40example.org@127.0.0.1:1143",
            &[],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(
            spec_view(&job.endpoints[0]),
            (
                Side::A,
                "mail.example.org",
                993,
                "Alice",
                "pw-a",
                TlsMode::Implicit,
                None,
                false
            )
        );
        assert_eq!(
            spec_view(&job.endpoints[1]),
            (
                Side::B,
                "127.0.0.1",
                1143,
                "bob@example.org",
                "pw-b",
                TlsMode::StartTls,
                None,
                false
            )
        );
        assert_eq!(
            job.identities,
            [
                id("imaps", "mail.example.org", 993, "Alice"),
                id("imap", "127.0.0.1", 1143, "bob@example.org"),
            ]
        );
        assert_eq!(job.command, Command::Plan);
        assert_eq!(job.options, PolicyOptions::default());
        assert!(!job.json);
        assert_eq!(job.verbosity, 0);
    }

    #[test]
    fn config_unencoded_at_in_user_and_trailing_slash_are_accepted() {
        let c = plan("imap://u@example.org@localhost/", "imaps://v@[::1]", &[]);
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(
            job.identities[0],
            id("imap", "localhost", 143, "u@example.org")
        );
    }

    #[test]
    fn config_ipv6_literals_lose_their_brackets_and_are_canonical() {
        let c = plan(
            "imap://u@[0:0::1]:10143",
            "imaps://v@[2001:DB8::7]",
            &["--a-tls", "none"],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(
            spec_view(&job.endpoints[0]),
            (
                Side::A,
                "::1",
                10143,
                "u",
                "pw-a",
                TlsMode::None,
                None,
                false
            )
        );
        assert_eq!(job.identities[1], id("imaps", "2001:db8::7", 993, "v"));
    }

    #[test]
    fn config_password_in_url_is_refused_without_echoing_it() {
        for url in [
            "imap://u:hunter2@host.example",
            "imaps://u:hunter2@host.example/INBOX",
            "imaps://u:hunter2@",
        ] {
            let msg = endpoint_err(url, &[]);
            assert!(!msg.contains("hunter2"), "{msg}");
            assert!(msg.starts_with("--a: "), "{msg}");
        }
        let msg = endpoint_err("imap://u:hunter2@host.example", &[]);
        for needle in [
            "IMAPMEND_A_PASSWORD",
            "--a-password-file",
            "--a-password-command",
        ] {
            assert!(msg.contains(needle), "{msg}");
        }
        let c = plan("imaps://a@x.example", "imaps://u:s3cr%40t@y.example", &[]);
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert!(msg.starts_with("--b: ") && !msg.contains("s3cr"), "{msg}");
    }

    #[test]
    fn config_malformed_urls_are_refused_naming_the_side() {
        for (url, needle) in [
            ("imaps://host.example", "no user name"),
            ("imaps://u@host.example/INBOX", "mailbox path"),
            ("imaps://u@host.example?x=1", "query"),
            ("imaps://u@host.example#frag", "fragment"),
            ("https://u@host.example", "unsupported scheme 'https:'"),
            ("u@host.example", "expected imaps://"),
            ("imaps://u@host.example:0", "port 0"),
            ("imaps://u@host.example:99999", "expected imaps://"),
            ("imaps://u@h%C3%A9st.example", "plain ASCII"),
            ("imaps://u%FF@host.example", "percent-encoded UTF-8"),
        ] {
            let msg = endpoint_err(url, &[]);
            assert!(
                msg.starts_with("--a: ") && msg.contains(needle),
                "{url}: {msg}"
            );
        }
    }

    #[test]
    fn config_tls_option_overrides_the_scheme() {
        let c = plan(
            "imap://u@a.example",
            "imaps://v@b.example:1993",
            &[
                "--a-tls",
                "implicit",
                "--b-tls",
                "starttls",
                "--b-ca-file",
                "/ca.pem",
            ],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(job.endpoints[0].tls, TlsMode::Implicit);
        assert_eq!(
            job.endpoints[0].port, 143,
            "the port stays the scheme's default"
        );
        assert_eq!(job.endpoints[1].tls, TlsMode::StartTls);
        assert_eq!(
            job.endpoints[1].ca_file.as_deref(),
            Some(Path::new("/ca.pem"))
        );
        let msg = endpoint_err(
            "imap://u@localhost",
            &["--a-tls", "none", "--a-ca-file", "/x"],
        );
        assert!(msg.contains("--a-ca-file"), "{msg}");
    }

    #[test]
    fn config_tunnel_needs_no_password_and_no_tls_and_keeps_the_identity() {
        let c = plan(
            "imap://alice@mail.example.org",
            "imaps://bob@b.example",
            &["--a-tunnel", "ssh mail.example.org /usr/lib/dovecot/imap"],
        );
        // No IMAPMEND_A_PASSWORD: a PREAUTH tunnel needs none.
        let env = env_of(&[("IMAPMEND_B_PASSWORD", "pw-b"), ("HOME", "/h")]);
        let job = resolve_env(&c, &env).unwrap();
        let a = &job.endpoints[0];
        let t = a.tunnel.as_ref().expect("a tunnel");
        assert_eq!(t.command, "ssh mail.example.org /usr/lib/dovecot/imap");
        assert!(t.hide_env.contains(&"IMAPMEND_A_PASSWORD".to_string()));
        assert!(t.hide_env.contains(&"IMAPMEND_B_PASSWORD".to_string()));
        assert_eq!(a.tls, TlsMode::None, "no TLS of ours over a tunnel");
        assert_eq!(a.password.expose(), "");
        assert!(job.endpoints[1].tunnel.is_none());
        assert_eq!(
            job.identities[0],
            id("imap", "mail.example.org", 143, "alice"),
            "the URL still names the account (and the snapshot)"
        );
        // A password given anyway is used (for a tunnel without PREAUTH).
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(job.endpoints[0].password.expose(), "pw-a");
        // `--a-tls none` fits a tunnel; TLS and a CA file do not.
        let tunnel = ["--a-tunnel", "true"];
        assert!(resolve_env(
            &plan(
                "imap://u@h",
                "imap://v@h",
                &[&tunnel[..], &["--a-tls", "none"]].concat()
            ),
            &full_env()
        )
        .is_ok());
        for extra in [&["--a-tls", "implicit"][..], &["--a-ca-file", "/ca.pem"]] {
            let msg = endpoint_err("imaps://u@h", &[&tunnel[..], extra].concat());
            assert!(msg.contains("tunnel"), "{msg}");
        }
        let msg = endpoint_err("imaps://u@h", &["--a-tunnel", "  "]);
        assert!(msg.contains("tunnel command is empty"), "{msg}");
    }

    #[test]
    fn config_tunnel_comes_from_the_file_and_hides_its_password_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.toml");
        std::fs::write(
            &path,
            "[a]\nurl = \"imap://alice@mailhost\"\ntunnel = \"ssh mailhost imap\"\n\
             [b]\nurl = \"imaps://bob@b.example\"\npassword_env = \"BOB_PW\"\n",
        )
        .unwrap();
        let c = cli(&["plan", "--config", path.to_str().unwrap()]);
        let env = env_of(&[("BOB_PW", "x"), ("HOME", "/h")]);
        let job = resolve_env(&c, &env).unwrap();
        let t = job.endpoints[0].tunnel.as_ref().unwrap();
        assert_eq!(t.command, "ssh mailhost imap");
        assert!(
            t.hide_env.contains(&"BOB_PW".to_string()),
            "{:?}",
            t.hide_env
        );
    }

    #[test]
    fn config_plaintext_guard_allows_only_loopback_unless_told() {
        for host in [
            "127.0.0.1",
            "127.8.9.10",
            "localhost",
            "LocalHost",
            "[::1]",
            "[::ffff:127.0.0.1]",
        ] {
            let c = plan(
                &format!("imap://u@{host}"),
                "imap://v@localhost:2",
                &["--a-tls", "none", "--b-tls", "none"],
            );
            assert!(resolve_env(&c, &full_env()).is_ok(), "{host}");
        }
        for host in [
            "10.0.0.1",
            "mail.example.org",
            "[2001:db8::1]",
            "localhost.example.org",
            "128.0.0.1",
        ] {
            let msg = endpoint_err(&format!("imap://u@{host}"), &["--a-tls", "none"]);
            assert!(
                msg.starts_with("--a: refusing") && msg.contains("--allow-plaintext-auth"),
                "{msg}"
            );
        }
        let c = plan(
            "imap://u@mail.example.org",
            "imaps://v@b.example",
            &["--a-tls", "none", "--allow-plaintext-auth"],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert!(job.endpoints[0].allow_plaintext_auth);
        assert_eq!(job.endpoints[0].tls, TlsMode::None);
    }

    #[test]
    fn config_password_sources_file_command_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from file\n\n").unwrap();
        let crlf = dir.path().join("pw-crlf");
        std::fs::write(&crlf, "crlf pw\r\n").unwrap();
        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &[
                "--a-password-file",
                file.to_str().unwrap(),
                "--b-password-command",
                "printf 'from command\\n'",
            ],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(
            job.endpoints[0].password.expose(),
            "from file\n",
            "one newline stripped"
        );
        assert_eq!(job.endpoints[1].password.expose(), "from command");

        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &["--a-password-file", crlf.to_str().unwrap()],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(job.endpoints[0].password.expose(), "crlf pw");
        assert_eq!(
            job.endpoints[1].password.expose(),
            "pw-b",
            "B falls back to the env"
        );
    }

    #[test]
    fn config_password_errors_name_the_source_never_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent");
        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &["--a-password-file", missing.to_str().unwrap()],
        );
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert!(
            msg.starts_with("--a: cannot read password file") && msg.contains("absent"),
            "{msg}"
        );

        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &[
                "--b-password-command",
                "echo topsecret; echo 'vault sealed' >&2; exit 3",
            ],
        );
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert!(msg.starts_with("--b: the password command failed"), "{msg}");
        assert!(
            msg.contains("vault sealed") && !msg.contains("topsecret"),
            "{msg}"
        );

        let c = plan("imaps://u@a.example", "imaps://v@b.example", &[]);
        let msg = resolve_env(&c, &env_of(&[("IMAPMEND_A_PASSWORD", "x"), ("HOME", "/h")]))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("--b: no password") && msg.contains("IMAPMEND_B_PASSWORD"),
            "{msg}"
        );

        let msg = resolve_env(
            &c,
            &env_of(&[
                ("IMAPMEND_A_PASSWORD", ""),
                ("IMAPMEND_B_PASSWORD", "y"),
                ("HOME", "/h"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.starts_with("--a: the password from IMAPMEND_A_PASSWORD is empty"),
            "{msg}"
        );
    }

    #[test]
    fn config_two_password_sources_for_one_side_are_refused() {
        // clap refuses this on the command line; a Cli built in code is
        // checked again here.
        let mut c = plan("imaps://u@a.example", "imaps://v@b.example", &[]);
        if let Verb::Plan(crate::cli::PlanArgs { common, .. }) = &mut c.verb {
            common.a_password_file = Some("/f".into());
            common.a_password_command = Some("true".into());
        }
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        assert!(msg.starts_with("--a: give either"), "{msg}");
    }

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
    fn max_size_takes_bytes_and_units() {
        for (s, want) in [
            ("1", 1),
            ("1048576", 1 << 20),
            ("512K", 512 << 10),
            ("512k", 512 << 10),
            ("10M", 10 << 20),
            ("10MB", 10 << 20),
            ("10MiB", 10 << 20),
            ("1G", 1 << 30),
            ("2T", 2 << 40),
        ] {
            assert_eq!(s.parse::<ByteSize>(), Ok(ByteSize(want)), "{s}");
        }
        for s in [
            "",
            "0",
            "0K",
            "M",
            "10X",
            "1.5M",
            "-1",
            "10 M",
            "99999999999999999999",
        ] {
            assert!(s.parse::<ByteSize>().is_err(), "{s:?} should be refused");
        }
        let file = |text: &str| {
            ConfigFile::parse(Path::new("job.toml"), text.to_string())
                .map(|f| f.content.policy.unwrap().max_size.unwrap().get_ref().0)
        };
        assert_eq!(
            file("[policy]\nmax_size = \"20K\"\n").unwrap(),
            ByteSize(20 << 10)
        );
        assert_eq!(file("[policy]\nmax_size = 4096\n").unwrap(), ByteSize(4096));
        assert!(file("[policy]\nmax_size = \"lots\"\n").is_err());
    }

    #[test]
    fn config_default_state_path_is_order_independent_and_filename_safe() {
        let c = plan(
            "imaps://alice@mail.example.org",
            "imap://bob@127.0.0.1:1143",
            &[],
        );
        let swapped = plan(
            "imap://bob@127.0.0.1:1143",
            "imaps://alice@mail.example.org",
            &[],
        );
        let env = env_of(&[
            ("IMAPMEND_A_PASSWORD", "x"),
            ("IMAPMEND_B_PASSWORD", "y"),
            ("XDG_STATE_HOME", "/xdg/state"),
            ("HOME", "/home/op"),
        ]);
        let path = resolve_env(&c, &env).unwrap().state_path;
        assert_eq!(path, resolve_env(&swapped, &env).unwrap().state_path);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(path.parent().unwrap(), Path::new("/xdg/state/imapmend"));
        assert!(
            name.starts_with("imap_bob@127.0.0.1_1143--imaps_alice@mail.example.org_993-")
                && name.ends_with(".sqlite"),
            "{name}"
        );

        // HOME fallback; a relative XDG_STATE_HOME is ignored as the spec says.
        let env = env_of(&[
            ("IMAPMEND_A_PASSWORD", "x"),
            ("IMAPMEND_B_PASSWORD", "y"),
            ("XDG_STATE_HOME", "relative"),
            ("HOME", "/home/op"),
        ]);
        let path = resolve_env(&c, &env).unwrap().state_path;
        assert_eq!(
            path.parent().unwrap(),
            Path::new("/home/op/.local/state/imapmend")
        );

        let env = env_of(&[("IMAPMEND_A_PASSWORD", "x"), ("IMAPMEND_B_PASSWORD", "y")]);
        let msg = resolve_env(&c, &env).unwrap_err().to_string();
        assert!(msg.contains("--state"), "{msg}");
        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &["--state", "s.db"],
        );
        assert_eq!(
            resolve_env(&c, &env).unwrap().state_path,
            PathBuf::from("s.db")
        );
    }

    #[test]
    fn config_state_file_names_never_collide_and_stay_short() {
        let odd = [id("imaps", "::1", 993, "a b/c"), id("imaps", "h", 993, "x")];
        let similar = [id("imaps", "::1", 993, "a_b_c"), id("imaps", "h", 993, "x")];
        let (s1, s2) = (state_file_stem(&odd), state_file_stem(&similar));
        assert_ne!(s1, s2);
        assert!(
            s1.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b)),
            "{s1}"
        );
        let long = [
            id("imaps", "h", 993, &"x".repeat(300)),
            id("imaps", "h", 993, &"x".repeat(301)),
        ];
        let stem = state_file_stem(&long);
        assert!(stem.len() <= 113, "{}", stem.len());
        let mut swapped = long.clone();
        swapped.reverse();
        assert_eq!(stem, state_file_stem(&swapped));
        assert_ne!(
            stem,
            state_file_stem(&[long[0].clone(), id("imaps", "h", 993, &"x".repeat(302))])
        );
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

    /// A config file in a temp dir, and a `verb --config FILE extra…` Cli.
    fn with_file(text: &str, verb: &str, extra: &[&str]) -> (tempfile::TempDir, Cli) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.toml");
        std::fs::write(&path, text).unwrap();
        let c = cli(&[&[verb, "--config", path.to_str().unwrap()][..], extra].concat());
        (dir, c)
    }

    fn file_err(text: &str, extra: &[&str]) -> String {
        let (dir, c) = with_file(text, "plan", extra);
        let msg = resolve_env(&c, &full_env()).unwrap_err().to_string();
        // Messages name the file by the path given; strip the temp dir.
        msg.replace(&format!("{}/", dir.path().display()), "")
    }

    const JOB: &str = r#"
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
    fn config_file_password_env_unset_and_file_missing_name_the_line() {
        let msg = file_err(JOB, &[]);
        assert!(
            msg.starts_with("job.toml:6: a.password_file: cannot read password file"),
            "{msg}"
        );
        let msg = file_err(JOB, &["--a-password-command", "echo x"]);
        assert_eq!(
            msg,
            "job.toml:11: b.password_env: no password: the environment variable ALICE_B is not set"
        );
    }

    #[test]
    fn an_oauth2_token_command_logs_in_with_the_token_from_file_or_command_line() {
        let env = env_of(&[("HOME", "/h")]);
        let (dir, c) = with_file(
            "[a]\nurl = \"imaps://u@a.example\"\noauth2_token_command = \"echo tok-a\"\n",
            "plan",
            &[
                "--b",
                "imaps://v@b.example",
                "--b-oauth2-token-command",
                "echo tok-b",
            ],
        );
        let job = resolve_env(&c, &env).unwrap();
        for (spec, token) in job.endpoints.iter().zip(["tok-a", "tok-b"]) {
            assert_eq!(
                (spec.auth, spec.password.expose()),
                (AuthMethod::OAuth2, token)
            );
        }
        drop(dir);
        let msg = file_err(
            "[a]\nurl = \"imaps://u@a.example\"\npassword_file = \"/f\"\noauth2_token_command = \"x\"\n",
            &["--b", "imaps://v@b.example"],
        );
        assert!(
            msg.starts_with("job.toml:4: a.oauth2_token_command: [a] gives more than one"),
            "{msg}"
        );
    }

    #[test]
    fn config_file_refuses_passwords_in_it() {
        let msg = file_err(
            "[a]\nurl = \"imaps://u@a.example\"\npassword = \"hunter2\"\n[b]\nurl = \"imaps://v@b.example\"\n",
            &[],
        );
        assert!(
            msg.starts_with(
                "job.toml:3: a.password: passwords are never accepted in the config file"
            ) && !msg.contains("hunter2"),
            "{msg}"
        );
        // Even when the command line names another source.
        let msg = file_err(
            "[a]\npassword = \"hunter2\"\n",
            &[
                "--a",
                "imaps://u@a.example",
                "--b",
                "imaps://v@b.example",
                "--a-password-file",
                "/f",
            ],
        );
        assert!(msg.starts_with("job.toml:2: a.password:"), "{msg}");

        let msg = file_err(
            "[b]\nurl = \"imaps://v:hunter2@b.example\"\n",
            &["--a", "imaps://u@a.example"],
        );
        assert!(
            msg.starts_with("job.toml:2: b.url: the URL contains a password; passwords are never accepted in the config file")
                && !msg.contains("hunter2"),
            "{msg}"
        );

        let msg = file_err(
            "[a]\nurl = \"imaps://u@a.example\"\noauth2_token_command = \"echo tok-secret; exit 1\"\n",
            &["--b", "imaps://v@b.example"],
        );
        assert!(
            msg.starts_with("job.toml:3: a.oauth2_token_command: the token command failed")
                && !msg.contains("tok-secret"),
            "{msg}"
        );

        let msg = file_err(
            "[b]\npassword_file = \"/f\"\npassword_command = \"true\"\n",
            &["--a", "imaps://u@a.example", "--b", "imaps://v@b.example"],
        );
        assert!(
            msg.starts_with("job.toml:3: b.password_command: [b] gives more than one"),
            "{msg}"
        );
    }

    #[test]
    fn config_file_tls_guard_and_schema_errors_name_the_line() {
        let msg = file_err(
            "[a]\nurl = \"imap://u@mail.example.org\"\ntls = \"none\"\n",
            &["--b", "imaps://v@b.example"],
        );
        assert!(
            msg.starts_with("job.toml:3: a.tls: refusing to send the password unencrypted")
                && msg.contains("allow_plaintext_auth = true"),
            "{msg}"
        );
        let (_dir, c) = with_file(
            "allow_plaintext_auth = true\n[a]\nurl = \"imap://u@mail.example.org\"\ntls = \"none\"\n",
            "plan",
            &["--b", "imaps://v@b.example"],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert!(job.endpoints[0].allow_plaintext_auth && job.endpoints[1].allow_plaintext_auth);

        let msg = file_err(
            "[a]\nurl = \"imap://u@localhost\"\ntls = \"none\"\nca_file = \"/ca.pem\"\n",
            &["--b", "imaps://v@b.example"],
        );
        assert_eq!(
            msg,
            "job.toml:4: a.ca_file: ca_file makes no sense with tls = \"none\""
        );

        let msg = file_err("[a]\nurl = \"imaps://u@a\"\nuser = \"u\"\n", &[]);
        assert!(
            msg.contains("line 3") && msg.contains("unknown field `user`"),
            "{msg}"
        );
        let msg = file_err("[a]\nurl = \"ftp://u@a\"\n", &["--b", "imaps://v@b"]);
        assert!(
            msg.starts_with("job.toml:2: a.url: unsupported scheme 'ftp:'"),
            "{msg}"
        );
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
    fn config_non_run_verbs_do_not_resolve() {
        let msg = resolve_env(&cli(&["completions", "bash"]), &full_env())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("does not run against servers"), "{msg}");
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
