//! A hash map split into a fixed number of independent segments, so that growing it never
//! stops its owner for long.
//!
//! A `HashMap` grows by allocating a table twice the size and moving every element into
//! it, all in one call: with a million requests of a few hundred bytes each in a shard's
//! books, that one `insert` moves hundreds of megabytes and stalls the shard's thread for
//! tens of milliseconds (measured: a saga p99 of 193 ms at 30,000/s, right after the books
//! had grown by 200,000 requests). Here each of [`SEGMENTS`] segments grows on its own, so
//! a resize moves 1/256 of the elements and the pause shrinks by the same factor; lookups
//! cost one extra hash of the key. The segment of a key is taken from bits 32..40 of its
//! hash, which the segment's own table does not use (it indexes buckets with the low bits
//! and tags them with the top seven), so keys stay evenly spread inside each segment.
//!
//! Iteration order is unspecified, as for `HashMap`.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use std::collections::HashMap;

use crate::books::IdBuild;

/// Number of segments (a power of two).
pub const SEGMENTS: usize = 256;

#[derive(Clone, Debug)]
pub struct SegmentedMap<K, V> {
    segments: Box<[HashMap<K, V, IdBuild>]>,
    len: usize,
}

impl<K, V> Default for SegmentedMap<K, V> {
    fn default() -> Self {
        Self {
            segments: (0..SEGMENTS).map(|_| HashMap::default()).collect(),
            len: 0,
        }
    }
}

impl<K: Hash + Eq, V> SegmentedMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn segment_of<Q: Hash + ?Sized>(key: &Q) -> usize {
        (IdBuild::default().hash_one(key) >> 32) as usize & (SEGMENTS - 1)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room for `additional` more elements spread evenly, without a resize on the way.
    pub fn reserve(&mut self, additional: usize) {
        let each = additional.div_ceil(SEGMENTS);
        for segment in self.segments.iter_mut() {
            segment.reserve(each);
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.segments[Self::segment_of(key)].get(key)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.segments[Self::segment_of(key)].get_mut(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.segments[Self::segment_of(key)].contains_key(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = self.segments[Self::segment_of(&key)].insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let old = self.segments[Self::segment_of(key)].remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.segments.iter().flat_map(HashMap::values)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.segments.iter().flat_map(HashMap::iter)
    }

    /// The largest number of elements any one segment holds: what one resize moves at most.
    pub fn largest_segment(&self) -> usize {
        self.segments.iter().map(HashMap::len).max().unwrap_or(0)
    }
}

impl<K: Hash + Eq, V> FromIterator<(K, V)> for SegmentedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<K: Hash + Eq, V, Q> std::ops::Index<&Q> for SegmentedMap<K, V>
where
    K: Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    type Output = V;

    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key present in the segmented map")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The segmented map behaves exactly like one `HashMap` under any sequence of
        /// inserts and removes.
        #[test]
        fn behaves_like_a_hash_map(ops in proptest::collection::vec((any::<bool>(), 0u64..500, any::<u32>()), 0..2_000)) {
            let mut model = HashMap::new();
            let mut map = SegmentedMap::new();
            for (insert, key, value) in ops {
                if insert {
                    prop_assert_eq!(map.insert(key, value), model.insert(key, value));
                } else {
                    prop_assert_eq!(map.remove(&key), model.remove(&key));
                }
                prop_assert_eq!(map.len(), model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(map.get(k), Some(v));
                prop_assert!(map.contains_key(k));
            }
            let mut values: Vec<u32> = map.values().copied().collect();
            let mut expected: Vec<u32> = model.values().copied().collect();
            values.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(values, expected);
        }
    }

    /// Sequential ids (entry ids, customer ids) spread over every segment, so no segment
    /// grows far beyond its share and a resize stays small.
    #[test]
    fn sequential_keys_spread_over_every_segment() {
        let mut map = SegmentedMap::new();
        let n = 200_000u64;
        for k in 0..n {
            map.insert(k, ());
        }
        let share = n as usize / SEGMENTS;
        assert!(
            map.largest_segment() < share * 2,
            "largest segment {} for a share of {share}",
            map.largest_segment()
        );
    }
}
