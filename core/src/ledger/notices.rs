//! The notices for the notification sink, as a shard's books keep them (INSTRUMENTS.md
//! §5.7 `statement_log`): each card's next-day statement, by key, with its delivery.
//! One `notice_set` record per change carries the whole notice; applying one keeps the
//! one with more attempts or a delivery, so a repeat or a late copy changes nothing.
//! Delivered notices older than [`super::POCKET_DAYS_KEPT`] days leave as newer ones
//! come; in snapshots from version 6.

use std::collections::BTreeMap;

use super::{ShardBooks, POCKET_DAYS_KEPT};
use crate::ids::RequestNo;
use crate::statement::Notice;

pub type Notices = BTreeMap<RequestNo, Notice>;

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
}
