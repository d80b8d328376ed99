//! What the session has selected, and in which mode: the [`Selected`]
//! state kept current from untagged data ([`track`]), and the invariant
//! that nothing is written into a mailbox the session holds read-only
//! (opened with EXAMINE) — a write to the selected mailbox is refused
//! before it is sent ([`writable`]), an APPEND into it leaves it first
//! ([`leave_read_only`]) — and that leaving a mailbox never expunges
//! ([`leave`]: UNSELECT, never CLOSE).

use super::commands::{invalid, select};
use super::engine::{Command, Engine};
use super::error::ImapError;
use super::parse::Untagged;
use super::uidset;
use crate::model::Uid;
use std::collections::HashMap;

/// What we know of the selected mailbox.
#[derive(Debug, Default)]
pub(crate) struct Selected {
    pub name: String,
    /// UIDVALIDITY as the SELECT or EXAMINE that opened it said.
    pub uidvalidity: u32,
    /// EXISTS as last reported (kept current from EXISTS/EXPUNGE data).
    pub exists: u32,
    /// RFC822.SIZE per UID from the last metadata listing, used to bound
    /// body-fetch batches by size.
    pub sizes: HashMap<Uid, u32>,
    /// CONDSTORE is on for this mailbox: SELECT reported HIGHESTMODSEQ and
    /// not NOMODSEQ, so CHANGEDSINCE and UNCHANGEDSINCE may be sent.
    pub modseq: bool,
    /// Opened with EXAMINE: nothing may be written to it in this state
    /// ([`writable`], [`leave_read_only`]).
    pub read_only: bool,
}

/// Whether two wire names are the same mailbox (INBOX in any case).
pub(crate) fn same_mailbox(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
}

/// The selected mailbox, for a command that writes to it (`what`: UID
/// STORE, UID EXPUNGE). Never one this session holds read-only: Dovecot
/// answers OK to a STORE under EXAMINE and stores nothing, Courier refuses
/// it; so nothing is sent then ([`ImapError::Invalid`]) — the caller
/// SELECTs first.
pub(crate) fn writable<'s>(
    engine: &Engine,
    selected: &'s Option<Selected>,
    what: &str,
) -> Result<&'s Selected, ImapError> {
    match selected.as_ref() {
        None => Err(invalid(engine, format!("{what} with no mailbox selected"))),
        Some(sel) if sel.read_only => Err(invalid(
            engine,
            format!(
                "{what} in {:?}, which this session opened read-only",
                sel.name
            ),
        )),
        Some(sel) => Ok(sel),
    }
}

/// Before an APPEND into `mailbox`: leaves it if this session holds it
/// read-only (Courier answers `NO Current box is selected READ-ONLY.` to
/// every APPEND into the mailbox the session EXAMINEd). UNSELECT where
/// offered, else SELECT it read-write (`condstore` as for any SELECT) —
/// never CLOSE, which would expunge every `\Deleted` message.
pub(crate) async fn leave_read_only(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    mailbox: &str,
    condstore: bool,
) -> Result<(), ImapError> {
    let held = selected
        .as_ref()
        .is_some_and(|s| s.read_only && same_mailbox(&s.name, mailbox));
    if !held {
        return Ok(());
    }
    if engine.has_capability("UNSELECT") {
        let name = selected
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        return leave(engine, selected, &name).await;
    }
    select(engine, selected, mailbox, false, condstore)
        .await
        .map(drop)
}

/// Keeps EXISTS current from untagged data that may come with any command:
/// `* n EXPUNGE`, or `* VANISHED uid-set` once QRESYNC is enabled (which
/// replaces EXPUNGE; the EARLIER form reports history, not a change now).
pub(crate) fn track(selected: &mut Option<Selected>, u: &Untagged<'_>) {
    if let Some(sel) = selected.as_mut() {
        match u {
            Untagged::Exists(n) => sel.exists = *n,
            Untagged::Expunge(_) => sel.exists = sel.exists.saturating_sub(1),
            Untagged::Vanished {
                earlier: false,
                uid_set,
            } => {
                if let Some(ranges) = uidset::parse_ranges(uid_set) {
                    let gone = uidset::count_ranges(&ranges);
                    sel.exists = sel
                        .exists
                        .saturating_sub(u32::try_from(gone).unwrap_or(u32::MAX));
                    sel.sizes.retain(|&u, _| !uidset::in_ranges(&ranges, u));
                }
            }
            _ => {}
        }
    }
}

/// Leaves the selected mailbox if it is `name`, before it is deleted or
/// renamed: Dovecot ends the session (BYE) when the selected mailbox is
/// deleted. UNSELECT where offered — never CLOSE, which expunges.
pub(crate) async fn leave(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    name: &str,
) -> Result<(), ImapError> {
    if selected.as_ref().map(|s| s.name.as_str()) != Some(name) {
        return Ok(());
    }
    *selected = None;
    if engine.has_capability("UNSELECT") {
        engine
            .run_one(Command::new("UNSELECT", "UNSELECT"), &mut |_, _| Ok(()))
            .await?;
    }
    Ok(())
}
