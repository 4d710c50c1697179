//! Charges and remittances as flows of request-log entries: moved to [`crate::ledger`]
//! (the request and entry records the books hold, and the rules the books apply) and
//! [`crate::saga`] (first steps, legs, what follows a transition, the answer due, where a
//! request stands). This module only re-exports them under their old paths.
//!
//! transitional: the actors crate moves to the new paths in the platform issue.

pub use crate::ledger::{
    holds, owed_compensation, owed_step, reserves_credit_for_compensation, Accepted, Answer,
    EntryId, LogEntry, Reason, RequestKind, RequestState, Reserve, HOUSE,
};
pub use crate::saga::{
    due_answer, first_step, plan_after, remit_step, reserves_for, settled_outcome, step_legs,
    Parties, Plan, Settled,
};
