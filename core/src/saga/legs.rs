//! The posting each step books on SUCCESS (SPEC §2), between the accounts of a request's
//! [`Parties`].

use crate::ids::{AccountId, BankCode, CustomerId, ParentAccount};
use crate::request_log::Step;

/// Where the money of a customer's steps lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parties {
    pub customer: CustomerId,
    /// The bank of the customer-linked account (its withdrawal firm parent account).
    pub linked_bank: BankCode,
    /// For remittances: the payee's bank, and the deposit firm bank that pays it.
    pub payee_bank: Option<BankCode>,
    pub deposit_bank: Option<BankCode>,
    /// For a settlement sweep: the parent account it debits and the one it credits.
    pub settlement: Option<(ParentAccount, ParentAccount)>,
}

/// The posting a step books on SUCCESS (SPEC §2): (debit, credit).
pub fn step_legs(step: Step, parties: &Parties) -> (AccountId, AccountId) {
    let customer = AccountId::customer(parties.customer);
    let linked = AccountId::linked(parties.customer);
    let parent = AccountId::parent;
    let payee_bank = || parties.payee_bank.expect("a remittance step has a payee");
    match step {
        Step::ChargeWithdrawal => (
            linked,
            parent(ParentAccount::WithdrawalFirm(parties.linked_bank)),
        ),
        Step::ChargeCredit | Step::Recovery => (parent(ParentAccount::FinParent), customer),
        Step::RemitDeduction => (customer, parent(ParentAccount::FinParent)),
        Step::RemitDeposit => (
            parent(ParentAccount::DepositFirm(
                parties
                    .deposit_bank
                    .expect("a deposit has a deposit firm bank"),
            )),
            AccountId::Designated { bank: payee_bank() },
        ),
        Step::PaymentInstruction => (customer, AccountId::Designated { bank: payee_bank() }),
        Step::Refund => (
            parent(ParentAccount::WithdrawalFirm(parties.linked_bank)),
            linked,
        ),
        Step::Settlement => {
            let (from, to) = parties
                .settlement
                .expect("a settlement names its two parent accounts");
            (parent(from), parent(to))
        }
    }
}
