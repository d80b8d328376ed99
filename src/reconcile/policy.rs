//! The policies the reconcile core takes as values, not as flags threaded
//! through I/O code. Each field says which docs/SCENARIOS.md case it carries.

use crate::model::{DeleteMode, Identity, MaxDelete, Side};

/// Decisions the operator can change. `Default` is the documented default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// F7: for a pair with no agreed base, this side's flags win instead of
    /// the union.
    pub prefer: Option<Side>,
    /// The operator says this side was restored from a backup: it proves
    /// nothing, and the other side's flags win on paired messages.
    pub restored: Option<Side>,
    /// E7/E9/F12: propagate a proven expunge with `UID EXPUNGE`, or only set
    /// `\Deleted` and leave the message `pending-expunge`.
    pub deletes: DeleteMode,
    /// E11: the mass-deletion guard, per mailbox and side.
    pub max_delete: MaxDelete,
    /// `--one-way`: the source side. The other side is made to hold what the
    /// source holds (flags included); nothing is ever written to the source.
    pub one_way: Option<Side>,
    /// `--delete-extra` (with `--one-way`): messages only on the target are
    /// expunged there, under the guard.
    pub delete_extra: bool,
    /// A message on a restored side that matches a tombstone is expunged
    /// there instead of copied back (`--no-tombstones` turns this off).
    pub tombstones: bool,
    /// `--drop-restored-extras`: messages only on a restored side are
    /// expunged there (under the guard) instead of copied to the other side.
    pub drop_restored_extras: bool,
    /// `--delete-mailboxes` (M2): a mailbox gone from one side since the
    /// last sync is deleted on the other, if that holds nothing new.
    pub delete_mailboxes: bool,
    /// `--identity headers`: what content leaves unpaired may pair by
    /// Message-ID, Date, From and fetched size ([`super::by_headers`]).
    pub identity: Identity,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            prefer: None,
            restored: None,
            deletes: DeleteMode::Expunge,
            max_delete: MaxDelete::DEFAULT,
            one_way: None,
            delete_extra: false,
            tombstones: true,
            drop_restored_extras: false,
            delete_mailboxes: false,
            identity: Identity::Content,
        }
    }
}
