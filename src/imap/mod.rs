//! The IMAP layer: transports (implicit TLS, STARTTLS, plain), login, and the
//! one command engine every command after the greeting goes through.
//!
//! Public surface: [`Connection`] (an authenticated session) and the plain
//! values its commands return. Everything about bytes on the wire — framing,
//! tags, literals, parsing — stays inside this module.
//!
//! CONTRACT: every method returns an error — never an empty or partial
//! result — on a tagged NO/BAD, an unparsable response, a timeout or a
//! dropped connection. After a tagged NO the session stays usable; after
//! anything else it is dead and every later call fails (see
//! [`ImapError::is_fatal`]).
//!
//! Inside: `transport` (TCP/TLS), `auth` (greeting, STARTTLS, login),
//! `engine` (tags, pipelining, literals, deadlines, the write point),
//! `frame` (response boundaries with size caps), `parse` (responses into
//! values), `commands` (what each method sends), `quote`, `uidset`.

mod auth;
mod commands;
mod engine;
mod error;
mod frame;
mod parse;
mod quote;
mod transport;
mod uidset;

#[cfg(test)]
mod fake_server_tests;
#[cfg(test)]
mod live_check;

pub use error::{ImapError, Peer};

use crate::model::{FlagDelta, FlagSet, InternalDate, MailboxStatus, Side, Uid};
use crate::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;

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

/// Deadlines, size caps and batch sizes of a session. `Default` suits real
/// servers; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// No progress at all on the connection for this long is an error.
    pub read_timeout: Duration,
    /// For the TCP connect and the TLS handshake.
    pub connect_timeout: Duration,
    /// Longest response line (between literals) we accept.
    pub max_line: usize,
    /// Largest literal (message) we accept from the server.
    pub max_literal: u64,
    /// Body fetches: at most this many UIDs per `UID FETCH` …
    pub fetch_batch_count: usize,
    /// … and about this many bytes (where sizes are known from the last
    /// [`Connection::fetch_all_meta`]).
    pub fetch_batch_bytes: u64,
    /// Commands in flight at once when pipelining.
    pub window: usize,
    /// Longest command line we send (UID sets are split to fit).
    pub max_command_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            read_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(30),
            max_line: 64 * 1024,
            max_literal: 256 * 1024 * 1024,
            fetch_batch_count: 500,
            fetch_batch_bytes: 32 * 1024 * 1024,
            window: 4,
            max_command_line: 8000,
        }
    }
}

/// An authenticated session. Not Clone: one engine owns the stream.
pub struct Connection {
    engine: engine::Engine,
    limits: Limits,
    selected: Option<commands::Selected>,
}

impl Connection {
    /// Connects, reads the greeting, does STARTTLS where asked, authenticates
    /// (AUTHENTICATE PLAIN where offered, else LOGIN), and reads CAPABILITY.
    pub async fn connect(spec: &ConnectSpec) -> Result<Connection, ImapError> {
        Connection::connect_with(spec, &Limits::default()).await
    }

    /// [`Connection::connect`] with explicit deadlines and caps.
    pub async fn connect_with(
        spec: &ConnectSpec,
        limits: &Limits,
    ) -> Result<Connection, ImapError> {
        let engine = auth::open(spec, limits).await?;
        Ok(Connection {
            engine,
            limits: limits.clone(),
            selected: None,
        })
    }

    /// Whether the server announced this capability (case-insensitive).
    pub fn has_capability(&self, name: &str) -> bool {
        self.engine.has_capability(name)
    }

    /// Every capability announced after login, upper-cased.
    pub fn capabilities(&self) -> &[String] {
        self.engine.capabilities()
    }

    /// The server this session talks to.
    pub fn peer(&self) -> &Peer {
        self.engine.peer()
    }

    /// False once a fatal error ended the session (reconnect then).
    pub fn is_alive(&self) -> bool {
        self.engine.is_alive()
    }

    /// `LIST "" "*"`: every mailbox, selectable or not.
    pub async fn list_mailboxes(&mut self) -> Result<Vec<ListedMailbox>, ImapError> {
        commands::list(&mut self.engine, &mut self.selected).await
    }

    /// SELECT (or EXAMINE when `read_only`), with `(CONDSTORE)` where offered.
    pub async fn select(
        &mut self,
        name: &str,
        read_only: bool,
    ) -> Result<MailboxStatus, ImapError> {
        commands::select(&mut self.engine, &mut self.selected, name, read_only).await
    }

    /// UID, FLAGS, RFC822.SIZE and INTERNALDATE of every message in the
    /// selected mailbox, in UID order. The caller compares the count with EXISTS.
    pub async fn fetch_all_meta(&mut self) -> Result<Vec<ListedMessage>, ImapError> {
        commands::fetch_all_meta(&mut self.engine, &mut self.selected).await
    }

    /// `UID FETCH … BODY.PEEK[]` for these UIDs, in batches, pipelined.
    /// Calls `on_body(uid, bytes)` once per message received. Returns the UIDs
    /// the server did not return (expunged under us), which are gone, not empty.
    pub async fn fetch_bodies(
        &mut self,
        uids: &[Uid],
        on_body: &mut (dyn FnMut(Uid, Vec<u8>) + Send),
    ) -> Result<Vec<Uid>, ImapError> {
        commands::fetch_bodies(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            uids,
            on_body,
        )
        .await
    }

    /// Appends these messages to `mailbox` (wire name) as one MULTIAPPEND
    /// command where offered (all-or-nothing), else as pipelined APPENDs
    /// (then a NO means some of the messages may have been appended).
    pub async fn append(
        &mut self,
        mailbox: &str,
        items: &[AppendItem<'_>],
    ) -> Result<AppendResult, ImapError> {
        commands::append(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            mailbox,
            items,
        )
        .await
    }

    /// Applies one delta to these UIDs of the selected mailbox with
    /// `UID STORE +FLAGS.SILENT` / `-FLAGS.SILENT`, splitting long UID sets.
    pub async fn store(&mut self, uids: &[Uid], delta: &FlagDelta) -> Result<(), ImapError> {
        commands::store(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            uids,
            delta,
        )
        .await
    }

    /// CREATE (wire name).
    pub async fn create(&mut self, name: &str) -> Result<(), ImapError> {
        commands::create(&mut self.engine, &mut self.selected, name).await
    }

    /// LOGOUT, ignoring errors: the session is over either way.
    pub async fn logout(self) {
        commands::logout(self.engine).await
    }
}

/// How many write commands (APPEND, STORE, CREATE, EXPUNGE, …) this process
/// has sent so far, across all connections.
pub fn write_count() -> u64 {
    engine::WRITES.load(std::sync::atomic::Ordering::Relaxed)
}
