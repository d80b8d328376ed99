//! Crash at any point (docs/SCENARIOS.md C4 and I12; issue 5).
//!
//! A reference scenario — new messages both ways, flag changes both ways
//! (several deltas in one mailbox, one that adds and removes), a proven
//! expunge each way, a new mailbox — is synced once cleanly to count
//! its IMAP writes (W). Then, for every k in 1..=W and for both moments the
//! engine's hidden test hook offers (right after the k-th write command was
//! *sent*, and right after its tagged reply was *read*), fresh users get the
//! same scenario, `imapmend sync` dies at k (abort: no destructors, no
//! checkpoint, like a real crash), one rerun without the hook must exit 0,
//! both sides must equal the expected state under the strong oracle (no
//! duplicates, nothing lost, flags right), and `imapmend plan` must then
//! find nothing to do.
//!
//! A second test SIGKILLs a bigger first sync at seeded random moments,
//! several times in a row, and checks that a rerun converges the same way.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::dovecot::{self, Kind, User};
use support::generator::{Generator, Rng};
use support::imapmend::{bare, in_parallel, Finish, Outcome, Pair, LIMIT};
use support::mail::{msg, DATE};
use support::oracle::{self, SideState};

/// The expected end state (the same on both sides).
fn expected() -> SideState {
    let mut s = SideState::default();
    let mut add = |mailbox: &str, name: &str, flags: &[&str]| s.add(mailbox, &msg(name), flags);
    add("INBOX", "m1", &["\\Flagged"]);
    add("INBOX", "m2", &["\\Seen"]);
    add("INBOX", "m3", &[]);
    add("INBOX", "m4", &["\\Answered"]);
    add("INBOX", "m6", &["$Work"]);
    add("INBOX", "m9", &[]);
    add("INBOX", "n1", &["\\Seen"]);
    add("INBOX", "n2", &[]);
    add("INBOX", "n3", &[]);
    add("Archive", "m8", &["\\Flagged"]);
    add("Archive", "n4", &["\\Flagged"]);
    add("Projects", "p1", &["\\Seen"]);
    add("Projects", "p2", &[]);
    s
}

/// Seeds both sides, syncs them cleanly (the snapshot), then changes both:
/// the state the crashing run starts from.
fn reference_scenario(a: &User, b: &User) -> Pair {
    let pair = Pair::new(a, b);
    let mut ca = a.client();
    let mut uid = BTreeMap::new();
    ca.create("Archive");
    for (name, flags) in [
        ("m1", &["\\Seen"][..]),
        ("m2", &[]),
        ("m3", &["\\Seen"]),
        ("m4", &[]),
        ("m5", &["\\Seen"]),
        ("m6", &[]),
    ] {
        uid.insert(name, ca.append("INBOX", &msg(name), flags, Some(DATE)));
    }
    ca.append("Archive", &msg("m7"), &[], Some(DATE));
    ca.append("Archive", &msg("m8"), &["\\Flagged"], Some(DATE));
    ca.logout();
    let mut cb = b.client();
    cb.append("INBOX", &msg("m9"), &[], Some(DATE));
    cb.logout();

    let first = pair.run("sync", &[], &[]);
    assert_eq!(first.code, Some(0), "seeding sync: {}", first.describe());

    // Changes on A.
    let mut ca = a.client();
    ca.append("INBOX", &msg("n1"), &["\\Seen"], Some(DATE));
    ca.append("INBOX", &msg("n2"), &[], Some(DATE));
    // One message both gains and loses a flag: on B its -FLAGS half is
    // chained behind the +FLAGS half of the STORE flight (C15).
    ca.store("INBOX", &[uid["m1"]], "+", &["\\Flagged"]);
    ca.store("INBOX", &[uid["m1"]], "-", &["\\Seen"]);
    ca.store("INBOX", &[uid["m4"]], "+", &["\\Answered"]);
    ca.expunge_uids("INBOX", &[uid["m5"]]);
    ca.create("Projects");
    ca.append("Projects", &msg("p1"), &["\\Seen"], Some(DATE));
    ca.append("Projects", &msg("p2"), &[], Some(DATE));
    ca.logout();
    // Changes on B (its UIDs are its own: found by content).
    let mut cb = b.client();
    let uid_of = |c: &mut support::mailclient::MailClient, mailbox: &str, name: &str| {
        let want = oracle::fingerprint(&msg(name));
        c.fetch_all(mailbox)
            .into_iter()
            .find(|m| oracle::fingerprint(&m.body) == want)
            .unwrap_or_else(|| panic!("{name} not on B's {mailbox}"))
            .uid
    };
    let (m2, m3, m6) = (
        uid_of(&mut cb, "INBOX", "m2"),
        uid_of(&mut cb, "INBOX", "m3"),
        uid_of(&mut cb, "INBOX", "m6"),
    );
    let m7 = uid_of(&mut cb, "Archive", "m7");
    cb.append("INBOX", &msg("n3"), &[], Some(DATE));
    cb.append("Archive", &msg("n4"), &["\\Flagged"], Some(DATE));
    cb.store("INBOX", &[m2], "+", &["\\Seen"]);
    cb.store("INBOX", &[m3], "-", &["\\Seen"]);
    cb.store("INBOX", &[m6], "+", &["$Work"]);
    cb.expunge_uids("Archive", &[m7]);
    cb.logout();
    pair
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Sent,
    Answered,
}

impl Moment {
    fn hook(self, k: usize) -> String {
        match self {
            Moment::Sent => format!("{k}"),
            Moment::Answered => format!("{k}:answered"),
        }
    }
}

/// Both sides equal the expected state, and a plan finds nothing to do.
fn assert_converged(pair: &Pair, what: &str) -> Result<(), String> {
    let want = expected();
    let sa = oracle::read_side(&pair.a);
    let sb = oracle::read_side(&pair.b);
    let da = oracle::diff("A", &sa, "expected", &want);
    let db = oracle::diff("B", &sb, "expected", &want);
    if !da.is_empty() || !db.is_empty() {
        return Err(format!(
            "{what}: not converged:\n{da}{db}--- A ---\n{sa}--- B ---\n{sb}"
        ));
    }
    let plan = pair.run("plan", &[], &[]);
    if plan.code != Some(0) {
        return Err(format!(
            "{what}: the plan after convergence is not empty: {}",
            plan.describe()
        ));
    }
    Ok(())
}

/// The writes of a clean run of the reference scenario, one line each
/// (number, side, command), from the engine's write log.
fn clean_run_writes() -> Vec<String> {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = reference_scenario(&a, &b);
    let log = pair.dir.path().join("writes.log");
    let log_s = log.to_str().unwrap().to_string();
    let run = pair.run("sync", &[], &[("IMAPMEND_TEST_WRITE_LOG", &log_s)]);
    assert_eq!(run.code, Some(0), "clean run: {}", run.describe());
    assert_converged(&pair, "clean run").unwrap();
    let writes: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        writes.len() >= 8,
        "the reference scenario should need several writes, the log says:\n{}",
        writes.join("\n")
    );
    writes
}

/// One crash point: crash at write k, rerun, check.
fn crash_case(k: usize, moment: Moment, label: &str) -> Result<(), String> {
    let what = format!("crash after write {k} {moment:?} ({label})");
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = reference_scenario(&a, &b);
    let hook = moment.hook(k);
    let crashed = pair.run(
        "sync",
        &[],
        &[("IMAPMEND_TEST_CRASH_AFTER_WRITES", hook.as_str())],
    );
    if crashed.signal != Some(libc::SIGABRT) {
        return Err(format!(
            "{what}: the hook did not fire: {}",
            crashed.describe()
        ));
    }
    if !crashed
        .stderr
        .contains(&format!("crashing after write {k} "))
    {
        return Err(format!("{what}: no hook message: {}", crashed.describe()));
    }
    let rerun = pair.run("sync", &[], &[]);
    if rerun.code != Some(0) {
        return Err(format!(
            "{what}: the rerun did not succeed: {}",
            rerun.describe()
        ));
    }
    assert_converged(&pair, &what)
}

#[test]
fn c4_i12_crash_after_every_write_then_rerun_converges() {
    let started = Instant::now();
    let writes = clean_run_writes();
    eprintln!(
        "clean run: {} writes in {:?}:\n{}",
        writes.len(),
        started.elapsed(),
        writes.join("\n")
    );
    let mut cases = Vec::new();
    for (i, line) in writes.iter().enumerate() {
        for moment in [Moment::Sent, Moment::Answered] {
            cases.push((i + 1, moment, line.clone()));
        }
    }
    let n = cases.len();
    let failures = in_parallel(cases, 4, |(k, moment, label)| {
        crash_case(*k, *moment, label)
    });
    eprintln!("{n} crash points in {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {n} crash points failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The writes counted by the hook are what a clean run does: the hook set
/// beyond the last write changes nothing.
#[test]
fn crash_hook_beyond_the_last_write_is_inert() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = reference_scenario(&a, &b);
    let run = pair.run(
        "sync",
        &[],
        &[("IMAPMEND_TEST_CRASH_AFTER_WRITES", "100000")],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(!run.stderr.contains("test hook"), "{}", run.describe());
    assert_converged(&pair, "hook beyond the last write").unwrap();
}

// ---------------------------------------------------------------------------
// SIGKILL at random moments during a bigger run
// ---------------------------------------------------------------------------

/// Fills a side from a generator: `n` messages into `mailbox`, a third of
/// them with flags; returns what was put there.
fn fill(
    user: &User,
    mailbox: &str,
    g: &mut Generator,
    rng: &mut Rng,
    n: usize,
    st: &mut SideState,
) {
    let mut c = user.client();
    if mailbox != "INBOX" {
        c.create(mailbox);
    }
    for _ in 0..n {
        let m = g.message();
        let flags: &[&str] = match rng.below(3) {
            0 => &["\\Seen"],
            1 => &[],
            _ => &["\\Flagged", "$Label1"],
        };
        c.append(mailbox, &m.bytes, flags, Some(&m.internal_date));
        st.add(mailbox, &m.bytes, flags);
    }
    c.logout();
}

/// Per mailbox of both users: (MESSAGES, UIDNEXT).
fn status_of(users: [&User; 2]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for user in users {
        let mut c = user.client();
        for mailbox in c.mailboxes() {
            let done = c.command(&format!(
                "STATUS {} (MESSAGES UIDNEXT)",
                support::mailclient::quote(&mailbox)
            ));
            let line = done
                .untagged
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .find(|l| l.starts_with("STATUS "))
                .unwrap_or_default();
            out.push((format!("{}/{mailbox}", user.name), line));
        }
        c.logout();
    }
    out
}

/// Waits until neither server changes any more (a killed client's last
/// command may still be running on the server): the same STATUS everywhere
/// five times in a row, 200 ms apart.
fn settle(a: &User, b: &User) {
    let mut last = status_of([a, b]);
    let mut same = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while same < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let now = status_of([a, b]);
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
}

/// A bigger first sync, SIGKILLed at seeded random moments several times
/// in a row, then rerun once. `settle_after_kill`: wait for the servers to
/// finish what the killed run had sent before starting the next run.
fn kill_at_random_moments(seed: u64, settle_after_kill: bool) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let (a, b) = dovecot::pair(Kind::Full);
    let mut g = Generator::new(seed ^ 0x5eed);
    g.large_percent = 1;
    let mut want = SideState::default();
    fill(&a, "INBOX", &mut g, &mut rng, 250, &mut want);
    fill(&a, "Archive", &mut g, &mut rng, 80, &mut want);
    fill(&b, "INBOX", &mut g, &mut rng, 150, &mut want);
    fill(&b, "Sent", &mut g, &mut rng, 40, &mut want);
    let pair = Pair::new(&a, &b);
    // A clean first sync of this size takes 1–2 s (debug build): the kills
    // are aimed over that span, later ones a little later, as each rerun
    // has less left to do.
    let mut kills = Vec::new();
    for round in 0..4 {
        let delay = Duration::from_millis(30 + rng.below(900 + 300 * round));
        let mut child = pair.spawn("sync", &[], &[]);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
        }
        let out: Outcome = support::imapmend::wait(child, Duration::from_secs(60), "sync (killed)");
        kills.push(format!("{delay:?} → {:?}/{:?}", out.code, out.signal));
        if settle_after_kill {
            settle(&a, &b);
        }
    }
    let rerun = pair.run("sync", &[], &[]);
    if rerun.code != Some(0) {
        return Err(format!(
            "seed {seed}: rerun after {kills:?}: {}",
            rerun.describe()
        ));
    }
    let sa = oracle::read_side(&a);
    let sb = oracle::read_side(&b);
    let da = oracle::diff("A", &sa, "expected", &want);
    let db = oracle::diff("B", &sb, "expected", &want);
    if !da.is_empty() || !db.is_empty() {
        let first: Vec<&str> = da.lines().chain(db.lines()).take(6).collect();
        return Err(format!(
            "seed {seed}: after kills {kills:?}, not converged: {} difference(s) on A, {} on B, e.g.\n{}",
            da.lines().count(),
            db.lines().count(),
            first.join("\n")
        ));
    }
    let plan = pair.run("plan", &[], &[]);
    if plan.code != Some(0) {
        return Err(format!(
            "seed {seed}: plan after convergence: {}",
            plan.describe()
        ));
    }
    eprintln!("seed {seed}: converged after kills {kills:?}");
    Ok(())
}

const SEEDS: [u64; 3] = [0xc4_0001, 0xc4_0002, 0xc4_0003];

#[test]
fn sigkill_at_random_moments_then_rerun_converges() {
    let failures = in_parallel(SEEDS.to_vec(), 3, |s| kill_at_random_moments(*s, true));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The same without waiting between a kill and the next run, as a service
/// manager restarting a killed job would do.
#[test]
fn sigkill_at_random_moments_then_immediate_rerun_converges() {
    let failures = in_parallel(SEEDS.to_vec(), 3, |s| kill_at_random_moments(*s, false));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The deterministic form of the race above: one MULTIAPPEND of 400
/// messages, the process dies right after sending it, the rerun starts at
/// once. B must hold each message once: the rerun defers what the killed
/// run was still appending, and a later run pairs it.
#[test]
fn first_sync_crash_after_a_big_batch_was_sent_then_immediate_rerun() {
    let mut rng = Rng::new(41);
    let (a, b) = dovecot::pair(Kind::Full);
    let mut g = Generator::new(42);
    let mut want = SideState::default();
    fill(&a, "INBOX", &mut g, &mut rng, 400, &mut want);
    let pair = Pair::new(&a, &b);
    let crashed = pair.run(
        "sync",
        &[],
        &[("IMAPMEND_TEST_CRASH_AFTER_WRITES", "1:sent")],
    );
    assert_eq!(
        crashed.signal,
        Some(libc::SIGABRT),
        "{}",
        crashed.describe()
    );
    assert!(crashed.stderr.contains("APPEND"), "{}", crashed.describe());
    let rerun = pair.run("sync", &[], &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.describe());
    settle(&a, &b);
    let sb = oracle::read_side(&b);
    let d = oracle::diff("B", &sb, "expected", &want);
    assert!(
        d.is_empty(),
        "B after the rerun: {} difference(s), e.g.\n{}",
        d.lines().count(),
        d.lines().take(5).collect::<Vec<_>>().join("\n")
    );
}

// ---------------------------------------------------------------------------
// The first sync (no snapshot yet), crashed at every write
// ---------------------------------------------------------------------------

fn first_sync_expected(b_holds_mail: bool) -> SideState {
    let mut s = SideState::default();
    for (mailbox, name, flags) in first_sync_messages(b_holds_mail) {
        s.add(mailbox, &msg(name), flags);
    }
    s
}

/// A's mail (f…) and, where `b_holds_mail`, B's (g…). Towards an empty B,
/// or where B lacks the mailbox (Archive), the first sync's shortcut reads
/// A's bodies only in the copy.
fn first_sync_messages(
    b_holds_mail: bool,
) -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    let mut messages: Vec<(&str, &str, &[&str])> = vec![
        ("INBOX", "f1", &["\\Seen"]),
        ("INBOX", "f2", &[]),
        ("INBOX", "f3", &["\\Flagged"]),
        ("Archive", "f4", &[]),
    ];
    if b_holds_mail {
        messages.push(("INBOX", "g1", &[]));
        messages.push(("INBOX", "g2", &["\\Seen"]));
    }
    messages
}

fn first_sync_scenario(a: &User, b: &User, b_holds_mail: bool) -> Pair {
    let mut ca = a.client();
    ca.create("Archive");
    let mut cb = b.client();
    for (mailbox, name, flags) in first_sync_messages(b_holds_mail) {
        let c = if name.starts_with('f') {
            &mut ca
        } else {
            &mut cb
        };
        c.append(mailbox, &msg(name), flags, Some(DATE));
    }
    ca.logout();
    cb.logout();
    Pair::new(a, b)
}

fn first_sync_crash_case(
    k: usize,
    moment: Moment,
    reruns_before: usize,
    b_holds_mail: bool,
) -> Result<(), String> {
    let what = format!(
        "first sync (B holds mail: {b_holds_mail}), crash after write {k} {moment:?}, \
         {reruns_before} crashed rerun(s)"
    );
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = first_sync_scenario(&a, &b, b_holds_mail);
    let hook = moment.hook(k);
    for _ in 0..=reruns_before {
        let crashed = pair.run(
            "sync",
            &[],
            &[("IMAPMEND_TEST_CRASH_AFTER_WRITES", hook.as_str())],
        );
        if crashed.signal != Some(libc::SIGABRT) && crashed.code != Some(0) {
            return Err(format!("{what}: {}", crashed.describe()));
        }
    }
    let rerun = pair.run("sync", &[], &[]);
    if rerun.code != Some(0) {
        return Err(format!(
            "{what}: the rerun did not succeed: {}",
            rerun.describe()
        ));
    }
    let want = first_sync_expected(b_holds_mail);
    let sa = oracle::read_side(&pair.a);
    let sb = oracle::read_side(&pair.b);
    let d = format!(
        "{}{}",
        oracle::diff("A", &sa, "expected", &want),
        oracle::diff("B", &sb, "expected", &want)
    );
    if !d.is_empty() {
        return Err(format!("{what}: not converged:\n{d}"));
    }
    let plan = pair.run("plan", &[], &[]);
    if plan.code != Some(0) {
        return Err(format!(
            "{what}: plan after convergence: {}",
            plan.describe()
        ));
    }
    Ok(())
}

#[test]
fn first_sync_crashed_at_every_write_then_rerun_converges() {
    let mut cases = Vec::new();
    for k in 1..=4 {
        for moment in [Moment::Sent, Moment::Answered] {
            for reruns in [0, 1] {
                cases.push((k, moment, reruns));
            }
        }
    }
    let n = cases.len();
    let failures = in_parallel(cases, 4, |(k, m, r)| {
        first_sync_crash_case(*k, *m, *r, true)
    });
    assert!(
        failures.is_empty(),
        "{} of {n} crash points failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The first sync towards an empty B takes the shortcut in every mailbox
/// (A listed by metadata only; each body hashed by the copy that reads it,
/// so the report's copies carry no fingerprint). A crash at any of its
/// writes — CREATE, either MULTIAPPEND, sent or answered — leaves mailbox
/// records (and an intent for a batch in flight), so the rerun takes the
/// normal path: nothing twice, nothing lost, and the fingerprints recorded
/// are the real ones (`check --verify` re-reads every body against them).
#[test]
fn first_sync_to_an_empty_side_crashed_at_every_write_then_rerun_converges() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = first_sync_scenario(&a, &b, false);
    let log = pair.dir.path().join("writes.log");
    let log_s = log.to_str().unwrap().to_string();
    let clean = pair.run("sync", &["--json"], &[("IMAPMEND_TEST_WRITE_LOG", &log_s)]);
    assert_eq!(clean.code, Some(0), "{}", clean.describe());
    let report: serde_json::Value = serde_json::from_str(&clean.stdout).unwrap();
    let copies: Vec<&serde_json::Value> = report["plan"]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["copies"].as_array().unwrap())
        .collect();
    assert_eq!(copies.len(), 4, "{}", clean.stdout);
    assert!(
        copies.iter().all(|c| c["fingerprint"].is_null()),
        "the shortcut was not taken: {}",
        clean.stdout
    );
    let verified = pair.run("check", &["--verify"], &[]);
    assert_eq!(verified.code, Some(0), "{}", verified.describe());
    let writes = std::fs::read_to_string(&log).unwrap_or_default();
    let n = writes.lines().count();
    assert!(
        n == 3 && writes.lines().filter(|l| l.contains("APPEND")).count() == 2,
        "CREATE and two APPENDs expected:\n{writes}"
    );

    let mut cases = Vec::new();
    for k in 1..=n {
        for moment in [Moment::Sent, Moment::Answered] {
            cases.push((k, moment));
        }
    }
    let failures = in_parallel(cases, 4, |(k, m)| first_sync_crash_case(*k, *m, 0, false));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Once a rerun has converged, no copy is pending any more: the intent the
/// crashed run left behind is resolved (or dropped), as `snapshot show`
/// promises ("the next run resolves them").
#[test]
fn a_converged_rerun_leaves_no_pending_intent() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = first_sync_scenario(&a, &b, true);
    let crashed = pair.run(
        "sync",
        &[],
        &[("IMAPMEND_TEST_CRASH_AFTER_WRITES", "2:answered")],
    );
    assert_eq!(
        crashed.signal,
        Some(libc::SIGABRT),
        "{}",
        crashed.describe()
    );
    let rerun = pair.run("sync", &[], &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.describe());
    assert_eq!(pair.run("plan", &[], &[]).code, Some(0));
    let show = bare()
        .args(["snapshot", "show", "--json", "--state"])
        .arg(pair.state_path())
        .finish(LIMIT);
    let report: serde_json::Value =
        serde_json::from_str(&show.stdout).expect("snapshot show --json");
    let pending = &report["pending_intents"];
    assert!(
        pending.as_array().is_some_and(|p| p.is_empty()),
        "pending copies after convergence: {pending}"
    );
}

// ---------------------------------------------------------------------------
// SIGTERM / SIGINT: a graceful stop
// ---------------------------------------------------------------------------

/// A with 3 mailboxes of `per` messages each, B empty and reached through a
/// proxy: a first sync with several APPENDs to B.
fn signal_scenario(per: usize) -> (Pair, support::proxy::Proxy, SideState) {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = support::proxy::Proxy::start(b.port);
    let mut pair = Pair::new(&a, &b);
    pair.b_port = proxy.port();
    let mut want = SideState::default();
    let mut ca = a.client();
    for mailbox in ["INBOX", "Archive", "Projects"] {
        if mailbox != "INBOX" {
            ca.create(mailbox);
        }
        for i in 0..per {
            let m = msg(&format!("sig-{mailbox}-{i}"));
            let flags: &[&str] = if i % 3 == 0 { &["\\Seen"] } else { &[] };
            ca.append(mailbox, &m, flags, Some(DATE));
            want.add(mailbox, &m, flags);
        }
    }
    ca.logout();
    (pair, proxy, want)
}

fn send_signal(child: &std::process::Child, signal: i32) {
    // SAFETY: signalling our own child by PID.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
}

/// Reruns until one exits 0 (at most `tries`), then checks the oracle.
fn rerun_until_converged(pair: &Pair, want: &SideState, tries: usize, what: &str) {
    for i in 0..tries {
        let out = pair.run("sync", &[], &[]);
        if out.code == Some(0) {
            break;
        }
        assert!(
            i + 1 < tries && out.code == Some(2),
            "{what}: rerun {i}: {}",
            out.describe()
        );
    }
    let sa = oracle::read_side(&pair.a);
    let sb = oracle::read_side(&pair.b);
    oracle::assert_state("A", &sa, want);
    oracle::assert_state("B", &sb, want);
    let plan = pair.run("plan", &[], &[]);
    assert_eq!(plan.code, Some(0), "{what}: {}", plan.describe());
}

/// SIGTERM (and SIGINT alike) while an APPEND to B is in flight: the run
/// lets that command finish and checkpoints it, starts nothing more, says
/// what it did, and exits 2. B then holds part of the mail, with no
/// duplicate; one rerun converges: nothing lost, nothing twice.
#[test]
fn sigterm_mid_copy_stops_after_the_command_in_flight_and_a_rerun_converges() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let what = format!("signal {signal}");
        let (pair, proxy, want) = signal_scenario(5);
        proxy.arm(support::proxy::Fault::PauseOn {
            text: b"APPEND".to_vec(),
        });
        // One session per server: the paused APPEND is the one command in
        // flight (with more, the other mailboxes would be done by now).
        let child = pair.spawn("sync", &["--connections", "1"], &[]);
        assert!(
            proxy.wait_paused(Duration::from_secs(30)),
            "{what}: no APPEND"
        );
        send_signal(&child, signal);
        std::thread::sleep(Duration::from_millis(300));
        proxy.resume();
        let out = support::imapmend::wait(child, Duration::from_secs(60), "sync (signalled)");
        assert_eq!(out.code, Some(2), "{what}: {}", out.describe());
        assert!(
            out.stderr.contains("stop signal")
                && out.stdout.contains("stopped by a signal")
                && out.stdout.contains("Applied:"),
            "{what}: {}",
            out.describe()
        );
        // The batch in flight landed and was recorded; the rest did not.
        let sb = oracle::read_side(&pair.b);
        assert!(
            sb.len() >= 5 && sb.len() < want.len(),
            "{what}: B holds {} of {} messages:\n{sb}\n{}",
            sb.len(),
            want.len(),
            out.describe()
        );
        let copied: usize = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("Applied: created "))
            .and_then(|l| l.split("; copied ").nth(1))
            .and_then(|l| l.split(" to B").next())
            .and_then(|l| l.rsplit(", ").next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(usize::MAX);
        assert_eq!(copied, sb.len(), "{what}: the report: {}", out.describe());
        let rerun = pair.run("sync", &[], &[]);
        assert_eq!(rerun.code, Some(0), "{what}: {}", rerun.describe());
        rerun_until_converged(&pair, &want, 1, &what);
    }
}

/// A second signal ends the run at once, even with a command stuck in
/// flight (the proxy holds it): exit 2 within moments. The snapshot stays
/// usable, and reruns converge with no duplicates.
#[test]
fn a_second_signal_stops_at_once_and_reruns_converge() {
    let (pair, proxy, want) = signal_scenario(4);
    proxy.arm(support::proxy::Fault::PauseOn {
        text: b"APPEND".to_vec(),
    });
    let child = pair.spawn("sync", &[], &[]);
    assert!(proxy.wait_paused(Duration::from_secs(30)), "no APPEND");
    send_signal(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    send_signal(&child, libc::SIGTERM);
    let out = support::imapmend::wait(child, Duration::from_secs(30), "sync (signalled twice)");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.code, Some(2), "{}", out.describe());
    assert!(
        out.stderr.contains("second stop signal"),
        "{}",
        out.describe()
    );
    proxy.resume();
    rerun_until_converged(&pair, &want, 3, "after a second signal");
}
