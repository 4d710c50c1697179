//! Candidate 1: fjall (LSM). One keyspace per acceptance day ("d<DDDDD>"), so expiry is
//! `delete_keyspace`; a lookup asks the days newest first, each keyspace answering a miss from
//! its bloom filters (pinned in memory at every level here, so a miss reads no disk).

use crate::common::*;
use fjall::config::{BloomConstructionPolicy, FilterPolicy, FilterPolicyEntry, PinningPolicy};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use std::collections::BTreeMap;
use std::path::Path;

pub struct FjallStore {
    db: Database,
    days: BTreeMap<u32, Keyspace>,
    newest_day: Option<u32>,
    memtable_bytes: u64,
    /// at checkpoint also flush the active memtable so old journals can be dropped
    pub flush_on_checkpoint: bool,
    pub fpr: Option<f32>,
}

fn ks_opts(memtable_bytes: u64, fpr: Option<f32>) -> KeyspaceCreateOptions {
    let o = KeyspaceCreateOptions::default()
        .max_memtable_size(memtable_bytes)
        .filter_block_pinning_policy(PinningPolicy::all(true));
    match fpr {
        // same false-positive rate at every level (default: 0.0001 in L0, 10 bits/key below)
        Some(p) => o.filter_policy(FilterPolicy::all(FilterPolicyEntry::Bloom(BloomConstructionPolicy::FalsePositiveRate(p)))),
        None => o,
    }
}

impl FjallStore {
    pub fn open(dir: &Path, cache_bytes: u64, memtable_bytes: u64, fpr: Option<f32>) -> FjallStore {
        let db = Database::builder(dir).cache_size(cache_bytes).open().expect("fjall open");
        let mut days = BTreeMap::new();
        for name in db.list_keyspace_names() {
            let name: &str = &name;
            if let Some(d) = name.strip_prefix('d') {
                if let Ok(day) = d.parse::<u32>() {
                    let ks = db.keyspace(name, || ks_opts(memtable_bytes, fpr)).expect("keyspace");
                    days.insert(day, ks);
                }
            }
        }
        let newest_day = days.keys().next_back().copied();
        FjallStore { db, days, newest_day, memtable_bytes, flush_on_checkpoint: false, fpr }
    }

    fn ks(&mut self, day: u32) -> Keyspace {
        if let Some(k) = self.days.get(&day) {
            return k.clone();
        }
        let mt = self.memtable_bytes;
        let fpr = self.fpr;
        let k = self.db.keyspace(&format!("d{day:05}"), || ks_opts(mt, fpr)).expect("create keyspace");
        self.days.insert(day, k.clone());
        k
    }

    pub fn insert_batch(&mut self, b: &Batch) {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        let mut cur: Option<(u32, Keyspace)> = None;
        for j in 0..b.len() {
            let day = b.days[j];
            if cur.as_ref().map(|c| c.0) != Some(day) {
                if let Some(nd) = self.newest_day {
                    if day > nd {
                        // the previous day is sealed: flush its memtable so it neither holds
                        // memory nor pins the journal
                        if let Some(prev) = self.days.get(&nd) {
                            let _ = prev.rotate_memtable();
                        }
                        self.newest_day = Some(day);
                    }
                } else {
                    self.newest_day = Some(day);
                }
                cur = Some((day, self.ks(day)));
            }
            let ks = &cur.as_ref().unwrap().1;
            batch.insert(ks, &b.keys[j][..], b.val(j));
        }
        batch.commit().expect("fjall commit");
    }

    pub fn get(&self, k: &Key) -> Option<Vec<u8>> {
        for ks in self.days.values().rev() {
            if let Some(v) = ks.get(k).expect("fjall get") {
                return Some(v.to_vec());
            }
        }
        None
    }

    pub fn checkpoint(&self) {
        self.db.persist(PersistMode::SyncAll).expect("persist");
        if self.flush_on_checkpoint {
            for ks in self.days.values() {
                ks.rotate_memtable_and_wait().expect("flush memtable");
            }
            self.settle();
            self.db.persist(PersistMode::SyncAll).expect("persist");
        }
    }

    /// Wait for background flushes/compactions to finish.
    pub fn settle(&self) {
        let mut idle = 0;
        while idle < 5 {
            if self.db.outstanding_flushes() == 0 && self.db.active_compactions() == 0 {
                idle += 1;
            } else {
                idle = 0;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn expire_through(&mut self, day: u32) {
        let old: Vec<u32> = self.days.range(..=day).map(|(d, _)| *d).collect();
        for d in old {
            let ks = self.days.remove(&d).unwrap();
            self.db.delete_keyspace(ks).expect("delete keyspace");
        }
        self.db.persist(PersistMode::SyncAll).expect("persist");
    }

    pub fn info(&self) -> String {
        let tables: usize = self.days.values().map(|k| k.table_count()).sum();
        format!(
            "keyspaces={} tables={} journals={} cache_used={}",
            self.days.len(),
            tables,
            self.db.journal_count(),
            self.db.cache_size()
        )
    }
}
