//! The one door every write of apply goes out by: [`logged`] writes the
//! action log's intent line, sends the command, then writes its outcome
//! ([`crate::action_log`]). Every APPEND, STORE, EXPUNGE, MOVE, CREATE,
//! RENAME, DELETE and (UN)SUBSCRIBE apply sends is wrapped in it, so the
//! log and what the servers were sent cannot drift apart
//! (`tests/action_log.rs` compares them with what a recording proxy saw).
//! A flight of writes sent together goes out by [`logged_flight`]: every
//! intent before anything is sent, each outcome from its own answer.

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
    log_outcome(seq, &write, &result, confirm);
    result
}

/// The outcome line of `write` (intent `seq`), from its answer.
fn log_outcome<T>(
    seq: Option<u64>,
    write: &Write<'_>,
    result: &Result<T, ImapError>,
    confirm: impl FnOnce(&T) -> Confirmed,
) {
    let answer = result.as_ref().map(confirm).map_err(refusal);
    write_outcome(
        seq,
        write,
        answer.as_ref().map_err(|(a, e)| (*a, e.clone())),
    );
}

/// How a failed write is logged: refused (nothing was changed: a NO, a
/// BAD, or never sent), else failed (not known whether it was made).
fn refusal(e: &ImapError) -> (Answer, String) {
    match e {
        ImapError::No { .. } | ImapError::Bad { .. } | ImapError::Invalid { .. } => {
            (Answer::Refused, e.to_string())
        }
        _ => (Answer::Failed, e.to_string()),
    }
}

fn write_outcome(
    seq: Option<u64>,
    write: &Write<'_>,
    answer: Result<&Confirmed, (Answer, String)>,
) {
    if let Err(e) = action_log::outcome(seq, write, answer) {
        // The write was made; its intent without an outcome reads as
        // "not confirmed", which is the truth as far as the log knows.
        tracing::warn!("could not write the outcome to the action log: {e}");
    }
}

/// The batch door: a flight of `writes` sent together. Every intent is
/// logged before `send` is polled (a log that cannot be written sends
/// nothing: the intents already written get a refused outcome, "never
/// sent"), then each write's outcome from its own answer, in order.
/// `confirm` reads one write's answer. `send` answers per write, in the order of `writes`, or fails as a
/// whole (the session died mid-flight: every write's outcome is that
/// failure, "not confirmed" for each, as a crash would leave it).
pub(super) async fn logged_flight<T>(
    peer: &Peer,
    writes: &[Write<'_>],
    send: impl Future<Output = Result<Vec<Result<T, ImapError>>, ImapError>>,
    confirm: impl Fn(&Write<'_>, &T) -> Confirmed,
) -> Result<Vec<Result<T, ImapError>>, ImapError> {
    let mut seqs = Vec::with_capacity(writes.len());
    for write in writes {
        match action_log::intent(write) {
            Ok(seq) => seqs.push(seq),
            Err(source) => {
                let error = ImapError::Io {
                    peer: peer.clone(),
                    during: "writing the action log (nothing was sent)".into(),
                    source,
                };
                let never = "never sent: the action log could not be written";
                for (seq, write) in seqs.into_iter().zip(writes) {
                    write_outcome(seq, write, Err((Answer::Refused, never.into())));
                }
                return Err(error);
            }
        }
    }
    let results = send.await;
    match &results {
        Ok(answers) => {
            for ((seq, write), answer) in seqs.into_iter().zip(writes).zip(answers) {
                log_outcome(seq, write, answer, |t| confirm(write, t));
            }
        }
        Err(e) => {
            let failed = refusal(e);
            for (seq, write) in seqs.into_iter().zip(writes) {
                write_outcome(seq, write, Err(failed.clone()));
            }
        }
    }
    results
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
