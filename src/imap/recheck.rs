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
//! Nothing here writes: no destructive command ever rides behind a SELECT
//! whose UIDVALIDITY was not checked.

use super::bounds::{Bound, Budget};
use super::commands::{absorb_meta, PartialMeta, Selected};
use super::engine::{Command, Engine};
use super::error::ImapError;
use super::history::note_vanished_earlier;
use super::parse::{Cond, Untagged};
use super::select::Selecting;
use super::{uidset, HistorySupport, Recheck};
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
    let (examine, mut reply) = Selecting::start(engine, selected, name, true, true)?;
    let mut found: BTreeMap<Uid, PartialMeta> = BTreeMap::new();
    let mut budget = Budget::messages("changed messages", room);
    let mut vanished: Vec<(Uid, Uid)> = Vec::new();
    let mut disturbed = false;
    // EXISTS as the data after the EXAMINE leaves it: the last EXISTS
    // (None: the EXAMINE's), less the messages expunged after it.
    let (mut exists_now, mut lost) = (None::<u32>, 0u64);
    let done = engine
        .run(vec![examine, fetch], 2, &mut |i, u| {
            if i == 0 {
                reply.absorb(u);
                return Ok(());
            }
            match u {
                Untagged::Fetch { attrs, .. } => {
                    let uid = absorb_meta(&mut found, attrs, &mut budget)?;
                    // A flag update naming no UID names no message.
                    disturbed |= uid.is_none();
                }
                Untagged::Vanished {
                    earlier: true,
                    uid_set,
                } => note_vanished_earlier(&mut vanished, uid_set)?,
                // The mailbox changed while it was read.
                Untagged::Exists(n) => {
                    (exists_now, lost, disturbed) = (Some(*n), 0, true);
                }
                Untagged::Expunge(_) => (lost, disturbed) = (lost + 1, true),
                Untagged::Vanished { uid_set, .. } => {
                    let ranges = uidset::parse_ranges(uid_set).unwrap_or_default();
                    (lost, disturbed) = (lost + uidset::count_ranges(&ranges), true);
                }
                _ => {}
            }
            Ok(())
        })
        .await?;
    // The EXAMINE succeeded (else `run` returned its NO): the FETCH read
    // this mailbox.
    let status = reply.finish(engine, selected).await?;
    let fetched = &done[1];
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
