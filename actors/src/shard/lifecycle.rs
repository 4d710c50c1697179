//! The shard's side of its ledger's life: flushing applied records to the WAL, running
//! the waiters of what became durable, and stopping (everything applied made durable, a
//! snapshot of it when `wal.snapshot_at_shutdown_records` were applied since the last,
//! the log synced and closed).

use actix::{ActorContext, Addr, Context, Handler, Message};
use omnibus_core::ledger::Lsn;

use super::protocol::Shutdown;
use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::Waiter;
use crate::supervisors;

/// The shard answers its ledger's signals with messages to itself, so that a flush queues
/// behind the mailbox's contents and a durable report is handled in mailbox order.
impl crate::ledger::LedgerSignals for Addr<ShardActor> {
    fn flush_soon(&self) {
        self.do_send(Flush);
    }

    fn durable(&self, upto: Lsn, result: Result<(), String>) {
        self.do_send(Durable { upto, result });
    }
}

/// Hand the open batch to the WAL (queued by the ledger behind the mailbox's contents).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

impl Handler<Flush> for ShardActor {
    type Result = ();
    fn handle(&mut self, _: Flush, _: &mut Context<Self>) {
        let failed = self.ledger.borrow_mut().flush();
        for (w, e) in failed {
            w(Err(e));
        }
    }
}

/// From the WAL writer: records up to `upto` are durable (or the log failed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Durable {
    pub upto: Lsn,
    pub result: Result<(), String>,
}

impl Handler<Durable> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Durable, ctx: &mut Context<Self>) {
        let ready = self.ledger.borrow_mut().durable(msg.upto, msg.result);
        Self::run_waiters(ready);
        self.flush_waiting();
        // A parent slice that left its band asks for a refill now (`supervisors/sweep.rs`).
        supervisors::watch(&self.refill, &self.ledger);
        self.maybe_snapshot(ctx);
        self.try_finish_stopping(ctx);
    }
}

impl ShardActor {
    fn run_waiters(ready: Vec<(Waiter, Result<(), EngineError>)>) {
        for (waiter, result) in ready {
            waiter(result);
        }
    }

    /// Hands the WAL the records that found its queue full at the last flush: the WAL
    /// reported progress, so it has room again.
    pub(super) fn flush_waiting(&mut self) {
        if !self.ledger.borrow().has_unflushed() {
            return;
        }
        let failed = self.ledger.borrow_mut().flush();
        for (w, e) in failed {
            w(Err(e));
        }
    }

    pub(super) fn try_finish_stopping(&mut self, ctx: &mut Context<Self>) {
        if self.stopping.is_none() {
            return;
        }
        let pending = self.ledger.borrow().pending_records();
        let usable = self.ledger.borrow().check_usable().is_ok();
        if pending > 0 && usable {
            return;
        }
        if usable && self.snapshot_running {
            // A snapshot is being written: it finishes first (its `SnapshotDone` comes
            // back here).
            return;
        }
        let at_least = self.config.wal.snapshot_at_shutdown_records;
        if usable
            && !self.shutdown_snapshot
            && at_least > 0
            && self.ledger.borrow().records_since_snapshot() >= at_least
        {
            // Everything applied is durable: a snapshot of it now, at full speed, so the
            // next start loads it and replays nothing.
            self.shutdown_snapshot = true;
            tracing::info!(shard = self.id, "taking a snapshot before stopping");
            self.take_snapshot(ctx, false);
            return;
        }
        let result = self
            .ledger
            .borrow()
            .wal()
            .shutdown()
            .map_err(|e| e.to_string());
        if let Some(done) = self.stopping.take() {
            let _ = done.send(result);
        }
        ctx.stop();
    }
}

impl Handler<Shutdown> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Shutdown, ctx: &mut Context<Self>) {
        self.stopping = Some(msg.done);
        let failed = self.ledger.borrow_mut().flush();
        for (w, e) in failed {
            w(Err(e));
        }
        for customer in self.live.keys().copied().collect::<Vec<_>>() {
            self.passivate(customer);
        }
        self.try_finish_stopping(ctx);
    }
}
