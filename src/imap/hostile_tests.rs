//! Malformed and hostile replies (issue 5): a fake server that behaves
//! until the command under test, then answers it with garbage, a truncated
//! or huge literal, a reply to a tag nobody sent, an untagged BYE, a tagged
//! NO or BAD, a stall… — for every command type the engine sends. Every
//! case must end in a clear error naming the side and server (and, where
//! the session cannot go on, a dead session), never in a panic, an
//! unbounded buffer, a hang, or an `Ok` (an empty listing could lead to
//! deletions).
//!
//! Then a property test throws random bytes at the framing and parsing code,
//! and at a live engine, to show that nothing a server sends can panic us.

use super::*;
use crate::model::{FlagDelta, FlagSet, InternalDate, Side};
use proptest::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the fake server does with a command it turns hostile on. `{tag}` in
/// the bytes is replaced by the command's tag.
#[derive(Clone, Debug)]
enum Reply {
    /// Send these bytes and go on serving.
    Send(Vec<u8>),
    /// Send these bytes and close the connection.
    SendClose(Vec<u8>),
    /// Send these bytes and then say nothing more, keeping the connection.
    Hang(Vec<u8>),
    /// Send an endless stream of untagged responses made for this command
    /// (see [`flood_line`]) until the client stops reading or hangs up.
    Flood(Op, Flood),
}

/// Decides, per command (tag, command text after the tag), whether to turn
/// hostile; None means behave.
type Hostile = Box<dyn FnMut(&str, &str) -> Option<Reply> + Send>;

const CAPS: &str =
    "ENABLE CONDSTORE QRESYNC UIDPLUS ESEARCH UNSELECT LIST-EXTENDED MULTIAPPEND LITERAL+";

/// A fake IMAP server on loopback: greets, logs anyone in with `caps`,
/// enables QRESYNC, opens any mailbox (2 messages, CONDSTORE state), says OK
/// to everything else — except where `hostile` says otherwise.
async fn serve(caps: &'static str, mut hostile: Hostile) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        let (rd, mut wr) = sock.into_split();
        let mut rd = BufReader::new(rd);
        let greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n";
        if wr.write_all(greeting.as_bytes()).await.is_err() {
            return;
        }
        loop {
            let Some(command) = read_command(&mut rd, &mut wr).await else {
                return;
            };
            let text = String::from_utf8_lossy(&command).into_owned();
            let text = text.trim_end();
            let (tag, rest) = text.split_once(' ').unwrap_or((text, ""));
            let reply = match hostile(tag, rest) {
                Some(r) => r,
                None => Reply::Send(behave(caps, tag, rest).into_bytes()),
            };
            let fill = |b: &[u8]| {
                let s = String::from_utf8_lossy(b).into_owned();
                if s.contains("{tag}") {
                    s.replace("{tag}", tag).into_bytes()
                } else {
                    b.to_vec()
                }
            };
            match reply {
                Reply::Send(b) => {
                    if wr.write_all(&fill(&b)).await.is_err() {
                        return;
                    }
                }
                Reply::SendClose(b) => {
                    let _ = wr.write_all(&fill(&b)).await;
                    let _ = wr.shutdown().await;
                    // Drain what the client still sends, then drop.
                    let mut rest = Vec::new();
                    let _ = tokio::time::timeout(Duration::from_secs(2), rd.read_to_end(&mut rest))
                        .await;
                    return;
                }
                Reply::Hang(b) => {
                    let _ = wr.write_all(&fill(&b)).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                Reply::Flood(op, flood) => {
                    // Streamed in chunks, never built whole; a client that
                    // stops reading blocks the writes, and one that hangs
                    // up ends them.
                    let mut sent = 0u64;
                    let mut i = 0u64;
                    while sent < FLOOD_MAX_BYTES {
                        let mut chunk = String::new();
                        while chunk.len() < 64 * 1024 {
                            i += 1;
                            chunk.push_str(&flood_line(op, flood, i, tag));
                        }
                        if wr.write_all(chunk.as_bytes()).await.is_err() {
                            return;
                        }
                        sent += chunk.len() as u64;
                    }
                    // Never reached by a client that bounds what it reads.
                    let _ = wr.write_all(format!("{tag} OK done\r\n").as_bytes()).await;
                }
            }
        }
    });
    port
}

/// One whole command: its lines and the literals they announce (answering
/// `+` to synchronising ones). None at the end of the stream.
async fn read_command(
    rd: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut line = Vec::new();
        if rd.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        let body = line.strip_suffix(b"\r\n").unwrap_or(&line);
        let literal = body.strip_suffix(b"}").and_then(|inner| {
            let open = inner.iter().rposition(|&b| b == b'{')?;
            let digits = &inner[open + 1..];
            let (digits, plus) = match digits.strip_suffix(b"+") {
                Some(d) => (d, true),
                None => (digits, false),
            };
            let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
            Some((n, plus))
        });
        out.extend_from_slice(&line);
        match literal {
            None => return Some(out),
            Some((n, plus)) => {
                if !plus {
                    wr.write_all(b"+ go on\r\n").await.ok()?;
                }
                let mut data = vec![0u8; n];
                rd.read_exact(&mut data).await.ok()?;
                // Literal contents stand in the transcript as a marker only.
                out.extend_from_slice(format!("<{n} bytes>").as_bytes());
            }
        }
    }
}

/// The well-behaved answer to a command.
fn behave(caps: &str, tag: &str, rest: &str) -> String {
    let verb = verb_of(rest);
    match verb.as_str() {
        "AUTHENTICATE" | "LOGIN" => {
            format!("{tag} OK [CAPABILITY IMAP4rev1 {caps}] logged in\r\n")
        }
        "ENABLE" => format!("* ENABLED QRESYNC\r\n{tag} OK enabled\r\n"),
        "SELECT" | "EXAMINE" => {
            let modseq = if caps.contains("CONDSTORE") {
                "* OK [HIGHESTMODSEQ 100] ok\r\n"
            } else {
                ""
            };
            format!(
                "* FLAGS (\\Seen \\Deleted)\r\n* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n\
                 * OK [UIDNEXT 9] ok\r\n{modseq}{tag} OK [READ-WRITE] done\r\n"
            )
        }
        "LOGOUT" => format!("* BYE see you\r\n{tag} OK bye\r\n"),
        _ => format!("{tag} OK done\r\n"),
    }
}

/// `UID FETCH 1:* …` → `UID FETCH`; `LIST "" "*"` → `LIST`.
fn verb_of(rest: &str) -> String {
    let mut words = rest.split(' ');
    let first = words.next().unwrap_or("").to_ascii_uppercase();
    if first == "UID" {
        format!("UID {}", words.next().unwrap_or("").to_ascii_uppercase())
    } else {
        first
    }
}

fn spec(port: u16) -> ConnectSpec {
    ConnectSpec {
        side: Side::B,
        host: "127.0.0.1".into(),
        port,
        user: "alice".into(),
        password: crate::secret::Secret::new("hunter2-secret"),
        tls: TlsMode::None,
        ca_file: None,
        pins: Vec::new(),
        allow_plaintext_auth: false,
        compress: false,
        auth: super::AuthMethod::Password,
        tunnel: None,
        token_command: None,
    }
}

/// The read timeout is what ends a stall. Long enough that the honest
/// part of every case (greeting, login) comes through while ~150 cases,
/// some flooding at full speed, share two loaded cores (at 400 ms, 17
/// cases timed out on their greeting under a load of 10); short enough
/// that every stall ends well inside the 6 s a case may take.
fn limits() -> Limits {
    Limits {
        read_timeout: Duration::from_millis(2000),
        connect_timeout: Duration::from_secs(2),
        max_literal: 1 << 20,
        ..Limits::default()
    }
}

/// Every kind of command the engine sends, by the method that sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Login,
    Enable,
    List,
    Select,
    Examine,
    FetchAllMeta,
    FetchBodies,
    Append,
    Store,
    Create,
    Delete,
    Rename,
    Subscribe,
    Unsubscribe,
    ListSubscribed,
    FetchChanges,
    UidList,
    StoreUnchangedSince,
    UidExpunge,
    FetchMeta,
}

const OPS: &[Op] = &[
    Op::Login,
    Op::Enable,
    Op::List,
    Op::Select,
    Op::Examine,
    Op::FetchAllMeta,
    Op::FetchBodies,
    Op::Append,
    Op::Store,
    Op::Create,
    Op::Delete,
    Op::Rename,
    Op::Subscribe,
    Op::Unsubscribe,
    Op::ListSubscribed,
    Op::FetchChanges,
    Op::UidList,
    Op::StoreUnchangedSince,
    Op::UidExpunge,
    Op::FetchMeta,
];

impl Op {
    /// The command the server turns hostile on.
    fn verb(self) -> &'static str {
        match self {
            Op::Login => "AUTHENTICATE",
            Op::Enable => "ENABLE",
            Op::List | Op::ListSubscribed => "LIST",
            Op::Select => "SELECT",
            Op::Examine => "EXAMINE",
            Op::FetchAllMeta | Op::FetchBodies | Op::FetchChanges | Op::FetchMeta => "UID FETCH",
            Op::Append => "APPEND",
            Op::Store | Op::StoreUnchangedSince => "UID STORE",
            Op::Create => "CREATE",
            Op::Delete => "DELETE",
            Op::Rename => "RENAME",
            Op::Subscribe => "SUBSCRIBE",
            Op::Unsubscribe => "UNSUBSCRIBE",
            Op::UidList => "UID SEARCH",
            Op::UidExpunge => "UID EXPUNGE",
        }
    }

    fn needs_selected(self) -> bool {
        matches!(
            self,
            Op::FetchAllMeta
                | Op::FetchBodies
                | Op::Store
                | Op::FetchChanges
                | Op::UidList
                | Op::StoreUnchangedSince
                | Op::UidExpunge
                | Op::FetchMeta
        )
    }

    /// Connects (and selects INBOX where needed), then runs the operation.
    /// Any error — from the set-up included — is the result.
    async fn run(self, port: u16, lim: &Limits) -> (Result<(), ImapError>, Option<Connection>) {
        let mut c = match Connection::connect_with(&spec(port), lim).await {
            Ok(c) => c,
            Err(e) => return (Err(e), None),
        };
        if matches!(self, Op::Login | Op::Enable) {
            return (Ok(()), Some(c));
        }
        if self.needs_selected() {
            if let Err(e) = c.select("INBOX", false).await {
                return (Err(e), Some(c));
            }
        }
        let flags = FlagSet::from_wire(["\\Seen"]);
        let date = InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap();
        let delta = FlagDelta {
            add: FlagSet::from_wire(["\\Flagged"]),
            remove: FlagSet::from_wire(["\\Seen"]),
        };
        let r = match self {
            Op::Login | Op::Enable => Ok(()),
            Op::List => c.list_mailboxes().await.map(drop),
            Op::Select => c.select("INBOX", false).await.map(drop),
            Op::Examine => c.select("INBOX", true).await.map(drop),
            Op::FetchAllMeta => c.fetch_all_meta().await.map(drop),
            Op::FetchBodies => c.fetch_bodies(&[1, 2], &mut |_, _| {}).await.map(drop),
            Op::Append => {
                let item = AppendItem {
                    flags: &flags,
                    internal_date: date,
                    body: b"Subject: x\r\n\r\nhello\r\n",
                };
                c.append("Target", &[item, item]).await.map(drop)
            }
            Op::Store => c.store(&[1, 2], &delta).await,
            Op::Create => c.create("New").await,
            Op::Delete => c.delete_mailbox("Old").await,
            Op::Rename => c.rename_mailbox("Old", "New").await,
            Op::Subscribe => c.subscribe("New").await,
            Op::Unsubscribe => c.unsubscribe("Old").await,
            Op::ListSubscribed => c.list_subscribed().await.map(drop),
            Op::FetchChanges => c.fetch_changes(50).await.map(drop),
            Op::UidList => c.uid_list().await.map(drop),
            Op::StoreUnchangedSince => c
                .store_unchanged_since(&[1, 2], &delta, 100)
                .await
                .map(drop),
            Op::UidExpunge => c.uid_expunge(&[1]).await,
            Op::FetchMeta => c.fetch_meta(&[1, 2]).await.map(drop),
        };
        (r, Some(c))
    }
}

/// The hostile answers, with the error each must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    TaggedNo,
    TaggedBad,
    GarbageLine,
    UnknownTag,
    UntaggedBye,
    TruncatedLiteral,
    HugeLiteral,
    OverlongLiteralSize,
    BareLf,
    UnexpectedContinuation,
    Stall,
    EndlessLine,
    InternalDateNil,
    CutWithoutReply,
}

const ATTACKS: &[Attack] = &[
    Attack::TaggedNo,
    Attack::TaggedBad,
    Attack::GarbageLine,
    Attack::UnknownTag,
    Attack::UntaggedBye,
    Attack::TruncatedLiteral,
    Attack::HugeLiteral,
    Attack::OverlongLiteralSize,
    Attack::BareLf,
    Attack::UnexpectedContinuation,
    Attack::Stall,
    Attack::EndlessLine,
    Attack::InternalDateNil,
    Attack::CutWithoutReply,
];

impl Attack {
    fn reply(self) -> Reply {
        let s = |t: &str| t.as_bytes().to_vec();
        match self {
            Attack::TaggedNo => Reply::Send(s("{tag} NO [SERVERBUG] the fake refuses\r\n")),
            Attack::TaggedBad => Reply::Send(s("{tag} BAD [PARSE] the fake is confused\r\n")),
            Attack::GarbageLine => {
                Reply::Send(b"\x01\x02 ga(rb]age \xff\xfe )))\r\n{tag} OK done\r\n".to_vec())
            }
            Attack::UnknownTag => Reply::Send(s("ZZ999 OK [READ-WRITE] for someone else\r\n")),
            Attack::UntaggedBye => Reply::SendClose(s("* BYE the fake is going away\r\n")),
            Attack::TruncatedLiteral => Reply::SendClose(s(
                "* 1 FETCH (UID 1 BODY[] {500}\r\nonly the first few bytes of it",
            )),
            Attack::HugeLiteral => {
                Reply::Hang(s("* 1 FETCH (UID 1 BODY[] {18446744073709551615}\r\n"))
            }
            Attack::OverlongLiteralSize => Reply::Hang(s(
                "* 1 FETCH (UID 1 BODY[] {999999999999999999999999999}\r\nx\r\n",
            )),
            Attack::BareLf => Reply::Hang(s("* OK a line ending in a bare LF\n")),
            Attack::UnexpectedContinuation => Reply::Hang(s("+ tell me more\r\n")),
            Attack::Stall => Reply::Hang(s("* 1 FETCH (UID 1 FLAGS (")),
            Attack::EndlessLine => {
                let mut b = s("* 1 FETCH (UID 1 FLAGS (");
                b.extend(std::iter::repeat_n(b'x', 200_000));
                Reply::Hang(b)
            }
            Attack::InternalDateNil => Reply::Send(s(
                "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 INTERNALDATE NIL)\r\n{tag} OK done\r\n",
            )),
            Attack::CutWithoutReply => Reply::SendClose(Vec::new()),
        }
    }
}

/// Whether `err` is the error this attack on this operation must give.
fn expected(attack: Attack, op: Op, err: &ImapError) -> bool {
    use ImapError as E;
    match attack {
        Attack::TaggedNo if op == Op::Login => matches!(err, E::AuthRefused { .. }),
        Attack::TaggedNo => matches!(err, E::No { code: Some(c), .. } if c == "SERVERBUG"),
        Attack::TaggedBad if op == Op::Login => matches!(err, E::AuthRefused { .. }),
        Attack::TaggedBad => matches!(err, E::Bad { .. }),
        Attack::UntaggedBye => {
            matches!(err, E::Bye { text, .. } if text == "the fake is going away")
        }
        Attack::TruncatedLiteral | Attack::CutWithoutReply => {
            matches!(err, E::Eof { .. } | E::Io { .. })
        }
        Attack::Stall => matches!(err, E::Timeout { .. }),
        Attack::HugeLiteral => {
            matches!(err, E::Protocol { detail, .. } if detail.contains("exceeds the cap"))
        }
        Attack::EndlessLine => {
            matches!(err, E::Protocol { detail, .. } if detail.contains("line longer than"))
        }
        Attack::UnknownTag => {
            matches!(err, E::Protocol { detail, .. } if detail.contains("unknown tag"))
        }
        Attack::BareLf => matches!(err, E::Protocol { detail, .. } if detail.contains("bare LF")),
        Attack::UnexpectedContinuation => {
            matches!(err, E::Protocol { detail, .. } if detail.contains("continuation"))
        }
        Attack::InternalDateNil => {
            matches!(err, E::Protocol { detail, .. } if detail.contains("INTERNALDATE NIL"))
        }
        Attack::OverlongLiteralSize => {
            matches!(err, E::Protocol { detail, .. } if detail.contains("exceeds the cap"))
        }
        Attack::GarbageLine => matches!(err, E::Protocol { .. }),
    }
}

/// Runs one attack on one operation and checks the outcome.
async fn attack_case(attack: Attack, op: Op) -> Result<(), String> {
    let verb = op.verb();
    let mut fired = false;
    let hostile: Hostile = Box::new(move |_tag, rest| {
        if fired || verb_of(rest) != verb {
            return None;
        }
        fired = true;
        Some(attack.reply())
    });
    let port = serve(CAPS, hostile).await;
    let started = Instant::now();
    let lim = limits();
    let panics = super::parse::PANICS_CAUGHT.load(Ordering::Relaxed);
    let (result, conn) = tokio::time::timeout(Duration::from_secs(10), op.run(port, &lim))
        .await
        .map_err(|_| format!("{attack:?} on {op:?}: hung for 10 s"))?;
    let took = started.elapsed();
    if took > Duration::from_secs(6) {
        return Err(format!("{attack:?} on {op:?}: took {took:?}"));
    }
    if super::parse::PANICS_CAUGHT.load(Ordering::Relaxed) != panics {
        return Err(format!("{attack:?} on {op:?}: a parser panicked (caught)"));
    }
    // ENABLE refused is not an error: the session goes on without QRESYNC.
    if op == Op::Enable && attack == Attack::TaggedNo {
        let c = conn.ok_or("ENABLE NO: no connection")?;
        if result.is_err() || c.history_support() == HistorySupport::Qresync {
            return Err(format!("ENABLE NO: {result:?}, {:?}", c.history_support()));
        }
        return Ok(());
    }
    let err = match result {
        Ok(()) => return Err(format!("{attack:?} on {op:?}: succeeded")),
        Err(e) => e,
    };
    let text = err.to_string();
    if !text.starts_with(&format!("B (127.0.0.1:{port}): ")) {
        return Err(format!(
            "{attack:?} on {op:?}: error does not name the side: {text}"
        ));
    }
    if text.contains("hunter2") || text.contains("AGFsaWNlAGh1bnRlcjI") {
        return Err(format!(
            "{attack:?} on {op:?}: error shows the password: {text}"
        ));
    }
    if !expected(attack, op, &err) {
        return Err(format!("{attack:?} on {op:?}: unexpected error {err:?}"));
    }
    if let Some(c) = conn {
        if c.is_alive() == err.is_fatal() {
            return Err(format!(
                "{attack:?} on {op:?}: session alive={} after {err:?}",
                c.is_alive()
            ));
        }
    }
    Ok(())
}

/// Awaits every case; fails with every failure, not only the first.
async fn all_pass(tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>) {
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.expect("no panic") {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every attack on every command type. Run concurrently: each case has its
/// own server, and the slow ones (stalls) wait in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_replies_to_every_command_end_in_a_clear_error() {
    let mut tasks = Vec::new();
    for &op in OPS {
        for &attack in ATTACKS {
            tasks.push(tokio::spawn(attack_case(attack, op)));
        }
    }
    all_pass(tasks).await;
}

/// The most a flooding fake server sends before it gives up (and answers
/// OK, which a client without bounds would take): far past every bound.
const FLOOD_MAX_BYTES: u64 = 256 << 20;

/// What a flooding server repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flood {
    /// `* OK …`, which no command asks for.
    Chatter,
    /// The kind of data the command collects (or, for one that collects
    /// nothing, the updates a selected mailbox may bring), each line new.
    Data,
    /// `* VANISHED n`: expunges now, each a new UID.
    Vanished,
    /// `* VANISHED (EARLIER) n`: expunges since, each a new UID.
    VanishedEarlier,
    /// `* n FETCH (UID n)`: the non-ESEARCH UID list.
    Uids,
}

/// The `i`-th line of a flood answering `op` (tag `tag`).
fn flood_line(op: Op, flood: Flood, i: u64, tag: &str) -> String {
    const DATE: &str = "\"17-Jul-1996 02:44:25 -0700\"";
    match flood {
        Flood::Chatter => return format!("* OK still here {i}\r\n"),
        Flood::Vanished => return format!("* VANISHED {}\r\n", 2 * i),
        Flood::VanishedEarlier => return format!("* VANISHED (EARLIER) {}\r\n", 2 * i),
        Flood::Uids => return format!("* {i} FETCH (UID {i})\r\n"),
        Flood::Data => {}
    }
    match op {
        Op::Login => format!("* CAPABILITY IMAP4rev1 X-FLOOD{i}\r\n"),
        Op::Enable => format!("* ENABLED QRESYNC X-FLOOD{i}\r\n"),
        Op::List => format!("* LIST () \"/\" \"flood {i}\"\r\n"),
        Op::ListSubscribed => format!("* LIST (\\Subscribed) \"/\" \"flood {i}\"\r\n"),
        Op::Select | Op::Examine => format!("* FLAGS (\\Seen flood{i})\r\n"),
        Op::FetchAllMeta | Op::FetchChanges | Op::FetchMeta => format!(
            "* {i} FETCH (UID {i} FLAGS (\\Seen flood{i}) RFC822.SIZE 5 INTERNALDATE {DATE} MODSEQ ({i}))\r\n"
        ),
        Op::FetchBodies => format!("* {i} FETCH (UID {i} BODY[] {{5}}\r\nhello)\r\n"),
        Op::UidList => format!("* ESEARCH (TAG \"{tag}\") UID ALL {i}\r\n"),
        _ => format!("* 1 FETCH (UID 1 FLAGS (\\Seen flood{i}))\r\n"),
    }
}

/// Every command, flooded with its own kind of data, and some with chatter
/// (issue 16): each ends in a protocol error that names the server, the
/// command and the bound, the session is dead (nothing more is read), and
/// it ends long before the flood would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_every_command_end_at_a_bound() {
    let mut tasks = Vec::new();
    for &op in OPS {
        tasks.push(tokio::spawn(flood_case(CAPS, op, Flood::Data)));
    }
    // Chatter meets the same check in the engine whatever the command: one
    // before login, one in a selected mailbox, one collecting.
    for op in [Op::Login, Op::Store, Op::FetchAllMeta] {
        tasks.push(tokio::spawn(flood_case(CAPS, op, Flood::Chatter)));
    }
    // The history path's own data: expunges reported during a listing,
    // VANISHED (EARLIER) during CHANGEDSINCE, and the UID list without
    // ESEARCH (`UID FETCH 1:* (UID)`, under CONDSTORE alone).
    for op in [Op::FetchAllMeta, Op::FetchChanges, Op::FetchMeta] {
        tasks.push(tokio::spawn(flood_case(CAPS, op, Flood::Vanished)));
    }
    tasks.push(tokio::spawn(flood_case(
        CAPS,
        Op::FetchChanges,
        Flood::VanishedEarlier,
    )));
    const CONDSTORE_ONLY: &str = "ENABLE CONDSTORE UIDPLUS UNSELECT LITERAL+";
    tasks.push(tokio::spawn(flood_case(
        CONDSTORE_ONLY,
        Op::UidList,
        Flood::Uids,
    )));
    all_pass(tasks).await;
}

async fn flood_case(caps: &'static str, op: Op, flood: Flood) -> Result<(), String> {
    let verb = match (op, flood) {
        (Op::UidList, Flood::Uids) => "UID FETCH",
        _ => op.verb(),
    };
    let mut fired = false;
    let hostile: Hostile = Box::new(move |_tag, rest| {
        if fired || verb_of(rest) != verb {
            return None;
        }
        fired = true;
        Some(Reply::Flood(op, flood))
    });
    let port = serve(caps, hostile).await;
    let lim = Limits {
        read_timeout: Duration::from_secs(5),
        ..limits()
    };
    let (result, conn) = tokio::time::timeout(Duration::from_secs(60), op.run(port, &lim))
        .await
        .map_err(|_| format!("{flood:?} flood on {op:?}: not over within 60 s"))?;
    let err = match result {
        Ok(()) => return Err(format!("{flood:?} flood on {op:?}: succeeded")),
        Err(e) => e,
    };
    let text = err.to_string();
    let named = text.starts_with(&format!("B (127.0.0.1:{port}): protocol error while "))
        && text.contains(verb.split(' ').next_back().unwrap_or(verb))
        && text.contains("over the bound")
        && text.contains("not reading any further");
    if !named {
        return Err(format!("{flood:?} flood on {op:?}: {text}"));
    }
    if conn.is_some_and(|c| c.is_alive()) {
        return Err(format!("{flood:?} flood on {op:?}: session still alive"));
    }
    Ok(())
}

/// A NAMESPACE line we cannot read is not a command we sent: it is skipped,
/// and the listing it came with is complete.
#[tokio::test]
async fn unsolicited_unreadable_namespace_is_skipped_and_the_listing_stays_whole() {
    let hostile: Hostile = Box::new(|_tag, rest| {
        (verb_of(rest) == "LIST").then(|| {
            Reply::Send(
                concat!(
                    "* NAMESPACE ((\"\" \"/\")) garbage ((( \"unterminated\r\n",
                    "* LIST () \"/\" INBOX\r\n",
                    "* NAMESPACE {5}\r\n((((( NIL\r\n",
                    "* LIST () \"/\" Archive\r\n",
                    "{tag} OK done\r\n",
                )
                .as_bytes()
                .to_vec(),
            )
        })
    });
    let port = serve(CAPS, hostile).await;
    let mut c = Connection::connect_with(&spec(port), &limits())
        .await
        .expect("connect");
    let names: Vec<String> = c
        .list_mailboxes()
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, vec!["INBOX".to_string(), "Archive".to_string()]);
}

/// ESEARCH answers we cannot read end the listing in an error, never in an
/// empty or partial UID list.
#[tokio::test]
async fn unreadable_esearch_is_an_error_not_an_empty_uid_list() {
    for esearch in [
        "* ESEARCH (TAG \"{tag}\") UID ALL 1:x\r\n",
        "* ESEARCH (TAG \"{tag}\") UID ALL 1:4294967295\r\n",
        "* ESEARCH (TAG \"{tag}\" UID ALL 1\r\n",
        "* ESEARCH (TAG \"{tag}\") ALL 1:2\r\n",
        "* ESEARCH (CORRELATOR \"{tag}\") UID ALL 1:2\r\n",
        "* ESEARCH (TAG \"{tag}\") UID ALL (((\r\n",
        "* ESEARCH (TAG \"{tag}\") UID ALL 1:2\r\n* ESEARCH (TAG \"{tag}\") UID ALL 1:2\r\n",
        "",
    ] {
        let reply = format!("{esearch}{{tag}} OK done\r\n").into_bytes();
        let hostile: Hostile = Box::new(move |_tag, rest| {
            (verb_of(rest) == "UID SEARCH").then(|| Reply::Send(reply.clone()))
        });
        let port = serve(CAPS, hostile).await;
        let mut c = Connection::connect_with(&spec(port), &limits())
            .await
            .expect("connect");
        c.select("INBOX", true).await.expect("select");
        let err = c
            .uid_list()
            .await
            .expect_err(&format!("{esearch:?} must be an error"));
        assert!(
            matches!(err, ImapError::Protocol { .. }),
            "{esearch:?}: {err:?}"
        );
        assert!(err.to_string().contains("UID SEARCH"), "{err}");
    }
}

/// `INTERNALDATE NIL` makes imap-proto 0.17 unwrap a None: it is refused
/// before imap-proto sees it, so no panic happens (and none is printed),
/// while a message body that merely says so is read as usual.
#[test]
fn internaldate_nil_is_refused_without_a_panic() {
    let before = super::parse::PANICS_CAUGHT.load(Ordering::Relaxed);
    for bad in [
        &b"* 1 FETCH (UID 1 INTERNALDATE NIL)\r\n"[..],
        b"* 1 FETCH (UID 1 internaldate nil FLAGS ())\r\n",
        b"* 1 FETCH (BODY[] {3}\r\nabc INTERNALDATE NIL)\r\n",
    ] {
        let err = super::parse::parse(bad).expect_err("INTERNALDATE NIL");
        assert!(err.contains("INTERNALDATE NIL"), "{err}");
    }
    let body = "INTERNALDATE NIL ok\r\n";
    let ok = format!("* 1 FETCH (UID 1 BODY[] {{{}}}\r\n{body})\r\n", body.len());
    assert!(super::parse::parse(ok.as_bytes()).is_ok());
    let quoted = b"* 1 FETCH (UID 1 BODY[] \"INTERNALDATE NIL\")\r\n";
    assert!(super::parse::parse(quoted).is_ok());
    assert_eq!(super::parse::PANICS_CAUGHT.load(Ordering::Relaxed), before);
}

/// A panic inside [`super::parse::quietly`] is caught (and its message
/// kept off stderr); the value of a run that does not panic comes through.
#[test]
fn quiet_panics_are_caught() {
    let r = super::parse::quietly(|| -> u32 { panic!("a parser bug") });
    assert!(r.is_err());
    assert_eq!(super::parse::quietly(|| 7).ok(), Some(7));
}

// ---- Fuzzing: random bytes against the framing, the parsers, the engine.

/// Pieces of IMAP responses, so that random sequences reach deep paths.
const PIECES: &[&str] = &[
    "* ",
    "A0003 ",
    "+ ",
    "OK ",
    "NO ",
    "BAD ",
    "BYE ",
    "PREAUTH ",
    "1 ",
    "4294967295 ",
    "4294967296 ",
    "0 ",
    "FETCH ",
    "EXISTS",
    "EXPUNGE",
    "RECENT",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "{0}\r\n",
    "{3}\r\n",
    "{5+}\r\n",
    "~{2}\r\n",
    "{99999999999}\r\n",
    "\"",
    "\\",
    " ",
    "\r\n",
    "\n",
    "\r",
    "NIL",
    "UID ",
    "FLAGS ",
    "(\\Seen $Junk) ",
    "BODY[] ",
    "BODY[",
    "RFC822.SIZE ",
    "INTERNALDATE ",
    "\"17-Jul-1996 02:44:25 -0700\" ",
    "MODSEQ (",
    "VANISHED ",
    "(EARLIER) ",
    "1:*,3:2 ",
    "ESEARCH ",
    "(TAG \"A0003\") ",
    "ALL ",
    "LIST ",
    "LSUB ",
    "STATUS ",
    "(MESSAGES 3 UIDNEXT 9) ",
    "CAPABILITY ",
    "ENABLED ",
    "NAMESPACE ",
    "[APPENDUID 42 7:9] ",
    "[MODIFIED 1,3] ",
    "[HIGHESTMODSEQ ",
    "[UIDVALIDITY ",
    "[PERMANENTFLAGS (",
    "\u{e9}",
    "\x00",
    "\u{7f}",
];

fn response_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(proptest::sample::select(PIECES), 0..40)
            .prop_map(|p| p.concat().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Framing then parsing random bytes never panics, never claims more
    /// than it was given, and respects the caps.
    #[test]
    fn framing_and_parsing_random_bytes_never_panic(bytes in response_bytes()) {
        let before = super::parse::PANICS_CAUGHT.load(Ordering::Relaxed);
        let mut buf = bytes.clone();
        let mut scan = super::frame::Scan::default();
        // Feed it in two steps, as the engine does with partial reads.
        let half = buf.len() / 2;
        let _ = scan.next(&buf[..half], 64, 1000);
        let mut rounds = 0;
        while let Ok(Some(end)) = scan.next(&buf, 64, 1000) {
            prop_assert!(end > 0 && end <= buf.len());
            let _ = super::parse::parse(&buf[..end]);
            buf.drain(..end);
            scan = super::frame::Scan::default();
            rounds += 1;
            prop_assert!(rounds < 1000);
        }
        // The parsers on their own take any bytes too.
        let _ = super::parse::parse(&bytes);
        let mut terminated = bytes.clone();
        terminated.extend_from_slice(b"\r\n");
        let _ = super::parse::parse(&terminated);
        prop_assert_eq!(super::parse::PANICS_CAUGHT.load(Ordering::Relaxed), before);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A live engine fed random bytes as the answer to a command ends in an
    /// error or a value, within its deadline, without a panic.
    #[test]
    fn engine_fed_random_replies_never_panics_or_hangs(
        reply in response_bytes(),
        op in proptest::sample::select(OPS),
        close in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let outcome: Result<(), String> = runtime.block_on(async move {
            let verb = op.verb();
            let mut reply = Some(reply);
            let hostile: Hostile = Box::new(move |_tag, rest| {
                if verb_of(rest) != verb {
                    return None;
                }
                let r = reply.take()?;
                Some(if close { Reply::SendClose(r) } else { Reply::Hang(r) })
            });
            let port = serve(CAPS, hostile).await;
            let lim = Limits { read_timeout: Duration::from_millis(150), ..limits() };
            let done = tokio::time::timeout(Duration::from_secs(5), op.run(port, &lim)).await;
            match done {
                Err(_) => Err(format!("{op:?} hung")),
                Ok((Err(e), _)) if !e.to_string().starts_with(&format!("B (127.0.0.1:{port})")) => {
                    Err(format!("{op:?}: error without the side: {e}"))
                }
                Ok(_) => Ok(()),
            }
        });
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}
