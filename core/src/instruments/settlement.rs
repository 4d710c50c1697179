//! The house's settlement sweep (B1, B2, Y2, Y3): one bank transfer between two of the
//! company's own parent accounts, with no customer and no caller to answer.

use crate::ids::AccountId;
use crate::money::Amount;
use crate::request_log::Step;
use crate::saga::{done, Accepted, Instrument, LogEntry, Parties, RequestKind, Reserve, Settled};

/// A settlement sweep.
pub struct Settlement;

impl Instrument for Settlement {
    fn kind(&self) -> RequestKind {
        RequestKind::Settlement
    }

    fn is_house(&self) -> bool {
        true
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        (Step::Settlement, accepted.amount)
    }

    /// Nothing: a sweep's entry holds its own amount.
    fn reserves(&self, _: &Accepted, _: &Parties) -> Vec<Reserve> {
        Vec::new()
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        assert_eq!(step, Step::Settlement, "{step} is not a step of a sweep");
        let (from, to) = parties
            .settlement
            .expect("a settlement names its two parent accounts");
        (AccountId::parent(from), AccountId::parent(to))
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        if done(entries, Step::Settlement) {
            Settled::PaidOut
        } else {
            Settled::NothingMoved
        }
    }
}
