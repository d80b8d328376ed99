//! Copying messages to the other side: batches bounded in bytes and count,
//! the next batch read (and hashed where the plan had no fingerprint, its
//! census and Message-IDs worked out, see [`read`]) while the last one is
//! appended, one MULTIAPPEND per batch framed by an intent
//! before and its APPENDUID pairs after (confirmed where the target lists
//! them, see [`receipt`]), and a refused batch bisected down to the message
//! the server will not take. A refusal is judged by
//! [`crate::refusal`]: about the message, it is remembered against it
//! (refused); about the mailbox, session or account (read-only, quota,
//! permissions …, or the same refusal for every message), the mailbox's
//! copies stop for this run, reported once, nothing remembered per message.

mod read;
mod receipt;

use read::{read_batch, Bodies, Fetched, Read};

use super::{failure, stop_requested, ApplyOutcome, MailboxRun, SharedSnapshot};
use crate::imap::{AppendItem, Connection, ImapError};
use crate::model::{Fingerprint, FlagSet, MailboxStatus, MessageMeta, PairLevel, Side, Uid};
use crate::outcome::Status;
use crate::plan::{Copy, MailboxPlan};
use crate::refusal::{self, Scope};
use crate::snapshot::{MessageStatus, PairRecord};
use std::collections::HashSet;

mod dropped;

/// Largest APPEND batch, in bytes and in messages. MULTIAPPEND is one
/// transaction on the server, so large batches are what makes copying fast.
const BATCH_BYTES: u64 = 32 << 20;
const BATCH_MESSAGES: usize = 1000;

/// New connections one mailbox's copies may open after the target dropped
/// one during an APPEND: two per message that kills the connection, for
/// three such messages.
const APPEND_RECONNECTS: usize = 6;

/// A refused APPEND: the error for the report, the words for the
/// snapshot, and the response code and text [`crate::refusal`] judges.
struct Refusal {
    error: String,
    words: String,
    code: Option<String>,
    text: String,
    /// Not sent at all (a flag that cannot be written, …): about the
    /// message, whatever the words.
    unsent: bool,
}

impl Refusal {
    /// Whom it is about, as far as the words and the message tell now.
    fn decided(&self, empty_message: bool) -> Option<Scope> {
        if self.unsent {
            return Some(Scope::Message);
        }
        refusal::decided(self.code.as_deref(), &self.text, empty_message)
    }

    fn is_quota(&self) -> bool {
        refusal::is_quota(self.code.as_deref(), &self.text)
    }
}

/// Why one APPEND command did not go through.
enum AppendFailure {
    /// The server answered NO on a live session, or the batch could not be
    /// sent as it is: nothing was appended (a batch is then bisected).
    /// `words` are the server's (or ours), for the snapshot.
    Refused(Refusal),
    /// The connection died during the APPEND: the server may have stored
    /// some of the batch (Cyrus stores the messages before the one it
    /// chokes on), so the intent stays until what landed is known
    /// ([`Copier::after_drop`]).
    Dropped { error: String, intent: i64 },
    /// Anything else (the snapshot failed, or the session died and could not
    /// be made again); `appended` if the server took the batch and only
    /// recording it failed.
    Other { error: String, appended: bool },
}

impl MailboxRun<'_, '_> {
    /// Copies messages from `source` to the other side in byte-bounded
    /// batches, reading the next batch from `source` while the target
    /// appends the last one (the two sides are separate connections).
    pub(super) async fn copy<'c>(&mut self, source: Side, copies: &[&'c Copy]) {
        // The first batch's bodies go in one flight with the EXAMINE that
        // opens the mailbox, where the reading session does not hold it.
        let wire = self.wire(source).to_string();
        let uidvalidity = self.statuses[source.index()]
            .as_ref()
            .map_or(0, |s| s.uidvalidity);
        let mut batches: Vec<Vec<&'c Copy>> = Vec::new();
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
            retried,
            kept,
            ..
        } = self;
        let kept = kept.map(|k| (k, source));
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
            accepted: false,
            undecided: Vec::new(),
            mailbox_refused: false,
            retried: &retried[source.index()],
            bytes_left: copies.iter().map(|c| u64::from(c.size)).sum(),
            target: receipt::Target::default(),
            reconnects: APPEND_RECONNECTS,
            uidnext_known: true,
            suspects: HashSet::new(),
            unconfirmed_receipts: false,
        };
        // At most two batches are held: the one being appended and the one
        // being read (a slot is reserved before reading).
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Fetched<'c>>(1);
        let read = async move {
            for batch in batches {
                let Ok(slot) = tx.reserve().await else { return };
                let read = read_batch(reader, &wire, uidvalidity, &batch, kept).await;
                // Not open (refused, or another UIDVALIDITY): no later
                // batch can be read either.
                let closed = read.is_err() && !reader.holds_at(&wire, uidvalidity);
                slot.send(Fetched { batch, read });
                if closed {
                    return;
                }
            }
        };
        // Owns the receiver: once it returns (a stop signal), the reader's
        // next reservation fails and it stops too, after at most one read.
        let write = async move {
            while let Some(fetched) = rx.recv().await {
                copier.copy_batch(fetched).await;
                if copier.mailbox_refused || stop_requested(copier.out) {
                    break;
                }
            }
            copier
        };
        let ((), mut copier) = tokio::join!(read, write);
        copier.judge_undecided();
        self.unconfirmed_receipts |= copier.unconfirmed_receipts;
    }
}

/// A copy whose body is at hand, with its content's fingerprint (the
/// plan's, or hashed as it was read).
#[derive(Clone, Copy)]
struct Ready<'c> {
    copy: &'c Copy,
    fingerprint: Fingerprint,
}

/// The bytes of these copies.
fn bytes_of(part: &[Ready<'_>]) -> u64 {
    part.iter().map(|r| u64::from(r.copy.size)).sum()
}

/// The plan's copies behind these, for the ledger.
fn planned<'c>(part: &[Ready<'c>]) -> Vec<&'c Copy> {
    part.iter().map(|r| r.copy).collect()
}

/// A message refused alone in words that say nothing about whom the
/// refusal is about: judged once the mailbox's copies are done
/// ([`Copier::judge_undecided`]).
struct Undecided<'c> {
    ready: Ready<'c>,
    refusal: Refusal,
}

/// The writing half of a copy: appends batches read from `source` to the
/// other side, each framed by an intent before and its pairs after.
struct Copier<'r, 's, 'c> {
    mb: &'r MailboxPlan,
    snapshot: &'r SharedSnapshot<'s>,
    out: &'r mut ApplyOutcome,
    statuses: &'r mut [Option<MailboxStatus>; 2],
    /// The target's connection.
    conn: &'r mut Connection,
    source: Side,
    /// The target accepted some of this mailbox's copies in this run.
    accepted: bool,
    undecided: Vec<Undecided<'c>>,
    /// The target refused in words about the mailbox: no more copies to it.
    mailbox_refused: bool,
    /// Source UIDs whose earlier refusal is tried again: forgotten once
    /// this run classifies them (landed, or refused by the mailbox).
    retried: &'r HashSet<Uid>,
    /// Bytes of the planned copies not yet landed (for a quota refusal).
    bytes_left: u64,
    /// The target mailbox, for confirming receipts.
    target: receipt::Target,
    /// New connections the target may still be given after a dropped one.
    reconnects: usize,
    /// Source UIDs of copies in a batch that dropped the connection and did
    /// not land: one of them that drops it again alone is the culprit.
    suspects: HashSet<Uid>,
    /// The target's UIDNEXT in `statuses` is past every copy landed so far
    /// (APPENDUID said where they went), so what lands above it is ours.
    uidnext_known: bool,
    /// A landed copy's UID is not shown by any listing yet (an
    /// unconfirmed receipt): see [`MailboxRun::unconfirmed_receipts`].
    unconfirmed_receipts: bool,
}

impl<'c> Copier<'_, '_, 'c> {
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

    async fn copy_batch(&mut self, fetched: Fetched<'c>) {
        let source = self.source;
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
        let ready: Vec<Ready<'c>> = batch
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
        let mut work: Vec<Vec<Ready<'c>>> = vec![ready];
        while let Some(part) = work.pop() {
            if part.is_empty() {
                continue;
            }
            match self.append_part(&part, &bodies).await {
                Ok(()) => {
                    self.forget_retried(&part);
                    self.accepted = true;
                    self.bytes_left = self.bytes_left.saturating_sub(bytes_of(&part));
                }
                Err(AppendFailure::Refused(refused)) => {
                    let empty = part.len() == 1 && part[0].copy.size == 0;
                    match refused.decided(empty) {
                        Some(Scope::Mailbox) => {
                            // About the mailbox, whatever went through
                            // before: its copies stop here, reported once,
                            // nothing remembered per message; the next run
                            // tries again.
                            let status = Status::Refused(refused.error.clone());
                            self.out
                                .ledger
                                .copies(&self.mb.name, &planned(&part), &status);
                            self.forget_retried(&part);
                            self.refuse_mailbox(&refused.error, refused.is_quota());
                            return;
                        }
                        _ if part.len() > 1 => {
                            let half = part.len() / 2;
                            work.push(part[half..].to_vec());
                            work.push(part[..half].to_vec());
                        }
                        Some(Scope::Message) => self.refuse_message(part[0], refused),
                        // Whether others are accepted decides, at the end.
                        None => self.undecided.push(Undecided {
                            ready: part[0],
                            refusal: refused,
                        }),
                    }
                }
                Err(AppendFailure::Dropped { error, intent }) => {
                    match self.after_drop(&part, intent, &error).await {
                        Ok(rest) => self.retry_after_drop(&part, rest, &mut work, error),
                        Err(e) => self.give_up(&part, &mut work, e, false),
                    }
                }
                Err(AppendFailure::Other { error, appended }) => {
                    self.give_up(&part, &mut work, error, appended)
                }
            }
        }
    }

    /// Not a refusal (the session died for good, or the snapshot failed):
    /// bisecting would only repeat it. This part is reported as refused,
    /// what is left of the batch as not attempted.
    fn give_up(
        &mut self,
        part: &[Ready<'c>],
        work: &mut Vec<Vec<Ready<'c>>>,
        error: String,
        appended: bool,
    ) {
        let refused = if appended {
            Status::Unrecorded(error.clone())
        } else {
            Status::Refused(error.clone())
        };
        self.out
            .ledger
            .copies(&self.mb.name, &planned(part), &refused);
        let left = part.len() + work.iter().map(Vec::len).sum::<usize>();
        work.clear();
        let what = if left == 1 {
            let copy = part[0].copy;
            format!("copy UID {} ({} bytes)", copy.uid, copy.size)
        } else {
            format!("copy {left} messages")
        };
        self.fail(self.source.other(), &what, error);
    }

    /// The message's own refusal: remembered against it, reported with
    /// the server's words.
    fn refuse_message(&mut self, ready: Ready<'c>, refused: Refusal) {
        let Refusal { error, words, .. } = refused;
        self.record_refusal(ready, Some(&words));
        let status = Status::Refused(error.clone());
        self.out
            .ledger
            .copies(&self.mb.name, &[ready.copy], &status);
        self.bytes_left = self.bytes_left.saturating_sub(u64::from(ready.copy.size));
        let copy = ready.copy;
        let what = format!("copy UID {} ({} bytes)", copy.uid, copy.size);
        self.fail(self.source.other(), &what, error);
    }

    /// A refusal about the target mailbox: one failure for the mailbox, in
    /// the server's words (with what was left to copy when it is quota).
    fn refuse_mailbox(&mut self, error: &str, quota: bool) {
        self.mailbox_refused = true;
        let mut error = format!(
            "{error} (the mailbox refused, not the message: nothing is remembered against \
             its messages, the next run tries again)"
        );
        if quota {
            error += &format!("; {} bytes were left to copy", self.bytes_left);
        }
        self.fail(self.source.other(), "copy messages", error);
    }

    /// Once the mailbox's copies are done: refusals whose words said
    /// nothing are the messages' own if others were accepted; if every
    /// message was refused, the mailbox refused them.
    fn judge_undecided(&mut self) {
        let context = refusal::Context {
            others_accepted: self.accepted,
            empty_message: false,
        };
        let mut alike = Vec::new();
        for Undecided { ready, refusal } in std::mem::take(&mut self.undecided) {
            let code = refusal.code.as_deref();
            match refusal::classify(code, &refusal.text, context) {
                Scope::Message => self.refuse_message(ready, refusal),
                Scope::Mailbox => alike.push((ready, refusal)),
            }
        }
        let Some((_, first)) = alike.first() else {
            return;
        };
        let error = format!(
            "every message was refused ({} tried alone): {}",
            alike.len(),
            first.error
        );
        let quota = first.is_quota();
        let status = Status::Refused(first.error.clone());
        let copies: Vec<&Copy> = alike.iter().map(|(ready, _)| ready.copy).collect();
        self.out.ledger.copies(&self.mb.name, &copies, &status);
        let refused: Vec<Ready<'c>> = alike.iter().map(|(ready, _)| *ready).collect();
        self.forget_retried(&refused);
        self.refuse_mailbox(&error, quota);
    }

    /// Forgets the earlier refusals of these that were tried again: the
    /// retry classified them as not the message's own.
    fn forget_retried(&mut self, part: &[Ready<'c>]) {
        for &ready in part {
            if self.retried.contains(&ready.copy.uid) {
                self.record_refusal(ready, None);
            }
        }
    }

    /// Remembers, on the source's cache row, that the target refused this
    /// message, with the server's words: later runs skip it (and report
    /// it) until it changes or `--retry-refused` is given (see
    /// [`crate::reconcile::skips`]). It is never paired, so never taken as
    /// deleted. With no words, forgets an earlier refusal.
    fn record_refusal(&mut self, ready: Ready<'c>, words: Option<&str>) {
        let source = self.source;
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
            normalised: crate::model::Normalised::of(&ready.fingerprint, copy.normalised),
        };
        let recorded = self.snapshot.borrow_mut().set_message_status(
            &self.mb.name,
            source,
            uidvalidity,
            &meta,
            words.map(|_| MessageStatus::Refused),
            words,
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
        part: &[Ready<'c>],
        bodies: &Bodies,
    ) -> Result<(), AppendFailure> {
        let target = self.source.other();
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
            .map_err(|e| AppendFailure::Other {
                error: e.to_string(),
                appended: false,
            })?;
        let items: Vec<AppendItem<'_>> = part
            .iter()
            .map(|r| AppendItem {
                flags: &r.copy.flags,
                internal_date: r.copy.internal_date,
                body: &bodies[&r.copy.uid].bytes,
            })
            .collect();
        let wire = self.wire(target).to_string();
        let result = match self
            .logged_append(target, status.uidvalidity, part, bodies, &wire, &items)
            .await
        {
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
                    ImapError::No { code, text, .. } => AppendFailure::Refused(Refusal {
                        words: match code {
                            Some(code) => format!("NO [{code}] {text}"),
                            None => format!("NO {text}"),
                        },
                        error: e.to_string(),
                        code: code.clone(),
                        text: text.clone(),
                        unsent: false,
                    }),
                    // Nothing was sent (a flag that cannot be written, …):
                    // isolated and recorded like the message's own refusal.
                    ImapError::Invalid { detail, .. } => AppendFailure::Refused(Refusal {
                        words: format!("not sent: {detail}"),
                        error: e.to_string(),
                        code: None,
                        text: detail.clone(),
                        unsent: true,
                    }),
                    // Died during this APPEND (not before it: a session an
                    // earlier error ended is the run's to make again).
                    ImapError::Closed { .. } => AppendFailure::Other {
                        error: e.to_string(),
                        appended: false,
                    },
                    _ if !self.conn.is_alive() => AppendFailure::Dropped {
                        error: e.to_string(),
                        intent,
                    },
                    _ => AppendFailure::Other {
                        error: e.to_string(),
                        appended: false,
                    },
                });
            }
        };
        self.out
            .ledger
            .copies(&self.mb.name, &planned(part), &Status::Done);
        crate::progress::copied(part.len(), part.iter().map(|r| r.copy.size as u64).sum());
        let new_uids = match (result.uidvalidity, result.uids) {
            (Some(uv), Some(uids)) if uv == status.uidvalidity && uids.len() == part.len() => uids,
            _ => {
                self.uidnext_known = false;
                self.out.notes.push(format!(
                    "{}: {target} did not report the new UIDs (no UIDPLUS); the copies are paired by content next run",
                    self.mb.name
                ));
                return self.snapshot.borrow_mut().drop_intent(intent).map_err(|e| {
                    AppendFailure::Other {
                        error: e.to_string(),
                        appended: true,
                    }
                });
            }
        };
        let wire = self.wire(target).to_string();
        let sent: Vec<receipt::Sent> = part
            .iter()
            .zip(&new_uids)
            .map(|(r, &uid)| {
                let body = &bodies[&r.copy.uid];
                receipt::Sent {
                    uid,
                    len: body.bytes.len(),
                    rewritable: body.rewritable,
                }
            })
            .collect();
        let landed = match self
            .target
            .landed(self.conn, &wire, status.uidvalidity, &sent)
            .await
        {
            Ok(landed) => landed,
            Err(e) => {
                self.out.notes.push(format!(
                    "{}: could not list the copies just made on {target} ({e}); the next run confirms them",
                    self.mb.name
                ));
                receipt::Landed::default()
            }
        };
        let listed = &landed.listed;
        let unlisted = new_uids.iter().filter(|u| !listed.contains(u)).count();
        if unlisted > 0 {
            self.out.notes.push(format!(
                "{}: {target} acknowledged {unlisted} copies (APPENDUID) it does not list; until it does, \
                 they prove no deletion, and the next run copies them again if they are still missing",
                self.mb.name
            ));
        }
        let copies: Vec<(Ready<'c>, Uid)> = part.iter().copied().zip(new_uids).collect();
        self.record_landed(intent, &copies, &landed)
    }

    /// Records copies that landed (each with its UID on the target) as
    /// pairs, with both sides' cache rows, and forgets the intent they
    /// resolve. The pairs whose target UID the target was `found` to list
    /// are confirmed, the others wait for a listing to show them; the
    /// copies `found` read back are cached with the target's content.
    fn record_landed(
        &mut self,
        intent: i64,
        landed: &[(Ready<'c>, Uid)],
        found: &receipt::Landed,
    ) -> Result<(), AppendFailure> {
        let listed = &found.listed;
        let (source, target) = (self.source, self.source.other());
        let target_uv = self.statuses[target.index()]
            .as_ref()
            .map_or(0, |s| s.uidvalidity);
        if let Some(st) = self.statuses[target.index()].as_mut() {
            let next = landed.iter().map(|(_, u)| u + 1).max().unwrap_or(0);
            st.uidnext = st.uidnext.max(next);
        }
        let mut pairs = Vec::with_capacity(landed.len());
        let mut cache: [Vec<(u32, MessageMeta)>; 2] = [Vec::new(), Vec::new()];
        let source_uv = self.statuses[source.index()]
            .as_ref()
            .map_or(0, |s| s.uidvalidity);
        for (ready, new_uid) in landed {
            let copy = ready.copy;
            let mut uid = [copy.uid, *new_uid];
            // Each side's actual content: the target's as read back, where
            // it rewrote the copy (I7), so that a later run that links the
            // pair by content (a restored target) finds the copy, and a
            // tombstone of its expunge names what the target holds.
            let there = found.read.get(new_uid).map_or(ready.fingerprint, |r| r.0);
            let mut contents = [ready.fingerprint, there];
            if source == Side::B {
                uid.reverse();
                contents.reverse();
            }
            pairs.push(PairRecord {
                uid,
                fingerprint: contents[0],
                flags: Some(copy.agreed.clone()),
                // Until a listing of the target shows this UID: a server
                // may name a UID it never shows (Gmail drops an APPEND of a
                // message it holds already).
                unconfirmed: (!listed.contains(new_uid)).then_some(target),
                // Exact still: imapmend made the copy, whatever the target
                // did to its bytes.
                level: PairLevel::Exact,
                fingerprint_b: Some(contents[1]).filter(|b| *b != contents[0]),
            });
            let meta = |uid: Uid, flags: &FlagSet| MessageMeta {
                uid,
                size: copy.size,
                internal_date: copy.internal_date,
                flags: flags.clone(),
                fingerprint: ready.fingerprint,
                normalised: crate::model::Normalised::of(&ready.fingerprint, copy.normalised),
            };
            cache[source.index()].push((source_uv, meta(copy.uid, &copy.agreed)));
            let mut there = meta(*new_uid, &copy.flags);
            if let Some((fingerprint, size)) = found.read.get(new_uid) {
                (there.fingerprint, there.size) = (*fingerprint, *size);
            }
            cache[target.index()].push((target_uv, there));
        }
        // A receipt no listing confirmed yet: the mailbox must not be
        // marked settled, or no later run would list it to confirm it.
        self.unconfirmed_receipts |= pairs.iter().any(|p| p.unconfirmed.is_some());
        let read_back: Vec<Uid> = found.read.keys().copied().collect();
        self.snapshot
            .borrow_mut()
            .complete_copies(&self.mb.name, intent, &pairs, cache, &read_back)
            .map_err(|e| AppendFailure::Other {
                error: format!("copied, but recording the pairs failed (the next run pairs them by content): {e}"),
                appended: true,
            })
    }
}

impl Copier<'_, '_, '_> {
    /// The APPEND, through the action log's door ([`super::logged`]).
    async fn logged_append(
        &mut self,
        target: Side,
        uidvalidity: u32,
        part: &[Ready<'_>],
        bodies: &Bodies,
        wire: &str,
        items: &[AppendItem<'_>],
    ) -> Result<crate::imap::AppendResult, ImapError> {
        use crate::action_log::{Action, Confirmed, LoggedMessage, Write};
        let write = Write {
            uidvalidity: Some(uidvalidity),
            messages: part
                .iter()
                .map(|r| LoggedMessage {
                    uid: None,
                    fingerprint: Some(r.fingerprint.to_hex()),
                    size: Some(r.copy.size),
                    message_id: bodies[&r.copy.uid].message_id.clone(),
                })
                .collect(),
            ..Write::mailbox(target, &self.mb.name, Action::Append)
        };
        let peer = self.conn.peer().clone();
        let confirm = |r: &crate::imap::AppendResult| Confirmed {
            uids: Some(r.uids.clone().unwrap_or_default()),
            ..Confirmed::default()
        };
        super::logged::logged(&peer, write, self.conn.append(wire, items), confirm).await
    }
}
