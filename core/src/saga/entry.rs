//! Request-log entries ([`EntryId`], [`LogEntry`]): one per outside call, holding its
//! amount on its debit account while its outcome is open.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, CustomerId, RequestNo};
use crate::money::Amount;
use crate::request_log::{EntryState, Step};

/// A request-log entry's id, unique per shard: the shard in the top 16 bits, a sequence
/// number below. It is also the key of the outside call (with the attempt number).
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
pub struct EntryId(pub u64);

impl EntryId {
    pub fn new(shard: u16, seq: u64) -> Self {
        assert!(seq > 0 && seq < 1 << 48, "entry sequence fits in 48 bits");
        EntryId((u64::from(shard) << 48) | seq)
    }

    pub fn shard(self) -> u16 {
        (self.0 >> 48) as u16
    }

    pub fn seq(self) -> u64 {
        self.0 & ((1 << 48) - 1)
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{:016x}", self.0)
    }
}

/// One request-log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct LogEntry {
    pub id: EntryId,
    pub customer: CustomerId,
    pub request_no: RequestNo,
    pub step: Step,
    pub state: EntryState,
    /// The current attempt, from 1; a reprocessing or retry starts the next one.
    pub attempt: u32,
    /// How many times the entry went to FAIL_TRY_AGAIN (S114's failure count).
    pub failures: u32,
    pub amount: Amount,
    /// The step's posting, booked when the entry reaches SUCCESS.
    pub debit: AccountId,
    pub credit: AccountId,
    /// When the current attempt was requested, and when the entry last changed.
    pub requested_at_ms: u64,
    pub updated_at_ms: u64,
    /// The entry's debit is covered by its request's reservation on that account, so the
    /// entry holds nothing of its own.
    pub covered: bool,
}

impl LogEntry {
    /// An entry holds its amount on its debit account while its outcome is open.
    pub fn holds(&self) -> bool {
        holds(self.state)
    }
}

pub fn holds(state: EntryState) -> bool {
    matches!(state, EntryState::Requested | EntryState::Unknown)
}
