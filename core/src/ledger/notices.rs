//! The notices for the notification sink, as a shard's books keep them (INSTRUMENTS.md
//! §5.7 `statement_log`): each card's next-day statement, by key, with its delivery; and
//! each payout's settlement statement for its merchant (§6.6, from snapshot version 8).
//! One `notice_set` record per change carries the whole notice; applying one keeps the
//! one with more attempts or a delivery, so a repeat or a late copy changes nothing.
//! Delivered notices older than [`super::POCKET_DAYS_KEPT`] days leave as newer ones
//! come; in snapshots from version 6.

use std::collections::BTreeMap;

use super::{ShardBooks, POCKET_DAYS_KEPT};
use crate::ids::RequestNo;
use crate::payments::payout_notice::PayoutNotice;
use crate::statement::Notice;

pub type Notices = BTreeMap<RequestNo, Notice>;
pub type PayoutNotices = BTreeMap<RequestNo, PayoutNotice>;

impl ShardBooks {
    pub(super) fn apply_notice_set(&mut self, notice: &Notice) {
        let newest_day = notice.statement.day;
        if let Some(held) = self.notices.get(&notice.key) {
            let newer = (notice.delivered(), notice.attempts) > (held.delivered(), held.attempts);
            if !newer {
                return;
            }
        }
        self.notices.insert(notice.key, notice.clone());
        if let Some(oldest) = newest_day.checked_sub(POCKET_DAYS_KEPT) {
            self.notices
                .retain(|_, n| !n.delivered() || n.statement.day >= oldest);
        }
    }

    pub fn notice(&self, key: RequestNo) -> Option<&Notice> {
        self.notices.get(&key)
    }

    /// Every notice kept, delivered or not.
    pub fn notices(&self) -> impl Iterator<Item = &Notice> {
        self.notices.values()
    }

    pub(super) fn apply_payout_notice_set(&mut self, notice: &PayoutNotice) {
        if let Some(held) = self.payout_notices.get(&notice.key) {
            let newer = (notice.delivered(), notice.attempts) > (held.delivered(), held.attempts);
            if !newer {
                return;
            }
        }
        self.payout_notices.insert(notice.key, notice.clone());
        // Delivered ones leave once older than the days kept, as card statements do.
        let kept_ms = u64::from(POCKET_DAYS_KEPT) * super::DAY_MS;
        if let Some(oldest) = notice.created_at_ms.checked_sub(kept_ms) {
            self.payout_notices
                .retain(|_, n| !n.delivered() || n.created_at_ms >= oldest);
        }
    }

    pub fn payout_notice(&self, key: RequestNo) -> Option<&PayoutNotice> {
        self.payout_notices.get(&key)
    }

    /// Every payout notice kept, delivered or not.
    pub fn payout_notices(&self) -> impl Iterator<Item = &PayoutNotice> {
        self.payout_notices.values()
    }
}
