//! Forgetting settled requests, by the two retention rules: `Pruned` (by the client's
//! request date, in old logs) and `Forgotten` (by the engine's acceptance time, through the
//! index of requests by day).

use super::{owed_compensation, owed_step, RequestState, ShardBooks};
use crate::ids::{CustomerId, RequestNo};
use crate::instruments;

/// A day in milliseconds: requests are indexed (and archived) by the Unix day the engine
/// accepted them.
pub const DAY_MS: u64 = 86_400_000;

/// The acceptance time before which the daily prune at `now_ms` forgets settled requests
/// (and the payouts' index with them), for a retention of `retention_days`: whole days,
/// so that it runs once a day and every shard forgets alike; 0 while nothing is that old.
/// Whatever the engine accepted at or after it is still on record.
pub fn forgotten_before_ms(now_ms: u64, retention_days: u32) -> u64 {
    now_ms.saturating_sub(u64::from(retention_days) * DAY_MS) / DAY_MS * DAY_MS
}

impl ShardBooks {
    /// Whether a request is settled: answered (or the house's own), every entry final,
    /// nothing owed.
    pub(super) fn settled(&self, request: &RequestState) -> bool {
        // The cheap test first: this runs on every answer and every final entry event.
        if request.answer.is_none() && !instruments::of(request.accepted.kind).is_house() {
            return false;
        }
        let entries = self.request_entries(request);
        entries.iter().all(|e| e.state.is_final())
            && owed_step(&request.accepted, request.answer.map(|a| a.told), &entries).is_none()
    }

    /// The requests a `Forgotten { accepted_before_ms }` record forgets: accepted by the
    /// engine before that time, and settled.
    pub fn forgettable(&self, accepted_before_ms: u64) -> Vec<(CustomerId, RequestNo)> {
        let days_before = accepted_before_ms.div_ceil(DAY_MS);
        let mut keys: Vec<(CustomerId, RequestNo)> = self
            .by_day
            .iter()
            .take_while(|(day, ..)| *day < days_before)
            .map(|(_, customer, request_no)| (*customer, *request_no))
            .filter_map(|key| self.requests.get(&key).map(|r| (key, r)))
            .filter(|(_, r)| r.accepted.at_ms < accepted_before_ms && self.settled(r))
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys
    }

    /// The requests a `Pruned { before }` record (the first retention rule, by the
    /// client's request date) forgets: of a request date before `before`, answered (or the
    /// house's own), every entry final, and no compensation owed. Only old logs hold such
    /// records, so this scans every request rather than keeping an index for them.
    pub fn prunable(&self, before: crate::request::RequestDate) -> Vec<(CustomerId, RequestNo)> {
        let mut keys: Vec<(CustomerId, RequestNo)> = self
            .requests
            .iter()
            .filter(|(_, r)| {
                let entries = self.request_entries(r);
                r.accepted.request_date < before
                    && (r.answer.is_some() || instruments::of(r.accepted.kind).is_house())
                    && entries.iter().all(|e| e.state.is_final())
                    && owed_compensation(&entries).is_none()
            })
            .map(|(k, _)| *k)
            .collect();
        keys.sort();
        keys
    }

    pub(super) fn forget(&mut self, keys: Vec<(CustomerId, RequestNo)>) {
        for key in keys {
            self.unnote(&key);
            if let Some(request) = self.requests.remove(&key) {
                self.by_day
                    .remove(&(request.accepted.at_ms / DAY_MS, key.0, key.1));
                for id in request.entries {
                    if let Some(entry) = self.entries.remove(&id) {
                        debug_assert!(entry.state.is_final());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ids::RequestNo;
    use crate::ledger::fixtures::{answered_failed, charge_accepted, one_customer_books, plan};
    use crate::ledger::ShardBooks;
    use crate::record::LedgerRecord;

    /// The daily prune forgets settled requests older than its date and keeps the rest
    /// (open ones, newer ones); it finds them through the date index, which a snapshot
    /// rebuilds.
    #[test]
    fn prune_forgets_only_settled_requests_older_than_its_date() {
        use crate::request::RequestDate;
        let (mut books, c, mut next) = one_customer_books();
        let date = |d: u32| RequestDate::from_ymd(2026, 11, d).unwrap();
        let no = |n: &str| RequestNo::new(n).unwrap();
        for (request_no, day, answered) in [
            ("OLD-SETTLED", 1, true),
            ("OLD-OPEN", 1, false),
            ("MID-SETTLED", 10, true),
            ("NEW-SETTLED", 21, true),
        ] {
            next(&mut books, charge_accepted(c, request_no, date(day), 1)).unwrap();
            if answered {
                next(&mut books, answered_failed(c, request_no, 2)).unwrap();
            }
        }
        let key = |n: &str| (c, no(n));
        let mut expected = vec![key("OLD-SETTLED"), key("MID-SETTLED")];
        expected.sort();
        assert_eq!(books.prunable(date(15)), expected);
        next(&mut books, LedgerRecord::Pruned { before: date(15) }).unwrap();
        assert!(books.request(c, no("OLD-SETTLED")).is_none());
        assert!(books.request(c, no("MID-SETTLED")).is_none());
        assert!(books.request(c, no("OLD-OPEN")).is_some());
        assert!(books.prunable(date(15)).is_empty());
        let restored = ShardBooks::from_snapshot(plan(1), books.snapshot()).unwrap();
        assert!(restored.prunable(date(15)).is_empty());
        assert_eq!(restored.prunable(date(22)), vec![key("NEW-SETTLED")]);
    }
}
