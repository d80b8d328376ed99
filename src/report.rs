//! What the operator sees: the Plan as tables, what `sync` applied, what
//! `check` found, the same as JSON, and the exit code that scripts, cron and
//! monitoring read.
//!
//! The closing verdict never says "in sync" unless every mailbox was listed
//! and compared.

use crate::apply::ApplyOutcome;
use crate::exit;
use crate::gather::MailboxFailure;
use crate::model::{Fingerprint, PairLevel, Side};
use crate::plan::{ExpungeMode, MailboxPlan, Plan};
use crate::reconcile::agreement::MailboxAgreement;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use serde::Serialize;
use std::fmt::Write;

/// Everything one run reports, in one value (the JSON form).
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub schema_version: u32,
    pub command: &'static str,
    /// This run's id, as the action log ([`crate::action_log`]) names it.
    pub run_id: Option<String>,
    /// "user@host:port" per side, never a secret.
    pub endpoints: [String; 2],
    pub plan: Option<&'a Plan>,
    pub applied: Option<&'a ApplyOutcome>,
    pub check: Option<&'a [MailboxAgreement]>,
    /// `--scrub`: what was re-read this run and what it found.
    pub scrub: Option<&'a crate::scrub::ScrubOutcome>,
    pub listing_failures: &'a [MailboxFailure],
    /// Turns per side, A then B, up to the report: the times a session
    /// waited for its server with nothing else it could send
    /// ([`crate::imap::turns`]) — the run's cost in round trips.
    pub turns: [u64; 2],
    /// Rows read from the snapshot up to the report
    /// ([`crate::snapshot::rows_read`]): the run's cost in the snapshot,
    /// printed at `-v` (not in the JSON form).
    #[serde(skip)]
    pub snapshot_rows: u64,
    pub exit_code: i32,
}

impl Report<'_> {
    /// The JSON form: the report's fields, then `outcome` — for `sync`,
    /// what became of each planned action ([`crate::outcome`]); else null.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct WithOutcome<'r, 'a> {
            #[serde(flatten)]
            report: &'r Report<'a>,
            outcome: Option<crate::outcome::Outcomes>,
        }
        let outcome = self.outcome();
        let json = WithOutcome {
            report: self,
            outcome,
        };
        serde_json::to_string_pretty(&json).expect("the report is plain data")
    }

    /// Each planned action's outcome, when the plan was applied.
    pub fn outcome(&self) -> Option<crate::outcome::Outcomes> {
        let (plan, applied) = (self.plan?, self.applied?);
        let last = crate::outcome::outcomes(plan, &applied.ledger);
        Some(last.after(&applied.earlier_actions, applied.earlier_attempts + 1))
    }

    /// The human form: tables, details, totals and a verdict.
    pub fn to_text(&self, verbose: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "A: {}\nB: {}\n", self.endpoints[0], self.endpoints[1]);
        if let Some(plan) = self.plan {
            out.push_str(&plan_table(plan));
            out.push_str(&plan_details(plan, verbose));
            out.push_str(&plan_totals(plan));
        }
        if let Some(check) = self.check {
            if self.plan.is_some() {
                out.push('\n'); // check prints the Plan above its verdicts
            }
            out.push_str(&check_text(check, verbose));
        }
        if let Some(scrub) = self.scrub {
            out.push_str(&scrub.to_text());
        }
        for f in self.listing_failures {
            let _ = writeln!(out, "FAILED  {} on {}: {}", f.mailbox, f.side, f.error);
        }
        if let Some(applied) = self.applied {
            out.push_str(&applied_text(applied));
        }
        if let Some(t) = self.outcome().map(|o| o.totals) {
            let _ = writeln!(
                out,
                "Actions: {} done, {} refused, {} skipped, {} not attempted",
                t.done, t.refused, t.skipped, t.not_attempted
            );
        }
        let skipped = self
            .plan
            .map_or(0, |p| p.mailboxes.iter().map(|m| m.skipped.len()).sum());
        if skipped > 0 {
            let _ = writeln!(
                out,
                "\n{skipped} message(s) skipped on purpose (SKIPPED above): not copied, never taken as deleted."
            );
        }
        if verbose {
            let [a, b] = self.turns;
            let _ = writeln!(
                out,
                "\nRound trips: {a} turn(s) waiting for A, {b} for B (after the greetings)."
            );
            let _ = writeln!(out, "snapshot: {} rows read", self.snapshot_rows);
            // Of them, the cache rows loaded a side's cache at a time (a
            // full listing is matched to the rows as they are read).
            let held = crate::snapshot::rows_held();
            let _ = writeln!(out, "snapshot: {held} cache rows held whole");
        }
        let _ = writeln!(out, "\n{}", self.verdict());
        out
    }

    fn verdict(&self) -> String {
        let failures = !self.listing_failures.is_empty();
        let code = self.exit_code;
        match self.command {
            "check" => match code {
                exit::OK => "OK: A and B hold the same messages with the same flags.".into(),
                exit::PENDING => "DIFFERENCES: A and B do not agree (see above); `imapmend plan` shows the repair.".into(),
                _ => "INCOMPLETE: some mailboxes could not be checked; no verdict for them.".into(),
            },
            "plan" => match (code, failures) {
                (exit::OK, _) => "Nothing to do: every listed message is paired and its flags agree.".into(),
                (exit::PENDING, _) => "Actions pending: run `imapmend sync` with the same options to apply them.".into(),
                (exit::WITHHELD, _) => "Deletions withheld by the mass-deletion guard (listed above); \
                    `sync` would apply the rest. Raise --max-delete only if they are intended."
                    .into(),
                _ => "INCOMPLETE: some mailboxes could not be listed; they are left out of this plan.".into(),
            },
            _ => match code {
                exit::OK => "Applied: both sides now hold the same mail; the snapshot is saved.".into(),
                exit::WITHHELD => "Some actions were withheld for safety; the rest was applied.".into(),
                _ => "INCOMPLETE: some actions failed (listed above); run sync again.".into(),
            },
        }
    }
}

fn plan_table(plan: &Plan) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "Mailbox",
        "Listing A / B",
        "Pairs",
        "Copy A→B",
        "Copy B→A",
        "Flags on A",
        "Flags on B",
        "Expunge on A",
        "Expunge on B",
        "Conflicts",
    ]);
    for mb in &plan.mailboxes {
        let count = |side: Side| mb.copies.iter().filter(|c| c.from == side).count();
        let flags = |side: Side| mb.flag_changes.iter().filter(|c| c.side == side).count();
        let mut name = mb.name.clone();
        if let Some(side) = mb.create {
            name.push_str(&format!(" (create on {side})"));
        }
        if let Some(r) = &mb.rename {
            name.push_str(&format!(" (renamed on {} from {})", r.side, r.from));
        }
        if let Some(d) = &mb.delete {
            let held = if d.withheld { ", WITHHELD" } else { "" };
            name.push_str(&format!(" (delete on {}{held})", d.side));
        }
        let listing = [0, 1]
            .map(|i| {
                mb.listing[i]
                    .as_ref()
                    .map_or("—".to_string(), |l| l.path.clone())
            })
            .join(" / ");
        let expunges = |side: Side| {
            let done = mb.expunges.iter().filter(|e| e.side == side).count();
            match mb.withheld.iter().filter(|e| e.side == side).count() {
                0 => done.to_string(),
                held => format!("{done} (+{held} withheld)"),
            }
        };
        let nums = [
            mb.pairs.len().to_string(),
            count(Side::A).to_string(),
            count(Side::B).to_string(),
            flags(Side::A).to_string(),
            flags(Side::B).to_string(),
            expunges(Side::A),
            expunges(Side::B),
            mb.conflicts.len().to_string(),
        ];
        let mut row = vec![Cell::new(name), Cell::new(listing)];
        row.extend(
            nums.iter()
                .map(|n| Cell::new(n).set_alignment(CellAlignment::Right)),
        );
        table.add_row(row);
    }
    format!("{table}\n")
}

/// One line per action (capped per mailbox unless verbose), so an operator
/// can see exactly what will change.
fn plan_details(plan: &Plan, verbose: bool) -> String {
    const CAP: usize = 10;
    let mut out = String::new();
    for mb in &plan.mailboxes {
        let lines = action_lines(mb);
        if lines.is_empty() && mb.problems.is_empty() && mb.notes.is_empty() && !verbose {
            continue;
        }
        let _ = writeln!(out, "\n{}: {}", mb.name, listing_line(mb));
        for p in &mb.problems {
            let _ = writeln!(out, "  PROBLEM  {p}");
        }
        let shown = if verbose {
            lines.len()
        } else {
            lines.len().min(CAP)
        };
        for line in &lines[..shown] {
            let _ = writeln!(out, "  {line}");
        }
        if verbose {
            // Exact is the rule; every pair made at a weaker level is named.
            for p in mb.pairs.iter().filter(|p| p.level != PairLevel::Exact) {
                let _ = writeln!(
                    out,
                    "  pair     UID {} on A with UID {} on B, at the {} level",
                    p.uid[0], p.uid[1], p.level
                );
            }
        }
        if shown < lines.len() {
            let _ = writeln!(out, "  … and {} more (-v lists all)", lines.len() - shown);
        }
        for n in &mb.notes {
            let _ = writeln!(out, "  note     {n}");
        }
    }
    out
}

/// How each side was read, and why: "A full (no snapshot …), B absent".
fn listing_line(mb: &MailboxPlan) -> String {
    [Side::A, Side::B]
        .map(|side| match &mb.listing[side.index()] {
            Some(l) => format!("{side} {} listing ({})", l.path, l.reason),
            None => format!("{side} has no such mailbox"),
        })
        .join("; ")
}

/// One line per action, in apply order.
fn action_lines(mb: &MailboxPlan) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(side) = mb.create {
        lines.push(format!(
            "create   mailbox {:?} on {side}",
            mb.wire[side.index()].as_deref().unwrap_or("")
        ));
    }
    if let Some(r) = &mb.rename {
        let how = if r.implied {
            "moved with its parent"
        } else {
            "as the other side did"
        };
        lines.push(format!(
            "rename   mailbox {:?} to {:?} on {} ({how})",
            r.from_wire,
            mb.wire[r.side.index()].as_deref().unwrap_or(""),
            r.side
        ));
    }
    if let Some(d) = mb.delete.as_ref().filter(|d| !d.withheld) {
        lines.push(format!(
            "delete   mailbox {:?} on {} with its {} message(s): deleted on {} since the last sync",
            mb.wire[d.side.index()].as_deref().unwrap_or(""),
            d.side,
            d.messages,
            d.side.other()
        ));
    }
    for c in &mb.copies {
        lines.push(format!(
            "copy     {}→{} UID {} ({} bytes, {}, {}) flags {}",
            c.from,
            c.from.other(),
            c.uid,
            c.size,
            c.internal_date.to_imap(),
            content(c.fingerprint, "read by the copy"),
            c.flags
        ));
    }
    for s in &mb.skipped {
        lines.push(format!(
            "SKIPPED  {}→{} UID {} ({} bytes, {}): {}",
            s.from,
            s.from.other(),
            s.uid,
            s.size,
            content(s.fingerprint, "not read"),
            s.reason
        ));
    }
    for f in &mb.flag_changes {
        let mut delta = String::new();
        for flag in f.delta.add.iter() {
            let _ = write!(delta, " +{flag}");
        }
        for flag in f.delta.remove.iter() {
            let _ = write!(delta, " -{flag}");
        }
        lines.push(format!(
            "flags    on {} UID {}:{delta}",
            f.side,
            f.pair[f.side.index()]
        ));
    }
    for e in &mb.expunges {
        let how = match e.mode {
            ExpungeMode::Expunge => "UID EXPUNGE",
            ExpungeMode::FlagOnly => "\\Deleted only (pending-expunge)",
        };
        let other = e.side.other();
        let why = if e.pair[other.index()] == 0 {
            // No partner: an extra (one-way), a restored side's message, or
            // a damaged copy; the mailbox's notes say which.
            format!("no partner on {other} (see the notes)")
        } else {
            format!("gone from {other} since the last sync")
        };
        lines.push(format!(
            "expunge  on {} UID {} ({}): {why} — {how}",
            e.side,
            e.uid,
            e.fingerprint.short()
        ));
    }
    for e in &mb.withheld {
        lines.push(format!(
            "WITHHELD expunge on {} UID {} ({}): over the --max-delete guard",
            e.side,
            e.uid,
            e.fingerprint.short()
        ));
    }
    for c in &mb.conflicts {
        lines.push(format!(
            "conflict A UID {} / B UID {}: {}",
            c.pair[0], c.pair[1], c.description
        ));
    }
    lines
}

/// A message's content for a line of the plan: its short fingerprint, or
/// `unknown` where it was not read (a first sync leaves that to the copy).
fn content(fingerprint: Option<Fingerprint>, unknown: &str) -> String {
    fingerprint.map_or_else(|| unknown.to_string(), |f| f.short())
}

fn plan_totals(plan: &Plan) -> String {
    let t = plan.totals();
    let mut notes = String::new();
    for c in &plan.subscriptions {
        let verb = if c.subscribe {
            "subscribe"
        } else {
            "unsubscribe"
        };
        let _ = writeln!(notes, "{verb:<11} {:?} on {}", c.wire, c.side);
    }
    for n in &plan.notes {
        let _ = writeln!(notes, "note     {n}");
    }
    let deletes = |side: Side| {
        plan.mailboxes
            .iter()
            .filter(|m| {
                m.delete
                    .as_ref()
                    .is_some_and(|d| d.side == side && !d.withheld)
            })
            .count()
    };
    let deletes = match [deletes(Side::A), deletes(Side::B)] {
        [0, 0] => String::new(),
        [a, b] => format!("; delete {a} mailbox(es) on A, {b} on B"),
    };
    notes
        + &format!(
            "\nTotals: {} mailbox(es), {} paired; copy {} to A ({} bytes), {} to B ({} bytes); \
         flag changes {} on A, {} on B; create {} on A, {} on B; expunge {} on A, {} on B \
         ({} on A, {} on B withheld){deletes}; {} conflict(s) resolved by policy\n",
            plan.mailboxes.len(),
            t.pairs,
            t.copies_to[0],
            t.bytes_to[0],
            t.copies_to[1],
            t.bytes_to[1],
            t.flag_changes_on[0],
            t.flag_changes_on[1],
            t.creates[0],
            t.creates[1],
            t.expunges_on[0],
            t.expunges_on[1],
            t.withheld_on[0],
            t.withheld_on[1],
            t.conflicts
        )
}

fn applied_text(applied: &ApplyOutcome) -> String {
    let counts = applied.counts();
    let mut out = format!(
        "\nApplied: created {} on A, {} on B; copied {} to A, {} to B; flag changes {} on A, {} on B; \
         expunged {} on A, {} on B{}\n",
        counts.created[0],
        counts.created[1],
        counts.copied_to[0],
        counts.copied_to[1],
        counts.flag_changes_on[0],
        counts.flag_changes_on[1],
        counts.expunged_on[0],
        counts.expunged_on[1],
        match counts.renamed_on {
            [0, 0] => String::new(),
            [a, b] => format!("; renamed {a} mailbox(es) on A, {b} on B"),
        } + &match counts.mailboxes_deleted_on {
            [0, 0] => String::new(),
            [a, b] => format!("; deleted {a} mailbox(es) on A, {b} on B"),
        } + &match counts.subscriptions_changed_on {
            [0, 0] => String::new(),
            [a, b] => format!("; subscriptions changed {a} on A, {b} on B"),
        }
    );
    for n in &applied.notes {
        let _ = writeln!(out, "note     {n}");
    }
    for f in &applied.failures {
        let _ = writeln!(
            out,
            "FAILED   {} on {}: {}: {}",
            f.mailbox, f.side, f.action, f.error
        );
    }
    out
}

fn check_text(check: &[MailboxAgreement], verbose: bool) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["Mailbox", "Messages A", "Messages B", "Verdict"]);
    let mut details = String::new();
    for mb in check {
        let mut verdict = match (mb.only_on, mb.surplus.is_empty()) {
            (Some(side), _) => format!("only on {side}"),
            (None, true) => "agree".to_string(),
            (None, false) => format!("{} difference(s)", mb.surplus.len()),
        };
        if !mb.damaged.is_empty() {
            verdict.push_str(&format!("; {} damaged", mb.damaged.len()));
        }
        if !mb.unreadable.is_empty() {
            verdict.push_str(&format!("; {} unreadable", mb.unreadable.len()));
        }
        for (side, uid) in &mb.damaged {
            let _ = writeln!(
                details,
                "  {}: UID {uid} on {side} is DAMAGED: its content changed since it was synced",
                mb.name
            );
        }
        for (side, uid) in &mb.pending_expunge {
            let _ = writeln!(
                details,
                "  {}: UID {uid} on {side} is pending-expunge (\\Deleted for a proven expunge; known, not a difference)",
                mb.name
            );
        }
        for (side, uid) in &mb.refused {
            let _ = writeln!(
                details,
                "  {}: UID {uid} on {side} was refused by {} on an earlier sync (known, not a difference)",
                mb.name,
                side.other()
            );
        }
        for (side, uid) in &mb.unreadable {
            let _ = writeln!(
                details,
                "  {}: UID {uid} on {side}: the server did not deliver its body",
                mb.name
            );
        }
        table.add_row(vec![
            Cell::new(&mb.name),
            Cell::new(mb.messages[0]).set_alignment(CellAlignment::Right),
            Cell::new(mb.messages[1]).set_alignment(CellAlignment::Right),
            Cell::new(verdict),
        ]);
        let shown = if verbose {
            mb.surplus.len()
        } else {
            mb.surplus.len().min(10)
        };
        for s in &mb.surplus[..shown] {
            let _ = writeln!(
                details,
                "  {}: {} more on {} of {} with flags {}",
                mb.name,
                s.count,
                s.side,
                s.fingerprint.short(),
                s.flags
            );
        }
    }
    format!("{table}\n{details}")
}
