//! The set of files a log consists of, shared by the writer (which adds segments) and
//! the snapshot thread (which adds snapshots and deletes what they make unnecessary).

use crate::format::{
    parse_lsn_name, CORRUPT_SUFFIX, LOCK_FILE, SEGMENT_SUFFIX, SNAPSHOT_SUFFIX, TEMP_SUFFIX,
};
use crate::Lsn;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentMeta {
    pub name: String,
    pub id: u64,
    pub first_lsn: Lsn,
}

#[derive(Debug, Default)]
pub(crate) struct Layout {
    /// Every segment file, by ascending first LSN; the last one is being written.
    pub segments: Vec<SegmentMeta>,
    /// The LSNs of the snapshot files kept, ascending.
    pub snapshots: Vec<Lsn>,
}

impl Layout {
    /// Checks the invariants the writer and recovery rely on.
    pub fn assert_consistent(&self) {
        for pair in self.segments.windows(2) {
            assert!(
                pair[0].first_lsn < pair[1].first_lsn,
                "segments out of order: {pair:?}"
            );
            assert_eq!(
                pair[0].id + 1,
                pair[1].id,
                "segment ids not consecutive: {pair:?}"
            );
        }
        for pair in self.snapshots.windows(2) {
            assert!(
                pair[0] < pair[1],
                "snapshots out of order: {:?}",
                self.snapshots
            );
        }
    }
}

/// What a file in a log directory is, judged by its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Segment(Lsn),
    Snapshot(Lsn),
    /// A segment or snapshot that was being created when the process stopped, or the
    /// spare segment (see `crate::spare`).
    Temp,
    /// The lock file, or a snapshot recovery set aside as corrupt.
    Known,
    Unknown,
}

pub(crate) fn classify(name: &str) -> FileKind {
    if let Some(lsn) = parse_lsn_name(name, SEGMENT_SUFFIX) {
        FileKind::Segment(lsn)
    } else if let Some(lsn) = parse_lsn_name(name, SNAPSHOT_SUFFIX) {
        FileKind::Snapshot(lsn)
    } else if name.ends_with(TEMP_SUFFIX) {
        FileKind::Temp
    } else if name == LOCK_FILE || name.ends_with(CORRUPT_SUFFIX) {
        FileKind::Known
    } else {
        FileKind::Unknown
    }
}

/// Splits a directory listing into segment and snapshot names (each sorted by LSN),
/// temporary files and unknown files.
pub(crate) struct Listing {
    pub segments: Vec<(Lsn, String)>,
    pub snapshots: Vec<(Lsn, String)>,
    pub temps: Vec<String>,
    pub unknown: Vec<String>,
}

pub(crate) fn sort_listing(names: Vec<String>) -> Listing {
    let mut listing = Listing {
        segments: Vec::new(),
        snapshots: Vec::new(),
        temps: Vec::new(),
        unknown: Vec::new(),
    };
    for name in names {
        match classify(&name) {
            FileKind::Segment(lsn) => listing.segments.push((lsn, name)),
            FileKind::Snapshot(lsn) => listing.snapshots.push((lsn, name)),
            FileKind::Temp => listing.temps.push(name),
            FileKind::Known => {}
            FileKind::Unknown => listing.unknown.push(name),
        }
    }
    listing.segments.sort();
    listing.snapshots.sort();
    listing.temps.sort();
    listing.unknown.sort();
    listing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::SPARE_SEGMENT_FILE;

    #[test]
    fn a_spare_segment_is_a_temporary_file_not_a_segment() {
        assert_eq!(classify(SPARE_SEGMENT_FILE), FileKind::Temp);
        let listing = sort_listing(vec![
            SPARE_SEGMENT_FILE.to_string(),
            "00000000000000000001.wal".to_string(),
        ]);
        assert_eq!(
            listing.segments,
            vec![(1, "00000000000000000001.wal".to_string())]
        );
        assert_eq!(listing.temps, vec![SPARE_SEGMENT_FILE.to_string()]);
    }
}
