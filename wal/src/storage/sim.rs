//! A simulated disk for tests: it keeps, for every file, what was written and what was
//! made durable, and the directory as it is and as it was last synced, so a test can
//! "pull the plug" at any moment and see exactly what a real machine could find after
//! reboot. It can also fail writes, syncs and zero-fills, and pause writes.
//!
//! Zero-fills are counted and failed on their own, not as writes and syncs: spare
//! segments are zero-filled on a background thread, so counting them with `write_at`
//! and `sync_data` would make "the n-th write fails" depend on thread scheduling.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{Region, Storage, StorageFile};

/// What survives a simulated crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// A process crash: the kernel keeps every completed write and directory change.
    KeepWritten,
    /// A power loss that keeps nothing written or renamed since the last sync.
    DropUnsynced,
    /// A power loss during which each file's unsynced writes reached the disk in order up
    /// to `bytes` bytes, the write crossing that point torn. Unsynced directory changes
    /// are lost.
    TornAfter { bytes: u64 },
    /// A power loss that kept a random subset (seeded) of the unsynced 512-byte sectors
    /// of each file, in any order, as a disk with a volatile cache may. Unsynced
    /// directory changes are lost.
    RandomSectors { seed: u64 },
}

const SECTOR_BYTES: u64 = 512;

/// A cloneable handle to one simulated directory.
#[derive(Clone)]
pub struct SimStorage {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<SimState>,
    resumed: Condvar,
}

#[derive(Default)]
struct SimState {
    files: HashMap<u64, SimFileData>,
    names: BTreeMap<String, u64>,
    durable_names: BTreeMap<String, u64>,
    next_file_id: u64,
    /// Bumped by every crash; handles of an earlier generation fail, as the file
    /// descriptors of a dead process would.
    generation: u64,
    locked: bool,
    writes_paused: bool,
    writes: u64,
    syncs: u64,
    zero_fills: u64,
    fail_write_at: Option<u64>,
    fail_sync_at: Option<u64>,
    fail_zero_fill_at: Option<u64>,
}

#[derive(Clone, Default)]
struct SimFileData {
    current: Vec<u8>,
    durable: Vec<u8>,
    /// Changes since the last sync, oldest first.
    pending: Vec<Pending>,
}

#[derive(Clone)]
enum Pending {
    Write { offset: u64, bytes: Vec<u8> },
    Resize { bytes: u64 },
}

fn apply(data: &mut Vec<u8>, change: &Pending) {
    match change {
        Pending::Write { offset, bytes } => {
            let end = *offset as usize + bytes.len();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[*offset as usize..end].copy_from_slice(bytes);
        }
        Pending::Resize { bytes } => data.resize(*bytes as usize, 0),
    }
}

/// A small seeded generator (splitmix64), so a crash with a seed is reproducible.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn dead_handle() -> io::Error {
    io::Error::other("simulated machine restarted: this handle belongs to a crashed process")
}

impl Default for SimStorage {
    fn default() -> SimStorage {
        SimStorage::new()
    }
}

impl SimStorage {
    pub fn new() -> SimStorage {
        SimStorage {
            shared: Arc::new(Shared {
                state: Mutex::new(SimState::default()),
                resumed: Condvar::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Simulates a crash and restart: afterwards every file and name is what `crash`
    /// says survives, handles opened before fail, and the lock is free.
    pub fn crash(&self, crash: Crash) {
        let mut state = self.state();
        state.generation += 1;
        state.locked = false;
        if crash != Crash::KeepWritten {
            state.names = state.durable_names.clone();
        }
        let mut seed = match crash {
            Crash::RandomSectors { seed } => seed,
            _ => 0,
        };
        let live: Vec<u64> = state.names.values().copied().collect();
        state.files.retain(|id, _| live.contains(id));
        for file in state.files.values_mut() {
            let mut image = file.durable.clone();
            match crash {
                Crash::KeepWritten => image = file.current.clone(),
                Crash::DropUnsynced => {}
                Crash::TornAfter { bytes } => {
                    let mut budget = bytes;
                    for change in &file.pending {
                        match change {
                            Pending::Resize { .. } => apply(&mut image, change),
                            Pending::Write { offset, bytes } => {
                                let kept = (bytes.len() as u64).min(budget);
                                let torn = Pending::Write {
                                    offset: *offset,
                                    bytes: bytes[..kept as usize].to_vec(),
                                };
                                apply(&mut image, &torn);
                                budget -= kept;
                            }
                        }
                        if budget == 0 {
                            break;
                        }
                    }
                }
                Crash::RandomSectors { .. } => {
                    for change in &file.pending {
                        match change {
                            Pending::Resize { .. } => apply(&mut image, change),
                            Pending::Write { offset, bytes } => {
                                let end = offset + bytes.len() as u64;
                                let mut start = *offset;
                                while start < end {
                                    let sector_end = ((start / SECTOR_BYTES) + 1) * SECTOR_BYTES;
                                    let piece_end = sector_end.min(end);
                                    if splitmix64(&mut seed) % 2 == 0 {
                                        let piece = &bytes[(start - offset) as usize
                                            ..(piece_end - offset) as usize];
                                        apply(
                                            &mut image,
                                            &Pending::Write {
                                                offset: start,
                                                bytes: piece.to_vec(),
                                            },
                                        );
                                    }
                                    start = piece_end;
                                }
                            }
                        }
                    }
                }
            }
            file.current = image.clone();
            file.durable = image;
            file.pending.clear();
        }
        state.durable_names = state.names.clone();
    }

    /// Makes the `count + 1`-th `sync_data` from now fail with an I/O error (later ones
    /// succeed again, so a retry would be visible).
    pub fn fail_sync_after(&self, count: u64) {
        let mut state = self.state();
        state.fail_sync_at = Some(state.syncs + count + 1);
    }

    /// Makes the `count + 1`-th `write_at` from now fail with an I/O error, writing nothing.
    pub fn fail_write_after(&self, count: u64) {
        let mut state = self.state();
        state.fail_write_at = Some(state.writes + count + 1);
    }

    /// Makes the `count + 1`-th `zero_fill` from now fail with an I/O error, changing
    /// nothing. Zero-fills are not counted as writes or syncs.
    pub fn fail_zero_fill_after(&self, count: u64) {
        let mut state = self.state();
        state.fail_zero_fill_at = Some(state.zero_fills + count + 1);
    }

    /// Number of `zero_fill` calls so far, failed ones included.
    pub fn zero_fills(&self) -> u64 {
        self.state().zero_fills
    }

    /// Number of `sync_data` calls so far, failed ones included.
    pub fn syncs(&self) -> u64 {
        self.state().syncs
    }

    /// Number of `write_at` calls so far, failed ones included.
    pub fn writes(&self) -> u64 {
        self.state().writes
    }

    /// Makes every `write_at` block until [`SimStorage::resume_writes`] (zero-fills are
    /// not paused).
    pub fn pause_writes(&self) {
        self.state().writes_paused = true;
    }

    pub fn resume_writes(&self) {
        self.state().writes_paused = false;
        self.shared.resumed.notify_all();
    }

    /// The current file names, sorted.
    pub fn file_names(&self) -> Vec<String> {
        self.state().names.keys().cloned().collect()
    }

    /// The current contents of a file (written, not necessarily durable).
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        let state = self.state();
        let id = state.names.get(name)?;
        Some(state.files[id].current.clone())
    }

    /// Changes a file's bytes both as written and as durable, as media corruption would.
    pub fn corrupt(&self, name: &str, change: impl FnOnce(&mut Vec<u8>)) {
        let mut state = self.state();
        let id = *state
            .names
            .get(name)
            .unwrap_or_else(|| panic!("no simulated file {name}"));
        let file = state.files.get_mut(&id).expect("named files exist");
        change(&mut file.current);
        file.durable = file.current.clone();
        file.pending.clear();
    }

    fn handle(&self, id: u64, generation: u64) -> Box<dyn StorageFile> {
        Box::new(SimFile {
            storage: self.clone(),
            id,
            generation,
        })
    }
}

impl Storage for SimStorage {
    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from("sim:").join(name)
    }

    fn create_dir(&self) -> io::Result<()> {
        Ok(())
    }

    fn lock(&self) -> io::Result<Box<dyn Any + Send + Sync>> {
        let mut state = self.state();
        if state.locked {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the simulated log is locked",
            ));
        }
        state.locked = true;
        Ok(Box::new(SimLock {
            storage: self.clone(),
            generation: state.generation,
        }))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.file_names())
    }

    fn open(&self, name: &str, _writable: bool) -> io::Result<Box<dyn StorageFile>> {
        let state = self.state();
        let id = *state.names.get(name).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no simulated file {name}"))
        })?;
        Ok(self.handle(id, state.generation))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let mut state = self.state();
        if let Some(id) = state.names.get(name).copied() {
            let file = state.files.get_mut(&id).expect("named files exist");
            file.current.clear();
            file.pending.push(Pending::Resize { bytes: 0 });
            return Ok(self.handle(id, state.generation));
        }
        state.next_file_id += 1;
        let id = state.next_file_id;
        state.files.insert(id, SimFileData::default());
        state.names.insert(name.to_string(), id);
        Ok(self.handle(id, state.generation))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut state = self.state();
        state.names.remove(name).map(|_| ()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no simulated file {name}"))
        })
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut state = self.state();
        let id = state.names.remove(from).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no simulated file {from}"))
        })?;
        state.names.insert(to.to_string(), id);
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut state = self.state();
        state.durable_names = state.names.clone();
        Ok(())
    }
}

struct SimLock {
    storage: SimStorage,
    generation: u64,
}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut state = self.storage.state();
        if state.generation == self.generation {
            state.locked = false;
        }
    }
}

struct SimFile {
    storage: SimStorage,
    id: u64,
    generation: u64,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut SimState, u64) -> io::Result<T>) -> io::Result<T> {
        let mut state = self.storage.state();
        if state.generation != self.generation || !state.files.contains_key(&self.id) {
            return Err(dead_handle());
        }
        f(&mut state, self.id)
    }
}

impl StorageFile for SimFile {
    fn size_bytes(&self) -> io::Result<u64> {
        self.with(|state, id| Ok(state.files[&id].current.len() as u64))
    }

    fn allocate(&self, bytes: u64) -> io::Result<()> {
        self.with(|state, id| {
            let file = state.files.get_mut(&id).expect("checked");
            if bytes > file.current.len() as u64 {
                let change = Pending::Resize { bytes };
                apply(&mut file.current, &change);
                file.pending.push(change);
            }
            Ok(())
        })
    }

    /// Writes the zeros and makes the whole file durable at once, as the real one's
    /// `pwrite`s and `fdatasync` do. A failure (injected) changes nothing.
    fn zero_fill(&self, bytes: u64, pace: &super::FillPace) -> io::Result<()> {
        if pace.is_cancelled() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "zero fill cancelled",
            ));
        }
        self.with(|state, id| {
            state.zero_fills += 1;
            if state.fail_zero_fill_at == Some(state.zero_fills) {
                return Err(io::Error::other("simulated zero-fill failure (EIO)"));
            }
            let file = state.files.get_mut(&id).expect("checked");
            let change = Pending::Write {
                offset: 0,
                bytes: vec![0; bytes as usize],
            };
            apply(&mut file.current, &change);
            file.pending.push(change);
            for change in std::mem::take(&mut file.pending) {
                apply(&mut file.durable, &change);
            }
            debug_assert!(file.durable == file.current);
            Ok(())
        })
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.storage.state();
        while state.writes_paused {
            state = self
                .storage
                .shared
                .resumed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        if state.generation != self.generation || !state.files.contains_key(&self.id) {
            return Err(dead_handle());
        }
        state.writes += 1;
        if state.fail_write_at == Some(state.writes) {
            return Err(io::Error::other("simulated write failure (EIO)"));
        }
        let file = state.files.get_mut(&self.id).expect("checked");
        let change = Pending::Write {
            offset,
            bytes: bytes.to_vec(),
        };
        apply(&mut file.current, &change);
        file.pending.push(change);
        Ok(())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.with(|state, id| {
            let data = &state.files[&id].current;
            let end = offset as usize + buf.len();
            if end > data.len() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "read past the end of the file",
                ));
            }
            buf.copy_from_slice(&data[offset as usize..end]);
            Ok(())
        })
    }

    fn map(&self) -> io::Result<Region> {
        self.with(|state, id| Ok(Region::copy_of(&state.files[&id].current)))
    }

    fn sync_data(&self) -> io::Result<()> {
        self.with(|state, id| {
            state.syncs += 1;
            if state.fail_sync_at == Some(state.syncs) {
                return Err(io::Error::other("simulated fdatasync failure (EIO)"));
            }
            let file = state.files.get_mut(&id).expect("checked");
            let pending = std::mem::take(&mut file.pending);
            for change in &pending {
                apply(&mut file.durable, change);
            }
            debug_assert!(file.durable == file.current);
            Ok(())
        })
    }
}
