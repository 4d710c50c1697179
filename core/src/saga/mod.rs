//! Charges, remittances and the house's sweeps as flows of request-log entries (SPEC §3,
//! §4).
//!
//! A request is accepted once, then carried out step by step: each step is one
//! request-log entry (one outside call), and what follows an entry's transition is
//! decided by [`plan_after`], a pure function of the request and the transition. The
//! same function serves the live call, a late answer, a supervisor's confirmation and a
//! restart, so the flow is the same whoever moves it on.
//!
//! # Files
//!
//! - `start.rs`: a request's first step ([`first_step`], [`remit_step`]) and what it sets
//!   aside before its first call ([`reserves_for`]).
//! - `legs.rs`: the posting each step books ([`step_legs`]) between a request's
//!   [`Parties`].
//! - `plan.rs`: what follows an entry's transition ([`Plan`], [`plan_after`]).
//! - `due_answer.rs`: the answer a request is due when nobody could be told live
//!   ([`due_answer`]).
//! - `outcome.rs`: where a request stands for good ([`Settled`], [`settled_outcome`]).
//!
//! # Where this differs from the code review's layout (2026-11-30, §2.3), and why
//!
//! - The entry state machine (`Step`, `StepPolicy` and the SPEC §4 table, `EntryState`,
//!   `Event`, `transition`), which the review puts in `saga/entry.rs`, `step.rs` and
//!   `policy.rs`, stays in [`crate::request_log`]: the books apply `transition` to every
//!   entry event, so it sits below the ledger, and the ledger must not use the saga.
//! - The request and entry records (`Accepted`, `Answer`, `Reason`, `EntryId`, `LogEntry`,
//!   `RequestState`, `Reserve`) and the rule of what a request still owes (`owed_step`) are
//!   the ledger's, since the books store or apply them ([`crate::ledger`] says more). The
//!   saga uses them from there.
//! - No `instruments/` folder and no `Instrument` trait yet: each rule here (first step,
//!   legs, reserves, plan, outcome) is one `match` over every product, and cutting it per
//!   product means dispatching through the trait (review §2.5 step 5), which changes code
//!   rather than moving it.

mod due_answer;
mod legs;
mod outcome;
mod plan;
mod start;

pub use due_answer::due_answer;
pub use legs::{step_legs, Parties};
pub use outcome::{settled_outcome, Settled};
pub use plan::{plan_after, Plan};
pub use start::{first_step, remit_step, reserves_for};
