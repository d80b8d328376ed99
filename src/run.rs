//! One run of `plan`, `sync` or `check`, from a resolved [`Job`] to an exit
//! code: open the snapshot, connect both sides, gather, reconcile, report,
//! and (for `sync`) apply.
//!
//! The order is chosen for safety: the snapshot is opened and locked before
//! any server is touched, and nothing is written to a server before both
//! trees have been listed completely.
//!
//! The connections are a [`Pool`] (`--connections` per server). A
//! connection lost after the first login (cut, stalled past the read
//! timeout, BYE) — any of the pool's — is re-established up to `--retries`
//! times with backoff, and the run starts over from a fresh listing:
//! whatever was done is paired in the snapshot by then, and a batch cut
//! mid-APPEND is covered by its intent. Once the retries are spent, what
//! the connection held fails (exit 2), as does everything after a failed
//! first connection (exit 3).

use crate::action_log;
use crate::apply::{apply, purge_quarantines, ApplyOutcome, Purging};
use crate::exit;
use crate::gather::{decide, defer_bodies, gather, CopySettings, Gathered, Reading};
use crate::job::{Command, Job};
use crate::metrics::Metrics;
use crate::model::{Identity, MaxDelete, Side};
use crate::plan::Plan;
use crate::pool::Pool;
use crate::reconcile::{agreements, Policy, ReconcileInput};
use crate::report::Report;
use crate::snapshot::{PendingIntent, SettledMark, Snapshot, SnapshotError};

/// Runs the job and returns the process exit code. Everything the operator
/// should see is printed here (report on stdout, fatal errors on stderr);
/// `check` and `sync` record their findings in `metrics` (`--metrics`),
/// which the caller writes once the run is over.
pub async fn run(job: Job, metrics: Option<&Metrics>) -> i32 {
    let mut snapshot =
        match Snapshot::open(&job.state_path, [&job.identities[0], &job.identities[1]]) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("imapmend: {e}");
                // Another run holds the snapshot: refused for safety (4), but
                // `check` stays inside the monitoring range (3, UNKNOWN).
                let locked = matches!(e, SnapshotError::Locked { .. });
                let checking = matches!(job.command, Command::Check { .. });
                return if locked && !checking {
                    exit::WITHHELD
                } else {
                    exit::CANNOT_RUN
                };
            }
        };
    // Only a sync writes to the servers, so only a sync keeps the log.
    let writes = matches!(job.command, Command::Sync | Command::Undo { apply: true });
    let log = writes.then(|| action_log::path_for(&job.state_path));
    if let Err(e) = action_log::open(log.as_deref()) {
        let path = log.unwrap_or_default();
        eprintln!(
            "imapmend: cannot open the action log {}: {e}; nothing was done",
            path.display()
        );
        return exit::CANNOT_RUN;
    }
    let tombstone_lifetime = i64::from(job.options.tombstone_days) * 24 * 3600;
    if let Err(e) = snapshot.purge_tombstones(unix_now() - tombstone_lifetime) {
        eprintln!("imapmend: warning: could not forget old tombstones: {e}");
    }
    crate::stop::install();
    let _servers_lock = match (&job.command, &job.servers_lock) {
        (Command::Sync | Command::Undo { .. }, Some(path)) => {
            match crate::server_lock::take(path).await {
                Some(lock) => lock,
                None => {
                    eprintln!("imapmend: stopped while waiting; nothing was done");
                    return exit::PARTIAL;
                }
            }
        }
        _ => None,
    };
    crate::throttle::configure(job.max_messages_per_second, job.max_bytes_per_second);
    crate::progress::phase("connecting to A and B");
    let mut pool = match Pool::connect(&job.endpoints, job.connections).await {
        Ok(pool) => pool,
        Err(errors) => {
            for e in errors {
                eprintln!("imapmend: {e}");
            }
            return exit::CANNOT_RUN;
        }
    };
    if let (Command::Undo { apply }, Some(id)) = (job.command, &job.undo_run) {
        let code = crate::undo::session(&job, id, apply, &mut snapshot, &mut pool).await;
        pool.logout().await;
        return code;
    }
    // A connection lost (cut, stalled, BYE) after the run got going is
    // re-established and the work redone from a fresh listing, a bounded
    // number of times: intents make a second listing after a broken APPEND
    // safe, and everything already done is paired by then.
    let mut earlier = ApplyOutcome::default();
    let mut retry = 0;
    loop {
        let may_retry = retry < job.retries && !crate::stop::requested();
        match session(
            &job,
            metrics,
            &mut snapshot,
            &mut pool,
            may_retry,
            &mut earlier,
        )
        .await
        {
            Session::Done(code) => {
                pool.logout().await;
                return code;
            }
            Session::Lost(why) => {
                retry += 1;
                let wait = backoff(retry);
                eprintln!(
                    "imapmend: {why}; reconnecting in {} s and listing again (retry {retry} of {})",
                    wait.as_secs(),
                    job.retries
                );
                earlier.notes.push(format!("retry {retry}: {why}"));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = crate::stop::wait() => {}
                }
                if crate::stop::requested() {
                    let e = earlier.counts();
                    eprintln!(
                        "imapmend: stopped before retrying; done before the connection was lost: \
                         copied {} to A, {} to B; flag changes {} on A, {} on B; expunged {} on A, {} on B",
                        e.copied_to[0], e.copied_to[1], e.flag_changes_on[0], e.flag_changes_on[1],
                        e.expunged_on[0], e.expunged_on[1]
                    );
                    pool.logout().await;
                    return exit::PARTIAL;
                }
                pool.reconnect().await;
            }
        }
    }
}

/// How one session over the current connections ended.
enum Session {
    /// Reported; the exit code.
    Done(i32),
    /// A connection died and may be re-established: why (nothing printed).
    Lost(String),
}

/// The wait before retry `n` (1, 2, 4 … seconds, at most 30).
fn backoff(n: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << n.saturating_sub(1).min(5)).min(IN_FLIGHT_WAIT * 6)
}

/// One session over the current connections: the verb's own function over
/// what was listed. With `may_retry`, a connection lost on the way ends the
/// session unreported ([`Session::Lost`]); what `sync` applied before that
/// is added to `earlier`, which the final report includes.
async fn session(
    job: &Job,
    metrics: Option<&Metrics>,
    snapshot: &mut Snapshot,
    pool: &mut Pool,
    may_retry: bool,
    earlier: &mut ApplyOutcome,
) -> Session {
    let mut gathered = match list(job, snapshot, pool, may_retry).await {
        Ok(gathered) => gathered,
        Err(ended) => return ended,
    };
    let scrubbed = scrub(job, snapshot, pool, &mut gathered).await;
    if let Some(why) = pool.lost().filter(|_| may_retry) {
        return Session::Lost(why);
    }
    let scrubbed = scrubbed.as_ref();
    match job.command {
        Command::Check { .. } => check_session(job, metrics, gathered, scrubbed, pool).await,
        Command::Plan => plan_session(job, gathered, pool).await,
        Command::Sync => {
            let listed = Listed { gathered, scrubbed };
            sync_session(job, metrics, listed, snapshot, pool, may_retry, earlier).await
        }
        // `run` hands an undo to `crate::undo` before anything is listed.
        Command::Undo { .. } => Session::Done(exit::CANNOT_RUN),
    }
}

/// What `sync` works from: both servers listed, and what a scrub found.
struct Listed<'s> {
    gathered: Gathered,
    scrubbed: Option<&'s crate::scrub::ScrubOutcome>,
}

/// `--scrub`: re-reads the slice verified longest ago and puts what it
/// found into the listing ([`crate::scrub`]; a settled mailbox where it
/// found something is listed again first, and what that listing teaches
/// the cache is recorded as the first listing's was), then records the
/// verifications and the damage in the snapshot. Not for `plan`, nor
/// beside `--verify`, which reads everything anyway.
async fn scrub(
    job: &Job,
    snapshot: &mut Snapshot,
    pool: &mut Pool,
    gathered: &mut Gathered,
) -> Option<crate::scrub::ScrubOutcome> {
    let budget = job
        .scrub
        .filter(|_| !job.verify && !matches!(job.command, Command::Plan))?;
    crate::progress::phase("scrubbing: re-reading the bodies verified longest ago");
    let slice = crate::scrub::slice(snapshot, &gathered.input, budget)
        .map_err(|e| eprintln!("imapmend: warning: cannot choose what to scrub: {e}"))
        .ok()?;
    let reconnects = crate::gather::body_reconnects(job.retries);
    let syncing = matches!(job.command, Command::Sync);
    let relisting = crate::scrub::Relisting {
        snapshot,
        reading: Reading {
            read_only: !syncing,
            verify: false,
            body_reconnects: reconnects,
            // Only where a mailbox has no record, and a settled one has.
            defer_bodies: [false, false],
            headers: job.options.identity == Identity::Headers,
            skip_settled: false,
            subset: false,
        },
    };
    let mut outcome = crate::scrub::read(pool, gathered, slice, reconnects, &relisting).await;
    if !gathered.cache_updates.is_empty() {
        crate::gather::settle(snapshot, gathered, syncing);
    }
    if let Err(e) = crate::scrub::record(snapshot, &mut gathered.input, &mut outcome, unix_now()) {
        eprintln!("imapmend: warning: could not record what the scrub read: {e}");
    }
    Some(outcome)
}

/// `check`: prints the Plan the core returned, as `plan` would (what a
/// `sync` would do about the differences), beside its verdict per mailbox;
/// the verdict alone sets the exit code, inside the monitoring-plugin
/// range: a listing failure (2) outranks differences (1).
async fn check_session(
    job: &Job,
    metrics: Option<&Metrics>,
    mut gathered: Gathered,
    scrubbed: Option<&crate::scrub::ScrubOutcome>,
    pool: &mut Pool,
) -> Session {
    let plan = planned(job, &mut gathered, pool).await;
    let gathered = &gathered;
    let verdicts = agreements(&gathered.input);
    let differ = if verdicts.iter().all(|v| v.agrees()) {
        exit::OK
    } else {
        exit::PENDING
    };
    let code = if listing_code(gathered) == exit::PARTIAL {
        exit::PARTIAL
    } else {
        differ
    };
    let report = Report {
        plan: Some(&plan),
        check: Some(&verdicts),
        scrub: scrubbed,
        ..report(job, "check", gathered, code)
    };
    print(&report, job);
    if let Some(metrics) = metrics {
        metrics.record(&report, &verdicts, &gathered.input);
    }
    Session::Done(code)
}

/// The one Plan every verb prints: the core's answer for what was listed
/// (see [`decide`]), its decisions logged at -v.
async fn planned(job: &Job, gathered: &mut Gathered, pool: &mut Pool) -> Plan {
    tracing::info!(target: "imapmend::run", "deciding what to do");
    let plan = decide(&mut gathered.input, &policy(job), pool.first()).await;
    crate::logging::plan_decisions(&plan);
    plan
}

/// `plan`: prints the Plan the core returned (and saves it for a later
/// `sync --expect-plan`).
async fn plan_session(job: &Job, mut gathered: Gathered, pool: &mut Pool) -> Session {
    let plan = planned(job, &mut gathered, pool).await;
    let pending = if plan.has_actions() {
        exit::PENDING
    } else {
        exit::OK
    };
    let code = exit::worst([pending, listing_code(&gathered), plan_code(&plan)]);
    let report = Report {
        plan: Some(&plan),
        ..report(job, "plan", &gathered, code)
    };
    print(&report, job);
    if !crate::reviewed::save(job, &report) {
        return Session::Done(exit::CANNOT_RUN);
    }
    Session::Done(code)
}

/// `sync`: prints the same Plan `plan` would and applies it. A connection
/// lost while applying (with `may_retry`) ends the session for a retry,
/// what was done kept in `earlier`.
async fn sync_session(
    job: &Job,
    metrics: Option<&Metrics>,
    listed: Listed<'_>,
    snapshot: &mut Snapshot,
    pool: &mut Pool,
    may_retry: bool,
    earlier: &mut ApplyOutcome,
) -> Session {
    let Listed {
        mut gathered,
        scrubbed,
    } = listed;
    let plan = planned(job, &mut gathered, pool).await;
    if let Err(code) = crate::reviewed::check_expected(job, &plan, &endpoints(job)) {
        return Session::Done(code);
    }
    // Before anything is written: a settled mailbox has nothing to write.
    if let Err(e) = snapshot.record_settled(&settled_marks(&gathered.input, &plan)) {
        eprintln!("imapmend: warning: could not record which mailboxes are settled: {e}");
    }
    crate::progress::phase("applying the plan");
    let quarantine = job.options.expunge_to.as_ref().map(|q| {
        let prefixes = &job.options.names.prefixes;
        [format!("{}{q}", prefixes[0]), format!("{}{q}", prefixes[1])]
    });
    let quarantine = quarantine.as_ref();
    let kept = &gathered.kept;
    let mut outcome = apply(&plan, &gathered.input, pool, snapshot, quarantine, kept).await;
    if let Some(why) = pool.lost().filter(|_| may_retry && !outcome.stopped) {
        // Redone from a fresh listing over a new connection: what
        // failed here is tried again, what was done is counted.
        for f in std::mem::take(&mut outcome.failures) {
            outcome.notes.push(format!(
                "before a retry: {} on {}: {}: {}",
                f.mailbox, f.side, f.action, f.error
            ));
        }
        outcome.end_attempt(&plan, earlier.earlier_attempts + 1);
        earlier.absorb(outcome);
        return Session::Lost(why);
    }
    outcome.absorb(std::mem::take(earlier));
    let purge_withheld = match (&quarantine, job.options.quarantine_days) {
        (Some(names), Some(days)) if !outcome.stopped => {
            crate::progress::phase("purging the quarantine");
            let log = action_log::path_for(&job.state_path);
            let purging = Purging {
                names,
                days,
                max_delete: job.options.max_delete.unwrap_or(MaxDelete::DEFAULT),
                log: &log,
                now: unix_now(),
            };
            purge_quarantines(pool, &purging, &mut outcome).await
        }
        _ => false,
    };
    let failed = if outcome.stopped || !outcome.failures.is_empty() {
        exit::PARTIAL
    } else {
        exit::OK
    };
    let withheld = if purge_withheld {
        exit::WITHHELD
    } else {
        exit::OK
    };
    let code = exit::worst([listing_code(&gathered), failed, plan_code(&plan), withheld]);
    let report = Report {
        plan: Some(&plan),
        applied: Some(&outcome),
        scrub: scrubbed,
        ..report(job, "sync", &gathered, code)
    };
    print(&report, job);
    if let Some(metrics) = metrics {
        // What the listing found, before the Plan was applied: the
        // differences this sync set out to repair.
        metrics.record(&report, &agreements(&gathered.input), &gathered.input);
    }
    Session::Done(code)
}

/// Lists both servers (again, once, where an interrupted run's copies may
/// still be landing), then records the listing in the snapshot's cache and
/// reads the earlier refusals ([`crate::gather::settle`]). Err: how the
/// session ended instead (reported, or lost for a retry).
async fn list(
    job: &Job,
    snapshot: &mut Snapshot,
    pool: &mut Pool,
    may_retry: bool,
) -> Result<Gathered, Session> {
    // Each mailbox's own row only: its messages are read where gather
    // must look at them (`Snapshot::load_mailbox`).
    let state = snapshot.load_index().map_err(|e| {
        eprintln!("imapmend: {e}");
        Session::Done(exit::CANNOT_RUN)
    })?;
    let syncing = matches!(job.command, Command::Sync);
    crate::progress::phase("listing both servers, fingerprinting new messages");
    let intents = snapshot.intents().map_err(|e| {
        eprintln!("imapmend: warning: could not read pending intents: {e}");
    });
    // Unknown intents may be pending: the first sync's shortcut is off then.
    let reading = Reading {
        read_only: !syncing,
        verify: job.verify,
        body_reconnects: crate::gather::body_reconnects(job.retries),
        defer_bodies: defer_bodies(
            syncing && !job.verify && job.expect_plan.is_none() && job.options.restored.is_none(),
            job.options.one_way.map(|w| w.source()),
            &state,
            !intents.as_ref().is_ok_and(Vec::is_empty),
        ),
        headers: job.options.identity == Identity::Headers,
        // A scrub reads a settled mailbox's slice from its cache rows, and
        // lists it again only where it finds something (`crate::scrub`).
        skip_settled: !job.verify && job.options.restored.is_none(),
        subset: !job.verify && job.options.restored.is_none() && job.scrub.is_none(),
    };
    let intents = intents.unwrap_or_default();
    let copying = CopySettings {
        max_size: job.options.max_size.map(|m| m.0),
        retry_refused: job.options.retry_refused,
    };
    let (names, filter) = (&job.options.names, &job.options.mailboxes);
    let mut attempt = 0;
    let mut gathered = loop {
        attempt += 1;
        let listing = gather(
            pool,
            &state,
            Some(&*snapshot),
            &reading,
            names,
            filter,
            copying,
        );
        // Nothing is written while listing: a stop abandons it at once.
        let listed = tokio::select! {
            listed = listing => listed,
            () = crate::stop::wait() => {
                eprintln!("imapmend: stopped while listing; nothing was written");
                return Err(Session::Done(exit::PARTIAL));
            }
        };
        // A mailbox whose listing failed because a connection died is
        // listed again over a new one (nothing was written yet).
        if let Some(why) = pool.lost().filter(|_| may_retry) {
            return Err(Session::Lost(why));
        }
        // Without a tree nothing was listed, so nothing ran: 3, as for a
        // failed login (a LIST over its bound ends here too).
        let listed = listed.map_err(|(side, e)| {
            eprintln!("imapmend: listing the mailboxes of {side} failed: {e}");
            Session::Done(exit::CANNOT_RUN)
        })?;
        // A run killed moments ago may have sent a batch the server is still
        // committing: appending it again now would duplicate it. Wait once
        // for it to land, then list again; what has not landed by then was
        // discarded by the server and is copied as usual.
        if attempt > 1 || !syncing || !still_landing(&listed.input, &intents, unix_now()) {
            break listed;
        }
        eprintln!(
            "imapmend: an interrupted run's copies may still be landing; listing again in {}s",
            IN_FLIGHT_WAIT.as_secs()
        );
        tokio::select! {
            () = tokio::time::sleep(IN_FLIGHT_WAIT) => {}
            () = crate::stop::wait() => {}
        }
    };
    drop(state);
    tracing::info!(target: "imapmend::run", "recording what was listed in the snapshot's cache");
    crate::gather::settle(snapshot, &mut gathered, syncing);
    Ok(gathered)
}

/// Per mailbox listed (not already read as settled): its settled mark
/// where its plan leaves it settled ([`crate::reconcile::settled`]) and
/// nothing was refused there, else None, which forgets an old one.
fn settled_marks(input: &ReconcileInput, plan: &Plan) -> Vec<(String, Option<[SettledMark; 2]>)> {
    let plans: std::collections::HashMap<&str, _> = plan
        .mailboxes
        .iter()
        .map(|m| (m.name.as_str(), m))
        .collect();
    let refused = |name: &str| {
        (input.refusals.iter())
            .chain(&input.retried_refusals)
            .any(|r| r.mailbox == name)
    };
    input
        .mailboxes
        .iter()
        .filter(|mb| !mb.base.settled)
        .map(|mb| {
            let settled = plans
                .get(mb.name.as_str())
                .is_some_and(|p| crate::reconcile::settled::settled(mb, p))
                && !refused(&mb.name);
            let mark = |i: usize| {
                let status = &mb.sides[i].as_ref()?.status;
                Some(SettledMark {
                    uidvalidity: status.uidvalidity,
                    uidnext: status.uidnext,
                    highestmodseq: status.highestmodseq?,
                    messages: status.exists,
                })
            };
            let marks = settled.then(|| Some([mark(0)?, mark(1)?])).flatten();
            (mb.name.clone(), marks)
        })
        .collect()
}

/// 2 where some mailbox could not be listed, else 0.
fn listing_code(gathered: &Gathered) -> i32 {
    if gathered.failures.is_empty() {
        exit::OK
    } else {
        exit::PARTIAL
    }
}

/// What the Plan itself says of the run: 2 where a mailbox cannot be
/// reconciled, 4 where the guard withholds something, else 0.
fn plan_code(plan: &Plan) -> i32 {
    let problems = plan.mailboxes.iter().any(|m| !m.problems.is_empty());
    exit::worst([
        if problems { exit::PARTIAL } else { exit::OK },
        if plan.withholds() {
            exit::WITHHELD
        } else {
            exit::OK
        },
    ])
}

/// `user@host:port` of each side, as the report names them.
fn endpoints(job: &Job) -> [String; 2] {
    Side::BOTH.map(|s| {
        let spec = &job.endpoints[s.index()];
        format!("{}@{}:{}", spec.user, spec.host, spec.port)
    })
}

/// The report of a verb, with nothing in it yet but the listing failures
/// and the exit code.
fn report<'a>(job: &Job, command: &'static str, gathered: &'a Gathered, code: i32) -> Report<'a> {
    Report {
        schema_version: crate::plan::SCHEMA_VERSION,
        command,
        run_id: action_log::run_id(),
        endpoints: endpoints(job),
        plan: None,
        applied: None,
        check: None,
        scrub: None,
        listing_failures: &gathered.failures,
        turns: Side::BOTH.map(crate::imap::turns),
        snapshot_rows: crate::snapshot::rows_read(),
        exit_code: code,
    }
}

/// How long after an interrupted run its APPENDs may still be committing on
/// the server (a dead client's MULTIAPPEND of thousands of messages takes
/// the server a few seconds to finish).
const IN_FLIGHT_SECS: i64 = 120;

/// How long to wait, once, for such a batch to land before listing again.
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a run interrupted moments ago was appending something that has
/// not shown up on its target yet (at or above the UIDNEXT it saw, as a
/// multiset of contents): the server may still be committing it.
fn still_landing(input: &ReconcileInput, intents: &[PendingIntent], now: i64) -> bool {
    intents
        .iter()
        .filter(|i| now - i.created_at < IN_FLIGHT_SECS)
        .any(|intent| {
            let Some(mb) = input.mailboxes.iter().find(|m| m.name == intent.mailbox) else {
                return false;
            };
            let mut landed: Vec<_> = mb.sides[intent.target.index()]
                .iter()
                .filter(|s| s.status.uidvalidity == intent.uidvalidity)
                .flat_map(|s| &s.messages)
                .filter(|m| m.uid >= intent.uidnext)
                .map(|m| m.fingerprint)
                .collect();
            intent
                .items
                .iter()
                .any(|(fp, _)| match landed.iter().position(|l| l == fp) {
                    Some(at) => {
                        landed.swap_remove(at);
                        false
                    }
                    None => true,
                })
        })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn policy(job: &Job) -> Policy {
    let o = &job.options;
    Policy {
        prefer: o.prefer,
        restored: o.restored,
        deletes: o.deletes,
        max_delete: o.max_delete.unwrap_or(MaxDelete::DEFAULT),
        one_way: o.one_way.map(|w| w.source()),
        delete_extra: o.delete_extra,
        delete_mailboxes: o.delete_mailboxes,
        tombstones: o.tombstones,
        drop_restored_extras: o.drop_restored_extras,
        identity: o.identity,
    }
}

fn print(report: &Report<'_>, job: &Job) {
    crate::progress::finish();
    if job.json {
        println!("{}", report.to_json());
    } else if job.verbosity >= 0 {
        print!("{}", report.to_text(job.verbosity > 0));
    } else {
        // --quiet: the verdict is the last line of the text form.
        let text = report.to_text(false);
        println!("{}", text.trim_end().lines().last().unwrap_or_default());
    }
}
