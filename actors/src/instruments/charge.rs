//! Charges (SPEC §3): the customer's linked bank account pays into the withdrawal firm
//! parent account (A1, by the bank firm system), then `fin_parent` credits the customer
//! (A2, by the securities firm system); a charge whose credit fails for good refunds the
//! linked account (a deposit from the withdrawal firm account). Its admission (nothing
//! to decide beyond the generic checks) and the rail call of each step.

use omnibus_core::ledger::CustomerEntry;
use omnibus_core::saga::{Accepted, LogEntry};

use super::admission::as_submitted;
use crate::api::Submission;

use crate::rails::{
    Answer as RailResult, Deposit, DepositSource, RailFuture, RailRequestId, Rails,
    SecuritiesAccount, SecuritiesTransfer, Withdrawal,
};

/// A charge as accepted: its own fields; nothing depends on the balance.
pub(super) fn accept(submission: &Submission, at_ms: u64) -> Accepted {
    as_submitted(submission, at_ms)
}

/// A1: the withdrawal from the customer's linked account.
pub(super) fn withdraw(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
    customer: &CustomerEntry,
) -> RailFuture<RailResult> {
    rails.bank_firm.withdraw(Withdrawal {
        id,
        customer: entry.customer,
        bank: customer.linked_bank,
        linked_account: customer.linked_account,
        amount: entry.amount,
    })
}

/// A2: `fin_parent` credits the customer, or the pocket the charge fills (the entry's
/// credit account).
pub(super) fn credit(rails: &Rails, id: RailRequestId, entry: &LogEntry) -> RailFuture<RailResult> {
    rails.securities_firm.increase(SecuritiesTransfer {
        id,
        customer: entry.customer,
        account: SecuritiesAccount::of(entry.credit)
            .unwrap_or(SecuritiesAccount::Customer(entry.customer)),
        amount: entry.amount,
    })
}

/// The refund of a charge whose credit failed for good: back to the linked account.
pub(super) fn refund(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
    customer: &CustomerEntry,
) -> RailFuture<RailResult> {
    rails.bank_firm.deposit(Deposit {
        id,
        customer: entry.customer,
        from: DepositSource::WithdrawalFirm(customer.linked_bank),
        to_bank: customer.linked_bank,
        to_account: customer.linked_account,
        amount: entry.amount,
    })
}
