//! docs/SCENARIOS.md, end to end: `imapmend sync` between two real Dovecot
//! servers, judged by the strong oracle on both sides. The harness is
//! `scenarios/harness/` (states, the case, running the binary); the
//! tables, one module per area, are the files of `tests/scenarios/`
//! (modules of this binary, so they share its servers; cargo does not take
//! them for targets).
//!
//! Every case is data, in the style of mbsync's test tables:
//!
//! ```text
//! Case::new("f5")
//!     .snapshot("INBOX: m1(\\Flagged)")            // seeded on A, then `imapmend sync`
//!     .a("INBOX: m1(\\Answered \\Flagged)")         // A's state afterwards
//!     .b("INBOX: m1(\\Seen)")                       // B's state afterwards
//!     .expect("INBOX: m1(\\Answered \\Seen)")       // both sides after `sync`
//!     .run();
//! ```
//!
//! A state lists mailboxes separated by `;`, each `NAME: msg msg …`; a
//! message is a content name (`m1`, `noid`, `g17`…, see
//! [`state::standard_content`]) with optional flags in parentheses and an
//! optional INTERNALDATE `@d1`. Side states are declarative: the harness
//! appends, re-flags and expunges through the test client until the side
//! looks like that.
//!
//! Each run uses fresh users, runs `sync` and asserts both sides equal the
//! expected state (and that INTERNALDATEs travelled), then `plan` must exit 0,
//! `check` must exit 0, and a second `sync` must make no IMAP writes (UIDNEXT,
//! MESSAGES and, where CONDSTORE is on, HIGHESTMODSEQ unchanged). Unless a
//! case says otherwise it runs twice: as written, and with `--a`/`--b`
//! swapped on the command line (symmetry; `--prefer a|b` is swapped too).

mod support;

#[path = "scenarios/harness/case.rs"]
mod case;
#[path = "scenarios/harness/run.rs"]
mod run;
#[path = "scenarios/harness/state.rs"]
mod state;

// What every table (and harness) module takes with `use super::*`.
use case::*;
use run::*;
use state::*;
use std::process::Command;
use std::time::{Duration, Instant};
use support::dovecot::{self, Kind, User};
use support::generator::Generator;
use support::{corpus, oracle};

#[path = "scenarios/deletions.rs"]
mod deletions;
#[path = "scenarios/existence.rs"]
mod existence;
#[path = "scenarios/flags.rs"]
mod flags;
#[path = "scenarios/history.rs"]
mod history;
#[path = "scenarios/identity.rs"]
mod identity;
#[path = "scenarios/one_way.rs"]
mod one_way;
#[path = "scenarios/repair.rs"]
mod repair;
#[path = "scenarios/restore.rs"]
mod restore;
#[path = "scenarios/uidvalidity.rs"]
mod uidvalidity;
#[path = "scenarios/volume.rs"]
mod volume;
