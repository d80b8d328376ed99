//! `check --metrics FILE` and `sync --metrics FILE`: the run's outcome in
//! Prometheus text format, for node_exporter's textfile collector.
//!
//! The run records what it found ([`Metrics::record`]: per mailbox and side, the
//! message count, the differences, how it was listed, listing failures);
//! `main` writes the file once the run is over, whatever ended it (a
//! verdict, a failure to connect, the `--timeout` deadline), so the file
//! always tells the last outcome. Writing is atomic (a temporary file in the
//! same directory, then rename), so the collector never reads half a file.
//! The last successful run's time is carried over from the previous file
//! when this run did not succeed.
//!
//! `check` and `sync` write the same series ([`SERIES`]), so a sync timer
//! is monitored as a check timer is; a `verb` label tells them apart, and
//! the `a` and `b` labels (user@host:port) the account pairs, so the files
//! of several pairs and both verbs can sit in one collector directory. What
//! `sync` records per mailbox is its listing before it applied its Plan
//! (the differences it set out to repair). A run that scrubs adds the
//! scrub's coverage per mailbox and side ([`crate::scrub::ScrubOutcome`]'s,
//! as the scrub left it).

use crate::job::{Command, Job};
use crate::model::Side;
use crate::reconcile::agreement::MailboxAgreement;
use crate::reconcile::ReconcileInput;
use crate::report::Report;
use crate::scrub::ScrubOutcome;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One series `--metrics` may write: its name and HELP text (all gauges).
#[derive(Debug, Clone, Copy)]
pub struct Series {
    pub name: &'static str,
    pub help: &'static str,
}

const EXIT_CODE: Series = Series {
    name: "imapmend_check_exit_code",
    help: "Exit code of the last run (verb label: check or sync); 0 is success. check: 1 differences, 2 some mailboxes not checked, 3 could not run (or --timeout); sync: 2 some actions failed, 3 could not run, 4 deletions withheld.",
};
const LAST_RUN: Series = Series {
    name: "imapmend_check_last_run_timestamp_seconds",
    help: "When the last run ended, in Unix seconds.",
};
const DURATION: Series = Series {
    name: "imapmend_check_duration_seconds",
    help: "How long the last run took.",
};
const LAST_SUCCESS: Series = Series {
    name: "imapmend_check_last_success_timestamp_seconds",
    help: "When a run last ended with exit 0 (check: A and B agree; sync: everything applied), in Unix seconds.",
};
const MAILBOXES: Series = Series {
    name: "imapmend_check_mailboxes",
    help: "Mailboxes compared by the last run.",
};
const MESSAGES: Series = Series {
    name: "imapmend_mailbox_messages",
    help: "Messages in the mailbox on this side, as the last run listed them.",
};
const DIFFERENCES: Series = Series {
    name: "imapmend_mailbox_differences",
    help: "Messages (by content and flags) this side held more of than the other side, as the last run listed them.",
};
const LISTING_INFO: Series = Series {
    name: "imapmend_mailbox_listing_info",
    help: "How this side of the mailbox was listed (path) and why (reason).",
};
const LISTING_FAILED: Series = Series {
    name: "imapmend_mailbox_listing_failed",
    help: "The mailbox could not be listed on this side: no verdict for it.",
};

const SCRUB_OLDEST_AGE: Series = Series {
    name: "imapmend_mailbox_scrub_oldest_age_seconds",
    help: "With --scrub: seconds since the least recently verified message of this side was last found intact; a message never verified counts from its INTERNALDATE (when the server says it arrived).",
};
const SCRUB_VERIFIED_30D: Series = Series {
    name: "imapmend_mailbox_scrub_verified_30d_ratio",
    help: "With --scrub: the share (0 to 1) of this side's messages a scrub found intact within the last 30 days; a message never verified counts as not verified.",
};
// The series' name says the period.
const _: () = assert!(crate::scrub::COVERAGE_DAYS == 30);
const SCRUB_NEVER_VERIFIED: Series = Series {
    name: "imapmend_mailbox_scrub_never_verified",
    help: "With --scrub: messages of this side no scrub has read yet.",
};

/// Every series a `--metrics` file may hold, in the order written: what
/// dashboards and alert rules may name (tests/package.rs holds the
/// shipped ones to it).
pub const SERIES: [Series; 12] = [
    EXIT_CODE,
    LAST_RUN,
    DURATION,
    LAST_SUCCESS,
    MAILBOXES,
    MESSAGES,
    DIFFERENCES,
    LISTING_INFO,
    LISTING_FAILED,
    SCRUB_OLDEST_AGE,
    SCRUB_VERIFIED_30D,
    SCRUB_NEVER_VERIFIED,
];

/// The recorder `main` builds from the job's `--metrics` path where the
/// run starts, lends to the run ([`Metrics::record`]), and writes through
/// once the run is over, whatever ended it. `main` owns it, so what the
/// run recorded survives a run dropped at its `--timeout` deadline.
#[derive(Debug)]
pub struct Metrics {
    pub path: PathBuf,
    /// The `verb` label: `check` or `sync`.
    verb: &'static str,
    /// The per-mailbox series the run recorded, if it got that far.
    recorded: Mutex<Option<String>>,
}

impl Metrics {
    /// The recorder for `job`, if it asked for metrics (`--metrics`).
    pub fn for_job(job: &Job) -> Option<Metrics> {
        let verb = match job.command {
            Command::Check { .. } => "check",
            Command::Sync => "sync",
            Command::Plan => "plan",
            Command::Undo { .. } => "undo",
        };
        Some(Metrics::new(job.metrics.clone()?, verb))
    }

    pub fn new(path: PathBuf, verb: &'static str) -> Metrics {
        Metrics {
            path,
            verb,
            recorded: Mutex::new(None),
        }
    }

    /// Called by the run with its report, each mailbox's verdict and what
    /// was listed.
    pub fn record(
        &self,
        report: &Report<'_>,
        verdicts: &[MailboxAgreement],
        input: &ReconcileInput,
    ) {
        if let Ok(mut slot) = self.recorded.lock() {
            let endpoints = (&report.endpoints, self.verb);
            let mut text = render_mailboxes(endpoints, report, verdicts, input);
            if let Some(scrub) = report.scrub {
                text.push_str(&render_coverage(endpoints, scrub, input));
            }
            *slot = Some(text);
        }
    }

    /// Writes the file for a run that ended with `exit_code` after
    /// `elapsed`. `endpoints` label every series.
    pub fn write(
        &self,
        endpoints: &[String; 2],
        exit_code: i32,
        elapsed: Duration,
    ) -> std::io::Result<()> {
        let detail = self
            .recorded
            .lock()
            .map(|d| d.clone().unwrap_or_default())
            .unwrap_or_default();
        let now = unix_now();
        let previous = std::fs::read_to_string(&self.path).ok();
        let last_success = if exit_code == 0 {
            Some(now)
        } else {
            previous.as_deref().and_then(previous_last_success)
        };
        let run = Run {
            exit_code,
            now,
            elapsed,
            last_success,
        };
        let text = render_run((endpoints, self.verb), &run) + &detail;
        write_atomically(&self.path, text.as_bytes())
    }
}

/// `user@host:port` per side, as the report names them.
pub fn endpoint_labels(job: &Job) -> [String; 2] {
    [Side::A, Side::B].map(|s| {
        let spec = &job.endpoints[s.index()];
        format!("{}@{}:{}", spec.user, spec.host, spec.port)
    })
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The labels every series of one file carries: both endpoints and the verb.
type Common<'a> = (&'a [String; 2], &'a str);

fn labels((endpoints, verb): Common<'_>, extra: &[(&str, &str)]) -> String {
    let mut out = format!(
        "a=\"{}\",b=\"{}\",verb=\"{}\"",
        escape(&endpoints[0]),
        escape(&endpoints[1]),
        escape(verb)
    );
    for (k, v) in extra {
        let _ = write!(out, ",{k}=\"{}\"", escape(v));
    }
    out
}

fn header(out: &mut String, series: Series) {
    let Series { name, help } = series;
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// One sample line, `name{labels} value`.
fn sample(out: &mut String, series: Series, labels: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{}{{{labels}}} {value}", series.name);
}

/// How the run ended, for the per-run series.
struct Run {
    exit_code: i32,
    now: f64,
    elapsed: Duration,
    last_success: Option<f64>,
}

fn render_run(common: Common<'_>, run: &Run) -> String {
    let l = labels(common, &[]);
    let mut out = String::new();
    header(&mut out, EXIT_CODE);
    sample(&mut out, EXIT_CODE, &l, run.exit_code);
    header(&mut out, LAST_RUN);
    sample(&mut out, LAST_RUN, &l, format!("{:.3}", run.now));
    header(&mut out, DURATION);
    let elapsed = run.elapsed.as_secs_f64();
    sample(&mut out, DURATION, &l, format!("{elapsed:.3}"));
    if let Some(t) = run.last_success {
        header(&mut out, LAST_SUCCESS);
        sample(&mut out, LAST_SUCCESS, &l, format!("{t:.3}"));
    }
    out
}

fn render_mailboxes(
    common: Common<'_>,
    report: &Report<'_>,
    verdicts: &[MailboxAgreement],
    input: &ReconcileInput,
) -> String {
    let mut messages = String::new();
    let mut differences = String::new();
    let mut listing = String::new();
    let mut failed = String::new();
    for verdict in verdicts {
        let mailbox_input = input.mailboxes.iter().find(|m| m.name == verdict.name);
        for side in [Side::A, Side::B] {
            let s = side_label(side);
            let l = labels(common, &[("mailbox", &verdict.name), ("side", s)]);
            let listed = mailbox_input.and_then(|m| m.sides[side.index()].as_ref());
            if listed.is_some() {
                sample(&mut messages, MESSAGES, &l, verdict.messages[side.index()]);
            }
            // Messages this side holds more of than the other; a mailbox
            // found on one side only counts all of its messages there.
            let more: usize = if verdict.only_on == Some(side) {
                verdict.messages[side.index()]
            } else {
                verdict
                    .surplus
                    .iter()
                    .filter(|x| x.side == side)
                    .map(|x| x.count)
                    .sum()
            };
            sample(&mut differences, DIFFERENCES, &l, more);
            if let Some(side_listing) = listed {
                let l = labels(
                    common,
                    &[
                        ("mailbox", &verdict.name),
                        ("side", s),
                        ("path", &side_listing.path.path),
                        ("reason", &side_listing.path.reason),
                    ],
                );
                sample(&mut listing, LISTING_INFO, &l, 1);
            }
        }
    }
    for f in report.listing_failures {
        let l = labels(
            common,
            &[("mailbox", &f.mailbox), ("side", side_label(f.side))],
        );
        sample(&mut failed, LISTING_FAILED, &l, 1);
    }
    let mut out = String::new();
    header(&mut out, MAILBOXES);
    sample(&mut out, MAILBOXES, &labels(common, &[]), verdicts.len());
    let parts = [
        (MESSAGES, messages),
        (DIFFERENCES, differences),
        (LISTING_INFO, listing),
        (LISTING_FAILED, failed),
    ];
    append_series(&mut out, parts);
    out
}

/// Appends each series that has samples, under its header.
fn append_series<const N: usize>(out: &mut String, parts: [(Series, String); N]) {
    for (series, body) in parts {
        if !body.is_empty() {
            header(out, series);
            out.push_str(&body);
        }
    }
}

/// The scrub's coverage per listed mailbox and side, as the scrub left it
/// (before a sync applied its Plan).
fn render_coverage(common: Common<'_>, scrub: &ScrubOutcome, input: &ReconcileInput) -> String {
    let (mut age, mut share, mut never) = (String::new(), String::new(), String::new());
    for c in &scrub.coverage {
        let listed = input
            .mailboxes
            .iter()
            .any(|m| m.name == c.mailbox && m.sides[c.side.index()].is_some());
        if !listed {
            continue;
        }
        let l = labels(
            common,
            &[("mailbox", &c.mailbox), ("side", side_label(c.side))],
        );
        if let Some(oldest) = c.oldest() {
            sample(
                &mut age,
                SCRUB_OLDEST_AGE,
                &l,
                (scrub.measured_at - oldest).max(0),
            );
        }
        sample(
            &mut share,
            SCRUB_VERIFIED_30D,
            &l,
            format!("{:.6}", c.share_verified()),
        );
        sample(&mut never, SCRUB_NEVER_VERIFIED, &l, c.never_verified);
    }
    let mut out = String::new();
    let parts = [
        (SCRUB_OLDEST_AGE, age),
        (SCRUB_VERIFIED_30D, share),
        (SCRUB_NEVER_VERIFIED, never),
    ];
    append_series(&mut out, parts);
    out
}

fn side_label(side: Side) -> &'static str {
    match side {
        Side::A => "a",
        Side::B => "b",
    }
}

/// The last-success value of a previous file, if it had one.
fn previous_last_success(text: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(LAST_SUCCESS.name) && !l.starts_with('#'))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it
/// over `path`, so a reader sees the old file or the new one, never half.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "metrics".into());
    // node_exporter only reads *.prom, so the temporary name never is one.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_labels_escape_quotes_backslashes_and_newlines() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let eps = ["u@h:1".to_string(), "v@h:2".to_string()];
        let l = labels((&eps, "sync"), &[("mailbox", "Sent \"x\"")]);
        assert_eq!(
            l,
            "a=\"u@h:1\",b=\"v@h:2\",verb=\"sync\",mailbox=\"Sent \\\"x\\\"\""
        );
    }

    #[test]
    fn metrics_last_success_is_carried_over_from_a_failed_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imapmend.prom");
        let m = Metrics::new(path.clone(), "check");
        let eps = ["u@h:1".to_string(), "v@h:2".to_string()];
        m.write(&eps, 0, Duration::from_millis(1500)).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        let success = previous_last_success(&first).expect("a success time");
        assert!(
            first.contains("imapmend_check_exit_code{a=\"u@h:1\",b=\"v@h:2\",verb=\"check\"} 0")
        );
        assert!(first.contains(
            "imapmend_check_duration_seconds{a=\"u@h:1\",b=\"v@h:2\",verb=\"check\"} 1.500"
        ));

        m.write(&eps, 3, Duration::from_secs(1)).unwrap();
        let second = std::fs::read_to_string(&path).unwrap();
        assert!(second.contains("} 3\n"), "{second}");
        assert_eq!(previous_last_success(&second), Some(success));

        // Nothing but the file itself is left in the directory.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);

        // A failed first run has no success to report.
        let fresh = Metrics::new(dir.path().join("other.prom"), "sync");
        fresh.write(&eps, 2, Duration::ZERO).unwrap();
        let text = std::fs::read_to_string(dir.path().join("other.prom")).unwrap();
        assert!(!text.contains(LAST_SUCCESS.name), "{text}");
    }
}
