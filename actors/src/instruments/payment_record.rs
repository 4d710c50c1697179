//! A payment's record (`payment_log`, INSTRUMENTS.md §6.5) as the shard writes it, shared by
//! the engine's `RecordPayment` and the supervisors' pass over payments left REQUESTED:
//! the payment, and for a division account's payment what it does to the budget's
//! counters (D-1.7, D-1.9), in one record so that both are durable together or not at all.
//! Also the decline a sale's failure answers.

use omnibus_core::payments::division::counters_after;
use omnibus_core::payments::payment::{PayerKind, PaymentEntry};
use omnibus_core::payments::DeclineCode;
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::saga::Reason;

use crate::error::EngineError;
use crate::ledger::ShardLedger;

/// The decline a payment's sale told failed answers (§6.2, "execution"): `TIMEOUT` when it
/// timed out, `INSUFFICIENT_FUNDS` when it was refused before any call (the funds were
/// taken between the authorization and the sale), `FUNDING_FAILED` otherwise.
pub fn sale_decline(reason: Reason, timed_out: bool) -> DeclineCode {
    if timed_out || reason == Reason::Timeout {
        DeclineCode::Timeout
    } else if reason == Reason::NotCarriedOut {
        DeclineCode::InsufficientFunds
    } else {
        DeclineCode::FundingFailed
    }
}

/// Writes `payment` (not waiting for durability) and answers it as the books now hold it.
/// A division payment's sale done or not, or its refund, moves its budget's counters once:
/// by what this record changes over the one on record.
pub fn record_payment(
    ledger: &mut ShardLedger,
    payment: PaymentEntry,
) -> Result<PaymentEntry, EngineError> {
    let mut division = None;
    if let (PayerKind::Division, Some((master, seq))) = (payment.payer, payment.card) {
        let books = ledger.books();
        division = books
            .payment(payment.id)
            .zip(books.division(master, seq))
            .and_then(|(on_record, held)| {
                let budget = held.account.controls.budget_period();
                counters_after(&held.account.counters, budget, on_record, &payment)
                    .map(|counters| (held.version, held.account.clone(), counters))
            });
    }
    let id = payment.id;
    let (actor, record) = match division {
        Some((version, mut account, counters)) => {
            account.counters = counters;
            (
                ActorId::Customer(account.master),
                LedgerRecord::DivisionSet {
                    version: version + 1,
                    account: Box::new(account),
                    payment: Some(Box::new(payment)),
                },
            )
        }
        None => (ActorId::Shard, LedgerRecord::PaymentSet { payment }),
    };
    ledger.execute_unwaited(actor, &record)?;
    ledger
        .books()
        .payment(id)
        .cloned()
        .ok_or_else(|| EngineError::Internal(format!("{id} not in the books once written")))
}
