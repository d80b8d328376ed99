//! Passwords and tokens: held in memory without ever printing themselves,
//! read from a command's output, and — for OAuth 2.0 access tokens, which
//! expire — fetched again when a long run needs a new connection.
//!
//! `Debug` and `Display` of a [`Secret`] both show `<secret>`, so a secret
//! that ends up in a log line, an error message or a `{:?}` dump reveals
//! nothing.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// Takes off one trailing newline (LF or CRLF), as files and commands end
/// their single line; anything else is part of the secret.
pub fn strip_one_newline(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

/// Runs `cmd` with `sh -c` (standard input inherited, so it may prompt)
/// and returns what it printed, less one trailing newline. The error names
/// it as `what` ("password", "token"), says how it failed and what it said
/// on standard error (capped), never what it printed on standard output.
pub fn from_command(cmd: &str, what: &str) -> Result<String, String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run the {what} command with sh: {e}"))?;
    if !out.status.success() {
        const MAX: usize = 2000;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut stderr = stderr.trim().to_string();
        if stderr.len() > MAX {
            let cut = (0..=MAX)
                .rev()
                .find(|&i| stderr.is_char_boundary(i))
                .unwrap_or(0);
            stderr.truncate(cut);
            stderr.push('…');
        }
        let said = if stderr.is_empty() {
            "no error output".to_string()
        } else {
            format!("its error output: {stderr}")
        };
        return Err(format!(
            "the {what} command failed ({}); {said}",
            out.status
        ));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| format!("the {what} command printed something that is not UTF-8"))?;
    Ok(strip_one_newline(text))
}

/// How long a fetched access token is used for new connections before the
/// command is asked again. Providers' tokens live about an hour; token
/// helpers hand out a cached one until shortly before it expires, so asking
/// again costs little, and a connection opened late in a long run (a
/// reconnect, another connection of the pool) does not log in with a token
/// that has expired meanwhile.
pub const TOKEN_REUSE: Duration = Duration::from_secs(5 * 60);

/// An OAuth 2.0 access token that comes from a command: the token fetched
/// when the run was set up, and the command to fetch a fresh one.
pub struct TokenCommand {
    command: String,
    last: Mutex<(Secret, Instant)>,
}

impl fmt::Debug for TokenCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCommand(<secret>)")
    }
}

impl TokenCommand {
    /// `first`: the token `command` printed just now.
    pub fn new(command: String, first: Secret) -> TokenCommand {
        TokenCommand {
            command,
            last: Mutex::new((first, Instant::now())),
        }
    }

    /// A source whose last token was fetched at `at` (tests age it).
    #[cfg(test)]
    pub(crate) fn fetched_at(command: String, last: Secret, at: Instant) -> TokenCommand {
        TokenCommand {
            command,
            last: Mutex::new((last, at)),
        }
    }

    /// The token to log in with now: the last one while younger than
    /// [`TOKEN_REUSE`], else a fresh one from the command (blocking while
    /// it runs).
    pub fn current(&self) -> Result<Secret, String> {
        self.current_at(Instant::now())
    }

    fn current_at(&self, now: Instant) -> Result<Secret, String> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(last.1) < TOKEN_REUSE {
            return Ok(last.0.clone());
        }
        let token = from_command(&self.command, "token")?;
        if token.is_empty() {
            return Err("the token command printed nothing".into());
        }
        *last = (Secret::new(token), now);
        Ok(last.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_reused_for_a_while_then_fetched_again() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        // Prints tok-N, N counting the runs.
        let command = format!(
            "n=$(($(cat '{0}' 2>/dev/null || echo 0) + 1)); echo $n > '{0}'; echo tok-$n",
            count.display()
        );
        let first = Secret::new(from_command(&command, "token").unwrap());
        assert_eq!(first.expose(), "tok-1");
        let source = TokenCommand::new(command, first);
        let start = source.last.lock().unwrap().1;
        let soon = start + TOKEN_REUSE / 2;
        assert_eq!(source.current_at(soon).unwrap().expose(), "tok-1");
        let later = start + TOKEN_REUSE;
        assert_eq!(source.current_at(later).unwrap().expose(), "tok-2");
        assert_eq!(source.current_at(later).unwrap().expose(), "tok-2");
        assert_eq!(format!("{source:?}"), "TokenCommand(<secret>)");
    }

    #[test]
    fn a_failing_refresh_says_so_without_the_token() {
        let source = TokenCommand::new("echo tok-secret; exit 3".into(), Secret::new("tok-1"));
        let later = source.last.lock().unwrap().1 + TOKEN_REUSE;
        let err = source.current_at(later).unwrap_err();
        assert!(err.starts_with("the token command failed"), "{err}");
        assert!(!err.contains("tok-secret"), "{err}");
    }
}
