//! omnibus-actors: the engine's actix actors over the pure core and the write-ahead log.
//!
//! - [`Engine`]: the `Send + Sync` handle a host holds.
//! - `shard`: one shard actor per arbiter thread: router, ledger owner, activator.
//! - `customer`, `parent`: the account actors.
//! - `ledger`: the shard's books, WAL sequencing and durability waiters.
//! - `recovery`: data directory, snapshot and replay.

mod accounts;
mod api;
mod clock;
mod engine;
mod error;
mod failstop;
mod instruments;
mod ledger;
pub mod rails;
mod reply;
mod saga;
mod shard;
mod supervisors;

pub use api::{
    CustomerBalance, EngineEvent, Outcome, ParentBalance, Receipt, RequestView, ShardTotals,
    Signed, SigningText, Submission, Totals,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Engine, EngineParts};
pub use error::{Bound, EngineError, Rejection, StartError};
pub use ledger::codec::describe as describe_record;
pub use ledger::recovery::{RecoveryReport, StorageFactory};
pub use supervisors::SupervisionReport;
