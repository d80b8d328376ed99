//! The run's changed mailboxes read ahead, one flight per side on the
//! first lane, right after the trees were listed
//! ([`crate::imap::Connection::read_ahead`]): each mailbox whose
//! LIST-STATUS shows it changed since the saved watermarks (and that the
//! snapshot can read through its history) gets its SELECT, its
//! CHANGEDSINCE and the bodies of its new UIDs — from the saved UIDNEXT
//! (or above the highest UID the cache knows) up to the UIDNEXT the
//! LIST-STATUS gave — in that one flight. The per-mailbox listing
//! ([`super::side`], [`super::subset`]) then takes its answer instead of
//! asking the server, judging it exactly as its own; a mailbox whose
//! answer could not be used is asked again alone, as before.
//!
//! The bodies are bounded: at most [`MOST_BODIES`] messages in a side's
//! flight, each read at most [`BODY_LIMIT`] bytes (a longer one is read
//! as before), so a flight holds at most 50 × 128 KiB = 6.4 MiB of
//! bodies per side whatever the mailboxes hold. They are hashed as the
//! listing would hash them, and kept ([`Kept`]) until apply has copied
//! them: a copy of a kept body is not read from the server again
//! (`apply::copy`, which checks its fingerprint first).
//! Where more new mail waits than that, its bodies are read as before.

use super::Reading;
use crate::hashing::Hashed;
use crate::imap::{Ahead, Changes, Connection, HistorySupport, ListedStatus};
use crate::model::{MailboxStatus, Side, Uid};
use crate::reconcile::mailboxes::MailboxPairing;
use crate::snapshot::SnapshotState;
use std::collections::{BTreeMap, HashMap};

/// Most new messages whose bodies ride in one side's flight.
pub const MOST_BODIES: u32 = 50;
/// Most bytes of one body read in the flight: a body that fills it may
/// be cut short and is read again as before.
pub const BODY_LIMIT: u32 = 128 * 1024;
/// Most mailboxes in one side's flight (the others are read as before).
const MOST_MAILBOXES: usize = 32;

/// What the flight read of one side of one mailbox, usable.
pub(super) struct SideAhead {
    pub status: MailboxStatus,
    pub changes: Changes,
    /// The new bodies that came whole, hashed as the listing hashes.
    pub hashed: Vec<(Uid, Hashed)>,
}

/// The read-ahead answers, per side by wire name.
pub(super) type Aheads = [HashMap<String, SideAhead>; 2];

/// Bodies the listing read whole, kept for apply's copies: by side, wire
/// name and UIDVALIDITY (under which a UID names one content for good),
/// then UID. Bounded by the flight's budget ([`MOST_BODIES`] ×
/// [`BODY_LIMIT`] per side).
#[derive(Debug, Default)]
pub struct Kept {
    bodies: HashMap<(Side, String, u32), BTreeMap<Uid, Vec<u8>>>,
}

impl Kept {
    /// The body of `uid` in `wire` on `side` at `uidvalidity`, if kept.
    pub fn get(&self, side: Side, wire: &str, uidvalidity: u32, uid: Uid) -> Option<&[u8]> {
        let key = (side, wire.to_string(), uidvalidity);
        self.bodies.get(&key)?.get(&uid).map(Vec::as_slice)
    }

    /// How many bodies are kept.
    pub fn len(&self) -> usize {
        self.bodies.values().map(BTreeMap::len).sum()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads the changed mailboxes of `pairings` ahead, both sides at once
/// (see the module's doc). A side whose session fails reads nothing ahead
/// (each mailbox is then read as before, and meets the failure itself).
pub(super) async fn read_ahead(
    [a, b]: [&mut Connection; 2],
    pairings: &[MailboxPairing],
    state: &SnapshotState,
    listed: &[HashMap<String, ListedStatus>; 2],
    reading: &Reading,
) -> (Aheads, Kept) {
    let targets = [Side::A, Side::B].map(|side| {
        let qresync = [&*a, &*b][side.index()].history_support() == HistorySupport::Qresync;
        if !qresync || reading.verify {
            return Vec::new();
        }
        targets(pairings, state, &listed[side.index()], side)
    });
    let (ra, rb) = tokio::join!(
        a.read_ahead(reading.read_only, &targets[0], BODY_LIMIT),
        b.read_ahead(reading.read_only, &targets[1], BODY_LIMIT),
    );
    let mut aheads: Aheads = Default::default();
    let mut kept = Kept::default();
    for (side, read) in [(Side::A, ra), (Side::B, rb)] {
        let Ok(read) = read else { continue };
        for (target, got) in targets[side.index()].iter().zip(read) {
            let Some(got) = got else { continue };
            let bodies = got.bodies;
            let headers = reading.headers;
            let (bodies, hashed) = tokio::task::spawn_blocking(move || {
                use rayon::prelude::*;
                let hashed: Vec<(Uid, Hashed)> = (bodies.par_iter())
                    .map(|(uid, body)| (*uid, crate::hashing::hash(body, headers)))
                    .collect();
                (bodies, hashed)
            })
            .await
            .expect("hashing never panics");
            if !bodies.is_empty() {
                let key = (side, target.name.clone(), got.status.uidvalidity);
                kept.bodies.insert(key, bodies.into_iter().collect());
            }
            let ahead = SideAhead {
                status: got.status,
                changes: got.changes,
                hashed,
            };
            aheads[side.index()].insert(target.name.clone(), ahead);
        }
    }
    (aheads, kept)
}

/// The mailboxes of one side to read ahead, in the trees' order: changed
/// since the saved watermarks at the saved UIDVALIDITY, with a saved
/// mod-sequence to ask the history since; the first [`MOST_BODIES`] new
/// UIDs get their bodies asked.
fn targets(
    pairings: &[MailboxPairing],
    state: &SnapshotState,
    listed: &HashMap<String, ListedStatus>,
    side: Side,
) -> Vec<Ahead> {
    let i = side.index();
    let mut bodies_left = MOST_BODIES;
    let mut out = Vec::new();
    for pairing in pairings {
        if out.len() >= MOST_MAILBOXES {
            break;
        }
        let Some(wire) = pairing.wire[i].as_ref() else {
            continue;
        };
        let Some(index) = state.mailboxes.get(&pairing.name) else {
            continue;
        };
        let (Some(saved), Some(l)) = (index.sides[i].as_ref(), listed.get(wire)) else {
            continue;
        };
        let Some(modseq) = saved.highestmodseq else {
            continue;
        };
        let unchanged = super::side::unchanged_since_saved(*l, saved).is_some();
        if unchanged || l.uidvalidity != saved.uidvalidity || *wire != saved.wire_name {
            continue;
        }
        let first = saved.uidnext.max(index.known_uidnext[i]).max(1);
        let new = l.uidnext.saturating_sub(first);
        let bodies = (new > 0 && new <= bodies_left).then(|| {
            bodies_left -= new;
            (first, l.uidnext - 1)
        });
        out.push(Ahead {
            name: wire.clone(),
            uidvalidity: saved.uidvalidity,
            modseq,
            expected: l.messages,
            bodies,
        });
    }
    out
}

/// How many of `pairings` the run must read or write on some side: a
/// side the snapshot does not know, one the LIST-STATUS shows changed
/// since the saved watermarks, or a side that lacks the mailbox. (Before
/// any is read: what the pool opens lanes ahead for.)
pub(super) fn busy(
    pairings: &[MailboxPairing],
    state: &SnapshotState,
    listed: &[HashMap<String, ListedStatus>; 2],
    reading: &Reading,
) -> usize {
    let side_busy = |pairing: &MailboxPairing, i: usize| {
        let Some(wire) = pairing.wire[i].as_ref() else {
            return true;
        };
        let saved = (state.mailboxes.get(&pairing.name)).and_then(|r| r.sides[i].as_ref());
        match (saved, listed[i].get(wire)) {
            (Some(saved), Some(l)) => {
                reading.verify || super::side::unchanged_since_saved(*l, saved).is_none()
            }
            _ => true,
        }
    };
    (pairings.iter())
        .filter(|p| side_busy(p, 0) || side_busy(p, 1))
        .count()
}
