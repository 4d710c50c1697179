// Over 600 lines: the journal's record format, writer, reader and their tests (about 210 lines) change together.
//! The simulators' journal: an append-only run of fixed-size records in chunk files,
//! written through shared memory mappings.
//!
//! The simulators sit on the engine's hot path (about three rail calls per flow, at tens
//! of thousands of flows a second, from every shard thread), and each call that settles
//! a request id must be on record before its answer leaves. A `write(2)` per call, let
//! alone an `fdatasync`, would cost more than the call. So records are stored into a
//! shared mapping of the file: a store is a memory copy, no system call, and the bytes
//! are in the kernel's page cache the moment the copy ends. That survives the *process*
//! dying, SIGKILL included, because the page cache belongs to the kernel; it does not
//! survive the *machine* losing power before the kernel wrote the pages back (about 30 s
//! by default). The journal is synced (`fdatasync`) when it is dropped, so a clean stop
//! is durable against a power loss too.
//!
//! Several threads append at once without a lock: each reserves its slots with one
//! atomic add on the chunk's cursor, then copies into them. A chunk is a file
//! preallocated (`posix_fallocate`, so a full disk fails the reservation instead of
//! raising SIGBUS on a store) for a fixed number of records; when it is full, the thread
//! that finds it so makes the next one under a mutex. Chunks grow from 1 MiB to 64 MiB,
//! so a small simulator (a test) takes little disk and a busy one makes a file every few
//! seconds at most. A full chunk is unmapped once its last slot is written, so the
//! process maps one chunk, rarely two, whatever the journal's length.
//!
//! Each record carries a CRC-32C of its bytes. On open every record of every chunk is
//! read: an all-zero slot was never written, a record whose CRC fails was being written
//! when the process died (its call never answered) and is skipped, every other record is
//! handed to the caller. Nothing here orders records: the caller's records are facts
//! that replay in any order (see `fact.rs`).
//!
//! The byte layout is in docs/simulator.md; `HEADER_BYTES`, `RECORD_BYTES` and the
//! functions `header` and `seal` below are its encoders.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use memmap2::{Mmap, MmapRaw};
use thiserror::Error;

/// Bytes of one record: a CRC-32C and [`PAYLOAD_BYTES`] of payload.
pub(super) const RECORD_BYTES: usize = 64;
/// Bytes of a record's payload, after its CRC.
pub(super) const PAYLOAD_BYTES: usize = RECORD_BYTES - 4;
/// Bytes of a chunk file's header, before its first record.
const HEADER_BYTES: usize = 64;
const MAGIC: [u8; 8] = *b"OMNISIMJ";
/// The format version this build writes and reads.
pub(super) const VERSION: u32 = 1;
const LOCK_FILE: &str = "LOCK";
const CHUNK_PREFIX: &str = "chunk-";
const CHUNK_SUFFIX: &str = ".journal";
/// The most slots one reservation takes (a payment instruction's nonce and its
/// settlement); every chunk holds at least this many.
pub(super) const RESERVATION_MAX: u64 = 2;

/// A record's payload, as the caller encodes it.
pub(super) type Payload = [u8; PAYLOAD_BYTES];

/// How many records each chunk holds: chunk `n` holds `first << n`, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ChunkSizes {
    pub(super) first_records: u64,
    pub(super) max_records: u64,
}

impl ChunkSizes {
    /// 1 MiB for the first chunk, doubling to 64 MiB.
    pub(super) const DEFAULT: ChunkSizes = ChunkSizes {
        first_records: 16_384,
        max_records: 1 << 20,
    };

    fn records(self, number: u64) -> u64 {
        let mut records = self.first_records.max(RESERVATION_MAX);
        let max = self.max_records.max(records);
        for _ in 0..number.min(64) {
            if records >= max {
                break;
            }
            records = records.saturating_mul(2);
        }
        records.min(max)
    }
}

/// Why the journal could not be opened or grown.
#[derive(Debug, Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{dir} is in use by another process (its LOCK file is locked): one simulator per data directory; stop the other omnibus, or give this one another data directory")]
    Locked { dir: PathBuf },
    #[error("{path}: {what}; the simulator's record of the outside world cannot be trusted. To start afresh, delete the whole data directory (the write-ahead logs and simulator/ together)")]
    Corrupt { path: PathBuf, what: String },
    #[error("{path} holds amounts in {journal}, but the engine's currency is {config}")]
    Currency {
        path: PathBuf,
        journal: String,
        config: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What opening found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ReplayReport {
    pub(super) chunks: u64,
    pub(super) records: u64,
    /// Records whose CRC failed: cut short by the process dying.
    pub(super) torn: u64,
    pub(super) elapsed_ms: u64,
}

/// One chunk file, mapped while it has slots left to write.
struct Chunk {
    number: u64,
    capacity: u64,
    /// The first record's address. Valid while `map` holds the mapping, which it does
    /// until every slot is written (`done == capacity`).
    records: *mut u8,
    /// The next free slot; runs past `capacity` once the chunk is full.
    next: AtomicU64,
    /// Slots written, or given up: a chunk is unmapped when this reaches `capacity`.
    done: AtomicU64,
    map: Mutex<Option<MmapRaw>>,
}

// SAFETY: `records` points into the shared mapping owned by `map`; threads write to it
// only in slots they reserved (disjoint, by the atomic cursor) and only while the
// mapping is alive (it is dropped after the last slot is written).
unsafe impl Send for Chunk {}
unsafe impl Sync for Chunk {}

fn chunk_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{CHUNK_PREFIX}{number:08}{CHUNK_SUFFIX}"))
}

fn chunk_number(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(CHUNK_PREFIX)?
        .strip_suffix(CHUNK_SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A chunk's header: magic, version, record size, chunk number, capacity, currency, and
/// a CRC-32C of the bytes before it.
fn header(number: u64, capacity: u64, currency: [u8; 3]) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(RECORD_BYTES as u32).to_le_bytes());
    h[16..24].copy_from_slice(&number.to_le_bytes());
    h[24..32].copy_from_slice(&capacity.to_le_bytes());
    h[32..35].copy_from_slice(&currency);
    let crc = crc32c::crc32c(&h[..60]);
    h[60..64].copy_from_slice(&crc.to_le_bytes());
    h
}

/// A record: the CRC-32C of the payload, then the payload.
fn seal(payload: &Payload) -> [u8; RECORD_BYTES] {
    let mut record = [0u8; RECORD_BYTES];
    record[4..].copy_from_slice(payload);
    record[..4].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    record
}

fn allocate(file: &File, bytes: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(bytes).map_err(io::Error::other)?;
    // SAFETY: posix_fallocate on a file descriptor this function borrows; it touches no
    // memory of ours.
    let status = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(status))
    }
}

impl Chunk {
    /// Maps `file` (a chunk with a valid header) for writing from slot `next` on.
    fn map(
        path: &Path,
        file: &File,
        number: u64,
        capacity: u64,
        next: u64,
    ) -> Result<Chunk, JournalError> {
        let map = MmapRaw::map_raw(file).map_err(io_error(path))?;
        let bytes = HEADER_BYTES as u64 + capacity * RECORD_BYTES as u64;
        if (map.len() as u64) < bytes {
            return Err(JournalError::Corrupt {
                path: path.to_path_buf(),
                what: format!("{} bytes, less than its header says ({bytes})", map.len()),
            });
        }
        // SAFETY: the mapping is at least HEADER_BYTES long (checked just above).
        let records = unsafe { map.as_mut_ptr().add(HEADER_BYTES) };
        let chunk = Chunk {
            number,
            capacity,
            records,
            next: AtomicU64::new(next),
            done: AtomicU64::new(0),
            map: Mutex::new(Some(map)),
        };
        // The slots before `next` were used by an earlier process (or never will be).
        if next > 0 {
            chunk.finish(next.min(capacity));
        }
        Ok(chunk)
    }

    /// Makes chunk file `number`, preallocated, with its header, and maps it.
    fn create(
        dir: &Path,
        number: u64,
        capacity: u64,
        currency: [u8; 3],
    ) -> Result<Chunk, JournalError> {
        let path = chunk_path(dir, number);
        let err = io_error(&path);
        // Only numbers past every chunk on disk are created, so a file already there is
        // one whose making failed half way: it holds nothing and is made again.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_error(&path))?;
        allocate(&file, HEADER_BYTES as u64 + capacity * RECORD_BYTES as u64).map_err(err)?;
        file.write_all_at(&header(number, capacity, currency), 0)
            .map_err(io_error(&path))?;
        tracing::debug!(
            chunk = number,
            records = capacity,
            "simulator journal chunk made"
        );
        Chunk::map(&path, &file, number, capacity, 0)
    }

    /// Counts `slots` as written; the last one unmaps the chunk.
    fn finish(&self, slots: u64) {
        // AcqRel: the thread that unmaps has seen every other thread's copy end.
        let done = self.done.fetch_add(slots, Ordering::AcqRel) + slots;
        debug_assert!(
            done <= self.capacity,
            "{done} slots done of {}",
            self.capacity
        );
        if done == self.capacity {
            drop(
                self.map
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take(),
            );
        }
    }
}

/// Slots reserved in a chunk, written with [`Reservation::write`]. Slots left unwritten
/// stay zero, which replay skips.
pub(super) struct Reservation<'a> {
    chunk: &'a Chunk,
    first: u64,
    count: u64,
    used: u64,
}

impl Reservation<'_> {
    /// Writes the next reserved slot.
    ///
    /// # Panics
    /// When every reserved slot is already written: the caller reserved too few.
    pub(super) fn write(&mut self, payload: &Payload) {
        assert!(
            self.used < self.count,
            "a reservation of {} journal records was written more often",
            self.count
        );
        let record = seal(payload);
        let slot = (self.first + self.used) as usize;
        // SAFETY: the slot is inside the chunk (`first + count <= capacity`), reserved by
        // this reservation alone, and the mapping lives until this reservation is
        // finished in `drop`.
        unsafe {
            ptr::copy_nonoverlapping(
                record.as_ptr(),
                self.chunk.records.add(slot * RECORD_BYTES),
                RECORD_BYTES,
            );
        }
        self.used += 1;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.chunk.finish(self.count);
    }
}

/// An open journal: the directory locked, the last chunk mapped for appending.
pub(super) struct Journal {
    dir: PathBuf,
    currency: [u8; 3],
    sizes: ChunkSizes,
    /// The chunk appends go to. Always points at a chunk in `chunks`.
    current: AtomicPtr<Chunk>,
    /// Every chunk this process mapped. They are freed only with the journal, so that a
    /// thread still holding an older `current` never holds a dangling pointer; each is a
    /// few dozen bytes once unmapped, and there is one per chunk file written. Boxed so
    /// that each stays at one address while the vector grows.
    #[allow(clippy::vec_box)]
    chunks: Mutex<Vec<Box<Chunk>>>,
    /// Chunks created or appended to by this process: synced on drop.
    written: Mutex<Vec<u64>>,
    /// Declared last: the lock is released after everything above is synced and closed.
    _lock: File,
}

impl Journal {
    /// Opens the journal in `dir` (creating it), hands every valid record to `replay`,
    /// and readies it for appending. `replay` may refuse a record, which fails the open.
    pub(super) fn open(
        dir: &Path,
        currency: &str,
        sizes: ChunkSizes,
        mut replay: impl FnMut(&Payload) -> Result<(), String>,
    ) -> Result<(Journal, ReplayReport), JournalError> {
        let started = Instant::now();
        let currency: [u8; 3] =
            currency
                .as_bytes()
                .try_into()
                .map_err(|_| JournalError::Corrupt {
                    path: dir.to_path_buf(),
                    what: format!("the currency code {currency:?} is not three letters"),
                })?;
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let lock = lock(dir)?;
        let mut numbers = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            if let Some(number) = entry.file_name().to_str().and_then(chunk_number) {
                numbers.push(number);
            }
        }
        numbers.sort_unstable();
        let mut report = ReplayReport::default();
        // The last chunk with a header, and its first slot after the last one used.
        let mut last: Option<(u64, u64, u64)> = None;
        for &number in &numbers {
            let path = chunk_path(dir, number);
            let Some((capacity, next)) =
                replay_chunk(&path, number, currency, &mut replay, &mut report)?
            else {
                continue;
            };
            report.chunks += 1;
            last = Some((number, capacity, next));
        }
        let journal_dir = dir.to_path_buf();
        let first = match last {
            Some((number, capacity, next)) if next < capacity => {
                let path = chunk_path(dir, number);
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(io_error(&path))?;
                Chunk::map(&path, &file, number, capacity, next)?
            }
            _ => {
                let number = numbers.last().map_or(0, |n| n + 1);
                Chunk::create(dir, number, sizes.records(number), currency)?
            }
        };
        let first = Box::new(first);
        let journal = Journal {
            dir: journal_dir,
            currency,
            sizes,
            current: AtomicPtr::new(ptr::from_ref::<Chunk>(&first).cast_mut()),
            written: Mutex::new(vec![first.number]),
            chunks: Mutex::new(vec![first]),
            _lock: lock,
        };
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok((journal, report))
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reserves `count` consecutive slots (at most [`RESERVATION_MAX`]). Fails only when
    /// a new chunk was needed and could not be made (a full disk): then nothing is
    /// reserved.
    pub(super) fn reserve(&self, count: u64) -> Result<Reservation<'_>, JournalError> {
        assert!(
            (1..=RESERVATION_MAX).contains(&count),
            "a reservation takes 1 to {RESERVATION_MAX} records, not {count}"
        );
        loop {
            // SAFETY: `current` always points at a chunk boxed in `self.chunks`, and none
            // is freed before the journal is.
            let chunk = unsafe { &*self.current.load(Ordering::Acquire) };
            let first = chunk.next.fetch_add(count, Ordering::Relaxed);
            if first + count <= chunk.capacity {
                return Ok(Reservation {
                    chunk,
                    first,
                    count,
                    used: 0,
                });
            }
            // The slots this reservation straddled at the chunk's end are never written.
            if first < chunk.capacity {
                chunk.finish(chunk.capacity - first);
            }
            self.grow_past(chunk)?;
        }
    }

    /// Makes the chunk after `full` the current one, unless another thread already did.
    fn grow_past(&self, full: &Chunk) -> Result<(), JournalError> {
        let mut chunks = self.chunks.lock().unwrap_or_else(PoisonError::into_inner);
        if !ptr::eq(self.current.load(Ordering::Acquire), full) {
            return Ok(());
        }
        let number = full.number + 1;
        let chunk = Box::new(Chunk::create(
            &self.dir,
            number,
            self.sizes.records(number),
            self.currency,
        )?);
        self.current
            .store(ptr::from_ref::<Chunk>(&chunk).cast_mut(), Ordering::Release);
        chunks.push(chunk);
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(number);
        Ok(())
    }

    /// Makes everything appended so far durable against a power loss: `fdatasync` of
    /// each chunk this process wrote (which writes back pages dirtied through the
    /// mapping), then of the directory.
    pub(super) fn sync(&self) -> io::Result<()> {
        let written = self
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for number in written {
            File::open(chunk_path(&self.dir, number))?.sync_data()?;
        }
        File::open(&self.dir)?.sync_all()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::error!(dir = %self.dir.display(), error = %e, "syncing the simulator's journal failed; a power loss now could lose its last records");
        }
    }
}

/// Takes the directory's lock. `flock` belongs to the open file description and the
/// kernel drops it when the process dies, so a killed simulator never leaves a stale
/// lock behind.
fn lock(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error(&path))?;
    // SAFETY: flock on a descriptor this function owns; it touches no memory of ours.
    let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if status != 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(JournalError::Locked {
                dir: dir.to_path_buf(),
            });
        }
        return Err(JournalError::Io {
            path,
            source: error,
        });
    }
    Ok(file)
}

/// Reads one chunk: checks its header and hands each valid record to `replay`. `None`
/// for a chunk whose making was cut short before its header (it holds nothing);
/// otherwise its capacity and the slot after the last one used.
fn replay_chunk(
    path: &Path,
    number: u64,
    currency: [u8; 3],
    replay: &mut impl FnMut(&Payload) -> Result<(), String>,
    report: &mut ReplayReport,
) -> Result<Option<(u64, u64)>, JournalError> {
    let corrupt = |what: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    let file = File::open(path).map_err(io_error(path))?;
    let len = file.metadata().map_err(io_error(path))?.len();
    if len < HEADER_BYTES as u64 {
        return Ok(None);
    }
    // SAFETY: a read-only mapping of a file in a directory this process holds locked:
    // no other simulator writes it while it is read.
    let map = unsafe { Mmap::map(&file) }.map_err(io_error(path))?;
    let h = &map[..HEADER_BYTES];
    if h.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    let u32_at = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let u64_at = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&h[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    if h[0..8] != MAGIC {
        return Err(corrupt(
            "not a simulator journal chunk (wrong magic)".into(),
        ));
    }
    if crc32c::crc32c(&h[..60]) != u32_at(60) {
        return Err(corrupt("its header fails its checksum".into()));
    }
    let version = u32_at(8);
    if version != VERSION {
        return Err(corrupt(format!(
            "written in format version {version}; this build reads version {VERSION}"
        )));
    }
    if u32_at(12) as usize != RECORD_BYTES {
        return Err(corrupt(format!(
            "records of {} bytes; this build reads {RECORD_BYTES}",
            u32_at(12)
        )));
    }
    if u64_at(16) != number {
        return Err(corrupt(format!(
            "its header says chunk {}, its name chunk {number}",
            u64_at(16)
        )));
    }
    if h[32..35] != currency {
        return Err(JournalError::Currency {
            path: path.to_path_buf(),
            journal: String::from_utf8_lossy(&h[32..35]).into_owned(),
            config: String::from_utf8_lossy(&currency).into_owned(),
        });
    }
    let capacity = u64_at(24);
    let bytes = (HEADER_BYTES as u64).saturating_add(capacity.saturating_mul(RECORD_BYTES as u64));
    if capacity < RESERVATION_MAX || bytes > len {
        return Err(corrupt(format!(
            "a capacity of {capacity} records does not fit its {len} bytes"
        )));
    }
    let mut next = 0;
    for slot in 0..capacity {
        let at = HEADER_BYTES + slot as usize * RECORD_BYTES;
        let record = &map[at..at + RECORD_BYTES];
        if record.iter().all(|b| *b == 0) {
            continue;
        }
        next = slot + 1;
        let crc = u32::from_le_bytes([record[0], record[1], record[2], record[3]]);
        let mut payload = [0u8; PAYLOAD_BYTES];
        payload.copy_from_slice(&record[4..]);
        if crc32c::crc32c(&payload) != crc {
            report.torn += 1;
            tracing::warn!(file = %path.display(), slot, "a simulator journal record fails its checksum (cut short by a crash); skipped");
            continue;
        }
        replay(&payload).map_err(|what| corrupt(format!("record {slot}: {what}")))?;
        report.records += 1;
    }
    Ok(Some((capacity, next)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: u64) -> Payload {
        // Bytes at both ends, so that half a record is never a whole one.
        let mut p = [0u8; PAYLOAD_BYTES];
        p[0] = 1;
        p[8..16].copy_from_slice(&n.to_le_bytes());
        p[PAYLOAD_BYTES - 8..].copy_from_slice(&(!n).to_le_bytes());
        p
    }

    fn number_of(p: &Payload) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&p[8..16]);
        u64::from_le_bytes(bytes)
    }

    const TINY: ChunkSizes = ChunkSizes {
        first_records: 4,
        max_records: 64,
    };

    fn open(dir: &Path) -> (Journal, Vec<u64>, ReplayReport) {
        let mut seen = Vec::new();
        let (journal, report) = Journal::open(dir, "KRW", TINY, |p| {
            seen.push(number_of(p));
            Ok(())
        })
        .expect("the journal opens");
        seen.sort_unstable();
        (journal, seen, report)
    }

    fn append(journal: &Journal, n: u64) {
        journal.reserve(1).expect("a slot").write(&payload(n));
    }

    #[test]
    fn chunks_grow_from_the_first_size_to_the_largest() {
        let sizes = ChunkSizes::DEFAULT;
        assert_eq!(sizes.records(0), 16_384);
        assert_eq!(sizes.records(1), 32_768);
        assert_eq!(sizes.records(6), 1 << 20);
        assert_eq!(sizes.records(u64::MAX), 1 << 20);
        assert_eq!(TINY.records(0), 4);
        assert_eq!(TINY.records(9), 64);
    }

    #[test]
    fn every_record_comes_back_after_a_reopen_across_many_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, seen, _) = open(dir.path());
        assert!(seen.is_empty());
        for n in 0..500 {
            append(&journal, n);
        }
        drop(journal);
        let (journal, seen, report) = open(dir.path());
        assert_eq!(seen, (0..500).collect::<Vec<_>>());
        assert_eq!((report.records, report.torn), (500, 0));
        assert!(report.chunks > 5, "{report:?}");
        // Appends after the reopen continue where the last process stopped.
        for n in 500..600 {
            append(&journal, n);
        }
        drop(journal);
        let (_journal, seen, _) = open(dir.path());
        assert_eq!(seen, (0..600).collect::<Vec<_>>());
    }

    #[test]
    fn a_torn_record_is_skipped_and_the_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = open(dir.path());
        for n in 0..3 {
            append(&journal, n);
        }
        drop(journal);
        // Garbage over the second record, and half a record (as a process killed in the
        // middle of the copy leaves it) in the free slot after the last one.
        let path = chunk_path(dir.path(), 0);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        let second = (HEADER_BYTES + RECORD_BYTES) as u64;
        file.write_all_at(&[0xA5; 17], second).unwrap();
        let fourth = (HEADER_BYTES + 3 * RECORD_BYTES) as u64;
        let half = &seal(&payload(5))[..RECORD_BYTES / 2];
        file.write_all_at(half, fourth).unwrap();
        let (journal, seen, report) = open(dir.path());
        assert_eq!(seen, vec![0, 2]);
        assert_eq!((report.records, report.torn), (2, 2));
        // Appending goes on after the garbage, not over it.
        append(&journal, 9);
        drop(journal);
        let (_journal, seen, _) = open(dir.path());
        assert_eq!(seen, vec![0, 2, 9]);
    }

    #[test]
    fn a_chunk_whose_making_was_cut_short_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = open(dir.path());
        append(&journal, 1);
        drop(journal);
        // The next chunk's file made, but the process died before its header.
        File::create(chunk_path(dir.path(), 1))
            .unwrap()
            .set_len(4096)
            .unwrap();
        let (journal, seen, _) = open(dir.path());
        assert_eq!(seen, vec![1]);
        append(&journal, 2);
        drop(journal);
        let (_journal, seen, _) = open(dir.path());
        assert_eq!(seen, vec![1, 2]);
    }

    #[test]
    fn a_damaged_header_or_another_currency_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = open(dir.path());
        append(&journal, 1);
        drop(journal);
        let other = Journal::open(dir.path(), "USD", TINY, |_| Ok(()));
        assert!(
            matches!(other, Err(JournalError::Currency { .. })),
            "{:?}",
            other.err()
        );
        let file = OpenOptions::new()
            .write(true)
            .open(chunk_path(dir.path(), 0))
            .unwrap();
        file.write_all_at(&[2], 8).unwrap();
        let damaged = Journal::open(dir.path(), "KRW", TINY, |_| Ok(()));
        let message = damaged.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("checksum"), "{message}");
        assert!(
            message.contains("delete the whole data directory"),
            "{message}"
        );
    }

    #[test]
    fn a_record_the_caller_refuses_fails_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = open(dir.path());
        append(&journal, 7);
        drop(journal);
        let refused = Journal::open(dir.path(), "KRW", TINY, |_| Err("nonsense".into()));
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("record 0: nonsense"), "{message}");
    }

    #[test]
    fn concurrent_appends_from_several_threads_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = open(dir.path());
        let threads = 4u64;
        let each = 5_000u64;
        std::thread::scope(|scope| {
            for t in 0..threads {
                let journal = &journal;
                scope.spawn(move || {
                    for i in 0..each {
                        let n = t * each + i;
                        // Some reservations take two slots and write one, as a refused
                        // payment instruction does.
                        let mut reserved = journal.reserve(1 + n % 2).expect("a slot");
                        reserved.write(&payload(n));
                    }
                });
            }
        });
        drop(journal);
        let (_journal, seen, report) = open(dir.path());
        assert_eq!(seen, (0..threads * each).collect::<Vec<_>>());
        assert_eq!(report.torn, 0);
    }

    #[test]
    fn a_second_open_of_a_locked_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = open(dir.path());
        let second = Journal::open(dir.path(), "KRW", TINY, |_| Ok(()));
        let message = second.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("in use by another process"), "{message}");
        drop(journal);
        let (_again, _, _) = open(dir.path());
    }

    #[test]
    fn only_the_chunk_being_written_stays_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = open(dir.path());
        for n in 0..300 {
            append(&journal, n);
        }
        let chunks = journal.chunks.lock().unwrap();
        let mapped = chunks
            .iter()
            .filter(|c| c.map.lock().unwrap().is_some())
            .count();
        assert!(chunks.len() > 5);
        assert_eq!(mapped, 1, "of {} chunks", chunks.len());
    }
}
