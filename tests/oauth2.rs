//! OAuth 2.0 logins against real Dovecot (`--a-oauth2-token-command`,
//! `oauth2_token_command` in a config file): one server offers only
//! OAUTHBEARER (RFC 7628), the other only XOAUTH2 (Gmail's and Microsoft's
//! older twin), both checking tokens with Dovecot's oauth2 passdb against a
//! small introspection endpoint the test runs on loopback. A good token
//! syncs; a refused one ends the run with the server's refusal and never
//! prints the token.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::OnceLock;

use support::dovecot::{Dovecot, Kind, User};
use support::imapmend::{bare, Finish, Outcome, LIMIT};
use support::mail::msg;
use support::oracle::{self, SideState};

/// Tokens the introspection endpoint accepts: `tok-<user>-ok`.
fn token_for(user: &User) -> String {
    format!("tok-{}-ok", user.name)
}

/// An RFC 7662-style introspection endpoint: `GET /introspect?token=T`
/// answers `{"active": true, "username": U}` for `tok-U-ok`, else inactive.
fn introspection_endpoint() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                // Skip the headers.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let token = request
                    .split_whitespace()
                    .nth(1)
                    .and_then(|path| path.split_once("token="))
                    .map(|(_, t)| t.split('&').next().unwrap_or_default().to_string())
                    .unwrap_or_default();
                let body = match token
                    .strip_prefix("tok-")
                    .and_then(|t| t.strip_suffix("-ok"))
                {
                    Some(user) => format!(r#"{{"active":"true","username":"{user}"}}"#),
                    None => r#"{"active":"false"}"#.to_string(),
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        port
    })
}

/// A Dovecot whose only OAuth mechanism is `mechanism`.
fn server(mechanism: &'static str) -> &'static Dovecot {
    static OAUTHBEARER: OnceLock<Dovecot> = OnceLock::new();
    static XOAUTH2: OnceLock<Dovecot> = OnceLock::new();
    let cell = if mechanism == "oauthbearer" {
        &OAUTHBEARER
    } else {
        &XOAUTH2
    };
    cell.get_or_init(|| {
        let port = introspection_endpoint();
        let dir = std::env::temp_dir().join(format!(
            "imapmend-oauth2-{}-{mechanism}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("dovecot-oauth2.conf.ext");
        std::fs::write(
            &conf,
            format!(
                "introspection_mode = get\n\
                 introspection_url = http://127.0.0.1:{port}/introspect?token=\n\
                 username_attribute = username\n\
                 active_attribute = active\n\
                 active_value = true\n"
            ),
        )
        .unwrap();
        Dovecot::start_with(
            Kind::Full,
            &format!(
                "auth_mechanisms = plain login {mechanism}\n\
                 passdb {{\n  driver = oauth2\n  mechanisms = {mechanism}\n  args = {}\n}}\n",
                conf.display()
            ),
        )
    })
}

/// `imapmend sync` with both sides logging in by token commands that print
/// these tokens.
fn sync_with_tokens(a: &User, b: &User, tokens: [&str; 2]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    bare()
        .arg("sync")
        .args(["--a", &a.url(), "--b", &b.url()])
        .args(["--a-tls", "none", "--b-tls", "none"])
        .args(["--a-oauth2-token-command", &format!("echo {}", tokens[0])])
        .args(["--b-oauth2-token-command", &format!("echo {}", tokens[1])])
        .arg("--state")
        .arg(dir.path().join("state.sqlite"))
        .args(["-vv"])
        .env("XDG_STATE_HOME", dir.path())
        .env_remove("IMAPMEND_A_PASSWORD")
        .env_remove("IMAPMEND_B_PASSWORD")
        .finish(LIMIT)
}

#[test]
fn tokens_log_in_with_oauthbearer_and_xoauth2_and_never_show() {
    let (a, b) = (
        server("oauthbearer").fresh_user(),
        server("xoauth2").fresh_user(),
    );
    let mut client = a.client();
    client.append("INBOX", &msg("m1"), &["\\Seen"], None);
    client.logout();
    let (ta, tb) = (token_for(&a), token_for(&b));
    let out = sync_with_tokens(&a, &b, [&ta, &tb]);
    let printed = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.code,
        Some(0),
        "{printed}\n--- server logs ---\n{}{}",
        server("oauthbearer").log(),
        server("xoauth2").log()
    );
    for secret in [&ta, &tb] {
        assert!(
            !printed.contains(secret.as_str()),
            "token printed:\n{printed}"
        );
    }
    // Nor its SASL encoding: no base64 run on a line about AUTHENTICATE.
    for line in printed.lines().filter(|l| l.contains("AUTHENTICATE")) {
        let blob = line.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)));
        assert!(
            blob.clone().all(|w| w.len() < 24),
            "a SASL response may be printed: {line}"
        );
    }
    let mut want = SideState::default();
    want.add("INBOX", &msg("m1"), &["\\Seen"]);
    oracle::assert_state("B", &oracle::read_side(&b), &want);
}

#[test]
fn a_refused_token_is_a_clear_refusal_without_the_token() {
    let (a, b) = (
        server("oauthbearer").fresh_user(),
        server("xoauth2").fresh_user(),
    );
    for (bad_side, tokens) in [
        ("A", ["tok-expired", &token_for(&b) as &str]),
        ("B", [&token_for(&a) as &str, "tok-expired"]),
    ] {
        let out = sync_with_tokens(&a, &b, tokens);
        let printed = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.code, Some(3), "{printed}");
        assert!(
            printed.contains(&format!("{bad_side} (")) && printed.contains("refused"),
            "the refusal should name side {bad_side}:\n{printed}"
        );
        assert!(
            !printed.contains("tok-expired"),
            "token printed:\n{printed}"
        );
    }
    // Nothing was written anywhere.
    assert!(oracle::read_side(&b).is_empty());
}

#[test]
fn a_server_without_oauth_mechanisms_is_refused_before_sending_the_token() {
    let plain = support::dovecot::fresh_user(Kind::Full);
    let b = server("xoauth2").fresh_user();
    let out = sync_with_tokens(&plain, &b, [&token_for(&plain), &token_for(&b)]);
    let printed = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(3), "{printed}");
    assert!(
        printed.contains("neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2"),
        "{printed}"
    );
}
