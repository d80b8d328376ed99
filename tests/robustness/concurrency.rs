//! Concurrency: a second run on a snapshot in use is refused (exit 4 for
//! sync and plan, 3 for check) while the first holds it, paused at the
//! proxy; a killed holder does not block the next run; runs on different
//! snapshots take turns. Mail arriving and flags changing on both servers
//! while a sync runs (C1) are not lost: after one more quiet run A equals B.

use super::*;

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
