//! The steps a request still owes: a compensation (a recovery, a refund), a credit after
//! a withdrawal, a deduction after a deficit's credit. The books settle a request (forget
//! it, free what it set aside) only when it owes nothing, and the saga creates what it owes.

use super::{Accepted, LogEntry, RequestKind};
use crate::money::Amount;
use crate::request_log::{EntryState, Step};
use crate::routing::RemitPath;

/// A step a request still owes because its entry could not be created when it was due
/// (its hold was refused, or a crash kept the step's first records and not the next
/// entry): the money must still move, so a supervisor keeps trying to create it. `None`
/// when nothing is owed.
///
/// - a deposit that failed, or a deduction that happened with no deposit after it, owes
///   the customer a recovery (SPEC §5);
/// - a charge credit failed for good owes a refund;
/// - a withdrawal that happened with no credit after it owes the credit;
/// - a remittance on the first path whose deficit was credited, with no deduction after
///   it and nobody told anything yet, owes its deduction (once told failed, it must not
///   go on).
pub fn owed_step(
    accepted: &Accepted,
    answered: bool,
    entries: &[LogEntry],
) -> Option<(Step, Amount)> {
    if let Some(owed) = owed_compensation(entries) {
        return Some(owed);
    }
    let has = |step: Step| entries.iter().any(|e| e.step == step);
    let credited = entries
        .iter()
        .any(|e| e.step == Step::ChargeCredit && e.state == EntryState::Success);
    if accepted.kind == RequestKind::Remit
        && accepted.path == Some(RemitPath::First)
        && credited
        && !answered
        && !has(Step::RemitDeduction)
    {
        return Some((Step::RemitDeduction, accepted.amount));
    }
    None
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
