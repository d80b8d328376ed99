//! What a batch just appended became on the target. The UIDs APPENDUID
//! named are listed (one `UID FETCH` of their metadata), and only those
//! the server shows are recorded as confirmed pairs: a server may name a
//! UID it never shows (Gmail drops an APPEND of a message it already
//! holds); such a pair stays an unconfirmed receipt, which proves no
//! expunge (docs/SCENARIOS.md E14) until a later listing shows it.
//!
//! The copies the target may have rewritten are then read back (one
//! `UID FETCH … BODY.PEEK[]` of just those), so their cache rows hold the
//! target's own fingerprint, not the source's (I7): a later run that reads
//! the target again (`--verify`, a restored side) finds the content it was
//! told. Which ones, from what is at hand without another round trip (the
//! census): the body sent has no final line break, a bare CR, a NUL or an
//! 8-bit byte in its header (what Courier, Dovecot and Cyrus rewrite), or
//! the size the target lists differs from the bytes sent; and, because how
//! this server treats the rest is not known yet, the first
//! [`LEARN`] copies into each mailbox whatever they hold, among those of at
//! most [`LEARN_AT_MOST`] bytes: a small message teaches as much about the
//! server as a large one, and reading back a 30 MB copy doubled that
//! copy's time and peak memory (scripts/bench).

use crate::fingerprint::fingerprint;
use crate::imap::{Connection, ImapError};
use crate::model::{Fingerprint, Uid};
use std::collections::{HashMap, HashSet};

/// Copies read back into each mailbox before a server is trusted to keep
/// the bytes of messages the census finds nothing in.
pub(super) const LEARN: usize = 4;

/// The largest copy read back only to learn the server (1 MiB).
pub(super) const LEARN_AT_MOST: usize = 1 << 20;

/// The target mailbox of one copy: how many copies were read back to it.
#[derive(Default)]
pub(super) struct Target {
    /// Copies read back so far, the census notwithstanding.
    learned: usize,
}

/// One copy just appended: its UID on the target (APPENDUID), the bytes
/// sent, and whether the census picked them ([`may_be_rewritten`], worked
/// out as the body was read).
pub(super) struct Sent {
    pub uid: Uid,
    pub len: usize,
    pub rewritable: bool,
}

/// What the target showed of the copies of one batch.
#[derive(Default)]
pub(super) struct Landed {
    /// The UIDs it lists.
    pub listed: HashSet<Uid>,
    /// The copies read back: the target's fingerprint and size.
    pub read: HashMap<Uid, (Fingerprint, u32)>,
}

impl Target {
    /// Lists the new UIDs (`sent`) of `wire`, which has `uidvalidity`
    /// (APPENDUID said so), and reads back those the census picks: in one
    /// flight with the SELECT where this session does not hold the mailbox
    /// yet, and with the copies picked before their listed size is known
    /// (the census's, and the small ones while learning) read in that same
    /// flight; a copy listed at another size than the bytes sent is read
    /// in a second. An error leaves what is not known yet out: unlisted
    /// copies stay unconfirmed, unread ones keep the source's fingerprint,
    /// and the next run's listing decides.
    pub(super) async fn landed(
        &mut self,
        conn: &mut Connection,
        wire: &str,
        uidvalidity: u32,
        sent: &[Sent],
    ) -> Result<Landed, ImapError> {
        // SELECT, not EXAMINE: the next batch is appended on this session,
        // and some servers (Courier) refuse an APPEND into the mailbox a
        // session holds read-only. Nothing is opened where the session
        // holds it so already (a mailbox this run created is SELECTed
        // right after its CREATE, and stays selected).
        let held = conn.holds_writable_at(wire, uidvalidity);
        let uids: Vec<Uid> = sent.iter().map(|s| s.uid).collect();
        let early: Vec<(Uid, u32)> = sent
            .iter()
            .filter(|copy| {
                let pick = to_read_back(self.learned, copy.len as u32, copy);
                self.learned += usize::from(pick);
                pick
            })
            .map(|copy| (copy.uid, copy.len as u32))
            .collect();
        let mut read: HashMap<Uid, Fingerprint> = HashMap::with_capacity(early.len());
        let mut on_body = |uid: Uid, body: Vec<u8>| {
            read.insert(uid, fingerprint(&body));
        };
        let first = conn
            .read_in_flight(wire, false, uidvalidity, &uids, &early, &mut on_body)
            .await?;
        let mut sizes: HashMap<Uid, u32> = first.meta.iter().map(|m| (m.uid, m.size)).collect();
        let unseen: Vec<Uid> = uids
            .iter()
            .copied()
            .filter(|uid| !sizes.contains_key(uid))
            .collect();
        if held && !unseen.is_empty() {
            // Dovecot announces an APPEND into the mailbox the session
            // holds (EXISTS) and lists the new UIDs at once; Courier shows
            // them to this session only once it opens the mailbox again.
            // So copies not listed are looked for once more after a SELECT
            // before they are taken for lost (a server that dropped them,
            // E14), which costs nothing where everything was listed.
            conn.select(wire, false).await?;
            let again = conn
                .read_in_flight(wire, false, uidvalidity, &unseen, &[], &mut |_, _| {})
                .await?;
            sizes.extend(again.meta.iter().map(|m| (m.uid, m.size)));
        }
        // Listed at another size than the bytes sent: read back too.
        let late: Vec<(Uid, u32)> = sent
            .iter()
            .filter(|copy| !read.contains_key(&copy.uid))
            .filter_map(|copy| {
                let &size = sizes.get(&copy.uid)?;
                let pick = to_read_back(self.learned, size, copy);
                self.learned += usize::from(pick);
                pick.then_some((copy.uid, size))
            })
            .collect();
        if !late.is_empty() {
            let mut on_body = |uid: Uid, body: Vec<u8>| {
                read.insert(uid, fingerprint(&body));
            };
            conn.read_in_flight(wire, false, uidvalidity, &[], &late, &mut on_body)
                .await?;
        }
        // Only what the target lists counts as read back.
        let read = read
            .into_iter()
            .filter_map(|(uid, fp)| Some((uid, (fp, *sizes.get(&uid)?))))
            .collect();
        Ok(Landed {
            listed: sizes.into_keys().collect(),
            read,
        })
    }
}

/// Whether a copy is read back: the census finds something in it, the
/// target lists another size than the bytes sent, or fewer than [`LEARN`]
/// copies into this mailbox were read back so far and it is small enough
/// to learn from.
fn to_read_back(learned: usize, listed_size: u32, sent: &Sent) -> bool {
    let learning = learned < LEARN && sent.len <= LEARN_AT_MOST;
    learning || listed_size as usize != sent.len || sent.rewritable
}

/// The census: what in these bytes some server rewrites on APPEND or
/// FETCH — no final line break (Courier adds one), a bare CR (Courier
/// drops it, Dovecot turns `\r\r\n` into `\r\n`), a NUL (Dovecot serves
/// 0x80) or an 8-bit byte in the header (Cyrus folds it to `X`). Runs on
/// every body copied, so the whole-body passes are counts and `memchr`,
/// which vectorise, not a branch per byte.
pub(super) fn may_be_rewritten(body: &[u8]) -> bool {
    if !body.ends_with(b"\n") || body.contains(&0) {
        return true;
    }
    let header_end = find(body, b"\r\n\r\n")
        .or_else(|| find(body, b"\n\n"))
        .unwrap_or(body.len());
    if !body[..header_end].is_ascii() {
        return true;
    }
    // Every CR is followed by LF exactly when there are as many CRLF pairs
    // as CRs.
    let crs = body.iter().filter(|&&b| b == b'\r').count();
    let crlfs = body
        .iter()
        .zip(body.iter().skip(1))
        .filter(|&(&a, &b)| a == b'\r' && b == b'\n')
        .count();
    crs != crlfs
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::{may_be_rewritten, to_read_back, Sent, LEARN, LEARN_AT_MOST};

    /// A large copy is read back only when the census or its size says the
    /// target may have rewritten it, never just to learn the server.
    #[test]
    fn only_small_copies_are_read_back_to_learn_the_server() {
        let small = b"Subject: a\r\n\r\nbody\r\n".to_vec();
        let mut large = b"Subject: a\r\n\r\n".to_vec();
        large.resize(LEARN_AT_MOST + 1, b'x');
        large.extend_from_slice(b"\r\n");
        let size = |b: &[u8]| b.len() as u32;
        let sent = |b: &[u8]| Sent {
            uid: 1,
            len: b.len(),
            rewritable: may_be_rewritten(b),
        };
        assert!(to_read_back(0, size(&small), &sent(&small)));
        assert!(!to_read_back(LEARN, size(&small), &sent(&small)));
        assert!(!to_read_back(0, size(&large), &sent(&large)));
        assert!(to_read_back(LEARN, size(&large) + 1, &sent(&large)));
        let mut unterminated = large.clone();
        unterminated.truncate(large.len() - 2);
        assert!(to_read_back(
            LEARN,
            size(&unterminated),
            &sent(&unterminated)
        ));
    }

    /// The census as first written, a branch per byte: the counting one
    /// must agree with it on every short message over the bytes that
    /// matter (exhaustively up to 7 bytes).
    #[test]
    fn the_counting_census_agrees_with_the_plain_one() {
        fn plain(body: &[u8]) -> bool {
            let header_end = super::find(body, b"\r\n\r\n")
                .or_else(|| super::find(body, b"\n\n"))
                .unwrap_or(body.len());
            let bare_cr = body
                .iter()
                .enumerate()
                .any(|(i, b)| *b == b'\r' && body.get(i + 1) != Some(&b'\n'));
            !body.ends_with(b"\n")
                || bare_cr
                || body.contains(&0)
                || body[..header_end].iter().any(|b| *b >= 0x80)
        }
        let alphabet = [b'a', b'\r', b'\n', 0, 0xe9];
        let mut bodies: Vec<Vec<u8>> = vec![Vec::new()];
        let mut checked = 0;
        for _ in 0..7 {
            bodies = bodies
                .iter()
                .flat_map(|b| {
                    alphabet.iter().map(move |&c| {
                        let mut b = b.clone();
                        b.push(c);
                        b
                    })
                })
                .collect();
            for body in &bodies {
                assert_eq!(may_be_rewritten(body), plain(body), "{body:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, (1..=7).map(|n| 5usize.pow(n)).sum::<usize>());
    }

    #[test]
    fn the_census_picks_what_servers_rewrite_and_nothing_else() {
        let clean: [&[u8]; 3] = [
            b"Subject: a\r\n\r\nbody\r\n",
            b"Subject: a\n\nbody\n",
            "Subject: a\r\n\r\n8-bit body \u{e9}\r\n".as_bytes(),
        ];
        for body in clean {
            assert!(!may_be_rewritten(body), "{body:?}");
        }
        let rewritten: [&[u8]; 5] = [
            b"Subject: a\r\n\r\nno final line break",
            b"Subject: a\r\n\r\nbare\rCR\r\n",
            b"Subject: a\r\n\r\n\r\r\n",
            b"Subject: a\r\n\r\nNUL \0\r\n",
            "Subject: \u{e9}\r\n\r\nbody\r\n".as_bytes(),
        ];
        for body in rewritten {
            assert!(may_be_rewritten(body), "{body:?}");
        }
    }
}
