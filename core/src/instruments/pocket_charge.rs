//! A prepaid card's charge from the customer's balance (INSTRUMENTS.md §5.3 a7, D-5.7):
//! `SS.transfer` `customer[c]` → `pocket[c,card]`, both accounts at the financial company,
//! in the customer's shard. Its rules are a sale's (`reversible.rs`): told `succeeded`
//! when done, `failed` when refused or timed out; one done after it was told failed is
//! reversed, `pocket[c,card]` → `customer[c]`, and the pocket's credit is set aside until
//! it is final, so that a payment never spends money a reversal may take back.
//!
//! The balance cap (D-5.6) and the card's status are checked before the request is
//! accepted (`actors/src/instruments/pocket_charge.rs`).

use super::reversible::Reversible;
use crate::ids::AccountId;
use crate::money::Amount;
use crate::request_log::{Step, Told, Transition};
use crate::saga::{Accepted, Instrument, LogEntry, Parties, Plan, RequestKind, Reserve, Settled};

/// A charge of a prepaid card's pocket from the customer's balance.
pub struct PocketCharge;

const RULES: Reversible = Reversible {
    step: Step::PocketCharge,
    reversal: Step::PocketChargeReversal,
};

impl Instrument for PocketCharge {
    fn kind(&self) -> RequestKind {
        RequestKind::PocketCharge
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        (Step::PocketCharge, accepted.amount)
    }

    /// Nothing on a parent account: the entry holds its amount on the customer.
    fn reserves(&self, _: &Accepted, _: &Parties) -> Vec<Reserve> {
        Vec::new()
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        let customer = AccountId::customer(parties.customer);
        let pocket = AccountId::pocket(
            parties.customer,
            parties.pocket.expect("a pocket charge names its card"),
        );
        match step {
            Step::PocketCharge => (customer, pocket),
            Step::PocketChargeReversal => (pocket, customer),
            _ => unreachable!("{step} is not a step of a pocket charge"),
        }
    }

    fn plan_after(
        &self,
        _: &Accepted,
        answered: bool,
        step: Step,
        amount: Amount,
        transition: &Transition,
    ) -> Plan {
        RULES.plan_after(answered, step, amount, transition)
    }

    fn owed(
        &self,
        _: &Accepted,
        told: Option<Told>,
        entries: &[LogEntry],
    ) -> Option<(Step, Amount)> {
        RULES.owed(told, entries)
    }

    fn sets_aside_for_compensation(&self, step: Step) -> bool {
        step == Step::PocketCharge
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        RULES.settled(entries)
    }
}
