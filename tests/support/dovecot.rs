//! Real, throwaway Dovecot servers for the integration tests.
//!
//! Owns: writing a self-contained configuration from the one template in
//! `fixtures/dovecot.conf.in` (also used by `scripts/demo`), starting
//! `dovecot -F` on a free loopback port inside a temp dir, waiting for the
//! greeting, adding users to its passwd-file, and stopping it. It does not
//! speak IMAP beyond the greeting: that is `mailclient`'s job.
//!
//! Sharing: one server per [`Kind`] and slot per test binary (a `OnceLock`),
//! fresh users per test. Servers kept in a `static` are never dropped, so the
//! child gets `PR_SET_PDEATHSIG` and dies with the test process. The death
//! signal fires when the *thread* that forked the child ends, not the process,
//! so every server is forked from a launcher thread that never returns. At
//! exit the shared servers are stopped and their directories removed
//! (`IMAPMEND_KEEP_SERVERS=1` keeps the directories, logs included).
//!
//! As root, Dovecot's own processes run as `dovecot`/`dovenull` and mail is
//! stored as `nobody` (Dovecot refuses mail access as UID 0); the temp dir is
//! opened up (0755) and the homes are owned by the mail user. As non-root,
//! everything runs as the current user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::mailclient::MailClient;
use super::process;

/// The Dovecot binary; `DOVECOT` overrides it.
pub fn dovecot_binary() -> PathBuf {
    std::env::var_os("DOVECOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/dovecot"))
}

/// The configuration template shared with `scripts/demo`.
pub fn config_template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dovecot.conf.in")
}

/// Which IMAP extensions the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Dovecot as shipped: CONDSTORE, QRESYNC, ENABLE, UIDPLUS, MULTIAPPEND…
    Full,
    /// `imap_capability` without CONDSTORE, QRESYNC and ENABLE. Dovecot still
    /// *accepts* `ENABLE CONDSTORE` (and other CONDSTORE-enabling commands)
    /// from a client that sends them anyway; as long as nobody does, SELECT
    /// reports no HIGHESTMODSEQ.
    NoCondstore,
    /// Dovecot's defaults minus UIDPLUS (CONDSTORE/QRESYNC kept): a server
    /// where `UID EXPUNGE` is not offered, so a propagated expunge can only
    /// set \Deleted (docs/SCENARIOS.md E9). Dovecot still answers APPENDUID.
    NoUidplus,
}

/// Dovecot 2.3.19's default post-login capability list minus CONDSTORE,
/// QRESYNC and ENABLE (ENABLE only exists to turn those on here).
const NO_CONDSTORE_CAPABILITY: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID IDLE SORT \
SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT \
SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY \
PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY";

/// Dovecot 2.3.19's default post-login capability list minus UIDPLUS.
const NO_UIDPLUS_CAPABILITY: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
CATENATE UNSELECT CHILDREN NAMESPACE LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH \
ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY \
PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY";

impl Kind {
    /// The value of `imap_capability` for this kind ("" = Dovecot's default).
    pub fn imap_capability(self) -> &'static str {
        match self {
            Kind::Full => "",
            Kind::NoCondstore => NO_CONDSTORE_CAPABILITY,
            Kind::NoUidplus => NO_UIDPLUS_CAPABILITY,
        }
    }
}

/// The system accounts a server runs under.
#[derive(Debug, Clone)]
struct Accounts {
    internal_user: String,
    internal_group: String,
    login_user: String,
    mail_uid: u32,
    mail_gid: u32,
}

fn accounts() -> Accounts {
    // SAFETY: plain libc lookups; the returned pointers are read at once.
    unsafe {
        if libc::geteuid() == 0 {
            let (mail_uid, mail_gid) = lookup_user("nobody").unwrap_or((65534, 65534));
            Accounts {
                internal_user: "dovecot".into(),
                internal_group: "dovecot".into(),
                login_user: "dovenull".into(),
                mail_uid,
                mail_gid,
            }
        } else {
            let uid = libc::geteuid();
            let gid = libc::getegid();
            let user = name_of_uid(uid).expect("the current user has no passwd entry");
            let group = name_of_gid(gid).unwrap_or_else(|| user.clone());
            Accounts {
                internal_user: user.clone(),
                internal_group: group,
                login_user: user,
                mail_uid: uid,
                mail_gid: gid,
            }
        }
    }
}

unsafe fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let c = std::ffi::CString::new(name).ok()?;
    let pw = libc::getpwnam(c.as_ptr());
    if pw.is_null() {
        None
    } else {
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

unsafe fn name_of_uid(uid: u32) -> Option<String> {
    let pw = libc::getpwuid(uid);
    if pw.is_null() {
        return None;
    }
    Some(
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned(),
    )
}

unsafe fn name_of_gid(gid: u32) -> Option<String> {
    let gr = libc::getgrgid(gid);
    if gr.is_null() {
        return None;
    }
    Some(
        std::ffi::CStr::from_ptr((*gr).gr_name)
            .to_string_lossy()
            .into_owned(),
    )
}

/// A running Dovecot instance; stopped (by PID) when dropped.
pub struct Dovecot {
    kind: Kind,
    port: u16,
    pid: u32,
    child: Mutex<Option<Child>>,
    dir: tempfile::TempDir,
    accounts: Accounts,
}

/// One mail account on a server, with its own password.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub password: String,
    pub port: u16,
    pub kind: Kind,
    /// The user's home on the server's disk (mail in `~/Maildir`).
    pub home: PathBuf,
    /// A server reached through a command instead of `port` (Courier's
    /// `imapd`, already authenticated): imapmend gets it as `--X-tunnel`,
    /// the test client runs it too ([`MailClient::tunnel`]).
    pub tunnel: Option<String>,
}

impl User {
    /// `imap://USER@127.0.0.1:PORT`, as given to `--a` / `--b`.
    pub fn url(&self) -> String {
        format!("imap://{}@127.0.0.1:{}", self.name, self.port)
    }

    /// The user's Maildir, e.g. to back it up and restore it.
    pub fn maildir(&self) -> PathBuf {
        self.home.join("Maildir")
    }

    /// Puts messages straight into INBOX's `cur/` (flag letters in the
    /// names, e.g. "S"), bypassing APPEND: for what APPEND refuses (a
    /// zero-byte message) or would make slow (tens of thousands of
    /// messages). Files get the Maildir's owner, so the server can read them.
    pub fn put_in_maildir<'m>(
        &self,
        messages: impl IntoIterator<Item = (&'m str, &'m [u8], &'m str)>,
    ) {
        use std::os::unix::fs::MetadataExt;
        let cur = self.maildir().join("cur");
        if !cur.exists() {
            // Dovecot makes the Maildir at the first look into INBOX.
            let mut client = self.client();
            client.examine("INBOX");
            client.logout();
        }
        let owner = std::fs::metadata(&cur).expect("the user's Maildir exists");
        for (name, bytes, flags) in messages {
            let path = cur.join(format!("1700000000.M1P1.{name}:2,{flags}"));
            std::fs::write(&path, bytes).unwrap();
            std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
        }
    }

    /// The directory of the user's server (config, log, homes).
    fn server_dir(&self) -> &Path {
        self.home.parent().and_then(Path::parent).expect("home")
    }

    /// The log of the user's server (all its users), with one line per
    /// saved, copied or expunged message (Dovecot's mail_log plugin).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.server_dir().join("dovecot.log")).unwrap_or_default()
    }

    /// A tunnel command for `--a-tunnel`: `imap -c CONF -u USER`, Dovecot's
    /// IMAP process on the user's Maildir without any network (the user is
    /// looked up in the running server's userdb; as root, the process drops
    /// to the mail user itself). It greets with PREAUTH.
    pub fn imap_tunnel(&self) -> String {
        format!(
            "exec /usr/lib/dovecot/imap -c '{}' -u '{}'",
            self.server_dir().join("dovecot.conf").display(),
            self.name
        )
    }

    /// A logged-in test client for this user.
    pub fn client(&self) -> MailClient {
        match &self.tunnel {
            Some(command) => MailClient::tunnel(command),
            None => MailClient::login("127.0.0.1", self.port, &self.name, &self.password),
        }
    }
}

static USER_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Dovecot {
    /// Starts a new server of `kind` (retrying on a port race).
    pub fn start(kind: Kind) -> Dovecot {
        let mut last_error = String::new();
        for _ in 0..5 {
            match Dovecot::try_start(kind) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start Dovecot ({kind:?}): {last_error}");
    }

    fn try_start(kind: Kind) -> Result<Dovecot, String> {
        Dovecot::try_start_with(kind, "")
    }

    /// Starts a server of `kind` with settings appended to the template
    /// (a [`Layout`]'s), retrying on a port race.
    pub fn start_with(kind: Kind, extra_config: &str) -> Dovecot {
        let mut last_error = String::new();
        for _ in 0..5 {
            match Dovecot::try_start_with(kind, extra_config) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start Dovecot ({kind:?}, {extra_config:?}): {last_error}");
    }

    fn try_start_with(kind: Kind, extra_config: &str) -> Result<Dovecot, String> {
        let accounts = accounts();
        let dir = tempfile::Builder::new()
            .prefix("imapmend-dovecot-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let home = root.join("home");
        let state = root.join("state");
        std::fs::create_dir(&home).map_err(|e| e.to_string())?;
        std::fs::create_dir(&state).map_err(|e| e.to_string())?;
        chown(&home, accounts.mail_uid, accounts.mail_gid);
        let passwd = root.join("passwd.d");
        std::fs::create_dir(&passwd).map_err(|e| e.to_string())?;

        let port = process::free_port();
        let config = render_config(&ConfigValues {
            base_dir: &root.join("run"),
            state_dir: &state,
            log_path: &root.join("dovecot.log"),
            passwd_dir: &passwd,
            port,
            internal_user: &accounts.internal_user,
            internal_group: &accounts.internal_group,
            login_user: &accounts.login_user,
            imap_capability: kind.imap_capability(),
            extra_config,
        });
        let conf = root.join("dovecot.conf");
        std::fs::write(&conf, config).map_err(|e| e.to_string())?;

        let child = spawn_on_launcher_thread(&conf, root)?;
        let pid = child.id();
        let server = Dovecot {
            kind,
            port,
            pid,
            child: Mutex::new(Some(child)),
            dir,
            accounts,
        };
        server.wait_for_greeting()?;
        Ok(server)
    }

    fn wait_for_greeting(&self) -> Result<(), String> {
        process::wait_for_greeting(self.port, &self.child, |line| {
            line.starts_with("* OK") && !line.contains("Waiting for authentication")
        })
        .map_err(|e| format!("dovecot: {e}\n{}", self.diagnostics()))
    }

    fn diagnostics(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let out = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        format!("--- dovecot.log ---\n{log}--- stderr ---\n{out}")
    }

    /// A new user with its own password and an empty Maildir (INBOX only).
    pub fn fresh_user(&self) -> User {
        let n = USER_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("u{n}p{}", std::process::id());
        let password = format!("pw-{n}-{:x}", self.port as u64 * 7919 + n as u64);
        let home = self.dir.path().join("home").join(&name);
        let line = format!(
            "{name}:{{PLAIN}}{password}:{}:{}::{}::",
            self.accounts.mail_uid,
            self.accounts.mail_gid,
            home.display()
        );
        let home = home.clone();
        // One passwd-file per user (see fixtures/dovecot.conf.in): written
        // under a temporary name and renamed, so Dovecot never reads half.
        let path = self.passwd_dir().join(&name);
        let tmp = self.passwd_dir().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, line + "\n").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        User {
            name,
            password,
            port: self.port,
            kind: self.kind,
            home,
            tunnel: None,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn pid(&self) -> u32 {
        self.pid
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.log")
    }
    /// The directory of per-user passwd-files.
    pub fn passwd_dir(&self) -> PathBuf {
        self.dir.path().join("passwd.d")
    }
    /// The Maildir of a user (`~/Maildir`), e.g. to inspect files on disk.
    pub fn maildir(&self, user: &User) -> PathBuf {
        self.dir
            .path()
            .join("home")
            .join(&user.name)
            .join("Maildir")
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Asks the master to shut down (it takes about a second to finish).
    fn signal_stop(&self) {
        process::signal_stop(&self.child);
    }

    fn stop(&self) {
        process::stop(&self.child);
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Forks `dovecot -F -c CONF` so that it dies with the test process.
fn spawn_on_launcher_thread(conf: &Path, dir: &Path) -> Result<Child, String> {
    let conf = conf.to_path_buf();
    let dir = dir.to_path_buf();
    process::spawn_on_launcher_thread("dovecot-launcher", move || {
        let stderr = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(dovecot_binary());
        cmd.arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        Ok(cmd)
    })
}

/// chown, failing loudly as root (as non-root, chown to ourselves is a
/// no-op that may fail harmlessly). Also used for Cyrus' directories.
pub fn chown(path: &Path, uid: u32, gid: u32) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: plain syscall on a path we own.
    let rc = unsafe { libc::chown(c.as_ptr(), uid, gid) };
    // Non-root chown to ourselves is a no-op and may fail harmlessly.
    if rc != 0 && unsafe { libc::geteuid() } == 0 {
        panic!(
            "chown {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
    }
}

/// The values substituted into `fixtures/dovecot.conf.in`.
pub struct ConfigValues<'a> {
    pub base_dir: &'a Path,
    pub state_dir: &'a Path,
    pub log_path: &'a Path,
    pub passwd_dir: &'a Path,
    pub port: u16,
    pub internal_user: &'a str,
    pub internal_group: &'a str,
    pub login_user: &'a str,
    pub imap_capability: &'a str,
    /// Settings appended at the end (later settings override earlier ones).
    pub extra_config: &'a str,
}

/// Fills in the template; panics if a placeholder is left over.
pub fn render_config(v: &ConfigValues) -> String {
    let template = std::fs::read_to_string(config_template_path()).expect("read config template");
    let out = template
        .replace("@BASE_DIR@", &v.base_dir.display().to_string())
        .replace("@STATE_DIR@", &v.state_dir.display().to_string())
        .replace("@LOG_PATH@", &v.log_path.display().to_string())
        .replace("@PASSWD_DIR@", &v.passwd_dir.display().to_string())
        .replace("@PORT@", &v.port.to_string())
        .replace("@INTERNAL_USER@", v.internal_user)
        .replace("@INTERNAL_GROUP@", v.internal_group)
        .replace("@LOGIN_USER@", v.login_user)
        .replace("@IMAP_CAPABILITY@", v.imap_capability)
        // On its own line only: the comment naming it stays one line.
        .replace("\n@EXTRA_CONFIG@\n", &format!("\n{}\n", v.extra_config))
        .replace("@EXTRA_CONFIG@", "");
    let body: String = out
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(
        !body.contains('@'),
        "unsubstituted placeholder in dovecot config"
    );
    out
}

static SERVERS: [[OnceLock<Dovecot>; 2]; 3] = [
    [OnceLock::new(), OnceLock::new()],
    [OnceLock::new(), OnceLock::new()],
    [OnceLock::new(), OnceLock::new()],
];

/// The server shared by this test binary for `kind` and `slot` (0 or 1).
pub fn shared(kind: Kind, slot: usize) -> &'static Dovecot {
    static CLEANUP: std::sync::Once = std::sync::Once::new();
    CLEANUP.call_once(|| {
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(stop_shared_servers);
        }
    });
    let k = match kind {
        Kind::Full => 0,
        Kind::NoCondstore => 1,
        Kind::NoUidplus => 2,
    };
    SERVERS[k][slot].get_or_init(|| Dovecot::start(kind))
}

/// Statics are never dropped: stop the shared servers and remove their
/// directories when the test binary exits (the death signal is the backstop).
extern "C" fn stop_shared_servers() {
    let servers: Vec<&Dovecot> = SERVERS.iter().flatten().filter_map(OnceLock::get).collect();
    // Signal all first: each master needs about a second to shut down.
    for server in &servers {
        server.signal_stop();
    }
    for server in servers {
        server.stop();
        if std::env::var_os("IMAPMEND_KEEP_SERVERS").is_none() {
            let _ = std::fs::remove_dir_all(server.dir());
        }
    }
}

/// A fresh user on the first shared server of `kind`.
pub fn fresh_user(kind: Kind) -> User {
    shared(kind, 0).fresh_user()
}

/// Two fresh users on two different servers of `kind` (A on slot 0, B on 1).
pub fn pair(kind: Kind) -> (User, User) {
    (shared(kind, 0).fresh_user(), shared(kind, 1).fresh_user())
}

/// Two fresh users on the same server of `kind`.
pub fn pair_on_one_server(kind: Kind) -> (User, User) {
    let s = shared(kind, 0);
    (s.fresh_user(), s.fresh_user())
}

/// Mailbox layouts other than Dovecot's default Maildir++ (where '.'
/// separates levels and '/' is refused), for the naming tests. Each is a
/// [`Kind::Full`] server with settings appended to the shared template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `LAYOUT=fs`: '/' separates levels, '.' is a plain character.
    Slash,
    /// One personal namespace under the prefix `INBOX.` (Courier, Cyrus).
    InboxPrefix,
    /// mbox files: a mailbox is a file and cannot have children
    /// (`\NoInferiors`).
    Mbox,
    /// `LAYOUT=fs` with special-use mailboxes made for every user:
    /// "All Mail" (`\All`) and "Sent Items" (`\Sent`).
    SpecialUse,
}

const LAYOUTS: [Layout; 4] = [
    Layout::Slash,
    Layout::InboxPrefix,
    Layout::Mbox,
    Layout::SpecialUse,
];

impl Layout {
    /// The settings appended to the template for this layout.
    pub fn extra_config(self) -> &'static str {
        match self {
            Layout::Slash => "mail_location = maildir:~/Maildir:LAYOUT=fs\n",
            Layout::InboxPrefix => {
                "namespace inbox {\n  inbox = yes\n  prefix = INBOX.\n  separator = .\n}\n"
            }
            Layout::Mbox => "mail_location = mbox:~/mail:INBOX=~/mail/inbox\n",
            Layout::SpecialUse => {
                "mail_location = maildir:~/Maildir:LAYOUT=fs\n\
                 namespace inbox {\n  inbox = yes\n  separator = /\n\
                 \x20 mailbox \"All Mail\" {\n    special_use = \\All\n    auto = create\n  }\n\
                 \x20 mailbox \"Sent Items\" {\n    special_use = \\Sent\n    auto = create\n  }\n}\n"
            }
        }
    }
}

static LAYOUT_SERVERS: [[OnceLock<Dovecot>; 2]; 4] = [
    [OnceLock::new(), OnceLock::new()],
    [OnceLock::new(), OnceLock::new()],
    [OnceLock::new(), OnceLock::new()],
    [OnceLock::new(), OnceLock::new()],
];

/// The server of `layout` shared by this test binary, per slot (0 or 1).
pub fn shared_layout(layout: Layout, slot: usize) -> &'static Dovecot {
    static CLEANUP: std::sync::Once = std::sync::Once::new();
    CLEANUP.call_once(|| {
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(stop_layout_servers);
        }
    });
    let i = LAYOUTS.iter().position(|l| *l == layout).unwrap();
    LAYOUT_SERVERS[i][slot].get_or_init(|| Dovecot::start_with(Kind::Full, layout.extra_config()))
}

/// As [`stop_shared_servers`], for the layout servers.
extern "C" fn stop_layout_servers() {
    let servers: Vec<&Dovecot> = LAYOUT_SERVERS
        .iter()
        .flatten()
        .filter_map(OnceLock::get)
        .collect();
    for server in &servers {
        server.signal_stop();
    }
    for server in servers {
        server.stop();
        if std::env::var_os("IMAPMEND_KEEP_SERVERS").is_none() {
            let _ = std::fs::remove_dir_all(server.dir());
        }
    }
}
