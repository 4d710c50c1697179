//! omnibus-core: the pure domain of the omnibus clearing engine.
//!
//! Money, identifiers, postings, request messages, routing by usage limit, the
//! request-log state machine with the SPEC §4 table, the instruments (charges,
//! remittances, sweeps) and the trait they implement, the books of a shard, and
//! configuration. Nothing here does I/O, reads a clock or knows about actors: the rules
//! are plain functions and state machines, testable with proptest and replayable from the
//! write-ahead log.
//!
//! # Layers
//!
//! A module never `use`s one above it. From the bottom:
//!
//! 1. The vocabulary: `ids`, `archive`, `money`, `hash`, `segmap`, `posting`, `request`,
//!    `routing`, `signing`, `config` (each uses only modules before it in this list).
//! 2. `request_log`: request-log entry states, steps, the SPEC §4 table and `transition`.
//! 3. `saga`: what a request is (`Accepted`, of a `RequestKind`), its entries and its
//!    answer, the `Instrument` trait every kind of request implements, and the rules that
//!    hold whatever the instrument (the answer due, where a request stands).
//! 4. `instruments`: each kind of request's rules (`Charge`, `Remit`, `Settlement`) and
//!    `instruments::of`, which finds a request's instrument.
//! 5. `ledger` (the books of one shard, changed only by `ShardBooks::apply`; it asks the
//!    instruments what a request owes) and `record` (what the write-ahead log holds).
//!    These two use each other, as the books and `record/` did before the split:
//!    `LedgerRecord` carries the ledger's request state, the ledger applies
//!    `LedgerRecord`s, and `record/codec.rs` and `record/frozen.rs` encode and decode the
//!    ledger's snapshot. Untangling them means moving the codec out of `record/` (the code
//!    review puts it in the actors' ledger, §2.3), which changes the paths the wal and
//!    actors crates use: not part of this split.
//! 6. `balance` and `reconcile`: pure calculations over the ledger's types.

pub mod archive;
pub mod balance;
pub mod config;
pub mod hash;
pub mod ids;
pub mod instruments;
pub mod ledger;
pub mod money;
pub mod posting;
pub mod reconcile;
pub mod record;
pub mod request;
pub mod request_log;
pub mod routing;
pub mod saga;
pub mod segmap;
pub mod signing;

pub use config::{Config, ConfigError, SyncPolicy};
pub use ids::{
    AccountId, AccountNo, BankCode, CustomerId, IdError, ParentAccount, PayeeName, RequestNo,
    TransferId,
};
pub use money::{Amount, Currency, Money, MoneyError};
pub use posting::{Balances, Posting, PostingError};
pub use request::{
    ChargeRequest, Field, InvalidField, Payee, RemitRequest, RequestDate, RequestHeader,
};
pub use request_log::{EntryState, Event, FollowUp, LogKind, Step, StepPolicy, Told, Transition};
pub use routing::{route, RemitPath, RoutePlan};
