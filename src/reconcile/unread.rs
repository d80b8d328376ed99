//! Messages whose content was not read: the first sync's shortcut.
//!
//! On a first sync towards an empty (or absent) mailbox, every message of
//! the other side will be copied, and the copy reads its body anyway: gather
//! may then list that side by metadata only ([`SideListing::unread`]) and
//! leave the hashing to the copy (see `crate::gather` for when it does,
//! `crate::apply` for the hashing), so each body is read once instead of
//! twice.
//!
//! Content is what every safety rule stands on (pairing, linking a base pair
//! on a suspect side, proving an expunge, tombstones, renames, in-flight
//! intents), so a message without a fingerprint must never take part in any
//! of them. That holds by construction: unread messages are a separate list
//! of a type with no fingerprint, which the matching code never sees. This
//! module decides the one thing that may happen to them — a copy, paired by
//! APPENDUID once the target names the new UID — and refuses everywhere else
//! ([`refusal`]): if the snapshot knows anything of the mailbox, if the other
//! side holds anything, if the side is suspect or a one-way target, the
//! mailbox is left alone with a problem (the run exits 2; the next run reads
//! the bodies). Gather never produces such a listing, so that is a guard for
//! mistakes, not a path taken.

use super::{flags, MailboxInput, Policy};
use crate::model::{MailboxStatus, Side};
use crate::plan::Copy;

/// Why unread messages in this mailbox cannot be planned safely, if they
/// cannot: the plan then carries the reason as a problem and nothing else.
pub fn refusal(input: &MailboxInput, policy: &Policy) -> Option<String> {
    for side in Side::BOTH {
        let Some(listing) = input.sides[side.index()].as_ref() else {
            continue;
        };
        if listing.unread.is_empty() {
            continue;
        }
        let other = input.sides[side.other().index()].as_ref();
        let base = &input.base;
        let why = if base.uidvalidity.iter().any(Option::is_some)
            || !base.pairs.is_empty()
            || !base.tombstones.is_empty()
            || base.pending_expunge.iter().any(|p| !p.is_empty())
        {
            "the snapshot knows this mailbox".to_string()
        } else if other.is_some_and(|o| !o.messages.is_empty() || !o.unread.is_empty()) {
            format!("{} holds messages they could pair with", side.other())
        } else if !listing.evidence.is_healthy() || policy.restored == Some(side) {
            format!("{side} is suspect")
        } else if policy.one_way == Some(side.other()) {
            format!("{side} is the one-way target")
        } else {
            continue;
        };
        return Some(format!(
            "{} message(s) on {side} were listed without their content, which is needed here ({why}); \
             left alone, the next run reads them",
            listing.unread.len()
        ));
    }
    None
}

/// The copies of `side`'s unread messages to the other side, whose status
/// is `target`: one per message, its fingerprint left to the copy.
pub fn copies(input: &MailboxInput, side: Side, target: &MailboxStatus) -> Vec<Copy> {
    let unread = input.sides[side.index()]
        .as_ref()
        .map_or(&[][..], |s| &s.unread[..]);
    unread
        .iter()
        .map(|m| Copy {
            from: side,
            uid: m.uid,
            fingerprint: None,
            size: m.size,
            internal_date: m.internal_date,
            flags: flags::storable(&m.flags, target),
            agreed: m.flags.clone(),
            normalised: None,
        })
        .collect()
}
