//! Issue 15's promise, end to end against a server that rewrites mail
//! (Courier-IMAP, Cyrus) and Dovecot, in either orientation
//! (docs/SCENARIOS.md I14, I15): a first meeting of two sides that both
//! hold the mail ([`first_meeting`]), and the repair after one side is put
//! back from a backup ([`restore_repair`]). After each, every message's
//! count per mailbox equals what was seeded — no duplicates, nothing lost —
//! and a rerun plans nothing.
//!
//! Counting is by content under every known rewrite
//! ([`rewrites::normalised_key`]), read from both servers by the test
//! client: never from imapmend's own report.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::dovecot::{Kind, User};
use super::mailclient::MailClient;
use super::oracle;
use super::prefixed::{self, Bed, PREFIX};
use super::process::copy_tree;
use super::rewrites::{self, crlf, normalised_key, Sent};

/// The mailbox besides INBOX (`INBOX.Archive` on the prefixed side).
const ARCHIVE: &str = "Archive";

/// Per mailbox (prefix taken off): content key → count.
pub type Counts = BTreeMap<String, BTreeMap<String, usize>>;

/// Per mailbox: (content key, flags) → count: what must be equal on both
/// sides once they agree.
type WithFlags = BTreeMap<String, BTreeMap<(String, oracle::Flags), usize>>;

fn wire(mailbox: &str, prefixed: bool) -> String {
    if prefixed && mailbox != "INBOX" {
        format!("{PREFIX}{mailbox}")
    } else {
        mailbox.to_string()
    }
}

/// Reads every mailbox of a side (EXAMINE, BODY.PEEK); the bodies of
/// contents not seeded are named in `names`, for the diff.
fn read(user: &User, prefixed: bool, names: &mut BTreeMap<String, String>) -> WithFlags {
    let mut client = user.client();
    let mut out = WithFlags::new();
    for mailbox in client.mailboxes() {
        let name = if prefixed {
            mailbox.strip_prefix(PREFIX).unwrap_or(&mailbox).to_string()
        } else {
            mailbox.clone()
        };
        let entry = out.entry(name).or_default();
        for m in client.fetch_all(&mailbox) {
            let key = (normalised_key(&m.body), oracle::normalise_flags(&m.flags));
            names.entry(key.0.clone()).or_insert_with(|| {
                let shown = &m.body[..m.body.len().min(400)];
                format!("not seeded: {:?}", String::from_utf8_lossy(shown))
            });
            *entry.entry(key).or_default() += 1;
        }
    }
    client.logout();
    out
}

fn without_flags(state: &WithFlags) -> Counts {
    state
        .iter()
        .map(|(mailbox, msgs)| {
            let mut counts = BTreeMap::new();
            for ((key, _), n) in msgs {
                *counts.entry(key.clone()).or_default() += n;
            }
            (mailbox.clone(), counts)
        })
        .collect()
}

/// Names the keys of `mail` for readable diffs.
fn names(mail: &[Sent]) -> BTreeMap<String, String> {
    mail.iter()
        .map(|m| (normalised_key(&m.bytes), m.name.clone()))
        .collect()
}

fn diff(
    what: &str,
    actual: &Counts,
    expected: &Counts,
    names: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    let empty = BTreeMap::new();
    let mailboxes: std::collections::BTreeSet<&String> =
        actual.keys().chain(expected.keys()).collect();
    for mailbox in mailboxes {
        let a = actual.get(mailbox).unwrap_or(&empty);
        let e = expected.get(mailbox).unwrap_or(&empty);
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(e.keys()).collect();
        for key in keys {
            let (n, m) = (
                a.get(key).copied().unwrap_or(0),
                e.get(key).copied().unwrap_or(0),
            );
            if n != m {
                let name = names.get(key).cloned().unwrap_or_default();
                out.push_str(&format!("  {what} {mailbox}: {name} ×{n}, seeded ×{m}\n"));
            }
        }
    }
    out
}

/// What each side lacks because it refused it (Dovecot's, the other
/// server's): per mailbox, content → count, from the skipped copies of
/// `plan --json` (refused on an earlier run, with the server's words).
/// The plan must have nothing else to do (exit 0): a sync that ended with
/// exit 2 failed only by refusals.
fn refusals(bed: &Bed) -> [Counts; 2] {
    let mut args = bed.prefix.to_vec();
    args.push("--json");
    let plan = bed.runner.expect("plan", &args, 0);
    let report: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let server_is_a = bed.prefix[0] == "--a-prefix";
    let mut lacking = [Counts::new(), Counts::new()];
    for mb in report["plan"]["mailboxes"].as_array().unwrap() {
        let name = mb["name"].as_str().unwrap();
        for skipped in mb["skipped"].as_array().unwrap() {
            assert_eq!(skipped["why"], "refused", "{skipped}");
            let from_a = skipped["from"] == "A";
            let from_server = from_a == server_is_a;
            let (source, prefixed) = if from_server {
                (&bed.server, true)
            } else {
                (&bed.dovecot, false)
            };
            let uid = skipped["uid"].as_u64().unwrap() as u32;
            let mut client = source.client();
            let body = client
                .fetch_all(&wire(name, prefixed))
                .into_iter()
                .find(|f| f.uid == uid)
                .expect("the refused message is on its source")
                .body;
            client.logout();
            let target = usize::from(!from_server);
            *lacking[target]
                .entry(name.to_string())
                .or_default()
                .entry(normalised_key(&body))
                .or_default() += 1;
        }
    }
    lacking
}

/// Runs `sync` (exit 0, or 2 where the target refused messages, which
/// must then be all it left undone), then asserts that both sides hold
/// exactly `expected` (by content, whatever each server rewrote) less what
/// each refused, with the same flags on both. Returns what each refused.
#[track_caller]
fn sync_and_count(bed: &Bed, expected: &Counts, mail: &[Sent], when: &str) -> [Counts; 2] {
    let out = bed.runner.run("sync", &bed.prefix, &[]);
    assert!(
        matches!(out.code, Some(0 | 2)),
        "{when}: {}",
        out.describe()
    );
    let lacking = refusals(bed);
    if out.code == Some(2) {
        assert!(
            lacking.iter().any(|l| !l.is_empty()),
            "{when}: exit 2 with nothing refused: {}",
            out.describe()
        );
    }
    assert_both(bed, expected, &lacking, mail, when);
    lacking
}

/// Both sides hold exactly `expected` less what each refused (`lacking`:
/// Dovecot's, the other server's), with the same flags on both where both
/// hold a message.
#[track_caller]
fn assert_both(bed: &Bed, expected: &Counts, lacking: &[Counts; 2], mail: &[Sent], when: &str) {
    let mut names = names(mail);
    let mut d = read(&bed.dovecot, false, &mut names);
    let mut s = read(&bed.server, true, &mut names);
    let mut problems = String::new();
    for (what, state, lacks) in [
        ("Dovecot", &d, &lacking[0]),
        ("the other server", &s, &lacking[1]),
    ] {
        let mut expected = expected.clone();
        for (mailbox, counts) in lacks {
            for (key, n) in counts {
                let e = expected
                    .entry(mailbox.clone())
                    .or_default()
                    .entry(key.clone())
                    .or_default();
                *e = e.saturating_sub(*n);
            }
        }
        for map in expected.values_mut() {
            map.retain(|_, n| *n > 0);
        }
        problems.push_str(&diff(what, &without_flags(state), &expected, &names));
    }
    let refused = |mailbox: &str, key: &str| {
        lacking
            .iter()
            .any(|l| l.get(mailbox).is_some_and(|m| m.contains_key(key)))
    };
    for state in [&mut d, &mut s] {
        for (mailbox, msgs) in state.iter_mut() {
            msgs.retain(|(key, _), _| !refused(mailbox, key));
        }
    }
    if problems.is_empty() && d != s {
        problems.push_str(&format!(
            "  same counts but other flags:\n  Dovecot {d:?}\n  other   {s:?}\n"
        ));
    }
    assert!(problems.is_empty(), "{when}:\n{problems}");
}

/// `sync` must plan and do nothing: exit 0, no actions (but the copies
/// refused on an earlier run, skipped), and `plan` exit 0.
#[track_caller]
fn assert_rerun_plans_nothing(bed: &Bed, when: &str) {
    let mut args = bed.prefix.to_vec();
    args.push("--json");
    let again = bed.runner.expect("sync", &args, 0);
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    // A copy the target refused on an earlier run is listed as skipped.
    let actions: Vec<&serde_json::Value> = report["outcome"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            !(a["status"] == "skipped"
                && a["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("refused it on an earlier run")))
        })
        .collect();
    assert!(
        actions.is_empty(),
        "{when}: the rerun did something: {actions:#?}"
    );
    bed.run("plan", 0);
}

/// APPENDs `mail` (CRLF line ends, as IMAP wants) with `flags(i)` into
/// `mailbox`; returns the counts of what the server accepted.
fn seed(
    client: &mut MailClient,
    mailbox: &str,
    mail: &[&Sent],
    flags: impl Fn(usize) -> &'static [&'static str],
) -> BTreeMap<String, usize> {
    let mut accepted = BTreeMap::new();
    for (i, m) in mail.iter().enumerate() {
        if client
            .try_append(mailbox, &crlf(&m.bytes), flags(i), Some(&m.date))
            .is_ok()
        {
            *accepted.entry(normalised_key(&m.bytes)).or_default() += 1;
        }
    }
    accepted
}

/// The rewritten duplicates: the census's shapes and an 8-bit header
/// message (what Courier, Dovecot and Cyrus rewrite), each to be stored
/// twice in one mailbox.
pub fn duplicates() -> Vec<Sent> {
    let mut out: Vec<Sent> = rewrites::SHAPES
        .iter()
        .map(|(name, bytes)| Sent {
            name: format!("duplicate {name}"),
            bytes: [&bytes[..], b"\r\n(duplicated)"].concat(),
            date: super::mail::DATE.into(),
        })
        .collect();
    out.push(Sent {
        name: "duplicate 8-bit header".into(),
        bytes: b"From: J\xc3\xb6rg <j@example.org>\r\nSubject: caf\xc3\xa9 twice\r\n\r\nbody\r\n"
            .to_vec(),
        date: super::mail::DATE.into(),
    });
    out
}

fn add(into: &mut Counts, mailbox: &str, counts: &BTreeMap<String, usize>) {
    let entry = into.entry(mailbox.to_string()).or_default();
    for (k, n) in counts {
        let e = entry.entry(k.clone()).or_default();
        *e = (*e).max(*n);
    }
}

/// A first sync where both sides already hold `mail` in INBOX (as much of
/// it as each server accepts, with some flags differing) and every
/// [`duplicates`] message twice in Archive, each side storing its own
/// rewrite: afterwards each mailbox holds every message as often as it
/// was seeded (what one server refused arrives from the other), and a
/// rerun plans nothing.
pub fn first_meeting(bed: &Bed, mail: &[Sent]) {
    let dups = duplicates();
    let twice: Vec<&Sent> = dups.iter().chain(&dups).collect();
    let inbox: Vec<&Sent> = mail.iter().collect();
    let mut expected = Counts::new();
    for (user, prefixed) in [(&bed.dovecot, false), (&bed.server, true)] {
        let mut c = user.client();
        c.create(&wire(ARCHIVE, prefixed));
        let seen: fn(usize) -> &'static [&'static str] = if prefixed {
            |i| if i % 3 == 0 { &["\\Seen"] } else { &[] }
        } else {
            |i| {
                if i % 4 == 0 {
                    &["\\Seen", "$Work"]
                } else {
                    &[]
                }
            }
        };
        add(&mut expected, "INBOX", &seed(&mut c, "INBOX", &inbox, seen));
        let archive = wire(ARCHIVE, prefixed);
        add(
            &mut expected,
            ARCHIVE,
            &seed(&mut c, &archive, &twice, |_| &[]),
        );
        c.logout();
    }
    let all: Vec<Sent> = mail.iter().chain(&dups).cloned().collect();
    let lacking = sync_and_count(bed, &expected, &all, "after the first sync");
    assert_rerun_plans_nothing(bed, "after the first sync");
    assert_both(bed, &expected, &lacking, &all, "after the rerun");
}

/// UIDs in `mailbox` whose content is that of `m`.
fn uids_of(client: &mut MailClient, mailbox: &str, m: &Sent) -> Vec<u32> {
    let key = normalised_key(&m.bytes);
    client
        .fetch_all(mailbox)
        .into_iter()
        .filter(|f| normalised_key(&f.body) == key)
        .map(|f| f.uid)
        .collect()
}

fn late(name: &str, bytes: &[u8]) -> Sent {
    Sent {
        name: name.into(),
        bytes: bytes.to_vec(),
        date: super::mail::DATE.into(),
    }
}

/// Which side goes back to its backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// Dovecot's Maildir (index files included).
    Dovecot,
    /// The other server's mail store: a Maildir, Cyrus' spool directory
    /// of the user.
    Server(PathBuf),
}

/// [`restore_repair`] with Dovecot (of `kind`: with or without
/// CONDSTORE) restored, against one of `fresh`'s users as B, then another
/// as A.
pub fn dovecot_restored_both_ways(fresh: fn() -> User, kind: Kind, mail: &[Sent]) {
    for server_is_a in [false, true] {
        let bed = prefixed::bed(fresh(), server_is_a, kind);
        restore_repair(&bed, mail, Restored::Dovecot);
    }
}

/// The repair after a restore: the mail is split between the sides (each
/// side's share copied to the other by a first sync, so one server's
/// rewrites are on the other's copies, [`duplicates`] twice in Archive
/// included); `restored`'s mail store is backed up; then on both sides
/// mail arrives, messages are expunged (rewritten copies and one of each
/// duplicate among them) and flags change, and a sync carries it all;
/// then the backup is put back on `restored`. The repair must leave both
/// sides with what they held before the restore — mail expunged since the
/// backup stays expunged (tombstones), mail that arrived since is copied
/// back, nothing is duplicated — a rerun plans nothing, and `check
/// --verify`, which reads every body again, finds them in agreement.
pub fn restore_repair(bed: &Bed, mail: &[Sent], restored: Restored) {
    let dups = duplicates();
    let mut expected = Counts::new();
    {
        let mut d = bed.dovecot.client();
        let mut s = bed.server.client();
        d.create(ARCHIVE);
        let even: Vec<&Sent> = mail.iter().step_by(2).collect();
        let odd: Vec<&Sent> = mail.iter().skip(1).step_by(2).collect();
        let on_d = seed(&mut d, "INBOX", &even, |i| {
            if i % 3 == 0 {
                &["\\Seen"]
            } else {
                &[]
            }
        });
        let on_s = seed(&mut s, "INBOX", &odd, |i| {
            if i % 3 == 1 {
                &["\\Flagged"]
            } else {
                &[]
            }
        });
        add(&mut expected, "INBOX", &on_d);
        let inbox = expected.get_mut("INBOX").unwrap();
        for (k, n) in on_s {
            *inbox.entry(k).or_default() += n;
        }
        let twice: Vec<&Sent> = dups.iter().chain(&dups).collect();
        add(
            &mut expected,
            ARCHIVE,
            &seed(&mut d, ARCHIVE, &twice, |_| &[]),
        );
        d.logout();
        s.logout();
    }
    let mut all: Vec<Sent> = mail.iter().chain(&dups).cloned().collect();
    sync_and_count(bed, &expected, &all, "after the first sync");

    // The backup of the side that will be put back.
    let store = match restored {
        Restored::Dovecot => bed.dovecot.maildir(),
        Restored::Server(store) => store,
    };
    let backup_dir = tempfile::Builder::new()
        .prefix("imapmend-backup-")
        .tempdir()
        .unwrap();
    let backup = backup_dir.path().join("store");
    copy_tree(&store, &backup);

    // Changes on both sides, then a sync: new mail (one of it rewritten
    // by the other server), expunges, flags.
    let new_d = late(
        "late on Dovecot, no final line break",
        b"From: d@example.org\r\nSubject: late on Dovecot\r\n\r\narrived after the backup",
    );
    let new_s = late(
        "late on the other server, 8-bit header",
        b"From: S\xc3\xa9verine <s@example.org>\r\nSubject: late elsewhere\r\n\r\nafter the backup\r\n",
    );
    {
        let mut d = bed.dovecot.client();
        let mut s = bed.server.client();
        for (client, new) in [(&mut d, &new_d), (&mut s, &new_s)] {
            client.append("INBOX", &crlf(&new.bytes), &[], None);
            *expected
                .get_mut("INBOX")
                .unwrap()
                .entry(normalised_key(&new.bytes))
                .or_default() += 1;
        }
        // Dovecot expunges the shapes (rewritten on the other server) and
        // one of each duplicate; the other server expunges two generated
        // messages and flags a few.
        let shapes: Vec<&Sent> = mail
            .iter()
            .filter(|m| rewrites::SHAPES.iter().any(|(n, _)| *n == m.name))
            .collect();
        let generated: Vec<&Sent> = mail
            .iter()
            .filter(|m| m.name.starts_with("generated-"))
            .take(2)
            .collect();
        for (client, gone) in [(&mut d, shapes), (&mut s, generated)] {
            for m in gone {
                let uids = uids_of(client, "INBOX", m);
                if uids.is_empty() {
                    continue; // refused by this server
                }
                client.expunge_uids("INBOX", &uids);
                let counts = expected.get_mut("INBOX").unwrap();
                *counts.get_mut(&normalised_key(&m.bytes)).unwrap() -= uids.len();
            }
        }
        for m in &dups {
            let uids = uids_of(&mut d, ARCHIVE, m);
            assert_eq!(uids.len(), 2, "{} twice in Archive", m.name);
            d.expunge_uids(ARCHIVE, &uids[..1]);
            *expected
                .get_mut(ARCHIVE)
                .unwrap()
                .get_mut(&normalised_key(&m.bytes))
                .unwrap() -= 1;
        }
        let uids: Vec<u32> = s.fetch_all("INBOX").iter().map(|f| f.uid).take(3).collect();
        s.store("INBOX", &uids, "+", &["\\Answered"]);
        let uids: Vec<u32> = d
            .fetch_all("INBOX")
            .iter()
            .map(|f| f.uid)
            .skip(3)
            .take(3)
            .collect();
        d.store("INBOX", &uids, "+", &["$Later"]);
        d.logout();
        s.logout();
    }
    for map in expected.values_mut() {
        map.retain(|_, n| *n > 0);
    }
    all.push(new_d);
    all.push(new_s);
    sync_and_count(bed, &expected, &all, "after the changes were synced");

    // Put the backup back.
    std::fs::remove_dir_all(&store).unwrap();
    copy_tree(&backup, &store);
    drop(backup_dir);

    let said = bed.run("plan", 1);
    assert!(
        said.stdout.contains("looks restored"),
        "the plan should say that a side looks restored:\n{}",
        said.stdout
    );
    let lacking = sync_and_count(bed, &expected, &all, "after the repair");
    assert_rerun_plans_nothing(bed, "after the repair");
    // Re-reading every body finds each copy as its pair recorded it.
    let mut verify = bed.prefix.to_vec();
    verify.push("--verify");
    bed.runner.expect("check", &verify, 0);
    assert_both(bed, &expected, &lacking, &all, "after the rerun");
}
