//! omnibus-actors: the engine's actix actors over the pure core and the write-ahead log.
//!
//! - [`Engine`]: the `Send + Sync` handle a host holds.
//! - `shard`: one shard actor per arbiter thread: router, ledger owner, activator.
//! - `customer`, `parent`: the account actors.
//! - `ledger`: the shard's books, WAL sequencing and durability waiters.
//! - `recovery`: data directory, snapshot and replay.

mod clock;
mod codec;
mod customer;
mod engine;
mod error;
mod failstop;
mod flow;
mod gate;
mod job;
mod ledger;
mod parent;
pub mod rails;
mod recovery;
mod reply;
mod shard;
mod supervisor;
mod sweep;
mod transfers;

pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::describe as describe_record;
pub use engine::{CustomerBalance, Engine, EngineParts, ParentBalance, Totals};
pub use error::{Bound, EngineError, Rejection, StartError};
pub use flow::{EngineEvent, Outcome, RequestView, Signed, SigningText, Submission};
pub use job::Receipt;
pub use recovery::{RecoveryReport, StorageFactory};
pub use shard::ShardTotals;
pub use supervisor::SupervisionReport;
