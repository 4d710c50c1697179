//! A hash map split into a fixed number of independent segments, so that growing it never
//! stops its owner for long.
//!
//! A `HashMap` grows by allocating a table twice the size and moving every element into
//! it, all in one call: with a million requests of a few hundred bytes each in a shard's
//! books, that one `insert` moves hundreds of megabytes and stalls the shard's thread for
//! tens of milliseconds (measured: a saga p99 of 193 ms at 30,000/s, right after the books
//! had grown by 200,000 requests). Here each of [`SEGMENTS`] segments grows on its own, so
//! a resize moves 1/1024 of the elements and the pause shrinks by the same factor; lookups
//! cost one extra hash of the key. The segment of a key is taken from bits 32..42 of its
//! hash, which the segment's own table does not use (it indexes buckets with the low bits
//! and tags them with the top seven), so keys stay evenly spread inside each segment.
//!
//! Each segment is also shared copy-on-write (`Arc`): [`SegmentedMap::cut`] takes a
//! consistent view of the whole map in 1,024 reference counts, for a snapshot to copy out on
//! another thread, and a later write to a segment the view still holds copies that one
//! segment first (1/1024 of the map) instead of the owner copying everything at the cut.
//!
//! Iteration order is unspecified, as for `HashMap`.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use std::collections::HashMap;

use crate::hash::IdBuild;

/// Number of segments (a power of two).
pub const SEGMENTS: usize = 1024;

type Segment<K, V> = Arc<HashMap<K, V, IdBuild>>;

#[derive(Clone, Debug)]
pub struct SegmentedMap<K, V> {
    segments: Box<[Segment<K, V>]>,
    len: usize,
}

impl<K, V> Default for SegmentedMap<K, V> {
    fn default() -> Self {
        Self {
            segments: (0..SEGMENTS).map(|_| Arc::default()).collect(),
            len: 0,
        }
    }
}

/// A consistent, read-only view of a [`SegmentedMap`] at the moment of the cut, cheap to
/// take and to send to another thread.
#[derive(Clone, Debug)]
pub struct MapCut<K, V> {
    segments: Vec<Segment<K, V>>,
}

impl<K, V> MapCut<K, V> {
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.segments.iter().flat_map(|s| s.values())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.segments.iter().flat_map(|s| s.iter())
    }

    /// Copies the values out, letting go of each segment as soon as it is copied: from
    /// then on the owner writes that segment without copying it first.
    pub fn copy_values(self) -> Vec<V>
    where
        V: Clone,
    {
        let len = self.segments.iter().map(|s| s.len()).sum();
        let mut out = Vec::with_capacity(len);
        for segment in self.segments {
            out.extend(segment.values().cloned());
        }
        out
    }
}

impl<K: Hash + Eq + Clone, V: Clone> SegmentedMap<K, V> {
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
            Arc::make_mut(segment).reserve(each);
        }
    }

    /// The map as it is now, for reading elsewhere; see the module's note on sharing.
    pub fn cut(&self) -> MapCut<K, V> {
        MapCut {
            segments: self.segments.to_vec(),
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
        Arc::make_mut(&mut self.segments[Self::segment_of(key)]).get_mut(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.segments[Self::segment_of(key)].contains_key(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = Arc::make_mut(&mut self.segments[Self::segment_of(&key)]).insert(key, value);
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
        let old = Arc::make_mut(&mut self.segments[Self::segment_of(key)]).remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.segments.iter().flat_map(|s| s.values())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.segments.iter().flat_map(|s| s.iter())
    }

    /// The largest number of elements any one segment holds: what one resize moves at most.
    pub fn largest_segment(&self) -> usize {
        self.segments.iter().map(|s| s.len()).max().unwrap_or(0)
    }
}

impl<K: Hash + Eq + Clone, V: Clone> FromIterator<(K, V)> for SegmentedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<K: Hash + Eq + Clone, V: Clone, Q> std::ops::Index<&Q> for SegmentedMap<K, V>
where
    K: Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    type Output = V;

    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key present in the segmented map")
    }
}

/// A vector in chunks of [`ChunkedVec::CHUNK`] elements, each shared copy-on-write like
/// the segments above: cloning it (a snapshot's cut) costs one reference count per chunk,
/// a later write copies only the chunk it touches, and growing it never moves what is
/// already stored (a plain `Vec` of a million customers copies 136 MB at a cut and may
/// at a resize).
#[derive(Clone, Debug)]
pub struct ChunkedVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> ChunkedVec<T> {
    pub const CHUNK: usize = 4096;

    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / Self::CHUNK)?.get(i % Self::CHUNK)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        let chunk = self.chunks.get_mut(i / Self::CHUNK)?;
        Arc::make_mut(chunk).get_mut(i % Self::CHUNK)
    }

    pub fn push(&mut self, value: T) {
        if self.len % Self::CHUNK == 0 {
            self.chunks.push(Arc::new(Vec::with_capacity(Self::CHUNK)));
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        Arc::make_mut(last).push(value);
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// Copies the elements out, letting go of each chunk as soon as it is copied.
    pub fn copy_out(self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        for chunk in self.chunks {
            out.extend(chunk.iter().cloned());
        }
        out
    }
}

impl<T: Clone> std::ops::Index<usize> for ChunkedVec<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        self.get(i).expect("index within the chunked vector")
    }
}

impl<T: Clone> std::ops::IndexMut<usize> for ChunkedVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i).expect("index within the chunked vector")
    }
}

impl<T: Clone> FromIterator<T> for ChunkedVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = Self::new();
        for x in iter {
            v.push(x);
        }
        v
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

    /// A cut keeps the map as it was when taken while the map goes on changing, and the
    /// map is unaffected by the cut.
    #[test]
    fn a_cut_is_the_map_at_the_moment_it_was_taken() {
        let mut map = SegmentedMap::new();
        for k in 0..10_000u64 {
            map.insert(k, k);
        }
        let cut = map.cut();
        for k in 0..10_000u64 {
            *map.get_mut(&k).unwrap() += 1;
        }
        map.remove(&0);
        map.insert(20_000, 0);
        let mut seen: Vec<u64> = cut.values().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10_000).collect::<Vec<_>>());
        assert_eq!(map.get(&1), Some(&2));
        assert_eq!(map.len(), 10_000);
    }

    /// The same for the chunked vector, across chunk boundaries.
    #[test]
    fn a_chunked_vector_clone_is_unaffected_by_later_writes() {
        let n = ChunkedVec::<u32>::CHUNK * 3 + 7;
        let mut v: ChunkedVec<u32> = (0..n as u32).collect();
        let before = v.clone();
        for i in 0..n {
            v[i] += 1;
        }
        v.push(0);
        assert_eq!(before.len(), n);
        assert!(before.iter().enumerate().all(|(i, x)| *x == i as u32));
        assert!(v
            .iter()
            .take(n)
            .enumerate()
            .all(|(i, x)| *x == i as u32 + 1));
        assert_eq!(v.len(), n + 1);
        assert_eq!(v[n], 0);
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
