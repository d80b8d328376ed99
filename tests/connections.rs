//! `--connections N`: several sessions per server, mailboxes listed and
//! applied several at a time, between real Dovecot servers reached through
//! counting proxies (which tell how many connections were open at once).
//!
//! An account of a dozen mailboxes (nested ones among them, flags, some
//! mailboxes and messages only on B) ends as the oracle says with 1 and
//! with 4 connections, with the same report in the same order, and a rerun
//! writes nothing. A server that caps connections per user still syncs
//! everything with more asked for, with a warning.

mod support;

use std::collections::BTreeMap;

use support::dovecot::{self, Dovecot, Kind, User};
use support::imapmend::{Outcome, Pair};
use support::mail::{msg, DATE};
use support::oracle::{self, writes_marker, SideState};
use support::proxy::{Fault, Proxy};

/// Twelve mailboxes on A (wire names, Maildir++ '.'), three messages each
/// with varied flags; B has two mailboxes of its own and some messages in
/// A's. Returns the state both sides must end in.
fn fill(a: &User, b: &User) -> SideState {
    const A: [&str; 12] = [
        "INBOX",
        "Archive",
        "Archive.2023",
        "Archive.2024",
        "Lists",
        "Lists.rust",
        "Lists.go",
        "Sent",
        "Drafts",
        "Work",
        "Work.ProjectX",
        "Family",
    ];
    const FLAGS: [&[&str]; 4] = [&[], &["\\Seen"], &["\\Seen", "\\Flagged"], &["\\Answered"]];
    let mut want = SideState::default();
    let mut ca = a.client();
    let mut cb = b.client();
    for (i, mailbox) in A.iter().enumerate() {
        if *mailbox != "INBOX" {
            ca.create(mailbox);
        }
        for j in 0..3 {
            let name = format!("a-{mailbox}-{j}");
            let flags = FLAGS[(i + j) % FLAGS.len()];
            ca.append(mailbox, &msg(&name), flags, Some(DATE));
            want.add(mailbox, &msg(&name), flags);
        }
    }
    for mailbox in ["Receipts", "Work.ProjectY", "INBOX", "Lists.go"] {
        if mailbox != "INBOX" {
            cb.create(mailbox);
        }
        for j in 0..2 {
            let name = format!("b-{mailbox}-{j}");
            let flags = FLAGS[j % FLAGS.len()];
            cb.append(mailbox, &msg(&name), flags, Some(DATE));
            want.add(mailbox, &msg(&name), flags);
        }
    }
    ca.logout();
    cb.logout();
    want
}

/// Both sides hold exactly `want`.
fn assert_converged(a: &User, b: &User, want: &SideState, what: &str) {
    let d = format!(
        "{}{}",
        oracle::diff("A", &oracle::read_side(a), "expected", want),
        oracle::diff("B", &oracle::read_side(b), "expected", want)
    );
    assert!(d.is_empty(), "{what}: not converged:\n{d}");
}

/// Each side behind a counting proxy.
struct Proxied {
    pair: Pair,
    proxies: [Proxy; 2],
}

/// The first session to A answers slowly (a remote server's round trips),
/// so the run's work outlasts `EXTRA_LANE_AFTER` and more lanes are opened
/// however fast this machine is.
fn slow_first_session(p: &Proxied) {
    p.proxies[0].arm(Fault::Delay(std::time::Duration::from_millis(15)));
}

fn proxied(a: &User, b: &User) -> Proxied {
    let proxies = [Proxy::start(a.port), Proxy::start(b.port)];
    let mut pair = Pair::new(a, b);
    pair.a_port = proxies[0].port();
    pair.b_port = proxies[1].port();
    Proxied { pair, proxies }
}

#[track_caller]
fn expect(out: &Outcome, code: i32) {
    assert_eq!(out.code, Some(code), "{}", out.describe());
    assert!(!out.output().contains("panicked"), "{}", out.describe());
}

/// What a sync applied, per action, in the report's order.
fn actions(out: &Outcome) -> Vec<serde_json::Value> {
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.describe()));
    report["outcome"]["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("no outcome.actions: {}", out.stdout))
        .clone()
}

/// A first sync with `--connections n`, checked against the oracle, then a
/// rerun that writes nothing. Returns the applied actions and the most
/// connections open at once to A and to B.
fn first_sync(n: &str) -> (Vec<serde_json::Value>, [usize; 2]) {
    let (a, b) = dovecot::pair(Kind::Full);
    let want = fill(&a, &b);
    let p = proxied(&a, &b);
    slow_first_session(&p);
    let out = p
        .pair
        .run("sync", &["--connections", n, "--json", "-vvv"], &[]);
    expect(&out, 0);
    assert!(
        !out.stderr.contains("could not be opened"),
        "{}",
        out.describe()
    );
    let further = enable_rides_in_further_logins(&out.stderr);
    if n != "1" {
        assert!(further > 0, "no further session logged in: nothing checked");
    }
    assert_converged(&a, &b, &want, &format!("--connections {n}"));
    let peak = [p.proxies[0].peak(), p.proxies[1].peak()];

    let before = (writes_marker(&a), writes_marker(&b));
    let rerun = p.pair.run("sync", &["--connections", n], &[]);
    expect(&rerun, 0);
    assert_eq!(
        before,
        (writes_marker(&a), writes_marker(&b)),
        "--connections {n}: the rerun wrote to a server"
    );
    expect(&p.pair.run("plan", &["--connections", n], &[]), 0);
    (actions(&out), peak)
}

/// Every session after a side's first sends its `ENABLE` in its login's
/// flight (issue 19): the command goes out before the login's answer is
/// read, one turn less for each further connection. The first session's
/// ENABLE rides with its LIST instead. Returns how many were checked.
fn enable_rides_in_further_logins(trace: &str) -> usize {
    let mut checked = 0;
    for side in ["A", "B"] {
        for n in 2..=4 {
            let session = format!("{side}{n}");
            let sent = trace.find(&format!(" {session} C: A0002 ENABLE"));
            let answered = trace.find(&format!(" {session} S: A0001 OK"));
            if answered.is_none() {
                continue; // not opened in this run
            }
            assert!(
                sent.is_some() && sent < answered,
                "{session} waited for its login's answer before its ENABLE"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn twelve_mailboxes_sync_alike_with_one_and_with_four_connections() {
    let (one, peak_one) = first_sync("1");
    let (four, peak_four) = first_sync("4");
    assert_eq!(peak_one, [1, 1], "--connections 1 opened more than one");
    // Fourteen mailboxes to list: four sessions to each server at once.
    assert_eq!(peak_four, [4, 4], "--connections 4 did not use four");
    // The same report, in the same order, however the work interleaved.
    assert_eq!(one.len(), four.len());
    let summary = |actions: &[serde_json::Value]| {
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for a in actions {
            *per.entry(format!("{} {}", a["action"], a["status"]))
                .or_default() += 1;
        }
        per
    };
    assert_eq!(one, four, "{:?}", summary(&four));
    assert!(
        one.iter().all(|a| a["status"] == "done"),
        "{:?}",
        summary(&one)
    );
}

/// Dovecot allowing each user one session from one address: more are
/// refused at login. (With two, extra sessions logging in at the same
/// moment can all pass Dovecot's count, which is not taken atomically with
/// the login; with one, the run's first session is counted long before.)
fn capped_server() -> Dovecot {
    Dovecot::start_with(Kind::Full, "mail_max_userip_connections = 1\n")
}

#[test]
fn a_server_capping_connections_still_syncs_everything_with_a_warning() {
    let server = capped_server();
    let (a, b) = (server.fresh_user(), server.fresh_user());
    let want = fill(&a, &b);
    let p = proxied(&a, &b);
    slow_first_session(&p);
    let out = p.pair.run("sync", &["--connections", "8"], &[]);
    expect(&out, 0);
    assert!(
        out.stderr.contains("could not be opened") && out.stderr.contains("going on with 1"),
        "no warning about the refused connections: {}",
        out.describe()
    );
    assert_converged(&a, &b, &want, "capped at 1");
    // The cap is real: Dovecot turned the extra sessions away.
    assert!(
        server
            .log()
            .contains("Maximum number of connections from user+IP exceeded"),
        "the server never refused a connection"
    );
    let before = (writes_marker(&a), writes_marker(&b));
    expect(&p.pair.run("sync", &["--connections", "8"], &[]), 0);
    assert_eq!(before, (writes_marker(&a), writes_marker(&b)));
}
