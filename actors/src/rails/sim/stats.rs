//! What the simulators counted: calls, executions, refusals by reason, injected faults
//! and confirms, per rail.
//!
//! Counting sits on the hot path of every call, from every engine thread. One shared
//! atomic per counter would bounce its cache line between cores on each call, so each
//! counter is striped: a thread adds to its own stripe (a cache line of its own) and a
//! [`SimStats`] snapshot sums the stripes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::refusal::Refusal;
use super::Rail;

/// The counters of one rail, as indices into a stripe.
#[derive(Clone, Copy, Debug)]
pub(super) enum Stat {
    Calls,
    Executed,
    Replayed,
    InjectedFailures,
    Timeouts,
    LostResponses,
    Confirms,
    ConfirmsExecuted,
    ConfirmsNotExecuted,
    ConfirmsUnreachable,
    KeysRevoked,
    Refused(Refusal),
}

const PLAIN_STATS: usize = 11;
const STATS: usize = PLAIN_STATS + Refusal::COUNT;

impl Stat {
    fn index(self) -> usize {
        match self {
            Stat::Calls => 0,
            Stat::Executed => 1,
            Stat::Replayed => 2,
            Stat::InjectedFailures => 3,
            Stat::Timeouts => 4,
            Stat::LostResponses => 5,
            Stat::Confirms => 6,
            Stat::ConfirmsExecuted => 7,
            Stat::ConfirmsNotExecuted => 8,
            Stat::ConfirmsUnreachable => 9,
            Stat::KeysRevoked => 10,
            Stat::Refused(refusal) => PLAIN_STATS + refusal.index(),
        }
    }
}

/// More stripes than the engine has threads in practice (one per core, plus helpers),
/// so that threads rarely share one.
const STRIPES: usize = 16;

#[repr(align(128))]
struct Stripe([AtomicU64; STATS]);

/// The striped counters of one rail.
pub(super) struct Counters {
    stripes: Box<[Stripe; STRIPES]>,
}

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Each thread takes the next stripe the first time it counts.
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

impl Counters {
    pub(super) fn new() -> Self {
        Self {
            stripes: Box::new(std::array::from_fn(|_| {
                Stripe(std::array::from_fn(|_| AtomicU64::new(0)))
            })),
        }
    }

    pub(super) fn add(&self, stat: Stat) {
        let stripe = STRIPE.with(|s| *s);
        self.stripes[stripe].0[stat.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self, stat: Stat) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.0[stat.index()].load(Ordering::Relaxed))
            .sum()
    }

    pub(super) fn snapshot(&self) -> RailStats {
        let refusals: BTreeMap<Refusal, u64> = Refusal::ALL
            .iter()
            .map(|r| (*r, self.sum(Stat::Refused(*r))))
            .filter(|(_, n)| *n > 0)
            .collect();
        RailStats {
            calls: self.sum(Stat::Calls),
            executed: self.sum(Stat::Executed),
            replayed: self.sum(Stat::Replayed),
            refused: refusals.values().sum(),
            refusals,
            injected_failures: self.sum(Stat::InjectedFailures),
            timeouts: self.sum(Stat::Timeouts),
            lost_responses: self.sum(Stat::LostResponses),
            confirms: self.sum(Stat::Confirms),
            confirms_executed: self.sum(Stat::ConfirmsExecuted),
            confirms_not_executed: self.sum(Stat::ConfirmsNotExecuted),
            confirms_unreachable: self.sum(Stat::ConfirmsUnreachable),
            keys_revoked: self.sum(Stat::KeysRevoked),
        }
    }
}

/// The counts of one rail since the simulator started.
///
/// Every call counts once in `calls` and at most once in `executed`, `replayed`,
/// `refused`, `injected_failures` and `timeouts` (a timed-out call never reaches the
/// registry); a lost response is counted in `lost_responses` on top of what the call
/// did. For the authentication server, `executed` counts the key checks answered, and
/// `keys_revoked` those answered "not valid".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RailStats {
    pub calls: u64,
    /// Calls that executed their request for the first time.
    pub executed: u64,
    /// Calls with an id already executed, answered `Done` again without executing.
    pub replayed: u64,
    /// Calls refused for a business reason (the sum of `refusals`).
    pub refused: u64,
    /// Business refusals by kind; kinds never seen are absent.
    pub refusals: BTreeMap<Refusal, u64>,
    /// Calls answered `Refused` by an injected failure, without executing.
    pub injected_failures: u64,
    /// Calls neither executed nor answered.
    pub timeouts: u64,
    /// Calls whose answer was dropped (they executed, or were refused, all the same).
    pub lost_responses: u64,
    pub confirms: u64,
    pub confirms_executed: u64,
    pub confirms_not_executed: u64,
    /// Confirms answered with a `RailError` because the rail's confirm was switched off.
    pub confirms_unreachable: u64,
    pub keys_revoked: u64,
}

/// The counts of every rail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub bank_firm: RailStats,
    pub securities_firm: RailStats,
    pub financial_company: RailStats,
    pub authentication: RailStats,
}

impl SimStats {
    pub fn rail(&self, rail: Rail) -> &RailStats {
        match rail {
            Rail::BankFirm => &self.bank_firm,
            Rail::SecuritiesFirm => &self.securities_firm,
            Rail::FinancialCompany => &self.financial_company,
            Rail::Authentication => &self.authentication,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = Counters::new();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        counters.add(Stat::Calls);
                        counters.add(Stat::Refused(Refusal::IdReused));
                    }
                });
            }
        });
        let stats = counters.snapshot();
        assert_eq!(stats.calls, 8_000);
        assert_eq!(stats.refused, 8_000);
        assert_eq!(stats.refusals.get(&Refusal::IdReused), Some(&8_000));
        assert_eq!(stats.refusals.len(), 1);
    }
}
