//! The virtual-account relay of seed 001(b) (INSTRUMENTS.md §2): partners, their pools of
//! virtual accounts (1DB), leases per order (2DB), and the deposits the banks notice
//! (`va_deposit_log`, 3DB), without storage, I/O or a clock.
//!
//! - [`partner`]: a partner in mode A, B or C, its pools and its lease defaults.
//! - [`virtual_account`]: a VA and its states (`AVAILABLE → LEASED → COOLING → AVAILABLE`,
//!   `RETIRED`), cooling as D-2.7 sets it, and the order of D-2.11.
//! - [`lease`]: a lease, what a partner asks for (S16), its match mode and its states.
//! - [`deposit`]: a bank's notice and the deposit it becomes, with its states.
//! - [`book`]: [`RelayBook`], the relay's state in one shard, changed only by applying
//!   a [`RelayChange`]; every decision (a lease, a deposit's match, an expiry, a cancel, a
//!   recall, a suspense assignment) is a pure function of the book, the request and the
//!   time, that returns the change to write. A change carries whole entities, so applying
//!   one is an overwrite and a replayed log rebuilds exactly the same book.
//! - [`collection`]: the S32 collection statement of one partner over a period.
//! - [`credit`]: the money a deposit moves in modes B and C: the observed posting and
//!   the credits it owes.
//!
//! Amounts are whole won (`u64`): a VA collects Korean won only.

/// The conversions of a text id checked by its own `new`: `as_str`, `TryFrom<String>`
/// (through `new`, for serde), `From<_> for String` and `Display`.
macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                $name::new(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use text_newtype;

pub mod book;
pub mod collection;
pub mod credit;
pub mod deposit;
pub mod lease;
pub mod partner;
pub mod virtual_account;

#[cfg(test)]
mod tests;

pub use book::{DepositOutcome, LeaseOutcome, RelayBook, RelayChange, RelayRefusal};
pub use collection::CollectionStatement;
pub use credit::{CreditDue, CreditTo};
pub use deposit::{Deposit, DepositId, DepositNotice, DepositState};
pub use lease::{Lease, LeaseId, LeaseRequest, LeaseState, MatchMode};
pub use partner::{Partner, PartnerId, PartnerMode, PoolSpec, Region};
pub use virtual_account::{VaNo, VaState, VirtualAccount};

/// D-2.6: a lease lives this long when the partner gives no due date.
pub const DEFAULT_LEASE_LIFE_MS: u64 = 72 * 3_600_000;
/// D-2.6: the longest a partner may set.
pub const MAX_LEASE_LIFE_MS: u64 = 30 * 86_400_000;
/// D-2.7: how long a freed VA cools before it is AVAILABLE again.
pub const DEFAULT_COOLDOWN_MS: u64 = 30 * 86_400_000;
/// D-2.9: the pool's target when the partner gives neither a target nor a daily volume.
pub const DEFAULT_POOL_TARGET: u32 = 1_000;
/// The most one deposit, or one lease's amount, may be: 1,000,000,000,000 won, far above
/// any transfer, so that sums of them never overflow.
pub const MAX_AMOUNT_KRW: u64 = 1_000_000_000_000;
/// D-2.9: the low watermark, in percent of the target.
pub const LOW_WATERMARK_PERCENT: u32 = 20;
