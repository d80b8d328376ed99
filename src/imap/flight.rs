//! Reads that ride in one flight with the SELECT or EXAMINE that opens
//! their mailbox: the metadata of some UIDs (`UID FETCH set (UID FLAGS
//! RFC822.SIZE INTERNALDATE)`) and the bodies of others (`UID FETCH set
//! (UID BODY.PEEK[])`), sent right behind the open, so that reading a
//! mailbox the session does not hold costs one turn, not two
//! ([`read_in_flight`]). Where the session holds the mailbox already (the
//! same UIDVALIDITY, in a mode that serves) nothing is opened.
//!
//! The UIDVALIDITY the caller names is checked on the answers: where the
//! open shows another one, every answer of the flight is dropped
//! ([`ImapError::Invalid`]) and nothing read is used — the UIDs named
//! meant other messages. The FETCHes may meet no mailbox (the open failed:
//! its NO is the error, the session lives on) or an empty one (BAD to a
//! set that names nothing there): both are read as their answers
//! ([`Command::failure_is_an_answer`]). Only reads ride here: no write is
//! ever sent behind an open whose UIDVALIDITY was not checked.

use super::bounds::{Bound, Budget};
use super::commands::{
    absorb_meta, finish_meta, invalid, same_mailbox, track, whole_body, PartialMeta,
};
use super::engine::{Command, Engine, Keep};
use super::error::ImapError;
use super::parse::{self, Cond, Untagged};
use super::select::Selecting;
use super::selected::Selected;
use super::{uidset, Limits};
use crate::model::{ListedMessage, Uid};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Where the reads go: `name`, which must have `uidvalidity`; opened with
/// EXAMINE when `read_only`, else SELECT (a read-write hold serves either).
pub(crate) struct Target<'n> {
    pub name: &'n str,
    pub read_only: bool,
    pub uidvalidity: u32,
    pub condstore: bool,
}

/// What one flight read.
#[derive(Debug, Default)]
pub struct FlightRead {
    /// The metadata of the UIDs asked that the mailbox holds, in UID order.
    pub meta: Vec<ListedMessage>,
    /// The UIDs whose bodies were asked and did not come (gone).
    pub gone: Vec<Uid>,
    /// Whether an open (SELECT or EXAMINE) went in the flight.
    pub opened: bool,
}

/// Whether the session holds `target` already, in a mode that serves it.
pub(crate) fn holds(selected: &Option<Selected>, target: &Target<'_>) -> bool {
    selected.as_ref().is_some_and(|s| {
        same_mailbox(&s.name, target.name)
            && s.uidvalidity == target.uidvalidity
            && (target.read_only || !s.read_only)
    })
}

/// Reads the metadata of `meta` and the bodies of `bodies` (each with its
/// size where known, 0 if not, for the bound) in `target`, opening it in
/// the same flight unless the session holds it. `on_body` gets each body;
/// what it was handed is the caller's to drop if this returns an error.
pub(crate) async fn read_in_flight(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    target: &Target<'_>,
    meta: &[Uid],
    bodies: &[(Uid, u32)],
    on_body: &mut (dyn FnMut(Uid, Vec<u8>) + Send),
) -> Result<FlightRead, ImapError> {
    let open = !holds(selected, target);
    let mut cmds: Vec<Command<'_>> = Vec::new();
    let mut opening = None;
    if open {
        let (cmd, reply) = Selecting::start(
            engine,
            selected,
            target.name,
            target.read_only,
            target.condstore,
        )?;
        cmds.push(cmd);
        opening = Some(reply);
    }
    let exists = selected.as_ref().map_or(0, |s| s.exists);
    let first_read = cmds.len();
    let most = u32::try_from(meta.len().max(bodies.len())).unwrap_or(u32::MAX);
    let budget_line = limits.max_command_line.saturating_sub(96).max(1);
    for set in uidset::compress_split(meta, budget_line) {
        cmds.push(
            Command::new(
                "UID FETCH",
                format!("UID FETCH (metadata in {:?})", target.name),
            )
            .text(format!(" {set} (UID FLAGS RFC822.SIZE INTERNALDATE)"))
            .bounded(Bound::listing(most.saturating_add(exists))),
        );
    }
    let body_uids: Vec<Uid> = bodies.iter().map(|(u, _)| *u).collect();
    let sizes: HashMap<Uid, u32> = bodies.iter().copied().collect();
    let size_of = |u: Uid| sizes.get(&u).map_or(0, |&s| u64::from(s));
    for batch in uidset::batches(
        &body_uids,
        limits.fetch_batch_count,
        limits.fetch_batch_bytes,
        size_of,
    ) {
        let sizes: Vec<u64> = batch.iter().map(|&u| size_of(u)).collect();
        cmds.push(
            Command::new(
                "UID FETCH",
                format!("UID FETCH ({} bodies from {:?})", batch.len(), target.name),
            )
            .text(format!(" {} (UID BODY.PEEK[])", uidset::compress(&batch)))
            .carrying_messages(batch.len())
            .bounded(Bound::bodies(&sizes, exists, limits.max_literal)),
        );
    }
    if open {
        cmds = cmds
            .into_iter()
            .enumerate()
            .map(|(i, c)| if i == 0 { c } else { c.failure_is_an_answer() })
            .collect();
    }
    let asked: HashSet<Uid> = meta.iter().copied().collect();
    let wanted: HashSet<Uid> = body_uids.iter().copied().collect();
    let mut delivered: HashSet<Uid> = HashSet::with_capacity(wanted.len());
    let mut found: BTreeMap<Uid, PartialMeta> = BTreeMap::new();
    let mut budget = Budget::messages("messages", most.saturating_add(exists));
    // Messages expunged after the open, while the reads ran.
    let mut lost = 0u32;
    let mut on_data = |i: usize, u: &Untagged<'_>| -> Result<Option<Keep>, String> {
        if let Some(reply) = opening.as_mut() {
            if i < first_read || matches!(u, Untagged::Exists(_)) {
                reply.absorb(u);
            }
            if matches!(u, Untagged::Expunge(_)) && i >= first_read {
                lost += 1;
            }
        } else {
            track(selected, u);
        }
        let Untagged::Fetch { attrs, .. } = u else {
            return Ok(None);
        };
        let uid = parse::fetch_uid(attrs);
        match (uid, whole_body(attrs)) {
            (Some(uid), Some(Some(data))) if wanted.contains(&uid) && !delivered.contains(&uid) => {
                delivered.insert(uid);
                Ok(Some(Keep::body(uid, data)))
            }
            (Some(uid), None) if asked.contains(&uid) => {
                absorb_meta(&mut found, attrs, &mut budget)?;
                Ok(None)
            }
            _ => Ok(None),
        }
    };
    let done = engine
        .run_keeping(
            cmds,
            limits.window.max(2),
            &mut on_data,
            &mut |uid, body| on_body(uid, body),
        )
        .await?;
    let label = format!("the reads in {:?}", target.name);
    if let Some(reply) = opening {
        // The open succeeded (else `run_keeping` returned its NO).
        let status = reply.finish(engine, selected).await?;
        if let Some(sel) = selected.as_mut() {
            sel.exists = sel.exists.saturating_sub(lost);
        }
        if status.uidvalidity != target.uidvalidity {
            return Err(invalid(
                engine,
                format!(
                    "{:?} has UIDVALIDITY {} now, {} when it was listed; nothing read in its flight is used",
                    target.name, status.uidvalidity, target.uidvalidity
                ),
            ));
        }
        // An empty mailbox may answer a set that names nothing there with
        // BAD: nothing there to read.
        let failed = done[first_read..].iter().find(|s| s.cond != Cond::Ok);
        if let Some(failed) = failed.filter(|_| status.exists > 0) {
            return Err(ImapError::Bad {
                peer: engine.peer().clone(),
                command: label,
                text: failed.text.clone(),
            });
        }
    }
    let meta = finish_meta(engine, &label, &found)?;
    if let Some(sel) = selected.as_mut() {
        sel.sizes.extend(meta.iter().map(|m| (m.uid, m.size)));
    }
    let mut gone: Vec<Uid> = wanted.difference(&delivered).copied().collect();
    gone.sort_unstable();
    Ok(FlightRead {
        meta,
        gone,
        opened: open,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::{limits, logged_in_enabling, run_script, send, spec, Step};
    use super::super::{Connection, ImapError, TlsMode};
    use crate::model::Uid;

    const CAPS: &str = "ENABLE CONDSTORE QRESYNC UIDPLUS UNSELECT";
    const EXAMINED: &str = "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n\
                            * OK [HIGHESTMODSEQ 14] ok\r\n";
    const BODY: &str = "Subject: x\r\n\r\nhi\r\n";

    /// Logged in with QRESYNC enabled (A0001, A0002); then the flight:
    /// the EXAMINE and the body FETCH must both have arrived before the
    /// server answers either.
    fn flight(answer: &str) -> Vec<Step> {
        let mut steps =
            logged_in_enabling(CAPS, "A0002 ENABLE QRESYNC\r\n", "* ENABLED QRESYNC\r\n");
        steps.push(Step::Expect("A0003 EXAMINE \"INBOX\" (CONDSTORE)\r\n"));
        steps.push(Step::Expect("A0004 UID FETCH 4,8 (UID BODY.PEEK[])\r\n"));
        steps.push(Step::Send(answer.as_bytes().to_vec()));
        steps
    }

    fn bodies() -> String {
        format!(
            "* 1 FETCH (UID 4 BODY[] {{{n}}}\r\n{BODY})\r\n\
             * 3 FETCH (UID 8 BODY[] {{{n}}}\r\n{BODY})\r\n",
            n = BODY.len()
        )
    }

    async fn connect(port: u16) -> Connection {
        Connection::connect_with(&spec(port, TlsMode::None), &limits())
            .await
            .expect("connect")
    }

    async fn read(c: &mut Connection, uidvalidity: u32) -> (Result<Vec<Uid>, ImapError>, Vec<Uid>) {
        let mut got = Vec::new();
        let result = c
            .read_in_flight(
                "INBOX",
                true,
                uidvalidity,
                &[],
                &[(4, 20), (8, 0)],
                &mut |uid, _| got.push(uid),
            )
            .await
            .map(|r| r.gone);
        (result, got)
    }

    /// The EXAMINE and the bodies behind it: one turn; a second read of
    /// the same mailbox at the same UIDVALIDITY opens nothing.
    #[tokio::test]
    async fn fake_examine_and_body_fetch_go_in_one_flight_of_one_turn() {
        let answer = format!(
            "{EXAMINED}A0003 OK [READ-ONLY] done\r\n{}A0004 OK fetched\r\n",
            bodies()
        );
        let mut steps = flight(&answer);
        steps.push(Step::Expect("A0005 UID FETCH 4,8 (UID BODY.PEEK[])\r\n"));
        steps.push(Step::Send(
            format!("{}A0005 OK fetched\r\n", bodies()).into_bytes(),
        ));
        let (port, server) = run_script(steps).await;
        let mut c = connect(port).await;
        let before = c.turns();
        let (gone, got) = read(&mut c, 42).await;
        assert_eq!(gone.expect("read"), Vec::<Uid>::new());
        assert_eq!(got, vec![4, 8]);
        assert_eq!(c.turns() - before, 1, "one flight, one turn");
        assert!(c.holds_at("INBOX", 42));
        let (gone, got) = read(&mut c, 42).await;
        assert_eq!((gone.expect("read again"), got), (vec![], vec![4, 8]));
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// Off the happy path: a NO to the EXAMINE, the first command of the
    /// flight, with a BAD to the FETCH behind it. The NO is the answer,
    /// nothing is delivered, the session lives on.
    #[tokio::test]
    async fn fake_a_refused_open_is_the_answer_and_the_bad_behind_it_ends_nothing() {
        let mut steps =
            flight("A0003 NO [NONEXISTENT] no such mailbox\r\nA0004 BAD No mailbox selected\r\n");
        steps.push(Step::Expect("A0005 CREATE \"X\""));
        steps.push(send("A0005 OK created\r\n"));
        let (port, server) = run_script(steps).await;
        let mut c = connect(port).await;
        let (err, got) = read(&mut c, 42).await;
        let err = err.expect_err("refused");
        assert!(
            matches!(&err, ImapError::No { code: Some(code), .. } if code == "NONEXISTENT"),
            "{err:?}"
        );
        assert!(got.is_empty(), "{got:?}");
        assert!(c.is_alive());
        assert!(!c.holds_at("INBOX", 42));
        c.create("X").await.expect("the session goes on");
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// The mailbox was recreated since it was listed: its UIDs name other
    /// messages, so what the flight read is an error, not an answer, and
    /// the session holds no mailbox at the listed UIDVALIDITY. A BAD to
    /// the FETCH of a mailbox that is not empty is an error too.
    #[tokio::test]
    async fn fake_another_uidvalidity_or_a_bad_fetch_makes_the_flight_an_error() {
        let answer = format!(
            "{EXAMINED}A0003 OK [READ-ONLY] done\r\n{}A0004 OK fetched\r\n",
            bodies()
        );
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let (err, _) = read(&mut c, 41).await;
        let err = err.expect_err("another UIDVALIDITY");
        assert!(
            matches!(&err, ImapError::Invalid { detail, .. } if detail.contains("UIDVALIDITY 42")),
            "{err:?}"
        );
        assert!(c.is_alive());
        assert!(!c.holds_at("INBOX", 41));
        drop(c);
        server.await.unwrap().unwrap();

        let answer = format!("{EXAMINED}A0003 OK [READ-ONLY] done\r\nA0004 BAD what\r\n");
        let (port, server) = run_script(flight(&answer)).await;
        let mut c = connect(port).await;
        let (err, got) = read(&mut c, 42).await;
        assert!(matches!(err, Err(ImapError::Bad { .. })), "{err:?}");
        assert!(got.is_empty());
        drop(c);
        server.await.unwrap().unwrap();
    }

    /// The connection is cut after the EXAMINE's answer, with the FETCH
    /// unanswered: an error, and the session is over.
    #[tokio::test]
    async fn fake_a_connection_cut_mid_flight_is_an_error() {
        let mut steps = flight(&format!("{EXAMINED}A0003 OK [READ-ONLY] done\r\n"));
        steps.push(Step::Close);
        let (port, server) = run_script(steps).await;
        let mut c = connect(port).await;
        let (err, got) = read(&mut c, 42).await;
        assert!(err.is_err(), "{err:?}");
        assert!(got.is_empty());
        assert!(!c.is_alive());
        drop(c);
        server.await.unwrap().unwrap();
    }
}
