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

/// A no-op sync opens no mailbox: one flight per side after the login,
/// where the watermarks of the mailboxes the snapshot knows are asked by a
/// STATUS each ahead of the LIST (Dovecot answers those from its list
/// index; LIST-STATUS opens each mailbox's index, seconds at 300,000
/// messages): no SELECT, EXAMINE, FETCH or APPEND, and no STATUS of a
/// mailbox the snapshot does not name.
#[test]
fn a_no_op_sync_opens_no_mailbox() {
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
    // The run after a first sync is a no-op too: the first sync moved
    // B's watermarks past its own copies.
    let second = pair.run("sync", &["-vv"], &[]);
    assert_eq!(second.code, Some(0), "{}", second.describe());
    // One connection per side: on a loaded machine the pool could open
    // a second one, and the turns below would count its login.
    let noop = pair.run("sync", &["-vv", "--connections", "1"], &[]);
    assert_eq!(noop.code, Some(0), "{}", noop.describe());
    // -v prints the turns; a no-op is the login and one flight per side.
    assert!(
        noop.stdout
            .contains("Round trips: 2 turn(s) waiting for A, 2 for B"),
        "{}",
        noop.describe()
    );
    let [first, second, noop] = [&first, &second, &noop].map(|o| commands(&o.stderr));
    eprintln!(
        "first sync: {} commands {first:?}\nsecond: {} commands {second:?}\nno-op: {} commands {noop:?}",
        first.len(),
        second.len(),
        noop.len()
    );
    let per_mailbox = ["SELECT", "EXAMINE", "FETCH", "UID", "APPEND"];
    for (what, run) in [
        ("the rerun after the first sync", &second),
        ("a no-op", &noop),
    ] {
        assert!(
            !run.iter().any(|c| per_mailbox.contains(&c.as_str())),
            "{what} opened a mailbox: {run:?}"
        );
        // The snapshot's 4 mailboxes on each side, each once.
        let statuses = run.iter().filter(|c| *c == "STATUS").count();
        assert_eq!(statuses, 8, "{what}: {run:?}");
    }
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
/// being copied from is not opened again when listing left it selected,
/// nor the created one when its copies are confirmed.
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
    // Nor again after its copies, to confirm them: B's session still
    // holds it read-write.
    assert!(
        !on_work[append..].iter().any(|c| c.starts_with("SELECT")),
        "{on_work:?}"
    );
}

/// Turns per side, [A, B], a `--json` run reported.
fn turns(out: &support::imapmend::Outcome) -> [u64; 2] {
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}", out.describe()));
    let t = report["turns"].as_array().expect("turns in the report");
    [0, 1].map(|i| t[i].as_u64().expect("a count"))
}

/// The turn budget of a run (C11), against Dovecot, one connection per
/// side so that the count does not depend on when extra lanes open: a
/// first sync, the rerun right after it, a no-op, and an incremental run
/// with changes in two of the four mailboxes, and a run carrying one
/// deletion. The counts are printed for comparing builds.
#[test]
fn c11_turns_per_side_of_a_first_sync_a_no_op_and_an_incremental_run() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let mut ca = a.client();
    let mailboxes = ["INBOX", "Work", "Lists", "Lists.Rust"];
    for mailbox in &mailboxes[1..] {
        ca.create(mailbox);
    }
    for (i, mailbox) in mailboxes.iter().enumerate() {
        for n in 0..3 {
            ca.append(mailbox, &msg(&format!("turn-{i}-{n}")), &[], Some(DATE));
        }
    }
    let run = |what: &str| {
        let out = pair.run("sync", &["--json", "-vv", "--connections", "1"], &[]);
        assert_eq!(out.code, Some(0), "{what}: {}", out.describe());
        let t = turns(&out);
        eprintln!("{what}: turns A {} B {}", t[0], t[1]);
        for side in ["A", "B"] {
            let sent: Vec<&str> = out
                .stderr
                .lines()
                .filter_map(|l| l.split_once(&format!("{side}1 C: ")).map(|(_, c)| c))
                .collect();
            eprintln!("  {side}: {sent:?}");
        }
        t
    };
    let first = run("first sync");
    let rerun = run("rerun after the first sync");
    let noop = run("no-op");
    // Two of the four mailboxes change on A: a flag in Work, a new message
    // in Lists.
    let uid = ca.fetch_all("Work")[0].uid;
    ca.store("Work", &[uid], "+", &["\\Seen"]);
    ca.append("Lists", &msg("turn-new"), &[], Some(DATE));
    ca.logout();
    let incremental = run("incremental");
    let after = run("rerun after the incremental run");
    // A deletion in one mailbox: the Message-ID the log names comes in the
    // SELECT's flight (one UID FETCH more, no turn more).
    let mut ca = a.client();
    let uid = ca.fetch_all("Work")[1].uid;
    ca.expunge_uids("Work", &[uid]);
    ca.logout();
    let deletion = run("deletion");
    // The read-back that rode behind the UID EXPUNGE moved B's watermarks.
    let after_deletion = run("rerun after the deletion");
    // Two flag deltas and a deletion in one mailbox: on B the STOREs go
    // in one flight with the deletion's Message-ID behind them, and the
    // deletion needs no SELECT of its own.
    let mut ca = a.client();
    let uids: Vec<_> = ca.fetch_all("Lists").iter().map(|m| m.uid).collect();
    ca.store("Lists", &uids[..1], "+", &["\\Flagged"]);
    ca.store("Lists", &uids[1..2], "+", &["\\Answered"]);
    ca.expunge_uids("Lists", &uids[2..3]);
    ca.logout();
    let flags_and_deletion = run("flags and a deletion in one mailbox");
    let after_both = run("rerun after the flags and the deletion");

    let mailboxes = mailboxes.len() as u64;
    for side in 0..2 {
        assert!(noop[side] <= NOOP_TURNS, "no-op: {noop:?}");
        // The runs before moved the watermarks past their own writes.
        assert!(rerun[side] <= NOOP_TURNS, "rerun: {rerun:?}");
        assert!(
            incremental[side] <= NOOP_TURNS + INCREMENTAL_CONSTANT + PER_CHANGED * 2,
            "incremental: {incremental:?}"
        );
        assert!(
            after[side] <= NOOP_TURNS,
            "rerun after the incremental run: {after:?}"
        );
        assert!(
            deletion[side] <= NOOP_TURNS + DELETION_EXTRA,
            "deletion: {deletion:?}"
        );
        assert!(
            after_deletion[side] <= NOOP_TURNS,
            "rerun after the deletion: {after_deletion:?}"
        );
        assert!(
            flags_and_deletion[side] <= NOOP_TURNS + FLAGS_AND_DELETION_EXTRA,
            "flags and a deletion: {flags_and_deletion:?}"
        );
        assert!(
            after_both[side] <= NOOP_TURNS,
            "rerun after the flags and the deletion: {after_both:?}"
        );
        // A, only read: one flight for every changed mailbox (each one's
        // SELECT, change history and new bodies), which the copy takes.
        if side == 0 {
            assert!(
                incremental[0] <= NOOP_TURNS + READ_AHEAD,
                "incremental, A: {incremental:?}"
            );
            assert!(deletion[0] <= NOOP_TURNS + 1, "deletion, A: {deletion:?}");
            assert!(
                flags_and_deletion[0] <= NOOP_TURNS + 1,
                "flags and a deletion, A: {flags_and_deletion:?}"
            );
        }
        // One APPEND batch per mailbox to B.
        assert!(
            first[side] <= FIRST_CONSTANT + FIRST_PER_MAILBOX * mailboxes,
            "first sync: {first:?}"
        );
    }
}

// The budget, in turns per side. When turns were first counted (one
// command per turn) a no-op took 4 (AUTHENTICATE, ENABLE, LIST-STATUS,
// LIST SUBSCRIBED), the rerun after a first sync 12 on B (SELECT +
// CHANGEDSINCE of each mailbox it wrote to), incremental 11/12, first sync
// 20/31. With ENABLE, LIST-STATUS and LIST SUBSCRIBED in one flight and
// LOGOUT not waited for: 2, 10, 9/10, 18/29. With the watermarks moved
// past a run's own writes (the read-back EXAMINE and CHANGEDSINCE in one
// flight): the rerun after a sync 2. With the reads behind the SELECT
// or EXAMINE that opens their mailbox (a copy's first bodies, the
// listing and read-back of what was just appended) and no second SELECT
// before a STORE where the session holds the mailbox: incremental 8/8,
// first sync 14/21. With a listed mailbox's SELECT and its change
// history in one flight (gather): incremental 6/8, deletion 3/5. With the
// read-back behind the UID EXPUNGE: deletion 3/4. With a side's STOREs
// in one flight and a deletion's Message-ID read in it: two deltas and a
// deletion in one mailbox 3/5 (3/8 before); with the read-back behind
// the STOREs where they are the last write: incremental 6/7.
const NOOP_TURNS: u64 = 2;
/// Reading every changed mailbox, new bodies included, on the side they
/// come from: one flight (gather::ahead), the copy taking the bodies kept
/// (was 2 per changed mailbox, then 1 more to read the bodies again).
const READ_AHEAD: u64 = 1;
/// On B: the read-back of a mailbox whose last write is its flag STOREs
/// rides behind them (it had a turn of its own: 2).
const INCREMENTAL_CONSTANT: u64 = 1;
/// Per mailbox that changed.
const PER_CHANGED: u64 = 2;
/// A deletion in one mailbox, on the side it is carried to: SELECT (with
/// the UID FETCH of the Message-ID for the action log in its flight), then
/// UID STORE + UID EXPUNGE with the EXAMINE and CHANGEDSINCE that record
/// what was seen behind them in one flight: 4 turns on B (5 before the
/// read-back rode with the expunge).
const DELETION_EXTRA: u64 = 2;
/// Two flag deltas and a deletion in one mailbox, on the side they are
/// carried to: SELECT; both STOREs in one flight with the UID FETCH of
/// the deletion's Message-ID behind them; UID STORE `\Deleted` + UID
/// EXPUNGE with the read-back behind them, the mailbox still held: 3
/// (one STORE per delta and a SELECT of the deletion's own: 6).
const FLAGS_AND_DELETION_EXTRA: u64 = 3;
const FIRST_CONSTANT: u64 = 5;
/// Per mailbox (with one APPEND batch each): on B its CREATE, SELECT,
/// APPEND, and the flight listing and reading back what was appended.
const FIRST_PER_MAILBOX: u64 = 4;

/// The rows a run read from the snapshot, from `-v`'s "snapshot: N rows
/// read" line.
fn snapshot_rows(out: &support::imapmend::Outcome) -> u64 {
    out.snapshot_rows()
}

/// What a run reads from the snapshot (`-v`: "snapshot: N rows read"),
/// against Dovecot, on an account of 2,000 messages in INBOX and two small
/// mailboxes: the first sync, which copies them all, leaves every mailbox
/// marked settled (its read-back showed only its own copies), so the first
/// rerun after it reads a few rows per mailbox, never a row per message
/// (it read 6,027 before), as does every no-op after it; an incremental
/// run reads the rows of the mailbox that changed and, having stored the
/// flag, marks it settled again, so the run after it reads nothing more
/// (before the snapshot was an index, each of these runs read 6,024 rows).
#[test]
fn a_no_op_run_reads_no_snapshot_row_per_message() {
    const MESSAGES: usize = 2_000;
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let bodies: Vec<(String, Vec<u8>)> = (0..MESSAGES)
        .map(|n| (format!("big{n}"), msg(&format!("rows-{n}"))))
        .collect();
    a.put_in_maildir(bodies.iter().map(|(name, b)| (name.as_str(), &b[..], "")));
    let mut ca = a.client();
    for mailbox in ["Work", "Lists"] {
        ca.create(mailbox);
        for n in 0..3 {
            ca.append(
                mailbox,
                &msg(&format!("rows-{mailbox}-{n}")),
                &[],
                Some(DATE),
            );
        }
    }
    let run = |what: &str| {
        let out = pair.run("sync", &["-v"], &[]);
        assert_eq!(out.code, Some(0), "{what}: {}", out.describe());
        let rows = snapshot_rows(&out);
        eprintln!("{what}: {rows} snapshot rows read");
        rows
    };
    let first = pair.run("sync", &["-v"], &[]);
    assert_eq!(first.code, Some(0), "first sync: {}", first.describe());
    for mailbox in ["INBOX", "Work", "Lists"] {
        assert!(
            first
                .stderr
                .contains(&format!("{mailbox}: settled by this run's writes")),
            "{mailbox}: {}",
            first.describe()
        );
    }
    // Selects nothing (the first sync moved B's watermarks past its own
    // copies, C12) and reads no row of a message: every mailbox is settled.
    let rerun = run("rerun after the first sync");
    let noop = run("no-op");
    // A flag in Work, which holds 3 messages.
    let uid = ca.fetch_all("Work")[0].uid;
    ca.store("Work", &[uid], "+", &["\\Seen"]);
    ca.logout();
    let incremental = run("incremental, in Work");
    let after = run("after the incremental run");
    let mailboxes = 3;
    assert!(
        rerun <= ROWS_PER_MAILBOX * mailboxes,
        "the first rerun after the first sync read {rerun} rows for {mailboxes} mailboxes"
    );
    assert!(
        after <= ROWS_PER_MAILBOX * mailboxes,
        "the rerun after a flag was stored read {after} rows"
    );
    assert!(
        noop <= ROWS_PER_MAILBOX * mailboxes,
        "a no-op read {noop} rows for {mailboxes} mailboxes of {MESSAGES} messages"
    );
    assert!(
        incremental <= ROWS_PER_MAILBOX * mailboxes + 4 * 3,
        "a change in Work read {incremental} rows"
    );
}

/// A `check` that must list a mailbox in full though the snapshot knows
/// it (not settled, no HIGHESTMODSEQ saved: what a server without
/// CONDSTORE leaves) matches each listing to the cache rows as they are
/// read, in UID order: every row read once, none held whole (`-v`:
/// "snapshot: 0 cache rows held whole"; before, both sides' caches were
/// loaded, 2 × 300 rows, and a map of each built beside them), no body
/// read (each row vouched for its message), and a flag changed on A since
/// is still a difference.
#[test]
fn a_full_listing_check_holds_no_cache_whole() {
    const MESSAGES: usize = 300;
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let bodies: Vec<(String, Vec<u8>)> = (0..MESSAGES)
        .map(|n| (format!("full{n}"), msg(&format!("full-{n}"))))
        .collect();
    a.put_in_maildir(bodies.iter().map(|(name, b)| (name.as_str(), &b[..], "")));
    let first = pair.run("sync", &[], &[]);
    assert_eq!(first.code, Some(0), "first sync: {}", first.describe());
    let db = rusqlite::Connection::open(pair.state_path()).unwrap();
    db.execute_batch(
        "UPDATE mailbox SET a_settled = NULL, b_settled = NULL,
         a_highestmodseq = NULL, b_highestmodseq = NULL",
    )
    .unwrap();
    drop(db);
    let check = |what: &str, code: i32| {
        let out = pair.run("check", &["-vv"], &[]);
        assert_eq!(out.code, Some(code), "{what}: {}", out.describe());
        assert!(
            out.stderr.contains("A listed by full") && out.stderr.contains("B listed by full"),
            "{what}: {}",
            out.describe()
        );
        assert!(
            out.stdout.contains("snapshot: 0 cache rows held whole"),
            "{what}: {}",
            out.describe()
        );
        let rows = snapshot_rows(&out);
        let cache = 2 * MESSAGES as u64;
        assert!(
            (cache..=cache + MESSAGES as u64 + 2 * ROWS_PER_MAILBOX).contains(&rows),
            "{what}: {rows} rows read for {MESSAGES} pairs and {cache} cache rows"
        );
        let bodies = sent(&out.stderr)
            .iter()
            .filter(|c| c.contains("BODY"))
            .count();
        assert_eq!(bodies, 0, "{what}: bodies read: {}", out.describe());
        eprintln!("{what}: {rows} snapshot rows read");
    };
    check("agreeing", 0);
    let mut ca = a.client();
    let uid = ca.fetch_all("INBOX")[7].uid;
    ca.store("INBOX", &[uid], "+", &["\\Flagged"]);
    ca.logout();
    check("a flag changed on A", 1);
}

/// Snapshot rows a run may read per mailbox it does not list: its row,
/// and a look-up or two (the highest UID known per side).
const ROWS_PER_MAILBOX: u64 = 4;

/// C12: a sync moves the watermarks of what it wrote to past its own
/// writes only when nothing else changed there. Here another client
/// writes to B while the sync is held (at the proxy) just before it reads
/// B back — a new message, then a flag, then an expunge, one per sync —
/// and the next run must still see each and carry it to A; the sync's
/// `-v` says why it left B's watermarks, and that it did not mark the
/// mailbox settled. With the watermarks moved or the mark set anyway, the
/// next run would find B unchanged and miss them.
#[test]
fn c12_another_clients_write_before_the_read_back_is_seen_next_run() {
    use std::time::Duration;
    use support::proxy::{Fault, Proxy};
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(b.port);
    let mut pair = Pair::new(&a, &b);
    pair.b_port = proxy.port();
    let mut ca = a.client();
    for n in 0..3 {
        ca.append("INBOX", &msg(&format!("c12-{n}")), &[], Some(DATE));
    }
    ca.logout();
    // Runs a sync held before it reads B back while `meanwhile` writes to
    // B; returns its -v output.
    let held_sync = |what: &str, meanwhile: &dyn Fn()| {
        proxy.arm(Fault::PauseOn {
            text: b"(UID FLAGS MODSEQ) (CHANGEDSINCE".to_vec(),
        });
        let run = pair.spawn("sync", &["-v", "--connections", "1"], &[]);
        assert!(
            proxy.wait_paused(Duration::from_secs(60)),
            "{what}: never read B back"
        );
        meanwhile();
        proxy.resume();
        let out = support::imapmend::wait(run, Duration::from_secs(60), what);
        assert_eq!(out.code, Some(0), "{what}: {}", out.describe());
        assert!(
            out.stderr
                .contains("B is read from its history again next run"),
            "{what}: {}",
            out.describe()
        );
        // Nor is the mailbox marked settled: the next run must read it.
        assert!(
            out.stderr
                .contains("INBOX: not marked settled: B showed more than this run's writes"),
            "{what}: {}",
            out.describe()
        );
        out
    };
    let on_a = |n: usize| {
        let all = a.client().fetch_all("INBOX");
        assert_eq!(all.len(), n, "A: {all:?}");
        all
    };

    // 1. The first sync copies A's three; meanwhile B gets a fourth.
    held_sync("first sync", &|| {
        b.client()
            .append("INBOX", &msg("c12-new-on-b"), &[], Some(DATE));
    });
    let next = pair.run("sync", &["-v"], &[]);
    assert_eq!(next.code, Some(0), "{}", next.describe());
    on_a(4);

    // 2. A flag on A for B to store; meanwhile \Flagged on another on B.
    let mut ca = a.client();
    let uids: Vec<u32> = ca.fetch_all("INBOX").iter().map(|m| m.uid).collect();
    ca.store("INBOX", &uids[..1], "+", &["\\Seen"]);
    ca.logout();
    held_sync("flag sync", &|| {
        let mut cb = b.client();
        let last = cb.fetch_all("INBOX").last().expect("mail on B").uid;
        cb.store("INBOX", &[last], "+", &["\\Flagged"]);
    });
    pair.expect("sync", &[], 0);
    let flagged = on_a(4)
        .iter()
        .filter(|m| m.flags.iter().any(|f| f == "\\Flagged"))
        .count();
    assert_eq!(flagged, 1, "B's flag carried to A");

    // 3. A new message on A for B; meanwhile one expunged on B.
    let mut ca = a.client();
    ca.append("INBOX", &msg("c12-late"), &[], Some(DATE));
    ca.logout();
    held_sync("expunge sync", &|| {
        let mut cb = b.client();
        let first = cb.fetch_all("INBOX")[0].uid;
        cb.expunge_uids("INBOX", &[first]);
    });
    pair.expect("sync", &[], 0);
    on_a(4);
}

/// An incremental run in a mailbox a sync found settled reads the rows of
/// what changed, not of the mailbox (the changed subset,
/// `gather::subset`): on 2,000 messages, 5 flags and 5 new messages on A,
/// 2 flags and 3 expunges on B read a few dozen rows (the full load reads
/// over 8,000) — and the run does what the full listing would: the flags
/// carried both ways, the new mail copied, B's expunges propagated (proven
/// by the pairs), and a check after it agrees, reading nothing (the sync
/// marked the mailbox settled after its writes).
#[test]
fn an_incremental_run_reads_the_rows_of_what_changed() {
    const MESSAGES: usize = 2_000;
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let bodies: Vec<(String, Vec<u8>)> = (0..MESSAGES)
        .map(|n| (format!("sub{n}"), msg(&format!("subset-{n}"))))
        .collect();
    a.put_in_maildir(bodies.iter().map(|(name, b)| (name.as_str(), &b[..], "")));
    let run = |verb: &str, what: &str| {
        let out = pair.run(verb, &["-v"], &[]);
        assert_eq!(out.code, Some(0), "{what}: {}", out.describe());
        snapshot_rows(&out)
    };
    run("sync", "first sync");
    run("sync", "rerun, which finds INBOX settled");
    let (mut ca, mut cb) = (a.client(), b.client());
    let on = |listed: &[support::mailclient::Fetched], n: usize| {
        let body = msg(&format!("subset-{n}"));
        listed.iter().find(|m| m.body == body).expect("listed").uid
    };
    let (listed_a, listed_b) = (ca.fetch_all("INBOX"), cb.fetch_all("INBOX"));
    let seen: Vec<u32> = (10..15).map(|n| on(&listed_a, n)).collect();
    ca.store("INBOX", &seen, "+", &["\\Seen"]);
    for n in 0..5 {
        ca.append("INBOX", &msg(&format!("subset-new-{n}")), &[], Some(DATE));
    }
    let flagged: Vec<u32> = (200..202).map(|n| on(&listed_b, n)).collect();
    cb.store("INBOX", &flagged, "+", &["\\Flagged"]);
    let gone: Vec<u32> = (300..303).map(|n| on(&listed_b, n)).collect();
    cb.expunge_uids("INBOX", &gone);
    let rows = run("sync", "incremental");
    eprintln!("incremental: {rows} snapshot rows read");
    let changes = 5 + 5 + 2 + 3;
    assert!(
        rows <= ROWS_PER_MAILBOX + 4 * changes,
        "{changes} changes in a mailbox of {MESSAGES} read {rows} rows"
    );
    let (listed_a, listed_b) = (ca.fetch_all("INBOX"), cb.fetch_all("INBOX"));
    assert_eq!(listed_a.len(), MESSAGES + 5 - 3);
    assert_eq!(listed_b.len(), MESSAGES + 5 - 3);
    let flags = |listed: &[support::mailclient::Fetched], n: usize| {
        let body = msg(&format!("subset-{n}"));
        let m = listed.iter().find(|m| m.body == body);
        m.map(|m| m.flags.clone())
    };
    for n in 10..15 {
        let on_b = flags(&listed_b, n).expect("kept on B");
        assert!(on_b.iter().any(|f| f == "\\Seen"), "{n}: {on_b:?}");
    }
    for n in 200..202 {
        let on_a = flags(&listed_a, n).expect("kept on A");
        assert!(on_a.iter().any(|f| f == "\\Flagged"), "{n}: {on_a:?}");
    }
    for n in 300..303 {
        assert_eq!(flags(&listed_a, n), None, "{n}: expunged on B, kept on A");
    }
    for n in 0..5 {
        let body = msg(&format!("subset-new-{n}"));
        assert!(listed_b.iter().any(|m| m.body == body), "new {n} not on B");
    }
    ca.logout();
    cb.logout();
    // The sync proved the subset settled after its writes (`apply::settled`):
    // the check after it reads no row of the mailbox.
    let after = run("check", "check after the incremental run");
    assert!(
        after <= ROWS_PER_MAILBOX,
        "the check after the incremental run read {after} rows"
    );
}

/// The bodies the listing reads ahead are bounded: a new message longer
/// than gather::ahead's BODY_LIMIT (128 KiB) came cut short in the flight,
/// so it is read whole as before (for its fingerprint, then by the copy),
/// while the small one beside it is read once, in the flight, and copied
/// from what was kept. Both land on B.
#[test]
fn a_new_body_over_the_read_ahead_budget_is_read_again() {
    let (a, b) = dovecot::pair(Kind::Full);
    let pair = Pair::new(&a, &b);
    let mut ca = a.client();
    ca.append("INBOX", &msg("ahead-old"), &[], Some(DATE));
    let out = pair.run("sync", &[], &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    ca.append("INBOX", &msg("ahead-small"), &[], Some(DATE));
    let big = support::mail::msg_of_size("ahead-big", 200 * 1024);
    ca.append("INBOX", &big, &[], Some(DATE));
    ca.logout();
    let out = pair.run("sync", &["-vv", "--connections", "1"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let on_a: Vec<&str> = (out.stderr.lines())
        .filter_map(|l| l.split_once(" A1 C: ")?.1.split_once(' ').map(|(_, c)| c))
        .collect();
    assert!(
        on_a.contains(&"UID FETCH 2:3 (UID BODY.PEEK[]<0.131072>)"),
        "both new bodies asked ahead: {on_a:?}"
    );
    let whole: Vec<&str> = (on_a.iter().copied())
        .filter(|c| c.ends_with("(UID BODY.PEEK[])"))
        .collect();
    assert_eq!(
        whole,
        [
            "UID FETCH 3 (UID BODY.PEEK[])",
            "UID FETCH 3 (UID BODY.PEEK[])"
        ],
        "only the big one read whole, twice: {on_a:?}"
    );
    assert_eq!(b.client().fetch_all("INBOX").len(), 3);
}
