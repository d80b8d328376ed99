//! Flag deltas over disjoint UID sets in one flight ([`store_flight`]):
//! every `UID STORE` of the selected mailbox sent together, each answered
//! on its own, so a mailbox's flag changes cost one turn, not one per
//! delta (two per delta with UNCHANGEDSINCE).
//!
//! With `UNCHANGEDSINCE`, a delta that both adds and removes keeps its
//! chain: its `-FLAGS` half goes in a second flight, for the UIDs its
//! `+FLAGS` half did not find modified, conditional on the highest MODSEQ
//! that half reported for them ([`super::history::store_unchanged_since`]
//! says why that is exact). Deltas that only add or only remove need no
//! chain. Never a whole-state `FLAGS`: what is sent is the delta.
//!
//! Header fields of other UIDs (the Message-IDs a later expunge logs) may
//! ride in the first flight: a read, in the mailbox the session holds.
//! So may the mailbox's read-back (EXAMINE and CHANGEDSINCE, [`Ride`])
//! where the STOREs are the side's last write there and no `-FLAGS` half
//! is chained: reads after the writes, which the server runs in order.
//!
//! Each STORE's NO or BAD is its own answer: it fails its delta, not the
//! flight; a `[MODIFIED]` names UIDs left alone. A lost connection fails
//! the whole flight (the caller cannot tell which STOREs were applied).

use super::commands::{flag_list, store_commands, track, writable};
use super::engine::{Command, Engine};
use super::error::ImapError;
use super::parse::{self, Code, Cond, Status, Untagged};
use super::recheck::Rechecking;
use super::select::{fields_commands, header_section};
use super::selected::Selected;
use super::{HistorySupport, Limits, Recheck, StoreOutcome};
use crate::model::{FlagDelta, Uid};
use imap_proto::AttributeValue;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What one flight of STOREs did.
#[derive(Debug, Default)]
pub struct StoreFlight {
    /// Per delta, in the order given: the UIDs left alone (`[MODIFIED]`),
    /// or why its STORE failed (nothing known to be written).
    pub outcomes: Vec<Result<StoreOutcome, ImapError>>,
    /// The header fields read in the flight, per UID (absent where the
    /// server sent none).
    pub fields: BTreeMap<Uid, Vec<u8>>,
    /// The read-back that rode behind the STOREs ([`Ride`]): None where
    /// none was asked, a `-FLAGS` half was chained, or it was refused.
    pub read_back: Option<Recheck>,
}

/// The mailbox read back behind the STOREs, in their flight, as
/// [`super::recheck::examine_changes`] reads it: for a side whose last
/// write there these STOREs are.
#[derive(Debug, Clone, Copy)]
pub struct Ride<'n> {
    pub name: &'n str,
    pub modseq: u64,
    pub expected: u32,
    pub history: HistorySupport,
}

/// One half (`+` or `-`) of one delta, as commands of a flight.
struct Half {
    item: usize,
    asked: BTreeSet<Uid>,
    cmds: std::ops::Range<usize>,
}

/// Sends every delta of `items` (disjoint UID sets) to the selected
/// mailbox, which must be held read-write; with `unchanged_since` each
/// conditional on it (RFC 7162). `fields` of `fields_of` ride in the first
/// flight. Err: nothing was sent (the mailbox is not held read-write, or
/// has no mod-sequences), or the session failed mid-flight.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn store_flight(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    items: &[(&[Uid], &FlagDelta)],
    unchanged_since: Option<u64>,
    fields_of: &[Uid],
    fields: &[&str],
    ride: Option<Ride<'_>>,
) -> Result<StoreFlight, ImapError> {
    let sel = writable(engine, selected, "UID STORE")?;
    let (mailbox, modseq) = (sel.name.clone(), sel.modseq);
    if unchanged_since.is_some() && !modseq {
        return Err(super::commands::invalid(
            engine,
            format!("UID STORE (UNCHANGEDSINCE): {mailbox:?} has no mod-sequences"),
        ));
    }
    let mut outcomes: Vec<Option<Result<StoreOutcome, ImapError>>> =
        items.iter().map(|_| None).collect();
    let mut cmds: Vec<Command<'_>> = Vec::new();
    let mut first: Vec<Half> = Vec::new();
    // The deltas whose `-FLAGS` half is chained behind their `+FLAGS` one.
    let mut chained: Vec<usize> = Vec::new();
    for (item, (uids, delta)) in items.iter().enumerate() {
        if uids.is_empty() || delta.is_empty() {
            outcomes[item] = Some(Ok(StoreOutcome::default()));
            continue;
        }
        // Both flag lists checked before anything of this delta goes out.
        if let Err(e) = flag_list(engine, &delta.add).and_then(|_| flag_list(engine, &delta.remove))
        {
            outcomes[item] = Some(Err(e));
            continue;
        }
        let asked: BTreeSet<Uid> = uids.iter().copied().collect();
        let chain = unchanged_since.is_some() && !delta.add.is_empty() && !delta.remove.is_empty();
        for (sign, flags) in [("+", &delta.add), ("-", &delta.remove)] {
            if flags.is_empty() || (sign == "-" && chain) {
                continue;
            }
            let built =
                store_commands(engine, limits, &mailbox, uids, sign, flags, unchanged_since)?;
            let start = cmds.len();
            cmds.extend(built.into_iter().map(Command::failure_is_an_answer));
            first.push(Half {
                item,
                asked: asked.clone(),
                cmds: start..cmds.len(),
            });
        }
        if chain {
            chained.push(item);
        }
    }
    let place = format!(" in {mailbox:?}");
    let reads = fields_commands(limits, fields_of, fields, &place);
    cmds.extend(reads.into_iter().map(Command::failure_is_an_answer));
    // The read-back rides last, where no -FLAGS half is chained behind
    // this flight (it must read after every write) and something is sent.
    let ride_at = cmds.len();
    let mut reading = None;
    if let Some(r) = ride.filter(|_| chained.is_empty() && ride_at > 0) {
        let (examine, state) =
            Rechecking::start(engine, selected, r.history, r.name, r.modseq, r.expected)?;
        let [open, fetch] = examine;
        cmds.push(open.failure_is_an_answer());
        cmds.push(fetch);
        reading = Some(state);
    }
    let wanted: BTreeSet<Uid> = fields_of.iter().copied().collect();
    let mut found: BTreeMap<Uid, Vec<u8>> = BTreeMap::new();
    // The chained deltas' UIDs (disjoint), and per chained delta the
    // highest MODSEQ its +FLAGS half reported. Answers are told apart by
    // what they carry, not by the command at the head of the flight:
    // Dovecot sends a flight's untagged data before its tagged answers.
    let chain_of: HashMap<Uid, usize> = (chained.iter())
        .flat_map(|&item| items[item].0.iter().map(move |&u| (u, item)))
        .collect();
    let mut highest: HashMap<usize, u64> = HashMap::new();
    let labels: Vec<String> = cmds.iter().map(|c| c.label().to_string()).collect();
    let done = if cmds.is_empty() {
        Vec::new()
    } else {
        engine
            .run(cmds, limits.window.max(2), &mut |i, u| {
                if let Some(r) = reading.as_mut().filter(|_| i >= ride_at) {
                    return r.absorb(i - ride_at, u);
                }
                track(selected, u);
                let Untagged::Fetch { attrs, .. } = u else {
                    return Ok(());
                };
                let Some(uid) = parse::fetch_uid(attrs) else {
                    return Ok(());
                };
                if let Some(d) = header_section(attrs) {
                    if wanted.contains(&uid) {
                        found.insert(uid, d.to_vec());
                    }
                    return Ok(());
                }
                // The answer to a .SILENT conditional store is UID and
                // MODSEQ; a FETCH with FLAGS is someone else's change and
                // must not raise the mod-sequence a chain starts from.
                let has_flags = attrs.iter().any(|a| matches!(a, AttributeValue::Flags(_)));
                let modseq = attrs.iter().find_map(|a| match a {
                    AttributeValue::ModSeq(m) => Some(*m),
                    _ => None,
                });
                if let (Some(m), Some(&item), false) = (modseq, chain_of.get(&uid), has_flags) {
                    let top = highest.entry(item).or_insert(m);
                    *top = (*top).max(m);
                }
                Ok(())
            })
            .await?
    };
    // Every command was answered (else the run failed): fold the answers
    // into their deltas.
    let mut modified: Vec<BTreeSet<Uid>> = items.iter().map(|_| BTreeSet::new()).collect();
    fold(engine, &first, &done, &labels, &mut outcomes, &mut modified);
    // The writes' answers stand whatever the read-back met: a refused
    // EXAMINE (nothing selected now) or FETCH leaves it to the caller.
    let read_back = match reading {
        Some(r) if done[ride_at].cond == Cond::Ok => {
            r.finish(engine, selected, &done[ride_at + 1]).await.ok()
        }
        _ => None,
    };
    // The chained `-FLAGS` halves, for the UIDs the `+FLAGS` half changed.
    let mut second: Vec<Half> = Vec::new();
    let mut cmds: Vec<Command<'static>> = Vec::new();
    for &item in &chained {
        if outcomes[item].is_some() {
            continue;
        }
        let (uids, delta) = items[item];
        let rest: Vec<Uid> = uids
            .iter()
            .copied()
            .filter(|u| !modified[item].contains(u))
            .collect();
        let from = unchanged_since.unwrap_or(0);
        let chain = from.max(highest.get(&item).copied().unwrap_or(from));
        let built = store_commands(
            engine,
            limits,
            &mailbox,
            &rest,
            "-",
            &delta.remove,
            Some(chain),
        )?;
        let start = cmds.len();
        cmds.extend(built.into_iter().map(Command::failure_is_an_answer));
        second.push(Half {
            item,
            asked: rest.into_iter().collect(),
            cmds: start..cmds.len(),
        });
    }
    if !cmds.is_empty() {
        let labels: Vec<String> = cmds.iter().map(|c| c.label().to_string()).collect();
        let done = engine
            .run(cmds, limits.window.max(2), &mut |_, u| {
                track(selected, u);
                Ok(())
            })
            .await?;
        fold(
            engine,
            &second,
            &done,
            &labels,
            &mut outcomes,
            &mut modified,
        );
    }
    let outcomes = outcomes
        .into_iter()
        .zip(modified)
        .map(|(outcome, modified)| {
            outcome.unwrap_or_else(|| {
                Ok(StoreOutcome {
                    modified: modified.into_iter().collect(),
                })
            })
        })
        .collect();
    Ok(StoreFlight {
        outcomes,
        fields: found,
        read_back,
    })
}

/// The answers to `halves` folded into their deltas: the UIDs left alone
/// added to `modified`, the first refusal as the delta's outcome (a delta
/// already failed stays so).
fn fold(
    engine: &Engine,
    halves: &[Half],
    done: &[Status],
    labels: &[String],
    outcomes: &mut [Option<Result<StoreOutcome, ImapError>>],
    modified: &mut [BTreeSet<Uid>],
) {
    for half in halves {
        if matches!(outcomes[half.item], Some(Err(_))) {
            continue;
        }
        for i in half.cmds.clone() {
            match answer(engine, &done[i], &labels[i], &half.asked) {
                Ok(m) => modified[half.item].extend(m),
                Err(e) => {
                    outcomes[half.item] = Some(Err(e));
                    break;
                }
            }
        }
    }
}

/// One STORE's tagged answer: the UIDs a `[MODIFIED]` names (in an OK or
/// a NO), or the refusal.
fn answer(
    engine: &Engine,
    status: &Status,
    label: &str,
    asked: &BTreeSet<Uid>,
) -> Result<Vec<Uid>, ImapError> {
    let modified = super::history::modified_in(status, asked)
        .map_err(|d| super::commands::protocol(engine, label, d))?;
    match status.cond {
        Cond::Ok => Ok(modified),
        Cond::No if matches!(status.code, Some(Code::Modified(_))) => Ok(modified),
        Cond::No => Err(ImapError::No {
            peer: engine.peer().clone(),
            command: label.to_string(),
            code: status.code.as_ref().map(|c| c.to_string()),
            text: status.text.clone(),
        }),
        _ => Err(ImapError::Bad {
            peer: engine.peer().clone(),
            command: label.to_string(),
            text: status.text.clone(),
        }),
    }
}
