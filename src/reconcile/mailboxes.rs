//! Mailbox identity across servers: wire names to logical names, the two
//! trees paired, and what happens to a mailbox one side lacks.
//!
//! A **logical name** is a mailbox's hierarchy levels below the side's
//! personal prefix (`--a-prefix INBOX.`), each decoded from modified UTF-7
//! (RFC 3501 §5.1.3), joined by '/', with INBOX upper-cased (it is
//! case-insensitive, §5.1). `--map A=B` makes a mailbox (and everything
//! below it) called A on side A and B on side B one logical mailbox. The
//! logical name is what pairs the trees, keys the snapshot, and what
//! `--include`/`--exclude` and the report see.
//!
//! Wire names are never rebuilt from a logical name: a mailbox one side
//! lacks is named there from the other side's wire levels, exactly as
//! listed, joined by this side's delimiter under its prefix (levels a
//! `--map` renames are encoded afresh). A level that contains the target's
//! delimiter cannot be created there without splitting it, so it is refused
//! with a clear error for that mailbox (M9); so is a level containing '/'
//! (which separates logical levels), two mailboxes of one side with the
//! same logical name, a child of a `\Noinferiors` mailbox (M13), and a name
//! outside the side's prefix. A refused name leaves the run on both sides,
//! so its absence is never read as a deletion.
//!
//! Mailboxes marked `\All` (Gmail's "All Mail", which holds every message a
//! second time) are skipped, with a note.
//!
//! A mailbox one side lacks is created there (parents are made by the
//! server as needed; `\Noselect` ones are never paired, so never
//! SELECTed). With `--delete-mailboxes` a mailbox the snapshot knew on both
//! sides that is gone from one, while the other holds nothing new since the
//! last sync, is deleted on the other instead (M2); one that received new
//! mail is recreated (M3). A deletion counts every message in the mailbox
//! toward the mass-deletion guard, and the number of mailboxes deleted on a
//! side is guarded the same way across the tree.

use super::{Evidence, MailboxInput, Policy, ReconcileInput};
use crate::model::{Fingerprint, NameRules, Side};
use crate::mutf7;
use crate::plan::{MailboxDeletion, MailboxPlan, MailboxRename};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The name of the one mailbox every server has.
pub const INBOX: &str = "INBOX";

/// One mailbox as a side lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxEntry {
    pub wire_name: String,
    pub delimiter: Option<char>,
    pub selectable: bool,
    /// LIST attributes as listed (`\Noinferiors`, `\All`, `\Sent` …).
    pub attributes: Vec<String>,
}

impl MailboxEntry {
    fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// The naming of both sides: the rules, plus what LIST told about each side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Naming {
    pub rules: NameRules,
    /// Each side's hierarchy delimiter (None: a flat namespace).
    pub delimiters: [Option<char>; 2],
    /// Per side, the logical names of mailboxes that cannot have children.
    pub no_inferiors: [BTreeSet<String>; 2],
}

/// Why a wire name has no logical name, with the best guess at the name it
/// would have had (so that name can be kept out of the run on both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    pub tentative: String,
    pub reason: String,
}

/// The two sides' wire names for one logical mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxPairing {
    pub name: String,
    pub wire: [Option<String>; 2],
}

/// A listed mailbox left out of the run because it cannot be named safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub side: Side,
    /// The logical name, or the best guess at it.
    pub name: String,
    pub error: String,
}

/// Both trees paired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// By logical name (parents before their children).
    pub pairings: Vec<MailboxPairing>,
    pub refused: Vec<Refusal>,
    /// Mailboxes skipped on purpose, for the report.
    pub notes: Vec<String>,
}

/// The text of one wire level: decoded, or as listed if it is not valid
/// modified UTF-7 (such a name still maps exactly, by its wire form).
fn text_of(level: &str) -> String {
    mutf7::decode(level).unwrap_or_else(|_| level.to_string())
}

/// Levels of a logical name (as the operator writes one, e.g. in `--map`).
fn logical_levels(name: &str) -> Vec<String> {
    let mut levels: Vec<String> = name.split('/').map(str::to_string).collect();
    if levels[0].eq_ignore_ascii_case(INBOX) {
        levels[0] = INBOX.to_string();
    }
    levels
}

/// `wire` without `prefix`. A prefix starting with INBOX matches INBOX in
/// any case, as INBOX is case-insensitive.
fn strip_prefix<'a>(wire: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(wire);
    }
    let head = wire.get(..prefix.len())?;
    let inbox_rooted = prefix
        .get(..INBOX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(INBOX));
    let same = if inbox_rooted {
        head[..INBOX.len()].eq_ignore_ascii_case(INBOX)
            && head[INBOX.len()..] == prefix[INBOX.len()..]
    } else {
        head == prefix
    };
    same.then(|| &wire[prefix.len()..])
}

impl Naming {
    /// The naming of two listed trees under `rules`.
    pub fn new(rules: NameRules, sides: [&[MailboxEntry]; 2]) -> Naming {
        let delimiters = [0, 1].map(|i| sides[i].iter().find_map(|e| e.delimiter));
        let mut naming = Naming {
            rules,
            delimiters,
            no_inferiors: Default::default(),
        };
        for side in Side::BOTH {
            let names: BTreeSet<String> = sides[side.index()]
                .iter()
                .filter(|e| e.has_attribute("\\Noinferiors"))
                .filter_map(|e| naming.logical(side, &e.wire_name).ok())
                .map(|(name, _)| name)
                .collect();
            naming.no_inferiors[side.index()] = names;
        }
        naming
    }

    /// The wire levels of a name listed on `side`, below its prefix. INBOX
    /// itself is one level whatever the prefix.
    fn wire_levels<'a>(&self, side: Side, wire: &'a str) -> Result<Vec<&'a str>, String> {
        if wire.eq_ignore_ascii_case(INBOX) {
            return Ok(vec![wire]);
        }
        let prefix = &self.rules.prefixes[side.index()];
        let rest = strip_prefix(wire, prefix).ok_or_else(|| {
            format!(
                "it is outside the prefix {prefix:?} given for {side} (--{}-prefix)",
                side.letter().to_ascii_lowercase()
            )
        })?;
        let levels: Vec<&str> = match self.delimiters[side.index()] {
            Some(d) => rest.split(d).collect(),
            None => vec![rest],
        };
        if levels.iter().any(|l| l.is_empty()) {
            return Err("it has an empty hierarchy level".into());
        }
        Ok(levels)
    }

    /// The map (index, and how many levels it covers) that applies to these
    /// logical levels seen from `side`: the one naming the longest ancestor.
    fn map_for(&self, side: Side, levels: &[String]) -> Option<(usize, usize)> {
        self.rules
            .maps
            .iter()
            .enumerate()
            .map(|(i, m)| (i, logical_levels(&m[side.index()])))
            .filter(|(_, from)| levels.starts_with(from))
            .max_by_key(|(_, from)| from.len())
            .map(|(i, from)| (i, from.len()))
    }

    /// The logical name a mapped mailbox goes by: the smaller of its two
    /// names, so it does not depend on which server is A.
    fn map_key(&self, i: usize) -> Vec<String> {
        let [a, b] = &self.rules.maps[i];
        logical_levels(a.min(b))
    }

    /// The logical name of a wire name listed on `side`, and whether a
    /// `--map` renamed it.
    pub fn logical(&self, side: Side, wire: &str) -> Result<(String, bool), NameError> {
        let levels = self.wire_levels(side, wire);
        let raw: Vec<&str> = match &levels {
            Ok(l) => l.clone(),
            Err(_) => {
                // Best guess for keeping the name out of the run: the whole
                // wire name split by the side's delimiter.
                match self.delimiters[side.index()] {
                    Some(d) => wire.split(d).collect(),
                    None => vec![wire],
                }
            }
        };
        let mut text: Vec<String> = raw.iter().map(|l| text_of(l)).collect();
        if text[0].eq_ignore_ascii_case(INBOX) {
            text[0] = INBOX.to_string();
        }
        let tentative = text.join("/");
        let refuse = |reason: String| NameError {
            tentative: tentative.clone(),
            reason,
        };
        levels.map_err(refuse)?;
        if let Some(level) = text.iter().find(|l| l.contains('/')) {
            return Err(refuse(format!(
                "its level {level:?} contains '/', which separates levels in imapmend's names; \
                 it is not split silently"
            )));
        }
        Ok(match self.map_for(side, &text) {
            Some((i, covered)) => {
                let mut mapped = self.map_key(i);
                mapped.extend_from_slice(&text[covered..]);
                (mapped.join("/"), true)
            }
            None => (tentative.clone(), false),
        })
    }

    /// The wire name on the other side for a mailbox listed on `from` as
    /// `wire`: its wire levels exactly as listed (those a `--map` renames
    /// encoded afresh), joined by the target's delimiter under its prefix.
    pub fn translate(&self, from: Side, wire: &str) -> Result<String, String> {
        let to = from.other();
        let levels = self.wire_levels(from, wire)?;
        let mut text: Vec<String> = levels.iter().map(|l| text_of(l)).collect();
        if text[0].eq_ignore_ascii_case(INBOX) {
            text[0] = INBOX.to_string();
        }
        let mut target: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
        match self.map_for(from, &text) {
            Some((i, covered)) => {
                let mut renamed: Vec<String> = logical_levels(&self.rules.maps[i][to.index()])
                    .iter()
                    .map(|l| mutf7::encode(l))
                    .collect();
                renamed.extend(target.drain(covered..));
                target = renamed;
            }
            None => {
                if let Some((i, _)) = self.map_for(to, &text) {
                    let [a, b] = &self.rules.maps[i];
                    return Err(format!(
                        "on {to} that name belongs to --map {a:?}={b:?} (the counterpart of {from}'s {:?})",
                        self.rules.maps[i][from.index()]
                    ));
                }
            }
        }
        if target[0].eq_ignore_ascii_case(INBOX) {
            target[0] = INBOX.to_string();
        }
        if target.len() == 1 && target[0] == INBOX {
            return Ok(INBOX.to_string());
        }
        let joined = match self.delimiters[to.index()] {
            Some(d) => {
                if let Some(level) = target.iter().find(|l| l.contains(d)) {
                    return Err(format!(
                        "its level {:?} contains {d:?}, the hierarchy delimiter of {to}; \
                         it cannot be created there without splitting it",
                        text_of(level)
                    ));
                }
                target.join(&d.to_string())
            }
            None if target.len() > 1 => {
                return Err(format!("it has levels, and {to} has no hierarchy"));
            }
            None => target.remove(0),
        };
        Ok(format!("{}{joined}", self.rules.prefixes[to.index()]))
    }

    /// The nearest ancestor of a logical name that cannot have children on
    /// `side` (`\Noinferiors`), if any.
    pub fn no_inferiors_ancestor(&self, side: Side, name: &str) -> Option<&str> {
        let levels: Vec<&str> = name.split('/').collect();
        (1..levels.len()).rev().find_map(|n| {
            let ancestor = levels[..n].join("/");
            self.no_inferiors[side.index()]
                .get(&ancestor)
                .map(String::as_str)
        })
    }
}

/// One side's selectable mailboxes by logical name, each with whether a
/// `--map` named it.
type Named<'a> = BTreeMap<String, Vec<(&'a MailboxEntry, bool)>>;

/// Pairs the selectable mailboxes of both sides by logical name, sorted by
/// name (so parents come before their children). Names that cannot be
/// mapped safely are refused, and kept out of the run on both sides.
pub fn pair_mailboxes(sides: [&[MailboxEntry]; 2], naming: &Naming) -> Tree {
    let mut tree = Tree::default();
    let mut excluded: BTreeSet<String> = BTreeSet::new();
    let mut named: [Named<'_>; 2] = Default::default();
    for side in Side::BOTH {
        for entry in sides[side.index()].iter().filter(|e| e.selectable) {
            match naming.logical(side, &entry.wire_name) {
                Ok((name, mapped)) => named[side.index()]
                    .entry(name)
                    .or_default()
                    .push((entry, mapped)),
                Err(e) => {
                    tree.refused.push(Refusal {
                        side,
                        name: e.tentative.clone(),
                        error: format!("mailbox {:?} left out: {}", entry.wire_name, e.reason),
                    });
                    excluded.insert(e.tentative);
                }
            }
        }
    }
    let mut wires: BTreeMap<String, [Option<String>; 2]> = BTreeMap::new();
    for side in Side::BOTH {
        for (name, entries) in &named[side.index()] {
            let chosen = match &entries[..] {
                [(one, _)] => Some(*one),
                _ => {
                    // A mapped mailbox wins its name over an unmapped one.
                    let mapped: Vec<&MailboxEntry> =
                        entries.iter().filter(|e| e.1).map(|e| e.0).collect();
                    let winner = (mapped.len() == 1).then(|| mapped[0]);
                    for (entry, _) in entries {
                        if winner.is_some_and(|w| std::ptr::eq(w, *entry)) {
                            continue;
                        }
                        let others: Vec<&str> = entries
                            .iter()
                            .filter(|e| !std::ptr::eq(e.0, *entry))
                            .map(|e| e.0.wire_name.as_str())
                            .collect();
                        tree.refused.push(Refusal {
                            side,
                            name: name.clone(),
                            error: format!(
                                "mailbox {:?} left out: it has the same name {name:?} as {others:?}{}",
                                entry.wire_name,
                                if winner.is_some() { " (given by --map)" } else { "" }
                            ),
                        });
                    }
                    if winner.is_none() {
                        excluded.insert(name.clone());
                    }
                    winner
                }
            };
            if let Some(entry) = chosen {
                if entry.has_attribute("\\All") {
                    tree.notes.push(format!(
                        "{name:?} skipped: {side} marks it \\All (it holds every message a second time)"
                    ));
                    excluded.insert(name.clone());
                }
                wires.entry(name.clone()).or_default()[side.index()] =
                    Some(entry.wire_name.clone());
            }
        }
    }
    tree.pairings = wires
        .into_iter()
        .filter(|(name, _)| !excluded.contains(name))
        .map(|(name, wire)| MailboxPairing { name, wire })
        .collect();
    tree
}

/// Renames (M4–M6): a mailbox the snapshot knew on both sides that is gone
/// from one side, where a mailbox new on that side holds most of its
/// content (at least half of its pairs by fingerprint; or, for one without
/// pairs, the same UIDVALIDITY, which servers keep across RENAME), was
/// renamed there. Each such pair is merged into one input under the new
/// name, with the old mailbox's snapshot base and its listing on the other
/// side, so one RENAME on that side (children move with it) replaces
/// creating, copying and deleting. A rename is only detected when it is
/// unambiguous (one old mailbox, one new one), is not INBOX, the side that
/// still has the old name is healthy, every mailbox below the old name
/// there is renamed alike, and the run is not one-way or restored;
/// otherwise the mailboxes are reconciled apart (the old name recreated,
/// or deleted with `--delete-mailboxes`).
pub fn detect_renames<'i>(
    input: &'i ReconcileInput,
    policy: &Policy,
) -> (Vec<Cow<'i, MailboxInput>>, BTreeMap<String, MailboxRename>) {
    let mailboxes = &input.mailboxes;
    if policy.one_way.is_some() || policy.restored.is_some() {
        return (
            mailboxes.iter().map(Cow::Borrowed).collect(),
            BTreeMap::new(),
        );
    }
    // (old index, new index, the side that renamed)
    let mut found: Vec<(usize, usize, Side)> = Vec::new();
    for (o, old) in mailboxes.iter().enumerate() {
        let Some(renamed_on) = renamed_away(old) else {
            continue;
        };
        let candidates: Vec<usize> = mailboxes
            .iter()
            .enumerate()
            .filter(|(_, new)| is_new_on(new, renamed_on) && holds_most_of(new, old, renamed_on))
            .map(|(n, _)| n)
            .collect();
        if let [n] = candidates[..] {
            found.push((o, n, renamed_on));
        }
    }
    // One new mailbox per old one, both ways.
    let new_counts = found.iter().fold(HashMap::new(), |mut m, (_, n, _)| {
        *m.entry(*n).or_insert(0) += 1;
        m
    });
    found.retain(|(_, n, _)| new_counts[n] == 1);

    // A RENAME moves the children: keep a rename only if every mailbox
    // below the old name on the renaming side is renamed alike.
    loop {
        let before = found.len();
        let renames: HashMap<&str, &str> = found
            .iter()
            .map(|(o, n, _)| (mailboxes[*o].name.as_str(), mailboxes[*n].name.as_str()))
            .collect();
        found.retain(|(o, n, side)| {
            let (old, new) = (&mailboxes[*o].name, &mailboxes[*n].name);
            mailboxes
                .iter()
                .filter(|m| m.sides[side.other().index()].is_some())
                .filter_map(|m| {
                    m.name
                        .strip_prefix(old.as_str())
                        .filter(|r| r.starts_with('/'))
                        .map(|r| (m, r))
                })
                .all(|(child, rest)| {
                    renames.get(child.name.as_str()) == Some(&format!("{new}{rest}").as_str())
                })
        });
        if found.len() == before {
            break;
        }
    }

    let names: HashMap<&str, &str> = found
        .iter()
        .map(|(o, n, _)| (mailboxes[*o].name.as_str(), mailboxes[*n].name.as_str()))
        .collect();
    let mut renames = BTreeMap::new();
    let mut merged = Vec::new();
    let mut used = HashSet::new();
    for (o, n, renamed_on) in &found {
        let (old, new) = (&mailboxes[*o], &mailboxes[*n]);
        let other = renamed_on.other();
        let (Some(listed_new), Some(listed_old)) =
            (&new.sides[renamed_on.index()], &old.sides[other.index()])
        else {
            continue;
        };
        let Ok(wire) = input.naming.translate(*renamed_on, &listed_new.wire_name) else {
            continue;
        };
        // Moved by the RENAME of an ancestor rather than by its own.
        let implied = parents(&old.name).any(|p| {
            names
                .get(p)
                .is_some_and(|q| new.name.strip_prefix(*q) == old.name.strip_prefix(p))
        });
        let mut side_new = listed_new.clone();
        if old.base.uidvalidity[renamed_on.index()] != Some(side_new.status.uidvalidity) {
            // Linked by content then, and its absences prove nothing.
            side_new.evidence = Evidence::UidvalidityChanged;
        }
        let mut side_old = listed_old.clone();
        side_old.wire_name = wire;
        let mut sides = [None, None];
        sides[renamed_on.index()] = Some(side_new);
        sides[other.index()] = Some(side_old);
        merged.push(Cow::Owned(MailboxInput {
            name: new.name.clone(),
            sides,
            base: old.base.clone(),
        }));
        renames.insert(
            new.name.clone(),
            MailboxRename {
                side: other,
                from: old.name.clone(),
                from_wire: listed_old.wire_name.clone(),
                implied,
            },
        );
        used.extend([*o, *n]);
    }
    // Mailboxes not renamed are taken as listed, not copied: at 100,000
    // messages a copy of the listings is tens of MB of the run's peak.
    let mut out: Vec<Cow<'i, MailboxInput>> = mailboxes
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, m)| Cow::Borrowed(m))
        .chain(merged)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, renames)
}

/// The proper ancestors of a logical name, nearest last.
fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('/').map(move |(i, _)| &name[..i])
}

/// The side a mailbox was renamed (or deleted) on: the snapshot knew it on
/// both sides, it is gone from that one, and the other side still lists it
/// healthy under the same UIDVALIDITY.
fn renamed_away(old: &MailboxInput) -> Option<Side> {
    if old.name == INBOX || old.base.uidvalidity.iter().any(Option::is_none) {
        return None;
    }
    let gone = Side::BOTH
        .into_iter()
        .find(|s| old.sides[s.index()].is_none())?;
    let kept = old.sides[gone.other().index()].as_ref()?;
    (kept.evidence.is_healthy()
        && old.base.uidvalidity[gone.other().index()] == Some(kept.status.uidvalidity))
    .then_some(gone)
}

/// A mailbox only on `side` that the snapshot never knew (and whose
/// content was read: only content can show a rename).
fn is_new_on(new: &MailboxInput, side: Side) -> bool {
    new.name != INBOX
        && new.sides.iter().flatten().all(|s| s.unread.is_empty())
        && new.sides[side.index()].is_some()
        && new.sides[side.other().index()].is_none()
        && new.base.uidvalidity.iter().all(Option::is_none)
        && new.base.pairs.is_empty()
}

/// Whether `new` (on `side`) holds at least half of the content `old` had
/// paired, counted as a multiset; a mailbox without pairs counts by its
/// UIDVALIDITY, which a RENAME keeps.
fn holds_most_of(new: &MailboxInput, old: &MailboxInput, side: Side) -> bool {
    let Some(listed) = &new.sides[side.index()] else {
        return false;
    };
    if old.base.pairs.is_empty() {
        return old.base.uidvalidity[side.index()] == Some(listed.status.uidvalidity);
    }
    let mut have: HashMap<Fingerprint, usize> = HashMap::new();
    for m in &listed.messages {
        *have.entry(m.fingerprint).or_default() += 1;
    }
    let found = old
        .base
        .pairs
        .iter()
        .filter(|p| {
            have.get_mut(&p.fingerprint)
                .filter(|n| **n > 0)
                .map(|n| *n -= 1)
                .is_some()
        })
        .count();
    found * 2 >= old.base.pairs.len()
}

/// Decides what happens to a mailbox one side lacks: created there, or
/// (with `--delete-mailboxes`) deleted on the side that still has it.
/// Returns false when the plan is complete and the messages need no
/// reconciling (a deletion, or a mailbox that cannot be created).
pub fn plan_existence(
    plan: &mut MailboxPlan,
    input: &MailboxInput,
    naming: &Naming,
    policy: &Policy,
) -> bool {
    let missing: Vec<Side> = Side::BOTH
        .into_iter()
        .filter(|s| input.sides[s.index()].is_none())
        .collect();
    let gone = match missing[..] {
        [] => return true,
        [gone] => gone,
        _ => return false,
    };
    let survivor = gone.other();
    if policy.delete_mailboxes {
        match deletable(input, gone, policy) {
            Ok(messages) => {
                let limit = policy.max_delete.limit(input.base.pairs.len() as u64);
                let withheld = messages as u64 > limit;
                if withheld {
                    plan.notes.push(format!(
                        "WITHHELD: deleting this mailbox on {survivor} would delete its {messages} message(s), \
                         over the guard ({limit} allowed for {} pairs, --max-delete {}); it is left as it is",
                        input.base.pairs.len(),
                        policy.max_delete
                    ));
                } else {
                    plan.notes.push(format!(
                        "deleted on {gone} since the last sync, and {survivor} holds nothing new: \
                         deleting it on {survivor} (--delete-mailboxes)"
                    ));
                }
                plan.delete = Some(MailboxDeletion {
                    side: survivor,
                    messages,
                    withheld,
                });
                return false;
            }
            Err(Some(why)) => plan.notes.push(format!(
                "gone from {gone} since the last sync, but not deleted on {survivor}: {why}; recreated on {gone}"
            )),
            Err(None) => {}
        }
    }
    let source = input.sides[survivor.index()]
        .as_ref()
        .map(|s| s.wire_name.as_str())
        .unwrap_or_default();
    let created = naming.translate(survivor, source).and_then(|wire| {
        match naming.no_inferiors_ancestor(gone, &input.name) {
            Some(parent) => Err(format!(
                "its parent {parent:?} cannot have children on {gone} (\\Noinferiors)"
            )),
            None => Ok(wire),
        }
    });
    match created {
        Ok(wire) => {
            plan.wire[gone.index()] = Some(wire);
            plan.create = Some(gone);
            true
        }
        Err(e) => {
            plan.problems.push(format!("cannot create on {gone}: {e}"));
            false
        }
    }
}

/// Whether the deletion on `gone` may be propagated: the snapshot knew the
/// mailbox on both sides, and the survivor is healthy and holds only
/// messages the snapshot paired. Ok(number of messages it would delete);
/// Err(Some(why)) where the operator should know why not; Err(None) where
/// the question does not arise (a mailbox new since the last sync).
fn deletable(input: &MailboxInput, gone: Side, policy: &Policy) -> Result<usize, Option<String>> {
    let survivor = gone.other();
    let base = &input.base;
    if base.uidvalidity[gone.index()].is_none() || base.uidvalidity[survivor.index()].is_none() {
        return Err(None);
    }
    if input.name == INBOX {
        return Err(Some("INBOX is never deleted".into()));
    }
    if policy.one_way.is_some() {
        return Err(Some("--one-way never deletes mailboxes".into()));
    }
    if policy.restored == Some(gone) {
        return Err(Some(format!(
            "{gone} is restored (--restored): its absences prove nothing"
        )));
    }
    let listing = input.sides[survivor.index()].as_ref().ok_or(None)?;
    if policy.restored == Some(survivor)
        || !listing.evidence.is_healthy()
        || base.uidvalidity[survivor.index()] != Some(listing.status.uidvalidity)
    {
        return Err(Some(format!(
            "{survivor} cannot be compared with the last sync (UIDVALIDITY changed or restored)"
        )));
    }
    let paired: HashSet<_> = base.pairs.iter().map(|p| p.uid[survivor.index()]).collect();
    let new = listing
        .messages
        .iter()
        .filter(|m| !paired.contains(&m.uid))
        .count();
    if new > 0 {
        return Err(Some(format!(
            "{survivor} holds {new} message(s) new since then (M3)"
        )));
    }
    Ok(listing.messages.len())
}

/// A mailbox left out of the run (`--exclude` …) on one side, with its
/// UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    pub name: String,
    pub uidvalidity: u32,
}

/// Takes out of the run each mailbox the snapshot knew on both sides that
/// is gone from one side, where that side now has a left-out mailbox with
/// the UIDVALIDITY the snapshot saved: it was renamed out of the run
/// (servers keep UIDVALIDITY across RENAME), not deleted. Like a left-out
/// mailbox it is then neither deleted on the other side nor created again,
/// and its snapshot record stays; a note says so.
pub fn moved_out_of_run<'i>(
    inputs: Vec<Cow<'i, MailboxInput>>,
    set_aside: &[Vec<SetAside>; 2],
    notes: &mut Vec<String>,
) -> Vec<Cow<'i, MailboxInput>> {
    let moved = |mb: &MailboxInput| {
        Side::BOTH.into_iter().find_map(|gone| {
            let known_on_both = mb.base.uidvalidity.iter().all(Option::is_some);
            if mb.sides[gone.index()].is_some() || !known_on_both {
                return None;
            }
            let saved = mb.base.uidvalidity[gone.index()]?;
            set_aside[gone.index()]
                .iter()
                .find(|s| s.uidvalidity == saved)
                .map(|s| (gone, s.name.clone()))
        })
    };
    inputs
        .into_iter()
        .filter(|mb| match moved(mb) {
            Some((gone, to)) => {
                notes.push(format!(
                    "{}: gone from {gone}, where the left-out mailbox {to:?} has its UIDVALIDITY \
                     (renamed out of the run): left as it is on {} — neither deleted nor created \
                     again; include {to:?} or leave {:?} out too",
                    mb.name,
                    gone.other(),
                    mb.name
                ));
                false
            }
            None => true,
        })
        .collect()
}

/// The tree-level guard: more mailbox deletions on a side than the guard
/// allows for the mailboxes the snapshot knows on both sides, and all of
/// them are withheld.
pub fn guard_mailbox_deletions(plans: &mut [MailboxPlan], input: &ReconcileInput, policy: &Policy) {
    let known = input
        .mailboxes
        .iter()
        .filter(|m| m.base.uidvalidity.iter().all(Option::is_some))
        .count() as u64;
    let limit = policy.max_delete.limit(known);
    for side in Side::BOTH {
        let planned = |p: &MailboxPlan| {
            p.delete
                .as_ref()
                .is_some_and(|d| d.side == side && !d.withheld)
        };
        let count = plans.iter().filter(|p| planned(p)).count() as u64;
        if count <= limit {
            continue;
        }
        for p in plans.iter_mut().filter(|p| planned(p)) {
            if let Some(d) = p.delete.as_mut() {
                d.withheld = true;
            }
            p.notes.push(format!(
                "WITHHELD: {count} mailbox deletions on {side} exceed the guard ({limit} allowed for \
                 {known} mailboxes, --max-delete {}); nothing is deleted there",
                policy.max_delete
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(name: &str, delim: char) -> MailboxEntry {
        MailboxEntry {
            wire_name: name.into(),
            delimiter: Some(delim),
            selectable: true,
            attributes: Vec::new(),
        }
    }

    fn naming(delims: [char; 2]) -> Naming {
        Naming {
            delimiters: delims.map(Some),
            ..Naming::default()
        }
    }

    fn pairs(tree: &Tree) -> Vec<(&str, [Option<&str>; 2])> {
        tree.pairings
            .iter()
            .map(|p| (p.name.as_str(), [0, 1].map(|i| p.wire[i].as_deref())))
            .collect()
    }

    #[test]
    fn m9_names_map_across_delimiters_and_refuse_ambiguous_levels() {
        let n = naming(['.', '/']);
        assert_eq!(n.logical(Side::A, "Foo.Bar").unwrap().0, "Foo/Bar");
        assert_eq!(n.translate(Side::A, "Foo.Bar").unwrap(), "Foo/Bar");
        assert_eq!(n.translate(Side::B, "Foo/Bar").unwrap(), "Foo.Bar");
        // B's single level "a.b" cannot exist on A without becoming a/b.
        let e = n.translate(Side::B, "x/a.b").unwrap_err();
        assert!(e.contains("\"a.b\" contains '.'"), "{e}");
        // A '.' server's level "a/b" has no logical name: refused, not split.
        let e = n.logical(Side::A, "x.a/b").unwrap_err();
        assert_eq!(e.tentative, "x/a/b");
        let tree = pair_mailboxes([&[entry("x.a/b", '.')], &[entry("x/a/b", '/')]], &n);
        assert_eq!(tree.refused.len(), 1);
        assert!(
            tree.pairings.is_empty(),
            "the refused name stays out on both sides"
        );
    }

    #[test]
    fn m10_names_are_decoded_for_pairing_and_kept_exact_on_the_wire() {
        let n = naming(['.', '/']);
        assert_eq!(
            n.logical(Side::A, "Entw&APw-rfe.Gel&APY-scht").unwrap().0,
            "Entwürfe/Gelöscht"
        );
        assert_eq!(
            n.translate(Side::A, "Entw&APw-rfe.Gel&APY-scht").unwrap(),
            "Entw&APw-rfe/Gel&APY-scht"
        );
        for odd in [
            "a b ",
            "f\\\"o!o [b*a%r]",
            "foo]bar",
            "50%",
            "*",
            "Tom &- Jerry",
        ] {
            assert_eq!(n.translate(Side::B, odd).unwrap(), odd);
        }
        // Not valid modified UTF-7: named by its wire form, still exact.
        assert_eq!(n.logical(Side::A, "bad&AOQ").unwrap().0, "bad&AOQ");
        assert_eq!(n.translate(Side::A, "bad&AOQ.x").unwrap(), "bad&AOQ/x");
    }

    #[test]
    fn m11_inbox_is_case_insensitive_and_prefixes_map_inbox_children() {
        let a = [entry("InBoX", '/'), entry("inbox/Sub", '/')];
        let b = [entry("INBOX", '.')];
        let tree = pair_mailboxes([&a, &b], &naming(['/', '.']));
        assert_eq!(
            pairs(&tree),
            [
                ("INBOX", [Some("InBoX"), Some("INBOX")]),
                ("INBOX/Sub", [Some("inbox/Sub"), None])
            ]
        );

        let mut n = naming(['.', '/']);
        n.rules.prefixes[0] = "INBOX.".into();
        let a = [
            entry("INBOX", '.'),
            entry("INBOX.Foo", '.'),
            entry("inbox.Foo.Bar", '.'),
        ];
        let b = [entry("INBOX", '/'), entry("Foo", '/'), entry("Baz", '/')];
        let tree = pair_mailboxes([&a, &b], &n);
        assert_eq!(
            pairs(&tree),
            [
                ("Baz", [None, Some("Baz")]),
                ("Foo", [Some("INBOX.Foo"), Some("Foo")]),
                ("Foo/Bar", [Some("inbox.Foo.Bar"), None]),
                ("INBOX", [Some("INBOX"), Some("INBOX")]),
            ]
        );
        assert_eq!(n.translate(Side::B, "Baz").unwrap(), "INBOX.Baz");
        assert_eq!(n.translate(Side::A, "inbox.Foo.Bar").unwrap(), "Foo/Bar");
        assert_eq!(n.translate(Side::B, "INBOX").unwrap(), "INBOX");
        assert_eq!(
            n.translate(Side::B, "INBOX/Sub").unwrap(),
            "INBOX.INBOX.Sub"
        );
        let outside = pair_mailboxes([&[entry("Other", '.')], &[]], &n);
        assert!(outside.refused[0].error.contains("outside the prefix"));
    }

    #[test]
    fn same_name_twice_on_one_side_is_refused_unless_a_map_gave_it() {
        let n = naming(['/', '/']);
        let tree = pair_mailboxes([&[entry("INBOX", '/'), entry("inbox", '/')], &[]], &n);
        assert_eq!(tree.refused.len(), 2);
        assert!(tree.pairings.is_empty());

        let mut n = naming(['/', '.']);
        n.rules.maps = vec![["Sent Items".into(), "Sent".into()]];
        let a = [
            entry("Sent Items", '/'),
            entry("Sent", '/'),
            entry("Sent Items/2023", '/'),
        ];
        let b = [entry("Sent", '.'), entry("Sent Items", '.')];
        let tree = pair_mailboxes([&a, &b], &n);
        assert_eq!(
            pairs(&tree),
            [
                ("Sent", [Some("Sent Items"), Some("Sent")]),
                ("Sent Items", [None, Some("Sent Items")]),
                ("Sent/2023", [Some("Sent Items/2023"), None]),
            ]
        );
        // A's own "Sent" loses its name to the map; B's own "Sent Items"
        // cannot be created on A, where the map gives that name away.
        assert_eq!(tree.refused.len(), 1, "{:?}", tree.refused);
        assert_eq!(tree.refused[0].side, Side::A);
        let e = n.translate(Side::B, "Sent Items").unwrap_err();
        assert!(e.contains("--map"), "{e}");
        assert_eq!(
            n.translate(Side::A, "Sent Items/2023").unwrap(),
            "Sent.2023"
        );
        assert_eq!(
            n.translate(Side::B, "Sent.2023").unwrap(),
            "Sent Items/2023"
        );
        let e = n.translate(Side::A, "Sent").unwrap_err();
        assert!(e.contains("--map"), "{e}");
    }

    #[test]
    fn all_mail_is_skipped_with_a_note() {
        let mut all = entry("[Gmail]/All Mail", '/');
        all.attributes.push("\\All".into());
        let tree = pair_mailboxes([&[entry("INBOX", '/'), all], &[]], &naming(['/', '.']));
        assert_eq!(pairs(&tree), [("INBOX", [Some("INBOX"), None])]);
        assert!(tree.notes[0].contains("\\All"));
    }

    #[test]
    fn m13_children_of_noinferiors_are_found() {
        let mut leaf = entry("Foo", '/');
        leaf.attributes.push("\\NoInferiors".into());
        let n = Naming::new(NameRules::default(), [&[leaf], &[]]);
        assert_eq!(n.no_inferiors_ancestor(Side::A, "Foo/Bar/Baz"), Some("Foo"));
        assert_eq!(n.no_inferiors_ancestor(Side::A, "Foo"), None);
        assert_eq!(n.no_inferiors_ancestor(Side::B, "Foo/Bar"), None);
    }

    fn level() -> impl Strategy<Value = String> {
        // Printable ASCII (minus both delimiters) and some non-ASCII.
        proptest::collection::vec(
            prop_oneof![4 => "[ -\\-0-~]", 1 => "[äöü€😀\u{7f}\u{80}]"],
            1..6,
        )
        .prop_map(|chars| chars.concat())
    }

    proptest! {
        /// A name created on the other side lists back under the same
        /// logical name, and translating it back gives the original wire
        /// name exactly.
        #[test]
        fn names_round_trip_across_delimiters_and_prefixes(
            levels in proptest::collection::vec(level(), 1..4),
            delims in (prop_oneof![Just('.'), Just('/')], prop_oneof![Just('.'), Just('/')]),
            prefix_a in any::<bool>(),
        ) {
            let mut n = naming([delims.0, delims.1]);
            if prefix_a {
                n.rules.prefixes[0] = format!("INBOX{}", delims.0);
            }
            let encoded: Vec<String> = levels.iter().map(|l| mutf7::encode(l)).collect();
            prop_assume!(encoded.iter().all(|l| !l.contains(delims.0) && !l.eq_ignore_ascii_case(INBOX)));
            let wire_a = format!("{}{}", n.rules.prefixes[0], encoded.join(&delims.0.to_string()));
            match n.translate(Side::A, &wire_a) {
                Ok(wire_b) => {
                    prop_assert_eq!(n.logical(Side::B, &wire_b).unwrap(), n.logical(Side::A, &wire_a).unwrap());
                    prop_assert_eq!(n.logical(Side::A, &wire_a).unwrap().0, levels.join("/"));
                    prop_assert_eq!(n.translate(Side::B, &wire_b).unwrap(), wire_a);
                }
                Err(e) => prop_assert!(encoded.iter().any(|l| l.contains(delims.1)), "{}", e),
            }
        }
    }
}
