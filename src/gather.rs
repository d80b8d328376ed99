//! Reading both servers into the values reconcile takes: the mailbox trees,
//! and for every mailbox a full listing of each side with fingerprints.
//!
//! Fingerprints come from the snapshot's cache where (UIDVALIDITY, UID, size,
//! INTERNALDATE) match — content is immutable per UID — and only bodies never
//! seen before are fetched and hashed (on the rayon pool, off the async
//! threads). A mailbox that cannot be listed completely on either side is
//! left out of the input and reported: a failed listing is never an empty
//! mailbox.

use crate::fingerprint::fingerprint;
use crate::imap::{Connection, ImapError};
use crate::model::{Fingerprint, MailboxStatus, MessageMeta, Side, Uid};
use crate::reconcile::mailboxes::{pair_mailboxes, MailboxEntry, MailboxPairing};
use crate::reconcile::{BasePair, MailboxBase, MailboxInput, ReconcileInput, SideListing};
use crate::snapshot::{MailboxRecord, SnapshotState};
use std::collections::HashMap;
use std::sync::mpsc;

/// A mailbox that could not be read on one side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MailboxFailure {
    pub mailbox: String,
    pub side: Side,
    pub error: String,
}

/// Both trees, read.
pub struct Gathered {
    pub input: ReconcileInput,
    pub failures: Vec<MailboxFailure>,
    /// Fingerprints computed in this run, per mailbox and side, to be cached:
    /// (mailbox, side, uidvalidity, messages).
    pub fresh: Vec<(String, Side, u32, Vec<MessageMeta>)>,
}

/// Lists both servers completely. Errors only when a tree cannot be listed
/// at all; per-mailbox trouble goes into `failures`.
pub async fn gather(
    conns: &mut [Connection; 2],
    state: &SnapshotState,
    read_only: bool,
) -> Result<Gathered, (Side, ImapError)> {
    let [a, b] = conns;
    let (tree_a, tree_b) = tokio::join!(a.list_mailboxes(), b.list_mailboxes());
    let tree_a = tree_a.map_err(|e| (Side::A, e))?;
    let tree_b = tree_b.map_err(|e| (Side::B, e))?;
    let entries = [&tree_a, &tree_b].map(|tree| {
        tree.iter()
            .map(|m| MailboxEntry {
                wire_name: m.name.clone(),
                delimiter: m.delimiter,
                selectable: m.is_selectable(),
            })
            .collect::<Vec<_>>()
    });
    let delimiters = [0, 1].map(|i| entries[i].iter().find_map(|e| e.delimiter));

    let mut gathered = Gathered {
        input: ReconcileInput {
            delimiters,
            mailboxes: Vec::new(),
        },
        failures: Vec::new(),
        fresh: Vec::new(),
    };
    for pairing in pair_mailboxes([&entries[0], &entries[1]]) {
        let record = state.mailboxes.get(&pairing.name);
        let (la, lb) = tokio::join!(
            list_side(a, &pairing, Side::A, record, read_only),
            list_side(b, &pairing, Side::B, record, read_only),
        );
        let mut sides: [Option<SideListing>; 2] = [None, None];
        let mut failed = false;
        for (side, result) in [(Side::A, la), (Side::B, lb)] {
            match result {
                Ok(Some((listing, fresh))) => {
                    if !fresh.is_empty() {
                        gathered.fresh.push((
                            pairing.name.clone(),
                            side,
                            listing.status.uidvalidity,
                            fresh,
                        ));
                    }
                    sides[side.index()] = Some(listing);
                }
                Ok(None) => {}
                Err(error) => {
                    failed = true;
                    gathered.failures.push(MailboxFailure {
                        mailbox: pairing.name.clone(),
                        side,
                        error,
                    });
                }
            }
        }
        if !failed {
            gathered.input.mailboxes.push(MailboxInput {
                name: pairing.name.clone(),
                sides,
                base: base_of(record),
            });
        }
    }
    Ok(gathered)
}

/// The snapshot's base for one mailbox, as reconcile takes it.
pub fn base_of(record: Option<&MailboxRecord>) -> MailboxBase {
    let Some(record) = record else {
        return MailboxBase::default();
    };
    MailboxBase {
        uidvalidity: [0, 1].map(|i| record.sides[i].as_ref().map(|s| s.uidvalidity)),
        pairs: record
            .pairs
            .iter()
            .map(|p| BasePair {
                uid: p.uid,
                fingerprint: p.fingerprint,
                flags: p.flags.clone(),
            })
            .collect(),
    }
}

type SideResult = Result<Option<(SideListing, Vec<MessageMeta>)>, String>;

/// Selects and lists one side of one mailbox; Ok(None) where it does not exist.
async fn list_side(
    conn: &mut Connection,
    pairing: &MailboxPairing,
    side: Side,
    record: Option<&MailboxRecord>,
    read_only: bool,
) -> SideResult {
    let Some(wire) = &pairing.wire[side.index()] else {
        return Ok(None);
    };
    let status = conn
        .select(wire, read_only)
        .await
        .map_err(|e| e.to_string())?;
    let listed = conn.fetch_all_meta().await.map_err(|e| e.to_string())?;
    if listed.len() != status.exists as usize {
        return Err(format!(
            "{side}: mailbox {wire:?} listed {} messages but EXISTS said {}; not trusting a partial listing",
            listed.len(),
            status.exists
        ));
    }
    let cache = record.map(|r| &r.cache[side.index()]);
    let mut known: HashMap<Uid, Fingerprint> = HashMap::new();
    let mut unknown: Vec<Uid> = Vec::new();
    for m in &listed {
        let cached = cache
            .and_then(|c| c.get(&(status.uidvalidity, m.uid)))
            .filter(|c| c.size == m.size && c.internal_date == m.internal_date);
        match cached {
            Some(c) => {
                known.insert(m.uid, c.fingerprint);
            }
            None => unknown.push(m.uid),
        }
    }
    let fresh_fps = fetch_fingerprints(conn, &unknown)
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = Vec::with_capacity(listed.len());
    let mut fresh = Vec::new();
    for m in listed {
        let (fp, is_fresh) = match known.get(&m.uid) {
            Some(fp) => (*fp, false),
            None => match fresh_fps.get(&m.uid) {
                Some(fp) => (*fp, true),
                // Expunged between the listing and the body fetch: gone.
                None => continue,
            },
        };
        let meta = MessageMeta {
            uid: m.uid,
            size: m.size,
            internal_date: m.internal_date,
            flags: m.flags,
            fingerprint: fp,
        };
        if is_fresh {
            fresh.push(meta.clone());
        }
        messages.push(meta);
    }
    let status = MailboxStatus {
        exists: messages.len() as u32,
        ..status
    };
    Ok(Some((
        SideListing {
            wire_name: wire.clone(),
            status,
            messages,
        },
        fresh,
    )))
}

/// Fetches these bodies and hashes each on the rayon pool as it arrives, so
/// a body is dropped as soon as it is hashed.
async fn fetch_fingerprints(
    conn: &mut Connection,
    uids: &[Uid],
) -> Result<HashMap<Uid, Fingerprint>, ImapError> {
    if uids.is_empty() {
        return Ok(HashMap::new());
    }
    let (tx, rx) = mpsc::channel::<(Uid, Fingerprint)>();
    let mut on_body = move |uid: Uid, body: Vec<u8>| {
        let tx = tx.clone();
        rayon::spawn(move || {
            let _ = tx.send((uid, fingerprint(&body)));
        });
    };
    conn.fetch_bodies(uids, &mut on_body).await?;
    drop(on_body);
    // Every spawned job holds a sender; the iterator ends when all are done.
    let hashed = tokio::task::spawn_blocking(move || rx.into_iter().collect::<HashMap<_, _>>())
        .await
        .expect("hash collector never panics");
    Ok(hashed)
}
