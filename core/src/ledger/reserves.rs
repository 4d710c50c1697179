//! Money a request sets aside on parent slices before its first outside call
//! ([`Reserve`]), held until the steps that use it are final or the request needs it no
//! more; and which steps' credit is set aside for the compensation that may follow.

use crate::ids::AccountId;
use crate::money::Amount;
use crate::request_log::Step;

/// Money a request sets aside on a parent account's slice before its first outside call,
/// so the steps it may still need (a credit, a payout, a refund, a recovery) are never
/// refused for want of funds: the amount is held on the account until the step that
/// uses it is final, or the request needs it no more.
pub type Reserve = (AccountId, Amount);

/// Whether a step's SUCCESS sets its credit aside for the compensation that may follow:
/// a withdrawal (A1) for the refund of a credit that fails for good, a deduction (X1) for
/// the recovery of a deposit that fails. Released once the step after it succeeds.
pub fn reserves_credit_for_compensation(step: Step) -> bool {
    matches!(step, Step::ChargeWithdrawal | Step::RemitDeduction)
}
