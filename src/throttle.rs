//! Rate limits for providers that throttle clients
//! (`--max-messages-per-second`, `--max-bytes-per-second`): one token
//! bucket per quantity for the whole process, both connections together.
//! Every message body fetched or appended costs a message token (taken when
//! the command carrying it is sent, so a batch waits as a whole), every
//! byte sent or received a byte token. A bucket holds at most one second's
//! worth, so an idle moment never buys a burst larger than the limit.
//!
//! Without limits nothing waits and nothing is locked on the hot path.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens per second, holding at most `rate`.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(rate: u64, now: Instant) -> Bucket {
        Bucket {
            rate: rate as f64,
            tokens: rate as f64,
            last: now,
        }
    }

    /// Takes `n` tokens at `now` (going into debt if need be) and says how
    /// long the taker must wait for the debt to be paid off.
    pub fn take(&mut self, n: u64, now: Instant) -> Duration {
        let earned = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.rate) - n as f64;
        self.last = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

struct Limits {
    messages: Option<Mutex<Bucket>>,
    bytes: Option<Mutex<Bucket>>,
}

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Sets the limits for this process (once, before connecting; later calls
/// are ignored). None means unlimited.
pub fn configure(messages_per_second: Option<u64>, bytes_per_second: Option<u64>) {
    let now = Instant::now();
    let bucket = |rate: Option<u64>| rate.map(|r| Mutex::new(Bucket::new(r, now)));
    let _ = LIMITS.set(Limits {
        messages: bucket(messages_per_second),
        bytes: bucket(bytes_per_second),
    });
}

async fn wait_for(bucket: Option<&Mutex<Bucket>>, n: u64) {
    let Some(bucket) = bucket else { return };
    if n == 0 {
        return;
    }
    let wait = bucket
        .lock()
        .expect("a throttle bucket is never poisoned")
        .take(n, Instant::now());
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

/// Waits until `n` more messages may be transferred.
pub async fn messages(n: u64) {
    wait_for(LIMITS.get().and_then(|l| l.messages.as_ref()), n).await;
}

/// Waits until `n` more bytes may be transferred.
pub async fn bytes(n: u64) {
    wait_for(LIMITS.get().and_then(|l| l.bytes.as_ref()), n).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_one_seconds_worth_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, t0);
        assert_eq!(b.take(10, t0), Duration::ZERO);
        // Five more right away: half a second of debt.
        assert_eq!(b.take(5, t0), Duration::from_millis(500));
        // A second later the debt is paid and five more are free.
        assert_eq!(b.take(5, t0 + Duration::from_secs(1)), Duration::ZERO);
    }

    #[test]
    fn idle_time_never_saves_up_more_than_one_second() {
        let t0 = Instant::now();
        let mut b = Bucket::new(100, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.take(100, later), Duration::ZERO);
        assert_eq!(b.take(100, later), Duration::from_secs(1));
    }

    #[test]
    fn a_batch_larger_than_the_rate_waits_for_all_of_it() {
        let t0 = Instant::now();
        let mut b = Bucket::new(20, t0);
        // 1000 messages at 20/s, 20 of them already allowed: 49 s.
        assert_eq!(b.take(1000, t0), Duration::from_secs(49));
    }
}
