//! A virtual account (VA) of a partner's pool (INSTRUMENTS.md §2.2, 1DB) and its states.

use serde::{Deserialize, Serialize};

use super::lease::LeaseId;
use super::partner::{PartnerId, Region};
use crate::ids::BankCode;

/// A VA number as the bank issued it (D-2.8): 1–20 ASCII digits. omnibus never invents
/// one; with its bank it is the VA's key.
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
pub struct VaNo(String);

super::text_newtype!(VaNo);

impl VaNo {
    pub fn new(text: &str) -> Result<Self, String> {
        if !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("a VA number is 1 to 20 digits, got {text:?}"))
        }
    }
}

/// A VA's state (§2.5 "States").
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
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[rkyv(derive(Debug))]
pub enum VaState {
    Available,
    Leased,
    /// Freed or expired, not given out again until `cooling_until_ms` (D-2.7).
    Cooling,
    /// Closed by the bank.
    Retired,
}

/// One VA of 1DB.
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
pub struct VirtualAccount {
    pub bank: BankCode,
    pub va_no: VaNo,
    pub region: Region,
    pub partner: PartnerId,
    pub state: VaState,
    /// The lease it is given to, while LEASED; the last one, after.
    pub lease: Option<LeaseId>,
    /// When it was last freed (D-2.11's order); `None` if never leased.
    pub released_at_ms: Option<u64>,
    /// While COOLING, when it becomes AVAILABLE again.
    pub cooling_until_ms: u64,
    /// Numbered by the bank in real time for one lease (D-2.9), not taken from the pool.
    pub real_time: bool,
}

impl VirtualAccount {
    /// A VA the bank granted (S12), never leased.
    pub fn granted(bank: BankCode, va_no: VaNo, region: Region, partner: PartnerId) -> Self {
        Self {
            bank,
            va_no,
            region,
            partner,
            state: VaState::Available,
            lease: None,
            released_at_ms: None,
            cooling_until_ms: 0,
            real_time: false,
        }
    }

    /// Its state at `now_ms`: a COOLING VA whose cooldown has run is AVAILABLE. Cooling
    /// ends by the clock, not by a record, so no supervisor has to free it.
    pub fn state_at(&self, now_ms: u64) -> VaState {
        match self.state {
            VaState::Cooling if self.cooling_until_ms <= now_ms => VaState::Available,
            state => state,
        }
    }

    /// D-2.11: never-leased VAs first by number, then the one freed longest ago (ties by
    /// number). Smaller is picked first.
    pub fn pick_order(&self) -> (bool, u64, &VaNo) {
        (
            self.released_at_ms.is_some(),
            self.released_at_ms.unwrap_or(0),
            &self.va_no,
        )
    }

    /// Leased to `lease`.
    pub fn leased(&self, lease: LeaseId) -> Self {
        Self {
            state: VaState::Leased,
            lease: Some(lease),
            ..self.clone()
        }
    }

    /// Freed at `now_ms` (its lease completed, expired or was cancelled): COOLING for
    /// `cooldown_ms` (D-2.7), then AVAILABLE. A VA numbered in real time joins the pool
    /// the same way once it has cooled.
    pub fn freed(&self, now_ms: u64, cooldown_ms: u64) -> Self {
        Self {
            state: VaState::Cooling,
            released_at_ms: Some(now_ms),
            cooling_until_ms: now_ms.saturating_add(cooldown_ms),
            ..self.clone()
        }
    }
}
