//! Secrets: refused logins, bad URLs, failing password commands, `-vv`
//! and `--json` never print a password; `-vvv` (every command and
//! response) shows neither a password nor a message body.

use super::*;
use support::imapmend::{bare, Finish};

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
    let out = bare()
        .args(["sync", "-vv", "--a", &url, "--b", &Pair::url(&b, b.port)])
        .args(["--a-tls", "none", "--b-tls", "none", "--state"])
        .arg(pair.dir.path().join("other.sqlite"))
        .env("IMAPMEND_B_PASSWORD", &b.password)
        .finish(Duration::from_secs(30));
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
