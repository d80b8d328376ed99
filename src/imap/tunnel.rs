//! The tunnel transport: IMAP over a command's standard input and output,
//! as mbsync's `Tunnel` and interimap's tunnel do (`ssh mailhost
//! /usr/lib/dovecot/imap`, which greets with PREAUTH).
//!
//! Owns: starting the command with `sh -c` (stdin/stdout piped, no
//! terminal, the password variables removed from its environment), keeping
//! the last few KiB of its standard error — never printed, only quoted
//! in an error about the tunnel, with the password blanked — and ending it:
//! the child is killed when the session is dropped and reaped by tokio
//! (`kill_on_drop`). It knows nothing of IMAP.

use super::error::{ImapError, Peer};
use crate::secret::Secret;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// How much of the command's standard error is kept (the end of it).
const STDERR_TAIL: usize = 2048;

/// What a side's tunnel runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSpec {
    /// Given to `sh -c`.
    pub command: String,
    /// Environment variables removed before the command starts (those that
    /// hold passwords: `IMAPMEND_A_PASSWORD`, a config file's
    /// `password_env`…).
    pub hide_env: Vec<String>,
}

/// The running command: its pipes are the IMAP byte stream.
pub(crate) struct Tunnel {
    stdin: ChildStdin,
    stdout: ChildStdout,
    watch: TunnelWatch,
}

/// A handle on the child and its standard error, kept by whoever may need
/// to explain a failure after the stream itself is gone.
#[derive(Clone)]
pub(crate) struct TunnelWatch {
    child: Arc<tokio::sync::Mutex<Child>>,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
    /// The task reading standard error; done once the pipe is closed.
    stderr_reader: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

/// Starts `sh -c COMMAND`.
pub(crate) fn spawn(peer: &Peer, spec: &TunnelSpec) -> Result<Tunnel, ImapError> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(&spec.command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in &spec.hide_env {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().map_err(|source| ImapError::Connect {
        peer: peer.clone(),
        source: io::Error::new(
            source.kind(),
            format!("cannot start the tunnel command with sh -c: {source}"),
        ),
    })?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        unreachable!("all three pipes were requested");
    };
    let stderr_tail = Arc::new(Mutex::new(Vec::new()));
    let tail = Arc::clone(&stderr_tail);
    let reader = tokio::spawn(async move {
        let mut chunk = [0u8; 1024];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            t.extend_from_slice(&chunk[..n]);
            let excess = t.len().saturating_sub(STDERR_TAIL);
            t.drain(..excess);
        }
    });
    Ok(Tunnel {
        stdin,
        stdout,
        watch: TunnelWatch {
            child: Arc::new(tokio::sync::Mutex::new(child)),
            stderr_tail,
            stderr_reader: Arc::new(tokio::sync::Mutex::new(Some(reader))),
        },
    })
}

impl Tunnel {
    pub(crate) fn watch(&self) -> TunnelWatch {
        self.watch.clone()
    }
}

impl TunnelWatch {
    /// Why the tunnel failed, for an error: the command's exit status (if it
    /// ended within `wait`) and the end of its standard error, with
    /// `password` blanked out.
    pub(crate) async fn explain(&self, wait: Duration, password: &Secret) -> String {
        let (status, ended) = {
            let mut child = self.child.lock().await;
            match tokio::time::timeout(wait, child.wait()).await {
                Ok(Ok(status)) => (format!("the tunnel command ended ({status})"), true),
                Ok(Err(e)) => (
                    format!("the tunnel command's status is unknown ({e})"),
                    false,
                ),
                Err(_) => ("the tunnel command is still running".to_string(), false),
            }
        };
        // Let the reader take in what the command wrote before it ended
        // (a process it left behind may hold the pipe open: bounded).
        if ended {
            if let Some(reader) = self.stderr_reader.lock().await.take() {
                let _ = tokio::time::timeout(wait, reader).await;
            }
        }
        let tail = self
            .stderr_tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut text = String::from_utf8_lossy(&tail).trim().to_string();
        let secret = password.expose();
        if !secret.is_empty() {
            text = text.replace(secret, "<secret>");
        }
        let text: String = text
            .chars()
            .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
            .collect();
        if text.is_empty() {
            format!("{status}; it wrote nothing on standard error")
        } else {
            format!("{status}; the end of its standard error: {text}")
        }
    }
}

impl AsyncRead for Tunnel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

impl Drop for Tunnel {
    /// The session is over: end the command now rather than leave it
    /// waiting on a closed pipe. tokio reaps it (`kill_on_drop`).
    fn drop(&mut self) {
        if let Ok(mut child) = self.watch.child.try_lock() {
            let _ = child.start_kill();
            let _ = child.try_wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Side;
    use tokio::io::AsyncWriteExt;

    fn peer() -> Peer {
        Peer {
            side: Side::A,
            host: "mailhost".into(),
            port: 143,
        }
    }

    fn spec(command: &str) -> TunnelSpec {
        TunnelSpec {
            command: command.into(),
            hide_env: Vec::new(),
        }
    }

    #[tokio::test]
    async fn bytes_go_through_the_command_both_ways() {
        let mut t = spawn(&peer(), &spec("cat")).unwrap();
        t.write_all(b"a NOOP\r\n").await.unwrap();
        t.flush().await.unwrap();
        let mut got = [0u8; 8];
        t.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"a NOOP\r\n");
    }

    #[tokio::test]
    async fn an_early_exit_is_explained_with_status_and_stderr_without_the_password() {
        let mut t = spawn(
            &peer(),
            &spec("echo 'ssh: connect refused; typed hunter2 here' >&2; exit 7"),
        )
        .unwrap();
        let mut buf = Vec::new();
        t.read_to_end(&mut buf).await.unwrap();
        assert!(buf.is_empty());
        let why = t
            .watch()
            .explain(Duration::from_secs(5), &Secret::new("hunter2"))
            .await;
        assert!(why.contains("exit status: 7"), "{why}");
        assert!(why.contains("ssh: connect refused"), "{why}");
        assert!(!why.contains("hunter2"), "{why}");
    }

    #[tokio::test]
    async fn hidden_variables_are_not_passed_to_the_command() {
        // HOME stands in for a password variable: it is always set.
        assert!(std::env::var_os("HOME").is_some());
        let spec = TunnelSpec {
            command: "echo \"[${HOME:-unset}]\"".into(),
            hide_env: vec!["HOME".into()],
        };
        let mut t = spawn(&peer(), &spec).unwrap();
        let mut out = String::new();
        t.read_to_string(&mut out).await.unwrap();
        assert_eq!(out.trim(), "[unset]");
    }

    #[tokio::test]
    async fn dropping_the_session_kills_and_reaps_the_command() {
        let t = spawn(&peer(), &spec("exec sleep 300")).unwrap();
        let pid = t.watch.child.lock().await.id().unwrap() as libc::pid_t;
        drop(t);
        // Killed and reaped: the PID soon no longer exists, not even as a
        // zombie (signal 0 only checks for existence).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // SAFETY: signal 0 sends nothing.
        while unsafe { libc::kill(pid, 0) } == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "pid {pid} still exists"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
