//! The payouts a shard made (INSTRUMENTS.md §6.6): an index of the house's payout
//! requests by merchant and time, kept for the retention window even after the settled
//! requests themselves leave memory for the archive, so that a daily payout is found on
//! record (and never paid twice) without a disk read, and a merchant's payouts can be
//! listed. Derived from the `RequestAccepted` records of kind `Payout`; pruned by
//! `Forgotten` with the requests; in snapshots from version 6.

use super::ShardBooks;
use crate::ids::{MerchantNo, RequestNo};
use crate::saga::{Accepted, Named, RequestKind};

/// The payouts in the index: by merchant and the engine's acceptance time, their numbers.
pub type PayoutIndex = std::collections::BTreeMap<(MerchantNo, u64), Vec<RequestNo>>;

impl ShardBooks {
    pub(super) fn index_payout(&mut self, accepted: &Accepted, named: Named) {
        if accepted.kind == RequestKind::Payout {
            if let Some(merchant) = named.merchant {
                let numbers = self.payouts.entry((merchant, accepted.at_ms)).or_default();
                if !numbers.contains(&accepted.request_no) {
                    numbers.push(accepted.request_no);
                }
            }
        }
    }

    pub(super) fn forget_payouts_before(&mut self, accepted_before_ms: u64) {
        self.payouts
            .retain(|(_, at_ms), _| *at_ms >= accepted_before_ms);
    }

    /// The payouts of `merchant` this shard accepted in `[from_ms, to_ms)`, oldest first.
    pub fn payouts_of(
        &self,
        merchant: MerchantNo,
        from_ms: u64,
        to_ms: u64,
    ) -> impl Iterator<Item = RequestNo> + '_ {
        self.payouts
            .range((merchant, from_ms)..(merchant, to_ms))
            .flat_map(|(_, numbers)| numbers.iter().copied())
    }

    /// Every payout in the index, for a snapshot: `(merchant, at_ms, number)`.
    pub(super) fn payout_index(&self) -> Vec<(MerchantNo, u64, RequestNo)> {
        self.payouts
            .iter()
            .flat_map(|((m, at), numbers)| numbers.iter().map(|no| (*m, *at, *no)))
            .collect()
    }

    /// Whether a payout with this number is in the index (on record, settled or not).
    pub fn payout_on_record(&self, merchant: MerchantNo, request_no: RequestNo) -> bool {
        self.payouts_of(merchant, 0, u64::MAX)
            .any(|no| no == request_no)
    }

    /// When `merchant`'s last payout in this shard before `before_ms` was accepted, if the
    /// index still holds one.
    pub fn last_payout_before(&self, merchant: MerchantNo, before_ms: u64) -> Option<u64> {
        self.payouts
            .range((merchant, 0)..(merchant, before_ms))
            .next_back()
            .map(|((_, at_ms), _)| *at_ms)
    }
}
