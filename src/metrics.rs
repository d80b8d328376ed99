//! `check --metrics FILE`: the check's outcome in Prometheus text format,
//! for node_exporter's textfile collector.
//!
//! The run records what it found ([`Metrics::record`]: per mailbox and side, the
//! message count, the differences, how it was listed, listing failures);
//! `main` writes the file once the run is over, whatever ended it (a
//! verdict, a failure to connect, the `--timeout` deadline), so the file
//! always tells the last outcome. Writing is atomic (a temporary file in the
//! same directory, then rename), so the collector never reads half a file.
//! The last successful check's time is carried over from the previous file
//! when this run did not succeed.
//!
//! Every series carries `a` and `b` labels (user@host:port), so the files of
//! several account pairs can sit in one collector directory.

use crate::job::Job;
use crate::model::Side;
use crate::reconcile::ReconcileInput;
use crate::report::Report;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The recorder `main` builds from the job's `--metrics` path where the
/// run starts, lends to the run ([`Metrics::record`]), and writes through
/// once the run is over, whatever ended it. `main` owns it, so what the
/// run recorded survives a run dropped at its `--timeout` deadline.
#[derive(Debug)]
pub struct Metrics {
    pub path: PathBuf,
    /// The per-mailbox series the run recorded, if it got that far.
    recorded: Mutex<Option<String>>,
}

/// The series name carried over between runs.
const LAST_SUCCESS: &str = "imapmend_check_last_success_timestamp_seconds";

impl Metrics {
    pub fn new(path: PathBuf) -> Metrics {
        Metrics {
            path,
            recorded: Mutex::new(None),
        }
    }

    /// Called by the check with its report and what was listed.
    pub fn record(&self, report: &Report<'_>, input: &ReconcileInput) {
        if let Ok(mut slot) = self.recorded.lock() {
            *slot = Some(render_mailboxes(report, input));
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
        let text = render_run(endpoints, exit_code, now, elapsed, last_success) + &detail;
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

fn labels(endpoints: &[String; 2], extra: &[(&str, &str)]) -> String {
    let mut out = format!(
        "a=\"{}\",b=\"{}\"",
        escape(&endpoints[0]),
        escape(&endpoints[1])
    );
    for (k, v) in extra {
        let _ = write!(out, ",{k}=\"{}\"", escape(v));
    }
    out
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn render_run(
    endpoints: &[String; 2],
    exit_code: i32,
    now: f64,
    elapsed: Duration,
    last_success: Option<f64>,
) -> String {
    let l = labels(endpoints, &[]);
    let mut out = String::new();
    header(
        &mut out,
        "imapmend_check_exit_code",
        "Exit code of the last check: 0 agree, 1 differences, 2 some mailboxes not checked, 3 could not run (or --timeout).",
    );
    let _ = writeln!(out, "imapmend_check_exit_code{{{l}}} {exit_code}");
    header(
        &mut out,
        "imapmend_check_last_run_timestamp_seconds",
        "When the last check ended, in Unix seconds.",
    );
    let _ = writeln!(
        out,
        "imapmend_check_last_run_timestamp_seconds{{{l}}} {now:.3}"
    );
    header(
        &mut out,
        "imapmend_check_duration_seconds",
        "How long the last check ran.",
    );
    let _ = writeln!(
        out,
        "imapmend_check_duration_seconds{{{l}}} {:.3}",
        elapsed.as_secs_f64()
    );
    if let Some(t) = last_success {
        header(
            &mut out,
            LAST_SUCCESS,
            "When a check last ended with exit 0 (A and B agree), in Unix seconds.",
        );
        let _ = writeln!(out, "{LAST_SUCCESS}{{{l}}} {t:.3}");
    }
    out
}

fn render_mailboxes(report: &Report<'_>, input: &ReconcileInput) -> String {
    let endpoints = &report.endpoints;
    let mut messages = String::new();
    let mut differences = String::new();
    let mut listing = String::new();
    let mut failed = String::new();
    for verdict in report.check.unwrap_or_default() {
        let mailbox_input = input.mailboxes.iter().find(|m| m.name == verdict.name);
        for side in [Side::A, Side::B] {
            let s = side_label(side);
            let l = labels(endpoints, &[("mailbox", &verdict.name), ("side", s)]);
            let listed = mailbox_input.and_then(|m| m.sides[side.index()].as_ref());
            if listed.is_some() {
                let _ = writeln!(
                    messages,
                    "imapmend_mailbox_messages{{{l}}} {}",
                    verdict.messages[side.index()]
                );
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
            let _ = writeln!(differences, "imapmend_mailbox_differences{{{l}}} {more}");
            if let Some(side_listing) = listed {
                let l = labels(
                    endpoints,
                    &[
                        ("mailbox", &verdict.name),
                        ("side", s),
                        ("path", &side_listing.path.path),
                        ("reason", &side_listing.path.reason),
                    ],
                );
                let _ = writeln!(listing, "imapmend_mailbox_listing_info{{{l}}} 1");
            }
        }
    }
    for f in report.listing_failures {
        let l = labels(
            endpoints,
            &[("mailbox", &f.mailbox), ("side", side_label(f.side))],
        );
        let _ = writeln!(failed, "imapmend_mailbox_listing_failed{{{l}}} 1");
    }
    let mut out = String::new();
    header(
        &mut out,
        "imapmend_check_mailboxes",
        "Mailboxes compared by the last check.",
    );
    let _ = writeln!(
        out,
        "imapmend_check_mailboxes{{{}}} {}",
        labels(endpoints, &[]),
        report.check.map_or(0, |c| c.len())
    );
    for (name, help, body) in [
        (
            "imapmend_mailbox_messages",
            "Messages in the mailbox on this side, as listed by the last check.",
            messages,
        ),
        (
            "imapmend_mailbox_differences",
            "Messages (by content and flags) this side holds more of than the other side.",
            differences,
        ),
        (
            "imapmend_mailbox_listing_info",
            "How this side of the mailbox was listed (path) and why (reason).",
            listing,
        ),
        (
            "imapmend_mailbox_listing_failed",
            "The mailbox could not be listed on this side: no verdict for it.",
            failed,
        ),
    ] {
        if !body.is_empty() {
            header(&mut out, name, help);
            out.push_str(&body);
        }
    }
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
        .filter(|l| l.starts_with(LAST_SUCCESS) && !l.starts_with('#'))
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
        let l = labels(
            &["u@h:1".into(), "v@h:2".into()],
            &[("mailbox", "Sent \"x\"")],
        );
        assert_eq!(l, "a=\"u@h:1\",b=\"v@h:2\",mailbox=\"Sent \\\"x\\\"\"");
    }

    #[test]
    fn metrics_last_success_is_carried_over_from_a_failed_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imapmend.prom");
        let m = Metrics::new(path.clone());
        let eps = ["u@h:1".to_string(), "v@h:2".to_string()];
        m.write(&eps, 0, Duration::from_millis(1500)).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        let success = previous_last_success(&first).expect("a success time");
        assert!(first.contains("imapmend_check_exit_code{a=\"u@h:1\",b=\"v@h:2\"} 0"));
        assert!(first.contains("imapmend_check_duration_seconds{a=\"u@h:1\",b=\"v@h:2\"} 1.500"));

        m.write(&eps, 3, Duration::from_secs(1)).unwrap();
        let second = std::fs::read_to_string(&path).unwrap();
        assert!(second.contains("} 3\n"), "{second}");
        assert_eq!(previous_last_success(&second), Some(success));

        // Nothing but the file itself is left in the directory.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);

        // A failed first run has no success to report.
        let fresh = Metrics::new(dir.path().join("other.prom"));
        fresh.write(&eps, 2, Duration::ZERO).unwrap();
        let text = std::fs::read_to_string(dir.path().join("other.prom")).unwrap();
        assert!(!text.contains(LAST_SUCCESS), "{text}");
    }
}
