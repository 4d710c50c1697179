//! Remittances within the usage limit (SPEC §3): the customer pays `fin_parent` (X1, by
//! the securities firm system), then the deposit firm account pays the payee (X2, by the
//! bank firm system); a remittance whose payout fails gives the customer the money back
//! (a recovery, by the securities firm system). The rail call of each. Routing by the
//! usage limit and the deficit charged first are decided at admission (`admission.rs`).

use omnibus_core::flow::{LogEntry, RequestState};
use omnibus_core::{AccountId, ParentAccount};

use crate::rails::{
    Answer as RailResult, Deposit, DepositSource, RailFuture, RailRequestId, Rails,
    SecuritiesTransfer,
};

/// X1: the customer pays `fin_parent`.
pub(super) fn deduct(rails: &Rails, id: RailRequestId, entry: &LogEntry) -> RailFuture<RailResult> {
    rails.securities_firm.decrease(SecuritiesTransfer {
        id,
        customer: entry.customer,
        amount: entry.amount,
    })
}

/// X2: the deposit firm account at the payee's bank (or the default one) pays the payee.
pub(super) fn deposit(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
    request: &RequestState,
) -> Option<RailFuture<RailResult>> {
    let payee = request.accepted.payee?;
    let AccountId::Parent {
        parent: ParentAccount::DepositFirm(bank),
    } = entry.debit
    else {
        return None;
    };
    Some(rails.bank_firm.deposit(Deposit {
        id,
        customer: entry.customer,
        from: DepositSource::DepositFirm(bank),
        to_bank: payee.bank,
        to_account: payee.account,
        amount: entry.amount,
    }))
}

/// The recovery of a remittance whose payout failed: `fin_parent` credits the customer.
pub(super) fn recover(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
) -> RailFuture<RailResult> {
    rails.securities_firm.increase(SecuritiesTransfer {
        id,
        customer: entry.customer,
        amount: entry.amount,
    })
}
