//! The non-reflected search (seed FIG. 13, 14): entries REQUESTED past
//! `supervisor.requested_max_age_ms` are a timeout; UNKNOWN entries old enough to have had
//! their late answer are confirmed with their rail, by request id, and moved on.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use futures::future::join_all;
use omnibus_core::request_log::{EntryState, Event};
use omnibus_core::saga::EntryId;

use super::{move_on, sum, BusyGuard, SupervisionReport};
use crate::rails::Confirmation;
use crate::saga::{advance_when_room, SagaRuntime};

pub(super) async fn confirm_pass(
    flow: &Rc<SagaRuntime>,
    busy: &Rc<RefCell<HashSet<EntryId>>>,
) -> SupervisionReport {
    let now = flow.now_ms();
    let s = &flow.config().supervisor;
    // Entries REQUESTED for longer than any call can take lost their live flow: they are
    // a timeout (UNKNOWN, the caller told what the timeout tells if nobody was), and are
    // confirmed below like any other.
    let stale: Vec<EntryId> = flow
        .books()
        .requested_entries()
        .take_while(|(at, _)| now.saturating_sub(*at) >= s.requested_max_age_ms)
        .map(|(_, id)| id)
        .take(s.batch_max as usize)
        .collect();
    let mut timed_out = 0;
    for id in stale {
        let Some(_guard) = BusyGuard::take(busy, id) else {
            continue;
        };
        tracing::warn!(shard = flow.shard(), entry = %id, "an entry REQUESTED past supervisor.requested_max_age_ms is treated as a timeout");
        if advance_when_room(flow, id, Event::TimedOut).await.is_some() {
            timed_out += 1;
        }
    }
    let candidates: Vec<(EntryId, bool)> = flow
        .books()
        .unknown_entries()
        .filter(|(at, _)| now.saturating_sub(*at) >= s.window_min_age_ms)
        .map(|(at, id)| (id, now.saturating_sub(at) > s.window_max_age_ms))
        .take(s.batch_max as usize)
        .collect();
    let work = candidates.into_iter().filter_map(|(id, overdue)| {
        let guard = BusyGuard::take(busy, id)?;
        let flow = flow.clone();
        Some(async move {
            let _guard = guard;
            let mut report = SupervisionReport {
                overdue: u64::from(overdue),
                ..SupervisionReport::default()
            };
            let Some(entry) = flow.books().entry(id).copied() else {
                return report;
            };
            if entry.state != EntryState::Unknown {
                return report;
            }
            match flow.confirm(id, entry.step, entry.attempt).await {
                Some(Confirmation::Executed) => {
                    if move_on(&flow, id, Event::ConfirmedDone, false).await {
                        report.confirmed_done += 1;
                    }
                }
                Some(Confirmation::NotExecuted) => {
                    if move_on(&flow, id, Event::ConfirmedNotDone, false).await {
                        report.confirmed_not_done += 1;
                    }
                }
                None => report.confirm_unanswered += 1,
            }
            report
        })
    });
    let mut report = sum(join_all(work).await);
    report.stale_requested += timed_out;
    report
}
