//! Crashes cut into a stopped engine's log: the records after a point are zeroed in the
//! segment file, as a crash that lost them would leave it (recovery ends the log at the
//! first zero length). For one-shard engines whose log fits in one segment.

use std::path::{Path, PathBuf};

/// The frames of a segment file: (offset, bytes on disk) of each (docs/wal-format.md).
pub fn frames(segment: &[u8]) -> Vec<(usize, usize)> {
    let mut frames = Vec::new();
    let mut at = 64;
    while at + 40 <= segment.len() {
        let len = u32::from_le_bytes(segment[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        let size = 40 + len.next_multiple_of(8);
        frames.push((at, size));
        at += size;
    }
    frames
}

/// The only segment of shard 0's log under a data directory.
pub fn only_segment(data: &Path) -> PathBuf {
    let shard = data.join("shard-000");
    let mut segments: Vec<_> = std::fs::read_dir(&shard)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    assert_eq!(segments.len(), 1, "one segment in {}", shard.display());
    segments.pop().unwrap()
}

/// How many records shard 0's log holds.
pub fn record_count(data: &Path) -> usize {
    frames(&std::fs::read(only_segment(data)).unwrap()).len()
}

/// Keeps the first `count` records of shard 0's log and zeroes the rest.
pub fn keep_first_records(data: &Path, count: usize) {
    let segment = only_segment(data);
    let mut bytes = std::fs::read(&segment).unwrap();
    let frames = frames(&bytes);
    assert!(frames.len() >= count);
    for (offset, size) in &frames[count..] {
        bytes[*offset..offset + size].fill(0);
    }
    std::fs::write(segment, bytes).unwrap();
}

/// Drops the last `count` records of shard 0's log, as a crash that tore the last group
/// commits would.
pub fn tear_last_records(data: &Path, count: usize) {
    let total = record_count(data);
    assert!(total > count);
    keep_first_records(data, total - count);
}

/// A stopped engine's data directory, as it is (the outside world's journal included),
/// without the spare segment, which recovery deletes anyway.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &target);
        } else if !path.to_string_lossy().ends_with(".tmp") {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
