//! The helper `scripts/bench` drives: seeds mailboxes, measures the raw
//! limit of a copy between two servers, and makes changes for the
//! incremental run. Not part of imapmend; it uses imapmend's own
//! `imap::Connection` so the raw limit is measured with the same engine.
//!
//!     bench_mail seed MAILDIR COUNT [SEED]      # Maildir++ files, ~4 KB mean
//!     bench_mail seed-big MAILDIR BYTES         # one message of BYTES
//!     bench_mail seed-folders MAILDIR FOLDERS PER   # FOLDERS mailboxes of PER
//!     bench_mail warm HOST:PORT USER            # index + read every mailbox
//!     bench_mail raw HOST:PORT USER HOST:PORT USER [BATCH [overlap]]
//!     bench_mail change HOST:PORT USER COUNT    # COUNT changes in INBOX
//!     bench_mail count HOST:PORT USER           # messages in all mailboxes
//!
//! The password is taken from BENCH_PASSWORD. Output meant for the script
//! is `key=value` on stdout; narration goes to stderr.
//!
//! Mail is generated deterministically (splitmix64; same seed, same bytes):
//! realistic headers, plain text or multipart with a base64 attachment, sizes
//! from 1.5 KB to 20 KB with a mean near 4 KB, LF line endings as a Maildir
//! holds them, flags mostly \Seen, dates over two years. Files are written
//! before the server first reads them, with `S=`/`W=` sizes in their names
//! as Dovecot itself would.

use imapmend::imap::{AppendItem, ConnectSpec, Connection, TlsMode};
use imapmend::model::ListedMessage;
use imapmend::model::{FlagDelta, FlagSet, InternalDate, Side, Uid};
use imapmend::secret::Secret;
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Messages per body fetch and per MULTIAPPEND in the raw copy (as
/// imapmend's apply/copy.rs).
const RAW_BATCH: usize = 1000;
/// Newest INTERNALDATE of the generated mail (2025-01-01); the oldest is
/// two years before.
const NEWEST: i64 = 1_735_689_600;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["seed", dir, count] => seed(Path::new(dir), parse(count), 1),
        ["seed", dir, count, s] => seed(Path::new(dir), parse(count), parse(s)),
        ["seed-big", dir, bytes] => seed_big(Path::new(dir), parse(bytes)),
        ["seed-folders", dir, folders, per] => {
            seed_folders(Path::new(dir), parse(folders), parse(per))
        }
        ["warm", a, user] => block(warm(a, user)),
        ["raw", a, ua, b, ub] => block(raw(a, ua, b, ub, RAW_BATCH, false)),
        ["raw", a, ua, b, ub, n] => block(raw(a, ua, b, ub, parse(n), false)),
        ["raw", a, ua, b, ub, n, "overlap"] => block(raw(a, ua, b, ub, parse(n), true)),
        ["change", a, user, n] => block(change(a, user, parse(n))),
        ["count", a, user] => block(count(a, user)),
        _ => Err("usage: see the top of examples/bench_mail.rs".into()),
    };
    if let Err(e) = result {
        eprintln!("bench_mail: {e}");
        std::process::exit(1);
    }
}

type Res<T> = Result<T, String>;

fn parse(s: &str) -> usize {
    s.parse().unwrap_or_else(|_| {
        eprintln!("bench_mail: not a number: {s}");
        std::process::exit(2)
    })
}

fn block(f: impl std::future::Future<Output = Res<()>>) -> Res<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(f)
}

// ---------------------------------------------------------------------------
// Generated mail

// The tests' seeded generator lends its splitmix64, so the bench's mail and
// the tests' come from one random source (same seed, same bytes). Its
// message shapes are the tests' (odd ones on purpose); the bench keeps its
// own below (realistic sizes, LF line endings, Maildir flags).
#[allow(dead_code)]
#[path = "../tests/support/generator.rs"]
mod generator;
use generator::Rng;

const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dmitri", "eve", "fatima", "gunther", "hiro", "ines", "jonas",
    "kemal", "lena", "marek", "nadia", "oscar", "priya",
];
const DOMAINS: &[&str] = &[
    "example.org",
    "example.com",
    "lists.example.net",
    "mail.test",
    "corp.example",
];
const SUBJECTS: &[&str] = &[
    "Quarterly report",
    "Re: lunch on Friday?",
    "[dev] build broken on main",
    "Fwd: invoice",
    "Meeting notes",
    "Your order has shipped",
    "Re: Re: holiday schedule",
    "Question about the API",
    "Weekly digest",
    "Re: draft for review",
];
const WORDS: &[&str] = &[
    "the",
    "server",
    "mailbox",
    "restore",
    "backup",
    "flag",
    "message",
    "replica",
    "sync",
    "please",
    "review",
    "attached",
    "tomorrow",
    "thanks",
    "and",
    "of",
    "to",
    "in",
    "we",
    "should",
    "check",
    "whether",
    "both",
    "sides",
    "agree",
    "after",
    "migration",
    "budget",
    "meeting",
    "schedule",
    "deadline",
    "customer",
    "release",
    "notes",
    "draft",
    "report",
];
const DAYS: &[&str] = &["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// One generated message: its bytes (LF line endings), date and flags.
struct Mail {
    bytes: Vec<u8>,
    date: i64,
    /// Maildir info letters, in order (F R S).
    flags: String,
}

/// A target size: 40% 1.5–3 KB, 35% 3–5 KB, 20% 5–8 KB, 5% 8–20 KB.
fn target_size(r: &mut Rng) -> usize {
    let (lo, hi) = match r.below(100) {
        0..=39 => (1500, 3000),
        40..=74 => (3000, 5000),
        75..=94 => (5000, 8000),
        _ => (8000, 20000),
    };
    lo + r.below((hi - lo) as u64) as usize
}

fn rfc2822_date(t: i64) -> String {
    let d = InternalDate {
        unix: t,
        offset_minutes: 0,
    }
    .to_imap(); // "dd-Mon-yyyy hh:mm:ss +0000"
    let (day, rest) = d.split_once('-').unwrap_or(("01", &d));
    let (mon, rest) = rest.split_once('-').unwrap_or(("Jan", rest));
    let weekday = DAYS[(t.div_euclid(86_400)).rem_euclid(7) as usize];
    format!("{weekday}, {} {mon} {rest}", day.trim_start_matches('0'))
}

fn text(r: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 80);
    let mut line = 0;
    while out.len() < bytes {
        let w = r.pick(WORDS);
        if line + w.len() >= 72 {
            out.push('\n');
            line = 0;
            if r.below(6) == 0 {
                out.push('\n');
            }
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(w);
        line += w.len();
    }
    out.push('\n');
    out
}

fn base64_lines(r: &mut Rng, bytes: usize) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes + bytes / 76 + 1);
    let mut line = 0;
    let mut bits = 0u64;
    let mut left = 0;
    for _ in 0..bytes {
        if left == 0 {
            bits = r.next_u64();
            left = 10;
        }
        out.push(B64[(bits & 63) as usize] as char);
        bits >>= 6;
        left -= 1;
        line += 1;
        if line == 76 {
            out.push('\n');
            line = 0;
        }
    }
    out.push('\n');
    out
}

/// Message `index` of the mailbox seeded with `seed`, of about `size` bytes.
fn mail(r: &mut Rng, seed: u64, index: usize, size: usize) -> Mail {
    let date = NEWEST - r.below(2 * 365 * 86_400) as i64;
    let from = r.pick(NAMES);
    let from_domain = r.pick(DOMAINS);
    let to = r.pick(NAMES);
    let mut head = String::new();
    head.push_str(&format!("Return-Path: <{from}@{from_domain}>\n"));
    head.push_str(&format!(
        "Received: from mx{}.{from_domain} (mx{}.{from_domain} [192.0.2.{}])\n\tby mail.test (Postfix) with ESMTPS id {:010X}\n\tfor <{to}@mail.test>; {}\n",
        r.below(9),
        r.below(9),
        r.below(250) + 1,
        r.next_u64() >> 24,
        rfc2822_date(date + 2)
    ));
    head.push_str(&format!("From: {from} <{from}@{from_domain}>\n"));
    head.push_str(&format!("To: {to} <{to}@mail.test>\n"));
    head.push_str(&format!("Subject: {} ({index})\n", r.pick(SUBJECTS)));
    head.push_str(&format!("Date: {}\n", rfc2822_date(date)));
    head.push_str(&format!(
        "Message-ID: <{:016x}.{seed}.{index}@{from_domain}>\n",
        r.next_u64()
    ));
    head.push_str("MIME-Version: 1.0\n");
    let room = size.saturating_sub(head.len() + 200).max(100);
    let body = if size > 6000 || r.below(8) == 0 {
        let boundary = format!("=_{:016x}", r.next_u64());
        let words = room.min(1500 + r.below(1000) as usize);
        format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n\
             This is a multi-part message in MIME format.\n\n--{boundary}\n\
             Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n{}\n\
             --{boundary}\nContent-Type: application/pdf; name=\"doc-{index}.pdf\"\n\
             Content-Transfer-Encoding: base64\n\
             Content-Disposition: attachment; filename=\"doc-{index}.pdf\"\n\n{}--{boundary}--\n",
            text(r, words),
            base64_lines(r, room.saturating_sub(words + 400).max(76))
        )
    } else {
        format!(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n{}",
            text(r, room)
        )
    };
    let mut flags = String::new();
    if r.below(100) < 5 {
        flags.push('F');
    }
    if r.below(100) < 10 {
        flags.push('R');
    }
    if r.below(100) < 80 {
        flags.push('S');
    }
    Mail {
        bytes: (head + &body).into_bytes(),
        date,
        flags,
    }
}

/// Maildir++ folder `name` under `root` ("INBOX" is the root itself).
fn folder(root: &Path, name: &str) -> Res<PathBuf> {
    let dir = if name == "INBOX" {
        root.to_path_buf()
    } else {
        root.join(format!(".{name}"))
    };
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(dir)
}

/// Writes one message as Dovecot would have delivered it: the file's mtime
/// is its INTERNALDATE, S= its size, W= its size with CRLF line endings.
fn deliver(dir: &Path, unique: &str, m: &Mail) -> Res<u64> {
    let size = m.bytes.len();
    let lines = m.bytes.iter().filter(|&&b| b == b'\n').count();
    let base = format!("{}.{unique}.bench,S={size},W={}", m.date, size + lines);
    let path = if m.flags.is_empty() {
        dir.join("new").join(base)
    } else {
        dir.join("cur").join(format!("{base}:2,{}", m.flags))
    };
    let mut f = fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(&m.bytes).map_err(|e| e.to_string())?;
    let t = UNIX_EPOCH + Duration::from_secs(m.date as u64);
    f.set_modified(t).map_err(|e| e.to_string())?;
    Ok(size as u64)
}

/// COUNT messages: 75% INBOX, 20% Archive, 5% Sent.
fn seed(root: &Path, count: usize, seed: usize) -> Res<()> {
    let seed = seed as u64;
    let mut r = Rng::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let dirs = [
        folder(root, "INBOX")?,
        folder(root, "Archive")?,
        folder(root, "Sent")?,
    ];
    let mut bytes = 0;
    for i in 0..count {
        let dir = match r.below(100) {
            0..=74 => &dirs[0],
            75..=94 => &dirs[1],
            _ => &dirs[2],
        };
        let size = target_size(&mut r);
        let m = mail(&mut r, seed, i, size);
        bytes += deliver(dir, &format!("M{i}P{seed}"), &m)?;
    }
    println!("messages={count} bytes={bytes}");
    Ok(())
}

/// FOLDERS mailboxes (INBOX and `Folder01` …, some of them nested as
/// `Lists.NN`) of PER messages each, for the `--connections` benchmark.
fn seed_folders(root: &Path, folders: usize, per: usize) -> Res<()> {
    let mut r = Rng::new(11);
    let mut bytes = 0;
    for f in 0..folders {
        let name = match f {
            0 => "INBOX".to_string(),
            f if f % 5 == 0 => format!("Lists.{f:02}"),
            f => format!("Folder{f:02}"),
        };
        let dir = folder(root, &name)?;
        for i in 0..per {
            let size = target_size(&mut r);
            let m = mail(&mut r, 11, f * per + i, size);
            bytes += deliver(&dir, &format!("M{f}x{i}"), &m)?;
        }
    }
    println!("messages={} bytes={bytes}", folders * per);
    Ok(())
}

/// One message of about BYTES in INBOX: a short text and a big attachment.
fn seed_big(root: &Path, bytes: usize) -> Res<()> {
    let mut r = Rng::new(7);
    let m = mail(&mut r, 7, 0, bytes);
    let size = deliver(&folder(root, "INBOX")?, "Mbig", &m)?;
    println!("messages=1 bytes={size}");
    Ok(())
}

// ---------------------------------------------------------------------------
// IMAP

async fn connect(addr: &str, user: &str, side: Side) -> Res<Connection> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("not HOST:PORT: {addr}"))?;
    let spec = ConnectSpec {
        side,
        host: host.to_string(),
        port: port.parse().map_err(|_| format!("bad port in {addr}"))?,
        user: user.to_string(),
        password: Secret::new(std::env::var("BENCH_PASSWORD").unwrap_or_default()),
        auth: Default::default(),
        tls: TlsMode::None,
        ca_file: None,
        allow_plaintext_auth: true,
        compress: false,
        tunnel: None,
        token_command: None,
    };
    Connection::connect(&spec).await.map_err(|e| e.to_string())
}

async fn selectable(conn: &mut Connection) -> Res<Vec<String>> {
    let mut names: Vec<String> = conn
        .list_mailboxes()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|m| m.is_selectable())
        .map(|m| m.name)
        .collect();
    names.sort();
    Ok(names)
}

/// Selects every mailbox and reads every body once (Dovecot indexes a
/// Maildir it has never seen on first access; the page cache fills).
async fn warm(addr: &str, user: &str) -> Res<()> {
    let mut c = connect(addr, user, Side::A).await?;
    let mut n = 0;
    for name in selectable(&mut c).await? {
        c.select(&name, true).await.map_err(|e| e.to_string())?;
        let meta = c.fetch_all_meta().await.map_err(|e| e.to_string())?;
        let uids: Vec<Uid> = meta.iter().map(|m| m.uid).collect();
        c.fetch_bodies(&uids, &mut |_, _| n += 1)
            .await
            .map_err(|e| e.to_string())?;
    }
    c.logout().await;
    println!("messages={n}");
    Ok(())
}

/// One batch read from A, on its way to B.
struct Batch {
    mailbox: String,
    meta: Vec<ListedMessage>,
    bodies: HashMap<Uid, Vec<u8>>,
}

/// The raw limit: every body from A, MULTIAPPEND to B in batches of
/// `batch` messages (no fingerprints, no state). One batch after the other,
/// or with `overlap` the next batch is fetched from A while B appends the
/// last one (what a copier can gain from A and B being two connections).
async fn raw(a: &str, ua: &str, b: &str, ub: &str, batch: usize, overlap: bool) -> Res<()> {
    let start = Instant::now();
    let (ca, cb) = tokio::join!(connect(a, ua, Side::A), connect(b, ub, Side::B));
    let (mut ca, mut cb) = (ca?, cb?);
    let existing = selectable(&mut cb).await?;
    let mailboxes = selectable(&mut ca).await?;
    for name in &mailboxes {
        if !existing.contains(name) {
            cb.create(name).await.map_err(|e| e.to_string())?;
        }
    }
    // A reads into a channel that holds one batch (overlapped) or that B
    // empties before A reads on (one after the other).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(1);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let reader = async {
        let mut fetching = Duration::ZERO;
        for name in &mailboxes {
            ca.select(name, true).await.map_err(|e| e.to_string())?;
            let meta = ca.fetch_all_meta().await.map_err(|e| e.to_string())?;
            for chunk in meta.chunks(batch) {
                let t = Instant::now();
                let uids: Vec<Uid> = chunk.iter().map(|m| m.uid).collect();
                let mut bodies = HashMap::with_capacity(chunk.len());
                ca.fetch_bodies(&uids, &mut |uid, body| {
                    bodies.insert(uid, body);
                })
                .await
                .map_err(|e| e.to_string())?;
                fetching += t.elapsed();
                let b = Batch {
                    mailbox: name.clone(),
                    meta: chunk.to_vec(),
                    bodies,
                };
                tx.send(b).await.map_err(|_| "the writer stopped")?;
                if !overlap {
                    done_rx.recv().await;
                }
            }
        }
        drop(tx);
        Ok::<_, String>(fetching)
    };
    let writer = async {
        let (mut appending, mut messages, mut bytes) = (Duration::ZERO, 0usize, 0u64);
        while let Some(b) = rx.recv().await {
            let t = Instant::now();
            let items: Vec<AppendItem<'_>> = b
                .meta
                .iter()
                .filter_map(|m| {
                    Some(AppendItem {
                        flags: &m.flags,
                        internal_date: m.internal_date,
                        body: b.bodies.get(&m.uid)?,
                    })
                })
                .collect();
            cb.append(&b.mailbox, &items)
                .await
                .map_err(|e| e.to_string())?;
            appending += t.elapsed();
            messages += items.len();
            bytes += items.iter().map(|i| i.body.len() as u64).sum::<u64>();
            let _ = done_tx.try_send(());
        }
        Ok::<_, String>((appending, messages, bytes))
    };
    let (fetching, written) = tokio::join!(reader, writer);
    let (fetching, (appending, messages, bytes)) = (fetching?, written?);
    tokio::join!(ca.logout(), cb.logout());
    println!(
        "messages={messages} bytes={bytes} fetch={:.3} append={:.3} total={:.3}",
        fetching.as_secs_f64(),
        appending.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// COUNT changes in INBOX: half are \Flagged toggled on messages spread
/// over the mailbox, half are new messages.
async fn change(addr: &str, user: &str, count: usize) -> Res<()> {
    let mut c = connect(addr, user, Side::A).await?;
    let status = c.select("INBOX", false).await.map_err(|e| e.to_string())?;
    let meta = c.fetch_all_meta().await.map_err(|e| e.to_string())?;
    let toggles = (count / 2).min(meta.len());
    let flagged = FlagSet::from_wire(["\\Flagged"]);
    for i in 0..toggles {
        let m = &meta[i * meta.len() / toggles.max(1)];
        let delta = if m.flags.contains(&imapmend::model::Flag::new("\\Flagged")) {
            FlagDelta {
                add: FlagSet::new(),
                remove: flagged.clone(),
            }
        } else {
            FlagDelta {
                add: flagged.clone(),
                remove: FlagSet::new(),
            }
        };
        c.store(&[m.uid], &delta).await.map_err(|e| e.to_string())?;
    }
    // The same sizes every time (the runs on 1k and 100k compare), and
    // distinct messages (numbered from UIDNEXT).
    let mut r = Rng::new(99);
    let first = status.uidnext as usize;
    let new: Vec<Mail> = (toggles..count)
        .map(|i| {
            let size = target_size(&mut r);
            mail(&mut r, 99, first + i, size)
        })
        .collect();
    let no_flags = FlagSet::new();
    for m in &new {
        let item = AppendItem {
            flags: &no_flags,
            internal_date: InternalDate {
                unix: m.date,
                offset_minutes: 0,
            },
            body: &m.bytes,
        };
        c.append("INBOX", &[item])
            .await
            .map_err(|e| e.to_string())?;
    }
    c.logout().await;
    println!("flag_changes={toggles} new={}", new.len());
    Ok(())
}

async fn count(addr: &str, user: &str) -> Res<()> {
    let mut c = connect(addr, user, Side::A).await?;
    let mut n = 0;
    for name in selectable(&mut c).await? {
        n += c
            .select(&name, true)
            .await
            .map_err(|e| e.to_string())?
            .exists;
    }
    c.logout().await;
    println!("messages={n}");
    Ok(())
}
