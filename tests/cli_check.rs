//! `check` for monitoring: `--metrics FILE` (Prometheus text format, written
//! atomically, whatever the outcome; `sync --metrics` the same series)
//! against real Dovecot servers, and
//! `--timeout SECONDS` against a server that never answers (exit 3, the
//! monitoring-plugin UNKNOWN).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::dovecot::{self, Kind, User};
use support::imapmend::{bare, Finish, LIMIT};

fn imapmend(dir: &Path, a: &User, b: &User, a_url: &str, args: &[&str]) -> (i32, String) {
    let out = bare()
        .env("XDG_STATE_HOME", dir)
        .env("IMAPMEND_A_PASSWORD", &a.password)
        .env("IMAPMEND_B_PASSWORD", &b.password)
        .args([args[0], "--a", a_url, "--b", &b.url()])
        .args(["--a-tls", "none", "--b-tls", "none"])
        .args(&args[1..])
        .finish(Duration::from_secs(120));
    (
        out.code.unwrap_or(-1),
        format!("{}{}", out.stdout.as_str(), out.stderr.as_str()),
    )
}

/// The value of the one series whose line starts with `prefix`.
fn value(metrics: &str, prefix: &str) -> f64 {
    let lines: Vec<&str> = metrics.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(lines.len(), 1, "{prefix} in\n{metrics}");
    lines[0].rsplit(' ').next().unwrap().parse().unwrap()
}

/// A fresh pair: INBOX holds one message on both sides and one on A only.
fn shared_and_only_on_a() -> (User, User) {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut ca = a.client();
    ca.append("INBOX", b"Subject: shared\r\n\r\nboth\r\n", &[], None);
    ca.append("INBOX", b"Subject: only A\r\n\r\na\r\n", &[], None);
    ca.logout();
    let mut cb = b.client();
    cb.append("INBOX", b"Subject: shared\r\n\r\nboth\r\n", &[], None);
    cb.logout();
    (a, b)
}

#[test]
fn check_metrics_describe_differences_then_agreement_and_keep_the_last_success() {
    let (a, b) = shared_and_only_on_a();
    let mut cb = b.client();
    cb.append(
        "INBOX",
        b"Subject: only B\r\n\r\nb\r\n",
        &["\\Flagged"],
        None,
    );
    cb.logout();

    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("textfile").join("imapmend.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    let prom_s = prom.to_str().unwrap();
    let au = a.url();
    let labels = format!(
        "a=\"{}@127.0.0.1:{}\",b=\"{}@127.0.0.1:{}\",verb=\"check\"",
        a.name, a.port, b.name, b.port
    );
    let series = |name: &str, extra: &str| format!("{name}{{{labels}{extra}}} ");

    let (code, out) = imapmend(dir.path(), &a, &b, &au, &["check", "--metrics", prom_s]);
    assert_eq!(code, 1, "{out}");
    let m = std::fs::read_to_string(&prom).unwrap();
    assert_eq!(value(&m, &series("imapmend_check_exit_code", "")), 1.0);
    let inbox = |side: &str| format!(",mailbox=\"INBOX\",side=\"{side}\"");
    assert_eq!(
        value(&m, &series("imapmend_mailbox_messages", &inbox("a"))),
        2.0
    );
    assert_eq!(
        value(&m, &series("imapmend_mailbox_messages", &inbox("b"))),
        2.0
    );
    assert_eq!(
        value(&m, &series("imapmend_mailbox_differences", &inbox("a"))),
        1.0
    );
    assert_eq!(
        value(&m, &series("imapmend_mailbox_differences", &inbox("b"))),
        1.0
    );
    assert!(
        m.contains(&format!(
            "imapmend_mailbox_listing_info{{{labels},mailbox=\"INBOX\",side=\"a\",path=\"full\""
        )),
        "{m}"
    );
    assert!(
        !m.contains("imapmend_check_last_success_timestamp_seconds"),
        "{m}"
    );
    assert!(m.contains("# TYPE imapmend_mailbox_differences gauge"));

    let (code, out) = imapmend(dir.path(), &a, &b, &au, &["sync"]);
    assert_eq!(code, 0, "{out}");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (code, out) = imapmend(dir.path(), &a, &b, &au, &["check", "--metrics", prom_s]);
    assert_eq!(code, 0, "{out}");
    let m = std::fs::read_to_string(&prom).unwrap();
    assert_eq!(value(&m, &series("imapmend_check_exit_code", "")), 0.0);
    assert_eq!(
        value(&m, &series("imapmend_mailbox_messages", &inbox("b"))),
        3.0
    );
    assert_eq!(
        value(&m, &series("imapmend_mailbox_differences", &inbox("a"))),
        0.0
    );
    let success = value(
        &m,
        &series("imapmend_check_last_success_timestamp_seconds", ""),
    );
    assert!(success >= before.floor(), "{success} < {before}");

    // A failed run (A unreachable) still writes the file: exit 3, and the
    // last success carried over from the previous file.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!(
        "imap://{}@127.0.0.1:{}",
        a.name,
        dead.local_addr().unwrap().port()
    );
    drop(dead);
    let (code, out) = imapmend(
        dir.path(),
        &a,
        &b,
        &dead_url,
        &["check", "--metrics", prom_s],
    );
    assert_eq!(code, 3, "{out}");
    let m = std::fs::read_to_string(&prom).unwrap();
    let dead_labels = format!(
        "a=\"{}@127.0.0.1:{}\",b=\"{}@127.0.0.1:{}\",verb=\"check\"",
        a.name,
        dead_url.rsplit(':').next().unwrap(),
        b.name,
        b.port
    );
    assert!(
        m.contains(&format!("imapmend_check_exit_code{{{dead_labels}}} 3")),
        "{m}"
    );
    assert!(!m.contains("imapmend_mailbox_messages"), "{m}");
    assert_eq!(
        value(&m, "imapmend_check_last_success_timestamp_seconds{"),
        success
    );
    let names: Vec<_> = std::fs::read_dir(prom.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary files left: {names:?}");
}

/// The `# TYPE` names of a metrics file, checked against the series the
/// code declares ([`imapmend::metrics::SERIES`], what the shipped dashboard
/// and alert rules are held to).
fn series_names(metrics: &str) -> std::collections::BTreeSet<String> {
    let declared: Vec<&str> = imapmend::metrics::SERIES.iter().map(|s| s.name).collect();
    let names: std::collections::BTreeSet<String> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    for name in &names {
        assert!(declared.contains(&name.as_str()), "{name} not in SERIES");
    }
    names
}

#[test]
fn sync_metrics_write_the_series_check_writes_labelled_verb_sync() {
    let (a, b) = shared_and_only_on_a();

    let dir = tempfile::tempdir().unwrap();
    let synced = dir.path().join("imapmend-sync.prom");
    let checked = dir.path().join("imapmend-check.prom");
    let au = a.url();
    let labels = |verb: &str| {
        format!(
            "a=\"{}@127.0.0.1:{}\",b=\"{}@127.0.0.1:{}\",verb=\"{verb}\"",
            a.name, a.port, b.name, b.port
        )
    };
    let sync_series = |name: &str, extra: &str| format!("{name}{{{}{extra}}} ", labels("sync"));
    let inbox = |side: &str| format!(",mailbox=\"INBOX\",side=\"{side}\"");

    let args = ["sync", "--metrics", synced.to_str().unwrap()];
    let (code, out) = imapmend(dir.path(), &a, &b, &au, &args);
    assert_eq!(code, 0, "{out}");
    let m = std::fs::read_to_string(&synced).unwrap();
    assert_eq!(value(&m, &sync_series("imapmend_check_exit_code", "")), 0.0);
    assert!(
        value(
            &m,
            &sync_series("imapmend_check_last_success_timestamp_seconds", "")
        ) > 0.0
    );
    // Per mailbox: what the sync listed before applying, the difference it
    // repaired.
    assert_eq!(value(&m, &sync_series("imapmend_check_mailboxes", "")), 1.0);
    let messages = |side| sync_series("imapmend_mailbox_messages", &inbox(side));
    assert_eq!(value(&m, &messages("a")), 2.0);
    assert_eq!(value(&m, &messages("b")), 1.0);
    let differences = |side| sync_series("imapmend_mailbox_differences", &inbox(side));
    assert_eq!(value(&m, &differences("a")), 1.0);
    assert_eq!(value(&m, &differences("b")), 0.0);
    assert!(!m.contains("verb=\"check\""), "{m}");

    // check writes the same series for the same pair, in its own file.
    let args = ["check", "--metrics", checked.to_str().unwrap()];
    let (code, out) = imapmend(dir.path(), &a, &b, &au, &args);
    assert_eq!(code, 0, "{out}");
    let c = std::fs::read_to_string(&checked).unwrap();
    let check_series = |name: &str| format!("{name}{{{}}} ", labels("check"));
    assert_eq!(value(&c, &check_series("imapmend_check_exit_code")), 0.0);
    assert_eq!(series_names(&m), series_names(&c));

    // A sync that cannot run still writes its file: exit 3, the last
    // success carried over.
    let success = value(
        &m,
        &sync_series("imapmend_check_last_success_timestamp_seconds", ""),
    );
    let out = bare()
        .env("XDG_STATE_HOME", dir.path())
        .env("IMAPMEND_A_PASSWORD", &a.password)
        .env("IMAPMEND_B_PASSWORD", "wrong")
        .args(["sync", "--a", &au, "--b", &b.url()])
        .args(["--a-tls", "none", "--b-tls", "none"])
        .args(["--metrics", synced.to_str().unwrap()])
        .finish(LIMIT);
    assert_eq!(out.code, Some(3), "{}", out.describe());
    let m = std::fs::read_to_string(&synced).unwrap();
    assert_eq!(value(&m, &sync_series("imapmend_check_exit_code", "")), 3.0);
    let carried = value(&m, "imapmend_check_last_success_timestamp_seconds{");
    assert_eq!(carried, success);
    // A dry sync is a plan, and writes no metrics.
    std::fs::remove_file(&synced).unwrap();
    let args = ["sync", "--dry", "--metrics", synced.to_str().unwrap()];
    let (code, out) = imapmend(dir.path(), &a, &b, &au, &args);
    assert_eq!(code, 0, "{out}");
    assert!(!synced.exists());
}

#[test]
fn check_timeout_gives_up_with_exit_3_and_says_so() {
    // A server that accepts and never greets.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = silent.incoming().take(2).collect();
        std::thread::sleep(Duration::from_secs(10));
        drop(conns);
    });
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("check.prom");
    let started = Instant::now();
    let out = bare()
        .env("XDG_STATE_HOME", dir.path())
        .env("IMAPMEND_A_PASSWORD", "x")
        .env("IMAPMEND_B_PASSWORD", "y")
        .args([
            "check",
            "--timeout",
            "1",
            "--metrics",
            prom.to_str().unwrap(),
        ])
        .args(["--a", &format!("imap://u@127.0.0.1:{port}")])
        .args(["--b", &format!("imap://v@127.0.0.1:{port}")])
        .args(["--a-tls", "none", "--b-tls", "none"])
        .finish(Duration::from_secs(60));
    let elapsed = started.elapsed();
    let stderr = out.stderr.as_str();
    assert_eq!(out.code, Some(3), "{stderr}");
    assert!(
        stderr.contains("did not finish within 1 s (--timeout)"),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    let m = std::fs::read_to_string(&prom).unwrap();
    assert!(m.contains("imapmend_check_exit_code{"), "{m}");
    assert!(m.contains("} 3\n"), "{m}");
    drop(held);

    // 0 is not a deadline.
    let out = bare()
        .args([
            "check",
            "--timeout",
            "0",
            "--a",
            "imaps://u@a",
            "--b",
            "imaps://v@b",
        ])
        .finish(LIMIT);
    assert_eq!(out.code, Some(3));
}

/// `check` prints the Plan `plan` prints for the same servers and snapshot
/// (docs/ARCHITECTURE.md: one Plan for three verbs), skips included; its
/// verdict alone sets the exit code. After a sync, both Plans are empty.
#[test]
fn check_prints_the_plan_that_plan_prints() {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut ca = a.client();
    ca.append("INBOX", b"Subject: shared\r\n\r\nboth\r\n", &[], None);
    ca.append("INBOX", b"Subject: only A\r\n\r\na\r\n", &[], None);
    let big = format!("Subject: too big\r\n\r\n{}\r\n", "x".repeat(4000));
    ca.append("INBOX", big.as_bytes(), &[], None);
    ca.logout();
    let mut cb = b.client();
    cb.append(
        "INBOX",
        b"Subject: shared\r\n\r\nboth\r\n",
        &["\\Seen"],
        None,
    );
    cb.logout();

    let dir = tempfile::tempdir().unwrap();
    let json = |verb: &str| -> (i32, serde_json::Value) {
        let out = bare()
            .env("XDG_STATE_HOME", dir.path())
            .env("IMAPMEND_A_PASSWORD", &a.password)
            .env("IMAPMEND_B_PASSWORD", &b.password)
            .args([verb, "--a", &a.url(), "--b", &b.url()])
            .args(["--a-tls", "none", "--b-tls", "none"])
            .args(["--json", "--max-size", "1K"])
            .finish(LIMIT);
        let value = serde_json::from_str(out.stdout.as_str())
            .unwrap_or_else(|e| panic!("{verb} --json: {e}\n{}", out.stderr.as_str()));
        (out.code.unwrap_or(-1), value)
    };

    let (plan_code, planned) = json("plan");
    let (check_code, checked) = json("check");
    assert_eq!(plan_code, 1, "{planned}");
    assert_eq!(check_code, 1, "{checked}");
    let plan = &planned["plan"];
    assert_eq!(&checked["plan"], plan, "check's Plan is plan's");
    let inbox = &plan["mailboxes"][0];
    assert_eq!(inbox["skipped"][0]["why"], "max-size", "{plan}");
    assert_eq!(inbox["copies"].as_array().map(Vec::len), Some(1), "{plan}");
    assert!(checked["check"].is_array(), "{checked}");

    let out = bare()
        .env("XDG_STATE_HOME", dir.path())
        .env("IMAPMEND_A_PASSWORD", &a.password)
        .env("IMAPMEND_B_PASSWORD", &b.password)
        .args(["sync", "--a", &a.url(), "--b", &b.url()])
        .args(["--a-tls", "none", "--b-tls", "none", "--max-size", "1K"])
        .finish(LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr.as_str());
    let (_, planned) = json("plan");
    let (_, checked) = json("check");
    assert_eq!(&checked["plan"], &planned["plan"]);
}
