//! The action log (docs/AUDIT.md; docs/SCENARIOS.md C5 and C6; issue 20)
//! against real Dovecot: what it says a sync wrote is exactly what a
//! recording proxy saw the sessions send, every line matches the published
//! schema and carries the run id the report printed; a crash between the
//! log's intent and the write leaves that write "not confirmed".

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use support::dovecot::{self, Kind};
use support::imapmend::{bare, Finish, Pair};
use support::mail::{msg, DATE};
use support::oracle;
use support::proxy::{commands, Dir, Proxy};
use support::schema::{assert_valid, schema_file};

/// The log's lines, parsed.
fn log_lines(pair: &Pair) -> Vec<Value> {
    let mut path = pair.state_path().into_os_string();
    path.push(".actions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `imapmend log show --state … EXTRA`.
fn log_show(pair: &Pair, extra: &[&str]) -> (i32, String) {
    let out = bare()
        .args(["log", "show", "--state"])
        .arg(pair.state_path())
        .args(extra)
        .finish(std::time::Duration::from_secs(30));
    (out.code.unwrap_or(-1), out.stdout + &out.stderr)
}

fn uid_set(set: &str) -> Vec<u32> {
    set.split(',')
        .flat_map(|r| match r.split_once(':') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<u32>>(),
            None => vec![r.parse().unwrap()],
        })
        .collect()
}

/// The writes of one side, in a form both the wire and the log give:
/// flag changes per (UID, +/-, flag), expunged UIDs, appended sizes, and
/// mailbox commands with their names.
#[derive(Debug, Default, PartialEq, Eq)]
struct Writes {
    flags: Vec<(u32, char, String)>,
    expunged: Vec<u32>,
    appended: Vec<usize>,
    mailboxes: Vec<String>,
}

impl Writes {
    fn sorted(mut self) -> Writes {
        self.flags.sort();
        self.expunged.sort();
        self.appended.sort();
        self.mailboxes.sort();
        self
    }
}

fn unquote(s: &str) -> String {
    s.trim_matches('"').to_string()
}

/// What the proxy saw a side's sessions send.
fn on_the_wire(stream: &[u8]) -> Writes {
    let mut w = Writes::default();
    for c in commands(stream) {
        let words: Vec<&str> = c.words.iter().map(String::as_str).collect();
        match words.get(1..).unwrap_or_default() {
            ["UID", "STORE", set, rest @ ..] => {
                let at = rest.iter().position(|t| t.contains("FLAGS")).unwrap();
                let sign = rest[at].chars().next().unwrap();
                let flags: Vec<String> = rest[at + 1..]
                    .iter()
                    .map(|f| f.trim_matches(['(', ')']).to_string())
                    .filter(|f| !f.is_empty())
                    .collect();
                for uid in uid_set(set) {
                    for f in &flags {
                        w.flags.push((uid, sign, f.clone()));
                    }
                }
            }
            ["UID", "EXPUNGE", set] => w.expunged.extend(uid_set(set)),
            ["APPEND", ..] => w.appended.extend(&c.literals),
            [verb @ ("CREATE" | "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE"), name] => {
                w.mailboxes.push(format!("{verb} {}", unquote(name)));
            }
            ["RENAME", from, to] => {
                w.mailboxes
                    .push(format!("RENAME {} {}", unquote(from), unquote(to)));
            }
            [verb, ..] if ["UID MOVE", "UID COPY", "EXPUNGE", "MOVE", "COPY"].contains(verb) => {
                panic!("a write this test does not expect: {:?}", c.words)
            }
            _ => {}
        }
    }
    w.sorted()
}

/// What the log says a side was sent (intents: what went out).
fn in_the_log(lines: &[Value], side: &str) -> Writes {
    let mut w = Writes::default();
    let uids = |l: &Value| -> Vec<u32> {
        l["uids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_u64().unwrap() as u32)
            .collect()
    };
    for l in lines
        .iter()
        .filter(|l| l["phase"] == "intent" && l["side"] == side)
    {
        let mailbox = l["mailbox"].as_str().unwrap();
        match l["action"].as_str().unwrap() {
            "store" => {
                for (sign, key) in [('+', "add"), ('-', "remove")] {
                    for f in l["flags"][key].as_array().unwrap() {
                        for uid in uids(l) {
                            w.flags.push((uid, sign, f.as_str().unwrap().to_string()));
                        }
                    }
                }
            }
            "expunge" => {
                for uid in uids(l) {
                    w.flags.push((uid, '+', "\\Deleted".into()));
                    w.expunged.push(uid);
                }
            }
            "append" => w.appended.extend(
                l["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["size"].as_u64().unwrap() as usize),
            ),
            "rename" => w
                .mailboxes
                .push(format!("RENAME {mailbox} {}", l["to"].as_str().unwrap())),
            verb => w
                .mailboxes
                .push(format!("{} {mailbox}", verb.to_uppercase())),
        }
    }
    w.sorted()
}

/// C5: a sync with every kind of write (APPEND both ways, STORE adding and
/// removing, EXPUNGE, CREATE, RENAME, DELETE, SUBSCRIBE) through a
/// recording proxy per side: the log's intents are exactly the writes the
/// proxies saw, each confirmed done, every line valid against
/// `schema/action-log.schema.json`, carrying the run id of the report;
/// `log show --run` prints them.
#[test]
fn c5_the_log_is_what_the_servers_were_sent() {
    let (a, b) = dovecot::pair(Kind::Full);
    let proxies = [Proxy::start(a.port), Proxy::start(b.port)];
    let pair = Pair {
        a_port: proxies[0].port(),
        b_port: proxies[1].port(),
        ..Pair::new(&a, &b)
    };
    let mut ca = a.client();
    let m1 = ca.append("INBOX", &msg("m1"), &["\\Seen"], Some(DATE));
    let m2 = ca.append("INBOX", &msg("m2"), &[], Some(DATE));
    ca.create("Old");
    ca.append("Old", &msg("o1"), &[], Some(DATE));
    ca.create("Gone");
    ca.append("Gone", &msg("g1"), &[], Some(DATE));
    ca.logout();
    pair.expect("sync", &["--no-compress"], 0);

    // Every kind of change, so that the next sync makes every kind of write.
    let mut ca = a.client();
    ca.append("INBOX", &msg("n1"), &["\\Flagged"], Some(DATE));
    ca.store("INBOX", &[m1], "+", &["\\Answered"]);
    ca.expunge_uids("INBOX", &[m2]);
    ca.command("RENAME Old Renamed");
    ca.create("Fresh");
    ca.append("Fresh", &msg("f1"), &[], Some(DATE));
    ca.command("SUBSCRIBE Fresh");
    ca.logout();
    let mut cb = b.client();
    cb.append("INBOX", &msg("n2"), &[], Some(DATE));
    let b_m1 = cb.fetch_all("INBOX")[0].uid;
    cb.store("INBOX", &[b_m1], "-", &["\\Seen"]);
    cb.delete("Gone");
    cb.logout();

    for p in &proxies {
        p.record();
    }
    let out = pair.expect(
        "sync",
        &["--no-compress", "--delete-mailboxes", "--json"],
        0,
    );
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let run = report["run_id"].as_str().unwrap().to_string();

    let lines = log_lines(&pair);
    let validator = schema_file("action-log.schema.json");
    for l in &lines {
        assert_valid(&validator, l, "an action log line");
    }
    let this_run: Vec<Value> = lines.into_iter().filter(|l| l["run"] == run).collect();
    let intents = this_run.iter().filter(|l| l["phase"] == "intent").count();
    let done = this_run.iter().filter(|l| l["outcome"] == "done").count();
    assert_eq!((intents, done), (intents, intents), "{this_run:#?}");

    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for l in this_run.iter().filter(|l| l["phase"] == "intent") {
        *kinds.entry(l["action"].as_str().unwrap()).or_default() += 1;
    }
    for kind in [
        "append",
        "store",
        "expunge",
        "create",
        "rename",
        "delete",
        "subscribe",
    ] {
        assert!(kinds.contains_key(kind), "no {kind} in {kinds:?}");
    }
    for (p, side) in proxies.iter().zip(["A", "B"]) {
        let wire = on_the_wire(&p.recorded(Dir::ToServer));
        assert_eq!(in_the_log(&this_run, side), wire, "side {side}");
    }
    // Every message a STORE or EXPUNGE is about carries its content and
    // its size as listed; the expunge also its Message-ID (read in the
    // SELECT's flight), a store none (schema: `message_id`).
    let mut about = Vec::new();
    for l in this_run.iter().filter(|l| l["phase"] == "intent") {
        let action = l["action"].as_str().unwrap();
        for m in l["messages"].as_array().unwrap() {
            assert!(m["fingerprint"].is_string(), "{l}");
            if action == "store" || action == "expunge" {
                about.push((action, m["size"].as_u64(), m["message_id"].as_str()));
            }
        }
    }
    about.sort();
    let size = |name: &str| Some(msg(name).len() as u64);
    assert_eq!(
        about,
        [
            ("expunge", size("m2"), Some("<m2@tests.imapmend.test>")),
            ("store", size("m1"), None),
            ("store", size("m1"), None),
        ],
        "{this_run:#?}"
    );
    // Never a body or a subject: the messages' text is nowhere in the log.
    let text = this_run.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains("Subject"), "{text}");

    let (code, shown) = log_show(&pair, &["--run", &run]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains(&format!("{intents} write(s)")), "{shown}");
    assert!(
        shown.contains("Renamed") && shown.contains("done"),
        "{shown}"
    );
    let (code, none) = log_show(&pair, &["--since", "2999-01-01"]);
    assert_eq!(code, 0, "{none}");
    assert!(none.contains("0 write(s)"), "{none}");
}

/// C6: the run dies after the log's intent of a write and before the write
/// is sent: `log show` names that write "not confirmed", the ones before it
/// done; the server never got it; a rerun converges and logs its own.
#[test]
fn c6_a_crash_between_intent_and_write_leaves_it_not_confirmed() {
    let (a, b) = (
        dovecot::fresh_user(Kind::Full),
        dovecot::fresh_user(Kind::Full),
    );
    let pair = Pair::new(&a, &b);
    let mut ca = a.client();
    ca.append("INBOX", &msg("m1"), &["\\Seen"], Some(DATE));
    ca.create("Work");
    ca.append("Work", &msg("w1"), &[], Some(DATE));
    ca.logout();
    let crashed = pair.run("sync", &[], &[("IMAPMEND_TEST_CRASH_AFTER_LOGGED", "2")]);
    assert_ne!(crashed.code, Some(0), "{}", crashed.describe());
    let lines = log_lines(&pair);
    let intents: Vec<&Value> = lines.iter().filter(|l| l["phase"] == "intent").collect();
    assert_eq!(intents.len(), 2, "{lines:#?}");
    let outcomes: Vec<&Value> = lines.iter().filter(|l| l["phase"] == "outcome").collect();
    assert_eq!(outcomes.len(), 1, "{lines:#?}");
    assert_eq!(outcomes[0]["seq"], intents[0]["seq"]);
    let (code, shown) = log_show(&pair, &[]);
    assert_eq!(code, 0, "{shown}");
    assert_eq!(shown.matches("not confirmed").count(), 1, "{shown}");

    pair.expect("sync", &[], 0);
    let sa = oracle::read_side(&a);
    assert_eq!(sa, oracle::read_side(&b));
    pair.expect("plan", &[], 0);
    let (_, shown) = log_show(&pair, &[]);
    assert_eq!(shown.matches("not confirmed").count(), 1, "{shown}");
}

/// The state both sides start from and A's expunge of m2: synced once,
/// then m2 expunged on A. Returns the pair.
fn expunged_on_a(a: &support::dovecot::User, b: &support::dovecot::User) -> Pair {
    let pair = Pair::new(a, b);
    let mut ca = a.client();
    ca.append("INBOX", &msg("m1"), &["\\Seen"], Some(DATE));
    let m2 = ca.append("INBOX", &msg("m2"), &["\\Flagged"], Some(DATE));
    ca.append("INBOX", &msg("m3"), &[], Some(DATE));
    ca.logout();
    pair.expect("sync", &[], 0);
    let mut ca = a.client();
    ca.expunge_uids("INBOX", &[m2]);
    ca.logout();
    pair
}

/// E15: with `--expunge-to Quarantine`, B's partner of the message A
/// expunged is moved into B's Quarantine (made on first use, flags kept),
/// not expunged; the quarantine is left out of the run (a plan finds
/// nothing, A gets no Quarantine); the log has the move with where it
/// landed. Killed between the move's log line and the move, or right
/// after the move was sent, a rerun ends the same: the message in the
/// quarantine once, never lost, never twice.
#[test]
fn e15_expunge_to_moves_a_proven_expunge_into_the_quarantine_once_even_after_a_crash() {
    let mut expected_a = oracle::SideState::default();
    expected_a.add("INBOX", &msg("m1"), &["\\Seen"]);
    expected_a.add("INBOX", &msg("m3"), &[] as &[&str]);
    let mut expected_b = expected_a.clone();
    expected_b.add("Quarantine", &msg("m2"), &["\\Flagged"]);
    let quarantine = ["--expunge-to", "Quarantine"];
    for crash in [
        None,
        Some(("IMAPMEND_TEST_CRASH_AFTER_LOGGED", "2")),
        Some(("IMAPMEND_TEST_CRASH_AFTER_WRITES", "2")),
    ] {
        let (a, b) = (
            dovecot::fresh_user(Kind::Full),
            dovecot::fresh_user(Kind::Full),
        );
        let pair = expunged_on_a(&a, &b);
        if let Some(env) = crash {
            let crashed = pair.run("sync", &quarantine, &[env]);
            assert_ne!(crashed.code, Some(0), "{crash:?}: {}", crashed.describe());
        }
        pair.expect("sync", &quarantine, 0);
        assert!(oracle::read_side(&a) == expected_a, "A after {crash:?}");
        assert!(oracle::read_side(&b) == expected_b, "B after {crash:?}");
        pair.expect("plan", &quarantine, 0);
        let moves: Vec<Value> = log_lines(&pair)
            .into_iter()
            .filter(|l| l["action"] == "move" && l["outcome"] == "done")
            .collect();
        let want = usize::from(crash.is_none_or(|(hook, _)| hook.ends_with("LOGGED")));
        assert_eq!(moves.len(), want, "{crash:?}: {moves:#?}");
        if let Some(m) = moves.first() {
            assert_eq!(
                (m["side"].as_str(), m["to"].as_str()),
                (Some("B"), Some("Quarantine"))
            );
            assert_eq!(m["to_uids"].as_array().map(Vec::len), Some(1), "{m}");
            // The intent names what was moved: Message-ID and size.
            let intent = log_lines(&pair)
                .into_iter()
                .find(|l| l["phase"] == "intent" && l["run"] == m["run"] && l["seq"] == m["seq"])
                .unwrap();
            let moved = &intent["messages"][0];
            assert_eq!(moved["message_id"], "<m2@tests.imapmend.test>", "{intent}");
            assert_eq!(moved["size"], msg("m2").len(), "{intent}");
        }
    }
}

/// Expunges the message `name` ([`msg`]) from INBOX on `user`.
fn expunge_on(user: &support::dovecot::User, name: &str) {
    let mut c = user.client();
    let uid = c.uid_of("INBOX", &msg(name));
    c.expunge_uids("INBOX", &[uid]);
    c.logout();
}

/// The log with every line's time set back to 2000-01-01, as if its
/// writes had been made long ago (the purge measures a quarantined
/// message's wait from its move's logged time).
fn backdate_log(pair: &Pair) {
    let mut path = pair.state_path().into_os_string();
    path.push(".actions.jsonl");
    let lines: Vec<String> = log_lines(pair)
        .into_iter()
        .map(|mut l| {
            l["time"] = Value::from("2000-01-01T00:00:00Z");
            l.to_string() + "\n"
        })
        .collect();
    std::fs::write(&path, lines.concat()).unwrap();
}

/// E17: `--quarantine-days 3` purges from the quarantine only what imapmend
/// moved there at least 3 days ago (by the log): nothing while the moves
/// are fresh; once they are old, more than `--max-delete` allows is
/// withheld (exit 4, nothing purged, the way to allow it named); then both
/// are purged and the message an operator put there by hand stays. Killed
/// before the purge is sent, between its STORE and EXPUNGE, or after it, a
/// rerun ends the same.
#[test]
fn e17_quarantine_days_purges_only_what_imapmend_moved_long_enough_ago() {
    let purge = ["--expunge-to", "Quarantine", "--quarantine-days", "3"];
    let mut kept = oracle::SideState::default();
    kept.add("INBOX", &msg("m1"), &["\\Seen"]);
    kept.add("Quarantine", &msg("hand"), &[] as &[&str]);
    for crash in [
        None,
        Some(("IMAPMEND_TEST_CRASH_AFTER_LOGGED", "1")),
        Some(("IMAPMEND_TEST_CRASH_AFTER_WRITES", "1")),
        Some(("IMAPMEND_TEST_CRASH_AFTER_WRITES", "2")),
    ] {
        let (a, b) = (
            dovecot::fresh_user(Kind::Full),
            dovecot::fresh_user(Kind::Full),
        );
        let pair = expunged_on_a(&a, &b);
        expunge_on(&a, "m3");
        pair.expect("sync", &purge, 0);
        let mut cb = b.client();
        cb.append("Quarantine", &msg("hand"), &[], Some(DATE));
        cb.logout();
        let mut full = kept.clone();
        full.add("Quarantine", &msg("m2"), &["\\Flagged"]);
        full.add("Quarantine", &msg("m3"), &[] as &[&str]);
        // Fresh: nothing is due.
        pair.expect("sync", &purge, 0);
        assert!(
            oracle::read_side(&b) == full,
            "{crash:?}: fresh moves purged"
        );

        backdate_log(&pair);
        if crash.is_none() {
            let withheld = pair.expect("sync", &[&purge[..], &["--max-delete", "1"]].concat(), 4);
            let text = withheld.output();
            assert!(
                text.contains("WITHHELD purge of 2") && text.contains("--max-delete 2"),
                "{text}"
            );
            assert!(oracle::read_side(&b) == full, "purged past the guard");
        }
        if let Some(env) = crash {
            let crashed = pair.run("sync", &purge, &[env]);
            assert_ne!(crashed.code, Some(0), "{crash:?}: {}", crashed.describe());
        }
        let out = pair.expect("sync", &purge, 0);
        assert!(
            oracle::read_side(&b) == kept,
            "{crash:?}: B after the purge"
        );
        let mut a_side = oracle::SideState::default();
        a_side.add("INBOX", &msg("m1"), &["\\Seen"]);
        assert!(oracle::read_side(&a) == a_side, "{crash:?}: A touched");
        let purges: Vec<Value> = log_lines(&pair)
            .into_iter()
            .filter(|l| l["action"] == "expunge" && l["mailbox"] == "Quarantine")
            .collect();
        let intents = purges.iter().filter(|l| l["phase"] == "intent").count();
        // A purge the crash stopped before its EXPUNGE went out is sent
        // again; one that was expunged is found gone.
        let want = match crash {
            None | Some((_, "2")) => 1,
            Some(_) => 2,
        };
        assert_eq!(intents, want, "{crash:?}: {purges:#?}\n{}", out.output());
        // A purge line names what it expunged, as the move recorded it.
        let mut named: Vec<(String, u64)> = purges
            .iter()
            .filter(|l| l["phase"] == "intent")
            .flat_map(|l| l["messages"].as_array().unwrap().clone())
            .map(|m| (m["message_id"].to_string(), m["size"].as_u64().unwrap()))
            .collect();
        named.sort();
        named.dedup();
        let of = |n: &str| {
            (
                format!("\"<{n}@tests.imapmend.test>\""),
                msg(n).len() as u64,
            )
        };
        assert_eq!(named, [of("m2"), of("m3")], "{crash:?}: {purges:#?}");
        pair.expect("sync", &purge, 0);
        assert!(oracle::read_side(&b) == kept, "{crash:?}: B after a rerun");
    }
}

/// The UID of the message `name` ([`msg`]) in `mailbox` on `user`.
fn uid_of(user: &support::dovecot::User, mailbox: &str, name: &str) -> u32 {
    let mut c = user.client();
    let uid = c.uid_of(mailbox, &msg(name));
    c.logout();
    uid
}

/// C7: a sync with `--expunge-to` quarantined a deletion on each side and
/// carried a flag change each way; `undo --run ID` prints the moves back
/// and the reverts and changes nothing; `--apply` returns both sides to
/// their state before that sync (by the oracle), except a flag someone
/// changed since, which it names and leaves. The next sync copies what
/// came back to the other side: nothing quarantined again, nothing twice,
/// nothing lost. Undo of a sync without quarantine names its expunge as
/// what it cannot undo.
#[test]
fn c7_undo_takes_a_run_back_and_the_next_sync_keeps_what_came_back() {
    let q = ["--expunge-to", "Quarantine"];
    let (a, b) = (
        dovecot::fresh_user(Kind::Full),
        dovecot::fresh_user(Kind::Full),
    );
    let pair = Pair::new(&a, &b);
    let mut ca = a.client();
    for (name, flags) in [
        ("m1", &["\\Seen"][..]),
        ("m2", &[]),
        ("m3", &[]),
        ("m4", &[]),
    ] {
        ca.append("INBOX", &msg(name), flags, Some(DATE));
    }
    ca.logout();
    pair.expect("sync", &q, 0);
    // What the run to undo carries over: an expunge and a flag each way.
    expunge_on(&a, "m2");
    expunge_on(&b, "m3");
    a.client()
        .store("INBOX", &[uid_of(&a, "INBOX", "m1")], "+", &["\\Flagged"]);
    b.client()
        .store("INBOX", &[uid_of(&b, "INBOX", "m4")], "+", &["\\Answered"]);
    let before = [oracle::read_side(&a), oracle::read_side(&b)];
    let out = pair.expect("sync", &[&q[..], &["--json"]].concat(), 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let run = report["run_id"].as_str().unwrap().to_string();
    // Someone changes a flag the run set: that one is not reverted.
    a.client()
        .store("INBOX", &[uid_of(&a, "INBOX", "m4")], "-", &["\\Answered"]);
    let after = [oracle::read_side(&a), oracle::read_side(&b)];

    let undo = |extra: &[&str], code| {
        let args = [&q[..], &["--run", &run], extra].concat();
        pair.expect("undo", &args, code).output()
    };
    let plan = undo(&[], 1);
    for line in [
        "move     1 message(s) on A from Quarantine back to INBOX",
        "move     1 message(s) on B from Quarantine back to INBOX",
        "flags    -(\\Flagged) on 1 message(s) of INBOX on B",
        "cannot   A INBOX UID",
    ] {
        assert!(plan.contains(line), "{line:?} not in:\n{plan}");
    }
    assert!(plan.contains("changed since the run"), "{plan}");
    assert!(oracle::read_side(&a) == after[0], "the plan changed A");
    assert!(oracle::read_side(&b) == after[1], "the plan changed B");

    let applied = undo(&["--apply"], 0);
    let mut want = before.clone();
    for side in &mut want {
        side.mailbox("Quarantine");
    }
    // m4's \Answered on A was removed by someone after the run: as before.
    assert!(oracle::read_side(&a) == want[0], "A after undo\n{applied}");
    assert!(oracle::read_side(&b) == want[1], "B after undo\n{applied}");
    // The undo's own writes are in the log under its own run id.
    let undone: Vec<Value> = log_lines(&pair)
        .into_iter()
        .filter(|l| l["run"] != run.as_str() && l["outcome"] == "done")
        .filter(|l| l["mailbox"] == "Quarantine" && l["to"] == "INBOX")
        .collect();
    assert_eq!(undone.len(), 2, "{undone:#?}");

    // The next sync: what came back is new mail on its side, copied over.
    pair.expect("sync", &q, 0);
    let (sa, sb) = (oracle::read_side(&a), oracle::read_side(&b));
    let mut both = oracle::SideState::default();
    both.add("INBOX", &msg("m1"), &["\\Seen"]);
    for name in ["m2", "m3", "m4"] {
        both.add("INBOX", &msg(name), &[] as &[&str]);
    }
    both.mailbox("Quarantine");
    assert!(sa == both, "A after the next sync: {sa}");
    assert!(sb == both, "B after the next sync: {sb}");
    pair.expect("plan", &q, 0);

    // A sync without quarantine: its expunge cannot be undone, and says so.
    expunge_on(&a, "m2");
    let out = pair.expect("sync", &["--json"], 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let run = report["run_id"].as_str().unwrap();
    let text = pair.expect("undo", &["--run", run], 0).output();
    assert!(
        text.contains("cannot   B INBOX UIDs") && text.contains("expunged without a quarantine"),
        "{text}"
    );
}
