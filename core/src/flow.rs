//! Charges and remittances as flows of request-log entries: moved to [`crate::saga`] (the
//! request and entry records, the `Instrument` trait), [`crate::instruments`] (each kind
//! of request's rules) and [`crate::ledger`] (the books that store them). This module only
//! re-exports them under their old paths.
//!
//! transitional: the actors crate moves to the new paths in the platform issue.

pub use crate::instruments::{
    due_answer, first_step, owed_compensation, owed_step, plan_after, remit_step, reserves_for,
    step_legs,
};
pub use crate::ledger::{settled_outcome, RequestState};
pub use crate::saga::{
    holds, Accepted, Answer, EntryId, LogEntry, Parties, Plan, Reason, RequestKind, Reserve,
    Settled, HOUSE,
};
