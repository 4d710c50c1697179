//! omnibus-actors: the engine's actix actors over the pure core and the write-ahead log.
//!
//! - [`Engine`]: the `Send + Sync` handle a host holds.
//! - `shard`: one shard actor per arbiter thread: router, ledger owner, activator.
//! - `customer`, `parent`: the account actors.
//! - `ledger`: the shard's books, WAL sequencing and durability waiters.
//! - `recovery`: data directory, snapshot and replay.

mod codec;
mod customer;
mod engine;
mod error;
mod gate;
mod job;
mod ledger;
mod parent;
pub mod rails;
mod recovery;
mod reply;
mod shard;

pub use codec::describe as describe_record;
pub use engine::{CustomerBalance, Engine, ParentBalance, Totals};
pub use error::{EngineError, StartError};
pub use job::Receipt;
pub use recovery::RecoveryReport;
pub use shard::ShardTotals;
