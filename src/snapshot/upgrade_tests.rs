//! Schema upgrades, tested from every earlier version, and `verify`: each file in
//! `fixtures/snapshots/` was made by the code of its version (v1 by the
//! first release's schema, v1-late as later version-1 builds left it, v2 by
//! the code before the migrations, v3 by migration 3 run on v2 with a
//! verification and a scrub finding added, v4 by migration 4 run on v3)
//! and is opened by this build, which must
//! upgrade it to the schema a new file has and keep everything it knew.

use super::migrations::{self, Migration, MIGRATIONS, SCHEMA_VERSION};
use super::verify;
use super::*;
use crate::model::{MailboxStatus, PairLevel};
use std::collections::{BTreeMap, BTreeSet};
use tempfile::TempDir;

/// (name, the version it says, its dump). A migration to version N needs a
/// fixture of version N - 1, made by the code before it.
const FIXTURES: &[(&str, i64, &str)] = &[
    ("v1", 1, include_str!("../../fixtures/snapshots/v1.sql")),
    (
        "v1-late",
        1,
        include_str!("../../fixtures/snapshots/v1-late.sql"),
    ),
    ("v2", 2, include_str!("../../fixtures/snapshots/v2.sql")),
    ("v3", 3, include_str!("../../fixtures/snapshots/v3.sql")),
    ("v4", 4, include_str!("../../fixtures/snapshots/v4.sql")),
];

fn endpoints() -> [EndpointIdentity; 2] {
    ["a.example", "b.example"].map(|host| EndpointIdentity {
        scheme: "imaps".into(),
        host: host.into(),
        port: 993,
        user: "alice".into(),
    })
}

fn fp(n: u8) -> Fingerprint {
    Fingerprint([n; 32])
}

/// A snapshot file made from a fixture's dump, in `dir`.
fn from_dump(dir: &TempDir, name: &str, dump: &str) -> PathBuf {
    let path = dir.path().join(format!("{name}.sqlite"));
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(dump)
        .unwrap();
    path
}

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// Every table and index with its columns (name, type, not null, default,
/// key), in name order: what must not differ between a new file and an
/// upgraded one (a column added later sits at the end of its table).
fn schema_of(path: &Path) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut out = BTreeSet::new();
    let mut objects = conn
        .prepare("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        .unwrap();
    let objects: Vec<(String, String, String)> = objects
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (kind, name, table) in objects {
        out.insert(format!("{kind} {name} on {table}"));
        if kind == "table" {
            let mut columns = conn
                .prepare(
                    "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)",
                )
                .unwrap();
            for column in columns
                .query_map([&name], |r| {
                    Ok(format!(
                        "{name}.{} {} notnull={} default={:?} pk={}",
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?
                    ))
                })
                .unwrap()
            {
                out.insert(column.unwrap());
            }
        }
    }
    out
}

#[test]
fn migrations_are_numbered_from_2_and_every_earlier_version_has_a_fixture() {
    let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, (2..=SCHEMA_VERSION).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    for (name, version, dump) in FIXTURES {
        assert_eq!(
            user_version(&from_dump(&dir, name, dump)),
            *version,
            "{name}"
        );
    }
    for version in 1..SCHEMA_VERSION {
        assert!(
            FIXTURES.iter().any(|(_, v, _)| *v == version),
            "no fixture of version {version}: dump a file the code before migration {} made \
             into fixtures/snapshots/ (docs/ARCHITECTURE.md)",
            version + 1
        );
    }
}

/// Each fixture, opened: upgraded to this build's version and schema (as a
/// new file has it), with its watermarks, pairs (levels, receipts), cache,
/// statuses, tombstones, intents and subscriptions as its version knew
/// them; what it did not know reads as "not known" (seen watermarks,
/// PERMANENTFLAGS, normalised fingerprints) or as the old behaviour
/// (confirmed, exact pairs). It then takes what this version writes.
#[test]
fn every_earlier_version_is_upgraded_keeping_what_it_knew() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.sqlite");
    drop(Snapshot::open(&fresh, endpoints().each_ref()).unwrap());
    assert_eq!(user_version(&fresh), SCHEMA_VERSION);
    for (name, version, dump) in FIXTURES {
        let path = from_dump(&dir, name, dump);
        // Checked as the next run will see it, the file left as it was.
        let verdict = verify::verify(&path).unwrap();
        assert!(verdict.sound(), "{name}: {verdict:#?}");
        assert_eq!(verdict.checked_upgraded_copy, *version < SCHEMA_VERSION);
        assert_eq!(user_version(&path), *version);
        let mut snap = Snapshot::open(&path, endpoints().each_ref()).unwrap();
        assert_eq!(user_version(&path), SCHEMA_VERSION, "{name}");
        assert_eq!(schema_of(&path), schema_of(&fresh), "{name}");
        // Version 5: no index of the cache by fingerprint.
        assert!(
            !schema_of(&path)
                .iter()
                .any(|s| s.contains("message_by_fingerprint")),
            "{name}"
        );
        // Later version-1 builds added the seen watermarks, PERMANENTFLAGS
        // and the receipt marker; version 2 the identity levels.
        let late = *name != "v1";
        let levels = *version >= 2;

        let state = snap.load().unwrap();
        let inbox = &state.mailboxes["INBOX"];
        let [a, b] = inbox.sides.clone().map(Option::unwrap);
        assert_eq!(
            (a.uidvalidity, a.uidnext, a.highestmodseq),
            (7, 14, Some(90))
        );
        assert_eq!((b.uidvalidity, b.uidnext, b.highestmodseq), (3, 13, None));
        assert_eq!(
            (a.seen_uidnext, a.seen_highestmodseq, b.seen_uidnext),
            if late {
                (Some(14), Some(90), Some(30))
            } else {
                (None, None, None)
            },
            "{name}"
        );
        assert_eq!(
            a.permanent_flags,
            late.then(|| vec!["\\Seen".into(), "\\Flagged".into(), "\\*".into()])
        );
        let pair = |uid, n, flags: Option<&[&str]>| PairRecord {
            uid,
            fingerprint: fp(n),
            flags: flags.map(|f| FlagSet::from_wire(f.iter().copied())),
            unconfirmed: None,
            level: PairLevel::Exact,
            fingerprint_b: None,
        };
        let mut pairs = vec![
            pair([10, 20], 1, Some(&["\\Seen", "$Work"])),
            pair([11, 21], 2, None),
        ];
        if levels {
            pairs.push(PairRecord {
                level: PairLevel::Normalised,
                fingerprint_b: Some(fp(4)),
                ..pair([12, 22], 3, Some(&["\\Flagged"]))
            });
        }
        pairs.push(PairRecord {
            unconfirmed: late.then_some(Side::B),
            ..pair([13, 23], 5, Some(&["\\Answered"]))
        });
        assert_eq!(inbox.pairs, pairs, "{name}");

        let uids = |side: usize| inbox.cache[side].keys().map(|k| k.1).collect::<Vec<_>>();
        let extra = if levels { vec![12] } else { vec![] };
        assert_eq!(
            uids(0),
            [vec![10, 11], extra.clone(), vec![13, 14]].concat()
        );
        let refused = &inbox.cache[0][&(7, 14)];
        assert_eq!(refused.status, Some(MessageStatus::Refused));
        let copy = &inbox.cache[1][&(3, 23)];
        assert!(!copy.read_back, "{name}");
        assert_eq!(copy.normalised.is_some(), levels, "{name}");

        assert_eq!(
            inbox.tombstones.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            vec![Tombstone {
                fingerprint: fp(9),
                normalised: levels.then_some(fp(109)),
            }]
        );
        let intents = snap.intents().unwrap();
        assert_eq!(
            intents
                .iter()
                .map(|i| (i.target, i.uidnext, i.items.clone()))
                .collect::<Vec<_>>(),
            vec![(Side::A, 15, vec![(fp(7), Some(2000)), (fp(8), Some(3000))])]
        );
        assert_eq!(
            state.subscriptions,
            BTreeMap::from([("Archive".into(), false), ("INBOX".into(), true)])
        );
        assert!(state.mailboxes.contains_key("Archive"));
        // Version 4: the index reads each mailbox's row alone; no file
        // before it knew a mailbox settled.
        let index = snap.load_index().unwrap();
        let row = &index.mailboxes["INBOX"];
        assert_eq!(row.settled, [None, None], "{name}");
        assert_eq!(row.known_uidnext, [15, 24], "{name}");
        assert!(row.intents && row.pairs.is_empty() && row.cache[0].is_empty());
        assert!(!index.mailboxes["Archive"].intents);
        let whole = snap.load_mailbox("INBOX").unwrap().unwrap();
        assert_eq!(whole.pairs, inbox.pairs, "{name}");
        assert_eq!(whole.cache[1].len(), inbox.cache[1].len(), "{name}");
        assert_eq!(whole.tombstones, inbox.tombstones, "{name}");
        assert_eq!(whole.known_uidnext, [15, 24], "{name}");
        assert!(snap.load_mailbox("Nowhere").unwrap().is_none());

        // The upgraded file holds what this version writes.
        let st = MailboxStatus {
            uidvalidity: 7,
            uidnext: 14,
            exists: 0,
            highestmodseq: Some(91),
            permanent_flags: None,
        };
        let loose = PairRecord {
            level: PairLevel::Normalised,
            fingerprint_b: Some(fp(44)),
            unconfirmed: Some(Side::A),
            ..pair([10, 20], 1, None)
        };
        snap.rebase_mailbox(
            "INBOX",
            [Some(("INBOX", &st)), Some(("INBOX", &b_status(&b)))],
            std::slice::from_ref(&loose),
        )
        .unwrap();
        assert_eq!(snap.load().unwrap().mailboxes["INBOX"].pairs, vec![loose]);
        drop(snap);
        assert!(verify::verify(&path).unwrap().sound(), "{name}");
    }
}

fn b_status(b: &SideRecord) -> MailboxStatus {
    MailboxStatus {
        uidvalidity: b.uidvalidity,
        uidnext: b.uidnext,
        exists: 0,
        highestmodseq: b.highestmodseq,
        permanent_flags: None,
    }
}

/// `verify` names each broken invariant with an example, and passes a
/// sound file: a pair without its cache row, an unknown level, a side with
/// half its watermarks, seen watermarks below the saved ones, a fingerprint
/// of the wrong length, two meta rows.
#[test]
fn verify_names_each_broken_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let path = from_dump(&dir, "v2", FIXTURES[2].2);
    drop(Snapshot::open(&path, endpoints().each_ref()).unwrap());
    assert!(verify::verify(&path).unwrap().sound());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DELETE FROM message WHERE side = 'B' AND uid = 21;
             UPDATE pair SET level = 'bogus' WHERE uid_a = 12;
             UPDATE mailbox SET b_uidnext = NULL WHERE name = 'Archive';
             UPDATE mailbox SET a_seen_uidnext = 3, a_seen_highestmodseq = 2 WHERE name = 'INBOX';
             UPDATE pair SET fingerprint_b = x'00' WHERE uid_a = 12;
             UPDATE mailbox SET a_settled = '8 14 90 4' WHERE name = 'INBOX';
             UPDATE mailbox SET b_settled = '5 1 1 0' WHERE name = 'Archive';",
        )
        .unwrap();
    let verdict = verify::verify(&path).unwrap();
    let broken: Vec<(&str, u64, Vec<String>)> = verdict
        .checks
        .iter()
        .filter(|c| c.violations > 0)
        .map(|c| (c.name, c.violations, c.examples.clone()))
        .collect();
    assert_eq!(
        broken,
        vec![
            (
                "a side's watermarks are all recorded or all absent",
                1,
                vec!["Archive on B".to_string()]
            ),
            (
                "the highest UIDNEXT seen is not below the saved UIDNEXT",
                1,
                vec!["INBOX on A: seen 3 < saved 14".to_string()]
            ),
            (
                "a settled mark is four numbers, under the side's UIDVALIDITY",
                1,
                vec!["INBOX on A: settled '8 14 90 4'".to_string()]
            ),
            (
                "every pair has its cache row",
                1,
                vec!["INBOX on B: UID 21".to_string()]
            ),
            (
                "pair levels are exact, normalised or headers",
                1,
                vec!["INBOX: pair 12/22 level 'bogus'".to_string()]
            ),
            (
                "fingerprints are 32 bytes",
                1,
                vec!["pair 12/22".to_string()]
            ),
            (
                "the highest HIGHESTMODSEQ seen is not below the saved one",
                1,
                vec!["INBOX on A: seen 2 < saved 90".to_string()]
            ),
        ]
    );
    assert!(!verdict.sound());
}

/// A migration that fails leaves the file as it was: the version and every
/// migration before it roll back with it.
#[test]
fn a_failed_migration_leaves_the_file_as_it_was() {
    fn boom(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        conn.execute_batch("ALTER TABLE pair ADD COLUMN doomed INTEGER; SELECT * FROM nowhere")
    }
    let dir = tempfile::tempdir().unwrap();
    let path = from_dump(&dir, "v1", FIXTURES[0].2);
    let before = schema_of(&path);
    let failing = [
        Migration {
            version: 2,
            summary: MIGRATIONS[0].summary,
            apply: MIGRATIONS[0].apply,
        },
        Migration {
            version: 3,
            summary: "fails",
            apply: boom,
        },
    ];
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    let (version, _) = migrations::upgrade(&tx, 1, &failing).unwrap_err();
    assert_eq!(version, 3);
    drop(tx);
    drop(conn);
    assert_eq!(user_version(&path), 1);
    assert_eq!(schema_of(&path), before);
}
