//! Remittances within the usage limit (SPEC §3): the customer pays `fin_parent` (X1, by
//! the securities firm system), then the deposit firm account pays the payee (X2, by the
//! bank firm system); a remittance whose payout fails gives the customer the money back
//! (a recovery, by the securities firm system). Its admission (routing by the usage
//! limit, the deficit charged first, over the limit the signature) and the rail call of
//! each step.

use omnibus_core::ledger::RequestState;
use omnibus_core::ledger::{CustomerEntry, ShardBooks};
use omnibus_core::saga::{Accepted, LogEntry};
use omnibus_core::{route, AccountId, ParentAccount, RemitPath, RemitRequest};

use super::admission::{as_submitted, Prepared};
use super::Instruments;
use crate::api::{Signed, Submission};
use crate::error::{EngineError, Rejection};

use crate::rails::{
    Answer as RailResult, Deposit, DepositSource, RailFuture, RailRequestId, Rails,
    SecuritiesAccount, SecuritiesTransfer,
};

impl Instruments {
    /// A remittance as accepted, routed by the usage limit against the balance available
    /// now (`omnibus_core::route`): its path and the deficit to charge first. Over the
    /// limit it must be signed, and the signature is checked (S5, S6); within it, it must
    /// not be.
    pub(super) fn accept_remit(
        &self,
        submission: &Submission,
        request: &RemitRequest,
        signed: Option<&Signed>,
        entry: &CustomerEntry,
        books: &ShardBooks,
        at_ms: u64,
    ) -> Result<Prepared, EngineError> {
        let available = books.money(entry.balance - entry.held);
        let plan = route(
            request.header.amount,
            available,
            self.saga.config().usage_limit(),
        )
        .map_err(|e| EngineError::Internal(format!("routing: {e}")))?;
        let instruction = match (plan.path, signed) {
            (RemitPath::PaymentInstruction, None) => {
                return Err(Rejection::SignatureRequired.into())
            }
            (RemitPath::First, Some(_)) => return Err(Rejection::NotOverLimit.into()),
            (RemitPath::First, None) => None,
            (RemitPath::PaymentInstruction, Some(signed)) => {
                Some(self.check_signature(entry, request, signed, at_ms)?)
            }
        };
        let accepted = Accepted {
            path: Some(plan.path),
            deficit: plan.deficit_charge,
            ..as_submitted(submission, at_ms)
        };
        Ok(Prepared::Ready {
            accepted,
            signed: instruction,
        })
    }

    /// A remittance that waited its turn past its deadline, as put on record: routed as
    /// if the balance covered it (the path depends on the amount alone), no deficit.
    pub(super) fn unstarted_remit(
        &self,
        submission: &Submission,
        at_ms: u64,
    ) -> Result<Accepted, EngineError> {
        let amount = submission.header().amount;
        let plan = route(amount, amount.money(), self.saga.config().usage_limit())
            .map_err(|e| EngineError::Internal(format!("routing: {e}")))?;
        Ok(Accepted {
            path: Some(plan.path),
            ..as_submitted(submission, at_ms)
        })
    }
}

/// X1: the customer (or, for a payout, the merchant: the entry's debit) pays `fin_parent`.
pub(super) fn deduct(rails: &Rails, id: RailRequestId, entry: &LogEntry) -> RailFuture<RailResult> {
    rails.securities_firm.decrease(SecuritiesTransfer {
        id,
        customer: entry.customer,
        account: SecuritiesAccount::of(entry.debit)
            .unwrap_or(SecuritiesAccount::Customer(entry.customer)),
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

/// The recovery of a remittance whose payout failed: `fin_parent` credits the customer
/// (or, for a payout, the merchant: the entry's credit).
pub(super) fn recover(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
) -> RailFuture<RailResult> {
    rails.securities_firm.increase(SecuritiesTransfer {
        id,
        customer: entry.customer,
        account: SecuritiesAccount::of(entry.credit)
            .unwrap_or(SecuritiesAccount::Customer(entry.customer)),
        amount: entry.amount,
    })
}
