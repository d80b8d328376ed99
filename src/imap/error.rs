//! Errors of the IMAP layer and the peer they are about.
//!
//! Every error names the side (A/B) and `host:port` it happened on, and what
//! was being done ("while reading the response to SELECT \"Archive\""). No
//! variant ever holds a password: commands are described by labels built for
//! humans, never by the bytes that went on the wire.

use crate::model::Side;
use std::fmt;

/// The server an error is about: side plus `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub side: Side,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{} ([{}]:{})", self.side, self.host, self.port)
        } else {
            write!(f, "{} ({}:{})", self.side, self.host, self.port)
        }
    }
}

/// Everything that can go wrong talking to a server. Messages name the side
/// and server; they never contain a password.
///
/// Only [`ImapError::No`] and [`ImapError::Invalid`] leave the session usable
/// (see [`ImapError::is_fatal`]); after any other error every later call on
/// the same [`super::Connection`] fails with [`ImapError::Closed`].
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// TCP connection (or name resolution) failed.
    #[error("{peer}: cannot connect: {source}")]
    Connect {
        peer: Peer,
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the established connection failed.
    #[error("{peer}: I/O error while {during}: {source}")]
    Io {
        peer: Peer,
        during: String,
        #[source]
        source: std::io::Error,
    },
    /// TLS set-up failed, or STARTTLS was asked for and is not possible.
    #[error("{peer}: TLS: {detail}")]
    Tls { peer: Peer, detail: String },
    /// The server said nothing for too long: a stall is an error, not a hang.
    #[error("{peer}: no answer within {secs} s while {during}")]
    Timeout {
        peer: Peer,
        during: String,
        secs: u64,
    },
    /// A tagged NO: the server refused this command. The session stays usable.
    #[error("{peer}: {command} refused: NO {}{text}", code.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default())]
    No {
        peer: Peer,
        command: String,
        /// The response code, e.g. `TRYCREATE`, `OVERQUOTA`, `LIMIT`.
        code: Option<String>,
        text: String,
    },
    /// A tagged or untagged BAD: the server did not understand us.
    #[error("{peer}: {command} rejected as malformed: BAD {text}")]
    Bad {
        peer: Peer,
        command: String,
        text: String,
    },
    /// The server ended the session with an untagged BYE.
    #[error("{peer}: server closed the session: BYE {text}")]
    Bye { peer: Peer, text: String },
    /// The connection ended without a BYE.
    #[error("{peer}: connection closed by the server while {during}")]
    Eof { peer: Peer, during: String },
    /// The server sent something we cannot parse or did not expect.
    #[error("{peer}: protocol error while {during}: {detail}")]
    Protocol {
        peer: Peer,
        during: String,
        detail: String,
    },
    /// LOGIN / AUTHENTICATE was refused.
    #[error("{peer}: login as {user:?} refused: {text}")]
    AuthRefused {
        peer: Peer,
        user: String,
        text: String,
    },
    /// The password would have gone over an unprotected connection.
    #[error("{peer}: refusing to send the password for {user:?} in clear to a non-loopback host (use TLS or STARTTLS, or allow plaintext auth explicitly)")]
    PlaintextRefused { peer: Peer, user: String },
    /// The caller asked for something that cannot be sent (a mailbox name
    /// with CR/LF/NUL, a malformed flag, no mailbox selected). Nothing was
    /// sent; the session stays usable.
    #[error("{peer}: {detail}")]
    Invalid { peer: Peer, detail: String },
    /// An earlier error ended this session.
    #[error("{peer}: session unusable after an earlier error ({reason})")]
    Closed { peer: Peer, reason: String },
}

impl ImapError {
    /// The server refused because the mailbox does not exist: the
    /// `[NONEXISTENT]` code (RFC 5530), or Dovecot's words for it where it
    /// sends no code — as it does for what its Maildir++ layout leaves of a
    /// deleted parent that has children: listed as an ordinary mailbox, yet
    /// "Mailbox doesn't exist" on SELECT.
    pub fn says_nonexistent(&self) -> bool {
        match self {
            ImapError::No { code, text, .. } => {
                code.as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case("NONEXISTENT"))
                    || text.starts_with("Mailbox doesn't exist")
            }
            _ => false,
        }
    }

    /// Whether the session is dead after this error. A tagged NO (the server
    /// refused one command) and an invalid argument (nothing was sent) leave
    /// it usable; everything else means: reconnect.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, ImapError::No { .. } | ImapError::Invalid { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Side;

    fn no(code: Option<&str>, text: &str) -> ImapError {
        ImapError::No {
            peer: Peer {
                side: Side::A,
                host: "h".into(),
                port: 143,
            },
            command: "SELECT".into(),
            code: code.map(str::to_string),
            text: text.into(),
        }
    }

    #[test]
    fn nonexistent_is_the_code_or_dovecots_words_for_it_and_nothing_else() {
        assert!(no(Some("NONEXISTENT"), "No such mailbox").says_nonexistent());
        assert!(no(None, "Mailbox doesn't exist: 2 (0.001 + 0.000 secs).").says_nonexistent());
        assert!(!no(Some("SERVERBUG"), "Internal error occurred.").says_nonexistent());
        assert!(!no(None, "Mailbox is locked, try again").says_nonexistent());
    }
}
