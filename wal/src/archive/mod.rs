//! The archive: immutable sorted runs of fixed-width keys and opaque values in one
//! directory, grouped by day, so that a key is found without keeping it in memory and a
//! day leaves by deleting its files. The engine keeps its settled requests here (issue
//! 13); this module knows keys and bytes only. Why our own runs rather than an embedded
//! store: `docs/archive.md`, measured.
//!
//! - **Adding.** A batch of records of one day becomes one run (`run-DDDDDD-SSSSSSSSSSSS.arc`:
//!   the day, then a sequence number that only grows), durable and in place once
//!   [`Archive::add`] returns. A crash before leaves a `.tmp` that opening removes.
//! - **Finding.** One filter of every key the archive holds ([`keys::KeyFilter`]) answers
//!   most "not here" in one probe; then runs are asked newest first, each run's filter in
//!   memory answering most "not here" without reading the file (a binary fuse filter: one
//!   false positive in about 65,000), and a hit is checked by its record's CRC.
//! - **Merging.** [`Archive::merge_tier`] writes one run of the runs of one size tier of a
//!   day (size-tiered: about one rewrite of a record per tier), [`Archive::merge_day`] one
//!   run of every record of a day (the newest of a key that appears twice); each then
//!   removes the runs it replaced. A crash
//!   in between leaves both, which only costs space: records are immutable, so the copies
//!   agree, and the next merge of that day drops them.
//! - **Leaving.** [`Archive::drop_days_before`] deletes whole days.
//! - **Sharing.** An `Archive` is shared between threads (`Arc<Archive>`): readers take
//!   the current set of runs (an `Arc`, under a read lock held only to clone it) and
//!   search without a lock; writers (one at a time) write and sync a run without a lock
//!   and then swap in a new set. A reader never waits for a write or a sync.

mod keys;
mod run;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

pub use run::{key_hash, write_run, Run, RunError, RUN_FORMAT_VERSION};

use crate::storage::Storage;

/// A run's place: its day, then its sequence number.
type RunId = (u32, u64);

fn run_name((day, seq): RunId) -> String {
    format!("run-{day:06}-{seq:012}.arc")
}

/// The hash of every key of every run (a key in two runs twice).
fn key_hashes(runs: &Runs) -> Vec<u64> {
    runs.values()
        .flat_map(|run| run.keys().map(key_hash))
        .collect()
}

fn parse_run_name(name: &str) -> Option<RunId> {
    let rest = name.strip_prefix("run-")?.strip_suffix(".arc")?;
    let (day, seq) = rest.split_once('-')?;
    if day.len() != 6 || seq.len() != 12 {
        return None;
    }
    Some((day.parse().ok()?, seq.parse().ok()?))
}

type Runs = BTreeMap<RunId, Arc<Run>>;

/// One directory of runs, all of one key width.
pub struct Archive {
    storage: Arc<dyn Storage>,
    width: usize,
    runs: RwLock<Arc<Runs>>,
    /// Held by a writer from the run's name to its swap: one writer at a time.
    writer: Mutex<u64>,
    /// The pace of run writes ([`write_run`]); unbounded unless set.
    write_bytes_per_sec: u64,
    /// Every key of every run, in one filter.
    keys: keys::KeyFilter,
}

/// What opening found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveOpened {
    pub runs: usize,
    pub records: u64,
    /// Temporary files of runs a crash interrupted, removed.
    pub unfinished_removed: usize,
}

impl Archive {
    /// Opens (creating it if absent) the archive in `storage`, whose keys are `width`
    /// bytes. Removes the temporary files of runs a crash interrupted; refuses a run that
    /// is damaged, of another format version or of another key width.
    pub fn open(
        storage: Arc<dyn Storage>,
        width: usize,
    ) -> Result<(Archive, ArchiveOpened), RunError> {
        let io = |op: &'static str| {
            let name = storage.path("").display().to_string();
            move |source| RunError::Io { name, op, source }
        };
        storage.create_dir().map_err(io("create"))?;
        let mut opened = ArchiveOpened::default();
        let mut runs = BTreeMap::new();
        let mut removed = false;
        for name in storage.list().map_err(io("list"))? {
            if name.starts_with("run-") && name.ends_with(".tmp") {
                storage
                    .remove(&name)
                    .map_err(io("remove an unfinished run in"))?;
                opened.unfinished_removed += 1;
                removed = true;
                continue;
            }
            let Some(id) = parse_run_name(&name) else {
                continue;
            };
            let run = Run::open(storage.as_ref(), &name)?;
            if run.width() != width {
                return Err(RunError::Damaged {
                    name,
                    what: format!(
                        "keys of {} bytes where the archive's are {width}",
                        run.width()
                    ),
                });
            }
            opened.records += run.len() as u64;
            runs.insert(id, Arc::new(run));
        }
        if removed {
            storage.sync_dir().map_err(io("sync"))?;
        }
        opened.runs = runs.len();
        let next_seq = runs.keys().map(|(_, seq)| seq + 1).max().unwrap_or(1);
        let keys = keys::KeyFilter::of(&key_hashes(&runs));
        Ok((
            Archive {
                storage,
                width,
                runs: RwLock::new(Arc::new(runs)),
                writer: Mutex::new(next_seq),
                write_bytes_per_sec: u64::MAX,
                keys,
            },
            opened,
        ))
    }

    /// Writes runs at most `bytes_per_sec` (see [`write_run`]).
    pub fn with_write_pace(self, bytes_per_sec: u64) -> Archive {
        Archive {
            write_bytes_per_sec: bytes_per_sec.max(1),
            ..self
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// The current set of runs.
    fn runs(&self) -> Arc<Runs> {
        self.runs.read().expect("archive runs lock").clone()
    }

    /// Adds a run of `records` accepted on `day`. They need not be sorted; a key given
    /// twice keeps its last value. Durable when it returns; readers go on meanwhile.
    pub fn add(&self, day: u32, records: &[(&[u8], &[u8])]) -> Result<(), RunError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<(&[u8], &[u8])> = records.to_vec();
        // Stable: of equal keys the last given stays last, and is the one kept.
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut unique: Vec<(&[u8], &[u8])> = Vec::with_capacity(sorted.len());
        for record in sorted {
            match unique.last_mut() {
                Some(last) if last.0 == record.0 => *last = record,
                _ => unique.push(record),
            }
        }
        let mut next_seq = self.writer.lock().expect("archive writer lock");
        self.write(&mut next_seq, day, &unique, &[])
    }

    /// Writes a run, then swaps in the set with it and without `replaced`.
    fn write(
        &self,
        next_seq: &mut u64,
        day: u32,
        sorted: &[(&[u8], &[u8])],
        replaced: &[RunId],
    ) -> Result<(), RunError> {
        let id = (day, *next_seq);
        *next_seq += 1;
        let name = run_name(id);
        write_run(
            self.storage.as_ref(),
            &name,
            self.width,
            sorted,
            self.write_bytes_per_sec,
        )?;
        let run = Arc::new(Run::open(self.storage.as_ref(), &name)?);
        if replaced.is_empty() {
            // New keys (a merge only rewrites keys held already): in the filter before
            // any reader can be sent here for them.
            let hashes: Vec<u64> = sorted.iter().map(|(key, _)| key_hash(key)).collect();
            self.keys.insert(&hashes);
        }
        let mut runs = self.runs.write().expect("archive runs lock");
        let mut next = Runs::clone(&runs);
        next.insert(id, run);
        for id in replaced {
            next.remove(id);
        }
        *runs = Arc::new(next);
        Ok(())
    }

    /// The value of `key`, from the newest run that holds it.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RunError> {
        if key.len() != self.width {
            return Ok(None);
        }
        let hash = key_hash(key);
        if !self.keys.may_contain(hash) {
            return Ok(None);
        }
        for run in self.runs().values().rev() {
            if let Some(value) = run.get(key, hash)? {
                return Ok(Some(value.to_vec()));
            }
        }
        Ok(None)
    }

    /// Calls `f` with every record of every run, oldest run first, each checked against
    /// its CRC (a key in two runs comes twice). For reports that read a whole archive.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) -> Result<(), RunError> {
        for run in self.runs().values() {
            for record in run.records() {
                let (key, value) = record?;
                f(key, value);
            }
        }
        Ok(())
    }

    /// Whether some run's filter admits `key`: `false` is certain and reads nothing.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let hash = key_hash(key);
        key.len() == self.width
            && self.keys.may_contain(hash)
            && self.runs().values().any(|r| r.may_contain(hash))
    }

    /// Rewrites every run of `day` as one; returns how many it replaced (0: nothing to
    /// do). Readers go on meanwhile, on the runs as they were.
    pub fn merge_day(&self, day: u32) -> Result<usize, RunError> {
        let mut next_seq = self.writer.lock().expect("archive writer lock");
        let ids: Vec<RunId> = self
            .runs()
            .range((day, 0)..=(day, u64::MAX))
            .map(|(id, _)| *id)
            .collect();
        self.merge(&mut next_seq, day, &ids)
    }

    /// Size-tiered merging: if `fan_in` or more runs of `day` are of one size tier (runs
    /// within a factor of 8 of each other), rewrites them as one run of the next tier.
    /// Each record is then rewritten about once per tier (log8 of the day's size), never
    /// with every merge. Runs of `run_records_max` records or more are never merged again,
    /// and a merge never makes a run larger than that, so a merge's memory is bounded
    /// whatever the size of the day. Returns how many runs it replaced (0: no tier was
    /// full). A key's value must not differ between runs (the archive's records never
    /// change).
    pub fn merge_tier(
        &self,
        day: u32,
        fan_in: usize,
        run_records_max: usize,
    ) -> Result<usize, RunError> {
        let mut next_seq = self.writer.lock().expect("archive writer lock");
        let mut tiers: BTreeMap<u32, Vec<(RunId, usize)>> = BTreeMap::new();
        for (id, run) in self.runs().range((day, 0)..=(day, u64::MAX)) {
            if run.len() < run_records_max {
                tiers
                    .entry(run.len().max(1).ilog2() / 3)
                    .or_default()
                    .push((*id, run.len()));
            }
        }
        for runs in tiers.into_values() {
            // The oldest of the tier first, as many as fit under the bound.
            let mut ids = Vec::new();
            let mut records = 0;
            for (id, len) in runs {
                if records + len > run_records_max {
                    break;
                }
                records += len;
                ids.push(id);
            }
            if ids.len() >= fan_in.max(2) {
                return self.merge(&mut next_seq, day, &ids);
            }
        }
        Ok(0)
    }

    /// Rewrites the runs `ids` of `day` as one new run, then removes them. The records
    /// are read in place (the runs' maps), never copied into memory.
    fn merge(&self, next_seq: &mut u64, day: u32, ids: &[RunId]) -> Result<usize, RunError> {
        if ids.len() < 2 {
            return Ok(0);
        }
        let runs = self.runs();
        // (key, value, newer first): sorted by key, then the newest run's copy first.
        let mut all: Vec<(&[u8], &[u8], std::cmp::Reverse<usize>)> = Vec::new();
        for (order, id) in ids.iter().enumerate() {
            for record in runs[id].records() {
                let (key, value) = record?;
                all.push((key, value, std::cmp::Reverse(order)));
            }
        }
        all.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.2.cmp(&b.2)));
        all.dedup_by(|later, first| later.0 == first.0);
        let records: Vec<(&[u8], &[u8])> = all.iter().map(|(k, v, _)| (*k, *v)).collect();
        drop(all);
        self.write(next_seq, day, &records, ids)?;
        drop(records);
        drop(runs);
        for id in ids {
            self.remove_file(*id)?;
        }
        self.sync_dir()?;
        Ok(ids.len())
    }

    /// How many runs a day has.
    pub fn runs_of_day(&self, day: u32) -> usize {
        self.runs().range((day, 0)..=(day, u64::MAX)).count()
    }

    fn remove_file(&self, id: RunId) -> Result<(), RunError> {
        let name = run_name(id);
        self.storage.remove(&name).map_err(|source| RunError::Io {
            name,
            op: "remove",
            source,
        })
    }

    fn sync_dir(&self) -> Result<(), RunError> {
        self.storage.sync_dir().map_err(|source| RunError::Io {
            name: self.storage.path("").display().to_string(),
            op: "sync",
            source,
        })
    }

    /// Deletes every run of a day before `day`; returns how many records left.
    pub fn drop_days_before(&self, day: u32) -> Result<u64, RunError> {
        let _writer = self.writer.lock().expect("archive writer lock");
        let ids: Vec<(RunId, u64)> = {
            let mut runs = self.runs.write().expect("archive runs lock");
            let mut next = Runs::clone(&runs);
            let ids: Vec<(RunId, u64)> = next
                .range(..(day, 0))
                .map(|(id, run)| (*id, run.len() as u64))
                .collect();
            for (id, _) in &ids {
                next.remove(id);
            }
            *runs = Arc::new(next);
            ids
        };
        if !ids.is_empty() {
            // A Bloom filter cannot forget: the days left are filtered anew.
            let runs = self.runs();
            self.keys.rebuild(&key_hashes(&runs));
        }
        for (id, _) in &ids {
            self.remove_file(*id)?;
        }
        self.sync_dir()?;
        Ok(ids.iter().map(|(_, records)| records).sum())
    }

    /// Runs, records (a key in two runs counts twice) and heap bytes (the filters).
    pub fn stats(&self) -> ArchiveStats {
        let runs = self.runs();
        ArchiveStats {
            runs: runs.len(),
            records: runs.values().map(|r| r.len() as u64).sum(),
            heap_bytes: runs.values().map(|r| r.heap_bytes() as u64).sum::<u64>()
                + self.keys.heap_bytes(),
            days: runs
                .keys()
                .map(|(day, _)| *day)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    pub runs: usize,
    pub records: u64,
    pub heap_bytes: u64,
    pub days: usize,
}

#[cfg(test)]
mod tests;
