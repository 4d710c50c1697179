//! The spare segment: the next segment's file, created and zero-filled ahead of time on
//! a preparer thread of its own, so that a roll-over on the writer thread only writes a
//! header, syncs it, renames the file and syncs the directory.
//!
//! Zero-filling (writing every byte, not `fallocate`) is also what makes each later
//! `fdatasync` of appends cheaper: the blocks are already written, so the sync carries
//! data only and no unwritten-extent conversion (see `docs/wal-format.md`).
//!
//! At most one spare exists at a time, under [`SPARE_SEGMENT_FILE`]. The writer asks for
//! one when it starts and again each time it has taken one (or learnt that preparing one
//! failed); a roll-over that finds none ready creates its segment itself, as it did
//! before spares existed. A failed preparation is logged and counted, never poisons the
//! log: no record depends on the spare.
//!
//! It is a thread of its own rather than a job on the snapshot thread: a snapshot may take
//! long to write (a shard's whole state), and a spare queued behind it would miss the
//! roll-over it was made for, while a 64 MiB zero-fill queued ahead of a snapshot would
//! delay it and the deletion of the segments it frees. The thread sleeps on its queue
//! between spares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::format::SPARE_SEGMENT_FILE;
use crate::storage::{FillPace, Storage, StorageFile};
use crate::wal::Shared;

enum Prepared {
    /// A file of `segment_bytes` zeros, durable, under [`SPARE_SEGMENT_FILE`].
    Ready(Box<dyn StorageFile>),
    Failed,
}

/// The writer's end of the preparer thread.
pub(crate) struct Spares {
    storage: Arc<dyn Storage>,
    requests: Option<Sender<()>>,
    prepared: Receiver<Prepared>,
    /// A spare was asked for and has been neither taken nor reported failed.
    requested: bool,
    /// Set by `stop`: a fill under way is abandoned at its next piece.
    cancelled: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Spares {
    /// Starts the preparer thread; it prepares nothing until asked.
    pub fn start(shared: Arc<Shared>) -> std::io::Result<Spares> {
        // One request and one answer at a time: there is never more than one spare.
        let (request_tx, request_rx) = crossbeam_channel::bounded(1);
        let (prepared_tx, prepared_rx) = crossbeam_channel::bounded(1);
        let storage = shared.storage.clone();
        let cancelled = Arc::new(AtomicBool::new(false));
        let thread_cancelled = cancelled.clone();
        let thread = thread::Builder::new()
            .name("omnibus-wal-spare".into())
            .spawn(move || run_preparer(&shared, &request_rx, &prepared_tx, &thread_cancelled))?;
        Ok(Spares {
            storage,
            requests: Some(request_tx),
            prepared: prepared_rx,
            requested: false,
            cancelled,
            thread: Some(thread),
        })
    }

    /// Asks for the next spare, unless one is already asked for (or the preparer is gone).
    pub fn request(&mut self) {
        if self.requested {
            return;
        }
        if let Some(requests) = &self.requests {
            // Fails only if the preparer thread died (a bug; it logged nothing to lose):
            // then every roll-over creates its own segment.
            self.requested = requests.try_send(()).is_ok();
        }
    }

    /// The spare if one is ready now, without waiting. `None` when it is still being
    /// prepared, when preparing it failed, or when none was asked for.
    pub fn take(&mut self) -> Option<Box<dyn StorageFile>> {
        if !self.requested {
            return None;
        }
        match self.prepared.try_recv() {
            Ok(Prepared::Ready(file)) => {
                self.requested = false;
                Some(file)
            }
            Ok(Prepared::Failed) | Err(TryRecvError::Disconnected) => {
                self.requested = false;
                None
            }
            Err(TryRecvError::Empty) => None,
        }
    }

    /// Stops the preparer (abandoning a spare it is making, at its next 256 KiB piece) and
    /// deletes a spare nobody took, so a clean shutdown leaves no temporary file.
    /// Idempotent.
    pub fn stop(&mut self) {
        self.cancelled.store(true, Ordering::Release);
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("wal: the spare segment thread panicked");
            }
        }
        if let Ok(Prepared::Ready(file)) = self.prepared.try_recv() {
            discard(self.storage.as_ref(), file);
        }
        self.requested = false;
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run_preparer(
    shared: &Shared,
    requests: &Receiver<()>,
    prepared: &Sender<Prepared>,
    cancelled: &AtomicBool,
) {
    let storage = shared.storage.as_ref();
    let segment_bytes = shared.options.segment_bytes;
    // Filling a spare must not delay the writer's syncs on the same device: its I/O goes
    // in the idle class, paced, in pieces written out one at a time (see `FillPace`).
    crate::storage::background_thread();
    let pace = FillPace {
        bytes_per_sec: shared.options.background_write_bytes_per_sec,
        cancelled,
    };
    for () in requests.iter() {
        let outcome = match prepare(storage, segment_bytes, &pace) {
            Err((error, file)) if error.kind() == std::io::ErrorKind::Interrupted => {
                // Stopped: not a failure worth a warning.
                if let Some(file) = file {
                    discard(storage, file);
                }
                break;
            }
            Ok(file) => {
                tracing::debug!(bytes = segment_bytes, "wal: spare segment ready");
                Prepared::Ready(file)
            }
            Err((error, file)) => {
                tracing::warn!(
                    file = %storage.path(SPARE_SEGMENT_FILE).display(), %error,
                    "wal: preparing the spare segment failed; the next roll-over creates its segment on the writer thread"
                );
                if let Some(file) = file {
                    discard(storage, file);
                }
                Prepared::Failed
            }
        };
        let ready = matches!(outcome, Prepared::Ready(_));
        if let Err(returned) = prepared.send(outcome) {
            // The writer is gone.
            if let Prepared::Ready(file) = returned.into_inner() {
                discard(storage, file);
            }
            break;
        }
        // Counted once the writer can see it (Release, read with Acquire in `stats`): so
        // `spares_prepared - spares_used` is the number of spares (0 or 1) waiting for a
        // roll-over, and a roll-over asked for after seeing the count finds the spare.
        let counter = if ready {
            &shared.stats.spares_prepared
        } else {
            &shared.stats.spare_failures
        };
        counter.fetch_add(1, Ordering::Release);
    }
}

/// Creates the spare file and zero-fills it durably. On failure, also the file if it was
/// created.
#[allow(clippy::type_complexity)]
fn prepare(
    storage: &dyn Storage,
    segment_bytes: u64,
    pace: &FillPace,
) -> Result<Box<dyn StorageFile>, (std::io::Error, Option<Box<dyn StorageFile>>)> {
    let file = storage
        .create(SPARE_SEGMENT_FILE)
        .map_err(|error| (error, None))?;
    match file.zero_fill(segment_bytes, pace) {
        Ok(()) => Ok(file),
        Err(error) => Err((error, Some(file))),
    }
}

/// Deletes an unused spare. Its directory entry need not be synced: a spare that comes
/// back after a crash is deleted by recovery.
fn discard(storage: &dyn Storage, file: Box<dyn StorageFile>) {
    // A handle that no longer works means the file is no longer this log's (on the
    // simulated disk: the machine "restarted" under a still-running writer); deleting by
    // name would then delete another owner's file.
    if file.size_bytes().is_err() {
        return;
    }
    drop(file);
    match storage.remove(SPARE_SEGMENT_FILE) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(file = %storage.path(SPARE_SEGMENT_FILE).display(), %error, "wal: could not delete the unused spare segment");
        }
    }
}
