//! Faults on a simulated disk that knows what is durable and what is merely written:
//! power loss, torn and reordered writes, failed writes and failed syncs.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use omnibus_wal::storage::{Crash, SimStorage};
use omnibus_wal::{Batch, SyncMode, Wal, WalError, WalOptions};

fn sim_options(sync: SyncMode) -> WalOptions {
    small_options("sim".as_ref(), sync)
}

fn batch_of(actor: u64, seqs: std::ops::Range<u64>) -> Batch {
    let mut batch = Batch::new();
    for seq in seqs {
        batch.push(actor, seq, &payload(actor, seq));
    }
    batch
}

/// Where a batch's completion lands.
type Slot = Arc<Mutex<Option<Result<std::ops::Range<u64>, WalError>>>>;

/// Submits without waiting; the result lands in the returned slot.
fn submit_watched(wal: &Wal, batch: Batch) -> Slot {
    let slot = Arc::new(Mutex::new(None));
    let result = {
        let slot = slot.clone();
        wal.submit(
            batch,
            Box::new(move |result| *slot.lock().unwrap() = Some(result)),
        )
    };
    result.expect("submitted");
    slot
}

#[test]
fn dropped_unsynced_bytes_lose_only_the_unsynced_records() {
    let storage = SimStorage::new();
    let options = sim_options(SyncMode::Interval(Duration::from_secs(60)));
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    let synced = append(&wal, 1, 0, 60, 6);
    assert_eq!(wal.sync().unwrap(), 60);
    let unsynced = append(&wal, 1, 60, 40, 8);
    assert_eq!(
        wal.durable_lsn(),
        60,
        "acknowledged under Interval, not yet synced"
    );
    storage.crash(Crash::DropUnsynced);
    drop(wal);
    let recovery = open_sim(&options, &storage).unwrap();
    assert_eq!(
        read_all(&recovery),
        synced,
        "exactly the synced records survive a power loss"
    );
    assert!(unsynced.iter().all(|record| record.lsn > 60));
}

#[test]
fn a_process_crash_keeps_written_but_unsynced_records() {
    let storage = SimStorage::new();
    let options = sim_options(SyncMode::None);
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    let written = append(&wal, 1, 0, 150, 10);
    storage.crash(Crash::KeepWritten);
    drop(wal);
    let recovery = open_sim(&options, &storage).unwrap();
    assert_eq!(
        read_all(&recovery),
        written,
        "the page cache outlives the process"
    );
}

/// A log with `acked` records durable, then a batch whose write reached the page cache
/// but whose sync (the `failing_sync`-th from then on) failed: the unsynced bytes are
/// what a crash may tear.
fn log_with_unsynced_tail(
    storage: &SimStorage,
    options: &WalOptions,
    failing_sync: u64,
) -> Vec<Rec> {
    let wal = open_sim(options, storage).unwrap().into_wal().unwrap();
    let acked = append(&wal, 1, 0, 70, 7);
    storage.fail_sync_after(failing_sync);
    // About 14 KiB: with 16 KiB segments this crosses into a new segment.
    let result = wal.append_blocking(batch_of(2, 0..100));
    assert!(
        matches!(result, Err(WalError::Poisoned { .. })),
        "{result:?}"
    );
    drop(wal);
    acked
}

#[test]
fn torn_writes_at_any_point_keep_every_acknowledged_record() {
    let options = sim_options(SyncMode::Always);
    let mut outcomes = 0;
    for failing_sync in 0..3u64 {
        for torn_bytes in (0..15_000u64).step_by(331) {
            let storage = SimStorage::new();
            let acked = log_with_unsynced_tail(&storage, &options, failing_sync);
            storage.crash(Crash::TornAfter { bytes: torn_bytes });
            let recovery = open_sim(&options, &storage).unwrap_or_else(|error| {
                panic!("sync {failing_sync}, torn after {torn_bytes}: {error}")
            });
            let recovered = read_all(&recovery);
            assert_contains_acked(&recovered, &acked);
            // Whatever of the unacknowledged batch came back came back whole (read_all
            // checked every payload) and in order.
            for (index, record) in recovered[acked.len()..].iter().enumerate() {
                assert_eq!((record.actor, record.actor_seq), (2, index as u64));
            }
            outcomes += 1;
        }
    }
    assert!(outcomes > 100);
}

#[test]
fn power_loss_with_reordered_sectors_never_loses_an_acknowledged_record() {
    let options = sim_options(SyncMode::Always);
    let mut discarded_frames = 0;
    let mut torn = 0;
    for seed in 0..1_000u64 {
        let storage = SimStorage::new();
        let acked = log_with_unsynced_tail(&storage, &options, seed % 3);
        storage.crash(Crash::RandomSectors { seed });
        // The disk kept a random subset of the unsynced sectors, often a later one
        // without an earlier one. None of those bytes was synced, so recovery must start
        // every time: a refusal here would need an operator after a mere power cut.
        let recovery = open_sim(&options, &storage)
            .unwrap_or_else(|error| panic!("seed {seed}: refused after a power loss: {error}"));
        let recovered = read_all(&recovery);
        assert_contains_acked(&recovered, &acked);
        for (index, record) in recovered[acked.len()..].iter().enumerate() {
            assert_eq!((record.actor, record.actor_seq), (2, index as u64));
        }
        if let Some(tail) = &recovery.report().torn_tail {
            torn += 1;
            discarded_frames += tail.discarded_frames;
        }
    }
    println!(
        "random sector power loss: 1000 opened, 0 refused, {torn} torn tails, {discarded_frames} unsynced frames \
         after a tear discarded"
    );
    // The case this test is about happened, many times: valid frames after a tear.
    assert!(discarded_frames > 100, "{discarded_frames}");
}

/// A log of 30 acknowledged records in 5 groups, then a group of 20 whose sync failed,
/// written into the same segment. Returns the acknowledged records, the segment's name,
/// its durable bytes and its written bytes.
fn log_with_unsynced_group(storage: &SimStorage) -> (Vec<Rec>, String, Vec<u8>, Vec<u8>) {
    let options = sim_options(SyncMode::Always);
    let wal = open_sim(&options, storage).unwrap().into_wal().unwrap();
    let acked = append(&wal, 1, 0, 30, 6);
    let segment = "00000000000000000001.wal".to_string();
    let durable = storage.contents(&segment).unwrap();
    storage.fail_sync_after(0);
    let result = wal.append_blocking(batch_of(2, 0..20));
    assert!(
        matches!(result, Err(WalError::Poisoned { .. })),
        "{result:?}"
    );
    drop(wal);
    let written = storage.contents(&segment).unwrap();
    let segments = storage
        .file_names()
        .into_iter()
        .filter(|name| name.ends_with(".wal"));
    assert_eq!(segments.count(), 1, "everything is in one segment");
    assert!(
        data_end(&written) >= data_end(&durable) + 4 * 512,
        "the unsynced group spans several sectors"
    );
    (acked, segment, durable, written)
}

/// Power loss in which the disk persisted every unsynced sector except the one where the
/// unsynced group begins: the image a disk with a volatile, reordering cache can leave.
fn lose_only_the_first_unsynced_sector(
    storage: &SimStorage,
    segment: &str,
    durable: &[u8],
    written: &[u8],
) {
    storage.crash(Crash::DropUnsynced);
    let lost_sector_end = (data_end(durable) / 512 + 1) * 512;
    let written_end = data_end(written);
    // `corrupt` changes the durable image directly; here it puts back the sectors the
    // disk did persist.
    storage.corrupt(segment, |bytes| {
        bytes[lost_sector_end..written_end].copy_from_slice(&written[lost_sector_end..written_end])
    });
}

#[test]
fn a_power_loss_that_kept_a_later_unsynced_sector_recovers_by_truncating() {
    let storage = SimStorage::new();
    let (acked, segment, durable, written) = log_with_unsynced_group(&storage);
    lose_only_the_first_unsynced_sector(&storage, &segment, &durable, &written);
    let synced_end = data_end(&durable);

    // The tools see the same thing recovery will: a tail to truncate, not a problem.
    let report = omnibus_wal::tools::verify_storage(&storage, "sim".as_ref());
    assert!(report.is_ok(), "{report}");
    let tail = report.torn_tail.expect("a torn tail");
    assert_eq!(tail.offset, synced_end as u64);
    assert!(tail.what.contains("never synced"), "{}", tail.what);

    let options = sim_options(SyncMode::Always);
    let recovery = open_sim(&options, &storage).expect("a power loss in unsynced bytes opens");
    let torn = recovery.report().torn_tail.clone().expect("a torn tail");
    assert_eq!(torn.offset, synced_end as u64);
    assert!(
        torn.discarded_frames >= 10,
        "the frames the disk kept after the lost sector are discarded: {torn:?}"
    );
    assert!(torn.what.contains("never synced"), "{}", torn.what);
    assert_eq!(
        read_all(&recovery),
        acked,
        "exactly the acknowledged records"
    );
    assert_eq!(recovery.next_lsn(), 31);
    let after = storage.contents(&segment).unwrap();
    assert!(
        after[synced_end..].iter().all(|byte| *byte == 0),
        "the tail is zeroed"
    );
    assert_eq!(after[..synced_end], durable[..synced_end]);

    // Appends continue where the synced records end, and the next open is clean.
    let wal = recovery.into_wal().unwrap();
    let more = append(&wal, 3, 0, 25, 5);
    assert_eq!(more[0].lsn, 31);
    wal.shutdown().unwrap();
    let recovery = open_sim(&options, &storage).unwrap();
    assert!(recovery.report().torn_tail.is_none());
    let mut expected = acked;
    expected.extend(more);
    assert_eq!(read_all(&recovery), expected);
}

#[test]
fn damage_inside_synced_frames_still_refuses_to_start_naming_file_and_offset() {
    let storage = SimStorage::new();
    let (_, segment, durable, _) = log_with_unsynced_group(&storage);
    let offsets = frame_offsets(&durable);
    assert_eq!(offsets.len(), 30);
    // Every acknowledged frame is vouched for: by a later acknowledged group, or by the
    // frames of the unsynced group, written after all 30 were synced. The damaged byte is
    // one of the header's fields or the first payload byte, all covered by the CRC.
    for (index, damaged) in offsets.iter().copied().enumerate() {
        let byte = damaged + [1, 5, 9, 17, 25, 33, 40][index % 7];
        for power_loss_too in [false, true] {
            let storage = SimStorage::new();
            let (_, _, durable, written) = log_with_unsynced_group(&storage);
            if power_loss_too {
                lose_only_the_first_unsynced_sector(&storage, &segment, &durable, &written);
            } else {
                storage.crash(Crash::KeepWritten);
            }
            storage.corrupt(&segment, |bytes| bytes[byte] ^= 0x08);
            let before = storage.contents(&segment).unwrap();
            match open_sim(&sim_options(SyncMode::Always), &storage) {
                Err(error @ WalError::Corrupt { .. }) => {
                    let WalError::Corrupt { file, offset, what } = &error else {
                        unreachable!()
                    };
                    assert_eq!(file, &std::path::PathBuf::from("sim:").join(&segment));
                    assert_eq!(*offset, damaged as u64, "frame {index}: {error}");
                    assert!(what.contains("damage inside synced data"), "{what}");
                    let message = error.to_string();
                    assert!(message.contains(&segment), "{message}");
                    assert!(message.contains(&format!("offset {damaged}")), "{message}");
                }
                Err(other) => panic!("frame {index}: expected Corrupt, got {other}"),
                Ok(recovery) => panic!(
                    "frame {index}: damage to synced data opened with next LSN {}",
                    recovery.next_lsn()
                ),
            }
            assert_eq!(
                storage.contents(&segment).unwrap(),
                before,
                "a refused open changes nothing"
            );
        }
    }
}

#[test]
fn records_found_at_a_restart_are_vouched_for_by_the_first_group_after_it() {
    let storage = SimStorage::new();
    let options = sim_options(SyncMode::None);
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    append(&wal, 1, 0, 20, 5);
    assert_eq!(wal.durable_lsn(), 0, "nothing synced under SyncMode::None");
    storage.crash(Crash::KeepWritten);
    drop(wal);
    // Recovery syncs what it found before replay, so the next writer may say so.
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    append(&wal, 1, 20, 10, 5);
    wal.shutdown().unwrap();
    let segment = "00000000000000000001.wal";
    let bytes = storage.contents(segment).unwrap();
    let offsets = frame_offsets(&bytes);
    let synced_upto = |frame: usize| {
        u64::from_le_bytes(
            bytes[offsets[frame] + 16..offsets[frame] + 24]
                .try_into()
                .unwrap(),
        )
    };
    assert_eq!(
        (synced_upto(0), synced_upto(19), synced_upto(20)),
        (0, 0, 20),
        "the first frame after the restart says LSNs up to 20 are durable"
    );
    // So damage to a record found at the restart is damage to synced data.
    storage.corrupt(segment, |bytes| bytes[offsets[12] + 44] ^= 0x01);
    match open_sim(&options, &storage) {
        Err(WalError::Corrupt { offset, what, .. }) => {
            assert_eq!(offset, offsets[12] as u64);
            assert!(what.contains("damage inside synced data"), "{what}");
        }
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("damage to a record synced at restart opened"),
    }
}

#[test]
fn power_loss_under_interval_and_none_keeps_every_synced_record_and_never_refuses() {
    for sync in [SyncMode::Interval(Duration::from_secs(60)), SyncMode::None] {
        let options = sim_options(sync);
        let mut discarded_frames = 0;
        for seed in 0..300u64 {
            let storage = SimStorage::new();
            let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
            let mut rng = Rng(seed);
            let mut written = Vec::new();
            // Several groups, some followed by an explicit sync, with 16 KiB segments so
            // some roll over (which syncs): unsynced writes share sectors with each other
            // and with synced ones.
            for round in 0..rng.range(2, 7) {
                let count = rng.range(5, 60);
                written.extend(append(
                    &wal,
                    1 + round % 2,
                    written.len() as u64,
                    count,
                    rng.range(1, 12),
                ));
                if rng.range(0, 3) == 0 {
                    wal.sync().unwrap();
                }
            }
            let durable = wal.durable_lsn();
            storage.crash(Crash::RandomSectors { seed });
            drop(wal);
            let recovery = open_sim(&options, &storage).unwrap_or_else(|error| {
                panic!("{sync:?} seed {seed}: refused after a power loss: {error}")
            });
            let recovered = read_all(&recovery);
            assert!(
                recovered.len() as u64 >= durable,
                "{sync:?} seed {seed}: {} records recovered but {durable} were synced",
                recovered.len()
            );
            assert_eq!(
                recovered[..],
                written[..recovered.len()],
                "{sync:?} seed {seed}: what came back is a prefix of what was written"
            );
            discarded_frames += recovery
                .report()
                .torn_tail
                .as_ref()
                .map_or(0, |tail| tail.discarded_frames);
        }
        assert!(
            discarded_frames > 0,
            "{sync:?}: no valid frame after a tear"
        );
    }
}

#[test]
fn failed_sync_poisons_the_log_and_is_never_retried() {
    let storage = SimStorage::new();
    // One batch per group, so later batches are still queued when the sync fails.
    let options = WalOptions {
        batch_records_max: 8,
        ..sim_options(SyncMode::Always)
    };
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    let acked = append(&wal, 1, 0, 40, 8);

    storage.pause_writes();
    let first = submit_watched(&wal, batch_of(1, 40..48));
    let queued: Vec<_> = (0..3u64)
        .map(|n| submit_watched(&wal, batch_of(1, 48 + n * 8..56 + n * 8)))
        .collect();
    storage.fail_sync_after(0);
    let syncs_before = storage.syncs();
    storage.resume_writes();
    assert!(eventually(|| queued
        .iter()
        .all(|slot| slot.lock().unwrap().is_some())));

    let first = first.lock().unwrap().take().unwrap();
    match first {
        Err(WalError::Poisoned { cause }) => {
            assert!(
                matches!(
                    *cause,
                    WalError::Io {
                        op: "fdatasync",
                        ..
                    }
                ),
                "{cause}"
            );
        }
        other => panic!("the group whose sync failed must fail, got {other:?}"),
    }
    for slot in &queued {
        assert!(matches!(
            slot.lock().unwrap().take().unwrap(),
            Err(WalError::Poisoned { .. })
        ));
    }
    assert!(matches!(
        wal.append_blocking(batch_of(1, 72..73)),
        Err(WalError::Poisoned { .. })
    ));
    assert!(matches!(wal.sync(), Err(WalError::Poisoned { .. })));
    assert!(matches!(
        wal.snapshot(2, vec![1], Box::new(|_| {})),
        Err(WalError::Poisoned { .. })
    ));
    assert!(wal.poisoned().is_some());
    assert!(matches!(wal.shutdown(), Err(WalError::Poisoned { .. })));
    assert_eq!(
        storage.syncs(),
        syncs_before + 1,
        "the failed sync was never retried"
    );
    assert_eq!(wal.durable_lsn(), 40);

    // After a restart, every acknowledged record is there.
    storage.crash(Crash::DropUnsynced);
    let recovery = open_sim(&options, &storage).unwrap();
    assert_eq!(read_all(&recovery), acked);
}

#[test]
fn failed_write_poisons_the_log() {
    let storage = SimStorage::new();
    let options = sim_options(SyncMode::Always);
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    let acked = append(&wal, 1, 0, 10, 5);
    storage.fail_write_after(0);
    match wal.append_blocking(batch_of(1, 10..15)) {
        Err(WalError::Poisoned { cause }) => assert!(
            matches!(*cause, WalError::Io { op: "write", .. }),
            "{cause}"
        ),
        other => panic!("expected Poisoned, got {other:?}"),
    }
    let writes = storage.writes();
    match wal.append_blocking(batch_of(1, 15..16)) {
        Err(error @ WalError::Poisoned { .. }) => {
            assert!(
                error.to_string().contains("restart"),
                "the message says what to do: {error}"
            )
        }
        other => panic!("expected Poisoned, got {other:?}"),
    }
    assert_eq!(
        storage.writes(),
        writes,
        "nothing is written after the log is poisoned"
    );
    drop(wal);
    storage.crash(Crash::KeepWritten);
    assert_eq!(read_all(&open_sim(&options, &storage).unwrap()), acked);
}

#[test]
fn a_crash_while_creating_a_segment_leaves_a_log_that_opens() {
    for crash in [Crash::DropUnsynced, Crash::KeepWritten] {
        let storage = SimStorage::new();
        let options = sim_options(SyncMode::Always);
        let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
        let acked = append(&wal, 1, 0, 50, 5);
        let segments = storage
            .file_names()
            .iter()
            .filter(|name| name.ends_with(".wal"))
            .count();
        // The next batch needs a new segment: the old one's sync succeeds, the new
        // one's (under its temporary name) fails.
        let done = Arc::new(AtomicU64::new(0));
        let mut seq = 50;
        storage.fail_sync_after(1);
        loop {
            let result = wal.append_blocking(batch_of(1, seq..seq + 5));
            seq += 5;
            if result.is_err() {
                break;
            }
            done.fetch_add(5, Ordering::Relaxed);
            storage.fail_sync_after(1);
        }
        let acked_more = done.load(Ordering::Relaxed);
        drop(wal);
        storage.crash(crash);
        let recovery = open_sim(&options, &storage).unwrap();
        let recovered = read_all(&recovery);
        assert!(recovered.len() as u64 >= 50 + acked_more, "{crash:?}");
        assert_contains_acked(&recovered, &acked);
        if crash == Crash::KeepWritten {
            assert_eq!(
                recovery.report().temp_files_removed.len(),
                1,
                "the half-made segment is removed"
            );
        }
        let after: Vec<_> = storage
            .file_names()
            .into_iter()
            .filter(|name| name.ends_with(".wal"))
            .collect();
        assert_eq!(
            after.len(),
            segments,
            "{crash:?}: no new segment became visible"
        );
    }
}
