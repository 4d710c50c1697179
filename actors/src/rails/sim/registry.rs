//! What each simulated rail did with each request id: the registry the confirm inquiry
//! and idempotent repeats answer from, and the statement a reconciliation reads.
//!
//! The registry keeps every id for the life of the simulator, as a real system keeps its
//! records, and it grows by one entry per call: at the engine's benchmark rate that is
//! hundreds of thousands of entries a second. So an entry is a 24-byte [`Slot`], not the
//! 112-byte public [`Execution`]: amounts are minor units, parent accounts are implied by
//! the operation and a bank code, and linked or designated accounts are interned to a
//! `u32` ([`Interner`]). [`Slot::outcome`] gives back the full public form.

use std::fmt;
use std::sync::RwLock;

use dashmap::DashMap;
use omnibus_core::ids::{CardSeq, MerchantNo};
use omnibus_core::{AccountNo, Amount, BankCode, Currency, CustomerId, ParentAccount};

use super::refusal::Refusal;
use super::truth::{amount_from_minor, minor_of_amount, TruthAccount};
use super::SHARDS;
use crate::rails::RailRequestId;

/// The operation a rail executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Bank firm system: linked account → withdrawal firm parent account (A1).
    Withdraw,
    /// Bank firm system: deposit firm parent → designated account (X2), or withdrawal
    /// firm parent → linked account (a refund).
    Deposit,
    /// Securities firm system: `fin_parent` → customer account (A2, recovery).
    Increase,
    /// Securities firm system: customer account → `fin_parent` (X1).
    Decrease,
    /// Financial company server: customer account → designated account, through the
    /// external financial network (the payment instruction).
    Instruct,
    /// Bank firm system: one of the company's parent accounts → another (a sweep).
    Settle,
    /// Securities firm system: between two of its own accounts, customer → merchant (a
    /// sale) or merchant → customer (its reversal, a cancel, a refund): `SS.transfer`.
    Transfer,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Withdraw => "withdraw",
            Operation::Deposit => "deposit",
            Operation::Increase => "increase",
            Operation::Decrease => "decrease",
            Operation::Instruct => "instruct",
            Operation::Settle => "settle",
            Operation::Transfer => "transfer",
        })
    }
}

/// One line of a rail's statement: a request it executed, and the money it moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    pub id: RailRequestId,
    pub operation: Operation,
    pub customer: CustomerId,
    pub amount: Amount,
    pub from: TruthAccount,
    pub to: TruthAccount,
}

impl fmt::Display for Execution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} for customer {}: {} from {} to {}",
            self.id, self.operation, self.customer, self.amount, self.from, self.to
        )
    }
}

/// Why a request id was settled as never to be executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotExecutedCause {
    /// The rail refused it for a business reason.
    Refused(Refusal),
    /// The simulator injected a failure (`failure_rate`).
    InjectedFailure,
    /// A confirm inquiry found it not executed, which settles it for good.
    Confirm,
}

/// What a rail holds about one request id, once it holds anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Executed(Execution),
    /// Not executed, and never will be: a later call with this id is refused.
    NotExecuted(NotExecutedCause),
}

/// The linked and designated accounts the registry names, each numbered once.
pub(super) struct Interner {
    numbers: DashMap<(BankCode, AccountNo), u32>,
    /// Written only when an account is seen for the first time; read only by inspection.
    accounts: RwLock<Vec<(BankCode, AccountNo)>>,
}

impl Interner {
    pub(super) fn new() -> Self {
        Self {
            numbers: DashMap::with_shard_amount(SHARDS),
            accounts: RwLock::new(Vec::new()),
        }
    }

    fn number(&self, bank: BankCode, account: AccountNo) -> u32 {
        if let Some(number) = self.numbers.get(&(bank, account)) {
            return *number;
        }
        *self.numbers.entry((bank, account)).or_insert_with(|| {
            let mut accounts = self.accounts.write().unwrap_or_else(|e| e.into_inner());
            accounts.push((bank, account));
            u32::try_from(accounts.len() - 1).expect("fewer than 2^32 bank accounts")
        })
    }

    fn account(&self, number: u32) -> (BankCode, AccountNo) {
        self.accounts.read().unwrap_or_else(|e| e.into_inner())[number as usize]
    }
}

/// The shapes of transfer the simulators execute; with a bank code, a customer and an
/// outside account (or a pair of parent accounts) they determine both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// Linked → withdrawal firm parent at `bank`.
    Withdraw = 1,
    /// Deposit firm parent at `bank` → designated.
    Remit = 2,
    /// Withdrawal firm parent at `bank` → linked.
    Refund = 3,
    /// `fin_parent` → customer.
    Increase = 4,
    /// Customer → `fin_parent`.
    Decrease = 5,
    /// Customer → designated.
    Instruct = 6,
    /// Parent → parent; both are coded in one `u32` (see `parent_pair`).
    Settle = 7,
    /// Customer → merchant (`SS.transfer`, a sale); the merchant's number is the external.
    Sale = 8,
    /// Merchant → customer (`SS.transfer`, a sale's reversal, a cancel or a refund).
    SaleBack = 9,
    /// Customer → one of the customer's pockets (`SS.transfer`, a pocket charge); the
    /// card is the external.
    PocketIn = 10,
    /// Pocket → its customer (a pocket charge's reversal, a closing).
    PocketOut = 11,
    /// Pocket → merchant (a card payment's sale); the merchant is the external, the card
    /// rides in the bank field.
    PocketSale = 12,
    /// Merchant → pocket (its reversal, a cancel or a refund).
    PocketSaleBack = 13,
    /// `fin_parent` → one of the customer's pockets (a charge into the pocket, D-5.7);
    /// the card is the external.
    PocketIncrease = 14,
    /// A merchant's account → `fin_parent` (a payout's X1); the merchant is the external.
    MerchantDecrease = 15,
    /// `fin_parent` → a merchant's account (a payout's recovery).
    MerchantIncrease = 16,
}

impl Shape {
    /// The shape's code in the simulator's journal (docs/simulator.md).
    pub(super) const fn code(self) -> u8 {
        self as u8
    }

    pub(super) fn from_code(code: u8) -> Option<Shape> {
        Some(match code {
            1 => Shape::Withdraw,
            2 => Shape::Remit,
            3 => Shape::Refund,
            4 => Shape::Increase,
            5 => Shape::Decrease,
            6 => Shape::Instruct,
            7 => Shape::Settle,
            8 => Shape::Sale,
            9 => Shape::SaleBack,
            10 => Shape::PocketIn,
            11 => Shape::PocketOut,
            12 => Shape::PocketSale,
            13 => Shape::PocketSaleBack,
            14 => Shape::PocketIncrease,
            15 => Shape::MerchantDecrease,
            16 => Shape::MerchantIncrease,
            _ => return None,
        })
    }

    /// Whether the shape names a linked or designated account.
    pub(super) const fn names_an_account(self) -> bool {
        matches!(
            self,
            Shape::Withdraw | Shape::Remit | Shape::Refund | Shape::Instruct
        )
    }
}

/// The side of an execution that is neither the customer nor a bank-held parent
/// account of the shape: what the registry interns and the journal spells out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum External {
    None,
    /// A linked or designated account.
    Account(BankCode, AccountNo),
    /// The two parent accounts of a sweep, as `parent_pair` codes them.
    Parents(u32),
    /// A merchant's account at the securities firm, by the merchant's number.
    Merchant(MerchantNo),
    /// One of the customer's pockets, by its card.
    Pocket(CardSeq),
    /// A pocket and a merchant (a card payment or its reversal).
    PocketMerchant(CardSeq, MerchantNo),
}

/// An executed request in its compact parts: everything but the id, the customer and
/// the amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Compact {
    pub(super) shape: Shape,
    /// The parent account's bank for bank firm transfers; "000" otherwise.
    pub(super) bank: BankCode,
    pub(super) external: External,
}

impl Compact {
    /// The compact parts of an execution, or `None` for a shape of transfer the
    /// simulators never plan (the seven of [`Shape`] are all they make).
    pub(super) fn of(execution: &Execution) -> Option<Compact> {
        use TruthAccount::{Customer, Designated, Linked, Merchant, Parent, Pocket};
        let customer_is = |c: CustomerId| c == execution.customer;
        let account = External::Account;
        let (shape, bank, external) = match (execution.operation, execution.from, execution.to) {
            (
                Operation::Withdraw,
                Linked { bank, account: a },
                Parent(ParentAccount::WithdrawalFirm(to)),
            ) if bank == to => (Shape::Withdraw, bank, account(bank, a)),
            (
                Operation::Deposit,
                Parent(ParentAccount::DepositFirm(from)),
                Designated { bank, account: a },
            ) => (Shape::Remit, from, account(bank, a)),
            (
                Operation::Deposit,
                Parent(ParentAccount::WithdrawalFirm(from)),
                Linked { bank, account: a },
            ) => (Shape::Refund, from, account(bank, a)),
            (Operation::Increase, Parent(ParentAccount::FinParent), Customer(c))
                if customer_is(c) =>
            {
                (Shape::Increase, no_bank(), External::None)
            }
            (Operation::Decrease, Customer(c), Parent(ParentAccount::FinParent))
                if customer_is(c) =>
            {
                (Shape::Decrease, no_bank(), External::None)
            }
            (Operation::Increase, Parent(ParentAccount::FinParent), Pocket(p, card))
                if customer_is(p) =>
            {
                (Shape::PocketIncrease, no_bank(), External::Pocket(card))
            }
            (Operation::Decrease, Merchant(m), Parent(ParentAccount::FinParent)) => {
                (Shape::MerchantDecrease, no_bank(), External::Merchant(m))
            }
            (Operation::Increase, Parent(ParentAccount::FinParent), Merchant(m)) => {
                (Shape::MerchantIncrease, no_bank(), External::Merchant(m))
            }
            (Operation::Instruct, Customer(c), Designated { bank, account: a })
                if customer_is(c) =>
            {
                (Shape::Instruct, no_bank(), account(bank, a))
            }
            (Operation::Settle, Parent(from), Parent(to)) => (
                Shape::Settle,
                no_bank(),
                External::Parents(parent_pair(from, to)),
            ),
            (Operation::Transfer, Customer(c), Merchant(m)) if customer_is(c) => {
                (Shape::Sale, no_bank(), External::Merchant(m))
            }
            (Operation::Transfer, Merchant(m), Customer(c)) if customer_is(c) => {
                (Shape::SaleBack, no_bank(), External::Merchant(m))
            }
            (Operation::Transfer, Customer(c), Pocket(p, card)) if customer_is(c) && p == c => {
                (Shape::PocketIn, no_bank(), External::Pocket(card))
            }
            (Operation::Transfer, Pocket(p, card), Customer(c)) if customer_is(c) && p == c => {
                (Shape::PocketOut, no_bank(), External::Pocket(card))
            }
            (Operation::Transfer, Pocket(p, card), Merchant(m)) if customer_is(p) => (
                Shape::PocketSale,
                no_bank(),
                External::PocketMerchant(card, m),
            ),
            (Operation::Transfer, Merchant(m), Pocket(p, card)) if customer_is(p) => (
                Shape::PocketSaleBack,
                no_bank(),
                External::PocketMerchant(card, m),
            ),
            _ => return None,
        };
        Some(Compact {
            shape,
            bank,
            external,
        })
    }

    /// The execution these parts make with `id`, `customer` and `amount`, or `None` when
    /// the external side does not fit the shape (a journal record that lies).
    pub(super) fn execution(
        self,
        id: RailRequestId,
        customer: CustomerId,
        amount: Amount,
    ) -> Option<Execution> {
        use TruthAccount::{Customer, Designated, Linked, Merchant, Parent};
        let bank = self.bank;
        let account = match self.external {
            External::Account(bank, account) => Some((bank, account)),
            _ => None,
        };
        let linked = || account.map(|(bank, account)| Linked { bank, account });
        let designated = || account.map(|(bank, account)| Designated { bank, account });
        let customer_account = Customer(customer);
        let fin_parent = Parent(ParentAccount::FinParent);
        let (operation, from, to) = match self.shape {
            Shape::Withdraw => (
                Operation::Withdraw,
                linked()?,
                Parent(ParentAccount::WithdrawalFirm(bank)),
            ),
            Shape::Remit => (
                Operation::Deposit,
                Parent(ParentAccount::DepositFirm(bank)),
                designated()?,
            ),
            Shape::Refund => (
                Operation::Deposit,
                Parent(ParentAccount::WithdrawalFirm(bank)),
                linked()?,
            ),
            Shape::Increase => (Operation::Increase, fin_parent, customer_account),
            Shape::Decrease => (Operation::Decrease, customer_account, fin_parent),
            Shape::Instruct => (Operation::Instruct, customer_account, designated()?),
            Shape::Settle => {
                let External::Parents(pair) = self.external else {
                    return None;
                };
                (
                    Operation::Settle,
                    Parent(parent_of((pair >> 16) as u16)?),
                    Parent(parent_of((pair & 0xffff) as u16)?),
                )
            }
            Shape::Sale | Shape::SaleBack => {
                let External::Merchant(m) = self.external else {
                    return None;
                };
                if self.shape == Shape::Sale {
                    (Operation::Transfer, customer_account, Merchant(m))
                } else {
                    (Operation::Transfer, Merchant(m), customer_account)
                }
            }
            Shape::PocketIn | Shape::PocketOut => {
                let External::Pocket(card) = self.external else {
                    return None;
                };
                let pocket = TruthAccount::Pocket(customer, card);
                if self.shape == Shape::PocketIn {
                    (Operation::Transfer, customer_account, pocket)
                } else {
                    (Operation::Transfer, pocket, customer_account)
                }
            }
            Shape::PocketIncrease => {
                let External::Pocket(card) = self.external else {
                    return None;
                };
                (
                    Operation::Increase,
                    fin_parent,
                    TruthAccount::Pocket(customer, card),
                )
            }
            Shape::MerchantDecrease | Shape::MerchantIncrease => {
                let External::Merchant(m) = self.external else {
                    return None;
                };
                if self.shape == Shape::MerchantDecrease {
                    (Operation::Decrease, Merchant(m), fin_parent)
                } else {
                    (Operation::Increase, fin_parent, Merchant(m))
                }
            }
            Shape::PocketSale | Shape::PocketSaleBack => {
                let External::PocketMerchant(card, m) = self.external else {
                    return None;
                };
                let pocket = TruthAccount::Pocket(customer, card);
                if self.shape == Shape::PocketSale {
                    (Operation::Transfer, pocket, Merchant(m))
                } else {
                    (Operation::Transfer, Merchant(m), pocket)
                }
            }
        };
        Some(Execution {
            id,
            operation,
            customer,
            amount,
            from,
            to,
        })
    }
}

/// Two parent accounts in 32 bits: each as kind × 1000 + bank number, 16 bits apiece.
fn parent_pair(from: ParentAccount, to: ParentAccount) -> u32 {
    (u32::from(parent_code(from)) << 16) | u32::from(parent_code(to))
}

/// A parent account as kind × 1000 + bank number (docs/simulator.md).
pub(super) fn parent_code(parent: ParentAccount) -> u16 {
    let bank = |b: BankCode| {
        b.as_str()
            .parse::<u16>()
            .expect("bank codes are three digits")
    };
    match parent {
        ParentAccount::WithdrawalFirm(b) => 1_000 + bank(b),
        ParentAccount::Collection => 2_000,
        ParentAccount::DepositFirm(b) => 3_000 + bank(b),
        ParentAccount::FinParent => 4_000,
        ParentAccount::FinDeposit => 5_000,
    }
}

/// The parent account of a code `parent_code` made, or `None` for a code it never makes.
pub(super) fn parent_of(code: u16) -> Option<ParentAccount> {
    let bank = || BankCode::new(&format!("{:03}", code % 1_000)).ok();
    Some(match code / 1_000 {
        1 => ParentAccount::WithdrawalFirm(bank()?),
        2 if code == 2_000 => ParentAccount::Collection,
        3 => ParentAccount::DepositFirm(bank()?),
        4 if code == 4_000 => ParentAccount::FinParent,
        5 if code == 5_000 => ParentAccount::FinDeposit,
        _ => return None,
    })
}

/// An executed request, compactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Record {
    customer: CustomerId,
    amount_minor: i64,
    /// The interned linked or designated account, or the coded pair of parent accounts
    /// of a sweep; 0 and unused for the securities firm.
    external: u32,
    /// The parent account's bank for bank firm transfers; for the pocket shapes, the
    /// card (two bytes, little-endian), since the securities firm's transfers have no
    /// bank; unused otherwise.
    bank: [u8; 3],
    shape: Shape,
}

/// What the registry stores per id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    Executed(Record),
    NotExecuted(NotExecutedCause),
}

impl Slot {
    /// The slot of an executed transfer, or `None` for a shape of transfer the
    /// simulators never plan (the shapes of [`Shape`] are all they make).
    pub(super) fn executed(execution: &Execution, interner: &Interner) -> Option<Slot> {
        let compact = Compact::of(execution)?;
        let external = match compact.external {
            External::None => 0,
            External::Account(bank, account) => interner.number(bank, account),
            External::Parents(pair) => pair,
            External::Merchant(m) | External::PocketMerchant(_, m) => m.0,
            External::Pocket(_) => 0,
        };
        let mut bank_bytes = [0u8; 3];
        match compact.external {
            External::Pocket(card) | External::PocketMerchant(card, _) => {
                bank_bytes[..2].copy_from_slice(&card.0.to_le_bytes());
            }
            _ => bank_bytes.copy_from_slice(compact.bank.as_str().as_bytes()),
        }
        Some(Slot::Executed(Record {
            customer: execution.customer,
            amount_minor: minor_of_amount(execution.amount),
            external,
            bank: bank_bytes,
            shape: compact.shape,
        }))
    }

    pub(super) fn outcome(
        &self,
        id: RailRequestId,
        interner: &Interner,
        currency: Currency,
    ) -> Outcome {
        let record = match self {
            Slot::NotExecuted(cause) => return Outcome::NotExecuted(*cause),
            Slot::Executed(record) => record,
        };
        let card = CardSeq(u16::from_le_bytes([record.bank[0], record.bank[1]]));
        let pocket_shape = matches!(
            record.shape,
            Shape::PocketIn
                | Shape::PocketOut
                | Shape::PocketSale
                | Shape::PocketSaleBack
                | Shape::PocketIncrease
        );
        let bank = if pocket_shape {
            no_bank()
        } else {
            BankCode::new(std::str::from_utf8(&record.bank).unwrap_or_default())
                .expect("a recorded bank code is three digits")
        };
        let external = match record.shape {
            Shape::Settle => External::Parents(record.external),
            Shape::Sale | Shape::SaleBack | Shape::MerchantDecrease | Shape::MerchantIncrease => {
                External::Merchant(MerchantNo(record.external))
            }
            Shape::PocketIn | Shape::PocketOut | Shape::PocketIncrease => External::Pocket(card),
            Shape::PocketSale | Shape::PocketSaleBack => {
                External::PocketMerchant(card, MerchantNo(record.external))
            }
            shape if shape.names_an_account() => {
                let (bank, account) = interner.account(record.external);
                External::Account(bank, account)
            }
            _ => External::None,
        };
        let compact = Compact {
            shape: record.shape,
            bank,
            external,
        };
        let execution = compact
            .execution(
                id,
                record.customer,
                amount_from_minor(currency, record.amount_minor),
            )
            .expect("a slot holds the parts of an execution it was made from");
        Outcome::Executed(execution)
    }
}

/// The bank code recorded for transfers that involve no bank-held parent account; never
/// read back.
fn no_bank() -> BankCode {
    BankCode::new("000").expect("000 is three digits")
}

#[cfg(test)]
mod tests;
