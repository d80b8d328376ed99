//! The strong oracle of docs/SCENARIOS.md.
//!
//! Owns: reading a whole side through the test client and reducing it to,
//! per mailbox, the multiset of (SHA-256 of the message with canonical CRLF
//! line endings, flag set without \Recent, compared case-insensitively); and
//! asserting two such states equal with a readable diff. It computes its own
//! fingerprints (it does not call imapmend's code) so it cannot share a bug
//! with the code under test.
//!
//! Readability: contents registered with [`name_content`] print as their
//! scenario names (`m1`) instead of hex.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::dovecot::User;
use super::mailclient::{Fetched, MailClient};

/// Normalised flags: lower-cased, sorted, without `\recent`.
pub type Flags = Vec<String>;

/// One side: mailbox → (fingerprint hex, flags) → count.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SideState(pub BTreeMap<String, BTreeMap<(String, Flags), usize>>);

/// CRLF, bare LF and bare CR all become CRLF.
pub fn canonical_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// SHA-256 of the canonical form, lower-case hex.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(canonical_crlf(bytes));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-cased, sorted, deduplicated, without \Recent.
pub fn normalise_flags<S: AsRef<str>>(flags: &[S]) -> Flags {
    let set: BTreeSet<String> = flags
        .iter()
        .map(|f| f.as_ref().to_ascii_lowercase())
        .filter(|f| f != "\\recent")
        .collect();
    set.into_iter().collect()
}

fn names() -> &'static Mutex<HashMap<String, String>> {
    static NAMES: std::sync::OnceLock<Mutex<HashMap<String, String>>> = std::sync::OnceLock::new();
    NAMES.get_or_init(Default::default)
}

/// Registers a display name for a content, used in diffs.
pub fn name_content(bytes: &[u8], name: &str) {
    names()
        .lock()
        .unwrap()
        .insert(fingerprint(bytes), name.to_string());
}

fn display_hash(hex: &str) -> String {
    match names().lock().unwrap().get(hex) {
        Some(n) => n.clone(),
        None => format!("#{}", &hex[..12]),
    }
}

impl SideState {
    /// Adds one message (for building expected states).
    pub fn add<S: AsRef<str>>(&mut self, mailbox: &str, bytes: &[u8], flags: &[S]) {
        *self
            .0
            .entry(mailbox.to_string())
            .or_default()
            .entry((fingerprint(bytes), normalise_flags(flags)))
            .or_default() += 1;
    }

    /// Declares a (possibly empty) mailbox.
    pub fn mailbox(&mut self, mailbox: &str) {
        self.0.entry(mailbox.to_string()).or_default();
    }

    /// Total number of messages.
    pub fn len(&self) -> usize {
        self.0.values().flat_map(|m| m.values()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for SideState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SideState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (mailbox, msgs) in &self.0 {
            write!(f, "{mailbox}:")?;
            for ((hash, flags), count) in msgs {
                write!(f, " {}", entry(hash, flags, *count))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn entry(hash: &str, flags: &Flags, count: usize) -> String {
    let mut s = format!("{}({})", display_hash(hash), flags.join(" "));
    if count != 1 {
        s.push_str(&format!("×{count}"));
    }
    s
}

/// Reads every selectable mailbox of a side (read-only: EXAMINE, BODY.PEEK).
pub fn read_side(user: &User) -> SideState {
    read_side_visiting(user, |_, _| {})
}

/// [`read_side`], also showing every fetched message to `visit` (mailbox,
/// message), for checks beyond the oracle (e.g. INTERNALDATE) in one pass.
pub fn read_side_visiting(user: &User, visit: impl FnMut(&str, &Fetched)) -> SideState {
    let mut client = user.client();
    let state = read_with(&mut client, visit);
    client.logout();
    state
}

/// Same as [`read_side_visiting`] over an existing client.
pub fn read_with(client: &mut MailClient, mut visit: impl FnMut(&str, &Fetched)) -> SideState {
    let mut state = SideState::default();
    for mailbox in client.mailboxes() {
        state.mailbox(&mailbox);
        for m in client.fetch_all(&mailbox) {
            visit(&mailbox, &m);
            state.add(&mailbox, &m.body, &m.flags);
        }
    }
    state
}

/// A readable, line-per-difference diff; empty when equal.
pub fn diff(left_name: &str, left: &SideState, right_name: &str, right: &SideState) -> String {
    let mut out = String::new();
    let empty = BTreeMap::new();
    let mailboxes: BTreeSet<&String> = left.0.keys().chain(right.0.keys()).collect();
    for mailbox in mailboxes {
        let (l, r) = match (left.0.get(mailbox), right.0.get(mailbox)) {
            (None, _) => {
                out.push_str(&format!("  mailbox {mailbox:?} missing on {left_name}\n"));
                (&empty, right.0.get(mailbox).unwrap())
            }
            (_, None) => {
                out.push_str(&format!("  mailbox {mailbox:?} missing on {right_name}\n"));
                (left.0.get(mailbox).unwrap(), &empty)
            }
            (Some(l), Some(r)) => (l, r),
        };
        let keys: BTreeSet<&(String, Flags)> = l.keys().chain(r.keys()).collect();
        for key in keys {
            let lc = l.get(key).copied().unwrap_or(0);
            let rc = r.get(key).copied().unwrap_or(0);
            if lc != rc {
                out.push_str(&format!(
                    "  {mailbox}: {}({}) — {left_name} has {lc}, {right_name} has {rc}\n",
                    display_hash(&key.0),
                    key.1.join(" ")
                ));
            }
        }
    }
    out
}

/// Asserts that A and B hold the same mail and flags.
#[track_caller]
pub fn assert_sides_equal(a: &SideState, b: &SideState) {
    let d = diff("A", a, "B", b);
    assert!(
        d.is_empty(),
        "A and B differ:\n{d}--- A ---\n{a}--- B ---\n{b}"
    );
}

/// Asserts that one side (named `side` in the message) equals `expected`.
#[track_caller]
pub fn assert_state(side: &str, actual: &SideState, expected: &SideState) {
    let d = diff(side, actual, "expected", expected);
    assert!(
        d.is_empty(),
        "{side} is not as expected:\n{d}--- {side} ---\n{actual}--- expected ---\n{expected}"
    );
}

/// Per mailbox: (MESSAGES, UIDNEXT, HIGHESTMODSEQ if offered). Unchanged
/// across a run means the run wrote nothing.
pub fn writes_marker(user: &User) -> Vec<(String, String)> {
    let mut client = user.client();
    let items = if client.has_capability("CONDSTORE") {
        "(MESSAGES UIDNEXT HIGHESTMODSEQ)"
    } else {
        "(MESSAGES UIDNEXT)"
    };
    let mut out = Vec::new();
    for mailbox in client.mailboxes() {
        let done = client.command(&format!(
            "STATUS {} {items}",
            super::mailclient::quote(&mailbox)
        ));
        let status = done
            .untagged
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .find(|l| l.starts_with("STATUS "))
            .expect("STATUS reply");
        let values = status[status.rfind('(').unwrap()..].to_string();
        out.push((mailbox, values));
    }
    client.logout();
    out
}
