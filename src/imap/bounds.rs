//! How much of a server's answer one command may bring and keep, so that
//! no reply — an endless flood of `* LIST` lines, of `* OK`, of FETCH data
//! for UIDs nobody asked about — can grow imapmend without limit or keep
//! it reading for ever.
//!
//! Two bounds, each derived from what the command can legitimately
//! return, generous for real servers:
//!
//! - [`Bound`]: what the engine reads for one command — untagged responses
//!   (count and bytes) and the largest literal. Every command has one: its
//!   own where it collects ([`Bound::listing`], [`Bound::bodies`],
//!   [`Bound::mailboxes`]), else [`Bound::unsolicited`] for the selected
//!   mailbox's size (updates from other sessions: EXPUNGE, FETCH FLAGS).
//! - [`Budget`]: what a handler keeps of it — mailboxes, messages, UIDs,
//!   ranges — in count and in (estimated) bytes of memory.
//!
//! Past either, the command fails with a protocol error naming the bound
//! (the engine adds the server and the command): fatal, so nothing more is
//! read from that connection. A mailbox's listing then fails (exit 2); a
//! LIST, CAPABILITY, ENABLE or login fails the run (exit 3). The line and
//! literal caps of [`super::Limits`] stay as they were, underneath.

/// Most mailboxes a LIST, LSUB or LIST (SUBSCRIBED) answer may name (and
/// as many LIST-STATUS answers): far beyond any real account (large shared
/// trees hold tens of thousands).
pub(crate) const MAX_MAILBOXES: u64 = 100_000;
/// Most memory (estimated) the mailboxes of one LIST answer may take:
/// 100,000 mailboxes with 40-byte names and a few attributes take ~25 MiB.
pub(crate) const MAX_LIST_BYTES: u64 = 40 << 20;
/// Untagged responses any command may meet beyond the ones it asked for,
/// before the selected mailbox's share (a few per message) is added.
const UNSOLICITED_BASE: u64 = 10_000;
/// Bytes of them beyond the selected mailbox's share.
const UNSOLICITED_BASE_BYTES: u64 = 16 << 20;
/// Messages a listing may name beyond EXISTS (mail arriving meanwhile).
const MESSAGE_SLACK: u64 = 1_000;
/// Memory a listed message may take in flags (keywords) on average: real
/// mail carries a handful of keywords, tens of bytes.
const FLAG_BYTES_PER_MESSAGE: u64 = 1024;
/// What a literal may exceed the size a listing gave for its message by
/// (servers count line endings differently: at most twice, plus this).
const LITERAL_SLACK: u64 = 64 << 10;

/// What the engine reads for one command before it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    /// Untagged responses attributed to the command.
    pub responses: u64,
    /// Their bytes, literals included.
    pub bytes: u64,
    /// The largest literal of one response, where smaller than
    /// [`super::Limits::max_literal`].
    pub literal: Option<u64>,
    /// What the bound was derived from, for the message.
    pub basis: Basis,
}

/// What a [`Bound`] was derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Basis {
    /// The selected mailbox's EXISTS (0 when none is selected).
    Exists(u32),
    /// The mailbox cap of a LIST / LSUB.
    Mailboxes,
    /// A body fetch of this many messages.
    Bodies(u64),
}

impl Bound {
    /// Any command: untagged data it did not ask for (EXPUNGE, FETCH flag
    /// updates, EXISTS, `* OK` …), a few per message of the selected
    /// mailbox (of `exists` messages) plus a fixed allowance.
    pub(crate) fn unsolicited(exists: u32) -> Bound {
        let n = u64::from(exists);
        Bound {
            responses: UNSOLICITED_BASE + 4 * n,
            bytes: UNSOLICITED_BASE_BYTES + 1024 * n,
            literal: None,
            basis: Basis::Exists(exists),
        }
    }

    /// A metadata listing (`UID FETCH … (FLAGS …)`, CHANGEDSINCE, the UID
    /// list) of a mailbox of `exists` messages: one response per message,
    /// and the unsolicited allowance again (flag updates during it).
    pub(crate) fn listing(exists: u32) -> Bound {
        let u = Bound::unsolicited(exists);
        Bound {
            responses: u.responses + u64::from(exists) + MESSAGE_SLACK,
            bytes: u.bytes + (u64::from(exists) + MESSAGE_SLACK) * 2048,
            ..u
        }
    }

    /// LIST, LSUB, LIST (SUBSCRIBED): a LIST (and a STATUS) line per
    /// mailbox, up to [`MAX_MAILBOXES`].
    pub(crate) fn mailboxes() -> Bound {
        Bound {
            responses: 2 * MAX_MAILBOXES + UNSOLICITED_BASE,
            bytes: 4 * MAX_LIST_BYTES,
            literal: None,
            basis: Basis::Mailboxes,
        }
    }

    /// A body fetch of messages listed with these sizes (0: not known), in
    /// a mailbox of `exists` messages: each literal at most twice its
    /// listed size plus slack (where every size is known), and their sum.
    pub(crate) fn bodies(sizes: &[u64], exists: u32, max_literal: u64) -> Bound {
        let each = |s: u64| s.saturating_mul(2).saturating_add(LITERAL_SLACK);
        let known = sizes.iter().all(|&s| s > 0);
        let largest = sizes.iter().map(|&s| each(s)).max().unwrap_or(0);
        let literal = (known && largest < max_literal).then_some(largest);
        let per = literal.unwrap_or(max_literal);
        let u = Bound::unsolicited(exists);
        let n = sizes.len() as u64;
        Bound {
            responses: u.responses + 2 * n,
            bytes: u.bytes.saturating_add(per.saturating_mul(n)),
            literal,
            basis: Basis::Bodies(n),
        }
    }

    /// The message for a command that went past this bound.
    pub(crate) fn exceeded(&self, responses: u64) -> String {
        let what = if responses > self.responses {
            format!("more than {} untagged responses", self.responses)
        } else {
            format!("more than {} bytes of untagged responses", self.bytes)
        };
        format!(
            "the server sent {what}, over the bound for this command ({}); \
             not reading any further from this connection",
            self.basis
        )
    }

    /// The message for a literal over [`Bound::literal`].
    pub(crate) fn literal_exceeded(&self, size: u64, max: u64) -> String {
        format!(
            "a literal of {size} bytes, over the bound of {max} bytes for this command ({}); \
             not reading any further from this connection",
            self.basis
        )
    }
}

impl std::fmt::Display for Basis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Basis::Exists(n) => write!(f, "derived from EXISTS {n} of the selected mailbox"),
            Basis::Mailboxes => write!(f, "at most {MAX_MAILBOXES} mailboxes"),
            Basis::Bodies(n) => write!(
                f,
                "{n} messages, each at most twice its listed size + {} KiB",
                LITERAL_SLACK >> 10
            ),
        }
    }
}

/// What a handler keeps of an answer: items (mailboxes, messages, UIDs,
/// ranges) and their estimated memory, each capped.
#[derive(Debug)]
pub(crate) struct Budget {
    what: &'static str,
    count: u64,
    max_count: u64,
    bytes: u64,
    max_bytes: u64,
    basis: String,
}

impl Budget {
    /// Mailboxes of one LIST / LSUB answer (LIST-STATUS answers have a
    /// budget of their own).
    pub(crate) fn mailboxes() -> Budget {
        Budget {
            what: "mailboxes",
            count: 0,
            max_count: MAX_MAILBOXES,
            bytes: 0,
            max_bytes: MAX_LIST_BYTES,
            basis: "the cap for one LIST or LSUB answer".into(),
        }
    }

    /// Messages (or UIDs, or ranges of them) of a mailbox of `exists`
    /// messages: EXISTS plus slack, and their flags.
    pub(crate) fn messages(what: &'static str, exists: u32) -> Budget {
        let max_count = u64::from(exists) + u64::from(exists) / 4 + MESSAGE_SLACK;
        Budget {
            what,
            count: 0,
            max_count,
            bytes: 0,
            max_bytes: max_count * FLAG_BYTES_PER_MESSAGE,
            basis: format!("EXISTS {exists} + slack"),
        }
    }

    /// Keeps `count` more items taking about `bytes` more memory.
    pub(crate) fn keep(&mut self, count: u64, bytes: u64) -> Result<(), String> {
        self.count = self.count.saturating_add(count);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.count > self.max_count {
            return Err(format!(
                "the server sent more than {} {} ({}), over the bound for this command; \
                 not reading any further from this connection",
                self.max_count, self.what, self.basis
            ));
        }
        if self.bytes > self.max_bytes {
            return Err(format!(
                "the {} the server sent would take more than {} MiB ({} {}), over the bound \
                 for this command; not reading any further from this connection",
                self.what,
                self.max_bytes >> 20,
                self.count,
                self.what
            ));
        }
        Ok(())
    }
}

/// Estimated memory of a kept string: its bytes, its header and the
/// allocator's share.
pub(crate) fn string_cost(s: &str) -> u64 {
    s.len() as u64 + 40
}

/// Estimated memory of a listed mailbox (a LIST line kept).
pub(crate) fn mailbox_cost(m: &super::ListedMailbox) -> u64 {
    std::mem::size_of::<super::ListedMailbox>() as u64
        + string_cost(&m.name)
        + m.attributes.iter().map(|a| string_cost(a)).sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_its_bound_and_not_one_more() {
        let mut b = Budget::messages("messages", 2);
        assert_eq!(b.max_count, 2 + MESSAGE_SLACK);
        b.keep(2 + MESSAGE_SLACK, 0).unwrap();
        let e = b.keep(1, 0).unwrap_err();
        assert!(
            e.contains("more than 1002 messages (EXISTS 2 + slack)"),
            "{e}"
        );
        let mut b = Budget::mailboxes();
        let e = b.keep(1, MAX_LIST_BYTES + 1).unwrap_err();
        assert!(e.contains("more than 40 MiB"), "{e}");
    }

    #[test]
    fn body_bounds_follow_the_listed_sizes_where_all_are_known() {
        let b = Bound::bodies(&[500, 1000], 2, 256 << 20);
        assert_eq!(b.literal, Some(2000 + LITERAL_SLACK));
        assert_eq!(Bound::bodies(&[500, 0], 2, 256 << 20).literal, None);
        // A huge listed size is capped by the engine's own literal cap.
        assert_eq!(Bound::bodies(&[200 << 20], 1, 256 << 20).literal, None);
        let e = b.exceeded(b.responses + 1);
        assert!(
            e.contains("untagged responses") && e.contains("2 messages"),
            "{e}"
        );
    }
}
