//! The tokenizer the hand-written parsers share: atoms (leniently),
//! quoted strings (unescaped), literals (`{n}` and `~{n}`), NIL, flat and
//! balanced parenthesised lists, over one complete response.

use std::borrow::Cow;

/// A tiny tokenizer over one response: atoms, quoted strings (unescaped),
/// literals (`{n}` and `~{n}`), NIL and flat parenthesised lists.
pub(super) struct Lexer<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Lexer { b, i: 0 }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        &self.b[self.i..]
    }

    pub(super) fn err(&self, what: &str) -> String {
        let at = &self.b[self.i..self.b.len().min(self.i + 40)];
        format!("expected {what} at {:?}", String::from_utf8_lossy(at))
    }

    pub(super) fn sp(&mut self) -> Result<(), String> {
        if self.peek() == Some(b' ') {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err("a space"))
        }
    }

    /// Atom characters, leniently: anything printable but space, parens,
    /// `{`, `"` and `]` (so `\Seen`, `\*`, `1:5,7` and `READ-WRITE` are atoms).
    pub(super) fn atom(&mut self) -> Result<&'a str, String> {
        self.atom_until(b"(){\"]")
    }

    /// Atom characters up to (not including) any of `stops`, space or a
    /// control or 8-bit byte.
    pub(super) fn atom_until(&mut self, stops: &[u8]) -> Result<&'a str, String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b <= b' ' || b >= 0x7f || stops.contains(&b) {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("an atom"));
        }
        // Only ASCII bytes were accepted.
        Ok(std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default())
    }

    pub(super) fn sp_number(&mut self) -> Result<u32, String> {
        self.sp()?;
        let a = self.atom()?;
        a.parse().map_err(|_| format!("{a:?} is not a number"))
    }

    /// A parenthesised value of any depth, as written (quoted strings are
    /// skipped over, literals are refused).
    pub(super) fn balanced(&mut self) -> Result<String, String> {
        let start = self.i;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(self.err("')'")),
                Some(b'(') => depth += 1,
                Some(b')') => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(String::from_utf8_lossy(&self.b[start..self.i]).into_owned());
                    }
                }
                Some(b'"') => {
                    self.quoted()?;
                    continue;
                }
                Some(b'{') | Some(b'\r') | Some(b'\n') => return Err(self.err("a simple value")),
                Some(_) => {}
            }
            self.i += 1;
        }
    }

    /// `(a b c)`: a flat list of atoms (flags, attributes, STATUS items).
    pub(super) fn atom_list(&mut self) -> Result<Vec<String>, String> {
        if self.peek() != Some(b'(') {
            return Err(self.err("'('"));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b')') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b' ') => self.i += 1,
                _ => out.push(self.atom()?.to_string()),
            }
        }
    }

    pub(super) fn quoted(&mut self) -> Result<Cow<'a, [u8]>, String> {
        self.i += 1; // the opening quote
        let start = self.i;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => return Err(self.err("a closing quote")),
                Some(b'"') => {
                    let out = match owned {
                        Some(v) => Cow::Owned(v),
                        None => Cow::Borrowed(&self.b[start..self.i]),
                    };
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let v = owned.get_or_insert_with(|| self.b[start..self.i].to_vec());
                    let next = *self
                        .b
                        .get(self.i + 1)
                        .ok_or_else(|| self.err("an escape"))?;
                    v.push(next);
                    self.i += 2;
                }
                Some(b) => {
                    if let Some(v) = owned.as_mut() {
                        v.push(b);
                    }
                    self.i += 1;
                }
            }
        }
    }

    pub(super) fn literal(&mut self) -> Result<&'a [u8], String> {
        if self.peek() == Some(b'~') {
            self.i += 1;
        }
        if self.peek() != Some(b'{') {
            return Err(self.err("a literal"));
        }
        let close = self.b[self.i..]
            .iter()
            .position(|&b| b == b'}')
            .ok_or_else(|| self.err("'}'"))?;
        let digits = std::str::from_utf8(&self.b[self.i + 1..self.i + close]).unwrap_or("");
        let n: usize = digits
            .parse()
            .map_err(|_| format!("literal size {digits:?}"))?;
        let start = self.i + close + 1;
        if self.b.get(start..start + 2) != Some(&b"\r\n"[..]) {
            return Err(self.err("CRLF after a literal size"));
        }
        let end = (start + 2)
            .checked_add(n)
            .ok_or_else(|| format!("literal size {n} out of range"))?;
        let data = self
            .b
            .get(start + 2..end)
            .ok_or_else(|| "literal shorter than announced".to_string())?;
        self.i = end;
        Ok(data)
    }

    /// string / NIL
    pub(super) fn nstring(&mut self) -> Result<Option<Cow<'a, [u8]>>, String> {
        match self.peek() {
            Some(b'"') => self.quoted().map(Some),
            Some(b'{') | Some(b'~') => self.literal().map(|d| Some(Cow::Borrowed(d))),
            _ => {
                let a = self.atom()?;
                if a.eq_ignore_ascii_case("NIL") {
                    Ok(None)
                } else {
                    Err(format!("expected a string or NIL, got {a:?}"))
                }
            }
        }
    }

    /// atom / string
    pub(super) fn astring(&mut self) -> Result<Cow<'a, [u8]>, String> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') | Some(b'~') => self.literal().map(Cow::Borrowed),
            // ASTRING-CHAR includes `]` (RFC 3501): a mailbox `foo]bar`
            // may come unquoted.
            _ => self
                .atom_until(b"(){\"")
                .map(|a| Cow::Borrowed(a.as_bytes())),
        }
    }
}
