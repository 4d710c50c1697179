//! Deterministic fault and latency draws, and the fault rates they are compared with.
//!
//! A draw is a hash of (seed, rail, call, key), never a shared random number generator:
//! a shared generator would hand out its numbers in whatever order threads happen to
//! call, so the same seed would give different faults from run to run. Hashing the
//! request id instead makes each call's fate a pure function of what it is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use omnibus_core::config::SimulatedRailConfig;

use super::Rail;

/// The kind of call a draw is for. It takes part in the hash so that a call and the
/// confirm of the same id, or two operations that share an id, draw independently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Call {
    Withdraw = 1,
    Deposit = 2,
    Increase = 3,
    Decrease = 4,
    Instruct = 5,
    Confirm = 6,
    KeyValid = 7,
    Settle = 8,
    Transfer = 9,
    VerifyAccount = 10,
    IdentityCheck = 11,
}

/// What happens to one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    /// Executed (or refused for a business reason) and answered.
    None,
    /// Answered `Refused` without executing.
    Failure,
    /// Neither executed nor ever answered.
    Timeout,
    /// Executed, never answered.
    LostResponse,
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The splitmix64 finaliser: a bijection that spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn absorb(state: u64, word: u64) -> u64 {
    mix(state.rotate_left(23) ^ word.wrapping_add(GOLDEN_GAMMA))
}

/// The 64-bit draw of one call: `key` is the request id (entry, attempt), or for the
/// authentication server the certificate serial and the how-many-th check of it.
pub(super) fn word(seed: u64, rail: Rail, call: Call, key: (u64, u64)) -> u64 {
    let mut state = mix(seed ^ GOLDEN_GAMMA);
    state = absorb(state, rail as u64);
    state = absorb(state, call as u64);
    state = absorb(state, key.0);
    absorb(state, key.1)
}

/// A draw as a number in [0, 1): the top 53 bits, which an `f64` holds exactly.
fn unit(word: u64) -> f64 {
    (word >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// One rail's latency bounds and fault rates, changeable while calls are running.
///
/// Each field is its own atomic so the hot path reads them without a lock. A reader
/// racing `set` may see some fields old and some new; the rates are compared
/// cumulatively, so such a mix is still a valid set of rates, only briefly a blend.
pub(super) struct RailRates {
    latency_us_min: AtomicU64,
    latency_us_max: AtomicU64,
    failure_rate_bits: AtomicU64,
    timeout_rate_bits: AtomicU64,
    lost_response_rate_bits: AtomicU64,
}

impl RailRates {
    pub(super) fn new(rates: SimulatedRailConfig) -> Self {
        let this = Self {
            latency_us_min: AtomicU64::new(0),
            latency_us_max: AtomicU64::new(0),
            failure_rate_bits: AtomicU64::new(0),
            timeout_rate_bits: AtomicU64::new(0),
            lost_response_rate_bits: AtomicU64::new(0),
        };
        this.set(rates);
        this
    }

    /// Replaces the rates.
    ///
    /// # Panics
    /// When a rate is outside [0, 1], the rates sum to more than 1, or the latency
    /// bounds are reversed: a test that asks for that has a bug worth stopping at.
    pub(super) fn set(&self, rates: SimulatedRailConfig) {
        for (name, rate) in [
            ("failure_rate", rates.failure_rate),
            ("timeout_rate", rates.timeout_rate),
            ("lost_response_rate", rates.lost_response_rate),
        ] {
            assert!(
                (0.0..=1.0).contains(&rate),
                "{name} must be a probability between 0 and 1, got {rate}"
            );
        }
        let total = rates.failure_rate + rates.timeout_rate + rates.lost_response_rate;
        // A little slack lets rates such as 0.7 + 0.2 + 0.1 through despite rounding.
        assert!(
            total <= 1.0 + 1e-9,
            "failure_rate + timeout_rate + lost_response_rate must be at most 1, got {total}"
        );
        assert!(
            rates.latency_us_min <= rates.latency_us_max,
            "latency_us_min ({}) must not exceed latency_us_max ({})",
            rates.latency_us_min,
            rates.latency_us_max
        );
        self.latency_us_min
            .store(rates.latency_us_min, Ordering::Relaxed);
        self.latency_us_max
            .store(rates.latency_us_max, Ordering::Relaxed);
        self.failure_rate_bits
            .store(rates.failure_rate.to_bits(), Ordering::Relaxed);
        self.timeout_rate_bits
            .store(rates.timeout_rate.to_bits(), Ordering::Relaxed);
        self.lost_response_rate_bits
            .store(rates.lost_response_rate.to_bits(), Ordering::Relaxed);
    }

    pub(super) fn get(&self) -> SimulatedRailConfig {
        SimulatedRailConfig {
            latency_us_min: self.latency_us_min.load(Ordering::Relaxed),
            latency_us_max: self.latency_us_max.load(Ordering::Relaxed),
            failure_rate: f64::from_bits(self.failure_rate_bits.load(Ordering::Relaxed)),
            timeout_rate: f64::from_bits(self.timeout_rate_bits.load(Ordering::Relaxed)),
            lost_response_rate: f64::from_bits(
                self.lost_response_rate_bits.load(Ordering::Relaxed),
            ),
        }
    }

    /// Sets every fault rate to zero and keeps the latency.
    pub(super) fn heal(&self) {
        for bits in [
            &self.failure_rate_bits,
            &self.timeout_rate_bits,
            &self.lost_response_rate_bits,
        ] {
            bits.store(0.0f64.to_bits(), Ordering::Relaxed);
        }
    }

    /// The fault a draw falls into: failure, then timeout, then lost response, each
    /// taking a slice of [0, 1) as wide as its rate.
    pub(super) fn fault(&self, word: u64) -> Fault {
        let rates = self.get();
        let u = unit(word);
        let failure_below = rates.failure_rate;
        let timeout_below = failure_below + rates.timeout_rate;
        let lost_below = timeout_below + rates.lost_response_rate;
        if u < failure_below {
            Fault::Failure
        } else if u < timeout_below {
            Fault::Timeout
        } else if u < lost_below {
            Fault::LostResponse
        } else {
            Fault::None
        }
    }

    /// The latency of a draw: uniform over [min, max] microseconds. It is taken from a
    /// rehash of the draw, so it does not correlate with the fault.
    pub(super) fn latency(&self, word: u64) -> Duration {
        let min_us = self.latency_us_min.load(Ordering::Relaxed);
        let max_us = self.latency_us_max.load(Ordering::Relaxed);
        if max_us <= min_us {
            return Duration::from_micros(min_us);
        }
        let span_us = max_us - min_us + 1;
        Duration::from_micros(min_us + mix(word ^ GOLDEN_GAMMA) % span_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(failure: f64, timeout: f64, lost: f64) -> SimulatedRailConfig {
        SimulatedRailConfig {
            latency_us_min: 100,
            latency_us_max: 200,
            failure_rate: failure,
            timeout_rate: timeout,
            lost_response_rate: lost,
        }
    }

    #[test]
    fn a_draw_depends_on_every_part_of_its_key() {
        let base = word(1, Rail::BankFirm, Call::Withdraw, (10, 0));
        assert_eq!(base, word(1, Rail::BankFirm, Call::Withdraw, (10, 0)));
        assert_ne!(base, word(2, Rail::BankFirm, Call::Withdraw, (10, 0)));
        assert_ne!(base, word(1, Rail::SecuritiesFirm, Call::Withdraw, (10, 0)));
        assert_ne!(base, word(1, Rail::BankFirm, Call::Deposit, (10, 0)));
        assert_ne!(base, word(1, Rail::BankFirm, Call::Withdraw, (11, 0)));
        assert_ne!(base, word(1, Rail::BankFirm, Call::Withdraw, (10, 1)));
    }

    #[test]
    fn faults_take_slices_as_wide_as_their_rates() {
        let r = RailRates::new(rates(0.1, 0.2, 0.3));
        let mut counts = [0u32; 4];
        let draws = 100_000u64;
        for i in 0..draws {
            let fault = r.fault(word(7, Rail::BankFirm, Call::Withdraw, (i, 0)));
            counts[fault as usize] += 1;
        }
        let share = |n: u32| f64::from(n) / draws as f64;
        assert!((share(counts[Fault::Failure as usize]) - 0.1).abs() < 0.01);
        assert!((share(counts[Fault::Timeout as usize]) - 0.2).abs() < 0.01);
        assert!((share(counts[Fault::LostResponse as usize]) - 0.3).abs() < 0.01);
        assert!((share(counts[Fault::None as usize]) - 0.4).abs() < 0.01);
    }

    #[test]
    fn zero_rates_never_fault_and_full_failure_always_fails() {
        let healthy = RailRates::new(rates(0.0, 0.0, 0.0));
        let broken = RailRates::new(rates(1.0, 0.0, 0.0));
        for i in 0..10_000u64 {
            let w = word(3, Rail::FinancialCompany, Call::Instruct, (i, 1));
            assert_eq!(healthy.fault(w), Fault::None);
            assert_eq!(broken.fault(w), Fault::Failure);
        }
    }

    #[test]
    fn latency_stays_within_its_bounds_and_covers_them() {
        let r = RailRates::new(rates(0.0, 0.0, 0.0));
        let (mut lowest, mut highest) = (u128::MAX, 0u128);
        for i in 0..10_000u64 {
            let us = r
                .latency(word(5, Rail::Authentication, Call::KeyValid, (i, 0)))
                .as_micros();
            assert!((100..=200).contains(&us), "{us}");
            lowest = lowest.min(us);
            highest = highest.max(us);
        }
        assert_eq!((lowest, highest), (100, 200));
    }

    #[test]
    fn heal_zeroes_the_faults_and_keeps_the_latency() {
        let r = RailRates::new(rates(0.5, 0.25, 0.25));
        r.heal();
        let healed = r.get();
        assert_eq!(healed, rates(0.0, 0.0, 0.0));
    }

    #[test]
    #[should_panic(expected = "at most 1")]
    fn rates_summing_past_one_are_refused() {
        RailRates::new(rates(0.5, 0.5, 0.5));
    }
}
