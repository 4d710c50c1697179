//! Candidate 3: own design. Immutable sorted runs (one rkyv-archived file per flushed batch
//! and acceptance day), read zero-copy through memmap2, a BinaryFuse8 filter per run held on
//! the heap, size-tiered merging inside a day, whole-day merge when the day is sealed, and
//! expiry by deleting a day's directory.
//!
//! Layout: <dir>/day-<DDDDD>/run-<SEQ 16 digits>.run   (written as .tmp, fsync, rename, fsync dir)

use crate::common::*;
use memmap2::{Advice, Mmap};
use rkyv::{Archive, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use xorf::{BinaryFuse16, BinaryFuse8, Filter};

/// Per-run filter: BinaryFuse8 (~9 bits/key, FPR ~0.39%) or BinaryFuse16 (~18 bits/key, FPR ~0.0015%).
pub enum RunFilter {
    F8(BinaryFuse8),
    F16(BinaryFuse16),
}

impl RunFilter {
    #[inline]
    fn contains(&self, h: &u64) -> bool {
        match self {
            RunFilter::F8(f) => f.contains(h),
            RunFilter::F16(f) => f.contains(h),
        }
    }
    fn bytes(&self) -> usize {
        match self {
            RunFilter::F8(f) => f.fingerprints.len(),
            RunFilter::F16(f) => f.fingerprints.len() * 2,
        }
    }
    fn descriptor(&self) -> &xorf::Descriptor {
        match self {
            RunFilter::F8(f) => &f.descriptor,
            RunFilter::F16(f) => &f.descriptor,
        }
    }
    fn bits(&self) -> u32 {
        match self {
            RunFilter::F8(_) => 8,
            RunFilter::F16(_) => 16,
        }
    }
    fn fp_bytes(&self) -> Vec<u8> {
        match self {
            RunFilter::F8(f) => f.fingerprints.to_vec(),
            RunFilter::F16(f) => f.fingerprints.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Runs of the same level in a day merged into one of the next level at this count.
const FANOUT: usize = 8;

#[derive(Archive, Serialize)]
pub struct RunFile {
    pub day: u32,
    pub level: u32,
    /// seqs of runs this one replaces (merge inputs); a crash between writing this run and
    /// unlinking the inputs is resolved at open by deleting them.
    pub replaces: Vec<u64>,
    /// sorted, unique
    pub keys: Vec<Key>,
    /// len = keys.len() + 1; value j = values[offs[j]..offs[j+1]]
    pub offs: Vec<u32>,
    pub values: Vec<u8>,
    pub f_bits: u32,
    pub f_seed: u64,
    pub f_segment_length: u32,
    pub f_segment_length_mask: u32,
    pub f_segment_count_length: u32,
    pub fingerprints: Vec<u8>,
}

pub struct Run {
    pub seq: u64,
    pub level: u32,
    pub path: PathBuf,
    mmap: Mmap,
    filter: RunFilter,
    pub len: usize,
}

impl Run {
    #[inline]
    fn arch(&self) -> &ArchivedRunFile {
        // Files are written whole (tmp + fsync + rename) by this module and checked once at open.
        unsafe { rkyv::access_unchecked::<ArchivedRunFile>(&self.mmap[..]) }
    }

    #[inline]
    pub fn get(&self, k: &Key, hsh: u64) -> Option<&[u8]> {
        if !self.filter.contains(&hsh) {
            return None;
        }
        let a = self.arch();
        let keys: &[Key] = a.keys.as_slice();
        match keys.binary_search(k) {
            Ok(j) => {
                let s = a.offs[j].to_native() as usize;
                let e = a.offs[j + 1].to_native() as usize;
                Some(&a.values.as_slice()[s..e])
            }
            Err(_) => None,
        }
    }

    fn open(path: &Path, validate: bool) -> Run {
        let file = fs::File::open(path).expect("open run");
        let mmap = unsafe { Mmap::map(&file).expect("mmap run") };
        let _ = mmap.advise(Advice::Random);
        let a: &ArchivedRunFile = if validate {
            rkyv::access::<ArchivedRunFile, rkyv::rancor::Error>(&mmap[..]).expect("run file fails validation")
        } else {
            unsafe { rkyv::access_unchecked::<ArchivedRunFile>(&mmap[..]) }
        };
        // Copy the filter to the heap with pread, so the mapping's pages are not touched.
        let fp_off = a.fingerprints.as_slice().as_ptr() as usize - mmap.as_ptr() as usize;
        let mut fp = vec![0u8; a.fingerprints.len()];
        file.read_exact_at(&mut fp, fp_off as u64).expect("read filter");
        let descriptor = xorf::Descriptor {
            seed: a.f_seed.to_native(),
            segment_length: a.f_segment_length.to_native(),
            segment_length_mask: a.f_segment_length_mask.to_native(),
            segment_count_length: a.f_segment_count_length.to_native(),
        };
        let filter = if a.f_bits.to_native() == 16 {
            let v: Vec<u16> = fp.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            RunFilter::F16(BinaryFuse16 { descriptor, fingerprints: v.into_boxed_slice() })
        } else {
            RunFilter::F8(BinaryFuse8 { descriptor, fingerprints: fp.into_boxed_slice() })
        };
        let name = path.file_stem().unwrap().to_str().unwrap();
        let seq: u64 = name.trim_start_matches("run-").parse().expect("run seq");
        let level = a.level.to_native();
        let len = a.keys.len();
        Run { seq, level, path: path.to_path_buf(), mmap, filter, len }
    }
}

pub struct Day {
    pub runs: Vec<Run>, // ascending seq (oldest first)
}

pub struct OwnStore {
    dir: PathBuf,
    days: BTreeMap<u32, Day>,
    next_seq: u64,
    newest_day: Option<u32>,
    pub merges: u64,
    pub merge_bytes: u64,
    pub written_bytes: u64,
    /// build new runs with BinaryFuse16 instead of BinaryFuse8
    pub filter16: bool,
}

fn day_dir(dir: &Path, day: u32) -> PathBuf {
    dir.join(format!("day-{day:05}"))
}

fn build_filter(keys: &[Key], f16: bool) -> RunFilter {
    let mut hs: Vec<u64> = keys.iter().map(key_hash).collect();
    hs.sort_unstable();
    hs.dedup();
    if f16 {
        RunFilter::F16(BinaryFuse16::try_from(&hs).expect("build BinaryFuse16"))
    } else {
        RunFilter::F8(BinaryFuse8::try_from(&hs).expect("build BinaryFuse8"))
    }
}

impl OwnStore {
    pub fn open(dir: &Path, validate: bool) -> OwnStore {
        fs::create_dir_all(dir).unwrap();
        let mut days = BTreeMap::new();
        let mut next_seq = 0;
        let mut dnames: Vec<_> = fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
        dnames.sort();
        for dp in dnames {
            let dn = dp.file_name().unwrap().to_str().unwrap().to_string();
            let Some(d) = dn.strip_prefix("day-") else { continue };
            let day: u32 = d.parse().unwrap();
            let mut files: Vec<_> = fs::read_dir(&dp).unwrap().flatten().map(|e| e.path()).collect();
            files.sort();
            let mut runs = Vec::new();
            for f in files {
                match f.extension().and_then(|x| x.to_str()) {
                    Some("run") => runs.push(Run::open(&f, validate)),
                    Some("tmp") => {
                        let _ = fs::remove_file(&f);
                    }
                    _ => {}
                }
            }
            // Drop runs superseded by a completed merge.
            let mut replaced = std::collections::HashSet::new();
            for r in &runs {
                for s in r.arch().replaces.iter() {
                    replaced.insert(s.to_native());
                }
            }
            runs.retain(|r| {
                if replaced.contains(&r.seq) {
                    let _ = fs::remove_file(&r.path);
                    false
                } else {
                    true
                }
            });
            for r in &runs {
                next_seq = next_seq.max(r.seq + 1);
            }
            runs.sort_by_key(|r| (std::cmp::Reverse(r.level), r.seq));
            if !runs.is_empty() {
                days.insert(day, Day { runs });
            }
        }
        let newest_day = days.keys().next_back().copied();
        OwnStore { dir: dir.to_path_buf(), days, next_seq, newest_day, merges: 0, merge_bytes: 0, written_bytes: 0, filter16: false }
    }

    pub fn filter_bytes(&self) -> u64 {
        self.days.values().flat_map(|d| d.runs.iter()).map(|r| r.filter.bytes() as u64).sum()
    }
    pub fn run_count(&self) -> usize {
        self.days.values().map(|d| d.runs.len()).sum()
    }

    fn write_run(&mut self, day: u32, level: u32, replaces: Vec<u64>, keys: Vec<Key>, offs: Vec<u32>, values: Vec<u8>) -> Run {
        let filter = build_filter(&keys, self.filter16);
        let rf = RunFile {
            day,
            level,
            replaces,
            keys,
            offs,
            values,
            f_bits: filter.bits(),
            f_seed: filter.descriptor().seed,
            f_segment_length: filter.descriptor().segment_length,
            f_segment_length_mask: filter.descriptor().segment_length_mask,
            f_segment_count_length: filter.descriptor().segment_count_length,
            fingerprints: filter.fp_bytes(),
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&rf).expect("serialize run");
        drop(rf);
        let seq = self.next_seq;
        self.next_seq += 1;
        let dd = day_dir(&self.dir, day);
        let new_dir = !dd.exists();
        if new_dir {
            fs::create_dir_all(&dd).unwrap();
            fsync_dir(&self.dir).unwrap();
        }
        let tmp = dd.join(format!("run-{seq:016}.tmp"));
        let fin = dd.join(format!("run-{seq:016}.run"));
        {
            let mut f = fs::File::create(&tmp).unwrap();
            f.write_all(&bytes).unwrap();
            f.sync_data().unwrap();
        }
        fs::rename(&tmp, &fin).unwrap();
        fsync_dir(&dd).unwrap();
        self.written_bytes += bytes.len() as u64;
        drop(bytes);
        let file = fs::File::open(&fin).unwrap();
        let mmap = unsafe { Mmap::map(&file).unwrap() };
        let _ = mmap.advise(Advice::Random);
        let len = unsafe { rkyv::access_unchecked::<ArchivedRunFile>(&mmap[..]) }.keys.len();
        Run { seq, level, path: fin, mmap, filter, len }
    }

    /// Merge `inputs` (indices into the day's runs) into one run of `level`; newest wins on equal keys.
    fn merge(&mut self, day: u32, idx: &[usize], level: u32) {
        let d = self.days.get(&day).unwrap();
        let runs: Vec<&Run> = idx.iter().map(|&i| &d.runs[i]).collect();
        let total: usize = runs.iter().map(|r| r.len).sum();
        // (key ref, run index, position); sort by key, then newest run first for dedup
        let mut ents: Vec<(&Key, u32, u32)> = Vec::with_capacity(total);
        for (ri, r) in runs.iter().enumerate() {
            for (p, k) in r.arch().keys.iter().enumerate() {
                ents.push((k, ri as u32, p as u32));
            }
        }
        ents.sort_unstable_by(|a, b| a.0.cmp(b.0).then(b.1.cmp(&a.1)));
        ents.dedup_by(|b, a| a.0 == b.0);
        let mut keys = Vec::with_capacity(ents.len());
        let mut offs = Vec::with_capacity(ents.len() + 1);
        let vbytes: usize = runs.iter().map(|r| r.arch().values.len()).sum();
        let mut values = Vec::with_capacity(vbytes);
        offs.push(0u32);
        for (k, ri, p) in &ents {
            let a = runs[*ri as usize].arch();
            let s = a.offs[*p as usize].to_native() as usize;
            let e = a.offs[*p as usize + 1].to_native() as usize;
            keys.push(**k);
            values.extend_from_slice(&a.values.as_slice()[s..e]);
            offs.push(values.len() as u32);
        }
        drop(ents);
        let replaces: Vec<u64> = runs.iter().map(|r| r.seq).collect();
        let paths: Vec<PathBuf> = runs.iter().map(|r| r.path.clone()).collect();
        self.merge_bytes += values.len() as u64;
        let newrun = self.write_run(day, level, replaces, keys, offs, values);
        let d = self.days.get_mut(&day).unwrap();
        let mut sorted_idx = idx.to_vec();
        sorted_idx.sort_unstable();
        for &i in sorted_idx.iter().rev() {
            d.runs.remove(i);
        }
        // the merged run takes the position of the newest input: all inputs were contiguous in
        // seq order within a level, and runs newer than them stay newer
        d.runs.push(newrun);
        d.runs.sort_by_key(|r| (std::cmp::Reverse(r.level), r.seq));
        for p in paths {
            let _ = fs::remove_file(p);
        }
        fsync_dir(&day_dir(&self.dir, day)).unwrap();
        self.merges += 1;
    }

    /// Seal a day: merge all its runs into one.
    fn seal_day(&mut self, day: u32) {
        let n = self.days.get(&day).map(|d| d.runs.len()).unwrap_or(0);
        if n > 1 {
            let idx: Vec<usize> = (0..n).collect();
            let lvl = self.days[&day].runs.iter().map(|r| r.level).max().unwrap() + 1;
            self.merge(day, &idx, lvl);
        }
    }

    fn maybe_merge(&mut self, day: u32) {
        loop {
            let d = &self.days[&day];
            let mut by_level: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
            for (i, r) in d.runs.iter().enumerate() {
                by_level.entry(r.level).or_default().push(i);
            }
            let Some((lvl, idx)) = by_level.into_iter().find(|(_, v)| v.len() >= FANOUT) else { break };
            self.merge(day, &idx, lvl + 1);
        }
    }

    pub fn insert_batch(&mut self, b: &Batch) {
        // split the batch by day (records arrive in day order, a batch may straddle days)
        let mut j = 0;
        while j < b.len() {
            let day = b.days[j];
            let mut e = j;
            while e < b.len() && b.days[e] == day {
                e += 1;
            }
            if let Some(nd) = self.newest_day {
                if day > nd {
                    let older: Vec<u32> = self.days.keys().copied().filter(|&d| d < day).collect();
                    for d in older {
                        self.seal_day(d);
                    }
                }
            }
            self.newest_day = Some(self.newest_day.map_or(day, |nd| nd.max(day)));
            let mut order: Vec<usize> = (j..e).collect();
            order.sort_unstable_by(|x, y| b.keys[*x].cmp(&b.keys[*y]));
            order.dedup_by(|x, y| b.keys[*x] == b.keys[*y]);
            let mut keys = Vec::with_capacity(order.len());
            let mut offs = Vec::with_capacity(order.len() + 1);
            let mut values = Vec::with_capacity(b.offs[e] as usize - b.offs[j] as usize);
            offs.push(0u32);
            for &x in &order {
                keys.push(b.keys[x]);
                values.extend_from_slice(b.val(x));
                offs.push(values.len() as u32);
            }
            let run = self.write_run(day, 0, Vec::new(), keys, offs, values);
            self.days.entry(day).or_insert_with(|| Day { runs: Vec::new() }).runs.push(run);
            self.maybe_merge(day);
            j = e;
        }
    }

    #[inline]
    pub fn get(&self, k: &Key) -> Option<&[u8]> {
        let hsh = key_hash(k);
        for d in self.days.values().rev() {
            for r in d.runs.iter().rev() {
                if let Some(v) = r.get(k, hsh) {
                    return Some(v);
                }
            }
        }
        None
    }

    /// Remove all days <= `day`: unmap and delete whole directories.
    pub fn expire_through(&mut self, day: u32) {
        let old: Vec<u32> = self.days.range(..=day).map(|(d, _)| *d).collect();
        for d in old {
            self.days.remove(&d);
            fs::remove_dir_all(day_dir(&self.dir, d)).unwrap();
        }
        fsync_dir(&self.dir).unwrap();
    }
}
