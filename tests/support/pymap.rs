//! pymap, a pure-Python IMAP server (PyPI), as a genuinely different
//! implementation without CONDSTORE, QRESYNC, ENABLE or NAMESPACE, for the
//! long matrix. `scripts/pymap-setup` installs it into a virtualenv.
//!
//! Owns: starting `pymap dict` (in-memory, one user) on a free loopback
//! port, waiting for its greeting, and killing it. The dict backend knows
//! exactly one user, so unlike Dovecot and Cyrus every test starts its own
//! server ([`Pymap::start`]); it dies with the value (and, through
//! `PR_SET_PDEATHSIG`, with the test thread that started it).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use super::dovecot::{Kind, User};
use super::process;

/// The `pymap` binary: `IMAPMEND_PYMAP`, else the virtualenv
/// `scripts/pymap-setup` makes in `target/pymap-venv`.
pub fn pymap_binary() -> PathBuf {
    std::env::var_os("IMAPMEND_PYMAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pymap-venv/bin/pymap")
        })
}

/// Panics, saying what to run, unless pymap is installed. The pymap tests
/// are `#[ignore]`d (`scripts/matrix` sets pymap up and runs them), so
/// this only fires when one is run by hand without it.
fn require_setup() {
    let binary = pymap_binary();
    assert!(
        binary.is_file(),
        "PYMAP IS NOT INSTALLED (looked for {}): run scripts/pymap-setup, or scripts/matrix",
        binary.display()
    );
}

/// A running `pymap dict` with its one user.
pub struct Pymap {
    child: Mutex<Option<Child>>,
    pub user: User,
}

impl Pymap {
    /// Starts a server whose one user has a fresh name and password.
    pub fn start() -> Pymap {
        require_setup();
        let mut last = String::new();
        for attempt in 0..3 {
            match Pymap::try_start(attempt) {
                Ok(p) => return p,
                Err(e) => last = e,
            }
        }
        panic!("could not start pymap: {last}");
    }

    fn try_start(attempt: u32) -> Result<Pymap, String> {
        let port = process::free_port();
        let name = format!("p{port}a{attempt}");
        let password = format!("pw-{port}-{}", std::process::id());
        let mut cmd = Command::new(pymap_binary());
        cmd.args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--no-tls",
        ])
        .args(["dict", "--demo-user", &name, "--demo-password", &password])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // Dies with the test thread that started it, or with the value.
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("spawn pymap: {e}"))?;
        let server = Pymap {
            child: Mutex::new(Some(child)),
            user: User {
                home: PathBuf::from("/nonexistent/pymap-has-no-home").join(&name),
                name,
                password,
                port,
                kind: Kind::NoCondstore,
                tunnel: None,
            },
        };
        process::wait_for_greeting(port, &server.child, |line| line.starts_with("* OK"))
            .map_err(|e| format!("pymap: {e}"))?;
        Ok(server)
    }
}

impl Drop for Pymap {
    fn drop(&mut self) {
        process::stop(&self.child);
    }
}
