//! One filter in memory of every key the archive holds, so that a key it does not hold
//! (every new request number) costs one probe, not one per run: with a run's own filter
//! alone, the cost of "not here" grew with the number of runs, and a 10-minute soak at
//! 21,000 requests a second slowed until its requests waited past their deadline.
//!
//! A split-block Bloom filter (as Parquet's and Impala's): a key sets one bit in each of
//! the eight 64-bit words of one 512-bit block (one cache line), chosen by its hash; at
//! [`BITS_PER_KEY`] bits a key about one key in 200 not held answers "maybe" (then the
//! runs' own filters answer). Bits are set with atomic ORs, so readers never lock. A
//! Bloom filter cannot grow: when one is full a new one twice its size takes the next
//! keys, so a key is probed in a few filters at most (log2 of the archive's growth).
//! Merges do not change the set of keys; dropping days rebuilds the filters from the runs
//! left. Why not a crate: the filters of `xorf` are built once from all keys, and the
//! growable filters on crates.io are not maintained; this is 60 lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Bits of filter per key at a filter's capacity.
pub const BITS_PER_KEY: u64 = 12;

/// Words of one block (512 bits, one cache line).
const BLOCK_WORDS: usize = 8;

/// The capacity of the first filter of an empty archive.
const FIRST_CAPACITY: u64 = 1 << 20;

struct Bloom {
    words: Box<[AtomicU64]>,
    blocks_mask: u64,
    capacity: u64,
    inserted: AtomicU64,
}

impl Bloom {
    fn new(capacity: u64) -> Bloom {
        let blocks = (capacity * BITS_PER_KEY / 512).max(1).next_power_of_two();
        Bloom {
            words: (0..blocks as usize * BLOCK_WORDS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            blocks_mask: blocks - 1,
            capacity,
            inserted: AtomicU64::new(0),
        }
    }

    /// The block of `hash`, and the bit of each of its words.
    fn place(&self, hash: u64) -> (usize, [u64; BLOCK_WORDS]) {
        let block = (hash & self.blocks_mask) as usize * BLOCK_WORDS;
        // The bits come from a second mix of the hash, not the bits that chose the block.
        let mixed = (hash ^ (hash >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let mixed = mixed ^ (mixed >> 32);
        let mut bits = [0u64; BLOCK_WORDS];
        for (i, bit) in bits.iter_mut().enumerate() {
            *bit = 1 << ((mixed >> (6 * i)) & 63);
        }
        (block, bits)
    }

    fn insert(&self, hash: u64) {
        let (block, bits) = self.place(hash);
        for (i, bit) in bits.iter().enumerate() {
            self.words[block + i].fetch_or(*bit, Ordering::Relaxed);
        }
        self.inserted.fetch_add(1, Ordering::Relaxed);
    }

    fn may_contain(&self, hash: u64) -> bool {
        let (block, bits) = self.place(hash);
        bits.iter()
            .enumerate()
            .all(|(i, bit)| self.words[block + i].load(Ordering::Relaxed) & bit != 0)
    }
}

/// The filters of one archive: readers probe, one writer at a time inserts.
pub struct KeyFilter {
    blooms: RwLock<Arc<Vec<Arc<Bloom>>>>,
}

impl KeyFilter {
    /// Filters holding `hashes` (room for about twice as many, at least a million).
    pub fn of(hashes: &[u64]) -> KeyFilter {
        let filter = KeyFilter {
            blooms: RwLock::new(Arc::new(vec![Arc::new(Bloom::new(
                (hashes.len() as u64 * 2).max(FIRST_CAPACITY),
            ))])),
        };
        filter.insert(hashes);
        filter
    }

    /// Forgets every key, then holds `hashes` (under the archive's writer lock; readers
    /// use the filters as they were until the new ones are swapped in).
    pub fn rebuild(&self, hashes: &[u64]) {
        let fresh = KeyFilter::of(hashes).blooms();
        *self.blooms.write().expect("key filter lock") = fresh;
    }

    fn blooms(&self) -> Arc<Vec<Arc<Bloom>>> {
        self.blooms.read().expect("key filter lock").clone()
    }

    /// Adds keys by their hashes ([`super::key_hash`]). Called by the archive's writer only
    /// (under its lock), before the run holding them is swapped in.
    pub fn insert(&self, hashes: &[u64]) {
        if hashes.is_empty() {
            return;
        }
        let mut blooms = self.blooms();
        let last = blooms.last().expect("a filter");
        if last.inserted.load(Ordering::Relaxed) + hashes.len() as u64 > last.capacity {
            let capacity = (last.capacity * 2).max(hashes.len() as u64);
            let mut next = Vec::clone(&blooms);
            next.push(Arc::new(Bloom::new(capacity)));
            blooms = Arc::new(next);
            *self.blooms.write().expect("key filter lock") = blooms.clone();
        }
        let last = blooms.last().expect("a filter");
        for hash in hashes {
            last.insert(*hash);
        }
    }

    /// Whether a key of this hash may be held: `false` is certain.
    pub fn may_contain(&self, hash: u64) -> bool {
        self.blooms().iter().any(|b| b.may_contain(hash))
    }

    /// Bytes of the filters.
    pub fn heap_bytes(&self) -> u64 {
        self.blooms().iter().map(|b| b.words.len() as u64 * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::key_hash;

    fn hash(i: u64) -> u64 {
        key_hash(&i.to_le_bytes())
    }

    /// Every key inserted is found, through the growth from one filter to several, and
    /// few keys never inserted are taken for held ones.
    #[test]
    fn every_key_inserted_is_found_and_few_others_are() {
        let filter = KeyFilter::of(&[]);
        let keys: Vec<u64> = (0..3_000_000).map(hash).collect();
        for chunk in keys.chunks(100_000) {
            filter.insert(chunk);
        }
        assert!(filter.blooms().len() > 1, "the filter grew");
        assert!(keys.iter().all(|h| filter.may_contain(*h)));
        let others = 1_000_000u64;
        let false_positives = (10_000_000..10_000_000 + others)
            .filter(|i| filter.may_contain(hash(*i)))
            .count();
        assert!(
            (false_positives as f64) < others as f64 * 0.01,
            "{false_positives} of {others} keys never inserted taken for held ones"
        );
    }
}
