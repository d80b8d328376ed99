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

/// Reads a uid-set such as `1:4294967295,7` into inclusive ranges without
/// expanding it (a server may report huge ranges in VANISHED or MODIFIED),
/// each with `lo <= hi`, sorted and merged. None if the text is not a
/// uid-set of non-zero numbers (`*` included: servers must not send it).
pub(crate) fn parse_ranges(text: &str) -> Option<Vec<(Uid, Uid)>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (lo, hi) = match part.split_once(':') {
            Some((a, b)) => (parse_uid(a)?, parse_uid(b)?),
            None => {
                let u = parse_uid(part)?;
                (u, u)
            }
        };
        out.push((lo.min(hi), lo.max(hi)));
    }
    Some(merge_ranges(out))
}

/// Sorts inclusive ranges and merges those that overlap or touch.
pub(crate) fn merge_ranges(mut ranges: Vec<(Uid, Uid)>) -> Vec<(Uid, Uid)> {
    ranges.sort_unstable();
    let mut out: Vec<(Uid, Uid)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some((_, last_hi)) if lo <= last_hi.saturating_add(1) => *last_hi = (*last_hi).max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Whether `uid` lies in sorted, merged ranges (from [`parse_ranges`] or
/// [`merge_ranges`]).
pub(crate) fn in_ranges(ranges: &[(Uid, Uid)], uid: Uid) -> bool {
    let i = ranges.partition_point(|&(lo, _)| lo <= uid);
    i > 0 && ranges[i - 1].1 >= uid
}

/// How many UIDs sorted, merged ranges cover.
pub(crate) fn count_ranges(ranges: &[(Uid, Uid)]) -> u64 {
    ranges.iter().map(|&(lo, hi)| u64::from(hi - lo) + 1).sum()
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
    fn uid_ranges_are_read_without_expanding_and_merged() {
        assert_eq!(parse_ranges("1:4294967295"), Some(vec![(1, u32::MAX)]));
        assert_eq!(
            parse_ranges("405,300:310,311,9:7,1000"),
            Some(vec![(7, 9), (300, 311), (405, 405), (1000, 1000)])
        );
        assert_eq!(parse_ranges("5:1,3"), Some(vec![(1, 5)]));
        assert_eq!(parse_ranges("1:*"), None);
        assert_eq!(parse_ranges("0:3"), None);
        assert_eq!(parse_ranges(""), None);
        assert_eq!(parse_ranges("1,,2"), None);
        let r = parse_ranges("7:9,12,4294967290:4294967295").unwrap();
        for (uid, inside) in [
            (6, false),
            (7, true),
            (9, true),
            (10, false),
            (12, true),
            (13, false),
            (u32::MAX, true),
        ] {
            assert_eq!(in_ranges(&r, uid), inside, "{uid}");
        }
        assert!(!in_ranges(&[], 1));
        assert_eq!(count_ranges(&r), 3 + 1 + 6);
        assert_eq!(count_ranges(&[(1, u32::MAX)]), u64::from(u32::MAX));
        assert_eq!(
            merge_ranges(vec![(u32::MAX, u32::MAX), (1, u32::MAX - 1)]),
            vec![(1, u32::MAX)]
        );
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
