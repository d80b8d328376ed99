//! What each [`super::Connection`] method sends and how it reads the reply:
//! LIST, SELECT/EXAMINE, the metadata listing, body fetches, APPEND /
//! MULTIAPPEND, UID STORE, and managing mailboxes and subscriptions
//! (CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LSUB / LIST (SUBSCRIBED)).
//! The CONDSTORE/QRESYNC commands are in `history.rs`.
//!
//! Each function builds commands, runs them through the engine (pipelined
//! where there are several) and turns the untagged data into the public
//! values. None of them makes a round trip per message.

use super::bounds::{self, Bound, Budget};
use super::engine::{Command, Engine, Keep};
use super::error::ImapError;
pub(crate) use super::expunged::Expunged;
use super::parse::{self, Code, Cond, Untagged};
pub(crate) use super::select::select;
use super::selected::{leave, leave_read_only};
pub(crate) use super::selected::{same_mailbox, track, writable, Selected};
use super::{quote, uidset, AppendItem, AppendResult, Limits, ListedMailbox, ListedStatus};
use crate::model::{FlagDelta, FlagSet, InternalDate, ListedMessage, Uid};
use imap_proto::AttributeValue;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

pub(crate) fn invalid(engine: &Engine, detail: String) -> ImapError {
    ImapError::Invalid {
        peer: engine.peer().clone(),
        detail,
    }
}

pub(crate) fn protocol(engine: &Engine, during: &str, detail: String) -> ImapError {
    ImapError::Protocol {
        peer: engine.peer().clone(),
        during: during.to_string(),
        detail,
    }
}

pub(crate) fn mailbox_arg<'n>(
    engine: &Engine,
    name: &'n str,
) -> Result<quote::Astring<'n>, ImapError> {
    quote::mailbox(name).map_err(|d| invalid(engine, d))
}

pub(crate) fn flag_list(engine: &Engine, flags: &FlagSet) -> Result<String, ImapError> {
    for f in flags.iter() {
        if !quote::is_sendable_flag(f.as_str()) {
            return Err(invalid(
                engine,
                format!("flag {:?} cannot be sent", f.as_str()),
            ));
        }
    }
    Ok(format!("({})", flags.to_wire()))
}

/// `LIST "" "*"`; where the server has LIST-STATUS (RFC 5819), with
/// `RETURN (STATUS (…))`: with CONDSTORE, `UIDVALIDITY UIDNEXT MESSAGES
/// HIGHESTMODSEQ`, so each mailbox's watermarks come without a SELECT; where
/// the server limits per mailbox (a bare `APPENDLIMIT`, RFC 7889),
/// `APPENDLIMIT`, so a mailbox's limit costs no STATUS of its own. A server
/// that refuses the APPENDLIMIT item there is listed again without it (its
/// limits are then asked by STATUS, where needed).
pub(crate) async fn list(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
) -> Result<Vec<ListedMailbox>, ImapError> {
    let none = TreeExtras::default();
    list_tree(engine, selected, none).await.map(|t| t.mailboxes)
}

/// What else goes out in the flight of the LIST ([`list_tree`]).
#[derive(Default, Clone, Copy)]
pub(crate) struct TreeExtras<'k> {
    /// `ENABLE` this first (left over from login).
    pub enable: Option<&'static str>,
    /// The subscriptions too ([`list_subscribed`]'s command).
    pub subscriptions: bool,
    /// Wire names whose watermarks are wanted (the snapshot knows them):
    /// where LIST-STATUS would give them, each is asked by a `STATUS` of
    /// its own ahead of a LIST without STATUS, in the same flight. Dovecot
    /// answers a STATUS sent before any LIST of the session from its
    /// mailbox list index (12 ms for a mailbox of 300,000 messages), but
    /// LIST-STATUS, and any STATUS after a LIST, by opening the mailbox's
    /// index (2 s there under load; it was most of a no-op run). A mailbox
    /// listed and not asked for has no watermarks: it is selected, as one
    /// the snapshot does not know is anyway.
    pub known: &'k [String],
}

/// What one flight of [`list_tree`] returned.
pub(crate) struct Tree {
    pub mailboxes: Vec<ListedMailbox>,
    /// What `* ENABLED` listed, when ENABLE was sent.
    pub enabled: Vec<String>,
    /// The subscriptions, when asked: their own error if refused (the tree
    /// stands without them).
    pub subscriptions: Option<Result<Vec<String>, ImapError>>,
}

/// [`list`], with the session's other first questions in the same flight
/// (RFC 9051 §5.5: none depends on another's answer): ENABLE before the
/// LIST (a NO is an answer: the session goes on without), the
/// subscriptions after it. One turn where there were three.
pub(crate) async fn list_tree(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    extras: TreeExtras<'_>,
) -> Result<Tree, ImapError> {
    let mut items: Vec<&str> = Vec::new();
    if engine.has_capability("LIST-STATUS") {
        if engine.has_capability("CONDSTORE") {
            items.extend(["UIDVALIDITY", "UIDNEXT", "MESSAGES", "HIGHESTMODSEQ"]);
        }
        if engine.has_capability("APPENDLIMIT") {
            items.push("APPENDLIMIT");
        }
    }
    match list_returning(engine, selected, &items, extras).await {
        Err(ImapError::No { .. } | ImapError::Bad { .. }) if items.contains(&"APPENDLIMIT") => {
            // The whole flight again (ENABLE twice is harmless).
            items.retain(|i| *i != "APPENDLIMIT");
            list_returning(engine, selected, &items, extras).await
        }
        listed => listed,
    }
}

/// `LIST "" "*"`, with `RETURN (STATUS (items))` unless `items` is empty,
/// in one flight with `extras`.
async fn list_returning(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    items: &[&str],
    extras: TreeExtras<'_>,
) -> Result<Tree, ImapError> {
    let with_status = !items.is_empty();
    // The known mailboxes' watermarks by STATUS ahead of the LIST (see
    // [`TreeExtras::known`]), where LIST-STATUS would give them.
    let ahead = with_status && !extras.known.is_empty();
    let mut ahead_cmds = Vec::new();
    if ahead {
        for name in extras.known {
            let arg = mailbox_arg(engine, name)?;
            let cmd = Command::new("STATUS", format!("STATUS {name:?} (watermarks)"))
                .text(" ")
                .astring(arg)
                .text(format!(" ({})", items.join(" ")))
                // A mailbox gone since is an answer: LIST does not name it.
                .no_is_an_answer();
            ahead_cmds.push(cmd);
        }
    }
    let mut out = Vec::new();
    // Per mailbox, the items we use, kept as numbers (the names would
    // take more room than the values).
    let mut statuses: HashMap<String, StatusItems> = HashMap::new();
    let cmd = if with_status {
        // With RETURN options a server sends only the attributes asked
        // for beyond the basic ones: special-use ones (\All is skipped,
        // \Sent … are reported) must be asked for where they exist.
        let special_use = engine.has_capability("SPECIAL-USE");
        let args = match (ahead, special_use) {
            (true, true) => " \"\" \"*\" RETURN (SPECIAL-USE)".to_string(),
            (true, false) => " \"\" \"*\"".to_string(),
            (false, true) => format!(
                " \"\" \"*\" RETURN (SPECIAL-USE STATUS ({}))",
                items.join(" ")
            ),
            (false, false) => format!(" \"\" \"*\" RETURN (STATUS ({}))", items.join(" ")),
        };
        Command::new("LIST", format!("LIST{args}")).text(args)
    } else {
        Command::new("LIST", "LIST \"\" \"*\"").text(" \"\" \"*\"")
    };
    let mut cmds = Vec::new();
    if let Some(want) = extras.enable {
        cmds.push(super::history::enable_command(want));
    }
    let status_at = cmds.len();
    cmds.extend(ahead_cmds);
    let list_at = cmds.len();
    cmds.push(cmd.bounded(Bound::mailboxes()));
    let extended = engine.has_capability("LIST-EXTENDED");
    if extras.subscriptions {
        cmds.push(
            subscriptions_command(extended)
                .no_is_an_answer()
                .bounded(Bound::mailboxes()),
        );
    }
    let subs_label = cmds.get(list_at + 1).map(|c| c.label().to_string());
    let mut enabled = Vec::new();
    let mut subscribed = Vec::new();
    let (mut budget, mut status_budget, mut subs_budget) = (
        Budget::mailboxes(),
        Budget::mailboxes(),
        Budget::mailboxes(),
    );
    let count = cmds.len();
    let done = engine
        .run(cmds, count, &mut |i, u| {
            track(selected, u);
            if i < status_at {
                super::history::note_enabled(&mut enabled, u);
            } else if i < list_at {
                if let Untagged::MailboxStatus { mailbox, items } = u {
                    // One per known mailbox: as many as the snapshot names.
                    let entry = std::mem::size_of::<(String, StatusItems)>() as u64;
                    status_budget.keep(1, bounds::string_cost(mailbox) + entry)?;
                    statuses.insert(mailbox.clone(), StatusItems::from_wire(items));
                }
            } else if i > list_at {
                if let Some(name) = subscribed_name(extended, u) {
                    subs_budget.keep(1, bounds::string_cost(&name))?;
                    subscribed.push(name);
                }
            } else {
                match u {
                    Untagged::List(m) => {
                        budget.keep(1, bounds::mailbox_cost(m))?;
                        out.push(m.clone());
                    }
                    Untagged::MailboxStatus { mailbox, items } if with_status => {
                        let kept = StatusItems::from_wire(items);
                        if let Some(old) = statuses.get_mut(mailbox) {
                            *old = kept;
                        } else {
                            // A STATUS per mailbox: as many as LIST may name.
                            let entry = std::mem::size_of::<(String, StatusItems)>() as u64;
                            status_budget.keep(1, bounds::string_cost(mailbox) + entry)?;
                            statuses.insert(mailbox.clone(), kept);
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .await?;
    let asked_limit = items.contains(&"APPENDLIMIT");
    for m in &mut out {
        let Some(items) = statuses.get(&m.name) else {
            continue;
        };
        m.status = items.listed_status();
        // Asked and answered, the item left out: `APPENDLIMIT NIL`, no limit.
        m.append_limit = asked_limit.then_some(items.0[4]);
    }
    let subscriptions = subs_label.map(|label| match done.last() {
        Some(st) if st.cond == Cond::No => Err(ImapError::No {
            peer: engine.peer().clone(),
            command: label,
            code: st.code.as_ref().map(|c| c.to_string()),
            text: st.text.clone(),
        }),
        _ => {
            subscribed.sort();
            subscribed.dedup();
            Ok(subscribed)
        }
    });
    Ok(Tree {
        mailboxes: out,
        enabled,
        subscriptions,
    })
}

/// The items of a LIST-STATUS answer we use, in the order of
/// [`StatusItems::NAMES`].
struct StatusItems([Option<u64>; 5]);

impl StatusItems {
    const NAMES: [&'static str; 5] = [
        "UIDVALIDITY",
        "UIDNEXT",
        "MESSAGES",
        "HIGHESTMODSEQ",
        "APPENDLIMIT",
    ];

    fn from_wire(items: &[(String, u64)]) -> StatusItems {
        StatusItems(Self::NAMES.map(|name| items.iter().find(|(k, _)| k == name).map(|(_, v)| *v)))
    }

    /// The first four; None if one is missing or out of range (the
    /// mailbox is then selected as usual).
    fn listed_status(&self) -> Option<ListedStatus> {
        let [v, n, m, h, _] = self.0;
        Some(ListedStatus {
            uidvalidity: u32::try_from(v?).ok()?,
            uidnext: u32::try_from(n?).ok()?,
            messages: u32::try_from(m?).ok()?,
            highestmodseq: h?,
        })
    }
}

/// `STATUS name (ITEM)` for one 32-bit item (`UIDNEXT`, `UIDVALIDITY`).
pub(crate) async fn status_number(
    engine: &mut Engine,
    name: &str,
    item: &str,
) -> Result<u32, ImapError> {
    let arg = mailbox_arg(engine, name)?;
    let label = format!("STATUS {name:?} ({item})");
    let cmd = Command::new("STATUS", label.clone())
        .text(" ")
        .astring(arg)
        .text(format!(" ({item})"));
    let mut value = None;
    engine
        .run_one(cmd, &mut |_, u| {
            if let Untagged::MailboxStatus { items, .. } = u {
                for (k, v) in items {
                    if k.eq_ignore_ascii_case(item) {
                        value = u32::try_from(*v).ok();
                    }
                }
            }
            Ok(())
        })
        .await?;
    value.ok_or_else(|| protocol(engine, &label, format!("no {item} in the STATUS reply")))
}

/// `STATUS name (APPENDLIMIT)` (RFC 7889): the largest message this mailbox
/// takes; None when the server says NIL (no limit) or nothing.
pub(crate) async fn status_append_limit(
    engine: &mut Engine,
    name: &str,
) -> Result<Option<u64>, ImapError> {
    let arg = mailbox_arg(engine, name)?;
    let cmd = Command::new("STATUS", format!("STATUS {name:?} (APPENDLIMIT)"))
        .text(" ")
        .astring(arg)
        .text(" (APPENDLIMIT)");
    let mut limit = None;
    engine
        .run_one(cmd, &mut |_, u| {
            if let Untagged::MailboxStatus { items, .. } = u {
                for (k, v) in items {
                    if k == "APPENDLIMIT" {
                        limit = Some(*v);
                    }
                }
            }
            Ok(())
        })
        .await?;
    Ok(limit)
}

/// One message's metadata as it comes in, possibly over several FETCH
/// responses (an unsolicited flag update carries only FLAGS).
#[derive(Default)]
pub(crate) struct PartialMeta {
    size: Option<u32>,
    date: Option<InternalDate>,
    flags: Option<FlagSet>,
    pub modseq: Option<u64>,
}

impl PartialMeta {
    /// The flags, if they came.
    pub(crate) fn flags(&self) -> Option<&FlagSet> {
        self.flags.as_ref()
    }

    /// Whether size, date and flags have all come.
    pub(crate) fn is_complete(&self) -> bool {
        self.size.is_some() && self.date.is_some() && self.flags.is_some()
    }

    /// Fills in from a later reading: its size and date where we had none,
    /// its flags unless its MODSEQ shows them older than ours.
    pub(crate) fn merge_newer(&mut self, later: PartialMeta) {
        self.size = self.size.or(later.size);
        self.date = self.date.or(later.date);
        let older = matches!((later.modseq, self.modseq), (Some(new), Some(old)) if new < old);
        if later.flags.is_some() && !older {
            self.flags = later.flags;
        }
        self.modseq = self.modseq.max(later.modseq);
    }
}

/// Files the metadata of one FETCH response under its UID (returned).
/// FETCH data without a UID is an unsolicited flag update for a sequence
/// number and is skipped; the solicited replies carry the UID. Unsolicited
/// updates with a UID (CONDSTORE/QRESYNC) do count: a server may answer
/// from its view at the start of the command and report later changes
/// after it (Dovecot does). Flags with a lower MODSEQ than already seen
/// are older and do not overwrite.
pub(crate) fn absorb_meta(
    found: &mut BTreeMap<Uid, PartialMeta>,
    attrs: &[AttributeValue<'_>],
    budget: &mut Budget,
) -> Result<Option<Uid>, String> {
    let Some(uid) = parse::fetch_uid(attrs) else {
        return Ok(None);
    };
    let new = u64::from(!found.contains_key(&uid));
    let keywords: u64 = attrs
        .iter()
        .filter_map(|a| match a {
            AttributeValue::Flags(f) => Some(f),
            _ => None,
        })
        .flatten()
        .filter(|f| !f.starts_with('\\'))
        .map(|f| bounds::string_cost(f))
        .sum();
    budget.keep(new, keywords)?;
    let entry = found.entry(uid).or_default();
    let modseq = attrs.iter().find_map(|a| match a {
        AttributeValue::ModSeq(m) => Some(*m),
        _ => None,
    });
    let older = matches!((modseq, entry.modseq), (Some(new), Some(old)) if new < old);
    for a in attrs {
        match a {
            AttributeValue::Rfc822Size(s) => entry.size = Some(*s),
            AttributeValue::InternalDate(d) => {
                let date = InternalDate::parse(d)
                    .ok_or_else(|| format!("UID {uid}: unparsable INTERNALDATE {d:?}"))?;
                entry.date = Some(date);
            }
            AttributeValue::Flags(f) if !older => {
                entry.flags = Some(FlagSet::from_wire(f.iter().map(|c| c.as_ref())))
            }
            _ => {}
        }
    }
    if let Some(m) = modseq {
        entry.modseq = Some(entry.modseq.unwrap_or(0).max(m));
    }
    Ok(Some(uid))
}

/// The complete listings among `found`, in UID order. A UID seen only in
/// an unsolicited update (expunged meanwhile, or not asked for) has no
/// size or date and is left out; one with size and date but no FLAGS is a
/// protocol error.
pub(crate) fn finish_meta(
    engine: &Engine,
    label: &str,
    found: &BTreeMap<Uid, PartialMeta>,
) -> Result<Vec<ListedMessage>, ImapError> {
    let mut out = Vec::with_capacity(found.len());
    for (&uid, m) in found {
        let (Some(size), Some(internal_date)) = (m.size, m.date) else {
            continue;
        };
        let Some(flags) = m.flags.clone() else {
            return Err(protocol(
                engine,
                label,
                format!("UID {uid} came without FLAGS"),
            ));
        };
        out.push(ListedMessage {
            uid,
            size,
            internal_date,
            flags,
        });
    }
    Ok(out)
}

/// `UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)`.
pub(crate) async fn fetch_all_meta(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
) -> Result<Vec<ListedMessage>, ImapError> {
    let Some(sel) = selected.as_ref() else {
        return Err(invalid(engine, "UID FETCH with no mailbox selected".into()));
    };
    let label = format!("UID FETCH 1:* (metadata of {:?})", sel.name);
    // A server must announce messages with EXISTS before they can be
    // fetched, so an empty mailbox needs no command (and some servers
    // answer `1:*` on an empty mailbox with BAD).
    if sel.exists == 0 {
        return Ok(Vec::new());
    }
    let mut found: BTreeMap<Uid, PartialMeta> = BTreeMap::new();
    let mut expunged = Expunged::new(selected);
    let mut budget = Budget::messages("messages", sel.exists);
    let cmd = Command::new("UID FETCH", label.clone())
        .text(" 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)")
        .bounded(Bound::listing(sel.exists));
    engine
        .run_one(cmd, &mut |_, u| {
            track(selected, u);
            expunged.see(u)?;
            if let Untagged::Fetch { attrs, .. } = u {
                absorb_meta(&mut found, attrs, &mut budget)?;
            }
            Ok(())
        })
        .await?;
    // Expunged while we listed: gone, and no longer counted in EXISTS.
    let gone = expunged.ranges();
    found.retain(|&uid, _| !uidset::in_ranges(&gone, uid));
    let out = finish_meta(engine, &label, &found)?;
    if let Some(sel) = selected.as_mut() {
        sel.sizes = out.iter().map(|m| (m.uid, m.size)).collect();
    }
    Ok(out)
}

/// `UID FETCH <set> (UID BODY.PEEK[])` in pipelined batches.
pub(crate) async fn fetch_bodies(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    uids: &[Uid],
    on_body: &mut (dyn FnMut(Uid, Vec<u8>) + Send),
) -> Result<Vec<Uid>, ImapError> {
    let Some(sel) = selected.as_ref() else {
        return Err(invalid(engine, "UID FETCH with no mailbox selected".into()));
    };
    let batches = uidset::batches(
        uids,
        limits.fetch_batch_count,
        limits.fetch_batch_bytes,
        |u| sel.sizes.get(&u).copied().unwrap_or(0).into(),
    );
    let mailbox = sel.name.clone();
    let requested: HashSet<Uid> = uids.iter().copied().collect();
    let mut delivered: HashSet<Uid> = HashSet::with_capacity(requested.len());
    let cmds: Vec<Command<'_>> = batches
        .iter()
        .map(|b| {
            let sizes: Vec<u64> = b
                .iter()
                .map(|u| sel.sizes.get(u).copied().unwrap_or(0).into())
                .collect();
            Command::new(
                "UID FETCH",
                format!("UID FETCH ({} bodies from {mailbox:?})", b.len()),
            )
            .text(format!(" {} (UID BODY.PEEK[])", uidset::compress(b)))
            .carrying_messages(b.len())
            .bounded(Bound::bodies(&sizes, sel.exists, limits.max_literal))
        })
        .collect();
    // Each body is handed to `on_body` as the response's own buffer, cut
    // down to it: a large message is held once, not copied.
    let mut on_data = |_: usize, u: &Untagged<'_>| -> Result<Option<Keep>, String> {
        track(selected, u);
        let Untagged::Fetch { attrs, .. } = u else {
            return Ok(None);
        };
        let Some(body) = whole_body(attrs) else {
            return Ok(None); // an unsolicited flag update
        };
        let uid = parse::fetch_uid(attrs).ok_or("BODY[] came without a UID")?;
        if !requested.contains(&uid) || delivered.contains(&uid) {
            return Ok(None);
        }
        // `BODY[] NIL`: the message is gone; it stays undelivered.
        let Some(data) = body else {
            return Ok(None);
        };
        delivered.insert(uid);
        Ok(Some(Keep::body(uid, data)))
    };
    engine
        .run_keeping(cmds, limits.window, &mut on_data, &mut |uid, body| {
            on_body(uid, body)
        })
        .await?;
    let mut gone: Vec<Uid> = requested.difference(&delivered).copied().collect();
    gone.sort_unstable();
    Ok(gone)
}

/// The `BODY[]` of a FETCH response (None: it has none; Some(None): NIL).
pub(crate) fn whole_body<'a>(attrs: &'a [AttributeValue<'a>]) -> Option<&'a Option<Cow<'a, [u8]>>> {
    attrs.iter().find_map(|a| match a {
        AttributeValue::BodySection {
            section: None,
            index: None,
            data,
        } => Some(data),
        _ => None,
    })
}

/// APPEND: one MULTIAPPEND command where offered, else pipelined APPENDs.
pub(crate) async fn append(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    mailbox: &str,
    items: &[AppendItem<'_>],
    condstore: bool,
) -> Result<AppendResult, ImapError> {
    if items.is_empty() {
        return Ok(AppendResult {
            uidvalidity: None,
            uids: Some(Vec::new()),
        });
    }
    // Check everything before anything goes out.
    mailbox_arg(engine, mailbox)?;
    let flag_lists = items
        .iter()
        .map(|it| flag_list(engine, it.flags))
        .collect::<Result<Vec<_>, _>>()?;
    leave_read_only(engine, selected, mailbox, condstore).await?;
    let binary_ok = engine.has_capability("BINARY");
    let multi = items.len() > 1 && engine.has_capability("MULTIAPPEND");
    let mut cmds = Vec::new();
    if multi {
        let label = format!("APPEND {mailbox:?} ({} messages, MULTIAPPEND)", items.len());
        let mut cmd: Command<'_> = Command::new("APPEND", label)
            .carrying_messages(items.len())
            .text(" ")
            .astring(mailbox_arg(engine, mailbox)?);
        for (i, it) in items.iter().enumerate() {
            cmd = with_message(cmd, &flag_lists[i], it, binary_ok);
        }
        cmds.push(cmd);
    } else {
        for (i, it) in items.iter().enumerate() {
            let label = format!("APPEND {mailbox:?} (message {} of {})", i + 1, items.len());
            let cmd = Command::new("APPEND", label)
                .carrying_messages(1)
                .text(" ")
                .astring(mailbox_arg(engine, mailbox)?);
            cmds.push(with_message(cmd, &flag_lists[i], it, binary_ok));
        }
    }
    let done = engine
        .run(cmds, limits.window, &mut |_, u| {
            track(selected, u);
            Ok(())
        })
        .await?;
    // Map APPENDUID: one code for the MULTIAPPEND, or one per APPEND.
    let mut uidvalidity = None;
    let mut uids = Vec::with_capacity(items.len());
    let mut complete = true;
    for status in &done {
        match &status.code {
            Some(Code::AppendUid {
                uidvalidity: v,
                uid_set,
            }) if uidvalidity.is_none() || uidvalidity == Some(*v) => {
                uidvalidity = Some(*v);
                match uidset::expand(uid_set, items.len()) {
                    Some(set) => uids.extend(set),
                    None => complete = false,
                }
            }
            _ => complete = false,
        }
    }
    let uids = (complete && uids.len() == items.len()).then_some(uids);
    Ok(AppendResult {
        uidvalidity: if uids.is_some() { uidvalidity } else { None },
        uids,
    })
}

/// ` (flags) "date" {n}…` for one message. NUL bytes go as a binary
/// literal where BINARY is offered; elsewhere the server decides.
fn with_message<'a>(
    cmd: Command<'a>,
    flag_list: &str,
    it: &AppendItem<'a>,
    binary_ok: bool,
) -> Command<'a> {
    let mut cmd = cmd;
    if !it.flags.is_empty() {
        cmd = cmd.text(format!(" {flag_list}"));
    }
    cmd = cmd.text(format!(" {} ", quote::quoted(&it.internal_date.to_imap())));
    let binary = binary_ok && it.body.contains(&0);
    cmd.literal(it.body, binary)
}

/// `UID STORE <set> +FLAGS.SILENT (…)` and `-FLAGS.SILENT (…)`, each split
/// so that every command line stays under `limits.max_command_line`.
pub(crate) async fn store(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    limits: &Limits,
    uids: &[Uid],
    delta: &FlagDelta,
) -> Result<(), ImapError> {
    let sel = writable(engine, selected, "UID STORE")?;
    if uids.is_empty() || delta.is_empty() {
        return Ok(());
    }
    let mailbox = sel.name.clone();
    // Check both halves before anything goes out.
    let mut cmds = store_commands(engine, limits, &mailbox, uids, "+", &delta.add, None)?;
    cmds.extend(store_commands(
        engine,
        limits,
        &mailbox,
        uids,
        "-",
        &delta.remove,
        None,
    )?);
    engine
        .run(cmds, limits.window, &mut |_, u| {
            track(selected, u);
            Ok(())
        })
        .await?;
    Ok(())
}

/// `UID STORE <set> [(UNCHANGEDSINCE m)] <sign>FLAGS.SILENT (…)` for these
/// UIDs, split so that every command line stays under
/// `limits.max_command_line`. No commands for an empty flag set.
pub(crate) fn store_commands(
    engine: &Engine,
    limits: &Limits,
    mailbox: &str,
    uids: &[Uid],
    sign: &str,
    flags: &FlagSet,
    unchanged_since: Option<u64>,
) -> Result<Vec<Command<'static>>, ImapError> {
    if flags.is_empty() || uids.is_empty() {
        return Ok(Vec::new());
    }
    let op = format!("{sign}FLAGS.SILENT");
    let list = flag_list(engine, flags)?;
    let modifier = unchanged_since
        .map(|m| format!(" (UNCHANGEDSINCE {m})"))
        .unwrap_or_default();
    // "A0000 UID STORE " + set + modifier + " " + op + " " + list + CRLF,
    // with room for a longer tag.
    let overhead = 32 + modifier.len() + op.len() + list.len();
    // A single run is never split, so even a tiny budget makes progress.
    let budget = limits.max_command_line.saturating_sub(overhead).max(1);
    Ok(uidset::compress_split(uids, budget)
        .into_iter()
        .map(|set| {
            let n = uidset::parse_ranges(&set).map_or(0, |r| uidset::count_ranges(&r));
            let label = format!("UID STORE{modifier} {op} {list} on {n} UIDs in {mailbox:?}");
            Command::new("UID STORE", label).text(format!(" {set}{modifier} {op} {list}"))
        })
        .collect())
}

/// `CREATE name`.
pub(crate) async fn create(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    name: &str,
) -> Result<(), ImapError> {
    on_mailbox(engine, selected, "CREATE", name).await
}

/// `LOGOUT`, sent and not waited for: the session is over whatever the
/// server answers, and waiting would cost a turn.
pub(crate) async fn logout(engine: Engine) {
    let cmd = Command::new("LOGOUT", "LOGOUT").expecting_bye();
    engine.send_and_leave(cmd).await;
}

/// A command whose only argument is a mailbox name (CREATE, DELETE,
/// SUBSCRIBE, UNSUBSCRIBE); nothing is sent for a name that cannot be.
async fn on_mailbox(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    verb: &'static str,
    name: &str,
) -> Result<(), ImapError> {
    let arg = mailbox_arg(engine, name)?;
    let cmd = Command::new(verb, format!("{verb} {name:?}"))
        .text(" ")
        .astring(arg);
    engine
        .run_one(cmd, &mut |_, u| {
            track(selected, u);
            Ok(())
        })
        .await?;
    Ok(())
}

/// `DELETE name`, after leaving it if it is selected.
pub(crate) async fn delete(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    name: &str,
) -> Result<(), ImapError> {
    mailbox_arg(engine, name)?;
    leave(engine, selected, name).await?;
    on_mailbox(engine, selected, "DELETE", name).await
}

/// `RENAME from to`, after leaving `from` if it is selected.
pub(crate) async fn rename(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    from: &str,
    to: &str,
) -> Result<(), ImapError> {
    let a = mailbox_arg(engine, from)?;
    let b = mailbox_arg(engine, to)?;
    leave(engine, selected, from).await?;
    let cmd = Command::new("RENAME", format!("RENAME {from:?} {to:?}"))
        .text(" ")
        .astring(a)
        .text(" ")
        .astring(b);
    engine
        .run_one(cmd, &mut |_, u| {
            track(selected, u);
            Ok(())
        })
        .await?;
    Ok(())
}

/// `SUBSCRIBE name` / `UNSUBSCRIBE name`.
pub(crate) async fn subscribe(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
    name: &str,
    on: bool,
) -> Result<(), ImapError> {
    let verb = if on { "SUBSCRIBE" } else { "UNSUBSCRIBE" };
    on_mailbox(engine, selected, verb, name).await
}

/// Every subscribed name, sorted: `LIST (SUBSCRIBED) "" "*"` where
/// LIST-EXTENDED is offered (keeping the entries marked `\Subscribed`),
/// else `LSUB "" "*"` (every entry; with `*` LSUB lists subscribed names
/// only, `\Noselect` there meaning the mailbox does not exist).
pub(crate) async fn list_subscribed(
    engine: &mut Engine,
    selected: &mut Option<Selected>,
) -> Result<Vec<String>, ImapError> {
    let extended = engine.has_capability("LIST-EXTENDED");
    let mut out = Vec::new();
    let mut budget = Budget::mailboxes();
    engine
        .run_one(
            subscriptions_command(extended).bounded(Bound::mailboxes()),
            &mut |_, u| {
                track(selected, u);
                if let Some(name) = subscribed_name(extended, u) {
                    budget.keep(1, bounds::string_cost(&name))?;
                    out.push(name);
                }
                Ok(())
            },
        )
        .await?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// `LIST (SUBSCRIBED) "" "*"` where LIST-EXTENDED is offered, else `LSUB`.
fn subscriptions_command(extended: bool) -> Command<'static> {
    if extended {
        Command::new("LIST", "LIST (SUBSCRIBED) \"\" \"*\"").text(" (SUBSCRIBED) \"\" \"*\"")
    } else {
        Command::new("LSUB", "LSUB \"\" \"*\"").text(" \"\" \"*\"")
    }
}

/// The subscribed name an answer to [`subscriptions_command`] gives, if any.
fn subscribed_name(extended: bool, u: &Untagged<'_>) -> Option<String> {
    let Untagged::List(m) = u else { return None };
    let subscribed = !extended
        || m.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case("\\Subscribed"));
    subscribed.then(|| m.name.clone())
}

/// `COMPRESS DEFLATE` (RFC 4978): on OK, everything after is compressed
/// both ways. A NO (e.g. compression already active) leaves the session as
/// it was.
pub(crate) async fn compress(mut engine: Engine) -> Result<Engine, ImapError> {
    let cmd = Command::new("COMPRESS", "COMPRESS DEFLATE").text(" DEFLATE");
    match engine.run_one(cmd, &mut |_, _| Ok(())).await {
        Ok(_) => Ok(engine.into_compressed()),
        Err(ImapError::No { .. }) => Ok(engine),
        Err(e) => Err(e),
    }
}
