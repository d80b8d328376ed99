//! The scenario harness, the case: a [`Case`] is one scenario as data
//! (states before and after, steps between, the exit codes and checks it
//! expects), run in each orientation it asks for between fresh users; every
//! run gets the same checks (both sides as expected, INTERNALDATEs
//! travelled, `plan` and `check` exit 0, a second `sync` writes nothing,
//! the snapshot agrees).

use super::*;
use std::collections::HashMap;
use std::time::Instant;

use crate::support::oracle::{writes_marker, SideState};

/// What happens to a side after the snapshot.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Make the side look like this state.
    State(String),
    /// Delete and recreate a mailbox with the same messages, flags and
    /// dates: a new UIDVALIDITY, new UIDs, the same content (U1).
    Recreate(String),
    /// Copy the side's Maildir aside / put the copy back (restore stories).
    Backup,
    Restore,
    /// Delete the mailbox and create it again holding this state: a new
    /// UIDVALIDITY and other content (U2).
    RecreateWith(String, String),
    /// Change the side's Maildir behind the server's back (lost flags,
    /// damaged files; see tests/scenarios/repair.rs).
    Disk(fn(&std::path::Path)),
    /// Run `imapmend sync`.
    Sync,
    /// Run `imapmend VERB ARGS` (only these arguments, not the case's) and
    /// expect this exit code and these words in its standard output.
    Imapmend {
        verb: String,
        args: Vec<String>,
        exit: i32,
        says: Vec<String>,
    },
    /// The side must hold exactly this state now (the strong oracle).
    Expect(String),
}

pub(crate) type Hook = fn(&Run);
/// Sees the JSON report of `plan --json` (see [`Run::plan_json`]).
pub(crate) type PlanHook = fn(&Run, &serde_json::Value);

/// What one orientation of a case leaves for the test to compare further.
pub(crate) struct Outcome {
    /// The report of `plan --json` right before the sync under test, when
    /// the case asked for it ([`Case::plan_before`]).
    pub(crate) plan_before: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Orientation {
    AsWritten,
    /// `--a`/`--b` swapped on every run (symmetry).
    Swapped,
    /// Snapshot built as written, the sync under test swapped.
    SwappedAfterSnapshot,
}

/// One scenario.
pub(crate) struct Case {
    name: &'static str,
    kind: Kind,
    snapshot: Option<String>,
    /// What happens after the snapshot, in order, each on side A or B.
    steps: Vec<(Which, Step)>,
    expect: String,
    args: Vec<String>,
    mirror: bool,
    /// Also run with the snapshot built as written and the sync under test
    /// given `--a`/`--b` the other way round.
    swap_after_snapshot: bool,
    /// A and B are two users of one server rather than two servers.
    one_server: bool,
    same_dates: bool,
    /// Expect both sides to equal A as the server holds it right before the
    /// sync (for real mail a server may rewrite on APPEND, e.g. a trailing
    /// bare CR that Dovecot drops).
    expect_seeded_a: bool,
    contents: HashMap<String, Vec<u8>>,
    before_sync: Option<Hook>,
    after_sync: Option<Hook>,
    /// Per-side expected end states where the sides end different
    /// (pending-expunge, withheld deletions, one-way extras).
    expect_a: Option<String>,
    expect_b: Option<String>,
    /// Exit code of the sync under test and of the second sync.
    sync_exit: i32,
    /// Exit code of `plan` after the sync (default: 4 after a sync that
    /// withheld deletions, else 0).
    plan_after_exit: Option<i32>,
    /// Exit code of `check` after the sync: `None` derives it (0 when both
    /// sides are expected equal, else 1); `Some(None)` does not run it.
    check_exit: Option<Option<i32>>,
    /// Run `plan --json` right before the sync under test, expecting this
    /// exit code, and show the report to the hook.
    plan_before: Option<(i32, Option<PlanHook>)>,
    /// This side must not be written by the sync under test nor any run
    /// after it (one-way source): MESSAGES, UIDNEXT, HIGHESTMODSEQ.
    untouched: Option<Which>,
    /// Divergences the snapshot must record after the sync, per side (as
    /// given to the case, not to the command line) and kind.
    divergences: Vec<(Which, &'static str, &'static str, u64)>,
    /// This side cannot be trusted before the sync under test (restored,
    /// UIDVALIDITY changed): `plan` must read it by the full listing, in
    /// these mailboxes (all when empty).
    suspect: Option<(Which, &'static [&'static str])>,
}

impl Case {
    pub(crate) fn new(name: &'static str) -> Case {
        Case {
            name,
            kind: Kind::Full,
            snapshot: None,
            steps: Vec::new(),
            expect: String::new(),
            args: Vec::new(),
            mirror: true,
            swap_after_snapshot: false,
            one_server: false,
            same_dates: true,
            expect_seeded_a: false,
            contents: HashMap::new(),
            before_sync: None,
            after_sync: None,
            expect_a: None,
            expect_b: None,
            sync_exit: 0,
            plan_after_exit: None,
            check_exit: None,
            plan_before: None,
            untouched: None,
            divergences: Vec::new(),
            suspect: None,
        }
    }
    pub(crate) fn kind(mut self, kind: Kind) -> Case {
        self.kind = kind;
        self
    }
    /// State seeded on A and synced to B, so that the snapshot holds it.
    pub(crate) fn snapshot(mut self, spec: impl Into<String>) -> Case {
        self.snapshot = Some(spec.into());
        self
    }
    pub(crate) fn a(mut self, spec: impl Into<String>) -> Case {
        self.steps.push((Which::A, Step::State(spec.into())));
        self
    }
    pub(crate) fn b(mut self, spec: impl Into<String>) -> Case {
        self.steps.push((Which::B, Step::State(spec.into())));
        self
    }
    pub(crate) fn recreate_on_a(mut self, mailbox: &str) -> Case {
        self.steps.push((Which::A, Step::Recreate(mailbox.into())));
        self
    }
    /// Copies B's whole Maildir aside, like a nightly backup.
    pub(crate) fn backup_b(mut self) -> Case {
        self.steps.push((Which::B, Step::Backup));
        self
    }
    /// Replaces B's Maildir with the backup (indexes and UIDs included):
    /// B goes back in time behind the snapshot.
    pub(crate) fn restore_b(mut self) -> Case {
        self.steps.push((Which::B, Step::Restore));
        self
    }
    /// Changes B's Maildir on disk, behind the server's back.
    pub(crate) fn on_b_disk(mut self, change: fn(&std::path::Path)) -> Case {
        self.steps.push((Which::B, Step::Disk(change)));
        self
    }
    /// An `imapmend sync` between the steps (with the case's arguments).
    pub(crate) fn sync_between(mut self) -> Case {
        self.steps.push((Which::A, Step::Sync));
        self
    }
    /// Deletes `mailbox` on A and creates it again holding `spec` (only
    /// that mailbox): a new UIDVALIDITY with other content (U2).
    pub(crate) fn recreate_on_a_with(mut self, mailbox: &str, spec: impl Into<String>) -> Case {
        self.steps
            .push((Which::A, Step::RecreateWith(mailbox.into(), spec.into())));
        self
    }
    /// `imapmend VERB ARGS` between the steps, with only these arguments
    /// (not the case's), expecting `exit` and each of `says` in stdout.
    pub(crate) fn run_between(
        mut self,
        verb: &str,
        args: &[&str],
        exit: i32,
        says: &[&str],
    ) -> Case {
        self.steps.push((
            Which::A,
            Step::Imapmend {
                verb: verb.into(),
                args: args.iter().map(|s| s.to_string()).collect(),
                exit,
                says: says.iter().map(|s| s.to_string()).collect(),
            },
        ));
        self
    }
    /// A must hold exactly this state at this point of the story.
    pub(crate) fn a_is(mut self, spec: impl Into<String>) -> Case {
        self.steps.push((Which::A, Step::Expect(spec.into())));
        self
    }
    /// B must hold exactly this state at this point of the story.
    pub(crate) fn b_is(mut self, spec: impl Into<String>) -> Case {
        self.steps.push((Which::B, Step::Expect(spec.into())));
        self
    }
    /// A's expected end state, where it differs from B's.
    pub(crate) fn expect_a(mut self, spec: impl Into<String>) -> Case {
        self.expect_a = Some(spec.into());
        self
    }
    /// B's expected end state, where it differs from A's.
    pub(crate) fn expect_b(mut self, spec: impl Into<String>) -> Case {
        self.expect_b = Some(spec.into());
        self
    }
    /// The sync under test (and the second sync) exit with this code.
    pub(crate) fn sync_exit(mut self, code: i32) -> Case {
        self.sync_exit = code;
        self
    }
    /// `check` after the sync: expected exit code, or `None` not to run it.
    pub(crate) fn check_exit(mut self, code: Option<i32>) -> Case {
        self.check_exit = Some(code);
        self
    }
    /// `plan --json` right before the sync under test must exit `code`
    /// and report the history path where the kind offers it; `hook` (if
    /// any) inspects the report.
    pub(crate) fn plan_before(mut self, code: i32, hook: Option<PlanHook>) -> Case {
        self.plan_before = Some((code, hook));
        self
    }
    /// This side regressed or changed UIDVALIDITY before the sync under
    /// test: the plan before it must read that side by the full listing in
    /// these mailboxes (all of them when empty).
    pub(crate) fn suspect(mut self, which: Which, mailboxes: &'static [&'static str]) -> Case {
        self.suspect = Some((which, mailboxes));
        self
    }
    /// This side is never written from the sync under test on.
    pub(crate) fn untouched(mut self, which: Which) -> Case {
        self.untouched = Some(which);
        self
    }
    /// After the sync the snapshot records `count` messages of `what`
    /// (`pending-expunge`, …) in `mailbox` on this side.
    pub(crate) fn divergence(
        mut self,
        which: Which,
        mailbox: &'static str,
        what: &'static str,
        count: u64,
    ) -> Case {
        self.divergences.push((which, mailbox, what, count));
        self
    }
    pub(crate) fn expect(mut self, spec: impl Into<String>) -> Case {
        self.expect = spec.into();
        self
    }
    pub(crate) fn args(mut self, args: &[&str]) -> Case {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }
    /// Skip the run with `--a`/`--b` swapped.
    pub(crate) fn no_mirror(mut self) -> Case {
        self.mirror = false;
        self
    }
    pub(crate) fn also_swap_after_snapshot(mut self) -> Case {
        self.swap_after_snapshot = true;
        self
    }
    pub(crate) fn one_server(mut self) -> Case {
        self.one_server = true;
        self
    }
    /// Both sides must end as A was right before the sync.
    pub(crate) fn expect_seeded_a(mut self) -> Case {
        self.expect_seeded_a = true;
        self
    }
    /// The same content may carry different INTERNALDATEs on A and B.
    pub(crate) fn dates_may_differ(mut self) -> Case {
        self.same_dates = false;
        self
    }
    pub(crate) fn content(mut self, name: &str, bytes: Vec<u8>) -> Case {
        self.contents.insert(name.into(), bytes);
        self
    }
    pub(crate) fn before_sync(mut self, hook: Hook) -> Case {
        self.before_sync = Some(hook);
        self
    }
    pub(crate) fn after_sync(mut self, hook: Hook) -> Case {
        self.after_sync = Some(hook);
        self
    }

    pub(crate) fn bytes(&self, name: &str) -> Vec<u8> {
        let bytes = self
            .contents
            .get(name)
            .cloned()
            .unwrap_or_else(|| standard_content(name));
        oracle::name_content(&bytes, name);
        bytes
    }

    /// Runs every orientation the case asks for; one outcome each, the
    /// orientation as written first.
    pub(crate) fn run(self) -> Vec<Outcome> {
        let mut outcomes = vec![self.run_oriented(Orientation::AsWritten)];
        if self.mirror {
            outcomes.push(self.run_oriented(Orientation::Swapped));
        }
        if self.swap_after_snapshot {
            outcomes.push(self.run_oriented(Orientation::SwappedAfterSnapshot));
        }
        outcomes
    }

    pub(crate) fn run_oriented(&self, orientation: Orientation) -> Outcome {
        let what = format!(
            "{} [{:?}{}{}]",
            self.name,
            self.kind,
            if self.one_server { ", one server" } else { "" },
            match orientation {
                Orientation::AsWritten => "",
                Orientation::Swapped => ", A/B swapped",
                Orientation::SwappedAfterSnapshot => ", A/B swapped after the snapshot",
            }
        );
        let started = Instant::now();
        let stage = |name: &str| eprintln!("[{what}] {name} at {:?}", started.elapsed());
        let (a, b) = if self.one_server {
            dovecot::pair_on_one_server(self.kind)
        } else {
            dovecot::pair(self.kind)
        };
        let mut run = Run::new(a, b, orientation == Orientation::Swapped, &what);
        stage("users ready");

        if let Some(spec) = &self.snapshot {
            let state = parse_state(spec);
            self.make_side(&run.a, &state);
            run.expect_exit("sync", &self.args, 0, "building the snapshot");
            let expected = self.side_state(&state);
            let (sa, sb) = (oracle::read_side(&run.a), oracle::read_side(&run.b));
            oracle::assert_state(
                &format!("{what}: A after the snapshot sync"),
                &sa,
                &expected,
            );
            oracle::assert_state(
                &format!("{what}: B after the snapshot sync"),
                &sb,
                &expected,
            );
        }
        if orientation == Orientation::SwappedAfterSnapshot {
            // The snapshot was made with A and B the other way round: the
            // tool must recognise its endpoints, swapped (docs/OPTIONS.md).
            run.swapped = true;
        }
        for (which, step) in &self.steps {
            let user = match which {
                Which::A => &run.a,
                Which::B => &run.b,
            };
            let backup = run.dir.path().join(format!("backup-{which:?}"));
            match step {
                Step::State(spec) => self.make_side(user, &parse_state(spec)),
                Step::Recreate(mailbox) => recreate_mailbox(user, mailbox),
                Step::Backup => copy_tree(&user.maildir(), &backup),
                Step::Restore => {
                    std::fs::remove_dir_all(user.maildir()).unwrap();
                    copy_tree(&backup, &user.maildir());
                }
                Step::RecreateWith(mailbox, spec) => recreate_mailbox_with(user, mailbox, || {
                    self.make_side(user, &parse_state(spec))
                }),
                Step::Disk(change) => change(&user.maildir()),
                Step::Sync => run.expect_exit("sync", &self.args, 0, "a sync between steps"),
                Step::Imapmend {
                    verb,
                    args,
                    exit,
                    says,
                } => {
                    let (code, stdout, stderr) = run.imapmend(verb, args);
                    assert_eq!(
                        code, *exit,
                        "{what}: `imapmend {verb} {}` between steps exited {code}, expected {exit}\n{stdout}{stderr}",
                        args.join(" ")
                    );
                    for words in says {
                        assert!(
                            stdout.contains(words.as_str()),
                            "{what}: `imapmend {verb}` should say {words:?}:\n{stdout}"
                        );
                    }
                }
                Step::Expect(spec) => oracle::assert_state(
                    &format!("{what}: {which:?} during the story"),
                    &oracle::read_side(user),
                    &self.side_state(&parse_state(spec)),
                ),
            }
        }
        stage("sides seeded");
        if let Some(hook) = self.before_sync {
            hook(&run);
        }
        let mut outcome = Outcome { plan_before: None };
        if let Some((code, hook)) = self.plan_before {
            let (got, report) = run.plan_json(&self.args);
            assert_eq!(
                got, code,
                "{what}: `plan` before the sync exited {got}, expected {code}\n{report:#}"
            );
            run.assert_listing_paths(
                &report,
                "plan before the sync under test",
                self.snapshot.is_some(),
                self.suspect,
            );
            if let Some(hook) = hook {
                hook(&run, &report);
            }
            outcome.plan_before = Some(report);
        }
        let seeded_a = self.expect_seeded_a.then(|| oracle::read_side(&run.a));
        let untouched = self.untouched.map(|which| {
            let user = run.user(which);
            (which, user, writes_marker(user))
        });

        run.expect_exit("sync", &self.args, self.sync_exit, "the sync under test");

        let spec_a = self.expect_a.as_deref().unwrap_or(&self.expect);
        let spec_b = self.expect_b.as_deref().unwrap_or(&self.expect);
        let (state_a, state_b) = (parse_state(spec_a), parse_state(spec_b));
        let expected_a = seeded_a
            .clone()
            .unwrap_or_else(|| self.side_state(&state_a));
        let expected_b = seeded_a.unwrap_or_else(|| self.side_state(&state_b));
        let (mut da, mut db) = (Dates::new(), Dates::new());
        let sa = oracle::read_side_visiting(&run.a, |mailbox, m| note_date(&mut da, mailbox, m));
        let sb = oracle::read_side_visiting(&run.b, |mailbox, m| note_date(&mut db, mailbox, m));
        oracle::assert_state(&format!("{what}: A"), &sa, &expected_a);
        oracle::assert_state(&format!("{what}: B"), &sb, &expected_b);
        stage("oracle passed");
        let agree = expected_a == expected_b;
        self.check_dates(&run, [&state_a, &state_b], agree, da, db);
        stage("dates checked");
        if let Some(hook) = self.after_sync {
            hook(&run);
        }

        let plan_after = self
            .plan_after_exit
            .unwrap_or(if self.sync_exit == 4 { 4 } else { 0 });
        let (got, report) = run.plan_json(&self.args);
        assert_eq!(
            got, plan_after,
            "{what}: `plan` after the sync exited {got}, expected {plan_after}\n{report:#}"
        );
        // No-op plans read every side by history where CONDSTORE is on (a
        // guard that withheld deletions forces a full listing next time).
        if self.sync_exit != 4 {
            run.assert_listing_paths(&report, "plan after the sync", true, None);
        }
        let check = self.check_exit.unwrap_or(Some(if agree { 0 } else { 1 }));
        if let Some(code) = check {
            run.expect_exit("check", &self.args, code, "check after sync");
        }
        stage("plan and check passed");
        self.check_snapshot(&run, agree.then_some(&expected_a));
        let before = (writes_marker(&run.a), writes_marker(&run.b));
        run.expect_exit(
            "sync",
            &self.args,
            self.sync_exit,
            "the second sync (a no-op)",
        );
        let after = (writes_marker(&run.a), writes_marker(&run.b));
        assert_eq!(
            before, after,
            "{what}: the second sync wrote to a server (mailbox, MESSAGES, UIDNEXT, HIGHESTMODSEQ)"
        );
        stage("second sync wrote nothing");
        if let Some((which, user, marker)) = untouched {
            assert_eq!(
                marker,
                writes_marker(user),
                "{what}: {which:?} was written to (mailbox, MESSAGES, UIDNEXT, HIGHESTMODSEQ)"
            );
        }
        outcome
    }

    /// The snapshot agrees with both sides: when they hold the same, every
    /// message is paired (pairs per mailbox = its messages) with agreed
    /// flags; the divergences the case names are recorded.
    pub(crate) fn check_snapshot(&self, run: &Run, same: Option<&SideState>) {
        let summary = run.snapshot_summary();
        let mailboxes = summary["mailboxes"].as_array().expect("mailboxes");
        let find = |name: &str| {
            mailboxes
                .iter()
                .find(|m| m["name"].as_str() == Some(name))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: no mailbox {name} in the snapshot\n{summary:#}",
                        run.what
                    )
                })
        };
        if let Some(state) = same {
            for (name, msgs) in &state.0 {
                let count: usize = msgs.values().sum();
                let m = find(name);
                assert_eq!(
                    (m["pairs"].as_u64(), m["pairs_with_agreed_flags"].as_u64()),
                    (Some(count as u64), Some(count as u64)),
                    "{}: the snapshot should pair all {count} message(s) of {name}\n{m:#}",
                    run.what
                );
            }
        }
        for (which, mailbox, what, count) in &self.divergences {
            let m = find(mailbox);
            let got = m["divergences"][run.cli_index(*which)][*what]
                .as_u64()
                .unwrap_or(0);
            assert_eq!(
                got, *count,
                "{}: the snapshot should record {count} {what} on {which:?} in {mailbox}\n{m:#}",
                run.what
            );
        }
    }

    /// Expected oracle state of a parsed state.
    pub(crate) fn side_state(&self, state: &State) -> SideState {
        let mut s = SideState::default();
        for (mailbox, msgs) in state {
            s.mailbox(mailbox);
            for m in msgs {
                s.add(mailbox, &self.bytes(&m.content), &m.flags);
            }
        }
        s
    }

    /// Makes a side look like `desired`: creates and deletes mailboxes,
    /// re-flags messages with the same content (exact `FLAGS` replacement),
    /// appends what is missing and expunges what is extra.
    pub(crate) fn make_side(&self, user: &User, desired: &State) {
        let mut client = user.client();
        let existing = client.mailboxes();
        for mailbox in desired.keys() {
            if !existing.contains(mailbox) {
                client.create(mailbox);
            }
        }
        for mailbox in &existing {
            if mailbox != "INBOX" && !desired.contains_key(mailbox) {
                client.delete(mailbox);
            }
        }
        for (mailbox, msgs) in desired {
            let current = if existing.contains(mailbox) {
                client.fetch_all(mailbox)
            } else {
                Vec::new()
            };
            let current: Vec<(u32, String, Vec<String>)> = current
                .into_iter()
                .map(|f| {
                    (
                        f.uid,
                        oracle::fingerprint(&f.body),
                        oracle::normalise_flags(&f.flags),
                    )
                })
                .collect();
            let mut taken = vec![false; current.len()];
            let mut unmatched = Vec::new();
            // Exact matches first, then same content with other flags.
            let mut matched: Vec<Option<usize>> = vec![None; msgs.len()];
            for exact in [true, false] {
                for (i, m) in msgs.iter().enumerate() {
                    if matched[i].is_some() {
                        continue;
                    }
                    let fp = oracle::fingerprint(&self.bytes(&m.content));
                    let flags = oracle::normalise_flags(&m.flags);
                    if let Some(j) = (0..current.len()).find(|&j| {
                        !taken[j] && current[j].1 == fp && (!exact || current[j].2 == flags)
                    }) {
                        taken[j] = true;
                        matched[i] = Some(j);
                    }
                }
            }
            for (i, m) in msgs.iter().enumerate() {
                let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
                match matched[i] {
                    Some(j) if current[j].2 != oracle::normalise_flags(&m.flags) => {
                        client.store(mailbox, &[current[j].0], "", &flags)
                    }
                    Some(_) => {}
                    None => unmatched.push(m),
                }
            }
            for m in unmatched {
                let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
                let d = date(m.date.as_deref().unwrap_or("d0"));
                client.append(mailbox, &self.bytes(&m.content), &flags, Some(d));
            }
            let extra: Vec<u32> = (0..current.len())
                .filter(|&j| !taken[j])
                .map(|j| current[j].0)
                .collect();
            client.expunge_uids(mailbox, &extra);
        }
        client.logout();
    }

    /// INTERNALDATE travels with a copy: per mailbox, A and B hold the same
    /// multiset of (content, date); a date named in the expected state holds
    /// on both sides.
    pub(crate) fn check_dates(
        &self,
        run: &Run,
        expected: [&State; 2],
        same_mail: bool,
        mut da: Dates,
        mut db: Dates,
    ) {
        for v in da.values_mut().chain(db.values_mut()) {
            v.sort();
        }
        if self.same_dates && same_mail {
            assert_eq!(da, db, "{}: INTERNALDATEs differ between A and B", run.what);
        }
        for ((side, dates), expected) in [("A", &da), ("B", &db)].into_iter().zip(expected) {
            for (mailbox, msgs) in expected {
                for m in msgs {
                    let Some(d) = &m.date else { continue };
                    let want = parse_internaldate(date(d));
                    let fp = oracle::fingerprint(&self.bytes(&m.content));
                    let got: Vec<i64> = dates[mailbox]
                        .iter()
                        .filter(|(f, _)| *f == fp)
                        .map(|(_, t)| *t)
                        .collect();
                    assert!(
                        !got.is_empty() && got.iter().all(|&t| t == want),
                        "{}: {side}:{mailbox}:{} should have INTERNALDATE {} ({want}), has {got:?}",
                        run.what,
                        m.content,
                        date(d)
                    );
                }
            }
        }
    }
}
