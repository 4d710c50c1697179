//! Transfers between shards: ids that name their source shard, the transfers this shard
//! debited and waits to hear about ([`Outgoing`]), those it has credited ([`Incoming`]),
//! the money in transit, and the four records that move a transfer along.

use rust_decimal::Decimal;

use super::{BooksError, ShardBooks};
use crate::ids::{AccountId, TransferId};
use crate::money::{Amount, Money, MoneyError};

/// A transfer id names its source shard and a per-source sequence number.
pub fn transfer_id(source_shard: u16, seq: u64) -> TransferId {
    assert!(seq < 1 << 48, "transfer sequence fits in 48 bits");
    TransferId((u64::from(source_shard) << 48) | seq)
}

pub fn transfer_source(id: TransferId) -> (u16, u64) {
    ((id.0 >> 48) as u16, id.0 & ((1 << 48) - 1))
}

/// A transfer this shard has debited and the destination has not yet confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Outgoing {
    pub id: TransferId,
    pub debit: AccountId,
    pub credit: AccountId,
    pub dest_shard: u16,
    pub amount: Amount,
}

/// Which transfers from one source shard have been credited here: every sequence number
/// up to `watermark`, and those in `above`. Robust to transfers arriving out of order.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Incoming {
    pub watermark: u64,
    pub above: Vec<u64>,
}

impl Incoming {
    fn contains(&self, seq: u64) -> bool {
        seq <= self.watermark || self.above.binary_search(&seq).is_ok()
    }

    fn insert(&mut self, seq: u64) {
        debug_assert!(!self.contains(seq));
        if let Err(at) = self.above.binary_search(&seq) {
            self.above.insert(at, seq);
        }
        self.advance();
    }

    /// The source settled (or returned) every transfer below `seq`: none of them will be
    /// delivered again, so they need not be told apart any more. Without this, a source
    /// that also sends to other shards leaves gaps here that the watermark never passes,
    /// and `above` grows with every transfer.
    fn forget_below(&mut self, seq: u64) {
        if seq > self.watermark + 1 {
            self.watermark = seq - 1;
            let keep = self.above.partition_point(|s| *s <= self.watermark);
            self.above.drain(..keep);
            self.advance();
        }
    }

    fn advance(&mut self) {
        let run = self
            .above
            .iter()
            .zip(self.watermark + 1..)
            .take_while(|(s, want)| **s == *want)
            .count();
        if run > 0 {
            self.above.drain(..run);
            self.watermark += run as u64;
        }
    }
}

impl ShardBooks {
    pub fn outgoing(&self) -> impl Iterator<Item = &Outgoing> {
        self.outgoing.values()
    }

    /// Whether a transfer this shard debited is still unsettled.
    pub fn is_outgoing(&self, id: TransferId) -> bool {
        self.outgoing.contains_key(&id)
    }

    /// The money on its way out of this shard (debited, credit not yet confirmed) minus
    /// the money credited here whose source has not yet forgotten it.
    pub fn in_transit(&self) -> Money {
        self.money(self.in_transit)
    }

    /// The next transfer id this shard would allocate.
    pub fn next_transfer_id(&self) -> TransferId {
        transfer_id(self.shard, self.next_transfer_seq)
    }

    /// How many transfer ids from other shards this shard remembers individually (above
    /// each source's watermark): it stays as small as the transfers in flight.
    pub fn transfers_remembered(&self) -> usize {
        self.incoming.values().map(|i| i.above.len()).sum()
    }

    /// Whether a transfer from another shard was already credited here.
    pub fn transfer_credited(&self, id: TransferId) -> bool {
        let (source, seq) = transfer_source(id);
        self.incoming.get(&source).is_some_and(|i| i.contains(seq))
    }

    fn set_in_transit(&mut self, value: Decimal) {
        self.total += value - self.in_transit;
        self.in_transit = value;
    }

    /// A `TransferOut` record: debits a local account for a transfer to `dest_shard`.
    pub(super) fn apply_transfer_out(
        &mut self,
        id: &TransferId,
        debit: &AccountId,
        credit: &AccountId,
        dest_shard: &u16,
        amount: &Amount,
    ) -> Result<Outgoing, BooksError> {
        self.check_amount(*amount)?;
        let (source, seq) = transfer_source(*id);
        if source != self.shard || self.outgoing.contains_key(id) || seq == 0 {
            return Err(BooksError::DuplicateTransfer(*id));
        }
        if !self.is_local(*debit) || *dest_shard >= self.plan.shards || *dest_shard == self.shard {
            return Err(BooksError::NotTransferable(*debit));
        }
        let debit_after = self.leg_after(*debit, -amount.value(), *amount)?;
        let in_transit = self
            .in_transit
            .checked_add(amount.value())
            .ok_or(MoneyError::Overflow)?;
        self.set(*debit, debit_after);
        self.set_in_transit(in_transit);
        let out = Outgoing {
            id: *id,
            debit: *debit,
            credit: *credit,
            dest_shard: *dest_shard,
            amount: *amount,
        };
        self.outgoing.insert(*id, out);
        self.next_transfer_seq = self.next_transfer_seq.max(seq + 1);
        Ok(out)
    }

    /// A `TransferIn` record: credits a transfer from another shard, once.
    pub(super) fn apply_transfer_in(
        &mut self,
        id: &TransferId,
        credit: &AccountId,
        amount: &Amount,
        settled_below: &u64,
    ) -> Result<(), BooksError> {
        self.check_amount(*amount)?;
        let (source, seq) = transfer_source(*id);
        if source == self.shard || !self.is_local(*credit) {
            return Err(BooksError::NotTransferable(*credit));
        }
        if self.transfer_credited(*id) {
            return Err(BooksError::DuplicateTransfer(*id));
        }
        let credit_after = self.leg_after(*credit, amount.value(), *amount)?;
        let in_transit = self
            .in_transit
            .checked_sub(amount.value())
            .ok_or(MoneyError::Overflow)?;
        self.set(*credit, credit_after);
        self.set_in_transit(in_transit);
        let incoming = self.incoming.entry(source).or_default();
        incoming.insert(seq);
        incoming.forget_below(*settled_below);
        Ok(())
    }

    /// A `TransferSettled` record: the destination credited the transfer.
    pub(super) fn apply_transfer_settled(&mut self, id: &TransferId) -> Result<(), BooksError> {
        if self.outgoing.remove(id).is_none() {
            return Err(BooksError::UnknownTransfer(*id));
        }
        Ok(())
    }

    /// A `TransferReturned` record: the destination refused the transfer, so it goes back
    /// to its debit account.
    pub(super) fn apply_transfer_returned(&mut self, id: &TransferId) -> Result<(), BooksError> {
        let out = *self
            .outgoing
            .get(id)
            .ok_or(BooksError::UnknownTransfer(*id))?;
        let debit_after = self.leg_after(out.debit, out.amount.value(), out.amount)?;
        let in_transit = self
            .in_transit
            .checked_sub(out.amount.value())
            .ok_or(MoneyError::Overflow)?;
        self.set(out.debit, debit_after);
        self.set_in_transit(in_transit);
        self.outgoing.remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::fixtures::{books_with_genesis, customer_in, krw, opened, FIN};
    use crate::ledger::{Applied, ShardBooks};
    use crate::record::LedgerRecord;

    #[test]
    fn a_transfer_between_shards_is_credited_once_and_conserves_money() {
        let shards = 2;
        let (mut a, mut la) = books_with_genesis(0, shards);
        let (mut b, mut lb) = books_with_genesis(1, shards);
        let (ca, cb) = (customer_in(0, shards, 0), customer_in(1, shards, 0));
        la += 1;
        a.apply(la, &opened(ca)).unwrap();
        lb += 1;
        b.apply(lb, &opened(cb)).unwrap();
        la += 1;
        a.apply(
            la,
            &LedgerRecord::Posted {
                debit: FIN,
                credit: AccountId::customer(ca),
                amount: krw(1_000),
            },
        )
        .unwrap();
        let id = a.next_transfer_id();
        let out = LedgerRecord::TransferOut {
            id,
            debit: AccountId::customer(ca),
            credit: AccountId::customer(cb),
            dest_shard: 1,
            amount: krw(400),
        };
        la += 1;
        assert!(matches!(a.apply(la, &out), Ok(Applied::TransferOut(_))));
        let total = |a: &ShardBooks, b: &ShardBooks| {
            a.sum().unwrap().checked_add(b.sum().unwrap()).unwrap()
        };
        assert!(total(&a, &b).is_zero());
        let credit = LedgerRecord::TransferIn {
            id,
            credit: AccountId::customer(cb),
            amount: krw(400),
            settled_below: 0,
        };
        lb += 1;
        b.apply(lb, &credit).unwrap();
        lb += 1;
        assert_eq!(b.apply(lb, &credit), Err(BooksError::DuplicateTransfer(id)));
        la += 1;
        a.apply(la, &LedgerRecord::TransferSettled { id }).unwrap();
        assert!(total(&a, &b).is_zero());
        assert_eq!(
            b.balance(AccountId::customer(cb)).unwrap(),
            Money::krw(400).unwrap()
        );
        assert_eq!(
            a.balance(AccountId::customer(ca)).unwrap(),
            Money::krw(600).unwrap()
        );
    }

    #[test]
    fn a_refused_transfer_returns_to_its_debit_account() {
        let shards = 2;
        let (mut a, la) = books_with_genesis(0, shards);
        let before = a.balance(FIN).unwrap();
        let id = a.next_transfer_id();
        let nobody = customer_in(1, shards, 5);
        let out = LedgerRecord::TransferOut {
            id,
            debit: FIN,
            credit: AccountId::customer(nobody),
            dest_shard: 1,
            amount: krw(10),
        };
        a.apply(la + 1, &out).unwrap();
        assert_eq!(a.in_transit(), Money::krw(10).unwrap());
        a.apply(la + 2, &LedgerRecord::TransferReturned { id })
            .unwrap();
        assert_eq!(a.balance(FIN).unwrap(), before);
        assert!(a.in_transit().is_zero());
        assert!(a.outgoing().next().is_none());
    }

    #[test]
    fn transfers_arriving_out_of_order_are_each_credited_once() {
        let mut incoming = Incoming::default();
        for seq in [3, 1, 4, 2] {
            assert!(!incoming.contains(seq));
            incoming.insert(seq);
        }
        assert_eq!(
            incoming,
            Incoming {
                watermark: 4,
                above: vec![]
            }
        );
        assert!(!incoming.contains(5));
    }
}
