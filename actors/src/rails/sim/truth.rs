// Over 600 lines: the outside balances' debit, credit, undo and replay share one set of invariants and locks.
//! The outside truth: the balances the simulated outside systems hold, as opposed to the
//! engine's own books of them.
//!
//! The bank side holds customer-linked accounts, designated (payee) accounts and the
//! parent accounts kept at banks; the securities side holds `fin_parent` and every
//! customer's financial company account. Balances are kept in minor units of the
//! engine's currency as `i64`: every value stays within
//! [`MAX_ABS_MINOR_UNITS`] (a credit that
//! would pass it is refused), so the integers never overflow and always convert back to
//! [`Money`].
//!
//! There is no global lock. A transfer takes its debit and then its credit, each
//! atomic on its own; the caller holds the registry entry of the request id across
//! both, so a confirm sees a transfer whole or not at all. A [`Truth`] snapshot taken
//! while calls are executing may catch a transfer between its legs; taken when no call
//! is executing (how tests and reconciliation use it), it is exact.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use omnibus_core::ids::{CardSeq, MerchantNo};
use omnibus_core::money::MAX_ABS_MINOR_UNITS;
use omnibus_core::{
    AccountNo, Amount, BankCode, Config, Currency, CustomerId, Money, ParentAccount,
};
use rust_decimal::Decimal;

use super::refusal::{Refusal, SimRefusal};
use super::SHARDS;

/// The balance a customer-linked account opens with unless a test sets it: one trillion
/// won (whole units of the engine's currency), so that charges are never refused for a
/// short linked account unless a test asks for it.
pub const DEFAULT_LINKED_BALANCE_WON: i64 = 1_000_000_000_000;

/// An account of the outside world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TruthAccount {
    /// A customer-linked bank account (10).
    Linked { bank: BankCode, account: AccountNo },
    /// A customer-designated (payee) bank account.
    Designated { bank: BankCode, account: AccountNo },
    /// A customer financial company account (20), as the securities firm holds it.
    Customer(CustomerId),
    /// A parent account, as the bank or securities firm holding it sees it.
    Parent(ParentAccount),
    /// A merchant's account at the securities firm (`merchant[m]`), which `SS.transfer`
    /// moves sales into and refunds out of.
    Merchant(MerchantNo),
    /// The pocket of a customer's prepaid card at the securities firm (`pocket[c,card]`,
    /// D-5.1), which `SS.transfer` charges and pays from.
    Pocket(CustomerId, CardSeq),
}

impl fmt::Display for TruthAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TruthAccount::Linked { bank, account } => write!(f, "linked[{bank}/{account}]"),
            TruthAccount::Designated { bank, account } => {
                write!(f, "designated[{bank}/{account}]")
            }
            TruthAccount::Customer(customer) => write!(f, "customer[{customer}]"),
            TruthAccount::Parent(parent) => parent.fmt(f),
            TruthAccount::Merchant(merchant) => write!(f, "merchant[{merchant}]"),
            TruthAccount::Pocket(customer, card) => write!(f, "pocket[{customer},{card}]"),
        }
    }
}

/// A snapshot of the outside truth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truth {
    pub currency: Currency,
    /// What a linked account not listed in `linked` holds.
    pub linked_default: Money,
    /// Every linked account a call moved money into or out of, or
    /// `set_linked_balance` set; never one only a refused call named.
    pub linked: BTreeMap<(BankCode, AccountNo), Money>,
    /// Every designated account a deposit or payment instruction has credited.
    pub designated: BTreeMap<(BankCode, AccountNo), Money>,
    /// Every configured parent account.
    pub parents: BTreeMap<ParentAccount, Money>,
    /// Every customer financial company account the securities firm has opened.
    pub customers: BTreeMap<CustomerId, Money>,
    /// Every merchant account a transfer has moved money into or out of.
    pub merchants: BTreeMap<MerchantNo, Money>,
    /// Every pocket a transfer has moved money into or out of.
    pub pockets: BTreeMap<(CustomerId, CardSeq), Money>,
    /// The sum of every balance above, in units of `currency`. A `Decimal`, not a
    /// `Money`, because a sum over many linked accounts may pass the range of one value.
    pub total: Decimal,
    /// The sum every account opened with: the parents' configured openings and each
    /// listed linked account's opening (the default, or what a test set). Designated and
    /// customer accounts open at zero. Conservation: `total == opening_total`.
    pub opening_total: Decimal,
}

impl Truth {
    /// Whether the outside world has neither created nor destroyed money.
    pub fn is_conserved(&self) -> bool {
        self.total == self.opening_total
    }

    /// A linked account's balance; the default if no call has touched it.
    pub fn linked(&self, bank: BankCode, account: AccountNo) -> Money {
        self.linked
            .get(&(bank, account))
            .copied()
            .unwrap_or(self.linked_default)
    }

    /// A designated account's balance; zero if nothing was ever paid into it.
    pub fn designated(&self, bank: BankCode, account: AccountNo) -> Money {
        self.designated
            .get(&(bank, account))
            .copied()
            .unwrap_or(Money::zero(self.currency))
    }

    /// The sum of the designated accounts at one bank (the engine books payees per bank).
    pub fn designated_at(&self, bank: BankCode) -> Decimal {
        self.designated
            .iter()
            .filter(|((b, _), _)| *b == bank)
            .map(|(_, m)| m.value())
            .sum()
    }

    /// A customer's financial company account; zero if the securities firm never opened it.
    pub fn customer(&self, customer: CustomerId) -> Money {
        self.customers
            .get(&customer)
            .copied()
            .unwrap_or(Money::zero(self.currency))
    }

    /// A parent account's balance, if the configuration declares it.
    pub fn parent(&self, parent: ParentAccount) -> Option<Money> {
        self.parents.get(&parent).copied()
    }
}

#[derive(Clone, Copy, Debug)]
struct LinkedAccount {
    opening_minor: i64,
    balance_minor: i64,
}

#[derive(Debug)]
struct ParentBalance {
    balance_minor: AtomicI64,
    opening_minor: i64,
    /// Minus the configured overdraft: the account may not go below it.
    floor_minor: i64,
}

/// The balances of the outside world.
pub(super) struct Books {
    currency: Currency,
    linked_default_minor: i64,
    linked: DashMap<(BankCode, AccountNo), LinkedAccount>,
    designated: DashMap<(BankCode, AccountNo), i64>,
    customers: DashMap<CustomerId, i64>,
    merchants: DashMap<MerchantNo, i64>,
    pockets: DashMap<(CustomerId, CardSeq), i64>,
    /// Fixed at construction, so reading it takes no lock; each balance is an atomic
    /// because `fin_parent` and the parents at busy banks are touched by most calls.
    parents: HashMap<ParentAccount, ParentBalance>,
}

/// A value in minor units of its currency. `Money` is validated to at most its
/// currency's minor digits and to [`MAX_ABS_MINOR_UNITS`], so the result always fits.
fn minor_of_money(money: Money) -> i64 {
    let value = money.value();
    let digits = money.currency().minor_unit_digits();
    let minor = value.mantissa() * 10i128.pow(digits.saturating_sub(value.scale()));
    i64::try_from(minor).expect("a validated value fits in i64 minor units")
}

/// An amount in minor units of its currency.
pub(super) fn minor_of_amount(amount: Amount) -> i64 {
    minor_of_money(amount.money())
}

/// The amount of a positive number of minor units, as recorded by [`minor_of_amount`].
pub(super) fn amount_from_minor(currency: Currency, minor: i64) -> Amount {
    Amount::new(
        currency,
        Decimal::from_i128_with_scale(i128::from(minor), currency.minor_unit_digits()),
    )
    .expect("recorded from a valid amount")
}

fn within_range(minor: i64) -> bool {
    (-MAX_ABS_MINOR_UNITS..=MAX_ABS_MINOR_UNITS).contains(&minor)
}

impl Books {
    pub(super) fn new(config: &Config) -> Self {
        let currency = config.engine.currency;
        let scale = 10i64.pow(currency.minor_unit_digits());
        let p = &config.parents;
        let mut kinds: Vec<(ParentAccount, i64, i64)> = Vec::new();
        for bank in &config.banks.withdrawal_firm {
            kinds.push((
                ParentAccount::WithdrawalFirm(*bank),
                p.withdrawal_firm.opening,
                p.withdrawal_firm.overdraft,
            ));
        }
        kinds.push((
            ParentAccount::Collection,
            p.collection.opening,
            p.collection.overdraft,
        ));
        for bank in &config.banks.deposit_firm {
            kinds.push((
                ParentAccount::DepositFirm(*bank),
                p.deposit_firm.opening,
                p.deposit_firm.overdraft,
            ));
        }
        kinds.push((
            ParentAccount::FinParent,
            p.fin_parent.opening,
            p.fin_parent.overdraft,
        ));
        if p.fin_deposit.enabled {
            kinds.push((
                ParentAccount::FinDeposit,
                p.fin_deposit.opening,
                p.fin_deposit.overdraft,
            ));
        }
        let parents = kinds
            .into_iter()
            .map(|(parent, opening_units, overdraft_units)| {
                // The configuration is validated to hold values within the engine's range.
                let opening_minor = opening_units
                    .checked_mul(scale)
                    .filter(|m| within_range(*m))
                    .expect("a validated opening balance is within range");
                let floor_minor = overdraft_units
                    .checked_mul(scale)
                    .filter(|m| within_range(*m))
                    .map(|m| -m)
                    .expect("a validated overdraft is within range");
                (
                    parent,
                    ParentBalance {
                        balance_minor: AtomicI64::new(opening_minor),
                        opening_minor,
                        floor_minor,
                    },
                )
            })
            .collect();
        Self {
            currency,
            linked_default_minor: DEFAULT_LINKED_BALANCE_WON * scale,
            linked: DashMap::with_shard_amount(SHARDS),
            designated: DashMap::with_shard_amount(SHARDS),
            customers: DashMap::with_shard_amount(SHARDS),
            merchants: DashMap::with_shard_amount(SHARDS),
            pockets: DashMap::with_shard_amount(SHARDS),
            parents,
        }
    }

    pub(super) fn currency(&self) -> Currency {
        self.currency
    }

    /// A value in minor units, refused unless it is in the simulator's currency.
    fn minor_of(&self, money: Money) -> Result<i64, SimRefusal> {
        if money.currency() != self.currency {
            return Err(SimRefusal::new(
                Refusal::CurrencyMismatch,
                format!("{money} is not in {}", self.currency),
            ));
        }
        Ok(minor_of_money(money))
    }

    fn money(&self, minor: i64) -> Money {
        Money::new(
            self.currency,
            Decimal::from_i128_with_scale(i128::from(minor), self.currency.minor_unit_digits()),
        )
        .expect("a truth balance stays within the engine's range")
    }

    fn parent(&self, parent: ParentAccount) -> Result<&ParentBalance, SimRefusal> {
        self.parents.get(&parent).ok_or_else(|| {
            SimRefusal::new(
                Refusal::UnknownParent,
                format!("parent account {parent} is not held here"),
            )
        })
    }

    /// Moves `amount` from one account to another, or refuses and moves nothing.
    pub(super) fn transfer(
        &self,
        from: TruthAccount,
        to: TruthAccount,
        amount: Amount,
    ) -> Result<(), SimRefusal> {
        let minor = self.minor_of(amount.money())?;
        // An unknown parent on the credit side is found before anything is debited.
        if let TruthAccount::Parent(parent) = to {
            self.parent(parent)?;
        }
        let opened = self.debit(from, minor, amount)?;
        if let Err(refused) = self.credit(to, minor) {
            self.undo_debit(from, minor, opened);
            return Err(refused);
        }
        Ok(())
    }

    fn short(
        &self,
        refusal: Refusal,
        account: TruthAccount,
        held: i64,
        amount: Amount,
    ) -> SimRefusal {
        SimRefusal::new(
            refusal,
            format!("{account} holds {}, less than {amount}", self.money(held)),
        )
    }

    /// Takes `minor` from an account. `Ok(true)` when the debit opened a linked account
    /// (its first movement), so that an undo can close it again.
    fn debit(&self, from: TruthAccount, minor: i64, amount: Amount) -> Result<bool, SimRefusal> {
        match from {
            // A linked account is listed from its first movement on, never by a refusal:
            // the journal restores the truth from what executed, and a refused call
            // executed nothing.
            TruthAccount::Linked { bank, account } => match self.linked.entry((bank, account)) {
                Entry::Occupied(mut held) => {
                    let held = held.get_mut();
                    if held.balance_minor < minor {
                        return Err(self.short(
                            Refusal::BankAccountShort,
                            from,
                            held.balance_minor,
                            amount,
                        ));
                    }
                    held.balance_minor -= minor;
                    Ok(false)
                }
                Entry::Vacant(vacant) => {
                    let default = self.linked_default_minor;
                    if default < minor {
                        return Err(self.short(Refusal::BankAccountShort, from, default, amount));
                    }
                    vacant.insert(LinkedAccount {
                        opening_minor: default,
                        balance_minor: default - minor,
                    });
                    Ok(true)
                }
            },
            TruthAccount::Designated { bank, account } => {
                let held = self.designated.get_mut(&(bank, account));
                match held {
                    Some(mut held) if *held >= minor => {
                        *held -= minor;
                        Ok(false)
                    }
                    held => {
                        let balance = held.map_or(0, |h| *h);
                        Err(self.short(Refusal::BankAccountShort, from, balance, amount))
                    }
                }
            }
            TruthAccount::Customer(customer) => match self.customers.get_mut(&customer) {
                Some(mut held) if *held >= minor => {
                    *held -= minor;
                    Ok(false)
                }
                held => {
                    let balance = held.map_or(0, |h| *h);
                    Err(self.short(Refusal::SecuritiesShort, from, balance, amount))
                }
            },
            TruthAccount::Merchant(merchant) => match self.merchants.get_mut(&merchant) {
                Some(mut held) if *held >= minor => {
                    *held -= minor;
                    Ok(false)
                }
                held => {
                    let balance = held.map_or(0, |h| *h);
                    Err(self.short(Refusal::SecuritiesShort, from, balance, amount))
                }
            },
            TruthAccount::Pocket(customer, card) => match self.pockets.get_mut(&(customer, card)) {
                Some(mut held) if *held >= minor => {
                    *held -= minor;
                    Ok(false)
                }
                held => {
                    let balance = held.map_or(0, |h| *h);
                    Err(self.short(Refusal::SecuritiesShort, from, balance, amount))
                }
            },
            TruthAccount::Parent(parent) => {
                let p = self.parent(parent)?;
                p.balance_minor
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |balance| {
                        balance.checked_sub(minor).filter(|b| *b >= p.floor_minor)
                    })
                    .map(|_| false)
                    .map_err(|balance| {
                        SimRefusal::new(
                            Refusal::ParentShort,
                            format!(
                                "{parent} holds {}, and paying {amount} would take it below its floor of {}",
                                self.money(balance),
                                self.money(p.floor_minor)
                            ),
                        )
                    })
            }
        }
    }

    fn out_of_range(&self, to: TruthAccount, minor: i64) -> SimRefusal {
        SimRefusal::new(
            Refusal::OutOfRange,
            format!(
                "crediting {} to {to} would take it past the largest balance the engine holds",
                self.money(minor)
            ),
        )
    }

    fn credit(&self, to: TruthAccount, minor: i64) -> Result<(), SimRefusal> {
        let add = |balance: i64| balance.checked_add(minor).filter(|b| within_range(*b));
        match to {
            // As for a debit, a refused credit does not list the account.
            TruthAccount::Linked { bank, account } => match self.linked.entry((bank, account)) {
                Entry::Occupied(mut held) => {
                    let held = held.get_mut();
                    held.balance_minor =
                        add(held.balance_minor).ok_or_else(|| self.out_of_range(to, minor))?;
                }
                Entry::Vacant(vacant) => {
                    let default = self.linked_default_minor;
                    let balance_minor = add(default).ok_or_else(|| self.out_of_range(to, minor))?;
                    vacant.insert(LinkedAccount {
                        opening_minor: default,
                        balance_minor,
                    });
                }
            },
            TruthAccount::Designated { bank, account } => {
                let mut entry = self.designated.entry((bank, account)).or_insert(0);
                *entry = add(*entry).ok_or_else(|| self.out_of_range(to, minor))?;
            }
            TruthAccount::Customer(customer) => {
                let mut entry = self.customers.entry(customer).or_insert(0);
                *entry = add(*entry).ok_or_else(|| self.out_of_range(to, minor))?;
            }
            TruthAccount::Merchant(merchant) => {
                let mut entry = self.merchants.entry(merchant).or_insert(0);
                *entry = add(*entry).ok_or_else(|| self.out_of_range(to, minor))?;
            }
            TruthAccount::Pocket(customer, card) => {
                let mut entry = self.pockets.entry((customer, card)).or_insert(0);
                *entry = add(*entry).ok_or_else(|| self.out_of_range(to, minor))?;
            }
            TruthAccount::Parent(parent) => {
                self.parent(parent)?
                    .balance_minor
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, add)
                    .map_err(|_| self.out_of_range(to, minor))?;
            }
        }
        Ok(())
    }

    /// Puts back a debit whose credit was refused. The amount was just taken from this
    /// very account, so adding it back cannot overflow. A linked account the debit
    /// opened is closed again if nothing else moved it since, so that the refused call
    /// leaves no trace the journal would not restore.
    fn undo_debit(&self, from: TruthAccount, minor: i64, opened: bool) {
        match from {
            TruthAccount::Linked { bank, account } => {
                if let Some(mut entry) = self.linked.get_mut(&(bank, account)) {
                    entry.balance_minor += minor;
                }
                if opened {
                    let default = self.linked_default_minor;
                    self.linked.remove_if(&(bank, account), |_, held| {
                        held.opening_minor == default && held.balance_minor == default
                    });
                }
            }
            TruthAccount::Designated { bank, account } => {
                if let Some(mut entry) = self.designated.get_mut(&(bank, account)) {
                    *entry += minor;
                }
            }
            TruthAccount::Customer(customer) => {
                if let Some(mut entry) = self.customers.get_mut(&customer) {
                    *entry += minor;
                }
            }
            TruthAccount::Merchant(merchant) => {
                if let Some(mut entry) = self.merchants.get_mut(&merchant) {
                    *entry += minor;
                }
            }
            TruthAccount::Pocket(customer, card) => {
                if let Some(mut entry) = self.pockets.get_mut(&(customer, card)) {
                    *entry += minor;
                }
            }
            TruthAccount::Parent(parent) => {
                if let Some(p) = self.parents.get(&parent) {
                    p.balance_minor.fetch_add(minor, Ordering::AcqRel);
                }
            }
        }
    }

    /// Sets a linked account's balance. The account's opening moves by the same
    /// difference: the money comes from (or goes to) outside the modelled world, so
    /// conservation (`total == opening_total`) still holds.
    ///
    /// `record` is told the change while the account is still locked, so the journal
    /// has it before anyone can see the new balance; the change, not the balance, is
    /// what replays in any order.
    pub(super) fn set_linked(
        &self,
        bank: BankCode,
        account: AccountNo,
        balance: Money,
        record: impl FnOnce(i64),
    ) -> Result<(), SimRefusal> {
        let minor = self.minor_of(balance)?;
        let default = self.linked_default_minor;
        let mut entry = self.linked.entry((bank, account)).or_insert(LinkedAccount {
            opening_minor: default,
            balance_minor: default,
        });
        let change = minor - entry.balance_minor;
        record(change);
        entry.opening_minor += change;
        entry.balance_minor = minor;
        Ok(())
    }

    /// Replays a transfer the journal holds as executed. Its checks passed when it ran,
    /// so none are made again; the arithmetic wraps, which makes the sum of every
    /// replayed movement exact whatever order the journal hands them out in (each final
    /// balance is in range, as it was when the process stopped). Refused only for a
    /// parent account the configuration no longer declares.
    pub(super) fn replay_transfer(
        &self,
        from: TruthAccount,
        to: TruthAccount,
        minor: i64,
    ) -> Result<(), String> {
        for side in [from, to] {
            if let TruthAccount::Parent(parent) = side {
                if !self.parents.contains_key(&parent) {
                    return Err(format!(
                        "it moves money in parent account {parent}, which the configuration does not declare"
                    ));
                }
            }
        }
        self.replay_add(from, minor.wrapping_neg());
        self.replay_add(to, minor);
        Ok(())
    }

    fn replay_add(&self, account: TruthAccount, minor: i64) {
        let default = self.linked_default_minor;
        match account {
            TruthAccount::Linked { bank, account } => {
                let mut entry = self.linked.entry((bank, account)).or_insert(LinkedAccount {
                    opening_minor: default,
                    balance_minor: default,
                });
                entry.balance_minor = entry.balance_minor.wrapping_add(minor);
            }
            TruthAccount::Designated { bank, account } => {
                let mut entry = self.designated.entry((bank, account)).or_insert(0);
                *entry = entry.wrapping_add(minor);
            }
            TruthAccount::Customer(customer) => {
                let mut entry = self.customers.entry(customer).or_insert(0);
                *entry = entry.wrapping_add(minor);
            }
            TruthAccount::Merchant(merchant) => {
                let mut entry = self.merchants.entry(merchant).or_insert(0);
                *entry = entry.wrapping_add(minor);
            }
            TruthAccount::Pocket(customer, card) => {
                let mut entry = self.pockets.entry((customer, card)).or_insert(0);
                *entry = entry.wrapping_add(minor);
            }
            TruthAccount::Parent(parent) => {
                if let Some(p) = self.parents.get(&parent) {
                    // An atomic add wraps on overflow, as the replay wants.
                    p.balance_minor.fetch_add(minor, Ordering::AcqRel);
                }
            }
        }
    }

    /// Replays a `set_linked` by the change it made: to the balance and the opening.
    pub(super) fn replay_linked_set(&self, bank: BankCode, account: AccountNo, change: i64) {
        let default = self.linked_default_minor;
        let mut entry = self.linked.entry((bank, account)).or_insert(LinkedAccount {
            opening_minor: default,
            balance_minor: default,
        });
        entry.opening_minor = entry.opening_minor.wrapping_add(change);
        entry.balance_minor = entry.balance_minor.wrapping_add(change);
    }

    pub(super) fn snapshot(&self) -> Truth {
        let mut total: i128 = 0;
        let mut opening_total: i128 = 0;
        let linked: BTreeMap<_, _> = self
            .linked
            .iter()
            .map(|e| {
                total += i128::from(e.balance_minor);
                opening_total += i128::from(e.opening_minor);
                (*e.key(), self.money(e.balance_minor))
            })
            .collect();
        let designated: BTreeMap<_, _> = self
            .designated
            .iter()
            .map(|e| {
                total += i128::from(*e.value());
                (*e.key(), self.money(*e.value()))
            })
            .collect();
        let customers: BTreeMap<_, _> = self
            .customers
            .iter()
            .map(|e| {
                total += i128::from(*e.value());
                (*e.key(), self.money(*e.value()))
            })
            .collect();
        let merchants: BTreeMap<_, _> = self
            .merchants
            .iter()
            .map(|e| {
                total += i128::from(*e.value());
                (*e.key(), self.money(*e.value()))
            })
            .collect();
        let pockets: BTreeMap<_, _> = self
            .pockets
            .iter()
            .map(|e| {
                total += i128::from(*e.value());
                (*e.key(), self.money(*e.value()))
            })
            .collect();
        let parents: BTreeMap<_, _> = self
            .parents
            .iter()
            .map(|(parent, p)| {
                let balance = p.balance_minor.load(Ordering::Acquire);
                total += i128::from(balance);
                opening_total += i128::from(p.opening_minor);
                (*parent, self.money(balance))
            })
            .collect();
        let digits = self.currency.minor_unit_digits();
        Truth {
            currency: self.currency,
            linked_default: self.money(self.linked_default_minor),
            linked,
            designated,
            parents,
            customers,
            merchants,
            pockets,
            total: Decimal::from_i128_with_scale(total, digits),
            opening_total: Decimal::from_i128_with_scale(opening_total, digits),
        }
    }
}
