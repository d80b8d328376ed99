//! `imapmend batch VERB FILE`: one verb over many account pairs, for
//! migrations and monitoring of thousands of mailboxes.
//!
//! Owns reading the list (CSV with a header row, or TOML `[[pair]]`
//! tables), choosing this shard's pairs (`--shard i/n`, by a stable hash of
//! the pair, so an account always lands on the same shard — and so on the
//! same host's snapshot — however the file is reordered or grown), running
//! them with bounded concurrency, and the summary.
//!
//! Each pair runs as a child process of this same binary (`imapmend VERB
//! --a … --b … --json`, plus the shared options after `--`): a pair that
//! fails, hangs up or even crashes cannot take the others with it, and every
//! pair keeps its own snapshot, lock and exit code. Passwords reach a child
//! through its environment (`IMAPMEND_A_PASSWORD`), never its arguments.

use crate::cli::Shard;
use crate::exit;
use crate::imap::CertPin;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One account pair of the list. Paths are relative to the list's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPair {
    /// A label for the summary; defaults to A's URL.
    #[serde(default)]
    pub name: Option<String>,
    pub a: String,
    pub b: String,
    #[serde(default)]
    pub a_password_file: Option<PathBuf>,
    #[serde(default)]
    pub b_password_file: Option<PathBuf>,
    #[serde(default)]
    pub a_password_command: Option<String>,
    #[serde(default)]
    pub b_password_command: Option<String>,
    /// The name of an environment variable (of the batch) holding A's password.
    #[serde(default)]
    pub a_password_env: Option<String>,
    #[serde(default)]
    pub b_password_env: Option<String>,
    /// A command printing an OAuth 2.0 access token for A (`--a-oauth2-token-command`).
    #[serde(default)]
    pub a_oauth2_token_command: Option<String>,
    #[serde(default)]
    pub b_oauth2_token_command: Option<String>,
    /// A command whose stdin/stdout carry A's IMAP session (`--a-tunnel`);
    /// `a` still names the account (and the snapshot).
    #[serde(default)]
    pub a_tunnel: Option<String>,
    #[serde(default)]
    pub b_tunnel: Option<String>,
    /// Extra CA certificate(s), or the server's own certificate, for A
    /// (`--a-ca-file`).
    #[serde(default)]
    pub a_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub b_ca_file: Option<PathBuf>,
    /// Certificate pins for A (`--a-fingerprint`), separated by spaces.
    #[serde(default)]
    pub a_fingerprint: Option<String>,
    #[serde(default)]
    pub b_fingerprint: Option<String>,
    /// This pair's snapshot; default: named after both endpoints.
    #[serde(default)]
    pub state: Option<PathBuf>,
}

impl AccountPair {
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.a.clone())
    }

    /// Which of `n` shards this pair belongs to: stable across runs, hosts
    /// and reorderings of the list.
    pub fn shard(&self, n: u32) -> u32 {
        let digest = Sha256::new()
            .chain_update(self.a.as_bytes())
            .chain_update(b"\n")
            .chain_update(self.b.as_bytes())
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(n)) as u32
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlList {
    #[serde(default)]
    pair: Vec<AccountPair>,
}

/// Reads the list: TOML when the file name ends in `.toml`, else CSV with a
/// header row naming the columns (`a`, `b`, and any of the optional fields
/// of [`AccountPair`]). Relative paths become relative to the list's
/// directory. Errors name the file and the line.
pub fn read_list(path: &Path) -> Result<Vec<AccountPair>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read account list {}: {e}", path.display()))?;
    let mut pairs = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str::<TomlList>(&text)
            .map_err(|e| {
                format!(
                    "account list {}: {}",
                    path.display(),
                    e.to_string().trim_end()
                )
            })?
            .pair
    } else {
        read_csv(path, &text)?
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    for p in &mut pairs {
        for file in [
            &mut p.a_password_file,
            &mut p.b_password_file,
            &mut p.a_ca_file,
            &mut p.b_ca_file,
            &mut p.state,
        ] {
            if let Some(f) = file.as_mut().filter(|f| f.is_relative()) {
                *f = dir.join(&*f);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for p in &pairs {
        // A bad pin fails the list now, not each pair's run later.
        for (column, pins) in [
            ("a_fingerprint", &p.a_fingerprint),
            ("b_fingerprint", &p.b_fingerprint),
        ] {
            for spec in pins.iter().flat_map(|p| p.split_whitespace()) {
                CertPin::parse(spec).map_err(|e| {
                    format!(
                        "account list {}: pair {}: {column}: {e}",
                        path.display(),
                        p.label()
                    )
                })?;
            }
        }
        if !seen.insert((p.a.clone(), p.b.clone())) {
            return Err(format!(
                "account list {}: the pair {} / {} is listed twice",
                path.display(),
                p.a,
                p.b
            ));
        }
    }
    Ok(pairs)
}

fn read_csv(path: &Path, text: &str) -> Result<Vec<AccountPair>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut pairs = Vec::new();
    for record in reader.deserialize::<AccountPair>() {
        let pair = record.map_err(|e| {
            let line = e
                .position()
                .map_or(String::new(), |p| format!(" line {}:", p.line()));
            format!("account list {}:{line} {e}", path.display())
        })?;
        // Empty CSV cells mean "not given".
        let blank = |o: &mut Option<String>| {
            if o.as_deref() == Some("") {
                *o = None
            }
        };
        let mut pair = pair;
        for o in [
            &mut pair.name,
            &mut pair.a_password_command,
            &mut pair.b_password_command,
            &mut pair.a_password_env,
            &mut pair.b_password_env,
            &mut pair.a_oauth2_token_command,
            &mut pair.b_oauth2_token_command,
            &mut pair.a_tunnel,
            &mut pair.b_tunnel,
            &mut pair.a_fingerprint,
            &mut pair.b_fingerprint,
        ] {
            blank(o);
        }
        for o in [
            &mut pair.a_password_file,
            &mut pair.b_password_file,
            &mut pair.a_ca_file,
            &mut pair.b_ca_file,
            &mut pair.state,
        ] {
            if o.as_deref() == Some(Path::new("")) {
                *o = None;
            }
        }
        pairs.push(pair);
    }
    Ok(pairs)
}

/// A shared config file that names one snapshot would give every pair the
/// same file (all but one refused as "other servers"), and one that names
/// the servers would make every pair the same: both are refused unless each
/// pair overrides them.
fn check_shared_config(config: Option<&Path>, pairs: &[AccountPair]) -> Result<(), String> {
    let Some(path) = config else {
        return Ok(());
    };
    let file = crate::config::ConfigFile::load(path).map_err(|e| e.to_string())?;
    if file.content.state.is_some() && pairs.iter().any(|p| p.state.is_none()) {
        return Err(format!(
            "the shared config file {} sets `state`: every pair of a batch needs its own \
             snapshot; remove it (the default path is per pair) or give each pair a state column",
            path.display()
        ));
    }
    Ok(())
}

/// How one pair went.
#[derive(Debug, Clone, Serialize)]
pub struct PairOutcome {
    pub name: String,
    pub a: String,
    pub b: String,
    pub exit_code: i32,
    pub seconds: f64,
    /// One line: what was planned, done or found.
    pub summary: String,
    /// The child's report (its `--json` output), when it printed one.
    pub report: Option<Value>,
    /// The child's standard error, when it said anything.
    pub stderr: String,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct BatchRun {
    /// `plan`, `sync` or `check`.
    pub verb: String,
    pub jobs: usize,
    /// Options passed to every pair's run (after `--` on the command line).
    pub extra: Vec<String>,
    pub config: Option<PathBuf>,
    /// Where each pair's stdout/stderr are kept (`NAME.out`, `NAME.err`).
    pub log_dir: Option<PathBuf>,
    /// Print a line per finished pair on stderr.
    pub progress: bool,
    /// Kill a pair's run that takes longer than this.
    pub pair_timeout: Option<Duration>,
}

/// Runs every pair, at most `jobs` at once, and returns the outcomes in the
/// list's order.
pub fn run_pairs(run: &BatchRun, pairs: &[AccountPair]) -> Vec<PairOutcome> {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("imapmend"));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PairOutcome>>> = Mutex::new(vec![None; pairs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..run.jobs.max(1).min(pairs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(pair) = pairs.get(i) else { break };
                let outcome = run_pair(&exe, run, pair);
                let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                if run.progress {
                    eprintln!(
                        "[{finished}/{}] {}: exit {} in {:.1} s: {}",
                        pairs.len(),
                        outcome.name,
                        outcome.exit_code,
                        outcome.seconds,
                        outcome.summary
                    );
                }
                results.lock().expect("no worker panics")[i] = Some(outcome);
            });
        }
    });
    results
        .into_inner()
        .expect("no worker panics")
        .into_iter()
        .map(|o| o.expect("every pair ran"))
        .collect()
}

fn run_pair(exe: &Path, run: &BatchRun, pair: &AccountPair) -> PairOutcome {
    let started = Instant::now();
    let mut outcome = PairOutcome {
        name: pair.label(),
        a: pair.a.clone(),
        b: pair.b.clone(),
        exit_code: exit::CANNOT_RUN,
        seconds: 0.0,
        summary: String::new(),
        report: None,
        stderr: String::new(),
    };
    let mut cmd = Command::new(exe);
    cmd.arg(&run.verb).arg("--json").args(pair_arguments(pair));
    if let Some(config) = &run.config {
        cmd.arg("--config").arg(config);
    }
    for (target, var) in [
        ("IMAPMEND_A_PASSWORD", &pair.a_password_env),
        ("IMAPMEND_B_PASSWORD", &pair.b_password_env),
    ] {
        if let Some(var) = var {
            match std::env::var(var) {
                Ok(value) => {
                    cmd.env(target, value);
                }
                Err(_) => {
                    outcome.summary = format!("the environment variable {var} is not set");
                    return outcome;
                }
            }
        }
    }
    cmd.args(&run.extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (output, timed_out) = match run_child(&mut cmd, run.pair_timeout) {
        Ok(o) => o,
        Err(e) => {
            outcome.summary = format!("cannot start {}: {e}", exe.display());
            return outcome;
        }
    };
    outcome.seconds = started.elapsed().as_secs_f64();
    // A child killed by a signal has no code: it did not finish.
    outcome.exit_code = output.status.code().unwrap_or(exit::PARTIAL);
    outcome.stderr = String::from_utf8_lossy(&output.stderr)
        .trim_end()
        .to_string();
    outcome.report = serde_json::from_slice(&output.stdout).ok();
    outcome.summary = match &outcome.report {
        _ if timed_out => format!(
            "stopped after {} s (--pair-timeout); a rerun resumes safely",
            run.pair_timeout.map_or(0, |t| t.as_secs())
        ),
        Some(report) => summarise(report),
        // The last error's first line: a multi-line error (a refused
        // certificate) opens with its reason.
        None => outcome
            .stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("imapmend: "))
            .or_else(|| outcome.stderr.lines().last())
            .unwrap_or("no report")
            .trim_start_matches("imapmend: ")
            .to_string(),
    };
    if let Some(dir) = &run.log_dir {
        let stem = file_stem(&outcome.name);
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join(format!("{stem}.out")), &output.stdout);
        let _ = std::fs::write(dir.join(format!("{stem}.err")), &output.stderr);
    }
    outcome
}

/// The pair's own options on the child's command line: the endpoints and
/// the columns that name files or commands (never a password: those travel
/// through the environment).
fn pair_arguments(pair: &AccountPair) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = ["--a", &pair.a, "--b", &pair.b]
        .into_iter()
        .map(Into::into)
        .collect();
    for (flag, value) in [
        ("--a-password-file", &pair.a_password_file),
        ("--b-password-file", &pair.b_password_file),
        ("--a-ca-file", &pair.a_ca_file),
        ("--b-ca-file", &pair.b_ca_file),
        ("--state", &pair.state),
    ] {
        if let Some(v) = value {
            args.extend([flag.into(), v.into()]);
        }
    }
    for (flag, value) in [
        ("--a-password-command", &pair.a_password_command),
        ("--b-password-command", &pair.b_password_command),
        ("--a-oauth2-token-command", &pair.a_oauth2_token_command),
        ("--b-oauth2-token-command", &pair.b_oauth2_token_command),
        ("--a-tunnel", &pair.a_tunnel),
        ("--b-tunnel", &pair.b_tunnel),
    ] {
        if let Some(v) = value {
            args.extend([flag.into(), v.into()]);
        }
    }
    for (flag, pins) in [
        ("--a-fingerprint", &pair.a_fingerprint),
        ("--b-fingerprint", &pair.b_fingerprint),
    ] {
        for pin in pins.iter().flat_map(|p| p.split_whitespace()) {
            args.extend([flag.into(), pin.into()]);
        }
    }
    args
}

/// Runs the child to its end, or kills it at `timeout` (imapmend is
/// crash-safe: a killed sync resumes on the next run without duplicates).
/// Standard output and error are read as they come, so a talkative child
/// never blocks on a full pipe. Returns the output and whether it was killed.
fn run_child(
    cmd: &mut Command,
    timeout: Option<Duration>,
) -> std::io::Result<(std::process::Output, bool)> {
    use std::io::Read;
    let mut child = cmd.spawn()?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok((
        std::process::Output {
            status,
            stdout,
            stderr,
        },
        timed_out,
    ))
}

fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._@+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One line from a child's JSON report.
fn summarise(report: &Value) -> String {
    let n = |v: &Value| v.as_array().map_or(0, Vec::len);
    let pair = |v: &Value| [0, 1].map(|i| v[i].as_u64().unwrap_or(0));
    let mut parts = Vec::new();
    if let Some(applied) = report.get("applied").filter(|a| !a.is_null()) {
        let [ca, cb] = pair(&applied["copied_to"]);
        let [fa, fb] = pair(&applied["flag_changes_on"]);
        let [ea, eb] = pair(&applied["expunged_on"]);
        parts.push(format!(
            "copied {ca}→A {cb}→B, flags {fa} on A {fb} on B, expunged {ea} on A {eb} on B"
        ));
        let failures = n(&applied["failures"]);
        if failures > 0 {
            parts.push(format!("{failures} failure(s)"));
        }
    } else if let Some(plan) = report.get("plan").filter(|p| !p.is_null()) {
        let mut copies = [0usize; 2];
        let (mut flags, mut expunges, mut withheld) = (0, 0, 0);
        for mb in plan["mailboxes"].as_array().into_iter().flatten() {
            for c in mb["copies"].as_array().into_iter().flatten() {
                copies[usize::from(c["from"] == "A")] += 1;
            }
            flags += n(&mb["flag_changes"]);
            expunges += n(&mb["expunges"]);
            withheld += n(&mb["withheld"]);
        }
        parts.push(format!(
            "to copy {}→A {}→B, {flags} flag change(s), {expunges} expunge(s)",
            copies[0], copies[1]
        ));
        if withheld > 0 {
            parts.push(format!("{withheld} withheld"));
        }
    } else if let Some(check) = report.get("check").and_then(Value::as_array) {
        let differ = check
            .iter()
            .filter(|m| !m["only_on"].is_null() || n(&m["surplus"]) > 0)
            .count();
        parts.push(if differ == 0 {
            format!("{} mailbox(es) agree", check.len())
        } else {
            format!("{differ} of {} mailbox(es) differ", check.len())
        });
    }
    let failed = n(&report["listing_failures"]);
    if failed > 0 {
        parts.push(format!("{failed} mailbox(es) not listed"));
    }
    parts.join("; ")
}

/// The batch's exit code: 0 when every pair exited 0; 3 when none could
/// run; otherwise the worst of the pairs' codes, with a pair that could not
/// run counting as a partial failure (2) of the batch.
pub fn batch_exit_code(outcomes: &[PairOutcome]) -> i32 {
    if !outcomes.is_empty() && outcomes.iter().all(|o| o.exit_code == exit::CANNOT_RUN) {
        return exit::CANNOT_RUN;
    }
    exit::worst(outcomes.iter().map(|o| match o.exit_code {
        exit::CANNOT_RUN => exit::PARTIAL,
        c @ (exit::OK | exit::PENDING | exit::PARTIAL | exit::WITHHELD) => c,
        _ => exit::PARTIAL,
    }))
}

/// The summary table.
pub fn summary_text(outcomes: &[PairOutcome], shard: Option<Shard>, skipped: usize) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["Account", "Exit", "Time", "Result"]);
    for o in outcomes {
        table.add_row(vec![
            Cell::new(&o.name),
            Cell::new(o.exit_code).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.1} s", o.seconds)).set_alignment(CellAlignment::Right),
            Cell::new(&o.summary),
        ]);
    }
    let mut counts = std::collections::BTreeMap::new();
    for o in outcomes {
        *counts.entry(o.exit_code).or_insert(0usize) += 1;
    }
    let by_code: Vec<String> = counts
        .iter()
        .map(|(c, n)| format!("{n} × exit {c}"))
        .collect();
    let shard_note = match shard {
        Some(s) => format!(" (shard {s}; {skipped} pair(s) belong to other shards)"),
        None => String::new(),
    };
    format!(
        "{table}\n{} pair(s){shard_note}: {}\n",
        outcomes.len(),
        if by_code.is_empty() {
            "none".to_string()
        } else {
            by_code.join(", ")
        }
    )
}

/// `imapmend batch`: reads the list, picks the shard, runs, prints the
/// summary; returns the exit code.
pub fn run(args: &crate::cli::BatchArgs) -> i32 {
    let pairs = match read_list(&args.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("imapmend: {e}");
            return exit::CANNOT_RUN;
        }
    };
    if let Err(e) = check_shared_config(args.config.as_deref(), &pairs) {
        eprintln!("imapmend: {e}");
        return exit::CANNOT_RUN;
    }
    let total = pairs.len();
    let mine: Vec<AccountPair> = match args.shard {
        Some(s) => pairs
            .into_iter()
            .filter(|p| p.shard(s.count) == s.index)
            .collect(),
        None => pairs,
    };
    let run = BatchRun {
        verb: args.verb.clone(),
        jobs: usize::from(args.jobs),
        extra: args.extra.clone(),
        config: args.config.clone(),
        log_dir: args.log_dir.clone(),
        progress: !args.quiet,
        pair_timeout: args.pair_timeout.map(Duration::from_secs),
    };
    let outcomes = run_pairs(&run, &mine);
    let code = batch_exit_code(&outcomes);
    if args.json {
        let doc = serde_json::json!({
            "verb": args.verb,
            "shard": args.shard.map(|s| s.to_string()),
            "pairs_in_list": total,
            "outcomes": outcomes,
            "exit_code": code,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("plain data")
        );
    } else {
        print!(
            "{}",
            summary_text(&outcomes, args.shard, total - mine.len())
        );
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &str, b: &str) -> AccountPair {
        AccountPair {
            a: a.into(),
            b: b.into(),
            ..AccountPair::default()
        }
    }

    #[test]
    fn batch_shards_partition_the_list_stably() {
        let pairs: Vec<AccountPair> = (0..200)
            .map(|i| pair(&format!("imaps://u{i}@old"), &format!("imaps://u{i}@new")))
            .collect();
        let mut sizes = [0usize; 4];
        for p in &pairs {
            let s = p.shard(4);
            assert!(s < 4);
            assert_eq!(s, p.clone().shard(4), "stable");
            sizes[s as usize] += 1;
        }
        assert_eq!(sizes.iter().sum::<usize>(), 200);
        assert!(sizes.iter().all(|&n| n > 25), "{sizes:?}");
    }

    #[test]
    fn batch_reads_csv_and_toml_with_relative_paths_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("accounts.csv");
        std::fs::write(
            &csv,
            "# migration wave 1\nname,a,b,a_password_file,b_password_env\n\
             alice,imaps://alice@old,imaps://alice@new,pw/alice,ALICE_NEW\n\
             ,imaps://bob@old,imaps://bob@new,,\n",
        )
        .unwrap();
        let pairs = read_list(&csv).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].a_password_file, Some(dir.path().join("pw/alice")));
        assert_eq!(pairs[0].b_password_env.as_deref(), Some("ALICE_NEW"));
        assert_eq!(pairs[1].label(), "imaps://bob@old");
        assert_eq!(pairs[1].a_password_file, None);

        std::fs::write(&csv, "a,b,colour\nimaps://x@o,imaps://x@n,red\n").unwrap();
        let err = read_list(&csv).unwrap_err();
        assert!(err.contains("line 2") && err.contains("colour"), "{err}");
        std::fs::write(
            &csv,
            "a,b\nimaps://x@o,imaps://x@n\nimaps://x@o,imaps://x@n\n",
        )
        .unwrap();
        assert!(read_list(&csv).unwrap_err().contains("listed twice"));

        let toml = dir.path().join("accounts.toml");
        std::fs::write(
            &toml,
            "[[pair]]\nname = \"carol\"\na = \"imaps://c@o\"\nb = \"imaps://c@n\"\nstate = \"s/carol.sqlite\"\n\n[[pair]]\na = \"imaps://d@o\"\n",
        )
        .unwrap();
        let err = read_list(&toml).unwrap_err();
        assert!(
            err.contains("missing field `b`") && err.contains("line 7"),
            "{err}"
        );
        std::fs::write(
            &toml,
            "[[pair]]\nname = \"carol\"\na = \"imaps://c@o\"\nb = \"imaps://c@n\"\nstate = \"s/carol.sqlite\"\n",
        )
        .unwrap();
        let pairs = read_list(&toml).unwrap();
        assert_eq!(pairs[0].state, Some(dir.path().join("s/carol.sqlite")));
    }

    #[test]
    fn batch_passes_token_and_tunnel_columns_as_options_and_leaves_blank_cells_out() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("accounts.csv");
        std::fs::write(
            &csv,
            "a,b,a_tunnel,b_oauth2_token_command,a_oauth2_token_command,b_tunnel\n\
             imap://x@o,imaps://x@n,ssh o imapd,oauth2-token x,,\n",
        )
        .unwrap();
        let pairs = read_list(&csv).unwrap();
        let args: Vec<String> = pair_arguments(&pairs[0])
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "--a",
                "imap://x@o",
                "--b",
                "imaps://x@n",
                "--b-oauth2-token-command",
                "oauth2-token x",
                "--a-tunnel",
                "ssh o imapd",
            ]
        );
    }

    #[test]
    fn batch_passes_ca_file_and_fingerprint_columns_and_checks_the_pins() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("accounts.csv");
        let pin = format!("sha256:{}", "ab".repeat(32));
        let key = "sha256//kCTdeldL8Zw1HYTzsRu43u06s2QKwu7RRZhne174Vtw=";
        std::fs::write(
            &csv,
            format!(
                "a,b,a_ca_file,b_ca_file,a_fingerprint,b_fingerprint\n\
                 imaps://x@o,imaps://x@n,certs/old.pem,,,{pin} {key}\n"
            ),
        )
        .unwrap();
        let pairs = read_list(&csv).unwrap();
        assert_eq!(pairs[0].a_ca_file, Some(dir.path().join("certs/old.pem")));
        let args: Vec<String> = pair_arguments(&pairs[0])
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let ca = dir.path().join("certs/old.pem").display().to_string();
        assert_eq!(
            args,
            [
                "--a",
                "imaps://x@o",
                "--b",
                "imaps://x@n",
                "--a-ca-file",
                &ca,
                "--b-fingerprint",
                &pin,
                "--b-fingerprint",
                key,
            ]
        );
        std::fs::write(
            &csv,
            "name,a,b,a_fingerprint\nzoe,imaps://z@o,imaps://z@n,md5:ab\n",
        )
        .unwrap();
        let err = read_list(&csv).unwrap_err();
        assert!(
            err.contains("pair zoe: a_fingerprint: \"md5:ab\": expected sha256:HEX"),
            "{err}"
        );
    }

    #[test]
    fn batch_exit_code_ranks_like_runs_and_counts_unrunnable_pairs_as_partial() {
        let with = |codes: &[i32]| {
            let outcomes: Vec<PairOutcome> = codes
                .iter()
                .map(|&c| PairOutcome {
                    name: String::new(),
                    a: String::new(),
                    b: String::new(),
                    exit_code: c,
                    seconds: 0.0,
                    summary: String::new(),
                    report: None,
                    stderr: String::new(),
                })
                .collect();
            batch_exit_code(&outcomes)
        };
        assert_eq!(with(&[0, 0]), 0);
        assert_eq!(with(&[0, 1]), 1);
        assert_eq!(with(&[1, 3]), 2);
        assert_eq!(with(&[3, 3]), 3);
        assert_eq!(with(&[4, 2, 0]), 4);
        assert_eq!(with(&[]), 0);
    }
}
