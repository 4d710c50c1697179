//! A partner institution of the relay (INSTRUMENTS.md §2.2, D-2.1) and its pools.

use serde::{Deserialize, Serialize};

use super::lease::MatchMode;
use super::{DEFAULT_COOLDOWN_MS, DEFAULT_LEASE_LIFE_MS, DEFAULT_POOL_TARGET};
use crate::ids::{BankCode, MerchantNo};

/// A partner's id as its API names it: 1–32 ASCII letters, digits, `-` or `_`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
#[rkyv(derive(Debug))]
pub struct PartnerId(String);

super::text_newtype!(PartnerId);

impl PartnerId {
    pub fn new(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "a partner id is 1 to 32 letters, digits, - or _, got {text:?}"
            ))
        }
    }
}

/// A region code of a pool (D-2.10): 1–16 ASCII letters, digits or `_`; `any` is a pool
/// (or a request) not tied to a region.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
#[rkyv(derive(Debug))]
pub struct Region(String);

super::text_newtype!(Region);

impl Region {
    pub const ANY: &'static str = "any";

    pub fn new(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= 16
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "a region is 1 to 16 letters, digits or _, got {text:?}"
            ))
        }
    }

    pub fn any() -> Self {
        Self(Self::ANY.to_owned())
    }

    pub fn is_any(&self) -> bool {
        self.0 == Self::ANY
    }
}

/// Who holds the money (D-2.1).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub enum PartnerMode {
    /// The patent: the representative account is the partner's own; omnibus moves no
    /// money and records the bank's postings only.
    A,
    /// Collect for a merchant: a matched deposit credits `merchant[p]`.
    B,
    /// omnibus is the partner: a matched deposit charges a customer's balance.
    C,
}

/// One pool of a partner (D-2.9): its VAs at one bank and region, the size it is kept at,
/// and whether the bank may number a VA in real time when it is empty (D-2.9, V9b).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct PoolSpec {
    pub bank: BankCode,
    pub region: Region,
    /// D-2.9: the number of VAs that are not RETIRED the replenisher keeps the pool at.
    pub target: u32,
    /// D-2.9: real-time numbering when the pool has no free VA, if the bank supports it.
    pub real_time: bool,
}

/// A partner institution (§2.7's `Partner`).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct Partner {
    pub id: PartnerId,
    pub mode: PartnerMode,
    /// Mode B: the onboarded merchant whose `merchant[m]` a matched deposit credits.
    pub merchant: Option<MerchantNo>,
    pub pools: Vec<PoolSpec>,
    /// The match mode of a lease that names none (D-2.3).
    pub default_match: MatchMode,
    /// D-2.10: an exact region with no free VA falls back to any region at the same bank.
    pub region_fallback: bool,
    /// D-2.7: how long a freed VA cools (0: the patent's immediate reuse).
    pub cooldown_ms: u64,
    /// D-2.6: a lease's life when the partner gives no due date.
    pub lease_life_ms: u64,
    /// D-2.9: the daily leases the partner expects, from which a pool's target follows.
    pub expected_leases_per_day: Option<u32>,
    /// D-2.13: where its notices are delivered (an HTTPS URL; empty: none).
    pub webhook_url: String,
}

impl Partner {
    /// A partner with the decisions' defaults and no pool.
    pub fn new(id: PartnerId, mode: PartnerMode) -> Self {
        Self {
            id,
            mode,
            merchant: None,
            pools: Vec::new(),
            default_match: MatchMode::Exact,
            region_fallback: false,
            cooldown_ms: DEFAULT_COOLDOWN_MS,
            lease_life_ms: DEFAULT_LEASE_LIFE_MS,
            expected_leases_per_day: None,
            webhook_url: String::new(),
        }
    }

    pub fn pool(&self, bank: BankCode, region: &Region) -> Option<&PoolSpec> {
        self.pools
            .iter()
            .find(|p| p.bank == bank && &p.region == region)
    }

    pub fn serves_bank(&self, bank: BankCode) -> bool {
        self.pools.iter().any(|p| p.bank == bank)
    }

    /// D-2.9: the smallest target that keeps a pool from running dry with every used VA
    /// cooling: `expected_leases_per_day × (mean lease life + cooldown, in days) × 1.2`,
    /// rounded up; [`DEFAULT_POOL_TARGET`] without a daily volume.
    pub fn minimum_target(&self) -> u32 {
        match self.expected_leases_per_day {
            None => DEFAULT_POOL_TARGET,
            Some(per_day) => {
                let days_ms = self.lease_life_ms + self.cooldown_ms;
                // per_day × days × 1.2 = per_day × days_ms × 6 / (5 × 86,400,000)
                let num = u128::from(per_day) * u128::from(days_ms) * 6;
                let den = 5 * 86_400_000u128;
                u32::try_from(num.div_ceil(den)).unwrap_or(u32::MAX)
            }
        }
    }

    /// The partner's checks (D-2.1, D-2.9): a mode-B partner names its merchant; each
    /// pool once; a pool's target at least its minimum. The warnings a configured
    /// target below the formula gives are the second list (an alert, not a refusal).
    pub fn validate(&self) -> Result<Vec<String>, String> {
        if self.mode == PartnerMode::B && self.merchant.is_none() {
            return Err("a mode-B partner names the merchant it collects for".into());
        }
        if self.mode != PartnerMode::B && self.merchant.is_some() {
            return Err("only a mode-B partner names a merchant".into());
        }
        if self.lease_life_ms == 0 || self.lease_life_ms > super::MAX_LEASE_LIFE_MS {
            return Err("a lease lives more than 0 and at most 30 days".into());
        }
        let mut warnings = Vec::new();
        for (i, pool) in self.pools.iter().enumerate() {
            if self.pools[..i]
                .iter()
                .any(|p| p.bank == pool.bank && p.region == pool.region)
            {
                return Err(format!("pool {} {} is named twice", pool.bank, pool.region));
            }
            if pool.target == 0 {
                return Err(format!(
                    "pool {} {} has a target of 0",
                    pool.bank, pool.region
                ));
            }
            if self.expected_leases_per_day.is_some() && pool.target < self.minimum_target() {
                warnings.push(format!(
                    "pool {} {}: target {} is below {} (D-2.9: leases per day × (lease life + cooldown) × 1.2); it will run dry",
                    pool.bank,
                    pool.region,
                    pool.target,
                    self.minimum_target()
                ));
            }
        }
        Ok(warnings)
    }
}
