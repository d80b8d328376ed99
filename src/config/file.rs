//! The TOML config file (`--config FILE`): its shape, and reading it with
//! errors that give the line.
//!
//! This module owns the file's keys and their types only. Merging with the
//! command line (which wins) is `merge.rs`'s job, resolving URLs
//! `endpoint.rs`'s, fetching passwords `password.rs`'s. Paths here are
//! already made absolute against the file's own directory, so a cron job's
//! working directory does not matter.
//!
//! ```toml
//! state = "alice.sqlite"              # relative to this file's directory
//! allow_plaintext_auth = false
//! scrub = "2%"                        # as check/sync --scrub: 2%, 500M or 30s
//!
//! [a]
//! url = "imaps://alice@old.example.org"
//! tls = "implicit"                    # implicit | starttls | none
//! ca_file = "old-ca.pem"              # or tunnel = "ssh old.example.org /usr/lib/dovecot/imap"
//! fingerprint = ["sha256:AB:CD:…"]    # pins: only a match is trusted (docs/TLS.md)
//! password_file = "alice-a.pw"        # or password_command, or password_env
//!
//! [b]
//! url = "imaps://alice@new.example.org"
//! password_env = "ALICE_B_PASSWORD"
//!
//! [mailboxes]
//! exclude = ["^Trash$", "^Junk"]      # as --exclude; also folder, folderrec, include
//! a_prefix = "INBOX."                 # as --a-prefix (also b_prefix)
//! map = ["Sent Items=Sent"]           # as --map
//!
//! [policy]
//! prefer = "a"                        # a | b
//! max_delete = "20%"                  # or a count: 20
//! max_size = "10M"                    # or bytes: 10485760 (as --max-size)
//! deletes = "expunge"                 # expunge | flag-only
//! expunge_to = "Quarantine"           # as --expunge-to
//! quarantine_days = 30                # as --quarantine-days
//! ```

use crate::imap::TlsMode;
use crate::model::{ByteSize, DeleteMode, Identity, MaxDelete, OneWay, Side};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A config file, read and checked against the schema.
#[derive(Debug)]
pub struct ConfigFile {
    /// As given on the command line, for messages.
    pub path: PathBuf,
    text: String,
    pub content: FileContent,
}

/// The whole file. Unknown keys anywhere are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileContent {
    pub state: Option<Spanned<PathBuf>>,
    pub allow_plaintext_auth: Option<bool>,
    /// As `--retries`.
    pub retries: Option<u32>,
    /// As `--connections` (1 to 16).
    pub connections: Option<Spanned<u32>>,
    /// As `--max-messages-per-second`.
    pub max_messages_per_second: Option<u64>,
    /// As `--max-bytes-per-second` ("10M", …).
    pub max_bytes_per_second: Option<Spanned<FileByteSize>>,
    /// As `check`/`sync --scrub` ("2%", "500M", "30s"); `plan` ignores it.
    pub scrub: Option<FileScrubBudget>,
    pub a: Option<FileEndpoint>,
    pub b: Option<FileEndpoint>,
    pub policy: Option<FilePolicy>,
    pub mailboxes: Option<FileMailboxes>,
}

/// `[mailboxes]`: which mailboxes the run covers, as `--folder`,
/// `--folderrec`, `--include` and `--exclude` (lists of names or regexes).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMailboxes {
    pub folder: Option<Vec<String>>,
    pub folderrec: Option<Vec<String>>,
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    /// As `--a-prefix` / `--b-prefix`.
    pub a_prefix: Option<String>,
    pub b_prefix: Option<String>,
    /// As `--map`: `["Sent Items=Sent"]`.
    pub map: Option<Vec<String>>,
}

/// `[a]` or `[b]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEndpoint {
    pub url: Option<Spanned<String>>,
    pub tls: Option<Spanned<FileTls>>,
    pub ca_file: Option<Spanned<PathBuf>>,
    /// As `--a-fingerprint`: certificate pins, `["sha256:AB:CD:…"]`.
    pub fingerprint: Option<Spanned<Vec<String>>>,
    /// As `--a-tunnel`: IMAP over this command's stdin/stdout.
    pub tunnel: Option<Spanned<String>>,
    pub password_file: Option<Spanned<PathBuf>>,
    pub password_command: Option<Spanned<String>>,
    /// The name of an environment variable holding the password.
    pub password_env: Option<Spanned<String>>,
    /// SASL XOAUTH2 with a token from this command: parsed so that the
    /// refusal can say it is not supported yet, rather than "unknown key".
    pub oauth2_token_command: Option<Spanned<String>>,
    /// Only here to be refused with a clear message: passwords never go in
    /// the file.
    pub password: Option<Spanned<toml::Value>>,
}

/// `[policy]`: the same policies as the command line's "Policy" options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePolicy {
    pub prefer: Option<FileSide>,
    pub max_delete: Option<Spanned<FileMaxDelete>>,
    pub restored: Option<FileSide>,
    pub deletes: Option<FileDeletes>,
    pub delete_mailboxes: Option<bool>,
    /// As `--identity`: `identity = "headers"`.
    pub identity: Option<FileIdentity>,
    /// As `--expunge-to`.
    pub expunge_to: Option<String>,
    /// As `--quarantine-days`.
    pub quarantine_days: Option<u32>,
    pub one_way: Option<FileOneWay>,
    pub delete_extra: Option<bool>,
    /// false: `--no-tombstones`.
    pub tombstones: Option<bool>,
    pub tombstone_days: Option<u32>,
    pub drop_restored_extras: Option<bool>,
    /// As `--max-size`: `max_size = "10M"` or a count of bytes.
    pub max_size: Option<Spanned<FileByteSize>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileTls {
    Implicit,
    Starttls,
    None,
}

impl From<FileTls> for TlsMode {
    fn from(t: FileTls) -> TlsMode {
        match t {
            FileTls::Implicit => TlsMode::Implicit,
            FileTls::Starttls => TlsMode::StartTls,
            FileTls::None => TlsMode::None,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileSide {
    A,
    B,
}

impl From<FileSide> for Side {
    fn from(s: FileSide) -> Side {
        match s {
            FileSide::A => Side::A,
            FileSide::B => Side::B,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileDeletes {
    Expunge,
    FlagOnly,
}

impl From<FileDeletes> for DeleteMode {
    fn from(d: FileDeletes) -> DeleteMode {
        match d {
            FileDeletes::Expunge => DeleteMode::Expunge,
            FileDeletes::FlagOnly => DeleteMode::FlagOnly,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileIdentity {
    Content,
    Headers,
}

impl From<FileIdentity> for Identity {
    fn from(i: FileIdentity) -> Identity {
        match i {
            FileIdentity::Content => Identity::Content,
            FileIdentity::Headers => Identity::Headers,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileOneWay {
    AToB,
    BToA,
}

impl From<FileOneWay> for OneWay {
    fn from(o: FileOneWay) -> OneWay {
        match o {
            FileOneWay::AToB => OneWay::AToB,
            FileOneWay::BToA => OneWay::BToA,
        }
    }
}

/// `max_delete = 20` or `max_delete = "30%"` (or `"20"`), checked as the
/// command line's `--max-delete` is.
#[derive(Debug, Clone, Copy)]
pub struct FileMaxDelete(pub MaxDelete);

impl<'de> Deserialize<'de> for FileMaxDelete {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FileMaxDelete;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count (20) or a percentage (\"30%\")")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<FileMaxDelete, E> {
                u32::try_from(n)
                    .map(|n| FileMaxDelete(MaxDelete::Count(n)))
                    .map_err(|_| E::custom(format!("{n}: a count must be 0 to {}", u32::MAX)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<FileMaxDelete, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(-1))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FileMaxDelete, E> {
                s.parse().map(FileMaxDelete).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `max_size = 1048576` or `max_size = "10M"`, checked as the command
/// line's `--max-size` is.
#[derive(Debug, Clone, Copy)]
pub struct FileByteSize(pub ByteSize);

impl<'de> Deserialize<'de> for FileByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FileByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size in bytes (1048576) or with a unit (\"10M\")")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<FileByteSize, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<FileByteSize, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FileByteSize, E> {
                s.parse().map(FileByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `scrub = "2%"` (or `"500M"`, `"30s"`), checked as the command line's
/// `--scrub` is.
#[derive(Debug, Clone, Copy)]
pub struct FileScrubBudget(pub crate::model::ScrubBudget);

impl<'de> Deserialize<'de> for FileScrubBudget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(FileScrubBudget).map_err(de::Error::custom)
    }
}

/// Why a config file cannot be used. Parse errors carry the file, line and
/// column and a caret under the offending text (toml's own rendering).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read config file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
}

impl ConfigFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<ConfigFile, FileError> {
        let text = std::fs::read_to_string(path).map_err(|error| FileError::Read {
            path: path.display().to_string(),
            error,
        })?;
        ConfigFile::parse(path, text)
    }

    /// Parses `text` as the content of `path` (which is not read).
    pub fn parse(path: &Path, text: String) -> Result<ConfigFile, FileError> {
        let mut content: FileContent = toml::from_str(&text).map_err(|e| FileError::Parse {
            path: path.display().to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let absolute = |p: &mut Spanned<PathBuf>| {
            if p.get_ref().is_relative() {
                let span = p.span();
                *p = Spanned::new(span, dir.join(p.get_ref()));
            }
        };
        if let Some(p) = content.state.as_mut() {
            absolute(p);
        }
        for side in [content.a.as_mut(), content.b.as_mut()]
            .into_iter()
            .flatten()
        {
            for p in [side.ca_file.as_mut(), side.password_file.as_mut()]
                .into_iter()
                .flatten()
            {
                absolute(p);
            }
        }
        Ok(ConfigFile {
            path: path.to_path_buf(),
            text,
            content,
        })
    }

    /// `[a]` or `[b]` (empty when the file has no such table).
    pub fn endpoint(&self, side: Side) -> Option<&FileEndpoint> {
        match side {
            Side::A => self.content.a.as_ref(),
            Side::B => self.content.b.as_ref(),
        }
    }

    /// "job.toml:7: a.url", naming where a value is, for messages.
    pub fn place(&self, span: Range<usize>, key: &str) -> String {
        let line = self.text[..span.start.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1;
        format!("{}:{line}: {key}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(Path::new("/etc/imapmend/job.toml"), text.into())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn config_file_full_example_parses_with_paths_made_absolute() {
        let f = parse(
            r#"
state = "alice.sqlite"
allow_plaintext_auth = true

[a]
url = "imaps://alice@old.example.org"
tls = "starttls"
ca_file = "/ca/old.pem"
password_file = "pw/a"

[b]
url = "imap://alice@new.example.org"
password_env = "ALICE_B"

[policy]
prefer = "b"
max_delete = "30%"
restored = "a"
deletes = "flag-only"
delete_mailboxes = true
one_way = "b-to-a"
delete_extra = true
"#,
        )
        .unwrap();
        let c = &f.content;
        assert_eq!(
            c.state.as_ref().unwrap().get_ref(),
            Path::new("/etc/imapmend/alice.sqlite")
        );
        assert_eq!(c.allow_plaintext_auth, Some(true));
        let a = f.endpoint(Side::A).unwrap();
        assert_eq!(
            a.password_file.as_ref().unwrap().get_ref(),
            Path::new("/etc/imapmend/pw/a")
        );
        assert_eq!(
            a.ca_file.as_ref().unwrap().get_ref(),
            Path::new("/ca/old.pem")
        );
        assert!(matches!(
            a.tls.as_ref().unwrap().get_ref(),
            FileTls::Starttls
        ));
        let url = a.url.as_ref().unwrap();
        assert_eq!(
            f.place(url.span(), "a.url"),
            "/etc/imapmend/job.toml:6: a.url"
        );
        let b = f.endpoint(Side::B).unwrap();
        assert_eq!(b.password_env.as_ref().unwrap().get_ref(), "ALICE_B");
        let p = c.policy.as_ref().unwrap();
        assert!(matches!(
            p.max_delete.as_ref().unwrap().get_ref().0,
            MaxDelete::Percent(30)
        ));
        assert!(matches!(p.one_way, Some(FileOneWay::BToA)));
        assert!(matches!(p.deletes, Some(FileDeletes::FlagOnly)));
        assert_eq!(
            (p.delete_mailboxes, p.delete_extra),
            (Some(true), Some(true))
        );
    }

    #[test]
    fn config_file_unknown_keys_and_wrong_types_name_the_line() {
        for (text, line, needle) in [
            (
                "[a]\nurl = \"imaps://u@h\"\nhost = \"x\"\n",
                3,
                "unknown field `host`",
            ),
            ("\n\n[policy]\nprefer = \"c\"\n", 4, "unknown variant `c`"),
            ("[policy]\nmax_delete = \"0%\"\n", 2, "1% to 100%"),
            ("[policy]\nmax_delete = -3\n", 2, "a count must be"),
            (
                "[policy]\nmax_delete = 2.5\n",
                2,
                "a count (20) or a percentage",
            ),
            ("allow_plaintext_auth = \"yes\"\n", 1, "expected a boolean"),
            ("[b]\ntls = \"ssl\"\n", 2, "unknown variant `ssl`"),
            ("verbose = 2\n", 1, "unknown field `verbose`"),
            ("[a\n", 1, ""),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with("config file /etc/imapmend/job.toml: ")
                    && err.contains(&format!("line {line}"))
                    && err.contains(needle),
                "{text:?} → {err}"
            );
        }
        assert!(parse("").unwrap().content.a.is_none());
        assert!(matches!(
            parse("[policy]\nmax_delete = 7\n")
                .unwrap()
                .content
                .policy
                .unwrap()
                .max_delete
                .unwrap()
                .get_ref()
                .0,
            MaxDelete::Count(7)
        ));
    }

    #[test]
    fn config_file_that_cannot_be_read_says_which() {
        let err = ConfigFile::load(Path::new("/nonexistent/job.toml")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read config file /nonexistent/job.toml"),
            "{err}"
        );
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
}
