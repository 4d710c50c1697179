//! omnibus-core: the pure domain of the omnibus clearing engine.
//!
//! Money, identifiers, postings, request messages, routing by usage limit, the
//! request-log state machine with the SPEC §4 table, and configuration. Nothing here does
//! I/O, reads a clock or knows about actors: the rules are plain functions and state
//! machines, testable with proptest and replayable from the write-ahead log.

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
