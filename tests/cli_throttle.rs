//! `--max-messages-per-second` and `--max-bytes-per-second` against real
//! Dovecot: a first sync that moves more than the limits allow in a second
//! takes at least as long as the limits say, and copies everything right.
//! (Only a lower bound is asserted: a throttle can never be too slow for
//! this test to fail on a busy machine.)

mod support;

use std::time::{Duration, Instant};

use support::dovecot::{self, Kind};
use support::imapmend::Pair;
use support::oracle::{self, SideState};

/// 40 messages of about 2 KB on A, none on B.
fn forty_on_a() -> (Pair, SideState) {
    let (a, b) = dovecot::pair(Kind::Full);
    let mut client = a.client();
    let mut want = SideState::default();
    for i in 0..40 {
        let body = format!(
            "Subject: throttle {i}\r\nMessage-ID: <t{i}@throttle.imapmend.test>\r\n\r\n{}\r\n",
            "x".repeat(2000)
        )
        .into_bytes();
        client.append("INBOX", &body, &[], None);
        want.add("INBOX", &body, &[] as &[&str]);
    }
    client.logout();
    (Pair::new(&a, &b), want)
}

fn timed_sync(runner: &Pair, args: &[&str]) -> Duration {
    let started = Instant::now();
    runner.expect("sync", args, 0);
    started.elapsed()
}

#[test]
fn a_message_rate_limit_paces_the_copies() {
    let (runner, want) = forty_on_a();
    // 40 bodies fetched from A and 40 appended to B: 80 at 20 a second,
    // the first 20 free.
    let took = timed_sync(&runner, &["--max-messages-per-second", "20"]);
    assert!(took >= Duration::from_millis(2900), "took only {took:?}");
    oracle::assert_state("B", &oracle::read_side(&runner.b), &want);
}

#[test]
fn a_byte_rate_limit_paces_the_traffic() {
    let (runner, want) = forty_on_a();
    // About 80 KB read from A and 80 KB sent to B at 40 KiB a second, the
    // first 40 KiB free: at least 2.5 s.
    let took = timed_sync(&runner, &["--max-bytes-per-second", "40K"]);
    assert!(took >= Duration::from_millis(2500), "took only {took:?}");
    oracle::assert_state("B", &oracle::read_side(&runner.b), &want);
}
