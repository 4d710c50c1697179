//! Opening a log: choose the newest valid snapshot, validate every segment that holds
//! records after it, truncate a torn tail (damage in the last segment that lies in bytes
//! never synced), and hand the records to replay.
//!
//! Recovery decides everything before it changes anything: when it refuses to start
//! (`WalError::Corrupt`), the directory is left exactly as it was found.

use std::path::PathBuf;
use std::sync::Arc;

use crate::format::{
    frame_bytes, segment_file_name, unsupported_segment_version, FrameHeader, CORRUPT_SUFFIX,
    FRAME_HEADER_BYTES, SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES,
};
use crate::layout::{sort_listing, Layout, SegmentMeta};
use crate::scan::{check_header, scan_segment, ScanEnd, SegmentScan, Verdict};
use crate::snapshot::{read_snapshot, Snapshot};
use crate::storage::{FileStorage, Region, Storage};
use crate::wal::{Started, Wal};
use crate::writer::{create_segment, ActiveSegment};
use crate::{Lsn, WalError, WalOptions};

/// One record as read back: the payload is exactly the bytes appended, 8-byte aligned,
/// borrowed from the mapped segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub lsn: Lsn,
    pub actor: u64,
    pub actor_seq: u64,
    pub payload: &'a [u8],
}

/// What recovery did to the directory, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The segment whose torn tail was zeroed, the offset where the tear began, and what
    /// was found there.
    pub torn_tail: Option<TornTail>,
    /// Snapshots found damaged and renamed with a `.corrupt` suffix.
    pub corrupt_snapshots: Vec<PathBuf>,
    /// Leftover temporary files removed.
    pub temp_files_removed: Vec<String>,
    /// Segment files present, and those validated frame by frame (the ones holding
    /// records at or after the snapshot).
    pub segments: usize,
    pub segments_validated: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    pub offset: u64,
    pub what: String,
    /// Frames with a valid CRC found after the tear and zeroed with it: written but never
    /// synced (no frame says the torn LSN was synced), so never acknowledged under
    /// `SyncMode::Always`. Non-zero only when the disk kept a later part of an unsynced
    /// write but not an earlier one.
    pub discarded_frames: u64,
}

struct ReplaySegment {
    name: String,
    region: Region,
    first_lsn: Lsn,
    data_end: u64,
}

/// A recovered log, ready to replay. No appends happen until [`Recovery::into_wal`].
pub struct Recovery {
    options: WalOptions,
    storage: Arc<dyn Storage>,
    lock: Box<dyn std::any::Any + Send + Sync>,
    snapshot: Option<Snapshot>,
    replay: Vec<ReplaySegment>,
    /// The first LSN `records` yields.
    start_lsn: Lsn,
    next_lsn: Lsn,
    layout: Layout,
    /// The last segment, where appends continue: (id, first LSN, size, data end).
    tail: Option<(u64, Lsn, u64, u64)>,
    report: RecoveryReport,
}

impl Wal {
    /// Opens (creating if absent) the log directory `options.dir`: loads the newest valid
    /// snapshot, validates the segments, truncates a torn tail, and returns what to
    /// replay.
    pub fn open(options: WalOptions) -> Result<Recovery, WalError> {
        let storage = Arc::new(FileStorage::new(options.dir.clone()));
        Wal::open_with_storage(options, storage)
    }

    /// As [`Wal::open`], on any storage (tests use [`crate::storage::SimStorage`]).
    pub fn open_with_storage(
        options: WalOptions,
        storage: Arc<dyn Storage>,
    ) -> Result<Recovery, WalError> {
        options.validate()?;
        recover(options, storage)
    }
}

fn io_error(
    storage: &dyn Storage,
    name: &str,
    op: &'static str,
) -> impl FnOnce(std::io::Error) -> WalError {
    let path = storage.path(name);
    move |error| WalError::io(path, op, error)
}

/// The error for a segment header that does not check out: a header that is intact but
/// in another format version is not corruption, and says so.
fn header_error(path: &std::path::Path, bytes: &[u8], offset: u64, what: String) -> WalError {
    match unsupported_segment_version(bytes) {
        Some(found) => WalError::UnsupportedVersion {
            file: path.to_path_buf(),
            found,
            supported: SEGMENT_FORMAT_VERSION,
        },
        None => WalError::corrupt(path, offset, what),
    }
}

fn recover(options: WalOptions, storage: Arc<dyn Storage>) -> Result<Recovery, WalError> {
    let store = storage.as_ref();
    store
        .create_dir()
        .map_err(io_error(store, "", "create directory"))?;
    let lock = store.lock().map_err(|error| {
        if error.kind() == std::io::ErrorKind::WouldBlock {
            WalError::Locked {
                dir: options.dir.clone(),
            }
        } else {
            WalError::io(store.path(crate::format::LOCK_FILE), "lock", error)
        }
    })?;
    let listing = sort_listing(
        store
            .list()
            .map_err(io_error(store, "", "list directory"))?,
    );
    for name in &listing.unknown {
        tracing::warn!(file = %store.path(name).display(), "wal: ignoring a file that is not part of the log");
    }

    // The newest snapshot that reads back intact; newer damaged ones are set aside.
    let mut snapshot = None;
    let mut damaged_snapshots = Vec::new();
    for (lsn, name) in listing.snapshots.iter().rev() {
        match read_snapshot(store, name, *lsn)? {
            Ok(found) => {
                snapshot = Some(found);
                break;
            }
            Err((offset, what)) => {
                tracing::warn!(
                    file = %store.path(name).display(), offset, %what,
                    "wal: snapshot is damaged; falling back to the previous one"
                );
                damaged_snapshots.push(name.clone());
            }
        }
    }
    let start_lsn = snapshot.as_ref().map_or(1, |snapshot| snapshot.lsn);
    let kept_snapshots: Vec<Lsn> = listing
        .snapshots
        .iter()
        .filter(|(_, name)| !damaged_snapshots.contains(name))
        .map(|(lsn, _)| *lsn)
        .collect();

    // Every segment header is checked, ids must run without a gap, and the segments
    // holding records at or after `start_lsn` are validated frame by frame.
    let segments = &listing.segments;
    let first_needed = segments
        .iter()
        .rposition(|(lsn, _)| *lsn <= start_lsn)
        .unwrap_or(0);
    let mut layout = Layout {
        segments: Vec::with_capacity(segments.len()),
        snapshots: kept_snapshots,
    };
    let mut replay: Vec<ReplaySegment> = Vec::new();
    let mut scans: Vec<SegmentScan> = Vec::new();
    for (index, (name_lsn, name)) in segments.iter().enumerate() {
        let path = store.path(name);
        let file = store
            .open(name, false)
            .map_err(io_error(store, name, "open segment"))?;
        let file_bytes = file
            .size_bytes()
            .map_err(io_error(store, name, "stat segment"))?;
        let header = if index < first_needed {
            let mut bytes = vec![0u8; SEGMENT_HEADER_BYTES.min(file_bytes) as usize];
            file.read_at(0, &mut bytes)
                .map_err(io_error(store, name, "read segment header"))?;
            check_header(&bytes, *name_lsn, file_bytes)
                .map_err(|(offset, what)| header_error(&path, &bytes, offset, what))?
        } else {
            let region = file.map().map_err(io_error(store, name, "map segment"))?;
            let scan = scan_segment(&region, *name_lsn)
                .map_err(|(offset, what)| header_error(&path, &region, offset, what))?;
            let header = scan.header;
            replay.push(ReplaySegment {
                name: name.clone(),
                region,
                first_lsn: header.first_lsn,
                data_end: scan.data_end,
            });
            scans.push(scan);
            header
        };
        if let Some(previous) = layout.segments.last() {
            if header.segment_id != previous.id + 1 {
                return Err(WalError::corrupt(
                    &path,
                    16,
                    format!(
                        "segment id {} follows segment id {} ({}): a segment file is missing or foreign",
                        header.segment_id, previous.id, previous.name
                    ),
                ));
            }
        }
        layout.segments.push(SegmentMeta {
            name: name.clone(),
            id: header.segment_id,
            first_lsn: header.first_lsn,
        });
    }

    // The snapshot (or LSN 1) must be covered by the first validated segment.
    if let Some(first) = scans.first() {
        if first.header.first_lsn > start_lsn {
            let name = &replay[0].name;
            return Err(WalError::corrupt(
                store.path(name),
                24,
                match &snapshot {
                    Some(snapshot) => format!(
                        "the oldest segment starts at LSN {} but the snapshot at LSN {} needs the records from {} on",
                        first.header.first_lsn, snapshot.lsn, snapshot.lsn
                    ),
                    None => format!(
                        "the oldest segment starts at LSN {} and no valid snapshot covers the records before it",
                        first.header.first_lsn
                    ),
                },
            ));
        }
    } else if let Some(snapshot) = &snapshot {
        return Err(WalError::corrupt(
            store.path(&crate::format::snapshot_file_name(snapshot.lsn)),
            0,
            format!(
                "the snapshot at LSN {} has no segment file after it: its records are missing",
                snapshot.lsn
            ),
        ));
    }

    // Sealed segments must be clean and continue each other exactly: each was synced
    // before the next one got its first frame, so nothing in it can be a lost write. The
    // last one may end in damage, but only inside bytes that were never synced.
    let mut torn: Option<(u64, u64, String, u64)> = None;
    for (index, scan) in scans.iter().enumerate() {
        let segment = &replay[index];
        let path = store.path(&segment.name);
        let is_last = index + 1 == scans.len();
        if let ScanEnd::Bad {
            what,
            verdict,
            nonzero_end,
        } = &scan.end
        {
            match (is_last, verdict) {
                (true, Verdict::Unsynced { frames_after }) => {
                    let what = if *frames_after == 0 {
                        what.clone()
                    } else {
                        format!(
                            "{what}; the {frames_after} valid frames after it were written but never synced \
                             (none says LSN {} was synced): a power loss kept a later part of an unsynced \
                             write but not this one",
                            scan.next_lsn()
                        )
                    };
                    torn = Some((scan.data_end, *nonzero_end, what, *frames_after));
                }
                (true, Verdict::Damage { why, .. }) => {
                    return Err(WalError::corrupt(
                        &path,
                        scan.data_end,
                        format!("{what}; {why}"),
                    ))
                }
                (false, _) => {
                    return Err(WalError::corrupt(
                        &path,
                        scan.data_end,
                        format!("{what}, in a sealed segment (a later segment exists)"),
                    ))
                }
            }
        }
        if let Some(next) = scans.get(index + 1) {
            if next.header.first_lsn != scan.next_lsn() {
                return Err(WalError::corrupt(
                    store.path(&replay[index + 1].name),
                    24,
                    format!(
                        "LSN gap: {} ends before LSN {} but the next segment starts at LSN {}",
                        segment.name,
                        scan.next_lsn(),
                        next.header.first_lsn
                    ),
                ));
            }
        }
    }
    let next_lsn = scans.last().map_or(1, |scan| scan.next_lsn());
    if let Some(snapshot) = &snapshot {
        if snapshot.lsn > next_lsn {
            let last = replay
                .last()
                .expect("checked above: segments exist when a snapshot does");
            return Err(WalError::corrupt(
                store.path(&last.name),
                last.data_end,
                format!(
                    "the log ends at LSN {} but the snapshot at LSN {} reflects records up to {}: synced records \
                     are missing",
                    next_lsn - 1,
                    snapshot.lsn,
                    snapshot.lsn - 1
                ),
            ));
        }
    }

    // Everything is decided; now change the directory.
    let mut report = RecoveryReport {
        segments: segments.len(),
        segments_validated: scans.len(),
        ..RecoveryReport::default()
    };
    let mut directory_changed = false;
    for name in &listing.temps {
        store
            .remove(name)
            .map_err(io_error(store, name, "remove temporary file"))?;
        report.temp_files_removed.push(name.clone());
        directory_changed = true;
    }
    for name in &damaged_snapshots {
        let aside = format!("{name}{CORRUPT_SUFFIX}");
        store
            .rename(name, &aside)
            .map_err(io_error(store, name, "set aside damaged snapshot"))?;
        report.corrupt_snapshots.push(store.path(&aside));
        directory_changed = true;
    }
    if let Some(last) = replay.last_mut() {
        let file =
            store
                .open(&last.name, true)
                .map_err(io_error(store, &last.name, "open segment"))?;
        if let Some((from, to, what, discarded_frames)) = torn {
            let ranges = nonzero_ranges(&last.region, from, to);
            // The map must not be alive while the file under it changes.
            last.region = Region::empty();
            for (start, end) in &ranges {
                zero_range(file.as_ref(), *start, *end).map_err(io_error(
                    store,
                    &last.name,
                    "zero torn tail",
                ))?;
            }
            tracing::warn!(
                file = %store.path(&last.name).display(), offset = from, bytes = to - from,
                discarded_frames, %what,
                "wal: torn tail truncated"
            );
            report.torn_tail = Some(TornTail {
                file: store.path(&last.name),
                offset: from,
                what,
                discarded_frames,
            });
            last.region = file
                .map()
                .map_err(io_error(store, &last.name, "map segment"))?;
        }
        // Whatever is replayed must be on disk before anything acts on it: after a
        // process crash under `Interval` or `None` it may still be only in the page cache.
        file.sync_data()
            .map_err(io_error(store, &last.name, "fdatasync"))?;
    }
    if directory_changed {
        store
            .sync_dir()
            .map_err(io_error(store, "", "sync directory"))?;
    }
    let tail = scans.last().map(|scan| {
        (
            scan.header.segment_id,
            scan.header.first_lsn,
            scan.header.segment_bytes,
            scan.data_end,
        )
    });
    tracing::info!(
        dir = %options.dir.display(),
        snapshot_lsn = snapshot.as_ref().map(|snapshot| snapshot.lsn),
        replay_from = start_lsn,
        next_lsn,
        segments = report.segments,
        "wal: recovered"
    );
    layout.assert_consistent();
    Ok(Recovery {
        options,
        storage,
        lock,
        snapshot,
        replay,
        start_lsn,
        next_lsn,
        layout,
        tail,
        report,
    })
}

/// The 64 KiB-aligned pieces of `from..to` that hold a non-zero byte, merged.
fn nonzero_ranges(bytes: &[u8], from: u64, to: u64) -> Vec<(u64, u64)> {
    const CHUNK_BYTES: u64 = 64 * 1024;
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut start = from;
    while start < to {
        let end = ((start / CHUNK_BYTES + 1) * CHUNK_BYTES).min(to);
        if bytes[start as usize..end as usize]
            .iter()
            .any(|byte| *byte != 0)
        {
            match ranges.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => ranges.push((start, end)),
            }
        }
        start = end;
    }
    ranges
}

fn zero_range(file: &dyn crate::storage::StorageFile, from: u64, to: u64) -> std::io::Result<()> {
    const CHUNK_BYTES: u64 = 1 << 20;
    let zeros = vec![0u8; CHUNK_BYTES.min(to - from) as usize];
    let mut offset = from;
    while offset < to {
        let bytes = (to - offset).min(CHUNK_BYTES);
        file.write_at(offset, &zeros[..bytes as usize])?;
        offset += bytes;
    }
    Ok(())
}

impl Recovery {
    /// The snapshot recovery starts from, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// The records after the snapshot (or all of them), in LSN order, payloads borrowed
    /// from the mapped segments. Recovery validated every frame already; an error here
    /// means the files changed underneath.
    pub fn records(&self) -> impl Iterator<Item = Result<RecordRef<'_>, WalError>> + '_ {
        Records {
            recovery: self,
            segment: 0,
            offset: SEGMENT_HEADER_BYTES,
            expected_lsn: None,
            failed: false,
        }
    }

    /// The records of one actor only, in LSN order (and so in its own sequence order).
    pub fn records_of(
        &self,
        actor: u64,
    ) -> impl Iterator<Item = Result<RecordRef<'_>, WalError>> + '_ {
        self.records()
            .filter(move |record| record.as_ref().map_or(true, |record| record.actor == actor))
    }

    /// The LSN the next appended record gets.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// The first LSN `records` yields (the snapshot's LSN, or 1).
    pub fn start_lsn(&self) -> Lsn {
        self.start_lsn
    }

    pub fn report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Starts the writer (and snapshot) thread; appends continue after the last record.
    pub fn into_wal(self) -> Result<Wal, WalError> {
        let Recovery {
            options,
            storage,
            lock,
            snapshot,
            replay,
            next_lsn,
            mut layout,
            tail,
            ..
        } = self;
        // The maps must be gone before the writer changes the files under them.
        drop(replay);
        let store = storage.as_ref();
        let active = match tail {
            Some((id, first_lsn, segment_bytes, data_end)) => {
                let name = segment_file_name(first_lsn);
                let file =
                    store
                        .open(&name, true)
                        .map_err(io_error(store, &name, "open segment"))?;
                ActiveSegment {
                    file,
                    name,
                    id,
                    first_lsn,
                    segment_bytes,
                    write_offset: data_end,
                }
            }
            None => {
                assert_eq!(next_lsn, 1, "a log without segments starts at LSN 1");
                let segment = create_segment(store, 1, 1, options.segment_bytes)?;
                layout.segments.push(SegmentMeta {
                    name: segment.name.clone(),
                    id: 1,
                    first_lsn: 1,
                });
                segment
            }
        };
        assert_eq!(
            active.first_lsn,
            layout.segments.last().expect("a segment exists").first_lsn
        );
        Wal::start(Started {
            options,
            storage,
            layout,
            active,
            next_lsn,
            snapshot_lsn: snapshot.map_or(0, |snapshot| snapshot.lsn),
            lock,
        })
    }
}

struct Records<'a> {
    recovery: &'a Recovery,
    segment: usize,
    offset: u64,
    expected_lsn: Option<Lsn>,
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordRef<'a>, WalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let segment = self.recovery.replay.get(self.segment)?;
            let expected = *self.expected_lsn.get_or_insert(segment.first_lsn);
            if self.offset >= segment.data_end {
                self.segment += 1;
                self.offset = SEGMENT_HEADER_BYTES;
                if let Some(next) = self.recovery.replay.get(self.segment) {
                    if next.first_lsn != expected {
                        self.failed = true;
                        return Some(Err(self.changed(
                            next,
                            24,
                            "the next segment does not continue the LSNs",
                        )));
                    }
                }
                continue;
            }
            let bytes: &'a [u8] = &segment.region;
            let start = self.offset as usize;
            if bytes.len() < start + FRAME_HEADER_BYTES {
                self.failed = true;
                return Some(Err(self.changed(
                    segment,
                    self.offset,
                    "the segment is shorter than at validation",
                )));
            }
            let header = FrameHeader::decode(&bytes[start..]);
            let size = frame_bytes(header.payload_bytes as usize);
            if header.lsn != expected
                || header.payload_bytes == 0
                || start + size > segment.data_end as usize
            {
                self.failed = true;
                return Some(Err(self.changed(
                    segment,
                    self.offset,
                    "a frame differs from what was validated",
                )));
            }
            let payload = &bytes[start + FRAME_HEADER_BYTES
                ..start + FRAME_HEADER_BYTES + header.payload_bytes as usize];
            debug_assert_eq!(
                payload.as_ptr() as usize % 8,
                0,
                "payloads are 8-byte aligned"
            );
            self.offset += size as u64;
            self.expected_lsn = Some(expected + 1);
            if header.lsn < self.recovery.start_lsn {
                continue;
            }
            return Some(Ok(RecordRef {
                lsn: header.lsn,
                actor: header.actor,
                actor_seq: header.actor_seq,
                payload,
            }));
        }
    }
}

impl Records<'_> {
    fn changed(&self, segment: &ReplaySegment, offset: u64, what: &str) -> WalError {
        WalError::corrupt(
            self.recovery.storage.path(&segment.name),
            offset,
            format!(
                "{what}: the file changed during recovery (is another process writing to the log?)"
            ),
        )
    }
}
