//! omnibus-actors: the engine's actix actors over the pure core and the write-ahead log.
//!
//! A host holds an [`Engine`], a `Send + Sync` handle. Behind it, each shard is one actor
//! on its own arbiter thread, owning that shard's books and log, with its account actors,
//! saga runtime and supervisors on the same thread.
//!
//! # Layers
//!
//! The crate's top-level modules, lowest first. A module may name (`use crate::x`,
//! `crate::x::...`, or a name `lib.rs` re-exports from `x`) only modules listed before it,
//! so there is no import cycle among them. Where a lower module has to reach a higher
//! one, the lower one owns a small trait, callback or message that the higher one
//! implements or handles. `tests/layers.rs` (at the workspace root) reads this list and
//! fails, naming the file, the line and the edge, on any reference that goes up. The
//! files inside one folder are parts of one layer.
//!
//! 1. `rails`: the outside systems as async traits, and their in-process simulators.
//! 2. `clock`: the engine's clock, the system's or one moved by hand.
//! 3. `keys`: the payments layer's server secrets, read from their key file at start.
//! 4. `error`: the errors a caller can match on.
//! 5. `reply`: where an answer goes: one caller, or one slot of a batch.
//! 6. `failstop`: a panic on one of an engine's threads stops that engine.
//! 7. `api`: the public data a host sends and is answered with.
//! 8. `ledger`: a shard's books, batching to the WAL, durability waiters, the record
//!    codec, recovery. No actor: it tells its owner to flush, and what became durable,
//!    through the `LedgerSignals` trait the shard implements.
//! 9. `saga`: the saga runtime: accepting, driving and advancing entries, rail calls and
//!    their timeouts, answers, owed steps, events. No product: what each step asks of its
//!    rail comes through the `RailCalls` trait the instruments implement.
//! 10. `instruments`: charges, remittances, payment instructions and settlement sweeps as
//!     they exist today: admission, each step's rail call, issued signing texts, the
//!     house's sweep request.
//! 11. `accounts`: the customer and parent-slice account actors and their jobs. A
//!     transfer's durable debit goes to a `Deliveries` recipient (the shard's address seen
//!     only as a taker of `SendTransfer`), so they never name the shard.
//! 12. `supervisors`: one shard's confirm, reprocess, recovery, sweep and prune passes.
//! 13. `shard`: the shard actor: router, residency, transfers between shards, snapshots,
//!     queries, lifecycle. It builds and hosts everything before it for its shard.
//! 14. `engine`: the handle: start and stop, admission to each shard, submissions, raw
//!     postings, queries, reconciliation, and the balancer across shards.

mod accounts;
mod api;
mod clock;
mod engine;
mod error;
mod failstop;
mod instruments;
pub mod keys;
mod ledger;
pub mod rails;
mod reply;
mod saga;
mod shard;
mod supervisors;

pub use api::{
    CardStatement, CustomerBalance, EngineEvent, MerchantRefundRequest, Outcome, ParentBalance,
    PocketChargeRequest, Receipt, RequestView, SaleRequest, ShardTotals, Signed, SigningText,
    Submission, Totals,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{
    CancelByRequest, CardApplication, Checkout, DepositReceipt, DepositRef, DivisionApplication,
    DivisionIssue, Engine, EngineParts, IssuedDivision, PartnerSetup, PaymentSettlements,
    PayoutView, Settlement, VaReconciliation, WalletSession,
};
pub use error::{Bound, EngineError, Rejection, StartError};
pub use ledger::codec::describe as describe_record;
pub use ledger::recovery::{RecoveryReport, StorageFactory};
pub use supervisors::SupervisionReport;
