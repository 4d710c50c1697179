//! The parent accounts the configuration declares, each shard's slice of them (its share
//! of the opening balance and of the overdraft), and the genesis record that funds a
//! shard's slices.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::{BooksError, ShardBooks};
use crate::config::{Config, ParentConfig};
use crate::ids::{BankCode, ParentAccount};
use crate::money::{Amount, Currency, MoneyError};
use crate::record::LedgerRecord;

/// The parent accounts the configuration declares, and each slice's floor and opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentPlan {
    /// Every parent account, in a stable order.
    pub parents: Vec<ParentAccount>,
    /// Banks where customers may hold their linked account (withdrawal firm banks).
    pub linked_banks: BTreeSet<BankCode>,
    pub(super) currency: Currency,
    pub(super) shards: u16,
    kinds: ParentKinds,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ParentKinds {
    withdrawal_firm: ParentConfig,
    collection: ParentConfig,
    deposit_firm: ParentConfig,
    fin_parent: ParentConfig,
    fin_deposit: ParentConfig,
}

impl ParentPlan {
    pub fn from_config(config: &Config, shards: u16) -> Self {
        assert!(shards > 0);
        let mut parents = Vec::new();
        for bank in &config.banks.withdrawal_firm {
            parents.push(ParentAccount::WithdrawalFirm(*bank));
        }
        parents.push(ParentAccount::Collection);
        for bank in &config.banks.deposit_firm {
            parents.push(ParentAccount::DepositFirm(*bank));
        }
        parents.push(ParentAccount::FinParent);
        if config.parents.fin_deposit.enabled {
            parents.push(ParentAccount::FinDeposit);
        }
        let p = &config.parents;
        Self {
            parents,
            linked_banks: config.banks.withdrawal_firm.iter().copied().collect(),
            currency: config.engine.currency,
            shards,
            kinds: ParentKinds {
                withdrawal_firm: p.withdrawal_firm,
                collection: p.collection,
                deposit_firm: p.deposit_firm,
                fin_parent: p.fin_parent,
                fin_deposit: p.fin_deposit.parent(),
            },
        }
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn shards(&self) -> u16 {
        self.shards
    }

    /// The configuration of a parent account's kind (whole units, whole account).
    pub fn kind(&self, parent: ParentAccount) -> ParentConfig {
        match parent {
            ParentAccount::WithdrawalFirm(_) => self.kinds.withdrawal_firm,
            ParentAccount::Collection => self.kinds.collection,
            ParentAccount::DepositFirm(_) => self.kinds.deposit_firm,
            ParentAccount::FinParent => self.kinds.fin_parent,
            ParentAccount::FinDeposit => self.kinds.fin_deposit,
        }
    }

    /// A slice's share of a whole-account figure: split evenly, the remainder to shard 0.
    pub fn slice_share(&self, whole: i64, shard: u16) -> Decimal {
        let n = i64::from(self.shards);
        let base = whole / n;
        let rest = whole % n;
        Decimal::from(if shard == 0 { base + rest } else { base })
    }

    /// How low one slice may go: its share of the overdraft, below zero. The floors of all
    /// slices sum to `-overdraft`, so the whole account stays within its overdraft.
    pub fn slice_floor(&self, parent: ParentAccount, shard: u16) -> Decimal {
        -self.slice_share(self.kind(parent).overdraft, shard)
    }

    /// The genesis record of `shard`: each of its slices funded with its share of the
    /// configured opening balance.
    pub fn genesis(&self, shard: u16) -> LedgerRecord {
        let fundings = self
            .parents
            .iter()
            .filter_map(|p| {
                let share = self.slice_share(self.kind(*p).opening, shard);
                Amount::new(self.currency, share).ok().map(|a| (*p, a))
            })
            .collect();
        LedgerRecord::Genesis {
            shard,
            shards: self.shards,
            fundings,
        }
    }
}

impl ShardBooks {
    /// A `Genesis` record: funds this shard's slices from the operator's funding account.
    pub(super) fn apply_genesis(
        &mut self,
        shard: &u16,
        shards: &u16,
        fundings: &[(ParentAccount, Amount)],
    ) -> Result<(), BooksError> {
        let err = |what| BooksError::Genesis {
            shard: *shard,
            shards: *shards,
            here: self.shard,
            here_shards: self.plan.shards,
            what,
        };
        if self.genesis_done {
            return Err(err("the shard already has its genesis"));
        }
        if *shard != self.shard || *shards != self.plan.shards {
            return Err(err("the shard layout differs"));
        }
        let mut total = Decimal::ZERO;
        for (parent, amount) in fundings {
            self.check_amount(*amount)?;
            if !self.slices.contains_key(parent) {
                return Err(BooksError::UnknownParent(*parent));
            }
            total = total
                .checked_add(amount.value())
                .ok_or(MoneyError::Overflow)?;
        }
        for (parent, amount) in fundings {
            self.slices.get_mut(parent).expect("checked").balance += amount.value();
        }
        self.funding -= total;
        self.genesis_done = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::ledger::fixtures::{books_with_genesis, FIN};
    use crate::money::Money;

    #[test]
    fn genesis_funds_the_slices_and_the_books_sum_to_zero() {
        let (books, _) = books_with_genesis(0, 2);
        let opening = Config::embedded().parents.fin_parent.opening;
        assert_eq!(
            books.balance(FIN).unwrap(),
            Money::krw(opening / 2).unwrap()
        );
        assert!(books.sum().unwrap().is_zero());
    }
}
