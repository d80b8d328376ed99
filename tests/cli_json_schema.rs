//! `--json` output is what `schema/report.schema.json` documents: real
//! `plan`, `check` and `sync` runs against Dovecot (copies both ways, a
//! mailbox to create, a first-meeting flag conflict, differences, what sync
//! applied, a propagated expunge, the outcome of each planned action) are
//! validated against the schema. The
//! schema is strict (no unknown fields), so a change to the report that the
//! schema does not describe fails here: update the schema with it (and bump
//! `schema_version` in src/plan.rs if the change is incompatible).

mod support;

use serde_json::Value;
use std::path::Path;
use support::dovecot::{self, Kind, User};
use support::imapmend::{bare, Finish};
use support::schema::{assert_valid, schema};

fn run_json(dir: &Path, a: &User, b: &User, verb: &str) -> (i32, Value) {
    let out = bare()
        .env("XDG_STATE_HOME", dir)
        .env("IMAPMEND_A_PASSWORD", &a.password)
        .env("IMAPMEND_B_PASSWORD", &b.password)
        .args(verb.split_whitespace())
        .args(["--json", "--a", &a.url(), "--b", &b.url()])
        .args(["--a-tls", "none", "--b-tls", "none"])
        .finish(std::time::Duration::from_secs(120));
    let stdout = out.stdout.as_str();
    let report: Value = serde_json::from_str(stdout).unwrap_or_else(|e| {
        panic!(
            "{verb} --json printed no JSON ({e}):\n{stdout}\n{}",
            out.stderr.as_str()
        )
    });
    (out.code.unwrap_or(-1), report)
}

#[test]
fn plan_check_and_sync_json_match_the_published_schema() {
    let validator = schema();
    let (a, b) = dovecot::pair(Kind::Full);
    let mut ca = a.client();
    ca.append("INBOX", b"Subject: m1\r\n\r\none\r\n", &["\\Seen"], None);
    ca.append("INBOX", b"Subject: m2\r\n\r\ntwo\r\n", &[], None);
    // The same message as Courier would store it (a final line break
    // added): a pair at the normalised level.
    ca.append("INBOX", b"Subject: m5\r\n\r\nfive", &[], None);
    ca.create("Work");
    ca.append("Work", b"Subject: m3\r\n\r\nthree\r\n", &["$Label1"], None);
    ca.logout();
    let mut cb = b.client();
    cb.append("INBOX", b"Subject: m1\r\n\r\none\r\n", &["\\Flagged"], None);
    cb.append("INBOX", b"Subject: m4\r\n\r\nfour\r\n", &[], None);
    cb.append("INBOX", b"Subject: m5\r\n\r\nfive\r\n", &[], None);
    cb.logout();
    let dir = tempfile::tempdir().unwrap();

    let (code, plan) = run_json(dir.path(), &a, &b, "plan");
    assert_eq!(code, 1);
    assert_valid(&validator, &plan, "plan");
    assert_eq!(plan["command"], "plan");
    let mailboxes = plan["plan"]["mailboxes"].as_array().unwrap();
    assert!(mailboxes.iter().any(|m| m["create"] == "B"), "{plan}");
    assert!(mailboxes
        .iter()
        .any(|m| !m["copies"].as_array().unwrap().is_empty()));
    // Every pair says at which level it was made.
    let pairs: Vec<&Value> = mailboxes
        .iter()
        .flat_map(|m| m["pairs"].as_array().unwrap())
        .collect();
    let levels: Vec<&str> = pairs.iter().map(|p| p["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["exact", "normalised"], "{plan}");
    assert!(pairs[0]["fingerprint_b"].is_null());
    assert_ne!(pairs[1]["fingerprint_b"], pairs[1]["fingerprint"]);

    let (code, check) = run_json(dir.path(), &a, &b, "check");
    assert_eq!(code, 1);
    assert_valid(&validator, &check, "check");
    assert!(check["check"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| !m["surplus"].as_array().unwrap().is_empty()));

    let (code, sync) = run_json(dir.path(), &a, &b, "sync");
    assert_eq!(code, 0, "{sync}");
    assert_valid(&validator, &sync, "sync");
    // Both sides were waited for: at least the login and the listing.
    let turns = sync["turns"].as_array().unwrap();
    assert!(turns.iter().all(|t| t.as_u64() >= Some(2)), "{sync}");
    assert_eq!(sync["applied"]["copied_to"], serde_json::json!([1, 2]));
    // Each planned action's outcome: here every one was done.
    let actions = sync["outcome"]["actions"].as_array().unwrap();
    let copies: Vec<_> = actions.iter().filter(|a| a["action"] == "copy").collect();
    assert_eq!(copies.len(), 3, "{sync}");
    assert!(actions.iter().all(|a| a["status"] == "done"), "{sync}");
    assert!(
        actions.iter().any(|a| a["action"] == "create_mailbox"),
        "{sync}"
    );
    let totals = &sync["outcome"]["totals"];
    assert_eq!(totals["done"].as_u64(), Some(actions.len() as u64));
    assert_eq!(plan["outcome"], Value::Null, "plan applies nothing");

    // A deletion on A, proven by history, planned and applied as an expunge.
    let mut ca = a.client();
    let uid = ca
        .fetch_all("INBOX")
        .iter()
        .find(|m| m.body.starts_with(b"Subject: m2"))
        .map(|m| m.uid)
        .unwrap();
    ca.expunge_uids("INBOX", &[uid]);
    ca.logout();
    let (_, plan) = run_json(dir.path(), &a, &b, "plan");
    assert_valid(&validator, &plan, "plan after an expunge");
    let (_, sync) = run_json(dir.path(), &a, &b, "sync");
    assert_valid(&validator, &sync, "sync after an expunge");
    let expunge = serde_json::json!({
        "mailbox": "INBOX", "action": "expunge", "side": "B", "status": "done", "detail": null
    });
    let actions = sync["outcome"]["actions"].as_array().unwrap();
    assert!(
        actions
            .iter()
            .any(|a| ["mailbox", "action", "side", "status", "detail"]
                .iter()
                .all(|k| a[k] == expunge[k])),
        "{sync}"
    );
    let (code, check) = run_json(dir.path(), &a, &b, "check");
    assert_eq!(code, 0, "{check}");
    assert_valid(&validator, &check, "check in agreement");
}

/// A first sync towards an empty side lists the other by metadata only:
/// its copies carry no fingerprint in the report (null, which the schema
/// allows), the copy hashes each body, and the snapshot ends up with the
/// real fingerprints (`check --verify` re-reads every body against them).
#[test]
fn a_first_sync_to_an_empty_side_reports_copies_whose_content_the_copy_reads() {
    let validator = schema();
    let (a, b) = dovecot::pair(Kind::Full);
    let mut ca = a.client();
    ca.append("INBOX", b"Subject: m1\r\n\r\none\r\n", &["\\Seen"], None);
    ca.create("Work");
    ca.append("Work", b"Subject: m2\r\n\r\ntwo\r\n", &[], None);
    ca.logout();
    let dir = tempfile::tempdir().unwrap();
    let (code, sync) = run_json(dir.path(), &a, &b, "sync");
    assert_eq!(code, 0, "{sync}");
    assert_valid(&validator, &sync, "first sync");
    let copies: Vec<&Value> = sync["plan"]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["copies"].as_array().unwrap())
        .collect();
    assert_eq!(copies.len(), 2, "{sync}");
    assert!(copies.iter().all(|c| c["fingerprint"].is_null()), "{sync}");
    assert_eq!(sync["applied"]["copied_to"], serde_json::json!([0, 2]));
    let (code, check) = run_json(dir.path(), &a, &b, "check --verify");
    assert_eq!(code, 0, "{check}");
    assert_valid(&validator, &check, "check --verify after a first sync");
    let (code, plan) = run_json(dir.path(), &a, &b, "plan");
    assert_eq!(code, 0, "{plan}");
}

#[test]
fn the_schema_is_not_vacuous() {
    let validator = schema();
    let good = serde_json::json!({
        "schema_version": 1, "command": "check", "run_id": "20261207T101500Z-3fa2",
        "endpoints": ["u@a:993", "v@b:993"],
        "plan": null, "applied": null,
        "check": [{
            "name": "INBOX", "only_on": null, "messages": [1, 1], "surplus": [],
            "damaged": [["B", 7]], "unreadable": [], "pending_expunge": [], "refused": []
        }],
        "scrub": null,
        "listing_failures": [{ "mailbox": "Junk", "side": "B", "error": "NO [SERVERBUG]" }],
        "turns": [3, 2],
        "exit_code": 2,
        "outcome": null
    });
    assert_valid(&validator, &good, "a hand-made report");
    for (pointer, bad) in [
        ("/exit_code", serde_json::json!(7)),
        ("/turns", serde_json::json!([3])),
        ("/turns", serde_json::json!([3, -1])),
        ("/command", serde_json::json!("bisync")),
        ("/scrub", serde_json::json!({"budget": "2%"})),
        ("/run_id", serde_json::json!("yesterday")),
        ("/check/0/only_on", serde_json::json!("C")),
        ("/listing_failures/0/extra", serde_json::json!(true)),
        ("/schema_version", serde_json::json!(2)),
        (
            "/outcome",
            serde_json::json!({"actions": [{"mailbox": "INBOX", "action": "copy", "side": "A",
                "uid": 3, "status": "lost", "detail": null}],
                "totals": {"done": 0, "refused": 0, "skipped": 0, "not_attempted": 0}}),
        ),
    ] {
        let mut report = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        report
            .pointer_mut(if parent.is_empty() { "" } else { parent })
            .unwrap()[key] = bad;
        assert!(!validator.is_valid(&report), "{pointer} should be refused");
    }
}
