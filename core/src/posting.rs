//! Double-entry postings and the conservation check (SPEC §2, §6.1).
//!
//! A posting moves a strictly positive amount from its debit account to its credit
//! account: the debit account's balance goes down by the amount and the credit account's
//! goes up by the same amount, so no posting creates or destroys value.

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

use crate::ids::AccountId;
use crate::money::{Amount, Currency, Money, MoneyError};

/// One double-entry movement: `amount` leaves `debit` and arrives in `credit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Posting {
    debit: AccountId,
    credit: AccountId,
    amount: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PostingError {
    #[error("a posting must name two different accounts, both legs name {0}")]
    SameAccount(AccountId),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("{account} would go to {would_be}, below its floor of {floor}")]
    BelowFloor {
        account: AccountId,
        would_be: Money,
        floor: Money,
    },
}

impl Posting {
    pub fn new(debit: AccountId, credit: AccountId, amount: Amount) -> Result<Self, PostingError> {
        if debit == credit {
            return Err(PostingError::SameAccount(debit));
        }
        Ok(Self {
            debit,
            credit,
            amount,
        })
    }

    pub const fn debit(&self) -> AccountId {
        self.debit
    }

    pub const fn credit(&self) -> AccountId {
        self.credit
    }

    pub const fn amount(&self) -> Amount {
        self.amount
    }
}

impl fmt::Display for Posting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}: {}", self.debit, self.credit, self.amount)
    }
}

/// A plain map of balances, every account starting at zero. It is the reference model
/// the engine's books are checked against, not the engine's hot-path store.
#[derive(Clone, Debug)]
pub struct Balances {
    currency: Currency,
    by_account: BTreeMap<AccountId, Money>,
}

impl Balances {
    pub fn new(currency: Currency) -> Self {
        Self {
            currency,
            by_account: BTreeMap::new(),
        }
    }

    pub fn balance(&self, account: AccountId) -> Money {
        self.by_account
            .get(&account)
            .copied()
            .unwrap_or(Money::zero(self.currency))
    }

    /// Applies both legs or neither. `floor` says how low each account may go; a posting
    /// that would take its debit account below the floor is refused and changes nothing.
    pub fn apply(
        &mut self,
        posting: &Posting,
        floor: impl Fn(AccountId) -> Option<Money>,
    ) -> Result<(), PostingError> {
        let debit_after = self
            .balance(posting.debit)
            .checked_sub_amount(posting.amount)?;
        if let Some(floor) = floor(posting.debit) {
            if debit_after < floor {
                return Err(PostingError::BelowFloor {
                    account: posting.debit,
                    would_be: debit_after,
                    floor,
                });
            }
        }
        let credit_after = self
            .balance(posting.credit)
            .checked_add_amount(posting.amount)?;
        self.by_account.insert(posting.debit, debit_after);
        self.by_account.insert(posting.credit, credit_after);
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&AccountId, &Money)> {
        self.by_account.iter()
    }

    /// The sum over every account, external ones included.
    pub fn sum(&self) -> Result<Money, MoneyError> {
        sum_balances(self.currency, self.by_account.values().copied())
    }
}

/// Sums balances with checked arithmetic.
pub fn sum_balances(
    currency: Currency,
    balances: impl IntoIterator<Item = Money>,
) -> Result<Money, MoneyError> {
    balances
        .into_iter()
        .try_fold(Money::zero(currency), Money::checked_add)
}

/// Conservation (SPEC §6.1): books that started at zero sum to zero at every durable point.
pub fn is_conserved(
    currency: Currency,
    balances: impl IntoIterator<Item = Money>,
) -> Result<bool, MoneyError> {
    Ok(sum_balances(currency, balances)?.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, ParentAccount};

    fn customer(n: u64) -> AccountId {
        AccountId::customer(CustomerId::new(n).unwrap())
    }

    #[test]
    fn a_posting_moves_value_without_creating_it() {
        let mut books = Balances::new(Currency::Krw);
        let fin = AccountId::parent(ParentAccount::FinParent);
        let p = Posting::new(fin, customer(1), Amount::krw(5_000).unwrap()).unwrap();
        books.apply(&p, |_| None).unwrap();
        assert_eq!(books.balance(customer(1)), Money::krw(5_000).unwrap());
        assert_eq!(books.balance(fin), Money::krw(-5_000).unwrap());
        assert!(books.sum().unwrap().is_zero());
    }

    #[test]
    fn a_posting_below_the_floor_changes_nothing() {
        let mut books = Balances::new(Currency::Krw);
        let p = Posting::new(customer(1), customer(2), Amount::krw(1).unwrap()).unwrap();
        let floor =
            |a: AccountId| matches!(a, AccountId::Customer { .. }).then(|| Money::krw(0).unwrap());
        assert!(matches!(
            books.apply(&p, floor),
            Err(PostingError::BelowFloor { .. })
        ));
        assert!(books.balance(customer(1)).is_zero());
        assert!(books.balance(customer(2)).is_zero());
    }

    #[test]
    fn a_posting_names_two_accounts() {
        let a = customer(1);
        assert_eq!(
            Posting::new(a, a, Amount::krw(1).unwrap()),
            Err(PostingError::SameAccount(a))
        );
    }
}
