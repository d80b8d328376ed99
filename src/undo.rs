//! `imapmend undo --run ID [--apply]`: takes back what one sync did, as
//! far as the action log and the servers allow (docs/AUDIT.md). Plan
//! first: without `--apply` it prints what it would do and what it cannot
//! undo, and changes nothing (exit 0 nothing to do, 1 something to do);
//! with `--apply` it does it, each write through the action log's door
//! under a run id of its own, and forgets in the snapshot the tombstones
//! of the messages it moved back, so that the next sync treats them as
//! new mail on that side (copied to the other side), never as deleted.
//! What to do is [`crate::audit::undo`]'s decision; the writes are
//! [`crate::apply::undo_step`]'s.

use crate::action_log::{self, Logged};
use crate::apply::{undo_step, Undone};
use crate::audit::undo::{delta_text, questions, undo, Facts, MailboxNow, Step};
use crate::exit;
use crate::imap::ImapError;
use crate::job::Job;
use crate::model::{Fingerprint, Side};
use crate::pool::Pool;
use crate::snapshot::Snapshot;

/// Runs the undo of `run` over the connected `pool`; the exit code.
pub async fn session(
    job: &Job,
    run: &str,
    apply: bool,
    snapshot: &mut Snapshot,
    pool: &mut Pool,
) -> i32 {
    let path = action_log::path_for(&job.state_path);
    if !path.exists() {
        eprintln!(
            "imapmend: no action log at {}: nothing to undo",
            path.display()
        );
        return exit::CANNOT_RUN;
    }
    let all = match action_log::read(&path) {
        Ok((entries, _)) => action_log::writes(entries),
        Err(e) => {
            eprintln!("imapmend: cannot read {}: {e}", path.display());
            return exit::CANNOT_RUN;
        }
    };
    let of_run: Vec<&Logged> = all.iter().filter(|w| w.intent.run == run).collect();
    if of_run.is_empty() {
        eprintln!(
            "imapmend: the action log {} has no write of run {run} (`imapmend log show` lists the runs)",
            path.display()
        );
        return exit::CANNOT_RUN;
    }
    let mut facts = Facts::new();
    for ((side, name), uids) in questions(&of_run) {
        let conn = &mut pool.first()[side.index()];
        let wire = wire_name(job, side, &name);
        let status = match conn.select(&wire, true).await {
            Ok(s) => s,
            // No such mailbox (any more): absent from the facts.
            Err(ImapError::No { .. }) => continue,
            Err(e) => {
                eprintln!("imapmend: {side}: cannot open {name}: {e}");
                return exit::CANNOT_RUN;
            }
        };
        let listed = if uids.is_empty() {
            Ok(Vec::new())
        } else {
            conn.fetch_meta(&uids).await
        };
        let listed = match listed {
            Ok(l) => l,
            Err(e) => {
                eprintln!("imapmend: {side}: cannot read the flags in {name}: {e}");
                return exit::CANNOT_RUN;
            }
        };
        facts.insert(
            (side, name),
            MailboxNow {
                uidvalidity: status.uidvalidity,
                highestmodseq: status.highestmodseq,
                flags: listed.into_iter().map(|m| (m.uid, m.flags)).collect(),
            },
        );
    }
    let plan = undo(&of_run, &all, &facts);
    println!(
        "undo of run {run}{}",
        if apply {
            ""
        } else {
            " (plan: nothing is changed; --apply does it)"
        }
    );
    for step in &plan.steps {
        println!("{}", describe(step));
    }
    for line in &plan.cannot {
        println!("cannot   {line}");
    }
    for line in &plan.left {
        println!("left     {line}");
    }
    if !apply {
        println!(
            "{} step(s) to do, {} thing(s) that cannot be undone",
            plan.steps.len(),
            plan.cannot.len()
        );
        return if plan.steps.is_empty() {
            exit::OK
        } else {
            exit::PENDING
        };
    }
    let mut code = exit::OK;
    for step in &plan.steps {
        let to_wire = |side: Side, name: &str| wire_name(job, side, name);
        match undo_step(pool.first(), step, &to_wire).await {
            Ok(Undone::Done) => println!("done     {}", describe(step)),
            Ok(Undone::Modified(uids)) => {
                code = exit::PARTIAL;
                println!(
                    "partial  {}: UIDs {uids:?} changed meanwhile, left as they are",
                    describe(step)
                );
            }
            Err(e) => {
                code = exit::PARTIAL;
                println!("FAILED   {}: {e}", describe(step));
                continue;
            }
        }
        if let Step::MoveBack { to, messages, .. } = step {
            let contents: Vec<Fingerprint> = messages
                .iter()
                .filter_map(|m| m.fingerprint.as_deref().and_then(Fingerprint::from_hex))
                .collect();
            if let Err(e) = snapshot.forget_tombstones(to, &contents) {
                code = exit::PARTIAL;
                eprintln!(
                    "imapmend: could not forget the tombstones of what went back to {to}: {e}; \
                     the next sync copies it to the other side all the same"
                );
            }
        }
    }
    code
}

/// One step as a line of the plan.
fn describe(step: &Step) -> String {
    match step {
        Step::MoveBack {
            side,
            from,
            uids,
            to,
            ..
        } => format!(
            "move     {} message(s) on {side} from {from} back to {to}",
            uids.len()
        ),
        Step::Revert {
            side,
            mailbox,
            uids,
            delta,
            ..
        } => format!(
            "flags    {} on {} message(s) of {mailbox} on {side} (reverting the run's {})",
            delta_text(delta),
            uids.len(),
            delta_text(&crate::model::FlagDelta {
                add: delta.remove.clone(),
                remove: delta.add.clone(),
            })
        ),
    }
}

/// A mailbox's name on the wire of `side`, from the name the log gives:
/// a quarantine is logged by its wire name already; another mailbox by its
/// reported name, under the side's prefix (`--a-prefix`).
fn wire_name(job: &Job, side: Side, name: &str) -> String {
    let prefix = &job.options.names.prefixes[side.index()];
    let quarantine = job
        .options
        .expunge_to
        .as_ref()
        .is_some_and(|q| name == format!("{prefix}{q}"));
    if quarantine
        || name.eq_ignore_ascii_case("INBOX")
        || name.starts_with(prefix.as_str()) && !prefix.is_empty()
    {
        name.to_string()
    } else {
        format!("{prefix}{name}")
    }
}
