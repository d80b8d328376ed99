//! Mailbox data: LIST / LSUB names (atoms, quoted strings with escapes,
//! literals; INBOX in one spelling), the numbers of a STATUS answer (an
//! `APPENDLIMIT NIL` left out) and ESEARCH results. imap-proto returns
//! these names still escaped, so they are read here.

use super::lexer::Lexer;
use super::{lossy, Untagged};
use crate::imap::ListedMailbox;

pub(super) fn list(lx: &mut Lexer<'_>) -> Result<ListedMailbox, String> {
    lx.sp()?;
    let attributes = lx.atom_list()?;
    lx.sp()?;
    let delimiter = match lx.nstring()? {
        None => None,
        Some(d) => {
            let d = lossy(d);
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => return Err(format!("LIST delimiter {d:?} is not one character")),
            }
        }
    };
    lx.sp()?;
    let name = normalise_inbox(lossy(lx.astring()?));
    // LIST-EXTENDED data may follow; we have no use for it.
    Ok(ListedMailbox {
        name,
        delimiter,
        attributes,
        status: None,
        append_limit: None,
    })
}

/// INBOX is case-insensitive (RFC 3501 §5.1): one spelling for all.
fn normalise_inbox(name: String) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        name
    }
}

/// `STATUS mailbox (name value …)`: the numbers asked for, by name.
pub(super) fn mailbox_status<'a>(lx: &mut Lexer<'_>) -> Result<Untagged<'a>, String> {
    lx.sp()?;
    let mailbox = normalise_inbox(lossy(lx.astring()?));
    lx.sp()?;
    let toks = lx.atom_list()?;
    if toks.len() % 2 != 0 {
        return Err("STATUS list with an odd number of items".into());
    }
    let mut items = Vec::new();
    for pair in toks.chunks(2) {
        // RFC 7889: `APPENDLIMIT NIL` is "no limit": the item is left out.
        if pair[1].eq_ignore_ascii_case("NIL") {
            continue;
        }
        let value = pair[1]
            .parse()
            .map_err(|_| format!("STATUS {} value {:?} is not a number", pair[0], pair[1]))?;
        items.push((pair[0].to_ascii_uppercase(), value));
    }
    Ok(Untagged::MailboxStatus { mailbox, items })
}

/// `[SP "(" "TAG" SP tag-string ")"] [SP "UID"] *(SP name SP value)`.
pub(super) fn esearch<'a>(lx: &mut Lexer<'a>) -> Result<Untagged<'a>, String> {
    let mut tag = None;
    let mut uid = false;
    let mut items = Vec::new();
    while lx.peek() == Some(b' ') {
        lx.sp()?;
        if lx.peek() == Some(b'(') && tag.is_none() && !uid && items.is_empty() {
            lx.i += 1;
            let kw = lx.atom()?;
            if !kw.eq_ignore_ascii_case("TAG") {
                return Err(format!("ESEARCH correlator {kw:?}"));
            }
            lx.sp()?;
            tag = Some(lossy(lx.astring()?));
            if lx.peek() != Some(b')') {
                return Err(lx.err("')'"));
            }
            lx.i += 1;
            continue;
        }
        let name = lx.atom()?.to_ascii_uppercase();
        if name == "UID" && items.is_empty() && !uid {
            uid = true;
            continue;
        }
        lx.sp()?;
        let value = if lx.peek() == Some(b'(') {
            lx.balanced()?
        } else {
            lx.atom()?.to_string()
        };
        items.push((name, value));
    }
    if lx.peek().is_some() {
        return Err(lx.err("the end of the ESEARCH response"));
    }
    Ok(Untagged::Esearch { tag, uid, items })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::tests::untagged_of;
    #[test]
    fn list_names_as_atoms_quoted_strings_and_literals() {
        assert_eq!(
            untagged_of(b"* LIST (\\HasNoChildren) \".\" INBOX\r\n"),
            Untagged::List(ListedMailbox {
                name: "INBOX".into(),
                delimiter: Some('.'),
                attributes: vec!["\\HasNoChildren".into()],
                status: None,
                append_limit: None,
            })
        );
        assert_eq!(
            untagged_of(b"* LIST (\\Noselect \\HasChildren) NIL \"a \\\"q\\\" \\\\ b\"\r\n"),
            Untagged::List(ListedMailbox {
                name: "a \"q\" \\ b".into(),
                delimiter: None,
                attributes: vec!["\\Noselect".into(), "\\HasChildren".into()],
                status: None,
                append_limit: None,
            })
        );
        assert_eq!(
            untagged_of(b"* LIST () \"\\\\\" {9}\r\nWeird\r\n\"x\r\n"),
            Untagged::List(ListedMailbox {
                name: "Weird\r\n\"x".into(),
                delimiter: Some('\\'),
                attributes: vec![],
                status: None,
                append_limit: None,
            })
        );
        assert_eq!(
            untagged_of(b"* LIST (\\Subscribed) \"/\" inbox (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"),
            Untagged::List(ListedMailbox {
                name: "INBOX".into(),
                delimiter: Some('/'),
                attributes: vec!["\\Subscribed".into()],
                status: None,
                append_limit: None,
            })
        );
    }
}
