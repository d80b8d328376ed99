//! The scenario harness, running the binary: a [`Run`] is one orientation
//! of one case, a [`Pair`] of fresh users with `--a`/`--b` (and per-side
//! options) swapped when the orientation says so; and reading the JSON
//! plan report the tables' hooks inspect.

use super::*;

use crate::support::imapmend::{bare, Finish, Pair, LIMIT};

/// One orientation of one case: the two fresh users (the case's side A
/// and side B, whatever the command line says) as a [`Pair`], and the
/// case's name for messages.
pub(crate) struct Run {
    pub(crate) pair: Pair,
    pub(crate) what: String,
}

impl std::ops::Deref for Run {
    type Target = Pair;
    fn deref(&self) -> &Pair {
        &self.pair
    }
}

impl std::ops::DerefMut for Run {
    fn deref_mut(&mut self) -> &mut Pair {
        &mut self.pair
    }
}

impl Run {
    pub(crate) fn new(a: User, b: User, swapped: bool, what: &str) -> Run {
        let mut pair = Pair::oriented(&a, &b, swapped);
        pair.label = format!("{what}: ");
        Run {
            pair,
            what: what.to_string(),
        }
    }

    /// Runs `imapmend VERB` with the case's A and B (swapped on the command
    /// line if this orientation says so, `--prefer a|b` and other per-side
    /// options with them); returns (exit code, stdout, stderr), the code
    /// -1 when a signal ended the run.
    pub(crate) fn imapmend(&self, verb: &str, extra: &[String]) -> (i32, String, String) {
        let extra: Vec<String> = if self.swapped {
            swap_side_arguments(extra)
        } else {
            extra.to_vec()
        };
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = self.pair.run(verb, &extra, &[]);
        (out.code.unwrap_or(-1), out.stdout, out.stderr)
    }

    /// The case's side A or B.
    pub(crate) fn user(&self, which: Which) -> &User {
        match which {
            Which::A => &self.a,
            Which::B => &self.b,
        }
    }

    /// Where the command line (and so the JSON report) puts the case's
    /// side: 0 for `--a`, 1 for `--b`.
    pub(crate) fn cli_index(&self, which: Which) -> usize {
        match (which, self.swapped) {
            (Which::A, false) | (Which::B, true) => 0,
            _ => 1,
        }
    }

    /// The letter the report uses for the case's side.
    pub(crate) fn cli_name(&self, which: Which) -> &'static str {
        ["A", "B"][self.cli_index(which)]
    }

    /// `imapmend plan --json` with these arguments: (exit code, report).
    pub(crate) fn plan_json(&self, extra: &[String]) -> (i32, serde_json::Value) {
        let mut args = extra.to_vec();
        args.push("--json".into());
        let (code, stdout, stderr) = self.imapmend("plan", &args);
        let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{}: `plan --json` printed no JSON ({e}):\n{stdout}{stderr}",
                self.what
            )
        });
        (code, report)
    }

    /// Every mailbox and side of a plan report was read by the history path
    /// where the server offers CONDSTORE and a snapshot exists, by the full
    /// listing where not or where the side is `suspect`.
    #[track_caller]
    pub(crate) fn assert_listing_paths(
        &self,
        report: &serde_json::Value,
        when: &str,
        snapshot: bool,
        suspect: Option<(Which, &[&str])>,
    ) {
        let by_kind = match self.a.kind {
            Kind::Full | Kind::NoUidplus if snapshot => "history",
            _ => "full",
        };
        for mb in report["plan"]["mailboxes"]
            .as_array()
            .expect("plan.mailboxes")
        {
            for (i, listing) in mb["listing"]
                .as_array()
                .expect("listing")
                .iter()
                .enumerate()
            {
                if listing.is_null() {
                    continue;
                }
                let suspect = suspect.is_some_and(|(which, mailboxes)| {
                    self.cli_index(which) == i
                        && (mailboxes.is_empty() || mailboxes.iter().any(|m| mb["name"] == *m))
                });
                let want = if suspect { "full" } else { by_kind };
                assert_eq!(
                    listing["path"].as_str(),
                    Some(want),
                    "{}: {when}: mailbox {} on {} was read by the {} path ({}), expected {want}",
                    self.what,
                    mb["name"],
                    ["A", "B"][i],
                    listing["path"],
                    listing["reason"]
                );
            }
        }
    }

    /// `imapmend snapshot show --json`, oriented like the runs.
    pub(crate) fn snapshot_summary(&self) -> serde_json::Value {
        let out = bare()
            .args(["snapshot", "show", "--json"])
            .args(self.endpoint_args())
            .arg("--state")
            .arg(self.state_path())
            .env("XDG_STATE_HOME", self.dir.path())
            .finish(LIMIT);
        assert_eq!(
            out.code,
            Some(0),
            "{}: `snapshot show` failed: {}",
            self.what,
            out.describe()
        );
        serde_json::from_str(&out.stdout).expect("snapshot show --json")
    }

    #[track_caller]
    pub(crate) fn expect_exit(&self, verb: &str, extra: &[String], code: i32, why: &str) {
        let (got, stdout, stderr) = self.imapmend(verb, extra);
        assert_eq!(
            got, code,
            "{}: `imapmend {verb}` ({why}) exited {got}, expected {code}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            self.what
        );
    }
}

/// `--prefer a` ↔ `--prefer b` (and `--restored`, `--one-way a-to-b` ↔
/// `b-to-a`), for the swapped run.
pub(crate) fn swap_side_arguments(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut flip_next = false;
    for arg in args {
        if flip_next {
            out.push(match arg.as_str() {
                "a" => "b".to_string(),
                "b" => "a".to_string(),
                "a-to-b" => "b-to-a".to_string(),
                "b-to-a" => "a-to-b".to_string(),
                other => other.to_string(),
            });
            flip_next = false;
            continue;
        }
        match arg.as_str() {
            "--prefer" | "--restored" | "--one-way" => flip_next = true,
            "--prefer=a" => {
                out.push("--prefer=b".into());
                continue;
            }
            "--prefer=b" => {
                out.push("--prefer=a".into());
                continue;
            }
            _ => {}
        }
        out.push(arg.clone());
    }
    out
}

/// The plan of one mailbox in a `plan --json` report.
pub(crate) fn planned<'a>(report: &'a serde_json::Value, mailbox: &str) -> &'a serde_json::Value {
    report["plan"]["mailboxes"]
        .as_array()
        .expect("plan.mailboxes")
        .iter()
        .find(|m| m["name"].as_str() == Some(mailbox))
        .unwrap_or_else(|| panic!("no mailbox {mailbox} in the plan:\n{report:#}"))
}

/// The length of a list in a mailbox's plan (`copies`, `expunges`, …).
pub(crate) fn count(mailbox_plan: &serde_json::Value, list: &str) -> usize {
    mailbox_plan[list]
        .as_array()
        .unwrap_or_else(|| panic!("no list {list} in\n{mailbox_plan:#}"))
        .len()
}

/// Every note of a plan report, all mailboxes.
pub(crate) fn notes(report: &serde_json::Value) -> Vec<String> {
    report["plan"]["mailboxes"]
        .as_array()
        .expect("plan.mailboxes")
        .iter()
        .flat_map(|m| m["notes"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}
