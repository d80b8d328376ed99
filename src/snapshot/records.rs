//! The values the snapshot holds and hands out: endpoints, per-side
//! watermarks, pairs, the fingerprint cache, tombstones, statuses and
//! intents, in the run's view of A and B. Plain data; reading and writing
//! them is `load`'s and `write`'s.

use crate::model::KnownPair;
use crate::model::{Fingerprint, FlagSet, InternalDate, Side, Uid};
use std::collections::BTreeMap;
use std::fmt;

/// The normalised identity of one endpoint; a snapshot belongs to one pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointIdentity {
    /// "imap" or "imaps".
    pub scheme: String,
    /// Lower-cased host name.
    pub host: String,
    pub port: u16,
    pub user: String,
}

impl fmt::Display for EndpointIdentity {
    /// `imaps://user@host:993`, for messages to the operator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}@{}:{}",
            self.scheme, self.user, self.host, self.port
        )
    }
}

/// Per side, what the snapshot last agreed for a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideRecord {
    pub wire_name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: Option<u64>,
    /// The highest UIDNEXT and HIGHESTMODSEQ ever seen on this side, our
    /// own writes included. Never used to ask for changes (a change made by
    /// someone else during our run may lie below them); a server that shows
    /// less than these was restored.
    pub seen_uidnext: Option<u32>,
    pub seen_highestmodseq: Option<u64>,
    /// PERMANENTFLAGS as the last SELECT (by a sync) listed them.
    pub permanent_flags: Option<Vec<String>>,
}

/// A pairing of two messages, one per side, with the flags last agreed:
/// the model's [`KnownPair`], which the reconcile core reads as it is.
pub type PairRecord = KnownPair;

/// Content whose expunge was proven and propagated: one side's actual
/// fingerprint, and its normalised one where known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    pub fingerprint: Fingerprint,
    pub normalised: Option<Fingerprint>,
}

/// The fingerprint cache entry for one (mailbox, side, UIDVALIDITY, UID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedMessage {
    pub size: u32,
    pub internal_date: InternalDate,
    pub fingerprint: Fingerprint,
    /// The normalised fingerprint, where known at the current version.
    pub normalised: Option<Fingerprint>,
    pub flags: FlagSet,
    /// Size and date were read from this side (false for a copy recorded
    /// from its source, which the server may have rewritten on APPEND).
    pub read_back: bool,
    /// Why the message is not simply paired, where recorded.
    pub status: Option<MessageStatus>,
}

/// One side's fingerprint cache of one mailbox, (UIDVALIDITY, UID) →
/// entry, read-only once loaded: a vector sorted by key rather than a hash
/// map, which at 100,000 messages held a third more for its empty buckets
/// (the cache is loaded whole while both servers are listed).
#[derive(Debug, Clone, Default)]
pub struct SideCache(Vec<CacheEntry>);

impl SideCache {
    /// From entries in any order; a key given twice keeps its last entry.
    pub fn from_entries(mut entries: Vec<CacheEntry>) -> SideCache {
        entries.reverse(); // the stable sort then puts the last one first
        entries.sort_by_key(|(k, _)| *k);
        entries.dedup_by_key(|(k, _)| *k);
        entries.shrink_to_fit();
        SideCache(entries)
    }

    pub fn get(&self, key: &(u32, Uid)) -> Option<&CachedMessage> {
        let at = self.0.binary_search_by_key(key, |(k, _)| *k).ok()?;
        Some(&self.0[at].1)
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&(u32, Uid), &CachedMessage)> {
        self.into_iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &(u32, Uid)> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One cache row: its key (UIDVALIDITY, UID) and entry.
pub type CacheEntry = ((u32, Uid), CachedMessage);

impl<'a> IntoIterator for &'a SideCache {
    type Item = (&'a (u32, Uid), &'a CachedMessage);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, CacheEntry>,
        fn(&'a CacheEntry) -> (&'a (u32, Uid), &'a CachedMessage),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, c)| (k, c))
    }
}

impl std::ops::Index<&(u32, Uid)> for SideCache {
    type Output = CachedMessage;

    fn index(&self, key: &(u32, Uid)) -> &CachedMessage {
        self.get(key).expect("no cache entry for this key")
    }
}

/// A side as a sync last found its mailbox settled (see
/// [`MailboxRecord::settled`]): what LIST-STATUS must show for the mailbox
/// to be left unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettledMark {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: u64,
    pub messages: u32,
}

impl SettledMark {
    /// The `mailbox.{a,b}_settled` spelling.
    pub fn to_sql(self) -> String {
        format!(
            "{} {} {} {}",
            self.uidvalidity, self.uidnext, self.highestmodseq, self.messages
        )
    }

    /// None for anything but four numbers (the mark is then not known).
    pub fn from_sql(text: &str) -> Option<SettledMark> {
        let mut words = text.split(' ');
        let mark = SettledMark {
            uidvalidity: words.next()?.parse().ok()?,
            uidnext: words.next()?.parse().ok()?,
            highestmodseq: words.next()?.parse().ok()?,
            messages: words.next()?.parse().ok()?,
        };
        words.next().is_none().then_some(mark)
    }
}

/// Everything the snapshot holds about one mailbox (keyed by logical name).
///
/// [`Snapshot::load_index`](super::Snapshot::load_index) fills only the
/// mailbox's own row (`sides`, `settled`, `known_uidnext`, `intents`);
/// [`Snapshot::load_mailbox`](super::Snapshot::load_mailbox) the rest.
#[derive(Debug, Clone, Default)]
pub struct MailboxRecord {
    /// Per side ([A, B]); None where the side never had it synced.
    pub sides: [Option<SideRecord>; 2],
    /// Per side: where a sync last found the mailbox settled; None where
    /// not known.
    pub settled: [Option<SettledMark>; 2],
    /// Per side: one above the highest UID the cache knows under the
    /// side's UIDVALIDITY (0 for none): a server whose UIDNEXT is lower
    /// forgot it.
    pub known_uidnext: [u32; 2],
    /// An intent of this mailbox is pending (a batch may be half-appended).
    pub intents: bool,
    pub pairs: Vec<PairRecord>,
    /// Per side: (UIDVALIDITY, UID) → cached metadata and fingerprint.
    pub cache: [SideCache; 2],
    /// Content whose expunge from this mailbox was proven and propagated,
    /// with when (Unix seconds).
    pub tombstones: Vec<(Tombstone, i64)>,
}

/// The whole snapshot, loaded ([`Snapshot::load`](super::Snapshot::load)),
/// or its index ([`Snapshot::load_index`](super::Snapshot::load_index)).
#[derive(Debug, Clone, Default)]
pub struct SnapshotState {
    pub mailboxes: BTreeMap<String, MailboxRecord>,
    /// Subscriptions last agreed on both sides, by logical name.
    pub subscriptions: BTreeMap<String, bool>,
}

/// Why a message is not simply paired, recorded per side and UID so later
/// runs and `check` can list it as a known divergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageStatus {
    Paired,
    /// \Deleted was set but the side cannot expunge by UID (no UIDPLUS).
    PendingExpunge,
    /// The server refused to take it (its words are the reason).
    Refused,
    /// Deliberately not copied (too large, NUL bytes, …).
    Skipped,
    /// It carries flags the other side cannot store.
    UnstorableFlags,
}

impl MessageStatus {
    /// The spelling in the `message.status` column.
    pub fn as_sql(self) -> &'static str {
        match self {
            MessageStatus::Paired => "paired",
            MessageStatus::PendingExpunge => "pending-expunge",
            MessageStatus::Refused => "refused",
            MessageStatus::Skipped => "skipped",
            MessageStatus::UnstorableFlags => "unstorable-flags",
        }
    }

    pub fn from_sql(text: &str) -> Option<MessageStatus> {
        [
            MessageStatus::Paired,
            MessageStatus::PendingExpunge,
            MessageStatus::Refused,
            MessageStatus::Skipped,
            MessageStatus::UnstorableFlags,
        ]
        .into_iter()
        .find(|s| s.as_sql() == text)
    }
}

/// A message with a recorded status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatusRecord {
    pub mailbox: String,
    pub side: Side,
    pub uidvalidity: u32,
    pub uid: Uid,
    pub status: MessageStatus,
    pub reason: Option<String>,
}

/// A batch of copies announced but never checkpointed: the run that made it
/// stopped between APPEND and `complete_copies`. Recovery matches what the
/// target holds at and above `uidnext` against `items` by order and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingIntent {
    pub id: i64,
    pub mailbox: String,
    pub target: Side,
    pub uidvalidity: u32,
    /// The target's UIDNEXT before the batch.
    pub uidnext: u32,
    /// The source fingerprints in append order, with the source size where
    /// it was known.
    pub items: Vec<(Fingerprint, Option<u32>)>,
    /// Unix seconds.
    pub created_at: i64,
}
