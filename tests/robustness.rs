//! Issue 5, against real Dovecot servers: what the network, the servers and
//! other runs throw at imapmend.
//!
//! - **Cut connections**: one side is reached through a loopback proxy that
//!   drops the connection after N bytes, either way, mid-literal included.
//!   The run reconnects, lists again and converges to the oracle in that
//!   same run (exit 0); a cut while first connecting ends it with exit 3 and
//!   an error naming the side and server, and a rerun converges. Never a
//!   hang, never a panic.
//!   A cut on a pooled connection (`--connections`) likewise.
//! - **Stalls**: the proxy stops forwarding without closing; the engine's
//!   read timeout (shortened for tests by `IMAPMEND_TEST_READ_TIMEOUT_SECS`)
//!   ends that connection, and the run reconnects and converges.
//! - **Hostile bytes from a real session**: a proxy rewrites Dovecot's
//!   `INTERNALDATE "…"` into `INTERNALDATE NIL` (imap-proto panics on it):
//!   a clear error, no panic message on stderr.
//! - **Concurrency**: a second run on a snapshot in use is refused (exit 4
//!   for sync and plan, 3 for check) while the first holds it, paused at
//!   the proxy; a killed holder does not block the next run. Mail arriving
//!   and flags changing on both servers while a sync runs (C1) are not lost:
//!   after one more quiet run A equals B.
//! - **Secrets**: refused logins, bad URLs, failing password commands, `-vv`
//!   and `--json` never print a password; `-vvv` (every command and
//!   response) shows neither a password nor a message body.

mod support;

use std::time::{Duration, Instant};

use support::dovecot::{self, Kind};
use support::generator::{Generator, Rng};
use support::imapmend::{in_parallel, Outcome, Pair};
use support::mail::{msg_of_size, DATE};
use support::mailclient::MailClient;
use support::oracle::{self, SideState};
use support::proxy::{self, Dir, Fault, Proxy};

/// Looks a message up on a side by content.
fn uid_of(c: &mut MailClient, mailbox: &str, content: &[u8]) -> u32 {
    let want = oracle::fingerprint(content);
    c.fetch_all(mailbox)
        .into_iter()
        .find(|m| oracle::fingerprint(&m.body) == want)
        .unwrap_or_else(|| panic!("message not found in {mailbox}"))
        .uid
}

// ---------------------------------------------------------------------------
// The scenario the network tests break
// ---------------------------------------------------------------------------

/// Two users with a snapshot between them, then changes on both sides: new
/// messages both ways (large ones among them, so that cuts can land inside
/// literals both ways) and flag additions both ways. `--a` goes through
/// the proxy (which must pass everything while this runs).
struct Scenario {
    pair: Pair,
    proxy: Proxy,
    want: SideState,
}

fn scenario() -> Scenario {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(a.port);
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy.port();
    let mut want = SideState::default();
    let mut ca = a.client();
    let mut cb = b.client();
    ca.create("Archive");
    let base: Vec<(&str, &str, Vec<u8>)> = vec![
        ("INBOX", "s1", msg_of_size("s1", 600)),
        ("INBOX", "s2", msg_of_size("s2", 900)),
        ("INBOX", "s3", msg_of_size("s3", 120_000)),
        ("Archive", "s4", msg_of_size("s4", 700)),
    ];
    for (mailbox, _, bytes) in &base {
        ca.append(mailbox, bytes, &[], Some(DATE));
    }
    cb.append("INBOX", &msg_of_size("t1", 800), &["\\Seen"], Some(DATE));
    let first = pair.run("sync", &[], &[]);
    assert_eq!(first.code, Some(0), "seeding sync: {}", first.describe());

    // New on A: a big one and small ones; on B likewise.
    let new_a = [
        ("INBOX", "a1", 150_000),
        ("INBOX", "a2", 500),
        ("Archive", "a3", 2000),
    ];
    for (mailbox, name, size) in new_a {
        ca.append(mailbox, &msg_of_size(name, size), &["\\Seen"], Some(DATE));
    }
    let new_b = [
        ("INBOX", "b1", 130_000),
        ("INBOX", "b2", 700),
        ("Archive", "b3", 900),
    ];
    for (mailbox, name, size) in new_b {
        cb.append(mailbox, &msg_of_size(name, size), &[], Some(DATE));
    }
    // Flags added both ways.
    let s1a = uid_of(&mut ca, "INBOX", &base[0].2);
    ca.store("INBOX", &[s1a], "+", &["\\Flagged"]);
    let s2b = uid_of(&mut cb, "INBOX", &base[1].2);
    cb.store("INBOX", &[s2b], "+", &["\\Answered"]);
    ca.logout();
    cb.logout();

    want.add("INBOX", &base[0].2, &["\\Flagged"]);
    want.add("INBOX", &base[1].2, &["\\Answered"]);
    want.add("INBOX", &base[2].2, &[] as &[&str]);
    want.add("Archive", &base[3].2, &[] as &[&str]);
    want.add("INBOX", &msg_of_size("t1", 800), &["\\Seen"]);
    for (mailbox, name, size) in new_a {
        want.add(mailbox, &msg_of_size(name, size), &["\\Seen"]);
    }
    for (mailbox, name, size) in new_b {
        want.add(mailbox, &msg_of_size(name, size), &[] as &[&str]);
    }
    Scenario { pair, proxy, want }
}

impl Scenario {
    /// Both sides hold exactly `want`, and a plan finds nothing to do.
    fn converged(&self, what: &str) -> Result<(), String> {
        let sa = oracle::read_side(&self.pair.a);
        let sb = oracle::read_side(&self.pair.b);
        let d = format!(
            "{}{}",
            oracle::diff("A", &sa, "expected", &self.want),
            oracle::diff("B", &sb, "expected", &self.want)
        );
        if !d.is_empty() {
            return Err(format!("{what}: not converged:\n{d}"));
        }
        let plan = self.pair.run("plan", &[], &[]);
        if plan.code != Some(0) {
            return Err(format!("{what}: plan after the rerun: {}", plan.describe()));
        }
        Ok(())
    }
}

/// A failed run explains itself: it names side A and the server it went
/// through; every FAILED line names a mailbox and the side; no panic.
fn check_failure_report(out: &Outcome, proxy_port: u16, what: &str) -> Result<(), String> {
    let text = out.output();
    if text.contains("panicked") || out.signal.is_some() {
        return Err(format!("{what}: crashed: {}", out.describe()));
    }
    match out.code {
        Some(0) => return Ok(()),
        Some(2) | Some(3) => {}
        _ => return Err(format!("{what}: unexpected exit: {}", out.describe())),
    }
    let server = format!("A (127.0.0.1:{proxy_port})");
    if !text.contains(&server) {
        return Err(format!(
            "{what}: the error does not name {server}: {}",
            out.describe()
        ));
    }
    for line in text.lines().filter(|l| l.starts_with("FAILED")) {
        let mut words = line.split_whitespace().skip(1);
        let (mailbox, on, side) = (words.next(), words.next(), words.next());
        let named = mailbox.is_some_and(|m| ["INBOX", "Archive"].contains(&m))
            && on == Some("on")
            && side.is_some_and(|s| s.starts_with('A'));
        if !named {
            return Err(format!(
                "{what}: a FAILED line without mailbox and side: {line}"
            ));
        }
    }
    Ok(())
}

/// Where to aim: measured on a clean run of the same scenario.
struct Measured {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
}

fn measure() -> Measured {
    measure_with(&[])
}

/// [`measure`] with these options (`--connections 1`: the one session to
/// A carries the whole conversation, so an offset in the recording is one
/// in that session).
fn measure_with(args: &[&str]) -> Measured {
    let s = scenario();
    s.proxy.record();
    let run = s.pair.run("sync", args, &[]);
    assert_eq!(run.code, Some(0), "clean run: {}", run.describe());
    s.converged("clean run").unwrap();
    Measured {
        to_server: s.proxy.recorded(Dir::ToServer),
        to_client: s.proxy.recorded(Dir::ToClient),
    }
}

/// Cut points: inside the first large literal each way, and spread over
/// the whole conversation (greeting and login included).
fn aim(m: &Measured) -> Vec<(Dir, u64, String)> {
    let mut points = Vec::new();
    for (dir, stream) in [(Dir::ToClient, &m.to_client), (Dir::ToServer, &m.to_server)] {
        let total = stream.len() as u64;
        assert!(total > 1000, "{dir:?}: only {total} bytes in a clean run");
        let lits = proxy::literals(stream, 100_000);
        assert!(!lits.is_empty(), "{dir:?}: no large literal in a clean run");
        let (start, size) = lits[0];
        points.push((
            dir,
            (start + size / 2) as u64,
            "in the middle of a large literal".to_string(),
        ));
        points.push((
            dir,
            start as u64 + 1,
            "one byte into a large literal".to_string(),
        ));
        for percent in [1, 10, 50, 90, 99] {
            points.push((
                dir,
                total * percent / 100,
                format!("{percent}% into the conversation"),
            ));
        }
    }
    points
}

fn cut_case((dir, after, why): &(Dir, u64, String)) -> Result<(), String> {
    let what = format!("cut {dir:?} after {after} bytes ({why})");
    let s = scenario();
    s.proxy.arm(Fault::Cut {
        dir: *dir,
        after: *after,
    });
    let out = s.pair.run_within("sync", &[], &[], Duration::from_secs(60));
    if s.proxy.faults_fired() == 0 && out.code != Some(0) {
        return Err(format!(
            "{what}: the cut did not happen, yet: {}",
            out.describe()
        ));
    }
    survived(&s, &out, &what)
}

/// A run through a fault: it explains itself if it failed, and it (or a
/// rerun) converges.
fn survived(s: &Scenario, out: &Outcome, what: &str) -> Result<(), String> {
    check_failure_report(out, s.proxy.port(), what)?;
    eprintln!(
        "{what}: exit {:?} in {:?}; {}",
        out.code,
        out.took,
        first_error(out)
    );
    converged_in_one_run(s, out, what)
}

/// A fault after login is survived within the run: it reconnects, lists
/// again and converges (exit 0). Only a fault while first connecting ends
/// the run (exit 3, nothing done); then a rerun converges.
fn converged_in_one_run(s: &Scenario, out: &Outcome, what: &str) -> Result<(), String> {
    match out.code {
        Some(0) => s.converged(what),
        Some(3) if !out.stderr.contains("reconnecting") => {
            let rerun = s.pair.run("sync", &[], &[]);
            if rerun.code != Some(0) {
                return Err(format!("{what}: the rerun failed: {}", rerun.describe()));
            }
            s.converged(what)
        }
        _ => Err(format!(
            "{what}: the run did not recover through the fault: {}",
            out.describe()
        )),
    }
}

/// The first error line of a run, for the log.
fn first_error(out: &Outcome) -> String {
    out.output()
        .lines()
        .find(|l| l.starts_with("FAILED") || l.starts_with("imapmend:"))
        .unwrap_or("no error")
        .to_string()
}

#[test]
fn one_run_converges_through_a_cut_connection() {
    let started = Instant::now();
    let m = measure();
    let points = aim(&m);
    let n = points.len();
    let failures = in_parallel(points, 3, cut_case);
    eprintln!("{n} cut points in {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {n} cuts failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// With `--retries 0` a cut is not survived: the mailbox fails with exit 2
/// and an error naming the side and server, as before retries existed; a
/// rerun converges.
#[test]
fn with_no_retries_a_cut_fails_the_mailbox_and_a_rerun_converges() {
    let m = measure();
    let lits = proxy::literals(&m.to_client, 100_000);
    let after = (lits[0].0 + lits[0].1 / 2) as u64;
    let s = scenario();
    s.proxy.arm(Fault::Cut {
        dir: Dir::ToClient,
        after,
    });
    let out = s
        .pair
        .run_within("sync", &["--retries", "0"], &[], Duration::from_secs(60));
    assert_eq!(s.proxy.faults_fired(), 1, "{}", out.describe());
    assert_eq!(out.code, Some(2), "{}", out.describe());
    assert!(!out.stderr.contains("reconnecting"), "{}", out.describe());
    check_failure_report(&out, s.proxy.port(), "no retries").unwrap();
    let rerun = s.pair.run("sync", &[], &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.describe());
    s.converged("no retries").unwrap();
}

/// `sync --json` through a cut that lands while B's new mail is appended
/// to A: the run reconnects and applies a second plan, and its outcome
/// lists what the first attempt had done (the copies to B, no longer in the
/// second plan) as attempt 1, then the second attempt's actions: every
/// copy appears done exactly once.
#[test]
fn sync_json_after_a_reconnect_reports_every_attempt() {
    let m = measure_with(&["--connections", "1"]);
    let lits = proxy::literals(&m.to_server, 100_000);
    let after = (lits[0].0 + lits[0].1 / 2) as u64;
    let s = scenario();
    s.proxy.arm(Fault::Cut {
        dir: Dir::ToServer,
        after,
    });
    let out = s.pair.run_within(
        "sync",
        &["--json", "--connections", "1"],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(s.proxy.faults_fired(), 1, "{}", out.describe());
    assert_eq!(out.code, Some(0), "{}", out.describe());
    s.converged("json after a reconnect").unwrap();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON report");
    let actions = report["outcome"]["actions"].as_array().unwrap();
    let done_copies_to = |side: &str| {
        actions
            .iter()
            .filter(|a| a["action"] == "copy" && a["side"] == side && a["status"] == "done")
            .count()
    };
    assert_eq!(done_copies_to("B"), 3, "{:#}", report["outcome"]);
    assert_eq!(done_copies_to("A"), 3, "{:#}", report["outcome"]);
    for attempt in [1, 2] {
        assert!(
            actions.iter().any(|a| a["attempt"] == attempt),
            "no action of attempt {attempt}: {:#}",
            report["outcome"]
        );
    }
    assert_eq!(report["outcome"]["totals"]["not_attempted"], 0);
}

/// A cut on a pooled connection — the second session to A, which lists
/// and applies a mailbox of its own (`--connections 2`, two mailboxes) —
/// is survived like one on the first: a lane that cannot be opened leaves
/// the run to the first, a lane lost later makes it reconnect and list
/// again; either way it converges, nothing lost, nothing duplicated.
fn pooled_cut_case(&(dir, after): &(Dir, u64)) -> Result<(), String> {
    let what = format!("cut {dir:?} after {after} bytes of the second connection to A");
    let s = scenario();
    s.proxy.arm_after(1, Fault::Cut { dir, after });
    // The second lane at once, however quickly this machine works.
    let out = s.pair.run_within(
        "sync",
        &["--connections", "2"],
        &[("IMAPMEND_TEST_EXTRA_LANE_AFTER_MS", "0")],
        Duration::from_secs(60),
    );
    if s.proxy.faults_fired() == 0 {
        return Err(format!(
            "{what}: the cut never happened: {}",
            out.describe()
        ));
    }
    survived(&s, &out, &what)
}

#[test]
fn a_cut_on_a_pooled_connection_loses_and_duplicates_nothing() {
    // While logging in, while listing, and (at 20 KB) inside a large body.
    let points = vec![
        (Dir::ToClient, 300),
        (Dir::ToClient, 3_000),
        (Dir::ToClient, 20_000),
        (Dir::ToServer, 60),
        (Dir::ToServer, 400),
        (Dir::ToServer, 20_000),
    ];
    let n = points.len();
    let failures = in_parallel(points, 3, pooled_cut_case);
    assert!(
        failures.is_empty(),
        "{} of {n} cuts failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn stall_case((dir, after, why): &(Dir, u64, String)) -> Result<(), String> {
    let what = format!("stall {dir:?} after {after} bytes ({why})");
    let s = scenario();
    s.proxy.arm(Fault::Stall {
        dir: *dir,
        after: *after,
    });
    let out = s.pair.run_within(
        "sync",
        &[],
        &[("IMAPMEND_TEST_READ_TIMEOUT_SECS", "2")],
        Duration::from_secs(60),
    );
    if out.took > Duration::from_secs(30) {
        return Err(format!("{what}: took {:?}", out.took));
    }
    if s.proxy.faults_fired() > 0 && !out.output().contains("no answer within 2 s") {
        return Err(format!("{what}: no timeout reported: {}", out.describe()));
    }
    survived(&s, &out, &what)
}

#[test]
fn one_run_converges_through_a_stalled_connection() {
    let started = Instant::now();
    let m = measure();
    let points: Vec<_> = aim(&m)
        .into_iter()
        .filter(|(_, _, why)| {
            why.contains("middle") || why.starts_with("50%") || why.starts_with("1%")
        })
        .collect();
    let n = points.len();
    let failures = in_parallel(points, 3, stall_case);
    eprintln!("{n} stalls in {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {n} stalls failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The read timeout override is what the engine uses: a stall at the
/// greeting ends the run in about that time, exit 3 (nothing ran).
#[test]
fn stall_before_the_greeting_hits_the_timeout_not_a_hang() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(a.port);
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy.port();
    proxy.arm(Fault::Stall {
        dir: Dir::ToClient,
        after: 0,
    });
    let started = Instant::now();
    let out = pair.run_within(
        "sync",
        &[],
        &[("IMAPMEND_TEST_READ_TIMEOUT_SECS", "2")],
        Duration::from_secs(30),
    );
    let took = started.elapsed();
    assert_eq!(out.code, Some(3), "{}", out.describe());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        out.stderr
            .contains(&format!("A (127.0.0.1:{})", proxy.port()))
            && out.stderr.contains("no answer within 2 s"),
        "{}",
        out.describe()
    );
}

// ---------------------------------------------------------------------------
// Hostile bytes inside a real session
// ---------------------------------------------------------------------------

/// `INTERNALDATE "…"` → `INTERNALDATE NIL` in the server's lines.
fn nil_internaldate(line: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(line);
    if !text.starts_with("* ") || !text.contains("INTERNALDATE \"") {
        return line.to_vec();
    }
    let start = text.find("INTERNALDATE \"").unwrap() + "INTERNALDATE ".len();
    let end = text[start + 1..]
        .find('"')
        .map_or(text.len(), |e| start + 1 + e + 1);
    format!("{}NIL{}", &text[..start], &text[end..]).into_bytes()
}

#[test]
fn internaldate_nil_from_a_server_is_a_clear_error_without_a_panic_message() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(a.port);
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy.port();
    let mut ca = a.client();
    ca.append("INBOX", &msg_of_size("nil1", 500), &[], Some(DATE));
    ca.logout();
    // With a retry, the broken session is replaced and the plan is made
    // from an honest listing (the proxy breaks one connection only).
    proxy.arm(Fault::Rewrite(nil_internaldate));
    let out = pair.run("plan", &[], &[]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("INTERNALDATE NIL") && out.stderr.contains("reconnecting"),
        "{}",
        out.describe()
    );
    // Without one, the mailbox fails with a clear error.
    proxy.arm(Fault::Rewrite(nil_internaldate));
    let out = pair.run("plan", &["--retries", "0"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    let text = out.output();
    assert!(!text.contains("panicked"), "{}", out.describe());
    assert!(
        text.contains("INTERNALDATE NIL")
            && text.contains(&format!("A (127.0.0.1:{})", proxy.port())),
        "{}",
        out.describe()
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAILED") && l.contains("INBOX on A")),
        "{}",
        out.describe()
    );
    // Nothing was decided from the broken listing; through an honest
    // connection the same snapshot syncs normally.
    let run = pair.run("sync", &[], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let sa = oracle::read_side(&a);
    oracle::assert_sides_equal(&sa, &oracle::read_side(&b));
    assert_eq!(sa.len(), 1);
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

/// A run paused at the proxy holds the snapshot: a second run on it is
/// refused at once with a clear message (sync and plan: 4; check: 3), and
/// the first run then finishes normally.
#[test]
fn a_second_run_on_a_snapshot_in_use_is_refused() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(a.port);
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy.port();
    let mut ca = a.client();
    ca.append("INBOX", &msg_of_size("lock1", 500), &[], Some(DATE));
    ca.logout();
    proxy.arm(Fault::PauseOn {
        text: b"LIST".to_vec(),
    });
    let first = pair.spawn("sync", &[], &[]);
    assert!(
        proxy.wait_paused(Duration::from_secs(30)),
        "the first run never listed"
    );
    for (verb, code) in [("sync", 4), ("plan", 4), ("check", 3)] {
        let started = Instant::now();
        let second = pair.run_within(verb, &[], &[], Duration::from_secs(30));
        assert_eq!(second.code, Some(code), "{verb}: {}", second.describe());
        assert!(
            second.stderr.contains("is in use by another imapmend run"),
            "{verb}: {}",
            second.describe()
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{verb} waited");
    }
    proxy.resume();
    let first = support::imapmend::wait(first, Duration::from_secs(60), "sync (first)");
    assert_eq!(first.code, Some(0), "{}", first.describe());
    let again = pair.run("sync", &[], &[]);
    assert_eq!(again.code, Some(0), "{}", again.describe());
    oracle::assert_sides_equal(&oracle::read_side(&a), &oracle::read_side(&b));
}

/// The lock dies with its holder: after a SIGKILL the next run is not
/// refused.
#[test]
fn a_killed_run_does_not_leave_the_snapshot_locked() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(a.port);
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy.port();
    let mut ca = a.client();
    ca.append("INBOX", &msg_of_size("lock2", 500), &[], Some(DATE));
    ca.logout();
    proxy.arm(Fault::PauseOn {
        text: b"LIST".to_vec(),
    });
    let mut first = pair.spawn("sync", &[], &[]);
    assert!(proxy.wait_paused(Duration::from_secs(30)));
    first.kill().unwrap();
    let _ = support::imapmend::wait(first, Duration::from_secs(30), "sync (killed)");
    proxy.resume();
    let next = pair.run("sync", &[], &[]);
    assert_eq!(next.code, Some(0), "{}", next.describe());
    oracle::assert_sides_equal(&oracle::read_side(&a), &oracle::read_side(&b));
}

/// C1: while a sync is paused (at B's first write, or while B is being
/// listed), new mail arrives on both servers and flags change on both —
/// including a flag on a message the paused run is about to store to.
/// After the run and one more quiet run, A equals B with nothing lost.
fn changes_during_a_run(pause_on: &[u8]) {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(b.port);
    let mut pair = Pair::new(&a, &b);
    pair.b_port = proxy.port();
    let mut rng = Rng::new(0xc1);
    let mut g = Generator::new(0xc1c1);
    g.large_percent = 0;
    let mut want = SideState::default();
    let mut ca = a.client();
    let mut base = Vec::new();
    for _ in 0..40 {
        let m = g.message();
        ca.append("INBOX", &m.bytes, &[], Some(&m.internal_date));
        base.push(m.bytes);
    }
    ca.logout();
    let first = pair.run("sync", &[], &[]);
    assert_eq!(first.code, Some(0), "{}", first.describe());

    // Before the run: something for it to do on B (a copy and a store).
    let mut ca = a.client();
    let x1 = msg_of_size("x1", 3000);
    ca.append("INBOX", &x1, &[], Some(DATE));
    let m0a = uid_of(&mut ca, "INBOX", &base[0]);
    ca.store("INBOX", &[m0a], "+", &["\\Seen"]);
    ca.logout();

    proxy.arm(Fault::PauseOn {
        text: pause_on.to_vec(),
    });
    let run = pair.spawn("sync", &[], &[]);
    assert!(
        proxy.wait_paused(Duration::from_secs(30)),
        "the run never sent {:?}",
        String::from_utf8_lossy(pause_on)
    );
    // Meanwhile: mail arrives on both, flags change on both.
    let mut ca = a.client();
    let mut cb = b.client();
    let (x2, y1) = (msg_of_size("x2", 2000), msg_of_size("y1", 2500));
    ca.append("INBOX", &x2, &["\\Flagged"], Some(DATE));
    cb.append("INBOX", &y1, &[], Some(DATE));
    let m1b = uid_of(&mut cb, "INBOX", &base[1]);
    cb.store("INBOX", &[m1b], "+", &["$Work"]);
    let m2a = uid_of(&mut ca, "INBOX", &base[2]);
    ca.store("INBOX", &[m2a], "+", &["\\Answered"]);
    // The message whose \Seen the paused run is about to store on B.
    if let Some(m0b) = cb
        .fetch_all("INBOX")
        .into_iter()
        .find(|m| oracle::fingerprint(&m.body) == oracle::fingerprint(&base[0]))
        .map(|m| m.uid)
    {
        cb.store("INBOX", &[m0b], "+", &["\\Flagged"]);
    }
    ca.logout();
    cb.logout();
    let _ = rng.next_u64();
    proxy.resume();
    let out = support::imapmend::wait(run, Duration::from_secs(60), "sync (paused)");
    eprintln!("the run during changes: {}", out.describe());
    assert!(
        matches!(out.code, Some(0) | Some(2)),
        "the run during changes: {}",
        out.describe()
    );
    let quiet = pair.run("sync", &[], &[]);
    assert_eq!(quiet.code, Some(0), "the quiet run: {}", quiet.describe());

    for (i, bytes) in base.iter().enumerate() {
        let flags: &[&str] = match i {
            0 => &["\\Seen", "\\Flagged"],
            1 => &["$Work"],
            2 => &["\\Answered"],
            _ => &[],
        };
        want.add("INBOX", bytes, flags);
    }
    want.add("INBOX", &x1, &[] as &[&str]);
    want.add("INBOX", &x2, &["\\Flagged"]);
    want.add("INBOX", &y1, &[] as &[&str]);
    let sa = oracle::read_side(&a);
    let sb = oracle::read_side(&b);
    oracle::assert_state("A", &sa, &want);
    oracle::assert_state("B", &sb, &want);
    let plan = pair.run("plan", &[], &[]);
    assert_eq!(plan.code, Some(0), "{}", plan.describe());
}

#[test]
fn c1_changes_while_the_run_writes_are_not_lost() {
    changes_during_a_run(b"APPEND");
}

#[test]
fn c1_changes_while_the_run_lists_are_not_lost() {
    changes_during_a_run(b"UID FETCH");
}

/// `PRAGMA integrity_check` of a snapshot file, and how many pairs it holds.
fn snapshot_health(path: &std::path::Path) -> (String, i64) {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    let pairs: i64 = db
        .query_row("SELECT count(*) FROM pair", [], |r| r.get(0))
        .unwrap();
    (check, pairs)
}

/// Two syncs of the same servers at once, each with its own snapshot: the
/// second waits while the first holds the servers (paused at its first
/// APPEND), then finds them agreeing. A third run has nothing to do: no
/// duplicates, nothing lost, and both snapshots are sound.
#[test]
fn concurrent_syncs_with_different_snapshots_take_turns() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(a.port);
    let mut one = Pair::new(&a, &b);
    one.a_port = proxy.port();
    let mut two = Pair::new(&a, &b);
    two.a_port = proxy.port();
    // The same machine and user: the same state directory, other files.
    let home = one.dir.path().to_str().unwrap().to_string();
    two.env.push(("XDG_STATE_HOME".into(), home));
    let mut want = SideState::default();
    let mut ca = a.client();
    let mut cb = b.client();
    ca.create("Archive");
    for i in 0..12 {
        let (m, n) = (
            msg_of_size(&format!("cc-a{i}"), 900),
            msg_of_size(&format!("cc-b{i}"), 700),
        );
        let mailbox = if i % 3 == 0 { "Archive" } else { "INBOX" };
        ca.append(mailbox, &m, &["\\Seen"], Some(DATE));
        cb.append("INBOX", &n, &[], Some(DATE));
        want.add(mailbox, &m, &["\\Seen"]);
        want.add("INBOX", &n, &[] as &[&str]);
    }
    ca.logout();
    cb.logout();

    proxy.arm(Fault::PauseOn {
        text: b"APPEND".to_vec(),
    });
    // One session to A, so that it is the one the pause holds.
    let first = one.spawn("sync", &["--connections", "1"], &[]);
    assert!(
        proxy.wait_paused(Duration::from_secs(30)),
        "the first sync never appended to A"
    );
    let mut second = two.spawn("sync", &[], &[]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second sync did not wait for the first"
    );
    proxy.resume();
    let first = support::imapmend::wait(first, Duration::from_secs(60), "sync (first)");
    let second = support::imapmend::wait(second, Duration::from_secs(60), "sync (second)");
    assert_eq!(first.code, Some(0), "{}", first.describe());
    assert_eq!(second.code, Some(0), "{}", second.describe());
    assert!(
        second
            .stderr
            .contains("another sync of these two servers is running"),
        "{}",
        second.describe()
    );
    let third = one.run("sync", &[], &[]);
    assert_eq!(third.code, Some(0), "{}", third.describe());
    let sa = oracle::read_side(&a);
    let sb = oracle::read_side(&b);
    oracle::assert_state("A", &sa, &want);
    oracle::assert_state("B", &sb, &want);
    for pair in [&one, &two] {
        let plan = pair.run("plan", &[], &[]);
        assert_eq!(plan.code, Some(0), "{}", plan.describe());
        let (check, pairs) = snapshot_health(&pair.state_path());
        assert_eq!(check, "ok");
        assert_eq!(pairs, 24, "{}", pair.state_path().display());
    }
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

/// Standard base64 (what AUTHENTICATE PLAIN would carry).
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= c.len() {
                T[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Asserts that none of `secrets` (nor their SASL PLAIN encodings for
/// `users`) is in the run's output.
#[track_caller]
fn assert_no_secret(out: &Outcome, secrets: &[&str], users: &[&str], what: &str) {
    let text = out.output();
    for s in secrets {
        assert!(
            !text.contains(s),
            "{what}: the output shows {s:?}:\n{}",
            out.describe()
        );
        for u in users {
            let token = base64(format!("\0{u}\0{s}").as_bytes());
            assert!(
                !text.contains(&token),
                "{what}: the output shows the AUTH token:\n{}",
                out.describe()
            );
        }
    }
}

#[test]
fn passwords_never_appear_in_output() {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut ca = a.client();
    ca.append("INBOX", &msg_of_size("sec1", 500), &["\\Seen"], Some(DATE));
    ca.logout();
    let pair = Pair::new(&a, &b);
    let users = [a.name.as_str(), b.name.as_str()];
    let real = [a.password.as_str(), b.password.as_str()];
    let wrong = "Wr0ng-S3cret-Pa55";

    // Successful runs at every verbosity, text and JSON.
    for (verb, extra) in [
        ("plan", &["-vvv"][..]),
        ("plan", &["--json"]),
        ("sync", &["-vvv"]),
        ("sync", &["--json", "-vv"]),
        ("check", &["-vv"]),
        ("check", &["--json"]),
    ] {
        let out = pair.run(verb, extra, &[]);
        assert!(
            matches!(out.code, Some(0) | Some(1)),
            "{verb} {extra:?}: {}",
            out.describe()
        );
        assert_no_secret(&out, &real, &users, &format!("{verb} {extra:?}"));
        // -vv logs the commands sent, -vvv the responses too: message
        // bodies (fetched to fingerprint, appended to copy) only as sizes.
        if extra.contains(&"-vvv") {
            for shown in [
                "A1 C: A0",
                "B1 S: ",
                "<credentials redacted>",
                "bytes elided}",
            ] {
                assert!(
                    out.stderr.contains(shown),
                    "{verb} -vvv lacks {shown:?}:\n{}",
                    out.describe()
                );
            }
            assert!(
                !out.stderr.contains("quick brown fox"),
                "{verb} -vvv shows a message body:\n{}",
                out.describe()
            );
        }
    }

    // A refused login, at every verbosity.
    for extra in [&["-vv"][..], &["--json"], &["-vv", "--json"], &[]] {
        let out = pair.run("sync", extra, &[("IMAPMEND_A_PASSWORD", wrong)]);
        assert_eq!(out.code, Some(3), "{extra:?}: {}", out.describe());
        assert!(out.stderr.contains("login"), "{}", out.describe());
        assert_no_secret(
            &out,
            &[wrong, real[1]],
            &users,
            &format!("wrong password {extra:?}"),
        );
    }

    // A password in the URL is refused without being echoed.
    let url = format!("imap://{}:{}@127.0.0.1:{}", a.name, "UrlS3cretXyz", a.port);
    let out = support::imapmend::wait(
        std::process::Command::new(support::imapmend::binary())
            .args(["sync", "-vv", "--a", &url, "--b", &Pair::url(&b, b.port)])
            .args(["--a-tls", "none", "--b-tls", "none", "--state"])
            .arg(pair.dir.path().join("other.sqlite"))
            .env("IMAPMEND_B_PASSWORD", &b.password)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
        "sync with a password in the URL",
    );
    assert_eq!(out.code, Some(3), "{}", out.describe());
    assert_no_secret(
        &out,
        &["UrlS3cretXyz", real[1]],
        &users,
        "password in the URL",
    );

    // Password commands that fail: what they printed is not shown.
    for cmd in [
        "echo CmdS3cret-1; exit 1",
        "echo CmdS3cret-1 >&2; exit 3",
        "printf 'CmdS3cret-1'; kill -9 $$",
        "echo CmdS3cret-1 | no-such-command-imapmend",
    ] {
        let out = pair.run("sync", &["-vv", "--a-password-command", cmd], &[]);
        assert_eq!(out.code, Some(3), "{cmd}: {}", out.describe());
        let cmd_stderr_leak = cmd.contains(">&2");
        if !cmd_stderr_leak {
            assert_no_secret(&out, &["CmdS3cret-1", real[1]], &users, cmd);
        } else {
            // imapmend quotes a failed command's error output once, as its
            // diagnosis (gpg's or pass's words); what a command prints
            // there is the command's business. Its stdout never shows.
            let repeated = out.stderr.matches("CmdS3cret-1").count();
            assert!(repeated <= 1, "{cmd}: repeated: {}", out.describe());
        }
    }

    // A password command that works but gives the wrong password.
    let out = pair.run(
        "sync",
        &["-vv", "--json", "--a-password-command", "echo CmdS3cret-2"],
        &[],
    );
    assert_eq!(out.code, Some(3), "{}", out.describe());
    assert_no_secret(
        &out,
        &["CmdS3cret-2", real[1]],
        &users,
        "wrong password from a command",
    );

    // A password file with the wrong password.
    let file = pair.dir.path().join("pw");
    std::fs::write(&file, "FileS3cret-3\n").unwrap();
    let out = pair.run(
        "sync",
        &["-vv", "--a-password-file", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, Some(3), "{}", out.describe());
    assert_no_secret(
        &out,
        &["FileS3cret-3", real[1]],
        &users,
        "wrong password from a file",
    );
}

// ---------------------------------------------------------------------------
// Server refusals and size limits (E10, I9, I10, I11)
// ---------------------------------------------------------------------------

/// A message B refuses (Dovecot: "Can't save a zero byte message") is
/// reported per message with the server's words and the other copies go
/// through (`sync --json` reports that copy as refused, with the server's
/// words). The refusal is recorded: the next run skips it with the same
/// words (exit 0, not sent again blindly); `--retry-refused` tries again.
/// It is never taken for deleted, so it stays on A throughout.
#[test]
fn e10_i9_a_message_the_target_refuses_is_reported_and_never_deleted() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let mut ca = a.client();
    let ok1 = msg_of_size("ok1", 700);
    ca.append("INBOX", &ok1, &[], Some(DATE));
    ca.logout();
    // Dovecot refuses to APPEND a zero-byte message: it goes in as a file.
    a.put_in_maildir([("zero", &b""[..], "S")]);
    let mut cb = b.client();
    let ok2 = msg_of_size("ok2", 700);
    cb.append("INBOX", &ok2, &["\\Flagged"], Some(DATE));
    cb.logout();
    let on_a = oracle::read_side(&a);
    assert_eq!(
        on_a.len(),
        2,
        "A should hold ok1 and the zero-byte message:\n{on_a}"
    );

    for (round, extra, refused_now) in [
        (0, &[][..], true),
        (1, &[], false),
        (2, &["--retry-refused"], true),
        (3, &[], false),
    ] {
        let out = pair.run("sync", extra, &[]);
        let failed: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("FAILED"))
            .collect();
        let skipped: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("SKIPPED"))
            .collect();
        eprintln!("round {round}: {failed:?} {skipped:?}");
        if refused_now {
            assert_eq!(out.code, Some(2), "round {round}: {}", out.describe());
            assert!(
                failed.len() == 1
                    && failed[0].contains("INBOX on B")
                    && failed[0].contains("0 bytes")
                    && failed[0].contains("zero byte message"),
                "round {round}: one failure naming the message and the server's words: {}",
                out.describe()
            );
        } else {
            assert_eq!(out.code, Some(0), "round {round}: {}", out.describe());
            assert!(
                failed.is_empty()
                    && skipped.len() == 1
                    && skipped[0].contains("A→B")
                    && skipped[0].contains("0 bytes")
                    && skipped[0].contains("refused it on an earlier run")
                    && skipped[0].contains("zero byte message"),
                "round {round}: skipped with the server's words, not sent: {}",
                out.describe()
            );
        }
        // A keeps everything it had; B got the rest.
        let sa = oracle::read_side(&a);
        oracle::assert_state("A", &sa, &on_a_with(&on_a, &ok2));
        let mut want_b = SideState::default();
        want_b.add("INBOX", &ok1, &[] as &[&str]);
        want_b.add("INBOX", &ok2, &["\\Flagged"]);
        oracle::assert_state("B", &oracle::read_side(&b), &want_b);
    }
    // sync --json says the same per planned action: that copy skipped with
    // the server's earlier words, or (tried again) refused in its words.
    let out = pair.run("sync", &["--json"], &[]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let skipped: Vec<&serde_json::Value> = report["outcome"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "skipped")
        .collect();
    assert!(
        skipped.len() == 1
            && skipped[0]["action"] == "copy"
            && skipped[0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("earlier run") && d.contains("zero byte message")),
        "{:#}",
        report["outcome"]
    );
    let out = pair.run("sync", &["--json", "--retry-refused"], &[]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let outcome = &report["outcome"];
    let refused: Vec<&serde_json::Value> = outcome["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] != "done")
        .collect();
    assert!(
        refused.len() == 1
            && refused[0]["status"] == "refused"
            && refused[0]["action"] == "copy"
            && refused[0]["side"] == "B"
            && refused[0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("zero byte message")),
        "{outcome:#}"
    );
    assert_eq!(outcome["totals"]["refused"], 1, "{outcome:#}");
    // check lists the refusal as a known divergence, not a difference.
    let check = pair.run("check", &["--json"], &[]);
    assert_eq!(check.code, Some(0), "{}", check.describe());
    let json: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    support::schema::assert_valid(&support::schema::schema(), &json, "check (refused)");
    assert_eq!(
        json["check"][0]["refused"].as_array().map(Vec::len),
        Some(1),
        "{}",
        check.stdout
    );
    let check = pair.run("check", &[], &[]);
    assert_eq!(check.code, Some(0), "{}", check.describe());
    assert!(
        check
            .stdout
            .contains("on A was refused by B on an earlier sync (known, not a difference)"),
        "{}",
        check.describe()
    );
}

/// The first sync's shortcut (B empty: A listed by metadata only) with
/// `--max-size`: the large message is skipped without its content ever
/// being read ("not read" in the report, `null` in the JSON) and gets no
/// cache row; without the limit the next run reads and copies it, and the
/// fingerprints recorded for everything are the true ones.
#[test]
fn a_first_sync_to_an_empty_side_skips_by_size_and_copies_once_the_limit_is_lifted() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let (small, big) = (msg_of_size("fs-small", 700), msg_of_size("fs-big", 30_000));
    let mut ca = a.client();
    ca.append("INBOX", &small, &["\\Seen"], Some(DATE));
    ca.append("INBOX", &big, &[], Some(DATE));
    ca.logout();

    let sync = pair.run("sync", &["--max-size", "20K", "-v"], &[]);
    assert_eq!(sync.code, Some(0), "{}", sync.describe());
    let lines = |what: &str| {
        sync.stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(what))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines("SKIPPED").len(), 1, "{}", sync.describe());
    assert!(
        lines("SKIPPED")[0].contains("not read"),
        "{}",
        sync.describe()
    );
    let copies = lines("copy ");
    assert_eq!(copies.len(), 1, "{}", sync.describe());
    assert!(
        copies[0].contains("read by the copy"),
        "{}",
        sync.describe()
    );
    let mut want = SideState::default();
    want.add("INBOX", &small, &["\\Seen"]);
    oracle::assert_state("B", &oracle::read_side(&b), &want);

    let again = pair.run("sync", &[], &[]);
    assert_eq!(again.code, Some(0), "{}", again.describe());
    want.add("INBOX", &big, &[] as &[&str]);
    oracle::assert_state("A", &oracle::read_side(&a), &want);
    oracle::assert_state("B", &oracle::read_side(&b), &want);
    let verified = pair.run("check", &["--verify"], &[]);
    assert_eq!(verified.code, Some(0), "{}", verified.describe());
    assert_eq!(pair.run("plan", &[], &[]).code, Some(0));
}

/// `--max-size` (and the config file's `max_size`) skips large messages up
/// front, both ways: reported per message with the limit, in the plan and
/// the JSON, never sent; the rest syncs and the run succeeds. Without the
/// limit the next run copies them.
#[test]
fn i10_max_size_skips_large_messages_up_front() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let (small_a, big_a) = (
        msg_of_size("ms-small-a", 700),
        msg_of_size("ms-big-a", 30_000),
    );
    let (small_b, big_b) = (
        msg_of_size("ms-small-b", 800),
        msg_of_size("ms-big-b", 40_000),
    );
    let mut ca = a.client();
    ca.append("INBOX", &small_a, &[], Some(DATE));
    ca.append("INBOX", &big_a, &["\\Seen"], Some(DATE));
    ca.logout();
    let mut cb = b.client();
    cb.append("INBOX", &small_b, &[], Some(DATE));
    cb.append("INBOX", &big_b, &[], Some(DATE));
    cb.logout();

    let plan = pair.run("plan", &["--json", "--max-size", "20K"], &[]);
    assert_eq!(plan.code, Some(1), "{}", plan.describe());
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    support::schema::assert_valid(&support::schema::schema(), &json, "plan --max-size");
    let inbox = &json["plan"]["mailboxes"][0];
    assert_eq!(
        inbox["copies"].as_array().unwrap().len(),
        2,
        "{}",
        plan.stdout
    );
    let skipped = inbox["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{}", plan.stdout);
    for s in skipped {
        assert_eq!(s["why"], "max-size", "{s}");
        assert!(s["reason"].as_str().unwrap().contains("20480 bytes"), "{s}");
    }

    // The same limit from a config file.
    let config = pair.dir.path().join("job.toml");
    std::fs::write(&config, "[policy]\nmax_size = \"20K\"\n").unwrap();
    let sync = pair.run("sync", &["--config", config.to_str().unwrap()], &[]);
    assert_eq!(sync.code, Some(0), "{}", sync.describe());
    let skipped_lines = sync
        .stdout
        .lines()
        .filter(|l| l.contains("SKIPPED") && l.contains("larger than --max-size"))
        .count();
    assert_eq!(skipped_lines, 2, "{}", sync.describe());
    let mut want_a = SideState::default();
    want_a.add("INBOX", &small_a, &[] as &[&str]);
    want_a.add("INBOX", &big_a, &["\\Seen"]);
    want_a.add("INBOX", &small_b, &[] as &[&str]);
    let mut want_b = SideState::default();
    want_b.add("INBOX", &small_a, &[] as &[&str]);
    want_b.add("INBOX", &small_b, &[] as &[&str]);
    want_b.add("INBOX", &big_b, &[] as &[&str]);
    oracle::assert_state("A", &oracle::read_side(&a), &want_a);
    oracle::assert_state("B", &oracle::read_side(&b), &want_b);

    // Under the limit again: the skipped ones are copied, nothing deleted.
    let again = pair.run("sync", &[], &[]);
    assert_eq!(again.code, Some(0), "{}", again.describe());
    let sa = oracle::read_side(&a);
    oracle::assert_sides_equal(&sa, &oracle::read_side(&b));
    assert_eq!(sa.len(), 4);
}

/// Dovecot with `quota_max_mail_size = 20k` (which refuses larger APPENDs
/// with `NO [LIMIT]`) announcing `APPENDLIMIT=20480` (RFC 7889), shared by
/// this test binary.
fn limited_server() -> &'static dovecot::Dovecot {
    static SERVER: std::sync::OnceLock<dovecot::Dovecot> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        dovecot::Dovecot::start_with(
            Kind::Full,
            "mail_plugins = $mail_plugins quota\n\
             plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n  \
             quota_max_mail_size = 20k\n}\n\
             imap_capability = +APPENDLIMIT=20480\n",
        )
    })
}

/// Hides the server's APPENDLIMIT announcement, so the client sends what
/// the server then refuses.
fn hide_appendlimit(line: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(line)
        .replace(" APPENDLIMIT=20480", "")
        .into_bytes()
}

/// I11 and E10 on a real limit: B refuses messages over 20 KB.
///
/// While B hides its APPENDLIMIT (a proxy takes it out of the capability
/// list) the large message goes out in a batch with small ones, B answers
/// `NO [LIMIT] …`, the batch is bisected, the small ones land, and the
/// refusal is reported with the server's words (exit 2). The next run skips
/// it as refused earlier (exit 0); a flag change on it, or
/// `--retry-refused`, tries it again. Once B's APPENDLIMIT is visible, the
/// message is skipped before upload as over the limit. A keeps it
/// throughout: never taken as deleted.
#[test]
fn i11_e10_appendlimit_and_a_size_refusal_on_a_real_limit() {
    let a = dovecot::fresh_user(Kind::Full);
    let b = limited_server().fresh_user();
    let proxy = Proxy::start(b.port);
    let mut pair = Pair::new(&a, &b);
    pair.b_port = proxy.port();
    let (ok1, big, ok2) = (
        msg_of_size("al-ok1", 700),
        msg_of_size("al-big", 30_000),
        msg_of_size("al-ok2", 900),
    );
    let mut ca = a.client();
    for m in [&ok1, &big, &ok2] {
        ca.append("INBOX", m, &[], Some(DATE));
    }
    ca.logout();
    let mut want_b = SideState::default();
    want_b.add("INBOX", &ok1, &[] as &[&str]);
    want_b.add("INBOX", &ok2, &[] as &[&str]);
    let mut want_a = want_b.clone();
    want_a.add("INBOX", &big, &[] as &[&str]);

    let sync_hidden = |extra: &[&str]| {
        proxy.arm(Fault::Rewrite(hide_appendlimit));
        pair.run("sync", extra, &[])
    };
    let refused_line = |out: &Outcome| {
        out.stdout
            .lines()
            .filter(|l| l.starts_with("FAILED"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let skipped_line = |out: &Outcome| {
        out.stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("SKIPPED"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    // 1. Sent, refused, bisected: the small ones land.
    let out = sync_hidden(&[]);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    let failed = refused_line(&out);
    assert!(
        failed.len() == 1
            && failed[0].contains("INBOX on B")
            && failed[0].contains("[LIMIT]")
            && failed[0].contains("Mail size is larger"),
        "{}",
        out.describe()
    );
    oracle::assert_state("A", &oracle::read_side(&a), &want_a);
    oracle::assert_state("B", &oracle::read_side(&b), &want_b);

    // 2. Not sent again: skipped with the server's words.
    let out = sync_hidden(&[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let skipped = skipped_line(&out);
    assert!(
        skipped.len() == 1 && skipped[0].contains("earlier run: NO [LIMIT] Mail size"),
        "{}",
        out.describe()
    );

    // 3. Its flags change on A: tried again (and refused again).
    let mut ca = a.client();
    let uid = uid_of(&mut ca, "INBOX", &big);
    ca.store("INBOX", &[uid], "+", &["\\Flagged"]);
    ca.logout();
    let mut want_a = want_b.clone();
    want_a.add("INBOX", &big, &["\\Flagged"]);
    let out = sync_hidden(&[]);
    assert_eq!(out.code, Some(2), "changed: {}", out.describe());
    assert_eq!(refused_line(&out).len(), 1, "{}", out.describe());

    // 4. --retry-refused tries again.
    let out = sync_hidden(&["--retry-refused"]);
    assert_eq!(out.code, Some(2), "retried: {}", out.describe());
    assert_eq!(refused_line(&out).len(), 1, "{}", out.describe());

    // 5. B's APPENDLIMIT visible: skipped before upload, even when retrying.
    let plan = pair.run("plan", &["--json", "--retry-refused"], &[]);
    assert_eq!(plan.code, Some(0), "{}", plan.describe());
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    support::schema::assert_valid(&support::schema::schema(), &json, "plan (APPENDLIMIT)");
    let skipped = &json["plan"]["mailboxes"][0]["skipped"];
    assert_eq!(skipped[0]["why"], "append-limit", "{}", plan.stdout);
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("APPENDLIMIT (20480 bytes)"),
        "{}",
        plan.stdout
    );
    let writes = pair.dir.path().join("writes.log");
    let out = pair.run(
        "sync",
        &["--retry-refused"],
        &[("IMAPMEND_TEST_WRITE_LOG", writes.to_str().unwrap())],
    );
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert_eq!(skipped_line(&out).len(), 1, "{}", out.describe());
    let log = std::fs::read_to_string(&writes).unwrap_or_default();
    assert!(
        !log.lines().any(|l| l.contains("APPEND")),
        "sent although over B's APPENDLIMIT:\n{log}"
    );
    oracle::assert_state("A", &oracle::read_side(&a), &want_a);
    oracle::assert_state("B", &oracle::read_side(&b), &want_b);
}

/// `base` plus one message in INBOX, flagged \Flagged.
fn on_a_with(base: &SideState, extra: &[u8]) -> SideState {
    let mut s = base.clone();
    s.add("INBOX", extra, &["\\Flagged"]);
    s
}
