//! The receive buffer: bytes read from the server and not yet taken as
//! responses.
//!
//! Responses are taken from the front. Taking one must not move what is
//! left behind it: a read brings in up to 256 KiB, dozens of small FETCH
//! responses, and shifting the rest down after each of them cost more CPU
//! than parsing them (measured with scripts/bench). So the consumed prefix
//! stays in place until the buffer would have to grow, and is dropped then.
//!
//! A large response (a message of several MB) is handed over as the buffer
//! itself rather than copied, and room for a literal whose size is known is
//! reserved once, so a 30 MB message is held once, not twice or doubled by
//! `Vec` growth.

/// A response at least this large is handed over without a copy.
const HAND_OVER: usize = 256 * 1024;

#[derive(Debug, Default)]
pub(crate) struct RecvBuf {
    data: Vec<u8>,
    /// Bytes before this offset have been taken.
    start: usize,
}

impl RecvBuf {
    /// What has been received and not taken yet.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.data[self.start..]
    }

    pub(crate) fn len(&self) -> usize {
        self.data.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends received bytes, dropping the taken prefix first if the
    /// buffer would otherwise grow.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.data.len() + bytes.len() > self.data.capacity() {
            self.compact();
        }
        self.data.extend_from_slice(bytes);
    }

    /// Makes room for `more` bytes beyond what is pending, exactly (the
    /// rest of a literal whose size was announced), so that a large message
    /// is not received into a buffer that doubles as it grows.
    pub(crate) fn reserve_for(&mut self, more: usize) {
        if self.data.capacity() - self.data.len() >= more {
            return;
        }
        self.compact();
        self.data.reserve_exact(more);
    }

    /// Takes the first `end` bytes of what is pending.
    pub(crate) fn take(&mut self, end: usize) -> Vec<u8> {
        debug_assert!(end <= self.len());
        if end >= HAND_OVER {
            // A large response keeps the allocation (moved to the front if
            // need be), and the (at most one read's worth of) bytes after
            // it are copied instead.
            self.compact();
            let rest = self.data.split_off(end);
            return std::mem::replace(&mut self.data, rest);
        }
        let out = self.data[self.start..self.start + end].to_vec();
        self.start += end;
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
        out
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_come_out_in_order_whatever_the_reads() {
        let mut r = RecvBuf::default();
        r.extend(b"* 1 EXISTS\r\n* 2 EX");
        assert_eq!(r.take(12), b"* 1 EXISTS\r\n");
        assert_eq!(r.pending(), b"* 2 EX");
        r.extend(b"ISTS\r\nA1 OK\r\n");
        assert_eq!(r.take(12), b"* 2 EXISTS\r\n");
        assert_eq!(r.take(7), b"A1 OK\r\n");
        assert!(r.is_empty());
        assert_eq!(r.start, 0, "an emptied buffer starts over");
    }

    #[test]
    fn taking_does_not_move_the_rest_until_the_buffer_must_grow() {
        let mut r = RecvBuf::default();
        r.data.reserve_exact(64);
        let cap = r.data.capacity();
        r.extend(&[b'x'; 40]);
        r.take(10);
        assert_eq!((r.start, r.len()), (10, 30));
        r.extend(&[b'y'; 4]); // fits: nothing moves
        assert_eq!(r.start, 10);
        r.extend(&vec![b'z'; cap]); // would grow: the taken prefix goes first
        assert_eq!(r.start, 0);
        assert_eq!(r.len(), 34 + cap);
        assert_eq!(&r.pending()[..30], &[b'x'; 30][..]);
        assert_eq!(&r.pending()[30..34], b"yyyy");
    }

    #[test]
    fn a_large_response_is_handed_over_and_room_for_a_literal_is_exact() {
        let mut r = RecvBuf::default();
        r.extend(b"head");
        r.take(4);
        r.extend(b"* 1 FETCH (BODY[] {300000}\r\n");
        let header = r.len();
        r.reserve_for(300_000 + 3 + 64); // the literal, its line's end, a little more
        let cap = r.data.capacity();
        assert!(cap >= header + 300_067 && cap < header + 2 * 300_067);
        r.extend(&vec![b'm'; 300_000]);
        r.extend(b")\r\n* 2 EXISTS\r\n");
        assert_eq!(
            r.data.capacity(),
            cap,
            "no growth while the literal came in"
        );
        let whole = header + 300_003;
        let resp = r.take(whole);
        assert_eq!(resp.len(), whole);
        assert_eq!(resp.capacity(), cap, "handed over, not copied");
        assert_eq!(r.pending(), b"* 2 EXISTS\r\n");
    }
}
