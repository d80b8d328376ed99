//! `check --scrub` and `sync --scrub` against real Dovecot: damage done to
//! B's Maildir behind the server's back (a file overwritten with bytes of
//! the same length, cut short, emptied) is found in the run whose slice
//! re-reads it — never before — and `sync --scrub` replaces it from A with
//! nothing lost; the guard counts damage across runs.

mod support;

use std::path::{Path, PathBuf};
use support::dovecot::{self, Kind, User};
use support::imapmend::Pair;
use support::oracle::{assert_sides_equal, read_side};

/// Message `i`: small, unique, with a line a test can find on disk.
fn message(i: usize) -> Vec<u8> {
    format!("Message-ID: <m{i}@scrub.test>\r\nSubject: m{i}\r\n\r\nThis is message {i:04}.\r\n")
        .into_bytes()
}

/// A pair whose A holds `n` messages in INBOX, synced to an empty B.
fn synced(n: usize) -> Pair {
    let (a, b) = dovecot::pair(Kind::Full);
    let bodies: Vec<(String, Vec<u8>)> = (1..=n).map(|i| (format!("m{i}"), message(i))).collect();
    a.put_in_maildir(bodies.iter().map(|(name, b)| (name.as_str(), &b[..], "")));
    let pair = Pair::new(&a, &b);
    pair.expect("sync", &[], 0);
    pair
}

/// The Maildir file of B's INBOX that holds UID `uid`.
fn file_of_uid(user: &User, uid: u32) -> PathBuf {
    let mut client = user.client();
    let fetched = client.fetch_all("INBOX");
    client.logout();
    let body = &fetched.iter().find(|f| f.uid == uid).expect("the UID").body;
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .find(|l| l.starts_with("This is message"))
        .expect("a scrub test message")
        .to_string();
    let maildir = user.maildir();
    ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(maildir.join(d)).into_iter().flatten())
        .map(|e| e.unwrap().path())
        .find(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).contains(&line))
        .unwrap_or_else(|| panic!("no file holds {line:?} in {maildir:?}"))
}

/// Same length, other bytes (a flipped block on disk).
fn overwrite(file: &Path) {
    let text = String::from_utf8(std::fs::read(file).unwrap()).unwrap();
    std::fs::write(file, text.replace("This is message", "This is #######")).unwrap();
}

/// Cut short.
fn truncate(file: &Path) {
    let len = std::fs::metadata(file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(len - 8)
        .unwrap();
}

/// Emptied (a zero-length file after a crash).
fn empty(file: &Path) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(0)
        .unwrap();
}

/// One run with `--json`: its exit code and report, valid against the
/// published schema (schema/report.schema.json).
fn json_run(pair: &Pair, verb: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let out = pair.run(verb, &args, &[]);
    let report =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.describe()));
    (out.code.unwrap_or(-1), report)
}

/// The UIDs the report says were scrubbed on `side`, and those found
/// damaged or undeliverable.
fn scrubbed(report: &serde_json::Value, side: &str) -> (Vec<u64>, Vec<(u64, String)>) {
    let all = report["scrub"]["scrubbed"]
        .as_array()
        .expect("a scrub report");
    let on_side = all.iter().filter(|s| s["side"] == side);
    let uids = on_side
        .clone()
        .map(|s| s["uid"].as_u64().unwrap())
        .collect();
    let found = on_side
        .filter(|s| s["result"] != "intact")
        .map(|s| {
            (
                s["uid"].as_u64().unwrap(),
                s["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (uids, found)
}

/// The report's entry for UID `uid` scrubbed on `side`.
fn scrubbed_entry(report: &serde_json::Value, side: &str, uid: u64) -> serde_json::Value {
    let all = report["scrub"]["scrubbed"]
        .as_array()
        .expect("a scrub report");
    let entry = all.iter().find(|s| s["uid"] == uid && s["side"] == side);
    entry
        .cloned()
        .unwrap_or_else(|| panic!("UID {uid} on {side} not scrubbed"))
}

/// S1: 100 messages, `--scrub 10%`: each run re-reads the ten verified
/// longest ago (never verified first, by UID); B's UID 25, overwritten
/// with bytes of the same length, passes runs 1 and 2 unseen (exit 0) and
/// is named in run 3, with A's good copy; it stays the oldest (never
/// verified) and is found again until `sync --scrub` replaces it from A.
#[test]
fn s1_damage_in_place_is_found_when_its_slice_is_read_and_sync_replaces_it() {
    let pair = synced(100);
    overwrite(&file_of_uid(&pair.b, 25));
    // The normal check trusts the recorded fingerprints: nothing shows.
    pair.expect("check", &[], 0);
    for run in 1..=3u64 {
        let (code, report) = json_run(&pair, "check", &["--scrub", "10%"]);
        let (uids, found) = scrubbed(&report, "B");
        let slice: Vec<u64> = (10 * (run - 1) + 1..=10 * run).collect();
        assert_eq!(uids, slice, "run {run}: {report:#}");
        assert_eq!(scrubbed(&report, "A").0, slice, "run {run}");
        if run < 3 {
            assert_eq!((code, found), (0, vec![]), "run {run}: {report:#}");
        } else {
            assert_eq!(code, 1, "{report:#}");
            assert_eq!(found, vec![(25, "damaged".to_string())]);
            let finding = &scrubbed_entry(&report, "B", 25);
            assert_eq!(finding["partner_good"], true, "{finding}");
            assert_eq!(finding["last_verified"], serde_json::Value::Null);
        }
    }
    let text = pair.expect("check", &["--scrub", "10%"], 1).stdout;
    assert!(
        text.contains("INBOX: UID 25 on B is DAMAGED")
            && text.contains("A still holds a good copy"),
        "{text}"
    );
    let a_before = read_side(&pair.a);
    pair.expect("sync", &["--scrub", "10%"], 0);
    assert_eq!(read_side(&pair.a), a_before, "A is never touched");
    assert_sides_equal(&read_side(&pair.a), &read_side(&pair.b));
    pair.expect("check", &["--scrub", "10%"], 0);
}

/// S2: a file cut short and a file emptied on B: `check --scrub` names
/// both (Dovecot does not deliver them); on a second pair damaged alike,
/// `sync --scrub` replaces both from A: nothing lost, both sides equal.
/// (Once Dovecot has failed to serve such a file it lists its shorter
/// size: a later run sees B as regressed and copies A's message back to
/// it beside the broken one, as without a scrub.)
#[test]
fn s2_truncated_and_emptied_files_are_found_and_replaced_from_the_healthy_side() {
    let damaged = || {
        let pair = synced(20);
        // Both found before either is damaged: Dovecot drops the
        // connection that fetches a file cut short.
        let (cut, emptied) = (file_of_uid(&pair.b, 4), file_of_uid(&pair.b, 7));
        truncate(&cut);
        empty(&emptied);
        pair
    };
    let checked = damaged();
    let (code, report) = json_run(&checked, "check", &["--scrub", "100%"]);
    let (_, found) = scrubbed(&report, "B");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        found,
        vec![
            (4, "undeliverable".to_string()),
            (7, "undeliverable".to_string())
        ],
        "{report:#}"
    );
    let synced = damaged();
    let a_before = read_side(&synced.a);
    let (code, report) = json_run(&synced, "sync", &["--scrub", "100%"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(scrubbed(&report, "B").1.len(), 2, "{report:#}");
    assert_eq!(read_side(&synced.a), a_before, "A is never touched");
    assert_sides_equal(&read_side(&synced.a), &read_side(&synced.b));
}

/// S3: the guard counts damage across runs: with `--max-delete 5`, a sync
/// whose slice finds 3 damaged messages replaces them; the next, finding
/// 3 more (6 within the recent runs), withholds every replacement (exit
/// 4): B looks like failing storage, not a few bad files.
#[test]
fn s3_damage_found_across_runs_beyond_the_guard_is_withheld() {
    let pair = synced(40);
    for uid in [2, 5, 8, 12, 15, 18] {
        overwrite(&file_of_uid(&pair.b, uid));
    }
    let guard = ["--scrub", "25%", "--max-delete", "5"];
    let (code, report) = json_run(&pair, "sync", &guard);
    assert_eq!(scrubbed(&report, "B").1.len(), 3, "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    let out = pair.run("sync", &guard, &[]);
    assert_eq!(out.code, Some(4), "{}", out.describe());
    assert!(
        out.stdout.contains("were found damaged by recent scrubs"),
        "{}",
        out.stdout
    );
    // Nothing was expunged on B: the three damaged messages are still there.
    let mut client = pair.b.client();
    let b = client.fetch_all("INBOX");
    client.logout();
    for uid in [12, 15, 18] {
        assert!(b.iter().any(|f| f.uid == uid as u32), "UID {uid} kept");
    }
}

const DAY: i64 = 86_400;

/// The value `series` has for INBOX on `side` ("a" or "b") in the
/// metrics file at `prom`.
fn metric(prom: &Path, series: &str, side: &str) -> f64 {
    let text = std::fs::read_to_string(prom).unwrap();
    let labels = format!(",mailbox=\"INBOX\",side=\"{side}\"}} ");
    text.lines()
        .find(|l| l.starts_with(&format!("{series}{{")) && l.contains(&labels))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} for INBOX on {side} in:\n{text}"))
}

/// `snapshot show --json` of the pair's snapshot: its coverage rows for
/// INBOX, [A, B].
fn shown_coverage(pair: &Pair) -> [serde_json::Value; 2] {
    let state = pair.state_path();
    let out = support::imapmend::bare()
        .args(["snapshot", "show", "--json", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |side: &str| {
        shown["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["mailbox"] == "INBOX" && c["side"] == side)
            .cloned()
            .unwrap_or_else(|| panic!("no coverage of INBOX on {side}: {shown:#}"))
    };
    [row("A"), row("B")]
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// S4: coverage across runs. 40 messages that arrived ten days ago,
/// `check --scrub 25% --metrics`: after run k the share verified within
/// 30 days is k/4 on both sides and the never-verified count 40 − 10k;
/// the oldest age is ten days (a message never verified ages from its
/// INTERNALDATE) until run 4 has verified everything, then minutes.
/// `snapshot show` says the same. Then A's verifications are moved back
/// in the snapshot (UID i verified i days and an hour ago): the next run
/// re-reads the ten oldest (UIDs 31–40), and the oldest age is UID 30's,
/// 30 days and an hour, the share 39/40.
#[test]
fn s4_coverage_follows_the_budget_across_runs_in_metrics_and_snapshot_show() {
    let (a, b) = dovecot::pair(Kind::Full);
    let bodies: Vec<(String, Vec<u8>)> = (1..=40).map(|i| (format!("m{i}"), message(i))).collect();
    a.put_in_maildir(bodies.iter().map(|(name, b)| (name.as_str(), &b[..], "")));
    // Dovecot's Maildir INTERNALDATE is the file's mtime: ten days ago.
    let arrived = unix_now() - 10 * DAY;
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(arrived as u64);
    for entry in std::fs::read_dir(a.maildir().join("cur")).unwrap() {
        let file = std::fs::File::options()
            .write(true)
            .open(entry.unwrap().path())
            .unwrap();
        file.set_modified(at).unwrap();
    }
    let pair = Pair::new(&a, &b);
    pair.expect("sync", &[], 0);
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("check.prom");
    let args = ["--scrub", "25%", "--metrics", prom.to_str().unwrap()];
    const AGE: &str = "imapmend_mailbox_scrub_oldest_age_seconds";
    const SHARE: &str = "imapmend_mailbox_scrub_verified_30d_ratio";
    const NEVER: &str = "imapmend_mailbox_scrub_never_verified";
    for run in 1..=4i64 {
        pair.expect("check", &args, 0);
        let verified = 10 * run;
        for side in ["a", "b"] {
            let what = format!("run {run}, side {side}");
            assert_eq!(metric(&prom, SHARE, side), verified as f64 / 40.0, "{what}");
            assert_eq!(metric(&prom, NEVER, side), (40 - verified) as f64, "{what}");
            let age = metric(&prom, AGE, side) as i64;
            // Measured during the run, which took less than minutes.
            let expected = if run < 4 {
                unix_now() - arrived - 300..=unix_now() - arrived
            } else {
                0..=300
            };
            assert!(
                expected.contains(&age),
                "{what}: oldest age {age}, not in {expected:?}"
            );
        }
        if run == 2 {
            for (side, c) in ["A", "B"].iter().zip(shown_coverage(&pair)) {
                assert_eq!(
                    (&c["messages"], &c["verified_since"], &c["never_verified"]),
                    (&40.into(), &20.into(), &20.into()),
                    "{side}: {c}"
                );
                assert_eq!(c["oldest_unverified_arrival"], arrived, "{side}: {c}");
            }
            let text = support::imapmend::bare()
                .args(["snapshot", "show", "--state"])
                .arg(pair.state_path())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&text.stdout);
            assert!(
                text.contains("Scrub coverage") && text.contains("20 (50.0%)"),
                "{text}"
            );
        }
    }

    // Time passes: A's UID i was last verified i days and an hour ago.
    let now = unix_now();
    let db = rusqlite::Connection::open(pair.state_path()).unwrap();
    db.execute(
        "UPDATE message SET verified_at = ?1 - uid * 86400 - 3600 WHERE side = 'A'",
        [now],
    )
    .unwrap();
    drop(db);
    let (code, report) = json_run(&pair, "check", &args);
    assert_eq!(code, 0, "{report:#}");
    let (mut uids, _) = scrubbed(&report, "A");
    uids.sort();
    assert_eq!(uids, (31..=40).collect::<Vec<u64>>(), "the oldest first");
    assert_eq!(metric(&prom, SHARE, "a"), 39.0 / 40.0);
    assert_eq!(metric(&prom, NEVER, "a"), 0.0);
    let age = metric(&prom, AGE, "a") as i64;
    let expected = now - (now - 30 * DAY - 3600)..=unix_now() - (now - 30 * DAY - 3600);
    assert!(
        expected.contains(&age),
        "oldest age {age}, not in {expected:?}"
    );
    assert_eq!(metric(&prom, SHARE, "b"), 1.0);
    let [a_shown, _] = shown_coverage(&pair);
    assert_eq!(a_shown["verified_since"], 39, "{a_shown}");
    assert_eq!(
        a_shown["oldest_verified"],
        now - 30 * DAY - 3600,
        "{a_shown}"
    );
}

/// What a client sent over one side's recording proxy: per command, its
/// verb (`UID FETCH` as two words) and its first argument, unquoted.
fn sent(proxy: &support::proxy::Proxy) -> Vec<(String, String)> {
    let stream = proxy.recorded(support::proxy::Dir::ToServer);
    support::proxy::commands(&stream)
        .into_iter()
        .filter_map(|c| {
            let mut words = c.words.into_iter().skip(1);
            let mut verb = words.next()?.to_uppercase();
            if verb == "UID" {
                verb = format!("UID {}", words.next()?.to_uppercase());
            }
            let arg = words.next().unwrap_or_default();
            Some((verb, arg.trim_matches('"').to_string()))
        })
        .collect()
}

/// S5: a scrub is cheap when nothing changed. INBOX and Zzz hold 20
/// messages each and LIST-STATUS shows both unchanged (a check after the
/// sync has listed them): a plain `check` opens neither; `check --scrub 25%` (10 per side) opens, on each side,
/// only the mailbox its slice re-reads, read-only (one EXAMINE: INBOX in
/// runs 1 and 2, Zzz in run 3), never SELECTs, and sends no write.
#[test]
fn s5_a_scrub_of_unchanged_mailboxes_examines_only_its_slice_and_writes_nothing() {
    let (a, b) = dovecot::pair(Kind::Full);
    let bodies: Vec<(String, Vec<u8>)> = (1..=20).map(|i| (format!("m{i}"), message(i))).collect();
    a.put_in_maildir(bodies.iter().map(|(name, b)| (name.as_str(), &b[..], "")));
    let mut client = a.client();
    client.create("Zzz");
    for i in 21..=40 {
        client.append("Zzz", &message(i), &[], None);
    }
    client.logout();
    let proxies = [
        support::proxy::Proxy::start(a.port),
        support::proxy::Proxy::start(b.port),
    ];
    let pair = Pair {
        a_port: proxies[0].port(),
        b_port: proxies[1].port(),
        ..Pair::new(&a, &b)
    };
    pair.expect("sync", &[], 0);
    // The first sync leaves B's watermarks as they were before its own
    // APPENDs; a second one records them, and from then on LIST-STATUS
    // shows both mailboxes unchanged on both sides.
    pair.expect("sync", &[], 0);
    const WRITES: [&str; 16] = [
        "APPEND",
        "STORE",
        "UID STORE",
        "EXPUNGE",
        "UID EXPUNGE",
        "COPY",
        "UID COPY",
        "MOVE",
        "UID MOVE",
        "CREATE",
        "DELETE",
        "RENAME",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "SETMETADATA",
        "SETACL",
    ];
    let runs: [(&[&str], &[&str]); 4] = [
        (&[], &[]),
        (&["--scrub", "25%"], &["INBOX"]),
        (&["--scrub", "25%"], &["INBOX"]),
        (&["--scrub", "25%"], &["Zzz"]),
    ];
    for (run, (scrub, opened)) in runs.iter().enumerate() {
        for p in &proxies {
            p.record();
        }
        let mut args = vec!["--no-compress"];
        args.extend_from_slice(scrub);
        pair.expect("check", &args, 0);
        for (p, side) in proxies.iter().zip(["A", "B"]) {
            let sent = sent(p);
            let what = format!("run {run}, side {side}: {sent:?}");
            let count = |verb: &str| sent.iter().filter(|(v, _)| v == verb).count();
            let examined: Vec<&str> = sent
                .iter()
                .filter(|(v, _)| v == "EXAMINE")
                .map(|(_, m)| m.as_str())
                .collect();
            assert_eq!(examined, *opened, "{what}");
            assert_eq!(count("SELECT"), 0, "{what}");
            for write in WRITES {
                assert_eq!(count(write), 0, "{write} in {what}");
            }
            // The bodies, only where a slice is read.
            assert_eq!(count("UID FETCH") > 0, !opened.is_empty(), "{what}");
        }
    }
}

/// The Maildir files of `user`'s INBOX by UID (one FETCH, one read of the
/// directory): [`file_of_uid`] for thousands.
fn files_by_uid(user: &User) -> std::collections::HashMap<u32, PathBuf> {
    let mut client = user.client();
    let fetched = client.fetch_all("INBOX");
    client.logout();
    let maildir = user.maildir();
    let by_line: std::collections::HashMap<String, PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(maildir.join(d)).into_iter().flatten())
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            let line = text.lines().find(|l| l.starts_with("This is message"))?;
            Some((line.to_string(), p))
        })
        .collect();
    fetched
        .iter()
        .map(|f| {
            let text = String::from_utf8_lossy(&f.body);
            let line = text
                .lines()
                .find(|l| l.starts_with("This is message"))
                .unwrap();
            (f.uid, by_line[line].clone())
        })
        .collect()
}

/// S6: the Done-when at a few thousand messages. 3,000 in INBOX, B's
/// UID 700 overwritten (same size), 1,900 emptied and 2,900 cut short
/// behind Dovecot's back; hourly `sync --scrub 20%` (600 per side and
/// run: everything within 5 runs) finds each in the run whose slice first
/// re-reads it, never before, all within the 5 runs, and replaces it from
/// A in that run (exit 0). A is never touched; the sides end equal.
#[test]
fn s6_damage_among_thousands_is_found_within_the_predicted_runs_and_repaired() {
    const N: usize = 3000;
    let (a, b) = dovecot::pair(Kind::Full);
    let bodies: Vec<(String, Vec<u8>)> = (1..=N).map(|i| (format!("m{i}"), message(i))).collect();
    a.put_in_maildir(bodies.iter().map(|(name, b)| (name.as_str(), &b[..], "")));
    let pair = Pair::new(&a, &b);
    pair.expect("sync", &["--no-compress"], 0);
    let a_before = read_side(&pair.a);
    let files = files_by_uid(&b);
    overwrite(&files[&700]);
    empty(&files[&1900]);
    truncate(&files[&2900]);
    let mut found_in = Vec::new();
    for run in 1..=5u64 {
        let (code, report) = json_run(&pair, "sync", &["--scrub", "20%", "--no-compress"]);
        assert_eq!(code, 0, "run {run}");
        let (read, found) = scrubbed(&report, "B");
        // The next 600 UIDs never read: a replacement is a new UID, read
        // after them.
        let slice: Vec<u64> = (600 * (run - 1) + 1..=600 * run).collect();
        assert_eq!(read, slice, "run {run} on B");
        assert_eq!(scrubbed(&report, "A").0, slice, "run {run} on A");
        for (uid, what) in found {
            found_in.push((run, uid, what));
        }
    }
    assert_eq!(
        found_in,
        vec![
            (2, 700, "damaged".to_string()),
            (4, 1900, "undeliverable".to_string()),
            (5, 2900, "undeliverable".to_string()),
        ]
    );
    assert_eq!(read_side(&pair.a), a_before, "A is never touched");
    assert_sides_equal(&read_side(&pair.a), &read_side(&pair.b));
}

/// S7: a scrub of a mailbox read as settled (a sync found nothing to do
/// there, and LIST-STATUS shows it unchanged: neither listed nor loaded
/// from the snapshot) takes its slice from the snapshot's rows and reads
/// about the slice's rows, not the mailbox's; B's UID 25, overwritten
/// with bytes of the same length behind Dovecot's back (its LIST-STATUS
/// unchanged), is found when its slice is read — the mailbox then listed
/// in full, so `check` exits 1 — and `sync --scrub` replaces it from A.
#[test]
fn s7_damage_in_a_settled_mailbox_is_found_from_its_slice_and_repaired() {
    const N: u64 = 200;
    let pair = synced(N as usize);
    // The rerun finds INBOX settled; from then on it is not read.
    pair.expect("sync", &[], 0);
    let idle = pair.expect("check", &["-v"], 0).snapshot_rows();
    assert!(idle < 10, "a no-op check reads no message row: {idle}");
    overwrite(&file_of_uid(&pair.b, 25));
    // 5%: ten messages per side and run.
    let (code, report) = json_run(&pair, "check", &["--scrub", "5%"]);
    assert_eq!(code, 0, "{report:#}");
    let (uids, found) = scrubbed(&report, "B");
    assert_eq!((uids, found), ((1..=10).collect(), vec![]), "{report:#}");
    let out = pair.expect("check", &["-v", "--scrub", "5%"], 0);
    assert!(
        out.stdout.contains("re-read 10 messages on A"),
        "{}",
        out.stdout
    );
    // Loading the mailbox would add 400 cache rows and 200 pairs.
    let rows = out.snapshot_rows();
    assert!(
        rows <= idle + 2 * 10 + 4,
        "{rows} rows read for a slice of 2 x 10 ({idle} idle)"
    );
    let (code, report) = json_run(&pair, "check", &["--scrub", "5%"]);
    assert_eq!(code, 1, "{report:#}");
    let (uids, found) = scrubbed(&report, "B");
    assert_eq!(uids, (21..=30).collect::<Vec<u64>>(), "{report:#}");
    assert_eq!(found, vec![(25, "damaged".to_string())], "{report:#}");
    let finding = scrubbed_entry(&report, "B", 25);
    assert_eq!(finding["partner_good"], true, "{finding}");
    let a_before = read_side(&pair.a);
    // Damage not yet verified stays oldest: the sync's slice reads it first.
    let (code, report) = json_run(&pair, "sync", &["--scrub", "5%"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(scrubbed(&report, "B").1, vec![(25, "damaged".to_string())]);
    assert_eq!(read_side(&pair.a), a_before, "A is never touched");
    assert_sides_equal(&read_side(&pair.a), &read_side(&pair.b));
    let (code, report) = json_run(&pair, "check", &["--scrub", "5%"]);
    assert_eq!((code, scrubbed(&report, "B").1), (0, vec![]), "{report:#}");
}
