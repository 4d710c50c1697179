//! How the ledger reaches whoever runs it, without naming it.
//!
//! The ledger raises two signals: "records were applied, hand the open batch to the WAL
//! soon" (on the shard's thread, as records are applied) and "the WAL made everything up
//! to this LSN durable, or failed" (on the WAL writer's thread, once per batch). The shard
//! actor answers both by sending itself a message (`Flush`, `Durable`), so each is handled
//! in its mailbox order; the ledger only knows this trait, so it builds and runs without an
//! actor system.

use omnibus_core::ledger::Lsn;

/// The two signals of a [`super::ShardLedger`]; see the module documentation.
pub trait LedgerSignals: Send + Sync + 'static {
    /// Applied records wait in the open batch: flush it soon, behind what is already
    /// queued. Raised at most once until the next [`super::ShardLedger::flush`].
    fn flush_soon(&self);

    /// Records up to `upto` are durable, or the log failed with the given cause. Called on
    /// the WAL writer's thread.
    fn durable(&self, upto: Lsn, result: Result<(), String>);
}
