//! The action log: every write imapmend sends to a server, as JSON lines in
//! a file beside the snapshot (one per account pair) — one line before the
//! command goes out (`intent`) and one after its answer (`outcome`) — so an
//! operator can tell afterwards exactly what a run changed, and `undo` can
//! take it back. An intent without its outcome is a write that was never
//! confirmed (the process died, or the log could not be written).
//!
//! This module owns the file and its line format
//! (`schema/action-log.schema.json`): where it lives, the run id, appending
//! (each line reaches the OS before the command is sent), rotation by size,
//! and reading it back. It never holds a body, a subject or a credential:
//! only UIDs, fingerprints, sizes and Message-IDs. Which writes there are
//! and when they go out is [`crate::apply`]'s business (it calls
//! [`intent`] and [`outcome`] from its one choke point); how the log is
//! shown is `log_verb`'s.
//!
//! The log is process-wide, like [`crate::throttle`]: a run opens it once
//! ([`open`]) and every session of the pool writes to it; with no log open
//! (plan, check, unit tests) nothing is written.

use crate::model::{civil_from_days, days_from_civil, FlagDelta, Side, Uid};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A log file is rotated once it is this large…
pub const ROTATE_BYTES: u64 = 16 << 20;
/// …and this many rotated files are kept (`.1` the newest).
pub const KEEP_ROTATED: u32 = 5;

/// What kind of write a line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// APPEND (one MULTIAPPEND batch) into `mailbox`.
    Append,
    /// UID STORE of one flag delta (`flags`) on `uids`.
    Store,
    /// UID STORE `\Deleted` + UID EXPUNGE of exactly `uids`.
    Expunge,
    Create,
    /// RENAME `mailbox` to `to`.
    Rename,
    Delete,
    Subscribe,
    Unsubscribe,
    /// UID MOVE (or UID COPY + STORE `\Deleted` + UID EXPUNGE) of `uids`
    /// from `mailbox` to `to` (`--expunge-to`, and `undo` moving back).
    Move,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Append => "append",
            Action::Store => "store",
            Action::Expunge => "expunge",
            Action::Create => "create",
            Action::Rename => "rename",
            Action::Delete => "delete",
            Action::Subscribe => "subscribe",
            Action::Unsubscribe => "unsubscribe",
            Action::Move => "move",
        }
    }
}

/// Before the command (`intent`) or after its answer (`outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Intent,
    Outcome,
}

/// How a write ended, as far as the server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// The server said OK for all of it.
    Done,
    /// OK, but only for `uids` (the rest changed meanwhile: `[MODIFIED]`).
    Partial,
    /// The server said NO: nothing was changed.
    Refused,
    /// No clear answer (the connection died, …): it may or may not have
    /// been done; the next run's listing tells.
    Failed,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Done => "done",
            Answer::Partial => "partial",
            Answer::Refused => "refused",
            Answer::Failed => "failed",
        }
    }
}

/// One message a write is about: what identifies it, never its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedMessage {
    /// Its UID in `mailbox` on `side`, where known (not for an APPEND).
    pub uid: Option<Uid>,
    /// SHA-256 of the content ([`crate::fingerprint`]), hex.
    pub fingerprint: Option<String>,
    pub size: Option<u32>,
    /// The Message-ID header, where the body was at hand (APPEND).
    pub message_id: Option<String>,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
    /// The run that wrote it (as `--json` reports print it).
    pub run: String,
    /// Numbers a run's writes; an intent and its outcome share it.
    pub seq: u64,
    pub phase: Phase,
    pub side: Side,
    /// The mailbox's name (as imapmend reports it, not the wire form).
    pub mailbox: String,
    pub uidvalidity: Option<u32>,
    pub action: Action,
    /// The UIDs in `mailbox` the write is about: for an APPEND's outcome,
    /// the new ones (APPENDUID); for a partial STORE's, those stored.
    #[serde(default)]
    pub uids: Vec<Uid>,
    /// RENAME: the new name; MOVE: the mailbox moved to.
    #[serde(default)]
    pub to: Option<String>,
    /// MOVE: the messages' UIDs in `to` (COPYUID), once done.
    #[serde(default)]
    pub to_uids: Vec<Uid>,
    /// MOVE: the UIDVALIDITY of `to`.
    #[serde(default)]
    pub to_uidvalidity: Option<u32>,
    /// STORE: the delta sent.
    #[serde(default)]
    pub flags: Option<FlagDelta>,
    #[serde(default)]
    pub messages: Vec<LoggedMessage>,
    /// Null on an intent.
    #[serde(default)]
    pub outcome: Option<Answer>,
    /// What went wrong, as the server or the connection said it.
    #[serde(default)]
    pub error: Option<String>,
}

/// A write about to be sent, as apply describes it.
#[derive(Debug, Clone)]
pub struct Write<'a> {
    pub side: Side,
    pub mailbox: &'a str,
    pub uidvalidity: Option<u32>,
    pub action: Action,
    pub uids: &'a [Uid],
    pub to: Option<&'a str>,
    pub to_uidvalidity: Option<u32>,
    pub flags: Option<&'a FlagDelta>,
    pub messages: Vec<LoggedMessage>,
}

impl<'a> Write<'a> {
    /// A write about a mailbox (CREATE, RENAME, DELETE, SUBSCRIBE …).
    pub fn mailbox(side: Side, mailbox: &'a str, action: Action) -> Write<'a> {
        Write {
            side,
            mailbox,
            uidvalidity: None,
            action,
            uids: &[],
            to: None,
            to_uidvalidity: None,
            flags: None,
            messages: Vec::new(),
        }
    }
}

/// What the answer to a write confirmed.
#[derive(Debug, Clone, Default)]
pub struct Confirmed {
    /// The UIDs the write reached, if other than the intent's (APPENDUID,
    /// or the part of a STORE not `[MODIFIED]`).
    pub uids: Option<Vec<Uid>>,
    /// MOVE: the UIDs in the mailbox moved to.
    pub to_uids: Vec<Uid>,
    /// Only `uids` were done.
    pub partial: bool,
}

/// The open log of this process.
struct Open {
    path: PathBuf,
    file: File,
    size: u64,
    seq: u64,
}

struct State {
    run: String,
    open: Option<Open>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// The log of the snapshot at `state_path`: beside it, one per account pair.
pub fn path_for(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".actions.jsonl");
    PathBuf::from(name)
}

/// The rotated file number `n` (1 the newest) of the log at `path`.
fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Starts this process's run: a new run id, and (for a run that writes,
/// `log` given) the log opened for appending, created mode 0600.
pub fn open(log: Option<&Path>) -> std::io::Result<String> {
    let run = new_run_id();
    let open = log.map(open_file).transpose()?;
    *STATE.lock().unwrap_or_else(|p| p.into_inner()) = Some(State {
        run: run.clone(),
        open,
    });
    Ok(run)
}

fn open_file(path: &Path) -> std::io::Result<Open> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    let size = file.metadata()?.len();
    Ok(Open {
        path: path.to_path_buf(),
        file,
        size,
        seq: 0,
    })
}

/// This process's run id, once [`open`] was called.
pub fn run_id() -> Option<String> {
    let state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    state.as_ref().map(|s| s.run.clone())
}

/// A run id: the UTC time it started and a few hex digits that tell apart
/// runs started in the same second (`20261207T101500Z-3fa2`).
fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let salt = (now.subsec_nanos() ^ std::process::id().rotate_left(16)) & 0xffff;
    let stamp: String = utc(now.as_secs() as i64)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("{stamp}-{salt:04x}")
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `YYYY-MM-DD[THH:MM[:SS]][Z]` (UTC) as Unix seconds.
pub fn parse_utc(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (
        t.next()??,
        t.next().unwrap_or(Some(0))?,
        t.next().unwrap_or(Some(0))?,
    );
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m as u32, day as u32) * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    utc(secs)
}

/// Writes the intent line of `write` before it is sent; the number its
/// outcome will carry. Ok(None) when no log is open. An Err means the log
/// could not be written: the write must not be sent.
pub fn intent(write: &Write<'_>) -> std::io::Result<Option<u64>> {
    let seq = logging(|open, run| {
        open.seq += 1;
        let entry = Entry {
            flags: write.flags.cloned(),
            messages: write.messages.clone(),
            ..line(write, run, open.seq, Phase::Intent)
        };
        append(open, &entry).map(|()| open.seq)
    })?;
    if let Some(seq) = seq {
        crash_hook(seq);
    }
    Ok(seq)
}

/// Runs `f` on the open log and the run id; None when no log is open.
fn logging<T>(f: impl FnOnce(&mut Open, &str) -> std::io::Result<T>) -> std::io::Result<Option<T>> {
    let mut guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
    match guard.as_mut() {
        Some(State {
            run,
            open: Some(open),
        }) => f(open, run).map(Some),
        _ => Ok(None),
    }
}

/// The line of `write`, as far as intent and outcome share it.
fn line(write: &Write<'_>, run: &str, seq: u64, phase: Phase) -> Entry {
    Entry {
        time: now(),
        run: run.to_string(),
        seq,
        phase,
        side: write.side,
        mailbox: write.mailbox.to_string(),
        uidvalidity: write.uidvalidity,
        action: write.action,
        uids: write.uids.to_vec(),
        to: write.to.map(str::to_string),
        to_uids: Vec::new(),
        to_uidvalidity: write.to_uidvalidity,
        flags: None,
        messages: Vec::new(),
        outcome: None,
        error: None,
    }
}

/// Hidden test hook (tests/action_log.rs; inert when unset):
/// `IMAPMEND_TEST_CRASH_AFTER_LOGGED=k` aborts the process right after the
/// k-th intent line of the run is written and before its command is sent,
/// like a crash between the two.
fn crash_hook(seq: u64) {
    static AT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| {
        std::env::var("IMAPMEND_TEST_CRASH_AFTER_LOGGED")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    });
    if *at == Some(seq) {
        eprintln!("imapmend: test hook: crashing after logging write {seq}, before sending it");
        std::process::abort();
    }
}

/// Writes the outcome line of the write numbered `seq` ([`intent`]).
/// A failure to write it is only reported: the write is done, and its
/// intent without an outcome reads as "not confirmed".
pub fn outcome(
    seq: Option<u64>,
    write: &Write<'_>,
    answer: Result<&Confirmed, (Answer, String)>,
) -> std::io::Result<()> {
    let Some(seq) = seq else { return Ok(()) };
    let entry = |run: &str| {
        let base = line(write, run, seq, Phase::Outcome);
        match answer {
            Ok(c) => Entry {
                outcome: Some(if c.partial {
                    Answer::Partial
                } else {
                    Answer::Done
                }),
                uids: c.uids.clone().unwrap_or(base.uids.clone()),
                to_uids: c.to_uids.clone(),
                ..base
            },
            Err((answer, error)) => Entry {
                outcome: Some(answer),
                error: Some(error),
                ..base
            },
        }
    };
    logging(|open, run| append(open, &entry(run))).map(|_| ())
}

/// Appends one line (one `write` call, so it reaches the OS whole),
/// rotating first if the file is full.
fn append(open: &mut Open, entry: &Entry) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(entry).expect("an entry is plain data");
    line.push(b'\n');
    if open.size > 0 && open.size + line.len() as u64 > ROTATE_BYTES {
        rotate(&open.path)?;
        *open = Open {
            seq: open.seq,
            ..open_file(&open.path)?
        };
    }
    open.file.write_all(&line)?;
    open.size += line.len() as u64;
    Ok(())
}

/// `log` → `log.1` → `log.2` …, the oldest beyond [`KEEP_ROTATED`] dropped.
fn rotate(path: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_file(rotated(path, KEEP_ROTATED));
    for n in (1..KEEP_ROTATED).rev() {
        let from = rotated(path, n);
        if from.exists() {
            std::fs::rename(&from, rotated(path, n + 1))?;
        }
    }
    std::fs::rename(path, rotated(path, 1))
}

/// Every line of the log at `path` and its rotated files, oldest first;
/// and how many lines could not be read (a line cut by a crash).
pub fn read(path: &Path) -> std::io::Result<(Vec<Entry>, usize)> {
    let mut entries = Vec::new();
    let mut unreadable = 0;
    let files = (1..=KEEP_ROTATED)
        .rev()
        .map(|n| rotated(path, n))
        .chain([path.to_path_buf()]);
    for file in files {
        let Ok(f) = File::open(&file) else { continue };
        for line in BufReader::new(f).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(&line) {
                Ok(e) => entries.push(e),
                Err(_) => unreadable += 1,
            }
        }
    }
    Ok((entries, unreadable))
}

/// One write as the log tells it: its intent, and its outcome if one was
/// written.
#[derive(Debug, Clone)]
pub struct Logged {
    pub intent: Entry,
    pub outcome: Option<Entry>,
}

impl Logged {
    /// "done", "refused" … or "not confirmed" (no outcome was written).
    pub fn answer(&self) -> &'static str {
        self.outcome
            .as_ref()
            .and_then(|o| o.outcome)
            .map_or("not confirmed", Answer::as_str)
    }
}

/// The writes of the log, each intent with its outcome, in log order.
pub fn writes(entries: Vec<Entry>) -> Vec<Logged> {
    let mut out: Vec<Logged> = Vec::new();
    let mut at: std::collections::HashMap<(String, u64), usize> = Default::default();
    for e in entries {
        let key = (e.run.clone(), e.seq);
        match e.phase {
            Phase::Intent => {
                at.insert(key, out.len());
                out.push(Logged {
                    intent: e,
                    outcome: None,
                });
            }
            Phase::Outcome => {
                if let Some(&i) = at.get(&key) {
                    out[i].outcome = Some(e);
                }
            }
        }
    }
    out
}

/// The Message-ID header of a message, if it has one that reads as text
/// (at most 998 bytes, as RFC 5322 limits a line).
pub fn message_id(body: &[u8]) -> Option<String> {
    let end = find(body, b"\r\n\r\n")
        .or_else(|| find(body, b"\n\n"))
        .unwrap_or(body.len());
    let head = &body[..end];
    let mut lines = head.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let Some(value) = strip_name(line, b"message-id:") else {
            continue;
        };
        let mut value = value.to_vec();
        // Folded onto the next lines.
        while let Some(next) =
            lines.next_if(|l| l.first().is_some_and(|b| *b == b' ' || *b == b'\t'))
        {
            value.extend_from_slice(next);
        }
        let text = std::str::from_utf8(&value).ok()?;
        let id: String = text.split_whitespace().collect();
        return (!id.is_empty() && id.len() <= 998 && id.chars().all(|c| c.is_ascii_graphic()))
            .then_some(id);
    }
    None
}

fn strip_name<'l>(line: &'l [u8], name: &[u8]) -> Option<&'l [u8]> {
    (line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name))
        .then(|| &line[name.len()..])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_read_from_the_header_only_unfolded() {
        let body = b"Subject: x\r\nMessage-ID:\r\n <a@b.example>\r\n\r\nMessage-ID: <no@body>\r\n";
        assert_eq!(message_id(body).as_deref(), Some("<a@b.example>"));
        assert_eq!(message_id(b"Subject: x\r\n\r\nMessage-ID: <x@y>\r\n"), None);
        assert_eq!(
            message_id(b"message-id: <lower@case>\n\nbody").as_deref(),
            Some("<lower@case>")
        );
    }

    #[test]
    fn utc_times_round_trip_and_partial_ones_parse() {
        let t = 1_796_638_500; // 2026-12-07T10:15:00Z
        assert_eq!(utc(t), "2026-12-07T10:15:00Z");
        assert_eq!(parse_utc("2026-12-07T10:15:00Z"), Some(t));
        assert_eq!(parse_utc("2026-12-07T10:15"), Some(t));
        assert_eq!(parse_utc("2026-12-07"), Some(t - 10 * 3600 - 15 * 60));
        assert_eq!(parse_utc("2026-13-07"), None);
        assert_eq!(parse_utc("yesterday"), None);
    }

    #[test]
    fn a_full_log_rotates_and_is_read_back_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.actions.jsonl");
        let mut open = open_file(&path).unwrap();
        let entry = |seq| Entry {
            time: utc(0),
            run: "r".into(),
            seq,
            phase: Phase::Intent,
            side: Side::A,
            mailbox: "INBOX".into(),
            uidvalidity: Some(1),
            action: Action::Create,
            uids: vec![],
            to: None,
            to_uids: vec![],
            to_uidvalidity: None,
            flags: None,
            messages: vec![],
            outcome: None,
            error: None,
        };
        append(&mut open, &entry(1)).unwrap();
        open.size = ROTATE_BYTES; // as if full
        append(&mut open, &entry(2)).unwrap();
        assert!(rotated(&path, 1).exists());
        // A line cut by a crash, then a later run's line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"time\":\"cut\n").unwrap();
        f.write_all(&serde_json::to_vec(&entry(3)).unwrap())
            .unwrap();
        f.write_all(b"\n").unwrap();
        let (entries, unreadable) = read(&path).unwrap();
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!((seqs, unreadable), (vec![1, 2, 3], 1));
        let writes = writes(entries);
        assert_eq!(writes[0].answer(), "not confirmed");
    }
}
