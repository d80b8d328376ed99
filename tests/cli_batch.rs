//! `imapmend batch` against real Dovecot servers: a list of account pairs
//! (CSV and TOML) synced with bounded concurrency, one pair failing alone,
//! the summary with each pair's exit code, and `--shard i/n` splitting the
//! list into disjoint parts that cover it.

mod support;

use serde_json::Value;
use std::path::Path;
use support::dovecot::{self, Kind, User};
use support::imapmend::{bare, Finish};
use support::oracle;

fn seeded_pair(i: usize) -> (User, User) {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut c = a.client();
    c.append(
        "INBOX",
        format!("Subject: batch {i}\r\n\r\nfor pair {i}\r\n").as_bytes(),
        &["\\Seen"],
        None,
    );
    c.logout();
    (a, b)
}

fn batch(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bare()
        .current_dir(dir)
        .env("XDG_STATE_HOME", dir)
        .env_remove("IMAPMEND_A_PASSWORD")
        .env_remove("IMAPMEND_B_PASSWORD")
        .args(args)
        .finish(std::time::Duration::from_secs(300));
    (out.code.unwrap_or(-1), out.stdout, out.stderr)
}

#[test]
fn batch_syncs_every_pair_and_a_failing_pair_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let pairs: Vec<(User, User)> = (0..3).map(seeded_pair).collect();
    let mut csv = String::from("# three accounts\nname,a,b,a_password_file,b_password_env\n");
    for (i, (a, b)) in pairs.iter().enumerate() {
        let pw = format!("pw{i}");
        // The third pair's A password is wrong.
        let secret = if i == 2 { "wrong" } else { a.password.as_str() };
        std::fs::write(dir.path().join(&pw), secret).unwrap();
        csv.push_str(&format!(
            "acct{i},{},{},{pw},BATCH_B_{i}\n",
            a.url(),
            b.url()
        ));
    }
    std::fs::write(dir.path().join("accounts.csv"), csv).unwrap();

    let mut cmd = bare();
    cmd.current_dir(dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .env_remove("IMAPMEND_A_PASSWORD")
        .env_remove("IMAPMEND_B_PASSWORD");
    for (i, (_, b)) in pairs.iter().enumerate() {
        cmd.env(format!("BATCH_B_{i}"), &b.password);
    }
    let out = cmd
        .args([
            "batch",
            "sync",
            "accounts.csv",
            "--jobs",
            "2",
            "--log-dir",
            "logs",
        ])
        .args(["--", "--a-tls", "none", "--b-tls", "none"])
        .finish(std::time::Duration::from_secs(300));
    let stdout = out.stdout.as_str();
    let stderr = out.stderr.as_str();
    assert_eq!(out.code, Some(2), "{stdout}{stderr}");
    for (name, code) in [("acct0", 0), ("acct1", 0), ("acct2", 3)] {
        let row = stdout
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"));
        assert!(row.contains(&format!("┆    {code} ┆")), "{row}");
    }
    assert!(
        stdout.contains("3 pair(s): 2 × exit 0, 1 × exit 3"),
        "{stdout}"
    );
    assert!(stdout.contains("AUTHENTICATIONFAILED"), "{stdout}");
    assert!(stdout.contains("copied 0→A 1→B"), "{stdout}");
    assert!(stderr.contains("[3/3]"), "progress lines: {stderr}");
    assert!(!stdout.contains(&pairs[0].0.password) && !stderr.contains(&pairs[0].0.password));
    for (i, (a, b)) in pairs.iter().enumerate().take(2) {
        let sa = oracle::read_side(a);
        assert_eq!(sa.len(), 1, "acct{i}");
        oracle::assert_sides_equal(&sa, &oracle::read_side(b));
    }
    assert!(oracle::read_side(&pairs[2].1).is_empty());
    let log = std::fs::read_to_string(dir.path().join("logs/acct2.err")).unwrap();
    assert!(!log.is_empty(), "the failing pair's error is kept");
}

#[test]
fn batch_shards_split_a_toml_list_without_overlap_and_check_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let pairs: Vec<(User, User)> = (10..16).map(seeded_pair).collect();
    let mut toml = String::new();
    for (i, (a, b)) in pairs.iter().enumerate() {
        std::fs::write(dir.path().join(format!("a{i}")), &a.password).unwrap();
        std::fs::write(dir.path().join(format!("b{i}")), &b.password).unwrap();
        toml.push_str(&format!(
            "[[pair]]\nname = \"p{i}\"\na = \"{}\"\nb = \"{}\"\na_password_file = \"a{i}\"\nb_password_file = \"b{i}\"\n\n",
            a.url(),
            b.url()
        ));
    }
    let list = dir.path().join("list.toml");
    std::fs::write(&list, toml).unwrap();
    let list = list.to_str().unwrap();

    let mut seen = Vec::new();
    for shard in ["0/2", "1/2"] {
        let (code, stdout, stderr) = batch(
            dir.path(),
            &[
                "batch", "check", list, "--shard", shard, "--json", "-q", "--", "--a-tls", "none",
                "--b-tls", "none",
            ],
        );
        let doc: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
        assert!(stderr.is_empty(), "-q: {stderr}");
        assert_eq!(doc["pairs_in_list"], 6);
        assert_eq!(doc["shard"], shard);
        let outcomes = doc["outcomes"].as_array().unwrap();
        for o in outcomes {
            // Not synced yet: B lacks the message.
            assert_eq!(o["exit_code"], 1, "{o}");
            assert_eq!(o["report"]["command"], "check");
            seen.push(o["name"].as_str().unwrap().to_string());
        }
        assert_eq!(code, if outcomes.is_empty() { 0 } else { 1 });
    }
    seen.sort();
    assert_eq!(seen, (0..6).map(|i| format!("p{i}")).collect::<Vec<_>>());
}

/// A pair whose A is reached through a tunnel column: no password for A
/// at all (the tunnel greets with PREAUTH), B over TCP.
#[test]
fn batch_reaches_a_through_its_tunnel_column() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = seeded_pair(20);
    std::fs::write(dir.path().join("b.pw"), &b.password).unwrap();
    std::fs::write(
        dir.path().join("list.csv"),
        format!(
            "name,a,b,a_tunnel,b_password_file\ntunnelled,{},{},\"{}\",b.pw\n",
            a.url(),
            b.url(),
            a.imap_tunnel().replace('"', "\"\"")
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = batch(
        dir.path(),
        &["batch", "sync", "list.csv", "--", "--b-tls", "none"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("copied 0→A 1→B"), "{stdout}");
    let sa = oracle::read_side(&a);
    assert_eq!(sa.len(), 1);
    oracle::assert_sides_equal(&sa, &oracle::read_side(&b));
}

#[test]
fn batch_refuses_a_broken_list_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("l.csv"),
        "a,b,pasword_file\nimaps://u@h,imaps://v@h,x\n",
    )
    .unwrap();
    let (code, _, stderr) = batch(dir.path(), &["batch", "plan", "l.csv"]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("l.csv: line 2") && stderr.contains("pasword_file"),
        "{stderr}"
    );
    let (code, _, stderr) = batch(dir.path(), &["batch", "plan", "absent.csv"]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("cannot read account list absent.csv"),
        "{stderr}"
    );
    let (code, _, _) = batch(dir.path(), &["batch", "plan", "l.csv", "--shard", "2/2"]);
    assert_eq!(code, 3);
}

#[test]
fn a_hung_pair_is_stopped_by_pair_timeout_and_the_others_finish() {
    // A server that accepts and never greets.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(4).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
        drop(held);
    });
    let (a, b) = seeded_pair(20);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pa"), &a.password).unwrap();
    std::fs::write(dir.path().join("pb"), &b.password).unwrap();
    std::fs::write(
        dir.path().join("l.csv"),
        format!(
            "name,a,b,a_password_file,b_password_file\n\
             hung,imap://u@127.0.0.1:{port},imap://v@127.0.0.1:{port},pa,pb\n\
             fine,{},{},pa,pb\n",
            a.url(),
            b.url()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = batch(
        dir.path(),
        &[
            "batch",
            "sync",
            "l.csv",
            "--pair-timeout",
            "2",
            "--",
            "--a-tls",
            "none",
            "--b-tls",
            "none",
        ],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(code, 2, "{stdout}{stderr}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .to_string()
    };
    assert!(
        row("hung").contains("┆    2 ┆") && row("hung").contains("--pair-timeout"),
        "{stdout}"
    );
    assert!(row("fine").contains("┆    0 ┆"), "{stdout}");
}

#[test]
fn a_shared_config_naming_one_snapshot_for_all_pairs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shared.toml"), "state = \"one.sqlite\"\n").unwrap();
    std::fs::write(
        dir.path().join("l.csv"),
        "a,b\nimaps://u@a.example,imaps://u@b.example\nimaps://v@a.example,imaps://v@b.example\n",
    )
    .unwrap();
    let (code, _, stderr) = batch(
        dir.path(),
        &["batch", "plan", "l.csv", "--config", "shared.toml"],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("every pair of a batch needs its own snapshot"),
        "{stderr}"
    );
}
