//! Real, throwaway Courier-IMAP for the interoperability tests.
//!
//! Owns: finding the binaries `scripts/courier-setup` unpacked (Debian's
//! `courier-imap` conflicts with Dovecot's package, so it is never
//! installed), a temp dir per server with a home and a fresh Maildir per
//! user, and the command that reaches a user: Courier's `imapd` run as an
//! already-authenticated user (`AUTHENTICATED=NAME`, the greeting is
//! `PREAUTH`), with Debian's `/etc/courier/imapd` settings as its
//! environment and the home as its working directory — what Courier's own
//! login process does after authenticating. There is no listener, no
//! authdaemon and no password: imapmend reaches the user with
//! `--X-tunnel` (the runner gives it, [`User::tunnel`]) and the test
//! client runs the same command ([`super::mailclient::MailClient::tunnel`]).
//!
//! `imapd` watches Maildirs through the FAM server `gam_server` (gamin);
//! without one it greets with an `[ALERT]`. The server here is one
//! `gam_server` per test binary, reached by its own `GAM_CLIENT_ID`, and
//! forked so that it dies with the test process (as Dovecot's and Cyrus'
//! servers are). `imapd`'s log lines go to `imapd.log` in the temp dir.
//!
//! Sharing: one server per test binary, fresh users per test; the temp dir
//! is removed at exit unless `IMAPMEND_KEEP_SERVERS` is set.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::dovecot::{Kind, User};
use super::process;

/// Where `scripts/courier-setup` unpacked Courier-IMAP:
/// `IMAPMEND_COURIER_ROOT`, else `target/courier/root` of this checkout.
pub fn courier_root() -> PathBuf {
    std::env::var_os("IMAPMEND_COURIER_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/courier/root"))
}

/// Panics, saying what to run, unless `scripts/courier-setup` has unpacked
/// Courier-IMAP where [`courier_root`] looks. `scripts/test` runs it first,
/// so a test that needs Courier fails here rather than being counted as
/// passed.
fn require_setup() -> PathBuf {
    let root = courier_root();
    if root.join("usr/bin/imapd").is_file() && root.join("usr/libexec/gam_server").is_file() {
        return root;
    }
    panic!(
        "\n**********************************************************************\n\
         ** COURIER-IMAP IS NOT SET UP (looked in {}).\n\
         ** Run scripts/courier-setup (scripts/test runs it for you; it needs\n\
         ** apt-get and root or sudo), or set IMAPMEND_COURIER_ROOT to a\n\
         ** Courier-IMAP it unpacked elsewhere.\n\
         **********************************************************************\n",
        root.display()
    );
}

/// The tunnel script: `sh imapd-tunnel HOME USER` runs Courier's `imapd`
/// on HOME/Maildir as USER, with a clean environment holding Debian's
/// settings (sourced from the unpacked `/etc/courier/imapd`).
const TUNNEL_SCRIPT: &str = r#"#!/bin/sh
# Courier-IMAP's imapd for one already-authenticated user (written by
# tests/support/courier.rs): sh imapd-tunnel HOME USER
if [ -z "$IMAPMEND_COURIER_CLEAN" ]; then
    exec env -i IMAPMEND_COURIER_CLEAN=1 PATH=/usr/bin:/bin sh "$0" "$@"
fi
unset IMAPMEND_COURIER_CLEAN
cd "$1" || exit 1
set -a
. "@ROOT@/etc/courier/imapd"
set +a
export AUTHENTICATED="$2" GAM_CLIENT_ID="@GAM_ID@"
export LD_LIBRARY_PATH="@ROOT@/usr/lib/x86_64-linux-gnu:@ROOT@/usr/lib"
exec "@ROOT@/usr/bin/imapd" Maildir 2>>"@DIR@/imapd.log"
"#;

/// A Courier-IMAP "server": its temp dir (tunnel script, homes, log) and
/// the `gam_server` its `imapd` processes share; stopped when dropped.
pub struct Courier {
    dir: tempfile::TempDir,
    gam: Mutex<Option<Child>>,
}

static USER_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Courier {
    pub fn start() -> Courier {
        let root = require_setup();
        let dir = tempfile::Builder::new()
            .prefix("imapmend-courier-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let gam_id = format!("imapmend-{}", std::process::id());
        let script = TUNNEL_SCRIPT
            .replace("@ROOT@", &root.display().to_string())
            .replace("@DIR@", &dir.path().display().to_string())
            .replace("@GAM_ID@", &gam_id);
        std::fs::write(dir.path().join("imapd-tunnel"), script).unwrap();
        let gam = spawn_gam_server(&root, dir.path(), &gam_id)
            .unwrap_or_else(|e| panic!("could not start Courier's gam_server: {e}"));
        let server = Courier {
            dir,
            gam: Mutex::new(Some(gam)),
        };
        server.wait_for_gam(&gam_id);
        server
    }

    /// Waits until `gam_server` listens on its (abstract) socket: an
    /// `imapd` started before would greet with an `[ALERT]`.
    fn wait_for_gam(&self, gam_id: &str) {
        // SAFETY: a plain getter.
        let uid = unsafe { libc::geteuid() };
        let user = user_name(uid);
        let socket = format!("@/tmp/fam-{user}-{gam_id}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // An abstract socket's name is shown NUL-padded, as '@'s.
            let listening = std::fs::read_to_string("/proc/net/unix").is_ok_and(|t| {
                t.lines().any(|l| {
                    l.split_whitespace()
                        .last()
                        .is_some_and(|path| path.trim_end_matches('@') == socket)
                })
            });
            if listening {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.dir.path().join("gam_server.log"));
        panic!("gam_server did not listen on {socket} within 10 s: {log:?}");
    }

    /// A new user with an empty Maildir (INBOX only), reached by a tunnel.
    pub fn fresh_user(&self) -> User {
        let n = USER_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("k{n}p{}", std::process::id());
        let home = self.dir.path().join("home").join(&name);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(home.join("Maildir").join(sub)).unwrap();
        }
        std::fs::set_permissions(home.join("Maildir"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        let tunnel = format!(
            "exec sh '{}' '{}' '{name}'",
            self.dir.path().join("imapd-tunnel").display(),
            home.display()
        );
        User {
            name,
            // Never asked for: imapd greets with PREAUTH.
            password: String::new(),
            // Never connected to (the tunnel reaches the user); the URL
            // needs one, and nothing of the tests listens on 143.
            port: 143,
            kind: Kind::NoCondstore,
            home,
            tunnel: Some(tunnel),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn stop(&self) {
        process::stop(&self.gam);
    }
}

impl Drop for Courier {
    fn drop(&mut self) {
        self.stop();
    }
}

fn user_name(uid: u32) -> String {
    // SAFETY: a plain libc lookup, read at once.
    unsafe {
        let pw = libc::getpwuid(uid);
        assert!(!pw.is_null(), "the current user has no passwd entry");
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// Forks `gam_server --notimeout ID` so that it dies with the test process.
fn spawn_gam_server(root: &Path, dir: &Path, gam_id: &str) -> Result<Child, String> {
    let (root, dir, gam_id) = (root.to_path_buf(), dir.to_path_buf(), gam_id.to_string());
    process::spawn_on_launcher_thread("courier-gam-launcher", move || {
        let log = std::fs::File::create(dir.join("gam_server.log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(root.join("usr/libexec/gam_server"));
        cmd.args(["--notimeout", &gam_id])
            .env(
                "LD_LIBRARY_PATH",
                format!(
                    "{}:{}",
                    root.join("usr/lib/x86_64-linux-gnu").display(),
                    root.join("usr/lib").display()
                ),
            )
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        Ok(cmd)
    })
}

static SERVER: OnceLock<Courier> = OnceLock::new();

/// The Courier "server" shared by this test binary.
pub fn shared() -> &'static Courier {
    static CLEANUP: std::sync::Once = std::sync::Once::new();
    CLEANUP.call_once(|| {
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(stop_shared_server);
        }
    });
    SERVER.get_or_init(Courier::start)
}

extern "C" fn stop_shared_server() {
    if let Some(server) = SERVER.get() {
        server.stop();
        if std::env::var_os("IMAPMEND_KEEP_SERVERS").is_none() {
            let _ = std::fs::remove_dir_all(server.dir());
        }
    }
}

/// A fresh user on the shared Courier.
pub fn fresh_user() -> User {
    shared().fresh_user()
}
