//! The commands of the history path (RFC 7162 CONDSTORE/QRESYNC, RFC 4315
//! UIDPLUS): ENABLE after login, what changed since a mod-sequence
//! (`CHANGEDSINCE`, with `VANISHED` under QRESYNC), the UID list of a
//! mailbox, conditional flag stores (`UNCHANGEDSINCE`, `[MODIFIED]`),
//! re-reading given UIDs, and `UID EXPUNGE` of exactly given UIDs.
//!
//! Everything the server says comes through the engine attributed to the
//! command that caused it — `* VANISHED (EARLIER)` during the FETCH is that
//! FETCH's answer — never through an unsolicited-response queue.

use super::bounds::{Bound, Budget};
use super::commands::{
    self, absorb_meta, finish_meta, invalid, protocol, Expunged, PartialMeta, Selected,
};
use super::engine::{Command, Engine};
use super::error::ImapError;
use super::parse::{Code, Cond, Status, Untagged};
use super::{uidset, Changes, HistorySupport, Limits, StoreOutcome};
use crate::model::{FlagDelta, Uid};
use imap_proto::AttributeValue;
use std::collections::{BTreeMap, BTreeSet};

/// After login: `ENABLE QRESYNC` where QRESYNC (and ENABLE, which RFC 7162
/// requires with it) is offered, else `ENABLE CONDSTORE` where CONDSTORE
/// and ENABLE are offered. What the
/// server lists in `* ENABLED` counts; a NO is not an error (we go on with
/// what SELECT (CONDSTORE) gives). CONDSTORE without ENABLE still works,
/// per mailbox, through SELECT (CONDSTORE).
pub(crate) async fn enable(engine: &mut Engine) -> Result<HistorySupport, ImapError> {
    let want = match to_enable(engine) {
        Ok(want) => want,
        Err(known) => return Ok(known),
    };
    let mut enabled: Vec<String> = Vec::new();
    let result = engine
        .run_one(enable_command(want), &mut |_, u| {
            note_enabled(&mut enabled, u);
            Ok(())
        })
        .await;
    match result {
        Ok(_) | Err(ImapError::No { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(enabled_history(engine, &enabled))
}

/// What to ENABLE after login (`QRESYNC` or `CONDSTORE`), or Err with
/// what the session has without sending anything.
pub(crate) fn to_enable(engine: &Engine) -> Result<&'static str, HistorySupport> {
    let condstore = engine.has_capability("CONDSTORE");
    let enable = engine.has_capability("ENABLE");
    if enable && engine.has_capability("QRESYNC") {
        Ok("QRESYNC")
    } else if condstore && enable {
        Ok("CONDSTORE")
    } else if condstore {
        Err(HistorySupport::Condstore)
    } else {
        Err(HistorySupport::None)
    }
}

/// `ENABLE want`; a NO is an answer (the session goes on without it).
pub(crate) fn enable_command(want: &'static str) -> Command<'static> {
    Command::new("ENABLE", format!("ENABLE {want}"))
        .text(format!(" {want}"))
        .no_is_an_answer()
}

/// Collects what an `* ENABLED` response lists of what we use (QRESYNC,
/// CONDSTORE), each once: a server repeating `* ENABLED …` cannot make
/// the list grow.
pub(crate) fn note_enabled(enabled: &mut Vec<String>, u: &Untagged<'_>) {
    if let Untagged::Enabled(list) = u {
        for c in list {
            let c = c.to_ascii_uppercase();
            if (c == "QRESYNC" || c == "CONDSTORE") && !enabled.contains(&c) {
                enabled.push(c);
            }
        }
    }
}

/// The history support a session has once the server ENABLED `enabled`.
pub(crate) fn enabled_history(engine: &Engine, enabled: &[String]) -> HistorySupport {
    if enabled.iter().any(|c| c == "QRESYNC") {
        HistorySupport::Qresync
    } else if engine.has_capability("CONDSTORE") || enabled.iter().any(|c| c == "CONDSTORE") {
        HistorySupport::Condstore
    } else {
        HistorySupport::None
    }
}

/// The selected mailbox, if mod-sequences may be used on it.
fn modseq_mailbox<'s>(
    engine: &Engine,
    selected: &'s Option<Selected>,
    history: HistorySupport,
    what: &str,
) -> Result<&'s Selected, ImapError> {
    let Some(sel) = selected.as_ref() else {
        return Err(invalid(engine, format!("{what} with no mailbox selected")));
    };
    if history == HistorySupport::None {
        return Err(invalid(
            engine,
            format!("{what}: the server offers no CONDSTORE"),
        ));
    }
    if !sel.modseq {
        return Err(invalid(
            engine,
            format!(
                "{what}: {:?} has no mod-sequences (NOMODSEQ or no HIGHESTMODSEQ)",
                sel.name
            ),
        ));
    }
    Ok(sel)
}

/// Most ranges one `VANISHED (EARLIER)` answer may report (8 MB): UIDs
/// expunged since the last sync are not bounded by what the mailbox holds
/// now, so this is a fixed generous cap.
const MAX_VANISHED_RANGES: usize = 1_000_000;

/// Adds the ranges of one `VANISHED (EARLIER) uid-set` to `earlier`, up
/// to [`MAX_VANISHED_RANGES`]: UIDs expunged since, more than a mailbox of
/// EXISTS messages has now, as many as it lost.
pub(crate) fn note_vanished_earlier(
    earlier: &mut Vec<(Uid, Uid)>,
    uid_set: &str,
) -> Result<(), String> {
    let ranges = uidset::parse_ranges(uid_set)
        .ok_or_else(|| format!("unreadable VANISHED uid-set {uid_set:?}"))?;
    if earlier.len() + ranges.len() > MAX_VANISHED_RANGES {
        return Err(format!(
            "the server reported more than {MAX_VANISHED_RANGES} VANISHED (EARLIER) ranges, \
             over the bound for this command; not reading any further from this connection"
        ));
    }
    earlier.extend(ranges);
    Ok(())
}

/// `UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)
/// (CHANGEDSINCE m [VANISHED])`.
///
/// The answer may come from the server's view at the start of the command,
/// with what changed meanwhile reported after it as unsolicited FETCH
/// (UID, FLAGS, MODSEQ) and VANISHED data — Dovecot does exactly that, and
/// then leaves those messages out of the answer proper. So every FETCH with
/// a MODSEQ above `modseq` counts as a change; those that came without size
/// and date are re-read in one more command.
pub(crate) async fn fetch_changes(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    history: HistorySupport,
    limits: &Limits,
    modseq: u64,
) -> Result<Changes, ImapError> {
    let sel = modseq_mailbox(engine, selected, history, "UID FETCH (CHANGEDSINCE)")?;
    let qresync = history == HistorySupport::Qresync;
    // Some servers answer `1:*` on an empty mailbox with BAD. Nothing can
    // have changed there, and every UID the caller knows is gone.
    if sel.exists == 0 {
        return Ok(Changes {
            changed: Vec::new(),
            modseqs: Vec::new(),
            vanished: qresync.then(|| vec![(1, Uid::MAX)]),
        });
    }
    let label = format!("UID FETCH 1:* (CHANGEDSINCE {modseq}) in {:?}", sel.name);
    let cmd = changes_command(&label, modseq, qresync).bounded(Bound::listing(sel.exists));
    let mut found: BTreeMap<Uid, PartialMeta> = BTreeMap::new();
    let mut budget = Budget::messages("changed messages", sel.exists);
    let mut expunged = Expunged::new(selected);
    let mut earlier: Vec<(Uid, Uid)> = Vec::new();
    engine
        .run_one(cmd, &mut |_, u| {
            commands::track(selected, u);
            expunged.see(u)?;
            absorb_change(u, &mut found, &mut budget, &mut earlier)?;
            Ok(())
        })
        .await?;
    // A message flagged and then expunged is gone, not changed.
    let gone = expunged.ranges();
    finish_changes(
        engine, selected, limits, &label, modseq, qresync, found, gone, earlier,
    )
    .await
}

/// Takes in one untagged response of a CHANGEDSINCE answer: a FETCH's
/// metadata, a VANISHED (EARLIER)'s UIDs; true if it was one of those.
pub(crate) fn absorb_change(
    u: &Untagged<'_>,
    found: &mut BTreeMap<Uid, PartialMeta>,
    budget: &mut Budget,
    earlier: &mut Vec<(Uid, Uid)>,
) -> Result<bool, String> {
    match u {
        Untagged::Fetch { attrs, .. } => absorb_meta(found, attrs, budget).map(|_| true),
        Untagged::Vanished {
            earlier: true,
            uid_set,
        } => note_vanished_earlier(earlier, uid_set).map(|()| true),
        _ => Ok(false),
    }
}

/// `UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)
/// (CHANGEDSINCE modseq [VANISHED])`, its bound left to the caller.
pub(crate) fn changes_command(label: &str, modseq: u64, qresync: bool) -> Command<'static> {
    let modifier = if qresync {
        format!("(CHANGEDSINCE {modseq} VANISHED)")
    } else {
        format!("(CHANGEDSINCE {modseq})")
    };
    Command::new("UID FETCH", label.to_string()).text(format!(
        " 1:* (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ) {modifier}"
    ))
}

/// What a CHANGEDSINCE answer (`found`, with `gone` expunged while it
/// ran and `earlier` its VANISHED (EARLIER)) says changed: every FETCH of
/// the answer proper has size and date; the others count if their MODSEQ
/// says they changed, and those are re-read in one more command.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn finish_changes(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    label: &str,
    modseq: u64,
    qresync: bool,
    mut found: BTreeMap<Uid, PartialMeta>,
    mut gone: Vec<(Uid, Uid)>,
    earlier: Vec<(Uid, Uid)>,
) -> Result<Changes, ImapError> {
    found.retain(|&uid, m| {
        !uidset::in_ranges(&gone, uid) && (m.is_complete() || m.modseq.is_some_and(|s| s > modseq))
    });
    let incomplete: Vec<Uid> = found
        .iter()
        .filter(|(_, m)| !m.is_complete())
        .map(|(&uid, _)| uid)
        .collect();
    if !incomplete.is_empty() {
        let (reread, more_gone) = read_meta(engine, selected, limits, &incomplete).await?;
        for (uid, m) in reread {
            if let Some(entry) = found.get_mut(&uid) {
                entry.merge_newer(m);
            }
        }
        gone.extend(more_gone);
        gone = uidset::merge_ranges(gone);
        found.retain(|&uid, m| !uidset::in_ranges(&gone, uid) && m.is_complete());
    }
    let changed = finish_meta(engine, label, &found)?;
    let modseqs = changed
        .iter()
        .filter_map(|m| found.get(&m.uid)?.modseq.map(|s| (m.uid, s)))
        .collect();
    if let Some(sel) = selected.as_mut() {
        sel.sizes.extend(changed.iter().map(|m| (m.uid, m.size)));
    }
    gone.extend(earlier);
    Ok(Changes {
        changed,
        modseqs,
        vanished: qresync.then(|| uidset::merge_ranges(gone)),
    })
}

/// Every UID of the selected mailbox, ascending. `UID SEARCH RETURN (ALL)
/// ALL` where ESEARCH is offered, QRESYNC is on (so an expunge during the
/// search comes as VANISHED, with UIDs) and even a fully fragmented answer
/// fits our line cap; else `UID FETCH 1:* (UID)`, one short line per
/// message, whose sequence numbers let `* n EXPUNGE` be mapped to UIDs
/// (plain `* SEARCH` would put every UID on one line).
pub(crate) async fn uid_list(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    history: HistorySupport,
    limits: &Limits,
) -> Result<Vec<Uid>, ImapError> {
    let Some(sel) = selected.as_ref() else {
        return Err(invalid(engine, "UID list with no mailbox selected".into()));
    };
    if sel.exists == 0 {
        return Ok(Vec::new());
    }
    let exists = sel.exists as usize;
    let esearch = engine.has_capability("ESEARCH")
        && history == HistorySupport::Qresync
        && exists.saturating_mul(11).saturating_add(200) < limits.max_line;
    let mut uids: BTreeSet<Uid> = BTreeSet::new();
    let mut expunged = Expunged::new(selected);
    let bound = Bound::listing(sel.exists);
    if esearch {
        let label = format!("UID SEARCH RETURN (ALL) ALL in {:?}", sel.name);
        let cmd = Command::new("UID SEARCH", label.clone())
            .text(" RETURN (ALL) ALL")
            .bounded(bound);
        let mut answers = 0;
        // A buggy server must not make us allocate without bound.
        let cap = exists.saturating_mul(2).saturating_add(1000);
        engine
            .run_one(cmd, &mut |_, u| {
                commands::track(selected, u);
                expunged.see(u)?;
                if let Untagged::Esearch { uid, items, .. } = u {
                    if !uid {
                        return Err("ESEARCH answer to UID SEARCH without UID".into());
                    }
                    answers += 1;
                    if answers > 1 {
                        return Err(
                            "more than one ESEARCH answer to UID SEARCH, over the bound \
                                    for this command; not reading any further from this \
                                    connection"
                                .into(),
                        );
                    }
                    for (name, value) in items {
                        if name == "ALL" {
                            let set = uidset::expand(value, cap).ok_or_else(|| {
                                format!("ESEARCH ALL {value:?} unreadable or over {cap} UIDs")
                            })?;
                            uids.extend(set);
                        }
                    }
                }
                Ok(())
            })
            .await?;
        if answers != 1 {
            return Err(protocol(
                engine,
                &label,
                format!("{answers} ESEARCH answers instead of one"),
            ));
        }
    } else {
        let label = format!("UID FETCH 1:* (UID) in {:?}", sel.name);
        let cmd = Command::new("UID FETCH", label)
            .text(" 1:* (UID)")
            .bounded(bound);
        let mut budget = Budget::messages("UIDs", sel.exists);
        engine
            .run_one(cmd, &mut |_, u| {
                commands::track(selected, u);
                expunged.see(u)?;
                // A flag update for a UID (CONDSTORE) also shows that
                // message exists; one expunged later is taken out below.
                if let Untagged::Fetch { attrs, .. } = u {
                    if let Some(uid) = super::parse::fetch_uid(attrs) {
                        if uids.insert(uid) {
                            budget.keep(1, 0)?;
                        }
                    }
                }
                Ok(())
            })
            .await?;
    }
    let gone = expunged.ranges();
    Ok(uids
        .into_iter()
        .filter(|&u| !uidset::in_ranges(&gone, u))
        .collect())
}

/// The UIDs among `asked` that a `[MODIFIED set]` code names.
pub(crate) fn modified_in(status: &Status, asked: &BTreeSet<Uid>) -> Result<Vec<Uid>, String> {
    let Some(Code::Modified(set)) = &status.code else {
        return Ok(Vec::new());
    };
    let ranges =
        uidset::parse_ranges(set).ok_or_else(|| format!("unreadable MODIFIED set {set:?}"))?;
    Ok(asked
        .iter()
        .copied()
        .filter(|&u| uidset::in_ranges(&ranges, u))
        .collect())
}

/// Runs one half of a conditional store; returns the UIDs that failed
/// UNCHANGEDSINCE and the highest MODSEQ the server reported for the
/// messages this command changed.
async fn conditional_half(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    cmds: Vec<Command<'static>>,
    asked: &BTreeSet<Uid>,
) -> Result<(Vec<Uid>, Option<u64>), ImapError> {
    let labels: Vec<String> = cmds.iter().map(|c| c.label().to_string()).collect();
    let cmds: Vec<Command<'static>> = cmds.into_iter().map(Command::no_is_an_answer).collect();
    let mut highest: Option<u64> = None;
    let done = engine
        .run(cmds, limits.window, &mut |_, u| {
            commands::track(selected, u);
            if let Untagged::Fetch { attrs, .. } = u {
                // The answer to a .SILENT conditional store is UID and
                // MODSEQ (RFC 7162 §3.1.3); a FETCH with FLAGS is someone
                // else's change reported to us, and must not raise the
                // mod-sequence we chain from.
                let uid = super::parse::fetch_uid(attrs);
                let has_flags = attrs.iter().any(|a| matches!(a, AttributeValue::Flags(_)));
                let modseq = attrs.iter().find_map(|a| match a {
                    AttributeValue::ModSeq(m) => Some(*m),
                    _ => None,
                });
                if let (Some(uid), Some(m), false) = (uid, modseq, has_flags) {
                    if asked.contains(&uid) {
                        highest = Some(highest.unwrap_or(0).max(m));
                    }
                }
            }
            Ok(())
        })
        .await?;
    let mut modified = Vec::new();
    for (status, label) in done.iter().zip(&labels) {
        let m = modified_in(status, asked).map_err(|d| protocol(engine, label, d))?;
        if status.cond == Cond::No && !matches!(status.code, Some(Code::Modified(_))) {
            return Err(ImapError::No {
                peer: engine.peer().clone(),
                command: label.clone(),
                code: status.code.as_ref().map(|c| c.to_string()),
                text: status.text.clone(),
            });
        }
        modified.extend(m);
    }
    Ok((modified, highest))
}

/// `UID STORE set (UNCHANGEDSINCE m) +FLAGS.SILENT (…)`, then the
/// `-FLAGS.SILENT` half with UNCHANGEDSINCE set to the highest MODSEQ the
/// first half reported, for the UIDs that passed.
///
/// Chaining from the highest is exact on servers that run one STORE
/// under the mailbox lock (Dovecot, Cyrus): every change another session
/// makes afterwards gets a higher mod-sequence, so it still fails the
/// second half's test. If the first half reports no MODSEQ at all, the
/// caller's `modseq` is used: our own additions then fail the test and
/// come back as modified, which is safe (re-read, merge, store again).
pub(crate) async fn store_unchanged_since(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    history: HistorySupport,
    limits: &Limits,
    uids: &[Uid],
    delta: &FlagDelta,
    modseq: u64,
) -> Result<StoreOutcome, ImapError> {
    commands::writable(engine, selected, "UID STORE (UNCHANGEDSINCE)")?;
    let sel = modseq_mailbox(engine, selected, history, "UID STORE (UNCHANGEDSINCE)")?;
    let mailbox = sel.name.clone();
    if uids.is_empty() || delta.is_empty() {
        return Ok(StoreOutcome {
            modified: Vec::new(),
        });
    }
    // Both flag lists are checked before anything goes out.
    commands::flag_list(engine, &delta.add)?;
    commands::flag_list(engine, &delta.remove)?;
    let asked: BTreeSet<Uid> = uids.iter().copied().collect();
    let mut modified: BTreeSet<Uid> = BTreeSet::new();
    let mut chain = modseq;
    if !delta.add.is_empty() {
        let cmds = commands::store_commands(
            engine,
            limits,
            &mailbox,
            uids,
            "+",
            &delta.add,
            Some(modseq),
        )?;
        let (m, highest) = conditional_half(engine, selected, limits, cmds, &asked).await?;
        modified.extend(m);
        chain = chain.max(highest.unwrap_or(modseq));
    }
    if !delta.remove.is_empty() {
        let rest: Vec<Uid> = asked.difference(&modified).copied().collect();
        let cmds = commands::store_commands(
            engine,
            limits,
            &mailbox,
            &rest,
            "-",
            &delta.remove,
            Some(chain),
        )?;
        let rest: BTreeSet<Uid> = rest.into_iter().collect();
        let (m, _) = conditional_half(engine, selected, limits, cmds, &rest).await?;
        modified.extend(m);
    }
    Ok(StoreOutcome {
        modified: modified.into_iter().collect(),
    })
}

/// `UID FETCH set (UID FLAGS RFC822.SIZE INTERNALDATE)` for these UIDs,
/// split to fit the command line and pipelined. UIDs that are gone are
/// simply absent from the result.
pub(crate) async fn fetch_meta(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    uids: &[Uid],
) -> Result<Vec<crate::model::ListedMessage>, ImapError> {
    let Some(sel) = selected.as_ref() else {
        return Err(invalid(engine, "UID FETCH with no mailbox selected".into()));
    };
    let label = format!("UID FETCH (metadata in {:?})", sel.name);
    let (found, _) = read_meta(engine, selected, limits, uids).await?;
    let out = finish_meta(engine, &label, &found)?;
    if let Some(sel) = selected.as_mut() {
        sel.sizes.extend(out.iter().map(|m| (m.uid, m.size)));
    }
    Ok(out)
}

/// The metadata of these UIDs (with MODSEQ where the mailbox has
/// mod-sequences) as received, without the UIDs expunged meanwhile, and
/// what was expunged meanwhile.
async fn read_meta(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    uids: &[Uid],
) -> Result<(BTreeMap<Uid, PartialMeta>, Vec<(Uid, Uid)>), ImapError> {
    let Some(sel) = selected.as_ref() else {
        return Err(invalid(engine, "UID FETCH with no mailbox selected".into()));
    };
    if uids.is_empty() {
        return Ok((BTreeMap::new(), Vec::new()));
    }
    let mailbox = sel.name.clone();
    let exists = sel.exists;
    let items = if sel.modseq {
        " (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)"
    } else {
        " (UID FLAGS RFC822.SIZE INTERNALDATE)"
    };
    let budget = limits
        .max_command_line
        .saturating_sub(32 + items.len())
        .max(1);
    let cmds: Vec<Command<'_>> = uidset::compress_split(uids, budget)
        .into_iter()
        .map(|set| {
            let n = uidset::parse_ranges(&set).map_or(0, |r| uidset::count_ranges(&r));
            Command::new(
                "UID FETCH",
                format!("UID FETCH (metadata of {n} UIDs in {mailbox:?})"),
            )
            .text(format!(" {set}{items}"))
        })
        .collect();
    let asked: BTreeSet<Uid> = uids.iter().copied().collect();
    let mut found: BTreeMap<Uid, PartialMeta> = BTreeMap::new();
    let mut expunged = Expunged::new(selected);
    // Only the UIDs asked are kept; their flags are bounded as a listing's.
    let most = u32::try_from(asked.len()).unwrap_or(u32::MAX).max(exists);
    let mut budget = Budget::messages("messages", most);
    let cmds = cmds
        .into_iter()
        .map(|c| c.bounded(Bound::listing(most)))
        .collect();
    engine
        .run(cmds, limits.window, &mut |_, u| {
            commands::track(selected, u);
            expunged.see(u)?;
            if let Untagged::Fetch { attrs, .. } = u {
                if super::parse::fetch_uid(attrs).is_some_and(|uid| asked.contains(&uid)) {
                    absorb_meta(&mut found, attrs, &mut budget)?;
                }
            }
            Ok(())
        })
        .await?;
    let gone = expunged.ranges();
    found.retain(|&uid, _| !uidset::in_ranges(&gone, uid));
    Ok((found, gone))
}

/// `UID STORE set +FLAGS.SILENT (\Deleted)` then `UID EXPUNGE set`
/// (UIDPLUS), pipelined, so that no other message marked \Deleted is
/// touched. Without UIDPLUS nothing is sent: a plain EXPUNGE could take
/// other messages with it.
pub(crate) async fn uid_expunge(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    uids: &[Uid],
) -> Result<(), ImapError> {
    if uids.is_empty() {
        commands::writable(engine, selected, "UID EXPUNGE")?;
        if !engine.has_capability("UIDPLUS") {
            return Err(invalid(
                engine,
                "UID EXPUNGE: the server does not offer UIDPLUS (a plain EXPUNGE is never sent)"
                    .into(),
            ));
        }
        return Ok(());
    }
    let cmds = expunge_commands(engine, selected, limits, uids)?;
    engine
        .run(cmds, limits.window, &mut |_, u| {
            commands::track(selected, u);
            Ok(())
        })
        .await?;
    Ok(())
}

/// The commands of [`uid_expunge`] for a non-empty `uids`: `UID STORE set
/// +FLAGS.SILENT (\Deleted)`, then `UID EXPUNGE set`, each set split to
/// fit a line. [`ImapError::Invalid`] (nothing to send) with no mailbox
/// selected read-write or without UIDPLUS.
pub(crate) fn expunge_commands(
    engine: &Engine,
    selected: &Option<Selected>,
    limits: &Limits,
    uids: &[Uid],
) -> Result<Vec<Command<'static>>, ImapError> {
    let sel = commands::writable(engine, selected, "UID EXPUNGE")?;
    if !engine.has_capability("UIDPLUS") {
        return Err(invalid(
            engine,
            "UID EXPUNGE: the server does not offer UIDPLUS (a plain EXPUNGE is never sent)".into(),
        ));
    }
    let mailbox = sel.name.clone();
    let deleted = crate::model::FlagSet::from_wire(["\\Deleted"]);
    let mut cmds = commands::store_commands(engine, limits, &mailbox, uids, "+", &deleted, None)?;
    let budget = limits.max_command_line.saturating_sub(32).max(1);
    for set in uidset::compress_split(uids, budget) {
        let n = uidset::parse_ranges(&set).map_or(0, |r| uidset::count_ranges(&r));
        cmds.push(
            Command::new(
                "UID EXPUNGE",
                format!("UID EXPUNGE of {n} UIDs in {mailbox:?}"),
            )
            .text(format!(" {set}")),
        );
    }
    Ok(cmds)
}
