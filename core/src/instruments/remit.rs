//! A remittance (SPEC §3, [0088], claim 13), on one of two paths chosen by the usage limit
//! (`crate::routing`): the first path deducts the customer's balance (X1, to
//! `fin_parent`) and has the deposit firm account pay the payee (X2); the payment
//! instruction path sends a signed instruction to the financial company server and
//! touches no parent account. A balance short of the amount is charged first (the
//! deficit: a charge's withdrawal and credit), whatever the path.
//!
//! Both paths are one instrument, since they share the request, its admission, its
//! deficit and its answers; the path is a field of the accepted request and decides only
//! the first step after the deficit and the legs.

use super::charge::Charge;
use crate::ids::{AccountId, ParentAccount};
use crate::money::Amount;
use crate::request_log::{Event, FollowUp, Step, Told, Transition};
use crate::routing::RemitPath;
use crate::saga::{
    done, owed_compensation, then_step, Accepted, Instrument, LogEntry, Parties, Plan, Reason,
    RequestKind, Reserve, Settled,
};

/// A remittance.
pub struct Remit;

/// The first step of a remittance's own path (after its deficit, if any).
pub fn remit_step(path: RemitPath) -> Step {
    match path {
        RemitPath::First => Step::RemitDeduction,
        RemitPath::PaymentInstruction => Step::PaymentInstruction,
    }
}

fn path(accepted: &Accepted) -> RemitPath {
    accepted.path.expect("a remittance has a path")
}

impl Instrument for Remit {
    fn kind(&self) -> RequestKind {
        RequestKind::Remit
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        match accepted.deficit {
            Some(deficit) => (Step::ChargeWithdrawal, deficit),
            None => (remit_step(path(accepted)), accepted.amount),
        }
    }

    /// A deficit, its credit on `fin_parent`; on the first path, its payout on the
    /// deposit firm account that pays it.
    fn reserves(&self, accepted: &Accepted, parties: &Parties) -> Vec<Reserve> {
        let mut reserves = Vec::new();
        if let Some(deficit) = accepted.deficit {
            reserves.push((AccountId::parent(ParentAccount::FinParent), deficit));
        }
        if accepted.path == Some(RemitPath::First) {
            if let Some(bank) = parties.deposit_bank {
                reserves.push((
                    AccountId::parent(ParentAccount::DepositFirm(bank)),
                    accepted.amount,
                ));
            }
        }
        reserves
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        let customer = AccountId::customer(parties.customer);
        let payee = || AccountId::Designated {
            bank: parties.payee_bank.expect("a remittance step has a payee"),
        };
        match step {
            Step::RemitDeduction => (customer, AccountId::parent(ParentAccount::FinParent)),
            Step::RemitDeposit => (
                AccountId::parent(ParentAccount::DepositFirm(
                    parties
                        .deposit_bank
                        .expect("a deposit has a deposit firm bank"),
                )),
                payee(),
            ),
            Step::PaymentInstruction => (customer, payee()),
            Step::Recovery => (AccountId::parent(ParentAccount::FinParent), customer),
            // The deficit is a charge's withdrawal and credit (and its refund).
            _ => Charge.legs(step, parties),
        }
    }

    /// In a remittance with a deficit, the deficit charge's credit must really have
    /// happened before the remittance goes on; if it is left to reprocessing or to a
    /// confirmation, the remittance is told it failed (the charge itself still completes,
    /// so the money lands in the customer's balance).
    fn plan_after(
        &self,
        accepted: &Accepted,
        answered: bool,
        step: Step,
        amount: Amount,
        transition: &Transition,
    ) -> Plan {
        let mut tell = transition.told;
        let next = match (step, transition.then) {
            (Step::ChargeCredit, FollowUp::Post) => {
                tell = None;
                if answered {
                    None
                } else {
                    Some((remit_step(path(accepted)), accepted.amount))
                }
            }
            (Step::ChargeCredit, FollowUp::Reprocess | FollowUp::Confirm) => {
                tell = Some(Told::Failed);
                None
            }
            // The deduction answered done after the customer was already told the
            // remittance failed (its caller's deadline came first, and SPEC §4 tells a
            // deduction in flight failed): it must not pay out now; the deducted money goes
            // back ([0226]).
            (Step::RemitDeduction, FollowUp::PostThenDeposit) if answered => {
                Some((Step::Recovery, amount))
            }
            _ => then_step(amount, transition),
        };
        Plan {
            tell: if answered { None } else { tell },
            next,
        }
    }

    /// A compensation (a recovery, a refund, a credit after a withdrawal); or, on the
    /// first path, the deduction after a deficit's credit, while nobody was told anything
    /// yet (once told failed, it must not go on).
    fn owed(
        &self,
        accepted: &Accepted,
        told: Option<Told>,
        entries: &[LogEntry],
    ) -> Option<(Step, Amount)> {
        let answered = told.is_some();
        if let Some(owed) = owed_compensation(entries) {
            return Some(owed);
        }
        let has = |step: Step| entries.iter().any(|e| e.step == step);
        if accepted.path == Some(RemitPath::First)
            && done(entries, Step::ChargeCredit)
            && !answered
            && !has(Step::RemitDeduction)
        {
            return Some((Step::RemitDeduction, accepted.amount));
        }
        None
    }

    /// A deficit's withdrawal (for its refund) and a deduction (for its recovery).
    fn sets_aside_for_compensation(&self, step: Step) -> bool {
        matches!(step, Step::ChargeWithdrawal | Step::RemitDeduction)
    }

    /// A deficit whose credit did not complete live fails the remittance:
    /// `deficit_not_credited`.
    fn reason(&self, told: Told, step: Step, event: Event) -> Reason {
        if told == Told::Failed && event != Event::TimedOut && step == Step::ChargeCredit {
            Reason::DeficitNotCredited
        } else {
            Reason::of_event(told, event)
        }
    }

    /// A recovery still owed means the deposit was never made: that is the step not
    /// carried out.
    fn not_carried_out(&self, owed: Option<Step>, next: Option<Step>) -> Option<Step> {
        match owed {
            Some(Step::Recovery) => Some(Step::RemitDeposit),
            _ => next,
        }
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        let done = |step| done(entries, step);
        if done(Step::RemitDeposit) || done(Step::PaymentInstruction) {
            Settled::PaidOut
        } else if done(Step::Recovery) {
            Settled::Recovered
        } else if done(Step::Refund) {
            Settled::NothingMoved
        } else if done(Step::ChargeCredit) {
            Settled::DeficitCredited
        } else {
            Settled::NothingMoved
        }
    }
}
