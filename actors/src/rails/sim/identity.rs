//! The simulated mobile identity check (휴대폰 본인확인, INSTRUMENTS.md D-1.6): it answers
//! whether a phone's holder is the person claimed. A test names a phone's holder, or makes
//! a phone's check fail; a phone it named nothing of is held by whoever the claim names.
//! Its answers are drawn like the authentication server's (the same fault rates: a
//! timeout or a lost answer is no answer, a failure an error), keyed by how many checks
//! came before. Kept in memory only: nothing a check answers moves money.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use super::draw::{self, Call, Fault};
use super::stats::Stat;
use super::{never, respond, Inner, Rail};
use crate::rails::{IdentityCheck, IdentityClaim, RailError, RailFuture};

/// The phones a test named: their holder's (name, birth date), or `None` for a phone
/// whose check fails.
#[derive(Default)]
pub(super) struct Phones {
    holders: DashMap<String, Option<(String, String)>>,
    checks: AtomicU64,
}

impl Phones {
    pub(super) fn set(&self, phone: &str, holder: Option<(&str, &str)>) {
        self.holders.insert(
            phone.to_owned(),
            holder.map(|(name, birth)| (name.to_owned(), birth.to_owned())),
        );
    }

    fn verdict(&self, claim: &IdentityClaim) -> bool {
        match self.holders.get(&claim.phone) {
            None => true,
            Some(held) => held
                .as_ref()
                .is_some_and(|(name, birth)| *name == claim.name && *birth == claim.birth_date),
        }
    }
}

pub(super) struct SimIdentity(pub(super) Arc<Inner>);

impl IdentityCheck for SimIdentity {
    fn check(&self, claim: IdentityClaim) -> RailFuture<Result<bool, RailError>> {
        let inner = &self.0;
        let rail = Rail::Authentication;
        let state = inner.state(rail);
        state.counters.add(Stat::Calls);
        let nth = inner.phones.checks.fetch_add(1, Ordering::Relaxed);
        let word = draw::word(inner.seed, rail, Call::IdentityCheck, (0, nth));
        match state.rates.fault(word) {
            Fault::Timeout | Fault::LostResponse => {
                state.counters.add(Stat::Timeouts);
                never()
            }
            Fault::Failure => {
                state.counters.add(Stat::InjectedFailures);
                respond(
                    state.rates.latency(word),
                    Err(RailError {
                        system: "identity check",
                        what: "simulated failure of the identity check".into(),
                    }),
                )
            }
            Fault::None => respond(state.rates.latency(word), Ok(inner.phones.verdict(&claim))),
        }
    }
}
