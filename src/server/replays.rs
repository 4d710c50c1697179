//! The replay memory of signed requests (docs/auth.md): each signature the server
//! accepted, so that the same signed request sent again is refused.
//!
//! A signed request passes the window check only while its timestamp lies within
//! `server.auth_window_ms` of the clock, so its signature is remembered exactly that long:
//! filed under the second of its timestamp, and forgotten once that whole second is more
//! than a window old. A replay carries the same timestamp, so it is looked for in one
//! second's set. At a steady rate of r signed requests a second (timestamps near the
//! clock) the memory holds about r × (window + 1 s) signatures: 16 bytes of each (the
//! first half of an HMAC-SHA-256; a collision would need the key). It is bounded by
//! `server.auth_replays_max` over all keys, and each merchant (all its keys together: a
//! merchant makes its own keys) by `server.auth_replays_per_merchant_max`, so that one
//! merchant sending as fast as it can fills only its own share and the others, the
//! operator included, go on. When a bound is
//! reached the request is refused 503 `overloaded`, never let through unchecked.
//!
//! (Until 2026-12-02 the memory kept two generations of two windows each: it held up to
//! four windows of signatures and, at the defaults, answered every caller 503 under a
//! steady 3,300 signed requests a second.)

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use omnibus_core::ids::MerchantNo;

/// Whether a signature was new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    First,
    Again,
    /// The memory is full: refused, rather than let a replay through.
    Full,
    /// This merchant's share of the memory is full.
    MerchantFull,
    /// Its timestamp's second is already forgotten: another request, checked later,
    /// moved the memory past it while this one's body was still arriving. Refused as
    /// outside the window, or a replay sent slowly could pass.
    Stale,
}

/// Who signed: the operator's keys are bounded only by the whole memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    Operator,
    Merchant(MerchantNo),
}

pub struct Replays {
    window_ms: u64,
    max: usize,
    per_merchant_max: usize,
    state: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    /// Every second before this one is forgotten.
    horizon_second: u64,
    by_second: BTreeMap<u64, Second>,
    len: usize,
    per_merchant: HashMap<MerchantNo, usize>,
}

#[derive(Default)]
struct Second {
    signatures: HashSet<[u8; 16]>,
    per_merchant: HashMap<MerchantNo, usize>,
}

impl Replays {
    pub fn new(window_ms: u64, max: u32, per_merchant_max: u32) -> Self {
        Self {
            window_ms,
            max: max as usize,
            per_merchant_max: per_merchant_max as usize,
            state: Mutex::new(Memory::default()),
        }
    }

    /// Looks for `signature` of a request stamped `at_ms`, which the caller has checked
    /// lies within the window of `now_ms`, and remembers it if it is new.
    pub fn see(&self, signer: Signer, signature: &[u8; 32], at_ms: u64, now_ms: u64) -> Seen {
        let mut m = self.state.lock().unwrap_or_else(|p| p.into_inner());
        m.forget_before(now_ms.saturating_sub(self.window_ms));
        let short: [u8; 16] = signature[..16].try_into().expect("16 of 32 bytes");
        let second = at_ms / 1_000;
        if second < m.horizon_second {
            return Seen::Stale;
        }
        if m.by_second
            .get(&second)
            .is_some_and(|s| s.signatures.contains(&short))
        {
            return Seen::Again;
        }
        if m.len >= self.max {
            return Seen::Full;
        }
        if let Signer::Merchant(no) = signer {
            if m.per_merchant.get(&no).copied().unwrap_or(0) >= self.per_merchant_max {
                return Seen::MerchantFull;
            }
        }
        let s = m.by_second.entry(second).or_default();
        s.signatures.insert(short);
        if let Signer::Merchant(no) = signer {
            *s.per_merchant.entry(no).or_default() += 1;
            *m.per_merchant.entry(no).or_default() += 1;
        }
        m.len += 1;
        Seen::First
    }

    /// Signatures remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().unwrap().len
    }
}

impl Memory {
    /// Forgets every second wholly before `oldest_ms`: no timestamp in it passes the
    /// window check any more.
    fn forget_before(&mut self, oldest_ms: u64) {
        self.horizon_second = self.horizon_second.max(oldest_ms / 1_000);
        while let Some(entry) = self.by_second.first_entry() {
            if (entry.key() + 1) * 1_000 > oldest_ms {
                break;
            }
            let gone = entry.remove();
            self.len -= gone.signatures.len();
            for (no, n) in gone.per_merchant {
                if let Some(count) = self.per_merchant.get_mut(&no) {
                    *count -= n;
                    if *count == 0 {
                        self.per_merchant.remove(&no);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(n: u32) -> [u8; 32] {
        let mut s = [0; 32];
        s[..4].copy_from_slice(&n.to_le_bytes());
        s
    }

    const M1: Signer = Signer::Merchant(MerchantNo(1));
    const M2: Signer = Signer::Merchant(MerchantNo(2));
    const OP: Signer = Signer::Operator;

    #[test]
    fn a_signature_is_refused_again_while_its_timestamp_can_pass() {
        let replays = Replays::new(1_000, 1_000, 1_000);
        assert_eq!(replays.see(M1, &sig(1), 10_000, 10_000), Seen::First);
        assert_eq!(replays.see(M1, &sig(1), 10_000, 10_001), Seen::Again);
        // Another key's same bytes under the same second are the same signature.
        assert_eq!(replays.see(M2, &sig(1), 10_000, 10_500), Seen::Again);
        // A timestamp a window ahead of the clock: remembered until it is a window old.
        assert_eq!(replays.see(M1, &sig(2), 11_000, 10_000), Seen::First);
        assert_eq!(replays.see(M1, &sig(2), 11_000, 12_000), Seen::Again);
        // Once the second of 10,000 is more than a window old it is forgotten (its
        // requests fail the window check before they get here).
        replays.see(OP, &sig(3), 12_000, 12_000);
        assert_eq!(replays.len(), 2);
    }

    /// The defect of the two-generation memory: 100 requests a second with a 1 s window
    /// (at most about 200 signatures can pass at once, counting the second's rounding)
    /// filled a memory of 300 within 3 s and refused everyone.
    #[test]
    fn sustained_signed_traffic_within_the_bound_is_never_refused_overloaded() {
        let replays = Replays::new(1_000, 300, 300);
        for (n, ms) in (0..60_000u64).step_by(10).enumerate() {
            let now = 1_000_000 + ms;
            assert_eq!(
                replays.see(OP, &sig(n as u32), now, now),
                Seen::First,
                "at {ms} ms"
            );
            assert!(replays.len() <= 300);
        }
    }

    /// A request checked against the window at 10,900 whose body arrives slowly, while
    /// others move the memory on: by the time it is looked for, its second may be
    /// forgotten, and it is refused rather than taken as new.
    #[test]
    fn a_timestamp_whose_second_is_forgotten_is_refused_not_taken_as_new() {
        let replays = Replays::new(1_000, 1_000, 1_000);
        assert_eq!(replays.see(M1, &sig(1), 9_950, 9_950), Seen::First);
        // Another caller at 11,200: the second of 9,950 is more than a window old.
        assert_eq!(replays.see(M2, &sig(2), 11_200, 11_200), Seen::First);
        // The replay of the first, let in by the window check at 10,900.
        assert_eq!(replays.see(M1, &sig(1), 9_950, 10_900), Seen::Stale);
    }

    #[test]
    fn a_merchant_fills_only_its_own_share() {
        let replays = Replays::new(1_000, 100, 30);
        for n in 0..30 {
            assert_eq!(replays.see(M1, &sig(n), 5_000, 5_000), Seen::First);
        }
        assert_eq!(replays.see(M1, &sig(30), 5_000, 5_000), Seen::MerchantFull);
        for n in 100..130 {
            assert_eq!(replays.see(M2, &sig(n), 5_000, 5_000), Seen::First);
        }
        // The operator is bounded only by the whole memory.
        for n in 200..240 {
            assert_eq!(replays.see(OP, &sig(n), 5_000, 5_000), Seen::First);
        }
        assert_eq!(replays.see(OP, &sig(240), 5_000, 5_000), Seen::Full);
        // A window later, m1's share is free again.
        assert_eq!(replays.see(M1, &sig(31), 7_000, 7_000), Seen::First);
        assert_eq!(replays.len(), 1);
    }
}
