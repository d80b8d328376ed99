//! A seeded generator of realistic, distinct messages: the tests' volume
//! and the benchmark's mail.
//!
//! Owns: deterministic mail (same seed, same bytes, on every machine) with
//! the shapes real mailboxes have: with and without Message-ID, short notes
//! and long bodies, multipart with an attachment, bare-LF line endings,
//! 8-bit bodies and the odd 8-bit header ([`Generator::new`], the tests');
//! or plain mail of a typical mailbox's sizes with LF line endings as a
//! Maildir holds it ([`Generator::typical`], which `examples/bench_mail.rs`
//! seeds its servers with: it includes this file). No external RNG crate:
//! splitmix64 ([`Rng`]).

/// splitmix64: tiny, fast, good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "Dmitri", "Eve", "Fatima", "Günther", "Hiro", "Ines", "Jonas",
];
const LAST: &[&str] = &[
    "Archer", "Baker", "Chen", "Dupont", "Eriksen", "Fischer", "García", "Horvat",
];
const DOMAINS: &[&str] = &[
    "example.org",
    "example.com",
    "lists.example.net",
    "mail.test",
];
const SUBJECTS: &[&str] = &[
    "Quarterly report",
    "Re: lunch on Friday?",
    "[dev] build broken on main",
    "Fwd: invoice 2024-113",
    "Meeting notes",
    "Your order has shipped",
    "Re: Re: holiday schedule",
    "Question about the API",
];
const WORDS: &[&str] = &[
    "the",
    "server",
    "mailbox",
    "restore",
    "backup",
    "flag",
    "message",
    "replica",
    "sync",
    "please",
    "review",
    "attached",
    "tomorrow",
    "thanks",
    "and",
    "of",
    "to",
    "in",
    "we",
    "should",
    "check",
    "whether",
    "both",
    "sides",
    "agree",
    "after",
    "migration",
];
const WORDS_8BIT: &[&str] = &[
    "Grüße",
    "naïve",
    "façade",
    "Ærøskøbing",
    "crème",
    "Smørrebrød",
    "€100",
    "Straße",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One generated message and the INTERNALDATE to append it with.
#[derive(Debug, Clone)]
pub struct Generated {
    pub bytes: Vec<u8>,
    /// IMAP date-time, e.g. `14-Mar-2023 09:26:53 +0000`.
    pub internal_date: String,
}

/// How big [`Generator::message`] makes a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// A drawn number of paragraphs (1–12, or 400–800 for a large one) and
    /// of attachment lines: the tests' shapes.
    Paragraphs,
    /// A size drawn from a typical mailbox's mix (40% 1.5–3 KB, 35% 3–5 KB,
    /// 20% 5–8 KB, 5% 8–20 KB; mean near 4 KB), the message filled to it.
    Typical,
}

/// Seeded message generator. Every message is distinct (it carries its index).
pub struct Generator {
    rng: Rng,
    index: u64,
    /// Percentages for the odd shapes.
    pub no_message_id_percent: u64,
    pub bare_lf_percent: u64,
    pub eight_bit_percent: u64,
    pub large_percent: u64,
    pub multipart_percent: u64,
    /// Names keep their accents (Günther, García) as raw 8-bit bytes in
    /// From and To; false spells them in ASCII.
    pub eight_bit_names: bool,
    pub sizes: Sizes,
}

/// A message with an attachment above this size (as mail of that size
/// mostly is).
const ATTACHED_ABOVE: usize = 6000;
/// One attachment line: 60 base64 characters and LF.
const ATTACHMENT_LINE: usize = 61;

/// How much text or attachment to write: a count, or bytes to fill.
#[derive(Clone, Copy)]
enum Length {
    Count(u64),
    Bytes(usize),
}

impl Generator {
    /// The tests' mail, odd shapes included.
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            index: 0,
            no_message_id_percent: 20,
            bare_lf_percent: 15,
            eight_bit_percent: 15,
            large_percent: 3,
            multipart_percent: 15,
            eight_bit_names: true,
            sizes: Sizes::Paragraphs,
        }
    }

    /// Plain mail of a typical mailbox's sizes: every message with a
    /// Message-ID, 7-bit throughout, LF line endings (as a Maildir holds it; IMAP
    /// servers serve it with CRLF).
    pub fn typical(seed: u64) -> Generator {
        Generator {
            no_message_id_percent: 0,
            bare_lf_percent: 100,
            eight_bit_percent: 0,
            large_percent: 0,
            eight_bit_names: false,
            sizes: Sizes::Typical,
            ..Generator::new(seed)
        }
    }

    /// Numbers the next message `first` (Subject and Message-ID carry it),
    /// e.g. to add mail distinct from what an earlier run made.
    pub fn numbered_from(mut self, first: u64) -> Generator {
        self.index = first.saturating_sub(1);
        self
    }

    /// `n` messages.
    pub fn messages(&mut self, n: usize) -> Vec<Generated> {
        (0..n).map(|_| self.message()).collect()
    }

    pub fn message(&mut self) -> Generated {
        let size = match self.sizes {
            Sizes::Paragraphs => None,
            Sizes::Typical => Some(typical_size(&mut self.rng)),
        };
        self.build(size)
    }

    /// A message of about `size` bytes: a text, and above 6 KB (or when
    /// drawn) an attachment making up the rest.
    pub fn message_of_size(&mut self, size: usize) -> Generated {
        self.build(Some(size))
    }

    fn build(&mut self, size: Option<usize>) -> Generated {
        self.index += 1;
        let r = &mut self.rng;
        let spelt = |name: &str| {
            if self.eight_bit_names {
                name.to_string()
            } else {
                name.replace('ü', "ue").replace('í', "i")
            }
        };
        let from = format!(
            "{} {} <{}@{}>",
            spelt(r.pick(FIRST)),
            spelt(r.pick(LAST)),
            spelt(r.pick(FIRST)).to_lowercase(),
            r.pick(DOMAINS)
        );
        let to = format!(
            "{}@{}",
            spelt(r.pick(FIRST)).to_lowercase(),
            r.pick(DOMAINS)
        );
        let (year, month, day) = (2015 + r.below(10), r.below(12), 1 + r.below(28));
        let (hh, mm, ss) = (r.below(24), r.below(60), r.below(60));
        let header_date = format!(
            "{}, {day} {} {year} {hh:02}:{mm:02}:{ss:02} +0000",
            r.pick(DAYS),
            MONTHS[month as usize]
        );
        let internal_date = format!(
            "{day:02}-{}-{year} {hh:02}:{mm:02}:{ss:02} +0000",
            MONTHS[month as usize]
        );
        let eight_bit = r.chance(self.eight_bit_percent);
        let eight_bit_header = eight_bit && r.chance(30);
        let bare_lf = r.chance(self.bare_lf_percent);
        let with_id = !r.chance(self.no_message_id_percent);
        let large = r.chance(self.large_percent);
        let multipart = !large
            && (r.chance(self.multipart_percent) || size.is_some_and(|s| s > ATTACHED_ABOVE));

        let mut subject = format!("{} #{}", r.pick(SUBJECTS), self.index);
        if eight_bit_header {
            subject.push(' ');
            subject.push_str(r.pick(WORDS_8BIT));
        }
        let mut headers = vec![
            format!("Return-Path: <{to}>"),
            format!(
                "Received: from mx{}.{} by mail.test; {header_date}",
                r.below(9),
                r.pick(DOMAINS)
            ),
            format!("From: {from}"),
            format!("To: {to}"),
            format!("Subject: {subject}"),
            format!("Date: {header_date}"),
        ];
        if with_id {
            headers.push(format!(
                "Message-ID: <{:016x}.{}@{}>",
                r.next_u64(),
                self.index,
                r.pick(DOMAINS)
            ));
        }
        headers.push("MIME-Version: 1.0".into());

        // What the text and the attachment are to fill, when a size is asked
        // for: the rest after the headers and the MIME structure.
        let (text_length, attachment_length) = match size {
            None => {
                let paragraphs = if large {
                    400 + r.below(400)
                } else {
                    1 + r.below(12)
                };
                (Length::Count(paragraphs), None)
            }
            Some(size) => {
                let head: usize = headers.iter().map(|h| h.len() + 1).sum();
                let room = size.saturating_sub(head + 150);
                if multipart {
                    let text = room.min(1500 + r.below(1000) as usize);
                    let rest = room.saturating_sub(text + 350);
                    (Length::Bytes(text), Some(Length::Bytes(rest)))
                } else {
                    (Length::Bytes(room), None)
                }
            }
        };
        let mut text = paragraphs(r, eight_bit, text_length);
        text.push_str(&format!("-- \nmessage {} of the generator\n", self.index));

        let cte = if eight_bit { "8bit" } else { "7bit" };
        let body = if multipart {
            let boundary = format!("=_b{:x}", r.next_u64());
            headers.push(format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\""
            ));
            let lines = match attachment_length {
                Some(length) => length,
                None => Length::Count(4 + r.below(30)),
            };
            let attachment = attachment(r, lines);
            format!(
                "This is a multi-part message in MIME format.\n\n--{boundary}\n\
                 Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: {cte}\n\n\
                 {text}\n--{boundary}\nContent-Type: application/octet-stream; name=\"data.bin\"\n\
                 Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"data.bin\"\n\n\
                 {attachment}\n--{boundary}--\n"
            )
        } else {
            headers.push("Content-Type: text/plain; charset=utf-8".into());
            headers.push(format!("Content-Transfer-Encoding: {cte}"));
            text
        };
        let message = format!("{}\n\n{}", headers.join("\n"), body);
        let bytes = if bare_lf {
            message.into_bytes()
        } else {
            message.replace('\n', "\r\n").into_bytes()
        };
        Generated {
            bytes,
            internal_date,
        }
    }
}

/// A size from a typical mailbox's mix ([`Sizes::Typical`]).
fn typical_size(r: &mut Rng) -> usize {
    let (lo, hi): (u64, u64) = match r.below(100) {
        0..=39 => (1500, 3000),
        40..=74 => (3000, 5000),
        75..=94 => (5000, 8000),
        _ => (8000, 20000),
    };
    (lo + r.below(hi - lo)) as usize
}

/// Paragraphs of words on lines of at most 72 columns, the odd one 8-bit
/// when `eight_bit`: `Count` paragraphs, or as many words as reach `Bytes`.
fn paragraphs(r: &mut Rng, eight_bit: bool, length: Length) -> String {
    let full = |text: &str| matches!(length, Length::Bytes(b) if text.len() >= b);
    let mut text = String::new();
    let mut p = 0;
    while match length {
        Length::Count(n) => p < n,
        Length::Bytes(b) => text.len() < b,
    } {
        if p > 0 {
            text.push('\n');
        }
        let words = 8 + r.below(60);
        let mut line_len = 0;
        for w in 0..words {
            if full(&text) {
                break;
            }
            let word = if eight_bit && r.chance(10) {
                r.pick(WORDS_8BIT)
            } else {
                r.pick(WORDS)
            };
            if line_len + word.len() > 72 {
                text.push('\n');
                line_len = 0;
            } else if w > 0 {
                text.push(' ');
                line_len += 1;
            }
            text.push_str(word);
            line_len += word.len();
        }
        text.push_str(".\n");
        p += 1;
    }
    text
}

/// Base64-alphabet lines of random data: `Count` lines, or as many as
/// reach `Bytes` (one at least).
fn attachment(r: &mut Rng, length: Length) -> String {
    let lines = match length {
        Length::Count(n) => n as usize,
        Length::Bytes(b) => (b / ATTACHMENT_LINE).max(1),
    };
    let mut out = String::with_capacity(lines * ATTACHMENT_LINE);
    for _ in 0..lines {
        out.push_str(&format!(
            "{:016x}{:016x}{:016x}{:012x}\n",
            r.next_u64(),
            r.next_u64(),
            r.next_u64(),
            r.next_u64() >> 16
        ));
    }
    out
}
