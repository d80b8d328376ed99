//! Multiset matching of messages by content.
//!
//! Two byte-identical messages on A pair with two on B; a third is left over
//! (and copied). When several candidates share a fingerprint the order is
//! deterministic and symmetric: equal flags first, then INTERNALDATE, then
//! UID. Swapping the inputs swaps the pairs and nothing else.

use crate::model::MessageMeta;

/// The outcome of matching two pools of messages.
#[derive(Debug, Default)]
pub struct Matched<'a> {
    pub pairs: Vec<[&'a MessageMeta; 2]>,
    /// Messages of each side that found no partner.
    pub left: [Vec<&'a MessageMeta>; 2],
}

/// Matches two pools by fingerprint.
pub fn match_by_content<'a>(pools: [Vec<&'a MessageMeta>; 2]) -> Matched<'a> {
    // One sorted vector rather than a map of groups: a group is a run of
    // equal fingerprints, A's messages before B's, each by (date, UID). At
    // 100,000 messages a map with two vectors per group was ~10 MB.
    let mut all: Vec<(&'a MessageMeta, usize)> =
        Vec::with_capacity(pools[0].len() + pools[1].len());
    for (i, pool) in pools.into_iter().enumerate() {
        all.extend(pool.into_iter().map(|m| (m, i)));
    }
    all.sort_unstable_by_key(|(m, i)| (m.fingerprint, *i, m.internal_date, m.uid));
    let mut out = Matched::default();
    for group in all.chunk_by(|(x, _), (y, _)| x.fingerprint == y.fingerprint) {
        let split = group.partition_point(|(_, i)| *i == 0);
        let side = |run: &[(&'a MessageMeta, usize)]| run.iter().map(|(m, _)| *m).collect();
        let (pairs, left_a, left_b) = pair_group(side(&group[..split]), side(&group[split..]));
        out.pairs.extend(pairs);
        out.left[0].extend(left_a);
        out.left[1].extend(left_b);
    }
    out
}

type GroupOutcome<'a> = (
    Vec<[&'a MessageMeta; 2]>,
    Vec<&'a MessageMeta>,
    Vec<&'a MessageMeta>,
);

/// Pairs one fingerprint group, both lists sorted by (date, UID): first
/// within each flag set, then whatever remains, in order.
fn pair_group<'a>(a: Vec<&'a MessageMeta>, b: Vec<&'a MessageMeta>) -> GroupOutcome<'a> {
    let mut taken_a = vec![false; a.len()];
    let mut taken_b = vec![false; b.len()];
    let mut pairs = Vec::new();
    for (i, ma) in a.iter().enumerate() {
        if let Some(j) = (0..b.len()).find(|&j| !taken_b[j] && b[j].flags == ma.flags) {
            taken_a[i] = true;
            taken_b[j] = true;
            pairs.push([*ma, b[j]]);
        }
    }
    let rest_a: Vec<_> = a
        .iter()
        .zip(&taken_a)
        .filter(|(_, t)| !**t)
        .map(|(m, _)| *m)
        .collect();
    let rest_b: Vec<_> = b
        .iter()
        .zip(&taken_b)
        .filter(|(_, t)| !**t)
        .map(|(m, _)| *m)
        .collect();
    let n = rest_a.len().min(rest_b.len());
    pairs.extend(rest_a.iter().zip(&rest_b).map(|(x, y)| [*x, *y]));
    (pairs, rest_a[n..].to_vec(), rest_b[n..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fingerprint, FlagSet, InternalDate};

    fn msg(uid: u32, fp: u8, flags: &str, date: i64) -> MessageMeta {
        MessageMeta {
            uid,
            size: 10,
            internal_date: InternalDate {
                unix: date,
                offset_minutes: 0,
            },
            flags: FlagSet::from_wire(flags.split_whitespace()),
            fingerprint: Fingerprint([fp; 32]),
        }
    }

    #[test]
    fn i1_duplicates_pair_as_a_multiset() {
        let a = [msg(1, 1, "", 0), msg(2, 1, "", 0)];
        let b = [msg(7, 1, "", 0)];
        let m = match_by_content([a.iter().collect(), b.iter().collect()]);
        assert_eq!(m.pairs.len(), 1);
        assert_eq!((m.pairs[0][0].uid, m.pairs[0][1].uid), (1, 7));
        assert_eq!(m.left[0].iter().map(|m| m.uid).collect::<Vec<_>>(), vec![2]);
        assert!(m.left[1].is_empty());
    }

    #[test]
    fn equal_flags_pair_first_then_date() {
        let a = [msg(1, 1, "", 5), msg(2, 1, "\\Seen", 9)];
        let b = [msg(8, 1, "\\Seen", 1), msg(9, 1, "", 2)];
        let m = match_by_content([a.iter().collect(), b.iter().collect()]);
        let mut uids: Vec<_> = m.pairs.iter().map(|p| (p[0].uid, p[1].uid)).collect();
        uids.sort();
        assert_eq!(uids, vec![(1, 9), (2, 8)]);
    }
}
