//! What `-vv` and `-vvv` show of the IMAP conversation: each command sent
//! (debug level) and each response read (trace level), one line each, with
//! every literal (message bodies, long names) replaced by its size and
//! every credential replaced by a marker — rendered here, at the source, so
//! no subscriber setting (`RUST_LOG` included) can show more.
//!
//! A line is rendered only when its level is enabled, so a quiet run pays
//! one check per command.

/// Longest rendering of one line: UID sets and flag lists can be long.
const MAX_CHARS: usize = 600;

/// Commands whose arguments are credentials: only their label is shown.
pub(super) fn carries_credentials(name: &str) -> bool {
    matches!(name, "LOGIN" | "AUTHENTICATE")
}

/// A literal's stand-in.
pub(super) fn elided(len: usize) -> String {
    format!("{{{len} bytes elided}}")
}

/// One line for humans: lossy UTF-8, line breaks shown as spaces, cut at
/// [`MAX_CHARS`].
pub(super) fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .trim_end_matches(['\r', '\n'])
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .take(MAX_CHARS)
        .collect();
    if text.chars().count() > MAX_CHARS {
        out.push('…');
    }
    out
}

/// A complete response (line plus literals) with each literal's bytes
/// replaced by [`elided`]: `{N}` or `~{N}` (with or without `+`) at the end
/// of a line announces N bytes.
pub(super) fn response_line(resp: &[u8]) -> String {
    let mut shown = Vec::with_capacity(resp.len().min(MAX_CHARS * 2));
    let mut at = 0;
    while at < resp.len() {
        let Some(eol) = resp[at..].windows(2).position(|w| w == b"\r\n") else {
            shown.extend_from_slice(&resp[at..]);
            break;
        };
        let line = &resp[at..at + eol];
        at += eol + 2;
        match literal_announced(line) {
            Some((head, len)) => {
                shown.extend_from_slice(head);
                shown.extend_from_slice(elided(len).as_bytes());
                at = at.saturating_add(len).min(resp.len());
            }
            None => {
                shown.extend_from_slice(line);
                shown.extend_from_slice(b"\r\n");
            }
        }
        if shown.len() > MAX_CHARS * 4 {
            break;
        }
    }
    printable(&shown)
}

/// `(the line before the announcement, N)` when `line` ends in `{N}`,
/// `{N+}`, `~{N}` or `~{N+}`.
fn literal_announced(line: &[u8]) -> Option<(&[u8], usize)> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let head = &line[..open];
    Some((head.strip_suffix(b"~").unwrap_or(head), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_responses_show_literals_as_sizes() {
        let resp = b"* 1 FETCH (UID 7 BODY[] {11}\r\nhello world)\r\n";
        assert_eq!(
            response_line(resp),
            "* 1 FETCH (UID 7 BODY[] {11 bytes elided})"
        );
        let two = b"* 2 FETCH (BODY[HEADER] {3+}\r\nabc BODY[TEXT] ~{2}\r\nxy)\r\n";
        let shown = response_line(two);
        assert_eq!(
            shown,
            "* 2 FETCH (BODY[HEADER] {3 bytes elided} BODY[TEXT] {2 bytes elided})"
        );
        assert_eq!(response_line(b"A0001 OK done\r\n"), "A0001 OK done");
        // A brace that announces nothing is text.
        assert_eq!(response_line(b"* OK [ALERT] {x}\r\n"), "* OK [ALERT] {x}");
        // A literal cut short is elided to the end, not read past it.
        assert_eq!(
            response_line(b"* 3 FETCH (BODY[] {50}\r\nsecret"),
            "* 3 FETCH (BODY[] {50 bytes elided}"
        );
    }

    #[test]
    fn trace_lines_are_cut() {
        let long = vec![b'a'; 5000];
        let shown = printable(&long);
        assert_eq!(shown.chars().count(), MAX_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert!(carries_credentials("LOGIN") && carries_credentials("AUTHENTICATE"));
        assert!(!carries_credentials("SELECT"));
    }
}
