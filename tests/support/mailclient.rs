//! A small, strict, synchronous IMAP client for tests only.
//!
//! Owns: seeding servers and reading them back for the oracle. It is
//! deliberately independent of imapmend's own engine, so the oracle never
//! trusts the code under test. It panics with the server's words on NO/BAD
//! (it is a test); `try_*` variants return the error instead.
//!
//! Responses are read as whole logical lines with `{n}` literals inlined
//! (`{n}\r\n` followed by n bytes), then tokenised into a tiny S-expression.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One parsed token of a response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// An atom, number, flag or `NIL` (`BODY[]` stays one atom).
    Atom(String),
    /// A quoted string or a literal, as raw bytes.
    Str(Vec<u8>),
    List(Vec<Tok>),
}

impl Tok {
    pub fn atom(&self) -> Option<&str> {
        match self {
            Tok::Atom(a) => Some(a),
            _ => None,
        }
    }
    /// An atom or a string, as text.
    pub fn text(&self) -> String {
        match self {
            Tok::Atom(a) => a.clone(),
            Tok::Str(s) => String::from_utf8_lossy(s).into_owned(),
            Tok::List(_) => panic!("expected text, got a list: {self:?}"),
        }
    }
    pub fn list(&self) -> &[Tok] {
        match self {
            Tok::List(l) => l,
            _ => panic!("expected a list, got {self:?}"),
        }
    }
}

/// What SELECT/EXAMINE reported.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub exists: u32,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: Option<u64>,
    pub permanent_flags: Vec<String>,
}

/// One LIST entry.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub delimiter: Option<String>,
    pub attributes: Vec<String>,
}

impl Listed {
    pub fn selectable(&self) -> bool {
        !self.attributes.iter().any(|a| {
            a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
        })
    }
}

/// One message as fetched: `UID FLAGS INTERNALDATE BODY.PEEK[]`.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    pub flags: Vec<String>,
    pub internal_date: String,
    pub body: Vec<u8>,
}

/// The completion of a command.
#[derive(Debug, Clone)]
pub struct Done {
    /// Untagged responses, without the leading `* `.
    pub untagged: Vec<Vec<u8>>,
    /// The tagged line after the tag, e.g. `OK [APPENDUID 1 2] Append completed.`
    pub status: String,
}

pub struct MailClient {
    reader: BufReader<Box<dyn Read + Send>>,
    writer: Box<dyn Write + Send>,
    /// The server process a [`MailClient::tunnel`] talks to (killed on drop).
    tunnel: Option<Child>,
    next_tag: u32,
    /// The open mailbox and whether it is writable (SELECT, not EXAMINE).
    selected: Option<(String, bool)>,
    pub capabilities: Vec<String>,
}

impl MailClient {
    /// Connects, reads the greeting and logs in with LOGIN.
    /// A refusal for too many connections ([LIMIT]) is tried again for a
    /// few seconds: imapmend does not wait for its LOGOUT's answer, so a
    /// server capping connections may still count its session for a
    /// moment after it exits.
    pub fn login(host: &str, port: u16, user: &str, password: &str) -> MailClient {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match Self::try_login(host, port, user, password) {
                Ok(client) => return client,
                Err(e) if e.contains("[LIMIT]") && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("LOGIN as {user} on {host}:{port} failed: {e}"),
            }
        }
    }

    /// Like [`MailClient::login`], returning a refused LOGIN as `Err`.
    pub fn try_login(
        host: &str,
        port: u16,
        user: &str,
        password: &str,
    ) -> Result<MailClient, String> {
        let stream = TcpStream::connect((host, port))
            .unwrap_or_else(|e| panic!("connect {host}:{port}: {e}"));
        stream.set_nodelay(true).ok();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut client = MailClient::over(Box::new(stream), Box::new(writer));
        // Dovecot may say "Waiting for authentication process" before the
        // real greeting.
        loop {
            let line = client.read_logical_line();
            let text = String::from_utf8_lossy(&line).into_owned();
            if !text.starts_with("* OK") {
                panic!("unexpected greeting from {host}:{port}: {text}");
            }
            if !text.contains("Waiting for authentication") {
                break;
            }
        }
        client.try_command(&format!("LOGIN {} {}", quote(user), quote(password)))?;
        client.capabilities = client.capability();
        Ok(client)
    }

    /// Talks IMAP over the standard input and output of `sh -c command`
    /// (as `--a-tunnel` does), whose server greets with PREAUTH: no login.
    /// Its standard error goes where the test's does.
    pub fn tunnel(command: &str) -> MailClient {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("tunnel `{command}`: {e}"));
        let reader = child.stdout.take().unwrap();
        let writer = child.stdin.take().unwrap();
        let mut client = MailClient::over(Box::new(reader), Box::new(writer));
        client.tunnel = Some(child);
        let greeting = String::from_utf8_lossy(&client.read_logical_line()).into_owned();
        assert!(
            greeting.starts_with("* PREAUTH"),
            "tunnel `{command}` greeted with {greeting}"
        );
        client.capabilities = client.capability();
        client
    }

    fn over(reader: Box<dyn Read + Send>, writer: Box<dyn Write + Send>) -> MailClient {
        MailClient {
            reader: BufReader::new(reader),
            writer,
            tunnel: None,
            next_tag: 1,
            selected: None,
            capabilities: Vec::new(),
        }
    }

    /// The server's CAPABILITY list (upper-cased).
    pub fn capability(&mut self) -> Vec<String> {
        let done = self.command("CAPABILITY");
        let mut caps = Vec::new();
        for line in &done.untagged {
            let text = String::from_utf8_lossy(line);
            if let Some(rest) = text.strip_prefix("CAPABILITY ") {
                caps.extend(rest.split_whitespace().map(str::to_ascii_uppercase));
            }
        }
        caps
    }

    pub fn has_capability(&self, cap: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// Sends one command and waits for its completion; panics on NO/BAD.
    pub fn command(&mut self, command: &str) -> Done {
        self.try_command(command)
            .unwrap_or_else(|e| panic!("IMAP command `{}` failed: {e}", redact(command)))
    }

    /// Sends one command; `Err` carries the server's tagged NO/BAD line.
    pub fn try_command(&mut self, command: &str) -> Result<Done, String> {
        let tag = self.tag();
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.read_until_tagged(&tag)
    }

    fn tag(&mut self) -> String {
        let t = format!("t{}", self.next_tag);
        self.next_tag += 1;
        t
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to IMAP server");
        self.writer.flush().unwrap();
    }

    fn read_until_tagged(&mut self, tag: &str) -> Result<Done, String> {
        let mut untagged = Vec::new();
        loop {
            let line = self.read_logical_line();
            if let Some(rest) = line.strip_prefix(b"* ") {
                untagged.push(rest.to_vec());
                continue;
            }
            if line.starts_with(b"+") {
                return Err(format!(
                    "unexpected continuation: {}",
                    String::from_utf8_lossy(&line)
                ));
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            let status = text
                .strip_prefix(tag)
                .and_then(|r| r.strip_prefix(' '))
                .unwrap_or_else(|| panic!("unexpected line (waiting for {tag}): {text}"))
                .to_string();
            if status.starts_with("OK") {
                return Ok(Done { untagged, status });
            }
            return Err(status);
        }
    }

    /// Reads one response line, with any `{n}` literals inlined, without
    /// the final CRLF.
    fn read_logical_line(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .expect("read from IMAP server");
            assert!(n > 0, "IMAP server closed the connection");
            let body = line
                .strip_suffix(b"\r\n")
                .or_else(|| line.strip_suffix(b"\n"))
                .unwrap_or(&line);
            if let Some(len) = trailing_literal(body) {
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
                let mut literal = vec![0u8; len];
                self.reader
                    .read_exact(&mut literal)
                    .expect("read literal from IMAP server");
                out.extend_from_slice(&literal);
                continue;
            }
            out.extend_from_slice(body);
            return out;
        }
    }

    pub fn create(&mut self, mailbox: &str) {
        self.command(&format!("CREATE {}", quote(mailbox)));
    }

    pub fn delete(&mut self, mailbox: &str) {
        if self.selected.as_ref().is_some_and(|(m, _)| m == mailbox) {
            self.command("UNSELECT");
            self.selected = None;
        }
        self.command(&format!("DELETE {}", quote(mailbox)));
    }

    pub fn select(&mut self, mailbox: &str) -> Selected {
        self.open("SELECT", mailbox, "")
    }

    /// Read-only open: does not claim \Recent or change anything.
    pub fn examine(&mut self, mailbox: &str) -> Selected {
        self.open("EXAMINE", mailbox, "")
    }

    /// SELECT or EXAMINE with optional parameters, e.g. `" (CONDSTORE)"`.
    pub fn open(&mut self, verb: &str, mailbox: &str, params: &str) -> Selected {
        let done = self.command(&format!("{verb} {}{params}", quote(mailbox)));
        self.selected = Some((mailbox.to_string(), verb.eq_ignore_ascii_case("SELECT")));
        let mut s = Selected::default();
        for line in &done.untagged {
            let text = String::from_utf8_lossy(line).into_owned();
            if let Some(n) = text.strip_suffix(" EXISTS") {
                s.exists = n.parse().unwrap();
            } else if text.starts_with("OK [") {
                // Status responses carry free text: read the code, never tokenise.
                if let Some(v) = response_code_value(&text, "UIDVALIDITY") {
                    s.uidvalidity = v.parse().unwrap();
                }
                if let Some(v) = response_code_value(&text, "UIDNEXT") {
                    s.uidnext = v.parse().unwrap();
                }
                if let Some(v) = response_code_value(&text, "HIGHESTMODSEQ") {
                    s.highestmodseq = Some(v.parse().unwrap());
                }
                if let Some(v) = response_code_value(&text, "PERMANENTFLAGS") {
                    s.permanent_flags = v
                        .trim_matches(|c| c == '(' || c == ')')
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                }
            }
        }
        s
    }

    /// APPENDs a message; returns its UID (from APPENDUID). Panics on NO/BAD.
    pub fn append(
        &mut self,
        mailbox: &str,
        message: &[u8],
        flags: &[&str],
        internal_date: Option<&str>,
    ) -> u32 {
        self.try_append(mailbox, message, flags, internal_date)
            .unwrap_or_else(|e| panic!("APPEND to {mailbox} failed: {e}"))
    }

    /// APPEND that returns the server's refusal instead of panicking.
    pub fn try_append(
        &mut self,
        mailbox: &str,
        message: &[u8],
        flags: &[&str],
        internal_date: Option<&str>,
    ) -> Result<u32, String> {
        let tag = self.tag();
        let mut head = format!("{tag} APPEND {} ({})", quote(mailbox), flags.join(" "));
        if let Some(date) = internal_date {
            head.push_str(&format!(" \"{date}\""));
        }
        head.push_str(&format!(" {{{}}}\r\n", message.len()));
        self.send(head.as_bytes());
        let line = self.read_logical_line();
        if !line.starts_with(b"+") {
            let text = String::from_utf8_lossy(&line).into_owned();
            return Err(text);
        }
        let mut body = message.to_vec();
        body.extend_from_slice(b"\r\n");
        self.send(&body);
        let done = self.read_until_tagged(&tag)?;
        let uid = response_code_value(&done.status, "APPENDUID")
            .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_else(|| panic!("no APPENDUID in `{}`", done.status));
        Ok(uid.parse().unwrap())
    }

    /// `UID STORE uids {op}FLAGS (flags)` in `mailbox` (op is "+", "-" or "").
    pub fn store(&mut self, mailbox: &str, uids: &[u32], op: &str, flags: &[&str]) {
        if uids.is_empty() {
            return;
        }
        self.ensure_selected(mailbox);
        let set: Vec<String> = uids.iter().map(u32::to_string).collect();
        self.command(&format!(
            "UID STORE {} {op}FLAGS.SILENT ({})",
            set.join(","),
            flags.join(" ")
        ));
    }

    /// The UID of the message whose body is `body` in `mailbox`.
    pub fn uid_of(&mut self, mailbox: &str, body: &[u8]) -> u32 {
        self.fetch_all(mailbox)
            .into_iter()
            .find(|m| m.body == body)
            .unwrap_or_else(|| panic!("no such message in {mailbox}"))
            .uid
    }

    /// `UID EXPUNGE` of exactly `uids` (they get \Deleted first).
    pub fn expunge_uids(&mut self, mailbox: &str, uids: &[u32]) {
        if uids.is_empty() {
            return;
        }
        self.store(mailbox, uids, "+", &["\\Deleted"]);
        let set: Vec<String> = uids.iter().map(u32::to_string).collect();
        self.command(&format!("UID EXPUNGE {}", set.join(",")));
    }

    /// Plain EXPUNGE of everything marked \Deleted in `mailbox`.
    pub fn expunge(&mut self, mailbox: &str) {
        self.ensure_selected(mailbox);
        self.command("EXPUNGE");
    }

    fn ensure_selected(&mut self, mailbox: &str) {
        // Writes need SELECT: Dovecot answers OK to a STORE under EXAMINE
        // and silently stores nothing.
        if self.selected != Some((mailbox.to_string(), true)) {
            self.select(mailbox);
        }
    }

    /// `LIST "" *`.
    pub fn list(&mut self) -> Vec<Listed> {
        let done = self.command("LIST \"\" *");
        let mut out = Vec::new();
        for line in &done.untagged {
            if !line.starts_with(b"LIST ") {
                continue;
            }
            let toks = tokenize(line);
            let attributes = toks[1].list().iter().map(Tok::text).collect();
            let delimiter = match &toks[2] {
                Tok::Atom(a) if a.eq_ignore_ascii_case("NIL") => None,
                t => Some(t.text()),
            };
            out.push(Listed {
                name: toks[3].text(),
                delimiter,
                attributes,
            });
        }
        out
    }

    /// Names of all selectable mailboxes, INBOX spelled `INBOX`, sorted.
    /// Dovecot's Maildir++ lists what a deleted parent with children leaves
    /// as an ordinary mailbox that "doesn't exist" when opened: left out.
    pub fn mailboxes(&mut self) -> Vec<String> {
        let listed: Vec<Listed> = self.list();
        let mut names: Vec<String> = listed
            .into_iter()
            .filter(Listed::selectable)
            .filter(|l| {
                !l.attributes
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case("\\HasChildren"))
                    || !self
                        .try_command(&format!("STATUS {} (MESSAGES)", quote(&l.name)))
                        .is_err_and(|e| e.contains("Mailbox doesn't exist"))
            })
            .map(|l| {
                if l.name.eq_ignore_ascii_case("INBOX") {
                    "INBOX".to_string()
                } else {
                    l.name
                }
            })
            .collect();
        names.sort();
        names
    }

    /// Every message of `mailbox` (opened read-only), in UID order.
    pub fn fetch_all(&mut self, mailbox: &str) -> Vec<Fetched> {
        let sel = self.examine(mailbox);
        if sel.exists == 0 {
            return Vec::new();
        }
        let done = self.command("UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])");
        let mut out = Vec::new();
        for line in &done.untagged {
            if !is_fetch(line) {
                continue;
            }
            let toks = tokenize(line);
            let items = toks[2].list();
            let mut uid = None;
            let mut flags = None;
            let mut date = None;
            let mut body = None;
            for kv in items.chunks(2) {
                let key = kv[0].text().to_ascii_uppercase();
                match key.as_str() {
                    "UID" => uid = Some(kv[1].text().parse::<u32>().unwrap()),
                    "FLAGS" => flags = Some(kv[1].list().iter().map(Tok::text).collect()),
                    "INTERNALDATE" => date = Some(kv[1].text()),
                    "BODY[]" => match &kv[1] {
                        Tok::Str(b) => body = Some(b.clone()),
                        other => panic!("BODY[] of {mailbox} is not a string: {other:?}"),
                    },
                    _ => {}
                }
            }
            out.push(Fetched {
                uid: uid.expect("FETCH without UID"),
                flags: flags.expect("FETCH without FLAGS"),
                internal_date: date.expect("FETCH without INTERNALDATE"),
                body: body.expect("FETCH without BODY[]"),
            });
        }
        assert_eq!(
            out.len(),
            sel.exists as usize,
            "FETCH of {mailbox} returned {} messages, EXISTS said {}",
            out.len(),
            sel.exists
        );
        out.sort_by_key(|f| f.uid);
        out
    }

    pub fn logout(mut self) {
        let _ = self.try_command("LOGOUT");
    }
}

impl Drop for MailClient {
    fn drop(&mut self) {
        if let Some(mut child) = self.tunnel.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `N FETCH (…)`?
fn is_fetch(line: &[u8]) -> bool {
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && line[digits..].starts_with(b" FETCH (")
}

/// `n` if the line ends with a literal announcement `{n}` or `{n+}`.
fn trailing_literal(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The text after `[CODE ` up to `]` in a response line.
pub fn response_code_value(text: &str, code: &str) -> Option<String> {
    let start = text.find(&format!("[{code} "))? + code.len() + 2;
    let end = text[start..].find(']')? + start;
    Some(text[start..end].to_string())
}

/// An IMAP quoted string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn redact(command: &str) -> String {
    if command.to_ascii_uppercase().starts_with("LOGIN ") {
        "LOGIN …".into()
    } else {
        command.to_string()
    }
}

/// Tokenises one logical response line (literals inlined as `{n}\r\n…`).
pub fn tokenize(line: &[u8]) -> Vec<Tok> {
    let mut pos = 0;
    let mut stack: Vec<Vec<Tok>> = vec![Vec::new()];
    while pos < line.len() {
        match line[pos] {
            b' ' => pos += 1,
            b'(' => {
                stack.push(Vec::new());
                pos += 1;
            }
            b')' => {
                let list = stack.pop().expect("unbalanced ')'");
                stack
                    .last_mut()
                    .expect("unbalanced ')'")
                    .push(Tok::List(list));
                pos += 1;
            }
            b'"' => {
                pos += 1;
                let mut s = Vec::new();
                while line[pos] != b'"' {
                    if line[pos] == b'\\' {
                        pos += 1;
                    }
                    s.push(line[pos]);
                    pos += 1;
                }
                pos += 1;
                stack.last_mut().unwrap().push(Tok::Str(s));
            }
            b'{' => {
                let close = pos + line[pos..].iter().position(|&b| b == b'}').unwrap();
                let digits = std::str::from_utf8(&line[pos + 1..close]).unwrap();
                let len: usize = digits.trim_end_matches('+').parse().unwrap();
                let start = close + 3; // "}\r\n"
                stack
                    .last_mut()
                    .unwrap()
                    .push(Tok::Str(line[start..start + len].to_vec()));
                pos = start + len;
            }
            _ => {
                let start = pos;
                let mut depth = 0;
                while pos < line.len() {
                    let b = line[pos];
                    if b == b'[' {
                        depth += 1;
                    } else if b == b']' && depth > 0 {
                        depth -= 1;
                    } else if depth == 0 && (b == b' ' || b == b'(' || b == b')') {
                        break;
                    }
                    pos += 1;
                }
                let atom = String::from_utf8_lossy(&line[start..pos]).into_owned();
                stack.last_mut().unwrap().push(Tok::Atom(atom));
            }
        }
    }
    assert_eq!(stack.len(), 1, "unbalanced parentheses in response");
    stack.pop().unwrap()
}
