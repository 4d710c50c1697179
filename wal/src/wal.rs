//! The `Wal` handle: LSN assignment on the caller's thread, everything else on the
//! writer thread.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle, ThreadId};

use crossbeam_channel::{Sender, TrySendError};

use crate::batch::Batch;
use crate::format::{frame_bytes, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use crate::layout::Layout;
use crate::snapshot::run_snapshot_thread;
use crate::spare::Spares;
use crate::storage::Storage;
use crate::writer::{ActiveSegment, Item, Writer};
use crate::{Lsn, WalError, WalOptions};

/// Snapshots accepted but not yet written. Each holds the caller's whole state in
/// memory, so only one may wait while another is written.
pub const SNAPSHOTS_PENDING_MAX: usize = 2;

/// Items the writer's channel holds at most. The queue's real bound is
/// `queue_records_max`; this caps the channel's preallocated slots when that is large.
const CHANNEL_ITEMS_MAX: usize = 65_536;

/// State shared by the handles, the writer thread and the snapshot thread.
pub(crate) struct Shared {
    pub options: WalOptions,
    pub storage: Arc<dyn Storage>,
    poison: OnceLock<Arc<WalError>>,
    /// Queue capacity units in use (records of queued batches, plus one per other item).
    pub queued: AtomicU64,
    pub written_lsn: AtomicU64,
    pub durable_lsn: AtomicU64,
    pub snapshots_pending: AtomicUsize,
    pub stats: Counters,
    pub layout: Mutex<Layout>,
}

impl Shared {
    pub fn poisoned(&self) -> Option<Arc<WalError>> {
        self.poison.get().cloned()
    }

    /// Records the first failure; later ones are logged and the first cause kept.
    pub fn poison(&self, error: WalError) -> Arc<WalError> {
        let cause = Arc::new(error);
        match self.poison.set(cause.clone()) {
            Ok(()) => {
                tracing::error!(error = %cause, "wal: the log is poisoned; every pending and later append fails");
                cause
            }
            Err(_) => {
                tracing::error!(error = %cause, "wal: a further failure after the log was poisoned");
                self.poison.get().cloned().expect("set")
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub records: AtomicU64,
    pub batches: AtomicU64,
    pub groups: AtomicU64,
    pub bytes: AtomicU64,
    pub syncs: AtomicU64,
    pub sync_ns_total: AtomicU64,
    pub last_group_records: AtomicU64,
    pub last_group_bytes: AtomicU64,
    pub segments_created: AtomicU64,
    pub spares_prepared: AtomicU64,
    pub spares_used: AtomicU64,
    pub spare_failures: AtomicU64,
    pub snapshots_written: AtomicU64,
}

/// Counters for metrics; each is monotonic except the `last_*` and queue figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records written since the log was opened.
    pub records_written: u64,
    /// Batches (as submitted) written.
    pub batches_written: u64,
    /// Group commits: one write (per segment touched) each.
    pub groups_written: u64,
    /// Frame bytes written (headers and padding included).
    pub bytes_written: u64,
    /// fdatasync calls on segments.
    pub syncs: u64,
    /// Time spent in those calls.
    pub sync_time_total_ns: u64,
    /// Records and bytes of the most recent group commit.
    pub last_group_records: u64,
    pub last_group_bytes: u64,
    /// Segments started by roll-overs (the first segment of a new log is not counted).
    pub segments_created: u64,
    /// Spare segments zero-filled ahead of time by the preparer thread.
    pub spares_prepared: u64,
    /// Roll-overs that took a prepared spare; the others (`segments_created -
    /// spares_used`) found none ready and created their segment on the writer thread.
    pub spares_used: u64,
    /// Spare preparations that failed (logged; the log is not poisoned by them).
    pub spare_failures: u64,
    pub snapshots_written: u64,
    /// Queue capacity in use now.
    pub queued_records: u64,
    /// The LSN the next submitted record gets.
    pub next_lsn: Lsn,
    /// Every record up to this LSN is on disk.
    pub durable_lsn: Lsn,
    /// Every record up to this LSN is written (in the page cache at least).
    pub written_lsn: Lsn,
}

struct SubmitState {
    next_lsn: Lsn,
    closed: bool,
    /// The newest snapshot LSN accepted, so each snapshot moves forward.
    snapshot_lsn: Lsn,
}

struct Handle {
    shared: Arc<Shared>,
    submit: Mutex<SubmitState>,
    tx: Sender<Item>,
    writer: Mutex<Option<JoinHandle<()>>>,
    writer_thread: ThreadId,
    snapshot_thread: ThreadId,
    /// The largest frame a fresh segment holds.
    frame_bytes_max: usize,
}

/// What `done` of a batch is: called once, on the writer thread, with the batch's LSNs.
pub type Done = Box<dyn FnOnce(Result<Range<Lsn>, WalError>) + Send>;

/// A batch [`Wal::try_submit`] refused, given back with the reason.
#[derive(Debug)]
pub struct Refused {
    pub error: WalError,
    pub batch: Batch,
}

/// A handle to an open log; clones share it. The writer stops when `shutdown` is
/// called or the last handle is dropped.
#[derive(Clone)]
pub struct Wal {
    handle: Arc<Handle>,
}

pub(crate) struct Started {
    pub options: WalOptions,
    pub storage: Arc<dyn Storage>,
    pub layout: Layout,
    pub active: ActiveSegment,
    pub next_lsn: Lsn,
    pub snapshot_lsn: Lsn,
    pub lock: Box<dyn std::any::Any + Send + Sync>,
}

fn thread_error(what: &str, error: std::io::Error) -> WalError {
    WalError::Io {
        path: what.into(),
        op: "spawn thread",
        source: error,
    }
}

impl Wal {
    pub(crate) fn start(started: Started) -> Result<Wal, WalError> {
        let Started {
            options,
            storage,
            layout,
            active,
            next_lsn,
            snapshot_lsn,
            lock,
        } = started;
        assert!(next_lsn >= 1);
        assert_eq!(
            layout.segments.last().map(|segment| segment.id),
            Some(active.id)
        );
        layout.assert_consistent();
        let frame_bytes_max = (options.segment_bytes - SEGMENT_HEADER_BYTES) as usize;
        let capacity = options.queue_records_max.min(CHANNEL_ITEMS_MAX);
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        // Snapshot jobs are bounded by SNAPSHOTS_PENDING_MAX at submission.
        let (snapshot_tx, snapshot_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            options,
            storage,
            poison: OnceLock::new(),
            queued: AtomicU64::new(0),
            written_lsn: AtomicU64::new(next_lsn - 1),
            durable_lsn: AtomicU64::new(next_lsn - 1),
            snapshots_pending: AtomicUsize::new(0),
            stats: Counters::default(),
            layout: Mutex::new(layout),
        });
        let snapshot_thread = thread::Builder::new()
            .name("omnibus-wal-snapshot".into())
            .spawn({
                let shared = shared.clone();
                move || {
                    // Writing a shard's whole state must not take the cores or the disk
                    // from the writer and the shards.
                    crate::storage::background_thread();
                    run_snapshot_thread(shared, snapshot_rx)
                }
            })
            .map_err(|error| thread_error("omnibus-wal-snapshot", error))?;
        let snapshot_thread_id = snapshot_thread.thread().id();
        let spares = Spares::start(shared.clone())
            .map_err(|error| thread_error("omnibus-wal-spare", error))?;
        let writer = Writer {
            shared: shared.clone(),
            rx,
            snapshots: snapshot_tx,
            active,
            next_lsn,
            lock,
            snapshot_thread: Some(snapshot_thread),
            spares,
        };
        let writer = thread::Builder::new()
            .name("omnibus-wal-writer".into())
            .spawn(move || writer.run())
            .map_err(|error| thread_error("omnibus-wal-writer", error))?;
        let writer_thread = writer.thread().id();
        Ok(Wal {
            handle: Arc::new(Handle {
                shared,
                submit: Mutex::new(SubmitState {
                    next_lsn,
                    closed: false,
                    snapshot_lsn,
                }),
                tx,
                writer: Mutex::new(Some(writer)),
                writer_thread,
                snapshot_thread: snapshot_thread_id,
                frame_bytes_max,
            }),
        })
    }

    fn submit_state(&self) -> MutexGuard<'_, SubmitState> {
        self.handle
            .submit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check_open(&self, state: &SubmitState) -> Result<(), WalError> {
        if let Some(cause) = self.handle.shared.poisoned() {
            return Err(WalError::Poisoned { cause });
        }
        if state.closed {
            return Err(WalError::Closed);
        }
        Ok(())
    }

    /// Reserves `weight` units of queue capacity and sends the item built from the
    /// reserved first LSN, all under the submit lock (held by the caller as `state`), so
    /// that queue order is LSN order. Nothing in here does I/O or blocks. On refusal the
    /// item comes back (when it was built), so a caller can keep what it held. (The item is
    /// large, but it is only returned on refusal, and moving it back beats boxing it on
    /// every submit.)
    #[allow(clippy::result_large_err)]
    fn enqueue(
        &self,
        state: &mut SubmitState,
        weight: u64,
        records: u64,
        item: impl FnOnce(Lsn) -> Item,
    ) -> Result<Lsn, (WalError, Option<Item>)> {
        let shared = &self.handle.shared;
        let max = shared.options.queue_records_max as u64;
        self.check_open(state).map_err(|e| (e, None))?;
        let queued = shared.queued.load(Ordering::Acquire);
        if queued + weight > max {
            return Err((
                WalError::Overloaded {
                    queued_records: queued,
                    batch_records: weight,
                    queue_records_max: max,
                },
                None,
            ));
        }
        let first_lsn = state.next_lsn;
        shared.queued.fetch_add(weight, Ordering::AcqRel);
        match self.handle.tx.try_send(item(first_lsn)) {
            Ok(()) => {
                state.next_lsn += records;
                Ok(first_lsn)
            }
            Err(error) => {
                shared.queued.fetch_sub(weight, Ordering::AcqRel);
                match error {
                    TrySendError::Full(item) => Err((
                        WalError::Overloaded {
                            queued_records: queued,
                            batch_records: weight,
                            queue_records_max: max,
                        },
                        Some(item),
                    )),
                    TrySendError::Disconnected(item) => Err((
                        match shared.poisoned() {
                            Some(cause) => WalError::Poisoned { cause },
                            None => WalError::Closed,
                        },
                        Some(item),
                    )),
                }
            }
        }
    }

    /// Assigns the batch's LSNs (contiguous, in submission order) and queues it for the
    /// writer. `done` runs on the writer thread, in LSN order, once the batch is durable
    /// under the sync policy (`Always`: after the fdatasync of its group; `Interval` and
    /// `None`: after it is written); it must be quick and must not block on the log.
    ///
    /// Errors at once, consuming no LSN and dropping `done` uncalled: `Overloaded` when
    /// the queue is full, `Poisoned` after a failed write or sync, `Closed` after
    /// shutdown, `BatchTooLarge` for a batch that can never be accepted. `done` runs
    /// exactly once when this returns `Ok`. An empty batch takes no LSN and completes
    /// once everything submitted before it has.
    pub fn submit(&self, batch: Batch, done: Done) -> Result<Range<Lsn>, WalError> {
        self.try_submit(batch, done)
            .map_err(|refused| refused.error)
    }

    /// [`Wal::submit`], giving the batch back when it is refused, so that a caller that
    /// already applied its records can keep them and submit again once the queue has
    /// room (an `Overloaded` refusal is only ever about now).
    pub fn try_submit(&self, batch: Batch, done: Done) -> Result<Range<Lsn>, Refused> {
        let options = &self.handle.shared.options;
        let records = batch.len();
        let too_large = if records > options.batch_records_max.min(options.queue_records_max) {
            Some(format!(
                "{records} records exceed batch_records_max = {} or queue_records_max = {}",
                options.batch_records_max, options.queue_records_max
            ))
        } else if batch.bytes() > options.batch_bytes_max {
            Some(format!(
                "{} bytes exceed batch_bytes_max = {}",
                batch.bytes(),
                options.batch_bytes_max
            ))
        } else if batch.frame_bytes_max() > self.handle.frame_bytes_max {
            Some(format!(
                "a record of {} bytes on disk does not fit a {}-byte segment (at most {} payload bytes)",
                batch.frame_bytes_max(),
                options.segment_bytes,
                self.handle.frame_bytes_max - FRAME_HEADER_BYTES
            ))
        } else {
            None
        };
        if let Some(what) = too_large {
            return Err(Refused {
                error: WalError::BatchTooLarge { what },
                batch,
            });
        }
        debug_assert!(batch.frame_bytes_max() == 0 || batch.frame_bytes_max() >= frame_bytes(1));
        let weight = records.max(1) as u64;
        // The batch travels inside the item; kept aside here so that a refusal before the
        // item is built can still give it back.
        let mut parked = Some(batch);
        let mut state = self.submit_state();
        let enqueued = self.enqueue(&mut state, weight, records as u64, |first_lsn| {
            Item::Batch {
                batch: parked.take().expect("built once"),
                first_lsn,
                weight,
                done,
            }
        });
        drop(state);
        match enqueued {
            Ok(first_lsn) => Ok(first_lsn..first_lsn + records as u64),
            Err((error, item)) => {
                let batch = match (parked, item) {
                    (Some(batch), _) => batch,
                    (None, Some(Item::Batch { batch, .. })) => batch,
                    (None, _) => unreachable!("a refused batch item carries its batch"),
                };
                Err(Refused { error, batch })
            }
        }
    }

    /// Whether a batch of `records` would be queued now rather than refused as
    /// overloaded: room in the queue's bound and in its channel. Only this log's own
    /// writer frees room meanwhile, so for a single submitting thread a `true` holds.
    pub fn has_room(&self, records: usize) -> bool {
        let shared = &self.handle.shared;
        let weight = records.max(1) as u64;
        shared.queued.load(Ordering::Acquire) + weight <= shared.options.queue_records_max as u64
            && !self.handle.tx.is_full()
    }

    /// Submits and waits for the batch to be durable under the sync policy. For tests
    /// and tools; never call it from a completion callback.
    pub fn append_blocking(&self, batch: Batch) -> Result<Range<Lsn>, WalError> {
        self.assert_not_on_log_threads("append_blocking");
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(
            batch,
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        )?;
        rx.recv().unwrap_or(Err(WalError::Closed))
    }

    /// Waits until every record submitted before the call is on disk (fdatasync),
    /// whatever the sync policy, and returns the durable LSN. Never call it from a
    /// completion callback.
    pub fn sync(&self) -> Result<Lsn, WalError> {
        self.assert_not_on_log_threads("sync");
        let (reply, rx) = crossbeam_channel::bounded(1);
        let mut state = self.submit_state();
        self.enqueue(&mut state, 1, 0, move |_| Item::Sync { reply })
            .map_err(|(error, _)| error)?;
        drop(state);
        rx.recv().unwrap_or(Err(WalError::Closed))
    }

    /// Hands over the caller's state as of `lsn` (it reflects every record below `lsn`).
    /// The writer makes every earlier record durable first, then the snapshot thread
    /// writes the snapshot atomically and deletes what it makes unnecessary: it keeps
    /// the newest two snapshots and every segment holding records at or after the older
    /// of the two, so a corrupt newest snapshot can fall back to the previous one.
    /// `done` runs on the snapshot thread. `lsn` must be above the previous snapshot's
    /// and at most the next LSN to be assigned.
    pub fn snapshot(
        &self,
        lsn: Lsn,
        state: Vec<u8>,
        done: Box<dyn FnOnce(Result<(), WalError>) + Send>,
    ) -> Result<(), WalError> {
        self.snapshot_paced(lsn, state, done, true)
    }

    /// As [`Wal::snapshot`], written at full speed rather than at
    /// `background_write_bytes_per_sec`: for a snapshot nothing else waits beside, such as
    /// the one a clean shutdown takes so that the next start replays nothing.
    pub fn snapshot_unpaced(
        &self,
        lsn: Lsn,
        state: Vec<u8>,
        done: Box<dyn FnOnce(Result<(), WalError>) + Send>,
    ) -> Result<(), WalError> {
        self.snapshot_paced(lsn, state, done, false)
    }

    fn snapshot_paced(
        &self,
        lsn: Lsn,
        state: Vec<u8>,
        done: Box<dyn FnOnce(Result<(), WalError>) + Send>,
        paced: bool,
    ) -> Result<(), WalError> {
        let shared = &self.handle.shared;
        let mut submit = self.submit_state();
        self.check_open(&submit)?;
        if lsn == 0 || lsn > submit.next_lsn {
            return Err(WalError::InvalidSnapshot {
                lsn,
                what: format!(
                    "it must be between 1 and the next LSN to be assigned, {}; a snapshot can only reflect \
                     records already submitted",
                    submit.next_lsn
                ),
            });
        }
        if lsn <= submit.snapshot_lsn {
            return Err(WalError::InvalidSnapshot {
                lsn,
                what: format!(
                    "it is not newer than the snapshot at LSN {}",
                    submit.snapshot_lsn
                ),
            });
        }
        let pending = shared.snapshots_pending.load(Ordering::Acquire);
        if pending >= SNAPSHOTS_PENDING_MAX {
            return Err(WalError::InvalidSnapshot {
                lsn,
                what: format!("{pending} snapshots are still being written; take it again after they complete"),
            });
        }
        shared.snapshots_pending.fetch_add(1, Ordering::AcqRel);
        match self.enqueue(&mut submit, 1, 0, move |_| Item::Snapshot {
            lsn,
            state,
            done,
            paced,
        }) {
            Ok(_) => {
                submit.snapshot_lsn = lsn;
                Ok(())
            }
            Err((error, _)) => {
                shared.snapshots_pending.fetch_sub(1, Ordering::AcqRel);
                Err(error)
            }
        }
    }

    /// Every record up to this LSN is on disk (0: none yet).
    pub fn durable_lsn(&self) -> Lsn {
        self.handle.shared.durable_lsn.load(Ordering::Acquire)
    }

    /// The LSN the next submitted record gets.
    pub fn next_lsn(&self) -> Lsn {
        self.submit_state().next_lsn
    }

    pub fn stats(&self) -> WalStats {
        let shared = &self.handle.shared;
        let counters = &shared.stats;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WalStats {
            records_written: load(&counters.records),
            batches_written: load(&counters.batches),
            groups_written: load(&counters.groups),
            bytes_written: load(&counters.bytes),
            syncs: load(&counters.syncs),
            sync_time_total_ns: load(&counters.sync_ns_total),
            last_group_records: load(&counters.last_group_records),
            last_group_bytes: load(&counters.last_group_bytes),
            segments_created: load(&counters.segments_created),
            spares_prepared: counters.spares_prepared.load(Ordering::Acquire),
            spares_used: load(&counters.spares_used),
            spare_failures: counters.spare_failures.load(Ordering::Acquire),
            snapshots_written: load(&counters.snapshots_written),
            queued_records: shared.queued.load(Ordering::Relaxed),
            next_lsn: self.next_lsn(),
            durable_lsn: self.durable_lsn(),
            written_lsn: shared.written_lsn.load(Ordering::Acquire),
        }
    }

    /// The failure that poisoned the log, if one did.
    pub fn poisoned(&self) -> Option<Arc<WalError>> {
        self.handle.shared.poisoned()
    }

    /// Stops accepting appends, lets the writer finish everything queued, syncs, and
    /// joins the writer and snapshot threads, which releases the log's lock. Idempotent.
    /// Also runs when the last handle is dropped.
    pub fn shutdown(&self) -> Result<(), WalError> {
        self.handle.shutdown()
    }

    fn assert_not_on_log_threads(&self, what: &str) {
        let current = thread::current().id();
        assert!(
            current != self.handle.writer_thread && current != self.handle.snapshot_thread,
            "Wal::{what} called from a completion callback would wait for itself"
        );
    }
}

impl Handle {
    fn shutdown(&self) -> Result<(), WalError> {
        let first_call = {
            let mut state = self
                .submit
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let first_call = !state.closed;
            state.closed = true;
            first_call
        };
        let current = thread::current().id();
        let on_log_thread = current == self.writer_thread || current == self.snapshot_thread;
        if first_call {
            // Every successful submit sent its item before `closed` was set, so this
            // goes behind all of them. A blocking send is fine from any other thread: the
            // writer drains the queue. On the log's own threads it could wait for itself;
            // if the queue is full there, the writer still stops once the last handle
            // (and with it the queue's sender) is gone.
            let _ = if on_log_thread {
                self.tx.try_send(Item::Shutdown).map_err(|_| ())
            } else {
                self.tx.send(Item::Shutdown).map_err(|_| ())
            };
        }
        if on_log_thread {
            // Called from a completion callback: the writer stops once it returns to its
            // queue; it cannot be joined from inside itself.
            return Ok(());
        }
        // The join happens under the mutex, so a concurrent second caller returns only
        // once the writer is gone too.
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(thread) = writer.take() {
            if thread.join().is_err() {
                tracing::error!("wal: the writer thread panicked at shutdown");
            }
        }
        drop(writer);
        match self.shared.poisoned() {
            Some(cause) => Err(WalError::Poisoned { cause }),
            None => Ok(()),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown() {
            tracing::warn!(%error, "wal: the log was poisoned when its last handle was dropped");
        }
    }
}
