//! omnibus-core: the pure domain of the omnibus clearing engine.
//!
//! Money, identifiers, postings, request messages, routing by usage limit, the
//! request-log state machine with the SPEC §4 table, the books of a shard, the flows of
//! requests over them, and configuration. Nothing here does I/O, reads a clock or knows
//! about actors: the rules are plain functions and state machines, testable with proptest
//! and replayable from the write-ahead log.
//!
//! # Layers
//!
//! A module never `use`s one above it. From the bottom:
//!
//! 1. The vocabulary: `ids`, `archive`, `money`, `hash`, `segmap`, `posting`, `request`,
//!    `routing`, `signing`, `config` (each uses only modules before it in this list).
//! 2. `request_log`: request-log entry states, steps, the SPEC §4 table and `transition`.
//! 3. `ledger` (the books of one shard, changed only by `ShardBooks::apply`) and `record`
//!    (what the write-ahead log holds). These two use each other, as `books.rs` and
//!    `record/` did before the split: `LedgerRecord` carries the ledger's request and entry
//!    types, the ledger applies `LedgerRecord`s, and `record/codec.rs` and
//!    `record/frozen.rs` encode and decode the ledger's snapshot. Untangling them means
//!    moving the codec out of `record/` (the code review puts it in the actors' ledger,
//!    §2.3), which changes the paths the wal and actors crates use: not part of this split.
//! 4. `balance` and `reconcile`: pure calculations over the ledger's types.
//! 5. `saga`: a request's first step, the posting of each step, what follows a
//!    transition, the answer due, where a request stands. It uses the ledger's types and
//!    rules; nothing in the ledger uses the saga.
//! 6. `books` and `flow`: the old paths, re-exported from `ledger`, `hash` and `saga`
//!    until the other crates move to the new ones.

pub mod archive;
pub mod balance;
pub mod books;
pub mod config;
pub mod flow;
pub mod hash;
pub mod ids;
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
