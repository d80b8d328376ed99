//! Dovecot against a server that keeps every folder under `INBOX.` ('.'
//! delimiter), as Cyrus and Courier-IMAP do: the test bed (a Dovecot user,
//! the other server's user, a runner with that server as `--b` or, swapped,
//! as `--a`, and the `--X-prefix INBOX.` option naming its side), the
//! oracle's view with the prefix taken off, and the core scenarios every
//! such server runs both ways (first sync, flag deltas both ways, a proven
//! expunge, a rerun that plans nothing).
//!
//! Owns nothing about a particular server: tests/cyrus.rs and
//! tests/courier.rs hand it their users.

use std::collections::BTreeMap;

use super::dovecot::{self, Kind, User};
use super::imapmend::{Outcome, Pair};
use super::mail::msg;
use super::oracle::{self, SideState};

/// The prefix both servers put before every folder but INBOX.
pub const PREFIX: &str = "INBOX.";

/// A side's state with the `INBOX.` prefix taken off its folder names
/// (when `prefixed`).
pub fn logical(user: &User, prefixed: bool) -> SideState {
    let state = oracle::read_side(user);
    if !prefixed {
        return state;
    }
    SideState(
        state
            .0
            .into_iter()
            .map(|(name, msgs)| (name.strip_prefix(PREFIX).unwrap_or(&name).to_string(), msgs))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A Dovecot user and the other server's user, and a runner with that
/// server as `--b` (or, swapped, as `--a`), plus the prefix option naming
/// its side.
pub struct Bed {
    pub dovecot: User,
    pub server: User,
    pub runner: Pair,
    pub prefix: [&'static str; 2],
}

/// A fresh Dovecot user (of `kind`) against `server`'s user.
pub fn bed(server: User, server_is_a: bool, kind: Kind) -> Bed {
    let d = dovecot::fresh_user(kind);
    // The pair's A is always the Dovecot user; `swapped` gives it as --b.
    let runner = Pair::oriented(&d, &server, server_is_a);
    let prefix = if server_is_a {
        ["--a-prefix", PREFIX]
    } else {
        ["--b-prefix", PREFIX]
    };
    Bed {
        dovecot: d,
        server,
        runner,
        prefix,
    }
}

impl Bed {
    pub fn run(&self, verb: &str, code: i32) -> Outcome {
        self.runner.expect(verb, &self.prefix, code)
    }

    #[track_caller]
    pub fn assert_agree(&self) -> SideState {
        let d = logical(&self.dovecot, false);
        let c = logical(&self.server, true);
        oracle::assert_sides_equal(&d, &c);
        d
    }
}

/// The core scenarios on `bed`; `history` says whether both sides offer
/// QRESYNC, so that the second run reads only changes on each.
pub fn core_scenarios(bed: &Bed, history: bool) {
    let lists = format!("{PREFIX}Lists");
    {
        let mut d = bed.dovecot.client();
        d.append("INBOX", &msg("n1"), &[], None);
        d.append("INBOX", &msg("n2"), &["\\Flagged"], None);
        d.append("INBOX", &msg("n3"), &["$Label1"], None);
        d.create("Sub");
        d.append("Sub", &msg("n4"), &["\\Seen"], None);
        let mut c = bed.server.client();
        c.append("INBOX", &msg("n5"), &["\\Answered"], None);
        c.create(&lists);
        c.append(&lists, &msg("n6"), &[], None);
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
        let mut c = bed.server.client();
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
    let second = bed.run("sync", 0);
    if history {
        for side in ["A", "B"] {
            let line = format!("{side} history listing");
            assert!(second.stdout.contains(&line), "{}", second.stdout);
        }
    }
    let state = bed.assert_agree();
    let inbox = format!("{state}");
    assert!(!inbox.contains("\\flagged"), "{inbox}");
    assert!(inbox.contains("$label2"), "{inbox}");

    // An expunge on the server is proven by the snapshot and carried to
    // Dovecot.
    {
        let mut c = bed.server.client();
        let uids: Vec<u32> = c.fetch_all(&lists).iter().map(|f| f.uid).collect();
        c.expunge_uids(&lists, &uids);
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
