//! Several changed mailboxes read in one flight ([`read_ahead`]): for
//! each, `SELECT name (CONDSTORE)` (EXAMINE for a read-only run), `UID
//! FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ) (CHANGEDSINCE m
//! VANISHED)` from the saved mod-sequence and, where asked, `UID FETCH
//! lo:hi (UID BODY.PEEK[]<0.limit>)` for the UIDs above the saved UIDNEXT
//! (the new mail) — every command sent before any answer is read, so the
//! whole listing of a run's changed mailboxes costs one turn where each
//! mailbox took two (its open's flight, then its new bodies).
//!
//! The answers arrive in order, so each is the one of the mailbox whose
//! commands it follows, and each mailbox is judged alone, as
//! [`super::open_changes`] judges one: its answer is used only where its
//! SELECT was answered OK with the UIDVALIDITY the caller listed it
//! against, mod-sequences and messages, its CHANGEDSINCE answered OK and
//! complete, and nothing was added or expunged while its reads ran. Else
//! that mailbox's answer is None — its bodies dropped with it — and the
//! caller asks that mailbox again alone, as before. A SELECT that fails
//! leaves no mailbox selected (RFC 3501 §6.3.1): the reads behind it meet
//! none and are answers, not a broken session (`failure_is_an_answer`),
//! and nothing they say is used.
//!
//! The bodies are asked partially, at most `limit` bytes each: one that
//! came shorter than that is the whole body (RFC 3501 §6.4.5: fewer octets
//! than asked only where the text ends); one that filled it may be cut
//! short and is dropped (the caller reads it as before). So the flight
//! brings at most `limit` bytes per message asked, whatever is in the
//! mailbox. Only reads ride here; the session ends holding the last
//! mailbox whose open succeeded (none where that one was disturbed).

use super::bounds::{Bound, Budget};
use super::commands::{PartialMeta, Selected};
use super::engine::{Command, Engine};
use super::error::ImapError;
use super::history::{absorb_change, changes_command, finish_changes};
use super::parse::{self, Cond, Untagged};
use super::select::Selecting;
use super::{Changes, Limits};
use crate::model::{MailboxStatus, Uid};
use imap_proto::AttributeValue;
use std::collections::BTreeMap;

/// One mailbox to read ahead.
#[derive(Debug, Clone)]
pub struct Ahead {
    /// Its wire name.
    pub name: String,
    /// The UIDVALIDITY the history is asked against.
    pub uidvalidity: u32,
    /// The mod-sequence it is asked since.
    pub modseq: u64,
    /// How many messages the caller expects there (bounds the answer).
    pub expected: u32,
    /// The UIDs (inclusive range) whose bodies ride along, if any.
    pub bodies: Option<(Uid, Uid)>,
}

/// What the flight read of one mailbox, where it can be used.
#[derive(Debug)]
pub struct AheadRead {
    /// The open's status.
    pub status: MailboxStatus,
    /// The change history since the saved mod-sequence.
    pub changes: Changes,
    /// The bodies that came whole, in UID order.
    pub bodies: Vec<(Uid, Vec<u8>)>,
}

/// Which mailbox, and which of its commands, a command of the flight is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Open,
    Changes,
    Bodies,
}

/// A mailbox's answers as they arrive.
struct Gathering {
    reply: Selecting,
    found: BTreeMap<Uid, PartialMeta>,
    budget: Budget,
    earlier: Vec<(Uid, Uid)>,
    bodies: BTreeMap<Uid, Vec<u8>>,
    disturbed: bool,
}

/// Reads `targets` in one flight (see the module's doc): per target, in
/// order, Some where its answer can be used. Err only where the session
/// failed (cut, a protocol error): nothing of the flight is used then.
/// Needs QRESYNC (the caller checks): VANISHED says what went.
pub(crate) async fn read_ahead(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    read_only: bool,
    targets: &[Ahead],
    limit: u32,
) -> Result<Vec<Option<AheadRead>>, ImapError> {
    let mut cmds: Vec<Command<'_>> = Vec::new();
    let mut roles: Vec<(usize, Role)> = Vec::new();
    let mut gathering = Vec::with_capacity(targets.len());
    for (k, t) in targets.iter().enumerate() {
        let (open, reply) = Selecting::start(engine, selected, &t.name, read_only, true)?;
        cmds.push(open.no_is_an_answer());
        roles.push((k, Role::Open));
        let room = t.expected.saturating_mul(2).saturating_add(1000);
        let label = format!("UID FETCH 1:* (CHANGEDSINCE {}) in {:?}", t.modseq, t.name);
        cmds.push(
            changes_command(&label, t.modseq, true)
                .bounded(Bound::listing(room))
                .failure_is_an_answer(),
        );
        roles.push((k, Role::Changes));
        if let Some((lo, hi)) = t.bodies.filter(|(lo, hi)| lo <= hi) {
            let n = (hi - lo + 1) as usize;
            let sizes = vec![u64::from(limit); n];
            cmds.push(
                Command::new(
                    "UID FETCH",
                    format!("UID FETCH ({n} new bodies from {:?})", t.name),
                )
                .text(format!(" {lo}:{hi} (UID BODY.PEEK[]<0.{limit}>)"))
                .carrying_messages(n)
                .bounded(Bound::bodies(&sizes, room, limits.max_literal))
                .failure_is_an_answer(),
            );
            roles.push((k, Role::Bodies));
        }
        gathering.push(Gathering {
            reply,
            found: BTreeMap::new(),
            budget: Budget::messages("changed messages", room),
            earlier: Vec::new(),
            bodies: BTreeMap::new(),
            disturbed: false,
        });
    }
    let window = cmds.len().max(1);
    let done = engine
        .run(cmds, window, &mut |i, u| {
            let (k, role) = roles[i];
            let g = &mut gathering[k];
            if role == Role::Open {
                g.reply.absorb(u);
                return Ok(());
            }
            // A server may run a mailbox's FETCHes side by side (RFC 3501
            // §5.5): a body may come before the history's tagged answer,
            // so what a FETCH carries says which read it answers. (The
            // next mailbox's SELECT waits for them: it changes what the
            // session has selected.)
            if let Untagged::Fetch { attrs, .. } = u {
                if let Some(data) = head(attrs) {
                    let range = targets[k].bodies.unwrap_or((1, 0));
                    let whole = (data.len() as u64) < u64::from(limit);
                    match parse::fetch_uid(attrs) {
                        Some(uid) if whole && (range.0..=range.1).contains(&uid) => {
                            g.bodies.entry(uid).or_insert_with(|| data.to_vec());
                        }
                        _ => {}
                    }
                    return Ok(());
                }
            }
            if !absorb_change(u, &mut g.found, &mut g.budget, &mut g.earlier)? {
                g.disturbed |= disturbs(u);
            }
            Ok(())
        })
        .await?;
    let mut out = Vec::with_capacity(targets.len());
    let mut at = 0;
    for (k, g) in gathering.into_iter().enumerate() {
        let t = &targets[k];
        let commands = if t.bodies.is_some_and(|(lo, hi)| lo <= hi) {
            3
        } else {
            2
        };
        let answers = &done[at..at + commands];
        at += commands;
        if answers[0].cond != Cond::Ok {
            // No mailbox is selected after a failed SELECT.
            *selected = None;
            out.push(None);
            continue;
        }
        let status = g.reply.finish(engine, selected).await?;
        if g.disturbed {
            // The session's view is no longer the SELECT's.
            *selected = None;
        }
        let incomplete = (g.found.values()).any(|m| !m.is_complete() && m.modseq > Some(t.modseq));
        let usable = status.uidvalidity == t.uidvalidity
            && status.highestmodseq.is_some()
            && status.exists > 0
            && answers[1].cond == Cond::Ok
            && !g.disturbed
            && !incomplete;
        if !usable {
            out.push(None);
            continue;
        }
        let label = format!("UID FETCH 1:* (CHANGEDSINCE {}) in {:?}", t.modseq, t.name);
        // Nothing left to re-read (checked above): no command is sent.
        let changes = finish_changes(
            engine,
            selected,
            limits,
            &label,
            t.modseq,
            true,
            g.found,
            Vec::new(),
            g.earlier,
        )
        .await?;
        // A FETCH of the bodies that was not answered OK gave none to use.
        let bodies = match answers.get(2) {
            Some(s) if s.cond == Cond::Ok => g.bodies.into_iter().collect(),
            _ => Vec::new(),
        };
        out.push(Some(AheadRead {
            status,
            changes,
            bodies,
        }));
    }
    Ok(out)
}

/// Untagged data that says the selected mailbox changed under the reads.
fn disturbs(u: &Untagged<'_>) -> bool {
    matches!(
        u,
        Untagged::Exists(_) | Untagged::Expunge(_) | Untagged::Vanished { earlier: false, .. }
    )
}

/// The data of a `BODY[]<0>` (a partial fetch from the first octet).
fn head<'a>(attrs: &'a [AttributeValue<'a>]) -> Option<&'a [u8]> {
    attrs.iter().find_map(|a| match a {
        AttributeValue::BodySection {
            section: None,
            index: Some(0),
            data: Some(d),
        } => Some(&d[..]),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::{
        expect, limits, logged_in_enabling, run_script, spec, Server, Step,
    };
    use super::super::{Ahead, AheadRead, Connection, ImapError, TlsMode};
    use crate::model::Uid;

    const CAPS: &str = "ENABLE CONDSTORE QRESYNC UIDPLUS UNSELECT";
    /// The most bytes of a body the tests' flights ask.
    const LIMIT: u32 = 64;
    const BODY: &str = "Subject: new\r\n\r\nhello\r\n";
    const DATE: &str = "\"01-Jan-2024 10:00:00 +0000\"";

    fn selected(uidvalidity: u32, exists: u32) -> String {
        format!(
            "* {exists} EXISTS\r\n* OK [UIDVALIDITY {uidvalidity}] ok\r\n* OK [UIDNEXT 10] ok\r\n\
             * OK [HIGHESTMODSEQ 14] ok\r\n"
        )
    }

    /// INBOX (UIDVALIDITY 42, its new UID 9's body asked) and Work (43,
    /// no new mail).
    fn targets() -> Vec<Ahead> {
        vec![
            Ahead {
                name: "INBOX".into(),
                uidvalidity: 42,
                modseq: 10,
                expected: 3,
                bodies: Some((9, 9)),
            },
            Ahead {
                name: "Work".into(),
                uidvalidity: 43,
                modseq: 10,
                expected: 3,
                bodies: None,
            },
        ]
    }

    /// Logged in with QRESYNC enabled (A0001, A0002); then the flight: every
    /// command must have arrived before the server answers any.
    fn flight(answer: String) -> Vec<Step> {
        let mut steps =
            logged_in_enabling(CAPS, "A0002 ENABLE QRESYNC\r\n", "* ENABLED QRESYNC\r\n");
        let changes = "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ) \
                       (CHANGEDSINCE 10 VANISHED)\r\n";
        steps.extend([
            Step::Expect("A0003 SELECT \"INBOX\" (CONDSTORE)\r\n"),
            expect(format!("A0004 {changes}")),
            Step::Expect("A0005 UID FETCH 9:9 (UID BODY.PEEK[]<0.64>)\r\n"),
            Step::Expect("A0006 SELECT \"Work\" (CONDSTORE)\r\n"),
            expect(format!("A0007 {changes}")),
            Step::Send(answer.into_bytes()),
        ]);
        steps
    }

    /// INBOX's answer: the body comes before the history's tagged OK, as
    /// Dovecot sends it (it runs the two FETCHes side by side).
    fn inbox(body: &str) -> String {
        format!(
            "{}A0003 OK [READ-WRITE] done\r\n\
             * 3 FETCH (UID 9 BODY[]<0> {{{n}}}\r\n{body})\r\n\
             * 3 FETCH (UID 9 FLAGS () RFC822.SIZE {n} INTERNALDATE {DATE} MODSEQ (14))\r\n\
             A0004 OK fetched\r\nA0005 OK fetched\r\n",
            selected(42, 3),
            n = body.len()
        )
    }

    fn work(uidvalidity: u32, changes: &str) -> String {
        format!(
            "* OK [CLOSED] closed\r\n{}A0006 OK [READ-WRITE] done\r\n\
             * VANISHED (EARLIER) 2\r\n\
             * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 20 INTERNALDATE {DATE} MODSEQ (13))\r\n\
             A0007 {changes}\r\n",
            selected(uidvalidity, 2)
        )
    }

    /// The flight read by a session to a server following `steps`.
    async fn read_from(
        steps: Vec<Step>,
    ) -> (
        Connection,
        Server,
        Result<Vec<Option<AheadRead>>, ImapError>,
    ) {
        let (port, server) = run_script(steps).await;
        let mut c = Connection::connect_with(&spec(port, TlsMode::None), &limits())
            .await
            .expect("connect");
        let before = c.turns();
        let read = c.read_ahead(false, &targets(), LIMIT).await;
        if read.is_ok() {
            assert_eq!(c.turns() - before, 1, "one flight, one turn");
        }
        (c, server, read)
    }

    fn uids(r: &AheadRead) -> Vec<Uid> {
        r.changes.changed.iter().map(|m| m.uid).collect()
    }

    /// Both mailboxes' opens, histories and the new body: one turn; each
    /// answer is its own mailbox's, the body kept whole, and the session
    /// holds the last mailbox opened.
    #[tokio::test]
    async fn fake_two_mailboxes_and_a_new_body_are_read_in_one_turn() {
        let answer = format!("{}{}", inbox(BODY), work(43, "OK fetched"));
        let (c, server, read) = read_from(flight(answer)).await;
        let read = read.expect("read");
        let (inbox, work) = (
            read[0].as_ref().expect("INBOX"),
            read[1].as_ref().expect("Work"),
        );
        assert_eq!((inbox.status.uidvalidity, uids(inbox)), (42, vec![9]));
        assert_eq!(inbox.bodies, vec![(9, BODY.as_bytes().to_vec())]);
        assert_eq!(inbox.changes.vanished, Some(vec![]));
        assert_eq!((work.status.uidvalidity, uids(work)), (43, vec![1]));
        assert_eq!(work.changes.vanished, Some(vec![(2, 2)]));
        assert!(work.bodies.is_empty());
        assert!(c.holds_writable_at("Work", 43));
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// Off the happy path: a NO to the first SELECT of the flight, with
    /// BADs to the reads behind it. That mailbox has no answer (its body,
    /// had one come, is dropped with it); the next one's stands.
    #[tokio::test]
    async fn fake_a_refused_first_select_drops_that_mailbox_alone() {
        let answer = format!(
            "A0003 NO [NONEXISTENT] no such mailbox\r\nA0004 BAD No mailbox selected\r\n\
             A0005 BAD No mailbox selected\r\n{}",
            work(43, "OK fetched")
        );
        let (c, server, read) = read_from(flight(answer)).await;
        let read = read.expect("read");
        assert!(read[0].is_none());
        assert_eq!(uids(read[1].as_ref().expect("Work")), vec![1]);
        assert!(c.is_alive());
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// The second mailbox was recreated since it was listed: its answer
    /// (UIDs that meant other messages) is dropped, the first one's kept;
    /// the session holds it at the UIDVALIDITY it has now, not the listed.
    #[tokio::test]
    async fn fake_another_uidvalidity_drops_that_mailbox_alone() {
        let answer = format!("{}{}", inbox(BODY), work(44, "OK fetched"));
        let (c, server, read) = read_from(flight(answer)).await;
        let read = read.expect("read");
        assert_eq!(read[0].as_ref().expect("INBOX").bodies.len(), 1);
        assert!(read[1].is_none());
        assert!(!c.holds_at("Work", 43));
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// A BAD to a history drops that mailbox's answer; a BAD to the body
    /// FETCH leaves its history and no body (read later as before).
    #[tokio::test]
    async fn fake_a_bad_fetch_drops_what_it_answered() {
        let answer = format!("{}{}", inbox(BODY), work(43, "BAD what"));
        let (c, server, read) = read_from(flight(answer)).await;
        let read = read.expect("read");
        assert!(read[0].is_some());
        assert!(read[1].is_none());
        assert!(c.is_alive());
        drop(c);
        server.await.unwrap().unwrap();

        let inbox = inbox(BODY).replace("A0005 OK fetched", "A0005 BAD what");
        let answer = format!("{inbox}{}", work(43, "OK fetched"));
        let (c, server, read) = read_from(flight(answer)).await;
        let read = read.expect("read");
        let inbox = read[0].as_ref().expect("INBOX");
        assert_eq!((uids(inbox), inbox.bodies.len()), (vec![9], 0));
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// A body that fills the bytes asked may be cut short: not kept (it
    /// is read as before); mail arriving while a mailbox's reads ran drops
    /// its answer and leaves no mailbox held.
    #[tokio::test]
    async fn fake_a_full_body_or_a_disturbed_mailbox_is_not_used() {
        let full = "x".repeat(LIMIT as usize);
        let answer = format!("{}{}", inbox(&full), work(43, "OK fetched"));
        let (c, server, read) = read_from(flight(answer)).await;
        let read = read.expect("read");
        assert!(read[0].as_ref().expect("INBOX").bodies.is_empty());
        drop(c);
        server.await.unwrap().unwrap();

        let work = work(43, "OK fetched").replace("A0007 OK", "* 3 EXISTS\r\nA0007 OK");
        let answer = format!("{}{work}", inbox(BODY));
        let (c, server, read) = read_from(flight(answer)).await;
        let read = read.expect("read");
        assert!(read[0].is_some());
        assert!(read[1].is_none());
        assert!(!c.holds_at("Work", 43));
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// The connection is cut after the first mailbox's answers, the rest
    /// unanswered: an error, nothing of the flight is used, the session
    /// is over.
    #[tokio::test]
    async fn fake_a_connection_cut_mid_flight_is_an_error() {
        let mut steps = flight(inbox(BODY));
        steps.push(Step::Close);
        let (c, server, read) = read_from(steps).await;
        assert!(read.is_err(), "{read:?}");
        assert!(!c.is_alive());
        drop(c);
        server.await.unwrap().unwrap();
    }
}
