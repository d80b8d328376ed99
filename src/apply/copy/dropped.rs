//! An APPEND batch that drops the connection: what landed is found by
//! content on a new connection (Cyrus stores the messages before the one
//! it chokes on), paired and its intent resolved, and the rest is sent
//! again in smaller parts, so a message that kills the connection costs
//! only itself.

use super::{planned, AppendFailure, Copier, Ready};
use crate::fingerprint::fingerprint;
use crate::model::{Fingerprint, Uid};
use crate::outcome::Status;

impl<'c> Copier<'_, '_, 'c> {
    /// After the connection died during the APPEND of `part` under
    /// `intent`: opens a new one, selects the target mailbox read-write (it
    /// is appended to next), reads what arrived above the UIDNEXT the
    /// intent was taken at, and pairs what carries the content of a copy
    /// of `part`. Returns the copies that did not land. Err (the intent
    /// stays, for the next run to resolve) when no new connection may be
    /// opened or what is on the target cannot be told.
    pub(super) async fn after_drop(
        &mut self,
        part: &[Ready<'c>],
        intent: i64,
        error: &str,
    ) -> Result<Vec<Ready<'c>>, String> {
        let target = self.source.other();
        let stays = "the batch's intent stays: the next run pairs by content what landed";
        if self.reconnects == 0 || !self.uidnext_known {
            return Err(format!("{error} ({stays})"));
        }
        self.reconnects -= 1;
        let listed = self.statuses[target.index()].clone().unwrap_or_default();
        let wire = self.wire(target).to_string();
        let why = |e: String| format!("{error}; then, on a new connection: {e} ({stays})");
        self.conn.reopen().await.map_err(|e| why(e.to_string()))?;
        let now = self
            .conn
            .select(&wire, false)
            .await
            .map_err(|e| why(e.to_string()))?;
        if now.uidvalidity != listed.uidvalidity {
            return Err(why("its UIDVALIDITY changed".into()));
        }
        let new: Vec<Uid> = (self.conn.uid_list().await)
            .map_err(|e| why(e.to_string()))?
            .into_iter()
            .filter(|&u| u >= listed.uidnext)
            .collect();
        let mut arrived: Vec<(Uid, Fingerprint, u32)> = Vec::with_capacity(new.len());
        if !new.is_empty() {
            let mut on_body = |uid: Uid, body: Vec<u8>| {
                let size = u32::try_from(body.len()).unwrap_or(u32::MAX);
                arrived.push((uid, fingerprint(&body), size));
            };
            (self.conn.fetch_bodies(&new, &mut on_body).await).map_err(|e| why(e.to_string()))?;
        }
        arrived.sort_unstable();
        let (landed, rest) = match_by_content(part, &arrived);
        if landed.is_empty() {
            let dropped = self.snapshot.borrow_mut().drop_intent(intent);
            dropped.map_err(|e| why(e.to_string()))?;
        } else {
            // Found by content: listed, and read back.
            let found = super::receipt::Landed {
                listed: landed.iter().map(|(_, uid)| *uid).collect(),
                read: arrived
                    .iter()
                    .filter(|(uid, ..)| landed.iter().any(|(_, u)| u == uid))
                    .map(|&(uid, fingerprint, size)| (uid, (fingerprint, size)))
                    .collect(),
            };
            let recorded = self.record_landed(intent, &landed, &found);
            let ready: Vec<Ready<'c>> = landed.iter().map(|(r, _)| *r).collect();
            let status = match &recorded {
                Err(AppendFailure::Other { error, .. }) => Status::Unrecorded(error.clone()),
                _ => Status::Done,
            };
            self.out
                .ledger
                .copies(&self.mb.name, &planned(&ready), &status);
            let bytes = super::bytes_of(&ready);
            crate::progress::copied(ready.len(), bytes);
            self.accepted = true;
            self.bytes_left = self.bytes_left.saturating_sub(bytes);
            self.forget_retried(&ready);
            if let Err(AppendFailure::Other { error, .. }) = recorded {
                self.fail(
                    target,
                    "record copies found after a dropped connection",
                    error,
                );
            }
        }
        self.out.notes.push(format!(
            "{}: {target} dropped the connection during an APPEND of {} message(s) ({error}); \
             on a new connection {} of them were found stored, the rest is sent again in \
             smaller parts",
            self.mb.name,
            part.len(),
            landed.len()
        ));
        Ok(rest)
    }

    /// What to send after a dropped connection, `rest` being what of
    /// `part` did not land. A message that drops it alone after it was in
    /// a part that dropped it already is the culprit: reported for this run
    /// (exit 2), not remembered, tried again on the next (one cut of the
    /// connection alone does not make a culprit). If some of the part
    /// landed, the server stored the messages before the culprit, which is
    /// the first one left: it goes alone, then the others; else the part
    /// is halved.
    pub(super) fn retry_after_drop(
        &mut self,
        part: &[Ready<'c>],
        rest: Vec<Ready<'c>>,
        work: &mut Vec<Vec<Ready<'c>>>,
        error: String,
    ) {
        let culprit = match rest.as_slice() {
            [alone] if part.len() == 1 => Some(*alone),
            _ => None,
        }
        .filter(|alone| self.suspects.contains(&alone.copy.uid));
        if let Some(culprit) = culprit {
            let error = format!(
                "{error} (sent alone on a new connection, it drops the connection again: \
                 not remembered, tried again on the next run)"
            );
            let status = Status::Refused(error.clone());
            let copy = culprit.copy;
            self.out.ledger.copies(&self.mb.name, &[copy], &status);
            self.bytes_left = self.bytes_left.saturating_sub(u64::from(copy.size));
            let what = format!("copy UID {} ({} bytes)", copy.uid, copy.size);
            self.fail(self.source.other(), &what, error);
            return;
        }
        self.suspects.extend(rest.iter().map(|r| r.copy.uid));
        match rest.as_slice() {
            [] => {}
            [first, others @ ..] if rest.len() < part.len() || rest.len() == 1 => {
                work.push(others.to_vec());
                work.push(vec![*first]);
            }
            _ => {
                let half = rest.len() / 2;
                work.push(rest[half..].to_vec());
                work.push(rest[..half].to_vec());
            }
        }
    }
}

/// Pairs the copies of `part` with what `arrived` on the target (UID and
/// content, in UID order), in order, each arrival at most once: the copies
/// that landed with their UIDs, and those that did not.
fn match_by_content<'c>(
    part: &[Ready<'c>],
    arrived: &[(Uid, Fingerprint, u32)],
) -> (Vec<(Ready<'c>, Uid)>, Vec<Ready<'c>>) {
    let mut taken = vec![false; arrived.len()];
    let mut landed = Vec::new();
    let mut rest = Vec::new();
    for ready in part {
        let found = (0..arrived.len()).find(|&i| !taken[i] && arrived[i].1 == ready.fingerprint);
        match found {
            Some(i) => {
                taken[i] = true;
                landed.push((*ready, arrived[i].0));
            }
            None => rest.push(*ready),
        }
    }
    (landed, rest)
}
