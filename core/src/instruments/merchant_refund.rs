//! A merchant's cancel of a payment (INSTRUMENTS.md §6.3 Reversal, §6.4), as a request of
//! the payer's: `SS.transfer` `merchant[m]` → the pocket that paid, or → `customer[c]`
//! for the part the pocket's cap cannot take (D-5.6, D-5.12), booked in the payer's shard
//! (the merchant's slice there). Owed from its acceptance on: a FAIL or an unknown
//! outcome is confirmed and retried until it is done (`request_log::MERCHANT_REFUND`),
//! and its caller hears `succeeded` when it is.

use crate::ids::AccountId;
use crate::money::Amount;
use crate::request_log::Step;
use crate::saga::{done, Accepted, Instrument, LogEntry, Parties, RequestKind, Reserve, Settled};

/// A cancel's money back to the payer.
pub struct MerchantRefund;

impl Instrument for MerchantRefund {
    fn kind(&self) -> RequestKind {
        RequestKind::MerchantRefund
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        (Step::MerchantRefund, accepted.amount)
    }

    /// Nothing on a parent account: the entry holds its amount on the merchant's slice.
    fn reserves(&self, _: &Accepted, _: &Parties) -> Vec<Reserve> {
        Vec::new()
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        assert_eq!(
            step,
            Step::MerchantRefund,
            "{step} is not a step of a refund"
        );
        let merchant = AccountId::merchant(parties.merchant.expect("a refund names its merchant"));
        let payer = match parties.pocket {
            Some(card) => AccountId::pocket(parties.customer, card),
            None => AccountId::customer(parties.customer),
        };
        (merchant, payer)
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        if done(entries, Step::MerchantRefund) {
            Settled::Refunded
        } else {
            Settled::NothingMoved
        }
    }
}
