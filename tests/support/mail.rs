//! Small hand-named messages for tests that build their state by hand:
//! `msg("m1")` is a distinct message with a Message-ID of its own, known
//! to the oracle by that name (its diffs say `m1`, not a hash), and
//! [`DATE`] the INTERNALDATE such tests append with. Volume comes from
//! [`super::generator`], real odd mail from [`super::corpus`].

use super::oracle;

/// The INTERNALDATE hand-built messages are appended with.
pub const DATE: &str = "01-Jan-2024 10:00:00 +0000";

/// A small distinct message named `name`.
pub fn msg(name: &str) -> Vec<u8> {
    msg_of_size(name, 0)
}

/// A distinct message named `name`, its body padded to about `size` bytes
/// (large ones let a cut land inside a literal).
pub fn msg_of_size(name: &str, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n\
         Subject: message {name}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
         Message-ID: <{name}@tests.imapmend.test>\r\n\r\nThis is {name}.\r\n"
    )
    .into_bytes();
    let line = format!("{name}: the quick brown fox jumps over the lazy dog 0123456789\r\n");
    while m.len() < size {
        m.extend_from_slice(line.as_bytes());
    }
    oracle::name_content(&m, name);
    m
}
