//! A cheap hasher for the core's per-message maps, keyed by UID or by
//! fingerprint (a SHA-256, so already uniform): the standard SipHash was a
//! tenth of a full `check`'s CPU, at a million messages a million keys of
//! 32 bytes. Not for keys an outsider chooses freely: a UID is the
//! server's, a fingerprint is a digest, and flags only ride beside one.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A HashMap with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A HashSet with [`FastHasher`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// Multiply-rotate over 8-byte words (the scheme of rustc's FxHasher).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fingerprint;

    #[test]
    fn maps_keyed_by_uid_and_fingerprint_find_what_they_hold() {
        let mut by_uid: FastMap<u32, u32> = FastMap::default();
        let mut by_content: FastSet<(Fingerprint, u8)> = FastSet::default();
        for n in 0..10_000u32 {
            by_uid.insert(n, n * 2);
            let mut fp = [0u8; 32];
            fp[..4].copy_from_slice(&n.to_be_bytes());
            by_content.insert((Fingerprint(fp), (n % 3) as u8));
        }
        assert_eq!(by_uid.len(), 10_000);
        assert_eq!(by_uid.get(&777), Some(&1554));
        assert_eq!(by_uid.get(&10_000), None);
        let mut fp = [0u8; 32];
        fp[..4].copy_from_slice(&42u32.to_be_bytes());
        assert!(by_content.contains(&(Fingerprint(fp), 0)));
        assert!(!by_content.contains(&(Fingerprint(fp), 1)));
        // Different words hash apart, whatever their order.
        let hash = |words: &[u64]| {
            let mut h = FastHasher::default();
            words.iter().for_each(|w| h.write_u64(*w));
            h.finish()
        };
        assert_ne!(hash(&[1, 2]), hash(&[2, 1]));
        assert_ne!(hash(&[0]), hash(&[1]));
    }
}
