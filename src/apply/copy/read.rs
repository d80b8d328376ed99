//! Reading one batch of copies from the source: the bodies, and what the
//! writer needs to know of each — its fingerprint where the plan had none,
//! whether the census picks it for a read-back ([`receipt`]) and its
//! Message-ID for the action log — worked out on the rayon pool as each
//! body arrives, so that none of it waits on the writer's path between one
//! APPEND and the next.

use super::receipt;
use crate::fingerprint::fingerprint;
use crate::gather::Kept;
use crate::imap::Connection;
use crate::model::{Fingerprint, Side, Uid};
use crate::plan::Copy;
use std::collections::{HashMap, HashSet};

/// A body read from the source, with what was learned of it as it arrived.
pub(super) struct Body {
    pub bytes: Vec<u8>,
    /// The census picks it: the target may rewrite these bytes
    /// ([`receipt::may_be_rewritten`]).
    pub rewritable: bool,
    /// Its Message-ID header, for the action log.
    pub message_id: Option<String>,
}

/// Bodies read from the source, by UID.
pub(super) type Bodies = HashMap<Uid, Body>;

/// What was read of one batch from the source.
pub(super) struct Read {
    pub bodies: Bodies,
    /// The fingerprints of the copies whose content the plan did not know.
    pub hashed: HashMap<Uid, Fingerprint>,
    /// UIDs gone from the source meanwhile.
    pub gone: Vec<Uid>,
}

/// One batch read from the source, or why it could not be read.
pub(super) struct Fetched<'c> {
    pub batch: Vec<&'c Copy>,
    pub read: Result<Read, String>,
}

/// Reads the bodies of one batch. A copy whose content the plan does not
/// know (a first sync that listed it by metadata only, see
/// [`crate::reconcile::unread`]) is hashed here, on the rayon pool as its
/// body arrives, so that its intent, its pair and both sides' cache rows
/// carry its real fingerprint, exactly as if gather had read it. Every
/// body gets its census and Message-ID there too.
/// `wire` is the source mailbox, listed with `uidvalidity`: opened in the
/// same flight where the reading session does not hold it.
///
/// A body the listing kept (`kept`: [`Kept`] and the source side) is
/// taken from there, not read again, where it hashes to the content the
/// plan copies (a copy the plan knew no content of takes it as read);
/// only the others are read — none at all where every one was kept.
pub(super) async fn read_batch(
    reader: &mut Connection,
    wire: &str,
    uidvalidity: u32,
    batch: &[&Copy],
    kept: Option<(&Kept, Side)>,
) -> Result<Read, String> {
    let mut taken = Bodies::new();
    let mut hashed = HashMap::new();
    for c in batch {
        let Some(bytes) = kept.and_then(|(k, side)| k.get(side, wire, uidvalidity, c.uid)) else {
            continue;
        };
        let exact = fingerprint(bytes);
        if c.fingerprint.is_some_and(|f| f != exact) {
            continue;
        }
        if c.fingerprint.is_none() {
            hashed.insert(c.uid, exact);
        }
        let body = Body {
            rewritable: receipt::may_be_rewritten(bytes),
            message_id: crate::action_log::message_id(bytes),
            bytes: bytes.to_vec(),
        };
        taken.insert(c.uid, body);
    }
    let rest: Vec<&Copy> = (batch.iter().copied())
        .filter(|c| !taken.contains_key(&c.uid))
        .collect();
    if rest.is_empty() {
        return Ok(Read {
            bodies: taken,
            hashed,
            gone: Vec::new(),
        });
    }
    let mut read = read_from_source(reader, wire, uidvalidity, &rest).await?;
    read.bodies.extend(taken);
    read.hashed.extend(hashed);
    Ok(read)
}

/// [`read_batch`] of the bodies not kept: read from the source.
async fn read_from_source(
    reader: &mut Connection,
    wire: &str,
    uidvalidity: u32,
    batch: &[&Copy],
) -> Result<Read, String> {
    let uids: Vec<(Uid, u32)> = batch.iter().map(|c| (c.uid, c.size)).collect();
    let unknown: HashSet<Uid> = batch
        .iter()
        .filter(|c| c.fingerprint.is_none())
        .map(|c| c.uid)
        .collect();
    type Learned = (Uid, Body, Option<Fingerprint>);
    let (tx, rx) = std::sync::mpsc::channel::<Learned>();
    let mut on_body = |uid: Uid, bytes: Vec<u8>| {
        let hash = unknown.contains(&uid);
        let tx = tx.clone();
        rayon::spawn(move || {
            let fingerprint = hash.then(|| fingerprint(&bytes));
            let body = Body {
                rewritable: receipt::may_be_rewritten(&bytes),
                message_id: crate::action_log::message_id(&bytes),
                bytes,
            };
            let _ = tx.send((uid, body, fingerprint));
        });
    };
    let fetched = reader
        .read_in_flight(wire, true, uidvalidity, &[], &uids, &mut on_body)
        .await
        .map(|read| read.gone);
    drop(tx);
    // Every spawned job holds a sender; the iterator ends when all are done.
    let learned = tokio::task::spawn_blocking(move || rx.into_iter().collect::<Vec<_>>())
        .await
        .expect("body collector never panics");
    let gone = fetched.map_err(|e| e.to_string())?;
    let mut bodies = Bodies::with_capacity(learned.len());
    let mut hashed = HashMap::with_capacity(unknown.len());
    for (uid, body, fingerprint) in learned {
        bodies.insert(uid, body);
        if let Some(fingerprint) = fingerprint {
            hashed.insert(uid, fingerprint);
        }
    }
    Ok(Read {
        bodies,
        hashed,
        gone,
    })
}
