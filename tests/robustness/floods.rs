//! Floods (issue 16, E18–E30): a scripted server on loopback behaves like
//! a small IMAP server (INBOX with two messages) until the command under
//! test, then answers it with an endless stream of untagged responses of
//! the kind that command collects. The real binary must stop at its bound
//! for that command — exit 3 before any mailbox was listed (login, ENABLE,
//! LIST), else exit 2 with the mailbox failed — with a message naming the
//! server, the command and the bound, and its peak memory (the child's
//! `ru_maxrss`, read by `wait4`) must stay under 100 MB.
//!
//! Real servers will not flood on demand, so these are the one place the
//! binary meets a fake: a thread per connection, the flood streamed in
//! 64 KiB chunks and ended when imapmend hangs up (or after
//! [`FLOOD_MAX`]).

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The fixed bound every flood test holds imapmend to.
const MAX_RSS_BYTES: u64 = 100 * 1000 * 1000;
/// The most a flood sends before giving up (then the connection is cut):
/// far past every bound, never reached by a client that keeps to them.
const FLOOD_MAX: u64 = 512 << 20;
const DATE: &str = "\"17-Jul-1996 02:44:25 -0700\"";

/// Which command floods, and with what: the line to repeat (its number
/// in), given the command's tag.
#[derive(Clone, Copy)]
struct Flood {
    /// The command, as `matches` sees it (tag stripped, upper-cased).
    on: fn(&str) -> bool,
    line: fn(u64, &str) -> String,
    /// Bytes sent before the lines (a literal's announcement).
    head: Option<fn(&str) -> String>,
}

/// A fake server: its capabilities, its INBOX (flags per message; the
/// bodies are `message(i)`), and the flood, if any, once armed.
struct Fake {
    caps: &'static str,
    flags: Vec<&'static str>,
    flood: Option<Flood>,
    armed: Arc<AtomicBool>,
}

fn message(i: usize) -> String {
    format!("From: a@example.org\r\nSubject: flood test {i}\r\n\r\nbody {i}\r\n")
}

impl Fake {
    /// Serves every connection to the returned port (the test process ends
    /// the threads).
    fn start(self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fake = Arc::new(self);
        std::thread::spawn(move || {
            for sock in listener.incoming() {
                let Ok(sock) = sock else { return };
                let fake = fake.clone();
                std::thread::spawn(move || {
                    let _ = fake.serve(sock);
                });
            }
        });
        port
    }

    fn serve(&self, sock: TcpStream) -> std::io::Result<()> {
        let mut rd = BufReader::new(sock.try_clone()?);
        let mut wr = sock;
        let caps = format!("IMAP4rev1 AUTH=PLAIN SASL-IR {}", self.caps);
        write!(wr, "* OK [CAPABILITY {caps}] flood fake ready\r\n")?;
        let mut appended = 0usize;
        loop {
            let Some(line) = read_command(&mut rd, &mut wr)? else {
                return Ok(());
            };
            let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
            let upper = rest.to_ascii_uppercase();
            let armed = self.armed.load(Ordering::SeqCst);
            if let Some(flood) = self.flood.filter(|f| armed && (f.on)(&upper)) {
                return flood_out(&mut wr, &flood, tag);
            }
            let n = self.flags.len();
            let uidnext = n + 1 + appended;
            let modseq = if self.caps.contains("CONDSTORE") {
                " [HIGHESTMODSEQ 10]"
            } else {
                ""
            };
            let reply = match upper.split(' ').next().unwrap_or("") {
                "AUTHENTICATE" | "LOGIN" => format!("{tag} OK [CAPABILITY {caps}] in\r\n"),
                "CAPABILITY" => format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n"),
                "ENABLE" => {
                    let what = if self.caps.contains("QRESYNC") {
                        "QRESYNC"
                    } else {
                        "CONDSTORE"
                    };
                    format!("* ENABLED {what}\r\n{tag} OK enabled\r\n")
                }
                "LIST" if upper.contains("SUBSCRIBED") => {
                    format!("* LIST (\\Subscribed) \"/\" INBOX\r\n{tag} OK done\r\n")
                }
                "LIST" => format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK done\r\n"),
                "LSUB" => format!("* LSUB () \"/\" INBOX\r\n{tag} OK done\r\n"),
                "STATUS" => format!(
                    "* STATUS INBOX (MESSAGES {n} UIDNEXT {uidnext} UIDVALIDITY 7)\r\n{tag} OK done\r\n"
                ),
                "SELECT" | "EXAMINE" => format!(
                    "* FLAGS (\\Seen \\Flagged \\Deleted)\r\n* OK [PERMANENTFLAGS (\\Seen \\Flagged \\Deleted \\*)] ok\r\n\
                     * {n} EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT {uidnext}] ok\r\n\
                     * OK{modseq} ok\r\n{tag} OK [READ-WRITE] done\r\n"
                ),
                "UID" => self.uid_command(tag, &upper),
                "APPEND" => {
                    appended += 1;
                    format!("{tag} OK [APPENDUID 7 {uidnext}] appended\r\n")
                }
                "LOGOUT" => format!("* BYE bye\r\n{tag} OK bye\r\n"),
                _ => format!("{tag} OK done\r\n"),
            };
            wr.write_all(reply.as_bytes())?;
        }
    }

    /// UID FETCH (metadata or bodies; a CHANGEDSINCE answer is empty:
    /// nothing changed), UID SEARCH, UID STORE, UID EXPUNGE.
    fn uid_command(&self, tag: &str, upper: &str) -> String {
        let mut out = String::new();
        let n = self.flags.len();
        if upper.starts_with("UID FETCH") && !upper.contains("CHANGEDSINCE") {
            let set = upper.split(' ').nth(2).unwrap_or("");
            for (i, flags) in self.flags.iter().enumerate() {
                let uid = i + 1;
                if !in_set(set, uid) {
                    continue;
                }
                if upper.contains("BODY.PEEK[]") {
                    let body = message(uid);
                    out.push_str(&format!(
                        "* {uid} FETCH (UID {uid} BODY[] {{{}}}\r\n{body})\r\n",
                        body.len()
                    ));
                } else {
                    let modseq = if upper.contains("MODSEQ") {
                        " MODSEQ (5)"
                    } else {
                        ""
                    };
                    out.push_str(&format!(
                        "* {uid} FETCH (UID {uid} FLAGS ({flags}) RFC822.SIZE {} INTERNALDATE {DATE}{modseq})\r\n",
                        message(uid).len()
                    ));
                }
            }
        } else if upper.starts_with("UID SEARCH") {
            out.push_str(&format!("* ESEARCH (TAG \"{tag}\") UID ALL 1:{n}\r\n"));
        }
        out.push_str(&format!("{tag} OK done\r\n"));
        out
    }
}

/// Whether `uid` is in a UID set such as `1:2,5` or `1:*`.
fn in_set(set: &str, uid: usize) -> bool {
    set.split(',').any(|part| match part.split_once(':') {
        Some((a, "*")) => a.parse::<usize>().is_ok_and(|a| uid >= a),
        Some((a, b)) => {
            let (a, b) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
            (a.min(b)..=a.max(b)).contains(&uid)
        }
        None => part.parse() == Ok(uid),
    })
}

/// One command line with its literals read (answering `+` to
/// synchronising ones); None at the end of the stream.
fn read_command(rd: &mut impl BufRead, wr: &mut impl Write) -> std::io::Result<Option<String>> {
    let mut text = String::new();
    loop {
        let mut line = Vec::new();
        if rd.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let body = String::from_utf8_lossy(&line).trim_end().to_string();
        let literal = body.strip_suffix('}').and_then(|inner| {
            let open = inner.rfind('{')?;
            let digits = &inner[open + 1..];
            let plus = digits.ends_with('+');
            let n: usize = digits.trim_end_matches('+').parse().ok()?;
            Some((open, n, plus))
        });
        match literal {
            None => {
                text.push_str(&body);
                return Ok(Some(text));
            }
            Some((open, n, plus)) => {
                text.push_str(&body[..open]);
                if !plus {
                    wr.write_all(b"+ go on\r\n")?;
                }
                let mut data = vec![0u8; n];
                rd.read_exact(&mut data)?;
            }
        }
    }
}

/// Streams the flood until the client stops taking it (or [`FLOOD_MAX`]).
fn flood_out(wr: &mut TcpStream, flood: &Flood, tag: &str) -> std::io::Result<()> {
    if let Some(head) = flood.head {
        wr.write_all(head(tag).as_bytes())?;
    }
    let mut sent = 0u64;
    let mut i = 0u64;
    let mut chunk = String::new();
    while sent < FLOOD_MAX {
        chunk.clear();
        while chunk.len() < 64 * 1024 {
            i += 1;
            chunk.push_str(&(flood.line)(i, tag));
        }
        wr.write_all(chunk.as_bytes())?;
        sent += chunk.len() as u64;
    }
    Ok(())
}

/// How a measured run ended: its outcome and its peak RSS in bytes.
struct Measured {
    out: Outcome,
    peak: u64,
}

/// Runs imapmend to the end and reads its peak RSS: as GNU time reports
/// it (`/usr/bin/time -f %M`, its child's `ru_maxrss` from `wait4`), else
/// from `wait4` on imapmend itself.
///
/// Not `wait4` on imapmend where time is there: a child this process
/// spawns starts as a copy of it (vfork/fork), and Linux carries the
/// copy's high-water mark across exec into the child's `ru_maxrss` — this
/// test process's own size, tens of MB, not imapmend's. GNU time is small
/// when it spawns imapmend.
fn run_measured(args: &[String], envs: &[(&str, String)]) -> Measured {
    let time = std::path::Path::new("/usr/bin/time");
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = if time.exists() {
        let mut cmd = std::process::Command::new(time);
        cmd.args(["-f", "%M", "-o"])
            .arg(report.path())
            .arg(support::imapmend::binary());
        cmd
    } else {
        std::process::Command::new(support::imapmend::binary())
    };
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("IMAPMEND_TEST_READ_TIMEOUT_SECS")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn imapmend");
    let pid = child.id() as libc::pid_t;
    let (out, err) = support::imapmend::drain(&mut child);
    let mut status = 0;
    // SAFETY: plain FFI calls on our own child; rusage is written by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("imapmend did not finish within 60 s (killed)");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Reaped by wait4: the Child must not be waited for again.
    std::mem::forget(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
    let kb = match std::fs::read_to_string(report.path()) {
        Ok(text) if time.exists() => text
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .next_back()
            .expect("GNU time's report"),
        _ => usage.ru_maxrss as u64,
    };
    Measured {
        out: Outcome {
            code,
            signal,
            stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
            took: started.elapsed(),
        },
        peak: kb * 1024,
    }
}

/// Two fakes (A flooding, B behaving): runs `imapmend VERB` between them
/// (no retries: one flood per run) with this snapshot directory.
fn run_between(a: u16, b: u16, verb: &str, dir: &std::path::Path) -> Measured {
    let args = [
        verb.to_string(),
        "--a".into(),
        format!("imap://alice@127.0.0.1:{a}"),
        "--b".into(),
        format!("imap://bob@127.0.0.1:{b}"),
        "--a-tls".into(),
        "none".into(),
        "--b-tls".into(),
        "none".into(),
        "--retries".into(),
        "0".into(),
        "--state".into(),
        dir.join("state.sqlite").display().to_string(),
    ];
    let envs = [
        ("XDG_STATE_HOME", dir.display().to_string()),
        ("IMAPMEND_A_PASSWORD", "pw-a".to_string()),
        ("IMAPMEND_B_PASSWORD", "pw-b".to_string()),
    ];
    let m = run_measured(&args, &envs);
    eprintln!(
        "--- imapmend {verb} → {:?} in {:?}, peak RSS {:.1} MB\n{}{}",
        m.out.code,
        m.out.took,
        m.peak as f64 / 1e6,
        m.out.stdout,
        m.out.stderr
    );
    m
}

/// One flood case: A floods `flood` (after a quiet `sync` first where the
/// command is on the history path), B behaves; the run must exit `code`
/// naming the command (`names`) and the bound, under the memory bound.
fn flood_case(caps: &'static str, flood: Flood, history: bool, verb: &str, code: i32, names: &str) {
    let dir = tempfile::tempdir().unwrap();
    let flags = vec!["\\Seen", ""];
    let armed = Arc::new(AtomicBool::new(!history));
    let a = Fake {
        caps,
        flags: flags.clone(),
        flood: Some(flood),
        armed: armed.clone(),
    }
    .start();
    let b = Fake {
        caps,
        flags: if history { flags } else { Vec::new() },
        flood: None,
        armed: Arc::new(AtomicBool::new(false)),
    }
    .start();
    if history {
        // A quiet sync first, so that the snapshot holds the watermarks
        // the history path starts from.
        let first = run_between(a, b, "sync", dir.path());
        assert_eq!(first.out.code, Some(0), "{}", first.out.describe());
        armed.store(true, Ordering::SeqCst);
    }
    let m = run_between(a, b, verb, dir.path());
    let text = m.out.output();
    assert_eq!(m.out.code, Some(code), "{}", m.out.describe());
    assert!(
        text.contains(&format!("A (127.0.0.1:{a})"))
            && text.contains(names)
            && text.contains("over the bound")
            && text.contains("not reading any further"),
        "the message must name the server, the command and the bound: {}",
        m.out.describe()
    );
    assert!(!text.contains("panicked"), "{}", m.out.describe());
    assert!(
        m.peak <= MAX_RSS_BYTES,
        "peak RSS {} bytes over {MAX_RSS_BYTES}: {}",
        m.peak,
        m.out.describe()
    );
}

const PLAIN: &str = "UIDPLUS UNSELECT LITERAL+";
const QRESYNC: &str = "ENABLE CONDSTORE QRESYNC ESEARCH UIDPLUS UNSELECT LITERAL+";
const CONDSTORE: &str = "ENABLE CONDSTORE UIDPLUS UNSELECT LITERAL+";

#[test]
fn e18_a_capability_flood_at_login_ends_the_run() {
    let flood = Flood {
        on: |c| c.starts_with("AUTHENTICATE"),
        line: |i, _| format!("* CAPABILITY IMAP4rev1 X-FLOOD{i}\r\n"),
        head: None,
    };
    flood_case(PLAIN, flood, false, "plan", 3, "AUTHENTICATE");
}

#[test]
fn e19_an_enabled_flood_ends_the_run() {
    let flood = Flood {
        on: |c| c.starts_with("ENABLE"),
        line: |i, _| format!("* ENABLED QRESYNC X-FLOOD{i}\r\n"),
        head: None,
    };
    flood_case(QRESYNC, flood, false, "plan", 3, "ENABLE");
}

#[test]
fn e20_a_list_flood_ends_the_run() {
    let flood = Flood {
        on: |c| c.starts_with("LIST \"\""),
        line: |i, _| format!("* LIST (\\HasNoChildren) \"/\" \"Flood/mailbox number {i}\"\r\n"),
        head: None,
    };
    flood_case(PLAIN, flood, false, "plan", 3, "LIST");
}

#[test]
fn e21_a_list_status_flood_ends_the_run() {
    let flood = Flood {
        on: |c| c.starts_with("LIST \"\"") && c.contains("STATUS"),
        line: |i, _| {
            format!(
                "* STATUS \"Flood {i}\" (UIDVALIDITY 1 UIDNEXT 2 MESSAGES 3 HIGHESTMODSEQ 4)\r\n"
            )
        },
        head: None,
    };
    let caps = "ENABLE CONDSTORE QRESYNC LIST-STATUS UIDPLUS UNSELECT LITERAL+";
    flood_case(caps, flood, false, "plan", 3, "LIST");
}

#[test]
fn e22_a_subscription_flood_ends_the_run() {
    let flood = Flood {
        on: |c| c.starts_with("LSUB"),
        line: |i, _| format!("* LSUB () \"/\" \"Flood {i}\"\r\n"),
        head: None,
    };
    // LSUB goes out with LIST, before any mailbox is listed.
    flood_case(PLAIN, flood, false, "plan", 3, "LSUB");
}

#[test]
fn e23_an_examine_flood_fails_the_mailbox() {
    let flood = Flood {
        on: |c| c.starts_with("EXAMINE"),
        line: |i, _| format!("* FLAGS (\\Seen flood{i})\r\n"),
        head: None,
    };
    flood_case(PLAIN, flood, false, "plan", 2, "EXAMINE");
}

#[test]
fn e24_a_metadata_fetch_flood_fails_the_mailbox() {
    let flood = Flood {
        on: |c| c.starts_with("UID FETCH 1:* (UID FLAGS"),
        line: |i, _| {
            format!(
                "* {i} FETCH (UID {i} FLAGS (\\Seen $Flood{i}) RFC822.SIZE 60 INTERNALDATE {DATE})\r\n"
            )
        },
        head: None,
    };
    flood_case(PLAIN, flood, false, "plan", 2, "UID FETCH");
}

#[test]
fn e25_a_body_fetch_flood_fails_the_mailbox() {
    let flood = Flood {
        on: |c| c.contains("BODY.PEEK[]"),
        line: |i, _| format!("* {i} FETCH (UID {i} BODY[] {{5}}\r\nflood)\r\n"),
        head: None,
    };
    flood_case(PLAIN, flood, false, "plan", 2, "bodies");
}

#[test]
fn e26_a_body_larger_than_listed_is_refused_at_its_announcement() {
    // 200 MB announced for a message listed at 60 bytes: refused before a
    // byte of it is held (the engine's own cap is 256 MiB).
    let flood = Flood {
        on: |c| c.contains("BODY.PEEK[]"),
        line: |_, _| "x".repeat(1024),
        head: Some(|_| "* 1 FETCH (UID 1 BODY[] {200000000}\r\n".into()),
    };
    flood_case(PLAIN, flood, false, "plan", 2, "literal of 200000000 bytes");
}

#[test]
fn e27_a_changedsince_flood_fails_the_mailbox() {
    let flood = Flood {
        on: |c| c.contains("CHANGEDSINCE"),
        line: |i, _| {
            format!(
                "* {i} FETCH (UID {i} FLAGS (\\Seen) RFC822.SIZE 60 INTERNALDATE {DATE} MODSEQ ({}))\r\n",
                10 + i
            )
        },
        head: None,
    };
    flood_case(QRESYNC, flood, true, "plan", 2, "CHANGEDSINCE");
}

#[test]
fn e28_a_vanished_flood_fails_the_mailbox() {
    let flood = Flood {
        on: |c| c.contains("CHANGEDSINCE"),
        line: |i, _| format!("* VANISHED (EARLIER) {}\r\n", 10 + 2 * i),
        head: None,
    };
    flood_case(QRESYNC, flood, true, "plan", 2, "CHANGEDSINCE");
}

#[test]
fn e29_a_uid_list_flood_fails_the_mailbox() {
    // CONDSTORE without QRESYNC: expunges are found by `UID FETCH 1:* (UID)`.
    let flood = Flood {
        on: |c| c.starts_with("UID FETCH 1:* (UID)"),
        line: |i, _| format!("* {i} FETCH (UID {i})\r\n"),
        head: None,
    };
    flood_case(CONDSTORE, flood, true, "plan", 2, "UID FETCH 1:* (UID)");
}

#[test]
fn e30_an_append_flood_fails_the_copies() {
    // A holds two messages, B none: the sync appends to B, which floods.
    let flood = Flood {
        on: |c| c.starts_with("APPEND"),
        line: |i, _| format!("* OK [ALERT] still appending {i}\r\n"),
        head: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let a = Fake {
        caps: PLAIN,
        flags: vec!["\\Seen", ""],
        flood: None,
        armed: Arc::new(AtomicBool::new(false)),
    }
    .start();
    let b = Fake {
        caps: "UIDPLUS UNSELECT LITERAL+ MULTIAPPEND",
        flags: Vec::new(),
        flood: Some(flood),
        armed: Arc::new(AtomicBool::new(true)),
    }
    .start();
    let m = run_between(a, b, "sync", dir.path());
    let text = m.out.output();
    assert_eq!(m.out.code, Some(2), "{}", m.out.describe());
    assert!(
        text.contains(&format!("B (127.0.0.1:{b})"))
            && text.contains("APPEND")
            && text.contains("over the bound"),
        "{}",
        m.out.describe()
    );
    assert!(m.peak <= MAX_RSS_BYTES, "peak RSS {}", m.peak);
}
