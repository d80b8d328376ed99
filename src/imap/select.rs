//! SELECT and EXAMINE: the command, and what its answer says of the
//! mailbox ([`MailboxStatus`]); alone ([`select`]), or with a header read
//! pipelined behind it ([`select_reading_fields`]): `SELECT name` and `UID
//! FETCH uids (UID BODY.PEEK[HEADER.FIELDS (…)])` in one flight, so that
//! what a deletion is about to remove can be named in the action log
//! (its Message-ID) without a turn of its own. Only the header fields are
//! read, `PEEK` so `\Seen` is left alone; a NO to the FETCH leaves them
//! unknown and the SELECT stands.

use super::bounds::Bound;
use super::commands::{mailbox_arg, protocol, status_number, Selected};
use super::engine::{Command, Engine};
use super::error::ImapError;
use super::parse::{self, Untagged};
use super::parse::{Code, Cond};
use super::{uidset, Limits};
use crate::model::{MailboxStatus, Uid};
use imap_proto::AttributeValue;
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};

/// Most bytes of header fields one message is allowed to bring back: a
/// Message-ID line is well under 1 KiB even folded.
const FIELD_BYTES: u64 = 4096;

/// `UID FETCH set (UID BODY.PEEK[HEADER.FIELDS (…)])` of `uids`, split
/// to fit the command line, each bounded to [`FIELD_BYTES`] a message;
/// `place` ends the label (` in "INBOX"`).
pub(crate) fn fields_commands(
    limits: &Limits,
    uids: &[Uid],
    fields: &[&str],
    place: &str,
) -> Vec<Command<'static>> {
    if uids.is_empty() || fields.is_empty() {
        return Vec::new();
    }
    let items = format!(" (UID BODY.PEEK[HEADER.FIELDS ({})])", fields.join(" "));
    let budget = limits
        .max_command_line
        .saturating_sub(32 + items.len())
        .max(1);
    uidset::compress_split(uids, budget)
        .into_iter()
        .map(|set| {
            let n = uidset::parse_ranges(&set).map_or(0, |r| uidset::count_ranges(&r));
            let sizes = vec![FIELD_BYTES; n as usize];
            Command::new(
                "UID FETCH",
                format!("UID FETCH (header fields of {n} UIDs{place})"),
            )
            .text(format!(" {set}{items}"))
            .bounded(Bound::bodies(&sizes, 0, limits.max_literal))
        })
        .collect()
}

/// The header section a FETCH answer carries, if any.
pub(crate) fn header_section<'a>(attrs: &'a [AttributeValue<'_>]) -> Option<&'a [u8]> {
    attrs.iter().find_map(|a| match a {
        AttributeValue::BodySection {
            section: Some(_),
            data: Some(d),
            ..
        } => Some(d.as_ref()),
        _ => None,
    })
}

/// SELECT (read-write) `name` with `(CONDSTORE)` when `condstore`, and
/// in the same flight the header `fields` of `uids` in it: per UID the
/// field lines as the server sent them (absent where it sent none).
pub(crate) async fn select_reading_fields(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    name: &str,
    condstore: bool,
    uids: &[Uid],
    fields: &[&str],
) -> Result<(MailboxStatus, BTreeMap<Uid, Vec<u8>>), ImapError> {
    let (select, mut reply) = Selecting::start(engine, selected, name, false, condstore)?;
    let mut cmds = vec![select];
    cmds.extend(
        fields_commands(limits, uids, fields, "")
            .into_iter()
            .map(Command::no_is_an_answer),
    );
    let asked: BTreeSet<Uid> = uids.iter().copied().collect();
    let mut found: BTreeMap<Uid, Vec<u8>> = BTreeMap::new();
    engine
        .run(cmds, limits.window.max(2), &mut |i, u| {
            // Mail arriving meanwhile counts in EXISTS; nothing else the
            // FETCH meets changes what the SELECT said.
            if i == 0 || matches!(u, Untagged::Exists(_)) {
                reply.absorb(u);
            }
            if let Untagged::Fetch { attrs, .. } = u {
                match (parse::fetch_uid(attrs), header_section(attrs)) {
                    (Some(uid), Some(d)) if asked.contains(&uid) => {
                        found.insert(uid, d.to_vec());
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .await?;
    let status = reply.finish(engine, selected).await?;
    Ok((status, found))
}

/// SELECT or EXAMINE, with `(CONDSTORE)` when `condstore` (the session
/// has CONDSTORE or QRESYNC).
pub(crate) async fn select(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    name: &str,
    read_only: bool,
    condstore: bool,
) -> Result<MailboxStatus, ImapError> {
    let (cmd, mut reply) = Selecting::start(engine, selected, name, read_only, condstore)?;
    engine
        .run_one(cmd, &mut |_, u| {
            reply.absorb(u);
            Ok(())
        })
        .await?;
    reply.finish(engine, selected).await
}

/// A SELECT or EXAMINE on its way: the command, and what its answer said
/// so far. [`select`] sends it alone; [`select_reading_fields`] pipelines a
/// FETCH behind it.
pub(crate) struct Selecting {
    name: String,
    label: String,
    read_only: bool,
    condstore: bool,
    exists: Option<u32>,
    uidvalidity: Option<u32>,
    uidnext: Option<u32>,
    highestmodseq: Option<u64>,
    nomodseq: bool,
    permanent_flags: Option<Vec<String>>,
}

impl Selecting {
    /// The command to send; nothing is selected from here on until
    /// [`Selecting::finish`] (a SELECT that fails leaves no mailbox
    /// selected, RFC 3501 §6.3.1).
    pub(crate) fn start<'n>(
        engine: &Engine,
        selected: &mut Option<Selected>,
        name: &'n str,
        read_only: bool,
        condstore: bool,
    ) -> Result<(Command<'n>, Selecting), ImapError> {
        let arg = mailbox_arg(engine, name)?;
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let label = format!("{verb} {name:?}");
        let mut cmd = Command::new(verb, label.clone()).text(" ").astring(arg);
        if condstore {
            cmd = cmd.text(" (CONDSTORE)");
        }
        *selected = None;
        let reply = Selecting {
            name: name.to_string(),
            label,
            read_only,
            condstore,
            exists: None,
            uidvalidity: None,
            uidnext: None,
            highestmodseq: None,
            nomodseq: false,
            permanent_flags: None,
        };
        Ok((cmd, reply))
    }

    /// Takes in one untagged response to the command.
    pub(crate) fn absorb(&mut self, u: &Untagged<'_>) {
        match u {
            Untagged::Exists(n) => self.exists = Some(*n),
            Untagged::Status(s) if s.cond == Cond::Ok => match &s.code {
                Some(Code::UidValidity(v)) => self.uidvalidity = Some(*v),
                Some(Code::UidNext(v)) => self.uidnext = Some(*v),
                Some(Code::HighestModSeq(v)) => self.highestmodseq = Some(*v),
                Some(Code::NoModSeq) => self.nomodseq = true,
                // EXAMINE's answer is about the read-only session.
                Some(Code::PermanentFlags(f)) if !self.read_only => {
                    self.permanent_flags = Some(f.clone())
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Once the command was answered OK: the mailbox is selected.
    pub(crate) async fn finish(
        self,
        engine: &mut Engine,
        selected: &mut Option<Selected>,
    ) -> Result<MailboxStatus, ImapError> {
        let during = format!("reading the response to {}", self.label);
        let uidvalidity = self
            .uidvalidity
            .ok_or_else(|| protocol(engine, &during, "no UIDVALIDITY".into()))?;
        let exists = self
            .exists
            .ok_or_else(|| protocol(engine, &during, "no EXISTS".into()))?;
        let uidnext = match self.uidnext {
            Some(n) => n,
            None => status_uidnext(engine, &self.name).await?,
        };
        let highestmodseq = if self.condstore && !self.nomodseq {
            self.highestmodseq
        } else {
            None
        };
        engine.note_selected(exists);
        *selected = Some(Selected {
            name: self.name,
            uidvalidity,
            exists,
            sizes: HashMap::new(),
            modseq: highestmodseq.is_some(),
            read_only: self.read_only,
        });
        Ok(MailboxStatus {
            uidvalidity,
            uidnext,
            exists,
            highestmodseq,
            permanent_flags: self.permanent_flags,
        })
    }
}

/// `STATUS name (UIDNEXT)`, for servers whose SELECT does not say.
async fn status_uidnext(engine: &mut Engine, name: &str) -> Result<u32, ImapError> {
    status_number(engine, name, "UIDNEXT").await
}
