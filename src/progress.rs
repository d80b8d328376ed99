//! Progress on standard error while a run works: what it is doing (a
//! spinner with the phase and the elapsed time), and for long work with a
//! known size a bar with messages, bytes, rate and ETA.
//!
//! Shown only when standard error is a terminal and the run is not quiet
//! (`main` calls [`enable`]); everywhere else every call here does nothing,
//! so cron mail, logs and `--json` consumers never see it. The bar is
//! cleared before the report is printed ([`finish`]).
//!
//! The run calls [`phase`]; code that moves many messages (listing and
//! fingerprinting in gather, copying in apply) may call [`start_counting`]
//! and [`advance`]. Messages printed while a bar is shown should go through
//! [`println_above`] so they do not tear the bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static BAR: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();
/// Whether the current bar counts bytes (else messages).
static COUNT_BYTES: AtomicBool = AtomicBool::new(false);

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
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    if let Ok(mut guard) = slot().lock() {
        *guard = Some(bar);
    }
}

/// What the run is doing now, e.g. "listing both servers".
pub fn phase(message: &str) {
    let message = message.to_string();
    with_bar(|bar| {
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
        );
        bar.set_length(0);
        bar.set_position(0);
        bar.set_message(message);
    });
}

/// Work of known size: `messages` to go through, `bytes` in all (0 when
/// unknown). The bar counts bytes when known (rate and ETA in bytes),
/// else messages.
pub fn start_counting(what: &str, messages: u64, bytes: u64) {
    let what = what.to_string();
    with_bar(|bar| {
        let template = if bytes > 0 {
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})"
        } else {
            "{msg} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        COUNT_BYTES.store(bytes > 0, Ordering::Relaxed);
        bar.set_length(if bytes > 0 { bytes } else { messages });
        bar.set_position(0);
        bar.set_message(format!("{what} {messages} message(s)"));
    });
}

/// `messages` more done, `bytes` of them (see [`start_counting`]).
pub fn advance(messages: u64, bytes: u64) {
    let by_bytes = COUNT_BYTES.load(Ordering::Relaxed);
    with_bar(|bar| bar.inc(if by_bytes { bytes } else { messages }));
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

    // One test: the bar is process-wide.
    #[test]
    fn progress_is_off_without_a_terminal_and_counts_bytes_when_on() {
        // Under `cargo test` standard error is captured, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(!enable(false));
        }
        assert!(!enable(true), "quiet never shows progress");
        phase("listing");
        start_counting("copying", 3, 0);
        advance(1, 0);
        println_above("a line");
        finish();

        enable_on(ProgressDrawTarget::hidden());
        start_counting("copying", 2, 1000);
        advance(1, 400);
        let bytes = slot()
            .lock()
            .unwrap()
            .as_ref()
            .map(|b| (b.position(), b.length()));
        start_counting("listing", 5, 0);
        advance(2, 0);
        let messages = slot()
            .lock()
            .unwrap()
            .as_ref()
            .map(|b| (b.position(), b.length()));
        finish();
        assert_eq!(bytes, Some((400, Some(1000))));
        assert_eq!(messages, Some((2, Some(5))));
        assert!(slot().lock().unwrap().is_none());
    }
}
