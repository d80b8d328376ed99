//! One side's server, from its URL and TLS options: scheme, default port
//! and TLS mode, host and user, the tunnel that replaces TCP and TLS, and
//! the plaintext guard (no password in clear but to a loopback address
//! unless the operator allows it). Messages never echo a URL: it might
//! hold a password.

use super::merge::{Place, SideSettings};
use super::password::password_var;
use super::ConfigError;
use crate::cli::side_option;
use crate::imap::{AuthMethod, CertPin, ConnectSpec, TlsMode, TunnelSpec};
use crate::model::Side;
use crate::secret::Secret;
use crate::snapshot::EndpointIdentity;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

/// One side's URL and TLS options, validated; no password yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    pub(super) side: Side,
    pub(super) scheme: String,
    /// Lower-cased; IPv6 without brackets, in canonical form.
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) user: String,
    pub(super) tls: TlsMode,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) pins: Vec<CertPin>,
    pub(super) tunnel: Option<String>,
}

impl Endpoint {
    pub(super) fn identity(&self) -> EndpointIdentity {
        EndpointIdentity {
            scheme: self.scheme.clone(),
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
        }
    }

    /// `hide_env`: the variables that hold passwords, kept from a tunnel
    /// command.
    pub(super) fn into_spec(
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
            pins: self.pins,
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
pub(super) fn parse_endpoint(
    set: &SideSettings,
    allow_plaintext_auth: bool,
) -> Result<Endpoint, ConfigError> {
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
        let tls = set
            .tls
            .as_ref()
            .filter(|(t, _)| *t != TlsMode::None)
            .map(|(_, p)| p);
        refuse_any(
            side,
            std::iter::once((tls, ("tls", "tls"))).chain(trust_settings(set)),
            &format!(
                "{}: the tunnel command carries the connection (TLS over a tunnel is not \
                 supported)",
                tunnel_place.spell(side, "tunnel", "tunnel")
            ),
        )?;
        return Ok(Endpoint {
            side,
            scheme: url.scheme().to_string(),
            host,
            port,
            user,
            tls: TlsMode::None,
            ca_file: None,
            pins: Vec::new(),
            tunnel: set.tunnel.as_ref().map(|(c, _)| c.clone()),
        });
    }
    let (tls, tls_place) = match &set.tls {
        Some((t, place)) => (*t, place),
        None => (default_tls, url_place),
    };
    if tls == TlsMode::None {
        refuse_any(
            side,
            trust_settings(set),
            &match tls_place {
                Place::Cli(_) => format!("--{}-tls none", side_option(side)),
                Place::File(_) => "tls = \"none\"".into(),
            },
        )?;
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
        pins: set
            .pins
            .as_ref()
            .map(|(p, _)| p.clone())
            .unwrap_or_default(),
        tunnel: None,
    })
}

/// A setting as given (where), and its option and file key.
type Given<'a> = (Option<&'a Place>, (&'static str, &'static str));

/// The TLS trust settings: the CA file and the pins.
fn trust_settings(set: &SideSettings) -> [Given<'_>; 2] {
    [
        (set.ca_file.as_ref().map(|(_, p)| p), ("ca-file", "ca_file")),
        (
            set.pins.as_ref().map(|(_, p)| p),
            ("fingerprint", "fingerprint"),
        ),
    ]
}

/// Refuses the first setting given, as making no sense `with` another.
fn refuse_any<'a>(
    side: Side,
    settings: impl IntoIterator<Item = Given<'a>>,
    with: &str,
) -> Result<(), ConfigError> {
    for (given, (option, key)) in settings {
        if let Some(place) = given {
            return Err(ConfigError::Endpoint {
                place: place.to_string(),
                reason: format!(
                    "{} makes no sense with {with}",
                    place.spell(side, option, key)
                ),
            });
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::*;
    use crate::job::{Command, PolicyOptions};
    use std::path::Path;

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
    fn config_fingerprints_come_from_the_command_line_or_the_file() {
        let hex = "AB:".repeat(31) + "AB";
        let c = plan(
            "imaps://u@a.example",
            "imaps://v@b.example",
            &[
                "--a-fingerprint",
                &format!("sha256:{}", hex.to_lowercase().replace(':', "")),
                "--a-fingerprint",
                "sha256//kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw=",
            ],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(
            job.endpoints[0].pins,
            [
                CertPin::Certificate(hex.clone()),
                CertPin::PublicKey("kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw=".into())
            ]
        );
        assert!(job.endpoints[1].pins.is_empty());

        let (_dir, c) = with_file(
            &format!("[b]\nurl = \"imaps://v@b.example\"\nfingerprint = [\"sha256:{hex}\"]\n"),
            "plan",
            &["--a", "imaps://u@a.example"],
        );
        let job = resolve_env(&c, &full_env()).unwrap();
        assert_eq!(job.endpoints[1].pins, [CertPin::Certificate(hex.clone())]);

        let msg = file_err(
            "[b]\nurl = \"imaps://v@b.example\"\nfingerprint = [\"md5:AB\"]\n",
            &["--a", "imaps://u@a.example"],
        );
        assert!(
            msg.starts_with("job.toml:3: b.fingerprint: \"md5:AB\": expected sha256:HEX"),
            "{msg}"
        );
        let pin = format!("sha256:{hex}");
        let msg = endpoint_err(
            "imap://u@localhost",
            &["--a-tls", "none", "--a-fingerprint", &pin],
        );
        assert!(
            msg.contains("--a-fingerprint makes no sense with --a-tls none"),
            "{msg}"
        );
        let msg = endpoint_err(
            "imap://u@localhost",
            &["--a-tunnel", "true", "--a-fingerprint", &pin],
        );
        assert!(
            msg.contains("--a-fingerprint makes no sense with --a-tunnel"),
            "{msg}"
        );
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
}
