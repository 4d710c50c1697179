//! Candidate 2: redb (copy-on-write B-tree, one file). One table per acceptance day
//! ("d<DDDDD>": key [u8;28] -> value bytes), so expiry is `delete_table`. redb has no filter,
//! so each day has a small blocked bloom filter in RAM (written beside the database file when
//! the day is sealed and at checkpoints, read back at open).

use crate::common::*;
use redb::{Database, Durability, ReadableTable, TableHandle, ReadOnlyTable, ReadTransaction, ReadableDatabase, TableDefinition};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Cache-line blocked bloom filter: 512-bit blocks, k probes (double hashing), `bits` per expected key.
pub struct Bloom {
    blocks: Vec<[u64; 8]>,
    k: u32,
    pub count: u64,
    /// the day's write epoch (see META) this filter covers
    pub epoch: u64,
}

impl Bloom {
    pub fn new(expected: u64, bits_per_key: u32) -> Bloom {
        let bits = (expected.max(64) * bits_per_key as u64) as usize;
        let nb = bits.div_ceil(512);
        let k = ((bits_per_key as f64 * std::f64::consts::LN_2).round() as u32).clamp(1, 16);
        Bloom { blocks: vec![[0u64; 8]; nb], k, count: 0, epoch: 0 }
    }
    #[inline]
    fn probe(&self, h: u64) -> (usize, u64) {
        let b = ((h as u128 * self.blocks.len() as u128) >> 64) as usize;
        (b, mix64(h ^ 0x2545_F491_4F6C_DD1D))
    }
    #[inline]
    pub fn insert(&mut self, h: u64) {
        let (b, g) = self.probe(h);
        let (g1, g2) = (g & 0xffff_ffff, (g >> 32) | 1);
        let k = self.k as u64;
        let blk = &mut self.blocks[b];
        for i in 0..k {
            let bit = (g1.wrapping_add(i.wrapping_mul(g2)) & 511) as usize;
            blk[bit >> 6] |= 1u64 << (bit & 63);
        }
        self.count += 1;
    }
    #[inline]
    pub fn contains(&self, h: u64) -> bool {
        let (b, g) = self.probe(h);
        let (g1, g2) = (g & 0xffff_ffff, (g >> 32) | 1);
        let blk = &self.blocks[b];
        for i in 0..self.k as u64 {
            let bit = (g1.wrapping_add(i.wrapping_mul(g2)) & 511) as usize;
            if blk[bit >> 6] & (1u64 << (bit & 63)) == 0 {
                return false;
            }
        }
        true
    }
    pub fn bytes(&self) -> u64 {
        (self.blocks.len() * 64) as u64
    }
    fn save(&self, path: &Path) {
        let tmp = path.with_extension("tmp");
        let mut buf = Vec::with_capacity(24 + self.blocks.len() * 64);
        buf.extend_from_slice(&(self.blocks.len() as u64).to_le_bytes());
        buf.extend_from_slice(&self.count.to_le_bytes());
        buf.extend_from_slice(&self.epoch.to_le_bytes());
        buf.extend_from_slice(&(self.k as u64).to_le_bytes());
        for blk in &self.blocks {
            for w in blk {
                buf.extend_from_slice(&w.to_le_bytes());
            }
        }
        let mut f = fs::File::create(&tmp).unwrap();
        f.write_all(&buf).unwrap();
        f.sync_data().unwrap();
        fs::rename(&tmp, path).unwrap();
    }
    fn load(path: &Path) -> Option<Bloom> {
        let buf = fs::read(path).ok()?;
        let nb = u64::from_le_bytes(buf[0..8].try_into().unwrap()) as usize;
        let count = u64::from_le_bytes(buf[8..16].try_into().unwrap());
        let epoch = u64::from_le_bytes(buf[16..24].try_into().unwrap());
        let k = u64::from_le_bytes(buf[24..32].try_into().unwrap()) as u32;
        let mut blocks = vec![[0u64; 8]; nb];
        for (i, blk) in blocks.iter_mut().enumerate() {
            for (j, w) in blk.iter_mut().enumerate() {
                let o = 32 + (i * 8 + j) * 8;
                *w = u64::from_le_bytes(buf[o..o + 8].try_into().unwrap());
            }
        }
        Some(Bloom { blocks, k, count, epoch })
    }
}

type Def<'a> = TableDefinition<'a, Key, &'static [u8]>;
/// day -> write epoch of the last commit that wrote to the day; key u32::MAX -> last epoch.
/// A filter file older than its day's epoch (crash after the last checkpoint) is rebuilt at open.
const META: TableDefinition<u32, u64> = TableDefinition::new("meta");

struct DayMeta {
    name: String,
    bloom: Bloom,
    dirty: bool,
}

pub struct RedbStore {
    db: Database,
    dir: PathBuf,
    days: BTreeMap<u32, DayMeta>,
    newest_day: Option<u32>,
    per_day_expected: u64,
    bloom_bits: u32,
    epoch: u64,
    reader: Option<(ReadTransaction, Vec<(u32, ReadOnlyTable<Key, &'static [u8]>)>)>,
}

impl RedbStore {
    pub fn open(dir: &Path, cache_bytes: usize, per_day_expected: u64, bloom_bits: u32, quick_repair: bool) -> RedbStore {
        fs::create_dir_all(dir.join("filters")).unwrap();
        let db = Database::builder().set_cache_size(cache_bytes).create(dir.join("archive.redb")).expect("redb open");
        let _ = quick_repair;
        let mut days = BTreeMap::new();
        let epoch;
        {
            let rt = db.begin_read().unwrap();
            let day_epoch = |day: u32| -> u64 {
                match rt.open_table(META) {
                    Ok(t) => t.get(day).unwrap().map(|g| g.value()).unwrap_or(0),
                    Err(_) => 0,
                }
            };
            epoch = day_epoch(u32::MAX);
            for t in rt.list_tables().unwrap() {
                let name = t.name().to_string();
                if let Some(d) = name.strip_prefix('d') {
                    if let Ok(day) = d.parse::<u32>() {
                        let fp = dir.join("filters").join(format!("{name}.bloom"));
                        let de = day_epoch(day);
                        let mut dirty = false;
                        let bloom = match Bloom::load(&fp) {
                            Some(b) if b.epoch >= de => b,
                            _ => {
                                dirty = true;
                                // filter missing (crash before checkpoint): rebuild from the table
                                let mut b = Bloom::new(per_day_expected, bloom_bits);
                                let tbl = rt.open_table(Def::new(&name)).unwrap();
                                for e in tbl.iter().unwrap() {
                                    let (k, _) = e.unwrap();
                                    b.insert(key_hash(&k.value()));
                                }
                                b.epoch = de;
                                b.save(&fp); // persist the rebuilt filter
                                dirty = false;
                                b
                            }
                        };
                        days.insert(day, DayMeta { name, bloom, dirty });
                    }
                }
            }
        }
        let newest_day = days.keys().next_back().copied();
        RedbStore { db, dir: dir.to_path_buf(), days, newest_day, per_day_expected, bloom_bits, epoch, reader: None }
    }

    fn filter_path(&self, name: &str) -> PathBuf {
        self.dir.join("filters").join(format!("{name}.bloom"))
    }

    pub fn filter_bytes(&self) -> u64 {
        self.days.values().map(|d| d.bloom.bytes()).sum()
    }

    pub fn insert_batch(&mut self, b: &Batch, quick_repair: bool) {
        self.reader = None;
        let mut wt = self.db.begin_write().unwrap();
        wt.set_durability(Durability::Immediate).unwrap();
        if quick_repair {
            wt.set_quick_repair(true);
        }
        self.epoch += 1;
        let epoch = self.epoch;
        let mut meta_t = wt.open_table(META).unwrap();
        meta_t.insert(u32::MAX, epoch).unwrap();
        let mut j = 0;
        let mut sealed = Vec::new();
        while j < b.len() {
            let day = b.days[j];
            let mut e = j;
            while e < b.len() && b.days[e] == day {
                e += 1;
            }
            if let Some(nd) = self.newest_day {
                if day > nd {
                    sealed.extend(self.days.range(..day).map(|(d, _)| *d));
                }
            }
            self.newest_day = Some(self.newest_day.map_or(day, |nd| nd.max(day)));
            let pde = self.per_day_expected;
            let bb = self.bloom_bits;
            let meta = self.days.entry(day).or_insert_with(|| DayMeta {
                name: format!("d{day:05}"),
                bloom: Bloom::new(pde, bb),
                dirty: true,
            });
            {
                let mut t = wt.open_table(Def::new(&meta.name)).unwrap();
                for x in j..e {
                    t.insert(&b.keys[x], b.val(x)).unwrap();
                    meta.bloom.insert(key_hash(&b.keys[x]));
                }
            }
            meta.dirty = true;
            meta.bloom.epoch = epoch;
            meta_t.insert(day, epoch).unwrap();
            j = e;
        }
        drop(meta_t);
        wt.commit().expect("redb commit");
        // sealed days: persist their filters once
        sealed.sort_unstable();
        sealed.dedup();
        for d in sealed {
            if self.days[&d].dirty {
                let p = self.filter_path(&self.days[&d].name);
                self.days[&d].bloom.save(&p);
                self.days.get_mut(&d).unwrap().dirty = false;
            }
        }
    }

    pub fn checkpoint(&mut self) {
        let dirty: Vec<u32> = self.days.iter().filter(|(_, m)| m.dirty).map(|(d, _)| *d).collect();
        for d in dirty {
            let p = self.filter_path(&self.days[&d].name);
            self.days[&d].bloom.save(&p);
            self.days.get_mut(&d).unwrap().dirty = false;
        }
        fsync_dir(&self.dir.join("filters")).unwrap();
    }

    /// Open one read transaction and all day tables, reused by `get` until the next write.
    pub fn prepare_reads(&mut self) {
        if self.reader.is_some() {
            return;
        }
        let rt = self.db.begin_read().unwrap();
        let mut tabs = Vec::new();
        for (d, m) in self.days.iter().rev() {
            tabs.push((*d, rt.open_table(Def::new(&m.name)).unwrap()));
        }
        self.reader = Some((rt, tabs));
    }

    pub fn get(&self, k: &Key) -> Option<Vec<u8>> {
        let hsh = key_hash(k);
        let (_, tabs) = self.reader.as_ref().expect("prepare_reads first");
        for (d, t) in tabs {
            if !self.days[d].bloom.contains(hsh) {
                continue;
            }
            if let Some(v) = t.get(k).unwrap() {
                return Some(v.value().to_vec());
            }
        }
        None
    }

    pub fn expire_through(&mut self, day: u32) {
        self.reader = None;
        let old: Vec<u32> = self.days.range(..=day).map(|(d, _)| *d).collect();
        let wt = self.db.begin_write().unwrap();
        for d in &old {
            let name = self.days[d].name.clone();
            wt.delete_table(Def::new(&name)).unwrap();
            wt.open_table(META).unwrap().remove(*d).unwrap();
        }
        wt.commit().unwrap();
        for d in old {
            let m = self.days.remove(&d).unwrap();
            let _ = fs::remove_file(self.filter_path(&m.name));
        }
    }

    pub fn info(&self) -> String {
        format!("tables={} filter_bytes={}", self.days.len(), self.filter_bytes())
    }
}
