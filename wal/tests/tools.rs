//! `omnibus wal verify` and `omnibus wal dump`, as library functions.

mod common;

use std::fs;

use common::*;
use omnibus_wal::tools::{dump, verify};
use omnibus_wal::SyncMode;

#[test]
fn verify_reports_counts_and_no_problem_for_a_healthy_log() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    append(&wal, 1, 0, 250, 25);
    wal.shutdown().unwrap();
    let report = verify(dir.path());
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records, 250);
    assert_eq!((report.first_lsn, report.last_lsn), (Some(1), Some(250)));
    assert_eq!(report.segments, segment_files(dir.path()).len());
    let text = report.to_string();
    assert!(text.contains("250 records"), "{text}");
    assert!(text.ends_with("OK"), "{text}");
}

#[test]
fn verify_names_the_first_problem_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    append(&wal, 1, 0, 250, 25);
    wal.shutdown().unwrap();
    let segment = segment_files(dir.path())[0].clone();
    let mut bytes = fs::read(&segment).unwrap();
    let damaged = frame_offsets(&bytes)[3];
    bytes[damaged + 34] ^= 0x20;
    fs::write(&segment, &bytes).unwrap();
    let report = verify(dir.path());
    let problem = report.problem.clone().expect("a problem");
    assert_eq!(problem.file, segment);
    assert_eq!(problem.offset, damaged as u64);
    assert_eq!(report.records, 3, "counted up to the problem");
    let text = report.to_string();
    assert!(text.contains(&format!("offset {damaged}")), "{text}");
    assert!(text.contains("FIRST PROBLEM"), "{text}");
}

#[test]
fn verify_reports_a_torn_tail_without_changing_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    append(&wal, 1, 0, 40, 10);
    wal.shutdown().unwrap();
    let last = segment_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&last).unwrap();
    let torn = *frame_offsets(&bytes).last().unwrap();
    bytes[torn + 33] ^= 0x01;
    fs::write(&last, &bytes).unwrap();
    let report = verify(dir.path());
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.torn_tail.as_ref().unwrap().offset, torn as u64);
    assert_eq!(report.records, 39);
    assert_eq!(fs::read(&last).unwrap(), bytes, "verify never writes");
}

#[test]
fn dump_prints_one_line_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_options(dir.path(), SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    append(&wal, 4, 0, 30, 10);
    wal.shutdown().unwrap();
    let mut out = Vec::new();
    dump(
        dir.path(),
        &|record| format!("first byte {}", record.payload[0]),
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let records: Vec<&str> = text.lines().filter(|line| !line.starts_with('#')).collect();
    assert_eq!(records.len(), 30);
    let expected = format!(
        "lsn=1 actor=4 actor_seq=0 bytes={} first byte {}",
        payload(4, 0).len(),
        payload(4, 0)[0]
    );
    assert_eq!(records[0], expected);
    assert!(
        text.starts_with("# segment 00000000000000000001.wal: id 1, first LSN 1"),
        "{text}"
    );
}
