//! `--exclude` against real Dovecot servers, seen from the wire: a
//! left-out mailbox is never selected, examined or fetched on either side
//! (a proxy in front of each server records every byte imapmend sends), and
//! one deleted on a side since the last sync does not read as a deletion:
//! it is neither deleted on the other side (even with `--delete-mailboxes`)
//! nor recreated, and the snapshot still remembers it. (The same run
//! copies mail with standard error a pipe: it prints no progress there;
//! `-v` says which mailboxes were left out and how each was read.)

mod support;

use support::dovecot::{self, Kind};
use support::imapmend::{bare, Finish, Pair, LIMIT};
use support::mail::{msg, DATE};
use support::proxy::{self, Dir, Proxy};

fn subjects(client: &mut support::mailclient::MailClient, mailbox: &str) -> Vec<String> {
    let mut out: Vec<String> = client
        .fetch_all(mailbox)
        .iter()
        .map(|f| {
            String::from_utf8_lossy(&f.body)
                .lines()
                .find(|l| l.starts_with("Subject: "))
                .unwrap_or("")
                .to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn excluded_mailboxes_are_never_selected_and_never_look_deleted() {
    let (a, b) = dovecot::pair(Kind::Full);
    let (proxy_a, proxy_b) = (Proxy::start(a.port), Proxy::start(b.port));
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy_a.port();
    pair.b_port = proxy_b.port();
    let (mut ca, mut cb) = (a.client(), b.client());
    for mailbox in ["Junk", "Lists", "Work"] {
        ca.create(mailbox);
    }
    ca.append("INBOX", &msg("i1"), &[], Some(DATE));
    ca.append("Junk", &msg("j1"), &[], Some(DATE));
    ca.append("Lists", &msg("l1"), &[], Some(DATE));
    cb.create("Junk");
    cb.append("Junk", &msg("j2"), &[], Some(DATE));
    let first = pair.run("sync", &[], &[]);
    assert_eq!(first.code, Some(0), "{}", first.describe());

    // Junk is deleted on A since that sync; the others change on both sides.
    ca.delete("Junk");
    cb.append("Junk", &msg("j3"), &[], Some(DATE));
    ca.append("Lists", &msg("l2"), &[], Some(DATE));
    ca.append("Work", &msg("w1"), &[], Some(DATE));
    proxy_a.record();
    proxy_b.record();
    let args = ["--exclude", "^(Junk|Lists)$", "--delete-mailboxes"];
    let run = pair.run("sync", &args, &[("RUST_LOG", "")]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    // Standard error is a pipe here: no progress bar, spinner or escape codes.
    assert_eq!(run.stderr, "", "{}", run.describe());
    for (side, proxy) in [("A", &proxy_a), ("B", &proxy_b)] {
        let sent = proxy.recorded(Dir::ToServer);
        assert!(
            proxy::find(&sent, b"SELECT", 0).is_some(),
            "{side}: the recording holds the run's commands"
        );
        for name in [&b"Junk"[..], b"Lists"] {
            assert_eq!(
                proxy::find(&sent, name, 0),
                None,
                "{side}: imapmend named the excluded {:?}:\n{}",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(&sent)
            );
        }
    }
    // The selected mailbox was synced; the excluded ones are as they were.
    assert_eq!(subjects(&mut cb, "Work"), ["Subject: message w1"]);
    assert_eq!(
        subjects(&mut cb, "Junk"),
        [
            "Subject: message j1",
            "Subject: message j2",
            "Subject: message j3"
        ]
    );
    assert_eq!(subjects(&mut cb, "Lists"), ["Subject: message l1"]);
    assert!(!ca.mailboxes().contains(&"Junk".to_string()));

    // -v says what was left out and how each mailbox was read.
    let told = pair.run(
        "plan",
        &["-v", "--exclude", "^(Junk|Lists)$"],
        &[("RUST_LOG", "")],
    );
    assert_eq!(told.code, Some(0), "{}", told.describe());
    for line in [
        "Lists: left out",
        "Work: A listed by history",
        "nothing to do",
    ] {
        assert!(
            told.stderr.contains(line),
            "-v lacks {line:?}: {}",
            told.describe()
        );
    }

    // The snapshot still knows both excluded mailboxes.
    let shown = bare()
        .args(["snapshot", "show", "--json", "--state"])
        .arg(pair.state_path())
        .finish(LIMIT)
        .stdout;
    for name in ["\"Junk\"", "\"Lists\""] {
        assert!(shown.contains(name), "snapshot lacks {name}: {shown}");
    }
}

/// A mailbox of the run renamed on A into a left-out name (Projects →
/// Archive/Projects under `--exclude ^Archive`) is not a deletion: it keeps
/// its UIDVALIDITY there, so with `--delete-mailboxes` B keeps its
/// Projects, and without it Projects is not created again on A (which
/// would copy the mail back beside the renamed one). The plan says why.
/// With CONDSTORE the UIDVALIDITY comes with the LIST (LIST-STATUS);
/// without, it is asked by STATUS.
#[test]
fn a_mailbox_renamed_into_a_left_out_name_is_neither_deleted_nor_recreated() {
    for kind in [Kind::Full, Kind::NoCondstore] {
        renamed_into_a_left_out_name(kind);
    }
}

fn renamed_into_a_left_out_name(kind: Kind) {
    let (a, b) = dovecot::pair(kind);
    let pair = Pair::new(&a, &b);
    let (mut ca, mut cb) = (a.client(), b.client());
    ca.create("Archive");
    ca.create("Projects");
    ca.append("Projects", &msg("p1"), &[], Some(DATE));
    ca.append("Projects", &msg("p2"), &[], Some(DATE));
    let exclude = ["--exclude", "^Archive"];
    let first = pair.run("sync", &exclude, &[]);
    assert_eq!(first.code, Some(0), "{}", first.describe());
    assert_eq!(subjects(&mut cb, "Projects").len(), 2);

    ca.command("RENAME \"Projects\" \"Archive.Projects\"");
    for extra in [&[][..], &["--delete-mailboxes"][..]] {
        let args: Vec<&str> = exclude.iter().chain(extra).copied().collect();
        let run = pair.run("sync", &args, &[]);
        assert_eq!(run.code, Some(0), "{extra:?}: {}", run.describe());
        assert!(
            run.stdout.contains("renamed out of the run"),
            "{extra:?}: {}",
            run.describe()
        );
        assert_eq!(
            subjects(&mut cb, "Projects").len(),
            2,
            "{extra:?}: B keeps it"
        );
        assert!(
            !ca.mailboxes().iter().any(|m| m == "Projects"),
            "{extra:?}: not created again on A"
        );
        assert_eq!(subjects(&mut ca, "Archive.Projects").len(), 2);
    }
}

/// A mailbox whose LIST-STATUS watermarks (UIDVALIDITY, UIDNEXT,
/// HIGHESTMODSEQ) are the ones the last sync saved is not selected at all:
/// after a change in Busy only, a sync names Busy on the wire and never
/// Quiet, on either side, and the change arrives.
#[test]
fn a_mailbox_unchanged_since_the_last_sync_is_not_selected() {
    let (a, b) = dovecot::pair(Kind::Full);
    let (proxy_a, proxy_b) = (Proxy::start(a.port), Proxy::start(b.port));
    let mut pair = Pair::new(&a, &b);
    pair.a_port = proxy_a.port();
    pair.b_port = proxy_b.port();
    let mut ca = a.client();
    for mailbox in ["Quiet", "Busy"] {
        ca.create(mailbox);
        ca.append(mailbox, &msg(&mailbox.to_lowercase()), &[], Some(DATE));
    }
    // The second run settles what the first one's own writes moved.
    for _ in 0..2 {
        let run = pair.run("sync", &[], &[]);
        assert_eq!(run.code, Some(0), "{}", run.describe());
    }
    let uid = ca.fetch_all("Busy")[0].uid;
    ca.store("Busy", &[uid], "+", &["\\Flagged"]);
    proxy_a.record();
    proxy_b.record();
    let run = pair.run("sync", &[], &[]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    for (side, proxy) in [("A", &proxy_a), ("B", &proxy_b)] {
        let sent = proxy.recorded(Dir::ToServer);
        let text = String::from_utf8_lossy(&sent);
        assert!(
            text.contains("\"Busy\""),
            "{side} never selected Busy:\n{text}"
        );
        // Its watermarks are asked by STATUS (ahead of the LIST, which
        // Dovecot answers without opening it); nothing else names it.
        let named: Vec<&str> = text.lines().filter(|l| l.contains("Quiet")).collect();
        assert!(
            named.iter().all(|l| l.contains(" STATUS \"Quiet\" ")),
            "{side}: Quiet was selected or examined:\n{text}"
        );
    }
    let on_b = b.client().fetch_all("Busy");
    assert!(
        on_b[0].flags.iter().any(|f| f == "\\Flagged"),
        "{:?}",
        on_b[0].flags
    );
}
