//! The one door every write of apply goes out by: [`logged`] writes the
//! action log's intent line, sends the command, then writes its outcome
//! ([`crate::action_log`]). Every APPEND, STORE, EXPUNGE, MOVE, CREATE,
//! RENAME, DELETE and (UN)SUBSCRIBE apply sends is wrapped in it, so the
//! log and what the servers were sent cannot drift apart
//! (`tests/action_log.rs` compares them with what a recording proxy saw).

use crate::action_log::{self, Answer, Confirmed, Write};
use crate::imap::{ImapError, Peer};
use crate::model::Uid;
use std::future::Future;

/// Logs `write`, sends it (`send` is not polled before the intent is
/// written: if the log cannot be written, nothing is sent and the error
/// says so), then logs what the answer `confirm`ed. The answer is returned
/// as the command gave it.
pub(super) async fn logged<T>(
    peer: &Peer,
    write: Write<'_>,
    send: impl Future<Output = Result<T, ImapError>>,
    confirm: impl FnOnce(&T) -> Confirmed,
) -> Result<T, ImapError> {
    let seq = action_log::intent(&write).map_err(|source| ImapError::Io {
        peer: peer.clone(),
        during: "writing the action log (nothing was sent)".into(),
        source,
    })?;
    let result = send.await;
    let answer = match &result {
        Ok(answer) => Ok(confirm(answer)),
        // Nothing was changed: refused, or never sent (BAD, a flag that
        // cannot be written).
        Err(e @ (ImapError::No { .. } | ImapError::Bad { .. } | ImapError::Invalid { .. })) => {
            Err((Answer::Refused, e.to_string()))
        }
        Err(e) => Err((Answer::Failed, e.to_string())),
    };
    let answer = answer.as_ref().map_err(|(a, e)| (*a, e.clone()));
    if let Err(e) = action_log::outcome(seq, &write, answer) {
        // The write was made; its intent without an outcome reads as
        // "not confirmed", which is the truth as far as the log knows.
        tracing::warn!("could not write the outcome to the action log: {e}");
    }
    result
}

/// The answer confirmed the write as the intent described it.
pub(super) fn as_sent<T>(_: &T) -> Confirmed {
    Confirmed::default()
}

/// A conditional STORE (UNCHANGEDSINCE) over `uids` answered with the UIDs
/// it left alone (`[MODIFIED]`): confirmed for the others, partial if any
/// was left.
pub(super) fn stored_but_modified(uids: &[Uid]) -> impl Fn(&Vec<Uid>) -> Confirmed + '_ {
    move |modified: &Vec<Uid>| Confirmed {
        uids: Some(
            uids.iter()
                .filter(|u| !modified.contains(u))
                .copied()
                .collect(),
        ),
        partial: !modified.is_empty(),
        ..Confirmed::default()
    }
}
