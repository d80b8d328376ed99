//! What is listed from a server: one message's metadata as a `UID FETCH`
//! returns it. The IMAP layer fills it, the snapshot and gather keep it, the
//! reconcile core reads it; none of them owns it, so it lives here below
//! them all.

use super::{FlagSet, InternalDate, Uid};

/// One message's metadata from `UID FETCH (UID FLAGS RFC822.SIZE INTERNALDATE)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    pub uid: Uid,
    pub size: u32,
    pub internal_date: InternalDate,
    pub flags: FlagSet,
}
