//! The accounts a shard books: where a customer lives, each customer's entry and each
//! parent slice, balances, and the arithmetic every posting and hold goes through; opening a
//! customer, changing its status, and raw postings.

use rust_decimal::Decimal;

use super::{BooksError, ShardBooks};
use crate::archive::DecimalDef;
use crate::ids::{AccountId, AccountNo, BankCode, CustomerId, MerchantNo, ParentAccount};
use crate::money::{Amount, Money, MoneyError};
use crate::record::{CustomerOpened, SigningKey};

/// The shard a customer lives in: a SplitMix64 mix of the customer number, modulo the
/// shard count. This decides where data is stored, so it must never change.
pub fn shard_of(customer: CustomerId, shards: u16) -> u16 {
    assert!(shards > 0, "there is at least one shard");
    let mut z = customer.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % u64::from(shards)) as u16
}

/// One customer's entry: the customer financial company account, the net flow with the
/// linked account, validity, and the signature key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct CustomerEntry {
    pub id: CustomerId,
    /// The balance the customer sees.
    #[rkyv(with = DecimalDef)]
    pub balance: Decimal,
    /// Part of `balance` held by debits in flight; `balance - held` is available.
    #[rkyv(with = DecimalDef)]
    pub held: Decimal,
    /// The engine's side of the linked account: minus what charges drew, plus refunds.
    #[rkyv(with = DecimalDef)]
    pub linked_net: Decimal,
    pub linked_bank: BankCode,
    pub linked_account: AccountNo,
    pub tradable: bool,
    pub subscription_valid: bool,
    pub signing_key: Option<SigningKey>,
    /// The sequence number of the customer actor's last record in the write-ahead log
    /// (the frame's actor sequence). Kept by the layer that writes frames; `apply` never
    /// touches it.
    pub log_seq: u32,
}

/// One shard's slice of a parent account.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct SliceEntry {
    #[rkyv(with = DecimalDef)]
    pub balance: Decimal,
    #[rkyv(with = DecimalDef)]
    pub held: Decimal,
    #[rkyv(with = DecimalDef)]
    pub floor: Decimal,
}

impl ShardBooks {
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    pub fn customer(&self, id: CustomerId) -> Option<&CustomerEntry> {
        self.index.get(&id).map(|&i| &self.customers[i as usize])
    }

    pub fn customers(&self) -> impl Iterator<Item = &CustomerEntry> {
        self.customers.iter()
    }

    /// Records the customer actor's WAL sequence number (see [`CustomerEntry::log_seq`]).
    pub fn set_customer_log_seq(&mut self, id: CustomerId, seq: u32) {
        if let Some(&i) = self.index.get(&id) {
            self.customers[i as usize].log_seq = seq;
        }
    }

    pub fn slice(&self, parent: ParentAccount) -> Option<&SliceEntry> {
        self.slices.get(&parent)
    }

    pub fn slices(&self) -> impl Iterator<Item = (&ParentAccount, &SliceEntry)> {
        self.slices.iter()
    }

    /// The balance of an account as this shard books it (its slice, for a parent).
    pub fn balance(&self, account: AccountId) -> Result<Money, BooksError> {
        let value = match account {
            AccountId::Customer { customer } => self.customer_checked(customer)?.balance,
            AccountId::Linked { customer } => self.customer_checked(customer)?.linked_net,
            AccountId::Parent { parent } => {
                self.slices
                    .get(&parent)
                    .ok_or(BooksError::UnknownParent(parent))?
                    .balance
            }
            AccountId::Designated { bank } => {
                self.designated.get(&bank).copied().unwrap_or_default()
            }
            AccountId::Funding => self.funding,
            AccountId::Merchant { merchant } => self.merchant_slice(merchant)?.balance,
            AccountId::Pocket { card, customer } => self.pocket_checked(customer, card)?.balance,
            AccountId::VaPayer { .. } | AccountId::Suspense | AccountId::RecallReceivable => {
                self.pooled_value(account).balance
            }
        };
        Ok(self.money(value))
    }

    /// Whether `account` is booked in this shard (customers and linked accounts live in
    /// one shard; parent slices and external aggregates exist in every shard).
    pub fn is_local(&self, account: AccountId) -> bool {
        match account {
            AccountId::Customer { customer }
            | AccountId::Linked { customer }
            | AccountId::Pocket { customer, .. } => {
                shard_of(customer, self.plan.shards) == self.shard
            }
            AccountId::Parent { .. }
            | AccountId::Designated { .. }
            | AccountId::Funding
            | AccountId::Merchant { .. }
            | AccountId::VaPayer { .. }
            | AccountId::Suspense
            | AccountId::RecallReceivable => true,
        }
    }

    /// A merchant's slice in this shard (`merchants.rs`).
    pub fn merchant_slice(&self, merchant: MerchantNo) -> Result<&SliceEntry, BooksError> {
        self.merchant_slices
            .get(&merchant)
            .ok_or(BooksError::UnknownMerchant(merchant))
    }

    pub(super) fn customer_checked(&self, id: CustomerId) -> Result<&CustomerEntry, BooksError> {
        let home = shard_of(id, self.plan.shards);
        if home != self.shard {
            return Err(BooksError::WrongShard {
                customer: id,
                home,
                here: self.shard,
            });
        }
        self.customer(id).ok_or(BooksError::UnknownCustomer(id))
    }

    pub(super) fn check_amount(&self, amount: Amount) -> Result<(), BooksError> {
        if amount.currency() != self.plan.currency {
            return Err(BooksError::WrongCurrency {
                amount,
                got: amount.currency(),
                want: self.plan.currency,
            });
        }
        Ok(())
    }

    /// The value of `account` after `delta`, if the account may take it.
    pub(super) fn leg_after(
        &self,
        account: AccountId,
        delta: Decimal,
        amount: Amount,
    ) -> Result<Decimal, BooksError> {
        let add = |v: Decimal| -> Result<Decimal, BooksError> {
            let after = v.checked_add(delta).ok_or(MoneyError::Overflow)?;
            Money::new(self.plan.currency, after)?;
            Ok(after)
        };
        match account {
            AccountId::Customer { customer } => {
                let c = self.customer_checked(customer)?;
                let after = add(c.balance)?;
                if delta.is_sign_negative() && after - c.held < Decimal::ZERO {
                    return Err(BooksError::InsufficientFunds {
                        customer,
                        available: self.money(c.balance - c.held),
                        amount,
                    });
                }
                Ok(after)
            }
            AccountId::Linked { customer } => add(self.customer_checked(customer)?.linked_net),
            AccountId::Parent { parent } => {
                let s = self
                    .slices
                    .get(&parent)
                    .ok_or(BooksError::UnknownParent(parent))?;
                let after = add(s.balance)?;
                if delta.is_sign_negative() && after - s.held < s.floor {
                    return Err(BooksError::BelowFloor {
                        parent,
                        would_be: self.money(after - s.held),
                        floor: self.money(s.floor),
                    });
                }
                Ok(after)
            }
            AccountId::Designated { bank } => {
                add(self.designated.get(&bank).copied().unwrap_or_default())
            }
            AccountId::Funding => add(self.funding),
            AccountId::Merchant { merchant } => {
                let s = self.merchant_slice(merchant)?;
                let after = add(s.balance)?;
                // Never below zero (INSTRUMENTS.md §6.7, invariant 5).
                if delta.is_sign_negative() && after - s.held < Decimal::ZERO {
                    return Err(BooksError::MerchantShort {
                        merchant,
                        available: self.money(s.balance - s.held),
                        amount,
                    });
                }
                Ok(after)
            }
            AccountId::Pocket { card, customer } => {
                let s = self.pocket_checked(customer, card)?;
                let after = add(s.balance)?;
                // Never below zero (INSTRUMENTS.md §6.7, invariant 6).
                if delta.is_sign_negative() && after - s.held < Decimal::ZERO {
                    return Err(BooksError::PocketShort {
                        customer,
                        card,
                        available: self.money(s.balance - s.held),
                        amount,
                    });
                }
                Ok(after)
            }
            AccountId::Suspense => {
                let s = self.pooled_value(account);
                let after = add(s.balance)?;
                // Never below zero: it holds only what arrived.
                if delta.is_sign_negative() && after - s.held < Decimal::ZERO {
                    return Err(BooksError::SuspenseShort {
                        available: self.money(s.balance - s.held),
                        amount,
                    });
                }
                Ok(after)
            }
            // External, or allowed below zero (what is owed to the company).
            AccountId::VaPayer { .. } | AccountId::RecallReceivable => {
                add(self.pooled_value(account).balance)
            }
        }
    }

    /// The debit leg of an entry's posting, with `release` of its hold given back first.
    pub(super) fn leg_after_releasing(
        &self,
        account: AccountId,
        release: Decimal,
        amount: Amount,
    ) -> Result<Decimal, BooksError> {
        if release.is_zero() {
            return self.leg_after(account, -amount.value(), amount);
        }
        // A held amount is already set aside; only overflow can fail.
        let current = self.balance(account)?.value();
        let after = current
            .checked_sub(amount.value())
            .ok_or(MoneyError::Overflow)?;
        Money::new(self.plan.currency, after)?;
        Ok(after)
    }

    /// Checks that `amount` can be held on `account`: available balance for a customer,
    /// the floor for a parent slice. External accounts take no hold.
    pub(super) fn check_hold(&self, account: AccountId, amount: Amount) -> Result<(), BooksError> {
        match account {
            AccountId::Customer { customer } => {
                let c = self.customer_checked(customer)?;
                if c.balance - c.held < amount.value() {
                    return Err(BooksError::InsufficientFunds {
                        customer,
                        available: self.money(c.balance - c.held),
                        amount,
                    });
                }
            }
            AccountId::Parent { parent } => {
                let s = self
                    .slices
                    .get(&parent)
                    .ok_or(BooksError::UnknownParent(parent))?;
                let after = s.balance - s.held - amount.value();
                if after < s.floor {
                    return Err(BooksError::BelowFloor {
                        parent,
                        would_be: self.money(after),
                        floor: self.money(s.floor),
                    });
                }
            }
            AccountId::Linked { customer } => {
                self.customer_checked(customer)?;
            }
            AccountId::Merchant { merchant } => {
                let s = self.merchant_slice(merchant)?;
                if s.balance - s.held < amount.value() {
                    return Err(BooksError::MerchantShort {
                        merchant,
                        available: self.money(s.balance - s.held),
                        amount,
                    });
                }
            }
            AccountId::Pocket { card, customer } => {
                let s = self.pocket_checked(customer, card)?;
                if s.balance - s.held < amount.value() {
                    return Err(BooksError::PocketShort {
                        customer,
                        card,
                        available: self.money(s.balance - s.held),
                        amount,
                    });
                }
            }
            AccountId::Suspense => {
                let s = self.pooled_value(account);
                if s.balance - s.held < amount.value() {
                    return Err(BooksError::SuspenseShort {
                        available: self.money(s.balance - s.held),
                        amount,
                    });
                }
            }
            AccountId::Designated { .. }
            | AccountId::Funding
            | AccountId::VaPayer { .. }
            | AccountId::RecallReceivable => {}
        }
        Ok(())
    }

    /// Adds `delta` (positive to hold, negative to release) to the account's held amount.
    pub(super) fn adjust_hold(&mut self, account: AccountId, delta: Decimal) {
        match account {
            AccountId::Customer { customer } => {
                let i = self.index[&customer] as usize;
                self.customers[i].held += delta;
                debug_assert!(self.customers[i].held >= Decimal::ZERO);
            }
            AccountId::Parent { parent } => {
                let s = self.slices.get_mut(&parent).expect("checked");
                s.held += delta;
                debug_assert!(s.held >= Decimal::ZERO);
            }
            AccountId::Merchant { merchant } => {
                let s = self.merchant_slices.get_mut(&merchant).expect("checked");
                s.held += delta;
                debug_assert!(s.held >= Decimal::ZERO);
            }
            AccountId::Pocket { card, customer } => {
                let s = self.pocket_mut(customer, card);
                s.held += delta;
                debug_assert!(s.held >= Decimal::ZERO);
            }
            AccountId::Suspense => {
                let s = self.pooled.entry(account).or_default();
                s.held += delta;
                debug_assert!(s.held >= Decimal::ZERO);
            }
            AccountId::Linked { .. }
            | AccountId::Designated { .. }
            | AccountId::Funding
            | AccountId::VaPayer { .. }
            | AccountId::RecallReceivable => {}
        }
    }

    pub(super) fn set(&mut self, account: AccountId, value: Decimal) {
        // The running sum follows every balance as it changes (see `sum`).
        let before = self.balance_value(account);
        self.total += value - before;
        match account {
            AccountId::Customer { customer } => {
                let i = self.index[&customer] as usize;
                self.customers[i].balance = value;
            }
            AccountId::Linked { customer } => {
                let i = self.index[&customer] as usize;
                self.customers[i].linked_net = value;
            }
            AccountId::Parent { parent } => {
                self.slices.get_mut(&parent).expect("checked").balance = value;
            }
            AccountId::Designated { bank } => {
                self.designated.insert(bank, value);
            }
            AccountId::Funding => self.funding = value,
            AccountId::Merchant { merchant } => {
                self.merchant_slices
                    .get_mut(&merchant)
                    .expect("checked")
                    .balance = value;
            }
            AccountId::Pocket { card, customer } => {
                self.pocket_mut(customer, card).balance = value;
            }
            AccountId::VaPayer { .. } | AccountId::Suspense | AccountId::RecallReceivable => {
                self.pooled.entry(account).or_default().balance = value;
            }
        }
    }

    /// An account of [`ShardBooks::pooled`]'s kinds as booked here (zero if never moved).
    pub(super) fn pooled_value(&self, account: AccountId) -> SliceEntry {
        self.pooled.get(&account).copied().unwrap_or_default()
    }

    /// The accounts of the instruments layer booked as one figure per shard.
    pub fn pooled(&self) -> impl Iterator<Item = (&AccountId, &SliceEntry)> {
        self.pooled.iter()
    }

    /// An account's booked value (its slice, for a parent); zero for an account with none.
    fn balance_value(&self, account: AccountId) -> Decimal {
        match account {
            AccountId::Customer { customer } => self
                .index
                .get(&customer)
                .map_or(Decimal::ZERO, |&i| self.customers[i as usize].balance),
            AccountId::Linked { customer } => self
                .index
                .get(&customer)
                .map_or(Decimal::ZERO, |&i| self.customers[i as usize].linked_net),
            AccountId::Parent { parent } => self
                .slices
                .get(&parent)
                .map_or(Decimal::ZERO, |s| s.balance),
            AccountId::Designated { bank } => {
                self.designated.get(&bank).copied().unwrap_or_default()
            }
            AccountId::Funding => self.funding,
            AccountId::Merchant { merchant } => self
                .merchant_slices
                .get(&merchant)
                .map_or(Decimal::ZERO, |s| s.balance),
            AccountId::Pocket { card, customer } => self
                .cards
                .get(&(customer, card))
                .map_or(Decimal::ZERO, |e| e.pocket.balance),
            AccountId::VaPayer { .. } | AccountId::Suspense | AccountId::RecallReceivable => {
                self.pooled_value(account).balance
            }
        }
    }

    pub(super) fn open(&mut self, opened: &CustomerOpened) -> Result<(), BooksError> {
        let home = shard_of(opened.customer, self.plan.shards);
        if home != self.shard {
            return Err(BooksError::WrongShard {
                customer: opened.customer,
                home,
                here: self.shard,
            });
        }
        if self.index.contains_key(&opened.customer) {
            return Err(BooksError::CustomerExists(opened.customer));
        }
        if !self.plan.linked_banks.contains(&opened.linked_bank) {
            return Err(BooksError::LinkedBankNotServed(opened.linked_bank));
        }
        let at = u32::try_from(self.customers.len()).expect("fewer than 2^32 customers per shard");
        self.customers.push(CustomerEntry {
            id: opened.customer,
            balance: Decimal::ZERO,
            held: Decimal::ZERO,
            linked_net: Decimal::ZERO,
            linked_bank: opened.linked_bank,
            linked_account: opened.linked_account,
            tradable: opened.tradable,
            subscription_valid: opened.subscription_valid,
            signing_key: opened.signing_key,
            log_seq: 0,
        });
        self.index.insert(opened.customer, at);
        Ok(())
    }

    /// A `CustomerStatus` record: the customer's validity flags.
    pub(super) fn apply_customer_status(
        &mut self,
        customer: &CustomerId,
        tradable: &bool,
        subscription_valid: &bool,
    ) -> Result<(), BooksError> {
        self.customer_checked(*customer)?;
        let i = self.index[customer] as usize;
        self.customers[i].tradable = *tradable;
        self.customers[i].subscription_valid = *subscription_valid;
        Ok(())
    }

    /// A `Posted` record: a posting between two accounts of this shard.
    pub(super) fn apply_posted(
        &mut self,
        debit: &AccountId,
        credit: &AccountId,
        amount: &Amount,
    ) -> Result<(), BooksError> {
        self.check_amount(*amount)?;
        if debit == credit {
            return Err(BooksError::SameAccount(*debit));
        }
        let debit_after = self.leg_after(*debit, -amount.value(), *amount)?;
        let credit_after = self.leg_after(*credit, amount.value(), *amount)?;
        self.set(*debit, debit_after);
        self.set(*credit, credit_after);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ledger::fixtures::{books_with_genesis, customer_in, krw, opened, FIN};
    use crate::record::LedgerRecord;

    #[test]
    fn a_customer_balance_never_goes_below_zero() {
        let (mut books, lsn) = books_with_genesis(0, 1);
        let c = customer_in(0, 1, 0);
        books.apply(lsn + 1, &opened(c)).unwrap();
        let credit = LedgerRecord::Posted {
            debit: FIN,
            credit: AccountId::customer(c),
            amount: krw(100),
        };
        books.apply(lsn + 2, &credit).unwrap();
        let overdraw = LedgerRecord::Posted {
            debit: AccountId::customer(c),
            credit: FIN,
            amount: krw(101),
        };
        let before = books.snapshot();
        assert!(matches!(
            books.apply(lsn + 3, &overdraw),
            Err(BooksError::InsufficientFunds { .. })
        ));
        assert_eq!(books.snapshot(), before, "a refused record changes nothing");
    }

    #[test]
    fn a_parent_slice_goes_below_zero_only_within_its_overdraft() {
        let (mut books, lsn) = books_with_genesis(0, 1);
        let c = customer_in(0, 1, 0);
        books.apply(lsn + 1, &opened(c)).unwrap();
        let drain = LedgerRecord::Posted {
            debit: FIN,
            credit: AccountId::customer(c),
            amount: krw(Config::embedded().parents.fin_parent.opening + 1),
        };
        assert!(matches!(
            books.apply(lsn + 2, &drain),
            Err(BooksError::BelowFloor { .. })
        ));
    }

    #[test]
    fn customers_spread_over_shards() {
        let mut counts = [0u32; 4];
        for n in 1..=40_000 {
            counts[shard_of(CustomerId::new(n).unwrap(), 4) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..=11_000).contains(&c), "{counts:?}");
        }
    }
}
