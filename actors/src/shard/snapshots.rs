//! Snapshots: every `wal.snapshot_every_records` records, and at a clean shutdown after
//! `wal.snapshot_at_shutdown_records`, the books are cut on the shard's thread
//! (copy-on-write, cheap), copied out and serialized on a thread of their own, then handed
//! to the WAL, which writes them after every record they reflect.

use actix::{AsyncContext, Context, Handler, Message};
use omnibus_core::ledger::Lsn;

use super::ShardActor;
use crate::ledger::codec;

impl ShardActor {
    pub(super) fn maybe_snapshot(&mut self, ctx: &mut Context<Self>) {
        let every = self.config.wal.snapshot_every_records;
        if self.snapshot_running || self.ledger.borrow().records_since_snapshot() < every {
            return;
        }
        self.take_snapshot(ctx, true);
    }

    /// Cuts the books and has them copied out, serialized and written on a thread of their
    /// own: at `wal.background_write_bytes_per_sec` (`paced`), or at full speed (the clean
    /// shutdown's snapshot, which nothing waits beside).
    pub(super) fn take_snapshot(&mut self, ctx: &mut Context<Self>, paced: bool) {
        self.snapshot_running = true;
        // Everything applied so far goes to the WAL first: the writer handles the
        // snapshot in order, after every record it covers.
        let failed = self.ledger.borrow_mut().flush();
        for (w, e) in failed {
            w(Err(e));
        }
        // The cut is cheap (shared copy-on-write); copying it out and serializing it
        // happen on the snapshot's own thread. The pause is timed from here until the
        // thread is started.
        let paused = std::time::Instant::now();
        let (cut, lsn, wal) = {
            let mut ledger = self.ledger.borrow_mut();
            ledger.reset_snapshot_counter();
            (
                ledger.books().cut(),
                ledger.last_applied_lsn() + 1,
                ledger.wal().clone(),
            )
        };
        let me = ctx.address();
        let shard = self.id;
        // Serializing a large snapshot takes a while; it happens off the shard's thread.
        let spawned = std::thread::Builder::new()
            .name(format!("omnibus-snapshot-{shard}"))
            .spawn(move || {
                // Copying the books out and serializing them is the heaviest work the
                // engine does; it gets what the shards leave idle, not a core of theirs.
                if paced {
                    omnibus_wal::storage::background_thread();
                }
                let snapshot = cut.into_snapshot();
                let bytes = codec::encode_snapshot(&snapshot);
                drop(snapshot);
                let size = bytes.len();
                let refused = me.clone();
                let done = Box::new(move |result: Result<(), omnibus_wal::WalError>| {
                    me.do_send(SnapshotDone {
                        lsn,
                        bytes: size,
                        result: result.map_err(|e| e.to_string()),
                    });
                });
                let handed = if paced {
                    wal.snapshot(lsn, bytes, done)
                } else {
                    wal.snapshot_unpaced(lsn, bytes, done)
                };
                if let Err(e) = handed {
                    // Refused (the queue full, a snapshot still being written): the WAL
                    // drops `done` uncalled, so the shard hears of it here, or it would
                    // never take a snapshot again.
                    tracing::warn!(shard, lsn, error = %e, "snapshot not taken");
                    refused.do_send(SnapshotDone {
                        lsn,
                        bytes: size,
                        result: Err(e.to_string()),
                    });
                }
            });
        let pause_us = u64::try_from(paused.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats.snapshot_pause_max_us = self.stats.snapshot_pause_max_us.max(pause_us);
        if let Err(e) = spawned {
            tracing::warn!(shard, error = %e, "could not start the snapshot thread");
            self.snapshot_running = false;
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct SnapshotDone {
    pub lsn: Lsn,
    pub bytes: usize,
    pub result: Result<(), String>,
}

impl Handler<SnapshotDone> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SnapshotDone, ctx: &mut Context<Self>) {
        self.snapshot_running = false;
        self.flush_waiting();
        // A shutdown waits for the snapshot being written (`lifecycle.rs`).
        self.try_finish_stopping(ctx);
        match msg.result {
            Ok(()) => {
                self.stats.snapshots += 1;
                tracing::info!(
                    shard = self.id,
                    lsn = msg.lsn,
                    bytes = msg.bytes,
                    "snapshot taken"
                );
            }
            Err(e) => tracing::warn!(shard = self.id, lsn = msg.lsn, error = %e, "snapshot failed"),
        }
    }
}
