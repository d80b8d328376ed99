//! Documentation generated from the command-line definition: shell
//! completions (clap_complete) and man pages (clap_mangen).
//!
//! Owns the list of generated files and their names, so the binary
//! (`imapmend completions SHELL`, `imapmend man [VERB]`), the committed copies
//! under `completions/` and `man/`, and the test that keeps them current all
//! agree. It defines no option: everything comes from [`crate::cli::Cli`].

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::{Generator, Shell};
use std::io::{self, Write};

/// The binary's name, as completions and man pages spell it.
pub const BIN: &str = "imapmend";

/// Every shell `imapmend completions` supports, in a fixed order.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// The conventional file name of a shell's completion script:
/// `imapmend.bash`, `_imapmend`, `imapmend.fish`, `imapmend.elv`,
/// `_imapmend.ps1`.
pub fn completion_file_name(shell: Shell) -> String {
    shell.file_name(BIN)
}

/// Writes the completion script for `shell`.
pub fn write_completions(shell: Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, BIN, out);
}

/// The verbs that have a man page of their own (`imapmend-VERB(1)`), nested
/// ones joined with `-` (`snapshot-show`).
pub fn man_verbs() -> Vec<String> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = if prefix.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{prefix}-{}", sub.get_name())
            };
            out.push(name.clone());
            walk(sub, &name, out);
        }
    }
    let mut out = Vec::new();
    walk(&built_command(), "", &mut out);
    out
}

/// The man page file name for `verb` (None: the main page).
pub fn man_file_name(verb: Option<&str>) -> String {
    match verb {
        None => format!("{BIN}.1"),
        Some(v) => format!("{BIN}-{v}.1"),
    }
}

/// Writes the main man page (`verb` None) or a verb's page. An unknown verb
/// is an error naming the pages that exist.
pub fn write_man_page(verb: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
    let root = built_command();
    let Some(verb) = verb else {
        return write_main_page(root, out);
    };
    let mut cmd = &root;
    for part in verb.split('-') {
        cmd = match cmd.find_subcommand(part) {
            Some(sub) if !sub.is_hide_set() => sub,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "no man page for '{verb}'; pages: {}",
                        man_verbs().join(", ")
                    ),
                ))
            }
        };
    }
    clap_mangen::Man::new(cmd.clone()).render(out)
}

/// The command with its subcommands' display names (`imapmend-plan`) and
/// propagated arguments filled in, as clap_mangen expects; the version
/// without the commit ([`crate::cli::VERSION`]), so the committed pages
/// stay current across commits.
fn built_command() -> clap::Command {
    let mut cmd = Cli::command()
        .disable_help_subcommand(true)
        .version(env!("CARGO_PKG_VERSION"));
    cmd.build();
    cmd
}

/// The standard sections, plus what an operator looks up in a man page and
/// `--help` does not say: exit status, environment, files.
fn write_main_page(cmd: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_subcommands_section(out)?;
    out.write_all(MAIN_PAGE_EXTRA.as_bytes())?;
    let see_also: Vec<String> = man_verbs()
        .iter()
        .map(|v| format!("\\fB{BIN}\\-{}\\fR(1)", v.replace('-', "\\-")))
        .collect();
    writeln!(out, ".SH \"SEE ALSO\"\n{}", see_also.join(", "))?;
    man.render_version_section(out)
}

/// Hand-written roff for the main page (kept in step with the exit-code
/// table of README.md and docs/MONITORING.md).
const MAIN_PAGE_EXTRA: &str = r#".SH "EXIT STATUS"
check stays inside the monitoring\-plugin range (Nagios, Icinga); plan and sync add 4.
When several apply: 3 if nothing ran, else 4 > 2 > 1 > 0.
.TP
\fB0\fR
plan: nothing to do; sync: everything applied; check: A and B agree.
.TP
\fB1\fR
plan: actions pending; check: differences found.
.TP
\fB2\fR
Some mailboxes could not be listed or checked, or some actions failed; run again.
.TP
\fB3\fR
Could not run: configuration, connection, authentication, TLS, or a snapshot of other endpoints.
.TP
\fB4\fR
Actions withheld for safety (the mass\-deletion guard), or the snapshot is in use by another run.
.SH ENVIRONMENT
.TP
\fBIMAPMEND_A_PASSWORD\fR, \fBIMAPMEND_B_PASSWORD\fR
The password of server A or B when neither \fB\-\-a\-password\-file\fR nor \fB\-\-a\-password\-command\fR (or the b twins) is given.
Passwords are never accepted on the command line.
.TP
\fBXDG_STATE_HOME\fR, \fBHOME\fR
Where the default snapshot lives: \fI$XDG_STATE_HOME/imapmend/\fR, else \fI~/.local/state/imapmend/\fR.
.SH FILES
.TP
\fI$XDG_STATE_HOME/imapmend/*.sqlite\fR
Snapshots (SQLite, mode 0600), one per pair of endpoints, named after both; \fB\-\-state\fR chooses another file.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_every_shell_has_a_distinct_file_name() {
        let names: std::collections::BTreeSet<String> =
            SHELLS.iter().map(|s| completion_file_name(*s)).collect();
        assert_eq!(names.len(), SHELLS.len());
        assert!(names.contains("imapmend.bash") && names.contains("_imapmend"));
    }

    #[test]
    fn docs_man_pages_exist_for_every_verb_and_unknown_ones_are_refused() {
        let verbs = man_verbs();
        for v in ["plan", "sync", "check", "completions", "man"] {
            assert!(verbs.iter().any(|x| x == v), "{v} missing from {verbs:?}");
        }
        let mut page = Vec::new();
        write_man_page(Some("sync"), &mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie"), "{}", &page[..40]);
        assert!(page.contains("imapmend\\-sync"), "{page}");
        assert!(page.contains("max\\-delete"), "{page}");
        let err = write_man_page(Some("nope"), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("pages: plan"), "{err}");
        let mut main = Vec::new();
        write_man_page(None, &mut main).unwrap();
        let main = String::from_utf8(main).unwrap();
        assert!(main.contains("EXIT STATUS") && main.contains("IMAPMEND_A_PASSWORD"));
    }
}
