//! A bank's deposit notice (S22) and the deposit of `va_deposit_log` it becomes (S24–S30,
//! 3DB), with its states (§2.5).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::lease::LeaseId;
use super::virtual_account::VaNo;
use crate::ids::BankCode;

/// A deposit's id, unique in its partner's shard: `vd_<n>` in the API; the partner
/// de-duplicates its notices by it (D-2.13).
#[derive(
    Clone,
    Copy,
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
#[rkyv(derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord))]
pub struct DepositId(pub u64);

impl DepositId {
    pub fn parse(text: &str) -> Option<Self> {
        text.strip_prefix("vd_")?.parse().ok().map(DepositId)
    }
}

impl fmt::Display for DepositId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vd_{}", self.0)
    }
}

/// What a bank says happened (S22): keyed by (bank, `bank_tx_id`) (D-2.12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositNotice {
    pub bank: BankCode,
    pub bank_tx_id: String,
    pub va_no: VaNo,
    pub amount_krw: u64,
    pub depositor_name: String,
    /// The payer's account, when the bank's notice carries it (D-2.4's refund target).
    pub depositor_account: Option<String>,
    /// The bank's channel (branch, internet, phone, ATM, ...), informational.
    pub channel: String,
    /// When the bank says it happened (ms since the epoch).
    pub at_ms: u64,
}

impl DepositNotice {
    /// The notice's own checks: a transaction id of 1 to 64 printable characters, an
    /// amount above zero, a depositor's name of at most 64 characters.
    pub fn validate(&self) -> Result<(), String> {
        if self.bank_tx_id.is_empty()
            || self.bank_tx_id.len() > 64
            || self.bank_tx_id.chars().any(char::is_control)
        {
            return Err("bank_tx_id is 1 to 64 printable characters".into());
        }
        if self.amount_krw == 0 || self.amount_krw > super::MAX_AMOUNT_KRW {
            return Err(format!("amount_krw is 1 to {}", super::MAX_AMOUNT_KRW));
        }
        if self.depositor_name.chars().count() > 64 || self.channel.chars().count() > 32 {
            return Err("depositor_name is at most 64 characters, channel at most 32".into());
        }
        if let Some(account) = &self.depositor_account {
            if account.is_empty() || account.len() > 32 {
                return Err("depositor_account is 1 to 32 characters".into());
            }
        }
        Ok(())
    }
}

/// A deposit's state (§2.5 "States"). RECEIVED is not kept: a notice is written with its
/// match, in one record, before anything else is done with it.
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
pub enum DepositState {
    /// Matched to its lease (S24).
    Matched,
    /// The VA is leased but the amount rule does not hold (S26): suspense.
    Mismatch,
    /// The VA is not leased (never, expired, cancelled, cooling or unknown): suspense.
    Unleased,
    /// Operations assigned it from suspense to a lease (D-2.4).
    Assigned,
    /// Operations refunded it from suspense to the payer (D-2.4).
    Refunded,
    /// The bank recalled it (D-2.21).
    Reversed,
}

impl DepositState {
    /// Whether its money waits in suspense (modes B and C; in mode A it is only flagged).
    pub fn in_suspense(self) -> bool {
        matches!(self, DepositState::Mismatch | DepositState::Unleased)
    }
}

/// One deposit of `va_deposit_log` (§2.7's `Deposit`).
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
pub struct Deposit {
    pub id: DepositId,
    /// The partner whose VA it landed on.
    pub partner: super::partner::PartnerId,
    pub bank: BankCode,
    pub bank_tx_id: String,
    pub va_no: VaNo,
    pub amount_krw: u64,
    pub depositor_name: String,
    pub depositor_account: Option<String>,
    pub channel: String,
    /// When the bank says it happened.
    pub at_ms: u64,
    /// When the relay received it (the engine's clock).
    pub received_at_ms: u64,
    pub state: DepositState,
    /// The lease it matched (or was assigned to).
    pub lease: Option<LeaseId>,
    /// UNLEASED on a VA cooling, expired or cancelled: the lease it had before (D-2.7).
    pub previous_lease: Option<LeaseId>,
    /// What it credited to its lease's side (the rest, if any, is `excess_krw`).
    pub credited_krw: u64,
    /// Accumulate mode: what went over the expected amount, to suspense (D-2.3).
    pub excess_krw: u64,
    /// The depositor's name differs from the lease's customer: flagged, never refused
    /// (D-2.3: the VA is the key).
    pub name_differs: bool,
    /// Found by the daily reconciliation, not by a notice (D-2.15).
    pub late: bool,
    /// When it was refunded, assigned or reversed.
    pub settled_at_ms: Option<u64>,
}
