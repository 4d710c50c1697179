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
    let mut opened = 0;
    let mut refused = 0;
    for seed in 0..150u64 {
        let storage = SimStorage::new();
        let acked = log_with_unsynced_tail(&storage, &options, seed % 3);
        storage.crash(Crash::RandomSectors { seed });
        match open_sim(&options, &storage) {
            Ok(recovery) => {
                let recovered = read_all(&recovery);
                assert_contains_acked(&recovered, &acked);
                opened += 1;
            }
            // A later sector of the unsynced write survived while an earlier one did not:
            // recovery cannot tell that from damage to written data and refuses rather
            // than guess. It must never blame the synced part.
            Err(WalError::Corrupt { file, offset, what }) => {
                assert!(what.contains("valid frame follows"), "seed {seed}: {what}");
                // The same run with nothing unsynced kept shows where durable data ended.
                let check = SimStorage::new();
                log_with_unsynced_tail(&check, &options, seed % 3);
                check.crash(Crash::DropUnsynced);
                let name = file.file_name().unwrap().to_str().unwrap();
                let durable = check.contents(name).unwrap_or_default();
                assert!(
                    offset as usize >= data_end(&durable),
                    "seed {seed}: the refusal at offset {offset} must lie in the unsynced part"
                );
                refused += 1;
            }
            Err(other) => panic!("seed {seed}: {other}"),
        }
    }
    println!("random sector power loss: {opened} opened, {refused} refused");
    assert!(opened > 0);
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
