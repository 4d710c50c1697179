//! The spare segment: the next segment's file is zero-filled ahead of time on the
//! preparer thread and taken at roll-over; a leftover spare is never a segment; a failed
//! preparation falls back to creating the segment on the writer thread; and segments
//! hold zeros past the last frame, which recovery reads as the end of the log.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use omnibus_wal::layout_constants::{SEGMENT_HEADER_BYTES, SPARE_SEGMENT_FILE};
use omnibus_wal::storage::{Crash, SimStorage};
use omnibus_wal::{SyncMode, Wal, WalError};

const SEGMENT_BYTES: usize = 16 * 1024;

/// Appends batches of 5 records of `actor` until `rolled` more roll-overs happened,
/// waiting before each batch for `ready` to hold. Returns what was acknowledged.
fn append_until_rolled(
    wal: &Wal,
    actor: u64,
    rolled: u64,
    mut ready: impl FnMut(&Wal) -> bool,
) -> Vec<Rec> {
    let target = wal.stats().segments_created + rolled;
    let mut acked = Vec::new();
    while wal.stats().segments_created < target {
        assert!(eventually(|| ready(wal)), "the spare never became ready");
        acked.extend(append(wal, actor, acked.len() as u64, 5, 5));
    }
    acked
}

#[test]
fn roll_over_takes_the_prepared_spare() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let spare = dir.path().join(SPARE_SEGMENT_FILE);

    // The spare is prepared in the background as soon as the log starts: the whole
    // segment size, every byte zero, no header.
    assert!(eventually(|| wal.stats().spares_prepared == 1));
    let bytes = fs::read(&spare).unwrap();
    assert_eq!(bytes.len(), SEGMENT_BYTES);
    assert!(bytes.iter().all(|byte| *byte == 0));

    // Each roll-over, made only once the next spare is ready, takes it.
    let acked = append_until_rolled(&wal, 1, 3, |wal| {
        let stats = wal.stats();
        stats.spares_prepared == stats.segments_created + 1
    });
    let stats = wal.stats();
    assert_eq!(stats.segments_created, 3);
    assert_eq!(stats.spares_used, 3, "{stats:?}");
    assert_eq!(stats.spare_failures, 0);
    assert_eq!(segment_files(dir.path()).len(), 4);
    // The writer asked for the next spare after each one it took.
    assert!(eventually(|| wal.stats().spares_prepared == 4));
    assert!(spare.exists());

    // A clean shutdown deletes the unused spare; the log reopens with every record.
    wal.shutdown().unwrap();
    assert!(!spare.exists(), "a clean shutdown leaves no spare behind");
    let recovery = open(&options).unwrap();
    assert!(recovery.report().temp_files_removed.is_empty());
    assert_eq!(read_all(&recovery), acked);
}

#[test]
fn a_spare_left_by_a_crash_is_not_a_segment_and_the_log_reopens_with_every_record() {
    let storage = SimStorage::new();
    let options = small_options("sim".as_ref(), SyncMode::Always);
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    let acked = append_until_rolled(&wal, 1, 2, |wal| {
        let stats = wal.stats();
        stats.spares_prepared == stats.segments_created + 1
    });
    assert!(eventually(|| wal.stats().spares_prepared == 3));
    // The process dies with a prepared spare on disk.
    storage.crash(Crash::KeepWritten);
    drop(wal);
    assert!(storage
        .file_names()
        .contains(&SPARE_SEGMENT_FILE.to_string()));

    let recovery = open_sim(&options, &storage).unwrap();
    assert_eq!(
        recovery.report().temp_files_removed,
        vec![SPARE_SEGMENT_FILE.to_string()]
    );
    assert_eq!(recovery.report().segments, 3);
    assert_eq!(read_all(&recovery), acked);
    assert!(!storage
        .file_names()
        .contains(&SPARE_SEGMENT_FILE.to_string()));

    // Appends continue, into new spares.
    let wal = recovery.into_wal().unwrap();
    let more = append(&wal, 2, 0, 200, 10);
    assert!(wal.stats().segments_created >= 1);
    wal.shutdown().unwrap();
    let mut expected = acked;
    expected.extend(more);
    assert_eq!(read_all(&open_sim(&options, &storage).unwrap()), expected);
}

#[test]
fn a_crash_after_the_spare_got_its_header_but_before_its_rename_leaves_no_segment() {
    for crash in [Crash::KeepWritten, Crash::DropUnsynced] {
        let storage = SimStorage::new();
        let options = small_options("sim".as_ref(), SyncMode::Always);
        let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
        assert!(eventually(|| wal.stats().spares_prepared == 1));
        // Each batch's own sync succeeds; at the roll-over, the old segment's sync does
        // and the spare's, after its header is written, fails: the writer stops between
        // the header and the rename.
        let mut acked = Vec::new();
        loop {
            storage.fail_sync_after(1);
            let seq = acked.len() as u64;
            match wal.append_blocking(common_batch(1, seq..seq + 5)) {
                Ok(range) => acked.extend(range.zip(seq..seq + 5).map(|(lsn, actor_seq)| Rec {
                    lsn,
                    actor: 1,
                    actor_seq,
                })),
                Err(WalError::Poisoned { .. }) => break,
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(wal.stats().spares_used, 0);
        if crash == Crash::KeepWritten {
            let spare = storage.contents(SPARE_SEGMENT_FILE).unwrap();
            assert_eq!(&spare[..8], b"OMNIWSEG", "the spare holds a segment header");
        }
        storage.crash(crash);
        drop(wal);

        let recovery = open_sim(&options, &storage).unwrap();
        assert_eq!(recovery.report().segments, 1, "{crash:?}");
        // The failed batch's records that fit the old segment were synced with it
        // (sealing), though never acknowledged: they may come back, whole.
        let recovered = read_all(&recovery);
        assert_contains_acked(&recovered, &acked);
        assert!(recovered.len() < acked.len() + 5, "{crash:?}");
        assert!(!storage
            .file_names()
            .contains(&SPARE_SEGMENT_FILE.to_string()));
        if crash == Crash::KeepWritten {
            assert_eq!(
                recovery.report().temp_files_removed,
                vec![SPARE_SEGMENT_FILE.to_string()]
            );
        }
    }
}

#[test]
fn a_spare_named_file_with_a_valid_header_is_deleted_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let acked = append(&wal, 1, 0, 60, 10);
    wal.shutdown().unwrap();
    // A file under the spare's name holding a whole valid segment, header and frames:
    // whatever a spare holds, it is never read as part of the log.
    let segments = segment_files(dir.path());
    assert_eq!(segments.len(), 1);
    fs::copy(&segments[0], dir.path().join(SPARE_SEGMENT_FILE)).unwrap();

    let recovery = open(&options).unwrap();
    assert_eq!(
        recovery.report().temp_files_removed,
        vec![SPARE_SEGMENT_FILE.to_string()]
    );
    assert_eq!(recovery.report().segments, 1);
    assert_eq!(read_all(&recovery), acked);
    assert!(!dir.path().join(SPARE_SEGMENT_FILE).exists());
}

#[test]
fn a_failed_spare_preparation_falls_back_to_the_writer_and_does_not_poison() {
    let storage = SimStorage::new();
    let options = small_options("sim".as_ref(), SyncMode::Always);
    let recovery = open_sim(&options, &storage).unwrap();
    // The log's first segment is preallocated on this thread (in into_wal); the first
    // zero-fill is the preparer's first spare.
    storage.fail_zero_fill_after(0);
    let wal = recovery.into_wal().unwrap();
    assert!(eventually(|| wal.stats().spare_failures == 1));
    assert!(wal.poisoned().is_none(), "a failed spare poisons nothing");
    assert!(!storage
        .file_names()
        .contains(&SPARE_SEGMENT_FILE.to_string()));

    // The first roll-over finds no spare and creates its segment itself (preallocated);
    // it then asks for a spare again, which the next one takes.
    let mut acked = append_until_rolled(&wal, 1, 1, |_| true);
    let stats = wal.stats();
    assert_eq!(
        (stats.segments_created, stats.spares_used),
        (1, 0),
        "{stats:?}"
    );
    assert!(eventually(|| wal.stats().spares_prepared == 1));
    acked.extend(append_until_rolled(&wal, 2, 1, |_| true));
    let stats = wal.stats();
    assert_eq!(
        (stats.segments_created, stats.spares_used),
        (2, 1),
        "{stats:?}"
    );
    assert_eq!(stats.spare_failures, 1);
    assert!(wal.poisoned().is_none());
    wal.shutdown().unwrap();

    let recovery = open_sim(&options, &storage).unwrap();
    let mut recovered = read_all(&recovery);
    recovered.sort_by_key(|record| record.lsn);
    let mut expected = acked;
    expected.sort_by_key(|record| record.lsn);
    assert_eq!(recovered, expected);
}

#[test]
fn segments_hold_zeros_past_the_last_frame_and_recovery_reads_that_as_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    // Some roll-overs take a spare, some (made at once, while the spare is still being
    // prepared) may not: a spare is zero-filled, a fallocated segment reads as zeros.
    let mut acked = append(&wal, 1, 0, 300, 7);
    acked.extend(append_until_rolled(&wal, 2, 2, |wal| {
        let stats = wal.stats();
        stats.spares_prepared > stats.spares_used
    }));
    let stats = wal.stats();
    assert!(
        stats.segments_created >= 3 && stats.spares_used >= 2,
        "{stats:?}"
    );
    wal.shutdown().unwrap();

    let segments = segment_files(dir.path());
    assert_eq!(segments.len() as u64, stats.segments_created + 1);
    for segment in &segments {
        let bytes = fs::read(segment).unwrap();
        assert_eq!(bytes.len(), SEGMENT_BYTES);
        let end = data_end(&bytes);
        assert!(end > SEGMENT_HEADER_BYTES as usize, "{}", segment.display());
        assert!(
            bytes[end..].iter().all(|byte| *byte == 0),
            "{}: zeros after the last frame",
            segment.display()
        );
    }
    let recovery = open(&options).unwrap();
    assert!(recovery.report().torn_tail.is_none());
    assert_eq!(read_all(&recovery), acked);
    assert_eq!(recovery.next_lsn(), acked.len() as u64 + 1);
    assert_last_segment_is_continued(&options.dir, recovery);
}

/// Appends after a reopen continue in the last segment, right after its last frame.
fn assert_last_segment_is_continued(dir: &Path, recovery: omnibus_wal::Recovery) {
    let next = recovery.next_lsn();
    let last = segment_files(dir).pop().unwrap();
    let before = data_end(&fs::read(&last).unwrap());
    let wal = recovery.into_wal().unwrap();
    let range = wal.append_blocking(common_batch(9, 0..1)).unwrap();
    assert_eq!(range, next..next + 1);
    wal.shutdown().unwrap();
    let after = fs::read(&last).unwrap();
    assert_eq!(frame_offsets(&after).last().copied(), Some(before));
}

fn common_batch(actor: u64, seqs: std::ops::Range<u64>) -> omnibus_wal::Batch {
    let mut batch = omnibus_wal::Batch::new();
    for seq in seqs {
        batch.push(actor, seq, &payload(actor, seq));
    }
    batch
}

/// A spare is filled slowly on purpose (paced, so it never delays the writer's syncs); a
/// shutdown does not wait for that fill to end: it abandons it, and leaves no spare.
#[test]
fn shutdown_abandons_a_spare_being_filled_and_leaves_none() {
    let dir = tempfile::tempdir().unwrap();
    let options = omnibus_wal::WalOptions {
        // 16 MiB at 1 MiB/s: a fill that would take 16 s if it ran to its end.
        segment_bytes: 16 << 20,
        background_write_bytes_per_sec: 1 << 20,
        ..small_options(dir.path(), SyncMode::Always)
    };
    let wal = open(&options).unwrap().into_wal().unwrap();
    let acked = append(&wal, 1, 0, 20, 4);
    assert!(eventually(|| dir.path().join(SPARE_SEGMENT_FILE).exists()));
    wal.shutdown().unwrap();
    // Had the fill run to its end, the spare would count as prepared.
    let stats = wal.stats();
    assert_eq!(
        (stats.spares_prepared, stats.spare_failures),
        (0, 0),
        "{stats:?}"
    );
    assert!(!dir.path().join(SPARE_SEGMENT_FILE).exists());
    let recovery = open(&options).unwrap();
    assert_eq!(read_all(&recovery), acked);
}
