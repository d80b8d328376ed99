//! Status responses: the condition (OK, NO, BAD, BYE, PREAUTH), the
//! response code in `[…]` (the ones the engine acts on read into
//! [`Code`], any other kept by name with its arguments as written) and the
//! text after it, for tagged completions and untagged status alike.

use super::lexer::Lexer;

/// The condition of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond {
    Ok,
    No,
    Bad,
    Bye,
    PreAuth,
}

impl Cond {
    pub(super) fn from_atom(a: &str) -> Option<Cond> {
        Some(match a.to_ascii_uppercase().as_str() {
            "OK" => Cond::Ok,
            "NO" => Cond::No,
            "BAD" => Cond::Bad,
            "BYE" => Cond::Bye,
            "PREAUTH" => Cond::PreAuth,
            _ => return None,
        })
    }
}

/// A response code (`[…]` at the start of resp-text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Code {
    Capability(Vec<String>),
    UidValidity(u32),
    UidNext(u32),
    HighestModSeq(u64),
    NoModSeq,
    PermanentFlags(Vec<String>),
    ReadOnly,
    ReadWrite,
    /// UIDPLUS: the uid-set kept as written (expanded by the caller, who
    /// knows how many UIDs to expect).
    AppendUid {
        uidvalidity: u32,
        uid_set: String,
    },
    /// CONDSTORE: UIDs (or sequence numbers) that failed UNCHANGEDSINCE.
    Modified(String),
    /// Anything else, by name with its arguments as written.
    Other {
        name: String,
        args: String,
    },
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Code::Other { name, args } if args.is_empty() => f.write_str(name),
            Code::Other { name, args } => write!(f, "{name} {args}"),
            Code::Capability(caps) => write!(f, "CAPABILITY {}", caps.join(" ")),
            Code::UidValidity(v) => write!(f, "UIDVALIDITY {v}"),
            Code::UidNext(v) => write!(f, "UIDNEXT {v}"),
            Code::HighestModSeq(v) => write!(f, "HIGHESTMODSEQ {v}"),
            Code::NoModSeq => f.write_str("NOMODSEQ"),
            Code::PermanentFlags(flags) => write!(f, "PERMANENTFLAGS ({})", flags.join(" ")),
            Code::ReadOnly => f.write_str("READ-ONLY"),
            Code::ReadWrite => f.write_str("READ-WRITE"),
            Code::AppendUid {
                uidvalidity,
                uid_set,
            } => write!(f, "APPENDUID {uidvalidity} {uid_set}"),
            Code::Modified(set) => write!(f, "MODIFIED {set}"),
        }
    }
}

/// A tagged completion, or the data of an untagged status response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub cond: Cond,
    pub code: Option<Code>,
    pub text: String,
}

/// `[SP] ["[" code "]" SP] text` after a condition.
pub(super) fn resp_text(cond: Cond, rest: &[u8]) -> Result<Status, String> {
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let (code, text) = if rest.first() == Some(&b'[') {
        let (code, after) = resp_code(&rest[1..]);
        (Some(code), after.strip_prefix(b" ").unwrap_or(after))
    } else {
        (None, rest)
    };
    Ok(Status {
        cond,
        code,
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

/// The code after `[`, and what follows its `]`. A code whose arguments we
/// cannot tokenise is kept raw as [`Code::Other`] up to the last `]`.
fn resp_code(after_bracket: &[u8]) -> (Code, &[u8]) {
    let mut lx = Lexer::new(after_bracket);
    if let Ok(parsed) = known_code(&mut lx) {
        if lx.peek() == Some(b']') {
            return (parsed, &after_bracket[lx.i + 1..]);
        }
    }
    let close = after_bracket
        .iter()
        .rposition(|&b| b == b']')
        .unwrap_or(after_bracket.len());
    let inner = String::from_utf8_lossy(&after_bracket[..close]);
    let (name, args) = inner.split_once(' ').unwrap_or((&inner, ""));
    let code = Code::Other {
        name: name.to_ascii_uppercase(),
        args: args.to_string(),
    };
    (code, after_bracket.get(close + 1..).unwrap_or(&[]))
}

fn known_code(lx: &mut Lexer<'_>) -> Result<Code, String> {
    let name = lx.atom()?.to_ascii_uppercase();
    let code = match name.as_str() {
        "CAPABILITY" => {
            let mut caps = Vec::new();
            while lx.peek() == Some(b' ') {
                lx.sp()?;
                if lx.peek() != Some(b']') {
                    caps.push(lx.atom()?.to_string());
                }
            }
            Code::Capability(caps)
        }
        "UIDVALIDITY" => Code::UidValidity(lx.sp_number()?),
        "UIDNEXT" => Code::UidNext(lx.sp_number()?),
        "HIGHESTMODSEQ" => {
            lx.sp()?;
            let a = lx.atom()?;
            Code::HighestModSeq(a.parse().map_err(|_| format!("HIGHESTMODSEQ {a:?}"))?)
        }
        "NOMODSEQ" => Code::NoModSeq,
        "READ-ONLY" => Code::ReadOnly,
        "READ-WRITE" => Code::ReadWrite,
        "PERMANENTFLAGS" => {
            lx.sp()?;
            Code::PermanentFlags(lx.atom_list()?)
        }
        "APPENDUID" => {
            let uidvalidity = lx.sp_number()?;
            lx.sp()?;
            Code::AppendUid {
                uidvalidity,
                uid_set: lx.atom()?.to_string(),
            }
        }
        "MODIFIED" => {
            lx.sp()?;
            Code::Modified(lx.atom()?.to_string())
        }
        _ => return Err("not a code we read".into()),
    };
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::{parse, Response};
    #[test]
    fn appenduid_modified_and_unknown_codes_are_read() {
        let Response::Tagged { status, .. } =
            parse(b"A9 OK [APPENDUID 1700000000 7:9,12] Append completed.\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            status.code,
            Some(Code::AppendUid {
                uidvalidity: 1700000000,
                uid_set: "7:9,12".into()
            })
        );
        let Response::Tagged { status, .. } =
            parse(b"A9 OK [MODIFIED 7,9] Conditional STORE failed\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(status.code, Some(Code::Modified("7,9".into())));
        assert_eq!(status.code.unwrap().to_string(), "MODIFIED 7,9");
        assert_eq!(Code::ReadOnly.to_string(), "READ-ONLY");
        let Response::Tagged { status, .. } =
            parse(b"A9 NO [LIMIT (\"a]b\") x] Too many\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            status.code,
            Some(Code::Other {
                name: "LIMIT".into(),
                args: "(\"a]b\") x".into()
            })
        );
        assert_eq!(status.text, "Too many");
    }
}
