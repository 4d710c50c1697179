//! The shard's ledger: its books, the sequencing of records into its write-ahead log, and
//! the callers waiting for their records to become durable.
//!
//! - `mod.rs`: [`ShardLedger`]: apply, batch for the WAL, bounds, waiters, poison.
//! - `signals.rs`: [`LedgerSignals`], how the ledger asks its owner to flush and tells it
//!   what became durable (the ledger names no actor).
//! - `codec.rs`: records and snapshots to and from WAL payloads.
//! - `recovery.rs`: the data directory, and rebuilding a shard's books from its log.
//!
//! One `ShardLedger` lives on each shard's arbiter thread, shared by that shard's actors
//! through `Rc<RefCell<_>>`: every actor of the shard runs on that one thread and borrows
//! the ledger only inside a synchronous handler, never across an await. That is what keeps
//! the hot path in-thread and makes a two-leg posting one atomic step.
//!
//! A record is applied to the books first (which validates it and changes nothing on
//! error), then appended to the shard's open batch. The batch goes to the WAL writer when
//! the ledger's owner acts on [`LedgerSignals::flush_soon`] (the shard actor sends itself
//! `Flush`, which queues behind whatever is already in its mailbox), so one batch carries
//! everything that arrived together. Callers are answered only when the WAL reports their
//! record durable.
//!
//! # Bounds
//!
//! At most `wal.queue_records_max` records are applied and not yet durable. Work that
//! writes several records (a flow's step: an entry's event, the next entry, the answer)
//! asks for room for all of them first ([`ShardLedger::admit`]), so a full queue refuses
//! it before anything changed, never half-way. New work (a request, a posting) may use
//! the bound less a reserve ([`CONTINUATION_RESERVE_DIVISOR`]); the steps of work already
//! admitted may use all of it, so that under overload what was started finishes first.
//!
//! Applied records wait in chunks that the WAL accepts whole (within
//! `wal.batch_records_max` and `wal.batch_bytes_max`). A chunk the WAL's queue has no room
//! for stays here and is handed over again when the WAL reports progress: overload is
//! never a failure of the log. Only an I/O failure poisons the shard.

pub mod archive;
pub mod codec;
pub mod recovery;
mod signals;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock};

use omnibus_core::ledger::{Applied, Lsn, ShardBooks};
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_wal::layout_constants::frame_bytes;
use omnibus_wal::{Batch, Refused, Wal, WalError};

use self::codec::Encoder;
pub use self::signals::LedgerSignals;
use crate::error::{Bound, EngineError};

/// New work may fill the queue only up to `queue_records_max - queue_records_max / 8`:
/// the last eighth is kept for the further steps of work already admitted.
pub const CONTINUATION_RESERVE_DIVISOR: usize = 8;

/// Whether records come from new work or from work already admitted (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    New,
    Continuation,
}

/// Records applied and not yet handed to the WAL, numbered from `first_lsn`.
struct Chunk {
    batch: Batch,
    first_lsn: Lsn,
}

/// The WAL's limits on one batch, which every chunk respects.
#[derive(Clone, Copy, Debug)]
pub struct ChunkLimits {
    pub records_max: usize,
    pub bytes_max: usize,
}

/// Runs once the records it waited for are durable, or with the error that stopped them.
/// Waiters are created and run on the shard's own thread (the ledger is built there), so
/// they may hold the shard's `Rc` state.
pub type Waiter = Box<dyn FnOnce(Result<(), EngineError>)>;

pub struct ShardLedger {
    shard: u16,
    books: ShardBooks,
    wal: Wal,
    /// Who flushes the open batch and hears what became durable (the shard actor).
    signals: Option<Arc<dyn LedgerSignals>>,
    encoder: Encoder,
    /// Records applied but not yet handed to the WAL, oldest first, in chunks the WAL
    /// accepts whole.
    open: VecDeque<Chunk>,
    /// Records in `open`.
    open_records: usize,
    chunk_limits: ChunkLimits,
    /// The LSN the next record will get. The shard is the only writer of its log, so it
    /// knows the LSNs the WAL will assign; `flush` asserts they agree.
    next_lsn: Lsn,
    /// Highest LSN the WAL reported durable.
    durable_lsn: Lsn,
    /// Records handed to the WAL and not yet durable.
    in_wal: usize,
    waiters: VecDeque<(Lsn, Waiter)>,
    flush_scheduled: bool,
    poisoned: Option<String>,
    /// The cause of a log failure, shared with the engine handle (its `health`).
    poisoned_flag: Arc<OnceLock<String>>,
    parent_seqs: BTreeMap<ActorId, u64>,
    shard_seq: u64,
    records_since_snapshot: u64,
    /// Bound on records applied and not yet durable (config `wal.queue_records_max`).
    queue_records_max: usize,
    /// The shard's archive of settled requests, once the shard has one (`archive.rs`),
    /// and the most settled requests kept in memory while it catches up
    /// (`archive.settled_max`).
    archive: Option<(archive::ShardArchive, usize)>,
}

impl ShardLedger {
    pub fn new(
        shard: u16,
        books: ShardBooks,
        wal: Wal,
        next_lsn: Lsn,
        queue_records_max: usize,
        chunk_limits: ChunkLimits,
        poisoned_flag: Arc<OnceLock<String>>,
    ) -> Self {
        assert!(
            next_lsn > books.last_lsn(),
            "the next LSN follows every applied record"
        );
        assert!(chunk_limits.records_max > 0 && chunk_limits.bytes_max > 0);
        Self {
            shard,
            durable_lsn: next_lsn - 1,
            books,
            wal,
            signals: None,
            encoder: Encoder::default(),
            open: VecDeque::new(),
            open_records: 0,
            chunk_limits,
            poisoned_flag,
            next_lsn,
            in_wal: 0,
            waiters: VecDeque::new(),
            flush_scheduled: false,
            poisoned: None,
            parent_seqs: BTreeMap::new(),
            shard_seq: 0,
            records_since_snapshot: 0,
            queue_records_max,
            archive: None,
        }
    }

    /// Gives the ledger its shard's archive of settled requests; above `settled_max`
    /// settled requests in memory, new work is refused "overloaded".
    pub fn set_archive(&mut self, archive: archive::ShardArchive, settled_max: usize) {
        self.archive = Some((archive, settled_max));
    }

    /// The shard's archive of settled requests, if it has one (a ledger built for a test
    /// may not).
    pub fn archive(&self) -> Option<&archive::ShardArchive> {
        self.archive.as_ref().map(|(archive, _)| archive)
    }

    /// Forgets settled requests its archive now holds durably (`archive.rs`).
    pub fn evict(&mut self, keys: &[omnibus_core::ledger::RequestKey]) {
        self.books.evict(keys);
    }

    /// Connects the ledger to its owner before any record is applied.
    pub fn attach(&mut self, signals: Arc<dyn LedgerSignals>) {
        self.signals = Some(signals);
    }

    pub fn books(&self) -> &ShardBooks {
        &self.books
    }

    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    pub fn shard(&self) -> u16 {
        self.shard
    }

    pub fn durable_lsn(&self) -> Lsn {
        self.durable_lsn
    }

    pub fn last_applied_lsn(&self) -> Lsn {
        self.next_lsn - 1
    }

    pub fn records_since_snapshot(&self) -> u64 {
        self.records_since_snapshot
    }

    /// Counts the records a restart replayed (those after the snapshot it loaded) among
    /// the records since the last snapshot.
    pub fn replayed_since_snapshot(&mut self, records: u64) {
        self.records_since_snapshot += records;
    }

    pub fn reset_snapshot_counter(&mut self) {
        self.records_since_snapshot = 0;
    }

    /// Records applied but not yet durable.
    pub fn pending_records(&self) -> usize {
        self.open_records + self.in_wal
    }

    /// Room for `records` more records of `admission`, or "overloaded" (nothing changed).
    /// A caller that writes several records in one step asks for all of them first.
    pub fn admit(&self, records: usize, admission: Admission) -> Result<(), EngineError> {
        self.check_usable()?;
        let bound = match admission {
            Admission::New => {
                self.queue_records_max - self.queue_records_max / CONTINUATION_RESERVE_DIVISOR
            }
            Admission::Continuation => self.queue_records_max,
        };
        if self.pending_records() + records > bound {
            return Err(EngineError::Overloaded(Bound::WalQueue));
        }
        // The archive's writer behind: new work waits until settled requests leave memory.
        if let (Admission::New, Some((_, settled_max))) = (admission, &self.archive) {
            if self.books.settled_in_memory() >= *settled_max {
                return Err(EngineError::Overloaded(Bound::ArchiveBacklog));
            }
        }
        Ok(())
    }

    pub fn check_usable(&self) -> Result<(), EngineError> {
        match &self.poisoned {
            Some(cause) => Err(EngineError::Storage {
                shard: self.shard,
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Applies `record` on behalf of `actor` and queues it for the log; `waiter` runs once
    /// it is durable. On error nothing changed, nothing was queued, and the waiter comes
    /// back with the error, for the caller to run after it releases the ledger.
    pub fn execute(
        &mut self,
        actor: ActorId,
        record: &LedgerRecord,
        waiter: Waiter,
    ) -> Result<Applied, (EngineError, Waiter)> {
        match self.apply_and_queue(actor, record) {
            Ok((lsn, applied)) => {
                self.waiters.push_back((lsn, waiter));
                Ok(applied)
            }
            Err(e) => Err((e, waiter)),
        }
    }

    /// [`Self::execute`] for a record nobody waits on by itself (a later barrier does).
    pub fn execute_unwaited(
        &mut self,
        actor: ActorId,
        record: &LedgerRecord,
    ) -> Result<Applied, EngineError> {
        self.apply_and_queue(actor, record)
            .map(|(_, applied)| applied)
    }

    fn apply_and_queue(
        &mut self,
        actor: ActorId,
        record: &LedgerRecord,
    ) -> Result<(Lsn, Applied), EngineError> {
        self.check_usable()?;
        if self.pending_records() >= self.queue_records_max {
            return Err(EngineError::Overloaded(Bound::WalQueue));
        }
        // What entries to be tried again are owed from a merchant's slice stays there
        // (`omnibus_core::ledger` `owed.rs`): checked here, on the live path only, so
        // that replay reads logs written before the check as they were.
        self.books.check_leaves_owed(record)?;
        let lsn = self.next_lsn;
        let applied = self.books.apply(lsn, record)?;
        self.next_lsn += 1;
        self.records_since_snapshot += 1;
        let seq = self.next_actor_seq(actor);
        let payload = self.encoder.encode(record);
        let size = frame_bytes(payload.len());
        let limits = self.chunk_limits;
        let fits = self.open.back().is_some_and(|chunk| {
            chunk.batch.len() < limits.records_max && chunk.batch.bytes() + size <= limits.bytes_max
        });
        if !fits {
            self.open.push_back(Chunk {
                batch: Batch::new(),
                first_lsn: lsn,
            });
        }
        let chunk = self.open.back_mut().expect("just ensured");
        chunk.batch.push(actor.encode(), seq, payload);
        debug_assert_eq!(chunk.first_lsn + chunk.batch.len() as u64 - 1, lsn);
        self.open_records += 1;
        self.schedule_flush();
        Ok((lsn, applied))
    }

    /// Runs `waiter` once everything applied so far is durable: a read barrier, so that a
    /// query never reports a state a crash could take back.
    pub fn after_durable(&mut self, waiter: Waiter) {
        let lsn = self.last_applied_lsn();
        if lsn <= self.durable_lsn {
            waiter(self.check_usable());
        } else {
            self.waiters.push_back((lsn, waiter));
        }
    }

    fn next_actor_seq(&mut self, actor: ActorId) -> u64 {
        match actor {
            ActorId::Customer(c) => {
                let seq = self
                    .books
                    .customer(c)
                    .map_or(0, |e| e.log_seq)
                    .wrapping_add(1);
                self.books.set_customer_log_seq(c, seq);
                u64::from(seq)
            }
            ActorId::Parent(_) => {
                let seq = self.parent_seqs.entry(actor).or_insert(0);
                *seq += 1;
                *seq
            }
            ActorId::Shard => {
                self.shard_seq += 1;
                self.shard_seq
            }
        }
    }

    /// Restores an actor's sequence number while replaying its records.
    pub fn replayed_seq(&mut self, actor: ActorId, seq: u64) {
        match actor {
            ActorId::Customer(c) => self.books.set_customer_log_seq(c, seq as u32),
            ActorId::Parent(_) => {
                let s = self.parent_seqs.entry(actor).or_insert(0);
                *s = (*s).max(seq);
            }
            ActorId::Shard => self.shard_seq = self.shard_seq.max(seq),
        }
    }

    fn schedule_flush(&mut self) {
        if !self.flush_scheduled {
            if let Some(signals) = &self.signals {
                self.flush_scheduled = true;
                signals.flush_soon();
            }
        }
    }

    /// Hands the open chunks to the WAL writer, oldest first, as far as its queue has
    /// room; what does not fit stays and goes with the next flush (the shard flushes again
    /// whenever the WAL reports progress). Returns the waiters to fail if the log is
    /// poisoned; the caller runs them after releasing its borrow of the ledger.
    pub fn flush(&mut self) -> Vec<(Waiter, EngineError)> {
        self.flush_scheduled = false;
        if self.poisoned.is_some() {
            return Vec::new();
        }
        while let Some(chunk) = self.open.pop_front() {
            let count = chunk.batch.len();
            let first = chunk.first_lsn;
            let signals = self
                .signals
                .clone()
                .expect("the ledger is attached to its shard before use");
            let done = Box::new(move |result: Result<std::ops::Range<Lsn>, WalError>| {
                signals.durable(
                    first + count as u64 - 1,
                    result.map(|_| ()).map_err(|e| e.to_string()),
                );
            });
            match self.wal.try_submit(chunk.batch, done) {
                Ok(range) => {
                    assert_eq!(
                        range,
                        first..first + count as u64,
                        "the WAL assigns the LSNs the shard applied"
                    );
                    self.in_wal += count;
                    self.open_records -= count;
                }
                Err(Refused {
                    error: WalError::Overloaded { .. },
                    batch,
                }) => {
                    // The WAL's queue is full of this shard's earlier records; its progress
                    // brings a `Durable`, and the shard flushes again then.
                    self.open.push_front(Chunk {
                        batch,
                        first_lsn: first,
                    });
                    break;
                }
                // Anything else means records that are applied can no longer reach the
                // log: the chunks respect the batch limits, so it is a failed or closed log.
                Err(Refused { error, .. }) => return self.poison(error.to_string()),
            }
        }
        Vec::new()
    }

    /// Whether applied records are waiting for room in the WAL's queue.
    pub fn has_unflushed(&self) -> bool {
        !self.open.is_empty()
    }

    /// The WAL made everything up to `upto` durable (or failed).
    pub fn durable(
        &mut self,
        upto: Lsn,
        result: Result<(), String>,
    ) -> Vec<(Waiter, Result<(), EngineError>)> {
        if let Err(cause) = result {
            return self
                .poison(cause)
                .into_iter()
                .map(|(w, e)| (w, Err(e)))
                .collect();
        }
        debug_assert!(upto >= self.durable_lsn);
        self.in_wal -= (upto - self.durable_lsn) as usize;
        self.durable_lsn = upto;
        let mut ready = Vec::new();
        while self.waiters.front().is_some_and(|(lsn, _)| *lsn <= upto) {
            let (_, waiter) = self.waiters.pop_front().expect("checked");
            ready.push((waiter, Ok(())));
        }
        ready
    }

    fn poison(&mut self, cause: String) -> Vec<(Waiter, EngineError)> {
        tracing::error!(shard = self.shard, %cause, "write-ahead log failed; the shard refuses all further work");
        let _ = self.poisoned_flag.set(cause.clone());
        self.poisoned.get_or_insert(cause);
        let err = self.check_usable().expect_err("just poisoned");
        self.waiters
            .drain(..)
            .map(|(_, w)| (w, err.clone()))
            .collect()
    }
}
