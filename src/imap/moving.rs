//! Moving messages of the selected mailbox to another one (`--expunge-to`,
//! docs/AUDIT.md): `UID MOVE` where the server offers MOVE, else `UID COPY`
//! then `UID STORE \Deleted` + `UID EXPUNGE` of exactly those UIDs (never
//! a plain EXPUNGE, so without UIDPLUS nothing is sent), and the UIDs the
//! messages got there (COPYUID), in the order asked.

use super::commands::{self, invalid, mailbox_arg, writable, Selected};
use super::engine::{Command, Engine};
use super::error::ImapError;
use super::parse::{Code, Untagged};
use super::{history, uidset, Limits};
use crate::model::Uid;
use std::collections::HashMap;

/// Where moved messages landed: the UIDVALIDITY of the mailbox moved to and,
/// per UID asked (in that order), its UID there; None where the server did
/// not say (no COPYUID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moved {
    pub uidvalidity: Option<u32>,
    pub uids: Vec<Option<Uid>>,
}

/// Moves `uids` of the selected mailbox to `to` (wire name).
pub(crate) async fn uid_move(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    uids: &[Uid],
    to: &str,
) -> Result<Moved, ImapError> {
    let mailbox = writable(engine, selected, "UID MOVE")?.name.clone();
    if uids.is_empty() {
        return Ok(Moved::default());
    }
    let moves = engine.has_capability("MOVE");
    if !moves && !engine.has_capability("UIDPLUS") {
        return Err(invalid(
            engine,
            "cannot move to the quarantine: the server offers neither MOVE nor UIDPLUS \
             (a plain EXPUNGE is never sent)"
                .into(),
        ));
    }
    let arg = mailbox_arg(engine, to)?;
    let verb = if moves { "UID MOVE" } else { "UID COPY" };
    let budget = limits.max_command_line.saturating_sub(64 + to.len()).max(1);
    let cmds: Vec<Command<'_>> = uidset::compress_split(uids, budget)
        .into_iter()
        .map(|set| {
            Command::new(verb, format!("{verb} from {mailbox:?} to {to:?}"))
                .text(format!(" {set} "))
                .astring(arg.clone())
        })
        .collect();
    let mut codes: Vec<Code> = Vec::new();
    let done = engine
        .run(cmds, limits.window, &mut |_, u| {
            if let Untagged::Status(s) = u {
                codes.extend(s.code.clone());
            }
            commands::track(selected, u);
            Ok(())
        })
        .await?;
    codes.extend(done.into_iter().filter_map(|s| s.code));
    if !moves {
        history::uid_expunge(engine, selected, limits, uids).await?;
    }
    Ok(landed(uids, &codes))
}

/// Where each of `uids` landed, from the COPYUID codes.
fn landed(uids: &[Uid], codes: &[Code]) -> Moved {
    let mut uidvalidity = None;
    let mut to: HashMap<Uid, Uid> = HashMap::new();
    for code in codes {
        let Code::Other { name, args } = code else {
            continue;
        };
        if !name.eq_ignore_ascii_case("COPYUID") {
            continue;
        }
        let mut words = args.split_whitespace();
        let (Some(v), Some(from), Some(into)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let (Ok(v), Some(from), Some(into)) = (
            v.parse::<u32>(),
            uidset::expand(from, uids.len()),
            uidset::expand(into, uids.len()),
        ) else {
            continue;
        };
        if from.len() == into.len() {
            uidvalidity = Some(v);
            to.extend(from.into_iter().zip(into));
        }
    }
    Moved {
        uidvalidity,
        uids: uids.iter().map(|u| to.get(u).copied()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copyuid_maps_each_uid_to_where_it_landed_in_the_order_asked() {
        let codes = [
            Code::Other {
                name: "COPYUID".into(),
                args: "77 3:4 10:11".into(),
            },
            Code::Other {
                name: "COPYUID".into(),
                args: "77 9 12".into(),
            },
        ];
        let moved = landed(&[9, 3, 4, 5], &codes);
        assert_eq!(moved.uidvalidity, Some(77));
        assert_eq!(moved.uids, vec![Some(12), Some(10), Some(11), None]);
    }
}
