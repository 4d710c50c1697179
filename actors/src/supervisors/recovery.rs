//! Recovery and refunds: FAIL_TRY_AGAIN compensations (the steps the table marks
//! `retried_until_done`: recoveries, refunds, sale reversals) are retried with a
//! doubling backoff until they succeed, and steps a request owes whose entry could not be
//! created are created.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use futures::future::join_all;
use omnibus_core::request_log::{policy, Event};
use omnibus_core::saga::EntryId;

use super::{move_on, sum, BusyGuard, SupervisionReport};
use crate::saga::{drive, SagaRuntime};

/// The wait before retrying an entry that failed `failures` times.
pub fn backoff_ms(failures: u32, min_ms: u64, max_ms: u64) -> u64 {
    let doublings = failures.saturating_sub(1).min(40);
    min_ms.saturating_mul(1u64 << doublings).min(max_ms)
}

pub(super) async fn recovery_pass(
    flow: &Rc<SagaRuntime>,
    busy: &Rc<RefCell<HashSet<EntryId>>>,
) -> SupervisionReport {
    let now = flow.now_ms();
    let s = &flow.config().supervisor;
    let mut report = SupervisionReport::default();
    // Steps owed but never created (their hold was refused when they were due).
    for (customer, request_no) in flow.take_owed() {
        match flow.create_owed(customer, request_no) {
            Ok(Some((id, durable))) => {
                if matches!(durable.await, Ok(Ok(()))) {
                    report.owed_created += 1;
                    drive(flow.clone(), id, None).await;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(shard = flow.shard(), request = %request_no, error = %e, "owed step still cannot start");
                flow.put_owed((customer, request_no));
            }
        }
    }
    let candidates: Vec<EntryId> = {
        let books = flow.books();
        books
            .try_again_entries()
            .filter(|(updated_at, id)| {
                books.entry(*id).is_some_and(|e| {
                    policy(e.step).retried_until_done
                        && now
                            >= updated_at
                                + backoff_ms(
                                    e.failures,
                                    s.retry_backoff_min_ms,
                                    s.retry_backoff_max_ms,
                                )
                })
            })
            .map(|(_, id)| id)
            .take(s.batch_max as usize)
            .collect()
    };
    let work = candidates.into_iter().filter_map(|id| {
        let guard = BusyGuard::take(busy, id)?;
        let flow = flow.clone();
        Some(async move {
            let _guard = guard;
            let mut report = SupervisionReport::default();
            if move_on(&flow, id, Event::Retry, true).await {
                report.retried += 1;
            }
            report
        })
    });
    report.add(&sum(join_all(work).await));
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_backoff_doubles_up_to_its_maximum() {
        assert_eq!(backoff_ms(0, 1_000, 600_000), 1_000);
        assert_eq!(backoff_ms(1, 1_000, 600_000), 1_000);
        assert_eq!(backoff_ms(2, 1_000, 600_000), 2_000);
        assert_eq!(backoff_ms(5, 1_000, 600_000), 16_000);
        assert_eq!(backoff_ms(30, 1_000, 600_000), 600_000);
        assert_eq!(backoff_ms(u32::MAX, 1_000, 600_000), 600_000);
    }
}
