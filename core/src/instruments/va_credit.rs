//! The credit of a virtual-account deposit whose money omnibus holds (INSTRUMENTS.md
//! §2.7: V-b2 in mode B, V-s for suspense): "an inbound deposit is a charge whose first
//! leg the payer performed". Its one call is the charge's A2, `fin_parent → dest` (an SS
//! increase), where `dest` is the partner's `merchant[p]` (the request names the
//! merchant) or `suspense` (it names none). The house's own request: the partner was told
//! MATCHED when the deposit was recorded (the bank holds the money), so nobody waits for
//! this answer.
//!
//! A2 keeps SPEC §4's rules: a FAIL is `FAIL_TRY_AGAIN` and reprocessing tries it again.
//! A credit that fails for good is not refunded to a linked account (there is none: the
//! payer paid at a bank): §2.7 redirects it to `suspense` (reason CREDIT_FAILED), here
//! the `Recovery` step, an SS increase `fin_parent → suspense` retried until done.

use crate::ids::{AccountId, ParentAccount};
use crate::money::Amount;
use crate::request_log::{EntryState, Step, Told, Transition};
use crate::saga::{
    done, then_step, Accepted, Instrument, LogEntry, Parties, Plan, RequestKind, Reserve, Settled,
};

/// A deposit's credit.
pub struct VaCredit;

impl Instrument for VaCredit {
    fn kind(&self) -> RequestKind {
        RequestKind::VaCredit
    }

    fn is_house(&self) -> bool {
        true
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        (Step::ChargeCredit, accepted.amount)
    }

    /// Nothing: its entry holds its own amount on `fin_parent`.
    fn reserves(&self, _: &Accepted, _: &Parties) -> Vec<Reserve> {
        Vec::new()
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        let fin_parent = AccountId::parent(ParentAccount::FinParent);
        match step {
            Step::ChargeCredit => (
                fin_parent,
                parties
                    .merchant
                    .map_or(AccountId::Suspense, AccountId::merchant),
            ),
            Step::Recovery => (fin_parent, AccountId::Suspense),
            _ => unreachable!("{step} is not a step of a deposit's credit"),
        }
    }

    /// Tells nothing (no caller); a credit given up goes to suspense, never to a refund.
    fn plan_after(
        &self,
        _: &Accepted,
        _: bool,
        step: Step,
        amount: Amount,
        transition: &Transition,
    ) -> Plan {
        let next = match then_step(amount, transition) {
            Some((Step::Refund, a)) if step == Step::ChargeCredit => Some((Step::Recovery, a)),
            other => other,
        };
        Plan { tell: None, next }
    }

    /// A credit failed for good and not yet redirected: its redirect to suspense.
    fn owed(&self, _: &Accepted, _: Option<Told>, entries: &[LogEntry]) -> Option<(Step, Amount)> {
        if entries.iter().any(|e| e.step == Step::Recovery) {
            return None;
        }
        entries
            .iter()
            .find(|e| e.step == Step::ChargeCredit && e.state == EntryState::Fail)
            .map(|e| (Step::Recovery, e.amount))
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        if done(entries, Step::ChargeCredit) {
            Settled::Credited
        } else if done(entries, Step::Recovery) {
            Settled::Recovered
        } else {
            Settled::NothingMoved
        }
    }
}
