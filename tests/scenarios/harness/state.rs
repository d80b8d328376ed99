//! The scenario harness, states and sides: the contents and dates a state
//! names (`m1`, `g17`, `noid`…, `@d1`), parsing a state written as text,
//! and what the harness does to a side's disk and mailboxes (copying a
//! Maildir aside, recreating a mailbox under a new UIDVALIDITY), with the
//! INTERNALDATEs it reads back.

use super::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::support::mail;

/// INTERNALDATEs by name; `d0` is the default.
pub(crate) const DATES: &[(&str, &str)] = &[
    ("d0", mail::DATE),
    ("d1", "15-Feb-2024 08:30:00 +0000"),
    ("d2", "03-Mar-2024 17:45:10 +0100"),
];

pub(crate) fn date(name: &str) -> &'static str {
    DATES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("unknown date {name}"))
        .1
}

/// Messages without Message-ID from the generator, for volume cases (`g1`…).
pub(crate) fn generated(i: usize) -> Vec<u8> {
    static GEN: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    GEN.get_or_init(|| {
        let mut g = Generator::new(0x1b2c_3d4e);
        g.no_message_id_percent = 100;
        g.messages(400).into_iter().map(|m| m.bytes).collect()
    })[i - 1]
        .clone()
}

/// The bytes behind a content name:
/// - `m1`…`m99`: small distinct messages with a Message-ID;
/// - `g1`…`g400`: generated messages without any Message-ID;
/// - fixtures: `noid` (no Message-ID), `sameid1`/`sameid2` (one Message-ID,
///   different content), `samehdr1`/`samehdr2` (identical headers, different
///   bodies), `barelf` (bare LF line endings), `8bit`.
pub(crate) fn standard_content(name: &str) -> Vec<u8> {
    let fixture = |f: &str| corpus::fixture(f);
    match name {
        "noid" => fixture("02-no-message-id.eml"),
        "sameid1" => fixture("03-shared-id-first.eml"),
        "sameid2" => fixture("04-shared-id-second.eml"),
        "samehdr1" => fixture("05-same-headers-body-a.eml"),
        "samehdr2" => fixture("06-same-headers-body-b.eml"),
        "barelf" => fixture("07-bare-lf.eml"),
        "8bit" => fixture("08-8bit.eml"),
        _ if name.starts_with('g') && name[1..].parse::<usize>().is_ok() => {
            generated(name[1..].parse().unwrap())
        }
        _ if name.starts_with('m') && name[1..].parse::<usize>().is_ok() => mail::msg(name),
        _ => panic!("unknown content name {name:?}"),
    }
}

/// One message of a state.
#[derive(Debug, Clone)]
pub(crate) struct Msg {
    pub(crate) content: String,
    pub(crate) flags: Vec<String>,
    /// Date name, if the state names one.
    pub(crate) date: Option<String>,
}

/// mailbox → messages. INBOX is always present.
pub(crate) type State = BTreeMap<String, Vec<Msg>>;

/// Parses `"INBOX: m1(\\Seen) m2@d1; Work: g1 g2"`.
pub(crate) fn parse_state(spec: &str) -> State {
    let mut state = State::new();
    state.insert("INBOX".into(), Vec::new());
    for part in spec.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (mailbox, rest) = part
            .split_once(':')
            .unwrap_or_else(|| panic!("missing ':' after the mailbox in {part:?}"));
        let msgs = state.entry(mailbox.trim().to_string()).or_default();
        let mut chars = rest.trim().chars().peekable();
        while chars.peek().is_some() {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c == '(' || c == '@' || c == ' ' {
                    break;
                }
                name.push(c);
                chars.next();
            }
            if name.is_empty() {
                break;
            }
            let mut flags = Vec::new();
            if chars.peek() == Some(&'(') {
                chars.next();
                let inner: String = chars.by_ref().take_while(|&c| c != ')').collect();
                flags = inner.split_whitespace().map(str::to_string).collect();
            }
            let mut date = None;
            if chars.peek() == Some(&'@') {
                chars.next();
                let d: String = chars.by_ref().take_while(|&c| c != ' ').collect();
                date = Some(d);
            }
            msgs.push(Msg {
                content: name,
                flags,
                date,
            });
        }
    }
    state
}

/// Builds state specs in code, e.g. for volume cases.
pub(crate) fn spec_of(mailbox: &str, msgs: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = msgs.into_iter().collect();
    format!("{mailbox}: {}", v.join(" "))
}

/// A case's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    A,
    B,
}

pub(crate) use crate::support::process::copy_tree;

/// mailbox → (fingerprint, INTERNALDATE as epoch seconds) per message.
pub(crate) type Dates = BTreeMap<String, Vec<(String, i64)>>;

pub(crate) fn note_date(dates: &mut Dates, mailbox: &str, m: &crate::support::mailclient::Fetched) {
    dates.entry(mailbox.to_string()).or_default().push((
        oracle::fingerprint(&m.body),
        parse_internaldate(&m.internal_date),
    ));
}

/// Delete and recreate `mailbox` with the same messages (U1).
pub(crate) fn recreate_mailbox(user: &User, mailbox: &str) {
    let mut client = user.client();
    let before = client.examine(mailbox).uidvalidity;
    let msgs = client.fetch_all(mailbox);
    client.delete(mailbox);
    client.create(mailbox);
    for m in &msgs {
        let flags: Vec<&str> = m
            .flags
            .iter()
            .map(String::as_str)
            .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
            .collect();
        client.append(mailbox, &m.body, &flags, Some(&m.internal_date));
    }
    let after = client.examine(mailbox).uidvalidity;
    assert_ne!(before, after, "recreating {mailbox} kept UIDVALIDITY");
    client.logout();
}

/// Delete and recreate `mailbox`, then let `fill` put messages in it (U2).
pub(crate) fn recreate_mailbox_with(user: &User, mailbox: &str, fill: impl FnOnce()) {
    let mut client = user.client();
    let before = client.examine(mailbox).uidvalidity;
    client.delete(mailbox);
    client.create(mailbox);
    client.logout();
    fill();
    let mut client = user.client();
    let after = client.examine(mailbox).uidvalidity;
    assert_ne!(before, after, "recreating {mailbox} kept UIDVALIDITY");
    client.logout();
}

/// `dd-Mon-yyyy hh:mm:ss +zzzz` → seconds since the epoch (UTC).
pub(crate) fn parse_internaldate(s: &str) -> i64 {
    let s = s.trim();
    let (datepart, rest) = s.split_once(' ').expect("date-time");
    let (time, zone) = rest.split_once(' ').expect("zone");
    let mut d = datepart.trim().split('-');
    let day: i64 = d.next().unwrap().trim().parse().unwrap();
    let month_name = d.next().expect("month");
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m.eq_ignore_ascii_case(month_name))
    .expect("month") as i64
        + 1;
    let year: i64 = d.next().unwrap().parse().unwrap();
    let t: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let zh: i64 = zone[1..3].parse().unwrap();
    let zm: i64 = zone[3..5].parse().unwrap();
    days * 86400 + t[0] * 3600 + t[1] * 60 + t[2] - sign * (zh * 3600 + zm * 60)
}
