//! `--config FILE` end to end: a TOML job file drives real runs against
//! Dovecot, the command line overrides it, and a broken file stops the run
//! (exit 3) with the line before any server is contacted.

mod support;

use std::path::Path;
use support::dovecot::{self, Kind, User};
use support::imapmend::{bare, Finish};
use support::oracle;

fn imapmend(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bare()
        .current_dir(dir)
        .env_remove("IMAPMEND_A_PASSWORD")
        .env_remove("IMAPMEND_B_PASSWORD")
        .env("XDG_STATE_HOME", dir)
        .args(args)
        .finish(std::time::Duration::from_secs(120));
    (out.code.unwrap_or(-1), out.stdout, out.stderr)
}

/// A job file for A and B: A's password from a file next to it, B's from
/// an environment variable named in it, the snapshot next to it.
fn job_file(dir: &Path, a: &User, b_url: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("a.pw"), format!("{}\n", a.password)).unwrap();
    let path = dir.join("conf").join("job.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text = format!(
        r#"# one account pair, as a cron job would run it
state = "../state.sqlite"

[a]
url = "{}"
tls = "none"
password_file = "../a.pw"

[b]
url = "{b_url}"
tls = "none"
password_env = "JOB_B_SECRET"

[policy]
max_delete = "20%"
"#,
        a.url()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn config_file_drives_sync_and_check_against_real_servers() {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut client = a.client();
    client.append(
        "INBOX",
        b"Subject: from the config test\r\n\r\nhello\r\n",
        &["\\Seen"],
        None,
    );
    client.logout();
    let dir = tempfile::tempdir().unwrap();
    let job = job_file(dir.path(), &a, &b.url());
    let job = job.to_str().unwrap();

    // The file names JOB_B_SECRET; without it the run cannot start.
    let (code, _, err) = imapmend(dir.path(), &["plan", "--config", job]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("job.toml:12: b.password_env: no password: the environment variable JOB_B_SECRET is not set"),
        "{err}"
    );

    let run = |args: &[&str]| {
        let out = bare()
            .current_dir("/")
            .env_remove("IMAPMEND_A_PASSWORD")
            .env_remove("IMAPMEND_B_PASSWORD")
            .env("JOB_B_SECRET", &b.password)
            .args(args)
            .finish(std::time::Duration::from_secs(120));
        (out.code.unwrap_or(-1), out.stdout, out.stderr)
    };
    let (code, out, err) = run(&["sync", "--config", job]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        dir.path().join("state.sqlite").exists(),
        "the state path is relative to the file's directory, not the working directory"
    );
    oracle::assert_sides_equal(&oracle::read_side(&a), &oracle::read_side(&b));
    let (code, out, err) = run(&["check", "--config", job]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("OK: A and B hold the same messages"), "{out}");
}

#[test]
fn command_line_overrides_the_config_file() {
    let (a, b) = dovecot::pair(Kind::Full);
    let dir = tempfile::tempdir().unwrap();
    // The file's B points at a port nobody listens on; --b on the command
    // line wins, and the file's password source for B still applies.
    let job = job_file(dir.path(), &a, "imap://nobody@127.0.0.1:1");
    let out = bare()
        .env("JOB_B_SECRET", &b.password)
        .args([
            "plan",
            "--config",
            job.to_str().unwrap(),
            "--b",
            &b.url(),
            "--json",
        ])
        .finish(std::time::Duration::from_secs(120));
    let stdout = out.stdout.as_str();
    assert_eq!(out.code, Some(0), "{stdout}{}", out.stderr.as_str());
    let report: serde_json::Value = serde_json::from_str(stdout).unwrap();
    assert_eq!(
        report["endpoints"][1],
        format!("{}@127.0.0.1:{}", b.name, b.port)
    );
}

#[test]
fn broken_config_files_exit_3_with_the_line_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("[a]\nurl = \"imaps://u@a.example\"\nport = 993\n", "line 3"),
        (
            "[policy]\nprefer = \"both\"\n",
            "unknown variant `both`, expected `a` or `b`",
        ),
        (
            "[a]\nurl = \"imaps://u@a.example\"\npassword = \"hunter2\"\n",
            "job.toml:3: a.password: passwords are never accepted in the config file",
        ),
    ] {
        let path = dir.path().join("job.toml");
        std::fs::write(&path, text).unwrap();
        let (code, out, err) = imapmend(
            dir.path(),
            &["sync", "--config", "job.toml", "--b", "imaps://v@b.example"],
        );
        assert_eq!(code, 3, "{text:?}: {out}{err}");
        assert!(err.contains(needle), "{text:?}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    let (code, _, err) = imapmend(dir.path(), &["plan", "--config", "absent.toml"]);
    assert_eq!(code, 3);
    assert!(err.contains("cannot read config file absent.toml"), "{err}");
}
