//! Fingerprinting fetched bodies off the async threads, with a bound on
//! the bytes fetched and not yet hashed.
//!
//! A body fetch hands bodies over as fast as the server sends them. When
//! that outruns hashing (a repair resync reads both servers at once), the
//! bodies would pile up in memory. [`Hashers`] keeps a budget of bytes: the
//! fetcher reserves room before it asks for a batch — an async wait, so no
//! async thread is ever blocked, and the server is simply not asked for
//! more — and each body gives its room back once hashed. Hashing runs on a
//! few threads of its own that sleep on a channel between bodies (spawning
//! a rayon job per body kept rayon's idle workers spinning).

use crate::fingerprint::fingerprint;
use crate::model::{Fingerprint, Uid};
use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::Semaphore;

/// One body to hash, and the room it holds in the budget.
struct Job {
    uid: Uid,
    body: Vec<u8>,
    room: u32,
}

/// A few hashing threads and the budget of bytes waiting for them.
pub struct Hashers {
    jobs: Option<mpsc::Sender<Job>>,
    /// Where fingerprints go (the threads hold clones).
    finished: mpsc::Sender<(Uid, Fingerprint)>,
    /// In a mutex only so that a fetch callback may hold `&Hashers`.
    done: Mutex<mpsc::Receiver<(Uid, Fingerprint)>>,
    room: Arc<Semaphore>,
    budget: u32,
    workers: Vec<JoinHandle<()>>,
}

impl Hashers {
    /// `budget`: bytes that may be fetched and not yet hashed (at least 1).
    pub fn new(budget: u32, threads: usize) -> Hashers {
        let budget = budget.max(1);
        let room = Arc::new(Semaphore::new(budget as usize));
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let (finished, done) = mpsc::channel();
        let workers = (0..threads.max(1))
            .map(|_| {
                let (queue, finished, room) = (queue.clone(), finished.clone(), room.clone());
                std::thread::spawn(move || loop {
                    // The lock is held only while waiting for the next job.
                    let next = queue.lock().map(|q| q.recv());
                    let Ok(Ok(job)) = next else { break };
                    let fp = fingerprint(&job.body);
                    drop(job.body);
                    room.add_permits(job.room as usize);
                    if finished.send((job.uid, fp)).is_err() {
                        break;
                    }
                })
            })
            .collect();
        Hashers {
            jobs: Some(jobs),
            finished,
            done: Mutex::new(done),
            room,
            budget,
            workers,
        }
    }

    /// The room a body of this (listed) size takes: its size, but never
    /// more than the whole budget, so that a message larger than the budget
    /// is fetched alone rather than never.
    pub fn cost(&self, size: u32) -> u32 {
        size.min(self.budget)
    }

    /// The whole budget.
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// Waits until `room` bytes (at most the budget) are free, and takes them.
    pub async fn reserve(&self, room: u32) {
        self.room
            .acquire_many(room.min(self.budget))
            .await
            .expect("the budget is never closed")
            .forget();
    }

    /// Hands one body to the hashing threads with the room reserved for
    /// it, which they give back once it is hashed. Never blocks.
    pub fn submit(&self, uid: Uid, body: Vec<u8>, room: u32) {
        let job = Job { uid, body, room };
        let sent = match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|mpsc::SendError(job)| job),
            None => Err(job),
        };
        if let Err(job) = sent {
            // No hashing thread is left (only a panic ends one early): hash
            // here rather than lose a fingerprint, which would read as a
            // message gone from the server.
            let _ = self.finished.send((job.uid, fingerprint(&job.body)));
            self.room.add_permits(job.room as usize);
        }
    }

    /// Gives back room reserved for bodies that never came.
    pub fn give_back(&self, room: u32) {
        self.room.add_permits(room as usize);
    }

    /// Waits (off the async threads) until every body handed over is
    /// hashed, and returns the fingerprints.
    pub async fn finish(self) -> HashMap<Uid, Fingerprint> {
        let Hashers {
            jobs,
            done,
            workers,
            ..
        } = self;
        drop(jobs); // the threads stop once the queue is empty
        tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
            }
            let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
            done.try_iter().collect()
        })
        .await
        .expect("collecting fingerprints never panics")
    }
}

/// How many hashing threads: one per core, at most four.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
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
            let h = Hashers::new(100, 2);
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
            assert_eq!(h.room.available_permits(), 0);
            h.give_back(h.budget());
            h.finish().await
        });
        assert_eq!(fps.len(), 51);
        for uid in 1..=50u32 {
            assert_eq!(
                fps[&uid],
                fingerprint(format!("message {uid}\r\n").as_bytes())
            );
        }
        assert_eq!(fps[&51], fingerprint(b"last\r\n"));
    }

    /// Whether `f` is still waiting after one poll.
    fn pending<F: std::future::Future>(f: F) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::pin!(f).poll(&mut cx).is_pending()
    }

    #[test]
    fn the_fetcher_waits_while_the_budget_is_taken_and_not_longer() {
        block(async {
            let h = Hashers::new(100, 1);
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
            assert_eq!(h.room.available_permits(), 100);
            assert_eq!(h.finish().await.len(), 1);
        });
    }

    #[test]
    fn a_message_larger_than_the_budget_goes_alone() {
        let fps = block(async {
            let h = Hashers::new(10, 1);
            let room = h.cost(1000);
            assert_eq!(room, 10);
            h.reserve(room).await;
            h.submit(7, vec![b'y'; 1000], room);
            h.finish().await
        });
        assert_eq!(fps[&7], fingerprint(&[b'y'; 1000]));
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
