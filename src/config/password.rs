//! Where each side's password or OAuth 2.0 token comes from (a file, a
//! command, an environment variable; never the command line or the config
//! file itself), and fetching it. Exactly one source per side; every error
//! names the source, never what it gave.

use super::file::FileEndpoint;
use super::merge::{Place, SideSettings};
use super::{ConfigError, ConfigFile};
use crate::cli::side_option;
use crate::model::Side;
use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// Where a side's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PasswordSource {
    File(PathBuf),
    Command(String),
    /// An environment variable named in the config file.
    Env(String),
    /// A command printing an OAuth 2.0 access token (SASL OAUTHBEARER or
    /// XOAUTH2 instead of a password).
    TokenCommand(String),
}

/// The one password source of `[a]` or `[b]`, if any.
pub(super) fn file_password(
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

/// One side's password, from exactly one source: the command line's file or
/// command, else the config file's, else `IMAPMEND_A_PASSWORD`.
pub(super) fn password(
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
pub(super) fn password_variables(settings: &[SideSettings; 2]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use crate::cli::Verb;
    use crate::config::tests::*;
    use crate::imap::AuthMethod;

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
}
