//! A sale (INSTRUMENTS.md §6.3): the payer's balance, or the pocket of one of the payer's
//! prepaid cards (D-5.18), pays a merchant, `SS.transfer` `customer` (or `pocket[c,card]`)
//! → `merchant[m]`, booked in the payer's shard (the merchant's slice there).
//!
//! Approved (told `succeeded`) when the transfer is done; declined (`failed`) when it is
//! refused, and when it times out: a merchant must never hand over goods on an unknown
//! outcome (D-0.2). A timed-out sale that a confirm finds done is reversed, `merchant[m]` →
//! the payer, retried until it is done; until then the merchant's credit is set aside, so
//! no payout or refund can take it (§6.6). The shared rules are `reversible.rs`.

use super::reversible::Reversible;
use crate::ids::AccountId;
use crate::money::Amount;
use crate::request_log::{Step, Told, Transition};
use crate::saga::{Accepted, Instrument, LogEntry, Parties, Plan, RequestKind, Reserve, Settled};

/// A sale.
pub struct Sale;

const RULES: Reversible = Reversible {
    step: Step::Sale,
    reversal: Step::SaleReversal,
};

impl Instrument for Sale {
    fn kind(&self) -> RequestKind {
        RequestKind::Sale
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        (Step::Sale, accepted.amount)
    }

    /// Nothing on a parent account: the sale's entry holds its amount on the payer.
    fn reserves(&self, _: &Accepted, _: &Parties) -> Vec<Reserve> {
        Vec::new()
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        let payer = match parties.pocket {
            Some(card) => AccountId::pocket(parties.customer, card),
            None => AccountId::customer(parties.customer),
        };
        let merchant = AccountId::merchant(parties.merchant.expect("a sale names its merchant"));
        match step {
            Step::Sale => (payer, merchant),
            Step::SaleReversal => (merchant, payer),
            _ => unreachable!("{step} is not a step of a sale"),
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

    /// The merchant's credit of a sale, until the sale is approved for good or reversed:
    /// no payout or refund can take it first (§6.6).
    fn sets_aside_for_compensation(&self, step: Step) -> bool {
        step == Step::Sale
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        RULES.settled(entries)
    }
}
