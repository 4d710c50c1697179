//! Settled requests on their way out of memory (issue 13): the books note each request
//! as it becomes settled (answered, or the house's own; every entry final; nothing owed),
//! oldest first; the shard takes them in batches for the archive and, once the archive
//! holds them durably, evicts them. Eviction is not a record: what the books forget this
//! way is the archive's to answer from then on (`docs/archive.md`), and a replay that
//! finds them in memory again simply archives them again (a settled request never
//! changes, so the copies agree).

use std::collections::{HashSet, VecDeque};

use super::{LogEntry, Lsn, RequestState, ShardBooks};
use crate::ids::{CustomerId, RequestNo};

/// A request's key in the books.
pub type RequestKey = (CustomerId, RequestNo);

/// The settled requests still in memory, in the order they settled.
#[derive(Clone, Debug, Default)]
pub struct SettledQueue {
    /// Each with the LSN of the record that settled it: only what the log holds durably
    /// may go to the archive, or a crash could leave the archive knowing an answer the
    /// log does not.
    order: VecDeque<(Lsn, RequestKey)>,
    noted: HashSet<RequestKey>,
    /// The LSN of the record being applied.
    pub(super) applying: Lsn,
}

impl ShardBooks {
    /// Notes a request if it is settled now; a request is noted once.
    pub(super) fn note_if_settled(&mut self, key: &RequestKey) {
        if self.settled_queue.noted.contains(key) {
            return;
        }
        let Some(request) = self.requests.get(key) else {
            return;
        };
        if self.settled(request) {
            // No step is left to write, so nothing needs what it named.
            self.named.remove(key);
            self.settled_queue.noted.insert(*key);
            let lsn = self.settled_queue.applying.max(self.last_lsn);
            self.settled_queue.order.push_back((lsn, *key));
        }
    }

    /// Notes every settled request, oldest acceptance first (after a snapshot's load).
    pub(super) fn note_all_settled(&mut self) {
        let mut keys: Vec<(u64, RequestKey)> = self
            .requests
            .iter()
            .map(|(k, r)| (r.accepted.at_ms, *k))
            .collect();
        keys.sort_unstable();
        for (_, key) in keys {
            self.note_if_settled(&key);
        }
    }

    /// How many settled requests are in memory.
    pub fn settled_in_memory(&self) -> usize {
        self.settled_queue.noted.len()
    }

    /// The oldest settled requests still in memory, at most `max`, settled by records up
    /// to `durable_lsn`, with their entries, for the archive. They stay in memory (and
    /// noted) until [`ShardBooks::evict`].
    pub fn oldest_settled(
        &self,
        max: usize,
        durable_lsn: Lsn,
    ) -> Vec<(&RequestState, Vec<LogEntry>)> {
        self.settled_queue
            .order
            .iter()
            .take_while(|(lsn, _)| *lsn <= durable_lsn)
            .map(|(_, key)| key)
            .filter(|key| self.settled_queue.noted.contains(key))
            .take(max)
            .filter_map(|key| self.requests.get(key))
            .map(|request| (request, self.request_entries(request)))
            .collect()
    }

    /// Forgets settled requests the archive now holds durably: the request, its entries
    /// and its place in the indexes. Not a record (see the module doc).
    pub fn evict(&mut self, keys: &[RequestKey]) {
        self.forget(keys.to_vec());
    }

    /// Drops a forgotten request from the queue (lazily: from its order once it reaches
    /// the front).
    pub(super) fn unnote(&mut self, key: &RequestKey) {
        let queue = &mut self.settled_queue;
        queue.noted.remove(key);
        while queue
            .order
            .front()
            .is_some_and(|(_, k)| !queue.noted.contains(k))
        {
            queue.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ids::RequestNo;
    use crate::ledger::fixtures::{answered_failed, charge_accepted, one_customer_books, plan};
    use crate::ledger::ShardBooks;
    use crate::request::RequestDate;

    /// A request answered failed before any call is settled at once: noted with the LSN
    /// of its answer, offered to the archive only once that LSN is durable, and gone from
    /// memory (with its indexes) once evicted; a snapshot notes what it holds again.
    #[test]
    fn a_settled_request_is_offered_once_durable_and_leaves_memory_when_evicted() {
        let (mut books, c, mut next) = one_customer_books();
        let no = |n: &str| RequestNo::new(n).unwrap();
        let date = RequestDate::from_ymd(2026, 11, 30).unwrap();
        for (i, n) in ["A", "B", "OPEN"].into_iter().enumerate() {
            next(&mut books, charge_accepted(c, n, date, 1 + i as u64)).unwrap();
        }
        assert_eq!(books.settled_in_memory(), 0);
        let answered_at = books.last_lsn() + 1;
        for n in ["A", "B"] {
            next(&mut books, answered_failed(c, n, 9)).unwrap();
        }
        assert_eq!(books.settled_in_memory(), 2);
        assert!(
            books.oldest_settled(10, answered_at - 1).is_empty(),
            "not durable yet"
        );
        let offered: Vec<_> = books
            .oldest_settled(10, answered_at)
            .iter()
            .map(|(r, _)| r.accepted.request_no)
            .collect();
        assert_eq!(offered, vec![no("A")], "only what durable records settled");
        assert_eq!(books.oldest_settled(10, books.last_lsn()).len(), 2);
        let restored = ShardBooks::from_snapshot(plan(1), books.snapshot()).unwrap();
        assert_eq!(restored.settled_in_memory(), 2);
        books.evict(&[(c, no("A"))]);
        assert!(books.request(c, no("A")).is_none());
        assert_eq!(books.settled_in_memory(), 1);
        assert_eq!(books.oldest_settled(10, books.last_lsn()).len(), 1);
        assert!(books.request(c, no("OPEN")).is_some(), "open requests stay");
        // A forgotten request leaves the queue too.
        books.evict(&[(c, no("B"))]);
        assert_eq!(books.settled_in_memory(), 0);
        assert!(books.oldest_settled(10, books.last_lsn()).is_empty());
    }
}
