//! Reviewed runs: `plan --save FILE` keeps the Plan an operator looked at,
//! and `sync --expect-plan FILE` refuses (exit 4, nothing applied) when the
//! live Plan holds destructive actions the reviewed one did not.
//!
//! The saved file is exactly the report `plan --json` prints, so a plan
//! saved by redirecting `--json` works too. Destructive means: removing a
//! message from a server (an expunge, or setting \Deleted for one). Copies
//! and flag changes never destroy mail and may differ freely (new mail
//! arrives between review and sync). Expunges are compared as a multiset of
//! (mailbox, side, content fingerprint): the live Plan may delete fewer than
//! reviewed, never more or other ones.

use crate::exit;
use crate::job::Job;
use crate::model::Side;
use crate::plan::Plan;
use crate::report::Report;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// After `plan` printed its report: writes it to `--save FILE` if asked.
/// False (after saying why) when the file cannot be written.
pub fn save(job: &Job, report: &Report<'_>) -> bool {
    let Some(path) = &job.save_plan else {
        return true;
    };
    match crate::metrics::write_atomically(path, report.to_json().as_bytes()) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("imapmend: cannot save the plan to {}: {e}", path.display());
            false
        }
    }
}

/// Before `sync` applies anything: with `--expect-plan FILE`, Err(exit
/// code) after explaining what the live Plan would delete beyond the
/// reviewed one (4), or why the file cannot serve as a review (3).
pub fn check_expected(job: &Job, live: &Plan, endpoints: &[String; 2]) -> Result<(), i32> {
    let Some(path) = &job.expect_plan else {
        return Ok(());
    };
    let saved = match load(path) {
        Ok(v) => v,
        Err(e) => {
            eprintln!(
                "imapmend: --expect-plan {}: {e}; nothing was done",
                path.display()
            );
            return Err(exit::CANNOT_RUN);
        }
    };
    match unexpected_deletions(&saved, live, endpoints) {
        Ok(extra) if extra.is_empty() => Ok(()),
        Ok(extra) => {
            eprintln!(
                "imapmend: refusing to sync: the live plan deletes {} message(s) that the \
                 reviewed plan {} did not; nothing was done. Review a new plan (`imapmend plan \
                 --save FILE`) first:",
                extra.iter().map(|(_, n)| n).sum::<usize>(),
                path.display()
            );
            for ((mailbox, side, fingerprint), n) in &extra {
                if fingerprint == MAILBOX {
                    eprintln!("  deletion of the mailbox {mailbox} on {side}");
                    continue;
                }
                eprintln!(
                    "  {n} × expunge on {side} in {mailbox}: {}",
                    &fingerprint[..12]
                );
            }
            Err(exit::WITHHELD)
        }
        Err(e) => {
            eprintln!(
                "imapmend: --expect-plan {}: {e}; nothing was done",
                path.display()
            );
            Err(exit::WITHHELD)
        }
    }
}

fn load(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("not a saved plan (JSON: {e})"))
}

type Key = (String, Side, String);

/// The third part of the key of a whole mailbox's deletion (a fingerprint
/// is hex, so it cannot look like this).
const MAILBOX: &str = "(the whole mailbox)";

/// The live Plan's expunges beyond the saved plan's, counted.
fn unexpected_deletions(
    saved: &Value,
    live: &Plan,
    endpoints: &[String; 2],
) -> Result<Vec<(Key, usize)>, String> {
    if saved["command"] != "plan" || saved["plan"].is_null() {
        return Err("not a saved plan (made by `imapmend plan --save` or `plan --json`)".into());
    }
    if saved["schema_version"] != crate::plan::SCHEMA_VERSION {
        return Err(format!(
            "saved with report schema version {}, this imapmend reads {}",
            saved["schema_version"],
            crate::plan::SCHEMA_VERSION
        ));
    }
    let saved_endpoints = [0, 1].map(|i| saved["endpoints"][i].as_str().unwrap_or_default());
    let swapped = if saved_endpoints == [endpoints[0].as_str(), endpoints[1].as_str()] {
        false
    } else if saved_endpoints == [endpoints[1].as_str(), endpoints[0].as_str()] {
        true
    } else {
        return Err(format!(
            "the plan was made for other servers (A {}, B {})",
            saved_endpoints[0], saved_endpoints[1]
        ));
    };
    let mut allowed: BTreeMap<Key, usize> = BTreeMap::new();
    for mb in saved["plan"]["mailboxes"].as_array().into_iter().flatten() {
        let name = mb["name"].as_str().unwrap_or_default().to_string();
        for e in mb["expunges"].as_array().into_iter().flatten() {
            let side = match (e["side"].as_str(), swapped) {
                (Some("A"), false) | (Some("B"), true) => Side::A,
                (Some("B"), false) | (Some("A"), true) => Side::B,
                _ => return Err(format!("an expunge in {name} names no side")),
            };
            let fingerprint = e["fingerprint"].as_str().unwrap_or_default().to_string();
            *allowed
                .entry((name.clone(), side, fingerprint))
                .or_default() += 1;
        }
        // A whole mailbox deleted (--delete-mailboxes) is keyed by its name.
        let deletion = &mb["delete"];
        if deletion.is_object() && deletion["withheld"] != true {
            let side = match (deletion["side"].as_str(), swapped) {
                (Some("A"), false) | (Some("B"), true) => Side::A,
                (Some("B"), false) | (Some("A"), true) => Side::B,
                _ => return Err(format!("the deletion of {name} names no side")),
            };
            *allowed
                .entry((name.clone(), side, MAILBOX.into()))
                .or_default() += 1;
        }
    }
    let mut extra: BTreeMap<Key, usize> = BTreeMap::new();
    for mb in &live.mailboxes {
        let deletion = mb.delete.as_ref().filter(|d| !d.withheld);
        let keys = mb
            .expunges
            .iter()
            .map(|e| (mb.name.clone(), e.side, e.fingerprint.to_hex()))
            .chain(deletion.map(|d| (mb.name.clone(), d.side, MAILBOX.into())));
        for key in keys {
            match allowed.get_mut(&key) {
                Some(n) if *n > 0 => *n -= 1,
                _ => *extra.entry(key).or_default() += 1,
            }
        }
    }
    Ok(extra.into_iter().collect())
}
