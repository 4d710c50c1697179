//! Sales (INSTRUMENTS.md §6.3): the customer's balance, or the pocket of one of the
//! customer's prepaid cards, pays a merchant through `SS.transfer`, and a sale declined
//! for a timeout but found done is reversed. Its admission (the merchant exists on this
//! shard's books, the card is the customer's; a resubmission names the same accounts) and
//! the rail call of both steps, shared with the pocket charge (`pocket_charge.rs`). The
//! rules (told, owed, legs) are the core instrument's, `omnibus_core::instruments::Sale`.

use omnibus_core::ledger::ShardBooks;
use omnibus_core::payments::payment::{PaymentId, PaymentState};
use omnibus_core::payments::RefusalCode;
use omnibus_core::saga::{Accepted, LogEntry, Named};

use super::admission::as_submitted;
use crate::api::{SaleRequest, Submission};
use crate::error::EngineError;
use crate::rails::{
    AccountTransfer, Answer as RailResult, RailFuture, RailRequestId, Rails, SecuritiesAccount,
};

/// A sale as accepted: its own fields, once its merchant (and its card, if a card pays)
/// is known on this shard.
pub(super) fn accept(
    submission: &Submission,
    sale: &SaleRequest,
    books: &ShardBooks,
    at_ms: u64,
) -> Result<Accepted, EngineError> {
    if books.merchant(sale.merchant).is_none() {
        return Err(EngineError::refusal(
            RefusalCode::NotFound,
            format!("no merchant {}", sale.merchant),
        ));
    }
    // A payment's sale (`PAY-<id>`) is asked only while its payment is REQUESTED: one
    // finished without it (DECLINED by the supervisors, its sale never asked) never moves
    // money afterwards.
    if let Some(payment) = PaymentId::of_sale_request_no(sale.header.request_no)
        .and_then(|id| books.payment(id))
        .filter(|p| p.state != PaymentState::Requested)
    {
        return Err(EngineError::refusal(
            RefusalCode::InvalidState,
            format!(
                "payment {} is {:?}; its sale is not asked",
                payment.id, payment.state
            ),
        ));
    }
    if let Some(card) = sale.pocket {
        let customer = sale.header.customer;
        if books.card(customer, card).is_none() {
            return Err(EngineError::refusal(
                RefusalCode::NotFound,
                format!("customer {customer} has no prepaid card {card}"),
            ));
        }
    }
    Ok(as_submitted(submission, at_ms))
}

/// Whether a resubmission names the accounts the request on record names: they are in
/// its entries (the first one's legs), not in its acceptance.
pub(super) fn same_named(entries: &[LogEntry], named: Named) -> bool {
    // A request refused before its first entry names nothing: nothing to differ from.
    entries.is_empty() || Named::in_entries(entries) == named
}

/// A step's `SS.transfer` between the entry's two accounts at the securities firm: a
/// sale, a pocket charge, or the reversal of either.
pub(super) fn transfer(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
) -> Option<RailFuture<RailResult>> {
    let side = SecuritiesAccount::of;
    Some(rails.securities_firm.transfer(AccountTransfer {
        id,
        customer: entry.customer,
        from: side(entry.debit)?,
        to: side(entry.credit)?,
        amount: entry.amount,
    }))
}
