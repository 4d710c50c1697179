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
/// interned account they determine both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Linked → withdrawal firm parent at `bank`.
    Withdraw,
    /// Deposit firm parent at `bank` → designated.
    Remit,
    /// Withdrawal firm parent at `bank` → linked.
    Refund,
    /// `fin_parent` → customer.
    Increase,
    /// Customer → `fin_parent`.
    Decrease,
    /// Customer → designated.
    Instruct,
    /// Parent → parent; both are coded in `external` (see `parent_pair`).
    Settle,
}

/// Two parent accounts in 32 bits: each as kind × 1000 + bank number, 16 bits apiece.
fn parent_pair(from: ParentAccount, to: ParentAccount) -> u32 {
    (u32::from(parent_code(from)) << 16) | u32::from(parent_code(to))
}

fn parent_code(parent: ParentAccount) -> u16 {
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

fn parent_of(code: u16) -> ParentAccount {
    let bank =
        || BankCode::new(&format!("{:03}", code % 1_000)).expect("a coded bank is three digits");
    match code / 1_000 {
        1 => ParentAccount::WithdrawalFirm(bank()),
        2 => ParentAccount::Collection,
        3 => ParentAccount::DepositFirm(bank()),
        4 => ParentAccount::FinParent,
        _ => ParentAccount::FinDeposit,
    }
}

/// An executed request, compactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Record {
    customer: CustomerId,
    amount_minor: i64,
    /// The interned linked or designated account; 0 and unused for the securities firm.
    external: u32,
    /// The parent account's bank for bank firm transfers; unused otherwise.
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
    /// simulators never plan (the six of [`Shape`] are all they make).
    pub(super) fn executed(execution: &Execution, interner: &Interner) -> Option<Slot> {
        use TruthAccount::{Customer, Designated, Linked, Parent};
        let customer_is = |c: CustomerId| c == execution.customer;
        let (shape, bank, external) = match (execution.operation, execution.from, execution.to) {
            (
                Operation::Withdraw,
                Linked { bank, account },
                Parent(ParentAccount::WithdrawalFirm(to)),
            ) if bank == to => (Shape::Withdraw, bank, interner.number(bank, account)),
            (
                Operation::Deposit,
                Parent(ParentAccount::DepositFirm(from)),
                Designated { bank, account },
            ) => (Shape::Remit, from, interner.number(bank, account)),
            (
                Operation::Deposit,
                Parent(ParentAccount::WithdrawalFirm(from)),
                Linked { bank, account },
            ) => (Shape::Refund, from, interner.number(bank, account)),
            (Operation::Increase, Parent(ParentAccount::FinParent), Customer(c))
                if customer_is(c) =>
            {
                (Shape::Increase, no_bank(), 0)
            }
            (Operation::Decrease, Customer(c), Parent(ParentAccount::FinParent))
                if customer_is(c) =>
            {
                (Shape::Decrease, no_bank(), 0)
            }
            (Operation::Instruct, Customer(c), Designated { bank, account }) if customer_is(c) => {
                (Shape::Instruct, no_bank(), interner.number(bank, account))
            }
            (Operation::Settle, Parent(from), Parent(to)) => {
                (Shape::Settle, no_bank(), parent_pair(from, to))
            }
            _ => return None,
        };
        let mut bank_bytes = [0u8; 3];
        bank_bytes.copy_from_slice(bank.as_str().as_bytes());
        Some(Slot::Executed(Record {
            customer: execution.customer,
            amount_minor: minor_of_amount(execution.amount),
            external,
            bank: bank_bytes,
            shape,
        }))
    }

    pub(super) fn outcome(
        &self,
        id: RailRequestId,
        interner: &Interner,
        currency: Currency,
    ) -> Outcome {
        use TruthAccount::{Customer, Designated, Linked, Parent};
        let record = match self {
            Slot::NotExecuted(cause) => return Outcome::NotExecuted(*cause),
            Slot::Executed(record) => record,
        };
        let bank = || {
            BankCode::new(std::str::from_utf8(&record.bank).unwrap_or_default())
                .expect("a recorded bank code is three digits")
        };
        let external = || interner.account(record.external);
        let linked = || {
            let (bank, account) = external();
            Linked { bank, account }
        };
        let designated = || {
            let (bank, account) = external();
            Designated { bank, account }
        };
        let customer = Customer(record.customer);
        let fin_parent = Parent(ParentAccount::FinParent);
        let (operation, from, to) = match record.shape {
            Shape::Withdraw => (
                Operation::Withdraw,
                linked(),
                Parent(ParentAccount::WithdrawalFirm(bank())),
            ),
            Shape::Remit => (
                Operation::Deposit,
                Parent(ParentAccount::DepositFirm(bank())),
                designated(),
            ),
            Shape::Refund => (
                Operation::Deposit,
                Parent(ParentAccount::WithdrawalFirm(bank())),
                linked(),
            ),
            Shape::Increase => (Operation::Increase, fin_parent, customer),
            Shape::Decrease => (Operation::Decrease, customer, fin_parent),
            Shape::Instruct => (Operation::Instruct, customer, designated()),
            Shape::Settle => (
                Operation::Settle,
                Parent(parent_of((record.external >> 16) as u16)),
                Parent(parent_of((record.external & 0xffff) as u16)),
            ),
        };
        Outcome::Executed(Execution {
            id,
            operation,
            customer: record.customer,
            amount: amount_from_minor(currency, record.amount_minor),
            from,
            to,
        })
    }
}

/// The bank code recorded for transfers that involve no bank-held parent account; never
/// read back.
fn no_bank() -> BankCode {
    BankCode::new("000").expect("000 is three digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(code: &str) -> BankCode {
        BankCode::new(code).unwrap()
    }

    fn account(number: &str) -> AccountNo {
        AccountNo::new(number).unwrap()
    }

    #[test]
    fn a_slot_fits_in_24_bytes() {
        assert!(
            std::mem::size_of::<Slot>() <= 24,
            "{}",
            std::mem::size_of::<Slot>()
        );
    }

    #[test]
    fn every_shape_of_execution_comes_back_whole_from_its_slot() {
        use TruthAccount::{Customer, Designated, Linked, Parent};
        let interner = Interner::new();
        let who = CustomerId::new(42).unwrap();
        let linked = Linked {
            bank: bank("004"),
            account: account("110-1"),
        };
        let payee = Designated {
            bank: bank("088"),
            account: account("220-2"),
        };
        let fin_parent = Parent(ParentAccount::FinParent);
        let cases = [
            (
                Operation::Withdraw,
                linked,
                Parent(ParentAccount::WithdrawalFirm(bank("004"))),
            ),
            (
                Operation::Deposit,
                Parent(ParentAccount::DepositFirm(bank("020"))),
                payee,
            ),
            (
                Operation::Deposit,
                Parent(ParentAccount::WithdrawalFirm(bank("004"))),
                linked,
            ),
            (Operation::Increase, fin_parent, Customer(who)),
            (Operation::Decrease, Customer(who), fin_parent),
            (Operation::Instruct, Customer(who), payee),
        ];
        for (n, (operation, from, to)) in cases.into_iter().enumerate() {
            let execution = Execution {
                id: RailRequestId {
                    entry: n as u64,
                    attempt: 3,
                },
                operation,
                customer: who,
                amount: Amount::krw(1_234_567).unwrap(),
                from,
                to,
            };
            let slot = Slot::executed(&execution, &interner).expect("a shape the rails make");
            assert_eq!(
                slot.outcome(execution.id, &interner, Currency::Krw),
                Outcome::Executed(execution)
            );
        }
    }

    #[test]
    fn a_transfer_the_rails_never_make_has_no_compact_slot() {
        let interner = Interner::new();
        let execution = Execution {
            id: RailRequestId {
                entry: 1,
                attempt: 0,
            },
            operation: Operation::Increase,
            customer: CustomerId::new(1).unwrap(),
            amount: Amount::krw(1).unwrap(),
            from: TruthAccount::Parent(ParentAccount::Collection),
            to: TruthAccount::Customer(CustomerId::new(1).unwrap()),
        };
        assert_eq!(Slot::executed(&execution, &interner), None);
    }
}
