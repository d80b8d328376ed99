//! Progress on standard error while a run works: what it is doing (a
//! spinner with the phase and the elapsed time), and for the long parts a
//! bar — listing and fingerprinting (mailboxes done, messages listed and
//! bodies hashed), copying (messages and bytes, rate, ETA).
//!
//! Shown only when standard error is a terminal and the run is not quiet
//! (`main` calls [`enable`]); everywhere else nothing is drawn, so cron
//! mail, logs and `--json` consumers never see it. The bar is cleared
//! before the report is printed ([`finish`]).
//!
//! The interface is a handful of hooks, so the code doing the work stays
//! free of drawing: the run calls [`phase`]; gather calls [`listing`] once
//! with the number of mailboxes, then [`mailbox`], [`listed`],
//! [`fingerprinted`] and [`mailbox_done`] as it goes — several mailboxes
//! at once with `--connections`, so the bar counts mailboxes done and names
//! those in flight; apply calls
//! [`copying`] with the plan and [`copied`] after each batch lands. The
//! hooks count whether or not a bar is shown ([`counts`]), at the cost of
//! an atomic add. Lines printed while a bar is shown should go through
//! [`println_above`] so they do not tear it.

use crate::plan::Plan;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static BAR: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();

/// What the hooks have counted in this process (read by tests; the bar
/// shows its own).
#[cfg(test)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub mailboxes_done: u64,
    pub messages_listed: u64,
    pub fingerprinted: u64,
    pub copied_messages: u64,
    pub copied_bytes: u64,
}

static MAILBOXES_DONE: AtomicU64 = AtomicU64::new(0);
static MESSAGES_LISTED: AtomicU64 = AtomicU64::new(0);
static FINGERPRINTED: AtomicU64 = AtomicU64::new(0);
static COPIED_MESSAGES: AtomicU64 = AtomicU64::new(0);
static COPIED_BYTES: AtomicU64 = AtomicU64::new(0);
/// The copy phase's total of messages, for the bar's message.
static COPY_TOTAL: AtomicU64 = AtomicU64::new(0);
/// The mailboxes being listed now (several with `--connections`), in the
/// order they were started, for the bar's message.
static CURRENT: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The counters are process-wide: a test that makes them count (this
/// module's, apply's copies) holds this while it does, so that no other
/// test's counting lands between its start and what it reads back.
#[cfg(test)]
pub(crate) static TEST_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn slot() -> &'static Mutex<Option<ProgressBar>> {
    BAR.get_or_init(|| Mutex::new(None))
}

fn with_bar(f: impl FnOnce(&ProgressBar)) {
    if let Ok(guard) = slot().lock() {
        if let Some(bar) = guard.as_ref() {
            f(bar);
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ")
}

/// Turns progress on when standard error is a terminal and `quiet` is
/// false. Returns whether it is on.
pub fn enable(quiet: bool) -> bool {
    if quiet || !std::io::stderr().is_terminal() {
        return false;
    }
    enable_on(ProgressDrawTarget::stderr());
    true
}

fn enable_on(target: ProgressDrawTarget) {
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(style(SPINNER));
    bar.enable_steady_tick(Duration::from_millis(120));
    if let Ok(mut guard) = slot().lock() {
        *guard = Some(bar);
    }
}

const SPINNER: &str = "{spinner} {msg} ({elapsed})";

/// What the run is doing now, e.g. "connecting to A and B".
pub fn phase(message: &str) {
    tracing::info!(target: "imapmend::run", "{message}");
    let message = message.to_string();
    with_bar(|bar| {
        bar.set_message(message);
        bar.set_style(style(SPINNER));
        bar.set_length(0);
        bar.set_position(0);
    });
}

/// Listing starts: `mailboxes` to read (on both sides each).
pub fn listing(mailboxes: usize) {
    redraw_listing();
    with_bar(|bar| {
        bar.set_length(mailboxes as u64);
        bar.set_position(0);
        bar.set_style(style(
            "{spinner} listing [{bar:20}] {pos}/{len} mailboxes ({elapsed}, ETA {eta}) {wide_msg}",
        ));
    });
}

fn redraw_listing() {
    with_bar(|bar| {
        let current = CURRENT.lock().map(|c| in_flight(&c)).unwrap_or_default();
        bar.set_message(format!(
            "{} messages, {} hashed; {current}",
            MESSAGES_LISTED.load(Ordering::Relaxed),
            FINGERPRINTED.load(Ordering::Relaxed)
        ));
    });
}

/// The mailboxes in flight, as the bar names them: the first two, and how
/// many more (the bar's counter says how many are done).
fn in_flight(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a}, {b}"),
        [a, b, rest @ ..] => format!("{a}, {b} +{}", rest.len()),
    }
}

/// This mailbox is being listed now (beside the others in flight).
pub fn mailbox(name: &str) {
    if let Ok(mut current) = CURRENT.lock() {
        current.push(name.to_string());
    }
    redraw_listing();
}

/// `messages` more listed (one side of one mailbox).
pub fn listed(messages: usize) {
    MESSAGES_LISTED.fetch_add(messages as u64, Ordering::Relaxed);
    redraw_listing();
}

/// `n` more bodies fetched and fingerprinted.
pub fn fingerprinted(n: usize) {
    let done = FINGERPRINTED.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
    // Redrawing the message per body would cost more than the hashing.
    if done % 64 == 0 {
        redraw_listing();
    }
}

/// This mailbox is listed on both sides.
pub fn mailbox_done(name: &str) {
    if let Ok(mut current) = CURRENT.lock() {
        if let Some(at) = current.iter().position(|n| n == name) {
            current.remove(at);
        }
    }
    MAILBOXES_DONE.fetch_add(1, Ordering::Relaxed);
    with_bar(|bar| bar.inc(1));
    redraw_listing();
}

/// Copying starts: every copy of the mailboxes `plan` will apply.
pub fn copying(plan: &Plan) {
    let copies = plan
        .mailboxes
        .iter()
        .filter(|m| m.problems.is_empty() && m.delete.is_none())
        .flat_map(|m| &m.copies);
    let (messages, bytes) = copies.fold((0u64, 0u64), |(n, b), c| (n + 1, b + c.size as u64));
    COPY_TOTAL.store(messages, Ordering::Relaxed);
    if messages == 0 {
        return;
    }
    redraw_copying();
    with_bar(|bar| {
        bar.set_length(bytes);
        bar.set_position(0);
        bar.set_style(style(
            "copying {msg} [{bar:15}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
        ));
    });
}

fn redraw_copying() {
    with_bar(|bar| {
        bar.set_message(format!(
            "{}/{}",
            COPIED_MESSAGES.load(Ordering::Relaxed),
            COPY_TOTAL.load(Ordering::Relaxed)
        ));
    });
}

/// `messages` more copied (landed on the target), `bytes` of them.
pub fn copied(messages: usize, bytes: u64) {
    COPIED_MESSAGES.fetch_add(messages as u64, Ordering::Relaxed);
    COPIED_BYTES.fetch_add(bytes, Ordering::Relaxed);
    with_bar(|bar| bar.inc(bytes));
    redraw_copying();
}

/// What the hooks have counted so far.
#[cfg(test)]
pub fn counts() -> Counts {
    Counts {
        mailboxes_done: MAILBOXES_DONE.load(Ordering::Relaxed),
        messages_listed: MESSAGES_LISTED.load(Ordering::Relaxed),
        fingerprinted: FINGERPRINTED.load(Ordering::Relaxed),
        copied_messages: COPIED_MESSAGES.load(Ordering::Relaxed),
        copied_bytes: COPIED_BYTES.load(Ordering::Relaxed),
    }
}

/// Prints a line above the bar (or plainly on stderr without one).
pub fn println_above(line: &str) {
    let mut shown = false;
    with_bar(|bar| {
        bar.suspend(|| eprintln!("{line}"));
        shown = true;
    });
    if !shown {
        eprintln!("{line}");
    }
}

/// Clears the bar for good: the report follows.
pub fn finish() {
    if let Ok(mut guard) = slot().lock() {
        if let Some(bar) = guard.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fingerprint, FlagSet, InternalDate, Side};
    use crate::plan::{Copy, MailboxPlan};

    fn plan_copying(sizes: &[u32]) -> Plan {
        let copy = |(i, size): (usize, &u32)| Copy {
            from: Side::A,
            uid: i as u32 + 1,
            fingerprint: Some(Fingerprint([0; 32])),
            size: *size,
            internal_date: InternalDate::new(0, 0),
            flags: FlagSet::new(),
            agreed: FlagSet::new(),
            normalised: None,
        };
        let copying = MailboxPlan {
            name: "INBOX".into(),
            copies: sizes.iter().enumerate().map(copy).collect(),
            ..MailboxPlan::default()
        };
        // A mailbox with a problem is not applied: its copies do not count.
        let refused = MailboxPlan {
            name: "Bad".into(),
            copies: vec![copy((9, &7000))],
            problems: vec!["cannot create".into()],
            ..MailboxPlan::default()
        };
        Plan {
            schema_version: crate::plan::SCHEMA_VERSION,
            mailboxes: vec![copying, refused],
            notes: Vec::new(),
            subscriptions: Vec::new(),
        }
    }

    fn bar_state() -> Option<(u64, Option<u64>, String)> {
        slot()
            .lock()
            .unwrap()
            .as_ref()
            .map(|b| (b.position(), b.length(), b.message()))
    }

    // One test: the bar and the counters are process-wide (and other
    // modules' tests that count take turns with it).
    #[test]
    fn progress_is_off_without_a_terminal_and_the_hooks_count() {
        let _turn = TEST_TURN.blocking_lock();
        for counter in [
            &MAILBOXES_DONE,
            &MESSAGES_LISTED,
            &FINGERPRINTED,
            &COPIED_MESSAGES,
            &COPIED_BYTES,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        // Under `cargo test` standard error is captured, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(!enable(false));
        }
        assert!(!enable(true), "quiet never shows progress");
        // Without a bar the hooks only count.
        phase("listing");
        listing(2);
        mailbox("INBOX");
        listed(3);
        fingerprinted(2);
        mailbox_done("INBOX");
        println_above("a line");
        assert!(bar_state().is_none());
        let before = counts();
        assert_eq!(
            (
                before.mailboxes_done,
                before.messages_listed,
                before.fingerprinted
            ),
            (1, 3, 2)
        );

        enable_on(ProgressDrawTarget::hidden());
        listing(6);
        // Listed several at a time: the bar names what is in flight.
        for name in ["Archive/2023", "Sent", "Drafts", "Junk"] {
            mailbox(name);
        }
        listed(10);
        listed(5);
        mailbox_done("Archive/2023");
        mailbox_done("Drafts");
        let (pos, len, msg) = bar_state().unwrap();
        assert_eq!((pos, len), (2, Some(6)));
        assert!(msg.ends_with("18 messages, 2 hashed; Sent, Junk"), "{msg}");
        mailbox("Trash");
        mailbox("Lists");
        let (_, _, msg) = bar_state().unwrap();
        assert!(msg.ends_with("; Sent, Junk +2"), "{msg}");
        for name in ["Sent", "Junk", "Trash", "Lists"] {
            mailbox_done(name);
        }

        copying(&plan_copying(&[400, 600, 1000]));
        copied(2, 1000);
        let (pos, len, msg) = bar_state().unwrap();
        assert_eq!(
            (pos, len),
            (1000, Some(2000)),
            "bytes, the refused mailbox left out"
        );
        assert_eq!(msg, "2/3", "messages");
        finish();
        assert!(bar_state().is_none());
        let after = counts();
        assert_eq!((after.copied_messages, after.copied_bytes), (2, 1000));
        assert_eq!(after.mailboxes_done, 7);
    }
}
