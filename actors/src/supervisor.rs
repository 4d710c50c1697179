//! The supervisors (SPEC §5): timers that move every open request-log entry to a final
//! state and make sure no won is lost.
//!
//! - **Non-reflected search** (seed FIG. 13, 14): UNKNOWN entries old enough to have had
//!   their late answer (`window_min_age_ms`) are confirmed with their rail, by request id,
//!   and moved on exactly as the SPEC §4 table says. Entries older than the window
//!   (`window_max_age_ms`) are confirmed too, and counted as overdue.
//! - **Reprocessing** (FIG. 15): FAIL_TRY_AGAIN charge credits, after S112 (confirm the last
//!   attempt was not executed after all: no double payment), S113 (the securities
//!   subscription is valid) and S114 (failures within `reprocess_failures_max`); a failed
//!   check gives up, and giving up refunds the linked account.
//! - **Recovery and refunds**: FAIL_TRY_AGAIN recoveries and refunds are retried, with a
//!   backoff doubling from `retry_backoff_min_ms` to `retry_backoff_max_ms`, until they
//!   succeed; steps a request owes but whose entry could not be created are created.
//! - **Sweeps**: see `sweep.rs`; besides their timer they run on demand, when a parent
//!   slice leaves its band.
//!
//! Every action a supervisor takes is a record in the WAL before the outside call it
//! leads to (a confirmation's event, a retry's new REQUESTED attempt, a recovery's entry),
//! so a crash in the middle of a supervisor step leaves an entry that the next pass, after
//! the restart, finishes correctly.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context, Handler, Message};
use futures::future::join_all;
use omnibus_core::flow::EntryId;
use omnibus_core::request_log::{EntryState, Event, Step};
use tokio::sync::oneshot;

use crate::flow::{advance_when_room, drive, FlowContext, Moved};
use crate::rails::{Confirmation, RailRequestId};

/// What one pass of the supervisors did, summed over shards by the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SupervisionReport {
    /// UNKNOWN entries confirmed executed / not executed.
    pub confirmed_done: u64,
    pub confirmed_not_done: u64,
    /// Confirm inquiries that got no answer (retried next pass).
    pub confirm_unanswered: u64,
    /// UNKNOWN entries older than the window when confirmed.
    pub overdue: u64,
    /// REQUESTED entries past `supervisor.requested_max_age_ms`, treated as timeouts.
    pub stale_requested: u64,
    /// Charge credits re-run (S115), found already done (S112), given up (S113, S114).
    pub reprocessed: u64,
    pub found_done: u64,
    pub gave_up: u64,
    /// Recoveries and refunds retried, and owed entries created.
    pub retried: u64,
    pub owed_created: u64,
    /// Sweep and rebalancing postings made.
    pub sweeps: u64,
    /// Settled requests forgotten past the idempotency window.
    pub pruned: u64,
    /// Open entries left after the pass, by state.
    pub open_requested: u64,
    pub open_unknown: u64,
    pub open_try_again: u64,
    /// Requests still owing a step whose entry could not be created.
    pub owed: u64,
}

impl SupervisionReport {
    pub fn add(&mut self, other: &SupervisionReport) {
        self.confirmed_done += other.confirmed_done;
        self.confirmed_not_done += other.confirmed_not_done;
        self.confirm_unanswered += other.confirm_unanswered;
        self.overdue += other.overdue;
        self.stale_requested += other.stale_requested;
        self.reprocessed += other.reprocessed;
        self.found_done += other.found_done;
        self.gave_up += other.gave_up;
        self.retried += other.retried;
        self.owed_created += other.owed_created;
        self.sweeps += other.sweeps;
        self.pruned += other.pruned;
        self.open_requested += other.open_requested;
        self.open_unknown += other.open_unknown;
        self.open_try_again += other.open_try_again;
        self.owed += other.owed;
    }

    /// Whether the pass did anything at all.
    pub fn acted(&self) -> bool {
        self.confirmed_done
            + self.confirmed_not_done
            + self.reprocessed
            + self.found_done
            + self.gave_up
            + self.retried
            + self.owed_created
            + self.sweeps
            + self.stale_requested
            > 0
    }

    /// Whether every entry is final and nothing is owed.
    pub fn settled(&self) -> bool {
        self.open_requested + self.open_unknown + self.open_try_again + self.owed == 0
    }
}

/// The shard's supervisors.
pub struct SupervisorActor {
    flow: Rc<FlowContext>,
    /// Entries a pass is working on, so two passes never act on one entry at once.
    busy: Rc<RefCell<HashSet<EntryId>>>,
    running: Rc<Passes>,
}

/// Which passes are running: each kind runs at most once at a time. A sweep pass asked
/// for while another runs (by the timer, on demand, by `SuperviseNow`) waits for it and
/// then runs, rather than being skipped: what it was asked for may be after the other
/// pass planned.
#[derive(Default)]
struct Passes {
    confirm: Cell<bool>,
    reprocess: Cell<bool>,
    recovery: Cell<bool>,
    sweep: tokio::sync::Mutex<()>,
}

impl SupervisorActor {
    pub fn new(flow: Rc<FlowContext>) -> Self {
        Self {
            flow,
            busy: Rc::default(),
            running: Rc::default(),
        }
    }
}

#[derive(Clone, Copy)]
enum Pass {
    Confirm,
    Reprocess,
    Recovery,
    Sweep,
}

impl Passes {
    /// The running flag of a pass other than the sweep (which has its lock).
    fn flag(&self, pass: Pass) -> &Cell<bool> {
        match pass {
            Pass::Confirm => &self.confirm,
            Pass::Reprocess => &self.reprocess,
            Pass::Recovery => &self.recovery,
            Pass::Sweep => unreachable!("the sweep pass has its lock, not a flag"),
        }
    }
}

/// Runs one pass of `pass` unless one is already running.
async fn run_pass(
    flow: Rc<FlowContext>,
    busy: Rc<RefCell<HashSet<EntryId>>>,
    running: Rc<Passes>,
    pass: Pass,
) -> SupervisionReport {
    if let Pass::Sweep = pass {
        let _one_at_a_time = running.sweep.lock().await;
        let mut report = crate::sweep::sweep_pass(&flow).await;
        report.pruned = flow.prune().await;
        return report;
    }
    if running.flag(pass).replace(true) {
        return SupervisionReport::default();
    }
    let report = match pass {
        Pass::Confirm => confirm_pass(&flow, &busy).await,
        Pass::Reprocess => reprocess_pass(&flow, &busy).await,
        Pass::Recovery => recovery_pass(&flow, &busy).await,
        Pass::Sweep => unreachable!("the sweep pass returned above"),
    };
    running.flag(pass).set(false);
    report
}

/// Sweep passes raised on demand (`supervisor.refill_on_demand`, see `sweep.rs`): one
/// each time the shard's refill trigger is raised, at least `supervisor.refill_min_gap_ms`
/// apart. A slice still below its low mark afterwards (collection could not refill it)
/// asks the engine's `Balancer` for money from other shards' slices.
async fn refill_on_demand(flow: Rc<FlowContext>, running: Rc<Passes>) {
    let gap = Duration::from_millis(flow.config.supervisor.refill_min_gap_ms);
    loop {
        flow.refill.wanted().await;
        let report = {
            let _one_at_a_time = running.sweep.lock().await;
            crate::sweep::sweep_pass(&flow).await
        };
        if report.sweeps > 0 {
            tracing::debug!(
                shard = flow.shard,
                sweeps = report.sweeps,
                "parent slices refilled on demand"
            );
        }
        if crate::sweep::below_low_mark(&flow) {
            flow.refill.raise_balancer();
        }
        tokio::time::sleep(gap).await;
    }
}

impl Actor for SupervisorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let s = self.flow.config.supervisor.clone();
        for (pass, every_ms) in [
            (Pass::Confirm, s.non_reflected_interval_ms),
            (Pass::Reprocess, s.reprocess_interval_ms),
            (Pass::Recovery, s.recovery_interval_ms),
            (Pass::Sweep, s.sweep_interval_ms),
        ] {
            ctx.run_interval(Duration::from_millis(every_ms), move |actor, _| {
                let (flow, busy, running) = (
                    actor.flow.clone(),
                    actor.busy.clone(),
                    actor.running.clone(),
                );
                actix::spawn(async move {
                    let report = run_pass(flow, busy, running, pass).await;
                    if report.overdue > 0 {
                        tracing::warn!(
                            overdue = report.overdue,
                            "UNKNOWN entries older than the supervisor window were confirmed"
                        );
                    }
                });
            });
        }
        if self.flow.refill.enabled() {
            let on_demand = refill_on_demand(self.flow.clone(), self.running.clone());
            ctx.spawn(actix::fut::wrap_future::<_, Self>(on_demand));
        }
    }
}

/// Run every pass once, now, and answer when their work has settled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SuperviseNow {
    pub reply: oneshot::Sender<SupervisionReport>,
}

impl Handler<SuperviseNow> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: SuperviseNow, _: &mut Context<Self>) {
        let (flow, busy, running) = (self.flow.clone(), self.busy.clone(), self.running.clone());
        actix::spawn(async move {
            let mut report = SupervisionReport::default();
            // In order: confirmations first (they settle what the others depend on).
            for pass in [Pass::Confirm, Pass::Reprocess, Pass::Recovery, Pass::Sweep] {
                let r = run_pass(flow.clone(), busy.clone(), running.clone(), pass).await;
                report.add(&r);
            }
            let ledger = flow.ledger.borrow();
            let (requested, unknown, try_again) = ledger.books().open_entry_counts();
            report.open_requested = requested as u64;
            report.open_unknown = unknown as u64;
            report.open_try_again = try_again as u64;
            report.owed = flow.owed_count(ledger.books()) as u64;
            let _ = msg.reply.send(report);
        });
    }
}

/// Marks an entry busy for the life of the guard.
struct BusyGuard {
    busy: Rc<RefCell<HashSet<EntryId>>>,
    id: EntryId,
}

impl BusyGuard {
    fn take(busy: &Rc<RefCell<HashSet<EntryId>>>, id: EntryId) -> Option<BusyGuard> {
        busy.borrow_mut().insert(id).then(|| BusyGuard {
            busy: busy.clone(),
            id,
        })
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.busy.borrow_mut().remove(&self.id);
    }
}

/// Asks the entry's rail whether this exact request id was executed.
async fn confirm(
    flow: &Rc<FlowContext>,
    id: EntryId,
    step: Step,
    attempt: u32,
) -> Option<Confirmation> {
    let rail_id = RailRequestId {
        entry: id.0,
        attempt,
    };
    let (inquiry, timeout) = flow.confirm_inquiry(step, rail_id);
    match tokio::time::timeout(timeout, inquiry).await {
        Ok(Ok(answer)) => Some(answer),
        Ok(Err(e)) => {
            tracing::debug!(shard = flow.shard, entry = %id, error = %e, "confirm inquiry unanswered");
            None
        }
        Err(_) => None,
    }
}

/// Applies `event` and drives whatever follows, until nothing follows live.
async fn move_on(
    flow: &Rc<FlowContext>,
    id: EntryId,
    event: Event,
    drive_entry_itself: bool,
) -> bool {
    let Some(Moved { next, durable, .. }) = advance_when_room(flow, id, event).await else {
        return false;
    };
    if !matches!(durable.await, Ok(Ok(()))) {
        return false;
    }
    if drive_entry_itself {
        drive(flow.clone(), id, None).await;
    }
    if let Some(next) = next {
        drive(flow.clone(), next, None).await;
    }
    true
}

async fn confirm_pass(
    flow: &Rc<FlowContext>,
    busy: &Rc<RefCell<HashSet<EntryId>>>,
) -> SupervisionReport {
    let now = flow.now_ms();
    let s = &flow.config.supervisor;
    // Entries REQUESTED for longer than any call can take lost their live flow: they are
    // a timeout (UNKNOWN, the caller told what the timeout tells if nobody was), and are
    // confirmed below like any other.
    let stale: Vec<EntryId> = flow
        .ledger
        .borrow()
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
        tracing::warn!(shard = flow.shard, entry = %id, "an entry REQUESTED past supervisor.requested_max_age_ms is treated as a timeout");
        if advance_when_room(flow, id, Event::TimedOut).await.is_some() {
            timed_out += 1;
        }
    }
    let candidates: Vec<(EntryId, bool)> = flow
        .ledger
        .borrow()
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
            let Some(entry) = flow.ledger.borrow().books().entry(id).copied() else {
                return report;
            };
            if entry.state != EntryState::Unknown {
                return report;
            }
            match confirm(&flow, id, entry.step, entry.attempt).await {
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

async fn reprocess_pass(
    flow: &Rc<FlowContext>,
    busy: &Rc<RefCell<HashSet<EntryId>>>,
) -> SupervisionReport {
    let s = &flow.config.supervisor;
    let candidates: Vec<EntryId> = {
        let ledger = flow.ledger.borrow();
        let books = ledger.books();
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
            let Some(entry) = flow.ledger.borrow().books().entry(id).copied() else {
                return report;
            };
            if entry.state != EntryState::FailTryAgain {
                return report;
            }
            // S112: no double payment. The last attempt was refused or confirmed not
            // executed; ask once more, by its id, before paying again.
            match confirm(&flow, id, entry.step, entry.attempt).await {
                None => return report,
                Some(Confirmation::Executed) => {
                    if move_on(&flow, id, Event::FoundDone, false).await {
                        report.found_done += 1;
                    }
                    return report;
                }
                Some(Confirmation::NotExecuted) => {}
            }
            // S113: the securities subscription is still valid; S114: failures in bounds.
            let subscription_valid = flow
                .ledger
                .borrow()
                .books()
                .customer(entry.customer)
                .is_some_and(|c| c.subscription_valid);
            if !subscription_valid || entry.failures > max_failures {
                tracing::info!(
                    shard = flow.shard,
                    entry = %id,
                    subscription_valid,
                    failures = entry.failures,
                    "charge credit failed for good; refunding the linked account"
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

/// The wait before retrying an entry that failed `failures` times.
pub fn backoff_ms(failures: u32, min_ms: u64, max_ms: u64) -> u64 {
    let doublings = failures.saturating_sub(1).min(40);
    min_ms.saturating_mul(1u64 << doublings).min(max_ms)
}

async fn recovery_pass(
    flow: &Rc<FlowContext>,
    busy: &Rc<RefCell<HashSet<EntryId>>>,
) -> SupervisionReport {
    let now = flow.now_ms();
    let s = &flow.config.supervisor;
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
                tracing::debug!(shard = flow.shard, request = %request_no, error = %e, "owed step still cannot start");
                flow.put_owed((customer, request_no));
            }
        }
    }
    let candidates: Vec<EntryId> = {
        let ledger = flow.ledger.borrow();
        let books = ledger.books();
        books
            .try_again_entries()
            .filter(|(updated_at, id)| {
                books.entry(*id).is_some_and(|e| {
                    matches!(e.step, Step::Recovery | Step::Refund)
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

fn sum(reports: Vec<SupervisionReport>) -> SupervisionReport {
    reports
        .iter()
        .fold(SupervisionReport::default(), |mut total, r| {
            total.add(r);
            total
        })
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
