//! Opening a mailbox to list it through its change history, in one
//! flight: `SELECT name (CONDSTORE)` (EXAMINE for a read-only run) and,
//! pipelined behind it, `UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE
//! MODSEQ) (CHANGEDSINCE m [VANISHED])` from the saved mod-sequence — one
//! turn where the SELECT and then the FETCH took two ([`open_with_changes`]).
//!
//! The FETCH is sent before the SELECT's answer is known, so its answer is
//! used only where that answer shows what the caller listed it against:
//! the UIDVALIDITY the snapshot saved (else the UIDs it names meant other
//! messages), mod-sequences, messages (some servers answer `1:*` on an
//! empty mailbox with BAD), a FETCH answered OK, and nothing added or
//! expunged while it ran. Otherwise its answer is dropped and the caller
//! is where a plain SELECT would have left it (after a mailbox changed
//! mid-flight, by one more SELECT): it asks the history on its own, one
//! turn more, as before. A FETCH that meets no mailbox (the SELECT was
//! refused) is an answer, not a broken session
//! (`failure_is_an_answer`); the SELECT's NO is the error.
//! Only a read rides here.

use super::bounds::{Bound, Budget};
use super::commands::{self, PartialMeta, Selected};
use super::engine::Engine;
use super::error::ImapError;
use super::history::{absorb_change, changes_command, finish_changes};
use super::parse::{Cond, Untagged};
use super::select::Selecting;
use super::{Changes, HistorySupport, Limits};
use crate::model::{MailboxStatus, Uid};
use std::collections::BTreeMap;

/// What the caller lists the mailbox against.
pub(crate) struct Listing<'n> {
    pub name: &'n str,
    pub read_only: bool,
    /// The UIDVALIDITY the history is asked against.
    pub uidvalidity: u32,
    /// The mod-sequence it is asked since.
    pub modseq: u64,
    /// How many messages the caller expects there (bounds the answer).
    pub expected: u32,
}

/// Opens `target.name` and asks what changed there since `target.modseq`
/// in the same flight. The status is the open's; the changes are None
/// where the answer could not be used (see the module's doc). Needs
/// CONDSTORE (the caller checks).
pub(crate) async fn open_with_changes(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    history: HistorySupport,
    limits: &Limits,
    target: &Listing<'_>,
) -> Result<(MailboxStatus, Option<Changes>), ImapError> {
    let qresync = history == HistorySupport::Qresync;
    let (name, modseq) = (target.name, target.modseq);
    let label = format!("UID FETCH 1:* (CHANGEDSINCE {modseq}) in {name:?}");
    // Room for a mailbox that grew since it was counted: past it the
    // command fails, and the mailbox is not listed this run.
    let room = target.expected.saturating_mul(2).saturating_add(1000);
    let fetch = changes_command(&label, modseq, qresync)
        .bounded(Bound::listing(room))
        .failure_is_an_answer();
    let (open, mut reply) = Selecting::start(engine, selected, name, target.read_only, true)?;
    let mut found: BTreeMap<Uid, PartialMeta> = BTreeMap::new();
    let mut budget = Budget::messages("changed messages", room);
    let mut earlier: Vec<(Uid, Uid)> = Vec::new();
    let mut disturbed = false;
    let done = engine
        .run(vec![open, fetch], 2, &mut |i, u| {
            if i == 0 {
                reply.absorb(u);
                return Ok(());
            }
            if !absorb_change(u, &mut found, &mut budget, &mut earlier)? {
                // Added or expunged while it was read: the session's view
                // is no longer the SELECT's.
                disturbed |= matches!(
                    u,
                    Untagged::Exists(_) | Untagged::Expunge(_) | Untagged::Vanished { .. }
                );
            }
            Ok(())
        })
        .await?;
    // The open succeeded (else `run` returned its NO): the FETCH read
    // this mailbox.
    let status = reply.finish(engine, selected).await?;
    if disturbed {
        let again = commands::select(engine, selected, name, target.read_only, true).await?;
        return Ok((again, None));
    }
    let usable = status.uidvalidity == target.uidvalidity
        && status.highestmodseq.is_some()
        && status.exists > 0
        && done[1].cond == Cond::Ok;
    if !usable {
        return Ok((status, None));
    }
    let changes = finish_changes(
        engine,
        selected,
        limits,
        &label,
        modseq,
        qresync,
        found,
        Vec::new(),
        earlier,
    )
    .await?;
    Ok((status, Some(changes)))
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::{limits, logged_in_enabling, run_script, send, spec, Step};
    use super::super::{Changes, Connection, ImapError, MailboxStatus, TlsMode};

    const CAPS: &str = "ENABLE CONDSTORE QRESYNC UIDPLUS UNSELECT";
    const SELECTED: &str = "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n\
                            * OK [HIGHESTMODSEQ 14] ok\r\n";
    const FETCH: &str = "A0004 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ) \
                         (CHANGEDSINCE 10 VANISHED)\r\n";
    const CHANGED: &str = "* VANISHED (EARLIER) 2\r\n\
        * 2 FETCH (UID 8 FLAGS (\\Seen) RFC822.SIZE 20 INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" MODSEQ (13))\r\n";

    /// Logged in with QRESYNC enabled (A0001, A0002); then the flight:
    /// the SELECT and the FETCH must both have arrived before the server
    /// answers either.
    fn flight(answer: &str) -> Vec<Step> {
        let mut steps =
            logged_in_enabling(CAPS, "A0002 ENABLE QRESYNC\r\n", "* ENABLED QRESYNC\r\n");
        steps.push(Step::Expect("A0003 SELECT \"INBOX\" (CONDSTORE)\r\n"));
        steps.push(Step::Expect(FETCH));
        steps.push(Step::Send(answer.as_bytes().to_vec()));
        steps
    }

    async fn connect(port: u16) -> Connection {
        Connection::connect_with(&spec(port, TlsMode::None), &limits())
            .await
            .expect("connect")
    }

    async fn open(
        c: &mut Connection,
        uidvalidity: u32,
    ) -> Result<(MailboxStatus, Option<Changes>), ImapError> {
        c.select_with_changes("INBOX", false, uidvalidity, 10, 3)
            .await
    }

    /// The SELECT and the history behind it: one turn, the changes as a
    /// FETCH after a SELECT would give them.
    #[tokio::test]
    async fn fake_select_and_changedsince_go_in_one_flight_of_one_turn() {
        let answer =
            format!("{SELECTED}A0003 OK [READ-WRITE] done\r\n{CHANGED}A0004 OK fetched\r\n");
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let before = c.turns();
        let (status, changes) = open(&mut c, 42).await.expect("opened");
        assert_eq!(c.turns() - before, 1, "one flight, one turn");
        assert_eq!((status.uidvalidity, status.exists), (42, 3));
        let changes = changes.expect("the history is used");
        assert_eq!(
            changes.changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
            vec![8]
        );
        assert_eq!(changes.vanished, Some(vec![(2, 2)]));
        assert!(c.holds_writable_at("INBOX", 42));
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// Off the happy path: a NO to the SELECT, the first command of the
    /// flight, with a BAD to the FETCH behind it. The NO is the answer,
    /// the session lives on.
    #[tokio::test]
    async fn fake_a_refused_select_is_the_answer_and_the_bad_behind_it_ends_nothing() {
        let mut steps =
            flight("A0003 NO [NONEXISTENT] no such mailbox\r\nA0004 BAD No mailbox selected\r\n");
        steps.push(Step::Expect("A0005 CREATE \"X\""));
        steps.push(send("A0005 OK created\r\n"));
        let (port, server) = run_script(steps).await;
        let mut c = connect(port).await;
        let err = open(&mut c, 42).await.expect_err("refused");
        assert!(err.says_nonexistent(), "{err:?}");
        assert!(c.is_alive());
        assert!(!c.holds_at("INBOX", 42));
        c.create("X").await.expect("the session goes on");
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// The mailbox was recreated since it was listed: the history asked
    /// against the saved UIDVALIDITY is dropped (its UIDs meant other
    /// messages); the mailbox is held as the SELECT left it. A BAD to the
    /// FETCH of a mailbox that is not empty drops the answer too.
    #[tokio::test]
    async fn fake_another_uidvalidity_or_a_bad_fetch_drops_the_history() {
        let answer =
            format!("{SELECTED}A0003 OK [READ-WRITE] done\r\n{CHANGED}A0004 OK fetched\r\n");
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let (status, changes) = open(&mut c, 41).await.expect("opened");
        assert_eq!(status.uidvalidity, 42);
        assert!(changes.is_none(), "{changes:?}");
        assert!(c.holds_writable_at("INBOX", 42));
        drop(c);
        server.await.unwrap().unwrap();

        let answer = format!("{SELECTED}A0003 OK [READ-WRITE] done\r\nA0004 BAD what\r\n");
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let (_, changes) = open(&mut c, 42).await.expect("opened");
        assert!(changes.is_none(), "{changes:?}");
        assert!(c.is_alive());
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// A message expunged while the history was read: the answer is
    /// dropped and the mailbox selected again, so the session's view is
    /// the server's (one SELECT more).
    #[tokio::test]
    async fn fake_a_mailbox_changed_mid_flight_is_selected_again() {
        let answer = format!(
            "{SELECTED}A0003 OK [READ-WRITE] done\r\n{CHANGED}* 1 EXPUNGE\r\nA0004 OK fetched\r\n"
        );
        let mut steps = flight(&answer);
        steps.push(Step::Expect("A0005 SELECT \"INBOX\" (CONDSTORE)\r\n"));
        steps.push(send(
            "* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n\
             * OK [HIGHESTMODSEQ 15] ok\r\nA0005 OK [READ-WRITE] done\r\n",
        ));
        let (port, server) = run_script(steps).await;
        let mut c = connect(port).await;
        let (status, changes) = open(&mut c, 42).await.expect("opened");
        assert!(changes.is_none(), "{changes:?}");
        assert_eq!((status.exists, status.highestmodseq), (2, Some(15)));
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// The connection is cut after the SELECT's answer, with the FETCH
    /// unanswered: an error, and the session is over.
    #[tokio::test]
    async fn fake_a_connection_cut_mid_flight_is_an_error() {
        let mut steps = flight(&format!("{SELECTED}A0003 OK [READ-WRITE] done\r\n"));
        steps.push(Step::Close);
        let (port, server) = run_script(steps).await;
        let mut c = connect(port).await;
        let err = open(&mut c, 42).await;
        assert!(err.is_err(), "{err:?}");
        assert!(!c.is_alive());
        drop(c);
        server.await.unwrap().unwrap();
    }
}
