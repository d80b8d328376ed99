//! Fingerprinting fetched bodies off the async threads, with a bound on
//! the bytes fetched and not yet hashed.
//!
//! A body fetch hands bodies over as fast as the server sends them. When
//! that outruns hashing (a repair resync reads both servers at once, and
//! the pool several mailboxes), the bodies would pile up in memory. The
//! process has one budget of bytes ([`BUDGET`]): a fetcher reserves room
//! before it asks for a run of bodies — an async wait, so no async thread
//! is ever blocked, and the server is simply not asked for more — and each
//! body gives its room back once hashed. Hashing runs on a few threads of
//! the process's own that sleep on a channel between bodies (spawning a
//! rayon job per body kept rayon's idle workers spinning). [`Hashers`] is
//! one fetcher's view: its bodies go in, its fingerprints come out.

use crate::fingerprint::fingerprints;
use crate::header_key::{header_key, HeaderKey};
use crate::model::{Fingerprint, Uid};

/// What hashing one body gives: its exact and its normalised fingerprint,
/// and its header key (read in the same pass over the header: what
/// `--identity headers` pairs by, read only where that is on). Held for
/// every body a full listing reads until the listing is assembled, so it
/// is kept small: the key, rarely wanted, is boxed (72 bytes, not 136).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub exact: Fingerprint,
    pub normalised: Fingerprint,
    pub headers: Option<Box<HeaderKey>>,
}

/// Hashes one body; its header key only with `headers`.
pub fn hash(body: &[u8], headers: bool) -> Hashed {
    let (exact, normalised) = fingerprints(body);
    Hashed {
        exact,
        normalised,
        headers: headers.then(|| header_key(body).map(Box::new)).flatten(),
    }
}
#[cfg(test)]
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use tokio::sync::Semaphore;

/// Bytes of bodies the whole process may hold fetched and not yet hashed.
pub const BUDGET: u32 = 16 * 1024 * 1024;

/// One body to hash, the room it holds in the budget, and where its
/// fingerprint goes.
struct Job {
    uid: Uid,
    body: Vec<u8>,
    headers: bool,
    room: u32,
    reply: mpsc::Sender<(Uid, Hashed)>,
}

/// Hashing threads and their budget.
struct Service {
    jobs: mpsc::Sender<Job>,
    room: Arc<Semaphore>,
    budget: u32,
}

impl Service {
    /// Starts `threads` hashing threads; they stop once the service (its
    /// sender) is dropped and the queue is empty.
    fn start(budget: u32, threads: usize) -> Arc<Service> {
        let budget = budget.max(1);
        let room = Arc::new(Semaphore::new(budget as usize));
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..threads.max(1) {
            let (queue, room) = (queue.clone(), room.clone());
            std::thread::spawn(move || loop {
                // The lock is held only while waiting for the next job.
                let next = queue.lock().map(|q| q.recv());
                let Ok(Ok(job)) = next else { break };
                let fp = hash(&job.body, job.headers);
                drop(job.body);
                room.add_permits(job.room as usize);
                let _ = job.reply.send((job.uid, fp));
            });
        }
        Arc::new(Service { jobs, room, budget })
    }
}

/// The process's hashing threads (one per core, at most four) and budget,
/// started on first use.
fn shared() -> Arc<Service> {
    static SHARED: OnceLock<Arc<Service>> = OnceLock::new();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    SHARED
        .get_or_init(|| Service::start(BUDGET, threads))
        .clone()
}

/// One fetcher's bodies on their way to the hashing threads.
pub struct Hashers {
    service: Arc<Service>,
    reply: mpsc::Sender<(Uid, Hashed)>,
    /// In a mutex only so that a fetch callback may hold `&Hashers`.
    done: Mutex<mpsc::Receiver<(Uid, Hashed)>>,
    submitted: AtomicUsize,
    /// Fingerprints taken out by [`Hashers::drain_into`] so far.
    drained: AtomicUsize,
    /// Whether each body's header key is read too.
    headers: bool,
}

impl Hashers {
    /// On the process's hashing threads, under its budget.
    pub fn new() -> Hashers {
        Hashers::on(shared())
    }

    fn on(service: Arc<Service>) -> Hashers {
        let (reply, done) = mpsc::channel();
        Hashers {
            service,
            reply,
            done: Mutex::new(done),
            submitted: AtomicUsize::new(0),
            drained: AtomicUsize::new(0),
            headers: false,
        }
    }

    /// Reads each body's header key too (`--identity headers`).
    pub fn with_headers(self, headers: bool) -> Hashers {
        Hashers { headers, ..self }
    }

    /// The room a body of this (listed) size takes: its size, but never
    /// more than the whole budget, so that a message larger than the budget
    /// is fetched alone rather than never.
    pub fn cost(&self, size: u32) -> u32 {
        size.min(self.service.budget)
    }

    /// The whole budget.
    pub fn budget(&self) -> u32 {
        self.service.budget
    }

    /// Waits until `room` bytes (at most the budget) are free, and takes them.
    pub async fn reserve(&self, room: u32) {
        self.service
            .room
            .acquire_many(room.min(self.service.budget))
            .await
            .expect("the budget is never closed")
            .forget();
    }

    /// Hands one body to the hashing threads with the room reserved for
    /// it, which they give back once it is hashed. Never blocks.
    pub fn submit(&self, uid: Uid, body: Vec<u8>, room: u32) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
        let reply = self.reply.clone();
        if let Err(mpsc::SendError(job)) = self.service.jobs.send(Job {
            uid,
            body,
            headers: self.headers,
            room,
            reply,
        }) {
            // No hashing thread is left (only a panic ends one): hash here
            // rather than lose a fingerprint.
            let _ = job.reply.send((job.uid, hash(&job.body, job.headers)));
            self.service.room.add_permits(job.room as usize);
        }
    }

    /// Gives back room reserved for bodies that never came.
    pub fn give_back(&self, room: u32) {
        self.service.room.add_permits(room as usize);
    }

    /// Moves the fingerprints hashed so far `into` the map (or any other
    /// sink: the gather writes them into the listing's records), without
    /// waiting: a long fetch calls it between runs, so that what is hashed
    /// does not pile up in the channel (a second copy of every fingerprint
    /// until [`Hashers::finish_into`]).
    pub fn drain_into(&self, into: &mut impl Extend<(Uid, Hashed)>) {
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let mut moved = 0;
        into.extend(done.try_iter().inspect(|_| moved += 1));
        self.drained.fetch_add(moved, Ordering::Relaxed);
    }

    /// Waits (off the async threads) until every body handed over is
    /// hashed, and returns the fingerprints. An error if any was lost (a
    /// hashing thread died with it): a missing fingerprint would read as a
    /// message gone from the server.
    #[cfg(test)]
    pub async fn finish(self) -> Result<HashMap<Uid, Hashed>, String> {
        let mut got = HashMap::new();
        self.finish_into(&mut got).await?;
        Ok(got)
    }

    /// [`Hashers::finish`], the fingerprints put `into` the map or sink
    /// (which may hold others: UIDs handed over here must not be among
    /// them). What is still on its way is waited for off the async threads
    /// (at most the last run's: [`Hashers::drain_into`] took the rest).
    pub async fn finish_into(self, into: &mut impl Extend<(Uid, Hashed)>) -> Result<(), String> {
        let Hashers {
            reply,
            done,
            submitted,
            drained,
            ..
        } = self;
        drop(reply); // the receiver ends once every job's reply is dropped
        let submitted = submitted.into_inner();
        let drained = drained.into_inner();
        let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
        let rest: Vec<(Uid, Hashed)> = tokio::task::spawn_blocking(move || done.iter().collect())
            .await
            .map_err(|e| format!("collecting fingerprints failed: {e}"))?;
        let got = rest.len() + drained;
        into.extend(rest);
        if got != submitted {
            return Err(format!(
                "{} of {submitted} bodies were handed to hashing and came back without a fingerprint",
                submitted - got.min(submitted)
            ));
        }
        Ok(())
    }
}

impl Default for Hashers {
    fn default() -> Hashers {
        Hashers::new()
    }
}

/// Splits `(uid, listed size)` into runs whose cost (by `cost`) adds up to
/// at most `limit` — one message alone when its cost is more.
pub fn runs(items: &[(Uid, u32)], cost: impl Fn(u32) -> u32, limit: u32) -> Vec<&[(Uid, u32)]> {
    let mut out = Vec::new();
    let (mut start, mut sum) = (0, 0u64);
    for (i, (_, size)) in items.iter().enumerate() {
        let c = u64::from(cost(*size));
        if i > start && sum + c > u64::from(limit) {
            out.push(&items[start..i]);
            (start, sum) = (i, 0);
        }
        sum += c;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fingerprint;
    use proptest::prelude::*;

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn every_body_handed_over_is_hashed_even_when_a_fetch_stops_part_way() {
        let fps = block(async {
            let h = Hashers::on(Service::start(100, 2));
            for uid in 1..=50u32 {
                let body = format!("message {uid}\n").into_bytes();
                let room = h.cost(body.len() as u32);
                h.reserve(room).await;
                h.submit(uid, body, room);
            }
            // A batch of three was reserved, one body came, then the
            // connection dropped: the rest of its room is given back.
            h.reserve(30).await;
            h.submit(51, b"last\n".to_vec(), 10);
            h.give_back(20);
            // The budget is whole again once everything is hashed, and no
            // more than whole.
            h.reserve(h.budget()).await;
            assert_eq!(h.service.room.available_permits(), 0);
            h.give_back(h.budget());
            h.finish().await.unwrap()
        });
        assert_eq!(fps.len(), 51);
        for uid in 1..=50u32 {
            assert_eq!(
                fps[&uid].exact,
                fingerprint(format!("message {uid}\r\n").as_bytes())
            );
        }
        assert_eq!(fps[&51].exact, fingerprint(b"last\r\n"));
    }

    /// Whether `f` is still waiting after one poll.
    fn pending<F: std::future::Future>(f: F) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::pin!(f).poll(&mut cx).is_pending()
    }

    #[test]
    fn the_fetcher_waits_while_the_budget_is_taken_and_not_longer() {
        block(async {
            let h = Hashers::on(Service::start(100, 1));
            h.reserve(60).await;
            h.reserve(40).await;
            // Full: asking for more waits (the server is not asked).
            assert!(pending(h.reserve(1)));
            // A body hashed gives its room back; so does one that never came.
            h.submit(1, vec![b'z'; 60], 60);
            h.reserve(60).await;
            h.give_back(40);
            h.reserve(40).await;
            assert!(pending(h.reserve(1)));
            // Nothing leaks, nothing is counted twice: the budget is whole.
            h.give_back(100);
            assert_eq!(h.service.room.available_permits(), 100);
            assert_eq!(h.finish().await.unwrap().len(), 1);
        });
    }

    #[test]
    fn fetchers_sharing_the_threads_and_budget_each_get_their_own_fingerprints() {
        let (a, b) = block(async {
            let service = Service::start(1000, 2);
            let (a, b) = (Hashers::on(service.clone()), Hashers::on(service));
            for uid in 0..100u32 {
                for (h, text) in [(&a, "a"), (&b, "b")] {
                    h.reserve(20).await;
                    h.submit(uid, format!("{text}{uid}").into_bytes(), 20);
                }
            }
            (a.finish().await.unwrap(), b.finish().await.unwrap())
        });
        assert_eq!((a.len(), b.len()), (100, 100));
        assert_eq!(a[&7], hash(b"a7", false));
        assert_eq!(b[&7], hash(b"b7", false));
        // Both fingerprints come back: "b7" lacks a final line break.
        assert_ne!(b[&7].exact, b[&7].normalised);
    }

    #[test]
    fn a_message_larger_than_the_budget_goes_alone() {
        let fps = block(async {
            let h = Hashers::on(Service::start(10, 1));
            let room = h.cost(1000);
            assert_eq!(room, 10);
            h.reserve(room).await;
            h.submit(7, vec![b'y'; 1000], room);
            h.finish().await.unwrap()
        });
        assert_eq!(fps[&7].exact, fingerprint(&[b'y'; 1000]));
    }

    proptest! {
        /// Runs keep every item once, in order, each within the limit
        /// unless it holds one message alone.
        #[test]
        fn runs_cover_everything_within_the_limit(
            sizes in proptest::collection::vec(0u32..5000, 0..60),
            limit in 1u32..8000,
        ) {
            let items: Vec<(Uid, u32)> = sizes.iter().enumerate().map(|(i, s)| (i as Uid, *s)).collect();
            let cost = |s: u32| s.min(limit);
            let split = runs(&items, cost, limit);
            let joined: Vec<(Uid, u32)> = split.iter().flat_map(|r| r.iter().copied()).collect();
            prop_assert_eq!(&joined, &items);
            for r in split {
                prop_assert!(!r.is_empty());
                let sum: u64 = r.iter().map(|(_, s)| u64::from(cost(*s))).sum();
                prop_assert!(sum <= u64::from(limit) || r.len() == 1);
            }
        }
    }
}
