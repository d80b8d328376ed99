//! The operator's rules for naming mailboxes across the sides (personal
//! prefixes, `--map`): plain values from the configuration, applied by
//! [`crate::reconcile::mailboxes`].

use serde::Serialize;

/// The operator's rules for mapping names between the sides: values taken
/// from the configuration, the same for every mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NameRules {
    /// Per side: the wire prefix every mailbox but INBOX lives under
    /// (`INBOX.` on Courier-style servers), or "" for none.
    pub prefixes: [String; 2],
    /// `--map A=B`: per entry, the logical name of one mailbox on A and on
    /// B (decoded, levels joined by '/'); mailboxes below them map alike.
    pub maps: Vec<[String; 2]>,
}
