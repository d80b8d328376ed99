//! The command engine: every command after the greeting goes through here.
//!
//! It owns the byte stream and everything about it: framing responses (with
//! the caps in [`Limits`]), tagging commands (`A0001`, …), sending literals
//! (non-synchronising `{n+}` where the server allows, else waiting for `+`),
//! keeping a bounded window of commands in flight, handing untagged data to
//! the command that caused it (the oldest one outstanding), deadlines (no
//! progress within `read_timeout` is an error), and the single write point,
//! which counts write commands process-wide ([`WRITES`]).
//!
//! It does not know what commands mean: callers build [`Command`]s and read
//! the untagged data handed to their handler. A tagged NO is returned to the
//! caller as [`ImapError::No`] (after the commands already sent have
//! completed, so the session stays in step and usable), or as an answer for
//! commands built with [`Command::no_is_an_answer`]; what it means for the
//! run is the caller's to say. A tagged BAD, and anything else unexpected,
//! kills the session for good.
//!
//! # Test hooks (hidden, for the crash tests; inert when unset)
//!
//! The write point also serves the crash tests (tests/crash.rs, docs/SCENARIOS.md
//! C4 and I12). Two environment variables, read once per process, drive it;
//! neither is part of the user interface, and when neither is set the hooks
//! cost one check of a `OnceLock` per write command and change nothing:
//!
//! - `IMAPMEND_TEST_CRASH_AFTER_WRITES=k` — the process dies at once
//!   (`std::process::abort()`: no destructors, no snapshot checkpoint, like a
//!   real crash) right after the k-th write command of the process (counted
//!   from 1 across both connections, as [`WRITES`]) has been
//!   completely sent and flushed. `k:answered` waits instead until the
//!   server's tagged reply to that command has been read (and not yet acted
//!   on). The dying process prints one line on stderr naming the command.
//! - `IMAPMEND_TEST_WRITE_LOG=PATH` — appends one line per write command
//!   sent: its number, the side, and the command's label (never a secret:
//!   labels are built for humans). Tests use it to count the writes of a
//!   clean run and to tell which write a crash interrupted.

use super::bounds::Bound;
use super::error::{ImapError, Peer};
use super::frame::{FrameError, Scan};
use super::parse::{self, Cond, Response, Status, Untagged};
use super::quote::Astring;
use super::recv::RecvBuf;
use super::transport::Stream;
use super::Limits;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Write commands sent by this process, across all connections.
pub(crate) static WRITES: AtomicU64 = AtomicU64::new(0);

/// Turns taken by this process's sessions, per side ([`Side::index`]): the
/// times a session waited for its server with nothing else it could send
/// (see [`Engine::turns`]). The greeting is not one; summed over every
/// session to the side (a pool's lanes, reconnects).
///
/// [`Side::index`]: crate::model::Side::index
static TURNS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// The turns this process's sessions to `side` have taken so far.
pub(crate) fn turns(side: crate::model::Side) -> u64 {
    TURNS[side.index()].load(Ordering::Relaxed)
}

/// Commands that change a server. Counted at the write point.
fn is_write_command(name: &str) -> bool {
    let name = name.strip_prefix("UID ").unwrap_or(name);
    matches!(
        name,
        "APPEND"
            | "STORE"
            | "CREATE"
            | "DELETE"
            | "RENAME"
            | "EXPUNGE"
            | "COPY"
            | "MOVE"
            | "SUBSCRIBE"
            | "UNSUBSCRIBE"
    )
}

/// The hidden test hooks of the write point (see the module documentation).
mod test_hooks;

/// Small writes are gathered up to this size before going out.
const WRITE_BUFFER: usize = 64 * 1024;
/// How much unread server output we buffer while still writing a command.
const READ_AHEAD_WHILE_WRITING: usize = 16 * 1024 * 1024;
/// Most bytes one read takes from the stream.
const READ_CHUNK: usize = 256 * 1024;
/// LITERAL- allows non-synchronising literals up to this size (RFC 7888).
const LITERAL_MINUS_MAX: usize = 4096;

enum Part<'a> {
    Text(Cow<'a, [u8]>),
    Literal {
        data: Cow<'a, [u8]>,
        binary: bool,
    },
    /// End the line, wait for `+`, then send this (AUTHENTICATE responses).
    AfterContinue(Vec<u8>),
}

/// One command to send: its name (for write counting), a label for error
/// messages (never holding a secret), and its parts after the tag.
pub(crate) struct Command<'a> {
    name: &'static str,
    label: String,
    parts: Vec<Part<'a>>,
    allow_bye: bool,
    no_is_an_answer: bool,
    bad_is_an_answer: bool,
    /// Message bodies this command moves, for `--max-messages-per-second`.
    messages: u64,
    /// What it may read; None: [`Bound::unsolicited`] for the selected
    /// mailbox.
    bound: Option<Bound>,
}

impl<'a> Command<'a> {
    /// A command starting with `name` (e.g. `"UID FETCH"`).
    pub(crate) fn new(name: &'static str, label: impl Into<String>) -> Self {
        Command {
            name,
            label: label.into(),
            parts: vec![Part::Text(Cow::Borrowed(name.as_bytes()))],
            allow_bye: false,
            no_is_an_answer: false,
            bad_is_an_answer: false,
            messages: 0,
            bound: None,
        }
    }

    /// What the engine reads for this command before it fails it
    /// ([`super::bounds`]), instead of the default for the selected mailbox.
    pub(crate) fn bounded(mut self, bound: Bound) -> Self {
        self.bound = Some(bound);
        self
    }

    /// This command moves `n` message bodies (a FETCH or APPEND batch): it
    /// waits for the message rate limit before it is sent.
    pub(crate) fn carrying_messages(mut self, n: usize) -> Self {
        self.messages = n as u64;
        self
    }

    /// The label errors use for this command.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The command as `-vv` shows it: literals as their size, and only the
    /// label of a command that carries credentials (see [`super::trace`]).
    fn trace_text(&self) -> String {
        if super::trace::carries_credentials(self.name) {
            return format!("{} <credentials redacted>", self.label);
        }
        let mut shown = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => shown.extend_from_slice(t),
                Part::Literal { data, .. } => {
                    shown.extend_from_slice(super::trace::elided(data.len()).as_bytes())
                }
                Part::AfterContinue(_) => shown.extend_from_slice(b" <redacted>"),
            }
        }
        super::trace::printable(&shown)
    }

    /// Appends raw protocol text (the caller made sure it is safe).
    pub(crate) fn text(mut self, s: impl Into<String>) -> Self {
        self.parts
            .push(Part::Text(Cow::Owned(s.into().into_bytes())));
        self
    }

    pub(crate) fn astring(mut self, a: Astring<'a>) -> Self {
        self.parts.push(match a {
            Astring::Quoted(q) => Part::Text(Cow::Owned(q.into_bytes())),
            Astring::Literal(data) => Part::Literal {
                data,
                binary: false,
            },
        });
        self
    }

    /// A literal: `{n}` / `{n+}`, or `~{n}` (RFC 3516) when `binary`.
    pub(crate) fn literal(mut self, data: &'a [u8], binary: bool) -> Self {
        self.parts.push(Part::Literal {
            data: Cow::Borrowed(data),
            binary,
        });
        self
    }

    /// Ends the line, waits for a continuation request, sends `line`.
    pub(crate) fn after_continue(mut self, line: Vec<u8>) -> Self {
        self.parts.push(Part::AfterContinue(line));
        self
    }

    /// An untagged BYE is expected (LOGOUT) rather than an error.
    pub(crate) fn expecting_bye(mut self) -> Self {
        self.allow_bye = true;
        self
    }

    /// A tagged NO is an answer the caller reads (`NO [MODIFIED …]` of a
    /// conditional STORE) rather than an error: it is returned with the
    /// OKs and does not stop the commands after it.
    pub(crate) fn no_is_an_answer(mut self) -> Self {
        self.no_is_an_answer = true;
        self
    }

    /// A tagged NO or BAD is an answer the caller reads, for a command
    /// pipelined behind a SELECT: it meets a mailbox it could not see when
    /// it was sent (none, if the SELECT failed, or an empty one, where some
    /// servers answer `1:*` with BAD). The session lives on; the caller
    /// says what the answer means given the SELECT's.
    pub(crate) fn failure_is_an_answer(mut self) -> Self {
        self.no_is_an_answer = true;
        self.bad_is_an_answer = true;
        self
    }

    /// Whether a tagged reply of this condition is an answer rather than
    /// a failure.
    fn answers(&self, cond: Cond) -> bool {
        match cond {
            Cond::Ok => true,
            Cond::No => self.no_is_an_answer,
            Cond::Bad => self.bad_is_an_answer,
            _ => false,
        }
    }
}

/// Receives each untagged response with the index of the command it is
/// attributed to. An `Err` is a protocol error and ends the session.
pub(crate) type Handler<'h> = dyn FnMut(usize, &Untagged<'_>) -> Result<(), String> + Send + 'h;

/// Bytes of an untagged response that its handler wants to keep as an owned
/// buffer ([`Engine::run_keeping`]): a message body, handed over without a
/// second copy of it.
pub(crate) enum Keep {
    /// A part of the response itself (a literal the parser borrowed):
    /// where it starts in memory, and its length.
    InResponse { key: u32, ptr: usize, len: usize },
    /// Bytes the parser had to copy anyway.
    Owned { key: u32, data: Vec<u8> },
}

impl Keep {
    /// A body as the parser gave it, filed under `key`: borrowed from the
    /// response where it could be, else its copy.
    // The Cow itself: whether it borrows from the response is the point.
    #[allow(clippy::ptr_arg)]
    pub(crate) fn body(key: u32, data: &std::borrow::Cow<'_, [u8]>) -> Keep {
        match data {
            std::borrow::Cow::Borrowed(b) => Keep::borrowed(key, b),
            std::borrow::Cow::Owned(v) => Keep::Owned {
                key,
                data: v.clone(),
            },
        }
    }

    /// The bytes `data` of the response being handled, filed under `key`.
    pub(crate) fn borrowed(key: u32, data: &[u8]) -> Keep {
        Keep::InResponse {
            key,
            ptr: data.as_ptr() as usize,
            len: data.len(),
        }
    }
}

/// A [`Handler`] that may keep part of each response.
pub(crate) type KeepingHandler<'h> =
    dyn FnMut(usize, &Untagged<'_>) -> Result<Option<Keep>, String> + Send + 'h;
/// Receives what a [`KeepingHandler`] kept, by key, once the response is
/// no longer borrowed.
pub(crate) type Kept<'h> = dyn FnMut(u32, Vec<u8>) + Send + 'h;

/// What one read-and-dispatch step saw.
enum Event {
    Continue,
    Completed(String),
    Untagged,
}

/// The commands of one run and where each stands.
struct Flights<'r, 'c, 'h> {
    cmds: &'r [Command<'c>],
    /// Sent and not yet completed: (command index, tag), oldest first.
    inflight: VecDeque<(usize, String)>,
    done: Vec<Option<Status>>,
    /// Per command: its number among the process's write commands, if it
    /// is one (for the test hooks).
    write_no: Vec<Option<u64>>,
    /// Per command: untagged responses and their bytes so far.
    seen: Vec<(u64, u64)>,
    failed: bool,
    on_data: &'r mut KeepingHandler<'h>,
    on_kept: Option<&'r mut Kept<'h>>,
}

impl Flights<'_, '_, '_> {
    fn current_label(&self) -> String {
        match self.inflight.front() {
            Some((i, _)) => format!("reading the response to {}", self.cmds[*i].label),
            None => "reading a response".into(),
        }
    }
}

enum Step {
    Wrote(usize),
    Flushed,
    Read,
}

/// An IMAP session's byte stream plus the state of the command engine.
pub(crate) struct Engine {
    stream: Stream,
    peer: Peer,
    limits: Limits,
    inbuf: RecvBuf,
    scan: Scan,
    eof: bool,
    out: Vec<u8>,
    scratch: Box<[u8]>,
    next_tag: u32,
    /// Capabilities, upper-cased; set by the session after login.
    caps: Vec<String>,
    dead: Option<String>,
    /// This process's session number to the side (1, 2 …), so that trace
    /// lines of several sessions (a pool, a reconnect) tell them apart.
    session: u32,
    /// Turns this session took ([`Engine::turns`]).
    turns: u64,
    /// Something was sent that the server has not yet been waited for
    /// (counted as a turn at the next read).
    unwaited: bool,
    /// EXISTS of the mailbox last selected, for the default [`Bound`].
    selected_exists: u32,
}

/// Sessions opened so far, per side.
static SESSIONS: [std::sync::atomic::AtomicU32; 2] = [
    std::sync::atomic::AtomicU32::new(0),
    std::sync::atomic::AtomicU32::new(0),
];

impl Engine {
    pub(crate) fn new(stream: Stream, peer: Peer, limits: Limits, first_tag: u32) -> Engine {
        let session = SESSIONS[peer.side.index()].fetch_add(1, Ordering::Relaxed) + 1;
        Engine {
            session,
            stream,
            peer,
            limits,
            inbuf: RecvBuf::default(),
            scan: Scan::default(),
            eof: false,
            out: Vec::new(),
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
            next_tag: first_tag,
            caps: Vec::new(),
            dead: None,
            turns: 0,
            unwaited: false,
            selected_exists: 0,
        }
    }

    /// The turns this session took: the times it waited for the server
    /// with nothing else it could send. A command sent while none is in
    /// flight starts one, counted when the engine first reads after it;
    /// commands sent while others are still in flight ride on it (a
    /// pipelined flight costs one turn, however long), and so does
    /// anything sent and never waited for (LOGOUT). A synchronising
    /// literal or an AUTHENTICATE exchange costs one per continuation.
    pub(crate) fn turns(&self) -> u64 {
        self.turns
    }

    /// Counts a turn if this read waits for something sent since the last.
    fn note_wait(&mut self) {
        if std::mem::take(&mut self.unwaited) {
            self.turns += 1;
            TURNS[self.peer.side.index()].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A mailbox of `exists` messages is selected now: the default
    /// [`Bound`] of every command allows for its unsolicited updates.
    pub(crate) fn note_selected(&mut self, exists: u32) {
        self.selected_exists = exists;
    }

    /// The bound of command `i`.
    fn bound_of(&self, fl: &Flights<'_, '_, '_>, i: usize) -> Bound {
        fl.cmds[i]
            .bound
            .unwrap_or_else(|| Bound::unsolicited(self.selected_exists))
    }

    pub(crate) fn peer(&self) -> &Peer {
        &self.peer
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    pub(crate) fn peer_ip(&self) -> Option<std::net::IpAddr> {
        self.stream.peer_ip()
    }

    pub(crate) fn set_capabilities(&mut self, caps: Vec<String>) {
        self.caps = caps.into_iter().map(|c| c.to_ascii_uppercase()).collect();
    }

    pub(crate) fn capabilities(&self) -> &[String] {
        &self.caps
    }

    pub(crate) fn has_capability(&self, name: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.dead.is_none()
    }

    pub(crate) fn death(&self) -> Option<&str> {
        self.dead.as_deref()
    }

    /// Hands back the stream (for the TLS upgrade after STARTTLS) and the
    /// next tag. Anything the server sent beyond the STARTTLS reply would be
    /// plaintext injected before the handshake: refused.
    /// Everything from here on is compressed (after `COMPRESS DEFLATE`'s
    /// OK): bytes already read past the OK are compressed ones.
    pub(crate) fn into_compressed(mut self) -> Engine {
        let already = self.inbuf.take(self.inbuf.len());
        let stream = self.stream;
        self.stream = Stream::Deflate(Box::new(super::deflate::Deflated::new(stream, already)));
        self
    }

    pub(crate) fn into_stream(self) -> Result<(Stream, u32), ImapError> {
        if !self.inbuf.is_empty() {
            return Err(ImapError::Tls {
                peer: self.peer,
                detail: "server sent data after the STARTTLS reply (possible injection)".into(),
            });
        }
        Ok((self.stream, self.next_tag))
    }

    /// Reads the greeting: `* OK`, `* PREAUTH` or `* BYE`.
    pub(crate) async fn read_greeting(&mut self) -> Result<Status, ImapError> {
        let during = "reading the greeting";
        let result = async {
            let buf = self.read_response(during, None).await?;
            match parse::parse(&buf) {
                Ok(Response::Untagged(Untagged::Status(s))) => match s.cond {
                    Cond::Ok | Cond::PreAuth => Ok(s),
                    Cond::Bye => Err(ImapError::Bye {
                        peer: self.peer.clone(),
                        text: s.text,
                    }),
                    _ => Err(self.protocol(during, format!("greeting {:?}", s.cond))),
                },
                Ok(_) => {
                    Err(self.protocol(during, format!("not a greeting: {}", parse::excerpt(&buf))))
                }
                Err(detail) => Err(self.protocol(during, detail)),
            }
        }
        .await;
        self.note_fatal(result)
    }

    /// Runs one command; see [`Engine::run`].
    pub(crate) async fn run_one(
        &mut self,
        cmd: Command<'_>,
        on_data: &mut Handler<'_>,
    ) -> Result<Status, ImapError> {
        let mut done = self.run(vec![cmd], 1, on_data).await?;
        Ok(done.remove(0))
    }

    /// Sends the commands in order, at most `window` in flight, and returns
    /// every tagged OK in order (and the NOs and BADs of commands built
    /// to read them as answers: [`Command::no_is_an_answer`],
    /// [`Command::failure_is_an_answer`]). Any other tagged NO or BAD stops further sending;
    /// commands already sent are still completed, then the first failure is
    /// returned. Untagged data goes to `on_data`.
    pub(crate) async fn run(
        &mut self,
        cmds: Vec<Command<'_>>,
        window: usize,
        on_data: &mut Handler<'_>,
    ) -> Result<Vec<Status>, ImapError> {
        if let Some(reason) = &self.dead {
            return Err(ImapError::Closed {
                peer: self.peer.clone(),
                reason: reason.clone(),
            });
        }
        let mut keep_nothing = |i: usize, u: &Untagged<'_>| on_data(i, u).map(|()| None);
        let result = self
            .run_inner(&cmds, window.max(1), &mut keep_nothing, None)
            .await;
        self.note_fatal(result)
    }

    /// [`Engine::run`], where the handler may keep part of a response (a
    /// message body): `on_kept` then receives it as an owned buffer, the
    /// response's own allocation cut down to it rather than a copy.
    pub(crate) async fn run_keeping<'h>(
        &mut self,
        cmds: Vec<Command<'_>>,
        window: usize,
        on_data: &mut KeepingHandler<'h>,
        on_kept: &mut Kept<'h>,
    ) -> Result<Vec<Status>, ImapError> {
        if let Some(reason) = &self.dead {
            return Err(ImapError::Closed {
                peer: self.peer.clone(),
                reason: reason.clone(),
            });
        }
        let result = self
            .run_inner(&cmds, window.max(1), on_data, Some(on_kept))
            .await;
        self.note_fatal(result)
    }

    fn note_fatal<T>(&mut self, result: Result<T, ImapError>) -> Result<T, ImapError> {
        if let Err(e) = &result {
            if e.is_fatal() && self.dead.is_none() {
                self.dead = Some(e.to_string());
            }
        }
        result
    }

    async fn run_inner<'h>(
        &mut self,
        cmds: &[Command<'_>],
        window: usize,
        on_data: &mut KeepingHandler<'h>,
        on_kept: Option<&mut Kept<'h>>,
    ) -> Result<Vec<Status>, ImapError> {
        let mut fl = Flights {
            cmds,
            inflight: VecDeque::new(),
            done: vec![None; cmds.len()],
            write_no: vec![None; cmds.len()],
            seen: vec![(0, 0); cmds.len()],
            failed: false,
            on_data,
            on_kept,
        };
        let mut next = 0;
        loop {
            while !fl.failed && next < cmds.len() && fl.inflight.len() < window {
                self.send(&mut fl, next).await?;
                next += 1;
            }
            if fl.inflight.is_empty() {
                break;
            }
            self.flush(&format!("sending {}", cmds[next - 1].label))
                .await?;
            self.dispatch(&mut fl, None).await?;
        }
        let mut out = Vec::with_capacity(cmds.len());
        for (i, status) in fl.done.into_iter().enumerate() {
            let Some(status) = status else { break };
            match status.cond {
                cond if cmds[i].answers(cond) => out.push(status),
                Cond::No => {
                    return Err(ImapError::No {
                        peer: self.peer.clone(),
                        command: cmds[i].label.clone(),
                        code: status.code.map(|c| c.to_string()),
                        text: status.text,
                    })
                }
                _ => {
                    return Err(ImapError::Bad {
                        peer: self.peer.clone(),
                        command: cmds[i].label.clone(),
                        text: status.text,
                    })
                }
            }
        }
        Ok(out)
    }

    fn new_tag(&mut self) -> String {
        let tag = format!("A{:04}", self.next_tag);
        self.next_tag = self.next_tag.wrapping_add(1);
        tag
    }

    /// The single write point for commands.
    async fn send(&mut self, fl: &mut Flights<'_, '_, '_>, i: usize) -> Result<(), ImapError> {
        crate::throttle::messages(fl.cmds[i].messages).await;
        let cmd = &fl.cmds[i];
        let during = format!("sending {}", cmd.label);
        let tag = self.new_tag();
        if fl.inflight.is_empty() {
            self.unwaited = true;
        }
        fl.inflight.push_back((i, tag.clone()));
        let write_no =
            is_write_command(cmd.name).then(|| WRITES.fetch_add(1, Ordering::Relaxed) + 1);
        fl.write_no[i] = write_no;
        if tracing::enabled!(target: "imapmend::imap", tracing::Level::DEBUG) {
            let (side, n) = (self.peer.side, self.session);
            tracing::debug!(target: "imapmend::imap", "{side}{n} C: {tag} {}", cmd.trace_text());
        }
        self.write(tag.as_bytes(), &during).await?;
        self.write(b" ", &during).await?;
        for part in &cmd.parts {
            match part {
                Part::Text(t) => self.write(t, &during).await?,
                Part::Literal { data, binary } => {
                    let plus = self.has_capability("LITERAL+")
                        || (self.has_capability("LITERAL-") && data.len() <= LITERAL_MINUS_MAX);
                    let header = format!(
                        "{}{{{}{}}}\r\n",
                        if *binary { "~" } else { "" },
                        data.len(),
                        if plus { "+" } else { "" }
                    );
                    self.write(header.as_bytes(), &during).await?;
                    if !plus && !self.await_continue(fl, &tag).await? {
                        return Ok(());
                    }
                    self.write(data, &during).await?;
                }
                Part::AfterContinue(line) => {
                    self.write(b"\r\n", &during).await?;
                    if !self.await_continue(fl, &tag).await? {
                        return Ok(());
                    }
                    self.write(line, &during).await?;
                }
            }
        }
        self.write(b"\r\n", &during).await?;
        if let Some(n) = write_no {
            test_hooks::log_sent(n, &self.peer, &cmd.label);
            if test_hooks::crash_at(n, test_hooks::When::Sent) {
                self.flush(&during).await?;
                test_hooks::crash(n, test_hooks::When::Sent, &cmd.label);
            }
        }
        Ok(())
    }

    /// Flushes and reads until the server asks for more of command `tag`
    /// (true) or completes it instead (false: refused mid-command).
    async fn await_continue(
        &mut self,
        fl: &mut Flights<'_, '_, '_>,
        tag: &str,
    ) -> Result<bool, ImapError> {
        self.flush("sending a command").await?;
        loop {
            match self.dispatch(fl, Some(tag)).await? {
                Event::Continue => {
                    // What follows the continuation is waited for again.
                    self.unwaited = true;
                    return Ok(true);
                }
                Event::Completed(t) if t == tag => return Ok(false),
                Event::Completed(_) | Event::Untagged => {}
            }
        }
    }

    /// Reads one response and files it: a completion to its command, data to
    /// the handler (attributed to the oldest command outstanding).
    async fn dispatch(
        &mut self,
        fl: &mut Flights<'_, '_, '_>,
        sending: Option<&str>,
    ) -> Result<Event, ImapError> {
        let during = fl.current_label();
        self.note_wait();
        let bound = fl.inflight.front().map(|&(i, _)| self.bound_of(fl, i));
        let literal = bound.and_then(|b| b.literal.map(|max| (b, max)));
        let buf = self.read_response(&during, literal).await?;
        let response = parse::parse(&buf).map_err(|detail| self.protocol(&during, detail))?;
        match response {
            Response::Continue(_) if sending.is_some() => Ok(Event::Continue),
            Response::Continue(text) => {
                Err(self.protocol(&during, format!("unexpected continuation request {text:?}")))
            }
            Response::Tagged { tag, status } => {
                let pos = fl
                    .inflight
                    .iter()
                    .position(|(_, t)| *t == tag)
                    .ok_or_else(|| {
                        self.protocol(&during, format!("reply for unknown tag {tag:?}"))
                    })?;
                let (i, tag) = fl.inflight.remove(pos).unwrap_or_default();
                if let Some(n) = fl.write_no[i] {
                    if test_hooks::crash_at(n, test_hooks::When::Answered) {
                        test_hooks::crash(n, test_hooks::When::Answered, &fl.cmds[i].label);
                    }
                }
                if !fl.cmds[i].answers(status.cond) {
                    fl.failed = true;
                }
                fl.done[i] = Some(status);
                Ok(Event::Completed(tag))
            }
            Response::Untagged(u) => {
                let Some(&(i, _)) = fl.inflight.front() else {
                    return Err(
                        self.protocol(&during, "untagged data with no command outstanding".into())
                    );
                };
                if let Untagged::Status(s) = &u {
                    match s.cond {
                        Cond::Bye if !fl.cmds[i].allow_bye => {
                            return Err(ImapError::Bye {
                                peer: self.peer.clone(),
                                text: s.text.clone(),
                            })
                        }
                        Cond::Bad => {
                            return Err(ImapError::Bad {
                                peer: self.peer.clone(),
                                command: format!("(untagged, during {})", fl.cmds[i].label),
                                text: s.text.clone(),
                            })
                        }
                        _ => {}
                    }
                }
                let seen = &mut fl.seen[i];
                seen.0 += 1;
                seen.1 += buf.len() as u64;
                let (responses, bytes) = *seen;
                let bound = self.bound_of(fl, i);
                if responses > bound.responses || bytes > bound.bytes {
                    return Err(self.protocol(&during, bound.exceeded(responses)));
                }
                let keep = (fl.on_data)(i, &u).map_err(|detail| self.protocol(&during, detail))?;
                drop(u);
                if let (Some(keep), Some(on_kept)) = (keep, fl.on_kept.as_mut()) {
                    let (key, data) = match keep {
                        Keep::Owned { key, data } => (key, data),
                        Keep::InResponse { key, ptr, len } => {
                            let data = cut_down(buf, ptr, len).ok_or_else(|| {
                                self.protocol(&during, "kept bytes outside the response".into())
                            })?;
                            (key, data)
                        }
                    };
                    on_kept(key, data);
                }
                Ok(Event::Untagged)
            }
        }
    }

    fn protocol(&self, during: &str, detail: String) -> ImapError {
        ImapError::Protocol {
            peer: self.peer.clone(),
            during: during.to_string(),
            detail,
        }
    }

    /// Buffers small writes; sends large ones (message bodies) directly.
    async fn write(&mut self, data: &[u8], during: &str) -> Result<(), ImapError> {
        if data.len() >= WRITE_BUFFER {
            self.flush(during).await?;
            return self.pump(data, during).await;
        }
        self.out.extend_from_slice(data);
        if self.out.len() >= WRITE_BUFFER {
            self.flush(during).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, during: &str) -> Result<(), ImapError> {
        let out = std::mem::take(&mut self.out);
        let result = self.pump(&out, during).await;
        self.out = out;
        self.out.clear();
        result
    }

    /// Writes all of `data` and flushes, reading whatever the server sends
    /// meanwhile into the receive buffer, so neither side can block the
    /// other. No progress at all within `read_timeout` is a timeout.
    async fn pump(&mut self, data: &[u8], during: &str) -> Result<(), ImapError> {
        crate::throttle::bytes(data.len() as u64).await;
        let mut pos = 0;
        loop {
            let chunk = &data[pos..];
            let limit = self.limits.read_timeout;
            let step = std::future::poll_fn(|cx| self.poll_step(cx, chunk));
            match tokio::time::timeout(limit, step).await {
                Err(_) => return Err(self.timeout(during)),
                Ok(Err(source)) => {
                    self.read_what_is_left().await;
                    return Err(self.io_error(during, source));
                }
                Ok(Ok(Step::Wrote(0))) => {
                    return Err(self.io_error(during, io::ErrorKind::WriteZero.into()))
                }
                Ok(Ok(Step::Wrote(n))) => pos += n,
                Ok(Ok(Step::Flushed)) => return Ok(()),
                Ok(Ok(Step::Read)) => {}
            }
        }
    }

    fn poll_step(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<Step>> {
        let wrote = if data.is_empty() {
            Pin::new(&mut self.stream)
                .poll_flush(cx)
                .map_ok(|()| Step::Flushed)
        } else {
            Pin::new(&mut self.stream)
                .poll_write(cx, data)
                .map_ok(Step::Wrote)
        };
        if wrote.is_ready() {
            return wrote;
        }
        if !self.eof && self.inbuf.len() < READ_AHEAD_WHILE_WRITING {
            if let Poll::Ready(r) = self.poll_fill(cx) {
                return Poll::Ready(r.map(|()| Step::Read));
            }
        }
        Poll::Pending
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut rb = ReadBuf::new(&mut self.scratch);
        match Pin::new(&mut self.stream).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                if rb.filled().is_empty() {
                    self.eof = true;
                } else {
                    self.inbuf.extend(rb.filled());
                }
                Poll::Ready(Ok(()))
            }
        }
    }

    /// One complete response (line plus literals), taken out of the buffer.
    /// `literal`: a command's [`Bound`] on literals, below the session's cap.
    async fn read_response(
        &mut self,
        during: &str,
        literal: Option<(Bound, u64)>,
    ) -> Result<Vec<u8>, ImapError> {
        let max_literal = literal.map_or(self.limits.max_literal, |(_, max)| max);
        loop {
            match self
                .scan
                .next(self.inbuf.pending(), self.limits.max_line, max_literal)
            {
                Err(e) => {
                    let detail = match (e, literal) {
                        (FrameError::LiteralTooLarge { size, max }, Some((bound, _))) => {
                            bound.literal_exceeded(size, max)
                        }
                        (e, _) => e.to_string(),
                    };
                    return Err(self.protocol(during, detail));
                }
                Ok(Some(end)) => {
                    let response = self.inbuf.take(end);
                    if tracing::enabled!(target: "imapmend::imap", tracing::Level::TRACE) {
                        let (side, n) = (self.peer.side, self.session);
                        let shown = super::trace::response_line(&response);
                        tracing::trace!(target: "imapmend::imap", "{side}{n} S: {shown}");
                    }
                    crate::throttle::bytes(response.len() as u64).await;
                    return Ok(response);
                }
                Ok(None) => {}
            }
            // A literal of known size is arriving: room for all of it (and
            // for the read that completes it), once.
            if let Some(more) = self.scan.awaiting().checked_sub(self.inbuf.len()) {
                if more > 0 {
                    self.inbuf.reserve_for(more + READ_CHUNK);
                }
            }
            if self.eof {
                return Err(ImapError::Eof {
                    peer: self.peer.clone(),
                    during: during.to_string(),
                });
            }
            let limit = self.limits.read_timeout;
            let fill = std::future::poll_fn(|cx| self.poll_fill(cx));
            match tokio::time::timeout(limit, fill).await {
                Err(_) => return Err(self.timeout(during)),
                Ok(Err(source)) => return Err(self.io_error(during, source)),
                Ok(Ok(())) => {}
            }
        }
    }

    fn timeout(&self, during: &str) -> ImapError {
        ImapError::Timeout {
            peer: self.peer.clone(),
            during: during.to_string(),
            secs: self.limits.read_timeout.as_secs(),
        }
    }

    /// After a failed write, reads what the server managed to send (a BYE
    /// saying why), briefly.
    async fn read_what_is_left(&mut self) {
        while !self.eof && self.inbuf.len() < 64 * 1024 {
            let fill = std::future::poll_fn(|cx| self.poll_fill(cx));
            match tokio::time::timeout(std::time::Duration::from_millis(200), fill).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            }
        }
    }

    /// An I/O error, unless the server said BYE before it cut the
    /// connection: then its words are the better explanation.
    fn io_error(&self, during: &str, source: io::Error) -> ImapError {
        let bye = self
            .inbuf
            .pending()
            .split(|&b| b == b'\n')
            .find_map(|line| line.strip_prefix(b"* BYE "));
        if let Some(text) = bye {
            let text = String::from_utf8_lossy(text.strip_suffix(b"\r").unwrap_or(text));
            return ImapError::Bye {
                peer: self.peer.clone(),
                text: text.into_owned(),
            };
        }
        ImapError::Io {
            peer: self.peer.clone(),
            during: during.to_string(),
            source,
        }
    }

    /// Sends `cmd` and closes the stream without waiting for the answer
    /// (LOGOUT: the server's BYE and OK tell nothing the client still
    /// needs, and waiting for them costs a turn). Errors do not matter.
    pub(crate) async fn send_and_leave(mut self, cmd: Command<'_>) {
        if self.dead.is_none() {
            let mut ignore = |_: usize, _: &Untagged<'_>| Ok(None);
            let cmds = [cmd];
            let mut fl = Flights {
                cmds: &cmds,
                inflight: VecDeque::new(),
                done: vec![None],
                write_no: vec![None],
                seen: vec![(0, 0)],
                failed: false,
                on_data: &mut ignore,
                on_kept: None,
            };
            let sent = async {
                self.send(&mut fl, 0).await?;
                self.flush("sending LOGOUT").await
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), sent).await;
            // Sent, never waited for.
            self.unwaited = false;
        }
        self.shutdown().await;
    }

    /// Closes the stream politely (TLS close_notify); errors do not matter.
    pub(crate) async fn shutdown(mut self) {
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), self.stream.shutdown()).await;
    }
}

/// The `len` bytes at address `ptr` inside `buf`, as `buf` itself cut down
/// to them (moved to the front in place; no second allocation). None if
/// they are not inside `buf`.
fn cut_down(mut buf: Vec<u8>, ptr: usize, len: usize) -> Option<Vec<u8>> {
    let off = ptr.checked_sub(buf.as_ptr() as usize)?;
    if off.checked_add(len)? > buf.len() {
        return None;
    }
    buf.truncate(off + len);
    buf.drain(..off);
    // A response taken out of a larger read keeps spare room; a kept body
    // may live long (a batch of copies), so give back a lot of it.
    if buf.capacity() > 2 * buf.len() + 64 * 1024 {
        buf.shrink_to_fit();
    }
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_body_is_its_response_cut_down() {
        let response = || b"* 1 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n".to_vec();
        let at = response().windows(5).position(|w| w == b"hello").unwrap();
        let resp = response();
        let ptr = resp.as_ptr() as usize;
        // Addresses of another buffer, or a length past the end: refused.
        assert_eq!(cut_down(response(), ptr + at, 5), None);
        let other = response();
        let other_ptr = other.as_ptr() as usize;
        assert_eq!(cut_down(other, other_ptr + at, 40), None);
        let kept = cut_down(resp, ptr + at, 5).unwrap();
        assert_eq!(kept, b"hello");
        assert_eq!(
            kept.as_ptr() as usize,
            ptr,
            "the same allocation, not a copy"
        );
    }

    #[test]
    fn write_commands_are_the_ones_that_change_a_server() {
        for w in [
            "APPEND",
            "UID STORE",
            "STORE",
            "CREATE",
            "DELETE",
            "RENAME",
            "EXPUNGE",
            "UID EXPUNGE",
            "COPY",
            "UID MOVE",
            "SUBSCRIBE",
        ] {
            assert!(is_write_command(w), "{w}");
        }
        for r in [
            "UID FETCH",
            "SELECT",
            "EXAMINE",
            "LIST",
            "LOGIN",
            "STATUS",
            "CAPABILITY",
            "LOGOUT",
        ] {
            assert!(!is_write_command(r), "{r}");
        }
    }

    #[test]
    fn crash_hook_settings_are_parsed_strictly() {
        use test_hooks::{parse_crash, When};
        assert_eq!(parse_crash("3"), Some((3, When::Sent)));
        assert_eq!(parse_crash(" 7 "), Some((7, When::Sent)));
        assert_eq!(parse_crash("3:sent"), Some((3, When::Sent)));
        assert_eq!(parse_crash("12:answered"), Some((12, When::Answered)));
        for off in ["", "0", "-1", "x", "3:later", "3:", ":answered"] {
            assert_eq!(parse_crash(off), None, "{off:?}");
        }
    }
}
