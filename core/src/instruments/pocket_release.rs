//! A closed card's pocket back to its owner (INSTRUMENTS.md D-5.13): `SS.transfer`
//! `pocket[c,card]` → `customer[c]`, a request of the owner's in the owner's shard. Owed
//! from its entry on: retried until it is done, so its caller hears `succeeded` at the
//! entry (`request_log::POCKET_RELEASE`).

use crate::ids::AccountId;
use crate::money::Amount;
use crate::request_log::Step;
use crate::saga::{done, Accepted, Instrument, LogEntry, Parties, RequestKind, Reserve, Settled};

/// A pocket emptied into its owner's balance.
pub struct PocketRelease;

impl Instrument for PocketRelease {
    fn kind(&self) -> RequestKind {
        RequestKind::PocketRelease
    }

    fn first_step(&self, accepted: &Accepted) -> (Step, Amount) {
        (Step::PocketRelease, accepted.amount)
    }

    fn reserves(&self, _: &Accepted, _: &Parties) -> Vec<Reserve> {
        Vec::new()
    }

    fn legs(&self, step: Step, parties: &Parties) -> (AccountId, AccountId) {
        assert_eq!(
            step,
            Step::PocketRelease,
            "{step} is not a step of a release"
        );
        let card = parties.pocket.expect("a release names its card");
        (
            AccountId::pocket(parties.customer, card),
            AccountId::customer(parties.customer),
        )
    }

    fn settled(&self, entries: &[LogEntry]) -> Settled {
        if done(entries, Step::PocketRelease) {
            Settled::PaidOut
        } else {
            Settled::NothingMoved
        }
    }
}
