//! Reading bodies never seen before and hashing them, on the hashing
//! threads and under their budget, past messages that make a server drop
//! the connection.

use crate::hashing::{Hashed, Hashers};
use crate::imap::{Connection, ImapError};
use crate::model::Uid;
use std::collections::HashMap;

/// How many new connections reading one mailbox's bodies may open to get
/// past messages that make the server drop the connection: enough for three
/// such messages, none when the operator asked for no retries.
pub fn body_reconnects(retries: u32) -> usize {
    if retries == 0 {
        0
    } else {
        6
    }
}

/// What [`read_bodies`] got: a fingerprint per UID delivered, and the UIDs
/// whose body the server would not deliver.
pub struct Bodies {
    /// Exact and normalised, per UID.
    pub fingerprints: HashMap<Uid, Hashed>,
    pub undeliverable: Vec<Uid>,
}

/// Fetches and hashes these bodies (UID, listed size) of the selected
/// mailbox `wire`, with their header keys where `headers` (`--identity
/// headers`). A body
/// that makes the server drop the connection (Dovecot does, serving a file
/// cut short behind its back) must not fail the whole mailbox, nor be taken
/// for gone: on a new connection the first body not delivered is fetched
/// alone, and if that drops the connection too it is undeliverable (the
/// caller reports it); a passing cut just goes on with the rest. At most
/// `reconnects` connections are opened so (two per such message); then, or
/// with 0, the loss fails the mailbox.
pub async fn read_bodies(
    conn: &mut Connection,
    wire: &str,
    read_only: bool,
    uidvalidity: u32,
    uids: &[(Uid, u32)],
    reconnects: usize,
    headers: bool,
) -> Result<Bodies, ImapError> {
    // Sized once: grown by doubling, the map of a full listing held up to
    // three times its fingerprints while it moved.
    let mut fingerprints = HashMap::with_capacity(uids.len());
    let mut undeliverable = Vec::new();
    let mut suspect: Option<(Uid, u32)> = None;
    let mut reopened = 0;
    loop {
        let remaining: Vec<(Uid, u32)> = uids
            .iter()
            .copied()
            .filter(|(u, _)| !fingerprints.contains_key(u) && !undeliverable.contains(u))
            .collect();
        let batch = match suspect {
            Some(item) => vec![item],
            None => remaining.clone(),
        };
        if batch.is_empty() {
            break;
        }
        match fetch_fingerprints(conn, &batch, headers, &mut fingerprints).await {
            Ok(()) if batch.len() == remaining.len() => break,
            Ok(()) => suspect = None,
            Err(e) if !conn.is_alive() && reopened < reconnects => {
                reopened += 1;
                eprintln!(
                    "imapmend: {e}; reconnecting to read the rest of {wire:?} \
                     (a message may be undeliverable)"
                );
                suspect = match suspect {
                    Some((uid, _)) => {
                        undeliverable.push(uid);
                        None
                    }
                    None => batch
                        .iter()
                        .copied()
                        .find(|(u, _)| !fingerprints.contains_key(u)),
                };
                conn.reopen().await?;
                let again = conn.select(wire, read_only).await?;
                if again.uidvalidity != uidvalidity {
                    return Err(ImapError::Protocol {
                        peer: conn.peer().clone(),
                        during: format!("reading the bodies of {wire:?}"),
                        detail: "UIDVALIDITY changed while reconnecting".into(),
                    });
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Bodies {
        fingerprints,
        undeliverable,
    })
}

/// Fetches these bodies (UID, listed size) and hashes each on the hashing
/// threads as it arrives, so a body is dropped as soon as it is hashed. The
/// bodies are asked for in runs of at most a quarter of the process's
/// hashing budget (two sides, and the pool's lanes, share it), each once
/// its room is free: the server is not asked for more than the hashing
/// keeps up with. What was hashed goes `into` the map even when the fetch
/// fails part way, run by run (not held twice until the end).
async fn fetch_fingerprints(
    conn: &mut Connection,
    items: &[(Uid, u32)],
    headers: bool,
    into: &mut HashMap<Uid, Hashed>,
) -> Result<(), ImapError> {
    if items.is_empty() {
        return Ok(());
    }
    let hashers = Hashers::new().with_headers(headers);
    let mut fetched = Ok(());
    for run in crate::hashing::runs(items, |s| hashers.cost(s), hashers.budget() / 4) {
        let room: HashMap<Uid, u32> = run.iter().map(|(u, s)| (*u, hashers.cost(*s))).collect();
        let reserved: u32 = room.values().sum();
        hashers.reserve(reserved).await;
        let uids: Vec<Uid> = run.iter().map(|(u, _)| *u).collect();
        let mut handed = 0;
        let mut on_body = |uid: Uid, body: Vec<u8>| {
            crate::progress::fingerprinted(1);
            // Each UID comes at most once, and only the ones asked for.
            let r = room.get(&uid).copied().unwrap_or(0);
            handed += r;
            hashers.submit(uid, body, r);
        };
        let result = conn.fetch_bodies(&uids, &mut on_body).await;
        hashers.give_back(reserved - handed);
        hashers.drain_into(into);
        if let Err(e) = result {
            fetched = Err(e);
            break;
        }
    }
    hashers
        .finish_into(into)
        .await
        .map_err(|detail| ImapError::Protocol {
            peer: conn.peer().clone(),
            during: "hashing fetched bodies".into(),
            detail,
        })?;
    fetched
}
