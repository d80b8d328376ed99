//! Whom a server's refusal is about: one message, or the mailbox (with the
//! session and the account behind it). A refusal about the mailbox — it is
//! selected read-only, over quota, not ours to write, not there — says
//! nothing about the message that met it, so it must never be remembered
//! against that message; a refusal about the message (too big, unparsable)
//! is remembered so later runs do not send it blindly.
//!
//! Pure: a tagged NO (or BAD) — its response code and text — and what the
//! caller saw around it in, a [`Scope`] out. Mailbox-level evidence wins
//! over everything; a refusal whose words say nothing either way is the
//! message's own only when others of the same mailbox were accepted in the
//! same run (or the message is empty). Apply uses it for APPEND, STORE and
//! EXPUNGE refusals; gather for the refusals earlier runs recorded.

/// What a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This message only: remember it against the message.
    Message,
    /// The mailbox, the session or the account: the mailbox fails for this
    /// run, nothing is remembered per message, the next run tries again.
    Mailbox,
}

/// What the server's words alone say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    Message,
    Mailbox,
    /// Neither: the context decides ([`classify`]).
    Nothing,
}

/// What the caller saw around one refused message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// Other messages of the same mailbox were accepted in the same run.
    pub others_accepted: bool,
    /// The message is empty (a zero-length literal, which servers refuse).
    pub empty_message: bool,
}

/// Response codes about the mailbox, the session or the account (RFC 3501,
/// 5530, 7162): whatever message met them, it would have met them too.
const MAILBOX_CODES: &[&str] = &[
    "READ-ONLY",
    "NOPERM",
    "TRYCREATE",
    "OVERQUOTA",
    "INUSE",
    "UNAVAILABLE",
    "SERVERBUG",
    "CONTACTADMIN",
    "EXPUNGEISSUED",
    "NONEXISTENT",
    "AUTHORIZATIONFAILED",
    "EXPIRED",
];

/// Response codes about the message itself (RFC 4469, 5530, 7889).
const MESSAGE_CODES: &[&str] = &["TOOBIG", "LIMIT", "PARSE", "UNKNOWN-CTE"];

/// Words about the mailbox where servers send no code: quota (Cyrus' "Over
/// quota", Dovecot's "Quota exceeded"), and Courier's `Current box is
/// selected READ-ONLY.` to an APPEND into the mailbox the session examines.
const MAILBOX_WORDS: &[&str] = &["quota", "read-only", "read only"];

/// Words about the message where servers send no code: Cyrus' refusals of
/// what it cannot parse or store (see docs/COMPATIBILITY.md), and sizes.
const MESSAGE_WORDS: &[&str] = &[
    "invalid header",
    "nul character",
    "bare newline",
    "zero-length",
    "non-ascii characters in header",
    "header/body separator",
    "too large",
    "too big",
];

/// What a refusal's code and text say on their own. Mailbox-level evidence
/// wins: a message code with quota wording is about the mailbox.
pub fn said(code: Option<&str>, text: &str) -> Said {
    let code = code
        .and_then(|c| c.split_whitespace().next())
        .map(str::to_ascii_uppercase);
    let text = text.to_ascii_lowercase();
    let code_in = |codes: &[&str]| code.as_deref().is_some_and(|c| codes.contains(&c));
    let text_has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if code_in(MAILBOX_CODES) || text_has(MAILBOX_WORDS) {
        Said::Mailbox
    } else if code_in(MESSAGE_CODES) || text_has(MESSAGE_WORDS) {
        Said::Message
    } else {
        Said::Nothing
    }
}

/// Whom this refusal of one message is about, given what the caller saw.
pub fn classify(code: Option<&str>, text: &str, context: Context) -> Scope {
    let undecided = if context.others_accepted {
        Scope::Message
    } else {
        Scope::Mailbox
    };
    decided(code, text, context.empty_message).unwrap_or(undecided)
}

/// Whom the refusal is about as far as the words and the message itself
/// tell; None when only whether others of the mailbox are accepted in the
/// run can tell (the caller then waits until it knows, and [`classify`]).
pub fn decided(code: Option<&str>, text: &str, empty_message: bool) -> Option<Scope> {
    match said(code, text) {
        Said::Mailbox => Some(Scope::Mailbox),
        Said::Message => Some(Scope::Message),
        Said::Nothing if empty_message => Some(Scope::Message),
        Said::Nothing => None,
    }
}

/// Whether the refusal is about quota: the report then says how much was
/// left to copy.
pub fn is_quota(code: Option<&str>, text: &str) -> bool {
    code.is_some_and(|c| c.eq_ignore_ascii_case("OVERQUOTA"))
        || text.to_ascii_lowercase().contains("quota")
}

/// A refusal as apply records it in the snapshot (`NO [CODE] text`, `NO
/// text`, `BAD text`), taken apart again: its code and text. Words apply
/// wrote itself (`not sent: …`) are not a server's refusal: None.
pub fn parse_recorded(words: &str) -> Option<(Option<&str>, &str)> {
    let rest = words
        .strip_prefix("NO ")
        .or_else(|| words.strip_prefix("BAD "))?;
    if let Some(coded) = rest.strip_prefix('[') {
        if let Some((code, text)) = coded.split_once(']') {
            return Some((Some(code), text.trim_start()));
        }
    }
    Some((None, rest))
}

/// Whether a refusal an earlier run recorded against a message would now
/// be taken as about the mailbox: then it is tried again.
pub fn recorded_is_mailbox_level(words: &str) -> bool {
    parse_recorded(words).is_some_and(|(code, text)| said(code, text) == Said::Mailbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALONE: Context = Context {
        others_accepted: false,
        empty_message: false,
    };
    const AMONG_ACCEPTED: Context = Context {
        others_accepted: true,
        empty_message: false,
    };

    #[test]
    fn each_mailbox_code_is_about_the_mailbox_even_when_others_went_through() {
        for code in [
            "READ-ONLY",
            "NOPERM",
            "TRYCREATE",
            "OVERQUOTA",
            "INUSE",
            "UNAVAILABLE",
            "SERVERBUG",
            "CONTACTADMIN",
            "EXPUNGEISSUED",
        ] {
            for context in [ALONE, AMONG_ACCEPTED] {
                assert_eq!(
                    classify(Some(code), "refused", context),
                    Scope::Mailbox,
                    "{code} {context:?}"
                );
            }
            // Case and arguments do not matter.
            let lower = code.to_ascii_lowercase();
            assert_eq!(said(Some(&format!("{lower} 42")), "x"), Said::Mailbox);
        }
    }

    #[test]
    fn each_message_code_is_about_the_message_even_when_nothing_else_went_through() {
        for code in ["TOOBIG", "LIMIT", "PARSE", "UNKNOWN-CTE"] {
            assert_eq!(
                classify(Some(code), "refused", ALONE),
                Scope::Message,
                "{code}"
            );
        }
    }

    #[test]
    fn cyrus_words_about_a_message_are_about_the_message() {
        for text in [
            "Message contains invalid header",
            "Message contains NUL characters",
            "Message contains bare newlines",
            "Zero-length message literal",
        ] {
            assert_eq!(classify(None, text, ALONE), Scope::Message, "{text}");
        }
    }

    #[test]
    fn quota_and_read_only_wording_without_a_code_is_about_the_mailbox() {
        for text in [
            "Current box is selected READ-ONLY.",
            "Over quota",
            "Quota exceeded (mailbox for user is full)",
        ] {
            assert_eq!(
                classify(None, text, AMONG_ACCEPTED),
                Scope::Mailbox,
                "{text}"
            );
        }
        // Mailbox evidence wins over a message code.
        assert_eq!(said(Some("LIMIT"), "quota exceeded"), Said::Mailbox);
        assert!(is_quota(Some("OVERQUOTA"), "no room"));
        assert!(is_quota(None, "Over quota"));
        assert!(!is_quota(Some("TOOBIG"), "too big"));
    }

    #[test]
    fn words_that_say_nothing_are_the_messages_only_beside_accepted_ones_or_when_empty() {
        assert_eq!(said(None, "Internal error"), Said::Nothing);
        assert_eq!(classify(None, "Internal error", ALONE), Scope::Mailbox);
        assert_eq!(
            classify(None, "Internal error", AMONG_ACCEPTED),
            Scope::Message
        );
        let empty = Context {
            empty_message: true,
            ..ALONE
        };
        assert_eq!(classify(None, "no", empty), Scope::Message);
        assert_eq!(decided(None, "no", true), Some(Scope::Message));
        assert_eq!(decided(None, "Internal error", false), None);
        assert_eq!(decided(Some("NOPERM"), "no", true), Some(Scope::Mailbox));
        // An unknown code says nothing either.
        assert_eq!(said(Some("X-WHATEVER"), "no"), Said::Nothing);
    }

    #[test]
    fn recorded_words_are_read_back_and_judged_by_the_words_alone() {
        assert_eq!(
            parse_recorded("NO [READ-ONLY] mailbox is read-only"),
            Some((Some("READ-ONLY"), "mailbox is read-only"))
        );
        assert_eq!(parse_recorded("NO too big"), Some((None, "too big")));
        assert_eq!(parse_recorded("not sent: bad flag"), None);
        assert!(recorded_is_mailbox_level(
            "NO Current box is selected READ-ONLY."
        ));
        assert!(recorded_is_mailbox_level("NO [OVERQUOTA] full"));
        assert!(!recorded_is_mailbox_level("NO [LIMIT] too many flags"));
        assert!(!recorded_is_mailbox_level("NO Internal error"));
        assert!(!recorded_is_mailbox_level("not sent: flag \\Foo"));
    }
}
