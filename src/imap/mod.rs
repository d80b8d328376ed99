//! The IMAP layer: transports (implicit TLS, STARTTLS, plain), login, and the
//! one command engine every command after the greeting goes through.
//!
//! Public surface: [`Connection`] (an authenticated session) and the plain
//! values its commands return. Everything about bytes on the wire — framing,
//! tags, literals, parsing — stays inside this module.
//!
//! CONTRACT (stub written by the lead; the imap helper replaces the bodies):
//! every method returns an error — never an empty or partial result — on a
//! tagged NO/BAD, an unparsable response, a timeout or a dropped connection.

use crate::model::{FlagDelta, FlagSet, InternalDate, MailboxStatus, Side, Uid};
use crate::secret::Secret;
use std::path::PathBuf;

/// How the TCP stream is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (imaps, port 993).
    Implicit,
    /// Plain greeting, then STARTTLS before anything else (imap, port 143).
    StartTls,
    /// No TLS at all; a password is only sent if the host is loopback or
    /// `allow_plaintext_auth` is set.
    None,
}

/// Everything needed to open and authenticate one session.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    /// Which side this is, so errors can say "A (host:port)".
    pub side: Side,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub tls: TlsMode,
    /// Extra CA certificate(s) in PEM, trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    pub allow_plaintext_auth: bool,
}

/// One LIST reply line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMailbox {
    /// The name exactly as on the wire (modified UTF-7, unquoted).
    pub name: String,
    pub delimiter: Option<char>,
    /// Attributes such as `\Noselect`, `\HasChildren`, `\Sent`.
    pub attributes: Vec<String>,
}

impl ListedMailbox {
    pub fn is_selectable(&self) -> bool {
        !self.attributes.iter().any(|a| {
            a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
        })
    }
}

/// One message's metadata from `UID FETCH (UID FLAGS RFC822.SIZE INTERNALDATE)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    pub uid: Uid,
    pub size: u32,
    pub internal_date: InternalDate,
    pub flags: FlagSet,
}

/// One message to APPEND.
#[derive(Debug, Clone, Copy)]
pub struct AppendItem<'a> {
    pub flags: &'a FlagSet,
    pub internal_date: InternalDate,
    pub body: &'a [u8],
}

/// What the server said about an APPEND batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// From `[APPENDUID uidvalidity uid-set]` (UIDPLUS), in the order the
    /// messages were sent; None when the server does not say.
    pub uidvalidity: Option<u32>,
    pub uids: Option<Vec<Uid>>,
}

/// An authenticated session. Not Clone: one engine owns the stream.
pub struct Connection {
    _private: (),
}

impl Connection {
    /// Connects, reads the greeting, does STARTTLS where asked, authenticates
    /// (AUTHENTICATE PLAIN where offered, else LOGIN), and reads CAPABILITY.
    pub async fn connect(spec: &ConnectSpec) -> Result<Connection, ImapError> {
        let _ = spec;
        todo!("imap helper")
    }

    /// Whether the server announced this capability (case-insensitive).
    pub fn has_capability(&self, name: &str) -> bool {
        let _ = name;
        todo!("imap helper")
    }

    /// `LIST "" "*"`: every mailbox, selectable or not.
    pub async fn list_mailboxes(&mut self) -> Result<Vec<ListedMailbox>, ImapError> {
        todo!("imap helper")
    }

    /// SELECT (or EXAMINE when `read_only`), with `(CONDSTORE)` where offered.
    pub async fn select(&mut self, name: &str, read_only: bool) -> Result<MailboxStatus, ImapError> {
        let _ = (name, read_only);
        todo!("imap helper")
    }

    /// UID, FLAGS, RFC822.SIZE and INTERNALDATE of every message in the
    /// selected mailbox. The caller compares the count with EXISTS.
    pub async fn fetch_all_meta(&mut self) -> Result<Vec<ListedMessage>, ImapError> {
        todo!("imap helper")
    }

    /// `UID FETCH … BODY.PEEK[]` for these UIDs, in batches, pipelined.
    /// Calls `on_body(uid, bytes)` once per message received. Returns the UIDs
    /// the server did not return (expunged under us), which are gone, not empty.
    pub async fn fetch_bodies(
        &mut self,
        uids: &[Uid],
        on_body: &mut (dyn FnMut(Uid, Vec<u8>) + Send),
    ) -> Result<Vec<Uid>, ImapError> {
        let _ = (uids, on_body);
        todo!("imap helper")
    }

    /// Appends these messages to `mailbox` (wire name) as one MULTIAPPEND
    /// command where offered (all-or-nothing), else as pipelined APPENDs.
    pub async fn append(&mut self, mailbox: &str, items: &[AppendItem<'_>]) -> Result<AppendResult, ImapError> {
        let _ = (mailbox, items);
        todo!("imap helper")
    }

    /// Applies one delta to these UIDs of the selected mailbox with
    /// `UID STORE +FLAGS.SILENT` / `-FLAGS.SILENT`, splitting long UID sets.
    pub async fn store(&mut self, uids: &[Uid], delta: &FlagDelta) -> Result<(), ImapError> {
        let _ = (uids, delta);
        todo!("imap helper")
    }

    /// CREATE (wire name).
    pub async fn create(&mut self, name: &str) -> Result<(), ImapError> {
        let _ = name;
        todo!("imap helper")
    }

    /// LOGOUT, ignoring errors: the session is over either way.
    pub async fn logout(self) {
        todo!("imap helper")
    }
}

/// How many write commands (APPEND, STORE, CREATE, EXPUNGE, …) this process
/// has sent so far, across all connections.
pub fn write_count() -> u64 {
    todo!("imap helper")
}

/// Everything that can go wrong talking to a server. Messages name the side
/// and server; they never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("{0}")]
    Other(String),
}
