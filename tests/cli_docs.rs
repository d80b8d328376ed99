//! The generated documentation in the repository is what the binary prints:
//! `completions/` (one script per shell) and `man/` (the main page and one
//! per verb). A change to the options in src/cli.rs fails this test until the
//! files are regenerated with `scripts/regen-docs`.
//!
//! `IMAPMEND_REGEN_DOCS=1` makes this test write the files instead of
//! comparing (that is all `scripts/regen-docs` does).
//!
//! The command lines the README and docs/ show (the three verbs' examples,
//! the cron line in docs/MONITORING.md, batch …) and the shipped systemd
//! units must parse with the current options. That the docs define every
//! scenario ID and link where they say is tests/docs.rs's job.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::imapmend::{bare, Finish, Outcome, LIMIT};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `imapmend ARGS` run to the end (as every test runs the binary).
fn run(args: &[&str]) -> Outcome {
    bare().args(args).finish(LIMIT)
}

/// What `imapmend ARGS` prints, asserting it succeeds.
fn imapmend(args: &[&str]) -> Vec<u8> {
    let out = run(args);
    assert_eq!(out.code, Some(0), "imapmend {args:?}: {}", out.describe());
    out.stdout.into_bytes()
}

/// (relative path, the command that prints it, what it prints).
fn expected_files() -> Vec<(String, String, Vec<u8>)> {
    let mut files = Vec::new();
    for shell in imapmend::docs::SHELLS {
        let name = shell.to_string();
        files.push((
            format!(
                "completions/{}",
                imapmend::docs::completion_file_name(shell)
            ),
            format!("completions {name}"),
            imapmend(&["completions", &name]),
        ));
    }
    files.push((
        format!("man/{}", imapmend::docs::man_file_name(None)),
        "man".to_string(),
        imapmend(&["man"]),
    ));
    for verb in imapmend::docs::man_verbs() {
        files.push((
            format!("man/{}", imapmend::docs::man_file_name(Some(&verb))),
            format!("man {verb}"),
            imapmend(&["man", &verb]),
        ));
    }
    files
}

fn listed(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn committed_completions_and_man_pages_match_the_binary() {
    let files = expected_files();
    let regen = std::env::var_os("IMAPMEND_REGEN_DOCS").is_some();
    let mut stale = Vec::new();
    for (rel, command, content) in &files {
        let path = root().join(rel);
        if regen {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        } else if std::fs::read(&path).ok().as_ref() != Some(content) {
            stale.push(format!("  {rel}   (cargo run -q -- {command} > {rel})"));
        }
    }
    // A file for a shell or verb that no longer exists is stale too.
    let wanted: BTreeSet<&str> = files.iter().map(|(rel, _, _)| rel.as_str()).collect();
    for dir in ["completions", "man"] {
        for name in listed(&root().join(dir)) {
            let rel = format!("{dir}/{name}");
            if !wanted.contains(rel.as_str()) {
                if regen {
                    std::fs::remove_file(root().join(&rel)).unwrap();
                } else {
                    stale.push(format!("  {rel}   (no longer generated: remove it)"));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated documentation is out of date; run scripts/regen-docs \
         (or the commands below) and commit the result:\n{}",
        stale.join("\n")
    );
}

#[test]
fn completions_name_every_verb_and_option() {
    let bash = String::from_utf8(imapmend(&["completions", "bash"])).unwrap();
    for needle in ["plan", "sync", "check", "--a-password-file", "--max-delete"] {
        assert!(bash.contains(needle), "bash completions lack {needle}");
    }
    let fish = String::from_utf8(imapmend(&["completions", "fish"])).unwrap();
    assert!(fish.contains("complete -c imapmend"), "{fish}");
}

#[test]
fn unknown_shell_and_unknown_man_page_exit_3_with_the_choices() {
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.code, Some(3), "{}", out.describe());
    let err = &out.stderr;
    assert!(err.contains("bash") && err.contains("powershell"), "{err}");

    let out = run(&["man", "frobnicate"]);
    assert_eq!(out.code, Some(3), "{}", out.describe());
    let err = &out.stderr;
    assert!(
        err.contains("no man page for 'frobnicate'") && err.contains("sync"),
        "{err}"
    );
}

#[test]
fn offline_verbs_need_no_password_or_endpoints() {
    // No IMAPMEND_*_PASSWORD, no HOME: resolving a job would fail with 3.
    let out = bare()
        .env_clear()
        .args(["completions", "zsh"])
        .finish(LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(out.stdout.starts_with("#compdef imapmend"));
}

/// The words of a command line starting at `imapmend` (no quoting needed
/// in the examples checked here).
fn words_from_imapmend(line: &str) -> Vec<String> {
    let start = line.find("imapmend ").expect("an imapmend command");
    line[start..]
        .split_whitespace()
        .map(|w| w.trim_start_matches("/usr/local/bin/").to_string())
        .collect()
}

/// The documents whose examples must keep working: the README and docs/.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    more.retain(|p| p.extension().is_some_and(|e| e == "md"));
    more.sort();
    docs.extend(more);
    docs
}

const VERBS: [&str; 7] = [
    "plan",
    "sync",
    "check",
    "batch",
    "snapshot",
    "completions",
    "man",
];

/// The imapmend command lines a document shows: indented code lines that
/// run a verb (continuation lines joined, `# comments` dropped, the
/// brackets of `[--optional ARG]` removed) and crontab lines. Each with
/// where it is, for the failure message.
fn documented_command_lines(doc: &Path) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(doc).unwrap();
    let name = doc.strip_prefix(root()).unwrap().display().to_string();
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let cron = line
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit() || c == '*');
        let code = line.starts_with("    ") && line.trim_start().starts_with("imapmend ");
        if !(line.contains("imapmend ") && (cron || code)) {
            continue;
        }
        let mut full = line.to_string();
        while full.trim_end().ends_with('\\') {
            let Some((_, next)) = lines.next() else { break };
            full = format!("{} {next}", full.trim_end().trim_end_matches('\\'));
        }
        let without_comment = match full.find(" #") {
            Some(at) => &full[..at],
            None => &full,
        };
        let words = words_from_imapmend(&without_comment.replace(['[', ']'], ""));
        if words.get(1).is_some_and(|v| VERBS.contains(&v.as_str())) {
            out.push((format!("{name}:{}", n + 1), words));
        }
    }
    out
}

#[test]
fn shipped_examples_and_documented_command_lines_parse_with_the_current_options() {
    use clap::Parser;
    // The systemd units' ExecStart (after flock and its lock file).
    let mut commands = Vec::new();
    let mut units: Vec<PathBuf> = std::fs::read_dir(root().join("examples/systemd"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service"))
        .collect();
    units.sort();
    assert_eq!(units.len(), 2, "{units:?}");
    for unit in units {
        let service = std::fs::read_to_string(&unit).unwrap();
        let joined = service.replace("\\\n", " ");
        let exec = joined
            .lines()
            .find(|l| l.starts_with("ExecStart="))
            .expect("ExecStart");
        let at = unit.strip_prefix(root()).unwrap().display().to_string();
        commands.push((at, words_from_imapmend(exec)));
    }
    for doc in documents() {
        commands.extend(documented_command_lines(&doc));
    }
    let shown = |file: &str, verb: &str| {
        commands
            .iter()
            .any(|(at, words)| at.starts_with(file) && words[1] == verb)
    };
    for verb in ["plan", "sync", "check"] {
        assert!(
            shown("README.md", verb),
            "the README shows an example of {verb}"
        );
    }
    let cron = commands
        .iter()
        .any(|(at, w)| at.starts_with("docs/MONITORING.md") && w[1] == "check");
    assert!(cron, "docs/MONITORING.md shows a cron line running check");
    assert!(shown("docs/BATCH.md", "batch"), "docs/BATCH.md shows batch");
    for (at, words) in commands {
        if let Err(e) = imapmend::cli::Cli::try_parse_from(&words) {
            panic!("{at}: {words:?} does not parse: {e}");
        }
    }
}
