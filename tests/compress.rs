//! COMPRESS=DEFLATE (RFC 4978) against real Dovecot with its imap_zlib
//! plugin: a first sync of compressible mail reads far fewer bytes off the
//! wire than the mail holds, and arrives byte for byte; `--no-compress`
//! sends it plain. A byte-counting loopback proxy stands in front of A.

mod support;

use std::sync::OnceLock;

use support::dovecot::{Dovecot, Kind, User};
use support::imapmend::Pair;
use support::oracle::{self, SideState};
use support::proxy::Proxy;

fn server() -> &'static Dovecot {
    static SERVER: OnceLock<Dovecot> = OnceLock::new();
    SERVER.get_or_init(|| {
        Dovecot::start_with(
            Kind::Full,
            "protocol imap {\n  mail_plugins = $mail_plugins zlib imap_zlib\n}\n",
        )
    })
}

/// 60 messages of about 20 KB of text each (compressible) on a fresh A.
fn compressible_mail(a: &User) -> (SideState, u64) {
    let mut client = a.client();
    assert!(
        client.has_capability("COMPRESS=DEFLATE"),
        "the test server should offer COMPRESS=DEFLATE"
    );
    let mut want = SideState::default();
    let mut total = 0;
    for i in 0..60 {
        let body = format!(
            "Subject: compress {i}\r\nMessage-ID: <c{i}@compress.imapmend.test>\r\n\r\n{}",
            format!("line {i} of a long and very repetitive message body\r\n").repeat(400)
        )
        .into_bytes();
        total += body.len() as u64;
        client.append("INBOX", &body, &["\\Seen"], None);
        want.add("INBOX", &body, &["\\Seen"]);
    }
    client.logout();
    (want, total)
}

/// Syncs A (behind a counting proxy) to B with these arguments: the bytes
/// that came from A, and the mail each side must hold.
fn sync_through_proxy(args: &[&str]) -> (u64, u64, User, SideState) {
    let (a, b) = (server().fresh_user(), server().fresh_user());
    let (want, total) = compressible_mail(&a);
    let proxy = Proxy::start(a.port);
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy.port();
    let out = pair.run("sync", args, &[]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let (_, from_a) = proxy.bytes();
    oracle::assert_state("B", &oracle::read_side(&b), &want);
    (from_a, total, b, want)
}

#[test]
fn compressed_sessions_move_a_fraction_of_the_bytes_and_lose_none() {
    let (from_a, total, _, _) = sync_through_proxy(&[]);
    assert!(
        from_a * 5 < total,
        "with COMPRESS=DEFLATE A sent {from_a} bytes for {total} bytes of mail"
    );
    let (plain, total, _, _) = sync_through_proxy(&["--no-compress"]);
    assert!(
        plain > total,
        "with --no-compress A sent {plain} bytes for {total} bytes of mail"
    );
}

#[test]
fn a_compressed_rerun_plans_nothing_and_check_agrees() {
    let (a, b) = (server().fresh_user(), server().fresh_user());
    let (want, _) = compressible_mail(&a);
    let pair = Pair::new(&a, &b);
    for verb in ["sync", "sync", "check"] {
        let out = pair.run(verb, &[], &[]);
        assert_eq!(out.code, Some(0), "{verb}: {}", out.describe());
    }
    oracle::assert_state("A", &oracle::read_side(&a), &want);
    oracle::assert_state("B", &oracle::read_side(&b), &want);
}
