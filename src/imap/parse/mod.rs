//! Parsing one complete server response (as framed by `frame.rs`) into a
//! typed value.
//!
//! FETCH data goes through imap-proto, which reads it well. Everything else
//! — tagged and untagged status responses with their codes (including
//! `[MODIFIED]`, `[NOMODSEQ]` and codes nobody knows yet), LIST names with
//! escapes, STATUS, CAPABILITY, VANISHED — is read by the small parsers
//! here, because imap-proto either cannot read it or returns quoted strings
//! still escaped. Untagged responses we have no use for (NAMESPACE,
//! ESEARCH, ID, …) come back as [`Untagged::Other`] so the engine can
//! ignore them.
//!
//! This module owns the response types and the dispatch on the first
//! words of a response; the readers live beside it: `status` (conditions,
//! response codes, resp-text), `mailbox_data` (LIST, STATUS, ESEARCH),
//! `fetch` (FETCH and its imap-proto workarounds), `lexer` (the tokenizer).

mod fetch;
mod fetch_meta;
mod lexer;
mod mailbox_data;
mod status;

use super::ListedMailbox;
use imap_proto::AttributeValue;
use std::borrow::Cow;

use fetch::fetch;
pub(crate) use fetch::fetch_uid;
#[cfg(test)]
pub(crate) use fetch::{quietly, PANICS_CAUGHT};
use lexer::Lexer;
use mailbox_data::{esearch, list, mailbox_status};
use status::resp_text;
pub(crate) use status::{Code, Cond, Status};

/// One untagged response.
#[derive(Debug, PartialEq)]
pub(crate) enum Untagged<'a> {
    Status(Status),
    Capability(Vec<String>),
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    Flags(Vec<String>),
    Fetch {
        seq: u32,
        attrs: Vec<AttributeValue<'a>>,
    },
    List(ListedMailbox),
    MailboxStatus {
        mailbox: String,
        items: Vec<(String, u64)>,
    },
    Vanished {
        earlier: bool,
        uid_set: String,
    },
    Enabled(Vec<String>),
    /// RFC 4731 `* ESEARCH [(TAG "t")] [UID] name value …`, each value as
    /// written (a number or a sequence set; a parenthesised value of an
    /// extension we do not know is kept with its parentheses).
    Esearch {
        tag: Option<String>,
        uid: bool,
        items: Vec<(String, String)>,
    },
    /// An untagged response we do not use, by keyword.
    Other(String),
}

/// One complete response.
#[derive(Debug, PartialEq)]
pub(crate) enum Response<'a> {
    /// `+ …`: the server waits for the rest of the command.
    Continue(String),
    Tagged {
        tag: String,
        status: Status,
    },
    Untagged(Untagged<'a>),
}

/// Parses one complete response (lines and literals, ending in CRLF).
pub(crate) fn parse(buf: &[u8]) -> Result<Response<'_>, String> {
    let line = buf
        .strip_suffix(b"\r\n")
        .ok_or_else(|| "response does not end in CRLF".to_string())?;
    if let Some(rest) = line.strip_prefix(b"+") {
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        return Ok(Response::Continue(
            String::from_utf8_lossy(rest).into_owned(),
        ));
    }
    if let Some(rest) = line.strip_prefix(b"* ") {
        return untagged(buf, rest).map(Response::Untagged);
    }
    let mut lx = Lexer::new(line);
    let tag = lx.atom()?.to_string();
    if tag == "*" || tag.contains('+') {
        return Err(format!("invalid tag {tag:?}"));
    }
    lx.sp()?;
    let cond_atom = lx.atom()?;
    let cond = match Cond::from_atom(cond_atom) {
        Some(c @ (Cond::Ok | Cond::No | Cond::Bad)) => c,
        _ => return Err(format!("tagged response with condition {cond_atom:?}")),
    };
    let status = resp_text(cond, lx.rest())?;
    Ok(Response::Tagged { tag, status })
}

fn untagged<'a>(whole: &'a [u8], rest: &'a [u8]) -> Result<Untagged<'a>, String> {
    let mut lx = Lexer::new(rest);
    let first = lx.atom()?;
    if first.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = first
            .parse()
            .map_err(|_| format!("number {first:?} out of range"))?;
        lx.sp()?;
        let kw = lx.atom()?.to_ascii_uppercase();
        return Ok(match kw.as_str() {
            "EXISTS" => Untagged::Exists(n),
            "RECENT" => Untagged::Recent(n),
            "EXPUNGE" => Untagged::Expunge(n),
            "FETCH" => fetch(whole)?,
            _ => Untagged::Other(kw),
        });
    }
    let kw = first.to_ascii_uppercase();
    if let Some(cond) = Cond::from_atom(&kw) {
        return resp_text(cond, lx.rest()).map(Untagged::Status);
    }
    Ok(match kw.as_str() {
        "CAPABILITY" => Untagged::Capability(words(lx.rest())),
        "ENABLED" => Untagged::Enabled(words(lx.rest())),
        "FLAGS" => {
            lx.sp()?;
            Untagged::Flags(lx.atom_list()?)
        }
        "LIST" | "LSUB" => Untagged::List(list(&mut lx)?),
        "STATUS" => mailbox_status(&mut lx)?,
        "ESEARCH" => esearch(&mut lx)?,
        "VANISHED" => {
            lx.sp()?;
            let mut earlier = false;
            if lx.peek() == Some(b'(') {
                let tags = lx.atom_list()?;
                earlier = tags.iter().any(|t| t.eq_ignore_ascii_case("EARLIER"));
                lx.sp()?;
            }
            let uid_set = lx.atom()?.to_string();
            Untagged::Vanished { earlier, uid_set }
        }
        _ => Untagged::Other(kw),
    })
}

/// The start of a response, for error messages (never a whole body).
pub(crate) fn excerpt(buf: &[u8]) -> String {
    let cut = &buf[..buf.len().min(80)];
    let more = if buf.len() > cut.len() { "…" } else { "" };
    format!("{:?}{more}", String::from_utf8_lossy(cut))
}

fn lossy(bytes: Cow<'_, [u8]>) -> String {
    match bytes {
        Cow::Borrowed(b) => String::from_utf8_lossy(b).into_owned(),
        Cow::Owned(v) => String::from_utf8(v)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn words(rest: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(rest)
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn untagged_of(s: &[u8]) -> Untagged<'_> {
        match parse(s).unwrap() {
            Response::Untagged(u) => u,
            other => panic!("not untagged: {other:?}"),
        }
    }

    #[test]
    fn tagged_completions_with_and_without_codes() {
        assert_eq!(
            parse(b"A0001 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n").unwrap(),
            Response::Tagged {
                tag: "A0001".into(),
                status: Status {
                    cond: Cond::Ok,
                    code: Some(Code::ReadWrite),
                    text: "Select completed (0.001 + 0.000 secs).".into()
                }
            }
        );
        assert_eq!(
            parse(b"A2 NO [TRYCREATE] Mailbox doesn't exist: x\r\n").unwrap(),
            Response::Tagged {
                tag: "A2".into(),
                status: Status {
                    cond: Cond::No,
                    code: Some(Code::Other {
                        name: "TRYCREATE".into(),
                        args: "".into()
                    }),
                    text: "Mailbox doesn't exist: x".into()
                }
            }
        );
        assert_eq!(
            parse(b"A3 BAD\r\n").unwrap(),
            Response::Tagged {
                tag: "A3".into(),
                status: Status {
                    cond: Cond::Bad,
                    code: None,
                    text: "".into()
                }
            }
        );
        assert!(parse(b"A3 BYE x\r\n").is_err());
        assert!(parse(b"A3 MAYBE x\r\n").is_err());
    }

    #[test]
    fn select_responses_are_read() {
        assert_eq!(untagged_of(b"* 172 EXISTS\r\n"), Untagged::Exists(172));
        assert_eq!(untagged_of(b"* 1 RECENT\r\n"), Untagged::Recent(1));
        assert_eq!(untagged_of(b"* 3 EXPUNGE\r\n"), Untagged::Expunge(3));
        assert_eq!(
            untagged_of(b"* FLAGS (\\Answered \\Flagged $Forwarded)\r\n"),
            Untagged::Flags(vec![
                "\\Answered".into(),
                "\\Flagged".into(),
                "$Forwarded".into()
            ])
        );
        let perm =
            untagged_of(b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Flags permitted.\r\n");
        assert_eq!(
            perm,
            Untagged::Status(Status {
                cond: Cond::Ok,
                code: Some(Code::PermanentFlags(vec![
                    "\\Deleted".into(),
                    "\\Seen".into(),
                    "\\*".into()
                ])),
                text: "Flags permitted.".into()
            })
        );
        for (line, code) in [
            (
                &b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"[..],
                Code::UidValidity(3857529045),
            ),
            (
                b"* OK [UIDNEXT 4392] Predicted next UID\r\n",
                Code::UidNext(4392),
            ),
            (
                b"* OK [HIGHESTMODSEQ 90060115205545359] Highest\r\n",
                Code::HighestModSeq(90060115205545359),
            ),
            (
                b"* OK [NOMODSEQ] Sorry, modsequences have not been enabled\r\n",
                Code::NoModSeq,
            ),
            (
                b"* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n",
                Code::PermanentFlags(vec![]),
            ),
        ] {
            match untagged_of(line) {
                Untagged::Status(s) => assert_eq!(s.code, Some(code)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn capability_status_vanished_and_unknown_untagged() {
        assert_eq!(
            untagged_of(b"* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN\r\n"),
            Untagged::Capability(vec![
                "IMAP4rev1".into(),
                "LITERAL+".into(),
                "AUTH=PLAIN".into()
            ])
        );
        assert_eq!(
            untagged_of(b"* STATUS \"Sent\" (UIDNEXT 5 MESSAGES 4 HIGHESTMODSEQ 9)\r\n"),
            Untagged::MailboxStatus {
                mailbox: "Sent".into(),
                items: vec![
                    ("UIDNEXT".into(), 5),
                    ("MESSAGES".into(), 4),
                    ("HIGHESTMODSEQ".into(), 9)
                ]
            }
        );
        assert_eq!(
            untagged_of(b"* VANISHED (EARLIER) 300:310,405\r\n"),
            Untagged::Vanished {
                earlier: true,
                uid_set: "300:310,405".into()
            }
        );
        assert_eq!(
            untagged_of(b"* NAMESPACE ((\"\" \".\")) NIL NIL\r\n"),
            Untagged::Other("NAMESPACE".into())
        );
        assert_eq!(
            untagged_of(b"* ESEARCH (TAG \"A1\") UID ALL 1:3,7\r\n"),
            Untagged::Esearch {
                tag: Some("A1".into()),
                uid: true,
                items: vec![("ALL".into(), "1:3,7".into())]
            }
        );
        assert_eq!(
            untagged_of(b"* ESEARCH (TAG \"A1\") UID\r\n"),
            Untagged::Esearch {
                tag: Some("A1".into()),
                uid: true,
                items: vec![]
            }
        );
        assert_eq!(
            untagged_of(b"* ESEARCH COUNT 4 MIN 2 X (a \"b)\" (c)) MAX 9\r\n"),
            Untagged::Esearch {
                tag: None,
                uid: false,
                items: vec![
                    ("COUNT".into(), "4".into()),
                    ("MIN".into(), "2".into()),
                    ("X".into(), "(a \"b)\" (c))".into()),
                    ("MAX".into(), "9".into())
                ]
            }
        );
        assert!(parse(b"* ESEARCH (TAG \"A1\") UID ALL\r\n").is_err());
        assert!(parse(b"* ESEARCH (FOO \"A1\")\r\n").is_err());
        assert_eq!(
            untagged_of(b"* ENABLED CONDSTORE QRESYNC\r\n"),
            Untagged::Enabled(vec!["CONDSTORE".into(), "QRESYNC".into()])
        );
        assert_eq!(
            untagged_of(b"* VANISHED 4:5\r\n"),
            Untagged::Vanished {
                earlier: false,
                uid_set: "4:5".into()
            }
        );
        assert_eq!(
            untagged_of(b"* BYE Server shutting down\r\n"),
            Untagged::Status(Status {
                cond: Cond::Bye,
                code: None,
                text: "Server shutting down".into()
            })
        );
        assert_eq!(parse(b"+ \r\n").unwrap(), Response::Continue("".into()));
        assert_eq!(
            parse(b"+ Ready\r\n").unwrap(),
            Response::Continue("Ready".into())
        );
        assert!(parse(b"* \r\n").is_err());
    }
}
