//! Snapshot files: the caller's state as of an LSN, written atomically (temporary name,
//! fdatasync, rename, directory sync), and the deletion of what they make unnecessary.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::format::{
    segment_file_name, snapshot_file_name, temp_file_name, SnapshotHeader, SNAPSHOT_HEADER_BYTES,
};
use crate::storage::{FillPace, Storage};
use crate::wal::Shared;
use crate::{Lsn, WalError};

/// The caller's state as of `lsn`: it reflects every record with an LSN below `lsn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub lsn: Lsn,
    pub bytes: Vec<u8>,
}

pub(crate) type SnapshotDone = Box<dyn FnOnce(Result<(), WalError>) + Send>;

pub(crate) struct SnapshotJob {
    pub lsn: Lsn,
    pub state: Vec<u8>,
    pub done: SnapshotDone,
    /// Written at `background_write_bytes_per_sec` (or at full speed).
    pub paced: bool,
}

/// Reads and checks the snapshot file `name`, expected to hold `name_lsn`. The outer
/// error is an I/O failure; the inner one says where and how the file is damaged.
pub(crate) fn read_snapshot(
    storage: &dyn Storage,
    name: &str,
    name_lsn: Lsn,
) -> Result<Result<Snapshot, (u64, String)>, WalError> {
    let path = storage.path(name);
    let file = storage
        .open(name, false)
        .map_err(|error| WalError::io(&path, "open snapshot", error))?;
    let file_bytes = file
        .size_bytes()
        .map_err(|error| WalError::io(&path, "stat snapshot", error))?;
    if file_bytes < SNAPSHOT_HEADER_BYTES {
        return Ok(Err((
            0,
            format!("the file is {file_bytes} bytes, shorter than a snapshot header"),
        )));
    }
    let mut header_bytes = [0u8; SNAPSHOT_HEADER_BYTES as usize];
    file.read_at(0, &mut header_bytes)
        .map_err(|error| WalError::io(&path, "read snapshot", error))?;
    let header = match SnapshotHeader::decode(&header_bytes) {
        Ok(header) => header,
        Err(problem) => return Ok(Err(problem)),
    };
    if header.lsn != name_lsn {
        return Ok(Err((
            16,
            format!(
                "the header's LSN is {} but the file is named for LSN {name_lsn}",
                header.lsn
            ),
        )));
    }
    if header.body_bytes != file_bytes - SNAPSHOT_HEADER_BYTES {
        return Ok(Err((
            24,
            format!(
                "the header says the body is {} bytes but the file holds {}",
                header.body_bytes,
                file_bytes - SNAPSHOT_HEADER_BYTES
            ),
        )));
    }
    let mut body = vec![0u8; header.body_bytes as usize];
    file.read_at(SNAPSHOT_HEADER_BYTES, &mut body)
        .map_err(|error| WalError::io(&path, "read snapshot", error))?;
    let crc = crc32c::crc32c(&body);
    if crc != header.body_crc {
        return Ok(Err((
            SNAPSHOT_HEADER_BYTES,
            format!(
                "snapshot body CRC mismatch (stored {:#010x}, computed {crc:#010x})",
                header.body_crc
            ),
        )));
    }
    Ok(Ok(Snapshot {
        lsn: header.lsn,
        bytes: body,
    }))
}

/// Writes a snapshot so that it is either wholly present under its final name after a
/// crash, or absent.
pub(crate) fn write_snapshot(
    storage: &dyn Storage,
    lsn: Lsn,
    body: &[u8],
    bytes_per_sec: u64,
) -> Result<(), WalError> {
    let name = snapshot_file_name(lsn);
    let temp = temp_file_name(&name);
    let temp_path = storage.path(&temp);
    let header = SnapshotHeader {
        lsn,
        body_bytes: body.len() as u64,
        body_crc: crc32c::crc32c(body),
    };
    let file = storage
        .create(&temp)
        .map_err(|error| WalError::io(&temp_path, "create snapshot", error))?;
    let result = (|| {
        file.write_at(0, &header.encode())
            .map_err(|error| WalError::io(&temp_path, "write snapshot", error))?;
        // Paced, so the shard's own syncs do not queue behind hundreds of megabytes.
        let pace = FillPace::uncancelled(bytes_per_sec);
        file.write_paced(SNAPSHOT_HEADER_BYTES, body, &pace)
            .map_err(|error| WalError::io(&temp_path, "write snapshot", error))?;
        file.sync_data()
            .map_err(|error| WalError::io(&temp_path, "sync snapshot", error))?;
        drop(file);
        storage
            .rename(&temp, &name)
            .map_err(|error| WalError::io(storage.path(&name), "rename snapshot", error))?;
        storage
            .sync_dir()
            .map_err(|error| WalError::io(storage.path(""), "sync directory", error))
    })();
    if result.is_err() {
        // The temporary file is garbage now; recovery would delete it anyway.
        let _ = storage.remove(&temp);
    }
    result
}

/// The snapshot thread: writes each snapshot handed over by the writer (which has made
/// every earlier record durable first), then deletes what it makes unnecessary.
pub(crate) fn run_snapshot_thread(shared: Arc<Shared>, jobs: Receiver<SnapshotJob>) {
    for job in jobs {
        let result = write_snapshot(
            shared.storage.as_ref(),
            job.lsn,
            &job.state,
            if job.paced {
                shared.options.background_write_bytes_per_sec
            } else {
                u64::MAX
            },
        );
        drop(job.state);
        match &result {
            Ok(()) => {
                shared
                    .stats
                    .snapshots_written
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(lsn = job.lsn, "wal: snapshot written");
                delete_unneeded(&shared, job.lsn);
            }
            Err(error) => {
                tracing::error!(lsn = job.lsn, %error, "wal: snapshot failed; the log keeps every segment")
            }
        }
        shared.snapshots_pending.fetch_sub(1, Ordering::AcqRel);
        if catch_unwind(AssertUnwindSafe(|| (job.done)(result))).is_err() {
            tracing::error!("wal: a snapshot completion callback panicked");
        }
    }
}

/// Keeps the newest two snapshots and every segment holding records at or after the
/// older of the two, so a corrupt newest snapshot can fall back to the previous one, and
/// deletes the rest: segments oldest first, so that what remains is always a contiguous
/// run of segments, then snapshots.
fn delete_unneeded(shared: &Shared, new_snapshot_lsn: Lsn) {
    let storage = shared.storage.as_ref();
    let (segments, snapshots) = {
        let mut layout = shared
            .layout
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        layout.snapshots.push(new_snapshot_lsn);
        layout.snapshots.sort_unstable();
        layout.snapshots.dedup();
        let surplus = layout.snapshots.len().saturating_sub(2);
        let old_snapshots: Vec<Lsn> = layout.snapshots.drain(..surplus).collect();
        let old_segments = if layout.snapshots.len() == 2 {
            let cutoff = layout.snapshots[0];
            // A segment may go when the next one starts at or before the cutoff, so all
            // its records are below it. The last segment is being written and never goes.
            let removable = layout
                .segments
                .windows(2)
                .take_while(|pair| pair[1].first_lsn <= cutoff)
                .count();
            layout.segments.drain(..removable).collect()
        } else {
            Vec::new()
        };
        layout.assert_consistent();
        (old_segments, old_snapshots)
    };
    let mut changed = false;
    for (index, segment) in segments.iter().enumerate() {
        if let Err(error) = storage.remove(&segment.name) {
            // Stop at the first failure: deleting a later segment while an earlier one
            // stays would leave a gap that recovery rightly refuses.
            tracing::warn!(file = %storage.path(&segment.name).display(), %error, "wal: could not delete an old segment");
            let mut layout = shared
                .layout
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let kept: Vec<_> = segments[index..].to_vec();
            layout.segments.splice(0..0, kept);
            layout.assert_consistent();
            break;
        }
        debug_assert_eq!(segment.name, segment_file_name(segment.first_lsn));
        changed = true;
    }
    for lsn in snapshots {
        let name = snapshot_file_name(lsn);
        match storage.remove(&name) {
            Ok(()) => changed = true,
            Err(error) => {
                tracing::warn!(file = %storage.path(&name).display(), %error, "wal: could not delete an old snapshot")
            }
        }
    }
    if changed {
        if let Err(error) = storage.sync_dir() {
            tracing::warn!(%error, "wal: could not sync the directory after deleting old files");
        }
    }
}
