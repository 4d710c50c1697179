//! Money is conserved: the sum over every account of a shard, in-transit included, is kept
//! as records apply, and can be checked by adding every account up.

use super::ShardBooks;
use crate::money::{Money, MoneyError};

impl ShardBooks {
    /// The sum over every account of the shard, in-transit included. Zero for books that
    /// started at zero (SPEC §6.1), summed over all shards. Kept as records apply (every
    /// balance change adds its difference), so reading it costs nothing: a metrics scrape
    /// never walks the customers on the shard's thread. [`ShardBooks::sum_by_scan`] adds
    /// every account up instead, and must agree.
    pub fn sum(&self) -> Result<Money, MoneyError> {
        Money::new(self.plan.currency, self.total)
    }

    /// The sum over every account, added up account by account: O(customers), for audits
    /// and tests. An overflow is an error, never a zero.
    pub fn sum_by_scan(&self) -> Result<Money, MoneyError> {
        let mut total = self
            .funding
            .checked_add(self.in_transit)
            .ok_or(MoneyError::Overflow)?;
        for c in self.customers.iter() {
            total = total
                .checked_add(c.balance)
                .and_then(|t| t.checked_add(c.linked_net))
                .ok_or(MoneyError::Overflow)?;
        }
        for s in self
            .slices
            .values()
            .chain(self.merchant_slices.values())
            .chain(self.cards.values().map(|c| &c.pocket))
            .chain(self.pooled.values())
        {
            total = total.checked_add(s.balance).ok_or(MoneyError::Overflow)?;
        }
        for d in self.designated.values() {
            total = total.checked_add(*d).ok_or(MoneyError::Overflow)?;
        }
        Money::new(self.plan.currency, total)
    }
}
