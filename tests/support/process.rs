//! Server processes for the tests — what the Dovecot, Cyrus and pymap
//! harnesses share: a free loopback port, forking a server so that it dies
//! with the test process, waiting for its IMAP greeting, and stopping it;
//! copying a mail store aside and back (`cp -a`).
//! Nothing here knows which server it runs.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now (a race with other
/// processes is possible: callers retry).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Spawns the command `make` builds from a thread that never ends, with
/// `PR_SET_PDEATHSIG`: the death signal fires when the *thread* that forked
/// the child ends, so a server kept in a `static` dies only with the whole
/// test process.
pub fn spawn_on_launcher_thread(
    name: &str,
    make: impl FnOnce() -> Result<Command, String> + Send + 'static,
) -> Result<Child, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let result = make().and_then(|mut cmd| {
                // SAFETY: only async-signal-safe calls between fork and exec.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                cmd.spawn()
                    .map_err(|e| format!("spawn {:?}: {e}", cmd.get_program()))
            });
            let _ = tx.send(result);
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| e.to_string())?;
    rx.recv().map_err(|e| e.to_string())?
}

/// Waits (20 s at most) until a connection to `port` is greeted with a line
/// `accept` takes; fails early if the child exits. The error says which.
pub fn wait_for_greeting(
    port: u16,
    child: &Mutex<Option<Child>>,
    accept: impl Fn(&str) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child
            .lock()
            .unwrap()
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            return Err(format!("the server exited with {status} before greeting"));
        }
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut line = String::new();
            if BufReader::new(stream).read_line(&mut line).is_ok() && accept(&line) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err("no greeting in time".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM to the child (if still held), for servers that take a moment
/// to shut down: signal them all first, then [`stop`] each.
pub fn signal_stop(child: &Mutex<Option<Child>>) {
    if let Some(c) = child.lock().unwrap().as_ref() {
        // SAFETY: signalling our own child by PID.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
    }
}

/// SIGTERM, up to 5 s to exit, then SIGKILL; reaped either way.
pub fn stop(child: &Mutex<Option<Child>>) {
    signal_stop(child);
    if let Some(mut child) = child.lock().unwrap().take() {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `cp -a`: keeps owners and modes (the mail user's, when run as root),
/// e.g. to back up a mail store and put it back.
pub fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}
