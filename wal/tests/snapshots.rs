//! Snapshots: recovery starts from the newest valid one and replays only what follows,
//! old segments and snapshots are deleted, and a damaged newest snapshot falls back to
//! the previous one.

mod common;

use std::fs;
use std::sync::mpsc;

use common::*;
use omnibus_wal::storage::{Crash, SimStorage};
use omnibus_wal::{SyncMode, Wal, WalError};

/// Takes a snapshot at `lsn` with `state` and waits for it to be written.
fn snapshot(wal: &Wal, lsn: u64, state: &[u8]) {
    let (tx, rx) = mpsc::channel();
    wal.snapshot(
        lsn,
        state.to_vec(),
        Box::new(move |result| tx.send(result).unwrap()),
    )
    .unwrap();
    rx.recv().unwrap().unwrap();
}

#[test]
fn recovery_loads_the_newest_snapshot_and_replays_only_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let first = append(&wal, 1, 0, 100, 10);
    snapshot(&wal, 101, b"state after 100 records");
    let second = append(&wal, 1, 100, 100, 10);
    snapshot(&wal, 151, b"state after 150 records");
    let third = append(&wal, 1, 200, 30, 10);
    wal.shutdown().unwrap();

    let recovery = open(&options).unwrap();
    let loaded = recovery.snapshot().expect("a snapshot");
    assert_eq!(loaded.lsn, 151);
    assert_eq!(loaded.bytes, b"state after 150 records");
    assert_eq!(recovery.start_lsn(), 151);
    let replayed = read_all(&recovery);
    let mut expected: Vec<Rec> = second[50..].to_vec();
    expected.extend(third);
    assert_eq!(
        replayed, expected,
        "only the records from the snapshot's LSN on are replayed"
    );
    assert_eq!(first.len(), 100);
    assert_eq!(recovery.next_lsn(), 231);
}

#[test]
fn snapshots_delete_segments_no_longer_needed_keeping_the_newest_two() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let mut seq = 0;
    let mut snapshot_lsns = Vec::new();
    for round in 0..5u64 {
        append(&wal, 1, seq, 200, 20);
        seq += 200;
        let lsn = wal.next_lsn();
        snapshot(&wal, lsn, format!("round {round}").as_bytes());
        snapshot_lsns.push(lsn);
    }
    let snapshots = snapshot_files(dir.path());
    assert_eq!(
        snapshots.len(),
        2,
        "only the newest two snapshots are kept: {snapshots:?}"
    );
    let older = snapshot_lsns[3];
    let segments = segment_files(dir.path());
    let first_lsns: Vec<u64> = segments
        .iter()
        .map(|path| path.file_stem().unwrap().to_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        first_lsns[0] <= older,
        "the oldest kept segment holds the older snapshot's LSN"
    );
    assert!(
        first_lsns.len() < 2 || first_lsns[1] > older,
        "no segment wholly before the older snapshot is kept"
    );
    assert!(wal.stats().snapshots_written == 5);
    wal.shutdown().unwrap();

    let recovery = open(&options).unwrap();
    assert_eq!(recovery.snapshot().unwrap().bytes, b"round 4");
    assert_eq!(recovery.next_lsn(), 1001);
    assert_eq!(recovery.records().count(), 0);
    assert!(tools_ok(dir.path()));
}

fn tools_ok(dir: &std::path::Path) -> bool {
    let report = omnibus_wal::tools::verify(dir);
    assert!(report.is_ok(), "{report}");
    true
}

#[test]
fn corrupt_newest_snapshot_falls_back_to_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let mut acked = append(&wal, 1, 0, 300, 20);
    snapshot(&wal, 201, b"older");
    acked.extend(append(&wal, 1, 300, 300, 20));
    snapshot(&wal, 501, b"newer");
    acked.extend(append(&wal, 1, 600, 50, 10));
    wal.shutdown().unwrap();

    let newest = snapshot_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&newest, bytes).unwrap();

    let recovery = open(&options).unwrap();
    let loaded = recovery.snapshot().unwrap();
    assert_eq!(
        (loaded.lsn, loaded.bytes.as_slice()),
        (201, b"older".as_slice())
    );
    assert_eq!(
        read_all(&recovery),
        acked[200..],
        "everything after the older snapshot is replayed"
    );
    assert_eq!(
        recovery.report().corrupt_snapshots.len(),
        1,
        "the damaged snapshot is set aside"
    );
    assert!(!newest.exists());
    let wal = recovery.into_wal().unwrap();

    // The damaged snapshot no longer counts among the two kept: after one more snapshot
    // the older good one is still there to fall back to.
    let next = wal.next_lsn();
    snapshot(&wal, next, b"newest");
    let kept: Vec<u64> = snapshot_files(dir.path())
        .iter()
        .map(|path| path.file_stem().unwrap().to_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(kept, vec![201, next]);
}

#[test]
fn a_snapshot_is_written_only_after_the_records_it_reflects_are_durable() {
    let storage = SimStorage::new();
    // Under Interval the records are acknowledged before any sync.
    let options = small_options(
        "sim".as_ref(),
        SyncMode::Interval(std::time::Duration::from_secs(60)),
    );
    let wal = open_sim(&options, &storage).unwrap().into_wal().unwrap();
    let acked = append(&wal, 1, 0, 80, 8);
    assert_eq!(wal.durable_lsn(), 0);
    snapshot(&wal, 81, b"all 80");
    assert_eq!(
        wal.durable_lsn(),
        80,
        "the snapshot waited for its records to be synced"
    );
    storage.crash(Crash::DropUnsynced);
    drop(wal);
    let recovery = open_sim(&options, &storage).unwrap();
    assert_eq!(recovery.snapshot().unwrap().lsn, 81);
    assert_eq!(recovery.next_lsn(), 81);
    assert_eq!(acked.len(), 80);
}

#[test]
fn snapshots_out_of_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    append(&wal, 1, 0, 10, 5);
    let refuse = |lsn: u64| match wal.snapshot(lsn, vec![], Box::new(|_| {})) {
        Err(WalError::InvalidSnapshot { lsn: refused, what }) => {
            assert_eq!(refused, lsn);
            what
        }
        other => panic!("snapshot at {lsn} should be refused, got {other:?}"),
    };
    assert!(refuse(0).contains("between 1"));
    assert!(refuse(12).contains("already submitted"));
    snapshot(&wal, 6, b"six");
    assert!(refuse(6).contains("not newer"));
    assert!(refuse(3).contains("not newer"));
    snapshot(&wal, 11, b"eleven");
}

#[test]
fn a_snapshot_whose_records_are_missing_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    append(&wal, 1, 0, 40, 5);
    snapshot(&wal, 41, b"forty");
    wal.shutdown().unwrap();
    // Damage the last synced frame so it looks like a torn tail: truncating it would
    // leave the log ending before the snapshot's LSN.
    let last = segment_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&last).unwrap();
    let offset = *frame_offsets(&bytes).last().unwrap();
    bytes[offset + 33] ^= 0x01;
    fs::write(&last, bytes).unwrap();
    match open(&options) {
        Err(WalError::Corrupt { file, what, .. }) => {
            assert_eq!(file, last);
            assert!(what.contains("snapshot"), "{what}");
        }
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("expected Corrupt, the log opened"),
    }
}
