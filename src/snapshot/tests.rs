//! Every write round-trips through `load`; the refusals (lock, endpoints,
//! schema) are proven on real files.

use super::migrations::SCHEMA_VERSION;
use super::*;
use crate::model::{
    Fingerprint, FlagSet, InternalDate, MailboxStatus, MessageMeta, PairLevel, Side, Uid,
};
use tempfile::TempDir;

fn endpoint(host: &str, user: &str) -> EndpointIdentity {
    EndpointIdentity {
        scheme: "imaps".into(),
        host: host.into(),
        port: 993,
        user: user.into(),
    }
}

fn a() -> EndpointIdentity {
    endpoint("a.example", "alice")
}

fn b() -> EndpointIdentity {
    endpoint("b.example", "alice")
}

fn fp(n: u8) -> Fingerprint {
    Fingerprint([n; 32])
}

fn meta(uid: u32, n: u8, flags: &[&str]) -> MessageMeta {
    MessageMeta {
        uid,
        size: 1000u32.wrapping_add(uid),
        internal_date: InternalDate::new(1_700_000_000 + uid as i64, -420),
        flags: FlagSet::from_wire(flags.iter().copied()),
        fingerprint: fp(n),
        normalised: crate::model::Normalised::of(&fp(n), Some(fp(n.wrapping_add(100)))),
    }
}

fn cached(m: &MessageMeta) -> CachedMessage {
    CachedMessage {
        size: m.size,
        internal_date: m.internal_date,
        fingerprint: m.fingerprint,
        flags: m.flags.clone(),
        read_back: true,
        status: None,
        normalised: m.normalised(),
    }
}

fn status(uidvalidity: u32, uidnext: u32, highestmodseq: Option<u64>) -> MailboxStatus {
    MailboxStatus {
        uidvalidity,
        uidnext,
        exists: 0,
        highestmodseq,
        permanent_flags: None,
    }
}

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("state").join("pair.sqlite")
    }

    fn open(&self) -> Snapshot {
        Snapshot::open(&self.path(), [&a(), &b()]).unwrap()
    }

    fn open_swapped(&self) -> Snapshot {
        Snapshot::open(&self.path(), [&b(), &a()]).unwrap()
    }
}

#[test]
fn new_snapshot_is_empty_private_and_unswapped() {
    let fx = Fixture::new();
    let snap = fx.open();
    assert!(!snap.swapped());
    assert!(snap.load().unwrap().mailboxes.is_empty());
    assert!(snap.intents().unwrap().is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [fx.path(), store::lock_path(&fx.path())] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
        let dir_mode = std::fs::metadata(fx.path().parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o077, 0, "the created directory is private");
    }
}

#[cfg(unix)]
#[test]
fn loose_existing_file_is_tightened_to_0600() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    drop(fx.open());
    std::fs::set_permissions(fx.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let _snap = fx.open();
    let mode = std::fs::metadata(fx.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn second_open_of_a_locked_snapshot_is_refused_and_drop_releases_it() {
    let fx = Fixture::new();
    let first = fx.open();
    match Snapshot::open(&fx.path(), [&a(), &b()]) {
        Err(SnapshotError::Locked { path, .. }) => assert_eq!(path, fx.path()),
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a locked snapshot opened twice"),
    }
    let message = Snapshot::open(&fx.path(), [&a(), &b()])
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("--state"), "{message}");
    drop(first);
    let _again = fx.open();
}

#[test]
fn snapshot_of_other_endpoints_is_refused_with_advice() {
    let fx = Fixture::new();
    drop(fx.open());
    let c = endpoint("c.example", "alice");
    let err = Snapshot::open(&fx.path(), [&a(), &c])
        .err()
        .expect("other endpoints refused");
    match &err {
        SnapshotError::OtherEndpoints {
            path,
            expected,
            found,
        } => {
            assert_eq!(path, &fx.path());
            assert_eq!(**expected, [a(), c.clone()]);
            assert_eq!(**found, [a(), b()]);
        }
        other => panic!("expected OtherEndpoints, got {other}"),
    }
    let message = err.to_string();
    assert!(message.contains("--state"), "{message}");
    assert!(message.contains("c.example"), "{message}");
    // A different user on the same server is another endpoint too.
    let bob = endpoint("b.example", "bob");
    assert!(matches!(
        Snapshot::open(&fx.path(), [&a(), &bob]),
        Err(SnapshotError::OtherEndpoints { .. })
    ));
}

#[test]
fn host_case_does_not_make_another_endpoint() {
    let fx = Fixture::new();
    drop(fx.open());
    let shouting = endpoint("A.EXAMPLE", "alice");
    let snap = Snapshot::open(&fx.path(), [&shouting, &b()]).unwrap();
    assert!(!snap.swapped());
}

#[test]
fn newer_schema_is_refused_and_left_untouched() {
    let fx = Fixture::new();
    drop(fx.open());
    {
        let conn = rusqlite::Connection::open(fx.path()).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {};", SCHEMA_VERSION + 1))
            .unwrap();
    }
    match Snapshot::open(&fx.path(), [&a(), &b()]) {
        Err(SnapshotError::NewerSchema {
            found, supported, ..
        }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        Err(other) => panic!("expected NewerSchema, got {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

#[test]
fn foreign_files_are_corrupt_not_overwritten() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.path().parent().unwrap()).unwrap();
    std::fs::write(
        fx.path(),
        b"this is not a database, it is a grocery list\n".repeat(50),
    )
    .unwrap();
    assert!(matches!(
        Snapshot::open(&fx.path(), [&a(), &b()]),
        Err(SnapshotError::Corrupt { .. })
    ));

    let other = fx.dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE groceries (item TEXT);")
        .unwrap();
    assert!(matches!(
        Snapshot::open(&other, [&a(), &b()]),
        Err(SnapshotError::Corrupt { .. })
    ));
}

#[test]
fn cache_round_trips_with_extreme_integers_and_keyword_case() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let mut extreme = meta(u32::MAX, 9, &["\\Seen", "$Forwarded", "NonJunk"]);
    extreme.size = u32::MAX;
    extreme.internal_date = InternalDate::new(-1, 14 * 60);
    let plain = meta(1, 1, &[]);
    snap.cache_messages(
        "INBOX",
        Side::B,
        u32::MAX,
        &[extreme.clone(), plain.clone()],
    )
    .unwrap();
    drop(snap);

    let state = fx.open().load().unwrap();
    let inbox = &state.mailboxes["INBOX"];
    assert!(inbox.cache[Side::A.index()].is_empty());
    let on_b = &inbox.cache[Side::B.index()];
    assert_eq!(on_b.len(), 2);
    assert_eq!(on_b[&(u32::MAX, u32::MAX)], cached(&extreme));
    assert_eq!(on_b[&(u32::MAX, 1)], cached(&plain));
    // FlagSet compares case-insensitively, so check the spelling itself.
    assert_eq!(
        on_b[&(u32::MAX, u32::MAX)].flags.to_wire(),
        "$Forwarded \\Seen NonJunk"
    );
    assert_eq!(inbox.sides, [None, None]);
    assert!(inbox.pairs.is_empty());
}

#[test]
fn cache_upsert_replaces_metadata_of_the_same_uid() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    snap.cache_messages("INBOX", Side::A, 7, &[meta(3, 1, &["\\Seen"])])
        .unwrap();
    let changed = meta(3, 1, &["\\Seen", "\\Flagged"]);
    snap.cache_messages("INBOX", Side::A, 7, std::slice::from_ref(&changed))
        .unwrap();
    let state = snap.load().unwrap();
    let on_a = &state.mailboxes["INBOX"].cache[Side::A.index()];
    assert_eq!(on_a.len(), 1);
    assert_eq!(on_a[&(7, 3)], cached(&changed));
}

#[test]
fn rebase_sets_watermarks_and_replaces_pairs() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let mut a_status = status(u32::MAX, u32::MAX, Some(u64::MAX));
    a_status.permanent_flags = Some(vec!["\\Seen".into(), "\\*".into()]);
    let b_status = status(42, 100, Some(4_294_967_295));
    let first = vec![
        PairRecord {
            unconfirmed: None,
            uid: [1, 11],
            fingerprint: fp(1),
            flags: Some(FlagSet::from_wire(["\\Seen", "$Label1"])),
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
        PairRecord {
            unconfirmed: None,
            uid: [2, 12],
            fingerprint: fp(2),
            flags: None,
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
    ];
    snap.rebase_mailbox(
        "Archive",
        [
            Some(("Archive", &a_status)),
            Some(("INBOX.Archive", &b_status)),
        ],
        &first,
    )
    .unwrap();
    let second = vec![
        PairRecord {
            unconfirmed: None,
            uid: [u32::MAX, u32::MAX - 1],
            fingerprint: fp(3),
            flags: Some(FlagSet::new()),
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
        first[1].clone(),
    ];
    snap.rebase_mailbox(
        "Archive",
        [
            Some(("Archive", &a_status)),
            Some(("INBOX.Archive", &b_status)),
        ],
        &second,
    )
    .unwrap();
    drop(snap);

    let state = fx.open().load().unwrap();
    let archive = &state.mailboxes["Archive"];
    assert_eq!(
        archive.sides,
        [
            Some(SideRecord {
                wire_name: "Archive".into(),
                uidvalidity: u32::MAX,
                uidnext: u32::MAX,
                highestmodseq: Some(u64::MAX),
                seen_uidnext: Some(u32::MAX),
                seen_highestmodseq: Some(u64::MAX),
                permanent_flags: Some(vec!["\\Seen".into(), "\\*".into()]),
            }),
            Some(SideRecord {
                wire_name: "INBOX.Archive".into(),
                uidvalidity: 42,
                uidnext: 100,
                highestmodseq: Some(4_294_967_295),
                seen_uidnext: Some(100),
                seen_highestmodseq: Some(4_294_967_295),
                permanent_flags: None,
            }),
        ]
    );
    let mut expected = second.clone();
    expected.sort_by_key(|p| p.uid);
    assert_eq!(archive.pairs, expected);
}

#[test]
fn rebase_forgets_a_side_given_as_none_and_the_cache_of_an_old_uidvalidity() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    snap.cache_messages("INBOX", Side::A, 1, &[meta(1, 1, &[])])
        .unwrap();
    snap.cache_messages("INBOX", Side::B, 5, &[meta(1, 1, &[])])
        .unwrap();
    let old = status(1, 2, None);
    let b_status = status(5, 2, None);
    snap.rebase_mailbox(
        "INBOX",
        [Some(("INBOX", &old)), Some(("INBOX", &b_status))],
        &[],
    )
    .unwrap();
    let renewed = status(2, 1, None);
    snap.rebase_mailbox("INBOX", [Some(("INBOX", &renewed)), None], &[])
        .unwrap();

    let state = snap.load().unwrap();
    let inbox = &state.mailboxes["INBOX"];
    assert_eq!(
        inbox.sides[Side::A.index()].as_ref().unwrap().uidvalidity,
        2
    );
    assert_eq!(
        inbox.sides[Side::A.index()].as_ref().unwrap().highestmodseq,
        None
    );
    assert_eq!(inbox.sides[Side::B.index()], None);
    assert!(
        inbox.cache[Side::A.index()].is_empty(),
        "old UIDVALIDITY dropped"
    );
    assert_eq!(
        inbox.cache[Side::B.index()].len(),
        1,
        "a forgotten side keeps its cache"
    );
}

#[test]
fn rebase_with_a_uid_in_two_pairs_writes_nothing() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let st = status(1, 10, None);
    let good = [PairRecord {
        unconfirmed: None,
        uid: [1, 1],
        fingerprint: fp(1),
        flags: None,
        fingerprint_b: None,
        level: crate::model::PairLevel::Exact,
    }];
    snap.rebase_mailbox("INBOX", [Some(("INBOX", &st)), Some(("INBOX", &st))], &good)
        .unwrap();
    let twice = [
        PairRecord {
            unconfirmed: None,
            uid: [2, 2],
            fingerprint: fp(2),
            flags: None,
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
        PairRecord {
            unconfirmed: None,
            uid: [3, 2],
            fingerprint: fp(3),
            flags: None,
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
    ];
    let moved = status(1, 20, None);
    assert!(snap
        .rebase_mailbox(
            "INBOX",
            [Some(("INBOX", &moved)), Some(("INBOX", &moved))],
            &twice
        )
        .is_err());
    let state = snap.load().unwrap();
    assert_eq!(state.mailboxes["INBOX"].pairs, good.to_vec());
    assert_eq!(
        state.mailboxes["INBOX"].sides[0].as_ref().unwrap().uidnext,
        10
    );
}

#[test]
fn intent_then_complete_copies_pairs_caches_and_resolves() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let source = [meta(1, 1, &["\\Seen"]), meta(2, 2, &[])];
    snap.cache_messages("INBOX", Side::A, 7, &source).unwrap();
    let intent = snap
        .record_intent("INBOX", Side::B, 9, 50, &[fp(1), fp(2), fp(3)])
        .unwrap();
    drop(snap);

    // A crash here leaves the intent for the next run, with sizes from A's cache.
    let mut snap = fx.open();
    assert_eq!(
        snap.intents().unwrap(),
        vec![PendingIntent {
            id: intent,
            mailbox: "INBOX".into(),
            target: Side::B,
            uidvalidity: 9,
            uidnext: 50,
            items: vec![(fp(1), Some(1001)), (fp(2), Some(1002)), (fp(3), None)],
            created_at: snap.intents().unwrap()[0].created_at,
        }]
    );

    let copies = [meta(50, 1, &["\\Seen"]), meta(51, 2, &[])];
    let pairs = vec![
        PairRecord {
            unconfirmed: Some(Side::B),
            uid: [1, 50],
            fingerprint: fp(1),
            flags: Some(FlagSet::from_wire(["\\Seen"])),
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
        PairRecord {
            unconfirmed: Some(Side::B),
            uid: [2, 51],
            fingerprint: fp(2),
            flags: Some(FlagSet::new()),
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
    ];
    snap.complete_copies(
        "INBOX",
        intent,
        &pairs,
        [vec![], copies.iter().map(|m| (9, m.clone())).collect()],
        &[],
    )
    .unwrap();
    drop(snap);

    let snap = fx.open();
    assert!(snap.intents().unwrap().is_empty());
    let state = snap.load().unwrap();
    let inbox = &state.mailboxes["INBOX"];
    assert_eq!(inbox.pairs, pairs);
    assert_eq!(inbox.cache[Side::A.index()].len(), 2);
    // Copies are recorded from their source: not read back from the target.
    let copied = |m: &MessageMeta| CachedMessage {
        read_back: false,
        ..cached(m)
    };
    assert_eq!(inbox.cache[Side::B.index()][&(9, 50)], copied(&copies[0]));
    assert_eq!(inbox.cache[Side::B.index()][&(9, 51)], copied(&copies[1]));
}

#[test]
fn sized_intent_keeps_order_and_drop_intent_removes_it() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let items = [(fp(5), 10), (fp(4), u32::MAX), (fp(5), 10)];
    let first = snap
        .record_intent_sized("Sent", Side::A, 3, 4, &items)
        .unwrap();
    let second = snap.record_intent("Sent", Side::A, 3, 7, &[fp(6)]).unwrap();
    let pending = snap.intents().unwrap();
    assert_eq!(
        pending.iter().map(|i| i.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(
        pending[0].items,
        items
            .iter()
            .map(|(f, s)| (*f, Some(*s)))
            .collect::<Vec<_>>()
    );
    snap.drop_intent(first).unwrap();
    assert_eq!(
        snap.intents()
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        [second]
    );
}

#[test]
fn set_pair_flags_updates_only_the_named_pairs() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let st = status(1, 10, Some(5));
    let pairs = [
        PairRecord {
            unconfirmed: None,
            uid: [1, 2],
            fingerprint: fp(1),
            flags: None,
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
        PairRecord {
            unconfirmed: None,
            uid: [3, 4],
            fingerprint: fp(2),
            flags: Some(FlagSet::from_wire(["\\Flagged"])),
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        },
    ];
    snap.rebase_mailbox(
        "INBOX",
        [Some(("INBOX", &st)), Some(("INBOX", &st))],
        &pairs,
    )
    .unwrap();
    let agreed = FlagSet::from_wire(["\\Answered", "\\Seen", "$MailFlagBit1"]);
    snap.set_pair_flags(
        "INBOX",
        &[([1, 2], agreed.clone()), ([3, 99], FlagSet::new())],
    )
    .unwrap();
    snap.set_pair_flags("Nowhere", &[([1, 2], FlagSet::new())])
        .unwrap();

    let state = snap.load().unwrap();
    assert_eq!(
        state.mailboxes["INBOX"].pairs,
        vec![
            PairRecord {
                unconfirmed: None,
                flags: Some(agreed),
                ..pairs[0].clone()
            },
            pairs[1].clone(),
        ]
    );
    assert!(!state.mailboxes.contains_key("Nowhere"));
}

#[test]
fn message_status_round_trips_and_survives_a_cache_upsert() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let big = meta(8, 8, &[]);
    snap.set_message_status(
        "INBOX",
        Side::A,
        3,
        &big,
        Some(MessageStatus::Refused),
        Some("[LIMIT] message too large"),
    )
    .unwrap();
    snap.set_message_status(
        "INBOX",
        Side::B,
        4,
        &meta(9, 9, &[]),
        Some(MessageStatus::PendingExpunge),
        None,
    )
    .unwrap();
    snap.cache_messages("INBOX", Side::A, 3, std::slice::from_ref(&big))
        .unwrap();

    let expected = vec![
        MessageStatusRecord {
            mailbox: "INBOX".into(),
            side: Side::A,
            uidvalidity: 3,
            uid: 8,
            status: MessageStatus::Refused,
            reason: Some("[LIMIT] message too large".into()),
        },
        MessageStatusRecord {
            mailbox: "INBOX".into(),
            side: Side::B,
            uidvalidity: 4,
            uid: 9,
            status: MessageStatus::PendingExpunge,
            reason: None,
        },
    ];
    assert_eq!(snap.message_statuses().unwrap(), expected);
    assert_eq!(
        snap.load().unwrap().mailboxes["INBOX"].cache[0][&(3, 8)],
        CachedMessage {
            status: Some(MessageStatus::Refused),
            ..cached(&big)
        }
    );

    snap.set_message_status("INBOX", Side::A, 3, &big, None, None)
        .unwrap();
    assert_eq!(snap.message_statuses().unwrap(), expected[1..].to_vec());
    for s in [
        MessageStatus::Paired,
        MessageStatus::PendingExpunge,
        MessageStatus::Refused,
        MessageStatus::Skipped,
        MessageStatus::UnstorableFlags,
    ] {
        assert_eq!(MessageStatus::from_sql(s.as_sql()), Some(s));
    }
}

/// Everything written by a run that gave A and B the other way round reads
/// back, in the file's own orientation, with the sides exchanged.
#[test]
fn swapped_run_is_recognised_and_mirrored_both_ways() {
    let fx = Fixture::new();
    drop(fx.open()); // the file's A is a.example

    let mut swapped = fx.open_swapped(); // this run's A is b.example
    assert!(swapped.swapped());
    let on_run_a = status(100, 5, Some(u64::MAX));
    let on_run_b = status(200, 6, None);
    // A receipt not yet confirmed on the run's B: the file's A.
    let pair = PairRecord {
        unconfirmed: Some(Side::B),
        uid: [10, 20],
        fingerprint: fp(1),
        flags: Some(FlagSet::from_wire(["\\Seen"])),
        fingerprint_b: None,
        level: crate::model::PairLevel::Exact,
    };
    swapped
        .rebase_mailbox(
            "INBOX",
            [Some(("INBOX", &on_run_a)), Some(("Posteingang", &on_run_b))],
            std::slice::from_ref(&pair),
        )
        .unwrap();
    swapped
        .cache_messages("INBOX", Side::A, 100, &[meta(10, 1, &["\\Seen"])])
        .unwrap();
    swapped
        .set_pair_flags(
            "INBOX",
            &[([10, 20], FlagSet::from_wire(["\\Seen", "\\Answered"]))],
        )
        .unwrap();
    swapped
        .set_message_status(
            "INBOX",
            Side::B,
            200,
            &meta(21, 2, &[]),
            Some(MessageStatus::Skipped),
            Some("too big"),
        )
        .unwrap();
    let intent = swapped
        .record_intent("INBOX", Side::B, 200, 6, &[fp(1)])
        .unwrap();
    let swapped_view = swapped.load().unwrap();
    assert_eq!(swapped_view.mailboxes["INBOX"].pairs[0].uid, [10, 20]);
    assert_eq!(
        swapped_view.mailboxes["INBOX"].sides[0]
            .as_ref()
            .unwrap()
            .uidvalidity,
        100
    );
    assert_eq!(swapped.intents().unwrap()[0].target, Side::B);
    drop(swapped);

    let plain = fx.open();
    assert!(!plain.swapped());
    let state = plain.load().unwrap();
    let inbox = &state.mailboxes["INBOX"];
    assert_eq!(
        inbox.sides[Side::A.index()].as_ref().unwrap().wire_name,
        "Posteingang"
    );
    assert_eq!(
        inbox.sides[Side::A.index()].as_ref().unwrap().uidvalidity,
        200
    );
    assert_eq!(
        inbox.sides[Side::B.index()].as_ref().unwrap().uidvalidity,
        100
    );
    assert_eq!(
        inbox.sides[Side::B.index()].as_ref().unwrap().highestmodseq,
        Some(u64::MAX)
    );
    assert_eq!(
        inbox.pairs,
        vec![PairRecord {
            unconfirmed: Some(Side::A),
            uid: [20, 10],
            fingerprint: fp(1),
            flags: Some(FlagSet::from_wire(["\\Seen", "\\Answered"])),
            fingerprint_b: None,
            level: crate::model::PairLevel::Exact,
        }]
    );
    assert_eq!(
        inbox.cache[Side::A.index()].keys().collect::<Vec<_>>(),
        [&(200, 21)],
        "the status row written as the swapped run's B"
    );
    assert_eq!(
        inbox.cache[Side::B.index()][&(100, 10)],
        cached(&meta(10, 1, &["\\Seen"]))
    );
    let statuses = plain.message_statuses().unwrap();
    assert_eq!((statuses[0].side, statuses[0].uid), (Side::A, 21));
    let intents = plain.intents().unwrap();
    assert_eq!((intents[0].id, intents[0].target), (intent, Side::A));
    // Size for the intent came from the swapped run's A (the file's B) cache.
    assert_eq!(intents[0].items, vec![(fp(1), Some(1010))]);
}

/// A run killed with SIGKILL right after a checkpoint returned: the kernel
/// frees the lock, and the checkpoint is there. The test re-runs its own
/// binary as the run to kill.
#[cfg(unix)]
#[test]
fn checkpoint_survives_sigkill_and_the_lock_dies_with_the_process() {
    use std::io::{BufRead, BufReader, Write};
    const CHILD: &str = "IMAPMEND_SNAPSHOT_KILL_CHILD";
    const DONE: &str = "checkpoint returned";
    let st = status(1, 3, Some(u64::MAX));
    let pair = PairRecord {
        unconfirmed: None,
        uid: [1, 2],
        fingerprint: fp(1),
        flags: Some(FlagSet::from_wire(["\\Seen"])),
        fingerprint_b: None,
        level: crate::model::PairLevel::Exact,
    };

    if let Some(path) = std::env::var_os(CHILD) {
        let mut snap = Snapshot::open(Path::new(&path), [&a(), &b()]).unwrap();
        snap.rebase_mailbox(
            "INBOX",
            [Some(("INBOX", &st)), Some(("INBOX", &st))],
            std::slice::from_ref(&pair),
        )
        .unwrap();
        println!("{DONE}");
        std::io::stdout().flush().unwrap();
        std::thread::sleep(std::time::Duration::from_secs(60));
        return;
    }

    /// Kills the child run even when an assertion fails first.
    struct Run(std::process::Child);
    impl Drop for Run {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let fx = Fixture::new();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "snapshot::tests::checkpoint_survives_sigkill_and_the_lock_dies_with_the_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, fx.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Run)
        .unwrap();
    let stdout = child.0.stdout.take().unwrap();
    let reached = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(DONE));
    assert!(reached, "the child run never checkpointed");
    assert!(matches!(
        Snapshot::open(&fx.path(), [&a(), &b()]),
        Err(SnapshotError::Locked { .. })
    ));
    drop(child); // SIGKILL: no destructor, no WAL checkpoint

    let snap = fx.open();
    let state = snap.load().unwrap();
    assert_eq!(state.mailboxes["INBOX"].pairs, vec![pair]);
    assert_eq!(
        state.mailboxes["INBOX"].sides[1]
            .as_ref()
            .unwrap()
            .highestmodseq,
        Some(u64::MAX)
    );
}

#[test]
fn update_cache_forgets_gone_uids_and_remove_pairs_leaves_tombstones_until_purged() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let (m1, m2) = (meta(1, 1, &["\\Seen"]), meta(2, 2, &[]));
    snap.cache_messages("INBOX", Side::A, 7, &[m1.clone(), m2.clone()])
        .unwrap();
    let pairs = vec![PairRecord {
        unconfirmed: None,
        uid: [1, 10],
        fingerprint: m1.fingerprint,
        flags: None,
        fingerprint_b: None,
        level: crate::model::PairLevel::Exact,
    }];
    snap.rebase_mailbox("INBOX", [None, None], &pairs).unwrap();
    snap.update_cache("INBOX", Side::A, 7, &[], &[2]).unwrap();
    let tombstone = Tombstone {
        fingerprint: m1.fingerprint,
        normalised: m1.normalised(),
    };
    snap.remove_pairs("INBOX", &[[1, 10]], &[tombstone])
        .unwrap();
    let state = snap.load().unwrap();
    let inbox = &state.mailboxes["INBOX"];
    assert!(inbox.pairs.is_empty());
    assert_eq!(inbox.cache[0].keys().collect::<Vec<_>>(), vec![&(7, 1)]);
    assert_eq!(inbox.tombstones.len(), 1);
    assert_eq!(inbox.tombstones[0].0, tombstone);
    snap.purge_tombstones(inbox.tombstones[0].1 + 1).unwrap();
    assert!(snap.load().unwrap().mailboxes["INBOX"]
        .tombstones
        .is_empty());
}

#[test]
fn seen_watermarks_only_rise_and_reset_with_a_new_uidvalidity() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let side = |uv, next, ms| status(uv, next, ms);
    snap.rebase_mailbox("INBOX", [Some(("INBOX", &side(7, 10, Some(5)))), None], &[])
        .unwrap();
    snap.raise_seen("INBOX", Side::A, 20, Some(u64::MAX - 1))
        .unwrap();
    snap.raise_seen("INBOX", Side::A, 15, Some(3)).unwrap();
    let a = snap.load().unwrap().mailboxes["INBOX"].sides[0]
        .clone()
        .unwrap();
    assert_eq!((a.uidnext, a.highestmodseq), (10, Some(5)));
    assert_eq!(
        (a.seen_uidnext, a.seen_highestmodseq),
        (Some(20), Some(u64::MAX - 1))
    );
    snap.rebase_mailbox("INBOX", [Some(("INBOX", &side(8, 3, Some(2)))), None], &[])
        .unwrap();
    let a = snap.load().unwrap().mailboxes["INBOX"].sides[0]
        .clone()
        .unwrap();
    assert_eq!((a.seen_uidnext, a.seen_highestmodseq), (Some(3), Some(2)));
}

/// Each pair's level and both sides' contents survive the file, in
/// either orientation; a normalised fingerprint of other rules than this
/// build's reads as not known.
#[test]
fn pair_levels_and_normalised_fingerprints_are_kept_and_versioned() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let st = status(7, 10, Some(5));
    let pair = |uid: Uid, level: PairLevel, b: Option<Fingerprint>| PairRecord {
        uid: [uid, uid + 10],
        fingerprint: fp(uid as u8),
        flags: None,
        level,
        fingerprint_b: b,
        unconfirmed: None,
    };
    let pairs = vec![
        pair(1, PairLevel::Exact, None),
        pair(2, PairLevel::Normalised, Some(fp(20))),
        pair(3, PairLevel::Headers, Some(fp(30))),
    ];
    let sides = [Some(("INBOX", &st)), Some(("INBOX", &st))];
    snap.rebase_mailbox("INBOX", sides, &pairs).unwrap();
    snap.cache_messages("INBOX", Side::B, 7, &[meta(12, 20, &[]), meta(13, 30, &[])])
        .unwrap();
    drop(snap);
    let state = fx.open().load().unwrap();
    assert_eq!(state.mailboxes["INBOX"].pairs, pairs);
    assert_eq!(
        state.mailboxes["INBOX"].cache[1][&(7, 12)].normalised,
        Some(fp(120))
    );
    // Swapped, B's content is the run's A's.
    let swapped = fx.open_swapped().load().unwrap();
    let p = &swapped.mailboxes["INBOX"].pairs;
    let normalised = p.iter().find(|p| p.uid == [12, 2]).unwrap();
    assert_eq!(
        (
            normalised.fingerprint,
            normalised.fingerprint_b,
            normalised.level
        ),
        (fp(20), Some(fp(2)), PairLevel::Normalised)
    );
    assert_eq!(
        p.iter().find(|p| p.uid == [11, 1]).unwrap().fingerprint_b,
        None
    );
    // Another version of the rules: not known.
    {
        let conn = rusqlite::Connection::open(fx.path()).unwrap();
        conn.execute_batch("UPDATE message SET normalised_version = 999 WHERE uid = 12")
            .unwrap();
    }
    let state = fx.open().load().unwrap();
    let cache = &state.mailboxes["INBOX"].cache[1];
    assert_eq!(cache[&(7, 12)].normalised, None);
    assert_eq!(cache[&(7, 13)].normalised, Some(fp(130)));
}

#[test]
fn a_side_cache_finds_every_entry_by_key_and_lists_them_in_order() {
    let entry = |uv: u32, uid: Uid, content: u8| ((uv, uid), cached(&meta(uid, content, &[])));
    let cache = SideCache::from_entries(vec![
        entry(7, 30, 1),
        entry(5, 99, 2),
        entry(7, 2, 3),
        entry(7, 30, 4), // given twice: the later entry wins, as a map's insert
    ]);
    assert_eq!(cache.len(), 3);
    assert_eq!(
        cache.keys().collect::<Vec<_>>(),
        [&(5, 99), &(7, 2), &(7, 30)]
    );
    assert_eq!(cache.get(&(7, 30)), Some(&cached(&meta(30, 4, &[]))));
    assert_eq!(cache[&(5, 99)], cached(&meta(99, 2, &[])));
    assert_eq!(cache.get(&(7, 31)), None);
    assert_eq!(cache.get(&(5, 2)), None);
    assert!(SideCache::default().is_empty());
}

/// A settled mark is written in the file's orientation and read back in
/// the run's, and forgotten with None; the index is a row per mailbox.
#[test]
fn settled_marks_are_kept_per_side_and_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = scratch(dir.path());
    let st = MailboxStatus {
        uidvalidity: 7,
        uidnext: 4,
        exists: 3,
        highestmodseq: Some(9),
        permanent_flags: None,
    };
    snap.set_watermarks("INBOX", [Some(("INBOX", &st)), Some(("INBOX", &st))])
        .unwrap();
    let mark = |uidnext| SettledMark {
        uidvalidity: 7,
        uidnext,
        highestmodseq: u64::MAX,
        messages: 3,
    };
    let marks = [mark(4), mark(5)];
    snap.record_settled(&[
        ("INBOX".into(), Some(marks)),
        ("Nowhere".into(), Some(marks)),
    ])
    .unwrap();
    let read = snap.load_index().unwrap().mailboxes["INBOX"].settled;
    assert_eq!(read, marks.map(Some));
    assert!(!snap.load_index().unwrap().mailboxes.contains_key("Nowhere"));
    let before = snap.rows_read();
    snap.load_index().unwrap();
    assert_eq!(snap.rows_read() - before, 1, "one row per mailbox");
    snap.record_settled(&[("INBOX".into(), None)]).unwrap();
    assert_eq!(
        snap.load_index().unwrap().mailboxes["INBOX"].settled,
        [None, None]
    );
}

/// The cache rows' upsert is compiled without the table's CHECKs (they
/// cost a temporary index a row): the rows it writes still pass SQLite's
/// integrity check, which checks them, and the checks are back for every
/// statement after it.
#[test]
fn cache_rows_written_unchecked_pass_the_checks_which_stay_on_for_the_rest() {
    let fx = Fixture::new();
    let mut snap = fx.open();
    let rows: Vec<MessageMeta> = (1..=50)
        .map(|uid| meta(uid, uid as u8, &["\\Seen"]))
        .collect();
    snap.cache_messages("INBOX", Side::A, 7, &rows).unwrap();
    snap.update_cache("INBOX", Side::B, 9, &rows[..3], &[])
        .unwrap();
    let integrity: String = (snap.conn)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let broken = snap.conn.execute(
        "UPDATE message SET status = 'no such status' WHERE uid = 1",
        [],
    );
    assert!(broken.is_err(), "the CHECK on status must hold again");
    let broken = snap.conn.execute(
        "INSERT INTO message (mailbox, side, uidvalidity, uid, size, internal_date,
                              internal_date_offset, fingerprint, flags)
         SELECT mailbox, 'C', 7, 99, 1, 1, 0, fingerprint, '' FROM message LIMIT 1",
        [],
    );
    assert!(broken.is_err(), "the CHECK on side must hold again");
    assert_eq!(snap.load().unwrap().mailboxes["INBOX"].cache[0].len(), 50);
}
