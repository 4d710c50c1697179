//! The writer thread: takes everything queued (up to the group limits), stamps LSNs and
//! CRCs, writes the group with one pwrite per segment touched, syncs once under
//! `SyncMode::Always` (group commit), then completes every waiter in LSN order.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::batch::Batch;
use crate::format::{
    frame_bytes, read_u32, seal_frame, segment_file_name, temp_file_name, SegmentHeader,
    SEGMENT_HEADER_BYTES, SPARE_SEGMENT_FILE,
};
use crate::layout::SegmentMeta;
use crate::snapshot::{SnapshotDone, SnapshotJob};
use crate::spare::Spares;
use crate::storage::{Storage, StorageFile};
use crate::wal::Shared;
use crate::{Lsn, SyncMode, WalError};

pub(crate) type Done = Box<dyn FnOnce(Result<Range<Lsn>, WalError>) + Send>;

/// What the writer's queue carries. Every item but `Shutdown` holds `weight` units of
/// the queue's capacity until the writer has finished with it.
pub(crate) enum Item {
    Batch {
        batch: Batch,
        first_lsn: Lsn,
        weight: u64,
        done: Done,
    },
    Sync {
        reply: Sender<Result<Lsn, WalError>>,
    },
    Snapshot {
        lsn: Lsn,
        state: Vec<u8>,
        done: SnapshotDone,
        /// Written at `background_write_bytes_per_sec` (or at full speed).
        paced: bool,
    },
    Shutdown,
}

/// The segment being appended to.
pub(crate) struct ActiveSegment {
    pub file: Box<dyn StorageFile>,
    pub name: String,
    pub id: u64,
    pub first_lsn: Lsn,
    pub segment_bytes: u64,
    /// Where the next frame goes.
    pub write_offset: u64,
}

impl ActiveSegment {
    fn is_empty(&self) -> bool {
        self.write_offset == SEGMENT_HEADER_BYTES
    }
}

/// Creates a segment on the calling thread (the first one of a log, or at a roll-over that
/// finds no spare ready): preallocates a file under a temporary name with `fallocate`,
/// then [`finish_segment`]s it. Not zero-filled: on this path callers are waiting, and
/// writing 64 MiB of zeros took ~210 ms on the writer thread against under 1 ms for
/// `fallocate`. Such a segment syncs somewhat slower (its extents are converted as they are
/// written); prepared spares (`spare.rs`) are zero-filled and do not.
pub(crate) fn create_segment(
    storage: &dyn Storage,
    id: u64,
    first_lsn: Lsn,
    segment_bytes: u64,
) -> Result<ActiveSegment, WalError> {
    let name = segment_file_name(first_lsn);
    let temp = temp_file_name(&name);
    let temp_path = storage.path(&temp);
    let file = storage
        .create(&temp)
        .map_err(|error| WalError::io(&temp_path, "create segment", error))?;
    file.allocate(segment_bytes)
        .map_err(|error| WalError::io(&temp_path, "preallocate segment", error))?;
    finish_segment(storage, file, &temp, id, first_lsn, segment_bytes)
}

/// Turns `file`, `segment_bytes` of durable zeros under the temporary name `temp` (a
/// spare, or one [`create_segment`] just made), into the segment starting at `first_lsn`,
/// so that after a crash it is either wholly present with a valid header under its final
/// name, or absent (a leftover temporary file recovery deletes): write the header, sync,
/// rename, sync the directory.
pub(crate) fn finish_segment(
    storage: &dyn Storage,
    file: Box<dyn StorageFile>,
    temp: &str,
    id: u64,
    first_lsn: Lsn,
    segment_bytes: u64,
) -> Result<ActiveSegment, WalError> {
    let name = segment_file_name(first_lsn);
    let temp_path = storage.path(temp);
    let header = SegmentHeader {
        segment_id: id,
        first_lsn,
        segment_bytes,
    };
    file.write_at(0, &header.encode())
        .map_err(|error| WalError::io(&temp_path, "write segment header", error))?;
    file.sync_data()
        .map_err(|error| WalError::io(&temp_path, "sync segment", error))?;
    storage
        .rename(temp, &name)
        .map_err(|error| WalError::io(storage.path(&name), "rename segment", error))?;
    storage
        .sync_dir()
        .map_err(|error| WalError::io(storage.path(""), "sync directory", error))?;
    tracing::debug!(segment = %name, id, "wal: segment created");
    Ok(ActiveSegment {
        file,
        name,
        id,
        first_lsn,
        segment_bytes,
        write_offset: SEGMENT_HEADER_BYTES,
    })
}

pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub rx: Receiver<Item>,
    pub snapshots: Sender<SnapshotJob>,
    pub active: ActiveSegment,
    /// The LSN the next frame gets.
    pub next_lsn: Lsn,
    /// The log's lock, released when the writer and the snapshot thread are done with
    /// the files.
    pub lock: Box<dyn std::any::Any + Send + Sync>,
    pub snapshot_thread: Option<std::thread::JoinHandle<()>>,
    /// The preparer of the next segment's file.
    pub spares: Spares,
}

struct Pending {
    range: Range<Lsn>,
    done: Done,
}

struct WriterState {
    shared: Arc<Shared>,
    rx: Receiver<Item>,
    snapshots: Sender<SnapshotJob>,
    active: ActiveSegment,
    next_lsn: Lsn,
    /// Frames stamped and copied but not yet written.
    buffer: Vec<u8>,
    /// LSN of the last frame in `buffer`, and of the last frame written to the file.
    buffered_lsn: Lsn,
    written_lsn: Lsn,
    /// LSN of the last frame known to be on disk: an `fdatasync` covering it returned
    /// (or, for the records found at start-up, recovery's did). Stamped into every frame.
    synced_lsn: Lsn,
    last_sync: Instant,
    carry: Option<Item>,
    spares: Spares,
}

impl Writer {
    /// Runs until shutdown. A panic inside (a bug) poisons the log instead of leaving
    /// submitters waiting forever.
    pub fn run(self) {
        let Writer {
            shared,
            rx,
            snapshots,
            active,
            next_lsn,
            lock,
            snapshot_thread,
            spares,
        } = self;
        let mut state = WriterState {
            shared: shared.clone(),
            rx: rx.clone(),
            snapshots,
            active,
            next_lsn,
            buffer: Vec::with_capacity(shared.options.batch_bytes_max.min(1 << 20)),
            buffered_lsn: next_lsn - 1,
            written_lsn: next_lsn - 1,
            // Everything before `next_lsn` is durable: sealed segments were synced when
            // sealed and recovery synced the last one before replay. So the first group
            // after a restart may vouch for every record found at start-up.
            synced_lsn: next_lsn - 1,
            last_sync: Instant::now(),
            carry: None,
            spares,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| state.run()));
        if outcome.is_err() {
            let cause = shared.poison(WalError::Io {
                path: shared.storage.path(""),
                op: "write (the writer thread panicked)",
                source: std::io::Error::other("writer thread panicked"),
            });
            tracing::error!("wal: the writer thread panicked; the log is poisoned");
            // Fail whatever is still queued, so no caller waits forever.
            loop {
                match rx.recv() {
                    Ok(Item::Shutdown) | Err(_) => break,
                    Ok(item) => fail_item(&shared, item, &cause),
                }
            }
        }
        // The preparer finishes the spare it is making, if any, and the unused spare is
        // deleted. Closing the snapshot queue lets the snapshot thread finish what it has
        // and stop; only then are the files free for another owner.
        state.spares.stop();
        drop(state);
        if let Some(thread) = snapshot_thread {
            if thread.join().is_err() {
                tracing::error!("wal: the snapshot thread panicked");
            }
        }
        drop(lock);
    }
}

fn poisoned(cause: &Arc<WalError>) -> WalError {
    WalError::Poisoned {
        cause: cause.clone(),
    }
}

fn call_done(done: Done, result: Result<Range<Lsn>, WalError>) {
    if catch_unwind(AssertUnwindSafe(|| done(result))).is_err() {
        tracing::error!("wal: an append completion callback panicked");
    }
}

fn fail_item(shared: &Shared, item: Item, cause: &Arc<WalError>) {
    match item {
        Item::Batch { weight, done, .. } => {
            shared.queued.fetch_sub(weight, Ordering::AcqRel);
            call_done(done, Err(poisoned(cause)));
        }
        Item::Sync { reply } => {
            shared.queued.fetch_sub(1, Ordering::AcqRel);
            let _ = reply.send(Err(poisoned(cause)));
        }
        Item::Snapshot { done, .. } => {
            shared.queued.fetch_sub(1, Ordering::AcqRel);
            shared.snapshots_pending.fetch_sub(1, Ordering::AcqRel);
            if catch_unwind(AssertUnwindSafe(|| done(Err(poisoned(cause))))).is_err() {
                tracing::error!("wal: a snapshot completion callback panicked");
            }
        }
        Item::Shutdown => {}
    }
}

impl WriterState {
    fn run(&mut self) {
        if self.shared.poisoned().is_none() {
            self.spares.request();
        }
        loop {
            let item = match self.carry.take() {
                Some(item) => item,
                None => match self.receive() {
                    Some(item) => item,
                    None => continue,
                },
            };
            if let Some(cause) = self.shared.poisoned() {
                if matches!(item, Item::Shutdown) {
                    break;
                }
                fail_item(&self.shared, item, &cause);
                continue;
            }
            match item {
                Item::Batch { .. } => {
                    let group = self.gather(item);
                    self.write_group(group);
                }
                Item::Sync { reply } => {
                    let result = self
                        .sync()
                        .map(|()| self.synced_lsn)
                        .map_err(|cause| poisoned(&cause));
                    self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                    let _ = reply.send(result);
                }
                Item::Snapshot {
                    lsn,
                    state,
                    done,
                    paced,
                } => {
                    // The snapshot may only become durable after every record it reflects.
                    assert!(
                        lsn <= self.next_lsn,
                        "snapshot LSN {lsn} beyond next LSN {}",
                        self.next_lsn
                    );
                    let result = self.sync();
                    self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                    match result {
                        Ok(()) => {
                            assert!(self.synced_lsn + 1 >= lsn);
                            if let Err(returned) = self.snapshots.send(SnapshotJob {
                                lsn,
                                state,
                                done,
                                paced,
                            }) {
                                self.shared.snapshots_pending.fetch_sub(1, Ordering::AcqRel);
                                let done = returned.0.done;
                                if catch_unwind(AssertUnwindSafe(|| done(Err(WalError::Closed))))
                                    .is_err()
                                {
                                    tracing::error!("wal: a snapshot completion callback panicked");
                                }
                            }
                        }
                        Err(error) => {
                            self.shared.snapshots_pending.fetch_sub(1, Ordering::AcqRel);
                            if catch_unwind(AssertUnwindSafe(|| done(Err(poisoned(&error)))))
                                .is_err()
                            {
                                tracing::error!("wal: a snapshot completion callback panicked");
                            }
                        }
                    }
                }
                Item::Shutdown => break,
            }
        }
        // Shutdown (or every handle gone): make everything written durable.
        if self.shared.poisoned().is_none() {
            if let Err(error) = self.sync() {
                tracing::error!(%error, "wal: the final sync at shutdown failed");
            }
        }
    }

    /// The next item, or `None` when the sync interval elapsed (and was served).
    fn receive(&mut self) -> Option<Item> {
        let deadline = match self.shared.options.sync {
            SyncMode::Interval(interval) if self.synced_lsn < self.written_lsn => {
                Some(self.last_sync + interval)
            }
            _ => None,
        };
        let received = match deadline {
            Some(deadline) => self.rx.recv_deadline(deadline),
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(item) => Some(item),
            Err(RecvTimeoutError::Timeout) => {
                // A failed sync poisons the log inside `sync`; nothing else to do here.
                let _ = self.sync();
                None
            }
            // Every handle is gone without a shutdown: shut down all the same.
            Err(RecvTimeoutError::Disconnected) => Some(Item::Shutdown),
        }
    }

    /// `first` plus every batch queued behind it, within the group limits.
    fn gather(&mut self, first: Item) -> Vec<(Batch, Lsn, u64, Done)> {
        let options = &self.shared.options;
        let mut group = Vec::new();
        let mut records = 0usize;
        let mut bytes = 0usize;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Item::Batch {
                    batch,
                    first_lsn,
                    weight,
                    done,
                } => {
                    let fits = records + batch.len() <= options.batch_records_max
                        && bytes + batch.bytes() <= options.batch_bytes_max;
                    if !group.is_empty() && !fits {
                        self.carry = Some(Item::Batch {
                            batch,
                            first_lsn,
                            weight,
                            done,
                        });
                        break;
                    }
                    records += batch.len();
                    bytes += batch.bytes();
                    group.push((batch, first_lsn, weight, done));
                }
                other => {
                    self.carry = Some(other);
                    break;
                }
            }
            match self.rx.try_recv() {
                Ok(item) => next = Some(item),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        group
    }

    fn write_group(&mut self, group: Vec<(Batch, Lsn, u64, Done)>) {
        let started_lsn = self.next_lsn;
        let mut pending = Vec::with_capacity(group.len());
        let mut weight_total = 0u64;
        let mut records = 0u64;
        let mut bytes = 0u64;
        let mut result = Ok(());
        for (mut batch, first_lsn, weight, done) in group {
            weight_total += weight;
            records += batch.len() as u64;
            bytes += batch.bytes() as u64;
            assert_eq!(
                first_lsn, self.next_lsn,
                "batches reach the writer in LSN order"
            );
            let range = first_lsn..first_lsn + batch.len() as u64;
            if result.is_ok() {
                result = self.append_batch(&mut batch);
            }
            assert!(result.is_err() || self.next_lsn == range.end);
            pending.push(Pending { range, done });
        }
        if result.is_ok() {
            result = self.flush();
        }
        if result.is_ok() && self.shared.options.sync == SyncMode::Always {
            result = self.sync();
        }
        let stats = &self.shared.stats;
        self.shared.queued.fetch_sub(weight_total, Ordering::AcqRel);
        match result {
            Ok(()) => {
                stats.records.fetch_add(records, Ordering::Relaxed);
                stats
                    .batches
                    .fetch_add(pending.len() as u64, Ordering::Relaxed);
                stats.groups.fetch_add(1, Ordering::Relaxed);
                stats.bytes.fetch_add(bytes, Ordering::Relaxed);
                stats.last_group_records.store(records, Ordering::Relaxed);
                stats.last_group_bytes.store(bytes, Ordering::Relaxed);
                debug_assert_eq!(self.next_lsn - started_lsn, records);
                for Pending { range, done } in pending {
                    call_done(done, Ok(range));
                }
                if let SyncMode::Interval(interval) = self.shared.options.sync {
                    if self.last_sync.elapsed() >= interval {
                        let _ = self.sync();
                    }
                }
            }
            Err(cause) => {
                for Pending { done, .. } in pending {
                    call_done(done, Err(poisoned(&cause)));
                }
            }
        }
    }

    /// Stamps the batch's frames and copies them into the buffer, sealing segments
    /// and starting new ones as they fill.
    fn append_batch(&mut self, batch: &mut Batch) -> Result<(), Arc<WalError>> {
        let records = batch.len() as u64;
        let fits_whole = self.remaining_bytes() >= batch.bytes() as u64;
        let frames = batch.frames_mut();
        let mut offset = 0usize;
        for _ in 0..records {
            let size = frame_bytes(read_u32(frames, offset) as usize);
            if !fits_whole && self.remaining_bytes() < size as u64 {
                self.roll_over()?;
                assert!(
                    self.remaining_bytes() >= size as u64,
                    "a frame of {size} bytes does not fit an empty segment; submit checks this"
                );
            }
            let lsn = self.next_lsn;
            // Every frame records what was durable when it was stamped. A roll-over above
            // syncs first, so frames in a new segment vouch for the whole sealed one.
            // Recovery trusts this: damage before a frame that claims an LSN synced is
            // damage to synced data, never a lost write.
            let sealed = seal_frame(&mut frames[offset..], lsn, self.synced_lsn);
            debug_assert_eq!(sealed, size);
            if !fits_whole {
                self.buffer
                    .extend_from_slice(&frames[offset..offset + size]);
                self.buffered_lsn = lsn;
            }
            self.next_lsn += 1;
            offset += size;
        }
        assert_eq!(
            offset,
            frames.len(),
            "the batch's frames add up to its length"
        );
        if fits_whole && records > 0 {
            self.buffer.extend_from_slice(frames);
            self.buffered_lsn = self.next_lsn - 1;
        }
        Ok(())
    }

    fn remaining_bytes(&self) -> u64 {
        let used = self.active.write_offset + self.buffer.len() as u64;
        assert!(used <= self.active.segment_bytes);
        self.active.segment_bytes - used
    }

    /// Writes the buffer at the end of the active segment.
    fn flush(&mut self) -> Result<(), Arc<WalError>> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        assert!(self.active.write_offset + self.buffer.len() as u64 <= self.active.segment_bytes);
        if let Err(error) = self
            .active
            .file
            .write_at(self.active.write_offset, &self.buffer)
        {
            return Err(self.shared.poison(WalError::io(
                self.shared.storage.path(&self.active.name),
                "write",
                error,
            )));
        }
        self.active.write_offset += self.buffer.len() as u64;
        self.buffer.clear();
        self.written_lsn = self.buffered_lsn;
        self.shared
            .written_lsn
            .store(self.written_lsn, Ordering::Release);
        Ok(())
    }

    /// Makes every written frame durable. A failure poisons the log; it is never retried,
    /// because after a failed fdatasync the kernel may have dropped the dirty pages and
    /// a second call could report success for data that is gone.
    fn sync(&mut self) -> Result<(), Arc<WalError>> {
        if let Some(cause) = self.shared.poisoned() {
            return Err(cause);
        }
        self.flush()?;
        if self.synced_lsn == self.written_lsn {
            self.last_sync = Instant::now();
            return Ok(());
        }
        let started = Instant::now();
        let result = self.active.file.sync_data();
        let elapsed = started.elapsed();
        let stats = &self.shared.stats;
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        stats
            .sync_ns_total
            .fetch_add(duration_ns(elapsed), Ordering::Relaxed);
        if let Err(error) = result {
            return Err(self.shared.poison(WalError::io(
                self.shared.storage.path(&self.active.name),
                "fdatasync",
                error,
            )));
        }
        self.last_sync = Instant::now();
        self.synced_lsn = self.written_lsn;
        self.shared
            .durable_lsn
            .store(self.synced_lsn, Ordering::Release);
        Ok(())
    }

    /// Seals the active segment (everything in it synced) and continues in a new one
    /// that starts at the next LSN.
    fn roll_over(&mut self) -> Result<(), Arc<WalError>> {
        self.sync()?;
        let first_lsn = self.next_lsn;
        // A segment with no frames (only possible when a log reopened with a larger
        // frame than its last, smaller segment holds) is replaced under the same name
        // and id rather than left empty in the middle.
        let replacing = self.active.is_empty();
        let id = if replacing {
            self.active.id
        } else {
            self.active.id + 1
        };
        assert!(replacing || first_lsn > self.active.first_lsn);
        assert!(!replacing || first_lsn == self.active.first_lsn);
        // The spare if it is ready; otherwise (still being prepared, or preparing it
        // failed) the segment is made here, as it was before spares. Either way a failure
        // now is the writer's own I/O and poisons the log.
        let storage = self.shared.storage.as_ref();
        let segment_bytes = self.shared.options.segment_bytes;
        let (created, from_spare) = match self.spares.take() {
            Some(file) => (
                finish_segment(
                    storage,
                    file,
                    SPARE_SEGMENT_FILE,
                    id,
                    first_lsn,
                    segment_bytes,
                ),
                true,
            ),
            None => (create_segment(storage, id, first_lsn, segment_bytes), false),
        };
        let segment = match created {
            Ok(segment) => segment,
            Err(error) => return Err(self.shared.poison(error)),
        };
        {
            let mut layout = self
                .shared
                .layout
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if replacing {
                layout.segments.pop();
            }
            layout.segments.push(SegmentMeta {
                name: segment.name.clone(),
                id,
                first_lsn,
            });
            layout.assert_consistent();
        }
        let stats = &self.shared.stats;
        stats.segments_created.fetch_add(1, Ordering::Relaxed);
        if from_spare {
            stats.spares_used.fetch_add(1, Ordering::Relaxed);
        }
        self.active = segment;
        self.spares.request();
        Ok(())
    }
}

fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
