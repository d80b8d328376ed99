//! A manual end-to-end check against a running server (ignored by default):
//! `IMAPMEND_LIVE_IMAP=127.0.0.1:PORT cargo test --lib imap::live_check -- --ignored --nocapture`
//! with users alice (and bob) / password `secret` on a plaintext loopback
//! listener. It exercises every Connection method and prints timings; the
//! shared harness in tests/ is the real end-to-end suite.

use super::*;
use super::{auth, history, uidset};
use crate::model::{Flag, FlagDelta, FlagSet, InternalDate, Side};
use std::time::Instant;

fn spec(addr: &str, user: &str) -> ConnectSpec {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    ConnectSpec {
        side: Side::A,
        host: host.to_string(),
        port: port.parse().expect("port"),
        user: user.to_string(),
        password: Secret::new("secret"),
        tls: TlsMode::None,
        ca_file: None,
        allow_plaintext_auth: false,
        compress: false,
        auth: super::AuthMethod::Password,
        tunnel: None,
        token_command: None,
    }
}

fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: a{i}@example.org\r\nTo: b@example.org\r\nSubject: message {i}\r\nMessage-ID: <{i}@example.org>\r\n\r\n"
    )
    .into_bytes();
    for line in 0..(i % 50) {
        m.extend_from_slice(
            format!("line {line} of message {i}, some text to make it longer\r\n").as_bytes(),
        );
    }
    m
}

#[tokio::test]
#[ignore = "needs a running IMAP server: set IMAPMEND_LIVE_IMAP=host:port"]
async fn live_server_round_trip() {
    let Ok(addr) = std::env::var("IMAPMEND_LIVE_IMAP") else {
        eprintln!("IMAPMEND_LIVE_IMAP not set; skipping");
        return;
    };
    let user = std::env::var("IMAPMEND_LIVE_USER").unwrap_or_else(|_| "alice".into());
    let t = Instant::now();
    let mut c = Connection::connect(&spec(&addr, &user))
        .await
        .expect("connect");
    eprintln!(
        "connect+login: {:?}; caps: {:?}",
        t.elapsed(),
        c.capabilities()
    );

    let writes_before = write_count();
    // Names are wire names (modified UTF-7): an 8-bit name goes out as a
    // literal and Dovecot refuses it, which must leave the session usable.
    let err = c.create("Bench ü").await.expect_err("8-bit name");
    assert!(!err.is_fatal(), "{err}");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = &format!("Bench \"q\" &APw- {stamp}");
    c.create(name).await.expect("create");
    let boxes = c.list_mailboxes().await.expect("list");
    assert!(boxes.iter().any(|b| b.name == "INBOX"), "{boxes:?}");
    assert!(boxes.iter().any(|b| &b.name == name), "{boxes:?}");
    let err = c
        .select("No such box", false)
        .await
        .expect_err("select missing");
    assert!(!err.is_fatal(), "{err}");
    eprintln!("select of a missing mailbox: {err}");

    let st = c.select(name, false).await.expect("select");
    assert_eq!(st.exists, 0);
    eprintln!("selected: {st:?}");

    let n: usize = std::env::var("IMAPMEND_LIVE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let bodies: Vec<Vec<u8>> = (0..n).map(message).collect();
    let seen = FlagSet::from_wire(["\\Seen", "$Work"]);
    let none = FlagSet::new();
    let date = InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap();
    let items: Vec<AppendItem<'_>> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| AppendItem {
            flags: if i % 2 == 0 { &seen } else { &none },
            internal_date: date,
            body: b,
        })
        .collect();
    let total: usize = bodies.iter().map(Vec::len).sum();
    let t = Instant::now();
    let mut uids = Vec::new();
    for batch in items.chunks(1000) {
        let res = c.append(name, batch).await.expect("append");
        assert_eq!(res.uidvalidity, Some(st.uidvalidity));
        uids.extend(res.uids.expect("APPENDUID"));
    }
    eprintln!(
        "MULTIAPPEND {n} messages ({total} bytes, batches of 1000): {:?}",
        t.elapsed()
    );
    assert_eq!(uids.len(), n);

    // The fallback without MULTIAPPEND: pipelined single APPENDs.
    let single_box = format!("{name} singles");
    c.create(&single_box).await.expect("create singles");
    let caps: Vec<String> = c
        .capabilities()
        .iter()
        .filter(|c| *c != "MULTIAPPEND")
        .cloned()
        .collect();
    c.engine.set_capabilities(caps);
    let some = &items[..n.min(500)];
    let t = Instant::now();
    let res = c.append(&single_box, some).await.expect("single appends");
    eprintln!("{} pipelined single APPENDs: {:?}", some.len(), t.elapsed());
    assert_eq!(res.uids.expect("APPENDUID").len(), some.len());
    let st = c.select(&single_box, true).await.expect("examine singles");
    assert_eq!(st.exists as usize, some.len());

    let st = c.select(name, false).await.expect("reselect");
    assert_eq!(st.exists as usize, n);
    let t = Instant::now();
    let meta = c.fetch_all_meta().await.expect("meta");
    eprintln!("fetch_all_meta of {n}: {:?}", t.elapsed());
    assert_eq!(meta.len(), n);
    assert_eq!(meta.iter().map(|m| m.uid).collect::<Vec<_>>(), uids);
    for (i, m) in meta.iter().enumerate() {
        // Maildir keeps the instant, not the zone it was given in.
        assert_eq!(m.internal_date.unix, date.unix);
        assert_eq!(m.size as usize, bodies[i].len());
        assert_eq!(
            m.flags,
            if i % 2 == 0 {
                seen.clone()
            } else {
                none.clone()
            }
        );
    }

    let mut got = std::collections::HashMap::new();
    let mut wanted = uids.clone();
    wanted.push(999_999);
    let t = Instant::now();
    let gone = c
        .fetch_bodies(&wanted, &mut |uid, body| {
            got.insert(uid, body);
        })
        .await
        .expect("bodies");
    eprintln!("fetch_bodies of {n}: {:?}", t.elapsed());
    assert_eq!(gone, vec![999_999]);
    for (i, uid) in uids.iter().enumerate() {
        assert_eq!(got[uid], bodies[i], "body of UID {uid}");
    }

    let delta = FlagDelta {
        add: FlagSet::from_wire(["\\Flagged", "$Later"]),
        remove: FlagSet::from_wire(["\\Seen"]),
    };
    let every_third: Vec<Uid> = uids.iter().copied().step_by(3).collect();
    let t = Instant::now();
    c.store(&every_third, &delta).await.expect("store");
    eprintln!("store on {} UIDs: {:?}", every_third.len(), t.elapsed());
    let meta = c.fetch_all_meta().await.expect("meta again");
    for (i, m) in meta.iter().enumerate() {
        let mut expected = if i % 2 == 0 {
            seen.clone()
        } else {
            none.clone()
        };
        if i % 3 == 0 {
            expected = expected.union(&delta.add).minus(&delta.remove);
        }
        assert_eq!(m.flags, expected, "flags of UID {}", m.uid);
    }
    assert!(meta[0].flags.contains(&Flag::new("$later")));
    // create + 1 MULTIAPPEND + 2 stores
    assert!(write_count() - writes_before >= 4);
    c.logout().await;
}

#[tokio::test]
#[ignore = "needs a running IMAP server: set IMAPMEND_LIVE_IMAP=host:port"]
async fn live_nul_bytes_round_trip() {
    let Ok(addr) = std::env::var("IMAPMEND_LIVE_IMAP") else {
        return;
    };
    let mut c = Connection::connect(&spec(&addr, "alice"))
        .await
        .expect("connect");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("Nul{stamp}");
    c.create(&name).await.expect("create");
    let body = b"Subject: nul\r\nContent-Transfer-Encoding: binary\r\n\r\na\0b\r\n".to_vec();
    let none = FlagSet::new();
    let date = InternalDate::parse("01-Jan-2020 00:00:00 +0000").unwrap();
    let r = c
        .append(
            &name,
            &[AppendItem {
                flags: &none,
                internal_date: date,
                body: &body,
            }],
        )
        .await;
    eprintln!("append with NUL: {r:?}");
    c.select(&name, true).await.expect("select");
    let meta = c.fetch_all_meta().await.expect("meta");
    eprintln!("meta: {meta:?}");
    let mut got = Vec::new();
    let uids: Vec<Uid> = meta.iter().map(|m| m.uid).collect();
    let gone = c.fetch_bodies(&uids, &mut |u, b| got.push((u, b))).await;
    assert_eq!(gone.expect("bodies"), Vec::<Uid>::new());
    assert_eq!(got.len(), 1);
    // Dovecot stores the bytes but serves BODY[] of a binary message
    // re-encoded (base64): only BINARY[] would give them back as sent.
    eprintln!(
        "body came back {}: {:?}",
        if got[0].1 == body {
            "byte-identical"
        } else {
            "converted"
        },
        String::from_utf8_lossy(&got[0].1)
    );
}

/// `IMAPMEND_LIVE_TLS_HOST=localhost IMAPMEND_LIVE_STARTTLS_PORT=n
/// IMAPMEND_LIVE_IMAPS_PORT=m IMAPMEND_LIVE_CA=ca.pem`: both TLS modes
/// with the extra CA, and a refusal without it.
#[tokio::test]
#[ignore = "needs a running IMAP server with TLS: see the doc comment"]
async fn live_tls_modes() {
    let (Ok(host), Ok(starttls), Ok(imaps), Ok(ca)) = (
        std::env::var("IMAPMEND_LIVE_TLS_HOST"),
        std::env::var("IMAPMEND_LIVE_STARTTLS_PORT"),
        std::env::var("IMAPMEND_LIVE_IMAPS_PORT"),
        std::env::var("IMAPMEND_LIVE_CA"),
    ) else {
        return;
    };
    for (port, tls) in [(&starttls, TlsMode::StartTls), (&imaps, TlsMode::Implicit)] {
        let mut s = spec(&format!("{host}:{port}"), "alice");
        s.tls = tls;
        let err = Connection::connect(&s)
            .await
            .err()
            .expect("unknown CA must fail");
        assert!(matches!(err, ImapError::Tls { .. }), "{err:?}");
        eprintln!("{tls:?} without the CA: {err}");
        s.ca_file = Some(ca.clone().into());
        let t = Instant::now();
        let mut c = Connection::connect(&s).await.expect("TLS connect");
        eprintln!("{tls:?} connect+login: {:?}", t.elapsed());
        assert!(!c.has_capability("STARTTLS") || tls == TlsMode::Implicit);
        c.list_mailboxes().await.expect("list over TLS");
        let st = c.select("INBOX", true).await.expect("examine");
        let meta = c.fetch_all_meta().await.expect("meta");
        assert_eq!(meta.len() as u32, st.exists);
        c.logout().await;
    }
}

fn stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A session that has only CONDSTORE, even on a server offering QRESYNC:
/// logged in with QRESYNC hidden, so `ENABLE CONDSTORE` is what it sends.
async fn condstore_only(addr: &str, user: &str) -> Connection {
    let limits = Limits::default();
    let spec = spec(addr, user);
    let mut engine = auth::open(&spec, &limits).await.expect("login");
    let caps: Vec<String> = engine
        .capabilities()
        .iter()
        .filter(|c| *c != "QRESYNC")
        .cloned()
        .collect();
    engine.set_capabilities(caps);
    let history = history::enable(&mut engine).await.expect("enable");
    Connection {
        engine,
        spec,
        limits,
        selected: None,
        history,
    }
}

/// Issue 3's IMAP side against a real Dovecot: ENABLE QRESYNC, changes
/// since a mod-sequence (3 flag changes and 2 expunges among 1000
/// messages), the CONDSTORE-only variant, a conditional store racing a
/// concurrent change ([MODIFIED]), UID EXPUNGE leaving a user's \Deleted
/// message alone (E9), and the mailbox/subscription commands.
#[tokio::test]
#[ignore = "needs a running IMAP server: set IMAPMEND_LIVE_IMAP=host:port"]
async fn live_history_path() {
    let Ok(addr) = std::env::var("IMAPMEND_LIVE_IMAP") else {
        eprintln!("IMAPMEND_LIVE_IMAP not set; skipping");
        return;
    };
    let user = std::env::var("IMAPMEND_LIVE_USER").unwrap_or_else(|_| "alice".into());
    let mut c = Connection::connect(&spec(&addr, &user))
        .await
        .expect("connect");
    assert_eq!(c.history_support(), HistorySupport::Qresync);
    assert!(c.has_uidplus());
    let name = format!("History {}", stamp());
    c.create(&name).await.expect("create");

    let n = 1000;
    let bodies: Vec<Vec<u8>> = (0..n).map(message).collect();
    let seen = FlagSet::from_wire(["\\Seen"]);
    let none = FlagSet::new();
    let date = InternalDate::parse("17-Jul-1996 02:44:25 -0700").unwrap();
    let items: Vec<AppendItem<'_>> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| AppendItem {
            flags: if i % 2 == 0 { &seen } else { &none },
            internal_date: date,
            body: b,
        })
        .collect();
    let uids = c.append(&name, &items).await.expect("append").uids.unwrap();
    let st0 = c.select(&name, false).await.expect("select");
    let h0 = st0
        .highestmodseq
        .expect("HIGHESTMODSEQ after ENABLE QRESYNC");
    eprintln!("selected {name:?}: {st0:?}");
    assert_eq!(c.uid_list().await.expect("uid list"), uids);
    let none_changed = c.fetch_changes(h0).await.expect("no changes");
    assert_eq!(
        none_changed,
        Changes {
            vanished: Some(vec![]),
            ..Changes::default()
        }
    );

    // Another session changes flags of 3 messages — one of them is a
    // user marking a message \Deleted — and expunges 2 others.
    let mut other = Connection::connect(&spec(&addr, &user))
        .await
        .expect("second session");
    other.select(&name, false).await.expect("select 2");
    let flagged = FlagDelta {
        add: FlagSet::from_wire(["\\Flagged"]),
        remove: FlagSet::new(),
    };
    let user_deleted = uids[500];
    other
        .store(&[uids[10], uids[11]], &flagged)
        .await
        .expect("flag");
    other
        .store(
            &[user_deleted],
            &FlagDelta {
                add: FlagSet::from_wire(["\\Deleted"]),
                remove: FlagSet::new(),
            },
        )
        .await
        .expect("user marks \\Deleted");
    let gone = [uids[20], uids[700]];
    other.uid_expunge(&gone).await.expect("uid expunge");
    let left = other.uid_list().await.expect("uid list 2");
    assert_eq!(left.len(), n - 2);
    assert!(left.contains(&user_deleted), "E9: only the given UIDs go");
    assert!(!left.contains(&gone[0]) && !left.contains(&gone[1]));

    let t = Instant::now();
    let ch = c.fetch_changes(h0).await.expect("changes");
    eprintln!("fetch_changes on {n}: {:?}: {ch:?}", t.elapsed());
    let changed: Vec<Uid> = ch.changed.iter().map(|m| m.uid).collect();
    assert_eq!(changed, vec![uids[10], uids[11], user_deleted]);
    assert_eq!(
        ch.modseqs.iter().map(|&(u, _)| u).collect::<Vec<_>>(),
        changed
    );
    assert!(ch.modseqs.iter().all(|&(_, m)| m > h0));
    assert!(ch.changed[0].flags.contains(&Flag::new("\\Flagged")));
    assert!(ch.changed[2].flags.contains(&Flag::new("\\Deleted")));
    assert_eq!(ch.changed[0].size as usize, bodies[10].len());
    let vanished = ch.vanished.expect("QRESYNC reports VANISHED");
    let known_gone: Vec<Uid> = uids
        .iter()
        .copied()
        .filter(|&u| uidset::in_ranges(&vanished, u))
        .collect();
    assert_eq!(known_gone, gone.to_vec(), "ranges {vanished:?}");
    // EXISTS followed the VANISHED the server pushed to this session.
    assert_eq!(c.uid_list().await.expect("uid list").len(), n - 2);

    // The same through a CONDSTORE-only session: no VANISHED, the caller
    // compares UID lists.
    let mut cs = condstore_only(&addr, &user).await;
    assert_eq!(cs.history_support(), HistorySupport::Condstore);
    let st = cs.select(&name, true).await.expect("examine");
    assert!(st.highestmodseq.is_some());
    let ch2 = cs.fetch_changes(h0).await.expect("condstore changes");
    assert_eq!(ch2.vanished, None);
    assert_eq!(
        ch2.changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
        changed
    );
    assert_eq!(cs.uid_list().await.expect("uid list cs"), left);
    // Without ESEARCH: one UID FETCH line per message.
    let caps: Vec<String> = cs
        .capabilities()
        .iter()
        .filter(|c| *c != "ESEARCH")
        .cloned()
        .collect();
    cs.engine.set_capabilities(caps);
    assert_eq!(cs.uid_list().await.expect("uid list by fetch"), left);
    cs.logout().await;

    // A conditional store racing a concurrent change: the listing says
    // modseq h1; then the other session flags y; our store on y and z
    // must leave y alone and report it, and do z in both halves.
    let st1 = c.select(&name, false).await.expect("reselect");
    let h1 = st1.highestmodseq.unwrap();
    let (y, z) = (uids[100], uids[102]); // both \Seen
    other
        .store(
            &[y],
            &FlagDelta {
                add: FlagSet::from_wire(["$Other"]),
                remove: FlagSet::new(),
            },
        )
        .await
        .expect("concurrent change");
    let delta = FlagDelta {
        add: FlagSet::from_wire(["\\Answered"]),
        remove: FlagSet::from_wire(["\\Seen"]),
    };
    let out = c
        .store_unchanged_since(&[y, z], &delta, h1)
        .await
        .expect("conditional store");
    assert_eq!(out.modified, vec![y]);
    let meta = c.fetch_meta(&[y, z, gone[0]]).await.expect("re-read");
    assert_eq!(meta.len(), 2);
    assert_eq!(meta[0].flags, FlagSet::from_wire(["\\Seen", "$Other"]));
    assert_eq!(meta[1].flags, FlagSet::from_wire(["\\Answered"]));
    // The re-merge goes through with the fresh mod-sequence.
    let h2 = c
        .fetch_changes(h1)
        .await
        .expect("changes since h1")
        .modseqs
        .iter()
        .map(|&(_, m)| m)
        .max()
        .unwrap();
    let out = c
        .store_unchanged_since(&[y], &delta, h2)
        .await
        .expect("second try");
    assert_eq!(out.modified, Vec::<Uid>::new());
    // Only removals: one half, straight from the caller's mod-sequence.
    let h3 = c.select(&name, false).await.unwrap().highestmodseq.unwrap();
    let out = c
        .store_unchanged_since(
            &[y, z],
            &FlagDelta {
                add: FlagSet::new(),
                remove: FlagSet::from_wire(["\\Answered"]),
            },
            h3,
        )
        .await
        .expect("removal only");
    assert_eq!(out.modified, Vec::<Uid>::new());
    let meta = c.fetch_meta(&[y, z]).await.expect("re-read 2");
    assert_eq!(meta[0].flags, FlagSet::from_wire(["$Other"]));
    assert_eq!(meta[1].flags, FlagSet::new());
    // A stale mod-sequence fails everything that changed since.
    let out = c
        .store_unchanged_since(&[y, z, uids[1]], &flagged, h0)
        .await
        .expect("stale");
    assert_eq!(out.modified, vec![y, z]);

    // Mailboxes and subscriptions.
    let renamed = format!("{name} renamed");
    c.subscribe(&name).await.expect("subscribe");
    assert!(c.list_subscribed().await.unwrap().contains(&name));
    c.rename_mailbox(&name, &renamed).await.expect("rename");
    let err = c.fetch_meta(&[y]).await.expect_err("no mailbox selected");
    assert!(matches!(err, ImapError::Invalid { .. }), "{err}");
    c.unsubscribe(&name).await.expect("unsubscribe");
    assert!(!c.list_subscribed().await.unwrap().contains(&name));
    c.delete_mailbox(&renamed).await.expect("delete");
    let boxes = c.list_mailboxes().await.unwrap();
    assert!(!boxes.iter().any(|b| b.name == renamed || b.name == name));
    other.logout().await;
    c.logout().await;
}
