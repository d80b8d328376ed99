//! `imapmend log show`: the action log as a table, for the operator who
//! wants to know what a run changed. The log is found beside the snapshot,
//! which is found as a run would find it; reading and pairing its lines is
//! [`crate::action_log`]'s job, this module filters and prints. Exit codes:
//! 0 shown, 3 no log or bad options.

use crate::action_log::{self, Logged};
use crate::cli::LogVerb;
use crate::config::locate_snapshot;
use crate::exit;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::Table;

/// Runs the verb with the process environment; returns the exit code.
pub fn run(verb: &LogVerb) -> i32 {
    let LogVerb::Show(args) = verb;
    let env = |name: &str| std::env::var(name).ok();
    let location = match locate_snapshot(&args.snapshot.as_common(), &env) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("imapmend: {e}");
            return exit::CANNOT_RUN;
        }
    };
    let since = match args.since.as_deref().map(action_log::parse_utc) {
        Some(None) => {
            eprintln!(
                "imapmend: --since: expected a UTC time such as 2026-12-07 or 2026-12-07T10:00"
            );
            return exit::CANNOT_RUN;
        }
        Some(Some(t)) => Some(action_log::utc(t)),
        None => None,
    };
    let path = action_log::path_for(&location.path);
    if !path.exists() {
        eprintln!(
            "imapmend: no action log at {}: no sync has written to these servers",
            path.display()
        );
        return exit::CANNOT_RUN;
    }
    let (entries, unreadable) = match action_log::read(&path) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("imapmend: cannot read {}: {e}", path.display());
            return exit::CANNOT_RUN;
        }
    };
    let writes: Vec<Logged> = action_log::writes(entries)
        .into_iter()
        .filter(|w| args.run.as_ref().is_none_or(|r| &w.intent.run == r))
        .filter(|w| since.as_ref().is_none_or(|s| &w.intent.time >= s))
        .collect();
    if args.snapshot.json {
        for w in &writes {
            for e in std::iter::once(&w.intent).chain(&w.outcome) {
                println!("{}", serde_json::to_string(e).expect("plain data"));
            }
        }
    } else {
        print!("{}", table(&writes));
    }
    if unreadable > 0 {
        eprintln!("imapmend: {unreadable} line(s) of the log could not be read (cut by a crash?)");
    }
    exit::OK
}

/// One row per write: when, which run, where, what, on which UIDs, and its
/// outcome ("not confirmed" without one).
fn table(writes: &[Logged]) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "time", "run", "side", "mailbox", "action", "UIDs", "detail", "outcome",
    ]);
    for w in writes {
        let i = &w.intent;
        let uids = match &w.outcome {
            Some(o) if !o.uids.is_empty() => &o.uids,
            _ => &i.uids,
        };
        let mut detail = Vec::new();
        if let Some(to) = &i.to {
            detail.push(format!("to {to}"));
        }
        if let Some(f) = &i.flags {
            if !f.add.is_empty() {
                detail.push(format!("+{}", f.add));
            }
            if !f.remove.is_empty() {
                detail.push(format!("-{}", f.remove));
            }
        }
        if i.action == action_log::Action::Append {
            let bytes: u64 = i
                .messages
                .iter()
                .filter_map(|m| m.size)
                .map(u64::from)
                .sum();
            detail.push(format!("{} message(s), {bytes} bytes", i.messages.len()));
        }
        let mut outcome = w.answer().to_string();
        if let Some(e) = w.outcome.as_ref().and_then(|o| o.error.as_ref()) {
            outcome.push_str(": ");
            outcome.push_str(e);
        }
        table.add_row([
            i.time.clone(),
            i.run.clone(),
            i.side.to_string(),
            i.mailbox.clone(),
            i.action.as_str().to_string(),
            uid_list(uids),
            detail.join(" "),
            outcome,
        ]);
    }
    format!("{table}\n{} write(s)\n", writes.len())
}

/// UIDs as compact ranges (`3:5,9`), at most a line's worth.
fn uid_list(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    let mut parts: Vec<String> = Vec::new();
    let mut at = 0;
    while at < sorted.len() {
        let start = sorted[at];
        let mut end = start;
        while at + 1 < sorted.len() && sorted[at + 1] == end + 1 {
            at += 1;
            end = sorted[at];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        at += 1;
    }
    let text = parts.join(",");
    if text.len() > 60 {
        format!("{}… ({} UIDs)", &text[..57], uids.len())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_print_as_ranges() {
        assert_eq!(uid_list(&[9, 3, 4, 5]), "3:5,9");
        assert_eq!(uid_list(&[]), "");
    }
}
