use std::sync::Arc;

use super::*;
use crate::storage::{Crash, FileStorage, SimStorage};

const WIDTH: usize = 32;

fn key(n: u64) -> Vec<u8> {
    let mut k = vec![0u8; WIDTH];
    k[..8].copy_from_slice(&n.to_be_bytes());
    k[8..12].copy_from_slice(b"REQ-");
    k
}

fn value(n: u64, version: u8) -> Vec<u8> {
    let mut v = format!("settled request {n}").into_bytes();
    v.push(version);
    v.resize(100 + (n % 150) as usize, version);
    v
}

fn add(archive: &Archive, day: u32, keys: impl Iterator<Item = u64>, version: u8) {
    let records: Vec<(Vec<u8>, Vec<u8>)> = keys.map(|n| (key(n), value(n, version))).collect();
    let refs: Vec<(&[u8], &[u8])> = records
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    archive.add(day, &refs).unwrap();
}

fn sim() -> (SimStorage, Arc<dyn Storage>) {
    let sim = SimStorage::new();
    (sim.clone(), Arc::new(sim))
}

#[test]
fn every_record_added_is_found_with_its_value_and_unknown_keys_are_not() {
    let (_, storage) = sim();
    let (archive, opened) = Archive::open(storage, WIDTH).unwrap();
    assert_eq!(opened, ArchiveOpened::default());
    // Three days, two batches each, given unsorted.
    for day in 0..3u32 {
        for batch in 0..2u64 {
            let base = u64::from(day) * 1_000 + batch * 500;
            add(&archive, 20_000 + day, (base..base + 500).rev(), 1);
        }
    }
    for n in 0..3_000 {
        assert_eq!(
            archive.get(&key(n)).unwrap().as_deref(),
            Some(value(n, 1).as_slice()),
            "key {n}"
        );
    }
    for n in 3_000..13_000 {
        assert_eq!(archive.get(&key(n)).unwrap(), None);
    }
    assert_eq!(
        archive.get(b"short").unwrap(),
        None,
        "a key of another width is not there"
    );
    let stats = archive.stats();
    assert_eq!((stats.runs, stats.records, stats.days), (6, 3_000, 3));
}

#[test]
fn the_newest_value_of_a_key_wins_within_a_batch_and_across_runs() {
    let (_, storage) = sim();
    let (archive, _) = Archive::open(storage, WIDTH).unwrap();
    let (k, old, new, newer) = (key(7), value(7, 1), value(7, 2), value(7, 3));
    archive.add(5, &[(&k, &old), (&k, &new)]).unwrap();
    assert_eq!(archive.get(&k).unwrap().as_deref(), Some(new.as_slice()));
    archive.add(5, &[(&k, &newer)]).unwrap();
    assert_eq!(archive.get(&k).unwrap().as_deref(), Some(newer.as_slice()));
    assert_eq!(archive.merge_day(5).unwrap(), 2);
    assert_eq!(archive.get(&k).unwrap().as_deref(), Some(newer.as_slice()));
    assert_eq!(archive.stats().runs, 1);
}

#[test]
fn an_archive_reopened_from_real_files_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let storage = || Arc::new(FileStorage::new(dir.path().join("archive"))) as Arc<dyn Storage>;
    {
        let (archive, _) = Archive::open(storage(), WIDTH).unwrap();
        add(&archive, 1, 0..2_000, 1);
        add(&archive, 2, 2_000..2_500, 1);
    }
    let (archive, opened) = Archive::open(storage(), WIDTH).unwrap();
    assert_eq!((opened.runs, opened.records), (2, 2_500));
    for n in (0..2_500).step_by(7) {
        assert_eq!(
            archive.get(&key(n)).unwrap().as_deref(),
            Some(value(n, 1).as_slice())
        );
    }
    assert_eq!(archive.get(&key(2_500)).unwrap(), None);
    // A new run after a reopen never takes an old one's name.
    let (archive, _) = Archive::open(storage(), WIDTH).unwrap();
    add(&archive, 2, 2_500..2_600, 1);
    assert_eq!(archive.stats().runs, 3);
}

#[test]
fn a_run_is_there_after_a_power_loss_once_added_and_a_run_a_crash_interrupted_is_not() {
    let (sim, storage) = sim();
    let (archive, _) = Archive::open(storage.clone(), WIDTH).unwrap();
    add(&archive, 1, 0..100, 1);
    // The next run's data never reaches the disk: its sync fails.
    sim.fail_sync_after(0);
    let records = [(key(100), value(100, 1))];
    let refs: Vec<(&[u8], &[u8])> = records
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    assert!(archive.add(1, &refs).is_err());
    drop(archive);
    sim.crash(Crash::KeepWritten);
    let (archive, opened) = Archive::open(storage.clone(), WIDTH).unwrap();
    assert_eq!(opened.unfinished_removed, 1, "{opened:?}");
    assert_eq!((opened.runs, opened.records), (1, 100));
    assert_eq!(
        archive.get(&key(99)).unwrap().as_deref(),
        Some(value(99, 1).as_slice())
    );
    assert_eq!(archive.get(&key(100)).unwrap(), None);
    drop(archive);
    sim.crash(Crash::DropUnsynced);
    let (archive, opened) = Archive::open(storage, WIDTH).unwrap();
    assert_eq!((opened.runs, opened.records), (1, 100));
    assert_eq!(
        archive.get(&key(0)).unwrap().as_deref(),
        Some(value(0, 1).as_slice())
    );
}

#[test]
fn a_merge_keeps_every_record_of_its_day_and_a_crash_during_it_loses_none() {
    let (sim, storage) = sim();
    let (archive, _) = Archive::open(storage.clone(), WIDTH).unwrap();
    for batch in 0..4u64 {
        add(&archive, 9, batch * 100..batch * 100 + 100, 1);
    }
    add(&archive, 10, 400..450, 1);
    assert_eq!(archive.merge_day(9).unwrap(), 4);
    assert_eq!(
        archive.merge_day(9).unwrap(),
        0,
        "one run: nothing to merge"
    );
    let stats = archive.stats();
    assert_eq!((stats.runs, stats.records), (2, 450));
    for n in 0..450 {
        assert_eq!(
            archive.get(&key(n)).unwrap().as_deref(),
            Some(value(n, 1).as_slice())
        );
    }
    // A merge whose old runs were not removed yet (a crash between its two steps): both
    // are found, and the copies agree.
    add(&archive, 10, 450..460, 1);
    let (k, v) = (key(455), value(455, 1));
    write_run(
        storage.as_ref(),
        &run_name((10, 999)),
        WIDTH,
        &[(&k, &v)],
        u64::MAX,
    )
    .unwrap();
    drop(archive);
    sim.crash(Crash::DropUnsynced);
    let (archive, opened) = Archive::open(storage, WIDTH).unwrap();
    assert_eq!(opened.runs, 4);
    assert_eq!(archive.merge_day(10).unwrap(), 3);
    assert_eq!(archive.stats().records, 460);
    for n in 0..460 {
        assert_eq!(
            archive.get(&key(n)).unwrap().as_deref(),
            Some(value(n, 1).as_slice())
        );
    }
}

#[test]
fn days_before_the_window_leave_whole_and_later_days_stay() {
    let (_, storage) = sim();
    let (archive, _) = Archive::open(storage.clone(), WIDTH).unwrap();
    for day in 0..5u32 {
        let base = u64::from(day) * 10;
        add(&archive, day, base..base + 10, 1);
    }
    assert_eq!(archive.drop_days_before(3).unwrap(), 30);
    assert_eq!(archive.get(&key(29)).unwrap(), None);
    assert_eq!(
        archive.get(&key(30)).unwrap().as_deref(),
        Some(value(30, 1).as_slice())
    );
    let (archive, opened) = Archive::open(storage, WIDTH).unwrap();
    assert_eq!((opened.runs, opened.records), (2, 20));
    assert_eq!(archive.get(&key(5)).unwrap(), None);
}

#[test]
fn a_damaged_record_is_an_error_and_a_damaged_header_refuses_to_open() {
    let (sim, storage) = sim();
    let (archive, _) = Archive::open(storage.clone(), WIDTH).unwrap();
    add(&archive, 3, 0..10, 1);
    drop(archive);
    let name = run_name((3, 1));
    // The last byte of the file is the last value's last byte.
    sim.corrupt(&name, |bytes| *bytes.last_mut().unwrap() ^= 0x40);
    let (archive, _) = Archive::open(storage.clone(), WIDTH).unwrap();
    assert!(archive.get(&key(0)).unwrap().is_some());
    let err = archive.get(&key(9)).unwrap_err();
    assert!(matches!(err, RunError::Damaged { .. }), "{err}");
    drop(archive);
    sim.corrupt(&name, |bytes| bytes[20] ^= 1);
    let err = Archive::open(storage.clone(), WIDTH)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("checksum"), "{err}");
    // Another key width is refused by name.
    sim.corrupt(&name, |bytes| bytes[20] ^= 1);
    let err = Archive::open(storage, 16).err().expect("refused");
    assert!(err.to_string().contains("keys of 32 bytes"), "{err}");
}

#[test]
fn unknown_keys_almost_never_pass_the_filters() {
    let (_, storage) = sim();
    let (archive, _) = Archive::open(storage, WIDTH).unwrap();
    add(&archive, 1, 0..50_000, 1);
    add(&archive, 2, 50_000..100_000, 1);
    let passed = (1_000_000..1_200_000)
        .filter(|n| archive.may_contain(&key(*n)))
        .count();
    // Two runs of about one in 65,000 each: a few of 200,000.
    assert!(
        passed < 40,
        "{passed} of 200,000 unknown keys passed a filter"
    );
    // About 2.25 bytes a record for the runs' filters, and the filter of every key,
    // which starts with room for a million keys (12 bits each, 2 MiB in blocks).
    assert!(
        archive.stats().heap_bytes < 100_000 * 3 + (2 << 20),
        "{:?}",
        archive.stats()
    );
}

#[test]
fn run_names_parse_back_and_others_are_ignored() {
    assert_eq!(parse_run_name(&run_name((20_421, 7))), Some((20_421, 7)));
    assert_eq!(parse_run_name("run-1-2.arc"), None);
    assert_eq!(parse_run_name("snapshot-000001"), None);
}

#[test]
fn size_tiered_merges_rewrite_each_record_a_few_times_not_at_every_merge() {
    let (_, storage) = sim();
    let (archive, _) = Archive::open(storage, WIDTH).unwrap();
    let mut written = 0u64;
    let mut n = 0u64;
    // 200 batches of 10 records into one day, merging as the writer thread does.
    for _ in 0..200 {
        add(&archive, 4, n..n + 10, 1);
        n += 10;
        written += 10;
        while archive.merge_tier(4, 8, usize::MAX).unwrap() > 0 {
            written += archive.stats().records; // an upper bound on what one merge wrote
            assert!(archive.runs_of_day(4) < 40);
        }
    }
    for k in (0..n).step_by(13) {
        assert_eq!(
            archive.get(&key(k)).unwrap().as_deref(),
            Some(value(k, 1).as_slice())
        );
    }
    let stats = archive.stats();
    assert_eq!(stats.records, n, "no record twice once merged: {stats:?}");
    assert!(
        archive.runs_of_day(4) <= 3 * 7 + 1,
        "{} runs",
        archive.runs_of_day(4)
    );
    // Whole-day merges at every ninth run would have written about n × n / 80 records.
    assert!(written < n * 20, "{written} records written for {n}");
}

#[test]
fn merges_never_make_a_run_larger_than_the_bound() {
    let (_, storage) = sim();
    let (archive, _) = Archive::open(storage, WIDTH).unwrap();
    let mut n = 0u64;
    for _ in 0..100 {
        add(&archive, 6, n..n + 10, 1);
        n += 10;
        while archive.merge_tier(6, 4, 100).unwrap() > 0 {}
    }
    let stats = archive.stats();
    assert_eq!(stats.records, n);
    // 1,000 records in runs of at most 100: at least 10 runs, and no tier left full.
    assert!(archive.runs_of_day(6) >= 10, "{stats:?}");
    assert!(archive.merge_tier(6, 4, 100).unwrap() == 0);
    for k in (0..n).step_by(7) {
        assert_eq!(
            archive.get(&key(k)).unwrap().as_deref(),
            Some(value(k, 1).as_slice())
        );
    }
}
