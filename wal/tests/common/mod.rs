//! Helpers shared by the WAL's integration tests: deterministic payloads, small
//! segments, and checks that a recovered log holds exactly the expected records.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use omnibus_wal::storage::Storage;
use omnibus_wal::{Batch, Lsn, Recovery, SyncMode, Wal, WalError, WalOptions};

/// A small generator (splitmix64) so every random choice replays from a seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        assert!(low < high);
        low + self.next_u64() % (high - low)
    }
}

/// The payload of record `actor_seq` of `actor`: 1 to 200 bytes, all derived from the
/// pair, so any record read back can be checked without remembering it.
pub fn payload(actor: u64, actor_seq: u64) -> Vec<u8> {
    let mut rng = Rng(actor.wrapping_mul(0x1000_0000_01b3) ^ actor_seq.wrapping_mul(0x9e37_79b9));
    let len = 1 + (rng.next_u64() % 200) as usize;
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Options with small segments, so tests cross segment boundaries often.
pub fn small_options(dir: &Path, sync: SyncMode) -> WalOptions {
    WalOptions {
        dir: dir.to_path_buf(),
        sync,
        segment_bytes: 16 * 1024,
        queue_records_max: 100_000,
        batch_records_max: 4_096,
        batch_bytes_max: 1 << 20,
        background_write_bytes_per_sec: 64 << 20,
    }
}

pub fn open(options: &WalOptions) -> Result<Recovery, WalError> {
    Wal::open(options.clone())
}

pub fn open_sim(
    options: &WalOptions,
    storage: &omnibus_wal::storage::SimStorage,
) -> Result<Recovery, WalError> {
    let storage: Arc<dyn Storage> = Arc::new(storage.clone());
    Wal::open_with_storage(options.clone(), storage)
}

/// A record as the tests remember it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rec {
    pub lsn: Lsn,
    pub actor: u64,
    pub actor_seq: u64,
}

/// Appends `count` records for `actor` starting at `first_seq`, `per_batch` per batch,
/// each batch waited for. Returns what was acknowledged.
pub fn append(wal: &Wal, actor: u64, first_seq: u64, count: u64, per_batch: u64) -> Vec<Rec> {
    let mut acked = Vec::new();
    let mut seq = first_seq;
    while seq < first_seq + count {
        let mut batch = Batch::new();
        let end = (seq + per_batch).min(first_seq + count);
        for s in seq..end {
            batch.push(actor, s, &payload(actor, s));
        }
        let range = wal.append_blocking(batch).expect("append");
        assert_eq!(range.end - range.start, end - seq);
        for (lsn, s) in range.zip(seq..end) {
            acked.push(Rec {
                lsn,
                actor,
                actor_seq: s,
            });
        }
        seq = end;
    }
    acked
}

/// Reads every record of `recovery`, checking that LSNs are contiguous from the start
/// LSN and that every payload is exactly the one derived from its (actor, actor_seq)
/// and 8-byte aligned.
pub fn read_all(recovery: &Recovery) -> Vec<Rec> {
    let mut records = Vec::new();
    let mut expected = recovery.start_lsn();
    for record in recovery.records() {
        let record = record.expect("record");
        assert_eq!(record.lsn, expected, "LSNs are contiguous");
        assert_eq!(
            record.payload,
            payload(record.actor, record.actor_seq).as_slice(),
            "payload of LSN {} (actor {}, seq {}) is intact",
            record.lsn,
            record.actor,
            record.actor_seq
        );
        assert_eq!(
            record.payload.as_ptr() as usize % 8,
            0,
            "payload of LSN {} is 8-byte aligned",
            record.lsn
        );
        records.push(Rec {
            lsn: record.lsn,
            actor: record.actor,
            actor_seq: record.actor_seq,
        });
        expected += 1;
    }
    assert_eq!(
        expected,
        recovery.next_lsn(),
        "next LSN follows the last record"
    );
    records
}

/// Asserts that `acked` is a prefix of (or equal to) `recovered`, record by record.
pub fn assert_contains_acked(recovered: &[Rec], acked: &[Rec]) {
    assert!(
        recovered.len() >= acked.len(),
        "{} records recovered but {} were acknowledged",
        recovered.len(),
        acked.len()
    );
    for (found, want) in recovered.iter().zip(acked) {
        assert_eq!(found, want, "an acknowledged record came back different");
    }
}

/// Waits (bounded) until `condition` holds; returns whether it did. For liveness only,
/// never to assert a duration.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..2_000 {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// The segment file names in `dir`, oldest first.
pub fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wal"))
        .collect();
    files.sort();
    files
}

pub fn snapshot_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "snap")
        })
        .collect();
    files.sort();
    files
}

/// Byte offsets of the frames in a segment file, in order.
pub fn frame_offsets(segment: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut offset = omnibus_wal::layout_constants::SEGMENT_HEADER_BYTES as usize;
    while offset + 32 <= segment.len() {
        let len = u32::from_le_bytes(segment[offset..offset + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        offsets.push(offset);
        offset += omnibus_wal::layout_constants::frame_bytes(len);
    }
    offsets
}

/// The offset just past the last frame of a segment (the header's end if it has none).
pub fn data_end(segment: &[u8]) -> usize {
    match frame_offsets(segment).last() {
        Some(&offset) => {
            let len = u32::from_le_bytes(segment[offset..offset + 4].try_into().unwrap()) as usize;
            offset + omnibus_wal::layout_constants::frame_bytes(len)
        }
        None => omnibus_wal::layout_constants::SEGMENT_HEADER_BYTES as usize,
    }
}
