//! Executes a Plan against both servers and checkpoints the snapshot as it
//! goes, so that a crash at any point followed by a rerun loses nothing and
//! duplicates nothing.
//!
//! Per mailbox, in phases: create → rebase the snapshot (watermarks and pairs
//! with their *old* base flags) → copies in batches (an intent row committed
//! before each batch, the new pairs from APPENDUID committed after it) → flag
//! stores grouped by delta (a pair's agreed flags are recorded only once both
//! sides hold them; with CONDSTORE, `UNCHANGEDSINCE` the listing) → proven
//! expunges (`UID EXPUNGE` of exactly those UIDs, or `\Deleted` only). A refused APPEND batch is bisected so one bad message
//! does not hold back the rest.

use crate::fingerprint::fingerprint;
use crate::imap::{AppendItem, Connection, HistorySupport, ImapError};
use crate::model::{Fingerprint, FlagDelta, FlagSet, MailboxStatus, MessageMeta, Side, Uid};
use crate::outcome::{Action, Ledger, Status};
use crate::plan::{Copy, Expunge, ExpungeMode, MailboxPlan, MailboxRename, Plan, PlannedPair};
use crate::pool::{Lane, Pool};
use crate::reconcile::{MailboxBase, ReconcileInput};
use crate::snapshot::{MessageStatus, PairRecord, Snapshot};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use tokio::sync::Notify;

/// Largest APPEND batch, in bytes and in messages. MULTIAPPEND is one
/// transaction on the server, so large batches are what makes copying fast.
const BATCH_BYTES: u64 = 32 << 20;
const BATCH_MESSAGES: usize = 1000;

/// Why one APPEND command did not go through.
enum AppendFailure {
    /// The server answered NO on a live session, or the batch could not be
    /// sent as it is: nothing was appended (a batch is then bisected).
    /// `words` are the server's (or ours), for the snapshot.
    Refused { error: String, words: String },
    /// Anything else (the session died, the snapshot failed).
    Other(String),
}

/// One action that did not happen.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActionFailure {
    pub mailbox: String,
    pub side: Side,
    pub action: String,
    pub error: String,
}

/// What applying a Plan did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ApplyOutcome {
    pub created: [usize; 2],
    /// Messages copied *to* each side.
    pub copied_to: [usize; 2],
    pub flag_changes_on: [usize; 2],
    /// Messages expunged (or flagged for it) on each side.
    pub expunged_on: [usize; 2],
    /// Mailboxes renamed on each side (as the other side did).
    pub renamed_on: [usize; 2],
    /// Mailboxes deleted on each side (`--delete-mailboxes`).
    pub mailboxes_deleted_on: [usize; 2],
    /// Subscriptions made or removed on each side.
    pub subscriptions_changed_on: [usize; 2],
    pub failures: Vec<ActionFailure>,
    pub notes: Vec<String>,
    /// Per planned action, what happened (for `sync --json`).
    #[serde(skip)]
    pub ledger: Ledger,
    /// A stop signal ended the run early (see [`crate::stop`]).
    pub stopped: bool,
    /// What earlier apply attempts of this run reached, before a lost
    /// connection made it list and plan again (for `sync --json`).
    #[serde(skip)]
    pub earlier_actions: Vec<crate::outcome::ActionOutcome>,
    /// How many earlier apply attempts there were.
    #[serde(skip)]
    pub earlier_attempts: u32,
}

impl ApplyOutcome {
    /// Ends apply attempt number `attempt`, cut short by a lost connection:
    /// what it reached of `plan` is kept as that attempt's actions.
    pub fn end_attempt(&mut self, plan: &crate::plan::Plan, attempt: u32) {
        let ledger = std::mem::take(&mut self.ledger);
        let reached = crate::outcome::outcomes(plan, &ledger).reached(attempt);
        self.earlier_actions.extend(reached);
        self.earlier_attempts += 1;
    }

    /// Adds what an earlier attempt of the same run did (before a lost
    /// connection made the run list again): counts add up, its failures,
    /// notes and actions come first.
    pub fn absorb(&mut self, earlier: ApplyOutcome) {
        let add = |a: &mut [usize; 2], b: [usize; 2]| {
            a[0] += b[0];
            a[1] += b[1];
        };
        add(&mut self.created, earlier.created);
        add(&mut self.copied_to, earlier.copied_to);
        add(&mut self.flag_changes_on, earlier.flag_changes_on);
        add(&mut self.expunged_on, earlier.expunged_on);
        add(&mut self.renamed_on, earlier.renamed_on);
        add(&mut self.mailboxes_deleted_on, earlier.mailboxes_deleted_on);
        add(
            &mut self.subscriptions_changed_on,
            earlier.subscriptions_changed_on,
        );
        let failures = std::mem::replace(&mut self.failures, earlier.failures);
        self.failures.extend(failures);
        let notes = std::mem::replace(&mut self.notes, earlier.notes);
        self.notes.extend(notes);
        let actions = std::mem::replace(&mut self.earlier_actions, earlier.earlier_actions);
        self.earlier_actions.extend(actions);
        self.earlier_attempts += earlier.earlier_attempts;
        self.stopped |= earlier.stopped;
    }

    /// Adds what the next mailbox plan of the same apply did: counts add
    /// up, its failures, notes and ledger entries come after these. A stop
    /// is noted once.
    fn append(&mut self, mut next: ApplyOutcome) {
        if self.stopped {
            next.notes.retain(|n| n != STOPPED);
        }
        next.ledger.extend(std::mem::take(&mut self.ledger));
        next.absorb(std::mem::take(self));
        *self = next;
    }
}

/// Applies every mailbox plan that has no problems: up to one mailbox per
/// lane of the pool at a time (see [`Turns`] for the order kept) — tree
/// changes, copies and flags first, expunges once every copy has landed —
/// then subscriptions and mailbox deletions in order over the first lane.
/// The outcome lists everything in plan order, however the work
/// interleaved.
pub async fn apply<'p>(
    plan: &'p Plan,
    input: &ReconcileInput,
    pool: &mut Pool,
    snapshot: &mut Snapshot,
) -> ApplyOutcome {
    let mut out = ApplyOutcome::default();
    crate::progress::copying(plan);
    // Mailbox deletions go last, after every copy has landed; a withheld one
    // leaves its mailbox and its snapshot record as they are.
    let (deletions, mailboxes): (Vec<&'p MailboxPlan>, Vec<&'p MailboxPlan>) = plan
        .mailboxes
        .iter()
        .filter(|mb| mb.problems.is_empty())
        .partition(|mb| mb.delete.is_some());
    // Shared by the mailboxes in flight; borrowed only between awaits.
    let shared = RefCell::new(&mut *snapshot);
    let turns = Turns::new(mailboxes.len());
    let fill = async |lane: &mut Lane, (at, mb): (usize, &'p MailboxPlan)| {
        let mut out = ApplyOutcome::default();
        let mut statuses = listed_statuses(input, mb);
        let mut go_on = false;
        turns.wait(at, mb.rename.is_some()).await;
        if !stop_requested(&mut out) {
            let mut run = MailboxRun::new(mb, input, lane, &shared, &mut out, statuses);
            let prepared = run.prepare().await;
            turns.structured(at);
            go_on = prepared && run.fill().await;
            statuses = run.statuses;
        }
        turns.finished(at);
        (mb, out, statuses, go_on)
    };
    let filled = pool
        .each(mailboxes.into_iter().enumerate().collect(), fill)
        .await;
    // Expunges only once every mailbox's copies have landed: a message
    // moved between mailboxes is never missing from the other side (E12).
    let settle = async |lane: &mut Lane, (mb, mut out, statuses, go_on)| {
        if go_on && !stop_requested(&mut out) {
            let mut run = MailboxRun::new(mb, input, lane, &shared, &mut out, statuses);
            run.settle().await;
        }
        out
    };
    for done in pool.each(filled, settle).await {
        out.append(done);
    }
    if stop_requested(&mut out) {
        return out;
    }
    let conns = pool.first();
    subscribe(plan, conns, snapshot, &mut out).await;
    // Children first, so a parent is deleted once it has none left.
    for mb in deletions.into_iter().rev() {
        if stop_requested(&mut out) {
            return out;
        }
        if let Some(deletion) = mb.delete.as_ref().filter(|d| !d.withheld) {
            let listed = input.mailboxes.iter().find(|m| m.name == mb.name);
            let status = listed.and_then(|m| m.sides[deletion.side.index()].as_ref());
            delete_mailbox(
                mb,
                deletion.side,
                status.map(|s| &s.status),
                conns,
                snapshot,
                &mut out,
            )
            .await;
        }
    }
    out
}

/// The order mailbox plans applied at once keep. Changes to the tree
/// (RENAME, CREATE) are made one at a time in plan order, each before any
/// later mailbox starts, so a mailbox exists under its name before anything
/// is copied into it or below it. A RENAME also waits until every earlier
/// mailbox is done: it may move mailboxes they are working in.
struct Turns {
    /// Per mailbox plan: its RENAME / CREATE are done (or failed).
    structured: Vec<Cell<bool>>,
    /// Per mailbox plan: done.
    finished: Vec<Cell<bool>>,
    changed: Notify,
}

impl Turns {
    fn new(count: usize) -> Turns {
        Turns {
            structured: (0..count).map(|_| Cell::new(false)).collect(),
            finished: (0..count).map(|_| Cell::new(false)).collect(),
            changed: Notify::new(),
        }
    }

    /// Until plan `at` may start.
    async fn wait(&self, at: usize, renames: bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let done = |marks: &[Cell<bool>]| marks[..at].iter().all(Cell::get);
            if done(&self.structured) && (!renames || done(&self.finished)) {
                return;
            }
            changed.await;
        }
    }

    fn structured(&self, at: usize) {
        self.structured[at].set(true);
        self.changed.notify_waiters();
    }

    fn finished(&self, at: usize) {
        self.structured[at].set(true);
        self.finished[at].set(true);
        self.changed.notify_waiters();
    }
}

/// Whether a stop signal came: then no further command is started, and the
/// outcome says so once.
fn stop_requested(out: &mut ApplyOutcome) -> bool {
    if crate::stop::requested() && !out.stopped {
        out.stopped = true;
        out.notes.push(STOPPED.into());
    }
    out.stopped
}

const STOPPED: &str =
    "stopped by a signal after the command in flight; the rest was not done (rerun to finish)";

/// Per side, the status the plan was made from: for a renamed mailbox, the
/// side that still had the old name was listed under that name.
fn listed_statuses(input: &ReconcileInput, mb: &MailboxPlan) -> [Option<MailboxStatus>; 2] {
    let listed = |name: &str, i: usize| {
        let found = input.mailboxes.iter().find(|m| m.name == name);
        found
            .and_then(|m| m.sides[i].as_ref())
            .map(|s| s.status.clone())
    };
    [0, 1].map(|i| match &mb.rename {
        Some(r) if r.side.index() == i => listed(&r.from, i),
        _ => listed(&mb.name, i),
    })
}

/// One action on a mailbox that did not happen, and why.
fn failure(mb: &MailboxPlan, side: Side, action: &str, error: String) -> ActionFailure {
    ActionFailure {
        mailbox: mb.name.clone(),
        side,
        action: action.to_string(),
        error,
    }
}

/// Whether `pairs` are exactly the pairs the snapshot held (`base`).
fn same_pairs(base: &MailboxBase, pairs: &[PairRecord]) -> bool {
    if base.pairs.len() != pairs.len() {
        return false;
    }
    let mut old: Vec<_> = base
        .pairs
        .iter()
        .map(|p| (p.uid, p.fingerprint, &p.flags))
        .collect();
    let mut new: Vec<_> = pairs
        .iter()
        .map(|p| (p.uid, p.fingerprint, &p.flags))
        .collect();
    old.sort_unstable_by_key(|p| p.0);
    new.sort_unstable_by_key(|p| p.0);
    old == new
}

/// SUBSCRIBE / UNSUBSCRIBE once every mailbox exists, then records the
/// agreed subscription of every mailbox whose change went through.
async fn subscribe(
    plan: &Plan,
    conns: &mut [Connection; 2],
    snapshot: &mut Snapshot,
    out: &mut ApplyOutcome,
) {
    let mut failed: HashSet<&str> = HashSet::new();
    for c in &plan.subscriptions {
        let conn = &mut conns[c.side.index()];
        let done = if c.subscribe {
            conn.subscribe(&c.wire).await
        } else {
            conn.unsubscribe(&c.wire).await
        };
        let action = if c.subscribe {
            Action::Subscribe
        } else {
            Action::Unsubscribe
        };
        let result = done.as_ref().map_err(|e| e.to_string());
        out.ledger
            .mailbox(&c.name, action, c.side, Status::of(&result));
        match done {
            Ok(()) => out.subscriptions_changed_on[c.side.index()] += 1,
            Err(e) => {
                failed.insert(&c.name);
                out.failures.push(ActionFailure {
                    mailbox: c.name.clone(),
                    side: c.side,
                    action: if c.subscribe {
                        "subscribe"
                    } else {
                        "unsubscribe"
                    }
                    .into(),
                    error: e.to_string(),
                });
            }
        }
    }
    let agreed: Vec<(String, bool)> = plan
        .subscriptions_agreed
        .iter()
        .filter(|(name, _)| !failed.contains(name.as_str()))
        .cloned()
        .collect();
    if let Err(e) = snapshot.record_subscriptions(&agreed) {
        out.failures.push(ActionFailure {
            mailbox: String::new(),
            side: Side::A,
            action: "record subscriptions in the snapshot".into(),
            error: e.to_string(),
        });
    }
}

/// Deletes a mailbox the other side deleted since the last sync, unless it
/// changed since it was listed (new mail would be lost), then forgets it.
async fn delete_mailbox(
    mb: &MailboxPlan,
    side: Side,
    listed: Option<&MailboxStatus>,
    conns: &mut [Connection; 2],
    snapshot: &mut Snapshot,
    out: &mut ApplyOutcome,
) {
    let Some(wire) = mb.wire[side.index()].as_deref() else {
        return;
    };
    let fail = |out: &mut ApplyOutcome, action: &str, error: String| {
        out.failures.push(ActionFailure {
            mailbox: mb.name.clone(),
            side,
            action: action.to_string(),
            error,
        })
    };
    let conn = &mut conns[side.index()];
    match conn.select(wire, true).await {
        Ok(now) if listed.is_some_and(|l| l.uidnext == now.uidnext && l.exists == now.exists) => {}
        Ok(_) => {
            let why = "it changed since it was listed; the next run decides again";
            out.notes
                .push(format!("{}: not deleted on {side}: {why}", mb.name));
            let skipped = Status::Skipped(why.into());
            out.ledger
                .mailbox(&mb.name, Action::DeleteMailbox, side, skipped);
            return;
        }
        Err(e) => return fail(out, "open the mailbox before deleting it", e.to_string()),
    }
    let deleted = conn.delete_mailbox(wire).await.map_err(|e| e.to_string());
    out.ledger
        .mailbox(&mb.name, Action::DeleteMailbox, side, Status::of(&deleted));
    if let Err(e) = deleted {
        return fail(out, "delete mailbox", e);
    }
    out.mailboxes_deleted_on[side.index()] += 1;
    if let Err(e) = snapshot.forget_mailbox(&mb.name) {
        fail(
            out,
            "forget the deleted mailbox in the snapshot",
            e.to_string(),
        );
    }
}

/// The snapshot, shared by the mailbox plans applied at once. Single task:
/// a borrow never spans an `.await`.
type SharedSnapshot<'s> = RefCell<&'s mut Snapshot>;

/// The state of applying one mailbox's plan.
struct MailboxRun<'a, 's> {
    mb: &'a MailboxPlan,
    conns: &'a mut Lane,
    snapshot: &'a SharedSnapshot<'s>,
    out: &'a mut ApplyOutcome,
    /// Per side: the status the plan was made from (or after CREATE).
    statuses: [Option<MailboxStatus>; 2],
    /// What the snapshot held for this mailbox when the run began.
    base: Option<&'a MailboxBase>,
    /// Per side: it was found restored; this run repairs it, so what was
    /// seen before the restore no longer applies.
    restored: [bool; 2],
}

impl<'a, 's> MailboxRun<'a, 's> {
    fn new(
        mb: &'a MailboxPlan,
        input: &'a ReconcileInput,
        conns: &'a mut Lane,
        snapshot: &'a SharedSnapshot<'s>,
        out: &'a mut ApplyOutcome,
        statuses: [Option<MailboxStatus>; 2],
    ) -> MailboxRun<'a, 's> {
        let listed = input.mailboxes.iter().find(|m| m.name == mb.name);
        MailboxRun {
            mb,
            conns,
            snapshot,
            out,
            statuses,
            base: listed.map(|m| &m.base),
            restored: [0, 1].map(|i| {
                listed
                    .and_then(|m| m.sides[i].as_ref())
                    .is_some_and(|s| s.evidence.is_restored())
            }),
        }
    }

    /// Settles what an interrupted run left, then RENAME and CREATE: what
    /// later mailboxes may depend on ([`Turns`]). False if the mailbox
    /// cannot go on.
    async fn prepare(&mut self) -> bool {
        self.forget_settled_intents();
        if let Some(r) = &self.mb.rename {
            let renamed = self.rename(r).await;
            self.note(Action::RenameMailbox, r.side, Status::of(&renamed));
            if let Err(e) = renamed {
                self.fail(r.side, "rename mailbox", e);
                return false;
            }
        }
        if let Some(side) = self.mb.create {
            let created = self.create(side).await;
            self.note(Action::CreateMailbox, side, Status::of(&created));
            if let Err(e) = created {
                self.fail(side, "create mailbox", e);
                return false;
            }
        }
        true
    }

    /// Once the mailbox exists on both sides: rebase, copies, flags. False
    /// if it cannot go on to [`MailboxRun::settle`].
    async fn fill(&mut self) -> bool {
        if let Err(e) = self.rebase() {
            self.fail(Side::A, "record pairs in the snapshot", e);
            return false;
        }
        for source in Side::BOTH {
            let copies = self.mb.copies_from(source);
            if !copies.is_empty() {
                self.copy(source, &copies).await;
            }
        }
        if stop_requested(self.out) {
            return false;
        }
        self.store_flags().await;
        !stop_requested(self.out)
    }

    /// Once every mailbox's copies have landed: expunges, then what was
    /// seen after writing.
    async fn settle(&mut self) {
        self.expunge().await;
        self.record_what_was_seen().await;
    }

    /// After writing to a side, records its UIDNEXT and HIGHESTMODSEQ as
    /// seen, so a restore that loses our writes is recognised next time
    /// even when it matches the listing watermark.
    async fn record_what_was_seen(&mut self) {
        for side in Side::BOTH {
            let mb = self.mb;
            let wrote = mb.create == Some(side)
                || mb.copies.iter().any(|c| c.from != side)
                || mb.flag_changes.iter().any(|c| c.side == side)
                || mb.expunges.iter().any(|e| e.side == side);
            if !wrote {
                continue;
            }
            let wire = self.wire(side).to_string();
            let status = match self.conns[side.index()].select(&wire, true).await {
                Ok(status) => status,
                Err(e) => {
                    self.out.notes.push(format!(
                        "{}: could not re-read {side} after writing: {e}",
                        mb.name
                    ));
                    continue;
                }
            };
            let raised = self.snapshot.borrow_mut().raise_seen(
                &mb.name,
                side,
                status.uidnext,
                status.highestmodseq,
            );
            if let Err(e) = raised {
                self.fail(side, "record what was seen in the snapshot", e.to_string());
            }
        }
    }

    fn wire(&self, side: Side) -> &str {
        self.mb.wire[side.index()]
            .as_deref()
            .expect("a planned mailbox has a wire name on both sides")
    }

    /// Records the outcome of a mailbox-level action.
    fn note(&mut self, action: Action, side: Side, status: Status) {
        self.out.ledger.mailbox(&self.mb.name, action, side, status);
    }

    fn fail(&mut self, side: Side, action: &str, error: String) {
        self.out
            .failures
            .push(failure(self.mb, side, action, error));
    }

    /// RENAME as the other side did (an implied one moved with its parent),
    /// moves the snapshot record to the new name, and checks that the
    /// mailbox kept its UIDVALIDITY (else its UIDs are not the listed ones).
    async fn rename(&mut self, r: &MailboxRename) -> Result<(), String> {
        let wire = self.wire(r.side).to_string();
        let conn = &mut self.conns[r.side.index()];
        if !r.implied {
            conn.rename_mailbox(&r.from_wire, &wire)
                .await
                .map_err(|e| e.to_string())?;
            self.out.renamed_on[r.side.index()] += 1;
        }
        let now = conn.select(&wire, true).await.map_err(|e| e.to_string())?;
        self.snapshot
            .borrow_mut()
            .rename_mailbox(&r.from, &self.mb.name)
            .map_err(|e| e.to_string())?;
        let listed = self.statuses[r.side.index()].as_ref();
        if listed.map(|l| l.uidvalidity) != Some(now.uidvalidity) {
            return Err(
                "renamed, but its UIDVALIDITY changed; the next run pairs its messages by content"
                    .to_string(),
            );
        }
        Ok(())
    }

    async fn create(&mut self, side: Side) -> Result<(), String> {
        let wire = self.wire(side).to_string();
        let conn = &mut self.conns[side.index()];
        conn.create(&wire).await.map_err(|e| e.to_string())?;
        let status = conn.select(&wire, true).await.map_err(|e| e.to_string())?;
        self.statuses[side.index()] = Some(status);
        self.out.created[side.index()] += 1;
        Ok(())
    }

    /// An intent left by a run that stopped between an APPEND and its
    /// checkpoint is settled once the mailbox has been listed in full: what
    /// landed is on the target now and is re-paired by content in this very
    /// plan, so nothing is appended twice. (Resolving by order and size, for
    /// servers that rewrite messages on APPEND, comes with Cyrus support.)
    fn forget_settled_intents(&mut self) {
        let intents = self.snapshot.borrow().intents();
        let intents = match intents {
            Ok(intents) => intents,
            Err(e) => return self.fail(Side::A, "read pending intents", e.to_string()),
        };
        for intent in intents.into_iter().filter(|i| i.mailbox == self.mb.name) {
            let dropped = self.snapshot.borrow_mut().drop_intent(intent.id);
            if let Err(e) = dropped {
                self.fail(intent.target, "forget a settled intent", e.to_string());
            }
        }
    }

    /// Watermarks and pairs, with each pair's flags as they may be recorded
    /// before any STORE is sent.
    fn rebase(&mut self) -> Result<(), String> {
        // A side whose proven expunges were withheld must be listed in full
        // next time, so the proof is seen again: its HIGHESTMODSEQ is not saved.
        let mut statuses = self.statuses.clone();
        for e in &self.mb.withheld {
            if let Some(st) = statuses[e.side.other().index()].as_mut() {
                st.highestmodseq = None;
            }
        }
        let sides = [Side::A, Side::B].map(|s| {
            let st = statuses[s.index()].as_ref();
            st.map(|st| (self.mb.wire[s.index()].as_deref().unwrap_or_default(), st))
        });
        let planned = self.mb.pairs.iter().map(|p: &PlannedPair| PairRecord {
            uid: p.uid,
            fingerprint: p.fingerprint,
            flags: p.base_before.clone(),
        });
        // Pairs about to be expunged stay until the expunge is done, so a
        // crash in between proves it again instead of copying the survivor back.
        // (An extra with no partner — one-way, restored, damaged — has no
        // pair to keep.)
        let expunging = self
            .mb
            .expunges
            .iter()
            .chain(&self.mb.withheld)
            .filter(|e| e.pair.iter().all(|uid| *uid != 0))
            .map(|e| PairRecord {
                uid: e.pair,
                fingerprint: e.fingerprint,
                flags: e.base.clone(),
            });
        let pairs: Vec<PairRecord> = planned.chain(expunging).collect();
        // Rewriting every pair of a mailbox where none changed (the common
        // case of a rerun) costs more than the rest of it: watermarks only.
        let unchanged =
            self.mb.rename.is_none() && self.base.is_some_and(|b| same_pairs(b, &pairs));
        let mut snapshot = self.snapshot.borrow_mut();
        if unchanged {
            snapshot.set_watermarks(&self.mb.name, sides)
        } else {
            snapshot.rebase_mailbox(&self.mb.name, sides, &pairs)
        }
        .map_err(|e| e.to_string())?;
        for side in Side::BOTH.into_iter().filter(|s| self.restored[s.index()]) {
            if let Some(st) = &self.statuses[side.index()] {
                snapshot
                    .reset_seen(&self.mb.name, side, st.uidnext, st.highestmodseq)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Copies messages from `source` to the other side in byte-bounded
    /// batches, reading the next batch from `source` while the target
    /// appends the last one (the two sides are separate connections).
    async fn copy(&mut self, source: Side, copies: &[&Copy]) {
        let wire = self.wire(source).to_string();
        if let Err(e) = self.conns[source.index()].select(&wire, true).await {
            self.fail(
                source,
                "open mailbox to read messages to copy",
                e.to_string(),
            );
            return;
        }
        let mut batches: Vec<Vec<&Copy>> = Vec::new();
        let mut bytes = 0u64;
        for copy in copies {
            let full = batches.last().is_none_or(|b| {
                b.len() >= BATCH_MESSAGES || bytes + copy.size as u64 > BATCH_BYTES
            });
            if full {
                batches.push(Vec::new());
                bytes = 0;
            }
            batches.last_mut().expect("pushed above").push(copy);
            bytes += copy.size as u64;
        }
        let MailboxRun {
            mb,
            conns,
            snapshot,
            out,
            statuses,
            ..
        } = self;
        let [a, b] = &mut **conns;
        let (reader, writer) = match source {
            Side::A => (a, b),
            Side::B => (b, a),
        };
        let mut copier = Copier {
            mb,
            snapshot,
            out,
            statuses,
            conn: writer,
            source,
        };
        // At most two batches are held: the one being appended and the one
        // being read (a slot is reserved before reading).
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Fetched<'_>>(1);
        let read = async move {
            for batch in batches {
                let Ok(slot) = tx.reserve().await else { return };
                let read = read_batch(reader, &batch).await;
                slot.send(Fetched { batch, read });
            }
        };
        // Owns the receiver: once it returns (a stop signal), the reader's
        // next reservation fails and it stops too, after at most one read.
        let write = async move {
            while let Some(fetched) = rx.recv().await {
                copier.copy_batch(fetched).await;
                if stop_requested(copier.out) {
                    return;
                }
            }
        };
        tokio::join!(read, write);
    }

    /// The pairs whose flag changes on `side` touch these UIDs.
    fn pairs_of(&self, side: Side, uids: &[Uid]) -> Vec<[Uid; 2]> {
        let uids: HashSet<Uid> = uids.iter().copied().collect();
        self.mb
            .flag_changes
            .iter()
            .filter(|c| c.side == side && uids.contains(&c.pair[side.index()]))
            .map(|c| c.pair)
            .collect()
    }

    /// Carries out proven expunges: `UID EXPUNGE` of exactly those UIDs, or
    /// only `\Deleted` (flag-only, or no UIDPLUS) with the message remembered
    /// as pending-expunge. The pairs leave the snapshot once that is done.
    async fn expunge(&mut self) {
        for side in Side::BOTH {
            for mode in [ExpungeMode::Expunge, ExpungeMode::FlagOnly] {
                let chosen: Vec<&Expunge> = self
                    .mb
                    .expunges
                    .iter()
                    .filter(|e| e.side == side && e.mode == mode)
                    .collect();
                if chosen.is_empty() {
                    continue;
                }
                let uids: Vec<Uid> = chosen.iter().map(|e| e.uid).collect();
                let wire = self.wire(side).to_string();
                let conn = &mut self.conns[side.index()];
                let done = match conn.select(&wire, false).await {
                    Err(e) => Err(e),
                    Ok(_) if mode == ExpungeMode::Expunge => conn.uid_expunge(&uids).await,
                    Ok(_) => {
                        let delta = FlagDelta {
                            add: FlagSet::from_wire(["\\Deleted"]),
                            remove: FlagSet::new(),
                        };
                        conn.store(&uids, &delta).await
                    }
                };
                let done = done.map_err(|e| e.to_string());
                let status = Status::of(&done);
                let name = &self.mb.name;
                self.out
                    .ledger
                    .messages(name, Action::Expunge, side, &uids, &status);
                if let Err(e) = done {
                    self.fail(
                        side,
                        &format!("expunge {} message(s)", uids.len()),
                        e.to_string(),
                    );
                    continue;
                }
                self.out.expunged_on[side.index()] += uids.len();
                let pairs: Vec<[Uid; 2]> = chosen.iter().map(|e| e.pair).collect();
                let uidvalidity = self.statuses[side.index()]
                    .as_ref()
                    .map_or(0, |s| s.uidvalidity);
                let mut snapshot = self.snapshot.borrow_mut();
                let recorded = if mode == ExpungeMode::Expunge {
                    let tombstones: Vec<_> = chosen.iter().map(|e| e.fingerprint).collect();
                    // Forgetting the expunged UIDs makes one that comes back
                    // (a restore, even on a server without CONDSTORE) a UID
                    // below the saved UIDNEXT that was never seen: a regression.
                    snapshot
                        .remove_pairs(&self.mb.name, &pairs, &tombstones)
                        .and_then(|()| {
                            snapshot.update_cache(&self.mb.name, side, uidvalidity, &[], &uids)
                        })
                } else {
                    snapshot
                        .mark_pending_expunge(&self.mb.name, side, uidvalidity, &uids)
                        .and_then(|()| snapshot.remove_pairs(&self.mb.name, &pairs, &[]))
                };
                drop(snapshot);
                if let Err(e) = recorded {
                    self.fail(
                        side,
                        "record expunges in the snapshot (the next run proves them again)",
                        e.to_string(),
                    );
                }
            }
        }
    }

    /// Sends every flag delta, then records the agreed flags of the pairs
    /// whose changes all went through.
    async fn store_flags(&mut self) {
        let mut failed_pairs: HashSet<[Uid; 2]> = HashSet::new();
        for side in Side::BOTH {
            let stores = self.mb.stores(side);
            if stores.is_empty() {
                continue;
            }
            let wire = self.wire(side).to_string();
            if let Err(e) = self.conns[side.index()].select(&wire, false).await {
                self.fail(side, "open mailbox to store flags", e.to_string());
                failed_pairs.extend(
                    self.mb
                        .flag_changes
                        .iter()
                        .filter(|c| c.side == side)
                        .map(|c| c.pair),
                );
                continue;
            }
            let unchanged_since = self.statuses[side.index()]
                .as_ref()
                .and_then(|st| st.highestmodseq);
            for (delta, uids) in stores {
                let conn = &mut self.conns[side.index()];
                let result = match unchanged_since {
                    // CONDSTORE: a message changed since the listing is left
                    // alone ([MODIFIED]) and merged again on the next run.
                    Some(modseq) if conn.history_support() != HistorySupport::None => conn
                        .store_unchanged_since(&uids, &delta, modseq)
                        .await
                        .map(|outcome| outcome.modified),
                    _ => conn.store(&uids, &delta).await.map(|()| Vec::new()),
                };
                let name = &self.mb.name;
                match &result {
                    Ok(modified) => {
                        let stored: Vec<Uid> = uids
                            .iter()
                            .filter(|u| !modified.contains(u))
                            .copied()
                            .collect();
                        let ledger = &mut self.out.ledger;
                        ledger.messages(name, Action::Flags, side, &stored, &Status::Done);
                        let why = Status::Skipped(
                            "changed on the server during the run; merged on the next run".into(),
                        );
                        ledger.messages(name, Action::Flags, side, modified, &why);
                    }
                    Err(e) => {
                        let refused = Status::Refused(e.to_string());
                        let ledger = &mut self.out.ledger;
                        ledger.messages(name, Action::Flags, side, &uids, &refused);
                    }
                }
                match result {
                    Ok(modified) => {
                        self.out.flag_changes_on[side.index()] += uids.len() - modified.len();
                        if !modified.is_empty() {
                            self.out.notes.push(format!(
                                "{}: {} message(s) on {side} changed during the run; not overwritten, merged on the next run",
                                self.mb.name,
                                modified.len()
                            ));
                            failed_pairs.extend(self.pairs_of(side, &modified));
                        }
                    }
                    Err(e) => {
                        let what = format!(
                            "store +{} -{} on {} messages",
                            delta.add,
                            delta.remove,
                            uids.len()
                        );
                        self.fail(side, &what, e.to_string());
                        failed_pairs.extend(self.pairs_of(side, &uids));
                    }
                }
            }
        }
        let changed: HashSet<[Uid; 2]> = self.mb.flag_changes.iter().map(|c| c.pair).collect();
        let updates: Vec<([Uid; 2], FlagSet)> = self
            .mb
            .pairs
            .iter()
            .filter(|p| changed.contains(&p.uid) && !failed_pairs.contains(&p.uid))
            .map(|p| (p.uid, p.agreed.clone()))
            .collect();
        if !updates.is_empty() {
            let recorded = self
                .snapshot
                .borrow_mut()
                .set_pair_flags(&self.mb.name, &updates);
            if let Err(e) = recorded {
                self.fail(
                    Side::A,
                    "record agreed flags in the snapshot",
                    e.to_string(),
                );
            }
        }
    }
}

/// Bodies read from the source, by UID.
type Bodies = HashMap<Uid, Vec<u8>>;

/// What was read of one batch from the source.
struct Read {
    bodies: Bodies,
    /// The fingerprints of the copies whose content the plan did not know.
    hashed: HashMap<Uid, Fingerprint>,
    /// UIDs gone from the source meanwhile.
    gone: Vec<Uid>,
}

/// One batch read from the source, or why it could not be read.
struct Fetched<'c> {
    batch: Vec<&'c Copy>,
    read: Result<Read, String>,
}

/// Reads the bodies of one batch. A copy whose content the plan does not
/// know (a first sync that listed it by metadata only, see
/// [`crate::reconcile::unread`]) is hashed here, on the rayon pool as its
/// body arrives, so that its intent, its pair and both sides' cache rows
/// carry its real fingerprint, exactly as if gather had read it.
async fn read_batch(reader: &mut Connection, batch: &[&Copy]) -> Result<Read, String> {
    let uids: Vec<Uid> = batch.iter().map(|c| c.uid).collect();
    let unknown: HashSet<Uid> = batch
        .iter()
        .filter(|c| c.fingerprint.is_none())
        .map(|c| c.uid)
        .collect();
    let mut bodies = Bodies::with_capacity(uids.len());
    let (tx, rx) = std::sync::mpsc::channel::<(Uid, Vec<u8>, Fingerprint)>();
    let mut on_body = |uid: Uid, body: Vec<u8>| {
        if unknown.contains(&uid) {
            let tx = tx.clone();
            rayon::spawn(move || {
                let fingerprint = fingerprint(&body);
                let _ = tx.send((uid, body, fingerprint));
            });
        } else {
            bodies.insert(uid, body);
        }
    };
    let fetched = reader.fetch_bodies(&uids, &mut on_body).await;
    drop(tx);
    // Every spawned job holds a sender; the iterator ends when all are done.
    let hashed_bodies = tokio::task::spawn_blocking(move || rx.into_iter().collect::<Vec<_>>())
        .await
        .expect("hash collector never panics");
    let gone = fetched.map_err(|e| e.to_string())?;
    let mut hashed = HashMap::with_capacity(hashed_bodies.len());
    for (uid, body, fingerprint) in hashed_bodies {
        bodies.insert(uid, body);
        hashed.insert(uid, fingerprint);
    }
    Ok(Read {
        bodies,
        hashed,
        gone,
    })
}

/// A copy whose body is at hand, with its content's fingerprint (the
/// plan's, or hashed as it was read).
#[derive(Clone, Copy)]
struct Ready<'c> {
    copy: &'c Copy,
    fingerprint: Fingerprint,
}

/// The plan's copies behind these, for the ledger.
fn planned<'c>(part: &[Ready<'c>]) -> Vec<&'c Copy> {
    part.iter().map(|r| r.copy).collect()
}

/// The writing half of a copy: appends batches read from `source` to the
/// other side, each framed by an intent before and its pairs after.
struct Copier<'r, 's> {
    mb: &'r MailboxPlan,
    snapshot: &'r SharedSnapshot<'s>,
    out: &'r mut ApplyOutcome,
    statuses: &'r mut [Option<MailboxStatus>; 2],
    /// The target's connection.
    conn: &'r mut Connection,
    source: Side,
}

impl Copier<'_, '_> {
    fn fail(&mut self, side: Side, action: &str, error: String) {
        self.out
            .failures
            .push(failure(self.mb, side, action, error));
    }

    fn wire(&self, side: Side) -> &str {
        self.mb.wire[side.index()]
            .as_deref()
            .expect("a planned mailbox has a wire name on both sides")
    }

    async fn copy_batch(&mut self, fetched: Fetched<'_>) {
        let (source, target) = (self.source, self.source.other());
        let batch = fetched.batch;
        let Read {
            bodies,
            hashed,
            gone,
        } = match fetched.read {
            Ok(read) => read,
            Err(e) => {
                self.fail(source, "read messages to copy", e);
                return;
            }
        };
        if !gone.is_empty() {
            let vanished: Vec<&Copy> = batch
                .iter()
                .copied()
                .filter(|c| gone.contains(&c.uid))
                .collect();
            let why = Status::Skipped("vanished from the source before it could be read".into());
            self.out.ledger.copies(&self.mb.name, &vanished, &why);
            self.out.notes.push(format!(
                "{}: {} message(s) on {source} vanished before they could be copied; the next run sees the change",
                self.mb.name,
                gone.len()
            ));
        }
        let ready: Vec<Ready<'_>> = batch
            .iter()
            .filter(|c| bodies.contains_key(&c.uid))
            .filter_map(|&copy| {
                let fingerprint = copy
                    .fingerprint
                    .or_else(|| hashed.get(&copy.uid).copied())?;
                Some(Ready { copy, fingerprint })
            })
            .collect();
        // Bisect refused batches: one message the server refuses must not hold back the rest.
        let mut work: Vec<Vec<Ready<'_>>> = vec![ready];
        while let Some(part) = work.pop() {
            if part.is_empty() {
                continue;
            }
            match self.append_part(source, target, &part, &bodies).await {
                Ok(()) => {}
                Err(AppendFailure::Refused { .. }) if part.len() > 1 => {
                    let half = part.len() / 2;
                    work.push(part[half..].to_vec());
                    work.push(part[..half].to_vec());
                }
                Err(AppendFailure::Refused { error, words }) => {
                    self.record_refusal(source, part[0], &words);
                    let refused = Status::Refused(error.clone());
                    self.out
                        .ledger
                        .copies(&self.mb.name, &planned(&part), &refused);
                    let copy = part[0].copy;
                    let what = format!("copy UID {} ({} bytes)", copy.uid, copy.size);
                    self.fail(target, &what, error);
                }
                Err(AppendFailure::Other(e)) => {
                    // Not a refusal (the session died, or the snapshot
                    // failed): bisecting would only repeat it. What is left
                    // of the batch is reported as not attempted.
                    let refused = Status::Refused(e.clone());
                    self.out
                        .ledger
                        .copies(&self.mb.name, &planned(&part), &refused);
                    let left = part.len() + work.iter().map(Vec::len).sum::<usize>();
                    work.clear();
                    let what = if left == 1 {
                        let copy = part[0].copy;
                        format!("copy UID {} ({} bytes)", copy.uid, copy.size)
                    } else {
                        format!("copy {left} messages")
                    };
                    self.fail(target, &what, e);
                }
            }
        }
    }

    /// Remembers, on the source's cache row, that the target refused this
    /// message, with the server's words: later runs skip it (and report
    /// it) until it changes or `--retry-refused` is given (see
    /// [`crate::skip`]). It is never paired, so never taken as deleted.
    fn record_refusal(&mut self, source: Side, ready: Ready<'_>, words: &str) {
        let uidvalidity = self.statuses[source.index()]
            .as_ref()
            .map_or(0, |s| s.uidvalidity);
        let copy = ready.copy;
        let meta = MessageMeta {
            uid: copy.uid,
            size: copy.size,
            internal_date: copy.internal_date,
            flags: copy.agreed.clone(),
            fingerprint: ready.fingerprint,
        };
        let recorded = self.snapshot.borrow_mut().set_message_status(
            &self.mb.name,
            source,
            uidvalidity,
            &meta,
            Some(MessageStatus::Refused),
            Some(words),
        );
        if let Err(e) = recorded {
            self.fail(
                source,
                "record a refused copy in the snapshot",
                e.to_string(),
            );
        }
    }

    /// One APPEND command, framed by an intent before and the pairs after.
    async fn append_part(
        &mut self,
        source: Side,
        target: Side,
        part: &[Ready<'_>],
        bodies: &Bodies,
    ) -> Result<(), AppendFailure> {
        let status = self.statuses[target.index()].clone().unwrap_or_default();
        // The sizes are at hand: no lookup in the cache per copy.
        let items: Vec<_> = part.iter().map(|r| (r.fingerprint, r.copy.size)).collect();
        let intent = self
            .snapshot
            .borrow_mut()
            .record_intent_sized(
                &self.mb.name,
                target,
                status.uidvalidity,
                status.uidnext,
                &items,
            )
            .map_err(|e| AppendFailure::Other(e.to_string()))?;
        let items: Vec<AppendItem<'_>> = part
            .iter()
            .map(|r| AppendItem {
                flags: &r.copy.flags,
                internal_date: r.copy.internal_date,
                body: &bodies[&r.copy.uid],
            })
            .collect();
        let wire = self.wire(target).to_string();
        let result = match self.conn.append(&wire, &items).await {
            Ok(r) => r,
            Err(e) => {
                // A refusal on a live session appended nothing (MULTIAPPEND is
                // all or nothing): the intent resolves to nothing. If the
                // connection died, the server may still commit the batch, so
                // the intent stays for the next run to see what landed.
                if self.conn.is_alive() {
                    let _ = self.snapshot.borrow_mut().drop_intent(intent);
                }
                return Err(match &e {
                    ImapError::No { code, text, .. } => AppendFailure::Refused {
                        words: match code {
                            Some(code) => format!("NO [{code}] {text}"),
                            None => format!("NO {text}"),
                        },
                        error: e.to_string(),
                    },
                    // Nothing was sent (a flag that cannot be written, …):
                    // isolated and recorded like a refusal.
                    ImapError::Invalid { detail, .. } => AppendFailure::Refused {
                        words: format!("not sent: {detail}"),
                        error: e.to_string(),
                    },
                    _ => AppendFailure::Other(e.to_string()),
                });
            }
        };
        self.out.copied_to[target.index()] += part.len();
        self.out
            .ledger
            .copies(&self.mb.name, &planned(part), &Status::Done);
        crate::progress::copied(part.len(), part.iter().map(|r| r.copy.size as u64).sum());
        let new_uids = match (result.uidvalidity, result.uids) {
            (Some(uv), Some(uids)) if uv == status.uidvalidity && uids.len() == part.len() => uids,
            _ => {
                self.out.notes.push(format!(
                    "{}: {target} did not report the new UIDs (no UIDPLUS); the copies are paired by content next run",
                    self.mb.name
                ));
                return self
                    .snapshot
                    .borrow_mut()
                    .drop_intent(intent)
                    .map_err(|e| AppendFailure::Other(e.to_string()));
            }
        };
        if let Some(st) = self.statuses[target.index()].as_mut() {
            st.uidnext = st.uidnext.max(new_uids.iter().max().map_or(0, |u| u + 1));
        }
        let mut pairs = Vec::with_capacity(part.len());
        let mut cache: [Vec<(u32, MessageMeta)>; 2] = [Vec::new(), Vec::new()];
        let source_uv = self.statuses[source.index()]
            .as_ref()
            .map_or(0, |s| s.uidvalidity);
        for (ready, new_uid) in part.iter().zip(&new_uids) {
            let copy = ready.copy;
            let mut uid = [copy.uid, *new_uid];
            if source == Side::B {
                uid.reverse();
            }
            pairs.push(PairRecord {
                uid,
                fingerprint: ready.fingerprint,
                flags: Some(copy.agreed.clone()),
            });
            let meta = |uid: Uid, flags: &FlagSet| MessageMeta {
                uid,
                size: copy.size,
                internal_date: copy.internal_date,
                flags: flags.clone(),
                fingerprint: ready.fingerprint,
            };
            cache[source.index()].push((source_uv, meta(copy.uid, &copy.agreed)));
            cache[target.index()].push((status.uidvalidity, meta(*new_uid, &copy.flags)));
        }
        self.snapshot
            .borrow_mut()
            .complete_copies(&self.mb.name, intent, &pairs, cache)
            .map_err(|e| AppendFailure::Other(format!("copied, but recording the pairs failed (the next run pairs them by content): {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three mailbox plans applied at once, started in reverse so that only
    /// the turns can order them: plan 1 starts once plan 0's tree change is
    /// made (not before, and without waiting for the rest of plan 0); plan
    /// 2, a rename, only once everything before it is done.
    #[test]
    fn turns_keep_tree_changes_in_plan_order_and_a_rename_waits_for_all_before_it() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let turns = Turns::new(3);
        let log = RefCell::new(Vec::new());
        let plan = async |at: usize, renames: bool| {
            turns.wait(at, renames).await;
            log.borrow_mut().push(format!("start {at}"));
            tokio::task::yield_now().await;
            turns.structured(at);
            log.borrow_mut().push(format!("structured {at}"));
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            log.borrow_mut().push(format!("finished {at}"));
            turns.finished(at);
        };
        runtime.block_on(futures_util::future::join3(
            plan(2, true),
            plan(1, false),
            plan(0, false),
        ));
        let log = log.into_inner();
        let at = |what: &str| log.iter().position(|l| l == what).unwrap();
        assert!(at("start 0") < at("structured 0"), "{log:?}");
        assert!(at("structured 0") < at("start 1"), "{log:?}");
        assert!(at("start 1") < at("finished 0"), "not at once: {log:?}");
        assert!(at("finished 0") < at("start 2"), "{log:?}");
        assert!(at("finished 1") < at("start 2"), "{log:?}");
        assert_eq!(log.len(), 9);
    }
}
