//! A charge (SPEC §3): the customer's bank pays the withdrawal firm account (A1), then
//! `fin_parent` credits the customer (A2); a credit that fails for good is refunded to the
//! linked account.

use super::follow_ups::{owed_compensation, then_step};
use crate::ids::{AccountId, ParentAccount};
use crate::money::Amount;
use crate::request_log::{Step, Transition};
use crate::saga::{
    done, Accepted, Instrument, LogEntry, Parties, Plan, RequestKind, Reserve, Settled,
};

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
                AccountId::customer(parties.customer),
            ),
            Step::Refund => (withdrawal_firm, linked),
            _ => unreachable!("{step} is not a step of a charge"),
        }
    }

    fn plan_after(
        &self,
        _: &Accepted,
        answered: bool,
        _: Step,
        amount: Amount,
        transition: &Transition,
    ) -> Plan {
        Plan {
            tell: if answered { None } else { transition.told },
            next: then_step(amount, transition),
        }
    }

    /// A credit after a withdrawal, a refund after a credit failed for good.
    fn owed(&self, _: &Accepted, _: bool, entries: &[LogEntry]) -> Option<(Step, Amount)> {
        owed_compensation(entries)
    }

    /// A withdrawal's credit, for the refund of a credit that fails for good.
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
