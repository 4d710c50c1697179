//! Appending, reading back, and the submit path's limits.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use omnibus_wal::storage::SimStorage;
use omnibus_wal::{Batch, SyncMode, Wal, WalError, WalOptions};

#[test]
fn appended_records_come_back_in_lsn_order_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let recovery = open(&options).unwrap();
    assert_eq!(recovery.next_lsn(), 1);
    assert!(recovery.snapshot().is_none());
    assert_eq!(recovery.records().count(), 0);
    let wal = recovery.into_wal().unwrap();
    let acked = append(&wal, 1, 0, 50, 7);
    assert_eq!(acked.first().unwrap().lsn, 1);
    assert_eq!(wal.durable_lsn(), 50);
    wal.shutdown().unwrap();

    let recovery = open(&options).unwrap();
    let recovered = read_all(&recovery);
    assert_eq!(recovered, acked);
    assert_eq!(recovery.next_lsn(), 51);
    assert!(recovery.report().torn_tail.is_none());
}

#[test]
fn lsns_are_contiguous_across_segments_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let mut acked = Vec::new();
    for round in 0..4u64 {
        let recovery = open(&options).unwrap();
        assert_eq!(read_all(&recovery), acked, "round {round}");
        let wal = recovery.into_wal().unwrap();
        acked.extend(append(&wal, round, 0, 300, 13));
        drop(wal);
    }
    assert!(
        segment_files(dir.path()).len() > 10,
        "small segments rolled over many times"
    );
    let recovery = open(&options).unwrap();
    assert_eq!(read_all(&recovery), acked);
    assert_eq!(recovery.next_lsn(), 1201);
}

#[test]
fn payloads_come_back_exact_and_8_byte_aligned_whatever_their_length() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let mut batch = Batch::new();
    for length in 1..=64u64 {
        let bytes: Vec<u8> = (0..length).map(|i| (i * 7 + length) as u8).collect();
        batch.push(9, length, &bytes);
    }
    wal.append_blocking(batch).unwrap();
    wal.shutdown().unwrap();
    let recovery = open(&options).unwrap();
    let mut count = 0;
    for record in recovery.records() {
        let record = record.unwrap();
        let length = record.actor_seq;
        let bytes: Vec<u8> = (0..length).map(|i| (i * 7 + length) as u8).collect();
        assert_eq!(record.payload, bytes.as_slice());
        assert_eq!(record.payload.as_ptr() as usize % 8, 0);
        count += 1;
    }
    assert_eq!(count, 64);
}

#[test]
fn records_of_reads_one_actors_log_alone() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let mut batch = Batch::new();
    for seq in 0..30u64 {
        for actor in [3u64, 5, 8] {
            batch.push(actor, seq, &payload(actor, seq));
        }
    }
    wal.append_blocking(batch).unwrap();
    wal.shutdown().unwrap();
    let recovery = open(&options).unwrap();
    let of_five: Vec<_> = recovery
        .records_of(5)
        .map(|record| record.unwrap())
        .collect();
    assert_eq!(of_five.len(), 30);
    for (seq, record) in of_five.iter().enumerate() {
        assert_eq!(record.actor, 5);
        assert_eq!(record.actor_seq, seq as u64);
        assert_eq!(record.payload, payload(5, seq as u64).as_slice());
    }
    assert_eq!(recovery.records_of(4).count(), 0);
}

#[test]
fn concurrent_submitters_get_contiguous_lsns_in_submission_order() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let completions = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4u64)
        .map(|actor| {
            let wal = wal.clone();
            let completions = completions.clone();
            std::thread::spawn(move || {
                let in_flight = Arc::new(AtomicU64::new(0));
                for seq in 0..500u64 {
                    while in_flight.load(Ordering::Acquire) >= 32 {
                        std::thread::yield_now();
                    }
                    let mut batch = Batch::new();
                    batch.push(actor, seq, &payload(actor, seq));
                    in_flight.fetch_add(1, Ordering::AcqRel);
                    let in_flight = in_flight.clone();
                    let completions = completions.clone();
                    wal.submit(
                        batch,
                        Box::new(move |result| {
                            completions.lock().unwrap().push(result.unwrap());
                            in_flight.fetch_sub(1, Ordering::AcqRel);
                        }),
                    )
                    .unwrap();
                }
                while in_flight.load(Ordering::Acquire) > 0 {
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let completions = completions.lock().unwrap().clone();
    // Completions run on the writer thread in LSN order.
    let starts: Vec<u64> = completions.iter().map(|range| range.start).collect();
    assert_eq!(starts, (1..=2000).collect::<Vec<_>>());
    wal.shutdown().unwrap();
    let recovery = open(&options).unwrap();
    let records = read_all(&recovery);
    assert_eq!(records.len(), 2000);
    for actor in 0..4u64 {
        let seqs: Vec<u64> = records
            .iter()
            .filter(|r| r.actor == actor)
            .map(|r| r.actor_seq)
            .collect();
        assert_eq!(
            seqs,
            (0..500).collect::<Vec<_>>(),
            "actor {actor}'s records are in its own order"
        );
    }
}

#[test]
fn overloaded_when_the_queue_is_full_consumes_no_lsn() {
    let storage = SimStorage::new();
    let options = WalOptions {
        queue_records_max: 10,
        ..small_options("sim".as_ref(), SyncMode::Always)
    };
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    storage.pause_writes();
    let done_count = Arc::new(AtomicU64::new(0));
    let submit = |records: u64, first_seq: u64| {
        let mut batch = Batch::new();
        for seq in first_seq..first_seq + records {
            batch.push(1, seq, &payload(1, seq));
        }
        let done_count = done_count.clone();
        wal.submit(
            batch,
            Box::new(move |result| {
                result.unwrap();
                done_count.fetch_add(1, Ordering::AcqRel);
            }),
        )
    };
    // The writer takes the first batch and blocks in its write; the rest wait in the queue.
    assert_eq!(submit(4, 0).unwrap(), 1..5);
    assert_eq!(submit(4, 4).unwrap(), 5..9);
    match submit(4, 8) {
        Err(WalError::Overloaded {
            queue_records_max: 10,
            batch_records: 4,
            ..
        }) => {}
        other => panic!("expected Overloaded, got {other:?}"),
    }
    assert_eq!(
        submit(2, 8).unwrap(),
        9..11,
        "the refused batch took no LSN"
    );
    assert!(matches!(submit(1, 10), Err(WalError::Overloaded { .. })));
    storage.resume_writes();
    assert!(eventually(|| done_count.load(Ordering::Acquire) == 3));
    assert_eq!(submit(1, 10).unwrap(), 11..12);
    wal.shutdown().unwrap();
    let recovery = open_sim(&options, &storage).unwrap();
    assert_eq!(read_all(&recovery).len(), 11);
}

#[test]
fn closed_after_shutdown_and_shutdown_completes_what_was_queued() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let done_count = Arc::new(AtomicU64::new(0));
    for seq in 0..200u64 {
        let mut batch = Batch::new();
        batch.push(2, seq, &payload(2, seq));
        let done_count = done_count.clone();
        wal.submit(
            batch,
            Box::new(move |result| {
                result.unwrap();
                done_count.fetch_add(1, Ordering::AcqRel);
            }),
        )
        .unwrap();
    }
    wal.shutdown().unwrap();
    assert_eq!(
        done_count.load(Ordering::Acquire),
        200,
        "shutdown drains every queued batch"
    );
    let mut batch = Batch::new();
    batch.push(2, 200, &payload(2, 200));
    assert!(matches!(wal.append_blocking(batch), Err(WalError::Closed)));
    assert!(matches!(
        wal.snapshot(1, Vec::new(), Box::new(|_| {})),
        Err(WalError::Closed)
    ));
    wal.shutdown().unwrap();
    assert_eq!(read_all(&open(&options).unwrap()).len(), 200);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused_while_locked() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    match open(&options) {
        Err(error @ WalError::Locked { .. }) => {
            assert!(error.to_string().contains("locked"), "{error}")
        }
        Err(other) => panic!("expected Locked, got {other:?}"),
        Ok(_) => panic!("expected Locked, the log opened twice"),
    }
    wal.shutdown().unwrap();
    open(&options).expect("the lock is released at shutdown");
}

#[test]
fn batches_that_can_never_fit_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions {
        batch_records_max: 3,
        ..small_options(dir.path(), SyncMode::Always)
    };
    let wal = open(&options).unwrap().into_wal().unwrap();
    let mut batch = Batch::new();
    for seq in 0..4 {
        batch.push(1, seq, b"x");
    }
    assert!(matches!(
        wal.append_blocking(batch),
        Err(WalError::BatchTooLarge { .. })
    ));
    let mut batch = Batch::new();
    batch.push(1, 0, &vec![1u8; 16 * 1024]);
    match wal.append_blocking(batch) {
        Err(error @ WalError::BatchTooLarge { .. }) => {
            assert!(error.to_string().contains("segment"), "{error}")
        }
        other => panic!("expected BatchTooLarge, got {other:?}"),
    }
    let mut batch = Batch::new();
    batch.push(1, 0, b"fits");
    assert_eq!(
        wal.append_blocking(batch).unwrap(),
        1..2,
        "refused batches took no LSN"
    );
}

#[test]
fn the_largest_record_a_segment_holds_is_written_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let largest = 16 * 1024
        - omnibus_wal::layout_constants::SEGMENT_HEADER_BYTES as usize
        - omnibus_wal::layout_constants::FRAME_HEADER_BYTES;
    for seq in 0..3u64 {
        let mut batch = Batch::new();
        batch.push(1, seq, &vec![seq as u8 + 1; largest]);
        wal.append_blocking(batch).unwrap();
    }
    wal.shutdown().unwrap();
    assert_eq!(
        segment_files(dir.path()).len(),
        3,
        "one full segment per record"
    );
    let recovery = open(&options).unwrap();
    let payloads: Vec<Vec<u8>> = recovery
        .records()
        .map(|record| record.unwrap().payload.to_vec())
        .collect();
    assert_eq!(
        payloads,
        (0..3u8)
            .map(|seq| vec![seq + 1; largest])
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_empty_batch_completes_after_everything_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    for seq in 0..5u64 {
        let mut batch = Batch::new();
        batch.push(1, seq, &payload(1, seq));
        let order = order.clone();
        wal.submit(
            batch,
            Box::new(move |result| order.lock().unwrap().push(result.unwrap())),
        )
        .unwrap();
    }
    let range = wal.append_blocking(Batch::new()).unwrap();
    assert_eq!(range, 6..6);
    assert_eq!(order.lock().unwrap().len(), 5);
    assert_eq!(wal.durable_lsn(), 5);
}

#[test]
fn stats_count_records_batches_groups_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    append(&wal, 1, 0, 40, 10);
    let stats = wal.stats();
    assert_eq!(stats.records_written, 40);
    assert_eq!(stats.batches_written, 4);
    assert_eq!(
        stats.groups_written, 4,
        "each batch was waited for, so each was its own group"
    );
    assert!(stats.syncs >= 4);
    assert!(stats.bytes_written >= 40 * 40);
    assert_eq!(stats.last_group_records, 10);
    assert_eq!(stats.next_lsn, 41);
    assert_eq!(stats.durable_lsn, 40);
    assert_eq!(stats.queued_records, 0);
}

#[test]
fn sync_none_acknowledges_without_syncing() {
    let storage = SimStorage::new();
    let options = small_options("sim".as_ref(), SyncMode::None);
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    let syncs_before = storage.syncs();
    let mut batch = Batch::new();
    batch.push(1, 0, b"a");
    wal.append_blocking(batch).unwrap();
    assert_eq!(
        storage.syncs(),
        syncs_before,
        "no fdatasync under SyncMode::None"
    );
    assert_eq!(wal.durable_lsn(), 0);
    assert_eq!(wal.sync().unwrap(), 1, "an explicit sync makes it durable");
    assert_eq!(storage.syncs(), syncs_before + 1);
}

#[test]
fn sync_interval_syncs_on_the_timer() {
    let storage = SimStorage::new();
    let options = small_options(
        "sim".as_ref(),
        SyncMode::Interval(Duration::from_millis(20)),
    );
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    let mut batch = Batch::new();
    batch.push(1, 0, b"a");
    wal.append_blocking(batch).unwrap();
    assert!(
        eventually(|| wal.durable_lsn() == 1),
        "the interval timer synced the write"
    );
}

#[test]
fn invalid_options_are_refused_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            WalOptions {
                segment_bytes: 100,
                ..WalOptions::new(dir.path())
            },
            "segment_bytes",
        ),
        (
            WalOptions {
                segment_bytes: 65_537,
                ..WalOptions::new(dir.path())
            },
            "segment_bytes",
        ),
        (
            WalOptions {
                queue_records_max: 0,
                ..WalOptions::new(dir.path())
            },
            "queue_records_max",
        ),
        (
            WalOptions {
                batch_records_max: 0,
                ..WalOptions::new(dir.path())
            },
            "batch_records_max",
        ),
        (
            WalOptions {
                sync: SyncMode::Interval(Duration::ZERO),
                ..WalOptions::new(dir.path())
            },
            "sync",
        ),
    ];
    for (options, name) in cases {
        match Wal::open(options) {
            Err(error @ WalError::InvalidOptions { option, .. }) => {
                assert_eq!(option, name);
                assert!(error.to_string().contains(name), "{error}");
            }
            Err(other) => panic!("expected InvalidOptions for {name}, got {other:?}"),
            Ok(_) => panic!("expected InvalidOptions for {name}, the log opened"),
        }
    }
}

#[test]
fn open_creates_a_missing_directory_and_its_parents() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a").join("b").join("shard-0");
    let options = small_options(&dir, SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    append(&wal, 1, 0, 3, 3);
    wal.shutdown().unwrap();
    assert_eq!(read_all(&open(&options).unwrap()).len(), 3);
}

#[test]
fn a_panicking_completion_callback_does_not_stop_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let mut batch = Batch::new();
    batch.push(1, 0, &payload(1, 0));
    wal.submit(batch, Box::new(|_| panic!("a caller's bug")))
        .unwrap();
    let acked = append(&wal, 1, 1, 5, 5);
    assert_eq!(acked[0].lsn, 2);
    assert!(wal.poisoned().is_none());
    wal.shutdown().unwrap();
    assert_eq!(read_all(&open(&options).unwrap()).len(), 6);
}
