//! Sales (INSTRUMENTS.md §6.3): the customer's balance pays a merchant through
//! `SS.transfer`, and a sale declined for a timeout but found done is reversed. Its
//! admission (the merchant exists on this shard's books; a resubmission names the same
//! merchant) and the rail call of both steps. The rules (told, owed, legs) are the core
//! instrument's, `omnibus_core::instruments::Sale`.

use omnibus_core::ids::MerchantNo;
use omnibus_core::ledger::ShardBooks;
use omnibus_core::payments::RefusalCode;
use omnibus_core::saga::{Accepted, LogEntry};
use omnibus_core::AccountId;

use super::admission::as_submitted;
use crate::api::Submission;
use crate::error::EngineError;
use crate::rails::{
    AccountTransfer, Answer as RailResult, RailFuture, RailRequestId, Rails, SecuritiesAccount,
};

/// A sale as accepted: its own fields, once its merchant is known on this shard.
pub(super) fn accept(
    submission: &Submission,
    merchant: MerchantNo,
    books: &ShardBooks,
    at_ms: u64,
) -> Result<Accepted, EngineError> {
    if books.merchant(merchant).is_none() {
        return Err(EngineError::Refusal {
            code: RefusalCode::NotFound,
            message: format!("no merchant {merchant}"),
        });
    }
    Ok(as_submitted(submission, at_ms))
}

/// Whether a resubmission names the merchant the request on record pays: the merchant
/// is in its first entry (the sale's credit), not in its acceptance.
pub(super) fn same_merchant(entries: &[LogEntry], merchant: Option<MerchantNo>) -> bool {
    let paid = entries.iter().find_map(|e| match e.credit {
        AccountId::Merchant { merchant } => Some(merchant),
        _ => None,
    });
    // A request refused before its first entry names no merchant: nothing to differ from.
    paid.is_none() || paid == merchant
}

/// The sale or its reversal: `SS.transfer` between the entry's two accounts.
pub(super) fn transfer(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
) -> Option<RailFuture<RailResult>> {
    let side = |account| match account {
        AccountId::Customer { customer } => Some(SecuritiesAccount::Customer(customer)),
        AccountId::Merchant { merchant } => Some(SecuritiesAccount::Merchant(merchant)),
        _ => None,
    };
    Some(rails.securities_firm.transfer(AccountTransfer {
        id,
        customer: entry.customer,
        from: side(entry.debit)?,
        to: side(entry.credit)?,
        amount: entry.amount,
    }))
}
