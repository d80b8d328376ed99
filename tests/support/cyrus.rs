//! Real, throwaway Cyrus IMAP servers for the interoperability tests.
//!
//! Owns: finding the Cyrus binaries `scripts/cyrus-setup` unpacked (Cyrus'
//! package conflicts with Dovecot's, so it is never installed), writing a
//! self-contained `imapd.conf` and `cyrus.conf` in a temp dir (config
//! directory, partition and sockets there, one IMAP listener on a free
//! loopback port, plaintext LOGIN allowed, passwords in a sasldb file of
//! the temp dir), starting `master -D`, adding users (a sasldb entry, then
//! `CREATE user.NAME` as the admin), and stopping it. Cyrus runs as
//! `nobody` when the tests run as root (its processes refuse to run as
//! root), else as the current user. Its logs go to syslog, which a test
//! machine usually lacks: a failure to start says what it can.
//!
//! `mailbox_legacy_dirs: yes` stores mailboxes by name: Cyrus 3.6.1 gives
//! mailboxes created by freshly forked `imapd` processes the same
//! MAILBOXID (their random generator is not reseeded after the fork), and
//! with storage by ID (the default) two users created at once then share
//! one INBOX directory. That is a server bug, not one imapmend could see.
//!
//! Sharing: as `dovecot`, one server per test binary (a `OnceLock`), fresh
//! users per test, killed with the test process (`PR_SET_PDEATHSIG` from a
//! launcher thread that never ends) and stopped at exit.
//!
//! Users are [`User`] values as for Dovecot (name, password, port), so the
//! runners and the oracle take them unchanged; `home` is a path inside the
//! server's directory that holds nothing.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::dovecot::{chown, Kind, User};
use super::mailclient::MailClient;
use super::process;

/// The realm Cyrus looks users up in (its `servername`).
const REALM: &str = "localhost";
const ADMIN: &str = "cyrusadmin";

/// Where `scripts/cyrus-setup` unpacked Cyrus: `IMAPMEND_CYRUS_ROOT`, else
/// `target/cyrus/root` of this checkout.
pub fn cyrus_root() -> PathBuf {
    std::env::var_os("IMAPMEND_CYRUS_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cyrus/root"))
}

/// Panics, saying what to run, unless `scripts/cyrus-setup` has unpacked
/// Cyrus where [`cyrus_root`] looks. `scripts/test` runs it first, so a
/// test that needs Cyrus fails here rather than being counted as passed.
fn require_setup() {
    let root = cyrus_root();
    if root.join("usr/lib/cyrus/bin/master").is_file() {
        return;
    }
    panic!(
        "\n**********************************************************************\n\
         ** CYRUS IMAP IS NOT SET UP (looked in {}).\n\
         ** Run scripts/cyrus-setup (scripts/test runs it for you; it needs\n\
         ** apt-get and root or sudo), or set IMAPMEND_CYRUS_ROOT to a Cyrus\n\
         ** it unpacked elsewhere.\n\
         **********************************************************************\n",
        root.display()
    );
}

static RUN_ROOT: OnceLock<PathBuf> = OnceLock::new();

/// The root to run from. Cyrus' processes run as `nobody` when we are
/// root, so they must be able to reach the binaries: a checkout under a
/// private directory (`/root/…`, mode 0700, as on many CI machines) is
/// copied once per test binary to a temp dir they can reach.
fn run_root() -> &'static Path {
    RUN_ROOT.get_or_init(|| {
        require_setup();
        let root = cyrus_root();
        // SAFETY: a plain getter.
        let as_root = unsafe { libc::geteuid() } == 0;
        let reachable = root.ancestors().all(|dir| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(dir).is_ok_and(|m| m.mode() & 0o001 != 0)
        });
        if !as_root || reachable {
            return root;
        }
        let copy = std::env::temp_dir().join(format!("imapmend-cyrus-bin-{}", std::process::id()));
        let status = Command::new("cp")
            .arg("-a")
            .arg(&root)
            .arg(&copy)
            .status()
            .expect("run cp");
        assert!(status.success(), "copying {} failed", root.display());
        copy
    })
}

fn bin(name: &str) -> PathBuf {
    run_root().join("usr/lib/cyrus/bin").join(name)
}

fn lib_path() -> String {
    let root = run_root();
    format!(
        "{}:{}",
        root.join("usr/lib/x86_64-linux-gnu").display(),
        root.join("usr/lib").display()
    )
}

/// The account processes run as: `nobody` as root, else ourselves.
fn run_as() -> (String, u32, u32) {
    // SAFETY: plain libc lookups, read at once.
    unsafe {
        let uid = libc::geteuid();
        let (name, uid, gid) = if uid == 0 {
            let c = std::ffi::CString::new("nobody").unwrap();
            let pw = libc::getpwnam(c.as_ptr());
            assert!(!pw.is_null(), "no user nobody");
            ("nobody".to_string(), (*pw).pw_uid, (*pw).pw_gid)
        } else {
            let pw = libc::getpwuid(uid);
            assert!(!pw.is_null(), "the current user has no passwd entry");
            let name = std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned();
            (name, uid, libc::getegid())
        };
        (name, uid, gid)
    }
}

/// A running Cyrus master; stopped (by PID) when dropped.
pub struct Cyrus {
    port: u16,
    child: Mutex<Option<Child>>,
    dir: tempfile::TempDir,
    admin_password: String,
    /// saslpasswd2 rewrites the file: one at a time.
    sasldb_lock: Mutex<()>,
}

static USER_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Cyrus {
    /// Starts a server (retrying on a port race).
    pub fn start() -> Cyrus {
        let mut last_error = String::new();
        for _ in 0..3 {
            match Cyrus::try_start() {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start Cyrus: {last_error}");
    }

    fn try_start() -> Result<Cyrus, String> {
        let (user, uid, gid) = run_as();
        let dir = tempfile::Builder::new()
            .prefix("imapmend-cyrus-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let root = dir.path();
        for sub in [
            "conf/db",
            "conf/socket",
            "conf/proc",
            "conf/lock",
            "spool",
            "run",
        ] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| e.to_string())?;
        }
        let port = process::free_port();
        let conf = root.join("imapd.conf");
        std::fs::write(
            &conf,
            format!(
                "configdirectory: {root}/conf\n\
                 partition-default: {root}/spool\n\
                 sievedir: {root}/conf/sieve\n\
                 servername: {REALM}\n\
                 admins: {ADMIN}\n\
                 cyrus_user: {user}\n\
                 allowplaintext: yes\n\
                 sasl_pwcheck_method: auxprop\n\
                 sasl_auxprop_plugin: sasldb\n\
                 sasl_sasldb_path: {root}/sasldb2\n\
                 sasl_mech_list: PLAIN LOGIN\n\
                 unixhierarchysep: no\n\
                 altnamespace: no\n\
                 syslog_prefix: imapmend-cyrus\n\
                 idlesocket: {root}/run/idle\n\
                 notifysocket: dlist:{root}/run/notify\n\
                 lmtpsocket: {root}/run/lmtp\n\
                 statuscache: no\n\
                 mailbox_legacy_dirs: yes\n",
                root = root.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let b = |n: &str| bin(n).display().to_string();
        std::fs::write(
            root.join("cyrus.conf"),
            format!(
                "START {{\n  recover cmd=\"{ctl} -C {conf} -r\"\n}}\n\
                 SERVICES {{\n  imap cmd=\"{imapd} -C {conf}\" listen=\"127.0.0.1:{port}\" \
                 prefork=1 maxchild=100\n}}\nEVENTS {{\n}}\n",
                ctl = b("ctl_cyrusdb"),
                imapd = b("imapd"),
                conf = conf.display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        let admin_password = format!("admin-{port}-{}", std::process::id());
        let server = Cyrus {
            port,
            child: Mutex::new(None),
            dir,
            admin_password: admin_password.clone(),
            sasldb_lock: Mutex::new(()),
        };
        server.set_password(ADMIN, &admin_password)?;
        chown_tree(server.dir.path(), uid, gid);
        std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let child = spawn_on_launcher_thread(server.dir.path())?;
        *server.child.lock().unwrap() = Some(child);
        server.wait_for_greeting()?;
        Ok(server)
    }

    fn wait_for_greeting(&self) -> Result<(), String> {
        process::wait_for_greeting(self.port, &self.child, |line| line.starts_with("* OK"))
            .map_err(|e| format!("cyrus master: {e}\n{}", self.diagnostics()))
    }

    fn diagnostics(&self) -> String {
        let out = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        format!(
            "--- master's stderr ---\n{out}(Cyrus logs to syslog; run a syslog daemon to see more)"
        )
    }

    /// Adds or replaces `user`'s password in the sasldb (realm `localhost`).
    fn set_password(&self, user: &str, password: &str) -> Result<(), String> {
        let _one_at_a_time = self.sasldb_lock.lock().unwrap();
        let sasldb = self.dir.path().join("sasldb2");
        let mut child = Command::new(run_root().join("usr/sbin/saslpasswd2"))
            .env("LD_LIBRARY_PATH", lib_path())
            .args(["-p", "-c", "-u", REALM, "-f"])
            .arg(&sasldb)
            .arg(user)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("saslpasswd2: {e}"))?;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "saslpasswd2 {user}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let (_, uid, gid) = run_as();
        chown(&sasldb, uid, gid);
        Ok(())
    }

    /// A logged-in client for the admin (`cyrusadmin`).
    pub fn admin(&self) -> MailClient {
        MailClient::login("127.0.0.1", self.port, ADMIN, &self.admin_password)
    }

    /// A new user with its own password and an empty INBOX.
    pub fn fresh_user(&self) -> User {
        let n = USER_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("c{n}p{}", std::process::id());
        let password = format!("pw-{n}-{:x}", self.port as u64 * 7919 + n as u64);
        self.set_password(&name, &password)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut admin = self.admin();
        admin.create(&format!("user.{name}"));
        admin.logout();
        User {
            home: self.dir.path().join("no-home").join(&name),
            name,
            password,
            port: self.port,
            kind: Kind::Full,
            tunnel: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn stop(&self) {
        process::stop(&self.child);
    }
}

impl Drop for Cyrus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Forks `master` so that it dies with the test process.
fn spawn_on_launcher_thread(dir: &Path) -> Result<Child, String> {
    let dir = dir.to_path_buf();
    process::spawn_on_launcher_thread("cyrus-launcher", move || {
        let stderr = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin("master"));
        cmd.arg("-C")
            .arg(dir.join("imapd.conf"))
            .arg("-M")
            .arg(dir.join("cyrus.conf"))
            .arg("-p")
            .arg(dir.join("run/master.pid"))
            .arg("-D")
            .current_dir(&dir)
            .env("LD_LIBRARY_PATH", lib_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        Ok(cmd)
    })
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    chown(path, uid, gid);
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

static SERVER: OnceLock<Cyrus> = OnceLock::new();

/// The Cyrus server shared by this test binary.
pub fn shared() -> &'static Cyrus {
    static CLEANUP: std::sync::Once = std::sync::Once::new();
    CLEANUP.call_once(|| {
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(stop_shared_server);
        }
    });
    SERVER.get_or_init(Cyrus::start)
}

extern "C" fn stop_shared_server() {
    if let Some(server) = SERVER.get() {
        server.stop();
        if std::env::var_os("IMAPMEND_KEEP_SERVERS").is_none() {
            let _ = std::fs::remove_dir_all(server.dir());
        }
    }
    if let Some(root) = RUN_ROOT.get() {
        if *root != cyrus_root() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// A fresh user on the shared Cyrus server.
pub fn fresh_user() -> User {
    shared().fresh_user()
}

/// The spool directory of a user of the shared server (`user/NAME` under
/// the partition, every folder a directory inside it: index, cache and
/// message files), e.g. to back it up and put it back.
pub fn mail_store(user: &User) -> PathBuf {
    fn find(dir: &Path, name: &str) -> Option<PathBuf> {
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == name)
                && path
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|p| p == "user")
            {
                return Some(path);
            }
            if let Some(found) = find(&path, name) {
                return Some(found);
            }
        }
        None
    }
    let spool = shared().dir().join("spool");
    find(&spool, &user.name).unwrap_or_else(|| {
        panic!(
            "no spool directory of {} under {}",
            user.name,
            spool.display()
        )
    })
}
