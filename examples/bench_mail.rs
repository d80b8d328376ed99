//! The helper `scripts/bench` drives: seeds mailboxes, measures the raw
//! limit of a copy between two servers, and makes changes for the
//! incremental run. Not part of imapmend; it uses imapmend's own
//! `imap::Connection` so the raw limit is measured with the same engine.
//!
//!     bench_mail seed MAILDIR COUNT [SEED]      # Maildir++ files, ~4 KB mean
//!     bench_mail seed-big MAILDIR BYTES         # one message of BYTES
//!     bench_mail seed-folders MAILDIR FOLDERS PER   # FOLDERS mailboxes of PER
//!     bench_mail seed-one MAILDIR COUNT BYTES   # COUNT in INBOX, ~BYTES each
//!     bench_mail warm HOST:PORT USER            # index + read every mailbox
//!     bench_mail meta HOST:PORT USER            # list every mailbox's metadata
//!     bench_mail raw HOST:PORT USER HOST:PORT USER [BATCH [overlap]]
//!     bench_mail change HOST:PORT USER COUNT    # COUNT changes in INBOX
//!     bench_mail spread HOST:PORT USER FLAGS NEW GONE  # over two mailboxes
//!     bench_mail floor HOST:PORT USER MODSEQ UIDNEXT HOST:PORT USER
//!                                               # the incremental floor
//!     bench_mail count HOST:PORT USER           # messages in all mailboxes
//!
//! The password is taken from BENCH_PASSWORD. Output meant for the script
//! is `key=value` on stdout; narration goes to stderr.
//!
//! Mail comes from the tests' generator (tests/support/generator.rs,
//! `Generator::typical`; same seed, same bytes): plain text or multipart
//! with an attachment, sizes from 1.5 KB to 20 KB with a mean near 4 KB,
//! LF line endings as a Maildir holds them, dates over 2015–2024; flags
//! (mostly \Seen) are drawn here. Files are written before the server first
//! reads them, with `S=`/`W=` sizes in their names as Dovecot itself would.

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
        ["meta", a, user] => block(meta(a, user)),
        ["raw", a, ua, b, ub] => block(raw(a, ua, b, ub, RAW_BATCH, false)),
        ["raw", a, ua, b, ub, n] => block(raw(a, ua, b, ub, parse(n), false)),
        ["raw", a, ua, b, ub, n, "overlap"] => block(raw(a, ua, b, ub, parse(n), true)),
        ["seed-one", dir, count, bytes] => seed_one(Path::new(dir), parse(count), parse(bytes)),
        ["change", a, user, n] => block(change(a, user, parse(n))),
        ["spread", a, user, f, n, g] => block(spread(a, user, [f, n, g].map(|x| parse(x)))),
        ["floor", a, ua, modseq, uidnext, b, ub] => block(floor(
            a,
            ua,
            parse(modseq) as u64,
            parse(uidnext) as Uid,
            b,
            ub,
        )),
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

// The tests' seeded generator makes the bench's mail too (its `typical`
// shape: plain mail of a typical mailbox's sizes, LF line endings), so the
// project has one mail generator. The bench adds only what a Maildir holds
// beside the bytes: where each message goes and its flags.
#[allow(dead_code)]
#[path = "../tests/support/generator.rs"]
mod generator;
use generator::{Generated, Generator, Rng};

/// One generated message as a Maildir holds it: its bytes (LF line
/// endings), INTERNALDATE and flags.
struct Mail {
    bytes: Vec<u8>,
    date: i64,
    /// Maildir info letters, in order (F R S).
    flags: String,
}

impl Mail {
    /// `m` with flags drawn from `r`: 5% \Flagged, 10% \Answered, 80% \Seen.
    fn flagged(m: Generated, r: &mut Rng) -> Res<Mail> {
        let date = InternalDate::parse(&m.internal_date)
            .ok_or_else(|| format!("generated a bad date: {}", m.internal_date))?
            .unix();
        let mut flags = String::new();
        for (letter, percent) in [('F', 5), ('R', 10), ('S', 80)] {
            if r.chance(percent) {
                flags.push(letter);
            }
        }
        Ok(Mail {
            bytes: m.bytes,
            date,
            flags,
        })
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
    let mut mail = Generator::typical(seed);
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
        let m = Mail::flagged(mail.message(), &mut r)?;
        bytes += deliver(dir, &format!("M{i}P{seed}"), &m)?;
    }
    println!("messages={count} bytes={bytes}");
    Ok(())
}

/// COUNT messages of about BYTES each (from 0.8 to 1.2 times), all in
/// INBOX: the large single mailbox of issue 18's benchmark (`--huge`).
/// Plain text made here rather than by the generator, whose smallest
/// messages are larger; each one distinct (its number is in its headers).
fn seed_one(root: &Path, count: usize, bytes: usize) -> Res<()> {
    let mut r = Rng::new(18);
    let dir = folder(root, "INBOX")?;
    let line = "The quick brown fox jumps over the lazy dog, and again, and again.\n";
    let mut total = 0;
    for i in 0..count {
        let date = 1_420_070_400 + (i as i64) * 997 % 315_360_000;
        let mut text = format!(
            "From: Sender {n} <sender{n}@example.org>\nTo: alice@example.net\n\
             Subject: Message number {i}\nMessage-ID: <huge.{i}@bench.example>\n\
             Date: {}\nContent-Type: text/plain; charset=us-ascii\n\n",
            InternalDate::new(date, 0).to_imap(),
            n = i % 977,
        );
        let want = bytes * (80 + r.below(41) as usize) / 100;
        while text.len() + line.len() <= want {
            text.push_str(line);
        }
        let mut flags = String::new();
        for (letter, percent) in [('F', 5), ('R', 10), ('S', 80)] {
            if r.chance(percent) {
                flags.push(letter);
            }
        }
        let m = Mail {
            bytes: text.into_bytes(),
            date,
            flags,
        };
        total += deliver(&dir, &format!("H{i}"), &m)?;
    }
    println!("messages={count} bytes={total}");
    Ok(())
}

/// FOLDERS mailboxes (INBOX and `Folder01` …, some of them nested as
/// `Lists.NN`) of PER messages each, for the `--connections` benchmark.
fn seed_folders(root: &Path, folders: usize, per: usize) -> Res<()> {
    let mut r = Rng::new(11);
    let mut mail = Generator::typical(11);
    let mut bytes = 0;
    for f in 0..folders {
        let name = match f {
            0 => "INBOX".to_string(),
            f if f % 5 == 0 => format!("Lists.{f:02}"),
            f => format!("Folder{f:02}"),
        };
        let dir = folder(root, &name)?;
        for i in 0..per {
            let m = Mail::flagged(mail.message(), &mut r)?;
            bytes += deliver(&dir, &format!("M{f}x{i}"), &m)?;
        }
    }
    println!("messages={} bytes={bytes}", folders * per);
    Ok(())
}

/// One message of about BYTES in INBOX: a short text and a big attachment.
fn seed_big(root: &Path, bytes: usize) -> Res<()> {
    let mut r = Rng::new(7);
    let m = Mail::flagged(Generator::typical(7).message_of_size(bytes), &mut r)?;
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
        pins: Vec::new(),
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

/// Every mailbox's metadata (UID, flags, size, date), no body: the floor of
/// a full listing.
async fn meta(addr: &str, user: &str) -> Res<()> {
    let mut c = connect(addr, user, Side::A).await?;
    let mut n = 0;
    for name in selectable(&mut c).await? {
        c.select(&name, true).await.map_err(|e| e.to_string())?;
        n += c.fetch_all_meta().await.map_err(|e| e.to_string())?.len();
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
            // Narration for a long copy: how B's appends grow with its mailbox.
            if messages % 100_000 < items.len() {
                eprintln!(
                    "raw: {messages} appended, {:.1} s appending, {:.1} s in all",
                    appending.as_secs_f64(),
                    start.elapsed().as_secs_f64()
                );
            }
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
    let first = u64::from(status.uidnext) + toggles as u64;
    let new = Generator::typical(99)
        .numbered_from(first)
        .messages(count - toggles);
    append_each(&mut c, "INBOX", &new).await?;
    c.logout().await;
    println!(
        "flag_changes={toggles} new={} modseq_before={} uidnext_before={}",
        new.len(),
        status.highestmodseq.unwrap_or(0),
        status.uidnext
    );
    Ok(())
}

/// The incremental floor: what any client must do to carry the changes
/// made on A's INBOX since MODSEQ (new messages from UIDNEXT on) to B, with
/// the same engine imapmend uses and no state: both sides selected (with
/// CONDSTORE/QRESYNC as the engine enables them), each asked what changed
/// (UID FETCH … CHANGEDSINCE; B since now, as after a sync nothing changed
/// there), the new bodies read from A, and the same writes on B: one flag
/// store per changed message (B's UIDs taken as A's, as a first copy into
/// an empty mailbox numbers them) and one MULTIAPPEND of the new ones.
async fn floor(a: &str, ua: &str, modseq: u64, uidnext: Uid, b: &str, ub: &str) -> Res<()> {
    let start = Instant::now();
    let (ca, cb) = tokio::join!(connect(a, ua, Side::A), connect(b, ub, Side::B));
    let (mut ca, mut cb) = (ca?, cb?);
    let (sa, sb) = tokio::join!(ca.select("INBOX", true), cb.select("INBOX", false));
    let (_, sb) = (
        sa.map_err(|e| e.to_string())?,
        sb.map_err(|e| e.to_string())?,
    );
    let (changes, unchanged) = tokio::join!(
        ca.fetch_changes(modseq),
        cb.fetch_changes(sb.highestmodseq.unwrap_or(1))
    );
    let changes = changes.map_err(|e| e.to_string())?;
    unchanged.map_err(|e| e.to_string())?;
    let (new, flagged): (Vec<&ListedMessage>, Vec<&ListedMessage>) =
        changes.changed.iter().partition(|m| m.uid >= uidnext);
    let uids: Vec<Uid> = new.iter().map(|m| m.uid).collect();
    let mut bodies = HashMap::new();
    ca.fetch_bodies(&uids, &mut |uid, body| {
        bodies.insert(uid, body);
    })
    .await
    .map_err(|e| e.to_string())?;
    for m in &flagged {
        let delta = FlagDelta {
            add: m.flags.clone(),
            remove: FlagSet::new(),
        };
        cb.store(&[m.uid], &delta)
            .await
            .map_err(|e| e.to_string())?;
    }
    let items: Vec<AppendItem<'_>> = new
        .iter()
        .filter_map(|m| {
            Some(AppendItem {
                flags: &m.flags,
                internal_date: m.internal_date,
                body: bodies.get(&m.uid)?,
            })
        })
        .collect();
    if !items.is_empty() {
        cb.append("INBOX", &items)
            .await
            .map_err(|e| e.to_string())?;
    }
    tokio::join!(ca.logout(), cb.logout());
    println!(
        "flag_changes={} new={} total={:.3}",
        flagged.len(),
        items.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// FLAGS \Flagged toggles, NEW new messages and GONE expunges, half in
/// INBOX and half in the first other mailbox (the latency benchmark's
/// incremental run: changes in two of its mailboxes).
async fn spread(addr: &str, user: &str, [flags, new, gone]: [usize; 3]) -> Res<()> {
    let mut c = connect(addr, user, Side::A).await?;
    let names = selectable(&mut c).await?;
    let other = names
        .iter()
        .find(|n| *n != "INBOX")
        .ok_or("one mailbox only")?;
    let flagged = FlagSet::from_wire(["\\Flagged"]);
    let no_flags = FlagSet::new();
    let e = |e: imapmend::imap::ImapError| e.to_string();
    for (i, name) in ["INBOX", other.as_str()].into_iter().enumerate() {
        let share = |n: usize| n / 2 + (i == 0) as usize * (n % 2);
        let status = c.select(name, false).await.map_err(e)?;
        let meta = c.fetch_all_meta().await.map_err(e)?;
        let toggles = share(flags).min(meta.len());
        for m in meta
            .iter()
            .step_by((meta.len() / toggles.max(1)).max(1))
            .take(toggles)
        {
            let on = m.flags.contains(&imapmend::model::Flag::new("\\Flagged"));
            let (add, remove) = if on {
                (no_flags.clone(), flagged.clone())
            } else {
                (flagged.clone(), no_flags.clone())
            };
            c.store(&[m.uid], &FlagDelta { add, remove })
                .await
                .map_err(e)?;
        }
        let doomed: Vec<Uid> = meta.iter().rev().take(share(gone)).map(|m| m.uid).collect();
        c.uid_expunge(&doomed).await.map_err(e)?;
        let fresh = Generator::typical(98 + i as u64)
            .numbered_from(u64::from(status.uidnext) * 10 + i as u64)
            .messages(share(new));
        append_each(&mut c, name, &fresh).await?;
    }
    c.logout().await;
    println!("flag_changes={flags} new={new} expunged={gone}");
    Ok(())
}

/// Appends each generated message to `mailbox`, one APPEND each, no flags.
async fn append_each(c: &mut Connection, mailbox: &str, messages: &[Generated]) -> Res<()> {
    let no_flags = FlagSet::new();
    for m in messages {
        let item = AppendItem {
            flags: &no_flags,
            internal_date: InternalDate::parse(&m.internal_date)
                .ok_or_else(|| format!("generated a bad date: {}", m.internal_date))?,
            body: &m.bytes,
        };
        c.append(mailbox, &[item])
            .await
            .map_err(|e| e.to_string())?;
    }
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
