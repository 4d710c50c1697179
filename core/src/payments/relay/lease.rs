//! A lease of one VA to one order (INSTRUMENTS.md §2.3 S16–S20, 2DB), what a partner asks
//! for, and how a deposit is matched to it (D-2.2, D-2.3).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::deposit::DepositId;
use super::partner::{PartnerId, Region};
use super::virtual_account::VaNo;
use crate::ids::BankCode;

/// A lease's id, unique in its partner's shard: `vl_<n>` in the API.
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
pub struct LeaseId(pub u64);

impl LeaseId {
    pub fn parse(text: &str) -> Option<Self> {
        text.strip_prefix("vl_")?.parse().ok().map(LeaseId)
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vl_{}", self.0)
    }
}

/// The matching rule of a lease (D-2.3).
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
#[serde(rename_all = "snake_case")]
#[rkyv(derive(Debug))]
pub enum MatchMode {
    /// The deposit must equal the expected amount.
    Exact,
    /// Deposits add up until the total reaches the expected amount; an excess goes to
    /// suspense.
    Accumulate,
    /// Any amount within [min, max] completes the lease.
    Open,
}

/// A lease's state (§2.5 "States").
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
pub enum LeaseState {
    Open,
    /// Accumulate mode: paid in part.
    Partial,
    Completed,
    Expired,
    Cancelled,
}

impl LeaseState {
    /// OPEN or PARTIAL: it holds its VA and takes deposits.
    pub fn is_live(self) -> bool {
        matches!(self, LeaseState::Open | LeaseState::Partial)
    }
}

/// What a partner asks for at S16, with D-2.2's additions. Two requests for one order
/// are "the same" when every field but `due_at_ms` agrees and the due date either agrees
/// or was left to the default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRequest {
    pub partner: PartnerId,
    pub order_no: String,
    /// The customer information of 2DB (a name, as the partner gives it).
    pub customer: String,
    pub bank: BankCode,
    pub region: Region,
    pub match_mode: Option<MatchMode>,
    /// Exact and accumulate: the amount expected.
    pub expected_krw: Option<u64>,
    /// Open: the bounds, both inclusive (min defaults to 1).
    pub min_krw: Option<u64>,
    pub max_krw: Option<u64>,
    pub due_at_ms: Option<u64>,
}

impl LeaseRequest {
    /// The request's own checks (INVALID_REQUEST): an order number and customer of 1 to
    /// 64 characters; an expected amount for exact and accumulate, and none for open;
    /// open bounds in order.
    pub fn validate(&self, mode: MatchMode) -> Result<(), String> {
        if self.order_no.is_empty() || self.order_no.len() > 64 {
            return Err("order_no is 1 to 64 characters".into());
        }
        if self.order_no.chars().any(char::is_control) {
            return Err("order_no has a control character".into());
        }
        if self.customer.is_empty() || self.customer.chars().count() > 64 {
            return Err("customer is 1 to 64 characters".into());
        }
        let too_much = [self.expected_krw, self.min_krw, self.max_krw]
            .into_iter()
            .flatten()
            .any(|v| v > super::MAX_AMOUNT_KRW);
        if too_much {
            return Err(format!(
                "an amount is at most {} won",
                super::MAX_AMOUNT_KRW
            ));
        }
        match mode {
            MatchMode::Exact | MatchMode::Accumulate => match self.expected_krw {
                None | Some(0) => {
                    return Err(
                        "expected_amount_krw (> 0) is required unless match_mode is open".into(),
                    )
                }
                Some(_) if self.min_krw.is_some() || self.max_krw.is_some() => {
                    return Err("min_amount_krw and max_amount_krw are for match_mode open".into())
                }
                Some(_) => {}
            },
            MatchMode::Open => {
                if self.expected_krw.is_some() {
                    return Err("match_mode open takes min and max, not expected_amount_krw".into());
                }
                let min = self.min_krw.unwrap_or(1);
                if min == 0 || self.max_krw.is_some_and(|max| max < min) {
                    return Err("open bounds need 0 < min_amount_krw <= max_amount_krw".into());
                }
            }
        }
        Ok(())
    }
}

/// A lease (§2.7's `Lease`).
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
pub struct Lease {
    pub id: LeaseId,
    pub partner: PartnerId,
    pub order_no: String,
    pub customer: String,
    pub bank: BankCode,
    /// The region asked for (the VA's own may differ after a fallback, D-2.10).
    pub region: Region,
    pub va_no: VaNo,
    pub match_mode: MatchMode,
    pub expected_krw: Option<u64>,
    pub min_krw: u64,
    pub max_krw: Option<u64>,
    pub created_at_ms: u64,
    pub due_at_ms: u64,
    /// Whether the partner set the due date (else it is the default life).
    pub due_given: bool,
    pub state: LeaseState,
    /// What its matched deposits credited, in all (accumulate mode adds them up).
    pub paid_krw: u64,
    pub deposits: Vec<DepositId>,
    /// When it left OPEN or PARTIAL.
    pub closed_at_ms: Option<u64>,
}

impl Lease {
    /// Whether `request` asks for this lease again (D-2.12).
    pub fn same_request(&self, request: &LeaseRequest, mode: MatchMode) -> bool {
        self.customer == request.customer
            && self.bank == request.bank
            && self.region == request.region
            && self.match_mode == mode
            && self.expected_krw == request.expected_krw
            && (mode != MatchMode::Open
                || (self.min_krw == request.min_krw.unwrap_or(1)
                    && self.max_krw == request.max_krw))
            && match request.due_at_ms {
                None => !self.due_given,
                Some(due) => self.due_given && self.due_at_ms == due,
            }
    }

    /// How a deposit of `amount` matches (D-2.3), given what was paid before.
    pub fn judge(&self, amount: u64) -> Judgement {
        match self.match_mode {
            MatchMode::Exact => {
                if Some(amount) == self.expected_krw {
                    Judgement::Completes {
                        credited: amount,
                        excess: 0,
                    }
                } else {
                    Judgement::Mismatch
                }
            }
            MatchMode::Open => {
                let within = amount >= self.min_krw && self.max_krw.is_none_or(|max| amount <= max);
                if within {
                    Judgement::Completes {
                        credited: amount,
                        excess: 0,
                    }
                } else {
                    Judgement::Mismatch
                }
            }
            MatchMode::Accumulate => {
                let expected = self.expected_krw.unwrap_or(0);
                let owed = expected.saturating_sub(self.paid_krw);
                if amount >= owed {
                    Judgement::Completes {
                        credited: owed,
                        excess: amount - owed,
                    }
                } else {
                    Judgement::Partial { credited: amount }
                }
            }
        }
    }
}

/// What a deposit does to its lease (D-2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The lease is paid: `credited` goes to the partner's side, `excess` to suspense.
    Completes { credited: u64, excess: u64 },
    /// Accumulate mode, not paid in full yet.
    Partial { credited: u64 },
    /// The amount rule does not hold: suspense, the lease stays as it was (S26).
    Mismatch,
}
