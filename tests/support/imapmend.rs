//! Running the `imapmend` binary between two test users, as an operator
//! would: fresh snapshot directory per runner, passwords in the
//! environment, `--a`/`--b` optionally given the other way round.
//!
//! Owns only the process: what a run should achieve is for the test (and
//! the oracle) to say.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::dovecot::User;

/// What one run printed and how it exited.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Two users and one snapshot.
pub struct Runner {
    pub a: User,
    pub b: User,
    /// Give the case's B as `--a` and A as `--b` (symmetry checks).
    pub swapped: bool,
    dir: tempfile::TempDir,
}

/// The binary under test; `IMAPMEND_BIN` overrides it.
pub fn binary() -> PathBuf {
    std::env::var_os("IMAPMEND_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_imapmend")))
}

impl Runner {
    pub fn new(a: User, b: User, swapped: bool) -> Runner {
        Runner {
            a,
            b,
            swapped,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("imapmend-state.sqlite")
    }

    /// Runs `imapmend VERB … ARGS` (ARGS as given: the caller swaps any
    /// side-specific option itself).
    pub fn run(&self, verb: &str, args: &[&str]) -> Outcome {
        let (cli_a, cli_b) = if self.swapped {
            (&self.b, &self.a)
        } else {
            (&self.a, &self.b)
        };
        let label = format!("swapped: {}", self.swapped);
        invoke([cli_a, cli_b], self.dir.path(), verb, args, &label)
    }

    /// [`Runner::run`], asserting the exit code.
    #[track_caller]
    pub fn expect(&self, verb: &str, args: &[&str], code: i32) -> Outcome {
        let out = self.run(verb, args);
        assert_eq!(
            out.code, code,
            "`imapmend {verb} {args:?}` exited {}, expected {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.code, out.stdout, out.stderr
        );
        out
    }
}

/// Runs `imapmend VERB --a A --b B … ARGS` as an operator would: passwords
/// in the environment, the snapshot and `XDG_STATE_HOME` in `dir`, killed
/// after 120 s (a hang fails the test rather than the suite). Prints the
/// run to stderr, labelled `label`.
pub fn invoke<S: AsRef<str>>(
    [cli_a, cli_b]: [&User; 2],
    dir: &std::path::Path,
    verb: &str,
    args: &[S],
    label: &str,
) -> Outcome {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let mut cmd = Command::new(binary());
    cmd.arg(verb)
        .args(["--a", &cli_a.url(), "--b", &cli_b.url()])
        .args(["--a-tls", "none", "--b-tls", "none"])
        .arg("--state")
        .arg(dir.join("imapmend-state.sqlite"))
        .args(&args)
        .env("IMAPMEND_A_PASSWORD", &cli_a.password)
        .env("IMAPMEND_B_PASSWORD", &cli_b.password)
        .env("XDG_STATE_HOME", dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn imapmend");
    let pid = child.id();
    // Read the pipes on another thread so a long report cannot block it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("collect imapmend output"),
        Err(_) => {
            // SAFETY: signalling the child we spawned, by its PID.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            panic!("{label}: imapmend {verb} {args:?} ran for more than 120 s");
        }
    };
    let outcome = Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    eprintln!(
        "--- {label}: imapmend {verb} {} → {} in {:?}\n{}{}",
        args.join(" "),
        outcome.code,
        started.elapsed(),
        outcome.stdout,
        outcome.stderr
    );
    outcome
}
