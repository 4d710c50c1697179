//! Read-only inspection for people: `omnibus wal verify DIR` and `omnibus wal dump DIR`.
//!
//! Both judge the log by the same rules as recovery, but check every segment and every
//! snapshot (recovery skips the segments before the snapshot it starts from), and never
//! change a file. Run on the log of a live process, they may report a torn tail that is
//! only a write in flight.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::format::{frame_bytes, FrameHeader, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use crate::layout::sort_listing;
use crate::recovery::RecordRef;
use crate::scan::{scan_segment, ScanEnd, Verdict};
use crate::snapshot::read_snapshot;
use crate::storage::{FileStorage, Storage};
use crate::Lsn;

/// Where a problem is and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub offset: u64,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte offset {}: {}",
            self.file.display(),
            self.offset,
            self.what
        )
    }
}

/// What `verify` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub dir: PathBuf,
    pub segments: usize,
    pub records: u64,
    /// Frame bytes (headers and padding included).
    pub record_bytes: u64,
    pub first_lsn: Option<Lsn>,
    pub last_lsn: Option<Lsn>,
    pub snapshots: usize,
    pub snapshots_damaged: usize,
    pub newest_valid_snapshot_lsn: Option<Lsn>,
    /// A torn final write that the next open will truncate (not a problem).
    pub torn_tail: Option<Problem>,
    /// The first problem that makes (or, for segments before the snapshot, would make
    /// after a fallback) the log refuse to start.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lsns = match (self.first_lsn, self.last_lsn) {
            (Some(first), Some(last)) => format!("LSN {first}..={last}"),
            _ => "no records".to_string(),
        };
        writeln!(
            f,
            "{}: {} segments, {} records ({lsns}), {} record bytes, {} snapshots ({} damaged, newest valid at LSN {})",
            self.dir.display(),
            self.segments,
            self.records,
            self.record_bytes,
            self.snapshots,
            self.snapshots_damaged,
            self.newest_valid_snapshot_lsn.map_or("-".to_string(), |lsn| lsn.to_string()),
        )?;
        if let Some(torn) = &self.torn_tail {
            writeln!(f, "torn tail (truncated at the next open): {torn}")?;
        }
        match &self.problem {
            Some(problem) => write!(f, "FIRST PROBLEM: {problem}"),
            None => write!(f, "OK"),
        }
    }
}

/// Checks every frame of every segment and every snapshot of the log in `dir`.
pub fn verify(dir: &Path) -> VerifyReport {
    verify_storage(&FileStorage::new(dir), dir)
}

/// As [`verify`], on any storage.
pub fn verify_storage(storage: &dyn Storage, dir: &Path) -> VerifyReport {
    let mut report = VerifyReport {
        dir: dir.to_path_buf(),
        ..VerifyReport::default()
    };
    let _ = walk(storage, &mut report, &mut |_| Ok(()));
    report
}

/// Writes one line per record (`lsn=.. actor=.. actor_seq=.. bytes=.. <decode>`), with
/// `#` comment lines for segments, snapshots, a torn tail and the first problem. Returns
/// an `InvalidData` error after the dump when the log has a problem.
pub fn dump(
    dir: &Path,
    decode: &dyn Fn(&RecordRef) -> String,
    out: &mut dyn Write,
) -> io::Result<()> {
    dump_storage(&FileStorage::new(dir), dir, decode, out)
}

/// As [`dump`], on any storage.
pub fn dump_storage(
    storage: &dyn Storage,
    dir: &Path,
    decode: &dyn Fn(&RecordRef) -> String,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut report = VerifyReport {
        dir: dir.to_path_buf(),
        ..VerifyReport::default()
    };
    walk(storage, &mut report, &mut |event| match event {
        Event::Snapshot { name, lsn, bytes } => {
            writeln!(out, "# snapshot {name}: LSN {lsn}, {bytes} bytes")
        }
        Event::Segment {
            name,
            id,
            first_lsn,
        } => writeln!(out, "# segment {name}: id {id}, first LSN {first_lsn}"),
        Event::Record(record) => writeln!(
            out,
            "lsn={} actor={} actor_seq={} bytes={} {}",
            record.lsn,
            record.actor,
            record.actor_seq,
            record.payload.len(),
            decode(&record)
        ),
    })?;
    if let Some(torn) = &report.torn_tail {
        writeln!(out, "# torn tail (truncated at the next open): {torn}")?;
    }
    match &report.problem {
        Some(problem) => {
            writeln!(out, "# PROBLEM: {problem}")?;
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                problem.to_string(),
            ))
        }
        None => Ok(()),
    }
}

enum Event<'a> {
    Snapshot {
        name: &'a str,
        lsn: Lsn,
        bytes: usize,
    },
    Segment {
        name: &'a str,
        id: u64,
        first_lsn: Lsn,
    },
    Record(RecordRef<'a>),
}

/// Reads the whole log in order, filling `report` and calling `visit` for each snapshot,
/// segment and valid record. Stops at the first problem.
fn walk(
    storage: &dyn Storage,
    report: &mut VerifyReport,
    visit: &mut dyn FnMut(Event) -> io::Result<()>,
) -> io::Result<()> {
    let problem = |name: &str, offset: u64, what: String| Problem {
        file: storage.path(name),
        offset,
        what,
    };
    let names = match storage.list() {
        Ok(names) => names,
        Err(error) => {
            report.problem = Some(problem(
                "",
                0,
                format!("cannot list the directory: {error}"),
            ));
            return Ok(());
        }
    };
    let listing = sort_listing(names);
    report.segments = listing.segments.len();
    report.snapshots = listing.snapshots.len();
    for (lsn, name) in listing.snapshots.iter().rev() {
        match read_snapshot(storage, name, *lsn) {
            Ok(Ok(snapshot)) => {
                report.newest_valid_snapshot_lsn =
                    report.newest_valid_snapshot_lsn.or(Some(snapshot.lsn));
                visit(Event::Snapshot {
                    name,
                    lsn: *lsn,
                    bytes: snapshot.bytes.len(),
                })?;
            }
            Ok(Err((offset, what))) => {
                report.snapshots_damaged += 1;
                if report.problem.is_none() {
                    report.problem =
                        Some(problem(name, offset, format!("damaged snapshot: {what}")));
                }
            }
            Err(error) => {
                report
                    .problem
                    .get_or_insert(problem(name, 0, error.to_string()));
            }
        }
    }
    let mut previous: Option<(u64, Lsn, String)> = None;
    for (index, (name_lsn, name)) in listing.segments.iter().enumerate() {
        let is_last = index + 1 == listing.segments.len();
        let region = match storage.open(name, false).and_then(|file| file.map()) {
            Ok(region) => region,
            Err(error) => {
                report
                    .problem
                    .get_or_insert(problem(name, 0, format!("cannot read: {error}")));
                return Ok(());
            }
        };
        let scan = match scan_segment(&region, *name_lsn) {
            Ok(scan) => scan,
            Err((offset, what)) => {
                report.problem.get_or_insert(problem(name, offset, what));
                return Ok(());
            }
        };
        match &previous {
            Some((id, next_lsn, previous_name)) => {
                if scan.header.segment_id != id + 1 {
                    report.problem.get_or_insert(problem(
                        name,
                        16,
                        format!(
                            "segment id {} follows segment id {id} ({previous_name})",
                            scan.header.segment_id
                        ),
                    ));
                    return Ok(());
                }
                if scan.header.first_lsn != *next_lsn {
                    report.problem.get_or_insert(problem(
                        name,
                        24,
                        format!(
                            "LSN gap: {previous_name} ends before LSN {next_lsn} but this segment starts at LSN {}",
                            scan.header.first_lsn
                        ),
                    ));
                    return Ok(());
                }
            }
            None => {
                let covered = report.newest_valid_snapshot_lsn.unwrap_or(1);
                if scan.header.first_lsn > covered {
                    report.problem.get_or_insert(problem(
                        name,
                        24,
                        format!(
                            "the oldest segment starts at LSN {} but records from LSN {covered} on are needed",
                            scan.header.first_lsn
                        ),
                    ));
                }
            }
        }
        visit(Event::Segment {
            name,
            id: scan.header.segment_id,
            first_lsn: scan.header.first_lsn,
        })?;
        let mut offset = SEGMENT_HEADER_BYTES as usize;
        for _ in 0..scan.records {
            let header = FrameHeader::decode(&region[offset..]);
            let size = frame_bytes(header.payload_bytes as usize);
            let payload = &region[offset + FRAME_HEADER_BYTES
                ..offset + FRAME_HEADER_BYTES + header.payload_bytes as usize];
            report.records += 1;
            report.record_bytes += size as u64;
            report.first_lsn.get_or_insert(header.lsn);
            report.last_lsn = Some(header.lsn);
            visit(Event::Record(RecordRef {
                lsn: header.lsn,
                actor: header.actor,
                actor_seq: header.actor_seq,
                payload,
            }))?;
            offset += size;
        }
        if let ScanEnd::Bad { what, verdict, .. } = &scan.end {
            let found = problem(name, scan.data_end, what.clone());
            match (is_last, verdict) {
                (true, Verdict::Unsynced { frames_after }) => {
                    report.torn_tail = Some(if *frames_after == 0 {
                        found
                    } else {
                        Problem {
                            what: format!(
                                "{what}; {frames_after} valid frames after it were never synced"
                            ),
                            ..found
                        }
                    })
                }
                (true, Verdict::Damage { why, .. }) => {
                    report.problem.get_or_insert(Problem {
                        what: format!("{what}; {why}"),
                        ..found
                    });
                    return Ok(());
                }
                (false, _) => {
                    report.problem.get_or_insert(Problem {
                        what: format!("{what}, in a sealed segment"),
                        ..found
                    });
                    return Ok(());
                }
            }
        }
        previous = Some((scan.header.segment_id, scan.next_lsn(), name.clone()));
    }
    if let (Some(lsn), Some((_, next_lsn, name))) = (report.newest_valid_snapshot_lsn, &previous) {
        if lsn > *next_lsn {
            report.problem.get_or_insert(problem(
                name,
                0,
                format!(
                    "the log ends before LSN {next_lsn} but the newest snapshot is at LSN {lsn}"
                ),
            ));
        }
    }
    Ok(())
}
