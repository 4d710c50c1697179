//! The statement supervisor (INSTRUMENTS.md §5.4, D-5.10; P7): with each sweep pass, from
//! 09:00 KST it makes the statement of the day before for every pocket of this shard
//! that moved that day (a `notice_set` record holding the statement as it is then), and
//! delivers every notice not yet delivered through the notification sink: each delivery
//! is put on record (its attempt counted) before the sink is asked, and marked delivered
//! once the sink took it. One the sink refuses is asked again after
//! `supervisor.retry_backoff_min_ms`, doubling up to `retry_backoff_max_ms`; a crash
//! between the record and the answer asks again after the restart (the sink is
//! idempotent by the notice's key). Days missed while the engine was down are made as
//! long as the books keep them (`POCKET_DAYS_KEPT`).

use std::cell::RefCell;
use std::rc::Rc;

use omnibus_core::ledger::POCKET_DAYS_KEPT;
use omnibus_core::payments::kst::kst_day;
use omnibus_core::payments::payout_notice::PayoutNotice;
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::statement::{statement_due_ms, statement_key, Notice};
use omnibus_core::RequestNo;

use crate::ledger::{Admission, ShardLedger};
use crate::rails::{NoticeMessage, Recipient};
use crate::saga::SagaRuntime;

/// Makes the statements due and delivers what is owed; answers how many were delivered.
pub async fn statement_pass(flow: &Rc<SagaRuntime>, ledger: &Rc<RefCell<ShardLedger>>) -> u64 {
    let now = flow.now_ms();
    let today = kst_day(now);
    let made: Vec<Notice> = {
        let books = flow.books();
        (today.saturating_sub(POCKET_DAYS_KEPT)..today)
            .filter(|day| now >= statement_due_ms(*day))
            .flat_map(|day| books.pocket_days_on(day))
            // Only the days with no notice yet are copied: the others were made before.
            .filter_map(|d| {
                let key = statement_key(d.customer, d.card, d.day);
                books.notice(key).is_none().then_some((key, d))
            })
            .map(|(key, d)| {
                let last4 = books
                    .card(d.customer, d.card)
                    .map(|c| c.card.last4)
                    .unwrap_or(*b"????");
                Notice {
                    key,
                    last4,
                    statement: d.clone(),
                    created_at_ms: now,
                    attempts: 0,
                    last_attempt_ms: 0,
                    delivered_at_ms: 0,
                }
            })
            .collect()
    };
    for notice in made {
        if !write(flow, ledger, LedgerRecord::NoticeSet { notice }) {
            return 0;
        }
    }
    deliver(flow, ledger, now, |books| {
        books.notices().cloned().collect()
    })
    .await
}

/// Delivers the payouts' settlement statements not delivered yet (INSTRUMENTS.md §6.6;
/// made by the payout supervisor as each payout starts), as card statements are
/// delivered; answers how many were.
pub async fn payout_notice_pass(flow: &Rc<SagaRuntime>, ledger: &Rc<RefCell<ShardLedger>>) -> u64 {
    let now = flow.now_ms();
    deliver(flow, ledger, now, |books| {
        books.payout_notices().cloned().collect()
    })
    .await
}

/// A notice the sink delivers, with its delivery on record.
trait SinkNotice: Clone {
    fn key(&self) -> RequestNo;
    fn attempts(&self) -> u32;
    fn last_attempt_ms(&self) -> u64;
    fn delivered(&self) -> bool;
    /// The notice with one more attempt, made at `now`.
    fn attempted(self, now: u64) -> Self;
    /// The notice delivered at `now`.
    fn delivered_at(self, now: u64) -> Self;
    fn record(self) -> LedgerRecord;
    fn message(&self) -> NoticeMessage;
}

impl SinkNotice for Notice {
    fn key(&self) -> RequestNo {
        self.key
    }
    fn attempts(&self) -> u32 {
        self.attempts
    }
    fn last_attempt_ms(&self) -> u64 {
        self.last_attempt_ms
    }
    fn delivered(&self) -> bool {
        Notice::delivered(self)
    }
    fn attempted(self, now: u64) -> Self {
        Notice {
            attempts: self.attempts + 1,
            last_attempt_ms: now,
            ..self
        }
    }
    fn delivered_at(self, now: u64) -> Self {
        Notice {
            delivered_at_ms: now.max(1),
            ..self
        }
    }
    fn record(self) -> LedgerRecord {
        LedgerRecord::NoticeSet { notice: self }
    }
    fn message(&self) -> NoticeMessage {
        NoticeMessage {
            key: self.key,
            to: Recipient::Customer(self.statement.customer),
            text: self.text(),
        }
    }
}

impl SinkNotice for PayoutNotice {
    fn key(&self) -> RequestNo {
        self.key
    }
    fn attempts(&self) -> u32 {
        self.attempts
    }
    fn last_attempt_ms(&self) -> u64 {
        self.last_attempt_ms
    }
    fn delivered(&self) -> bool {
        PayoutNotice::delivered(self)
    }
    fn attempted(self, now: u64) -> Self {
        PayoutNotice {
            attempts: self.attempts + 1,
            last_attempt_ms: now,
            ..self
        }
    }
    fn delivered_at(self, now: u64) -> Self {
        PayoutNotice {
            delivered_at_ms: now.max(1),
            ..self
        }
    }
    fn record(self) -> LedgerRecord {
        LedgerRecord::PayoutNoticeSet { notice: self }
    }
    fn message(&self) -> NoticeMessage {
        NoticeMessage {
            key: self.key,
            to: Recipient::Merchant(self.merchant),
            text: self.text(),
        }
    }
}

/// Delivers the notices `kept` lists that are not delivered and whose backoff is over,
/// at most `payments.notices_per_pass_max`: each attempt on record (and durable) before
/// the sink is asked, each delivery on record once the sink took it.
async fn deliver<N: SinkNotice>(
    flow: &Rc<SagaRuntime>,
    ledger: &Rc<RefCell<ShardLedger>>,
    now: u64,
    kept: impl FnOnce(&omnibus_core::ledger::ShardBooks) -> Vec<N>,
) -> u64 {
    let s = &flow.config().supervisor;
    let (min, max) = (s.retry_backoff_min_ms, s.retry_backoff_max_ms);
    let due: Vec<N> = kept(&flow.books())
        .into_iter()
        .filter(|n| !n.delivered())
        .filter(|n| {
            let wait = min
                .saturating_mul(1 << n.attempts().saturating_sub(1).min(20))
                .min(max);
            n.attempts() == 0 || now >= n.last_attempt_ms().saturating_add(wait)
        })
        .take(flow.config().payments.notices_per_pass_max as usize)
        .collect();
    let mut delivered = 0;
    for notice in due {
        let attempt = notice.attempted(now);
        // On record before the sink is asked.
        if !write(flow, ledger, attempt.clone().record())
            || !matches!(flow.durable().await, Ok(Ok(())))
        {
            return delivered;
        }
        match flow.rails().notifier.send(attempt.message()).await {
            Ok(()) => {
                let done = attempt.delivered_at(flow.now_ms());
                if write(flow, ledger, done.record()) {
                    delivered += 1;
                }
            }
            Err(e) => {
                tracing::warn!(shard = flow.shard(), notice = %attempt.key(), attempts = attempt.attempts(), error = %e, "notice not delivered; asked again later")
            }
        }
    }
    delivered
}

/// Puts a notice's record on record (durable with the next group); `false` if the shard
/// cannot take it now (tried again at the next pass).
pub(super) fn write(
    flow: &SagaRuntime,
    ledger: &RefCell<ShardLedger>,
    record: LedgerRecord,
) -> bool {
    let mut ledger = ledger.borrow_mut();
    let written = ledger
        .admit(1, Admission::New)
        .and_then(|()| ledger.execute_unwaited(ActorId::Shard, &record).map(|_| ()));
    if let Err(e) = written {
        tracing::warn!(shard = flow.shard(), error = %e, "notice not written; tried again at the next pass");
        return false;
    }
    true
}
