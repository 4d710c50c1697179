//! Reprocessing (FIG. 15): FAIL_TRY_AGAIN charge credits, after S112 (the last attempt
//! was not executed after all), S113 (the subscription is valid) and S114 (failures in
//! bounds); a failed check gives up, and giving up refunds the linked account.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use futures::future::join_all;
use omnibus_core::request_log::{EntryState, Event, Step};
use omnibus_core::saga::EntryId;

use super::{move_on, sum, BusyGuard, SupervisionReport};
use crate::rails::Confirmation;
use crate::saga::SagaRuntime;

pub(super) async fn reprocess_pass(
    flow: &Rc<SagaRuntime>,
    busy: &Rc<RefCell<HashSet<EntryId>>>,
) -> SupervisionReport {
    let s = &flow.config().supervisor;
    let candidates: Vec<EntryId> = {
        let books = flow.books();
        books
            .try_again_entries()
            .filter(|(_, id)| {
                books
                    .entry(*id)
                    .is_some_and(|e| e.step == Step::ChargeCredit)
            })
            .map(|(_, id)| id)
            .take(s.batch_max as usize)
            .collect()
    };
    let max_failures = s.reprocess_failures_max;
    let work = candidates.into_iter().filter_map(|id| {
        let guard = BusyGuard::take(busy, id)?;
        let flow = flow.clone();
        Some(async move {
            let _guard = guard;
            let mut report = SupervisionReport::default();
            let Some(entry) = flow.books().entry(id).copied() else {
                return report;
            };
            if entry.state != EntryState::FailTryAgain {
                return report;
            }
            // S112: no double payment. The last attempt was refused or confirmed not
            // executed; ask once more, by its id, before paying again.
            match flow.confirm(id, entry.step, entry.attempt).await {
                None => return report,
                Some(Confirmation::Executed) => {
                    if move_on(&flow, id, Event::FoundDone, false).await {
                        report.found_done += 1;
                    }
                    return report;
                }
                Some(Confirmation::NotExecuted) => {}
            }
            // S113: the securities subscription is still valid (the house has none: its
            // credits, a deposit's in modes B and C, are the company's own); S114:
            // failures in bounds.
            let subscription_valid = entry.customer == omnibus_core::saga::HOUSE
                || flow
                    .books()
                    .customer(entry.customer)
                    .is_some_and(|c| c.subscription_valid);
            if !subscription_valid || entry.failures > max_failures {
                tracing::info!(
                    shard = flow.shard(),
                    entry = %id,
                    subscription_valid,
                    failures = entry.failures,
                    "a credit failed for good; its instrument says what follows (a charge's refund, a deposit's redirect to suspense)"
                );
                if move_on(&flow, id, Event::GiveUp, false).await {
                    report.gave_up += 1;
                }
                return report;
            }
            if move_on(&flow, id, Event::Retry, true).await {
                report.reprocessed += 1;
            }
            report
        })
    });
    sum(join_all(work).await)
}
