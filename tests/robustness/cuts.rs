//! Cut and stalled connections: one side is reached through a loopback
//! proxy that drops the connection after N bytes, either way, mid-literal
//! included, or stops forwarding without closing. The run reconnects,
//! lists again and converges to the oracle in that same run (exit 0); a
//! cut while first connecting ends it with exit 3 and an error naming the
//! side and server, and a rerun converges. A cut on a pooled connection
//! (`--connections`) likewise. A stall is ended by the engine's read
//! timeout (shortened for tests by `IMAPMEND_TEST_READ_TIMEOUT_SECS`).
//! Never a hang, never a panic.

use super::*;

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

/// `sync --json` through a cut that lands while A's big new message is
/// read to be copied to B (the second time it comes from A: gather read it
/// first; a cut during an APPEND is mended within apply, see
/// `src/apply/copy/dropped.rs`): the run reconnects and applies a second
/// plan, and its outcome lists what the first attempt had done (the
/// Archive copies, no longer in the second plan) as attempt 1, then the
/// second attempt's actions: every copy appears done exactly once.
#[test]
fn sync_json_after_a_reconnect_reports_every_attempt() {
    let m = measure_with(&["--connections", "1"]);
    // Only a1 (150 kB) is this large: b1 (130 kB), copied to A and read
    // back once from A (a copy's real content, I7), stays below it.
    let lits = proxy::literals(&m.to_client, 140_000);
    assert_eq!(
        lits.len(),
        2,
        "A's big message, read by gather and the copy"
    );
    let after = (lits[1].0 + lits[1].1 / 2) as u64;
    let s = scenario();
    s.proxy.arm(Fault::Cut {
        dir: Dir::ToClient,
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
