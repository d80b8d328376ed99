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
//! Inside: `transport` (TCP/TLS), `trust` (whom TLS trusts: CA file, the
//! server's own certificate, pins), `certificate` and `refusal` (what a refused
//! certificate was and what to do), `tunnel` (a command's pipes), `auth` (greeting, STARTTLS, login),
//! `engine` (tags, pipelining, literals, deadlines, the write point),
//! `frame` (response boundaries with size caps), `parse` (responses into
//! values), `commands` (what each method sends), `selected` (the selected
//! mailbox and its mode: nothing written into one held read-only),
//! `history` (CONDSTORE, QRESYNC and UIDPLUS commands), `recheck` (a
//! mailbox read back after writing, EXAMINE and CHANGEDSINCE in one
//! flight, behind a UID EXPUNGE too), `open_changes` (a mailbox opened and its history asked in one
//! flight), `store_flight` (a side's flag STOREs in one flight, the
//! header fields a later expunge logs behind them), `bounds` (how much
//! of a reply each command may read and keep), `expunged` (what was expunged
//! while a command ran), `quote`, `uidset`.

mod ahead;
mod auth;
mod bounds;
mod certificate;
mod certificate_message;
mod commands;
mod deflate;
mod engine;
mod error;
mod expunged;
mod flight;
mod frame;
mod history;
mod moving;
mod open_changes;
mod parse;
mod quote;
mod recheck;
mod recv;
mod select;
mod selected;
mod store_flight;
mod trace;
mod transport;
mod trust;
mod tunnel;
mod uidset;

#[cfg(test)]
pub(crate) mod fake_server;
#[cfg(test)]
mod fake_server_tests;
#[cfg(test)]
mod hostile_tests;

pub use ahead::{Ahead, AheadRead};
pub use error::{ImapError, Peer};
pub use flight::FlightRead;
pub use moving::Moved;
pub use store_flight::{Ride, StoreFlight};
pub use trust::CertPin;
pub use tunnel::TunnelSpec;

use crate::model::{FlagDelta, FlagSet, InternalDate, ListedMessage, MailboxStatus, Side, Uid};
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
    /// The password, or with [`AuthMethod::OAuth2`] the access token.
    pub password: Secret,
    pub auth: AuthMethod,
    pub tls: TlsMode,
    /// Extra CA certificate(s) in PEM, trusted besides the system roots; a
    /// certificate in it byte-equal to the server's is accepted as the
    /// server's own, without a chain (see `trust`).
    pub ca_file: Option<PathBuf>,
    /// Certificate pins: when any is given, only a matching certificate
    /// (or public key) is accepted.
    pub pins: Vec<CertPin>,
    pub allow_plaintext_auth: bool,
    /// Use COMPRESS=DEFLATE (RFC 4978) where the server offers it.
    pub compress: bool,
    /// Talk IMAP over this command's stdin/stdout instead of TCP (`tls` is
    /// then `None`; the command is trusted to protect the connection).
    pub tunnel: Option<TunnelSpec>,
    /// With [`AuthMethod::OAuth2`]: where `password` came from, asked for a
    /// fresh token when a connection is opened late in a long run.
    pub token_command: Option<std::sync::Arc<crate::secret::TokenCommand>>,
}

/// What [`ConnectSpec::password`] is and how the session logs in with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// AUTHENTICATE PLAIN, else LOGIN.
    #[default]
    Password,
    /// An OAuth 2.0 access token: AUTHENTICATE OAUTHBEARER (RFC 7628),
    /// else XOAUTH2 (Gmail's and Microsoft's older twin).
    OAuth2,
}

/// One LIST reply line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMailbox {
    /// The name exactly as on the wire (modified UTF-7, unquoted).
    pub name: String,
    pub delimiter: Option<char>,
    /// Attributes such as `\Noselect`, `\HasChildren`, `\Sent`.
    pub attributes: Vec<String>,
    /// Where the server has LIST-STATUS (RFC 5819) and CONDSTORE: the
    /// mailbox's status, returned with the LIST, without selecting it.
    pub status: Option<ListedStatus>,
    /// Where the server limits per mailbox (a bare `APPENDLIMIT`) and has
    /// LIST-STATUS: the mailbox's own APPENDLIMIT from the LIST answer,
    /// `Some(None)` for no limit. None where the answer did not say (the
    /// limit is then asked by STATUS where it is needed).
    pub append_limit: Option<Option<u64>>,
}

/// `STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)` as LIST-STATUS
/// returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedStatus {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub messages: u32,
    pub highestmodseq: u64,
}

impl ListedMailbox {
    pub fn is_selectable(&self) -> bool {
        !self.attributes.iter().any(|a| {
            a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
        })
    }
}

/// What the session can use of the server's history (RFC 7162), decided
/// once after login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistorySupport {
    /// No CONDSTORE: only full listings.
    None,
    /// CONDSTORE: mod-sequences, `CHANGEDSINCE`, `UNCHANGEDSINCE`; expunges
    /// must be found by comparing UID lists ([`Connection::uid_list`]).
    Condstore,
    /// QRESYNC enabled: as CONDSTORE, plus expunged UIDs reported as
    /// `VANISHED`.
    Qresync,
}

/// What changed in the selected mailbox since a mod-sequence
/// ([`Connection::fetch_changes`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// Messages whose mod-sequence is above the given one (flags changed,
    /// or new since), with full metadata, in UID order.
    pub changed: Vec<ListedMessage>,
    /// The MODSEQ of each changed message (RFC 7162 makes it part of every
    /// CHANGEDSINCE answer), in UID order.
    pub modseqs: Vec<(Uid, u64)>,
    /// QRESYNC only (None under plain CONDSTORE): UIDs expunged since, as
    /// sorted, merged, inclusive ranges. Servers may include UIDs that were
    /// never used (even `1:4294967295`), so intersect with the UIDs you know
    /// rather than expanding. An empty mailbox answers `[(1, u32::MAX)]`
    /// without asking the server: every UID is gone.
    pub vanished: Option<Vec<(Uid, Uid)>>,
}

/// A mailbox read back after writing ([`Connection::examine_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recheck {
    /// What EXAMINE said.
    pub status: MailboxStatus,
    /// The flags of every message whose MODSEQ is above the one asked
    /// from (changed, or new since), in UID order.
    pub changed: Vec<(Uid, FlagSet)>,
    /// QRESYNC only: UIDs expunged since (`VANISHED (EARLIER)`), as
    /// merged ranges that may include UIDs never used.
    pub vanished: Option<Vec<(Uid, Uid)>>,
    /// The mailbox changed while it was read (EXISTS, EXPUNGE, VANISHED,
    /// or a flag update naming no UID, came unasked): the answer is not a
    /// state to compare with.
    pub disturbed: bool,
}

/// What a conditional store ([`Connection::store_unchanged_since`]) left
/// undone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreOutcome {
    /// UIDs whose flags changed since the given mod-sequence
    /// (`[MODIFIED …]`): not written; re-read them and merge again. A UID
    /// that failed the first (+FLAGS) half was not given the second either.
    pub modified: Vec<Uid>,
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

impl Limits {
    /// Applies `IMAPMEND_TEST_READ_TIMEOUT_SECS` (see [`Connection::connect`]).
    fn with_test_overrides(mut self) -> Limits {
        let secs = std::env::var("IMAPMEND_TEST_READ_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&s| s > 0);
        if let Some(secs) = secs {
            self.read_timeout = Duration::from_secs(secs);
            self.connect_timeout = self.connect_timeout.min(self.read_timeout);
        }
        self
    }
}

/// An authenticated session. Not Clone: one engine owns the stream.
pub struct Connection {
    engine: engine::Engine,
    /// How this session was opened, for [`Connection::reopen`].
    spec: ConnectSpec,
    limits: Limits,
    selected: Option<commands::Selected>,
    history: HistorySupport,
    /// ENABLE left for the first flight ([`Connection::connect_listing`]).
    enable: Option<&'static str>,
}

/// The access token to log in with now (see [`crate::secret::TokenCommand`]);
/// the command runs off the async threads.
async fn fresh_token(
    spec: &ConnectSpec,
    source: std::sync::Arc<crate::secret::TokenCommand>,
) -> Result<crate::secret::Secret, ImapError> {
    let fetched = tokio::task::spawn_blocking(move || source.current())
        .await
        .unwrap_or_else(|e| Err(format!("the token command did not finish: {e}")));
    fetched.map_err(|detail| ImapError::Invalid {
        peer: Peer {
            side: spec.side,
            host: spec.host.clone(),
            port: spec.port,
        },
        detail: format!("cannot log in again: {detail}"),
    })
}

impl Connection {
    /// Connects, reads the greeting, does STARTTLS where asked, authenticates
    /// (AUTHENTICATE PLAIN where offered, else LOGIN), reads CAPABILITY, and
    /// enables QRESYNC (else CONDSTORE) where offered — see
    /// [`Connection::history_support`].
    ///
    /// Uses [`Limits::default`], except that the hidden test setting
    /// `IMAPMEND_TEST_READ_TIMEOUT_SECS=n` (not a user option; for tests that
    /// stall a connection on purpose) shortens the read timeout, and the
    /// connect timeout with it, to `n` seconds.
    pub async fn connect(spec: &ConnectSpec) -> Result<Connection, ImapError> {
        Connection::connect_with(spec, &Limits::default().with_test_overrides()).await
    }

    /// [`Connection::connect`] with explicit deadlines and caps.
    pub async fn connect_with(
        spec: &ConnectSpec,
        limits: &Limits,
    ) -> Result<Connection, ImapError> {
        Connection::connect_again_with(spec, limits, None).await
    }

    /// [`Connection::connect`] for a further session to a server another
    /// session of the run has logged in to: `enable` (that session's
    /// [`Connection::enable_wanted`]) rides in the login's flight, one
    /// turn less; asked again alone where this login's capabilities want
    /// something else.
    pub async fn connect_again(
        spec: &ConnectSpec,
        enable: Option<&'static str>,
    ) -> Result<Connection, ImapError> {
        let limits = Limits::default().with_test_overrides();
        Connection::connect_again_with(spec, &limits, enable).await
    }

    /// [`Connection::connect_again`] with explicit deadlines and caps
    /// (with no `enable`, [`Connection::connect_with`]).
    pub async fn connect_again_with(
        spec: &ConnectSpec,
        limits: &Limits,
        enable: Option<&'static str>,
    ) -> Result<Connection, ImapError> {
        let mut conn = Connection::open(spec, limits, enable).await?;
        conn.settle().await?;
        Ok(conn)
    }

    /// What this session's login called for enabling (`QRESYNC`,
    /// `CONDSTORE`), whether or not it has been sent yet; None where the
    /// server offers no ENABLE, or where the session compresses (nothing
    /// rides in a login's flight ahead of COMPRESS then).
    pub fn enable_wanted(&self) -> Option<&'static str> {
        // Where the session compresses, COMPRESS goes first after login.
        if self.spec.compress && self.engine.has_capability("COMPRESS=DEFLATE") {
            return None;
        }
        history::to_enable(&self.engine).ok()
    }

    /// [`Connection::connect`] for a session whose first command is
    /// [`Connection::list_tree`]: the ENABLE goes out in that flight
    /// rather than in a turn of its own. Any other first command sends it
    /// alone first.
    pub async fn connect_listing(spec: &ConnectSpec) -> Result<Connection, ImapError> {
        Connection::open(spec, &Limits::default().with_test_overrides(), None).await
    }

    /// Logged in (and compressing), the ENABLE not sent yet — unless
    /// `enable` rode in the login's flight and was what this login's
    /// capabilities call for.
    async fn open(
        spec: &ConnectSpec,
        limits: &Limits,
        enable: Option<&'static str>,
    ) -> Result<Connection, ImapError> {
        let fresh;
        let spec = match &spec.token_command {
            Some(source) => {
                fresh = ConnectSpec {
                    password: fresh_token(spec, source.clone()).await?,
                    ..spec.clone()
                };
                &fresh
            }
            None => spec,
        };
        let (mut engine, enabled) = auth::open(spec, limits, enable).await?;
        if spec.compress && engine.has_capability("COMPRESS=DEFLATE") {
            engine = commands::compress(engine).await?;
        }
        let (history, enable) = match (history::to_enable(&engine), enabled) {
            (Ok(want), Some(enabled)) if enable == Some(want) => {
                (history::enabled_history(&engine, &enabled), None)
            }
            (Ok(want), _) => (HistorySupport::None, Some(want)),
            (Err(known), _) => (known, None),
        };
        Ok(Connection {
            engine,
            spec: spec.clone(),
            limits: limits.clone(),
            selected: None,
            history,
            enable,
        })
    }

    /// Sends the ENABLE still owed, alone.
    async fn settle(&mut self) -> Result<(), ImapError> {
        if self.enable.take().is_some() {
            self.history = history::enable(&mut self.engine).await?;
        }
        Ok(())
    }

    /// Replaces this session with a new one to the same server, opened the
    /// same way (nothing selected yet). The old one is dropped unused.
    pub async fn reopen(&mut self) -> Result<(), ImapError> {
        *self = Connection::connect_with(&self.spec, &self.limits).await?;
        Ok(())
    }

    /// What connect() enabled: `ENABLE QRESYNC` where QRESYNC is offered,
    /// else CONDSTORE (by `ENABLE CONDSTORE` where ENABLE is offered, else
    /// per mailbox through SELECT (CONDSTORE)), else nothing.
    pub fn history_support(&self) -> HistorySupport {
        self.history
    }

    /// Whether `UID EXPUNGE` (UIDPLUS) is available.
    pub fn has_uidplus(&self) -> bool {
        self.engine.has_capability("UIDPLUS")
    }

    /// Whether the server announced this capability (case-insensitive).
    pub fn has_capability(&self, name: &str) -> bool {
        self.engine.has_capability(name)
    }

    /// The largest message the server accepts in any mailbox, where it
    /// announces one (`APPENDLIMIT=n`, RFC 7889). A bare `APPENDLIMIT`
    /// (limits per mailbox, asked by STATUS) gives None, as does none.
    pub fn append_limit(&self) -> Option<u64> {
        self.engine
            .capabilities()
            .iter()
            .find_map(|c| c.strip_prefix("APPENDLIMIT=")?.parse().ok())
    }

    /// The largest message `mailbox` (wire name) accepts, asked with
    /// `STATUS mailbox (APPENDLIMIT)` — for servers that announce a bare
    /// `APPENDLIMIT` (limits per mailbox, RFC 7889). None for no limit, or
    /// without that capability (nothing is sent then).
    pub async fn mailbox_append_limit(&mut self, mailbox: &str) -> Result<Option<u64>, ImapError> {
        self.settle().await?;
        if !self.engine.has_capability("APPENDLIMIT") {
            return Ok(None);
        }
        commands::status_append_limit(&mut self.engine, mailbox).await
    }

    /// A mailbox's UIDVALIDITY by STATUS, without selecting it.
    pub async fn uidvalidity_of(&mut self, mailbox: &str) -> Result<u32, ImapError> {
        self.settle().await?;
        commands::status_number(&mut self.engine, mailbox, "UIDVALIDITY").await
    }

    /// The server this session talks to.
    pub fn peer(&self) -> &Peer {
        self.engine.peer()
    }

    /// The turns this session has taken (see [`turns`]).
    pub fn turns(&self) -> u64 {
        self.engine.turns()
    }

    /// False once a fatal error ended the session (reconnect then).
    pub fn is_alive(&self) -> bool {
        self.engine.is_alive()
    }

    /// Reads the metadata of `meta` and the bodies of `bodies` (UID and
    /// size as listed, 0 if not known) in `name`, which must have
    /// `uidvalidity`: in one flight with the SELECT (EXAMINE when
    /// `read_only`) that opens it, or with no open where this session
    /// holds it at that UIDVALIDITY already ([`flight`]). A changed
    /// UIDVALIDITY is [`ImapError::Invalid`] and nothing read counts: drop
    /// what `on_body` was handed then. A failed open is its error, and the
    /// session stays usable.
    pub async fn read_in_flight(
        &mut self,
        name: &str,
        read_only: bool,
        uidvalidity: u32,
        meta: &[Uid],
        bodies: &[(Uid, u32)],
        on_body: &mut (dyn FnMut(Uid, Vec<u8>) + Send),
    ) -> Result<FlightRead, ImapError> {
        self.settle().await?;
        let target = flight::Target {
            name,
            read_only,
            uidvalidity,
            condstore: self.history != HistorySupport::None,
        };
        flight::read_in_flight(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            &target,
            meta,
            bodies,
            on_body,
        )
        .await
    }

    /// This session holds `name` selected, in either mode, at
    /// `uidvalidity` (nothing is sent).
    pub fn holds_at(&self, name: &str, uidvalidity: u32) -> bool {
        self.selected
            .as_ref()
            .is_some_and(|s| s.uidvalidity == uidvalidity && commands::same_mailbox(&s.name, name))
    }

    /// This session holds `name` selected read-write at `uidvalidity`
    /// (nothing is sent).
    pub fn holds_writable_at(&self, name: &str, uidvalidity: u32) -> bool {
        self.selected.as_ref().is_some_and(|s| {
            !s.read_only && s.uidvalidity == uidvalidity && commands::same_mailbox(&s.name, name)
        })
    }

    /// This session holds `name` selected read-write (nothing is sent).
    pub fn holds_writable(&self, name: &str) -> bool {
        self.selected
            .as_ref()
            .is_some_and(|s| !s.read_only && commands::same_mailbox(&s.name, name))
    }

    /// The error that ended the session, if one did.
    pub fn death(&self) -> Option<&str> {
        self.engine.death()
    }

    /// `LIST "" "*"`: every mailbox, selectable or not.
    pub async fn list_mailboxes(&mut self) -> Result<Vec<ListedMailbox>, ImapError> {
        self.settle().await?;
        commands::list(&mut self.engine, &mut self.selected).await
    }

    /// [`Connection::list_mailboxes`] and [`Connection::list_subscribed`]
    /// in one flight, with the ENABLE [`Connection::connect_listing`] left
    /// for it: one turn. The subscriptions' own error, if only they were
    /// refused, comes inside.
    ///
    /// `known`: the wire names whose watermarks the caller wants (see
    /// `commands::TreeExtras::known`); the others listed come without.
    pub async fn list_tree(
        &mut self,
        known: &[String],
    ) -> Result<(Vec<ListedMailbox>, Result<Vec<String>, ImapError>), ImapError> {
        let extras = commands::TreeExtras {
            enable: self.enable,
            subscriptions: true,
            known,
        };
        let tree = commands::list_tree(&mut self.engine, &mut self.selected, extras).await?;
        if self.enable.take().is_some() {
            self.history = history::enabled_history(&self.engine, &tree.enabled);
        }
        let subscriptions = tree.subscriptions.unwrap_or_else(|| Ok(Vec::new()));
        Ok((tree.mailboxes, subscriptions))
    }

    /// SELECT (or EXAMINE when `read_only`), with `(CONDSTORE)` where
    /// offered. `highestmodseq` is None without CONDSTORE or on NOMODSEQ;
    /// the history commands refuse such a mailbox.
    pub async fn select(
        &mut self,
        name: &str,
        read_only: bool,
    ) -> Result<MailboxStatus, ImapError> {
        self.settle().await?;
        let condstore = self.history != HistorySupport::None;
        commands::select(
            &mut self.engine,
            &mut self.selected,
            name,
            read_only,
            condstore,
        )
        .await
    }

    /// SELECT `name` (read-write) and, in the same flight, the header
    /// `fields` (e.g. `MESSAGE-ID`) of `uids` in it, `BODY.PEEK`: per UID
    /// the field lines as sent, absent where the server sent none (or
    /// answered the FETCH with NO). One turn, as the SELECT alone.
    pub async fn select_reading_fields(
        &mut self,
        name: &str,
        uids: &[Uid],
        fields: &[&str],
    ) -> Result<(MailboxStatus, std::collections::BTreeMap<Uid, Vec<u8>>), ImapError> {
        self.settle().await?;
        let condstore = self.history != HistorySupport::None;
        select::select_reading_fields(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            name,
            condstore,
            uids,
            fields,
        )
        .await
    }

    /// Makes `name` the selected mailbox for reading: nothing is sent when
    /// this session has it selected already (read-write or read-only, as
    /// listing it left it), else EXAMINE.
    pub async fn open_to_read(&mut self, name: &str) -> Result<(), ImapError> {
        self.settle().await?;
        if self
            .selected
            .as_ref()
            .is_some_and(|s| commands::same_mailbox(&s.name, name))
        {
            return Ok(());
        }
        self.select(name, true).await.map(drop)
    }

    /// What changed in the selected mailbox since `modseq` (CONDSTORE):
    /// `UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)
    /// (CHANGEDSINCE modseq VANISHED)` under QRESYNC, else without VANISHED
    /// and with [`Changes::vanished`] None (compare [`Connection::uid_list`]
    /// with what you know instead). [`ImapError::Invalid`] (nothing sent)
    /// without CONDSTORE or on a NOMODSEQ mailbox.
    pub async fn fetch_changes(&mut self, modseq: u64) -> Result<Changes, ImapError> {
        self.settle().await?;
        history::fetch_changes(
            &mut self.engine,
            &mut self.selected,
            self.history,
            &self.limits,
            modseq,
        )
        .await
    }

    /// SELECT `name` (EXAMINE when `read_only`) and, in the same flight,
    /// what changed there since `modseq` (as [`Connection::fetch_changes`]):
    /// one turn. The changes are None where the answer cannot be used —
    /// the open shows another UIDVALIDITY than `uidvalidity`, no
    /// mod-sequences, no message, or a mailbox that changed mid-flight —
    /// and the session is then as after [`Connection::select`]. Without
    /// CONDSTORE, a plain SELECT. `expected` (messages the caller counted
    /// there) bounds the answer.
    pub async fn select_with_changes(
        &mut self,
        name: &str,
        read_only: bool,
        uidvalidity: u32,
        modseq: u64,
        expected: u32,
    ) -> Result<(MailboxStatus, Option<Changes>), ImapError> {
        if self.history == HistorySupport::None {
            return Ok((self.select(name, read_only).await?, None));
        }
        self.settle().await?;
        let target = open_changes::Listing {
            name,
            read_only,
            uidvalidity,
            modseq,
            expected,
        };
        open_changes::open_with_changes(
            &mut self.engine,
            &mut self.selected,
            self.history,
            &self.limits,
            &target,
        )
        .await
    }

    /// Several changed mailboxes opened and read in one flight (SELECT,
    /// or EXAMINE when `read_only`; the change history since each one's
    /// saved mod-sequence; the bodies of its new UIDs, at most `limit`
    /// bytes each): one turn for all. Per target, Some where its answer
    /// can be used (see [`ahead`]); every one None without QRESYNC
    /// (nothing is sent).
    pub async fn read_ahead(
        &mut self,
        read_only: bool,
        targets: &[Ahead],
        limit: u32,
    ) -> Result<Vec<Option<AheadRead>>, ImapError> {
        self.settle().await?;
        if self.history != HistorySupport::Qresync || targets.is_empty() {
            return Ok(targets.iter().map(|_| None).collect());
        }
        ahead::read_ahead(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            read_only,
            targets,
            limit,
        )
        .await
    }

    /// EXAMINE `name` and, in the same flight, what changed there since
    /// `modseq` (`UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE modseq
    /// [VANISHED])`): one turn. `expected` is how many messages the
    /// caller expects there (it bounds the answer). [`ImapError::Invalid`]
    /// (nothing sent) without CONDSTORE. A failed EXAMINE is its error,
    /// and the session stays usable.
    pub async fn examine_changes(
        &mut self,
        name: &str,
        modseq: u64,
        expected: u32,
    ) -> Result<Recheck, ImapError> {
        self.settle().await?;
        if self.history == HistorySupport::None {
            return Err(commands::invalid(
                &self.engine,
                "CHANGEDSINCE: the server offers no CONDSTORE".into(),
            ));
        }
        recheck::examine_changes(
            &mut self.engine,
            &mut self.selected,
            self.history,
            name,
            modseq,
            expected,
        )
        .await
    }

    /// Every UID in the selected mailbox, ascending (ESEARCH where offered,
    /// else `UID FETCH 1:* (UID)`). The caller compares the count with
    /// EXISTS.
    pub async fn uid_list(&mut self) -> Result<Vec<Uid>, ImapError> {
        self.settle().await?;
        history::uid_list(
            &mut self.engine,
            &mut self.selected,
            self.history,
            &self.limits,
        )
        .await
    }

    /// Applies a flag delta only to messages unchanged since `modseq`
    /// (RFC 7162 UNCHANGEDSINCE): the +FLAGS half with `modseq`, then the
    /// -FLAGS half chained from the highest MODSEQ the first half returned.
    /// UIDs the server reports `[MODIFIED]` (in a tagged OK or NO) come back
    /// in [`StoreOutcome::modified`], untouched by us: re-read and merge.
    /// Long UID sets are split. [`ImapError::Invalid`] (nothing sent)
    /// without CONDSTORE or on a NOMODSEQ mailbox.
    pub async fn store_unchanged_since(
        &mut self,
        uids: &[Uid],
        delta: &FlagDelta,
        modseq: u64,
    ) -> Result<StoreOutcome, ImapError> {
        self.settle().await?;
        history::store_unchanged_since(
            &mut self.engine,
            &mut self.selected,
            self.history,
            &self.limits,
            uids,
            delta,
            modseq,
        )
        .await
    }

    /// Expunges exactly these UIDs: `UID STORE set +FLAGS.SILENT (\Deleted)`
    /// then `UID EXPUNGE set`. [`ImapError::Invalid`] (nothing sent) without
    /// UIDPLUS — never a plain EXPUNGE, which would take other \Deleted
    /// messages with it.
    pub async fn uid_expunge(&mut self, uids: &[Uid]) -> Result<(), ImapError> {
        self.settle().await?;
        history::uid_expunge(&mut self.engine, &mut self.selected, &self.limits, uids).await
    }

    /// [`Connection::uid_expunge`] with the read-back of `name` — the
    /// selected mailbox — behind it in the same flight, as
    /// [`Connection::examine_changes`] would read it after: one turn for
    /// both. Err: the expunge failed; Ok(None): it was done, and the
    /// read-back was refused (the caller reads back on its own).
    /// [`ImapError::Invalid`] (nothing sent) without CONDSTORE.
    pub async fn uid_expunge_reading_back(
        &mut self,
        uids: &[Uid],
        name: &str,
        modseq: u64,
        expected: u32,
    ) -> Result<Option<Recheck>, ImapError> {
        self.settle().await?;
        if self.history == HistorySupport::None {
            return Err(commands::invalid(
                &self.engine,
                "CHANGEDSINCE: the server offers no CONDSTORE".into(),
            ));
        }
        recheck::uid_expunge_reading_back(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            self.history,
            uids,
            name,
            modseq,
            expected,
        )
        .await
    }

    /// Re-reads UID, FLAGS, RFC822.SIZE and INTERNALDATE of these UIDs in the
    /// selected mailbox, in UID order; UIDs that are gone are absent. A run
    /// lists whole mailboxes; this is for the copies it has just made
    /// (confirming the UIDs APPENDUID named).
    pub async fn fetch_meta(&mut self, uids: &[Uid]) -> Result<Vec<ListedMessage>, ImapError> {
        self.settle().await?;
        history::fetch_meta(&mut self.engine, &mut self.selected, &self.limits, uids).await
    }

    /// UID, FLAGS, RFC822.SIZE and INTERNALDATE of every message in the
    /// selected mailbox, in UID order. The caller compares the count with EXISTS.
    pub async fn fetch_all_meta(&mut self) -> Result<Vec<ListedMessage>, ImapError> {
        self.settle().await?;
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
        self.settle().await?;
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
    /// Leaves `mailbox` first if this session holds it read-only (UNSELECT,
    /// else SELECT): nothing is written into a mailbox opened with EXAMINE.
    pub async fn append(
        &mut self,
        mailbox: &str,
        items: &[AppendItem<'_>],
    ) -> Result<AppendResult, ImapError> {
        self.settle().await?;
        let condstore = self.history != HistorySupport::None;
        commands::append(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            mailbox,
            items,
            condstore,
        )
        .await
    }

    /// Every delta of `items` (disjoint UID sets) on the selected mailbox,
    /// held read-write, in one flight; with `unchanged_since` each
    /// conditional on it, a delta that adds and removes chained as
    /// [`Connection::store_unchanged_since`] chains it (a second flight).
    /// The header `fields` of `fields_of` ride in the first flight, and
    /// `ride` (name, mod-sequence, messages expected) reads the mailbox
    /// back behind it as [`Connection::examine_changes`] would. Per
    /// delta its own answer ([`StoreFlight`]); Err: nothing was sent, or
    /// the session failed mid-flight ([`store_flight`]).
    pub async fn store_flight(
        &mut self,
        items: &[(&[Uid], &FlagDelta)],
        unchanged_since: Option<u64>,
        fields_of: &[Uid],
        fields: &[&str],
        ride: Option<(&str, u64, u32)>,
    ) -> Result<StoreFlight, ImapError> {
        self.settle().await?;
        let unchanged_since = unchanged_since.filter(|_| self.history != HistorySupport::None);
        let history = self.history;
        let ride =
            ride.filter(|_| history != HistorySupport::None)
                .map(|(name, modseq, expected)| Ride {
                    name,
                    modseq,
                    expected,
                    history,
                });
        store_flight::store_flight(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            items,
            unchanged_since,
            fields_of,
            fields,
            ride,
        )
        .await
    }

    /// Applies one delta to these UIDs of the selected mailbox with
    /// `UID STORE +FLAGS.SILENT` / `-FLAGS.SILENT`, splitting long UID sets.
    pub async fn store(&mut self, uids: &[Uid], delta: &FlagDelta) -> Result<(), ImapError> {
        self.settle().await?;
        commands::store(
            &mut self.engine,
            &mut self.selected,
            &self.limits,
            uids,
            delta,
        )
        .await
    }

    /// Moves these UIDs of the selected mailbox to `to` (wire name): UID
    /// MOVE, else UID COPY + UID EXPUNGE of exactly them ([`moving`]).
    pub async fn uid_move(&mut self, uids: &[Uid], to: &str) -> Result<Moved, ImapError> {
        self.settle().await?;
        moving::uid_move(&mut self.engine, &mut self.selected, &self.limits, uids, to).await
    }

    /// CREATE (wire name).
    pub async fn create(&mut self, name: &str) -> Result<(), ImapError> {
        self.settle().await?;
        commands::create(&mut self.engine, &mut self.selected, name).await
    }

    /// DELETE (wire name).
    pub async fn delete_mailbox(&mut self, name: &str) -> Result<(), ImapError> {
        self.settle().await?;
        commands::delete(&mut self.engine, &mut self.selected, name).await
    }

    /// RENAME (wire names).
    pub async fn rename_mailbox(&mut self, from: &str, to: &str) -> Result<(), ImapError> {
        self.settle().await?;
        commands::rename(&mut self.engine, &mut self.selected, from, to).await
    }

    /// SUBSCRIBE (wire name).
    pub async fn subscribe(&mut self, name: &str) -> Result<(), ImapError> {
        self.settle().await?;
        commands::subscribe(&mut self.engine, &mut self.selected, name, true).await
    }

    /// UNSUBSCRIBE (wire name).
    pub async fn unsubscribe(&mut self, name: &str) -> Result<(), ImapError> {
        self.settle().await?;
        commands::subscribe(&mut self.engine, &mut self.selected, name, false).await
    }

    /// Every subscribed name (wire form), sorted: `LIST (SUBSCRIBED) "" "*"`
    /// where LIST-EXTENDED is offered, else `LSUB "" "*"`. Names of
    /// mailboxes that no longer exist are included.
    pub async fn list_subscribed(&mut self) -> Result<Vec<String>, ImapError> {
        self.settle().await?;
        commands::list_subscribed(&mut self.engine, &mut self.selected).await
    }

    /// LOGOUT, ignoring errors: the session is over either way.
    pub async fn logout(self) {
        commands::logout(self.engine).await
    }
}

/// The turns this process's sessions to `side` have taken so far: the times
/// one of them waited for the server with nothing else it could send (the
/// greeting aside). Latency costs a round trip per turn; a pipelined flight
/// of commands costs one.
pub fn turns(side: Side) -> u64 {
    engine::turns(side)
}

/// How many write commands (APPEND, STORE, CREATE, EXPUNGE, …) this process
/// has sent so far, across all connections (the tests' count; the crash
/// hooks read the engine's counter directly).
#[cfg(test)]
pub fn write_count() -> u64 {
    engine::WRITES.load(std::sync::atomic::Ordering::Relaxed)
}
