//! How strings go on the wire in our commands: quoted strings (with `\` and
//! `"` escaped) or literals, and the checks that keep CR/LF/NUL out of
//! places where they would break the command framing.
//!
//! It decides the form only; the engine decides whether a literal is sent
//! synchronising (`{n}`) or not (`{n+}`).

use std::borrow::Cow;

/// An IMAP astring ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Astring<'a> {
    /// Already quoted and escaped, quotes included.
    Quoted(String),
    /// Raw bytes to send as a literal.
    Literal(Cow<'a, [u8]>),
}

/// A mailbox name (wire form). CR, LF and NUL are refused: no server can
/// store them and they would only ever come from corruption. Names with
/// 8-bit bytes go as literals, everything else as a quoted string.
pub(crate) fn mailbox(name: &str) -> Result<Astring<'_>, String> {
    if let Some(bad) = name.bytes().find(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(format!(
            "mailbox name {name:?} contains byte 0x{bad:02x} (CR, LF and NUL cannot be sent)"
        ));
    }
    Ok(astring(name.as_bytes()))
}

/// Any astring: quoted when it is 7-bit without CR/LF/NUL, else a literal.
/// (Used for user names and passwords, which may legitimately be 8-bit.)
pub(crate) fn astring(bytes: &[u8]) -> Astring<'_> {
    if bytes.iter().all(|&b| is_quotable(b)) {
        // Every byte is ASCII here, so this cannot fail.
        Astring::Quoted(quoted(std::str::from_utf8(bytes).unwrap_or_default()))
    } else {
        Astring::Literal(Cow::Borrowed(bytes))
    }
}

/// Whether a byte may appear in a quoted string (RFC 3501 QUOTED-CHAR,
/// before escaping).
fn is_quotable(b: u8) -> bool {
    (1..=0x7f).contains(&b) && b != b'\r' && b != b'\n'
}

/// `"…"` with `\` and `"` escaped. The caller guarantees 7-bit text without
/// CR/LF/NUL (dates, fixed patterns, checked names).
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether a flag can be sent as is inside a flag list: `\Atom` or a
/// keyword atom (RFC 3501 `flag`). `\*` and `\Recent` are refused: neither
/// can be stored on a message.
pub(crate) fn is_sendable_flag(flag: &str) -> bool {
    let atom = flag.strip_prefix('\\').unwrap_or(flag);
    !atom.is_empty() && atom.bytes().all(is_atom_char) && !flag.eq_ignore_ascii_case("\\Recent")
}

/// RFC 3501 ATOM-CHAR: any CHAR except atom-specials.
fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_names_are_quoted_with_escapes() {
        assert_eq!(
            mailbox("INBOX").unwrap(),
            Astring::Quoted("\"INBOX\"".into())
        );
        assert_eq!(
            mailbox(r#"a"b\c d"#).unwrap(),
            Astring::Quoted(r#""a\"b\\c d""#.into())
        );
        assert_eq!(mailbox("").unwrap(), Astring::Quoted("\"\"".into()));
    }

    #[test]
    fn mailbox_names_with_8bit_go_as_literals_and_crlf_nul_are_refused() {
        assert_eq!(
            mailbox("Entwürfe").unwrap(),
            Astring::Literal(Cow::Borrowed("Entwürfe".as_bytes()))
        );
        assert!(mailbox("a\r\nb").is_err());
        assert!(mailbox("a\0b").is_err());
        assert!(mailbox("a\nb").is_err());
    }

    #[test]
    fn passwords_with_crlf_become_literals() {
        assert_eq!(astring(b"p\"w"), Astring::Quoted("\"p\\\"w\"".into()));
        assert!(matches!(astring(b"a\r\nb"), Astring::Literal(_)));
    }

    #[test]
    fn only_wellformed_storable_flags_are_sendable() {
        for ok in ["\\Seen", "$Forwarded", "NonJunk", "\\Answered"] {
            assert!(is_sendable_flag(ok), "{ok}");
        }
        for bad in ["\\Recent", "\\*", "", "\\", "a b", "x(y", "a]", "ü", "a\"b"] {
            assert!(!is_sendable_flag(bad), "{bad}");
        }
    }
}
