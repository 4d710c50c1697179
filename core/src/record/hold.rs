//! What a hold's records carry: its id ([`HoldId`]) and what a create asks for
//! ([`NewHold`]). The holds themselves, and what each record does to them, are the
//! ledger's (`crate::ledger::Hold`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, CustomerId};
use crate::money::Amount;

/// A hold's id: the customer it belongs to (which places it in that customer's shard, as a
/// request's customer does) and a number the caller chooses, unique among that customer's
/// holds. Holds are idempotent by this id. The house's own holds belong to
/// [`crate::saga::HOUSE`].
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
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
pub struct HoldId {
    pub owner: CustomerId,
    pub number: u64,
}

impl HoldId {
    pub fn new(owner: CustomerId, number: u64) -> Self {
        HoldId { owner, number }
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hold[{}/{}]", self.owner, self.number)
    }
}

/// What a create asks for: the body two creates of one id must share to be "the same".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewHold {
    pub id: HoldId,
    /// The account held: a customer's account or a parent account's slice.
    pub debit: AccountId,
    /// Where a post sends the money: any account of the same shard.
    pub credit: AccountId,
    pub amount: Amount,
    /// Engine-clock milliseconds: from this instant on the hold can only expire.
    pub expires_at_ms: u64,
}
