//! docs/SCENARIOS.md M1–M13 end to end: mailbox trees between real Dovecot
//! servers that name mailboxes differently ('.' against '/', an `INBOX.`
//! prefix, mbox files without children, special-use mailboxes).
//!
//! The oracle compares what each server lists through the independent test
//! client, with each side's wire names rewritten to logical ones (its
//! prefix stripped, its delimiter replaced by '/'), so "A and B agree"
//! includes "every name arrived exactly". Each case also runs with `--a`
//! and `--b` given the other way round (symmetry), and ends with `plan`
//! exiting 0 and a second `sync` that writes nothing.

mod support;

use std::collections::BTreeSet;

use support::dovecot::{self, Kind, Layout, User};
use support::imapmend::Pair;
use support::mail::msg;
use support::mailclient::quote;
use support::oracle::{self, writes_marker, SideState};

/// Where a test user lives: Dovecot's default Maildir++ ('.') or a layout.
#[derive(Debug, Clone, Copy)]
enum Server {
    Dots,
    In(Layout),
}

impl Server {
    fn user(self, slot: usize) -> User {
        match self {
            Server::Dots => dovecot::shared(Kind::Full, slot).fresh_user(),
            Server::In(layout) => dovecot::shared_layout(layout, slot).fresh_user(),
        }
    }

    fn delimiter(self) -> char {
        match self {
            Server::Dots | Server::In(Layout::InboxPrefix) => '.',
            Server::In(_) => '/',
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Server::In(Layout::InboxPrefix) => "INBOX.",
            _ => "",
        }
    }
}

/// Creates the mailboxes (wire names) and appends one message per name.
fn seed(user: &User, mailboxes: &[(&str, &[&str])]) {
    let mut client = user.client();
    let existing = client.mailboxes();
    for (mailbox, msgs) in mailboxes {
        if !existing.iter().any(|m| m == mailbox) {
            client.create(mailbox);
        }
        for m in *msgs {
            client.append(mailbox, &msg(m), &[], None);
        }
    }
    client.logout();
}

fn delete(user: &User, mailboxes: &[&str]) {
    let mut client = user.client();
    for m in mailboxes {
        client.delete(m);
    }
    client.logout();
}

/// Selectable mailboxes as listed (wire names), INBOX spelled INBOX.
fn listed(user: &User) -> BTreeSet<String> {
    let mut client = user.client();
    let names = client.mailboxes().into_iter().collect();
    client.logout();
    names
}

/// A wire name as a logical one: the prefix stripped, the delimiter made '/'.
fn logical(server: Server, wire: &str) -> String {
    if wire == "INBOX" {
        return wire.to_string();
    }
    let rest = wire
        .strip_prefix(server.prefix())
        .unwrap_or_else(|| panic!("{wire:?} is outside the prefix {:?}", server.prefix()));
    rest.replace(server.delimiter(), "/")
}

/// The oracle's view of a side, keyed by logical names.
fn read(user: &User, server: Server) -> SideState {
    let state = oracle::read_side(user);
    SideState(
        state
            .0
            .into_iter()
            .map(|(name, msgs)| (logical(server, &name), msgs))
            .collect(),
    )
}

/// The expected state: logical mailbox → message names.
fn expected(spec: &[(&str, &[&str])]) -> SideState {
    let mut s = SideState::default();
    s.mailbox("INBOX");
    for (mailbox, msgs) in spec {
        s.mailbox(mailbox);
        for m in *msgs {
            s.add(mailbox, &msg(m), &[] as &[&str]);
        }
    }
    s
}

/// One case between two fresh users.
struct Case {
    run: Pair,
    servers: [Server; 2],
}

impl Case {
    /// Fresh users on `a` and `b`, given on the command line the other way
    /// round when `swapped`.
    fn new(a: Server, b: Server, swapped: bool) -> Case {
        Case {
            run: Pair::oriented(&a.user(0), &b.user(1), swapped),
            servers: [a, b],
        }
    }

    /// Per-side options for the case's A and B, in command-line order.
    fn sided(&self, option: &str, values: [&str; 2]) -> Vec<String> {
        let [a, b] = if self.run.swapped {
            [values[1], values[0]]
        } else {
            values
        };
        let mut out = Vec::new();
        for (side, v) in [("a", a), ("b", b)] {
            if !v.is_empty() {
                out.push(format!("--{side}-{option}"));
                out.push(v.to_string());
            }
        }
        out
    }

    fn sync(&self, args: &[String], code: i32) -> String {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run.expect("sync", &args, code).stdout
    }

    /// Both sides hold `spec` (logical names), read independently.
    #[track_caller]
    fn assert_both(&self, spec: &[(&str, &[&str])]) {
        let want = expected(spec);
        let a = read(&self.run.a, self.servers[0]);
        let b = read(&self.run.b, self.servers[1]);
        oracle::assert_state("A", &a, &want);
        oracle::assert_state("B", &b, &want);
    }

    /// `plan` has nothing to do (exit `code`: 0, or 2 with a known
    /// problem), and a second `sync` writes nothing.
    #[track_caller]
    fn assert_settled(&self, args: &[String], code: i32) {
        let strs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run.expect("plan", &strs, code);
        let before = (writes_marker(&self.run.a), writes_marker(&self.run.b));
        self.run.expect("sync", &strs, code);
        let after = (writes_marker(&self.run.a), writes_marker(&self.run.b));
        assert_eq!(before, after, "the second sync wrote to a server");
    }
}

fn both_ways(test: impl Fn(bool)) {
    for swapped in [false, true] {
        eprintln!("===== --a/--b swapped: {swapped}");
        test(swapped);
    }
}

/// Mailbox names from docs/SCENARIOS.md M10, as wire names on a '.' server:
/// spaces (trailing ones too), quotes, backslashes, `*`, `%`, `]`, `&`,
/// and non-ASCII in modified UTF-7 ("Entwürfe", "Отправленные").
const AWKWARD: &[&str] = &[
    "a b ",
    "f\\\"o!o [b*a%r]",
    "[b*a%r]",
    "100%",
    "*star",
    "back\\slash",
    "Tom &- Jerry",
    "Entw&APw-rfe",
    "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-",
];

#[test]
fn m9_m10_awkward_names_round_trip_between_dot_and_slash_servers() {
    both_ways(|swapped| {
        let case = Case::new(Server::Dots, Server::In(Layout::Slash), swapped);
        const MSGS: [&[&str]; 9] = [
            &["n1"],
            &["n2"],
            &["n3"],
            &["n4"],
            &["n5"],
            &["n6"],
            &["n7"],
            &["n8"],
            &["n9"],
        ];
        let mut on_a: Vec<(&str, &[&str])> = AWKWARD.iter().copied().zip(MSGS).collect();
        on_a.push(("Entw&APw-rfe.Gel&APY-scht", &["n10"]));
        seed(&case.run.a, &on_a);
        case.sync(&[], 0);

        // B lists every name exactly, levels joined by its '/'.
        let want: BTreeSet<String> = on_a
            .iter()
            .map(|(n, _)| n.replace('.', "/"))
            .chain(["INBOX".to_string()])
            .collect();
        assert_eq!(listed(&case.run.b), want);
        let logical: Vec<(String, &[&str])> = on_a
            .iter()
            .map(|(n, m)| (n.replace('.', "/"), *m))
            .collect();
        let spec: Vec<(&str, &[&str])> = logical.iter().map(|(n, m)| (n.as_str(), *m)).collect();
        case.assert_both(&spec);
        case.assert_settled(&[], 0);

        // M9: B's single level "do.t" would become two levels on A: refused
        // for that mailbox only; the rest (a new parent too) goes through.
        seed(&case.run.b, &[("do.t", &["d1"]), ("x y/z", &["d2"])]);
        let report = case.sync(&[], 2);
        assert!(
            report.contains("\"do.t\" contains '.'") && report.contains("without splitting it"),
            "{report}"
        );
        let names = listed(&case.run.a);
        assert!(names.contains("x y.z") && !names.iter().any(|n| n.contains("do")));
        case.assert_settled(&[], 2);
    });
}

/// M10's `foo]bar`: Dovecot lists it unquoted (`* LIST () "." foo]bar`,
/// valid: `]` is an ASTRING-CHAR), so the LIST parser must not stop there.
#[test]
fn m10_bracket_in_an_unquoted_name() {
    let case = Case::new(Server::Dots, Server::In(Layout::Slash), false);
    seed(&case.run.a, &[("foo]bar", &["b1"])]);
    case.sync(&[], 0);
    case.assert_both(&[("foo]bar", &["b1"])]);
    case.assert_settled(&[], 0);
}

#[test]
fn m11_inbox_prefix_maps_inbox_children_to_top_level_folders() {
    both_ways(|swapped| {
        let case = Case::new(Server::In(Layout::InboxPrefix), Server::Dots, swapped);
        seed(
            &case.run.a,
            &[
                ("INBOX", &["i1"]),
                ("INBOX.Foo", &["f1"]),
                ("INBOX.Foo.Bar", &["f2"]),
            ],
        );
        seed(&case.run.b, &[("INBOX", &["i2"]), ("Baz", &["z1"])]);
        let args = case.sided("prefix", ["INBOX.", ""]);
        case.sync(&args, 0);
        assert_eq!(
            listed(&case.run.a),
            ["INBOX", "INBOX.Baz", "INBOX.Foo", "INBOX.Foo.Bar"]
                .map(String::from)
                .into()
        );
        case.assert_both(&[
            ("INBOX", &["i1", "i2"]),
            ("Foo", &["f1"]),
            ("Foo/Bar", &["f2"]),
            ("Baz", &["z1"]),
        ]);
        case.assert_settled(&args, 0);
    });
}

#[test]
fn m11_without_the_prefix_a_folder_outside_the_namespace_fails_cleanly() {
    let case = Case::new(Server::In(Layout::InboxPrefix), Server::Dots, false);
    seed(&case.run.a, &[("INBOX.Foo", &["f1"])]);
    seed(&case.run.b, &[("Baz", &["z1"])]);
    // A's INBOX.Foo is INBOX/Foo; B's Baz cannot be created on A outside
    // its namespace: that mailbox fails, the rest goes through.
    let report = case.sync(&[], 2);
    assert!(report.contains("Baz"), "{report}");
    assert!(listed(&case.run.b).contains("INBOX.Foo"));
}

#[test]
fn m1_m7_creates_make_parents_and_unite_disjoint_trees() {
    both_ways(|swapped| {
        let case = Case::new(Server::Dots, Server::In(Layout::Slash), swapped);
        // M1: Foo is only a (\Noselect) parent on A; B gets Foo/Bar, its
        // parent made by the server, never selected.
        seed(&case.run.a, &[("Foo.Bar", &["m1", "m2", "m3", "m4", "m5"])]);
        case.sync(&[], 0);
        case.assert_both(&[("Foo/Bar", &["m1", "m2", "m3", "m4", "m5"])]);
        assert_eq!(
            listed(&case.run.b),
            ["Foo/Bar", "INBOX"].map(String::from).into()
        );
        // M7: common {foo, foo/bar}; A adds {bar, foo/baz}, B adds
        // {foo/xyz, foo/bar/3}: both end with the union.
        seed(&case.run.a, &[("foo", &["c1"]), ("foo.bar", &["c2"])]);
        case.sync(&[], 0);
        seed(&case.run.a, &[("bar", &["a1"]), ("foo.baz", &["a2"])]);
        seed(&case.run.b, &[("foo/xyz", &["b1"]), ("foo/bar/3", &["b2"])]);
        case.sync(&[], 0);
        case.assert_both(&[
            ("Foo/Bar", &["m1", "m2", "m3", "m4", "m5"]),
            ("foo", &["c1"]),
            ("foo/bar", &["c2"]),
            ("bar", &["a1"]),
            ("foo/baz", &["a2"]),
            ("foo/xyz", &["b1"]),
            ("foo/bar/3", &["b2"]),
        ]);
        case.assert_settled(&[], 0);
    });
}

#[test]
fn m13_a_child_under_noinferiors_fails_for_that_mailbox_only() {
    both_ways(|swapped| {
        let case = Case::new(Server::Dots, Server::In(Layout::Mbox), swapped);
        seed(&case.run.a, &[("Foo", &["m1"]), ("Foo.Bar", &["m2"])]);
        // On B, Foo is an mbox file: it cannot have children.
        seed(&case.run.b, &[("Foo", &["m3"])]);
        let report = case.sync(&[], 2);
        assert!(
            report.contains("cannot create on") && report.contains("\\Noinferiors"),
            "{report}"
        );
        let a = read(&case.run.a, Server::Dots);
        let b = read(&case.run.b, Server::In(Layout::Mbox));
        let want = expected(&[("Foo", &["m1", "m3"]), ("Foo/Bar", &["m2"])]);
        oracle::assert_state("A", &a, &want);
        oracle::assert_state("B", &b, &expected(&[("Foo", &["m1", "m3"])]));
        case.assert_settled(&[], 2);
    });
}

#[test]
fn m2_m3_by_default_a_mailbox_gone_on_one_side_is_recreated_and_refilled() {
    both_ways(|swapped| {
        let case = Case::new(Server::Dots, Server::In(Layout::Slash), swapped);
        seed(&case.run.a, &[("Foo", &["m1"]), ("Work", &["w1"])]);
        case.sync(&[], 0);
        // M2: deleted on A, unchanged on B: recreated on A with m1.
        delete(&case.run.a, &["Foo"]);
        case.sync(&[], 0);
        case.assert_both(&[("Foo", &["m1"]), ("Work", &["w1"])]);
        // M3: deleted on A while B received m2 there: nothing is lost.
        delete(&case.run.a, &["Work"]);
        seed(&case.run.b, &[("Work", &["w2"])]);
        case.sync(&[], 0);
        case.assert_both(&[("Foo", &["m1"]), ("Work", &["w1", "w2"])]);
        case.assert_settled(&[], 0);
    });
}

#[test]
fn m2_m3_delete_mailboxes_propagates_a_deletion_only_where_nothing_is_new() {
    both_ways(|swapped| {
        let case = Case::new(Server::Dots, Server::In(Layout::Slash), swapped);
        let args = ["--delete-mailboxes".to_string()];
        let big: Vec<String> = (1..=12).map(|i| format!("g{i}")).collect();
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        seed(
            &case.run.a,
            &[("Foo", &["m1"]), ("Work", &["w1"]), ("Big", &big)],
        );
        case.sync(&args, 0);
        delete(&case.run.a, &["Foo", "Work", "Big"]);
        seed(&case.run.b, &[("Work", &["w2"])]);
        // M2: Foo is deleted on B. M3: Work received w2 on B: recreated on
        // A. Big would take 12 messages with it: over the guard, withheld.
        let report = case.sync(&args, 4);
        assert!(report.contains("WITHHELD"), "{report}");
        assert!(report.contains("new since then"), "{report}");
        let a = read(&case.run.a, Server::Dots);
        oracle::assert_state("A", &a, &expected(&[("Work", &["w1", "w2"])]));
        let b = read(&case.run.b, Server::In(Layout::Slash));
        oracle::assert_state(
            "B",
            &b,
            &expected(&[("Work", &["w1", "w2"]), ("Big", &big)]),
        );
        // The operator raises the guard: Big goes too.
        let all: Vec<String> = ["--delete-mailboxes", "--max-delete", "100%"]
            .map(String::from)
            .into();
        case.sync(&all, 0);
        case.assert_both(&[("Work", &["w1", "w2"])]);
        case.assert_settled(&args, 0);
    });
}

#[test]
fn m8_deleting_parents_and_children_on_both_sides_converges() {
    m8(Server::In(Layout::Slash));
}

#[test]
fn m8_on_maildir_plus_plus() {
    m8(Server::Dots);
}

fn m8(server: Server) {
    // Names as this server spells them (the tree is written with '/').
    let wire = |name: &str| {
        let d = server.delimiter().to_string();
        format!("{}{}", server.prefix(), name.replace('/', &d))
    };
    both_ways(|swapped| {
        let case = Case::new(server, server, swapped);
        let args = ["--delete-mailboxes".to_string()];
        let tree = [
            ("1", "m1"),
            ("2", "m2"),
            ("3", "m3"),
            ("2/s1", "m4"),
            ("2/s2", "m5"),
            ("x/y", "m6"),
        ];
        let names: Vec<(String, [&str; 1])> = tree.iter().map(|(n, m)| (wire(n), [*m])).collect();
        let seeded: Vec<(&str, &[&str])> = names
            .iter()
            .map(|(n, m)| (n.as_str(), m.as_slice()))
            .collect();
        seed(&case.run.a, &seeded);
        case.sync(&args, 0);
        delete(&case.run.a, &[&wire("1"), &wire("2")]);
        delete(&case.run.b, &[&wire("2/s1"), &wire("x/y")]);
        case.sync(&args, 0);
        // 2 survives only as the non-selectable parent of 2/s2.
        case.assert_both(&[("3", &["m3"]), ("2/s2", &["m5"])]);
        case.assert_settled(&args, 0);
    });
}

/// UIDVALIDITY of a mailbox (wire name).
fn uidvalidity(user: &User, mailbox: &str) -> u32 {
    let mut client = user.client();
    let v = client.examine(mailbox).uidvalidity;
    client.logout();
    v
}

#[test]
fn m4_m5_m6_renames_are_found_by_content_and_renamed_alike() {
    both_ways(|swapped| {
        let case = Case::new(Server::Dots, Server::In(Layout::Slash), swapped);
        seed(
            &case.run.a,
            &[
                ("Foo", &["m1", "m2", "m3"]),
                ("Foo.Sub", &["m4"]),
                ("Old", &["o1"]),
                ("Both", &["x1"]),
            ],
        );
        let mut a = case.run.a.client();
        a.store("Foo", &[1], "+", &["\\Flagged"]);
        a.logout();
        case.sync(&[], 0);
        let kept = [
            uidvalidity(&case.run.b, "Foo"),
            uidvalidity(&case.run.b, "Foo/Sub"),
        ];
        let mut a = case.run.a.client();
        // M4: Foo (with its child) renamed on A.
        a.command("RENAME \"Foo\" \"Bar\"");
        // M5: Old renamed on A while B received o2 in it.
        a.command("RENAME \"Old\" \"New\"");
        // M6: Both renamed on A and, differently, on B.
        a.command("RENAME \"Both\" \"A1\"");
        a.logout();
        seed(&case.run.b, &[("Old", &["o2"])]);
        let mut b = case.run.b.client();
        b.command("RENAME \"Both\" \"B1\"");
        b.logout();
        let report = case.sync(&[], 0);
        // One RENAME each for Foo (its child moved with it) and Old: B's
        // mailboxes kept their UIDVALIDITY, nothing was uploaded again.
        let renamed = if swapped {
            "renamed 2 mailbox(es) on A, 0 on B"
        } else {
            "renamed 0 mailbox(es) on A, 2 on B"
        };
        assert!(report.contains(renamed), "{report}");
        assert_eq!(
            [
                uidvalidity(&case.run.b, "Bar"),
                uidvalidity(&case.run.b, "Bar/Sub")
            ],
            kept
        );
        let mut want = expected(&[
            ("Bar", &["m2", "m3"]),
            ("Bar/Sub", &["m4"]),
            ("New", &["o1", "o2"]),
            ("A1", &["x1"]),
            ("B1", &["x1"]),
        ]);
        want.add("Bar", &msg("m1"), &["\\Flagged"]);
        oracle::assert_state("A", &read(&case.run.a, Server::Dots), &want);
        oracle::assert_state("B", &read(&case.run.b, Server::In(Layout::Slash)), &want);
        case.assert_settled(&[], 0);
    });
}

#[test]
fn m4_a_rename_not_recognisable_keeps_the_old_name_or_deletes_it_on_request() {
    for delete in [false, true] {
        let case = Case::new(Server::Dots, Server::In(Layout::Slash), false);
        let args: Vec<String> = if delete {
            vec!["--delete-mailboxes".into()]
        } else {
            Vec::new()
        };
        seed(&case.run.a, &[("Foo", &["m1", "m2", "m3"])]);
        case.sync(&args, 0);
        // Renamed, and most of its mail expunged: no longer the same mailbox.
        let mut a = case.run.a.client();
        a.command("RENAME \"Foo\" \"Bar\"");
        a.expunge_uids("Bar", &[1, 2]);
        a.logout();
        case.sync(&args, 0);
        if delete {
            case.assert_both(&[("Bar", &["m3"])]);
        } else {
            case.assert_both(&[("Foo", &["m1", "m2", "m3"]), ("Bar", &["m3"])]);
        }
        case.assert_settled(&args, 0);
    }
}

/// Subscribed names as listed (`LSUB "" "*"`), logical.
fn subscribed(user: &User, server: Server) -> BTreeSet<String> {
    let mut client = user.client();
    let done = client.command("LSUB \"\" \"*\"");
    client.logout();
    done.untagged
        .iter()
        .filter(|l| l.starts_with(b"LSUB "))
        .map(|l| logical(server, &support::mailclient::tokenize(l)[3].text()))
        .collect()
}

fn subscribe(user: &User, names: &[&str], on: bool) {
    let mut client = user.client();
    let verb = if on { "SUBSCRIBE" } else { "UNSUBSCRIBE" };
    for n in names {
        client.command(&format!("{verb} {}", quote(n)));
    }
    client.logout();
}

#[test]
fn m12_subscriptions_reconcile_three_ways() {
    both_ways(|swapped| {
        let slash = Server::In(Layout::Slash);
        let case = Case::new(Server::Dots, slash, swapped);
        seed(
            &case.run.a,
            &[
                ("Foo", &["m1"]),
                ("Bar", &["m2"]),
                ("Baz", &["m3"]),
                ("Baz.Sub", &["m4"]),
            ],
        );
        subscribe(&case.run.a, &["Foo", "Baz", "Baz.Sub"], true);
        case.sync(&[], 0);
        let want: BTreeSet<String> = ["Foo", "Baz", "Baz/Sub"].map(String::from).into();
        assert_eq!(subscribed(&case.run.b, slash), want);
        // B unsubscribes Baz/Sub, A subscribes Bar: each change travels.
        subscribe(&case.run.b, &["Baz/Sub"], false);
        subscribe(&case.run.a, &["Bar"], true);
        case.sync(&[], 0);
        let want: BTreeSet<String> = ["Foo", "Bar", "Baz"].map(String::from).into();
        assert_eq!(subscribed(&case.run.a, Server::Dots), want);
        assert_eq!(subscribed(&case.run.b, slash), want);
        case.assert_settled(&[], 0);
    });
}

#[test]
fn special_use_all_mail_is_skipped_and_map_pairs_renamed_special_folders() {
    both_ways(|swapped| {
        let special = Server::In(Layout::SpecialUse);
        let case = Case::new(special, Server::Dots, swapped);
        // A (made for every user): "All Mail" (\All), "Sent Items" (\Sent).
        seed(
            &case.run.a,
            &[
                ("INBOX", &["i1"]),
                ("All Mail", &["i1"]),
                ("Sent Items", &["s1"]),
            ],
        );
        seed(&case.run.b, &[("Sent", &["s2"])]);
        let map = if swapped {
            "Sent=Sent Items"
        } else {
            "Sent Items=Sent"
        };
        let args = ["--map".to_string(), map.to_string()];
        let report = case.sync(&args, 0);
        assert!(report.contains("\\All"), "{report}");
        let mut a = expected(&[("Sent Items", &["s1", "s2"]), ("All Mail", &["i1"])]);
        a.add("INBOX", &msg("i1"), &[] as &[&str]);
        oracle::assert_state("A", &read(&case.run.a, special), &a);
        let mut b = expected(&[("Sent", &["s1", "s2"])]);
        b.add("INBOX", &msg("i1"), &[] as &[&str]);
        oracle::assert_state("B", &read(&case.run.b, Server::Dots), &b);
        case.assert_settled(&args, 0);
    });
}

#[test]
fn include_and_exclude_match_decoded_names() {
    let case = Case::new(Server::Dots, Server::In(Layout::Slash), false);
    seed(
        &case.run.a,
        &[
            ("Entw&APw-rfe", &["e1"]),
            ("Entw&APw-rfe.Gel&APY-scht", &["e2"]),
            ("Work", &["w1"]),
        ],
    );
    let args = ["--exclude".to_string(), "^Entwürfe".to_string()];
    case.sync(&args, 0);
    assert_eq!(
        listed(&case.run.b),
        ["INBOX", "Work"].map(String::from).into()
    );
    case.assert_settled(&args, 0);
}
