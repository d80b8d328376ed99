//! Executes a Plan against both servers and checkpoints the snapshot as it
//! goes, so that a crash at any point followed by a rerun loses nothing and
//! duplicates nothing.
//!
//! Per mailbox, in phases: create → rebase the snapshot (watermarks and pairs
//! with their *old* base flags) → copies in batches (an intent row committed
//! before each batch, the new pairs from APPENDUID committed after it) → flag
//! stores grouped by delta (a pair's agreed flags are recorded only once both
//! sides hold them; with CONDSTORE, `UNCHANGEDSINCE` the listing) → proven
//! expunges (`UID EXPUNGE` of exactly those UIDs, or `\Deleted` only). A
//! refused APPEND batch is bisected so one bad message does not hold back
//! the rest.
//!
//! This module owns the entry point and the order of the run: tree changes
//! first, in plan order (`Turns`), then copies and flags, expunges only
//! once every mailbox's copies have landed, subscriptions and mailbox
//! deletions last. Each phase lives in its own file: `tree` (create,
//! rename, delete, subscribe), `checkpoint` (settled intents, rebase,
//! what was seen), `advance` (watermarks moved past the run's own
//! writes), `settled` (the mailbox marked settled by them), `copy` (batches, MULTIAPPEND, bisection), `flags`,
//! `expunge`.

mod advance;
mod checkpoint;
mod copy;
mod expunge;
#[cfg(test)]
mod fake_server_tests;
mod flags;
#[cfg(test)]
mod flight_tests;
mod logged;
mod purge;
mod quarantine;
#[cfg(test)]
mod refusal_tests;
mod settled;
mod tree;
mod undo;

pub use purge::{purge_quarantines, Purging};
use tree::{delete_mailbox, subscribe};
pub use undo::{undo_step, Undone};

use crate::model::{MailboxStatus, Side, Uid};
use crate::outcome::{Action, Ledger, Status};
use crate::plan::{MailboxPlan, Plan};
use crate::pool::{Lane, Pool};
use crate::reconcile::{MailboxBase, ReconcileInput, SideListing};
use crate::snapshot::Snapshot;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use tokio::sync::Notify;

/// One action that did not happen.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActionFailure {
    pub mailbox: String,
    pub side: Side,
    pub action: String,
    pub error: String,
}

/// What applying a Plan did: the ledger of this attempt and what earlier
/// attempts reached are the only record of it; the counts are taken from
/// them ([`ApplyOutcome::counts`]).
#[derive(Debug, Default, Clone)]
pub struct ApplyOutcome {
    pub failures: Vec<ActionFailure>,
    pub notes: Vec<String>,
    /// Per planned action, what happened (for `sync --json`).
    pub ledger: Ledger,
    /// A stop signal ended the run early (see [`crate::stop`]).
    pub stopped: bool,
    /// What earlier apply attempts of this run reached, before a lost
    /// connection made it list and plan again (for `sync --json`).
    pub earlier_actions: Vec<crate::outcome::ActionOutcome>,
    /// How many earlier apply attempts there were.
    pub earlier_attempts: u32,
}

/// How many changes apply made on each side, over every attempt of the run.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
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
}

/// The JSON form: the counts, then failures, notes and whether a stop
/// signal ended the run.
impl serde::Serialize for ApplyOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Json<'a> {
            #[serde(flatten)]
            counts: Counts,
            failures: &'a [ActionFailure],
            notes: &'a [String],
            stopped: bool,
        }
        let json = Json {
            counts: self.counts(),
            failures: &self.failures,
            notes: &self.notes,
            stopped: self.stopped,
        };
        json.serialize(serializer)
    }
}

impl ApplyOutcome {
    /// How many changes apply made on each side: in the ledger of this
    /// attempt and in what earlier attempts reached.
    pub fn counts(&self) -> Counts {
        let made = |action: Action| {
            let [a, b] = self.ledger.made(action);
            let [c, d] = crate::outcome::made(&self.earlier_actions, action);
            [a + c, b + d]
        };
        let [sa, sb] = made(Action::Subscribe);
        let [ua, ub] = made(Action::Unsubscribe);
        Counts {
            created: made(Action::CreateMailbox),
            copied_to: made(Action::Copy),
            flag_changes_on: made(Action::Flags),
            expunged_on: made(Action::Expunge),
            renamed_on: made(Action::RenameMailbox),
            mailboxes_deleted_on: made(Action::DeleteMailbox),
            subscriptions_changed_on: [sa + ua, sb + ub],
        }
    }

    /// Ends apply attempt number `attempt`, cut short by a lost connection:
    /// what it reached of `plan` is kept as that attempt's actions.
    pub fn end_attempt(&mut self, plan: &crate::plan::Plan, attempt: u32) {
        let ledger = std::mem::take(&mut self.ledger);
        let reached = crate::outcome::outcomes(plan, &ledger).reached(attempt);
        self.earlier_actions.extend(reached);
        self.earlier_attempts += 1;
    }

    /// Adds what an earlier attempt of the same run did (before a lost
    /// connection made the run list again): its failures, notes and
    /// actions come first.
    pub fn absorb(&mut self, earlier: ApplyOutcome) {
        let failures = std::mem::replace(&mut self.failures, earlier.failures);
        self.failures.extend(failures);
        let notes = std::mem::replace(&mut self.notes, earlier.notes);
        self.notes.extend(notes);
        let actions = std::mem::replace(&mut self.earlier_actions, earlier.earlier_actions);
        self.earlier_actions.extend(actions);
        self.earlier_attempts += earlier.earlier_attempts;
        self.stopped |= earlier.stopped;
    }

    /// Adds what the next mailbox plan of the same apply did: its
    /// failures, notes and ledger entries come after these. A stop
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
    quarantine: Option<&[String; 2]>,
    kept: &crate::gather::Kept,
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
        let mut ahead = Ahead::default();
        turns.wait(at, mb.rename.is_some()).await;
        if !stop_requested(&mut out) {
            let mut run = MailboxRun::new(mb, input, lane, &shared, &mut out, statuses);
            run.kept = Some(kept);
            let prepared = run.prepare().await;
            turns.structured(at);
            go_on = prepared && run.fill().await;
            statuses = run.statuses;
            ahead = Ahead {
                ids_read: run.ids_read,
                read_behind_writes: run.read_behind_writes,
            };
        }
        turns.finished(at);
        (mb, out, statuses, go_on, ahead)
    };
    let filled = pool
        .each(mailboxes.into_iter().enumerate().collect(), fill)
        .await;
    // Expunges only once every mailbox's copies have landed: a message
    // moved between mailboxes is never missing from the other side (E12).
    let settle = async |lane: &mut Lane, (mb, mut out, statuses, go_on, ahead): Filled<'p>| {
        if go_on && !stop_requested(&mut out) {
            let mut run = MailboxRun::new(mb, input, lane, &shared, &mut out, statuses);
            run.quarantine = quarantine;
            run.ids_read = ahead.ids_read;
            run.read_behind_writes = ahead.read_behind_writes;
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
    subscribe(plan, &input.subscriptions, conns, snapshot, &mut out).await;
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

/// Per side, the status the plan was made from ([`listings`]).
fn listed_statuses(input: &ReconcileInput, mb: &MailboxPlan) -> [Option<MailboxStatus>; 2] {
    listings(input, mb).map(|s| s.map(|s| s.status.clone()))
}

/// Per side, the listing the plan was made from: for a renamed mailbox,
/// the side that still had the old name was listed under that name.
fn listings<'i>(input: &'i ReconcileInput, mb: &MailboxPlan) -> [Option<&'i SideListing>; 2] {
    let listed = |name: &str, i: usize| {
        let found = input.mailboxes.iter().find(|m| m.name == name);
        found.and_then(|m| m.sides[i].as_ref())
    };
    [0, 1].map(|i| match &mb.rename {
        Some(r) if r.side.index() == i => listed(&r.from, i),
        _ => listed(&mb.name, i),
    })
}

/// One action on a mailbox that did not happen, and why.
/// A mailbox opened to be written to must have the UIDVALIDITY it was
/// listed with (`listed`; None: not listed, nothing to compare).
fn same_uidvalidity(
    peer: &crate::imap::Peer,
    wire: &str,
    listed: Option<u32>,
    now: u32,
) -> Result<(), crate::imap::ImapError> {
    match listed {
        Some(uv) if uv != now => Err(crate::imap::ImapError::Invalid {
            peer: peer.clone(),
            detail: format!(
                "{wire:?} has UIDVALIDITY {now} now, {uv} when it was listed; nothing written there"
            ),
        }),
        _ => Ok(()),
    }
}

fn failure(mb: &MailboxPlan, side: Side, action: &str, error: String) -> ActionFailure {
    ActionFailure {
        mailbox: mb.name.clone(),
        side,
        action: action.to_string(),
        error,
    }
}

/// Whether a server refused a command in words about the mailbox, the
/// session or the account ([`crate::refusal`]): the commands after it on
/// that mailbox would meet the same answer, so they are not sent, and the
/// refusal is reported once.
fn refused_by_mailbox(e: &crate::imap::ImapError) -> bool {
    match e {
        crate::imap::ImapError::No { code, text, .. } => {
            crate::refusal::said(code.as_deref(), text) == crate::refusal::Said::Mailbox
        }
        _ => false,
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
    /// Per side: the UIDs whose earlier refusal this sync tries again (see
    /// [`ReconcileInput::retried_refusals`]); forgotten once classified.
    retried: [HashSet<Uid>; 2],
    /// `--expunge-to`: per side, the wire name of the mailbox proven
    /// expunges are moved into instead ([`MailboxRun::expunge`]).
    quarantine: Option<&'a [String; 2]>,
    /// New bodies the listing read whole, which a copy takes rather than
    /// reading them again ([`crate::gather::Kept`]).
    kept: Option<&'a crate::gather::Kept>,
    /// Per side, the listing the plan was made from (sizes for the log).
    listings: [Option<&'a SideListing>; 2],
    /// An earlier refusal in this mailbox is remembered or retried: it
    /// cannot be marked settled ([`settled`]).
    refused: bool,
    /// A copy of this run got a UID no listing has shown yet (an
    /// unconfirmed receipt): the mailbox cannot be marked settled.
    unconfirmed_receipts: bool,
    /// Per side: the read-back that rode behind the side's last write
    /// here, the UID EXPUNGE or the flag STOREs ([`MailboxRun::read_back`]
    /// takes it).
    read_behind_writes: [Option<crate::imap::Recheck>; 2],
    /// Per side: the Message-IDs the expunges will log, read in the flag
    /// STOREs' flight, with the UIDVALIDITY they were read at.
    ids_read: IdsRead,
}

/// Per side, header fields read ahead for the expunge's log, per UID,
/// with the UIDVALIDITY of the mailbox they were read in.
type IdsRead = [Option<(std::collections::BTreeMap<Uid, Vec<u8>>, u32)>; 2];

/// What filling a mailbox read ahead for settling it: the Message-IDs its
/// deletions log, and the read-back that rode behind a side's last write.
#[derive(Default)]
struct Ahead {
    ids_read: IdsRead,
    read_behind_writes: [Option<crate::imap::Recheck>; 2],
}

/// A mailbox plan once filled: its outcome so far, the statuses, whether
/// it goes on to be settled, and what was read ahead for that.
type Filled<'p> = (
    &'p MailboxPlan,
    ApplyOutcome,
    [Option<MailboxStatus>; 2],
    bool,
    Ahead,
);

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
        let retried = [0, 1].map(|i| {
            let uidvalidity = statuses[i].as_ref().map(|s| s.uidvalidity);
            input
                .retried_refusals
                .iter()
                .filter(|r| r.mailbox == mb.name && r.side.index() == i)
                .filter(|r| Some(r.uidvalidity) == uidvalidity)
                .map(|r| r.uid)
                .collect()
        });
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
            retried,
            quarantine: None,
            kept: None,
            listings: listings(input, mb),
            refused: (input.refusals.iter())
                .chain(&input.retried_refusals)
                .any(|r| r.mailbox == mb.name),
            unconfirmed_receipts: false,
            read_behind_writes: [None, None],
            ids_read: [None, None],
        }
    }

    /// Settles what an interrupted run left, then RENAME and CREATE: what
    /// later mailboxes may depend on ([`Turns`]). False if the mailbox
    /// cannot go on.
    async fn prepare(&mut self) -> bool {
        self.forget_settled_intents();
        if let Some(r) = &self.mb.rename {
            if let Err(e) = self.rename(r).await {
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

    /// Opens this mailbox on `side` read-write for a write: nothing is
    /// sent where the session holds it so at the UIDVALIDITY it was listed
    /// with, else SELECT, whose UIDVALIDITY must be the listed one (the
    /// planned UIDs would name other messages).
    async fn open_to_write(&mut self, side: Side) -> Result<(), crate::imap::ImapError> {
        let wire = self.wire(side).to_string();
        let listed = self.statuses[side.index()].as_ref().map(|s| s.uidvalidity);
        let conn = &mut self.conns[side.index()];
        if listed.is_some_and(|uv| conn.holds_writable_at(&wire, uv)) {
            return Ok(());
        }
        let status = conn.select(&wire, false).await?;
        same_uidvalidity(conn.peer(), &wire, listed, status.uidvalidity)
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

    /// For the action log: each of these UIDs of `side` with its content
    /// as the plan knows it and its size as listed (RFC822.SIZE, from the
    /// server or the snapshot's listing); no Message-ID.
    fn logged_messages(
        &self,
        side: Side,
        uids: &[Uid],
        content: impl Fn(Uid) -> Option<crate::model::Fingerprint>,
    ) -> Vec<crate::action_log::LoggedMessage> {
        let wanted: HashSet<Uid> = uids.iter().copied().collect();
        let mut sizes = std::collections::HashMap::with_capacity(wanted.len());
        if let Some(listing) = self.listings[side.index()] {
            let listed = listing.messages.iter().map(|m| (m.uid, m.size));
            let unread = listing.unread.iter().map(|m| (m.uid, m.size));
            sizes.extend(listed.chain(unread).filter(|(u, _)| wanted.contains(u)));
        }
        uids.iter()
            .map(|&uid| crate::action_log::LoggedMessage {
                uid: Some(uid),
                fingerprint: content(uid).map(|f| f.to_hex()),
                size: sizes.get(&uid).copied(),
                message_id: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sync --json`'s `applied`: the counts taken from the ledger, in the
    /// order and form they had as fields of their own.
    #[test]
    fn applied_json_keeps_its_fields_and_their_order() {
        let mut out = ApplyOutcome::default();
        out.ledger
            .mailbox("Sub", Action::Unsubscribe, Side::B, Status::Done);
        out.notes.push("a note".into());
        let json = serde_json::to_string(&out).unwrap();
        assert_eq!(
            json,
            "{\"created\":[0,0],\"copied_to\":[0,0],\"flag_changes_on\":[0,0],\
             \"expunged_on\":[0,0],\"renamed_on\":[0,0],\"mailboxes_deleted_on\":[0,0],\
             \"subscriptions_changed_on\":[0,1],\"failures\":[],\"notes\":[\"a note\"],\
             \"stopped\":false}"
        );
    }

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
