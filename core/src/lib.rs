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
//! The crate's top-level modules, lowest first. A module names only modules listed before
//! it, so there is no import cycle among them (`tests/layers.rs`, at the workspace root,
//! reads this list and fails on any reference upward).
//!
//! 1. `ids`: identifiers of customers, accounts, requests, banks, transfers.
//! 2. `archive`: rkyv's remote derive for the decimal type.
//! 3. `money`: `Money` and `Amount` in a currency.
//! 4. `hash`: the hasher of ids the maps use.
//! 5. `segmap`: maps that never stall a shard (`SegmentedMap`, `ChunkedVec`).
//! 6. `posting`: double-entry postings and the reference model of balances.
//! 7. `request`: the request messages, validated on construction.
//! 8. `routing`: routing of a remittance by the usage limit.
//! 9. `signing`: the payment instruction's original text and its signature.
//! 10. `config`: the configuration and its validation.
//! 11. `payments`: the instruments layer's pure rules (INSTRUMENTS.md §6): decline and
//!     refusal codes, merchants, keyed secrets, card numbers, controls, payment states.
//! 12. `request_log`: request-log entry states, steps, the SPEC §4 table, `transition`.
//! 13. `statement`: what moved a prepaid card's pocket on a KST day, and the notice that
//!     carries its next-day statement (INSTRUMENTS.md D-5.10).
//! 14. `saga`: what a request is (`Accepted`, of a `RequestKind`), its entries and its
//!     answer, the `Instrument` trait every kind of request implements, and the rules that
//!     hold whatever the instrument (the answer due, where a request stands).
//! 15. `instruments`: each kind of request's rules (`Charge`, `Remit`, `Settlement`) and
//!     `instruments::of`, which finds a request's instrument.
//! 16. `record`: what the write-ahead log holds (`LedgerRecord`), its versioned codec, and
//!     the payloads records carry (a customer's opening, a hold's id and body).
//! 17. `ledger`: the books of one shard, changed only by `ShardBooks::apply` of records; it
//!     asks the instruments what a request owes; its snapshots and their codec.
//! 18. `balance`: moving money between the slices of one parent account across shards.
//! 19. `reconcile`: matching the request logs against the rails' statements.

pub mod archive;
pub mod balance;
pub mod config;
pub mod hash;
pub mod ids;
pub mod instruments;
pub mod ledger;
pub mod money;
pub mod payments;
pub mod posting;
pub mod reconcile;
pub mod record;
pub mod request;
pub mod request_log;
pub mod routing;
pub mod saga;
pub mod segmap;
pub mod signing;
pub mod statement;

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
