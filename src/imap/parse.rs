//! Parsing one complete server response (as framed by `frame.rs`) into a
//! typed value.
//!
//! FETCH data goes through imap-proto, which reads it well. Everything else
//! — tagged and untagged status responses with their codes (including
//! `[MODIFIED]`, `[NOMODSEQ]` and codes nobody knows yet), LIST names with
//! escapes, STATUS, CAPABILITY, VANISHED — is read by the small parsers
//! here, because imap-proto either cannot read it or returns quoted strings
//! still escaped. Untagged responses we have no use for (NAMESPACE,
//! ESEARCH, ID, …) come back as [`Untagged::Other`] so the engine can
//! ignore them.

use super::ListedMailbox;
use crate::model::Uid;
use imap_proto::AttributeValue;
use std::borrow::Cow;

/// The condition of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond {
    Ok,
    No,
    Bad,
    Bye,
    PreAuth,
}

impl Cond {
    fn from_atom(a: &str) -> Option<Cond> {
        Some(match a.to_ascii_uppercase().as_str() {
            "OK" => Cond::Ok,
            "NO" => Cond::No,
            "BAD" => Cond::Bad,
            "BYE" => Cond::Bye,
            "PREAUTH" => Cond::PreAuth,
            _ => return None,
        })
    }
}

/// A response code (`[…]` at the start of resp-text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Code {
    Capability(Vec<String>),
    UidValidity(u32),
    UidNext(u32),
    HighestModSeq(u64),
    NoModSeq,
    PermanentFlags(Vec<String>),
    ReadOnly,
    ReadWrite,
    /// UIDPLUS: the uid-set kept as written (expanded by the caller, who
    /// knows how many UIDs to expect).
    AppendUid {
        uidvalidity: u32,
        uid_set: String,
    },
    /// CONDSTORE: UIDs (or sequence numbers) that failed UNCHANGEDSINCE.
    Modified(String),
    /// Anything else, by name with its arguments as written.
    Other {
        name: String,
        args: String,
    },
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Code::Other { name, args } if args.is_empty() => f.write_str(name),
            Code::Other { name, args } => write!(f, "{name} {args}"),
            Code::Capability(caps) => write!(f, "CAPABILITY {}", caps.join(" ")),
            Code::UidValidity(v) => write!(f, "UIDVALIDITY {v}"),
            Code::UidNext(v) => write!(f, "UIDNEXT {v}"),
            Code::HighestModSeq(v) => write!(f, "HIGHESTMODSEQ {v}"),
            Code::NoModSeq => f.write_str("NOMODSEQ"),
            Code::PermanentFlags(flags) => write!(f, "PERMANENTFLAGS ({})", flags.join(" ")),
            Code::ReadOnly => f.write_str("READ-ONLY"),
            Code::ReadWrite => f.write_str("READ-WRITE"),
            Code::AppendUid {
                uidvalidity,
                uid_set,
            } => write!(f, "APPENDUID {uidvalidity} {uid_set}"),
            Code::Modified(set) => write!(f, "MODIFIED {set}"),
        }
    }
}

/// A tagged completion, or the data of an untagged status response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub cond: Cond,
    pub code: Option<Code>,
    pub text: String,
}

/// One untagged response.
#[derive(Debug, PartialEq)]
pub(crate) enum Untagged<'a> {
    Status(Status),
    Capability(Vec<String>),
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    Flags(Vec<String>),
    Fetch {
        seq: u32,
        attrs: Vec<AttributeValue<'a>>,
    },
    List(ListedMailbox),
    MailboxStatus {
        mailbox: String,
        items: Vec<(String, u64)>,
    },
    Vanished {
        earlier: bool,
        uid_set: String,
    },
    Enabled(Vec<String>),
    /// RFC 4731 `* ESEARCH [(TAG "t")] [UID] name value …`, each value as
    /// written (a number or a sequence set; a parenthesised value of an
    /// extension we do not know is kept with its parentheses).
    Esearch {
        tag: Option<String>,
        uid: bool,
        items: Vec<(String, String)>,
    },
    /// An untagged response we do not use, by keyword.
    Other(String),
}

/// One complete response.
#[derive(Debug, PartialEq)]
pub(crate) enum Response<'a> {
    /// `+ …`: the server waits for the rest of the command.
    Continue(String),
    Tagged {
        tag: String,
        status: Status,
    },
    Untagged(Untagged<'a>),
}

/// Parses one complete response (lines and literals, ending in CRLF).
pub(crate) fn parse(buf: &[u8]) -> Result<Response<'_>, String> {
    let line = buf
        .strip_suffix(b"\r\n")
        .ok_or_else(|| "response does not end in CRLF".to_string())?;
    if let Some(rest) = line.strip_prefix(b"+") {
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        return Ok(Response::Continue(
            String::from_utf8_lossy(rest).into_owned(),
        ));
    }
    if let Some(rest) = line.strip_prefix(b"* ") {
        return untagged(buf, rest).map(Response::Untagged);
    }
    let mut lx = Lexer::new(line);
    let tag = lx.atom()?.to_string();
    if tag == "*" || tag.contains('+') {
        return Err(format!("invalid tag {tag:?}"));
    }
    lx.sp()?;
    let cond_atom = lx.atom()?;
    let cond = match Cond::from_atom(cond_atom) {
        Some(c @ (Cond::Ok | Cond::No | Cond::Bad)) => c,
        _ => return Err(format!("tagged response with condition {cond_atom:?}")),
    };
    let status = resp_text(cond, lx.rest())?;
    Ok(Response::Tagged { tag, status })
}

fn untagged<'a>(whole: &'a [u8], rest: &'a [u8]) -> Result<Untagged<'a>, String> {
    let mut lx = Lexer::new(rest);
    let first = lx.atom()?;
    if first.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = first
            .parse()
            .map_err(|_| format!("number {first:?} out of range"))?;
        lx.sp()?;
        let kw = lx.atom()?.to_ascii_uppercase();
        return Ok(match kw.as_str() {
            "EXISTS" => Untagged::Exists(n),
            "RECENT" => Untagged::Recent(n),
            "EXPUNGE" => Untagged::Expunge(n),
            "FETCH" => fetch(whole)?,
            _ => Untagged::Other(kw),
        });
    }
    let kw = first.to_ascii_uppercase();
    if let Some(cond) = Cond::from_atom(&kw) {
        return resp_text(cond, lx.rest()).map(Untagged::Status);
    }
    Ok(match kw.as_str() {
        "CAPABILITY" => Untagged::Capability(words(lx.rest())),
        "ENABLED" => Untagged::Enabled(words(lx.rest())),
        "FLAGS" => {
            lx.sp()?;
            Untagged::Flags(lx.atom_list()?)
        }
        "LIST" | "LSUB" => Untagged::List(list(&mut lx)?),
        "STATUS" => {
            lx.sp()?;
            let mailbox = normalise_inbox(lossy(lx.astring()?));
            lx.sp()?;
            let toks = lx.atom_list()?;
            if toks.len() % 2 != 0 {
                return Err("STATUS list with an odd number of items".into());
            }
            let mut items = Vec::new();
            for pair in toks.chunks(2) {
                // RFC 7889: `APPENDLIMIT NIL` is "no limit": the item is left out.
                if pair[1].eq_ignore_ascii_case("NIL") {
                    continue;
                }
                let value = pair[1].parse().map_err(|_| {
                    format!("STATUS {} value {:?} is not a number", pair[0], pair[1])
                })?;
                items.push((pair[0].to_ascii_uppercase(), value));
            }
            Untagged::MailboxStatus { mailbox, items }
        }
        "ESEARCH" => esearch(&mut lx)?,
        "VANISHED" => {
            lx.sp()?;
            let mut earlier = false;
            if lx.peek() == Some(b'(') {
                let tags = lx.atom_list()?;
                earlier = tags.iter().any(|t| t.eq_ignore_ascii_case("EARLIER"));
                lx.sp()?;
            }
            let uid_set = lx.atom()?.to_string();
            Untagged::Vanished { earlier, uid_set }
        }
        _ => Untagged::Other(kw),
    })
}

/// `[SP "(" "TAG" SP tag-string ")"] [SP "UID"] *(SP name SP value)`.
fn esearch<'a>(lx: &mut Lexer<'a>) -> Result<Untagged<'a>, String> {
    let mut tag = None;
    let mut uid = false;
    let mut items = Vec::new();
    while lx.peek() == Some(b' ') {
        lx.sp()?;
        if lx.peek() == Some(b'(') && tag.is_none() && !uid && items.is_empty() {
            lx.i += 1;
            let kw = lx.atom()?;
            if !kw.eq_ignore_ascii_case("TAG") {
                return Err(format!("ESEARCH correlator {kw:?}"));
            }
            lx.sp()?;
            tag = Some(lossy(lx.astring()?));
            if lx.peek() != Some(b')') {
                return Err(lx.err("')'"));
            }
            lx.i += 1;
            continue;
        }
        let name = lx.atom()?.to_ascii_uppercase();
        if name == "UID" && items.is_empty() && !uid {
            uid = true;
            continue;
        }
        lx.sp()?;
        let value = if lx.peek() == Some(b'(') {
            lx.balanced()?
        } else {
            lx.atom()?.to_string()
        };
        items.push((name, value));
    }
    if lx.peek().is_some() {
        return Err(lx.err("the end of the ESEARCH response"));
    }
    Ok(Untagged::Esearch { tag, uid, items })
}

/// FETCH data, through imap-proto. A few of its paths unwrap on odd input
/// (`INTERNALDATE NIL`), and a server's bytes must never be able to panic
/// us: the known ones are refused before imap-proto sees them, and the
/// parser runs under `catch_unwind` with the panic message silenced (see
/// [`quietly`]) in case there are others.
fn fetch(whole: &[u8]) -> Result<Untagged<'_>, String> {
    if let Some(u) = fetch_body_fast(whole) {
        return Ok(u);
    }
    match without_literal8_markers(whole) {
        Cow::Borrowed(b) => fetch_proto(b),
        Cow::Owned(copy) => match fetch_proto(&copy)? {
            Untagged::Fetch { seq, attrs } => Ok(Untagged::Fetch {
                seq,
                attrs: attrs.into_iter().map(AttributeValue::into_owned).collect(),
            }),
            _ => Err("FETCH response with unexpected data".into()),
        },
    }
}

/// The FETCH response a body fetch brings by the thousand, read without
/// imap-proto: `* n FETCH (UID u BODY[] {len}` CRLF, the literal, `)` CRLF
/// (the two items in either order). Anything else, or anything odd in it,
/// is None and goes the general way. Reading it directly saves the passes
/// over every message that the general way makes (measured with
/// scripts/bench: imap-proto was 7% of the CPU of a 100k repair resync).
fn fetch_body_fast(whole: &[u8]) -> Option<Untagged<'_>> {
    fn number(b: &[u8]) -> Option<(u32, &[u8])> {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 10 {
            return None;
        }
        let v = std::str::from_utf8(&b[..n]).ok()?.parse().ok()?;
        Some((v, &b[n..]))
    }
    let rest = whole.strip_prefix(b"* ")?;
    let (seq, rest) = number(rest)?;
    let mut rest = rest.strip_prefix(b" FETCH (")?;
    let mut attrs = Vec::with_capacity(2);
    let (mut uid_seen, mut body_seen) = (false, false);
    loop {
        if let Some(r) = rest.strip_prefix(b"UID ") {
            let (uid, r) = number(r)?;
            if uid_seen || uid == 0 {
                return None;
            }
            uid_seen = true;
            attrs.push(AttributeValue::Uid(uid));
            rest = r;
        } else if let Some(r) = rest.strip_prefix(b"BODY[] {") {
            let (len, r) = number(r)?;
            let r = r.strip_prefix(b"}\r\n")?;
            let len = usize::try_from(len).ok()?;
            if body_seen || r.len() < len {
                return None;
            }
            body_seen = true;
            attrs.push(AttributeValue::BodySection {
                section: None,
                index: None,
                data: Some(Cow::Borrowed(&r[..len])),
            });
            rest = &r[len..];
        } else {
            return None;
        }
        match rest {
            [b' ', r @ ..] => rest = r,
            b")\r\n" if uid_seen && body_seen => break,
            _ => return None,
        }
    }
    Some(Untagged::Fetch { seq, attrs })
}

fn fetch_proto(whole: &[u8]) -> Result<Untagged<'_>, String> {
    if has_nil_internaldate(whole) {
        return Err(format!(
            "FETCH response with INTERNALDATE NIL: {}",
            excerpt(whole)
        ));
    }
    let parsed = quietly(|| imap_proto::Response::parse(whole)).map_err(|_| {
        PANICS_CAUGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("FETCH response the parser cannot read: {}", excerpt(whole))
    })?;
    match parsed {
        Ok((&[], imap_proto::Response::Fetch(seq, attrs))) => Ok(Untagged::Fetch { seq, attrs }),
        Ok(_) => Err("FETCH response with trailing or unexpected data".into()),
        Err(_) => Err(format!("unparsable FETCH response: {}", excerpt(whole))),
    }
}

/// Whether `INTERNALDATE NIL` (on which imap-proto 0.17 unwraps a None)
/// occurs in the protocol text of a response — outside quoted strings and
/// literals, so a message body saying so is not mistaken for it.
fn has_nil_internaldate(buf: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"INTERNALDATE NIL";
    let mut i = 0;
    let mut line_start = 0;
    let mut in_quote = false;
    while i < buf.len() {
        let b = buf[i];
        if in_quote {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_quote = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b'"' => {
                in_quote = true;
                i += 1;
            }
            b'\r' if buf.get(i + 1) == Some(&b'\n') => {
                let size = crate::imap::frame::literal_size(&buf[line_start..i]).unwrap_or(0);
                i = (i + 2).saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
                line_start = i;
            }
            _ => {
                if buf[i..]
                    .get(..NEEDLE.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(NEEDLE))
                {
                    return true;
                }
                i += 1;
            }
        }
    }
    false
}

/// How many times imap-proto panicked on a response (and was caught).
/// Tests use it to show that known panics are avoided rather than caught.
pub(crate) static PANICS_CAUGHT: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// Set while this thread runs a parser under [`quietly`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` under `catch_unwind` without the panic message reaching stderr:
/// a server's odd bytes are reported as a protocol error of that session,
/// not as a "thread panicked" line. The silence is scoped to this thread
/// while `f` runs; every other panic is reported by the hook that was in
/// place before (installed once, wrapping it).
pub(crate) fn quietly<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> std::thread::Result<R> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(f);
    QUIET.with(|q| q.set(was));
    result
}

/// imap-proto cannot read RFC 3516 `~{n}` literals (BINARY fetches); the
/// data of a literal8 is read like any literal, so the marker is dropped.
/// Only the announcements are touched: the scan skips literal contents.
fn without_literal8_markers(buf: &[u8]) -> Cow<'_, [u8]> {
    let mut tildes = Vec::new();
    let mut pos = 0;
    while let Some(off) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
        let line_end = pos + off;
        let line = &buf[pos..line_end];
        pos = line_end + 2;
        if let Some(size) = crate::imap::frame::literal_size(line) {
            if let Some(open) = line.iter().rposition(|&b| b == b'{') {
                if open > 0 && line[open - 1] == b'~' {
                    tildes.push(line_end - line.len() + open - 1);
                }
            }
            pos = pos.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
            if pos > buf.len() {
                break;
            }
        }
    }
    if tildes.is_empty() {
        return Cow::Borrowed(buf);
    }
    let mut out = Vec::with_capacity(buf.len());
    let mut from = 0;
    for t in tildes {
        out.extend_from_slice(&buf[from..t]);
        from = t + 1;
    }
    out.extend_from_slice(&buf[from..]);
    Cow::Owned(out)
}

/// The start of a response, for error messages (never a whole body).
pub(crate) fn excerpt(buf: &[u8]) -> String {
    let cut = &buf[..buf.len().min(80)];
    let more = if buf.len() > cut.len() { "…" } else { "" };
    format!("{:?}{more}", String::from_utf8_lossy(cut))
}

fn list(lx: &mut Lexer<'_>) -> Result<ListedMailbox, String> {
    lx.sp()?;
    let attributes = lx.atom_list()?;
    lx.sp()?;
    let delimiter = match lx.nstring()? {
        None => None,
        Some(d) => {
            let d = lossy(d);
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => return Err(format!("LIST delimiter {d:?} is not one character")),
            }
        }
    };
    lx.sp()?;
    let name = normalise_inbox(lossy(lx.astring()?));
    // LIST-EXTENDED data may follow; we have no use for it.
    Ok(ListedMailbox {
        name,
        delimiter,
        attributes,
        status: None,
    })
}

/// INBOX is case-insensitive (RFC 3501 §5.1): one spelling for all.
fn normalise_inbox(name: String) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        name
    }
}

fn lossy(bytes: Cow<'_, [u8]>) -> String {
    match bytes {
        Cow::Borrowed(b) => String::from_utf8_lossy(b).into_owned(),
        Cow::Owned(v) => String::from_utf8(v)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn words(rest: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(rest)
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect()
}

/// `[SP] ["[" code "]" SP] text` after a condition.
fn resp_text(cond: Cond, rest: &[u8]) -> Result<Status, String> {
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let (code, text) = if rest.first() == Some(&b'[') {
        let (code, after) = resp_code(&rest[1..]);
        (Some(code), after.strip_prefix(b" ").unwrap_or(after))
    } else {
        (None, rest)
    };
    Ok(Status {
        cond,
        code,
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

/// The code after `[`, and what follows its `]`. A code whose arguments we
/// cannot tokenise is kept raw as [`Code::Other`] up to the last `]`.
fn resp_code(after_bracket: &[u8]) -> (Code, &[u8]) {
    let mut lx = Lexer::new(after_bracket);
    if let Ok(parsed) = known_code(&mut lx) {
        if lx.peek() == Some(b']') {
            return (parsed, &after_bracket[lx.i + 1..]);
        }
    }
    let close = after_bracket
        .iter()
        .rposition(|&b| b == b']')
        .unwrap_or(after_bracket.len());
    let inner = String::from_utf8_lossy(&after_bracket[..close]);
    let (name, args) = inner.split_once(' ').unwrap_or((&inner, ""));
    let code = Code::Other {
        name: name.to_ascii_uppercase(),
        args: args.to_string(),
    };
    (code, after_bracket.get(close + 1..).unwrap_or(&[]))
}

fn known_code(lx: &mut Lexer<'_>) -> Result<Code, String> {
    let name = lx.atom()?.to_ascii_uppercase();
    let code = match name.as_str() {
        "CAPABILITY" => {
            let mut caps = Vec::new();
            while lx.peek() == Some(b' ') {
                lx.sp()?;
                if lx.peek() != Some(b']') {
                    caps.push(lx.atom()?.to_string());
                }
            }
            Code::Capability(caps)
        }
        "UIDVALIDITY" => Code::UidValidity(lx.sp_number()?),
        "UIDNEXT" => Code::UidNext(lx.sp_number()?),
        "HIGHESTMODSEQ" => {
            lx.sp()?;
            let a = lx.atom()?;
            Code::HighestModSeq(a.parse().map_err(|_| format!("HIGHESTMODSEQ {a:?}"))?)
        }
        "NOMODSEQ" => Code::NoModSeq,
        "READ-ONLY" => Code::ReadOnly,
        "READ-WRITE" => Code::ReadWrite,
        "PERMANENTFLAGS" => {
            lx.sp()?;
            Code::PermanentFlags(lx.atom_list()?)
        }
        "APPENDUID" => {
            let uidvalidity = lx.sp_number()?;
            lx.sp()?;
            Code::AppendUid {
                uidvalidity,
                uid_set: lx.atom()?.to_string(),
            }
        }
        "MODIFIED" => {
            lx.sp()?;
            Code::Modified(lx.atom()?.to_string())
        }
        _ => return Err("not a code we read".into()),
    };
    Ok(code)
}

/// A tiny tokenizer over one response: atoms, quoted strings (unescaped),
/// literals (`{n}` and `~{n}`), NIL and flat parenthesised lists.
struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn new(b: &'a [u8]) -> Self {
        Lexer { b, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn rest(&self) -> &'a [u8] {
        &self.b[self.i..]
    }

    fn err(&self, what: &str) -> String {
        let at = &self.b[self.i..self.b.len().min(self.i + 40)];
        format!("expected {what} at {:?}", String::from_utf8_lossy(at))
    }

    fn sp(&mut self) -> Result<(), String> {
        if self.peek() == Some(b' ') {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err("a space"))
        }
    }

    /// Atom characters, leniently: anything printable but space, parens,
    /// `{`, `"` and `]` (so `\Seen`, `\*`, `1:5,7` and `READ-WRITE` are atoms).
    fn atom(&mut self) -> Result<&'a str, String> {
        self.atom_until(b"(){\"]")
    }

    /// Atom characters up to (not including) any of `stops`, space or a
    /// control or 8-bit byte.
    fn atom_until(&mut self, stops: &[u8]) -> Result<&'a str, String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b <= b' ' || b >= 0x7f || stops.contains(&b) {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("an atom"));
        }
        // Only ASCII bytes were accepted.
        Ok(std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default())
    }

    fn sp_number(&mut self) -> Result<u32, String> {
        self.sp()?;
        let a = self.atom()?;
        a.parse().map_err(|_| format!("{a:?} is not a number"))
    }

    /// A parenthesised value of any depth, as written (quoted strings are
    /// skipped over, literals are refused).
    fn balanced(&mut self) -> Result<String, String> {
        let start = self.i;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(self.err("')'")),
                Some(b'(') => depth += 1,
                Some(b')') => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(String::from_utf8_lossy(&self.b[start..self.i]).into_owned());
                    }
                }
                Some(b'"') => {
                    self.quoted()?;
                    continue;
                }
                Some(b'{') | Some(b'\r') | Some(b'\n') => return Err(self.err("a simple value")),
                Some(_) => {}
            }
            self.i += 1;
        }
    }

    /// `(a b c)`: a flat list of atoms (flags, attributes, STATUS items).
    fn atom_list(&mut self) -> Result<Vec<String>, String> {
        if self.peek() != Some(b'(') {
            return Err(self.err("'('"));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b')') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b' ') => self.i += 1,
                _ => out.push(self.atom()?.to_string()),
            }
        }
    }

    fn quoted(&mut self) -> Result<Cow<'a, [u8]>, String> {
        self.i += 1; // the opening quote
        let start = self.i;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => return Err(self.err("a closing quote")),
                Some(b'"') => {
                    let out = match owned {
                        Some(v) => Cow::Owned(v),
                        None => Cow::Borrowed(&self.b[start..self.i]),
                    };
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let v = owned.get_or_insert_with(|| self.b[start..self.i].to_vec());
                    let next = *self
                        .b
                        .get(self.i + 1)
                        .ok_or_else(|| self.err("an escape"))?;
                    v.push(next);
                    self.i += 2;
                }
                Some(b) => {
                    if let Some(v) = owned.as_mut() {
                        v.push(b);
                    }
                    self.i += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> Result<&'a [u8], String> {
        if self.peek() == Some(b'~') {
            self.i += 1;
        }
        if self.peek() != Some(b'{') {
            return Err(self.err("a literal"));
        }
        let close = self.b[self.i..]
            .iter()
            .position(|&b| b == b'}')
            .ok_or_else(|| self.err("'}'"))?;
        let digits = std::str::from_utf8(&self.b[self.i + 1..self.i + close]).unwrap_or("");
        let n: usize = digits
            .parse()
            .map_err(|_| format!("literal size {digits:?}"))?;
        let start = self.i + close + 1;
        if self.b.get(start..start + 2) != Some(&b"\r\n"[..]) {
            return Err(self.err("CRLF after a literal size"));
        }
        let end = (start + 2)
            .checked_add(n)
            .ok_or_else(|| format!("literal size {n} out of range"))?;
        let data = self
            .b
            .get(start + 2..end)
            .ok_or_else(|| "literal shorter than announced".to_string())?;
        self.i = end;
        Ok(data)
    }

    /// string / NIL
    fn nstring(&mut self) -> Result<Option<Cow<'a, [u8]>>, String> {
        match self.peek() {
            Some(b'"') => self.quoted().map(Some),
            Some(b'{') | Some(b'~') => self.literal().map(|d| Some(Cow::Borrowed(d))),
            _ => {
                let a = self.atom()?;
                if a.eq_ignore_ascii_case("NIL") {
                    Ok(None)
                } else {
                    Err(format!("expected a string or NIL, got {a:?}"))
                }
            }
        }
    }

    /// atom / string
    fn astring(&mut self) -> Result<Cow<'a, [u8]>, String> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') | Some(b'~') => self.literal().map(Cow::Borrowed),
            // ASTRING-CHAR includes `]` (RFC 3501): a mailbox `foo]bar`
            // may come unquoted.
            _ => self
                .atom_until(b"(){\"")
                .map(|a| Cow::Borrowed(a.as_bytes())),
        }
    }
}

/// `UID` of a FETCH response, if present.
pub(crate) fn fetch_uid(attrs: &[AttributeValue<'_>]) -> Option<Uid> {
    attrs.iter().find_map(|a| match a {
        AttributeValue::Uid(u) => Some(*u),
        _ => None,
    })
}

#[cfg(test)]
mod fast_fetch_tests {
    use super::*;
    use proptest::prelude::*;

    fn response(seq: u32, uid: u32, body: &[u8], uid_first: bool) -> Vec<u8> {
        let mut r = format!("* {seq} FETCH (").into_bytes();
        let uid_item = format!("UID {uid}").into_bytes();
        let mut body_item = format!("BODY[] {{{}}}\r\n", body.len()).into_bytes();
        body_item.extend_from_slice(body);
        let (x, y) = if uid_first {
            (uid_item, body_item)
        } else {
            (body_item, uid_item)
        };
        r.extend_from_slice(&x);
        r.push(b' ');
        r.extend_from_slice(&y);
        r.extend_from_slice(b")\r\n");
        r
    }

    #[test]
    fn the_fast_way_reads_a_body_fetch_as_imap_proto_does() {
        for (body, uid_first) in [
            (&b"Subject: x\r\n\r\nbody\r\n"[..], true),
            (&b"Subject: x\r\n\r\n) UID 9 BODY[] {3}\r\n"[..], false),
            (&b""[..], true),
        ] {
            let r = response(12, 345, body, uid_first);
            let fast = fetch_body_fast(&r).expect("the common shape");
            assert_eq!(fast, fetch_proto(&r).unwrap());
            assert_eq!(fetch(&r).unwrap(), fast);
        }
    }

    #[test]
    fn anything_else_goes_the_general_way() {
        for r in [
            &b"* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {1}\r\nx)\r\n"[..],
            b"* 1 FETCH (UID 5 BODY[] NIL)\r\n",
            b"* 1 FETCH (UID 5 BODY[] {2}\r\nx)\r\n",
            b"* 1 FETCH (UID 5 BODY[] {1}\r\nx)",
            b"* 1 FETCH (UID 5 UID 6 BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (UID 5 BODY[] ~{1}\r\nx)\r\n",
            b"* 1 fetch (UID 5 BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (UID 0 BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (UID 99999999999 BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (BODY[] {1}\r\nx)\r\n",
            b"* 1 FETCH (UID 5)\r\n",
        ] {
            assert_eq!(fetch_body_fast(r), None, "{}", String::from_utf8_lossy(r));
        }
        // and the general way still reads what it can
        let flags = b"* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {1}\r\nx)\r\n";
        assert!(matches!(fetch(flags), Ok(Untagged::Fetch { .. })));
    }

    proptest! {
        #[test]
        fn fast_and_general_agree(
            seq in 1u32..,
            uid in 1u32..,
            body in proptest::collection::vec(any::<u8>(), 0..300),
            uid_first in any::<bool>(),
        ) {
            let r = response(seq, uid, &body, uid_first);
            let fast = fetch_body_fast(&r);
            prop_assert!(fast.is_some());
            prop_assert_eq!(fast, fetch_proto(&r).ok());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn untagged_of(s: &[u8]) -> Untagged<'_> {
        match parse(s).unwrap() {
            Response::Untagged(u) => u,
            other => panic!("not untagged: {other:?}"),
        }
    }

    #[test]
    fn tagged_completions_with_and_without_codes() {
        assert_eq!(
            parse(b"A0001 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n").unwrap(),
            Response::Tagged {
                tag: "A0001".into(),
                status: Status {
                    cond: Cond::Ok,
                    code: Some(Code::ReadWrite),
                    text: "Select completed (0.001 + 0.000 secs).".into()
                }
            }
        );
        assert_eq!(
            parse(b"A2 NO [TRYCREATE] Mailbox doesn't exist: x\r\n").unwrap(),
            Response::Tagged {
                tag: "A2".into(),
                status: Status {
                    cond: Cond::No,
                    code: Some(Code::Other {
                        name: "TRYCREATE".into(),
                        args: "".into()
                    }),
                    text: "Mailbox doesn't exist: x".into()
                }
            }
        );
        assert_eq!(
            parse(b"A3 BAD\r\n").unwrap(),
            Response::Tagged {
                tag: "A3".into(),
                status: Status {
                    cond: Cond::Bad,
                    code: None,
                    text: "".into()
                }
            }
        );
        assert!(parse(b"A3 BYE x\r\n").is_err());
        assert!(parse(b"A3 MAYBE x\r\n").is_err());
    }

    #[test]
    fn appenduid_modified_and_unknown_codes_are_read() {
        let Response::Tagged { status, .. } =
            parse(b"A9 OK [APPENDUID 1700000000 7:9,12] Append completed.\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            status.code,
            Some(Code::AppendUid {
                uidvalidity: 1700000000,
                uid_set: "7:9,12".into()
            })
        );
        let Response::Tagged { status, .. } =
            parse(b"A9 OK [MODIFIED 7,9] Conditional STORE failed\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(status.code, Some(Code::Modified("7,9".into())));
        assert_eq!(status.code.unwrap().to_string(), "MODIFIED 7,9");
        assert_eq!(Code::ReadOnly.to_string(), "READ-ONLY");
        let Response::Tagged { status, .. } =
            parse(b"A9 NO [LIMIT (\"a]b\") x] Too many\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            status.code,
            Some(Code::Other {
                name: "LIMIT".into(),
                args: "(\"a]b\") x".into()
            })
        );
        assert_eq!(status.text, "Too many");
    }

    #[test]
    fn select_responses_are_read() {
        assert_eq!(untagged_of(b"* 172 EXISTS\r\n"), Untagged::Exists(172));
        assert_eq!(untagged_of(b"* 1 RECENT\r\n"), Untagged::Recent(1));
        assert_eq!(untagged_of(b"* 3 EXPUNGE\r\n"), Untagged::Expunge(3));
        assert_eq!(
            untagged_of(b"* FLAGS (\\Answered \\Flagged $Forwarded)\r\n"),
            Untagged::Flags(vec![
                "\\Answered".into(),
                "\\Flagged".into(),
                "$Forwarded".into()
            ])
        );
        let perm =
            untagged_of(b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Flags permitted.\r\n");
        assert_eq!(
            perm,
            Untagged::Status(Status {
                cond: Cond::Ok,
                code: Some(Code::PermanentFlags(vec![
                    "\\Deleted".into(),
                    "\\Seen".into(),
                    "\\*".into()
                ])),
                text: "Flags permitted.".into()
            })
        );
        for (line, code) in [
            (
                &b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"[..],
                Code::UidValidity(3857529045),
            ),
            (
                b"* OK [UIDNEXT 4392] Predicted next UID\r\n",
                Code::UidNext(4392),
            ),
            (
                b"* OK [HIGHESTMODSEQ 90060115205545359] Highest\r\n",
                Code::HighestModSeq(90060115205545359),
            ),
            (
                b"* OK [NOMODSEQ] Sorry, modsequences have not been enabled\r\n",
                Code::NoModSeq,
            ),
            (
                b"* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n",
                Code::PermanentFlags(vec![]),
            ),
        ] {
            match untagged_of(line) {
                Untagged::Status(s) => assert_eq!(s.code, Some(code)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn list_names_as_atoms_quoted_strings_and_literals() {
        assert_eq!(
            untagged_of(b"* LIST (\\HasNoChildren) \".\" INBOX\r\n"),
            Untagged::List(ListedMailbox {
                name: "INBOX".into(),
                delimiter: Some('.'),
                attributes: vec!["\\HasNoChildren".into()],
                status: None,
            })
        );
        assert_eq!(
            untagged_of(b"* LIST (\\Noselect \\HasChildren) NIL \"a \\\"q\\\" \\\\ b\"\r\n"),
            Untagged::List(ListedMailbox {
                name: "a \"q\" \\ b".into(),
                delimiter: None,
                attributes: vec!["\\Noselect".into(), "\\HasChildren".into()],
                status: None,
            })
        );
        assert_eq!(
            untagged_of(b"* LIST () \"\\\\\" {9}\r\nWeird\r\n\"x\r\n"),
            Untagged::List(ListedMailbox {
                name: "Weird\r\n\"x".into(),
                delimiter: Some('\\'),
                attributes: vec![],
                status: None,
            })
        );
        assert_eq!(
            untagged_of(b"* LIST (\\Subscribed) \"/\" inbox (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"),
            Untagged::List(ListedMailbox {
                name: "INBOX".into(),
                delimiter: Some('/'),
                attributes: vec!["\\Subscribed".into()],
                status: None,
            })
        );
    }

    #[test]
    fn fetch_goes_through_imap_proto_with_literals_and_nil_bodies() {
        match untagged_of(b"* 12 FETCH (UID 44 FLAGS (\\Seen $Junk) RFC822.SIZE 4 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[] {4}\r\nab\r\n)\r\n") {
            Untagged::Fetch { seq, attrs } => {
                assert_eq!(seq, 12);
                assert_eq!(fetch_uid(&attrs), Some(44));
                assert!(attrs.iter().any(|a| matches!(a, AttributeValue::BodySection { data: Some(d), .. } if d.as_ref() == b"ab\r\n")));
                assert!(attrs.iter().any(|a| matches!(a, AttributeValue::Rfc822Size(4))));
            }
            other => panic!("{other:?}"),
        }
        match untagged_of(b"* 3 FETCH (UID 9 BODY[] NIL)\r\n") {
            Untagged::Fetch { attrs, .. } => assert!(attrs
                .iter()
                .any(|a| matches!(a, AttributeValue::BodySection { data: None, .. }))),
            other => panic!("{other:?}"),
        }
        match untagged_of(b"* 3 FETCH (UID 9 MODSEQ (12345))\r\n") {
            Untagged::Fetch { attrs, .. } => assert_eq!(fetch_uid(&attrs), Some(9)),
            other => panic!("{other:?}"),
        }
        assert!(parse(b"* 3 FETCH (UID 9 INTERNALDATE NIL)\r\n").is_err());
        // A literal8 whose content itself looks like an announcement.
        match untagged_of(b"* 3 FETCH (UID 9 BODY[] ~{8}\r\na\0~{2}\r\n)\r\n") {
            Untagged::Fetch { attrs, .. } => assert_eq!(fetch_uid(&attrs), Some(9)),
            other => panic!("{other:?}"),
        }
        assert!(parse(b"* 3 FETCH (UID)\r\n").is_err());
    }

    #[test]
    fn capability_status_vanished_and_unknown_untagged() {
        assert_eq!(
            untagged_of(b"* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN\r\n"),
            Untagged::Capability(vec![
                "IMAP4rev1".into(),
                "LITERAL+".into(),
                "AUTH=PLAIN".into()
            ])
        );
        assert_eq!(
            untagged_of(b"* STATUS \"Sent\" (UIDNEXT 5 MESSAGES 4 HIGHESTMODSEQ 9)\r\n"),
            Untagged::MailboxStatus {
                mailbox: "Sent".into(),
                items: vec![
                    ("UIDNEXT".into(), 5),
                    ("MESSAGES".into(), 4),
                    ("HIGHESTMODSEQ".into(), 9)
                ]
            }
        );
        assert_eq!(
            untagged_of(b"* VANISHED (EARLIER) 300:310,405\r\n"),
            Untagged::Vanished {
                earlier: true,
                uid_set: "300:310,405".into()
            }
        );
        assert_eq!(
            untagged_of(b"* NAMESPACE ((\"\" \".\")) NIL NIL\r\n"),
            Untagged::Other("NAMESPACE".into())
        );
        assert_eq!(
            untagged_of(b"* ESEARCH (TAG \"A1\") UID ALL 1:3,7\r\n"),
            Untagged::Esearch {
                tag: Some("A1".into()),
                uid: true,
                items: vec![("ALL".into(), "1:3,7".into())]
            }
        );
        assert_eq!(
            untagged_of(b"* ESEARCH (TAG \"A1\") UID\r\n"),
            Untagged::Esearch {
                tag: Some("A1".into()),
                uid: true,
                items: vec![]
            }
        );
        assert_eq!(
            untagged_of(b"* ESEARCH COUNT 4 MIN 2 X (a \"b)\" (c)) MAX 9\r\n"),
            Untagged::Esearch {
                tag: None,
                uid: false,
                items: vec![
                    ("COUNT".into(), "4".into()),
                    ("MIN".into(), "2".into()),
                    ("X".into(), "(a \"b)\" (c))".into()),
                    ("MAX".into(), "9".into())
                ]
            }
        );
        assert!(parse(b"* ESEARCH (TAG \"A1\") UID ALL\r\n").is_err());
        assert!(parse(b"* ESEARCH (FOO \"A1\")\r\n").is_err());
        assert_eq!(
            untagged_of(b"* ENABLED CONDSTORE QRESYNC\r\n"),
            Untagged::Enabled(vec!["CONDSTORE".into(), "QRESYNC".into()])
        );
        assert_eq!(
            untagged_of(b"* VANISHED 4:5\r\n"),
            Untagged::Vanished {
                earlier: false,
                uid_set: "4:5".into()
            }
        );
        assert_eq!(
            untagged_of(b"* BYE Server shutting down\r\n"),
            Untagged::Status(Status {
                cond: Cond::Bye,
                code: None,
                text: "Server shutting down".into()
            })
        );
        assert_eq!(parse(b"+ \r\n").unwrap(), Response::Continue("".into()));
        assert_eq!(
            parse(b"+ Ready\r\n").unwrap(),
            Response::Continue("Ready".into())
        );
        assert!(parse(b"* \r\n").is_err());
    }
}
