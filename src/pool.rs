//! The connections of a run: a small pool of sessions per server
//! (`--connections N`), so that several mailboxes are listed and applied at
//! once. It owns the connections and hands them out; what is done over them
//! is the caller's ([`Pool::each`]).
//!
//! Connections come in *lanes*: one session to A and one to B, so a worker
//! holding a lane can read one side of a mailbox while it writes the other,
//! as a single connection per side always could. The first lane is opened
//! before anything else and its failure ends the run (exit 3). Further
//! lanes are opened only when there is more than one mailbox to work on
//! (never more lanes than mailboxes), concurrently with the work already
//! going on over the first, and only once that work has taken longer than
//! [`EXTRA_LANE_AFTER`] with mailboxes still waiting: a small run does not
//! pay for logins it cannot use — unless the caller knows sooner that
//! several mailboxes need the servers ([`Pool::open_ahead`]: gather, once
//! the LIST-STATUS answer shows them changed). A server may cap
//! connections per user (Dovecot's `mail_max_userip_connections`, Gmail's
//! 15): a lane that cannot be opened is a warning, the run goes on with
//! fewer, and no more are tried in this run.
//!
//! A lane is opened on a task of its own, so that no phase waits for one
//! still logging in once its items are all taken: it is kept, opening,
//! for the next phase (and let go at the end). Everything else runs on
//! the caller's task (no `Send` bounds): workers are futures polled together, so their IO overlaps while
//! the state they share (the snapshot) is never touched from two threads.
//!
//! What it buys is round trips: 50 mailboxes × 200 messages through a
//! proxy adding 10 ms each way took 12.3 s to a first sync and 2.8 s to a
//! no-op rerun with one lane, 4.5 s and 1.1 s with four; on loopback (both
//! cores busy) 2.15 → 1.96 s and 0.43 → 0.52 s, the extra logins costing
//! more than they save (`scripts/bench-connections`, docs/PERFORMANCE.md).

use crate::imap::{ConnectSpec, Connection, ImapError};
use crate::model::Side;
use std::cell::{Cell, RefCell};

/// One session to each side, indexed by [`Side::index`].
pub type Lane = [Connection; 2];

/// A lane being opened on its own task.
type Opening = tokio::task::JoinHandle<Result<Lane, Vec<ImapError>>>;

/// The most connections per server `--connections` accepts.
pub const MAX_CONNECTIONS: u32 = 16;

/// `--connections` when neither the command line nor the config file says:
/// well under Dovecot's default `mail_max_userip_connections` (10 per user
/// and client address, shared with the user's own mail clients) and
/// Gmail's 15 per account.
pub const DEFAULT_CONNECTIONS: u32 = 4;

/// How long the first lanes work before another is opened: longer than a
/// small run takes, short beside the round trips a remote server's
/// mailboxes cost one after the other.
pub const EXTRA_LANE_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

/// [`EXTRA_LANE_AFTER`], or for tests that must see extra lanes whatever
/// the machine's speed, `IMAPMEND_TEST_EXTRA_LANE_AFTER_MS`.
fn extra_lane_after() -> std::time::Duration {
    std::env::var("IMAPMEND_TEST_EXTRA_LANE_AFTER_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(EXTRA_LANE_AFTER, std::time::Duration::from_millis)
}

/// The lanes of a run.
pub struct Pool {
    endpoints: [ConnectSpec; 2],
    /// Open lanes; the first one is the run's first connection to each side.
    lanes: Vec<Lane>,
    /// The most lanes to have; lowered to what is open once a server
    /// refuses one more.
    size: usize,
    /// Lanes being opened, for the next worker that needs one.
    opening: Vec<Opening>,
}

impl Pool {
    /// Opens the first lane (both sides at once). On failure, the error of
    /// each side that failed.
    pub async fn connect(endpoints: &[ConnectSpec; 2], size: u32) -> Result<Pool, Vec<ImapError>> {
        let lane = open_lane(endpoints, Login::First).await?;
        Ok(Pool {
            endpoints: endpoints.clone(),
            lanes: vec![lane],
            size: size.clamp(1, MAX_CONNECTIONS) as usize,
            opening: Vec::new(),
        })
    }

    /// Starts opening the lanes `mailboxes` to work on can use (up to
    /// `--connections`, the ones open or opening counted) now, without
    /// waiting for them: the caller knows the work is there.
    pub fn open_ahead(&mut self, mailboxes: usize) {
        let wanted = self.size.min(mailboxes);
        let have = self.lanes.len() + self.opening.len();
        for _ in have..wanted {
            self.opening
                .push(spawn_lane(&self.endpoints, self.enables()));
        }
    }

    /// The first lane: the one the trees are listed over, and the one that
    /// does what must be done in order (subscriptions, mailbox deletions).
    pub fn first(&mut self) -> &mut Lane {
        &mut self.lanes[0]
    }

    /// What the first lane's logins called for enabling, per side: a
    /// further lane sends it in its login's flight.
    fn enables(&self) -> [Option<&'static str>; 2] {
        Side::BOTH.map(|side| self.lanes[0][side.index()].enable_wanted())
    }

    /// A connection that died, and why, if one did.
    pub fn lost(&self) -> Option<String> {
        self.lanes.iter().flatten().find_map(|c| {
            c.death()
                .map(|why| format!("the connection to {} was lost ({why})", c.peer()))
        })
    }

    /// Replaces every dead connection with a new one. An extra lane that
    /// cannot be mended is let go (the run goes on with fewer); if the first
    /// cannot, a whole lane takes its place, else it stays dead, so the next
    /// session fails what it held.
    pub async fn reconnect(&mut self) {
        for lane in &mut self.lanes {
            for side in Side::BOTH {
                if lane[side.index()].is_alive() {
                    continue;
                }
                match Connection::connect(&self.endpoints[side.index()]).await {
                    Ok(c) => {
                        let old = std::mem::replace(&mut lane[side.index()], c);
                        old.logout().await;
                    }
                    Err(e) => eprintln!("imapmend: reconnecting: {e}"),
                }
            }
        }
        let alive = |lane: &Lane| lane.iter().all(Connection::is_alive);
        if !alive(&self.lanes[0]) {
            if let Some(whole) = self.lanes.iter().position(alive) {
                self.lanes.swap(0, whole);
            }
        }
        let mut kept = vec![self.lanes.remove(0)];
        for lane in std::mem::take(&mut self.lanes) {
            if alive(&lane) {
                kept.push(lane);
            } else {
                logout_lane(lane).await;
                self.size = self.size.min(kept.len());
            }
        }
        self.lanes = kept;
    }

    /// Logs every session out (a lane still being opened is let go).
    pub async fn logout(self) {
        for opening in &self.opening {
            opening.abort();
        }
        futures_util::future::join_all(self.lanes.into_iter().map(logout_lane)).await;
    }

    /// Runs `work` on every item, up to one item per lane at a time, taking
    /// items in order; the results come back in the items' order. Lanes are
    /// added (up to `--connections`, at most one per item) while the first
    /// ones already work. A worker whose lane died takes no further item
    /// while another worker still can; the last one goes on (its items fail
    /// fast, as on a single connection), so every item gets its result.
    pub async fn each<T, R>(
        &mut self,
        items: Vec<T>,
        work: impl AsyncFn(&mut Lane, T) -> R,
    ) -> Vec<R> {
        let count = items.len();
        let queue = RefCell::new(items.into_iter().enumerate());
        let results: RefCell<Vec<Option<R>>> = RefCell::new((0..count).map(|_| None).collect());
        // Workers with a lane, taking items.
        let working = Cell::new(0usize);
        let opened: RefCell<Vec<Lane>> = RefCell::new(Vec::new());
        let refusals: RefCell<Vec<ImapError>> = RefCell::new(Vec::new());
        let endpoints = &self.endpoints;
        let enables = self.enables();
        let wanted = self.size.min(count).max(1);
        let to_open = wanted.saturating_sub(self.lanes.len());
        let opening = RefCell::new(std::mem::take(&mut self.opening));

        let worker = async |existing: Option<&mut Lane>| {
            let mut own = None;
            let lane: &mut Lane = match existing {
                Some(lane) => lane,
                None => {
                    // Extra lanes are for work that proves long: a run whose
                    // mailboxes are all taken within EXTRA_LANE_AFTER (a
                    // no-op, a small incremental) logs in no more than once
                    // per side. A lane opened later is kept for the next
                    // phase (apply after listing) even if it finds nothing
                    // left to take now.
                    let all_taken = async {
                        while queue.borrow().len() > 0 {
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        }
                    };
                    let asked = opening.borrow_mut().pop();
                    let mut lane = match asked {
                        // Asked for ahead: no waiting.
                        Some(lane) => lane,
                        None => {
                            tokio::select! {
                                () = tokio::time::sleep(extra_lane_after()) => {}
                                () = all_taken => return,
                            }
                            if queue.borrow().len() == 0 || !refusals.borrow().is_empty() {
                                return;
                            }
                            spawn_lane(endpoints, enables)
                        }
                    };
                    // Every item taken before it is open: kept, still
                    // opening, for the next phase.
                    let all_taken = async {
                        while queue.borrow().len() > 0 {
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        }
                    };
                    let opened = tokio::select! {
                        opened = &mut lane => opened,
                        () = all_taken => return opening.borrow_mut().push(lane),
                    };
                    match opened {
                        Ok(Ok(lane)) => own.insert(lane),
                        Ok(Err(errors)) => return refusals.borrow_mut().extend(errors),
                        Err(e) => return eprintln!("imapmend: opening a connection: {e}"),
                    }
                }
            };
            working.set(working.get() + 1);
            loop {
                let dead = lane.iter().any(|c| !c.is_alive());
                if dead && working.get() > 1 {
                    break;
                }
                let Some((at, item)) = queue.borrow_mut().next() else {
                    break;
                };
                let result = work(lane, item).await;
                results.borrow_mut()[at] = Some(result);
            }
            working.set(working.get() - 1);
            if let Some(lane) = own {
                opened.borrow_mut().push(lane);
            }
        };
        let workers = self
            .lanes
            .iter_mut()
            .take(wanted)
            .map(Some)
            .chain((0..to_open).map(|_| None))
            .map(&worker);
        futures_util::future::join_all(workers).await;
        self.lanes.extend(opened.into_inner());
        self.opening = opening.into_inner();
        let refusals = refusals.into_inner();
        if let Some(first) = refusals.first() {
            // A server that caps connections says so on every extra one:
            // one line, and no more attempts in this run.
            self.size = self.lanes.len();
            eprintln!(
                "imapmend: warning: {} more connection(s) could not be opened ({first}); \
                 going on with {} per server",
                refusals.len(),
                self.size
            );
        }
        results
            .into_inner()
            .into_iter()
            .map(|r| r.expect("the last worker takes every item left"))
            .collect()
    }
}

/// [`open_lane`] on a task of its own.
fn spawn_lane(endpoints: &[ConnectSpec; 2], enables: [Option<&'static str>; 2]) -> Opening {
    let endpoints = endpoints.clone();
    tokio::spawn(async move { open_lane(&endpoints, Login::Again(enables)).await })
}

/// How a lane's sessions log in.
#[derive(Clone, Copy)]
enum Login {
    /// The run's first lane: its first command lists the trees
    /// ([`Connection::connect_listing`]).
    First,
    /// A further lane: each side's ENABLE, as the first lane's login
    /// called for it, rides in the login's flight
    /// ([`Connection::connect_again`]).
    Again([Option<&'static str>; 2]),
}

async fn log_in(spec: &ConnectSpec, login: Login) -> Result<Connection, ImapError> {
    match login {
        Login::First => Connection::connect_listing(spec).await,
        Login::Again(enables) => Connection::connect_again(spec, enables[spec.side.index()]).await,
    }
}

/// Opens one session to each side, both at once; a session opened while
/// the other side failed is logged out.
async fn open_lane(endpoints: &[ConnectSpec; 2], login: Login) -> Result<Lane, Vec<ImapError>> {
    let (a, b) = tokio::join!(log_in(&endpoints[0], login), log_in(&endpoints[1], login));
    match (a, b) {
        (Ok(a), Ok(b)) => Ok([a, b]),
        (Ok(c), Err(e)) | (Err(e), Ok(c)) => {
            c.logout().await;
            Err(vec![e])
        }
        (Err(a), Err(b)) => Err(vec![a, b]),
    }
}

async fn logout_lane([a, b]: Lane) {
    tokio::join!(a.logout(), b.logout());
}
