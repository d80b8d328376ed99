//! Scrubbing (`check --scrub`, `sync --scrub`): besides the normal run,
//! re-read a slice of the bodies whose verification is oldest, up to a
//! budget per side, and compare each with what was recorded for it — so
//! damage done behind a server's back (a Maildir file overwritten, cut
//! short or emptied) is found within a known number of runs, without
//! reading every body every run.
//!
//! Owns choosing the slice ([`slice`], by [`select`]), reading it
//! (EXAMINE, then the bodies through [`crate::gather::read_bodies_into`]:
//! streamed, hashed under the process's budget, past bodies that kill the
//! connection), judging each body at its pair's level ([`judge`]), and
//! what it found. What it finds goes into the listing exactly as
//! `--verify`'s findings do (`SideListing::damaged`, `unreadable`), so
//! `check` reports it and `sync` replaces it from the healthy side by the
//! same rule, under the guard; the snapshot keeps when each message was
//! last verified and the damage found ([`crate::snapshot::scrub`]). It
//! never writes to a server.
//!
//! A mailbox read as settled (unchanged since a sync found nothing to do
//! there, so nothing of it was listed or loaded) is scrubbed all the
//! same: its cache rows are its listing, so its slice comes from them,
//! and only where that slice finds damage or a body not delivered is the
//! mailbox listed again in full ([`crate::gather::relist`]) and the
//! finding put into that listing. Memory stays the slice's, not the
//! mailbox's, while nothing is found.

pub mod judge;
pub mod select;

use crate::gather::{read_bodies_into, relist, Gathered, Reading};
use crate::imap::Connection;
use crate::model::{ScrubBudget, Side, Uid};
use crate::pool::Pool;
use crate::reconcile::ReconcileInput;
use crate::snapshot::scrub::{Coverage, ScrubResult, ScrubRow};
use crate::snapshot::{Snapshot, SnapshotError};
use judge::Compared;
use judge::Hashed;
use select::Allowance;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::Instant;

/// How long damage a scrub found counts for the guard (and is kept).
pub const RECENT_DAMAGE_DAYS: i64 = 30;

pub use crate::snapshot::scrub::COVERAGE_DAYS;

/// Messages read per FETCH while a time budget runs (the deadline is
/// checked between them).
const TIMED_RUN: usize = 256;

/// One message of the slice: its mailbox (an index into the input) and
/// what was recorded for it.
#[derive(Debug, Clone)]
pub struct Item {
    mailbox: usize,
    row: ScrubRow,
}

/// What one run re-reads, per side, oldest verification first.
#[derive(Debug)]
pub struct Slice {
    budget: ScrubBudget,
    sides: [Vec<Item>; 2],
}

/// One message scrubbed this run, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scrubbed {
    pub mailbox: String,
    pub side: Side,
    #[serde(skip)]
    pub uidvalidity: u32,
    pub uid: Uid,
    pub size: u32,
    /// "intact", "damaged" or "undeliverable".
    pub result: &'static str,
    pub compared: Compared,
    /// When it was last found intact before this run (Unix seconds);
    /// None: never verified since it was recorded.
    pub last_verified: Option<i64>,
    /// The pair's other message, on the other side.
    pub partner_uid: Option<Uid>,
    /// Whether that side still holds a copy believed good (listed, and
    /// not found damaged or undeliverable this run); None: no pair.
    pub partner_good: Option<bool>,
}

/// What a scrub did in this run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ScrubOutcome {
    /// The budget as given (`2%`, …).
    pub budget: String,
    /// Every message re-read, oldest verification first per side.
    pub scrubbed: Vec<Scrubbed>,
    /// Bytes re-read per side ([A, B], listed sizes).
    pub bytes: [u64; 2],
    /// A time budget ran out before the slice was read ([A, B]).
    pub out_of_time: [bool; 2],
    /// Mailboxes that could not be scrubbed, and why.
    pub notes: Vec<String>,
    /// Per mailbox and side, the coverage once this run's verifications
    /// were recorded (for `--metrics`), over [`COVERAGE_DAYS`].
    #[serde(skip)]
    pub coverage: Vec<Coverage>,
    /// When that coverage was measured (Unix seconds).
    #[serde(skip)]
    pub measured_at: i64,
}

impl ScrubOutcome {
    /// What was found damaged or undeliverable.
    pub fn findings(&self) -> impl Iterator<Item = &Scrubbed> {
        self.scrubbed.iter().filter(|s| s.result != "intact")
    }

    /// The text report's part: a summary line, then one line per finding
    /// with where it is, when it was last known good and whether the other
    /// side still holds a good copy.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let count = |side: Side| self.scrubbed.iter().filter(|s| s.side == side).count();
        let _ = writeln!(
            out,
            "Scrub ({}): re-read {} messages on A ({} bytes), {} on B ({} bytes); {} found damaged or unreadable{}",
            self.budget,
            count(Side::A),
            self.bytes[0],
            count(Side::B),
            self.bytes[1],
            self.findings().count(),
            if self.out_of_time.iter().any(|t| *t) {
                "; the time budget ran out"
            } else {
                ""
            }
        );
        for s in self.findings() {
            let what = match s.result {
                "damaged" => format!(
                    "is DAMAGED: its content no longer matches what was recorded (compared {})",
                    match s.compared {
                        Compared::Exact => "exactly",
                        Compared::Normalised => "normalised",
                    }
                ),
                _ => "is UNREADABLE: the server did not deliver its body".to_string(),
            };
            let good = match s.last_verified {
                Some(at) => format!("last known good {}", crate::action_log::utc(at)),
                None => "not verified before".to_string(),
            };
            let other = s.side.other();
            let partner = match (s.partner_uid, s.partner_good) {
                (Some(uid), Some(true)) => format!("{other} still holds a good copy (UID {uid})"),
                (Some(uid), _) => format!("{other}'s copy (UID {uid}) is not good either"),
                _ => format!("{other} holds no copy of it"),
            };
            let _ = writeln!(
                out,
                "  {}: UID {} on {} {what}; {good}; {partner}",
                s.mailbox, s.uid, s.side
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "  {note}");
        }
        out
    }
}

/// Chooses what this run re-reads: per side, the cached messages the
/// listing shows unchanged (same UIDVALIDITY and UID, the fingerprint the
/// cache vouched for) on a healthy side, least recently verified first,
/// as many as `budget` allows for the side's listed messages. In a
/// mailbox read as settled every cached message of the listed UIDVALIDITY
/// is vouched for (the settled mark says the cache is the listing), and
/// the side counts the messages LIST-STATUS gave.
pub fn slice(
    snapshot: &Snapshot,
    input: &ReconcileInput,
    budget: ScrubBudget,
) -> Result<Slice, SnapshotError> {
    let by_name: HashMap<&str, usize> = input
        .mailboxes
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();
    let mut sides: [Vec<Item>; 2] = Default::default();
    for side in Side::BOTH {
        let listed = |i: usize| {
            input.mailboxes[i].sides[side.index()]
                .as_ref()
                .filter(|l| l.evidence.is_healthy())
        };
        let settled = |i: usize| input.mailboxes[i].base.settled;
        let messages: usize = (0..input.mailboxes.len())
            .filter_map(|i| {
                let l = listed(i)?;
                Some(if settled(i) {
                    l.status.exists as usize
                } else {
                    l.messages.len()
                })
            })
            .sum();
        let mut allowance = Allowance::new(budget, messages);
        // Per mailbox, where each UID is in its listing (built on first use).
        let mut positions: HashMap<usize, HashMap<Uid, usize>> = HashMap::new();
        let items = &mut sides[side.index()];
        snapshot.scrub_rows(side, |row| {
            let Some(&mailbox) = by_name.get(row.mailbox.as_str()) else {
                return true;
            };
            let Some(listing) = listed(mailbox) else {
                return true;
            };
            if listing.status.uidvalidity != row.uidvalidity
                || listing.damaged.contains(&row.uid)
                || listing.unreadable.contains(&row.uid)
            {
                return true;
            }
            if settled(mailbox) {
                if allowance.take(row.size) {
                    items.push(Item { mailbox, row });
                }
                return !allowance.full();
            }
            let at = positions.entry(mailbox).or_insert_with(|| {
                listing
                    .messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (m.uid, i))
                    .collect()
            });
            let vouched = at
                .get(&row.uid)
                .is_some_and(|i| listing.messages[*i].fingerprint == row.fingerprint);
            if vouched && allowance.take(row.size) {
                items.push(Item { mailbox, row });
            }
            !allowance.full()
        })?;
    }
    Ok(Slice { budget, sides })
}

/// How a mailbox read as settled is listed again where its slice found
/// something ([`crate::gather::relist`]).
pub struct Relisting<'a> {
    pub snapshot: &'a Snapshot,
    pub reading: Reading,
}

/// Reads the slice on both sides at once (one session each), judges every
/// body, and puts what it found into the listings as `--verify` does: a
/// damaged body under its new fingerprint in `damaged`, a body not
/// delivered in `unreadable`. A mailbox read as settled where something
/// was found is first listed again in full (`relisting`); where that
/// fails, its failure is recorded and it is left out of the input, as a
/// mailbox gather could not list. Each mailbox is opened read-only
/// (EXAMINE) only where its slice is not empty. A mailbox that cannot be
/// read is noted, its messages left unverified.
pub async fn read(
    pool: &mut Pool,
    gathered: &mut Gathered,
    slice: Slice,
    reconnects: usize,
    relisting: &Relisting<'_>,
) -> ScrubOutcome {
    let deadline = match slice.budget {
        ScrubBudget::Time(t) => Some(Instant::now() + t),
        _ => None,
    };
    let [items_a, items_b] = slice.sides;
    let [a, b] = pool.first();
    let (read_a, read_b) = {
        let input = &gathered.input;
        tokio::join!(
            read_side(a, Side::A, items_a, input, deadline, reconnects),
            read_side(b, Side::B, items_b, input, deadline, reconnects),
        )
    };
    let mut outcome = ScrubOutcome {
        budget: budget_text(slice.budget),
        ..ScrubOutcome::default()
    };
    // A settled mailbox holds no listing of its messages to put a finding
    // into: where its slice found one, it is listed again in full first.
    let found_in_settled: BTreeSet<usize> = [&read_a, &read_b]
        .iter()
        .flat_map(|r| &r.judged)
        .filter(|(item, result, _)| {
            *result != ScrubResult::Intact && gathered.input.mailboxes[item.mailbox].base.settled
        })
        .map(|(item, _, _)| item.mailbox)
        .collect();
    let mut unlisted = BTreeSet::new();
    for &at in &found_in_settled {
        let (snapshot, reading) = (relisting.snapshot, &relisting.reading);
        if let Err(why) = relist(pool, snapshot, reading, gathered, at).await {
            let name = gathered.input.mailboxes[at].name.clone();
            outcome.notes.push(format!(
                "{name}: the scrub found damage there, but it could not be listed again ({why})"
            ));
            unlisted.insert(name);
        }
    }
    let input = &mut gathered.input;
    let mut judged = Vec::new();
    for (side, read) in [(Side::A, read_a), (Side::B, read_b)] {
        outcome.out_of_time[side.index()] = read.out_of_time;
        outcome.notes.extend(read.notes);
        for (item, result, fresh) in read.judged {
            outcome.bytes[side.index()] += u64::from(item.row.size);
            let listing = input.mailboxes[item.mailbox].sides[side.index()]
                .as_mut()
                .expect("a slice holds only listed sides");
            match result {
                ScrubResult::Intact => {}
                ScrubResult::Damaged => {
                    listing.damaged.insert(item.row.uid);
                    if let (Some(m), Some((exact, normalised))) = (
                        listing.messages.iter_mut().find(|m| m.uid == item.row.uid),
                        fresh,
                    ) {
                        m.set_fingerprints(exact, Some(normalised));
                    }
                }
                ScrubResult::Undeliverable => listing.unreadable.push(item.row.uid),
            }
            judged.push((side, item, result));
        }
    }
    for (side, item, result) in judged {
        let mailbox = &input.mailboxes[item.mailbox];
        // A settled mailbox's pairs are all listed (and nothing was found
        // there, or it would have been listed again).
        let partner_good = item.row.pair.map(|(_, partner)| {
            mailbox.sides[side.other().index()]
                .as_ref()
                .is_some_and(|l| {
                    (mailbox.base.settled || l.messages.iter().any(|m| m.uid == partner))
                        && !l.damaged.contains(&partner)
                        && !l.unreadable.contains(&partner)
                })
        });
        outcome.scrubbed.push(Scrubbed {
            mailbox: mailbox.name.clone(),
            side,
            uidvalidity: item.row.uidvalidity,
            uid: item.row.uid,
            size: item.row.size,
            result: match result {
                ScrubResult::Intact => "intact",
                ScrubResult::Damaged => "damaged",
                ScrubResult::Undeliverable => "undeliverable",
            },
            compared: Compared::for_row(&item.row),
            last_verified: item.row.verified_at,
            partner_uid: item.row.pair.map(|(_, uid)| uid),
            partner_good,
        });
    }
    // A mailbox not listed is left out, never taken for settled.
    input.mailboxes.retain(|m| !unlisted.contains(&m.name));
    outcome
}

/// Records in the snapshot when each intact message was verified and the
/// damage found (`now`, Unix seconds), then gives every mailbox of the
/// input the damage scrubs found on each side within
/// [`RECENT_DAMAGE_DAYS`], which the guard counts, and the outcome the
/// coverage that leaves (over [`COVERAGE_DAYS`]).
pub fn record(
    snapshot: &mut Snapshot,
    input: &mut ReconcileInput,
    outcome: &mut ScrubOutcome,
    now: i64,
) -> Result<(), SnapshotError> {
    let since = now - RECENT_DAMAGE_DAYS * 86_400;
    let results: Vec<_> = outcome
        .scrubbed
        .iter()
        .map(|s| {
            let result = match s.result {
                "intact" => ScrubResult::Intact,
                "damaged" => ScrubResult::Damaged,
                _ => ScrubResult::Undeliverable,
            };
            (s.mailbox.clone(), s.side, s.uidvalidity, s.uid, result)
        })
        .collect();
    snapshot.record_scrub(&results, now, since)?;
    let recent = snapshot.recent_damage(since)?;
    for mailbox in &mut input.mailboxes {
        for side in Side::BOTH {
            mailbox.base.recent_damage[side.index()] = recent
                .get(&(mailbox.name.clone(), side))
                .copied()
                .unwrap_or(0);
        }
    }
    outcome.coverage = snapshot.coverage(now - COVERAGE_DAYS * 86_400)?;
    outcome.measured_at = now;
    Ok(())
}

/// The budget as the operator writes it.
fn budget_text(budget: ScrubBudget) -> String {
    match budget {
        ScrubBudget::Share(p) => format!("{p}%"),
        ScrubBudget::Bytes(b) => format!("{b} bytes"),
        ScrubBudget::Time(t) => format!("{}s", t.as_secs()),
    }
}

/// What one side's read gave.
#[derive(Default)]
struct SideRead {
    judged: Vec<(Item, ScrubResult, Option<Hashed>)>,
    notes: Vec<String>,
    out_of_time: bool,
}

/// Reads one side's slice, mailbox by mailbox in the order the slice
/// first names them (oldest verification first), over one session.
async fn read_side(
    conn: &mut Connection,
    side: Side,
    items: Vec<Item>,
    input: &ReconcileInput,
    deadline: Option<Instant>,
    reconnects: usize,
) -> SideRead {
    let mut read = SideRead::default();
    let mut groups: Vec<(usize, Vec<Item>)> = Vec::new();
    for item in items {
        match groups.iter_mut().find(|(m, _)| *m == item.mailbox) {
            Some((_, group)) => group.push(item),
            None => groups.push((item.mailbox, vec![item])),
        }
    }
    for (mailbox, group) in groups {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            read.out_of_time = true;
            break;
        }
        let input_mailbox = &input.mailboxes[mailbox];
        let listing = input_mailbox.sides[side.index()]
            .as_ref()
            .expect("a slice holds only listed sides");
        let wire = &listing.wire_name;
        let uidvalidity = listing.status.uidvalidity;
        match conn.select(wire, true).await {
            Ok(status) if status.uidvalidity == uidvalidity => {}
            Ok(_) => {
                read.notes.push(format!(
                    "{}: not scrubbed on {side}: its UIDVALIDITY changed during the run",
                    input_mailbox.name
                ));
                continue;
            }
            Err(e) => {
                read.notes.push(format!(
                    "{}: not scrubbed on {side}: {e}",
                    input_mailbox.name
                ));
                continue;
            }
        }
        let run = if deadline.is_some() {
            TIMED_RUN
        } else {
            group.len().max(1)
        };
        let mut rest = group;
        while !rest.is_empty() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                read.out_of_time = true;
                break;
            }
            let later = rest.split_off(run.min(rest.len()));
            let chunk = std::mem::replace(&mut rest, later);
            let uids: Vec<(Uid, u32)> = chunk.iter().map(|i| (i.row.uid, i.row.size)).collect();
            let mut fingerprints: HashMap<Uid, crate::hashing::Hashed> =
                HashMap::with_capacity(uids.len());
            let read_now = read_bodies_into(
                conn,
                wire,
                true,
                uidvalidity,
                &uids,
                reconnects,
                false,
                &mut fingerprints,
            );
            match read_now.await {
                Ok(undeliverable) => {
                    for item in chunk {
                        let fresh = fingerprints
                            .get(&item.row.uid)
                            .map(|h| (h.exact, h.normalised));
                        let result = match fresh {
                            Some(f) if judge::intact(&item.row, f) => ScrubResult::Intact,
                            Some(_) => ScrubResult::Damaged,
                            None if undeliverable.contains(&item.row.uid) => {
                                ScrubResult::Undeliverable
                            }
                            // Expunged since it was listed: nothing to judge.
                            None => continue,
                        };
                        read.judged.push((item, result, fresh));
                    }
                }
                Err(e) => {
                    read.notes.push(format!(
                        "{}: not scrubbed on {side}: {e}",
                        input_mailbox.name
                    ));
                    break;
                }
            }
        }
        if read.out_of_time {
            break;
        }
    }
    read
}
