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
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::statement::{statement_due_ms, statement_key, Notice};

use crate::ledger::{Admission, ShardLedger};
use crate::rails::NoticeMessage;
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
        if !write(flow, ledger, notice) {
            return 0;
        }
    }
    let s = &flow.config().supervisor;
    let (min, max) = (s.retry_backoff_min_ms, s.retry_backoff_max_ms);
    let due: Vec<Notice> = flow
        .books()
        .notices()
        .filter(|n| !n.delivered())
        .filter(|n| {
            let wait = min
                .saturating_mul(1 << n.attempts.saturating_sub(1).min(20))
                .min(max);
            n.attempts == 0 || now >= n.last_attempt_ms.saturating_add(wait)
        })
        .take(flow.config().payments.notices_per_pass_max as usize)
        .cloned()
        .collect();
    let mut delivered = 0;
    for notice in due {
        let attempt = Notice {
            attempts: notice.attempts + 1,
            last_attempt_ms: now,
            ..notice
        };
        // On record before the sink is asked.
        if !write(flow, ledger, attempt.clone()) || !matches!(flow.durable().await, Ok(Ok(()))) {
            return delivered;
        }
        let message = NoticeMessage {
            key: attempt.key,
            customer: attempt.statement.customer,
            text: attempt.text(),
        };
        match flow.rails().notifier.send(message).await {
            Ok(()) => {
                let done = Notice {
                    delivered_at_ms: flow.now_ms().max(1),
                    ..attempt
                };
                if write(flow, ledger, done) {
                    delivered += 1;
                }
            }
            Err(e) => {
                tracing::warn!(shard = flow.shard(), notice = %attempt.key, attempts = attempt.attempts, error = %e, "statement not delivered; asked again later")
            }
        }
    }
    delivered
}

/// Puts a notice on record (durable with the next group); `false` if the shard cannot
/// take it now (tried again at the next pass).
fn write(flow: &SagaRuntime, ledger: &RefCell<ShardLedger>, notice: Notice) -> bool {
    let key = notice.key;
    let mut ledger = ledger.borrow_mut();
    let written = ledger.admit(1, Admission::New).and_then(|()| {
        ledger
            .execute_unwaited(ActorId::Shard, &LedgerRecord::NoticeSet { notice })
            .map(|_| ())
    });
    if let Err(e) = written {
        tracing::warn!(shard = flow.shard(), notice = %key, error = %e, "statement notice not written; tried again at the next pass");
        return false;
    }
    true
}
