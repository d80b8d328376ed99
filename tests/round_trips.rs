//! Round trips of a run, counted from the `-vv` trace (one `C:` line per
//! command sent): what a first sync and a no-op cost against Dovecot, and
//! that a no-op costs no per-mailbox command at all — every mailbox is
//! known unchanged from the LIST-STATUS answer, and no size limit is asked
//! where nothing is copied. Prints the counts (`--nocapture`) so builds can
//! be compared (`IMAPMEND_BIN`).

mod support;

use support::dovecot::{self, Kind};
use support::imapmend::Pair;
use support::mail::{msg, DATE};

/// The commands a run sent, by verb (the word after the tag).
fn commands(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(" C: ").map(|(_, cmd)| cmd))
        .filter_map(|cmd| cmd.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

#[test]
fn a_no_op_sync_costs_no_command_per_mailbox() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let mut ca = a.client();
    for mailbox in ["Work", "Lists", "Lists.Rust"] {
        ca.create(mailbox);
    }
    for (i, mailbox) in ["INBOX", "Work", "Lists", "Lists.Rust"].iter().enumerate() {
        for n in 0..3 {
            ca.append(mailbox, &msg(&format!("rt-{i}-{n}")), &[], Some(DATE));
        }
    }
    ca.logout();

    let first = pair.run("sync", &["-vv"], &[]);
    assert_eq!(first.code, Some(0), "{}", first.describe());
    // The run after a first sync still reads the side written to: the
    // first sync saved no watermarks for it past its own copies.
    let second = pair.run("sync", &["-vv"], &[]);
    assert_eq!(second.code, Some(0), "{}", second.describe());
    let noop = pair.run("sync", &["-vv"], &[]);
    assert_eq!(noop.code, Some(0), "{}", noop.describe());
    let [first, second, noop] = [&first, &second, &noop].map(|o| commands(&o.stderr));
    eprintln!(
        "first sync: {} commands {first:?}\nsecond: {} commands {second:?}\nno-op: {} commands {noop:?}",
        first.len(),
        second.len(),
        noop.len()
    );
    let per_mailbox = ["SELECT", "EXAMINE", "STATUS", "FETCH", "UID", "APPEND"];
    assert!(
        !noop.iter().any(|c| per_mailbox.contains(&c.as_str())),
        "a no-op asked about a mailbox: {noop:?}"
    );
}

/// The commands a run sent, whole (tag dropped).
fn sent(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(" C: ").map(|(_, cmd)| cmd))
        .filter_map(|cmd| cmd.split_once(' ').map(|(_, rest)| rest.to_string()))
        .collect()
}

/// A mailbox the first sync creates is opened read-write right after its
/// CREATE, once, and the copies go into it: never EXAMINEd before them
/// (Courier refuses an APPEND into a mailbox the session holds read-only,
/// and leaving it would cost an UNSELECT). Before this, each created
/// mailbox cost CREATE, EXAMINE, UNSELECT, then the APPEND. A mailbox
/// being copied from is not opened again when listing left it selected.
#[test]
fn a_created_mailbox_is_selected_once_read_write_before_its_copies() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let mut ca = a.client();
    ca.create("Work");
    for n in 0..3 {
        ca.append("Work", &msg(&format!("cr-{n}")), &[], Some(DATE));
    }
    ca.logout();
    let first = pair.run("sync", &["-vv"], &[]);
    assert_eq!(first.code, Some(0), "{}", first.describe());
    let sent = sent(&first.stderr);
    let on_work: Vec<&str> = sent
        .iter()
        .map(String::as_str)
        .filter(|c| c.contains("\"Work\""))
        .collect();
    eprintln!("first sync, about Work: {on_work:?}");
    let append = on_work
        .iter()
        .position(|c| c.starts_with("APPEND"))
        .expect("Work's copies appended");
    let before: Vec<&str> = on_work[..append]
        .iter()
        .map(|c| c.split_whitespace().next().unwrap_or(""))
        .collect();
    // A lists and reads it (SELECT; its bodies with no second open); B
    // creates and selects it.
    assert_eq!(
        before,
        ["SELECT", "CREATE", "SELECT"],
        "{on_work:?}\n{sent:#?}"
    );
    assert!(!sent.iter().any(|c| c.starts_with("UNSELECT")), "{sent:#?}");
}
