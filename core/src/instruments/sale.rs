//! A sale (INSTRUMENTS.md §6.3): the payer's balance pays a merchant, `SS.transfer`
//! `customer` → `merchant[m]`, booked in the payer's shard (the merchant's slice there).
//!
//! Approved (told `succeeded`) when the transfer is done; declined (`failed`) when it is
//! refused, and when it times out: a merchant must never hand over goods on an unknown
//! outcome (D-0.2). A timed-out sale that a confirm finds done is reversed, `merchant[m]` →
//! `customer`, retried until it is done; until then the merchant's credit is set aside, so
//! no payout or refund can take it (§6.6).

use crate::ids::AccountId;
use crate::money::Amount;
use crate::request_log::{EntryState, FollowUp, Step, Told, Transition};
use crate::saga::{
    done, then_step, Accepted, Instrument, LogEntry, Parties, Plan, RequestKind, Reserve, Settled,
};

/// A sale.
pub struct Sale;

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
        let customer = AccountId::customer(parties.customer);
        let merchant = AccountId::merchant(parties.merchant.expect("a sale names its merchant"));
        match step {
            Step::Sale => (customer, merchant),
            Step::SaleReversal => (merchant, customer),
            _ => unreachable!("{step} is not a step of a sale"),
        }
    }

    /// A sale that answers done after its caller was already told it was declined (its
    /// caller's deadline came first, and a sale in flight is declined) must not stand:
    /// the merchant was told no. It is booked, and reversed.
    fn plan_after(
        &self,
        accepted: &Accepted,
        answered: bool,
        step: Step,
        amount: Amount,
        transition: &Transition,
    ) -> Plan {
        let _ = accepted;
        let next = match (step, transition.then) {
            (Step::Sale, FollowUp::Post) if answered => Some((Step::SaleReversal, amount)),
            _ => then_step(amount, transition),
        };
        Plan {
            tell: if answered { None } else { transition.told },
            next,
        }
    }

    /// The reversal of a sale done after the payer was told it was declined (its answer
    /// on record says so): a crash may come between the sale's confirmation and the
    /// reversal's entry.
    fn owed(
        &self,
        accepted: &Accepted,
        told: Option<Told>,
        entries: &[LogEntry],
    ) -> Option<(Step, Amount)> {
        let _ = accepted;
        let sale = entries.iter().find(|e| e.step == Step::Sale)?;
        let reversed = entries.iter().any(|e| e.step == Step::SaleReversal);
        // Done after the payer and merchant were told it was declined: owed back. (Done
        // before anything was told, it is approved: its answer is due from its entry.)
        (told == Some(Told::Failed) && !reversed && sale.state == EntryState::Success)
            .then_some((Step::SaleReversal, sale.amount))
    }

    /// The merchant's credit of a sale, until the sale is approved for good or reversed:
    /// no payout or refund can take it first (§6.6).
    fn sets_aside_for_compensation(&self, step: Step) -> bool {
        step == Step::Sale
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        if done(entries, Step::SaleReversal) {
            Settled::Refunded
        } else if done(entries, Step::Sale) {
            Settled::PaidOut
        } else {
            Settled::NothingMoved
        }
    }
}
