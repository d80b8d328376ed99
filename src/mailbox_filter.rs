//! Which mailboxes a run covers: `--folder`, `--folderrec`, `--include` and
//! `--exclude`, with imapsync's meaning.
//!
//! Names are logical names (hierarchy levels joined by `/`, INBOX
//! upper-cased), whatever each server's delimiter. `--folder NAME` selects
//! exactly that mailbox, `--folderrec NAME` it and everything below it,
//! `--include REGEX` every mailbox whose name matches; with none of them
//! every mailbox is selected. `--exclude REGEX` then removes matches. The
//! regular expressions are unanchored (like imapsync's Perl `=~`): use `^`
//! and `$` to anchor.
//!
//! This module owns the selection only. A mailbox left out is simply not
//! part of the run: it is set aside right after LIST (never selected or
//! fetched), nothing is copied into it, nothing in it changes, and its
//! snapshot records stay as they were.

use crate::reconcile::mailboxes::{MailboxPairing, Tree};
use regex::Regex;
use serde::Serialize;

/// The selection as given (strings, so policies stay comparable and
/// printable); [`MailboxFilter::compile`] checks the regular expressions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MailboxFilter {
    pub folders: Vec<String>,
    pub folders_recursive: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// A checked selection, ready to ask.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    folders: Vec<String>,
    folders_recursive: Vec<String>,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl MailboxFilter {
    /// Whether every mailbox is selected.
    pub fn is_everything(&self) -> bool {
        *self == MailboxFilter::default()
    }

    /// Compiles the regular expressions; the error names the option and
    /// the pattern.
    pub fn compile(&self) -> Result<CompiledFilter, String> {
        let regexes = |option: &str, patterns: &[String]| {
            patterns
                .iter()
                .map(|p| Regex::new(p).map_err(|e| format!("{option} {p:?}: {e}")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(CompiledFilter {
            folders: self.folders.iter().map(|f| logical(f)).collect(),
            folders_recursive: self.folders_recursive.iter().map(|f| logical(f)).collect(),
            include: regexes("--include", &self.include)?,
            exclude: regexes("--exclude", &self.exclude)?,
        })
    }
}

/// INBOX in any case is INBOX, as in logical names; a trailing `/` is
/// dropped so `--folderrec Archive/` means `Archive`.
fn logical(name: &str) -> String {
    let name = name.trim_end_matches('/');
    match name.split_once('/') {
        Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => format!("INBOX/{rest}"),
        None if name.eq_ignore_ascii_case("INBOX") => "INBOX".to_string(),
        _ => name.to_string(),
    }
}

impl CompiledFilter {
    /// Whether the run covers the mailbox with this logical name.
    pub fn selects(&self, name: &str) -> bool {
        let chosen =
            self.folders.is_empty() && self.folders_recursive.is_empty() && self.include.is_empty();
        let selected = chosen
            || self.folders.iter().any(|f| f == name)
            || self.folders_recursive.iter().any(|f| {
                name == f
                    || name
                        .strip_prefix(f.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            || self.include.iter().any(|r| r.is_match(name));
        selected && !self.exclude.iter().any(|r| r.is_match(name))
    }
}

/// Leaves only the selected mailboxes (and the names refused on them) in a
/// freshly paired tree, right after LIST, and returns the ones left out:
/// they are never selected, listed or fetched. They vanish from both sides
/// at once, so reconcile never sees a left-out mailbox as one side's
/// absence (it cannot look deleted), and their snapshot records are not
/// touched. (A mailbox of the run renamed into a left-out name is found
/// by [`crate::set_aside`].)
pub fn retain_selected(filter: &MailboxFilter, tree: &mut Tree) -> Vec<MailboxPairing> {
    if filter.is_everything() {
        return Vec::new();
    }
    // Checked when the job was resolved; an invalid one selects nothing.
    let Ok(compiled) = filter.compile() else {
        tree.refused.clear();
        return std::mem::take(&mut tree.pairings);
    };
    let (selected, left_out) = std::mem::take(&mut tree.pairings)
        .into_iter()
        .partition(|p| compiled.selects(&p.name));
    tree.pairings = selected;
    for p in &left_out {
        tracing::info!("{}: left out (--folder/--include/--exclude)", p.name);
    }
    tree.refused.retain(|r| compiled.selects(&r.name));
    left_out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(
        folders: &[&str],
        rec: &[&str],
        include: &[&str],
        exclude: &[&str],
    ) -> CompiledFilter {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        MailboxFilter {
            folders: v(folders),
            folders_recursive: v(rec),
            include: v(include),
            exclude: v(exclude),
        }
        .compile()
        .unwrap()
    }

    const NAMES: [&str; 7] = [
        "INBOX",
        "INBOX/Lists",
        "Archive",
        "Archive/2023",
        "Archives",
        "Sent",
        "Trash",
    ];

    fn selected(f: &CompiledFilter) -> Vec<&'static str> {
        NAMES.iter().copied().filter(|n| f.selects(n)).collect()
    }

    #[test]
    fn mailbox_filter_selects_like_imapsync() {
        assert_eq!(selected(&filter(&[], &[], &[], &[])), NAMES);
        assert_eq!(
            selected(&filter(&["inbox", "Sent"], &[], &[], &[])),
            ["INBOX", "Sent"]
        );
        assert_eq!(
            selected(&filter(&[], &["Archive/"], &[], &[])),
            ["Archive", "Archive/2023"]
        );
        assert_eq!(
            selected(&filter(&[], &["INBOX"], &[], &["Lists$"])),
            ["INBOX"]
        );
        assert_eq!(
            selected(&filter(&[], &[], &["^Arch"], &["2023"])),
            ["Archive", "Archives"]
        );
        assert_eq!(
            selected(&filter(&[], &[], &[], &["^(Trash|Sent)$", "/"])),
            ["INBOX", "Archive", "Archives"]
        );
        assert_eq!(
            selected(&filter(&["Trash"], &[], &["^Sent"], &[])),
            ["Sent", "Trash"]
        );
    }

    #[test]
    fn mailbox_filter_bad_regex_names_the_option() {
        let err = MailboxFilter {
            exclude: vec!["(".into()],
            ..MailboxFilter::default()
        }
        .compile()
        .unwrap_err();
        assert!(err.starts_with("--exclude \"(\": "), "{err}");
    }
}
