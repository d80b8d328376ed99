//! Hostile bytes inside a real session: a proxy rewrites Dovecot's
//! `INTERNALDATE "…"` into `INTERNALDATE NIL` (imap-proto panics on it): a
//! clear error, no panic message on stderr.

use super::*;

/// `INTERNALDATE "…"` → `INTERNALDATE NIL` in the server's lines.
fn nil_internaldate(line: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(line);
    if !text.starts_with("* ") || !text.contains("INTERNALDATE \"") {
        return line.to_vec();
    }
    let start = text.find("INTERNALDATE \"").unwrap() + "INTERNALDATE ".len();
    let end = text[start + 1..]
        .find('"')
        .map_or(text.len(), |e| start + 1 + e + 1);
    format!("{}NIL{}", &text[..start], &text[end..]).into_bytes()
}

#[test]
fn internaldate_nil_from_a_server_is_a_clear_error_without_a_panic_message() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxy = Proxy::start(a.port);
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy.port();
    let mut ca = a.client();
    ca.append("INBOX", &msg_of_size("nil1", 500), &[], Some(DATE));
    ca.logout();
    // With a retry, the broken session is replaced and the plan is made
    // from an honest listing (the proxy breaks one connection only).
    proxy.arm(Fault::Rewrite(nil_internaldate));
    let out = pair.run("plan", &[], &[]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("INTERNALDATE NIL") && out.stderr.contains("reconnecting"),
        "{}",
        out.describe()
    );
    // Without one, the mailbox fails with a clear error.
    proxy.arm(Fault::Rewrite(nil_internaldate));
    let out = pair.run("plan", &["--retries", "0"], &[]);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    let text = out.output();
    assert!(!text.contains("panicked"), "{}", out.describe());
    assert!(
        text.contains("INTERNALDATE NIL")
            && text.contains(&format!("A (127.0.0.1:{})", proxy.port())),
        "{}",
        out.describe()
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAILED") && l.contains("INBOX on A")),
        "{}",
        out.describe()
    );
    // Nothing was decided from the broken listing; through an honest
    // connection the same snapshot syncs normally.
    let run = pair.run("sync", &[], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let sa = oracle::read_side(&a);
    oracle::assert_sides_equal(&sa, &oracle::read_side(&b));
    assert_eq!(sa.len(), 1);
}
