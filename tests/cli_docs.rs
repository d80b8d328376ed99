//! The generated documentation in the repository is what the binary prints:
//! `completions/` (one script per shell) and `man/` (the main page and one
//! per verb). A change to the options in src/cli.rs fails this test until the
//! files are regenerated with `scripts/regen-docs`.
//!
//! `IMAPMEND_REGEN_DOCS=1` makes this test write the files instead of
//! comparing (that is all `scripts/regen-docs` does).

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn imapmend(args: &[&str]) -> Vec<u8> {
    let out = Command::cargo_bin("imapmend")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "imapmend {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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
    let out = Command::cargo_bin("imapmend")
        .unwrap()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bash") && err.contains("powershell"), "{err}");

    let out = Command::cargo_bin("imapmend")
        .unwrap()
        .args(["man", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no man page for 'frobnicate'") && err.contains("sync"),
        "{err}"
    );
}

#[test]
fn offline_verbs_need_no_password_or_endpoints() {
    // No IMAPMEND_*_PASSWORD, no HOME: resolving a job would fail with 3.
    let out = Command::cargo_bin("imapmend")
        .unwrap()
        .env_clear()
        .args(["completions", "zsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("#compdef imapmend"));
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

#[test]
fn shipped_examples_and_the_readme_cron_line_parse_with_the_current_options() {
    use clap::Parser;
    let service = std::fs::read_to_string(root().join("examples/imapmend-check.service")).unwrap();
    let joined = service.replace("\\\n", " ");
    let exec = joined
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    let mut commands = vec![words_from_imapmend(exec)];
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let cron: Vec<Vec<String>> = readme
        .lines()
        .filter(|l| {
            l.trim_start()
                .starts_with(|c: char| c.is_ascii_digit() || c == '*')
        })
        .filter(|l| l.contains("imapmend "))
        .map(words_from_imapmend)
        .collect();
    assert!(!cron.is_empty(), "the README shows a cron line");
    commands.extend(cron);
    for words in commands {
        if let Err(e) = imapmend::cli::Cli::try_parse_from(&words) {
            panic!("{words:?} does not parse: {e}");
        }
    }
    assert!(root().join("examples/imapmend-check.timer").exists());
}
