//! UID sets on the wire: compressing a list of UIDs into `1:5,9,12:20`,
//! splitting a long set so that every command line stays short, and
//! expanding a server's uid-set (APPENDUID, COPYUID, VANISHED) in order.
//!
//! Pure functions over values; no I/O.

use crate::model::Uid;

/// Sorted, de-duplicated runs of consecutive UIDs.
pub(crate) fn runs(uids: &[Uid]) -> Vec<(Uid, Uid)> {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(Uid, Uid)> = Vec::new();
    for uid in sorted {
        match out.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(uid) => *hi = uid,
            _ => out.push((uid, uid)),
        }
    }
    out
}

fn run_to_wire(lo: Uid, hi: Uid) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}:{hi}")
    }
}

/// The whole set in one string: `1:5,9,12:20`. Empty input gives "".
pub(crate) fn compress(uids: &[Uid]) -> String {
    runs(uids)
        .into_iter()
        .map(|(lo, hi)| run_to_wire(lo, hi))
        .collect::<Vec<_>>()
        .join(",")
}

/// The set split into pieces of at most `max_bytes` each (a single run is
/// never split, and is at most 21 bytes).
pub(crate) fn compress_split(uids: &[Uid], max_bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for (lo, hi) in runs(uids) {
        let piece = run_to_wire(lo, hi);
        if !cur.is_empty() && cur.len() + 1 + piece.len() > max_bytes {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(',');
        }
        cur.push_str(&piece);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits UIDs into batches of at most `max_count` UIDs and (where a size is
/// known) about `max_bytes` of message data, each batch sorted.
pub(crate) fn batches(
    uids: &[Uid],
    max_count: usize,
    max_bytes: u64,
    size_of: impl Fn(Uid) -> u64,
) -> Vec<Vec<Uid>> {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut cur_bytes = 0u64;
    for uid in sorted {
        let size = size_of(uid);
        if !cur.is_empty() && (cur.len() >= max_count || cur_bytes + size > max_bytes) {
            out.push(std::mem::take(&mut cur));
            cur_bytes = 0;
        }
        cur.push(uid);
        cur_bytes += size;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Expands a uid-set such as `7:9,12` in the order given (a range is taken
/// in ascending order whichever way round it is written). None if the text
/// is not a uid-set of non-zero numbers, or would expand to more than
/// `limit` UIDs.
pub(crate) fn expand(text: &str, limit: usize) -> Option<Vec<Uid>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (lo, hi) = match part.split_once(':') {
            Some((a, b)) => (parse_uid(a)?, parse_uid(b)?),
            None => {
                let u = parse_uid(part)?;
                (u, u)
            }
        };
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        if out.len() + (hi - lo) as usize + 1 > limit {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

fn parse_uid(s: &str) -> Option<Uid> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<Uid>().ok().filter(|&u| u != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_set_compresses_runs_sorted_and_deduplicated() {
        assert_eq!(
            compress(&[9, 1, 2, 3, 4, 5, 12, 13, 20, 14, 3]),
            "1:5,9,12:14,20"
        );
        assert_eq!(compress(&[]), "");
        assert_eq!(compress(&[7]), "7");
        assert_eq!(compress(&[u32::MAX, u32::MAX - 1]), "4294967294:4294967295");
    }

    #[test]
    fn uid_set_split_keeps_every_piece_under_the_limit_and_loses_nothing() {
        let uids: Vec<Uid> = (1..5000).step_by(2).collect();
        let pieces = compress_split(&uids, 100);
        assert!(pieces.len() > 1);
        assert!(pieces.iter().all(|p| p.len() <= 100));
        let back: Vec<Uid> = pieces
            .iter()
            .flat_map(|p| expand(p, usize::MAX).unwrap())
            .collect();
        assert_eq!(back, uids);
    }

    #[test]
    fn uid_set_expands_in_the_order_written() {
        assert_eq!(expand("7:9", 100), Some(vec![7, 8, 9]));
        assert_eq!(expand("7,9,10", 100), Some(vec![7, 9, 10]));
        assert_eq!(expand("12,3:4", 100), Some(vec![12, 3, 4]));
        assert_eq!(expand("9:7", 100), Some(vec![7, 8, 9]));
        assert_eq!(expand("0", 100), None);
        assert_eq!(expand("1:*", 100), None);
        assert_eq!(expand("", 100), None);
        assert_eq!(expand("1:1000000", 10), None);
    }

    #[test]
    fn fetch_batches_are_bounded_by_count_and_size() {
        let uids: Vec<Uid> = (1..=12).collect();
        let b = batches(&uids, 5, u64::MAX, |_| 0);
        assert_eq!(
            b,
            vec![
                (1..=5).collect::<Vec<_>>(),
                (6..=10).collect(),
                vec![11, 12]
            ]
        );
        let b = batches(&uids, 100, 250, |_| 100);
        assert_eq!(b.len(), 6);
        // A single message larger than the byte bound still gets a batch.
        assert_eq!(batches(&[1, 2], 100, 10, |_| 50), vec![vec![1], vec![2]]);
    }
}
