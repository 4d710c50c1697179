//! Requests as sagas of request-log entries (SPEC §3, §4): what a request is ([`Accepted`],
//! of a [`RequestKind`]), its entries ([`LogEntry`]), its answer ([`Answer`], [`Reason`]),
//! the [`Instrument`] trait every kind of request implements, and the rules that hold
//! whatever the instrument.
//!
//! A request is accepted once, then carried out step by step: each step is one
//! request-log entry (one outside call), and what follows an entry's transition is
//! decided by its instrument's [`Instrument::plan_after`], a pure function of the request
//! and the transition. The same function serves the live call, a late answer, a
//! supervisor's confirmation and a restart, so the flow is the same whoever moves it on.
//!
//! # Files
//!
//! - `accepted.rs`: [`Accepted`], [`RequestKind`], [`HOUSE`], [`Reserve`].
//! - `entry.rs`: [`EntryId`], [`LogEntry`], and when an entry holds its amount.
//! - `answer.rs`: [`Answer`] and [`Reason`]: what a customer was told, and why.
//! - `instrument.rs`: the [`Instrument`] trait, and what its methods take and give:
//!   [`Parties`], [`Plan`], [`Settled`].
//! - `follow_ups.rs`: what a step's result obliges next whatever the instrument (the
//!   SPEC §4 table's "then" column, the compensations owed): the trait's defaults.
//! - `due_answer.rs`: the answer a request is due when nobody could be told live
//!   ([`due_answer`]), for any instrument.
//! - `fixed_answer.rs`: the answer a step's durable entry already fixes, whatever the step
//!   does ([`fixed_answer`]): the earliest point a caller can be told.
//! - `outcome.rs`: where a request stands for good ([`settled_outcome`]), for any
//!   instrument.
//!
//! The instruments themselves are in [`crate::instruments`], above this module; the
//! ledger, above both, calls through them.
//!
//! # Where this differs from the code review's layout (2026-11-30, §2.3), and why
//!
//! - The entry state machine (`Step`, `StepPolicy` and the SPEC §4 table, `EntryState`,
//!   `Event`, `transition`), which the review puts in `saga/entry.rs`, `step.rs` and
//!   `policy.rs`, stays in [`crate::request_log`], below this module: the SPEC §4 table is
//!   data every instrument's steps are rows of.
//! - The request and entry records live here rather than in the ledger: the instruments
//!   read them and the ledger calls the instruments, so they sit below both. The ledger
//!   stores them, and re-exports them under its own paths.

mod accepted;
mod answer;
mod due_answer;
mod entry;
mod fixed_answer;
mod follow_ups;
mod instrument;
mod outcome;

pub use accepted::{Accepted, RequestKind, Reserve, HOUSE};
pub use answer::{Answer, Reason};
pub use due_answer::due_answer;
pub use entry::{holds, EntryId, LogEntry};
pub use fixed_answer::fixed_answer;
pub use follow_ups::{owed_compensation, then_step};
pub use instrument::{done, Instrument, Named, Parties, Plan, Settled};
pub use outcome::settled_outcome;
