//! Running the `imapmend` binary between two test users, as an operator
//! would: a private directory per [`Pair`] for the snapshot (and
//! `XDG_STATE_HOME`), passwords in the environment, `--a`/`--b` optionally
//! given the other way round (symmetry checks), a side optionally reached
//! through a [`super::proxy::Proxy`], extra environment (the hidden test
//! hooks), runs to the end under a deadline or started in the background;
//! and, for tests that write every argument themselves (a config file, a
//! batch, bad URLs, `snapshot show`), the same binary as a [`bare`]
//! command finished under the same deadline ([`Finish`]).
//!
//! Owns only the process: what a run should achieve is for the test (and
//! the oracle) to say. Every finished run is logged to the test's captured
//! stderr (shown when it fails).

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::dovecot::User;

/// The binary under test; `IMAPMEND_BIN` overrides it (e.g. a release build).
pub fn binary() -> PathBuf {
    std::env::var_os("IMAPMEND_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_imapmend")))
}

/// How long a run may take before it is killed and the test fails.
pub const LIMIT: Duration = Duration::from_secs(120);

/// The binary as a bare command, for tests that give every argument
/// themselves (a config file, a batch file, bad URLs): output piped, no
/// colour, no test hook inherited. Finish it with [`Finish::finish`].
pub fn bare() -> Command {
    let mut cmd = Command::new(binary());
    cmd.env("NO_COLOR", "1")
        .env_remove("IMAPMEND_TEST_CRASH_AFTER_WRITES")
        .env_remove("IMAPMEND_TEST_WRITE_LOG")
        .env_remove("IMAPMEND_TEST_READ_TIMEOUT_SECS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs a command built from [`bare`] to the end, as [`Pair::run`] does.
pub trait Finish {
    /// Waits at most `limit` (then kills it and fails the test).
    fn finish(&mut self, limit: Duration) -> Outcome;
}

impl Finish for Command {
    fn finish(&mut self, limit: Duration) -> Outcome {
        let what = format!("{:?}", self.get_args().next().unwrap_or_default());
        wait(self.spawn().expect("spawn imapmend"), limit, &what)
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The exit code, None when a signal ended the process.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Outcome {
    /// What a run at `-v` read from the snapshot ("snapshot: N rows read").
    pub fn snapshot_rows(&self) -> u64 {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("snapshot: ")?.strip_suffix(" rows read"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no snapshot line at -v: {}", self.describe()))
    }

    /// stdout and stderr together, for searching.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// A one-paragraph account for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit {:?} signal {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.signal, self.took, self.stdout, self.stderr
        )
    }
}

/// Two users, the ports `--a` / `--b` reach them on (a proxy's, or the
/// server's own), and a private directory for the snapshot.
pub struct Pair {
    pub a: User,
    pub b: User,
    pub a_port: u16,
    pub b_port: u16,
    /// Give B as `--a` and A as `--b` (symmetry checks). Side-specific
    /// options in a run's arguments are the caller's to swap.
    pub swapped: bool,
    pub dir: tempfile::TempDir,
    /// Extra environment for every run.
    pub env: Vec<(String, String)>,
    /// Names the pair in the run log (e.g. the case and orientation).
    pub label: String,
}

impl Pair {
    pub fn new(a: &User, b: &User) -> Pair {
        Pair {
            a: a.clone(),
            b: b.clone(),
            a_port: a.port,
            b_port: b.port,
            swapped: false,
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
            label: String::new(),
        }
    }

    /// [`Pair::new`], given as `--b`/`--a` when `swapped`.
    pub fn oriented(a: &User, b: &User, swapped: bool) -> Pair {
        Pair {
            swapped,
            ..Pair::new(a, b)
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.sqlite")
    }

    pub fn url(user: &User, port: u16) -> String {
        format!("imap://{}@127.0.0.1:{port}", user.name)
    }

    /// The users (and ports) given as `--a` and `--b`, in that order.
    fn on_command_line(&self) -> [(&User, u16); 2] {
        let (a, b) = ((&self.a, self.a_port), (&self.b, self.b_port));
        if self.swapped {
            [b, a]
        } else {
            [a, b]
        }
    }

    /// `--a URL --b URL`, oriented as the runs are (for commands such as
    /// `snapshot show` that take only the endpoints).
    pub fn endpoint_args(&self) -> [String; 4] {
        let [(a, a_port), (b, b_port)] = self.on_command_line();
        [
            "--a".into(),
            Self::url(a, a_port),
            "--b".into(),
            Self::url(b, b_port),
        ]
    }

    /// The command for `imapmend VERB … EXTRA`, not started.
    pub fn command(&self, verb: &str, extra: &[&str], env: &[(&str, &str)]) -> Command {
        let [(a, _), (b, _)] = self.on_command_line();
        let mut cmd = bare();
        cmd.arg(verb)
            .args(self.endpoint_args())
            .args(["--a-tls", "none", "--b-tls", "none"])
            .arg("--state")
            .arg(self.state_path())
            .args(extra)
            .env("XDG_STATE_HOME", self.dir.path());
        // A user reached through a command (Courier's imapd, greeting with
        // PREAUTH) is given so, and without a password.
        for (side, user) in [("a", a), ("b", b)] {
            match &user.tunnel {
                Some(tunnel) => cmd.args([format!("--{side}-tunnel"), tunnel.clone()]),
                None => cmd.env(
                    format!("IMAPMEND_{}_PASSWORD", side.to_uppercase()),
                    &user.password,
                ),
            };
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `imapmend VERB … EXTRA` to the end (killed, and the test
    /// failed, after 120 s: a hang is a failure, never a wait).
    pub fn run(&self, verb: &str, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
        self.run_within(verb, extra, env, LIMIT)
    }

    pub fn run_within(
        &self,
        verb: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        limit: Duration,
    ) -> Outcome {
        let child = self
            .command(verb, extra, env)
            .spawn()
            .expect("spawn imapmend");
        let out = wait(child, limit, verb);
        eprintln!(
            "--- {}{}imapmend {verb} {} → {:?} in {:?}\n{}{}",
            self.label,
            if self.swapped { " (swapped)" } else { "" },
            extra.join(" "),
            out.code,
            out.took,
            out.stdout,
            out.stderr
        );
        out
    }

    /// [`Pair::run`], asserting the exit code.
    #[track_caller]
    pub fn expect(&self, verb: &str, extra: &[&str], code: i32) -> Outcome {
        let out = self.run(verb, extra, &[]);
        assert_eq!(
            out.code,
            Some(code),
            "{}`imapmend {verb} {extra:?}` (swapped: {}): {}",
            self.label,
            self.swapped,
            out.describe()
        );
        out
    }

    /// Starts `imapmend VERB` in the background (collect it with [`wait`]).
    pub fn spawn(&self, verb: &str, extra: &[&str], env: &[(&str, &str)]) -> Child {
        self.command(verb, extra, env)
            .spawn()
            .expect("spawn imapmend")
    }
}

/// Reads a child's piped stdout and stderr on threads of their own (so
/// that neither pipe fills and blocks it); join them for the bytes.
pub fn drain(
    child: &mut Child,
) -> (
    std::thread::JoinHandle<Vec<u8>>,
    std::thread::JoinHandle<Vec<u8>>,
) {
    use std::io::Read;
    fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    }
    (
        read_all(child.stdout.take().unwrap()),
        read_all(child.stderr.take().unwrap()),
    )
}

/// Waits for a child started by [`Pair::spawn`], collecting its output;
/// kills it and panics past `limit` (a hang is a failure, never a wait).
pub fn wait(mut child: Child, limit: Duration, what: &str) -> Outcome {
    let started = Instant::now();
    let (out, err) = drain(&mut child);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let e = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!("imapmend {what} did not finish within {limit:?} (killed)\n{e}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        took: started.elapsed(),
    }
}

/// Runs `cases` on `threads` threads; every failure (an `Err` or a panic),
/// as text.
pub fn in_parallel<T: Send + 'static>(
    cases: Vec<T>,
    threads: usize,
    run: fn(&T) -> Result<(), String>,
) -> Vec<String> {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(cases));
    let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let queue = queue.clone();
            let failures = failures.clone();
            std::thread::spawn(move || loop {
                let Some(case) = queue.lock().unwrap().pop() else {
                    return;
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&case)))
                    .unwrap_or_else(|p| {
                        Err(p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panic".into()))
                    });
                if let Err(e) = result {
                    failures.lock().unwrap().push(e);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let v = failures.lock().unwrap().clone();
    v
}
