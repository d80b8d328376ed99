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

/// Where [`read_bodies_into`] puts each body's fingerprints as they are
/// hashed: a map, or the listing's own records (`gather::side`), so that a
/// full listing's fingerprints are not held a second time beside them.
pub trait Sink: Extend<(Uid, Hashed)> {
    /// Whether a fingerprint for this UID came already.
    fn has(&self, uid: Uid) -> bool;
}

impl Sink for HashMap<Uid, Hashed> {
    fn has(&self, uid: Uid) -> bool {
        self.contains_key(&uid)
    }
}

/// Fetches and hashes these bodies (UID, listed size) of the selected
/// mailbox `wire`, with their header keys where `headers` (`--identity
/// headers`), each fingerprint put `into` the sink as it is hashed; returns
/// the UIDs whose body the server would not deliver. A body
/// that makes the server drop the connection (Dovecot does, serving a file
/// cut short behind its back) must not fail the whole mailbox, nor be taken
/// for gone: on a new connection the first body not delivered is fetched
/// alone, and if that drops the connection too it is undeliverable (the
/// caller reports it); a passing cut just goes on with the rest. At most
/// `reconnects` connections are opened so (two per such message); then, or
/// with 0, the loss fails the mailbox.
#[allow(clippy::too_many_arguments)]
pub async fn read_bodies_into(
    conn: &mut Connection,
    wire: &str,
    read_only: bool,
    uidvalidity: u32,
    uids: &[(Uid, u32)],
    reconnects: usize,
    headers: bool,
    into: &mut impl Sink,
) -> Result<Vec<Uid>, ImapError> {
    let mut undeliverable = Vec::new();
    let mut suspect: Option<(Uid, u32)> = None;
    let mut reopened = 0;
    loop {
        // The first time round, all of them (not a copy of the list).
        let remaining: std::borrow::Cow<'_, [(Uid, u32)]> = if reopened == 0 {
            uids.into()
        } else {
            (uids.iter().copied())
                .filter(|(u, _)| !into.has(*u) && !undeliverable.contains(u))
                .collect::<Vec<_>>()
                .into()
        };
        let alone = suspect.map(|item| [item]);
        let batch: &[(Uid, u32)] = match &alone {
            Some(one) => one,
            None => &remaining,
        };
        if batch.is_empty() {
            break;
        }
        match fetch_fingerprints(conn, batch, headers, into).await {
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
                    None => batch.iter().copied().find(|(u, _)| !into.has(*u)),
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
    Ok(undeliverable)
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
    into: &mut impl Sink,
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
