//! Framing of server responses: finding where one complete response ends in
//! a byte buffer — its lines plus every `{n}` / `~{n}` literal they announce
//! — with size caps, so a broken or hostile server cannot make us buffer
//! without bound.
//!
//! Pure and incremental: the engine feeds the growing receive buffer and
//! gets back the end of the first complete response. Parsing what the
//! response means is `parse`'s job.

/// Why the byte stream cannot be a valid response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// A line (between literals) longer than the cap.
    LineTooLong { max: usize },
    /// A literal announced larger than the cap.
    LiteralTooLarge { size: u64, max: u64 },
    /// A line ended in a bare LF.
    BareLf,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::LineTooLong { max } => {
                write!(f, "response line longer than {max} bytes")
            }
            FrameError::LiteralTooLarge { size, max } => {
                write!(f, "literal of {size} bytes exceeds the cap of {max} bytes")
            }
            FrameError::BareLf => write!(f, "response line ends in a bare LF"),
        }
    }
}

/// Where the scan of the current (incomplete) response stands.
#[derive(Debug, Default, Clone)]
pub(crate) struct Scan {
    /// Where the current line starts (after the last literal).
    line_start: usize,
    /// Where to continue looking for LF; may lie beyond the buffer while a
    /// literal is still arriving.
    pos: usize,
}

impl Scan {
    /// Looks for the end of the first complete response in `buf` (which
    /// starts with that response). Returns its length once complete; the
    /// scan state then resets for the next response. Call again with the
    /// same (grown) buffer after `None`.
    pub(crate) fn next(
        &mut self,
        buf: &[u8],
        max_line: usize,
        max_literal: u64,
    ) -> Result<Option<usize>, FrameError> {
        loop {
            if self.pos > buf.len() {
                return Ok(None);
            }
            let Some(off) = buf[self.pos..].iter().position(|&b| b == b'\n') else {
                if buf.len() - self.line_start > max_line {
                    return Err(FrameError::LineTooLong { max: max_line });
                }
                self.pos = buf.len();
                return Ok(None);
            };
            let lf = self.pos + off;
            if lf + 1 - self.line_start > max_line {
                return Err(FrameError::LineTooLong { max: max_line });
            }
            if lf == self.line_start || buf[lf - 1] != b'\r' {
                return Err(FrameError::BareLf);
            }
            let line = &buf[self.line_start..lf - 1];
            match literal_size(line) {
                Some(size) => {
                    if size > max_literal {
                        return Err(FrameError::LiteralTooLarge {
                            size,
                            max: max_literal,
                        });
                    }
                    // size <= max_literal, which fits in usize on every
                    // platform we build for (caps are far below 4 GiB).
                    let end = lf + 1 + size as usize;
                    self.line_start = end;
                    self.pos = end;
                }
                None => {
                    *self = Scan::default();
                    return Ok(Some(lf + 1));
                }
            }
        }
    }

    /// How many bytes the buffer must hold, at least, before the current
    /// response can be complete: beyond its length while a literal whose
    /// size was announced is still arriving.
    pub(crate) fn awaiting(&self) -> usize {
        self.pos
    }
}

/// If the line ends with a literal announcement `{n}` (or `{n+}`, `~{n}`),
/// its size.
pub(crate) fn literal_size(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // A size beyond u64 is still a literal announcement (and over any cap),
    // not the end of the response.
    Some(
        std::str::from_utf8(digits)
            .ok()?
            .parse()
            .unwrap_or(u64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(buf: &[u8]) -> Result<Option<usize>, FrameError> {
        Scan::default().next(buf, 1000, 1000)
    }

    #[test]
    fn frame_a_simple_line() {
        assert_eq!(whole(b"* 3 EXISTS\r\n* 4 RECENT\r\n"), Ok(Some(12)));
        assert_eq!(whole(b"* 3 EXISTS\r"), Ok(None));
        assert_eq!(whole(b"* 3 EXISTS\n"), Err(FrameError::BareLf));
    }

    #[test]
    fn frame_includes_literals_and_the_line_after_them() {
        let r = b"* 1 FETCH (UID 5 BODY[] {5}\r\na\r\nb} UID 5)\r\nA1 OK\r\n";
        let end = whole(r).unwrap().unwrap();
        assert_eq!(
            &r[..end],
            &b"* 1 FETCH (UID 5 BODY[] {5}\r\na\r\nb} UID 5)\r\n"[..]
        );
        // The literal's content `{2}` is data, not an announcement.
        let r = b"* LIST () \"/\" ~{3}\r\n{2}\r\n";
        assert_eq!(whole(r), Ok(Some(r.len())));
    }

    #[test]
    fn frame_is_incremental_across_splits_at_every_byte() {
        let r: &[u8] = b"* 1 FETCH (BODY[] {12}\r\nhello\r\nworld FLAGS ())\r\n";
        for cut in 0..r.len() {
            let mut scan = Scan::default();
            let first = scan.next(&r[..cut], 1000, 1000).unwrap();
            assert_eq!(first, None, "cut at {cut}");
            assert_eq!(
                scan.next(r, 1000, 1000).unwrap(),
                Some(r.len()),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn frame_caps_line_length_and_literal_size() {
        let long = vec![b'x'; 2000];
        assert_eq!(whole(&long), Err(FrameError::LineTooLong { max: 1000 }));
        let mut long_line = long.clone();
        long_line.extend_from_slice(b"\r\n");
        assert_eq!(
            whole(&long_line),
            Err(FrameError::LineTooLong { max: 1000 })
        );
        assert_eq!(
            whole(b"* 1 FETCH (BODY[] {1001}\r\n"),
            Err(FrameError::LiteralTooLarge {
                size: 1001,
                max: 1000
            })
        );
    }

    #[test]
    fn literal_announcements_are_recognised() {
        assert_eq!(literal_size(b"x {12}"), Some(12));
        assert_eq!(literal_size(b"x ~{12}"), Some(12));
        assert_eq!(literal_size(b"x {12+}"), Some(12));
        assert_eq!(literal_size(b"x {}"), None);
        assert_eq!(literal_size(b"x {a}"), None);
        assert_eq!(literal_size(b"x 12}"), None);
        assert_eq!(
            literal_size(b"x {99999999999999999999999999}"),
            Some(u64::MAX)
        );
    }
}
