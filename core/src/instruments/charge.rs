//! A charge (SPEC §3): the customer's bank pays the withdrawal firm account (A1), then
//! `fin_parent` credits the customer (A2); a credit that fails for good is refunded to the
//! linked account. A charge that names a prepaid card's pocket (INSTRUMENTS.md D-5.7,
//! "Charge-to(`pocket[c,card]`)") credits that pocket at A2 instead of `customer[c]`;
//! every other rule is the same.

use crate::ids::{AccountId, ParentAccount};
use crate::money::Amount;
use crate::request_log::Step;
use crate::saga::{done, Accepted, Instrument, LogEntry, Parties, RequestKind, Reserve, Settled};

/// A charge.
pub struct Charge;

impl Instrument for Charge {
    fn kind(&self) -> RequestKind {
        RequestKind::Charge
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        (Step::ChargeWithdrawal, accepted.amount)
    }

    /// Its credit on `fin_parent`.
    fn reserves(&self, accepted: &Accepted, _: &Parties) -> Vec<Reserve> {
        vec![(AccountId::parent(ParentAccount::FinParent), accepted.amount)]
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        let linked = AccountId::linked(parties.customer);
        let withdrawal_firm = AccountId::parent(ParentAccount::WithdrawalFirm(parties.linked_bank));
        match step {
            Step::ChargeWithdrawal => (linked, withdrawal_firm),
            Step::ChargeCredit => (
                AccountId::parent(ParentAccount::FinParent),
                match parties.pocket {
                    Some(card) => AccountId::pocket(parties.customer, card),
                    None => AccountId::customer(parties.customer),
                },
            ),
            Step::Refund => (withdrawal_firm, linked),
            _ => unreachable!("{step} is not a step of a charge"),
        }
    }

    /// A withdrawal's credit, for the refund of a credit that fails for good. (What it
    /// owes and what follows each step are the trait's defaults: the SPEC §4 table's
    /// "then" column, and the compensations its steps oblige.)
    fn sets_aside_for_compensation(&self, step: Step) -> bool {
        step == Step::ChargeWithdrawal
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        if done(entries, Step::Refund) {
            Settled::Refunded
        } else if done(entries, Step::ChargeCredit) {
            Settled::Credited
        } else {
            Settled::NothingMoved
        }
    }
}
