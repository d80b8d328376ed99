//! Multiset matching of messages by content.
//!
//! Two byte-identical messages on A pair with two on B; a third is left over
//! (and copied). When several candidates share a fingerprint the order is
//! deterministic and symmetric: equal flags first, then INTERNALDATE, then
//! UID. Swapping the inputs swaps the pairs and nothing else.
//!
//! What the exact fingerprint leaves unpaired may then pair by the
//! normalised one ([`match_normalised`]), but only where that cannot be a
//! guess: a normalised value with exactly as many unpaired candidates on
//! each side (one to one, or k to k for rewritten duplicates).

use crate::model::{Fingerprint, MessageMeta};

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

/// Pairs by the normalised fingerprint what [`match_by_content`] left
/// over: per normalised value, all of them when both sides hold the same
/// number of candidates, none otherwise (two on A and one on B could be
/// two different messages that normalise alike). Messages whose normalised
/// fingerprint is not known take no part.
pub fn match_normalised<'a>(left: [Vec<&'a MessageMeta>; 2]) -> Matched<'a> {
    let mut all: Vec<(Fingerprint, usize, &'a MessageMeta)> = Vec::new();
    let mut out = Matched::default();
    for (i, pool) in left.into_iter().enumerate() {
        for m in pool {
            match m.normalised() {
                Some(n) => all.push((n, i, m)),
                None => out.left[i].push(m),
            }
        }
    }
    all.sort_unstable_by_key(|(n, i, m)| (*n, *i, m.internal_date, m.uid));
    for group in all.chunk_by(|x, y| x.0 == y.0) {
        let split = group.partition_point(|(_, i, _)| *i == 0);
        let side = |run: &[(Fingerprint, usize, &'a MessageMeta)]| -> Vec<&'a MessageMeta> {
            run.iter().map(|(_, _, m)| *m).collect()
        };
        let (a, b) = (side(&group[..split]), side(&group[split..]));
        if a.len() == b.len() {
            out.pairs.extend(pair_group(a, b).0);
        } else {
            out.left[0].extend(a);
            out.left[1].extend(b);
        }
    }
    for side in &mut out.left {
        side.sort_unstable_by_key(|m| m.uid);
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
            internal_date: InternalDate::new(date, 0),
            flags: FlagSet::from_wire(flags.split_whitespace()),
            fingerprint: Fingerprint([fp; 32]),
            normalised: crate::model::Normalised::of(
                &Fingerprint([fp; 32]),
                Some(Fingerprint([fp; 32])),
            ),
        }
    }

    /// A rewritten copy: another exact fingerprint, normalised as `n`.
    fn rewritten(uid: u32, exact: u8, n: u8) -> MessageMeta {
        let mut m = msg(uid, exact, "", 0);
        m.set_fingerprints(m.fingerprint, Some(Fingerprint([n; 32])));
        m
    }

    #[test]
    fn normalised_pairs_one_to_one_and_k_to_k_only() {
        // n=1: one each side; n=2: two each side; n=3: two on A, one on B.
        let a = [
            rewritten(1, 10, 1),
            rewritten(2, 20, 2),
            rewritten(3, 20, 2),
        ];
        let a3 = [rewritten(4, 30, 3), rewritten(5, 31, 3)];
        let b = [
            rewritten(7, 11, 1),
            rewritten(8, 21, 2),
            rewritten(9, 22, 2),
        ];
        let b3 = [rewritten(10, 32, 3)];
        let pools = [a.iter().chain(&a3).collect(), b.iter().chain(&b3).collect()];
        let m = match_normalised(pools);
        let mut uids: Vec<_> = m.pairs.iter().map(|p| (p[0].uid, p[1].uid)).collect();
        uids.sort();
        assert_eq!(uids, vec![(1, 7), (2, 8), (3, 9)]);
        let left = |i: usize| m.left[i].iter().map(|m| m.uid).collect::<Vec<_>>();
        assert_eq!((left(0), left(1)), (vec![4, 5], vec![10]));
        // Swapped, the same pairs mirrored.
        let m = match_normalised([b.iter().chain(&b3).collect(), a.iter().chain(&a3).collect()]);
        let mut mirrored: Vec<_> = m.pairs.iter().map(|p| (p[1].uid, p[0].uid)).collect();
        mirrored.sort();
        assert_eq!(mirrored, uids);
    }

    #[test]
    fn an_unknown_normalised_fingerprint_pairs_nothing() {
        let a = [MessageMeta {
            normalised: crate::model::Normalised::UNKNOWN,
            ..rewritten(1, 10, 1)
        }];
        let b = [rewritten(7, 11, 1)];
        let m = match_normalised([a.iter().collect(), b.iter().collect()]);
        assert!(m.pairs.is_empty());
        assert_eq!((m.left[0].len(), m.left[1].len()), (1, 1));
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
