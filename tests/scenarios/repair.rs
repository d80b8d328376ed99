//! Damage done behind the server's back (issue 8), on real Dovecot: the
//! flag letters stripped from Maildir file names (an index rebuilt without
//! flags: lost flags) and a message file overwritten or cut short (content
//! corruption). The healthy side is never reverted; the damaged side is
//! repaired when the operator says so; nothing a user kept is lost.

use std::path::{Path, PathBuf};

use super::*;

/// INBOX's message files (Maildir++: INBOX is the Maildir's own cur/ and
/// new/).
fn inbox_files(maildir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["cur", "new"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(dir)) else {
            continue;
        };
        for entry in entries {
            files.push(entry.expect("read a Maildir entry").path());
        }
    }
    files.sort();
    files
}

/// What a lost index looks like on disk: every INBOX file name loses its
/// flag letters (`…:2,FS` → `…:2,`). Dovecot takes the names as the truth
/// the next time it looks.
fn strip_flag_letters(maildir: &Path) {
    let mut stripped = 0;
    for file in inbox_files(maildir) {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        if let Some((base, letters)) = name.rsplit_once(":2,") {
            if !letters.is_empty() {
                std::fs::rename(&file, file.with_file_name(format!("{base}:2,"))).unwrap();
                stripped += 1;
            }
        }
    }
    assert!(stripped > 0, "no flag letters to strip in {maildir:?}");
}

/// The file in INBOX holding scenario message `name` (`m2`…).
fn file_of(maildir: &Path, name: &str) -> PathBuf {
    let id = format!("Message-ID: <{name}@");
    inbox_files(maildir)
        .into_iter()
        .find(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).contains(&id))
        .unwrap_or_else(|| panic!("no file of {name} in {maildir:?}"))
}

/// m2's text changed in place, same length (a flipped block on disk): the
/// server serves the wrong bytes under the same UID and size.
fn overwrite_m2(maildir: &Path) {
    let file = file_of(maildir, "m2");
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("This is m2."));
    std::fs::write(&file, text.replace("This is m2.", "This is ##.")).unwrap();
}

/// m2's file cut short (a truncated copy).
fn truncate_m2(maildir: &Path) {
    let file = file_of(maildir, "m2");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 8)
        .unwrap();
}

/// `n` messages, each with these flags.
fn inbox_of(n: usize, flags: &str) -> String {
    spec_of("INBOX", (1..=n).map(|i| format!("m{i}({flags})")))
}

fn lost_flags(name: &'static str) -> Case {
    Case::new(name)
        .snapshot(inbox_of(12, "\\Seen"))
        .on_b_disk(strip_flag_letters)
}

/// B loses \Seen on all 12 messages at once: more than the guard allows
/// (max(10, 50%)), so the removal is withheld, said so, exit 4, and A keeps
/// its flags.
#[test]
fn lost_flags_on_disk_are_withheld_not_propagated() {
    lost_flags("lost flags withheld")
        .plan_before(
            4,
            Some(|run, report| {
                let b = run.cli_name(Which::B);
                assert!(
                    notes(report).iter().any(|n| n.starts_with(&format!(
                        "WITHHELD: \\Seen was removed from 12 messages on {b}"
                    ))),
                    "{}: the plan should withhold the lost \\Seen: {:?}",
                    run.what,
                    notes(report)
                );
            }),
        )
        .sync_exit(4)
        .untouched(Which::A)
        .expect_a(inbox_of(12, "\\Seen"))
        .expect_b(inbox_of(12, ""))
        .run();
}

/// The operator says B was restored: A's flags win, B gets \Seen back.
#[test]
fn lost_flags_on_disk_are_restored_from_the_healthy_side() {
    lost_flags("lost flags, --restored b")
        .args(&["--restored", "b"])
        .plan_before(1, Some(restore::says_b_looks_restored))
        .untouched(Which::A)
        .expect(inbox_of(12, "\\Seen"))
        .run();
}

/// The operator confirms the removals (`--max-delete`): they were a
/// user's choice after all, and reach A.
#[test]
fn lost_flags_confirmed_by_the_operator_propagate() {
    lost_flags("lost flags, --max-delete 20")
        .args(&["--max-delete", "20"])
        .expect(inbox_of(12, ""))
        .run();
}

fn damaged_m2(name: &'static str, damage: fn(&Path), check_says: &'static str) -> Case {
    Case::new(name)
        .snapshot("INBOX: m1() m2(\\Seen) m3()")
        .on_b_disk(damage)
        // Without --verify the cached fingerprints are trusted: nothing shows.
        .run_between("check", &[], 0, &[])
        .run_between("check", &["--verify"], 1, &[check_says])
        .args(&["--verify"])
        .plan_before(
            1,
            Some(|run, report| {
                let inbox = planned(report, "INBOX");
                let b = run.cli_name(Which::B);
                let expunges = inbox["expunges"].as_array().unwrap();
                assert_eq!(expunges.len(), 1, "{}\n{inbox:#}", run.what);
                assert_eq!(expunges[0]["side"], b, "{}\n{inbox:#}", run.what);
                assert_eq!(count(inbox, "copies"), 1, "{}\n{inbox:#}", run.what);
            }),
        )
        .untouched(Which::A)
        .expect("INBOX: m1() m2(\\Seen) m3()")
        .no_mirror()
}

/// m2's bytes changed in place on B: `check --verify` names it, `sync
/// --verify` copies A's m2 in and expunges the damaged one.
#[test]
fn a_message_overwritten_on_disk_is_replaced_from_the_healthy_side() {
    damaged_m2(
        "damaged in place",
        overwrite_m2,
        "DAMAGED: its content changed since it was synced",
    )
    .run();
}

/// m2's file on B cut short: Dovecot closes the connection whenever its
/// body is fetched. `check --verify` isolates it on a new connection and
/// names it; `sync --verify` replaces it from A.
#[test]
fn a_message_truncated_on_disk_is_isolated_and_replaced_from_the_healthy_side() {
    damaged_m2(
        "truncated",
        truncate_m2,
        "on B: the server did not deliver its body",
    )
    // Dovecot reports the shorter size once it has failed to serve the
    // file, but under no new mod-sequence: B, whose watermarks the setup
    // sync moved past its own copies, is read from its history (before
    // they moved, that history held the copies, and the changed size
    // made B read in full). --verify reads every body either way.
    .run();
}

/// What an index rebuild looks like on disk: INBOX's `dovecot-uidlist` and
/// index files deleted. Dovecot numbers the files again under a new
/// UIDVALIDITY; the flags survive in the file names.
fn delete_uidlist_and_indexes(maildir: &Path) {
    let mut deleted = 0;
    for entry in std::fs::read_dir(maildir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if name == "dovecot-uidlist" || name.starts_with("dovecot.index") {
            std::fs::remove_file(&path).unwrap();
            deleted += 1;
        }
    }
    assert!(deleted > 0, "no dovecot-uidlist or index in {maildir:?}");
}

/// B's INBOX gets a new UIDVALIDITY behind the server's back after B's user
/// added \Seen to m2 and removed \Flagged from m3, while A's user answered
/// m1 and got m4. Without proof of what B's UIDs meant, messages pair by
/// content, A's changes go through, and from B additions are taken but
/// removals are not (m3 keeps \Flagged) — and the plan says why.
#[test]
fn an_index_rebuilt_behind_the_servers_back_pairs_by_content() {
    Case::new("uidlist and indexes deleted")
        .snapshot("INBOX: m1(\\Seen) m2() m3(\\Flagged)")
        .a("INBOX: m1(\\Seen \\Answered) m2() m3(\\Flagged) m4()")
        .b("INBOX: m1(\\Seen) m2(\\Seen) m3()")
        .on_b_disk(delete_uidlist_and_indexes)
        .suspect(Which::B, &["INBOX"])
        .plan_before(
            1,
            Some(|run, report| {
                let b = run.cli_name(Which::B);
                assert!(
                    notes(report)
                        .iter()
                        .any(|n| n.contains(&format!("UIDVALIDITY changed on {b}"))),
                    "{}: the plan should say B's UIDVALIDITY changed: {:?}",
                    run.what,
                    notes(report)
                );
            }),
        )
        .expect("INBOX: m1(\\Seen \\Answered) m2(\\Seen) m3(\\Flagged) m4()")
        .run();
}
