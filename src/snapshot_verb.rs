//! `imapmend snapshot show|forget|verify`: for the operator who wonders
//! what the tool remembers about a pair of servers, wants it to forget, or
//! wants to know the file is sound.
//!
//! Finding the file is [`crate::config::locate_snapshot`]'s job (the same
//! path a run would use); reading and deleting it is
//! [`crate::snapshot::inspect`]'s, checking it [`crate::snapshot::verify`]'s.
//! This module prints and picks exit codes: 0 done, 1 problems found
//! (verify), 3 no usable snapshot or bad options, 4 in use by a run (forget).

use crate::cli::{SnapshotArgs, SnapshotVerb};
use crate::config::{locate_snapshot, SnapshotLocation};
use crate::exit;
use crate::model::{InternalDate, Side};
use crate::snapshot::inspect::{self, SnapshotSummary};
use crate::snapshot::scrub::COVERAGE_DAYS;
use crate::snapshot::verify;
use crate::snapshot::{EndpointIdentity, SnapshotError};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use std::fmt::Write;

/// Runs the verb with the process environment; returns the exit code.
pub fn run(verb: &SnapshotVerb) -> i32 {
    let env = |name: &str| std::env::var(name).ok();
    let args = match verb {
        SnapshotVerb::Show(a) | SnapshotVerb::Forget(a) | SnapshotVerb::Verify(a) => a,
    };
    let location = match locate_snapshot(&args.as_common(), &env) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("imapmend: {e}");
            return exit::CANNOT_RUN;
        }
    };
    match verb {
        SnapshotVerb::Show(_) => show_snapshot(args, &location),
        SnapshotVerb::Forget(_) => forget_snapshot(args, &location),
        SnapshotVerb::Verify(_) => verify_snapshot(args, &location),
    }
}

/// Prints every check with what broke it; 0 sound, 1 not, 3 cannot check.
fn verify_snapshot(args: &SnapshotArgs, location: &SnapshotLocation) -> i32 {
    let verdict = match verify::verify(&location.path) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("imapmend: {e}");
            return exit::CANNOT_RUN;
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&verdict).expect("plain data")
        );
    } else {
        let mut out = format!(
            "Snapshot {} (schema version {}{})\n",
            verdict.path.display(),
            verdict.schema_version,
            if verdict.checked_upgraded_copy {
                "; invariants checked on a copy upgraded as the next run will upgrade it"
            } else {
                ""
            }
        );
        for check in &verdict.checks {
            let mark = if check.violations == 0 {
                "ok  "
            } else {
                "FAIL"
            };
            let _ = write!(out, "  {mark} {}", check.name);
            if check.violations > 0 {
                let _ = write!(out, ": {} violation(s)", check.violations);
            }
            out.push('\n');
            for example in &check.examples {
                let _ = writeln!(out, "         {example}");
            }
        }
        out.push_str(if verdict.sound() {
            "Sound.\n"
        } else {
            "Not sound: move the file aside (the next run starts as a first meeting), or keep it for a bug report.\n"
        });
        print!("{out}");
    }
    if verdict.sound() {
        exit::OK
    } else {
        exit::PENDING
    }
}

fn show_snapshot(args: &SnapshotArgs, location: &SnapshotLocation) -> i32 {
    if !location.path.exists() {
        eprintln!(
            "imapmend: no snapshot at {}: nothing is remembered{}",
            location.path.display(),
            if location.identities.is_some() {
                " for these servers (a first run creates it)"
            } else {
                ""
            }
        );
        return exit::CANNOT_RUN;
    }
    let summary = match inspect::inspect(&location.path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("imapmend: {e}");
            return exit::CANNOT_RUN;
        }
    };
    let summary = match orient(summary, location.identities.as_ref()) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("imapmend: {msg}");
            return exit::CANNOT_RUN;
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("plain data")
        );
    } else {
        print!("{}", show_text(&summary));
    }
    exit::OK
}

/// In the caller's orientation: mirrored when --a and --b name the servers
/// the other way round than the file recorded; refused when they name others.
fn orient(
    summary: SnapshotSummary,
    given: Option<&[EndpointIdentity; 2]>,
) -> Result<SnapshotSummary, String> {
    let Some(given) = given else {
        return Ok(summary);
    };
    let given = given.clone().map(|id| id.to_string());
    if summary.endpoints == given {
        Ok(summary)
    } else if summary.endpoints[0] == given[1] && summary.endpoints[1] == given[0] {
        Ok(summary.mirrored())
    } else {
        Err(format!(
            "snapshot {} belongs to other servers (A {}, B {}), not to A {}, B {}",
            summary.path.display(),
            summary.endpoints[0],
            summary.endpoints[1],
            given[0],
            given[1]
        ))
    }
}

fn forget_snapshot(args: &SnapshotArgs, location: &SnapshotLocation) -> i32 {
    let path = &location.path;
    if path.exists() {
        // Forgetting the snapshot of other servers than the ones named is a
        // mistake worth stopping.
        if let Some(given) = &location.identities {
            match inspect::recorded_endpoints(path) {
                Ok(found) => {
                    let swapped = [found[1].clone(), found[0].clone()];
                    if &found != given && &swapped != given {
                        eprintln!(
                            "imapmend: snapshot {} belongs to other servers (A {}, B {}); \
                             nothing was deleted",
                            path.display(),
                            found[0],
                            found[1]
                        );
                        return exit::CANNOT_RUN;
                    }
                }
                Err(e) => {
                    eprintln!("imapmend: {e}; nothing was deleted");
                    return exit::CANNOT_RUN;
                }
            }
        }
    }
    match inspect::forget(path) {
        Ok(removed) if removed.is_empty() => {
            if !args.json {
                println!("No snapshot at {}: nothing to forget.", path.display());
            } else {
                println!(
                    "{}",
                    serde_json::json!({ "path": path, "removed": removed })
                );
            }
            exit::OK
        }
        Ok(removed) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "path": path, "removed": removed })
                );
            } else {
                println!("Forgot {}: removed", path.display());
                for file in &removed {
                    println!("  {}", file.display());
                }
                println!("The next run meets these servers as for the first time.");
            }
            exit::OK
        }
        Err(e @ SnapshotError::Locked { .. }) => {
            eprintln!("imapmend: {e}; nothing was deleted");
            exit::WITHHELD
        }
        Err(e) => {
            eprintln!("imapmend: {e}; nothing was deleted");
            exit::CANNOT_RUN
        }
    }
}

fn time(unix: i64) -> String {
    let t = InternalDate::new(unix, 0);
    t.to_imap().replace(" +0000", " UTC")
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The human form of `snapshot show`.
pub fn show_text(s: &SnapshotSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Snapshot {} ({}, schema v{})",
        s.path.display(),
        size(s.file_bytes),
        s.schema_version
    );
    let _ = writeln!(out, "A: {}\nB: {}", s.endpoints[0], s.endpoints[1]);
    let _ = writeln!(
        out,
        "Created {}; last written {} (by sync, or by the fingerprint cache of plan/check)",
        time(s.created_at),
        time(s.updated_at)
    );
    let _ = writeln!(
        out,
        "In use by a run now: {}\n",
        if s.in_use { "yes" } else { "no" }
    );

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "Mailbox",
        "Pairs",
        "Flags agreed",
        "A UIDVALIDITY/UIDNEXT",
        "A cached",
        "B UIDVALIDITY/UIDNEXT",
        "B cached",
        "Divergences",
    ]);
    for mb in &s.mailboxes {
        let side_cell = |side: Side| match &mb.sides[side.index()] {
            Some(rec) => {
                let modseq = rec
                    .highestmodseq
                    .map_or(String::new(), |m| format!(" (modseq {m})"));
                format!("{}/{}{modseq}", rec.uidvalidity, rec.uidnext)
            }
            None => "—".to_string(),
        };
        let cached = |side: Side| {
            let c = mb.cached[side.index()];
            format!("{} ({})", c.messages, size(c.bytes))
        };
        let divergences: Vec<String> = [Side::A, Side::B]
            .iter()
            .flat_map(|&side| {
                mb.divergences[side.index()]
                    .iter()
                    .map(move |(status, n)| format!("{side}: {n} {status}"))
            })
            .collect();
        table.add_row(vec![
            Cell::new(&mb.name),
            Cell::new(mb.pairs).set_alignment(CellAlignment::Right),
            Cell::new(mb.pairs_with_agreed_flags).set_alignment(CellAlignment::Right),
            Cell::new(side_cell(Side::A)),
            Cell::new(cached(Side::A)).set_alignment(CellAlignment::Right),
            Cell::new(side_cell(Side::B)),
            Cell::new(cached(Side::B)).set_alignment(CellAlignment::Right),
            Cell::new(if divergences.is_empty() {
                "—".to_string()
            } else {
                divergences.join(", ")
            }),
        ]);
    }
    if s.mailboxes.is_empty() {
        out.push_str("No mailboxes recorded yet.\n");
    } else {
        let _ = writeln!(out, "{table}");
    }
    let (pairs, cached) = s.totals();
    let _ = writeln!(
        out,
        "\nTotals: {} mailbox(es), {pairs} pair(s); cached A {} message(s) ({}), B {} ({})",
        s.mailboxes.len(),
        cached[0].messages,
        size(cached[0].bytes),
        cached[1].messages,
        size(cached[1].bytes)
    );
    if s.pending_intents.is_empty() {
        out.push_str("Pending copies: none\n");
    } else {
        let _ = writeln!(
            out,
            "Pending copies (a run stopped mid-batch; the next run resolves them):"
        );
        for i in &s.pending_intents {
            let _ = writeln!(
                out,
                "  {} → {}: {} message(s), {} (since {})",
                i.mailbox,
                i.target,
                i.messages,
                size(i.bytes),
                time(i.created_at)
            );
        }
    }
    let _ = writeln!(out, "Tombstones (proven expunges): {}", s.tombstones);
    out.push_str(&coverage_text(s));
    out
}

/// What scrubs have verified, per mailbox and side (`--scrub`): nothing
/// where no message is cached.
fn coverage_text(s: &SnapshotSummary) -> String {
    if s.coverage.is_empty() {
        return String::new();
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "Mailbox",
        "Side",
        "Messages",
        format!("Verified within {COVERAGE_DAYS} days").as_str(),
        "Never verified",
        "Oldest verification",
    ]);
    for c in &s.coverage {
        let share = format!("{} ({:.1}%)", c.verified_since, c.share_verified() * 100.0);
        table.add_row(vec![
            Cell::new(&c.mailbox),
            Cell::new(c.side),
            Cell::new(c.messages).set_alignment(CellAlignment::Right),
            Cell::new(share).set_alignment(CellAlignment::Right),
            Cell::new(c.never_verified).set_alignment(CellAlignment::Right),
            Cell::new(c.oldest_verified.map_or("never".to_string(), time)),
        ]);
    }
    format!(
        "\nScrub coverage on {} (what check/sync --scrub re-read and found intact):\n{table}\n",
        time(s.coverage_at)
    )
}
