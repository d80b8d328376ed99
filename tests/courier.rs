//! Dovecot ↔ Courier-IMAP, end to end: the core scenarios (first sync both
//! ways, flag deltas both ways, a proven expunge, a rerun that plans
//! nothing) with Courier as B and, swapped, as A; and the Courier quirks of
//! the Compatibility table (docs/COMPATIBILITY.md), each as a test.
//!
//! Courier keeps every folder under `INBOX.` ('.' delimiter), so its side
//! is given `--X-prefix INBOX.` as Cyrus' is (`support::prefixed`). Its
//! `imapd` is reached through `--X-tunnel`, already authenticated (see
//! `support::courier`). Needs `scripts/courier-setup`, which `scripts/test`
//! runs: without it each test fails saying so.

mod support;

use support::courier;
use support::dovecot::Kind;
use support::mail::msg;
use support::prefixed::{self, Bed};

/// Dovecot and Courier users, and a runner with Courier as `--b` (or,
/// swapped, as `--a`), plus the prefix option naming Courier's side.
fn bed(courier_is_a: bool) -> Bed {
    prefixed::bed(courier::fresh_user(), courier_is_a, Kind::Full)
}

#[test]
fn dovecot_a_courier_b_core_scenarios() {
    // Courier offers no CONDSTORE: every run lists it in full.
    prefixed::core_scenarios(&bed(false), false);
}

#[test]
fn courier_a_dovecot_b_core_scenarios() {
    prefixed::core_scenarios(&bed(true), false);
}

/// Courier answers `NO Current box is selected READ-ONLY.` to an APPEND
/// into the mailbox the session EXAMINEd (as imapmend opens a mailbox it
/// just created, to learn its UIDVALIDITY). A first sync into new
/// mailboxes, nested ones included, on either side converges in one run:
/// exit 0, nothing refused, and the rerun skips nothing and plans nothing.
#[test]
fn first_sync_into_new_courier_mailboxes_converges_in_one_run() {
    for courier_is_a in [false, true] {
        let bed = bed(courier_is_a);
        {
            let mut d = bed.dovecot.client();
            for (i, folder) in ["Projects", "Projects.2026", "INBOX"].iter().enumerate() {
                if *folder != "INBOX" {
                    d.create(folder);
                }
                for n in 0..12 {
                    d.append(folder, &msg(&format!("n{}", i * 100 + n)), &[], None);
                }
            }
        }
        let first = bed
            .runner
            .expect("sync", &[bed.prefix[0], bed.prefix[1], "--json"], 0);
        let report: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
        assert_eq!(
            report["outcome"]["totals"]["refused"], 0,
            "{}",
            first.stdout
        );
        let state = bed.assert_agree();
        assert_eq!(state.len(), 36, "{state}");
        assert!(state.0.contains_key("Projects.2026"), "{state}");
        let again = bed
            .runner
            .expect("sync", &[bed.prefix[0], bed.prefix[1], "--json"], 0);
        let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
        let actions = report["outcome"]["actions"].as_array().unwrap();
        assert!(actions.is_empty(), "the rerun did something: {actions:#?}");
        bed.run("plan", 0);
    }
}
