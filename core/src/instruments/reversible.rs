//! The rules an internal transfer at the securities firm shares with its reversal
//! (`SS.transfer`, INSTRUMENTS.md §6.3): a sale and a prepaid card's charge from the
//! balance. Approved (told `succeeded`) when the transfer is done; told `failed` when it
//! is refused, and when it times out (D-0.2: nobody is left waiting on an unknown
//! outcome). One done after its caller was told it failed is booked, then reversed by
//! the reversal step, retried until done; until then its credit is set aside.

use crate::money::Amount;
use crate::request_log::{EntryState, FollowUp, Step, Told, Transition};
use crate::saga::{done, then_step, LogEntry, Plan, Settled};

/// A transfer step and the step that reverses it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Reversible {
    pub(super) step: Step,
    pub(super) reversal: Step,
}

impl Reversible {
    /// A transfer that answers done after its caller was already told it failed (its
    /// deadline came first) must not stand: it is booked, and reversed.
    pub(super) fn plan_after(
        self,
        answered: bool,
        step: Step,
        amount: Amount,
        transition: &Transition,
    ) -> Plan {
        let next = match transition.then {
            FollowUp::Post if answered && step == self.step => Some((self.reversal, amount)),
            FollowUp::PostThenReverse if step == self.step => Some((self.reversal, amount)),
            _ => then_step(amount, transition),
        };
        Plan {
            tell: if answered { None } else { transition.told },
            next,
        }
    }

    /// The reversal of a transfer done after its caller was told it failed (the answer
    /// on record says so): a crash may come between the confirmation and the reversal's
    /// entry.
    pub(super) fn owed(self, told: Option<Told>, entries: &[LogEntry]) -> Option<(Step, Amount)> {
        let transfer = entries.iter().find(|e| e.step == self.step)?;
        let reversed = entries.iter().any(|e| e.step == self.reversal);
        // Done before anything was told, it is approved: its answer is due from its entry.
        (told == Some(Told::Failed) && !reversed && transfer.state == EntryState::Success)
            .then_some((self.reversal, transfer.amount))
    }

    pub(super) fn settled(self, entries: &[LogEntry]) -> Settled {
        if done(entries, self.reversal) {
            Settled::Refunded
        } else if done(entries, self.step) {
            Settled::PaidOut
        } else {
            Settled::NothingMoved
        }
    }
}
