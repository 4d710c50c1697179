//! What a step's result obliges next, whatever the instrument: the "then" column of the
//! SPEC §4 table ([`then_step`]), and the compensations a request owes once a step's
//! result is in ([`owed_compensation`]). The steps of seed 000 are shared: a remittance
//! with a deficit runs a charge's withdrawal and credit first, so the rules of those
//! steps are written once, here: the defaults of [`super::Instrument::plan_after`] and
//! [`super::Instrument::owed`], on which an instrument with rules of its own builds.

use super::LogEntry;
use crate::money::Amount;
use crate::request_log::{EntryState, FollowUp, Step, Transition};

/// The step the SPEC §4 table's "then" column asks for after `transition` of an entry of
/// `amount`, if any.
pub fn then_step(amount: Amount, transition: &Transition) -> Option<(Step, Amount)> {
    match transition.then {
        FollowUp::PostThenCredit => Some((Step::ChargeCredit, amount)),
        FollowUp::PostThenDeposit => Some((Step::RemitDeposit, amount)),
        FollowUp::PostThenRecover | FollowUp::Recover => Some((Step::Recovery, amount)),
        FollowUp::Refund => Some((Step::Refund, amount)),
        FollowUp::PostThenReverse => Some((Step::SaleReversal, amount)),
        _ => None,
    }
}

/// The steps owed whatever the request: recoveries, refunds, a credit after a withdrawal.
/// (What the first version of the retention rule checked, before continuations were owed.)
pub fn owed_compensation(entries: &[LogEntry]) -> Option<(Step, Amount)> {
    let has = |step: Step| entries.iter().any(|e| e.step == step);
    let find =
        |step: Step, state: EntryState| entries.iter().find(|e| e.step == step && e.state == state);
    if !has(Step::Recovery) {
        if let Some(x2) = find(Step::RemitDeposit, EntryState::Fail) {
            return Some((Step::Recovery, x2.amount));
        }
        if let Some(x1) = find(Step::RemitDeduction, EntryState::Success) {
            if !has(Step::RemitDeposit) {
                return Some((Step::Recovery, x1.amount));
            }
        }
    }
    if !has(Step::Refund) {
        if let Some(a2) = find(Step::ChargeCredit, EntryState::Fail) {
            return Some((Step::Refund, a2.amount));
        }
    }
    if let Some(a1) = find(Step::ChargeWithdrawal, EntryState::Success) {
        if !has(Step::ChargeCredit) {
            return Some((Step::ChargeCredit, a1.amount));
        }
    }
    None
}
