//! Reading a mailbox back after this session's writes, in one flight:
//! `EXAMINE name (CONDSTORE)` and, pipelined behind it, `UID FETCH 1:*
//! (UID FLAGS MODSEQ) (CHANGEDSINCE m [VANISHED])` from the mod-sequence
//! the run listed it at. Apply compares the answer with what it wrote
//! (`apply::advance`) to move the saved watermarks past its own writes.
//!
//! The FETCH is sent before the EXAMINE's answer is known, so it may meet
//! no mailbox (the EXAMINE failed: a server then answers it NO or BAD) or
//! an empty one (some servers answer `1:*` there with BAD): both are read
//! as its answer ([`Command::failure_is_an_answer`]), not as a broken
//! session, and its data is used only when the EXAMINE succeeded — the
//! server runs the two in order, so the FETCH then read that mailbox.
//!
//! The two may also ride behind the writes they read back: `UID STORE
//! \Deleted` and `UID EXPUNGE` in the mailbox already selected (whose
//! UIDVALIDITY the caller checked), then the EXAMINE and the FETCH, in one
//! flight ([`uid_expunge_reading_back`]); or behind a side's flag STOREs
//! (`store_flight`, with [`Rechecking`]). The writes' own answers decide
//! whether the expunge was done; the read-back's EXAMINE may fail without
//! undoing that. No destructive command ever rides behind a SELECT whose
//! UIDVALIDITY was not checked: here the reads ride behind the writes.

use super::bounds::{Bound, Budget};
use super::commands::{absorb_meta, PartialMeta, Selected};
use super::engine::{Command, Engine};
use super::error::ImapError;
use super::history::{expunge_commands, note_vanished_earlier};
use super::parse::{Cond, Status, Untagged};
use super::select::Selecting;
use super::{uidset, HistorySupport, Limits, Recheck};
use crate::model::Uid;
use std::collections::BTreeMap;

/// EXAMINE `name` and what changed there since `modseq`, in one flight.
/// `expected`: how many messages the caller expects (bounds the answer).
/// Needs CONDSTORE (the caller checks); a NOMODSEQ mailbox gives a
/// [`Recheck`] with no HIGHESTMODSEQ, whose changes mean nothing.
pub(crate) async fn examine_changes(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    history: HistorySupport,
    name: &str,
    modseq: u64,
    expected: u32,
) -> Result<Recheck, ImapError> {
    let (cmds, mut reading) = Rechecking::start(engine, selected, history, name, modseq, expected)?;
    let done = engine
        .run(cmds.into(), 2, &mut |i, u| reading.absorb(i, u))
        .await?;
    // The EXAMINE succeeded (else `run` returned its NO): the FETCH read
    // this mailbox.
    reading.finish(engine, selected, &done[1]).await
}

/// `UID STORE set +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE set` in the
/// selected mailbox (as [`super::history::uid_expunge`]), with the read-back
/// of `name` ([`examine_changes`]) behind them in the same flight: a read
/// after the writes, which the server runs in order. Err: the expunge
/// failed (what it is for the action log); Ok(None): it was done and the
/// read-back could not be (its EXAMINE or FETCH refused), and is the
/// caller's to do on its own.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn uid_expunge_reading_back(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    history: HistorySupport,
    uids: &[Uid],
    name: &str,
    modseq: u64,
    expected: u32,
) -> Result<Option<Recheck>, ImapError> {
    let mut cmds = expunge_commands(engine, selected, limits, uids)?;
    let writes = cmds.len();
    let (examine, mut reading) =
        Rechecking::start(engine, selected, history, name, modseq, expected)?;
    let [open, fetch] = examine;
    cmds.push(open.failure_is_an_answer());
    cmds.push(fetch);
    // What the writes' own answers say (their EXPUNGE or VANISHED) is
    // read again by the EXAMINE behind them, which selects anew.
    let done = engine
        .run(cmds, limits.window.max(writes + 2), &mut |i, u| {
            if i < writes {
                Ok(())
            } else {
                reading.absorb(i - writes, u)
            }
        })
        .await?;
    if done[writes].cond != Cond::Ok {
        // The EXAMINE was refused: nothing is selected now.
        return Ok(None);
    }
    match reading.finish(engine, selected, &done[writes + 1]).await {
        Ok(seen) => Ok(Some(seen)),
        Err(e) if !e.is_fatal() => Ok(None),
        Err(e) => Err(e),
    }
}

/// An EXAMINE and the CHANGEDSINCE FETCH behind it on their way, and what
/// their answers said so far: [`Rechecking::start`] gives the two
/// commands, [`Rechecking::absorb`] takes in their untagged data (0: the
/// EXAMINE's, 1: the FETCH's), [`Rechecking::finish`] judges it.
pub(crate) struct Rechecking {
    qresync: bool,
    modseq: u64,
    label: String,
    reply: Selecting,
    found: BTreeMap<Uid, PartialMeta>,
    budget: Budget,
    vanished: Vec<(Uid, Uid)>,
    disturbed: bool,
    /// EXISTS as the data after the EXAMINE leaves it: the last EXISTS
    /// (None: the EXAMINE's), less the messages expunged after it.
    exists_now: Option<u32>,
    lost: u64,
}

impl Rechecking {
    pub(crate) fn start<'n>(
        engine: &Engine,
        selected: &mut Option<Selected>,
        history: HistorySupport,
        name: &'n str,
        modseq: u64,
        expected: u32,
    ) -> Result<([Command<'n>; 2], Rechecking), ImapError> {
        let qresync = history == HistorySupport::Qresync;
        let modifier = if qresync {
            format!("(CHANGEDSINCE {modseq} VANISHED)")
        } else {
            format!("(CHANGEDSINCE {modseq})")
        };
        let label = format!("UID FETCH 1:* (CHANGEDSINCE {modseq}) in {name:?}");
        // Sized by what the caller expects, with room for a mailbox that
        // grew meanwhile: past it the command fails, and nothing is moved.
        let room = expected.saturating_mul(2).saturating_add(1000);
        let fetch = Command::new("UID FETCH", label.clone())
            .text(format!(" 1:* (UID FLAGS MODSEQ) {modifier}"))
            .bounded(Bound::listing(room))
            .failure_is_an_answer();
        // Nothing is selected until the EXAMINE's answer is read.
        let (examine, reply) = Selecting::start(engine, selected, name, true, true)?;
        let reading = Rechecking {
            qresync,
            modseq,
            label,
            reply,
            found: BTreeMap::new(),
            budget: Budget::messages("changed messages", room),
            vanished: Vec::new(),
            disturbed: false,
            exists_now: None,
            lost: 0,
        };
        Ok(([examine, fetch], reading))
    }

    pub(crate) fn absorb(&mut self, i: usize, u: &Untagged<'_>) -> Result<(), String> {
        if i == 0 {
            self.reply.absorb(u);
            return Ok(());
        }
        match u {
            Untagged::Fetch { attrs, .. } => {
                let uid = absorb_meta(&mut self.found, attrs, &mut self.budget)?;
                // A flag update naming no UID names no message.
                self.disturbed |= uid.is_none();
            }
            Untagged::Vanished {
                earlier: true,
                uid_set,
            } => note_vanished_earlier(&mut self.vanished, uid_set)?,
            // The mailbox changed while it was read.
            Untagged::Exists(n) => {
                (self.exists_now, self.lost, self.disturbed) = (Some(*n), 0, true);
            }
            Untagged::Expunge(_) => (self.lost, self.disturbed) = (self.lost + 1, true),
            Untagged::Vanished { uid_set, .. } => {
                let ranges = uidset::parse_ranges(uid_set).unwrap_or_default();
                self.lost += uidset::count_ranges(&ranges);
                self.disturbed = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// Once the EXAMINE was answered OK; `fetched` is the FETCH's answer.
    pub(crate) async fn finish(
        self,
        engine: &mut Engine,
        selected: &mut Option<Selected>,
        fetched: &Status,
    ) -> Result<Recheck, ImapError> {
        let Rechecking {
            qresync,
            modseq,
            label,
            reply,
            mut found,
            mut disturbed,
            vanished,
            exists_now,
            lost,
            ..
        } = self;
        let status = reply.finish(engine, selected).await?;
        if fetched.cond != Cond::Ok {
            if status.exists == 0 {
                // Nothing there to have changed.
                found.clear();
            } else {
                return Err(ImapError::Bad {
                    peer: engine.peer().clone(),
                    command: label,
                    text: fetched.text.clone(),
                });
            }
        }
        let mut changed = Vec::with_capacity(found.len());
        for (uid, m) in found {
            if m.modseq.is_none_or(|s| s > modseq) {
                match m.flags() {
                    Some(flags) => changed.push((uid, flags.clone())),
                    // A changed message whose flags did not come: not a
                    // state anyone can compare with.
                    None => disturbed = true,
                }
            }
        }
        if disturbed {
            // The session's view of the mailbox follows what came after the
            // EXAMINE (the status returned is the EXAMINE's).
            let now = exists_now.unwrap_or(status.exists);
            let now = now.saturating_sub(u32::try_from(lost).unwrap_or(u32::MAX));
            if let Some(sel) = selected.as_mut() {
                sel.exists = now;
            }
            engine.note_selected(now);
        }
        Ok(Recheck {
            status,
            changed,
            vanished: qresync.then(|| uidset::merge_ranges(vanished)),
            disturbed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::{limits, logged_in_enabling, run_script, send, spec, Step};
    use super::super::{Connection, ImapError, TlsMode};
    use crate::model::FlagSet;

    const CAPS: &str = "ENABLE CONDSTORE QRESYNC UIDPLUS UNSELECT";

    /// Logged in with QRESYNC enabled (A0001, A0002); then the flight:
    /// both commands must have arrived before the server answers either.
    fn flight(answer: &str) -> Vec<Step> {
        let mut steps =
            logged_in_enabling(CAPS, "A0002 ENABLE QRESYNC\r\n", "* ENABLED QRESYNC\r\n");
        steps.push(Step::Expect("A0003 EXAMINE \"INBOX\" (CONDSTORE)\r\n"));
        steps.push(Step::Expect(
            "A0004 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 10 VANISHED)\r\n",
        ));
        steps.push(Step::Send(answer.as_bytes().to_vec()));
        steps
    }

    const EXAMINED: &str = "* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n\
                            * OK [HIGHESTMODSEQ 14] ok\r\n";

    async fn connect(port: u16) -> Connection {
        Connection::connect_with(&spec(port, TlsMode::None), &limits())
            .await
            .expect("connect")
    }

    #[tokio::test]
    async fn fake_examine_and_changedsince_go_in_one_flight_of_one_turn() {
        let answer = format!(
            "* 3 EXISTS\r\n{EXAMINED}A0003 OK [READ-ONLY] done\r\n\
             * 1 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (12))\r\n\
             * 3 FETCH (UID 8 FLAGS () MODSEQ (14))\r\n\
             * VANISHED (EARLIER) 2:3\r\nA0004 OK fetched\r\n"
        );
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let before = c.turns();
        let seen = c.examine_changes("INBOX", 10, 3).await.expect("recheck");
        assert_eq!(c.turns() - before, 1, "one flight, one turn");
        assert_eq!(
            (
                seen.status.uidvalidity,
                seen.status.uidnext,
                seen.status.exists
            ),
            (42, 9, 3)
        );
        assert_eq!(seen.status.highestmodseq, Some(14));
        let seen_flags = FlagSet::from_wire(["\\Seen"]);
        assert_eq!(seen.changed, vec![(4, seen_flags), (8, FlagSet::new())]);
        assert_eq!(seen.vanished, Some(vec![(2, 3)]));
        assert!(!seen.disturbed);
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// Off the happy path: the EXAMINE is refused, and the FETCH sent
    /// behind it meets no mailbox (BAD). The EXAMINE's NO is the answer;
    /// the BAD does not end the session.
    #[tokio::test]
    async fn fake_a_refused_examine_is_the_answer_and_the_bad_behind_it_ends_nothing() {
        let mut steps =
            flight("A0003 NO [NONEXISTENT] no such mailbox\r\nA0004 BAD No mailbox selected\r\n");
        steps.push(Step::Expect("A0005 CREATE \"X\""));
        steps.push(send("A0005 OK created\r\n"));
        let (port, server) = run_script(steps).await;
        let mut c = connect(port).await;
        let err = c
            .examine_changes("INBOX", 10, 3)
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, ImapError::No { code: Some(code), .. } if code == "NONEXISTENT"),
            "{err:?}"
        );
        assert!(c.is_alive());
        assert!(!c.holds_writable("INBOX"));
        c.create("X").await.expect("the session goes on");
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// An empty mailbox (everything expunged): some servers answer `1:*`
    /// there with BAD, which means nothing changed. Where the mailbox is
    /// not empty, a BAD is an error.
    #[tokio::test]
    async fn fake_a_bad_fetch_behind_an_empty_mailbox_is_no_change() {
        let answer = format!(
            "* 0 EXISTS\r\n{EXAMINED}A0003 OK [READ-ONLY] done\r\nA0004 BAD invalid sequence\r\n"
        );
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let seen = c.examine_changes("INBOX", 10, 3).await.expect("recheck");
        assert_eq!((seen.status.exists, seen.changed.len()), (0, 0));
        assert!(c.is_alive());
        drop(c);
        server.await.unwrap().unwrap();

        let answer =
            format!("* 2 EXISTS\r\n{EXAMINED}A0003 OK [READ-ONLY] done\r\nA0004 BAD what\r\n");
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let err = c.examine_changes("INBOX", 10, 3).await.expect_err("BAD");
        assert!(matches!(err, ImapError::Bad { .. }), "{err:?}");
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// Mail arriving or leaving while the FETCH runs makes the answer no
    /// state to compare with.
    #[tokio::test]
    async fn fake_a_mailbox_changing_while_it_is_read_is_disturbed() {
        let answer = format!(
            "* 3 EXISTS\r\n{EXAMINED}A0003 OK [READ-ONLY] done\r\n\
             * 4 EXISTS\r\nA0004 OK fetched\r\n"
        );
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let seen = c.examine_changes("INBOX", 10, 3).await.expect("recheck");
        assert!(seen.disturbed);
        assert_eq!(seen.status.exists, 3, "the EXAMINE's count");
        drop(c);
        server.await.unwrap().unwrap();
    }
}

#[cfg(test)]
mod expunge_tests {
    use super::super::fake_server::{limits, logged_in_enabling, run_script, send, spec, Step};
    use super::super::{Connection, ImapError, Recheck, TlsMode};

    const CAPS: &str = "ENABLE CONDSTORE QRESYNC UIDPLUS UNSELECT";
    const OPENED: &str = "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n\
                          * OK [HIGHESTMODSEQ 14] ok\r\n";

    /// Logged in with QRESYNC, INBOX selected read-write (A0003); then the
    /// flight: the STORE, the UID EXPUNGE, the EXAMINE and the FETCH must
    /// all have arrived before the server answers any.
    fn flight(answer: &str) -> Vec<Step> {
        let mut steps =
            logged_in_enabling(CAPS, "A0002 ENABLE QRESYNC\r\n", "* ENABLED QRESYNC\r\n");
        steps.push(Step::Expect("A0003 SELECT \"INBOX\" (CONDSTORE)\r\n"));
        steps.push(send(&format!("{OPENED}A0003 OK [READ-WRITE] done\r\n")));
        steps.push(Step::Expect(
            "A0004 UID STORE 5 +FLAGS.SILENT (\\Deleted)\r\n",
        ));
        steps.push(Step::Expect("A0005 UID EXPUNGE 5\r\n"));
        steps.push(Step::Expect("A0006 EXAMINE \"INBOX\" (CONDSTORE)\r\n"));
        steps.push(Step::Expect(
            "A0007 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 10 VANISHED)\r\n",
        ));
        steps.push(Step::Send(answer.as_bytes().to_vec()));
        steps
    }

    const WRITTEN: &str =
        "A0004 OK stored\r\n* VANISHED 5\r\nA0005 OK [HIGHESTMODSEQ 15] expunged\r\n";
    const READ: &str = "* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n\
                        * OK [HIGHESTMODSEQ 15] ok\r\nA0006 OK [READ-ONLY] done\r\n\
                        * VANISHED (EARLIER) 5\r\nA0007 OK fetched\r\n";

    /// The flight answered `answer`, then `after` (the steps of what the
    /// session does next, if it may go on): the result, whether the
    /// session lives, and the turns the flight took.
    async fn expunge(
        answer: &str,
        after: Vec<Step>,
    ) -> (Result<Option<Recheck>, ImapError>, bool, u64) {
        let mut steps = flight(answer);
        let go_on = after.iter().any(|s| matches!(s, Step::Expect(_)));
        steps.extend(after);
        let (port, server) = run_script(steps).await;
        let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
            .await
            .expect("connect");
        c.select("INBOX", false).await.expect("selected");
        let before = c.turns();
        let result = c.uid_expunge_reading_back(&[5], "INBOX", 10, 3).await;
        let turns = c.turns() - before;
        let alive = c.is_alive();
        if go_on {
            c.create("X").await.expect("the session goes on");
        }
        drop(c);
        server.await.unwrap().unwrap();
        (result, alive, turns)
    }

    fn then_create() -> Vec<Step> {
        vec![
            Step::Expect("A0008 CREATE \"X\""),
            send("A0008 OK created\r\n"),
        ]
    }

    /// The writes and the read-back behind them: one turn; the read-back
    /// is the one EXAMINE and CHANGEDSINCE give after the expunge.
    #[tokio::test]
    async fn fake_uid_expunge_and_its_read_back_go_in_one_flight_of_one_turn() {
        let (result, alive, turns) = expunge(&format!("{WRITTEN}{READ}"), vec![]).await;
        let seen = result.expect("expunged").expect("read back");
        assert_eq!(turns, 1, "one flight, one turn");
        assert!(alive);
        assert_eq!(
            (seen.status.exists, seen.status.highestmodseq),
            (2, Some(15))
        );
        assert_eq!(seen.vanished, Some(vec![(5, 5)]));
        assert!(seen.changed.is_empty() && !seen.disturbed, "{seen:?}");
    }

    /// Off the happy path: a NO to the STORE, the first command of the
    /// flight: the expunge failed (the error the action log records as
    /// refused), the answers behind it are read, the session lives on.
    #[tokio::test]
    async fn fake_a_refused_store_is_the_flights_error_and_the_session_goes_on() {
        let answer = format!(
            "A0004 NO [CANNOT] read-only\r\nA0005 OK [HIGHESTMODSEQ 14] expunged\r\n{READ}"
        );
        let (result, alive, _) = expunge(&answer, then_create()).await;
        let err = result.expect_err("refused");
        assert!(matches!(err, ImapError::No { .. }), "{err:?}");
        assert!(alive);
    }

    /// The expunge went through, the read-back's EXAMINE is refused (and
    /// the FETCH behind it meets no mailbox): done, with nothing read back
    /// (the caller reads back on its own); BAD behind ends nothing.
    #[tokio::test]
    async fn fake_a_refused_read_back_leaves_the_expunge_done() {
        let answer =
            format!("{WRITTEN}A0006 NO [NONEXISTENT] gone\r\nA0007 BAD No mailbox selected\r\n");
        let (result, alive, _) = expunge(&answer, then_create()).await;
        assert_eq!(result.expect("expunged"), None);
        assert!(alive);
    }

    /// The connection is cut after the UID EXPUNGE's answer, with the
    /// read-back unanswered: an error (the expunge's outcome unknown to
    /// the log: failed, proven again next run), and the session is over.
    #[tokio::test]
    async fn fake_a_connection_cut_mid_flight_is_an_error() {
        let mut answer = WRITTEN.to_string();
        answer.push_str("* 2 EXISTS\r\n");
        let (result, alive, _) = expunge(&answer, vec![Step::Close]).await;
        assert!(result.is_err(), "{result:?}");
        assert!(!alive);
    }
}
