//! Issue 5, against real Dovecot servers: what the network, the servers and
//! other runs throw at imapmend, one module per area in `tests/robustness/`
//! (modules of this one binary, so its tests share one server per kind,
//! with fresh users per test):
//!
//! - **Cut connections** (`cuts`): one side is reached through a loopback
//!   proxy that drops the connection after N bytes, either way,
//!   mid-literal included. The run reconnects, lists again and converges
//!   to the oracle in that same run (exit 0); a cut while first connecting
//!   ends it with exit 3 and an error naming the side and server, and a
//!   rerun converges. Never a hang, never a panic. A cut on a pooled
//!   connection (`--connections`) likewise.
//! - **Stalls** (`cuts`): the proxy stops forwarding without closing; the
//!   engine's read timeout (shortened for tests by
//!   `IMAPMEND_TEST_READ_TIMEOUT_SECS`) ends that connection, and the run
//!   reconnects and converges.
//! - **Hostile bytes from a real session** (`hostile`): a proxy rewrites
//!   Dovecot's `INTERNALDATE "…"` into `INTERNALDATE NIL` (imap-proto
//!   panics on it): a clear error, no panic message on stderr.
//! - **Floods** (`floods`): a fake server answers one command with an
//!   endless stream of what it collects; the binary stops at that
//!   command's bound (exit 3 before any mailbox was listed, else 2) under
//!   100 MB peak RSS (E18–E30).
//! - **Concurrency** (`concurrency`): a second run on a snapshot in use is
//!   refused (exit 4 for sync and plan, 3 for check) while the first holds
//!   it, paused at the proxy; a killed holder does not block the next run.
//!   Mail arriving and flags changing on both servers while a sync runs
//!   (C1) are not lost: after one more quiet run A equals B.
//! - **Secrets** (`secrets`): refused logins, bad URLs, failing password
//!   commands, `-vv` and `--json` never print a password; `-vvv` (every
//!   command and response) shows neither a password nor a message body.
//! - **Refusals and size limits** (`refusals`): a message the target
//!   refuses is reported with the server's words and never taken for
//!   deleted; `--max-size` and APPENDLIMIT skip what cannot fit (E10, I9,
//!   I10, I11).
//! - **Receipts** (`receipts`): a copy removed from the target before its
//!   APPENDUID receipt was confirmed is copied again, never deleted on the
//!   other side (E14).

mod support;

#[path = "robustness/concurrency.rs"]
mod concurrency;
#[path = "robustness/cuts.rs"]
mod cuts;
#[path = "robustness/floods.rs"]
mod floods;
#[path = "robustness/hostile.rs"]
mod hostile;
#[path = "robustness/receipts.rs"]
mod receipts;
#[path = "robustness/refusals.rs"]
mod refusals;
#[path = "robustness/secrets.rs"]
mod secrets;

// What every area module takes with `use super::*`.
use std::time::{Duration, Instant};

use support::dovecot::{self, Kind};
use support::generator::{Generator, Rng};
use support::imapmend::{in_parallel, Outcome, Pair};
use support::mail::{msg_of_size, DATE};
use support::mailclient::MailClient;
use support::oracle::{self, SideState};
use support::proxy::{self, Dir, Fault, Proxy};

/// Looks a message up on a side by content.
fn uid_of(c: &mut MailClient, mailbox: &str, content: &[u8]) -> u32 {
    let want = oracle::fingerprint(content);
    c.fetch_all(mailbox)
        .into_iter()
        .find(|m| oracle::fingerprint(&m.body) == want)
        .unwrap_or_else(|| panic!("message not found in {mailbox}"))
        .uid
}
