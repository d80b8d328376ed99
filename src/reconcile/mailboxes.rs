//! Mailbox identity across servers: wire names to logical names and back,
//! and pairing the two trees by logical name.
//!
//! A logical name is the hierarchy levels joined by '/', with INBOX
//! upper-cased (INBOX is case-insensitive, RFC 3501 §5.1). A level that
//! contains the other side's delimiter cannot be mapped without splitting it,
//! so it is refused with a clear error instead (SCENARIOS.md M9). Modified
//! UTF-7 names are compared as they are on the wire: both sides use the same
//! encoding for the same name.

use std::collections::BTreeMap;

/// One mailbox as a side lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxEntry {
    pub wire_name: String,
    pub delimiter: Option<char>,
    pub selectable: bool,
}

/// The two sides' wire names for one logical mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxPairing {
    pub name: String,
    pub wire: [Option<String>; 2],
}

/// The logical name of a wire name.
pub fn logical_name(wire: &str, delimiter: Option<char>) -> String {
    let levels: Vec<&str> = match delimiter {
        Some(d) => wire.split(d).collect(),
        None => vec![wire],
    };
    levels
        .iter()
        .enumerate()
        .map(|(i, level)| {
            if i == 0 && level.eq_ignore_ascii_case("INBOX") {
                "INBOX"
            } else {
                level
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The wire name of a logical name on a side with this delimiter.
pub fn wire_name(logical: &str, delimiter: Option<char>) -> Result<String, String> {
    let levels: Vec<&str> = logical.split('/').collect();
    match delimiter {
        Some(d) => {
            if let Some(level) = levels.iter().find(|l| l.contains(d)) {
                return Err(format!(
                    "mailbox level {level:?} contains the hierarchy delimiter {d:?} of the other server; \
                     it cannot be created there without splitting it"
                ));
            }
            Ok(levels.join(&d.to_string()))
        }
        None if levels.len() > 1 => Err(format!(
            "mailbox {logical:?} has levels but the other server has no hierarchy"
        )),
        None => Ok(logical.to_string()),
    }
}

/// Pairs the selectable mailboxes of both sides by logical name, sorted by
/// name (so parents come before their children).
pub fn pair_mailboxes(sides: [&[MailboxEntry]; 2]) -> Vec<MailboxPairing> {
    let mut by_name: BTreeMap<String, [Option<String>; 2]> = BTreeMap::new();
    for (i, entries) in sides.iter().enumerate() {
        for entry in entries.iter().filter(|e| e.selectable) {
            let name = logical_name(&entry.wire_name, entry.delimiter);
            by_name.entry(name).or_default()[i] = Some(entry.wire_name.clone());
        }
    }
    by_name
        .into_iter()
        .map(|(name, wire)| MailboxPairing { name, wire })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, delim: char) -> MailboxEntry {
        MailboxEntry {
            wire_name: name.into(),
            delimiter: Some(delim),
            selectable: true,
        }
    }

    #[test]
    fn m9_names_map_across_delimiters_and_refuse_ambiguous_levels() {
        assert_eq!(logical_name("Foo.Bar", Some('.')), "Foo/Bar");
        assert_eq!(wire_name("Foo/Bar", Some('.')).unwrap(), "Foo.Bar");
        assert!(wire_name("a.b/c", Some('.')).is_err());
    }

    #[test]
    fn m11_inbox_is_case_insensitive() {
        let a = [entry("InBoX", '/'), entry("inbox/Sub", '/')];
        let b = [entry("INBOX", '.')];
        let pairs = pair_mailboxes([&a, &b]);
        assert_eq!(
            pairs[0],
            MailboxPairing {
                name: "INBOX".into(),
                wire: [Some("InBoX".into()), Some("INBOX".into())]
            }
        );
        assert_eq!(pairs[1].name, "INBOX/Sub");
        assert_eq!(pairs[1].wire[1], None);
    }
}
