//! `payment_log` (INSTRUMENTS.md §6.5) as a shard's books keep it: each payment at the
//! version the books hold, by id. One `payment_set` record per change carries the whole
//! payment; applying one keeps the higher version, so a repeat or a late copy changes
//! nothing. A payment lives in its payer's shard (its money leg, the sale, runs there),
//! and its id says which shard that is.

use std::collections::{BTreeMap, BTreeSet};

use super::{BooksError, ShardBooks};
use crate::payments::payment::{PaymentEntry, PaymentId, PaymentState};

/// The payments of a shard, and the next number to give one.
#[derive(Clone, Debug, Default)]
pub(super) struct Payments {
    pub(super) by_id: BTreeMap<PaymentId, PaymentEntry>,
    pub(super) next_seq: u64,
    /// The payments still REQUESTED (authorized, their sale's outcome not on the payment
    /// yet), by id: what the supervisors finish after a crash or a caller gone away.
    requested: BTreeSet<PaymentId>,
}

impl Payments {
    pub(super) fn insert(&mut self, payment: PaymentEntry) {
        self.next_seq = self.next_seq.max(payment.id.seq() + 1);
        if payment.state == PaymentState::Requested {
            self.requested.insert(payment.id);
        } else {
            self.requested.remove(&payment.id);
        }
        self.by_id.insert(payment.id, payment);
    }
}

impl ShardBooks {
    pub fn payment(&self, id: PaymentId) -> Option<&PaymentEntry> {
        self.payments.by_id.get(&id)
    }

    /// Up to `max` payments still REQUESTED that were created before `before_ms`, oldest
    /// id first.
    pub fn requested_payments(&self, before_ms: u64, max: usize) -> Vec<&PaymentEntry> {
        self.payments
            .requested
            .iter()
            .filter_map(|id| self.payments.by_id.get(id))
            .filter(|p| p.created_at_ms < before_ms)
            .take(max)
            .collect()
    }

    /// Whether a payment of card `seq` of `customer` has a sale not settled yet (its
    /// outcome unknown, or its reversal owed). Closing the card then would let the
    /// reversal credit a pocket already released (D-5.13). A scan of the shard's payments:
    /// closing is rare.
    pub fn card_sale_unsettled(
        &self,
        customer: crate::ids::CustomerId,
        seq: crate::ids::CardSeq,
    ) -> bool {
        self.payments().any(|p| {
            p.card == Some((customer, seq))
                && p.payer == crate::payments::payment::PayerKind::PrepaidCard
                && p.sale
                    .is_some_and(|no| self.request(customer, no).is_some_and(|r| !self.settled(r)))
        })
    }

    /// Every payment of this shard, by id.
    pub fn payments(&self) -> impl Iterator<Item = &PaymentEntry> {
        self.payments.by_id.values()
    }

    /// The id the next payment of this shard gets.
    pub fn next_payment_id(&self) -> PaymentId {
        PaymentId::new(self.shard, self.payments.next_seq.max(1))
    }

    /// Refused unless `payment` is a payment of this shard.
    pub(super) fn check_payment_shard(&self, payment: &PaymentEntry) -> Result<(), BooksError> {
        if payment.id.shard() != self.shard {
            return Err(BooksError::PaymentWrongShard {
                id: payment.id,
                here: self.shard,
            });
        }
        Ok(())
    }

    pub(super) fn apply_payment_set(&mut self, payment: &PaymentEntry) -> Result<(), BooksError> {
        self.check_payment_shard(payment)?;
        match self.payments.by_id.get(&payment.id) {
            Some(held) if held.version >= payment.version => {}
            _ => self.payments.insert(payment.clone()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MerchantNo, RequestNo};
    use crate::ledger::fixtures::books_with_genesis;
    use crate::payments::payment::PaymentState;
    use crate::record::LedgerRecord;

    fn payment(id: PaymentId, version: u32, state: PaymentState) -> PaymentEntry {
        PaymentEntry {
            id,
            version,
            merchant: MerchantNo(1),
            merchant_request_no: RequestNo::new("R-1").unwrap(),
            order_no: None,
            fingerprint: [7; 32],
            amount_krw: 35_000,
            card: None,
            state,
            decline: None,
            sale: None,
            created_at_ms: 1,
            approved_at_ms: 0,
            refunded_krw: 0,
            refunds: Vec::new(),
            payer: crate::payments::payment::PayerKind::PrepaidCard,
        }
    }

    #[test]
    fn a_payment_record_keeps_the_higher_version_and_numbers_go_on_from_the_highest() {
        let (mut books, mut lsn) = books_with_genesis(1, 2);
        let mut apply = |books: &mut ShardBooks, r: LedgerRecord| {
            lsn += 1;
            books.apply(lsn, &r)
        };
        let first = books.next_payment_id();
        assert_eq!((first.shard(), first.seq()), (1, 1));
        let set = |p| LedgerRecord::PaymentSet { payment: p };
        apply(&mut books, set(payment(first, 1, PaymentState::Requested))).unwrap();
        apply(&mut books, set(payment(first, 2, PaymentState::Approved))).unwrap();
        apply(&mut books, set(payment(first, 1, PaymentState::Requested))).unwrap();
        assert_eq!(books.payment(first).unwrap().state, PaymentState::Approved);
        assert_eq!(books.next_payment_id().seq(), 2);
        // Another shard's payment is refused.
        let elsewhere = PaymentId::new(0, 5);
        assert!(matches!(
            apply(
                &mut books,
                set(payment(elsewhere, 1, PaymentState::Requested))
            ),
            Err(BooksError::PaymentWrongShard { .. })
        ));
        let back = ShardBooks::from_snapshot(books.plan().clone(), books.snapshot()).unwrap();
        assert_eq!(back.payment(first), books.payment(first));
        assert_eq!(back.next_payment_id().seq(), 2);
        assert_eq!(format!("{first}"), "pay_0001000000000001");
        assert_eq!("pay_0001000000000001".parse::<PaymentId>().unwrap(), first);
    }
}
