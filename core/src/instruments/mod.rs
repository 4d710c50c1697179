//! The instruments: each kind of request as an implementation of
//! [`Instrument`](crate::saga::Instrument), and [`of`], which finds the one for a
//! [`RequestKind`]. The books and the saga runtime call through these, so they never name
//! a product.
//!
//! - `charge.rs`: [`Charge`], a charge (A1, A2; a refund).
//! - `remit.rs`: [`Remit`], a remittance on either path (X1, X2 or the payment
//!   instruction; its deficit first; a recovery).
//! - `settlement.rs`: [`Settlement`], the house's sweep between two parent accounts.
//! - `sale.rs`: [`Sale`], a payment to a merchant from the customer's balance or a
//!   card's pocket (`SS.transfer`; its reversal when a declined sale was done).
//! - `pocket_charge.rs`: [`PocketCharge`], a prepaid card's charge from the customer's
//!   balance (`SS.transfer`; its reversal likewise).
//! - `reversible.rs`: the rules those two share.
//! - `merchant_refund.rs`: [`MerchantRefund`], a merchant's cancel paid back to the payer.
//! - `pocket_release.rs`: [`PocketRelease`], a closed card's pocket back to its owner.
//! - `payout.rs`: [`Payout`], the house's payout of a merchant's slice (X1, X2; a
//!   recovery into the merchant's account when the deposit fails for good).
//!
//! What a step's result obliges next whatever the instrument (the SPEC §4 table's "then"
//! column, the compensations owed) is in `crate::saga`: the trait's defaults, which
//! `Charge` and `Settlement` take as they are.
//!
//! Adding an instrument: a file here implementing the trait, its `RequestKind` variant
//! (`crate::saga::RequestKind`) and its line in [`of`], its steps and their SPEC §4-style
//! rows in `crate::request_log`; docs/architecture.md ("Adding an instrument") lists the
//! rest.
//!
//! The functions below are the rules as the books and the saga runtime use them: each
//! finds the request's instrument and asks it.

mod charge;
mod merchant_refund;
mod payout;
mod pocket_charge;
mod pocket_release;
mod remit;
mod reversible;
mod sale;
mod settlement;
mod va_credit;

pub use crate::saga::{owed_compensation, then_step};
pub use charge::Charge;
pub use merchant_refund::MerchantRefund;
pub use payout::Payout;
pub use pocket_charge::PocketCharge;
pub use pocket_release::PocketRelease;
pub use remit::{remit_step, Remit};
pub use sale::Sale;
pub use settlement::Settlement;
pub use va_credit::VaCredit;

use crate::ids::AccountId;
use crate::money::Amount;
use crate::request_log::{Event, Step, Told, Transition};
use crate::saga::{
    Accepted, Answer, Instrument, LogEntry, Parties, Plan, Reason, RequestKind, Reserve, Settled,
};

/// The instrument that carries out requests of `kind`.
pub fn of(kind: RequestKind) -> &'static dyn Instrument {
    match kind {
        RequestKind::Charge => &Charge,
        RequestKind::Remit => &Remit,
        RequestKind::Settlement => &Settlement,
        RequestKind::Sale => &Sale,
        RequestKind::PocketCharge => &PocketCharge,
        RequestKind::MerchantRefund => &MerchantRefund,
        RequestKind::PocketRelease => &PocketRelease,
        RequestKind::Payout => &Payout,
        RequestKind::VaCredit => &VaCredit,
    }
}

/// The first step of an accepted request ([`Instrument::first_step`]).
pub fn first_step(accepted: &Accepted) -> (Step, Amount) {
    of(accepted.kind).first_step(accepted)
}

/// What a request sets aside before its first call ([`Instrument::reserves`]).
pub fn reserves_for(accepted: &Accepted, parties: &Parties) -> Vec<Reserve> {
    of(accepted.kind).reserves(accepted, parties)
}

/// The posting a step of a request of `kind` books on SUCCESS ([`Instrument::legs`]).
pub fn step_legs(kind: RequestKind, step: Step, parties: &Parties) -> (AccountId, AccountId) {
    of(kind).legs(step, parties)
}

/// What follows an entry's transition ([`Instrument::plan_after`]).
pub fn plan_after(
    accepted: &Accepted,
    answered: bool,
    step: Step,
    amount: Amount,
    transition: &Transition,
) -> Plan {
    of(accepted.kind).plan_after(accepted, answered, step, amount, transition)
}

/// The step a request still owes ([`Instrument::owed`]).
pub fn owed_step(
    accepted: &Accepted,
    told: Option<Told>,
    entries: &[LogEntry],
) -> Option<(Step, Amount)> {
    of(accepted.kind).owed(accepted, told, entries)
}

/// Why a request of `kind` was told `told` after `event` of `step` ([`Instrument::reason`]).
pub fn reason(kind: RequestKind, told: Told, step: Step, event: Event) -> Reason {
    of(kind).reason(told, step, event)
}

/// The answer a request is due when nobody could be told live ([`crate::saga::due_answer`]).
pub fn due_answer(accepted: &Accepted, entries: &[LogEntry], at_ms: u64) -> Option<Answer> {
    crate::saga::due_answer(of(accepted.kind), accepted, entries, at_ms)
}

/// The answer a step's durable entry already fixes ([`crate::saga::fixed_answer`]).
pub fn fixed_answer(accepted: &Accepted, step: Step, amount: Amount, at_ms: u64) -> Option<Answer> {
    crate::saga::fixed_answer(of(accepted.kind), accepted, step, amount, at_ms)
}

/// Where a request stands for good ([`crate::saga::settled_outcome`]).
pub fn settled_outcome(accepted: &Accepted, told: Option<Told>, entries: &[LogEntry]) -> Settled {
    crate::saga::settled_outcome(of(accepted.kind), accepted, told, entries)
}

#[cfg(test)]
mod tests;
