//! Damage to real segment files: a torn or flipped tail is truncated with every record
//! before it intact; damage to synced data (a later frame says it was synced), in a
//! sealed segment, in a header or a gap refuses to start, naming file and offset, and
//! leaves the files as they were. A log in an older format version is refused as such.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use omnibus_wal::{SyncMode, WalError, WalOptions};

/// A closed log of `records` records (actor 1) in 16 KiB segments.
fn written_log(dir: &Path, records: u64) -> (WalOptions, Vec<Rec>) {
    let options = small_options(dir, SyncMode::Always);
    let wal = open(&options).unwrap().into_wal().unwrap();
    let acked = append(&wal, 1, 0, records, 25);
    wal.shutdown().unwrap();
    (options, acked)
}

fn snapshot_of_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap() != "LOCK")
        .map(|path| {
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

fn modify(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).unwrap();
    change(&mut bytes);
    fs::write(path, bytes).unwrap();
}

fn expect_corrupt(options: &WalOptions, file: &Path, offset: u64) -> String {
    let before = snapshot_of_files(&options.dir);
    match open(options) {
        Err(error @ WalError::Corrupt { .. }) => {
            let WalError::Corrupt {
                file: found_file,
                offset: found_offset,
                ..
            } = &error
            else {
                unreachable!()
            };
            assert_eq!(found_file, file, "{error}");
            assert_eq!(*found_offset, offset, "{error}");
            let message = error.to_string();
            assert!(
                message.contains(&file.display().to_string()),
                "the message names the file: {message}"
            );
            assert!(
                message.contains(&format!("offset {offset}")),
                "the message names the offset: {message}"
            );
            assert_eq!(
                snapshot_of_files(&options.dir),
                before,
                "a refused open changes nothing"
            );
            message
        }
        Err(other) => panic!(
            "expected Corrupt at {}:{offset}, got {other}",
            file.display()
        ),
        Ok(recovery) => panic!(
            "expected Corrupt at {}:{offset}, but the log opened with next LSN {}",
            file.display(),
            recovery.next_lsn()
        ),
    }
}

#[test]
fn torn_tail_is_truncated_and_earlier_records_survive() {
    let dir = tempfile::tempdir().unwrap();
    let (options, acked) = written_log(dir.path(), 200);
    let last = segment_files(dir.path()).pop().unwrap();
    let bytes = fs::read(&last).unwrap();
    let offsets = frame_offsets(&bytes);
    let torn_at = *offsets.last().unwrap();
    let frame_end = torn_at
        + 32
        + bytes[torn_at..torn_at + 4]
            .iter()
            .rev()
            .fold(0usize, |n, b| n * 256 + *b as usize);
    // The second half of the last write never reached the disk.
    modify(&last, |bytes| {
        bytes[(torn_at + frame_end) / 2..frame_end].fill(0)
    });

    let recovery = open(&options).unwrap();
    let torn = recovery
        .report()
        .torn_tail
        .clone()
        .expect("a torn tail was truncated");
    assert_eq!(torn.file, last);
    assert_eq!(torn.offset, torn_at as u64);
    let recovered = read_all(&recovery);
    assert_eq!(
        recovered,
        acked[..acked.len() - 1],
        "every record before the tear survives"
    );
    assert_eq!(recovery.next_lsn(), 200);
    let after = fs::read(&last).unwrap();
    assert!(
        after[torn_at..].iter().all(|byte| *byte == 0),
        "the tail is zeroed from the tear on"
    );
    assert_eq!(
        after[..torn_at],
        bytes[..torn_at],
        "nothing before the tear changed"
    );

    // Appends continue at the tear, and a later open sees one contiguous log.
    let wal = recovery.into_wal().unwrap();
    let more = append(&wal, 2, 0, 50, 10);
    assert_eq!(more[0].lsn, 200);
    wal.shutdown().unwrap();
    let recovery = open(&options).unwrap();
    assert!(recovery.report().torn_tail.is_none());
    let mut expected = acked[..acked.len() - 1].to_vec();
    expected.extend(more);
    assert_eq!(read_all(&recovery), expected);
}

#[test]
fn torn_tail_with_stale_garbage_after_it_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (options, acked) = written_log(dir.path(), 120);
    let last = segment_files(dir.path()).pop().unwrap();
    let bytes = fs::read(&last).unwrap();
    let torn_at = *frame_offsets(&bytes).last().unwrap();
    let mut rng = Rng(7);
    modify(&last, |bytes| {
        for byte in &mut bytes[torn_at + 40..torn_at + 3000] {
            *byte = rng.next_u64() as u8;
        }
    });
    let recovery = open(&options).unwrap();
    assert_eq!(
        recovery.report().torn_tail.as_ref().unwrap().offset,
        torn_at as u64
    );
    assert_eq!(read_all(&recovery), acked[..acked.len() - 1]);
    drop(recovery);
    assert!(fs::read(&last).unwrap()[torn_at..]
        .iter()
        .all(|byte| *byte == 0));
}

#[test]
fn bit_flip_in_the_tail_frame_is_truncated_as_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let (options, acked) = written_log(dir.path(), 100);
    let last = segment_files(dir.path()).pop().unwrap();
    let torn_at = *frame_offsets(&fs::read(&last).unwrap()).last().unwrap();
    modify(&last, |bytes| bytes[torn_at + 33] ^= 0x04);
    let recovery = open(&options).unwrap();
    assert_eq!(
        recovery.report().torn_tail.as_ref().unwrap().offset,
        torn_at as u64
    );
    assert_eq!(read_all(&recovery), acked[..acked.len() - 1]);
}

#[test]
fn bit_flip_in_the_middle_refuses_to_start_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = written_log(dir.path(), 200);
    let last = segment_files(dir.path()).pop().unwrap();
    let offsets = frame_offsets(&fs::read(&last).unwrap());
    assert!(offsets.len() >= 3);
    let damaged = offsets[offsets.len() / 2];
    modify(&last, |bytes| bytes[damaged + 40] ^= 0x01);
    let message = expect_corrupt(&options, &last, damaged as u64);
    assert!(message.contains("CRC"), "{message}");
    assert!(message.contains("not a torn final write"), "{message}");
}

#[test]
fn bit_flip_in_an_lsn_field_in_the_middle_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = written_log(dir.path(), 200);
    let last = segment_files(dir.path()).pop().unwrap();
    let offsets = frame_offsets(&fs::read(&last).unwrap());
    let damaged = offsets[1];
    modify(&last, |bytes| bytes[damaged + 9] ^= 0x80);
    expect_corrupt(&options, &last, damaged as u64);
}

#[test]
fn zeroed_length_field_in_the_middle_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = written_log(dir.path(), 200);
    let last = segment_files(dir.path()).pop().unwrap();
    let offsets = frame_offsets(&fs::read(&last).unwrap());
    let damaged = offsets[offsets.len() / 2];
    modify(&last, |bytes| bytes[damaged..damaged + 4].fill(0));
    expect_corrupt(&options, &last, damaged as u64);
}

#[test]
fn bit_flip_in_a_sealed_segment_refuses_to_start_even_in_its_last_frame() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = written_log(dir.path(), 300);
    let segments = segment_files(dir.path());
    assert!(segments.len() >= 3);
    let sealed = &segments[1];
    let damaged = *frame_offsets(&fs::read(sealed).unwrap()).last().unwrap();
    modify(sealed, |bytes| bytes[damaged + 35] ^= 0x10);
    let message = expect_corrupt(&options, sealed, damaged as u64);
    assert!(message.contains("sealed segment"), "{message}");
}

#[test]
fn damaged_segment_header_refuses_to_start() {
    for which in [0usize, 1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let (options, _) = written_log(dir.path(), 300);
        let segments = segment_files(dir.path());
        let target = if which == 2 {
            segments.last().unwrap().clone()
        } else {
            segments[which].clone()
        };
        modify(&target, |bytes| bytes[26] ^= 0x01);
        let message = expect_corrupt(&options, &target, 60);
        assert!(message.contains("header CRC"), "{message}");
    }
}

#[test]
fn missing_middle_segment_refuses_to_start_naming_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = written_log(dir.path(), 300);
    let segments = segment_files(dir.path());
    assert!(segments.len() >= 3);
    fs::remove_file(&segments[1]).unwrap();
    let message = expect_corrupt(&options, &segments[2], 16);
    assert!(message.contains("segment id"), "{message}");
}

#[test]
fn missing_first_segment_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = written_log(dir.path(), 300);
    let segments = segment_files(dir.path());
    fs::remove_file(&segments[0]).unwrap();
    let message = expect_corrupt(&options, &segments[1], 24);
    assert!(message.contains("no valid snapshot"), "{message}");
}

#[test]
fn a_valid_frame_after_a_tear_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = written_log(dir.path(), 100);
    let last = segment_files(dir.path()).pop().unwrap();
    let bytes = fs::read(&last).unwrap();
    let offsets = frame_offsets(&bytes);
    let torn_at = *offsets.last().unwrap();
    let first = offsets[0];
    let first_size = offsets[1] - offsets[0];
    modify(&last, |bytes| {
        bytes[torn_at + 36] ^= 0xff;
        // An intact frame lies beyond the tear: that is not what a torn write leaves.
        let copy = bytes[first..first + first_size].to_vec();
        let at = (bytes.len() - first_size) / 8 * 8;
        assert!(at > torn_at + 300, "the copy lies past the torn frame");
        bytes[at..at + first_size].copy_from_slice(&copy);
    });
    let message = expect_corrupt(&options, &last, torn_at as u64);
    assert!(message.contains("cannot lie there"), "{message}");
}

#[test]
fn a_log_in_format_version_1_is_refused_as_unsupported_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = written_log(dir.path(), 300);
    let segments = segment_files(dir.path());
    assert!(segments.len() >= 2);
    // Every segment of a log written by an older build says version 1, with a header CRC
    // that checks out.
    for segment in &segments {
        modify(segment, |bytes| {
            bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
            let crc = crc32c::crc32c(&bytes[0..60]);
            bytes[60..64].copy_from_slice(&crc.to_le_bytes());
        });
    }
    let before = snapshot_of_files(&options.dir);
    match open(&options) {
        Err(
            error @ WalError::UnsupportedVersion {
                found: 1,
                supported: 2,
                ..
            },
        ) => {
            let message = error.to_string();
            assert!(
                message.contains(&segments[0].display().to_string()),
                "{message}"
            );
            assert!(message.contains("version 1"), "{message}");
            assert!(message.contains("does not convert"), "{message}");
        }
        Err(other) => panic!("expected UnsupportedVersion, got {other}"),
        Ok(_) => panic!("a version 1 log opened"),
    }
    assert_eq!(snapshot_of_files(&options.dir), before, "nothing changed");
    assert_eq!(
        omnibus_wal::layout_constants::SEGMENT_FORMAT_VERSION,
        2,
        "this test describes the step from version 1 to 2"
    );
    let report = omnibus_wal::tools::verify(dir.path());
    let problem = report.problem.expect("verify names the version");
    assert_eq!((problem.file, problem.offset), (segments[0].clone(), 8));
    assert!(problem.what.contains("version 1"), "{}", problem.what);
}
